//! `eddy test FOLDER...`: each test folder replayed headless and compared with its expected
//! outputs ([`crate::regression`]); `eddy test --save FOLDER PIPELINE` writes a new one.
//! Exit code 0 every folder passes, 1 one fails, 2 an error (a bad folder, an invalid pipeline,
//! a failed replay, a refused save).

use std::path::{Path, PathBuf};

use crate::regression::{
    RegressionError, StateCheckpoint, Verdict, compare_outputs, compare_states, load_folder,
    replay_with_states, save_folder_with,
};

use super::junit;

/// What happened to one test folder.
#[derive(Debug)]
pub enum Outcome {
    /// It was replayed and compared.
    Compared(Verdict),
    /// It could not be replayed or compared.
    Error(RegressionError),
}

/// `eddy test --save FOLDER PIPELINE [--checkpoint STEP:KEY@EVENTS]...`: writes the folder,
/// says what it holds on stderr. Exit code 0 saved, 2 refused or failed (nothing written).
pub fn save_command(folder: &Path, pipeline: &Path, checkpoints: &[String]) -> u8 {
    let mut parsed = Vec::with_capacity(checkpoints.len());
    for text in checkpoints {
        match parse_checkpoint_arg(text) {
            Ok(checkpoint) => parsed.push(checkpoint),
            Err(why) => {
                crate::eprintln_lossy!("error: --checkpoint {text}: {why}");
                return 2;
            }
        }
    }
    match save_folder_with(folder, pipeline, &parsed) {
        Ok(saved) => {
            let sinks: Vec<String> =
                saved.sinks.iter().map(|(sink, n)| format!("`{sink}` {n} lines")).collect();
            crate::eprintln_lossy!(
                "saved {}: {} from {}, {} input file(s), expected outputs of {} sink(s): {}",
                saved.folder.display(),
                crate::regression::PIPELINE_FILE,
                pipeline.display(),
                saved.inputs.len(),
                saved.sinks.len(),
                sinks.join(", ")
            );
            if saved.checkpoints > 0 {
                crate::eprintln_lossy!("and {} state checkpoint(s) in checkpoints.jsonl", saved.checkpoints);
            }
            0
        }
        Err(e) => {
            crate::eprintln_lossy!("error: {e}");
            2
        }
    }
}

/// A `--checkpoint` argument, `STEP:KEY@EVENTS`: the step id before the first `:`, the
/// events after the last `@`, the key (which may hold either) between.
fn parse_checkpoint_arg(text: &str) -> Result<StateCheckpoint, String> {
    let expected = "expected STEP:KEY@EVENTS, e.g. stats:u03@40";
    let (step, rest) =
        text.split_once(':').ok_or_else(|| format!("no `:` after the step id ({expected})"))?;
    let (key, events) =
        rest.rsplit_once('@').ok_or_else(|| format!("no `@` before the events ({expected})"))?;
    if step.is_empty() {
        return Err(format!("no step id ({expected})"));
    }
    let event = events
        .parse::<u64>()
        .map_err(|_| format!("`{events}` is not a number of source events ({expected})"))?;
    Ok(StateCheckpoint { event, step: step.to_owned(), key: key.to_owned() })
}

/// `eddy test FOLDER...`: replays and compares each folder, prints PASS/FAIL (with the
/// differences) per folder on stdout, errors on stderr, a JUnit report into `junit` if given.
pub fn test_command(folders: &[PathBuf], junit: Option<&Path>) -> u8 {
    let mut outcomes = Vec::with_capacity(folders.len());
    for folder in folders {
        let outcome = run_folder(folder);
        report(folder, &outcome);
        outcomes.push((folder.clone(), outcome));
    }
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let passed = count(|o| matches!(o, Outcome::Compared(v) if v.passed()));
    let failed = count(|o| matches!(o, Outcome::Compared(v) if !v.passed()));
    let errors = count(|o| matches!(o, Outcome::Error(_)));
    crate::println_lossy!(
        "{} folder(s): {passed} passed, {failed} failed, {errors} error(s)",
        outcomes.len()
    );
    if let Some(file) = junit {
        let xml = junit::report(&outcomes);
        if let Err(e) = crate::graph::write_text_atomically(file, &xml) {
            crate::eprintln_lossy!("error: the JUnit report: {e}");
            return 2;
        }
    }
    if errors > 0 { 2 } else { u8::from(failed > 0) }
}

/// Replays one folder and compares its sinks.
pub fn run_folder(folder: &Path) -> Outcome {
    let compared = load_folder(folder).and_then(|test| {
        let wanted: Vec<_> = test.checkpoints.iter().map(|(checkpoint, _)| checkpoint.clone()).collect();
        replay_with_states(&test.pipeline, &wanted).map(|(got, states)| Verdict {
            checkpoints: wanted.len(),
            states: compare_states(&test.checkpoints, &states),
            ..compare_outputs(&test.expected, &got)
        })
    });
    match compared {
        Ok(verdict) => Outcome::Compared(verdict),
        Err(e) => Outcome::Error(e),
    }
}

fn report(folder: &Path, outcome: &Outcome) {
    match outcome {
        Outcome::Compared(verdict) if verdict.passed() => {
            let checkpoints = match verdict.checkpoints {
                0 => String::new(),
                n => format!(", {n} state checkpoint(s)"),
            };
            crate::println_lossy!(
                "PASS {} ({} sink(s), {} lines{checkpoints})",
                folder.display(),
                verdict.sinks,
                verdict.lines
            );
        }
        Outcome::Compared(verdict) => {
            crate::println_lossy!("FAIL {}", folder.display());
            for line in verdict.to_string().lines() {
                crate::println_lossy!("  {line}");
            }
        }
        Outcome::Error(e) => {
            crate::println_lossy!("ERROR {}", folder.display());
            crate::eprintln_lossy!("error: {e}");
        }
    }
}
