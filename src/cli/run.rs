//! `eddy run` and its progress bar and summary.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::RecoveryOptions;
use crate::engine::{
    Engine, EngineOptions, ResumePoint, RunError, SnapshotWriter, StepOutcome, load_and_check_with,
    read_snapshot_file, resolve_snapshot_path, run_summary,
};

/// How often (in events) the progress bar is refreshed.
const PROGRESS_EVERY_EVENTS: u64 = 8192;

/// Runs a pipeline file; returns the exit code.
pub fn run_command(file: &Path, quiet: bool, recovery: &RecoveryOptions) -> u8 {
    let started = Instant::now();
    let graph = match load_and_check_with(file, recovery.snapshot_dir.as_deref()) {
        Ok(graph) => graph,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return e.exit_code();
        }
    };
    let options =
        EngineOptions { feed: Some(super::Prefetched::wrap), prune_fields: true, ..EngineOptions::default() };
    // Everything that can refuse the run does so before any output file is opened.
    let prepared = prepare(file, &graph, recovery, quiet).and_then(|(resume, writer)| {
        let engine = match &resume {
            Some(point) => Engine::restore(graph, &point.snapshot, &options)?,
            None => Engine::new(graph, &options)?,
        };
        Ok((engine, writer))
    });
    let (mut engine, mut writer) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let result = drive(&mut engine, progress.as_ref(), started, file, recovery, writer.as_mut());
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    match result {
        Ok(()) => {
            if !quiet {
                eprint!("{}", run_summary(&engine, started.elapsed()));
            }
            0
        }
        Err(e) => {
            // Keep what was produced before the failure.
            let flushed = engine.flush();
            eprintln!("error: {e}");
            if let Err(flush_error) = flushed {
                eprintln!("error: also failed to flush the sinks: {flush_error}");
            }
            if !quiet {
                eprint!("{}", run_summary(&engine, started.elapsed()));
            }
            e.exit_code()
        }
    }
}

/// The snapshot to resume from, checked against the pipeline and its inputs, and the writer
/// of this run's snapshots, its folder checked: all before an output file is opened.
fn prepare(
    file: &Path,
    graph: &crate::graph::ValidGraph,
    recovery: &RecoveryOptions,
    quiet: bool,
) -> Result<(Option<ResumePoint>, Option<SnapshotWriter>), RunError> {
    let resume = match &recovery.resume {
        Some(from) => {
            let path = resolve_snapshot_path(from)?;
            let point = read_snapshot_file(&path, graph, file)?;
            if !quiet {
                eprintln!("resuming from {} ({} events in)", path.display(), point.snapshot.events_in);
            }
            Some(point)
        }
        None => None,
    };
    let writer = match (&recovery.snapshot_dir, recovery.interval()) {
        (Some(dir), Some(_)) => {
            let keep = usize::try_from(recovery.keep_snapshots).unwrap_or(usize::MAX);
            let (writer, note) =
                SnapshotWriter::open(dir, keep, graph, resume.as_ref(), recovery.overwrite_snapshots)?;
            if let Some(note) = note
                && !quiet
            {
                eprintln!("{note}");
            }
            Some(writer)
        }
        _ => None,
    };
    Ok((resume, writer))
}

fn drive(
    engine: &mut Engine,
    progress: Option<&ProgressBar>,
    started: Instant,
    file: &Path,
    recovery: &RecoveryOptions,
    mut writer: Option<&mut SnapshotWriter>,
) -> Result<(), RunError> {
    loop {
        match engine.step()? {
            StepOutcome::Ended | StepOutcome::Finished => return Ok(()),
            StepOutcome::Event { .. } => {
                let events = engine.stats().events_in;
                if let (Some(every), Some(writer)) = (recovery.interval(), writer.as_deref_mut())
                    && events.is_multiple_of(every)
                {
                    let snapshot = engine.snapshot()?;
                    writer.write(&snapshot, engine.graph(), file)?;
                }
                if recovery.stop_after.is_some_and(|n| events >= n) {
                    return Ok(());
                }
                if let Some(bar) = progress
                    && events.is_multiple_of(PROGRESS_EVERY_EVENTS)
                {
                    let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    let clock = engine
                        .clock()
                        .and_then(crate::time::format_rfc3339_micros)
                        .unwrap_or_else(|| "—".into());
                    bar.set_message(format!("{events} events  {rate:.0} events/s  clock {clock}"));
                }
            }
        }
    }
}
