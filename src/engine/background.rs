//! A whole run on a background thread, for the workbench's *Run*: the same checks, engine
//! options and summary as `eddy run`, so the sinks get the same bytes; with progress to read
//! while it goes (events read of the total, counted on a second thread) and a cancel that
//! stops between two events, flushes the sinks (complete lines only) and says where it stopped.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Engine, EngineOptions, Prefetched, RunError, StepOutcome, run_summary};
use crate::graph::{BadRowPolicy, PipelineDoc, ValidGraph};
use crate::io::Source;

/// `total` and `clock` hold this while unknown.
const UNKNOWN: u64 = u64::MAX;

/// What the run thread and the counting thread publish, and the cancel flag.
#[derive(Debug)]
struct Shared {
    events: AtomicU64,
    total: AtomicU64,
    clock: AtomicI64,
    has_clock: AtomicBool,
    cancel: AtomicBool,
}

/// Where a background run is: events read so far, of how many, and the run's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunProgress {
    /// Source events read so far.
    pub events: u64,
    /// Events in every source, once counted.
    pub total: Option<u64>,
    /// The run's clock (microseconds), once an event set it.
    pub clock: Option<i64>,
}

/// How a background run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every source was read to its end and the sinks written and flushed.
    Done,
    /// Cancelled between two events: the sinks hold the output of the events before.
    Cancelled,
    /// A step, a source or a sink failed (the runner's error message); what was produced
    /// before the failure was flushed.
    Failed(String),
}

/// The end of a background run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// How it ended.
    pub outcome: RunOutcome,
    /// Source events read.
    pub events: u64,
    /// The run's clock when it stopped (microseconds), if any event set it.
    pub clock: Option<i64>,
    /// Per sink: its id, the items it wrote, and where (a resolved path, or `stdout`).
    pub sinks: Vec<(String, u64, String)>,
    /// How long the run took.
    pub elapsed: Duration,
    /// The same text `eddy run` prints at the end.
    pub summary: String,
    /// Per stdout sink: its id and the latest lines it wrote (at most [`STDOUT_LINES_KEPT`]),
    /// which the workbench shows instead of its own, unseen, standard output.
    pub stdout: Vec<(String, Vec<String>)>,
}

/// How many of a stdout sink's latest lines a background run keeps to show.
pub const STDOUT_LINES_KEPT: usize = 500;

impl RunReport {
    /// One line: how it ended, events, items per sink, time.
    pub fn headline(&self) -> String {
        let clock = self.clock.and_then(crate::time::format_rfc3339_micros).unwrap_or_else(|| "—".into());
        let sinks: Vec<String> =
            self.sinks.iter().map(|(id, items, _)| format!("{id} {}", thousands(*items))).collect();
        let sinks =
            if sinks.is_empty() { String::new() } else { format!("; items written: {}", sinks.join(", ")) };
        let secs = self.elapsed.as_secs_f64();
        match &self.outcome {
            RunOutcome::Done => format!("Run done: {} events in {secs:.2} s{sinks}", thousands(self.events)),
            RunOutcome::Cancelled => format!(
                "Run cancelled after event {} (clock {clock}) in {secs:.2} s: the sinks hold complete lines for the \
                 events before{sinks}",
                thousands(self.events)
            ),
            RunOutcome::Failed(message) => format!(
                "Run failed after {} events in {secs:.2} s{sinks}: {}",
                thousands(self.events),
                message.lines().next().unwrap_or_default()
            ),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A run going on on its own thread; dropping it cancels the run and waits for it.
#[derive(Debug)]
pub struct BackgroundRun {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<RunReport>>,
    report: Option<RunReport>,
}

impl BackgroundRun {
    /// Checks `doc` as `eddy run` checks its file (every problem, scripts compiled, no output
    /// over an input or over the pipeline file `file`), opens every source and sink, and runs
    /// it to the end on a new thread. Refuses, before any output is opened, with the problems.
    pub fn start(doc: &PipelineDoc, base_dir: &Path, file: Option<&Path>) -> Result<Self, RunError> {
        let graph = checked(doc, base_dir, file)?;
        let options = EngineOptions {
            feed: Some(Prefetched::wrap),
            prune_fields: true,
            stdout_tail: Some(STDOUT_LINES_KEPT),
            ..EngineOptions::default()
        };
        let counted = graph.clone();
        let engine = Engine::new(graph, &options)?;
        let shared = Arc::new(Shared {
            events: AtomicU64::new(0),
            total: AtomicU64::new(UNKNOWN),
            clock: AtomicI64::new(0),
            has_clock: AtomicBool::new(false),
            cancel: AtomicBool::new(false),
        });
        let counter = Arc::clone(&shared);
        // The total only feeds the progress bar: a counter that cannot start leaves it unknown.
        let _ = std::thread::Builder::new()
            .name("eddy-run-count".into())
            .spawn(move || count(&counted, &counter));
        let runner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("eddy-run".into())
            .spawn(move || drive(engine, &runner))
            .map_err(|e| RunError::Thread(e.to_string()))?;
        Ok(Self { shared, thread: Some(thread), report: None })
    }

    /// Events read so far, the total once counted, the clock.
    pub fn progress(&self) -> RunProgress {
        let total = self.shared.total.load(Ordering::Relaxed);
        RunProgress {
            events: self.shared.events.load(Ordering::Relaxed),
            total: (total != UNKNOWN).then_some(total),
            clock: self
                .shared
                .has_clock
                .load(Ordering::Relaxed)
                .then(|| self.shared.clock.load(Ordering::Relaxed)),
        }
    }

    /// Asks the run to stop after the event it is on.
    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
    }

    /// The report, once the run has ended (never blocks).
    pub fn report(&mut self) -> Option<&RunReport> {
        if self.report.is_none() && self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            self.report = self.thread.take().map(join);
        }
        self.report.as_ref()
    }

    /// Waits for the end of the run and returns its report.
    pub fn wait(mut self) -> RunReport {
        match self.report.take() {
            Some(report) => report,
            None => self.thread.take().map(join).unwrap_or_else(|| lost("the run thread is gone")),
        }
    }
}

impl Drop for BackgroundRun {
    fn drop(&mut self) {
        self.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn join(thread: JoinHandle<RunReport>) -> RunReport {
    thread.join().unwrap_or_else(|_| lost("the run thread panicked"))
}

fn lost(why: &str) -> RunReport {
    RunReport {
        outcome: RunOutcome::Failed(why.into()),
        events: 0,
        clock: None,
        sinks: Vec::new(),
        elapsed: Duration::ZERO,
        summary: String::new(),
        stdout: Vec::new(),
    }
}

/// The checks of `eddy run`'s [`super::load_and_check_with`], on a document in hand.
fn checked(doc: &PipelineDoc, base_dir: &Path, file: Option<&Path>) -> Result<ValidGraph, RunError> {
    super::run::check_with_paths(doc, base_dir, file, None).map_err(RunError::Invalid)
}

/// The run thread: step to the end or to a cancel, flush, report.
fn drive(mut engine: Engine, shared: &Shared) -> RunReport {
    let started = Instant::now();
    let result = loop {
        if shared.cancel.load(Ordering::Relaxed) {
            break engine.flush().map(|()| RunOutcome::Cancelled);
        }
        match engine.step() {
            Ok(StepOutcome::Ended | StepOutcome::Finished) => break Ok(RunOutcome::Done),
            Ok(StepOutcome::Event { .. }) => {
                shared.events.store(engine.stats().events_in, Ordering::Relaxed);
                if let Some(clock) = engine.clock() {
                    shared.clock.store(clock, Ordering::Relaxed);
                    shared.has_clock.store(true, Ordering::Relaxed);
                }
            }
            Err(e) => {
                // Keep what was produced before the failure, as `eddy run` does.
                let flushed = engine.flush();
                let mut message = e.to_string();
                if let Err(flush_error) = flushed {
                    message.push_str(&format!("\nalso failed to flush the sinks: {flush_error}"));
                }
                break Ok(RunOutcome::Failed(message));
            }
        }
    };
    let outcome = result.unwrap_or_else(|e| RunOutcome::Failed(format!("could not flush the sinks: {e}")));
    let elapsed = started.elapsed();
    let stats = engine.stats();
    let sinks = engine
        .graph()
        .doc
        .sinks
        .iter()
        .enumerate()
        .map(|(i, sink)| {
            let target = match &sink.path {
                Some(path) => engine.graph().resolve(path).display().to_string(),
                None => "stdout (shown in the Run tab)".into(),
            };
            (sink.id.clone(), stats.sink_items.get(i).copied().unwrap_or(0), target)
        })
        .collect();
    RunReport {
        outcome,
        events: stats.events_in,
        clock: engine.clock(),
        sinks,
        elapsed,
        summary: run_summary(&engine, elapsed),
        stdout: engine.captured().into_iter().collect(),
    }
}

/// The counting thread: reads every source once, only to count its events (bad rows that the
/// run skips are not counted; a source that fails stops its count there).
fn count(graph: &ValidGraph, shared: &Shared) {
    let mut total = 0u64;
    for spec in &graph.doc.sources {
        let mut spec = spec.clone();
        if spec.on_bad_row == BadRowPolicy::DeadLetter {
            spec.on_bad_row = BadRowPolicy::Skip; // counting writes no dead letters
        }
        let Ok(mut source) = Source::open(&spec, &graph.base_dir) else { return };
        source.set_projection(&BTreeSet::new());
        let mut n = 0u32;
        while let Ok(Some(_)) = source.next_event() {
            total += 1;
            n = n.wrapping_add(1);
            if n.is_multiple_of(4096) && shared.cancel.load(Ordering::Relaxed) {
                return;
            }
        }
    }
    shared.total.store(total, Ordering::Relaxed);
}
