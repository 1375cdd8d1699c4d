//! `eddy run` and its progress bar and summary.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{RecoveryOptions, SnapshotEvery};
use crate::engine::{
    Engine, EngineOptions, LiveStep, ResumePoint, RunError, SnapshotWriter, StepOutcome, load_and_check_with,
    read_snapshot_file, resolve_snapshot_path, run_summary,
};
use crate::io::{IoError, Recorder};

/// How often (in events) the progress bar is refreshed.
const PROGRESS_EVERY_EVENTS: u64 = 8192;

/// What `eddy run` does with live sources: record them, or replay a recording in their place.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveOptions<'a> {
    /// `--record FILE`.
    pub record: Option<&'a Path>,
    /// `--replay FILE`.
    pub replay: Option<&'a Path>,
}

/// Runs a pipeline file, recording its live sources or replaying a recording in their place
/// as `live` says, writing the dropped items to `ledger` when given; returns the exit code.
pub fn run_command(
    file: &Path,
    quiet: bool,
    recovery: &RecoveryOptions,
    live: LiveOptions<'_>,
    ledger: Option<&Path>,
) -> u8 {
    let started = Instant::now();
    let loaded = load_and_check_with(file, recovery.snapshot_dir.as_deref());
    let graph = match loaded.and_then(|graph| replaying(graph, file, recovery, live.replay)) {
        Ok(graph) => graph,
        Err(e) => {
            crate::eprintln_lossy!("error: {}: {e}", file.display());
            return e.exit_code();
        }
    };
    let record = live.record;
    let options = EngineOptions {
        feed: Some(super::Prefetched::wrap),
        // The ledger records items whole (docs/ledger.md#cost).
        prune_fields: ledger.is_none(),
        record_live: record.is_some(),
        record_drops: ledger.map(|_| usize::MAX),
        ..EngineOptions::default()
    };
    // Everything that can refuse the run does so before any output file is opened.
    let prepared = check_live_options(file, &graph, recovery, record)
        .and_then(|()| check_ledger_path(file, &graph, recovery, record, ledger))
        .and_then(|()| prepare(file, &graph, recovery, quiet))
        .and_then(|(resume, writer)| {
            let mut engine = match &resume {
                Some(point) => Engine::restore(graph, &point.snapshot, &options)?,
                None => Engine::new(graph, &options)?,
            };
            if let Some(record) = record {
                let recorder = Recorder::create(record).map_err(|e| IoError::file(record, "create", e))?;
                engine.record_to(recorder);
            }
            let ledger = ledger.map(LedgerFile::create).transpose()?;
            Ok((engine, writer, ledger))
        });
    let (mut engine, mut writer, mut ledger) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            crate::eprintln_lossy!("error: {e}");
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
    let stop = stop_on_signals();
    let result = drive(
        &mut engine,
        progress.as_ref(),
        started,
        file,
        recovery,
        RunFiles { writer: writer.as_mut(), ledger: ledger.as_mut() },
        &stop,
    );
    // What was dropped up to a failure is in the ledger too.
    let result = match (result, ledger.as_mut()) {
        (result, Some(ledger)) => {
            let written = ledger.write(&mut engine).and_then(|()| ledger.flush());
            result.and(written)
        }
        (result, None) => result,
    };
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    report_end(Some(&mut engine), result, &stop, quiet, started, writer.is_some())
}

/// How a run ended, on stderr as every `eddy run` says it: a signal's stop (and whether a
/// snapshot was written) or the error (the sinks flushed first: what was produced is kept),
/// then the summary of `engine` (when this process has it); the exit code.
pub(super) fn report_end(
    mut engine: Option<&mut Engine>,
    result: Result<(), RunError>,
    stop: &StopRequest,
    quiet: bool,
    started: Instant,
    snapshot_written: bool,
) -> u8 {
    let summary = |engine: Option<&Engine>| {
        if let (false, Some(engine)) = (quiet, engine) {
            crate::eprint_lossy!("{}", run_summary(engine, started.elapsed()));
        }
    };
    match result {
        Ok(()) => {
            if let (false, Some(signal)) = (quiet, stop.signal()) {
                let snapshot = if snapshot_written { " and a snapshot was written" } else { "" };
                crate::eprintln_lossy!("stopped by {signal}: the sinks are flushed{snapshot}");
            }
            summary(engine.as_deref());
            // A live run is meant to be stopped so; a replay stopped early did not finish.
            match stop.signal() {
                Some(signal) if !engine.as_deref().is_some_and(Engine::has_live_source) => signal.exit_code(),
                _ => 0,
            }
        }
        Err(e) => {
            // Keep what was produced before the failure.
            let flushed = engine.as_deref_mut().map_or(Ok(()), Engine::flush);
            crate::eprintln_lossy!("error: {e}");
            if let Err(flush_error) = flushed {
                crate::eprintln_lossy!("error: also failed to flush the sinks: {flush_error}");
            }
            summary(engine.as_deref());
            e.exit_code()
        }
    }
}

/// The graph with `replay` (`--replay FILE`) read by every live source in its place, checked
/// as a `recording` setting would be.
fn replaying(
    mut graph: crate::graph::ValidGraph,
    file: &Path,
    recovery: &RecoveryOptions,
    replay: Option<&Path>,
) -> Result<crate::graph::ValidGraph, RunError> {
    let Some(replay) = replay else { return Ok(graph) };
    if !replay.is_file() {
        return Err(RunError::Usage(format!("--replay {}: no such file", replay.display())));
    }
    let recording = crate::graph::canonical_path(replay);
    let mut replaced = 0;
    for source in graph.doc.sources.iter_mut().filter(|s| s.is_live()) {
        source.recording = Some(recording.clone());
        replaced += 1;
    }
    if replaced == 0 {
        return Err(RunError::Usage(format!(
            "--replay {}: the pipeline has no live source (path = \"-\" or follow = true) to replay it in place of",
            replay.display()
        )));
    }
    let collisions = crate::graph::path_collisions(
        &graph.doc,
        &graph.base_dir,
        Some(file),
        recovery.snapshot_dir.as_deref(),
    );
    if !collisions.is_empty() {
        return Err(RunError::Invalid(crate::graph::GraphErrors(collisions)));
    }
    Ok(graph)
}

/// Refuses a `--ledger` path the run reads or writes (a source, a sink, a dead-letter file,
/// the pipeline, the recording, inside the snapshot folder): it would be destroyed.
fn check_ledger_path(
    file: &Path,
    graph: &crate::graph::ValidGraph,
    recovery: &RecoveryOptions,
    record: Option<&Path>,
    ledger: Option<&Path>,
) -> Result<(), RunError> {
    let Some(ledger) = ledger else { return Ok(()) };
    let problem = crate::graph::output_path_problem(
        &graph.doc,
        &graph.base_dir,
        file,
        recovery.snapshot_dir.as_deref(),
        ("--ledger", "the ledger"),
        ledger,
    );
    if let Some(problem) = problem {
        return Err(RunError::Usage(problem));
    }
    if record
        .is_some_and(|record| crate::graph::canonical_path(record) == crate::graph::canonical_path(ledger))
    {
        return Err(RunError::Usage(format!(
            "--ledger {} is also the --record file: give each a path of its own",
            ledger.display()
        )));
    }
    Ok(())
}

/// The file `eddy run --ledger FILE` writes: one JSON line per dropped item, in the order
/// they were dropped (docs/ledger.md#the-ledger-file).
struct LedgerFile {
    path: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    line: Vec<u8>,
}

impl LedgerFile {
    /// Creates (or truncates) the file.
    fn create(path: &Path) -> Result<Self, RunError> {
        let file = std::fs::File::create(path).map_err(|e| IoError::file(path, "create", e))?;
        Ok(LedgerFile { path: path.to_path_buf(), out: std::io::BufWriter::new(file), line: Vec::new() })
    }

    /// Writes what the engine dropped since the last call.
    fn write(&mut self, engine: &mut Engine) -> Result<(), RunError> {
        use std::io::Write;
        if engine.drops().kept() == 0 {
            return Ok(());
        }
        for dropped in engine.take_dropped() {
            self.line.clear();
            crate::engine::write_ledger_line(&mut self.line, engine.graph(), &dropped);
            self.out.write_all(&self.line).map_err(|e| IoError::file(&self.path, "write", e))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), RunError> {
        use std::io::Write;
        self.out.flush().map_err(|e| IoError::file(&self.path, "write", e).into())
    }
}

/// Refuses what the live options cannot do with this pipeline: `--record` without a live
/// source, onto a file of the run or over an existing file, or with `--resume`; a snapshot
/// duration for a replay; `--resume` of a recording's replay.
fn check_live_options(
    file: &Path,
    graph: &crate::graph::ValidGraph,
    recovery: &RecoveryOptions,
    record: Option<&Path>,
) -> Result<(), RunError> {
    let live = graph.doc.sources.iter().any(|s| s.is_live());
    if let Some(record) = record {
        if !live {
            return Err(RunError::Usage(format!(
                "--record {}: the pipeline has no live source (path = \"-\" or follow = true) to record; \
                 a replay of files needs no recording",
                record.display()
            )));
        }
        if recovery.resume.is_some() {
            return Err(RunError::Usage(
                "--record cannot go with --resume: a recording starts with its run, and a resumed run's \
                 recording would replay without the state before it"
                    .into(),
            ));
        }
        if let Some(problem) = crate::graph::record_path_problem(
            &graph.doc,
            &graph.base_dir,
            file,
            recovery.snapshot_dir.as_deref(),
            record,
        ) {
            return Err(RunError::Usage(problem));
        }
        if std::fs::symlink_metadata(record).is_ok() {
            return Err(RunError::Usage(format!(
                "--record {}: the file already exists, and a recording never writes over a file; \
                 give a new path, or remove the old file first",
                record.display()
            )));
        }
    }
    if let Some(SnapshotEvery::WallMicros(micros)) = recovery.snapshot_every
        && !live
    {
        return Err(RunError::Usage(format!(
            "--snapshot-every {}: a duration is for live runs (path = \"-\" or follow = true); \
             a replay takes its snapshots every N events (--snapshot-every 100000)",
            crate::time::format_duration_micros(micros)
        )));
    }
    if recovery.resume.is_some() && graph.doc.sources.iter().any(|s| s.recording.is_some()) {
        return Err(RunError::Usage(
            "--resume cannot continue the replay of a recording (`recording` on a source): replay it \
             from its start"
                .into(),
        ));
    }
    Ok(())
}

/// The snapshot to resume from, checked against the pipeline and its inputs, and the writer
/// of this run's snapshots, its folder checked: all before an output file is opened.
pub(super) fn prepare(
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
                crate::eprintln_lossy!(
                    "resuming from {} ({} events in)",
                    path.display(),
                    point.snapshot.events_in
                );
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
                crate::eprintln_lossy!("{note}");
            }
            Some(writer)
        }
        _ => None,
    };
    Ok((resume, writer))
}

/// How long a live run waits for its stream before checking its timers, a stop request and
/// its sinks again.
const LIVE_WAIT: Duration = Duration::from_millis(20);

/// The longest a live run keeps emitted items in its sinks' buffers while rows keep coming
/// (when the stream pauses, they are flushed at once; README, "Running live").
const LIVE_FLUSH_EVERY: Duration = Duration::from_millis(50);

/// What a run writes besides its sinks, as it goes.
struct RunFiles<'a> {
    /// The snapshots (`--snapshot-dir`).
    writer: Option<&'a mut SnapshotWriter>,
    /// The dropped items (`--ledger`).
    ledger: Option<&'a mut LedgerFile>,
}

fn drive(
    engine: &mut Engine,
    progress: Option<&ProgressBar>,
    started: Instant,
    file: &Path,
    recovery: &RecoveryOptions,
    files: RunFiles<'_>,
    stop: &StopRequest,
) -> Result<(), RunError> {
    let RunFiles { mut writer, mut ledger } = files;
    let live = engine.has_live_source();
    let mut flushed = Instant::now();
    let mut written_at_flush = 0;
    let mut snapshot_taken = Instant::now();
    loop {
        if let (Some(SnapshotEvery::WallMicros(micros)), Some(writer)) =
            (recovery.interval(), writer.as_deref_mut())
            && snapshot_taken.elapsed() >= Duration::from_micros(micros.unsigned_abs())
        {
            let snapshot = engine.snapshot()?;
            writer.write(&snapshot, engine.graph(), file)?;
            snapshot_taken = Instant::now();
        }
        if stop.take() {
            // Stop reading; a snapshot to resume from, then the sinks flushed.
            if let Some(writer) = writer.as_deref_mut() {
                let snapshot = engine.snapshot()?;
                writer.write(&snapshot, engine.graph(), file)?;
            }
            return engine.flush();
        }
        let outcome = if live {
            match engine.step_live(Duration::ZERO)? {
                LiveStep::Stepped(outcome) => Some(outcome),
                LiveStep::Idle => {
                    // Nothing at hand: what was written goes out now, before waiting.
                    let written = items_written(engine);
                    if written != written_at_flush {
                        engine.flush()?;
                        flushed = Instant::now();
                        written_at_flush = written;
                    }
                    match engine.step_live(LIVE_WAIT)? {
                        LiveStep::Stepped(outcome) => Some(outcome),
                        LiveStep::Idle => None,
                    }
                }
            }
        } else {
            Some(engine.step()?)
        };
        if let Some(ledger) = ledger.as_deref_mut() {
            ledger.write(engine)?;
        }
        match outcome {
            Some(StepOutcome::Ended | StepOutcome::Finished) => return Ok(()),
            Some(StepOutcome::Event { .. }) => {
                let events = engine.stats().events_in;
                if let (Some(SnapshotEvery::Events(every)), Some(writer)) =
                    (recovery.interval(), writer.as_deref_mut())
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
            None => {}
        }
        if live && flushed.elapsed() >= LIVE_FLUSH_EVERY {
            engine.flush()?;
            flushed = Instant::now();
            written_at_flush = items_written(engine);
        }
    }
}

/// Items written to the sinks so far (a live run flushes them when its stream pauses).
fn items_written(engine: &Engine) -> u64 {
    engine.stats().sink_items.iter().sum()
}

/// Set when SIGINT or SIGTERM asks the run to stop: it stops between two events, writes a
/// snapshot when snapshots are on, flushes its sinks and exits 0. A second SIGINT ends the
/// process at once (exit 130), for a run stuck in a script.
#[derive(Clone)]
pub(super) struct StopRequest {
    interrupt: Arc<AtomicBool>,
    terminate: Arc<AtomicBool>,
    /// Set by the run once it has seen the request and is stopping (a final snapshot may
    /// take a while): the watchdog then lets it finish.
    seen: Arc<AtomicBool>,
}

impl StopRequest {
    pub(super) fn requested(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed) || self.terminate.load(Ordering::Relaxed)
    }

    /// Whether a request came, saying that the run has seen it.
    pub(super) fn take(&self) -> bool {
        let requested = self.requested();
        if requested {
            self.seen.store(true, Ordering::Relaxed);
        }
        requested
    }

    /// Which signal asked, if one did.
    pub(super) fn signal(&self) -> Option<Signal> {
        if self.terminate.load(Ordering::Relaxed) {
            Some(Signal::Terminate)
        } else if self.interrupt.load(Ordering::Relaxed) {
            Some(Signal::Interrupt)
        } else {
            None
        }
    }
}

/// A signal that stopped a run.
#[derive(Debug, Clone, Copy)]
pub(super) enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The shell's code for a process ended by the signal (128 + its number).
    pub(super) fn exit_code(self) -> u8 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        })
    }
}

/// Installs the handlers of [`StopRequest`] (without them, a signal ends the run as before).
pub(super) fn stop_on_signals() -> StopRequest {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let interrupt = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    // The second SIGINT: the conditional exit runs before the flag is set again.
    let _ = signal_hook::flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&interrupt));
    let _ = signal_hook::flag::register(SIGINT, Arc::clone(&interrupt));
    let _ = signal_hook::flag::register(SIGTERM, Arc::clone(&terminate));
    let seen = Arc::new(AtomicBool::new(false));
    let request = StopRequest {
        interrupt: Arc::clone(&interrupt),
        terminate: Arc::clone(&terminate),
        seen: Arc::clone(&seen),
    };
    // A run blocked where it cannot look at the request (waiting for a CSV header on standard
    // input that never comes) still ends: a signal is honoured within a few seconds.
    let watchdog = StopRequest { interrupt, terminate, seen };
    let _ = std::thread::Builder::new().name("eddy-stop-watchdog".into()).spawn(move || {
        while !watchdog.requested() {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(STOP_GRACE);
        if watchdog.seen.load(Ordering::Relaxed) {
            return;
        }
        let code = watchdog.signal().map_or(1, Signal::exit_code);
        crate::eprintln_lossy!(
            "error: the run did not stop within {} s of the signal; ended without flushing",
            STOP_GRACE.as_secs()
        );
        std::process::exit(i32::from(code));
    });
    request
}

/// How long a stop request may take before the process ends regardless.
const STOP_GRACE: Duration = Duration::from_secs(5);
