//! The conformance suite: Eddy's operators checked against outputs fixed in advance.
//!
//! Each folder of `tests/conformance/` is one scenario, copied from the project's shared
//! conformance set: its source `.jsonl` files, `scenario.md` (the pipeline in words), the
//! `expected.jsonl` output (byte-for-byte copies, never edited), and a `pipeline.toml` that writes
//! the scenario as an Eddy pipeline with its user functions in Rhai and one sink, `out`.
//! Scenarios 01–25 were produced by a reference implementation of the operators; 26–29 pin the
//! replay clock's timer rules and were derived by hand (each `scenario.md` shows how).
//!
//! A scenario passes when the `out` sink of `eddy::run_captured` equals `expected.jsonl` key by
//! key, in order, as parsed JSON (`crate::util::assert_same_per_key`; the interleaving of keys is
//! not compared). Every scenario is run and every failure reported, not only the first.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::util::{assert_same_per_key, read_lines};

/// How many scenario folders the suite holds; a missing or extra folder fails the suite.
const SCENARIO_COUNT: usize = 25;

/// The scenario that exercises timers the most (sliding window on the replay clock).
const DETERMINISM_SCENARIO: &str = "27_stateful_sliding_window_timers";

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("conformance")
}

/// The scenario folders, sorted by name.
fn scenario_dirs() -> Vec<PathBuf> {
    let root = conformance_dir();
    let entries = std::fs::read_dir(&root).unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()));
    let mut dirs: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display())).path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn scenario_name(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Runs a scenario's pipeline and returns the lines of its `out` sink.
fn run_out_sink(dir: &Path) -> Result<Vec<String>, String> {
    let pipeline = dir.join("pipeline.toml");
    let mut sinks = eddy::run_captured(&pipeline).map_err(|e| format!("the run failed: {e}"))?;
    let available: Vec<String> = sinks.keys().cloned().collect();
    sinks
        .remove("out")
        .ok_or_else(|| format!("no sink \"out\" in the captured output (sinks: {available:?})"))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        "panicked with a non-string payload".to_owned()
    }
}

/// Runs one scenario; `Err` holds why it failed (a run error, or the per-key difference).
fn check_scenario(dir: &Path) -> Result<(), String> {
    let name = scenario_name(dir);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let actual = run_out_sink(dir)?;
        let expected = read_lines(&dir.join("expected.jsonl"));
        assert_same_per_key(&actual, &expected, &name);
        Ok(())
    }));
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(panic_message(payload.as_ref())),
    }
}

#[test]
fn every_scenario_matches_its_expected_output() {
    let dirs = scenario_dirs();
    let mut failures: Vec<(String, String)> = Vec::new();
    for dir in &dirs {
        if let Err(message) = check_scenario(dir) {
            failures.push((scenario_name(dir), message));
        }
    }

    let mut report = String::new();
    if dirs.len() != SCENARIO_COUNT {
        let names: Vec<String> = dirs.iter().map(|d| scenario_name(d)).collect();
        report.push_str(&format!(
            "expected {SCENARIO_COUNT} scenario folders in {}, found {}: {names:?}\n\n",
            conformance_dir().display(),
            dirs.len()
        ));
    }
    if !failures.is_empty() {
        report.push_str(&format!("{} of {} conformance scenarios failed:\n", failures.len(), dirs.len()));
        for (name, message) in &failures {
            report.push_str(&format!("\n--- {name}\n{message}\n"));
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn timer_scenario_output_is_deterministic() {
    let dir = conformance_dir().join(DETERMINISM_SCENARIO);
    let first = run_out_sink(&dir).unwrap_or_else(|e| panic!("{DETERMINISM_SCENARIO}, run 1: {e}"));
    let second = run_out_sink(&dir).unwrap_or_else(|e| panic!("{DETERMINISM_SCENARIO}, run 2: {e}"));
    assert!(!first.is_empty(), "{DETERMINISM_SCENARIO}: the run emitted nothing");
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        assert_eq!(a, b, "{DETERMINISM_SCENARIO}: line {} differs between two runs", i + 1);
    }
    assert_eq!(
        first.len(),
        second.len(),
        "{DETERMINISM_SCENARIO}: the two runs emitted different numbers of lines"
    );
}
