//! One replay of a pipeline with its sinks in memory, for a test folder: nothing is written
//! (no sink, no dead-letter file: bad rows are skipped as `dead_letter` would), scripts'
//! `print`/`debug` output is not shown, and a pipeline that would not replay the same way twice
//! (a live source, the machine's clock) is refused.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::{Engine, EngineOptions, StepOutcome, load_and_check};
use crate::graph::{BadRowPolicy, ClockMode, ValidGraph};

use super::RegressionError;

/// Events between two drains of the scripts' captured `print` output (memory stays bounded).
const DRAIN_EVERY: u32 = 4096;

/// Replays the pipeline `file` to the end with every sink captured: sink id → the lines it
/// received (JSON Lines form), for every sink of the pipeline.
pub fn replay_captured(file: &Path) -> Result<BTreeMap<String, Vec<String>>, RegressionError> {
    let run_error = |error| RegressionError::Run { file: file.to_owned(), error };
    let graph = load_and_check(file).map_err(run_error)?;
    refuse_unrepeatable(&graph, file)?;
    // Read ahead and pruned as `eddy run` reads (neither changes an output byte or a message).
    let options = EngineOptions {
        capture_sinks: true,
        feed: Some(crate::engine::Prefetched::wrap),
        prune_fields: true,
        ..EngineOptions::default()
    };
    let mut engine = Engine::new(without_dead_letters(graph), &options).map_err(run_error)?;
    crate::script::capture_script_output(true);
    let ran = run_quietly(&mut engine);
    crate::script::capture_script_output(false);
    ran.map_err(run_error)?;
    Ok(engine.captured())
}

/// Runs `engine` to the end, dropping what its scripts print as it goes.
fn run_quietly(engine: &mut Engine) -> Result<(), crate::engine::RunError> {
    let mut since_drain = 0_u32;
    loop {
        match engine.step()? {
            StepOutcome::Ended | StepOutcome::Finished => break,
            StepOutcome::Event { .. } => {
                since_drain += 1;
                if since_drain == DRAIN_EVERY {
                    since_drain = 0;
                    drop(crate::script::take_script_output());
                }
            }
        }
    }
    drop(crate::script::take_script_output());
    Ok(())
}

/// Refuses a pipeline whose replay depends on more than its files: a live source (even one
/// replaying a recording, not handled yet) or `[clock] mode = "wall"`.
pub(super) fn refuse_unrepeatable(graph: &ValidGraph, file: &Path) -> Result<(), RegressionError> {
    if let Some(source) = graph.doc.sources.iter().find(|s| s.is_stdin() || s.follow) {
        return Err(RegressionError::refused(
            file,
            format!(
                "source `{}` is live (path = \"-\" or follow = true): a test replays files, the same way every \
                 time; record the stream (eddy run --record FILE) and make it a file source",
                source.id
            ),
        ));
    }
    if graph.doc.clock.mode == ClockMode::Wall {
        return Err(RegressionError::refused(
            file,
            "[clock] mode = \"wall\" reads the machine's clock, so two replays differ by when they run: \
             test with mode = \"replay\"",
        ));
    }
    Ok(())
}

/// The graph with each dead-lettering source skipping its bad rows instead: the same items reach
/// the sinks, and no dead-letter file is written.
fn without_dead_letters(mut graph: ValidGraph) -> ValidGraph {
    for source in &mut graph.doc.sources {
        if source.on_bad_row == BadRowPolicy::DeadLetter {
            source.on_bad_row = BadRowPolicy::Skip;
            source.dead_letter_path = None;
        }
    }
    graph
}
