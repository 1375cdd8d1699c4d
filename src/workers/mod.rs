//! `eddy run --workers N`: one pipeline on N worker threads on timely-dataflow, writing the
//! same bytes as one worker (docs/workers.md).
//!
//! Worker 0 reads and merges the sources (the engine's own reading, [`Engine::pull_event`])
//! in batches of [`BATCH_EVENTS`] events, one timely timestamp per batch, and broadcasts each
//! batch's clock. Every step is a timely operator on every worker, in topological order;
//! items travel with their place in the single-threaded run's order ([`message::Tag`]) and
//! are exchanged so that a keyed step's items go to the worker that owns their key. A keyed
//! step handles a batch once it is complete, in tag order, with its timers interleaved;
//! the writer (on worker 0) writes each complete batch's sink items in tag order, so every
//! sink gets the single-threaded run's bytes.

mod chunk_feed;
mod message;
mod partition;
mod path;
mod snapshots;
mod stage;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::{Broadcast, Capability, Concatenate, Operator, Partition, Probe};
use timely::dataflow::{InputHandle, ProbeHandle, Scope, Stream};

use crate::engine::{Engine, EngineOptions, RunError, RunStats, build_ops, step_error_at};
use crate::graph::StreamRef;
use crate::ops::{DropLedger, Item};
use chunk_feed::ChunkFeed;
use message::{Bundle, Dest, EpochClock, Msg, Packer, Tag};
pub use partition::CHUNK_BYTES_VAR;
use partition::ChunkedSource;
use snapshots::{Gathered, restore_messages};
pub use snapshots::{Recovery, SnapshotPlan};
use stage::{Drops, Plan, Stage, WorkerCounts, deliver};

/// Source events per batch (one timely timestamp): what a keyed step waits for before it
/// handles its items in order, and what the writer writes at a time.
pub const BATCH_EVENTS: u64 = 4096;

/// How long a process of a run over several processes waits for the others to connect.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Asks a run to stop early (a signal): polled between events.
pub type StopCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// What each worker hands back: its counters, and (worker 0) how the run ended.
struct WorkerResult {
    stats: RunStats,
    drops: DropLedger,
    outcome: Option<Result<(), RunError>>,
}

/// What every worker shares.
struct Shared {
    plan: Arc<Plan>,
    options: EngineOptions,
    /// The engine that reads the sources and writes the sinks: taken by worker 0, given back
    /// when it is done.
    engine: Mutex<Option<Engine>>,
    /// Snapshots to take and the one resumed from: worker 0's.
    recovery: Mutex<Recovery>,
    stop: StopCheck,
    /// Set when a worker failed outside the dataflow's own error path (a panic): every worker
    /// then stops waiting for the others, which will never make progress again
    /// (docs/workers.md#failures).
    aborted: AtomicBool,
    /// What the first failed worker said.
    abort_reason: Mutex<Option<String>>,
    /// The only source read in chunks by every worker, when it can be
    /// (docs/workers.md#partitioned-reading); else worker 0 reads the sources.
    partition: Option<Arc<ChunkedSource>>,
}

impl Shared {
    /// Marks the run as aborted by worker `index`, for `why` (the first reason is kept).
    fn abort(&self, index: usize, why: String) {
        if let Ok(mut reason) = self.abort_reason.lock()
            && reason.is_none()
        {
            *reason = Some(format!("worker {index} failed: {why}"));
        }
        self.aborted.store(true, Ordering::SeqCst);
    }

    /// The run's snapshots and what it resumes from, taken by the worker that reads
    /// (worker 0 of process 0).
    fn take_recovery(&self) -> Recovery {
        self.recovery.lock().map(|mut recovery| std::mem::take(&mut *recovery)).unwrap_or_default()
    }

    fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    /// The error of an aborted run.
    fn abort_error(&self) -> RunError {
        let reason = self.abort_reason.lock().ok().and_then(|reason| reason.clone());
        RunError::Workers(format!(
            "{}; the other workers stopped. What reached the sinks before it was written",
            reason.unwrap_or_else(|| "a worker failed".to_owned())
        ))
    }

    /// Steps `worker` (parking at most [`ABORT_POLL`]); false once the run is aborted.
    fn step(&self, worker: &mut timely::worker::Worker<timely::communication::Allocator>) -> bool {
        if self.is_aborted() {
            return false;
        }
        worker.step_or_park(Some(ABORT_POLL));
        !self.is_aborted()
    }
}

/// How long a waiting worker parks before it checks whether the run was aborted.
const ABORT_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "it panicked".to_owned())
}

/// Why a pipeline cannot run on several workers yet (docs/workers.md#what-it-runs), or
/// `None` when it can.
pub fn unsupported(graph: &crate::graph::ValidGraph) -> Option<String> {
    if let Some(source) = graph.doc.sources.iter().find(|s| s.is_live() || s.recording.is_some()) {
        return Some(format!("source `{}` is live or a recording", source.id));
    }
    if graph.doc.clock.mode == crate::graph::ClockMode::Wall {
        return Some("the pipeline runs on the wall clock (clock = wall)".to_owned());
    }
    None
}

/// What a process brings to a run: the engine that reads the sources and writes the sinks
/// (the only process, or process 0 of several), or only the checked pipeline (the others).
pub enum Part {
    /// The engine, not stepped yet.
    Reader(Box<Engine>),
    /// The pipeline: this process's workers hold their share of the keys.
    Keys(Box<crate::graph::ValidGraph>),
}

impl Part {
    /// What every worker of this process reads, and the engine when this process has it.
    fn into_plan(self) -> (Plan, Option<Engine>) {
        match self {
            Part::Reader(engine) => {
                (Plan { graph: engine.graph().clone(), routes: engine.routes() }, Some(*engine))
            }
            Part::Keys(graph) => (Plan { routes: crate::engine::Routes::of(&graph), graph: *graph }, None),
        }
    }
}

/// Runs `engine`'s pipeline (an engine that has not stepped, built with `options`) on
/// `workers` threads to the end, or to its first failure, or until `stop` says so; gives the
/// engine back with every worker's counters added, for the summary.
pub fn run_on_workers(
    engine: Engine,
    options: &EngineOptions,
    workers: usize,
    recovery: Recovery,
    stop: StopCheck,
) -> (Option<Engine>, Result<(), RunError>) {
    run_in_chunks(engine, options, workers, recovery, stop, chunk_bytes_asked()).0
}

/// The chunk size [`CHUNK_BYTES_VAR`] asks for, if any.
fn chunk_bytes_asked() -> Option<u64> {
    std::env::var(CHUNK_BYTES_VAR).ok().and_then(|bytes| bytes.parse().ok())
}

/// [`run_on_workers`], reading the only source in chunks of about `chunk_bytes` bytes
/// (a default size without) when it can; also says whether it did.
fn run_in_chunks(
    engine: Engine,
    options: &EngineOptions,
    workers: usize,
    recovery: Recovery,
    stop: StopCheck,
    chunk_bytes: Option<u64>,
) -> ((Option<Engine>, Result<(), RunError>), bool) {
    let every = recovery.snapshots.as_ref().map(|snapshots| snapshots.every);
    let partition =
        ChunkedSource::plan(&engine, workers, recovery.resume.as_ref(), every, chunk_bytes).map(Arc::new);
    let chunked = partition.is_some();
    let (plan, engine) = Part::Reader(Box::new(engine)).into_plan();
    let config = timely::Config::process(workers.max(1));
    (run(plan, engine, options, config, recovery, stop, None, partition), chunked)
}

/// One process of a run over several processes (timely's own TCP networking): `threads`
/// workers here, `process` the index of this one among `addresses` (`host:port` each).
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Worker threads in this process.
    pub threads: usize,
    /// This process's index in `addresses`.
    pub process: usize,
    /// Every process's `host:port`, in process order.
    pub addresses: Vec<String>,
}

/// Runs this process's part of a run over several processes: process 0 gives the reading
/// engine (and gets it back for the summary), the others only the pipeline.
pub fn run_in_cluster(
    part: Part,
    options: &EngineOptions,
    cluster: Cluster,
    recovery: Recovery,
    stop: StopCheck,
) -> (Option<Engine>, Result<(), RunError>) {
    let (plan, engine) = part.into_plan();
    let (process, processes) = (cluster.process, cluster.addresses.len());
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: cluster.threads.max(1),
            process: cluster.process,
            addresses: cluster.addresses,
            report: false,
            zerocopy: false,
            log_fn: Arc::new(|_| None),
        },
        worker: timely::WorkerConfig::default(),
    };
    // Timely ends every process of a run by a panic when one of them goes away (its
    // connection closes): that becomes this run's error, worded, with no backtrace.
    let lost: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&lost);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut seen) = seen.lock()
            && seen.is_none()
        {
            *seen = Some(panic_text(info.payload()));
        }
    }));
    // Timely waits for every process without end: a process that never comes (not started,
    // another hosts file, a port taken) ends this one after CONNECT_TIMEOUT, with its reason.
    let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watched = Arc::clone(&connected);
    let _ = std::thread::Builder::new().name("eddy-connect-watchdog".into()).spawn(move || {
        std::thread::sleep(CONNECT_TIMEOUT);
        if !watched.load(std::sync::atomic::Ordering::Relaxed) {
            crate::eprintln_lossy!(
                "error: process {process} could not reach the other {} process(es) of --hosts within {} s: \
                 is every process started, with the same hosts file, and are their ports free?",
                processes - 1,
                CONNECT_TIMEOUT.as_secs()
            );
            std::process::exit(1);
        }
    });
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(plan, engine, options, config, recovery, stop, Some(connected), None)
    }));
    std::panic::set_hook(previous);
    let lost = lost.lock().ok().and_then(|mut lost| lost.take());
    match (ran, lost) {
        (Ok((engine, Ok(()))), None) => (engine, Ok(())),
        (Ok((engine, Err(error))), None) => (engine, Err(error)),
        (Ok((engine, _)), Some(why)) => (engine, Err(lost_process(&why))),
        (Err(_), why) => (None, Err(lost_process(why.as_deref().unwrap_or("a worker thread failed")))),
    }
}

/// The error of a run over several processes that lost one of them.
fn lost_process(why: &str) -> RunError {
    RunError::Workers(format!(
        "the run lost a process ({why}); every process stops. What the sinks hold up to the \
         last snapshot is kept: start every process again with --resume and the snapshot folder"
    ))
}

/// Runs the workers `config` makes here to the end; the engine back (when this process had
/// it) with its workers' counters added, and how the run ended. With `partition`, every
/// worker reads its chunks of the only source.
#[expect(clippy::too_many_arguments, reason = "the run's parts, each used once")]
fn run(
    plan: Plan,
    engine: Option<Engine>,
    options: &EngineOptions,
    config: timely::Config,
    recovery: Recovery,
    stop: StopCheck,
    connected: Option<Arc<std::sync::atomic::AtomicBool>>,
    partition: Option<Arc<ChunkedSource>>,
) -> (Option<Engine>, Result<(), RunError>) {
    let shared = Arc::new(Shared {
        plan: Arc::new(plan),
        options: options.clone(),
        engine: Mutex::new(engine),
        recovery: Mutex::new(recovery),
        stop,
        aborted: AtomicBool::new(false),
        abort_reason: Mutex::new(None),
        partition,
    });
    let in_workers = Arc::clone(&shared);
    let guards = match timely::execute(config, move |worker| {
        // Every process is connected once a worker runs.
        if let Some(connected) = &connected {
            connected.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let index = worker.index();
        // A worker that panics (a bug) or fails to start would leave the others waiting for
        // its progress forever: it aborts the run instead, and every worker drops its
        // dataflow and returns (timely would otherwise step it to completion).
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_worker(worker, &in_workers)));
        let ran = match ran {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => {
                in_workers.abort(index, error.to_string());
                Err(error)
            }
            Err(payload) => {
                in_workers.abort(index, panic_text(payload.as_ref()));
                Err(in_workers.abort_error())
            }
        };
        if in_workers.is_aborted() {
            for dataflow in worker.installed_dataflows() {
                worker.drop_dataflow(dataflow);
            }
        }
        ran
    }) {
        Ok(guards) => guards,
        Err(message) => {
            return (
                take_engine(&shared),
                Err(RunError::Workers(format!("cannot start the workers: {message}"))),
            );
        }
    };
    let mut results = Vec::new();
    let mut outcome = Ok(());
    for joined in guards.join() {
        match joined {
            Ok(Ok(result)) => results.push(result),
            Ok(Err(error)) => outcome = outcome.and(Err(error)),
            Err(panic) => {
                outcome = outcome.and(Err(RunError::Workers(format!("a worker thread failed: {panic}"))))
            }
        }
    }
    if outcome.is_ok() && shared.is_aborted() {
        outcome = Err(shared.abort_error());
    }
    let mut engine = take_engine(&shared);
    for result in results {
        if let Some(engine) = &mut engine {
            engine.add_worker_counts(&result.stats, &result.drops);
        }
        if let Some(result) = result.outcome {
            outcome = outcome.and(result);
        }
    }
    (engine, outcome)
}

/// Runs the pipeline file at `path` on `workers` workers with every sink captured in memory:
/// sink id → lines (what tests compare with [`crate::run_captured`]'s).
pub fn run_captured_on_workers(
    path: &std::path::Path,
    workers: usize,
) -> Result<BTreeMap<String, Vec<String>>, RunError> {
    run_captured(path, workers, chunk_bytes_asked()).0
}

/// [`run_captured_on_workers`] with the only source read in chunks of about `chunk_bytes`
/// bytes when it can be (docs/workers.md#partitioned-reading; tests cross many chunk
/// boundaries with tiny chunks): the sinks, or the run's error, and whether it was read so.
pub fn run_captured_in_chunks(
    path: &std::path::Path,
    workers: usize,
    chunk_bytes: u64,
) -> (Result<BTreeMap<String, Vec<String>>, RunError>, bool) {
    run_captured(path, workers, Some(chunk_bytes))
}

/// The run of [`run_captured_on_workers`] and [`run_captured_in_chunks`]: chunks of about
/// `chunk_bytes` bytes (a default size without).
fn run_captured(
    path: &std::path::Path,
    workers: usize,
    chunk_bytes: Option<u64>,
) -> (Result<BTreeMap<String, Vec<String>>, RunError>, bool) {
    let graph = match crate::engine::load_and_check(path) {
        Ok(graph) => graph,
        Err(error) => return (Err(error), false),
    };
    if let Some(what) = unsupported(&graph) {
        return (Err(RunError::Usage(format!("{what}: it does not run on several workers yet"))), false);
    }
    let options = EngineOptions { capture_sinks: true, ..EngineOptions::default() };
    let engine = match Engine::new(graph, &options) {
        Ok(engine) => engine,
        Err(error) => return (Err(error), false),
    };
    let stop = Arc::new(|| false);
    let ((engine, result), chunked) =
        run_in_chunks(engine, &options, workers, Recovery::default(), stop, chunk_bytes);
    (result.map(|()| engine.map(|engine| engine.captured()).unwrap_or_default()), chunked)
}

fn take_engine(shared: &Shared) -> Option<Engine> {
    shared.engine.lock().map_or(None, |mut engine| engine.take())
}

/// One worker: builds the dataflow, and on worker 0 feeds it and writes what reaches the
/// sinks.
fn run_worker(
    worker: &mut timely::worker::Worker<timely::communication::Allocator>,
    shared: &Shared,
) -> Result<WorkerResult, RunError> {
    let plan = &shared.plan;
    let graph = &plan.graph;
    let counts = Rc::new(RefCell::new(WorkerCounts {
        stats: RunStats::new(graph),
        drops: DropLedger::new(graph.doc.steps.len(), graph.doc.sources.len()),
    }));
    let (ops, _) = build_ops(graph, &shared.options)?;
    let mut ops: Vec<_> = ops.into_iter().map(Some).collect();
    // A second instance of each step that keys its unkeyed input itself, to key items
    // before they are sent to their key's worker.
    let mut keyers: Vec<_> = match (0..graph.doc.steps.len()).any(|step| keys_itself(graph, step)) {
        true => build_ops(graph, &shared.options)?.0.into_iter().map(Some).collect(),
        false => Vec::new(),
    };
    let engine = Rc::new(RefCell::new(if worker.index() == 0 { take_engine(shared) } else { None }));
    let _gives_back = GivesBack { engine: Rc::clone(&engine), shared };
    let failure: Rc<RefCell<Option<RunError>>> = Rc::new(RefCell::new(None));
    let gathered = Rc::new(RefCell::new(Gathered::default()));
    // Partitioned reading: the snapshots, which the writer takes after their batch.
    let snapshots: Rc<RefCell<Option<SnapshotPlan>>> = Rc::new(RefCell::new(None));
    let mut data_in = Entries::new(graph.doc.steps.len(), worker.peers());
    let mut clock_in: InputHandle<u64, EpochClock> = InputHandle::new();
    let probe = ProbeHandle::new();
    worker.dataflow::<u64, _, _>(|scope| {
        let clocks = clock_in.to_stream(scope).broadcast();
        // What each step receives, and (last) what the writer receives: every producer's
        // output is split by destination, so an item goes only through its own steps.
        let steps = graph.doc.steps.len();
        let mut inbound: Vec<Vec<Stream<_, Bundle>>> = vec![Vec::new(); steps + 1];
        for (index, entry) in data_in.inputs.iter_mut().enumerate() {
            inbound[index].push(entry.to_stream(scope));
        }
        for &step in &graph.order {
            let Some(op) = ops[step].take() else { continue };
            let mut stream = scope.concatenate(std::mem::take(&mut inbound[step]));
            if keys_itself(graph, step)
                && let Some(keyer) = keyers.get_mut(step).and_then(Option::take)
            {
                stream = keying_operator(&stream, step as u32, keyer, steps);
            }
            let stage = Stage::new(step, op, Arc::clone(plan), Rc::clone(&counts));
            let emitted = stage_operator(&stream, &clocks, stage, steps);
            send_on(emitted, &plan.routes, step, &mut inbound);
        }
        let to_writer = scope.concatenate(std::mem::take(&mut inbound[steps]));
        writer(
            &to_writer,
            &clocks,
            Arc::clone(plan),
            Rc::clone(&engine),
            Rc::clone(&failure),
            Rc::clone(&gathered),
            Rc::clone(&snapshots),
        )
        .probe_with(&probe);
    });
    // Worker 0 reads; every worker then closes its inputs and runs the dataflow to its end.
    // (The check's borrow ends before the reading borrows the engine mutably.)
    let reads = engine.borrow().is_some();
    let fed = if let Some(partition) = shared.partition.as_deref() {
        let mut restore = Ok(Vec::new());
        if reads {
            let mut recovery = shared.take_recovery();
            if let Some(snapshot) = recovery.resume.take() {
                restore = restore_messages(&snapshot, &plan.graph);
            }
            *snapshots.borrow_mut() = recovery.snapshots.take();
        }
        let (restore, restore_error) = match restore {
            Ok(restore) => (restore, None),
            Err(error) => {
                partition.halt();
                (Vec::new(), Some(error))
            }
        };
        let feed = ChunkFeed {
            partition,
            plan,
            counts: &counts,
            shared,
            failure: reads.then_some(&failure),
            engine: reads.then_some(&engine),
        };
        let (result, read) = feed.run(worker, &mut data_in, &mut clock_in, &probe, restore);
        reads.then(|| {
            if let Some(engine) = engine.borrow_mut().as_mut() {
                engine.count_read_in_chunks(0, read.events - partition.before().events, read.clock);
            }
            match restore_error {
                Some(error) => Err(error),
                None => result,
            }
        })
    } else {
        reads.then(|| {
            let recovery = shared.take_recovery();
            let mut feed = Feed {
                engine: &engine,
                failure: &failure,
                gathered: &gathered,
                plan,
                counts: &counts,
                shared,
                recovery,
            };
            feed.run(worker, &mut data_in, &mut clock_in, &probe)
        })
    };
    drop(data_in);
    drop(clock_in);
    while !probe.done() && shared.step(worker) {}
    let outcome = fed.map(|result| {
        // The first failure in the run's order: a step's (met before any event the reading
        // stopped at), else the reading's.
        let result = match failure.borrow_mut().take() {
            Some(error) => Err(error),
            None if shared.is_aborted() => Err(shared.abort_error()),
            None => result,
        };
        let mut engine = engine.borrow_mut().take();
        let result = match (result, engine.as_mut()) {
            (Ok(Feeding::Ended), Some(engine)) => engine.end_pulled_input(),
            (Ok(Feeding::Stopped), Some(engine)) => engine.flush(),
            (Err(error), _) => Err(error),
            (Ok(_), None) => Ok(()),
        };
        if let Ok(mut slot) = shared.engine.lock() {
            *slot = engine;
        }
        result
    });
    let counts = counts.borrow();
    Ok(WorkerResult { stats: counts.stats.clone(), drops: counts.drops.clone(), outcome })
}

/// Gives worker 0's engine back to the run when the worker unwinds (a panic), so that what
/// reached the sinks is still flushed and the summary still counts it.
struct GivesBack<'a> {
    engine: Rc<RefCell<Option<Engine>>>,
    shared: &'a Shared,
}

impl Drop for GivesBack<'_> {
    fn drop(&mut self) {
        let Ok(mut engine) = self.engine.try_borrow_mut() else { return };
        if let Some(engine) = engine.take()
            && let Ok(mut slot) = self.shared.engine.lock()
        {
            *slot = Some(engine);
        }
    }
}

/// How worker 0's reading ended.
enum Feeding {
    /// End of input: every step's end was sent.
    Ended,
    /// Stopped early (a signal, or a failure met downstream).
    Stopped,
}

/// Worker 0's reading: events in batches, each batch's clock broadcast.
struct Feed<'a> {
    engine: &'a Rc<RefCell<Option<Engine>>>,
    failure: &'a Rc<RefCell<Option<RunError>>>,
    gathered: &'a Rc<RefCell<Gathered>>,
    recovery: Recovery,
    plan: &'a Plan,
    counts: &'a Rc<RefCell<WorkerCounts>>,
    shared: &'a Shared,
}

impl Feed<'_> {
    fn run(
        &mut self,
        worker: &mut timely::worker::Worker<timely::communication::Allocator>,
        data_in: &mut Entries,
        clock_in: &mut InputHandle<u64, EpochClock>,
        probe: &ProbeHandle<u64>,
    ) -> Result<Feeding, RunError> {
        let mut batch = 0u64;
        let mut clock_before = self.engine.borrow().as_ref().and_then(Engine::clock);
        // Resuming: every key's state and timers to its worker, with the first batch.
        if let Some(snapshot) = self.recovery.resume.take() {
            for msg in restore_messages(&snapshot, &self.plan.graph)? {
                data_in.send(msg);
            }
        }
        let mut next_snapshot = self.next_snapshot();
        loop {
            let (mut clock, state) = self.read_batch(&mut clock_before, data_in)?;
            // A snapshot after the batch that reaches the next multiple, or that a signal ends
            // (not one that a failed read ends: the run stops there with an error).
            let snapshot = !matches!(state, BatchEnd::Failed(_))
                && next_snapshot.is_some_and(|next| clock.last >= next || matches!(state, BatchEnd::Signal));
            clock.snapshot = snapshot;
            clock_in.send(clock);
            batch += 1;
            data_in.advance_to(batch);
            clock_in.advance_to(batch);
            if snapshot {
                // Every batch done and written: the sources and sinks stand at the cut.
                while probe.less_than(&batch) {
                    if !self.shared.step(worker) {
                        return Err(self.shared.abort_error());
                    }
                }
                if self.failure.borrow().is_some() {
                    return Ok(Feeding::Stopped);
                }
                self.write_snapshot()?;
                next_snapshot = self.next_snapshot();
            }
            match state {
                BatchEnd::Full => {}
                BatchEnd::Input => {
                    clock_in.send(EpochClock::end_of_input(clock_before));
                    batch += 1;
                    data_in.advance_to(batch);
                    clock_in.advance_to(batch);
                    return Ok(Feeding::Ended);
                }
                BatchEnd::Signal => return Ok(Feeding::Stopped),
                BatchEnd::Failed(error) => {
                    // The events read before the failure go through every step and reach the
                    // sinks first.
                    while probe.less_than(&batch) {
                        if !self.shared.step(worker) {
                            return Err(self.shared.abort_error());
                        }
                    }
                    return Err(error);
                }
            }
            // At most two batches in flight: reading keeps ahead of the steps, memory stays bounded.
            while probe.less_than(&(batch - 1)) {
                if !self.shared.step(worker) {
                    return Err(self.shared.abort_error());
                }
            }
            if self.failure.borrow().is_some() {
                return Ok(Feeding::Stopped);
            }
        }
    }

    /// The event count after which the next snapshot is due, when snapshots are taken.
    fn next_snapshot(&self) -> Option<u64> {
        let events = self.engine.borrow().as_ref().map_or(0, |engine| engine.stats().events_in);
        let every = self.recovery.snapshots.as_ref()?.every.max(1);
        Some((events / every + 1) * every)
    }

    /// Writes the snapshot the writer gathered, with the engine's sources and sinks as they
    /// stand after the batch.
    fn write_snapshot(&mut self) -> Result<(), RunError> {
        let Some(plan) = self.recovery.snapshots.as_mut() else { return Ok(()) };
        let mut engine = self.engine.borrow_mut();
        let Some(engine) = engine.as_mut() else { return Ok(()) };
        let (steps, timers) = self.gathered.borrow_mut().take(&self.plan.graph, &self.plan.routes.positions);
        let snapshot = engine.snapshot_with(steps, timers)?;
        plan.writer.write(&snapshot, engine.graph(), &plan.pipeline)?;
        Ok(())
    }

    /// Reads up to a batch of events into the dataflow; says why it stopped.
    fn read_batch(
        &mut self,
        clock_before: &mut Option<i64>,
        data_in: &mut Entries,
    ) -> Result<(EpochClock, BatchEnd), RunError> {
        let mut engine = self.engine.borrow_mut();
        let Some(engine) = engine.as_mut() else { return Ok((EpochClock::default(), BatchEnd::Input)) };
        let first = engine.stats().events_in + 1;
        let mut clock = EpochClock { start: *clock_before, first, last: first - 1, ..EpochClock::default() };
        for _ in 0..BATCH_EVENTS {
            if (self.shared.stop)() {
                return Ok((clock, BatchEnd::Signal));
            }
            let pulled = match engine.pull_event() {
                Ok(Some(pulled)) => pulled,
                Ok(None) => return Ok((clock, BatchEnd::Input)),
                Err(error) => return Ok((clock, BatchEnd::Failed(error))),
            };
            let position = engine.stats().events_in;
            clock.last = position;
            if pulled.clock != *clock_before {
                if let Some(now) = pulled.clock {
                    clock.changes.push((position, now));
                }
                *clock_before = pulled.clock;
            }
            clock.origins.push((pulled.source as u32, pulled.line));
            data_in.send_event(self.plan, self.counts, pulled.from, position, pulled.item, pulled.clock);
        }
        Ok((clock, BatchEnd::Full))
    }
}

/// Worker 0's inputs to the dataflow: one per step and one for the writer (last), so that
/// what it reads reaches its destination without an operator to split it.
struct Entries {
    inputs: Vec<InputHandle<u64, Bundle>>,
    packer: Packer,
}

/// Messages worker 0 bundles before it sends them (so the other workers start on a batch
/// before it is all read).
const ENTRY_BUNDLE: usize = 1024;

impl Entries {
    /// The inputs of a pipeline of `steps` steps on `peers` workers.
    fn new(steps: usize, peers: usize) -> Self {
        Entries {
            inputs: (0..=steps).map(|_| InputHandle::new()).collect(),
            packer: Packer::new(steps, peers),
        }
    }

    /// Sends the item of the event at `position` into the dataflow: it enters the graph at
    /// `from` (a source, or the `key_on` whose key the source read), the replay clock at
    /// `now`; its drops are counted to the step it leaves.
    fn send_event(
        &mut self,
        plan: &Plan,
        counts: &Rc<RefCell<WorkerCounts>>,
        from: StreamRef,
        position: u64,
        item: Item,
        now: Option<i64>,
    ) {
        let step = match from {
            StreamRef::Step { step, .. } => step,
            StreamRef::Source(_) => 0,
        };
        let mut drops = Drops { counts, step };
        deliver(&plan.routes, from, &Tag::event(position), 0, item, now, &mut drops, &mut self.packer);
        self.flush_when_full();
    }

    /// Sends `msg` to the step it is for, or to the writer, on the worker that handles it.
    fn send(&mut self, msg: Msg) {
        self.packer.add(msg);
        self.flush_when_full();
    }

    /// Sends the bundles once they hold [`ENTRY_BUNDLE`] messages.
    fn flush_when_full(&mut self) {
        if self.packer.pending() >= ENTRY_BUNDLE {
            self.flush();
        }
    }

    /// Sends the bundles made so far.
    fn flush(&mut self) {
        for bundle in self.packer.bundles() {
            if let Some(input) = self.inputs.get_mut(bundle.dest as usize) {
                input.send(bundle);
            }
        }
    }

    /// Closes batch `batch - 1` on every input.
    fn advance_to(&mut self, batch: u64) {
        self.flush();
        for input in &mut self.inputs {
            input.advance_to(batch);
        }
    }
}

/// Sends what `step` emitted on to its destinations' inbound streams (each step's, then the
/// writer's): split by destination, or whole when only the writer can receive it (a step that
/// no step reads sends only sink items, failures and snapshot states).
fn send_on<G: Scope<Timestamp = u64>>(
    emitted: Stream<G, Bundle>,
    routes: &crate::engine::Routes,
    step: usize,
    inbound: &mut [Vec<Stream<G, Bundle>>],
) {
    let writer = inbound.len() - 1;
    let feeds_a_step = routes.step_targets[step]
        .iter()
        .flatten()
        .any(|target| matches!(target, crate::engine::Target::Step { .. }));
    if !feeds_a_step {
        inbound[writer].push(emitted);
        return;
    }
    let by_destination = |bundle: Bundle| (u64::from(bundle.dest), bundle);
    for (index, part) in emitted.partition(writer as u64 + 1, by_destination).into_iter().enumerate() {
        inbound[index].push(part);
    }
}

/// Why a batch ended.
enum BatchEnd {
    /// It holds [`BATCH_EVENTS`] events.
    Full,
    /// The input ended.
    Input,
    /// A signal asked the run to stop.
    Signal,
    /// Reading the next event failed (a bad row under `on_bad_row = "fail"`, an unreadable
    /// file): the events before it are carried through and written, as on one worker, and
    /// then the run stops with this error.
    Failed(RunError),
}

/// Whether `step` keys the items it receives itself ([`crate::ops::Operator::route_key`]):
/// `count_final` always, any other stateful step that may receive unkeyed items.
fn keys_itself(graph: &crate::graph::ValidGraph, step: usize) -> bool {
    // `count_final` keeps every item, keyed or not, under its own key (docs/semantics.md).
    graph.doc.steps[step].op == crate::graph::OpKind::CountFinal
        || graph.doc.steps[step].op.is_stateful()
            && graph.step_inputs[step].iter().any(|from| match *from {
                crate::graph::StreamRef::Source(_) => true,
                crate::graph::StreamRef::Step { step, .. } => !graph.step_keyed[step],
            })
}

/// Keys the items sent to `step` with the key the step will keep them under, so that they
/// are sent to that key's worker ([`crate::ops::Operator::route_key`]): an unkeyed item, or
/// any item of a step that keys even keyed items itself (`count_final`).
fn keying_operator<G: Scope<Timestamp = u64>>(
    stream: &Stream<G, Bundle>,
    step: u32,
    mut keyer: Box<dyn crate::ops::Operator>,
    steps: usize,
) -> Stream<G, Bundle> {
    let name = format!("key step {step}");
    let mut packer = Packer::new(steps, stream.scope().peers());
    stream.unary(Pipeline, &name, move |_capability, _info| {
        move |input, output| {
            input.for_each_time(|time, data| {
                for bundle in data {
                    for mut bundle in bundle.drain(..) {
                        for mut msg in bundle.msgs.drain(..) {
                            // The step's items, not its restored states and timers (which
                            // go by the key they were kept under).
                            if matches!(msg.to, Dest::Step { .. }) {
                                crate::script::set_script_clock(msg.clock);
                                msg.route_key = keyer.route_key(&msg.value);
                            }
                            packer.add(msg);
                        }
                    }
                }
                output.session(&time).give_iterator(packer.bundles());
            });
        }
    })
}

/// A keyed step's batch waiting to be complete.
struct Waiting {
    capability: Capability<u64>,
    items: Vec<Msg>,
    clock: Option<EpochClock>,
}

/// The waiting batch of `capability`'s time, made on its first item or clock (with a buffer
/// of an earlier batch, so that each batch does not fault in new memory).
fn waiting_for<'a>(
    waiting: &'a mut BTreeMap<u64, Waiting>,
    spare: &mut Vec<Vec<Msg>>,
    capability: &Capability<u64>,
) -> &'a mut Waiting {
    waiting.entry(*capability.time()).or_insert_with(|| Waiting {
        capability: capability.clone(),
        items: spare.pop().unwrap_or_default(),
        clock: None,
    })
}

/// Emptied batch buffers kept for later batches: as many as batches are in flight at once
/// (two rounds), so that a worker holds no more than it uses.
const SPARE_BUFFERS: usize = 4;

/// Keeps the emptied `items` for a later batch, unless enough are kept already.
fn keep_spare(spare: &mut Vec<Vec<Msg>>, mut items: Vec<Msg>) {
    if spare.len() < SPARE_BUFFERS {
        items.clear();
        spare.push(items);
    }
}

/// The writer's waiting batch of time `time` (its items and clock), made on its first item or
/// clock with a buffer of an earlier batch.
fn writer_batch<'a>(
    waiting: &'a mut BTreeMap<u64, (Vec<Msg>, EpochClock)>,
    spare: &mut Vec<Vec<Msg>>,
    time: u64,
) -> &'a mut (Vec<Msg>, EpochClock) {
    waiting.entry(time).or_insert_with(|| (spare.pop().unwrap_or_default(), EpochClock::default()))
}

/// The worker a bundle goes to (made by [`Packer`]).
fn bundle_worker(bundle: &Bundle) -> u64 {
    bundle.worker
}

/// The timely operator of one step, which receives only what is sent to it: a stateless
/// step handles each item as it comes, a keyed step each batch once it is complete, in order.
fn stage_operator<G: Scope<Timestamp = u64>>(
    stream: &Stream<G, Bundle>,
    clocks: &Stream<G, EpochClock>,
    mut stage: Stage,
    steps: usize,
) -> Stream<G, Bundle> {
    let keyed = stage.is_keyed();
    let name = format!("step {}", stage.step());
    let mut packer = Packer::new(steps, stream.scope().peers());
    stream.binary_frontier(
        clocks,
        Exchange::new(bundle_worker),
        Pipeline,
        &name,
        move |_capability, _info| {
            let mut waiting: BTreeMap<u64, Waiting> = BTreeMap::new();
            let mut spare = Vec::new();
            move |(input, frontier), (clock_input, clock_frontier), output| {
                input.for_each_time(|time, data| {
                    let capability = time.retain();
                    for bundles in data {
                        for mut bundle in bundles.drain(..) {
                            if keyed {
                                waiting_for(&mut waiting, &mut spare, &capability)
                                    .items
                                    .append(&mut bundle.msgs);
                            } else {
                                for msg in bundle.msgs.drain(..) {
                                    stage.item(msg, &mut packer);
                                }
                            }
                        }
                    }
                    output.session(&capability).give_iterator(packer.bundles());
                });
                clock_input.for_each_time(|time, data| {
                    if !keyed {
                        return;
                    }
                    let capability = time.retain();
                    for batch in data {
                        for clock in batch.drain(..) {
                            waiting_for(&mut waiting, &mut spare, &capability).clock = Some(clock);
                        }
                    }
                });
                while let Some((&t, _)) = waiting.first_key_value() {
                    if frontier.less_equal(&t) || clock_frontier.less_equal(&t) {
                        break;
                    }
                    let Some((_, mut batch)) = waiting.pop_first() else { break };
                    stage.batch(&mut batch.items, &batch.clock.unwrap_or_default(), &mut packer);
                    output.session(&batch.capability).give_iterator(packer.bundles());
                    keep_spare(&mut spare, batch.items);
                }
            }
        },
    )
}

/// The writer, on worker 0: each complete batch's sink items in the run's order, up to the
/// first failure, which it locates by the batch's clock (the source line of its event).
fn writer<G: Scope<Timestamp = u64>>(
    stream: &Stream<G, Bundle>,
    clocks: &Stream<G, EpochClock>,
    plan: Arc<Plan>,
    engine: Rc<RefCell<Option<Engine>>>,
    failure: Rc<RefCell<Option<RunError>>>,
    gathered: Rc<RefCell<Gathered>>,
    snapshots: Rc<RefCell<Option<SnapshotPlan>>>,
) -> Stream<G, ()> {
    stream.binary_frontier::<_, timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _, _>(
        clocks,
        Exchange::new(bundle_worker),
        Pipeline,
        "writer",
        move |_capability, _info| {
            let mut waiting: BTreeMap<u64, (Vec<Msg>, EpochClock)> = BTreeMap::new();
            let mut in_order = InOrder::default();
            move |(input, frontier), (clock_input, clock_frontier), _output| {
                input.for_each_time(|time, data| {
                    let (items, _) = writer_batch(&mut waiting, &mut in_order.spare, *time.time());
                    for bundles in data {
                        for mut bundle in bundles.drain(..) {
                            items.append(&mut bundle.msgs);
                        }
                    }
                });
                clock_input.for_each_time(|time, data| {
                    let (_, batch_clock) = writer_batch(&mut waiting, &mut in_order.spare, *time.time());
                    for batch in data {
                        if let Some(clock) = batch.pop() {
                            *batch_clock = clock;
                        }
                    }
                });
                while let Some((&t, _)) = waiting.first_key_value() {
                    if frontier.less_equal(&t) || clock_frontier.less_equal(&t) {
                        break;
                    }
                    let Some((_, (mut items, clock))) = waiting.pop_first() else { break };
                    let mut engine = engine.borrow_mut();
                    let Some(engine) = engine.as_mut() else { continue };
                    in_order.sort(&items);
                    for &(_, index) in &in_order.order {
                        if failure.borrow().is_some() {
                            break;
                        }
                        let Some(msg) = items.get_mut(index as usize) else { continue };
                        // Each item is taken out where it lies (the buffer is emptied next).
                        let result = match std::mem::replace(&mut msg.to, Dest::State { step: 0 }) {
                            Dest::Sink { sink, from } => engine.write_pulled(
                                sink as usize,
                                &Item { key: msg.key.take(), value: std::mem::take(&mut msg.value) },
                                from.into(),
                            ),
                            Dest::Failed(error) => {
                                let at = clock.origin_of(msg.tag.position);
                                let at = at.map(|(source, line)| (source as usize, line));
                                Err(step_error_at(&plan.graph, &plan.routes.projections, *error, at))
                            }
                            // Snapshot states and timers are gathered; steps' messages never
                            // reach the writer.
                            to => {
                                msg.to = to;
                                gathered.borrow_mut().keep(std::mem::replace(msg, Msg::taken()));
                                Ok(())
                            }
                        };
                        if let Err(error) = result {
                            *failure.borrow_mut() = Some(error);
                        }
                    }
                    keep_spare(&mut in_order.spare, items);
                    // Partitioned reading: the snapshot after its batch, the sinks written
                    // through it and no further.
                    if clock.snapshot
                        && let Some(cut) = clock.cut
                        && failure.borrow().is_none()
                        && let Some(snapshots) = snapshots.borrow_mut().as_mut()
                    {
                        let (steps, timers) = gathered.borrow_mut().take(&plan.graph, &plan.routes.positions);
                        let written = engine
                            .snapshot_at_cut(steps, timers, clock.last, (cut.rows, cut.bytes), cut.clock)
                            .and_then(|snapshot| {
                                snapshots.writer.write(&snapshot, engine.graph(), &snapshots.pipeline)
                            });
                        if let Err(error) = written {
                            *failure.borrow_mut() = Some(error);
                        }
                    }
                }
            }
        },
    )
}

/// Puts a batch's items in the run's order (by tag; equal tags as they arrived) by sorting
/// their positions and indices, so that no item moves; keeps the buffers from batch to batch.
#[derive(Default)]
struct InOrder {
    /// (event position, index) of each item, in the run's order once sorted.
    order: Vec<(u64, u32)>,
    /// Emptied item buffers, for the next batches.
    spare: Vec<Vec<Msg>>,
}

impl InOrder {
    /// Sorts `order` into the run's order of `items`. A batch arrives as a few runs already
    /// in order (one per step and worker that sent it), which a stable merge sort finds and
    /// merges in about one pass; being stable, it also keeps equal tags as they arrived.
    fn sort(&mut self, items: &[Msg]) {
        self.order.clear();
        self.order.extend(items.iter().enumerate().map(|(index, msg)| (msg.tag.position, index as u32)));
        self.order.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| items[a.1 as usize].tag.cmp(&items[b.1 as usize].tag))
        });
    }
}
