//! `eddy run --workers N` (N ≥ 2): the pipeline on N worker threads (docs/workers.md), with
//! the same refusals, summary and exit codes as a run on one.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::RecoveryOptions;
use super::run::{LiveOptions, stop_on_signals};
use crate::engine::{Engine, EngineOptions, RunError, load_and_check_with, run_summary};

/// Runs `file` on `workers` worker threads; returns the exit code.
pub fn run_workers_command(
    file: &Path,
    quiet: bool,
    recovery: &RecoveryOptions,
    live: LiveOptions<'_>,
    ledger: Option<&Path>,
    workers: usize,
) -> u8 {
    let started = Instant::now();
    let graph = match load_and_check_with(file, recovery.snapshot_dir.as_deref()) {
        Ok(graph) => graph,
        Err(e) => {
            crate::eprintln_lossy!("error: {}: {e}", file.display());
            return e.exit_code();
        }
    };
    // Everything that can refuse the run does so before any output file is opened.
    if let Some(what) = not_yet(recovery, live, ledger).or_else(|| crate::workers::unsupported(&graph)) {
        let error = RunError::Usage(format!(
            "--workers {workers}: {what}, which does not run on several workers yet; run it without --workers"
        ));
        crate::eprintln_lossy!("error: {}: {error}", file.display());
        return error.exit_code();
    }
    // Records whole: an error message shows the record a step saw as the file has it.
    let options = EngineOptions { feed: Some(super::Prefetched::wrap), ..EngineOptions::default() };
    let engine = match Engine::new(graph, &options) {
        Ok(engine) => engine,
        Err(e) => {
            crate::eprintln_lossy!("error: {e}");
            return e.exit_code();
        }
    };
    let stop = stop_on_signals();
    let asked = stop.clone();
    let (mut engine, result) =
        crate::workers::run_on_workers(engine, &options, workers, Arc::new(move || asked.take()));
    let summary = |engine: &Option<Engine>| {
        if let (false, Some(engine)) = (quiet, engine) {
            crate::eprint_lossy!("{}", run_summary(engine, started.elapsed()));
        }
    };
    match result {
        Ok(()) => {
            if let (false, Some(signal)) = (quiet, stop.signal()) {
                crate::eprintln_lossy!("stopped by {signal}: the sinks are flushed");
            }
            summary(&engine);
            stop.signal().map_or(0, |signal| signal.exit_code())
        }
        Err(e) => {
            // Keep what was produced before the failure.
            let flushed = engine.as_mut().map_or(Ok(()), Engine::flush);
            crate::eprintln_lossy!("error: {e}");
            if let Err(flush_error) = flushed {
                crate::eprintln_lossy!("error: also failed to flush the sinks: {flush_error}");
            }
            summary(&engine);
            e.exit_code()
        }
    }
}

/// What a run on several workers cannot do yet, named as the option that asks for it.
fn not_yet(recovery: &RecoveryOptions, live: LiveOptions<'_>, ledger: Option<&Path>) -> Option<String> {
    if recovery.snapshot_dir.is_some() || recovery.resume.is_some() {
        Some("snapshots (--snapshot-dir, --resume)".to_owned())
    } else if live.record.is_some() || live.replay.is_some() {
        Some("a live recording (--record, --replay)".to_owned())
    } else {
        ledger.map(|_| "the ledger (--ledger)".to_owned())
    }
}
