//! One replay of a pipeline with its sinks in memory, for a test folder: nothing is written
//! (no sink, no dead-letter file: bad rows are skipped as `dead_letter` would), scripts'
//! `print`/`debug` output is not shown, and a pipeline that would not replay the same way twice
//! (a live source, the machine's clock) is refused.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::{Engine, EngineOptions, StepOutcome, load_and_check};
use crate::graph::{BadRowPolicy, ClockMode, ValidGraph};

use super::RegressionError;
use super::checkpoint::StateCheckpoint;

/// Events between two drains of the scripts' captured `print` output (memory stays bounded).
const DRAIN_EVERY: u32 = 4096;

/// Each sink's lines (JSON Lines form), by sink id.
pub type SinkLines = BTreeMap<String, Vec<String>>;

/// Replays the pipeline `file` to the end with every sink captured: sink id → the lines it
/// received (JSON Lines form), for every sink of the pipeline.
pub fn replay_captured(file: &Path) -> Result<SinkLines, RegressionError> {
    replay_with_states(file, &[]).map(|(outputs, _)| outputs)
}

/// [`replay_captured`], and the state (JSON text, `null` when the key holds none) of each of
/// `checkpoints` as the replay passes it, in the same order; a checkpoint naming no step of
/// the pipeline, or an event past the input's last, is refused.
pub fn replay_with_states(
    file: &Path,
    checkpoints: &[StateCheckpoint],
) -> Result<(SinkLines, Vec<String>), RegressionError> {
    let run_error = |error| RegressionError::Run { file: file.to_owned(), error };
    let graph = load_and_check(file).map_err(run_error)?;
    refuse_unrepeatable(&graph, file)?;
    let mut wanted = Vec::with_capacity(checkpoints.len());
    for (index, checkpoint) in checkpoints.iter().enumerate() {
        let step = graph.doc.steps.iter().position(|s| s.id == checkpoint.step).ok_or_else(|| {
            RegressionError::refused(
                file,
                format!("checkpoint {checkpoint}: the pipeline has no step `{}`", checkpoint.step),
            )
        })?;
        wanted.push((checkpoint.event, step, crate::ops::Key::from(checkpoint.key.as_str()), index));
    }
    wanted.sort_by_key(|(event, _, _, index)| (*event, *index));
    // Read ahead and pruned as `eddy run` reads (neither changes an output byte or a message).
    let options = EngineOptions {
        capture_sinks: true,
        feed: Some(crate::engine::Prefetched::wrap),
        prune_fields: true,
        ..EngineOptions::default()
    };
    let mut engine = Engine::new(without_dead_letters(graph), &options).map_err(run_error)?;
    crate::script::capture_script_output(true);
    let mut states = vec![String::new(); checkpoints.len()];
    let ran = run_quietly(&mut engine, &wanted, &mut states);
    crate::script::capture_script_output(false);
    let events = ran.map_err(run_error)?;
    if let Some((event, _, _, index)) = wanted.iter().find(|(event, ..)| *event > events) {
        return Err(RegressionError::refused(
            file,
            format!(
                "checkpoint {}: the input has {events} events, not {event}",
                checkpoints.get(*index).map(ToString::to_string).unwrap_or_default()
            ),
        ));
    }
    Ok((engine.captured(), states))
}

/// A checkpoint to take: after this many events, this step index, this key, its place in the
/// caller's list.
type Wanted = (u64, usize, crate::ops::Key, usize);

/// Runs `engine` to the end, dropping what its scripts print as it goes, and writes each
/// `wanted` state into `states` as it passes; returns the number of source events.
fn run_quietly(
    engine: &mut Engine,
    wanted: &[Wanted],
    states: &mut [String],
) -> Result<u64, crate::engine::RunError> {
    let mut since_drain = 0_u32;
    let mut events = 0_u64;
    let mut next = 0;
    let mut take = |engine: &Engine, events: u64, next: &mut usize| {
        while let Some((_, step, key, index)) = wanted.get(*next).filter(|w| w.0 == events) {
            let state =
                engine.with_step_state(*step, key, |state| crate::value::display_json(state).to_string());
            if let Some(slot) = states.get_mut(*index) {
                *slot = state.unwrap_or_else(|| "null".to_owned());
            }
            *next += 1;
        }
    };
    take(engine, events, &mut next);
    loop {
        match engine.step()? {
            StepOutcome::Ended | StepOutcome::Finished => break,
            StepOutcome::Event { .. } => {
                events += 1;
                take(engine, events, &mut next);
                since_drain += 1;
                if since_drain == DRAIN_EVERY {
                    since_drain = 0;
                    drop(crate::script::take_script_output());
                }
            }
        }
    }
    drop(crate::script::take_script_output());
    Ok(events)
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
