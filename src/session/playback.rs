//! The replay state machine over [`Engine`]: play, pause, step, run to the next timer, run to
//! the end, seek (keyframes), speed, breakpoints, snapshots, and the views. Synchronous: the
//! session thread feeds it commands and calls [`Playback::work`] in short slices; tests drive
//! it directly.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{AST, Dynamic, Scope};
use rustc_hash::FxHashSet;
use serde_json::Value;

use super::command::{Breakpoint, Command, GraphSource, ReplaceMode, SnapshotId, Speed};
use super::event::{
    BreakpointHit, ErrorView, Event, KeyChange, KeyRow, KeySeries, KeyTable, KeyframeUse, LOG_CAPACITY,
    LogEntry, LogKind, Metrics, NodePreview, Notice, NoticeLevel, PREVIEW_ITEMS, PipelineInfo,
    PositionSample, PreviewItem, Problem, RunView, SeriesPoint, SinkCounts, SnapshotContents, SnapshotDiff,
    SnapshotInfo, SnapshotKind, StateSample, Status, StepCounts, StepDiff, StepInfo, TIMERS_SHOWN, TimerView,
    TimersView, WallSample,
};
use super::keyframes::{DEFAULT_KEYFRAME_BUDGET, Keyframes};
use super::ledger::StateLedger;
use super::timer_marks::TimerMarks;
use crate::engine::{
    Engine, EngineOptions, EngineSnapshot, Keyframe, RunError, StepOutcome, TraceEvent, TraceKind,
    TracedValue,
};
use crate::graph::{BadRowPolicy, ValidGraph};
use crate::io::Source;
use crate::ops::Key;
use crate::script::ScriptHost;

/// Keyframes are taken every `keyframe_every` events: at least this many.
pub const MIN_KEYFRAME_EVERY: u64 = 1000;
/// About this many keyframes over a whole replay.
const KEYFRAMES_WANTED: u64 = 150;
/// Keyframes are taken every this many events at most (while the budget allows): a seek
/// replays fewer events than this from its keyframe, a fraction of a second.
pub const MAX_KEYFRAME_EVERY: u64 = 50_000;
/// Past this many keyframes (the total still unknown), they are thinned out.
const MAX_KEYFRAMES: usize = 300;
/// The selected step's table is rebuilt at most this often while playing.
const TABLE_INTERVAL: Duration = Duration::from_millis(250);
/// Node previews are rebuilt at most this often while playing.
const PREVIEW_INTERVAL: Duration = Duration::from_millis(100);
/// Metrics are rebuilt, and throughput sampled, at most this often while playing.
const METRICS_INTERVAL: Duration = Duration::from_millis(250);
/// State size is sampled at most this often while playing (besides keyframes).
const STATE_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);
/// Changed keys tracked one by one (repeats counted); past this, the table is compared whole.
const CHANGED_CAP: usize = 1_000_000;
/// Throughput samples kept.
const WALL_SAMPLES_CAP: usize = 2000;
/// Position samples wanted over a whole replay.
const POSITION_SAMPLES_WANTED: u64 = 200;
/// Position samples are this far apart while the total is unknown.
const UNKNOWN_TOTAL_BUCKET: u64 = 64;
/// The longest a real-time play waits in one go (so that commands are answered meanwhile).
const MAX_WAIT: Duration = Duration::from_millis(50);

/// What [`Playback::work`] left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Nothing: waiting for a command.
    Idle,
    /// More to do right away.
    Busy,
    /// Playing in real time: the next event is due after this long.
    Wait(Duration),
}

/// An item kept for a node preview, rendered to JSON only when a view is built.
#[derive(Debug, Clone)]
pub(super) struct RawItem {
    key: Option<Key>,
    /// Shared with the engine's trace (and the item's other records): never copied here.
    pub(super) value: TracedValue,
    port: usize,
    clock: Option<i64>,
    position: u64,
}

/// The last items into and out of a step.
#[derive(Debug, Clone, Default)]
pub(super) struct StepPreview {
    pub(super) items_in: VecDeque<RawItem>,
    pub(super) items_out: VecDeque<RawItem>,
}

fn push_bounded(ring: &mut VecDeque<RawItem>, item: RawItem) {
    if ring.len() == PREVIEW_ITEMS {
        ring.pop_front();
    }
    ring.push_back(item);
}

/// A manual snapshot (or an automatic keyframe composed whole): a point to go back to, with
/// what the views showed there.
#[derive(Debug)]
struct Frame {
    info: SnapshotInfo,
    graph: Arc<ValidGraph>,
    keyframe: Keyframe,
    previews: Vec<StepPreview>,
    /// The logics' own `snapshot()` (manual snapshots; to restore into another graph).
    resume: Option<EngineSnapshot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Play,
    RunToEnd,
    NextTimer,
    Steps(u64),
    Seek(u64),
}

/// Counts the source events of a pipeline, a slice at a time.
struct Counter {
    sources: Vec<Source>,
    index: usize,
    count: u64,
}

impl Counter {
    fn start(graph: &ValidGraph) -> Option<Counter> {
        let mut sources = Vec::new();
        for spec in &graph.doc.sources {
            let mut spec = spec.clone();
            if spec.on_bad_row == BadRowPolicy::DeadLetter {
                spec.on_bad_row = BadRowPolicy::Skip; // counting writes no dead letters
            }
            let mut source = Source::open(&spec, &graph.base_dir).ok()?;
            source.set_projection(&BTreeSet::new());
            sources.push(source);
        }
        Some(Counter { sources, index: 0, count: 0 })
    }

    /// Counts until `deadline`; the total once every source is read.
    fn work(&mut self, deadline: Instant) -> Option<u64> {
        let mut n = 0u32;
        while let Some(source) = self.sources.get_mut(self.index) {
            match source.next_event() {
                Ok(Some(_)) => self.count += 1,
                // A bad row under `fail` ends the replay there: count no further in this source.
                Ok(None) | Err(_) => self.index += 1,
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(256) && Instant::now() >= deadline {
                return None;
            }
        }
        Some(self.count)
    }
}

enum Armed {
    NodeEmits,
    KeyTouched(Key),
    Predicate(Box<AST>),
}

struct ArmedBreakpoint {
    index: usize,
    step: usize,
    armed: Armed,
    /// A predicate that failed at run time (reported once).
    failed: bool,
}

struct Watch {
    step: String,
    key: Key,
    points: Vec<SeriesPoint>,
    touched: bool,
    view: Option<Arc<KeySeries>>,
}

#[derive(Default)]
struct MetricsState {
    bucket: u64,
    by_position: Vec<PositionSample>,
    by_wall: Vec<WallSample>,
    state: BTreeMap<u64, StateSample>,
    /// The start of the current throughput stretch: when, position, items in per step.
    wall_mark: Option<(Instant, u64, Vec<u64>)>,
    state_at: Option<Instant>,
}

/// The replay of one pipeline at a time, driven by [`Command`]s.
pub struct Playback {
    host: ScriptHost,
    options: EngineOptions,
    generation: u64,
    graph: Option<Arc<ValidGraph>>,
    info: Option<Arc<PipelineInfo>>,
    engine: Option<Engine>,
    status: Status,
    position: u64,
    origin: u64,
    ended: bool,
    total: Option<u64>,
    counter: Option<Counter>,
    goal: Option<Goal>,
    speed: Speed,
    /// Real-time play: (wall instant, clock) it is measured from.
    anchor: Option<(Instant, i64)>,
    /// A real-time play waiting for the next event: how far ahead it is, in event time (µs).
    waiting: Option<i64>,
    keyframe_every: u64,
    keyframes: Keyframes,
    ledger: StateLedger,
    manual: BTreeMap<SnapshotId, Arc<Frame>>,
    next_id: SnapshotId,
    breakpoints: Vec<Breakpoint>,
    armed: Vec<ArmedBreakpoint>,
    breakpoint_hit: Option<BreakpointHit>,
    error: Option<ErrorView>,
    selected: Option<String>,
    /// Keys of the selected step the run touched since the last table, as they came (a key
    /// may repeat: appending is cheaper than a set; the table sorts them anyway).
    changed: Vec<Key>,
    /// The changes are not known key by key: compare the next table with the last one.
    changed_all: bool,
    table: Option<Arc<KeyTable>>,
    table_dirty: bool,
    table_at: Option<Instant>,
    /// How long the last table took to build: a big one is rebuilt less often while playing.
    table_cost: Duration,
    watch: Option<Watch>,
    previews: Vec<StepPreview>,
    previews_view: Arc<Vec<NodePreview>>,
    previews_dirty: bool,
    previews_at: Option<Instant>,
    counts: (Arc<Vec<StepCounts>>, Arc<Vec<SinkCounts>>),
    log: VecDeque<LogEntry>,
    log_view: Arc<Vec<LogEntry>>,
    log_dirty: bool,
    snapshots_view: Arc<Vec<SnapshotInfo>>,
    snapshots_dirty: bool,
    metrics: MetricsState,
    metrics_view: Arc<Metrics>,
    metrics_dirty: bool,
    metrics_at: Option<Instant>,
    loaded_at: Instant,
    events: Vec<Event>,
    /// The engine's trace of the last step, its allocation kept from step to step.
    trace_buffer: Vec<TraceEvent>,
    /// Where timers fired, for `PreviousTimer`.
    timer_marks: TimerMarks,
}

impl Default for Playback {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Playback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playback")
            .field("generation", &self.generation)
            .field("status", &self.status)
            .field("position", &self.position)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Playback {
    /// A playback with nothing loaded.
    pub fn new() -> Self {
        // Scripts' print and debug on this thread go to the log, not to stderr.
        crate::script::capture_script_output(true);
        Self {
            host: ScriptHost::default(),
            // The sinks' lines are never shown: checked and counted only. The sources are read
            // ahead on their own threads, as the runner reads them.
            options: EngineOptions {
                check_sinks: true,
                feed: Some(crate::engine::Prefetched::wrap),
                ..EngineOptions::default()
            },
            generation: 0,
            graph: None,
            info: None,
            engine: None,
            status: Status::Idle,
            position: 0,
            origin: 0,
            ended: false,
            total: None,
            counter: None,
            goal: None,
            speed: Speed::default(),
            anchor: None,
            waiting: None,
            keyframe_every: MIN_KEYFRAME_EVERY,
            keyframes: Keyframes::new(0, DEFAULT_KEYFRAME_BUDGET),
            ledger: StateLedger::default(),
            manual: BTreeMap::new(),
            next_id: 1,
            breakpoints: Vec::new(),
            armed: Vec::new(),
            breakpoint_hit: None,
            error: None,
            selected: None,
            changed: Vec::new(),
            changed_all: false,
            table: None,
            table_dirty: true,
            table_at: None,
            table_cost: Duration::ZERO,
            watch: None,
            previews: Vec::new(),
            previews_view: Arc::default(),
            previews_dirty: true,
            previews_at: None,
            counts: (Arc::default(), Arc::default()),
            log: VecDeque::new(),
            log_view: Arc::default(),
            log_dirty: false,
            snapshots_view: Arc::default(),
            snapshots_dirty: false,
            metrics: MetricsState::default(),
            metrics_view: Arc::default(),
            metrics_dirty: true,
            metrics_at: None,
            loaded_at: Instant::now(),
            events: Vec::new(),
            trace_buffer: Vec::new(),
            timer_marks: TimerMarks::default(),
        }
    }

    /// The position (source events processed).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// What the replay is doing.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The source events of the whole replay, once counted.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Events between two automatic keyframes.
    pub fn keyframe_every(&self) -> u64 {
        self.keyframe_every
    }

    /// Whether [`Playback::work`] has something to do (counting, playing, seeking).
    pub fn is_busy(&self) -> bool {
        self.goal.is_some() || self.counter.is_some()
    }

    /// The events other than views produced since the last call (notices, problems,
    /// snapshot contents and diffs), in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Applies a command. Long work (playing, seeking, counting) is only started here and
    /// done by [`Playback::work`]. `Shutdown` is the thread's business and does nothing here.
    pub fn handle(&mut self, command: Command) {
        match command {
            Command::Load(source) => {
                if let Some(graph) = self.resolve(source) {
                    self.install(graph, None);
                }
            }
            Command::ReplaceGraph { source, mode } => {
                if let Some(graph) = self.resolve(source) {
                    match mode {
                        ReplaceMode::Restart => self.install(graph, None),
                        ReplaceMode::Continue => self.continue_with(graph),
                    }
                }
            }
            Command::Play => self.start(Goal::Play),
            Command::Pause => {
                self.waiting = None;
                if self.goal.take().is_some() {
                    self.status = Status::Paused;
                }
            }
            Command::Step(n) if n > 0 => self.start(Goal::Steps(n)),
            Command::Step(_) => {}
            Command::RunToNextTimer => self.start(Goal::NextTimer),
            Command::RunToEnd => self.start(Goal::RunToEnd),
            Command::StepBack if self.graph.is_some() => {
                if self.position > self.origin {
                    self.seek(self.position - 1);
                } else {
                    self.notice(
                        NoticeLevel::Info,
                        format!("already at the first event (event {})", self.origin),
                    );
                }
            }
            Command::PreviousTimer if self.graph.is_some() => {
                match self.timer_marks.before(self.position, self.origin) {
                    Some(at) => self.seek(at),
                    None => self
                        .notice(NoticeLevel::Info, format!("no timer fired before event {}", self.position)),
                }
            }
            Command::StepBack | Command::PreviousTimer => {
                self.notice(NoticeLevel::Warning, "no pipeline is loaded".into());
            }
            Command::Restart => self.restart(),
            Command::SetSpeed(speed) => {
                self.speed = speed.clamped();
                self.anchor = None;
            }
            Command::Seek(position) => self.seek(position),
            Command::Select(step) => {
                self.selected = step;
                self.table = None;
                self.table_dirty = true;
                self.changed.clear();
                self.changed_all = false;
            }
            Command::WatchKey { step, key } => self.watch_key(step, key),
            Command::Unwatch => self.watch = None,
            Command::TakeSnapshot => self.take_snapshot(),
            Command::OpenSnapshot(id) => self.open_snapshot(id),
            Command::DiffSnapshots(a, b) => self.diff_snapshots(a, b),
            Command::RestoreSnapshot(id) => self.restore_snapshot(id),
            Command::SetBreakpoints(breakpoints) => {
                self.breakpoints = breakpoints;
                self.arm_breakpoints();
            }
            Command::SetKeyframeBudget(bytes) => {
                self.keyframes.set_budget(bytes);
                self.keep_keyframes_bounded();
            }
            Command::Shutdown => {}
        }
    }

    /// Does up to `budget` of work: counting events, then the current play, run or seek.
    pub fn work(&mut self, budget: Duration) -> Work {
        let deadline = Instant::now() + budget;
        if let Some(counter) = &mut self.counter
            && let Some(total) = counter.work(deadline)
        {
            self.counter = None;
            self.set_total(total);
        }
        let Some(_) = self.goal else {
            return if self.counter.is_some() { Work::Busy } else { Work::Idle };
        };
        let mut steps = 0u32;
        let outcome = loop {
            let Some(goal) = self.goal else { break Work::Idle };
            // The clock is read every few events only: an event takes a microsecond or so.
            if steps.is_multiple_of(16) && Instant::now() >= deadline {
                break Work::Busy;
            }
            steps = steps.wrapping_add(1);
            match goal {
                Goal::Seek(target) if self.position >= target => {
                    self.stop(Status::Paused);
                    break Work::Idle;
                }
                Goal::Steps(0) => {
                    self.stop(Status::Paused);
                    break Work::Idle;
                }
                Goal::Play => {
                    if let Some(wait) = self.real_time_wait() {
                        break Work::Wait(wait);
                    }
                }
                _ => {}
            }
            if self.ended {
                self.stop(Status::Ended);
                break Work::Idle;
            }
            let live = !matches!(goal, Goal::Seek(_));
            match self.step_engine(live) {
                Stepped::Event { timer_fired, hit } => {
                    if let Goal::Steps(n) = goal {
                        self.goal = Some(Goal::Steps(n - 1));
                    }
                    if hit || (goal == Goal::NextTimer && timer_fired) {
                        self.stop(Status::Paused);
                        break Work::Idle;
                    }
                }
                Stepped::Ended | Stepped::Failed => break Work::Idle,
            }
        };
        if self.goal.is_some_and(|g| !matches!(g, Goal::Seek(_))) {
            self.sample_throughput(false);
        }
        match outcome {
            Work::Idle if self.counter.is_some() => Work::Busy,
            other => other,
        }
    }

    /// Works until nothing is left (a play goes to its end or breakpoint; a real-time play
    /// waits in real time). For tests and headless use.
    pub fn finish(&mut self) {
        loop {
            match self.work(Duration::from_millis(50)) {
                Work::Idle => return,
                Work::Busy => {}
                Work::Wait(wait) => std::thread::sleep(wait),
            }
        }
    }

    /// The view as it stands, every part up to date.
    pub fn view(&mut self) -> Arc<RunView> {
        self.build_view(true, Instant::now())
    }

    /// The view as it stands, its costly parts (state table, previews, metrics) rebuilt only
    /// every so often while playing.
    pub fn view_throttled(&mut self, now: Instant) -> Arc<RunView> {
        let fresh = self.goal.is_none();
        self.build_view(fresh, now)
    }

    // --- loading -------------------------------------------------------------------------

    fn resolve(&mut self, source: GraphSource) -> Option<ValidGraph> {
        let result = match source {
            GraphSource::Valid(graph) => Ok(*graph),
            GraphSource::Doc { doc, base_dir } => {
                crate::engine::check(&doc, &base_dir).map_err(RunError::Invalid)
            }
            GraphSource::File(path) => crate::engine::load_and_check(&path),
        };
        match result {
            // A live stream cannot be read again to seek or restart, nor does it end.
            Ok(graph) if graph.doc.sources.iter().any(|s| s.is_live()) => {
                let problem = Problem {
                    step: None,
                    message: "a source is a live stream (standard input, path = \"-\", or a file with follow = true), \
                              which the workbench cannot replay: run it with `eddy run --record rec.jsonl` and \
                              replay that recording here (recording = \"rec.jsonl\" on the source)"
                        .into(),
                };
                self.events.push(Event::Invalid(Arc::new(vec![problem])));
                None
            }
            Ok(graph) => Some(graph),
            Err(RunError::Invalid(problems)) => {
                let problems = problems
                    .0
                    .iter()
                    .map(|p| Problem { step: p.step_id().map(str::to_owned), message: p.to_string() })
                    .collect();
                self.events.push(Event::Invalid(Arc::new(problems)));
                None
            }
            Err(other) => {
                let problem = Problem { step: None, message: other.to_string() };
                self.events.push(Event::Invalid(Arc::new(vec![problem])));
                None
            }
        }
    }

    fn new_engine(&self, graph: &ValidGraph) -> Result<Engine, RunError> {
        let mut engine = Engine::new(graph.clone(), &self.options)?;
        engine.set_tracing(true);
        Ok(engine)
    }

    /// Makes `graph` the current pipeline, before its first event, or (continuing) with an
    /// engine restored at a position.
    fn install(&mut self, graph: ValidGraph, continued: Option<(Engine, u64)>) {
        let graph = Arc::new(graph);
        self.generation += 1;
        let doc = &graph.doc;
        self.info = Some(Arc::new(PipelineInfo {
            sources: doc.sources.iter().map(|s| s.id.clone()).collect(),
            steps: doc
                .steps
                .iter()
                .map(|s| StepInfo { id: s.id.clone(), op: s.op.to_string(), stateful: s.op.is_stateful() })
                .collect(),
            sinks: doc.sinks.iter().map(|s| s.id.clone()).collect(),
        }));
        self.previews = vec![StepPreview::default(); doc.steps.len()];
        self.previews_dirty = true;
        self.keyframes.clear(doc.steps.len());
        if let Some(bytes) = budget_in(doc) {
            self.keyframes.set_budget(bytes);
        }
        self.ledger = StateLedger::empty(doc.steps.len());
        self.keyframe_every = MIN_KEYFRAME_EVERY;
        self.goal = None;
        self.anchor = None;
        self.ended = false;
        self.error = None;
        self.breakpoint_hit = None;
        self.total = None;
        self.timer_marks.clear();
        self.counter = Counter::start(&graph);
        self.metrics = MetricsState { bucket: UNKNOWN_TOTAL_BUCKET, ..MetricsState::default() };
        self.metrics_dirty = true;
        self.loaded_at = Instant::now();
        self.table = None;
        self.table_dirty = true;
        self.changed.clear();
        self.changed_all = false;
        self.graph = Some(Arc::clone(&graph));
        self.status = Status::Paused;
        match continued {
            Some((mut engine, position)) => {
                engine.set_tracing(true);
                self.ledger = StateLedger::of_states(
                    &(0..doc.steps.len()).map(|i| engine.step_states(i)).collect::<Vec<_>>(),
                );
                self.keyframes.lost_track();
                self.engine = Some(engine);
                self.position = position;
                self.origin = position;
                if let Some(watch) = &mut self.watch {
                    watch.points.retain(|p| p.position <= position);
                    watch.view = None;
                }
                self.take_keyframe();
            }
            None => {
                self.position = 0;
                self.origin = 0;
                self.engine = None;
                if let Some(watch) = &mut self.watch {
                    watch.points.clear();
                    watch.view = None;
                }
                match self.new_engine(&graph) {
                    Ok(engine) => self.engine = Some(engine),
                    Err(error) => self.fail(error),
                }
            }
        }
        self.arm_breakpoints();
        self.refresh_counts();
        self.snapshots_dirty = true;
    }

    /// `ReplaceGraph` with `Continue`.
    fn continue_with(&mut self, graph: ValidGraph) {
        let Some(old_graph) = self.graph.clone() else {
            self.install(graph, None);
            return;
        };
        let position = self.position;
        match self.resume_into(&old_graph, &graph, position) {
            Ok(engine) => self.install(graph, Some((engine, position))),
            Err(why) => {
                self.notice(
                    NoticeLevel::Warning,
                    format!("cannot continue with the edited pipeline: {why}; restarted"),
                );
                self.install(graph, None);
            }
        }
    }

    /// Snapshots the current graph at `position` and restores it into `graph`.
    fn resume_into(&mut self, old: &ValidGraph, graph: &ValidGraph, position: u64) -> Result<Engine, String> {
        compatible(old, graph)?;
        if self.engine.is_none() || self.ended {
            self.rebuild_at(position);
        }
        let Some(engine) = self.engine.as_mut() else {
            return Err("the current state could not be rebuilt".into());
        };
        if self.position != position {
            return Err("the current state could not be rebuilt".into());
        }
        let snapshot = engine.snapshot().map_err(|e| e.to_string())?;
        let stats = engine.stats().clone();
        let mut engine =
            Engine::restore(graph.clone(), &snapshot, &self.options).map_err(|e| e.to_string())?;
        engine.carry_stats(&stats, old);
        Ok(engine)
    }

    fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        let wanted = total.div_ceil(KEYFRAMES_WANTED).div_ceil(MIN_KEYFRAME_EVERY) * MIN_KEYFRAME_EVERY;
        self.keyframe_every = wanted.clamp(MIN_KEYFRAME_EVERY, MAX_KEYFRAME_EVERY);
        self.thin_keyframes();
        let bucket = total.div_ceil(POSITION_SAMPLES_WANTED).max(1);
        self.metrics.bucket = bucket;
        self.metrics.by_position.retain(|s| s.position.is_multiple_of(bucket));
        self.metrics_dirty = true;
    }

    fn thin_keyframes(&mut self) {
        let (every, origin) = (self.keyframe_every, self.origin);
        self.keyframes.retain(self.position, |p| p == origin || p.is_multiple_of(every));
        self.snapshots_dirty = true;
    }

    /// Thins the keyframes (taking them half as often) while there are too many or they are
    /// over their budget.
    fn keep_keyframes_bounded(&mut self) {
        while self.keyframes.len() > MAX_KEYFRAMES || self.keyframes.over_budget() {
            let before = self.keyframes.len();
            self.keyframe_every = self.keyframe_every.saturating_mul(2);
            self.thin_keyframes();
            if self.keyframes.len() == before {
                break; // only the continue point is left
            }
        }
    }

    fn arm_breakpoints(&mut self) {
        self.armed.clear();
        let Some(graph) = self.graph.clone() else { return };
        let mut problems = Vec::new();
        for (index, breakpoint) in self.breakpoints.iter().enumerate() {
            let Some(step) = graph.doc.steps.iter().position(|s| s.id == breakpoint.step()) else {
                problems.push(format!(
                    "breakpoint {}: the pipeline has no step `{}`",
                    index + 1,
                    breakpoint.step()
                ));
                continue;
            };
            let armed = match breakpoint {
                Breakpoint::NodeEmits(_) => Armed::NodeEmits,
                Breakpoint::KeyTouched { key, .. } => Armed::KeyTouched(Key::from(key.as_str())),
                Breakpoint::Predicate { script, .. } => match self.host.engine().compile_expression(script) {
                    Ok(ast) => Armed::Predicate(Box::new(ast)),
                    Err(e) => {
                        problems
                            .push(format!("breakpoint {} ({breakpoint}) does not compile: {e}", index + 1));
                        continue;
                    }
                },
            };
            self.armed.push(ArmedBreakpoint { index, step, armed, failed: false });
        }
        for problem in problems {
            self.notice(NoticeLevel::Error, problem);
        }
    }

    // --- moving ---------------------------------------------------------------------------

    fn start(&mut self, goal: Goal) {
        if self.graph.is_none() {
            self.notice(NoticeLevel::Warning, "no pipeline is loaded".into());
            return;
        }
        if self.ended {
            self.notice(NoticeLevel::Info, "the replay has ended: Restart or Seek to go on".into());
            return;
        }
        if self.engine.is_none() && !self.rebuild_at(self.position) {
            return;
        }
        self.breakpoint_hit = None;
        self.anchor = None;
        self.goal = Some(goal);
        self.status = Status::Playing;
        self.metrics.wall_mark = None;
    }

    fn stop(&mut self, status: Status) {
        self.goal = None;
        self.waiting = None;
        self.status = status;
        self.sample_throughput(true);
    }

    fn restart(&mut self) {
        let Some(graph) = self.graph.clone() else { return };
        if self.origin > 0 {
            // The keyframes hold a history continued from an edit: not this graph's own.
            self.keyframes.clear(graph.doc.steps.len());
            self.timer_marks.clear();
            self.origin = 0;
            self.snapshots_dirty = true;
        }
        self.keyframes.at_start();
        self.ledger = StateLedger::empty(graph.doc.steps.len());
        self.goal = None;
        self.truncate_history(0);
        self.position = 0;
        self.ended = false;
        self.error = None;
        self.breakpoint_hit = None;
        self.previews = vec![StepPreview::default(); graph.doc.steps.len()];
        self.previews_dirty = true;
        self.changed_all = true;
        self.table_dirty = true;
        self.status = Status::Paused;
        match self.new_engine(&graph) {
            Ok(engine) => self.engine = Some(engine),
            Err(error) => self.fail(error),
        }
        self.refresh_counts();
    }

    fn seek(&mut self, target: u64) {
        if self.graph.is_none() {
            return;
        }
        let target = target.max(self.origin).min(self.total.unwrap_or(u64::MAX));
        self.breakpoint_hit = None;
        let behind = self.engine.is_none() || self.ended || target < self.position;
        // Forward too: a keyframe past the current position is a shortcut to the target.
        let keyframe_ahead = self.keyframes.nearest(target).is_some_and(|at| at > self.position);
        if (behind || keyframe_ahead) && !self.restore_nearest(target) {
            return;
        }
        self.goal = Some(Goal::Seek(target));
        self.status = Status::Seeking;
    }

    /// Drops what was recorded past `position` (watched key, plots): a replay forward
    /// records it again, the same.
    fn truncate_history(&mut self, position: u64) {
        if let Some(watch) = &mut self.watch {
            watch.points.retain(|p| p.position <= position);
            watch.view = None;
        }
        self.metrics.by_position.retain(|s| s.position <= position);
        self.metrics.state.retain(|&p, _| p <= position);
        self.metrics_dirty = true;
    }

    /// A fresh engine at the nearest keyframe at or before `target` (the start when none).
    fn restore_nearest(&mut self, target: u64) -> bool {
        let Some(graph) = self.graph.clone() else { return false };
        let at = self.keyframes.nearest(target);
        let refresh = self.keys_to_refresh(at.unwrap_or(0));
        let steps = graph.doc.steps.len();
        let composed = at.and_then(|at| Some((at, self.keyframes.compose(at)?)));
        let restored_at = composed.as_ref().map(|(at, _)| *at);
        let (restored, ledger, previews) = match composed {
            Some((_, (keyframe, previews, _))) => {
                let ledger = StateLedger::of_states(&keyframe.states);
                let engine = Engine::from_keyframe((*graph).clone(), keyframe, &self.options).map(|mut e| {
                    e.set_tracing(true);
                    e
                });
                (engine, ledger, previews)
            }
            None if self.origin == 0 => {
                (self.new_engine(&graph), StateLedger::empty(steps), vec![StepPreview::default(); steps])
            }
            None => (
                Err(RunError::Snapshot("no keyframe at the continue point".into())),
                StateLedger::empty(steps),
                Vec::new(),
            ),
        };
        match restored {
            Ok(engine) => {
                self.engine = Some(engine);
                self.ledger = ledger;
                let position = match restored_at {
                    Some(at) => {
                        self.keyframes.passed(at);
                        at
                    }
                    None => {
                        self.keyframes.at_start();
                        0
                    }
                };
                self.position = position;
                self.previews = previews;
                self.previews_dirty = true;
                self.truncate_history(position);
                self.ended = false;
                self.error = None;
                // The table is brought to the new position from the keys that may differ.
                match refresh {
                    Some(keys) => self.changed.extend(keys),
                    None => self.changed_all = true,
                }
                self.table_dirty = true;
                self.status = Status::Paused;
                true
            }
            Err(error) => {
                self.fail(error);
                false
            }
        }
    }

    /// The selected step's keys whose state at the keyframe at `keyframe` (0: the start) may
    /// differ from what its table shows: those changed between the two positions or since,
    /// from the keyframes' deltas. `None` when not known key by key, or when they are so many
    /// that the whole table is cheaper.
    fn keys_to_refresh(&self, keyframe: u64) -> Option<FxHashSet<Key>> {
        let step = self.selected_index()?;
        let table = self.table.as_ref().filter(|t| !self.changed_all && t.step == self.step_id(step))?;
        let (from, to) = (keyframe.min(table.position), keyframe.max(table.position).max(self.position));
        let pending = self.keyframes.changed_since()?.get(step)?;
        let mut keys: FxHashSet<Key> = self.changed.iter().cloned().collect();
        keys.extend(pending.keys().cloned());
        for (_, frame) in self.keyframes.frames().filter(|&(p, _)| from < p && p <= to) {
            if frame.base {
                return None;
            }
            keys.extend(frame.delta.get(step)?.keys().cloned());
            if keys.len() > table.rows.len() / 2 {
                return None;
            }
        }
        (keys.len() <= table.rows.len() / 2).then_some(keys)
    }

    /// A healthy engine at `target` (after an error, or to snapshot after the end).
    fn rebuild_at(&mut self, target: u64) -> bool {
        if !self.restore_nearest(target) {
            return false;
        }
        while self.position < target {
            match self.step_engine(false) {
                Stepped::Event { .. } => {}
                Stepped::Ended | Stepped::Failed => return false,
            }
        }
        true
    }

    /// How long a real-time play must wait before the next event, if at all (the event
    /// time it is still ahead by is kept for the view).
    fn real_time_wait(&mut self) -> Option<Duration> {
        self.waiting = None;
        let Speed::RealTime(multiplier) = self.speed else { return None };
        let engine = self.engine.as_mut()?;
        let next = engine.next_event_time()?;
        let now = Instant::now();
        // Event time runs from the clock where the play began (or the first event's time).
        let (since, at) = *self.anchor.get_or_insert((now, engine.clock().unwrap_or(next).min(next)));
        let target = at as f64 + now.duration_since(since).as_micros() as f64 * multiplier;
        let ahead_micros = next as f64 - target;
        if ahead_micros <= 0.0 {
            return None;
        }
        self.waiting = Some(ahead_micros.ceil() as i64);
        let wait = Duration::from_micros((ahead_micros / multiplier).ceil() as u64);
        Some(wait.min(MAX_WAIT))
    }

    /// One engine step; `live` (not seeking) logs timers and checks breakpoints.
    fn step_engine(&mut self, live: bool) -> Stepped {
        let Some(engine) = self.engine.as_mut() else { return Stepped::Failed };
        let result = engine.step();
        let mut trace = std::mem::take(&mut self.trace_buffer);
        engine.take_trace_into(&mut trace);
        let clock = engine.clock();
        if live && crate::script::has_script_output() {
            self.log_prints(clock);
        } else if crate::script::has_script_output() {
            drop(crate::script::take_script_output());
        }
        match result {
            Ok(StepOutcome::Event { .. }) => {
                let at = self.position + 1;
                let (timer_fired, hit) = self.absorb(trace, at, clock, live);
                self.position = at;
                self.after_event();
                Stepped::Event { timer_fired, hit: hit && live }
            }
            Ok(StepOutcome::Ended | StepOutcome::Finished) => {
                self.absorb(trace, self.position, clock, live);
                self.ended = true;
                self.changed_all = true;
                self.table_dirty = true;
                if let Some(watch) = &mut self.watch {
                    watch.touched = true;
                }
                self.record_watch();
                self.refresh_counts();
                self.stop(Status::Ended);
                Stepped::Ended
            }
            Err(error) => {
                self.absorb(trace, self.position + 1, clock, live);
                self.fail(error);
                Stepped::Failed
            }
        }
    }

    /// Takes in one step's trace: previews, changed keys, the watched key, timers fired and
    /// breakpoints. Returns (a timer fired, a breakpoint hit).
    fn absorb(
        &mut self,
        mut trace: Vec<TraceEvent>,
        at: u64,
        clock: Option<i64>,
        live: bool,
    ) -> (bool, bool) {
        let selected = self.selected_index();
        let mut timer_fired = false;
        let mut hit = None;
        for TraceEvent { step, kind } in trace.drain(..) {
            match kind {
                TraceKind::ItemIn { input, key, value } => {
                    if live && hit.is_none() {
                        hit = self.check_item_in(step, key.as_ref(), &value);
                    }
                    if let Some(preview) = self.previews.get_mut(step) {
                        push_bounded(
                            &mut preview.items_in,
                            RawItem { key, value, port: input, clock, position: at },
                        );
                    }
                }
                TraceKind::ItemOut { port, key, value } => {
                    if live && hit.is_none() {
                        hit = self
                            .armed
                            .iter()
                            .find(|b| b.step == step && matches!(b.armed, Armed::NodeEmits))
                            .map(|b| (b.index, key.as_ref().map(|k| k.to_string())));
                    }
                    if let Some(preview) = self.previews.get_mut(step) {
                        push_bounded(
                            &mut preview.items_out,
                            RawItem { key, value, port, clock, position: at },
                        );
                    }
                }
                TraceKind::TimerFired { key, due } => {
                    timer_fired = true;
                    self.timer_marks.fired(at);
                    if live {
                        let step = self.step_id(step);
                        self.log_entry(
                            at,
                            clock,
                            LogKind::TimerFired { step, key: key.to_string(), due_micros: due },
                        );
                    }
                }
                TraceKind::StateChanged { key } => {
                    if let Some(engine) = &self.engine {
                        self.keyframes.touched(step, &key, engine);
                    }
                    if selected == Some(step) {
                        if self.changed.len() < CHANGED_CAP {
                            self.changed.push(key.clone());
                        } else {
                            self.changed_all = true;
                        }
                        self.table_dirty = true;
                    }
                    if let Some(watch) = &mut self.watch
                        && watch.key == key
                        && self
                            .graph
                            .as_ref()
                            .and_then(|g| g.doc.steps.get(step))
                            .is_some_and(|s| s.id == watch.step)
                    {
                        watch.touched = true;
                    }
                }
                TraceKind::Printed(output) => {
                    if live {
                        let crate::script::ScriptOutput { step, key, event, line, debug, text } = output;
                        self.log_entry(event, clock, LogKind::Print { step, key, line, debug, text });
                    }
                }
                TraceKind::TimerSet { .. } | TraceKind::Error { .. } => {}
            }
        }
        self.previews_dirty = true;
        self.metrics_dirty = true;
        let was_hit = hit.is_some();
        if let Some((index, key)) = hit {
            let breakpoint = self.breakpoints.get(index).cloned();
            if let Some(breakpoint) = breakpoint {
                self.log_entry(
                    at,
                    clock,
                    LogKind::BreakpointHit { index, description: breakpoint.to_string() },
                );
                self.breakpoint_hit = Some(BreakpointHit { index, breakpoint, position: at, key });
            }
        }
        self.trace_buffer = trace;
        (timer_fired, was_hit)
    }

    fn check_item_in(
        &mut self,
        step: usize,
        key: Option<&Key>,
        value: &Dynamic,
    ) -> Option<(usize, Option<String>)> {
        let key_string = || key.map(|k| k.to_string());
        let mut failure = None;
        let mut found = None;
        for armed in self.armed.iter_mut().filter(|b| b.step == step) {
            let hit = match &armed.armed {
                Armed::NodeEmits => false,
                Armed::KeyTouched(wanted) => key == Some(wanted),
                Armed::Predicate(ast) if !armed.failed => {
                    let mut scope = Scope::new();
                    scope.push("item", value.clone());
                    scope.push("key", key.map_or(Dynamic::UNIT, |k| Dynamic::from(k.clone())));
                    match self.host.engine().eval_ast_with_scope::<Dynamic>(&mut scope, ast) {
                        Ok(result) => result.as_bool().unwrap_or(false),
                        Err(e) => {
                            armed.failed = true;
                            failure = Some(format!(
                                "breakpoint {} failed and is off until set again: {e}",
                                armed.index + 1
                            ));
                            false
                        }
                    }
                }
                Armed::Predicate(_) => false,
            };
            if hit {
                found = Some((armed.index, key_string()));
                break;
            }
        }
        if let Some(message) = failure {
            self.notice(NoticeLevel::Error, message);
        }
        found
    }

    /// After an event: keyframe, position sample, the watched key.
    fn after_event(&mut self) {
        let position = self.position;
        if self.keyframes.contains(position) {
            // The ledger stands at the last keyframe: it moves on to this one.
            if let Some(engine) = &self.engine {
                self.ledger.catch_up(engine, self.keyframes.changed_since());
            }
            self.keyframes.passed(position);
        } else if position.is_multiple_of(self.keyframe_every) {
            self.take_keyframe();
        }
        if position.is_multiple_of(self.metrics.bucket.max(1))
            && self.metrics.by_position.last().is_none_or(|s| s.position < position)
            && let Some(engine) = &self.engine
        {
            let items_in = engine.stats().steps.iter().map(|s| s.items_in).collect();
            self.metrics.by_position.push(PositionSample { position, items_in });
        }
        self.record_watch();
    }

    fn take_keyframe(&mut self) {
        let (Some(engine), Some(graph)) = (&self.engine, &self.graph) else { return };
        let id = self.next_id;
        self.next_id += 1;
        let stateful: Vec<bool> = graph.doc.steps.iter().map(|s| s.op.is_stateful()).collect();
        let (position, generation) = (self.position, self.generation);
        let mut sample = None;
        self.keyframes.take(position, engine, &stateful, self.previews.clone(), &mut self.ledger, |ledger| {
            let taken = state_sample(position, engine, graph, ledger, None);
            let info = snapshot_info(id, SnapshotKind::Keyframe, generation, graph, engine.clock(), &taken);
            sample = Some(taken);
            info
        });
        if let Some(sample) = sample {
            self.metrics.state.insert(position, sample);
        }
        self.keep_keyframes_bounded();
        self.snapshots_dirty = true;
    }

    fn fail(&mut self, error: RunError) {
        let (step, function, script_line) = match &error {
            RunError::Step { error, .. } => {
                (Some(error.step.clone()), error.function.clone(), error.position.map(|(line, _)| line))
            }
            _ => (None, None, None),
        };
        let message = error.to_string();
        let clock = self.engine.as_ref().and_then(Engine::clock);
        self.log_entry(self.position, clock, LogKind::Error { step: step.clone(), message: message.clone() });
        self.error = Some(ErrorView {
            step,
            function,
            script_line,
            message,
            position: self.position,
            clock_micros: clock,
        });
        self.refresh_counts();
        self.engine = None;
        self.goal = None;
        self.status = Status::Error;
        self.table_dirty = true;
    }

    // --- watching, snapshots --------------------------------------------------------------

    fn selected_index(&self) -> Option<usize> {
        let selected = self.selected.as_deref()?;
        self.graph.as_ref()?.doc.steps.iter().position(|s| s.id == selected)
    }

    fn step_id(&self, step: usize) -> String {
        self.graph.as_ref().and_then(|g| g.doc.steps.get(step)).map(|s| s.id.clone()).unwrap_or_default()
    }

    fn step_index(&self, id: &str) -> Option<usize> {
        self.graph.as_ref()?.doc.steps.iter().position(|s| s.id == id)
    }

    fn watch_key(&mut self, step: String, key: String) {
        let key = Key::from(key.as_str());
        let mut watch = Watch { step, key, points: Vec::new(), touched: false, view: None };
        if let Some(index) = self.step_index(&watch.step) {
            // The history before now, from the keyframes (each holds the changes since the
            // one before, or all states).
            let mut state = None;
            for (position, frame) in self.keyframes.frames().filter(|(p, _)| *p < self.position) {
                let change = frame.delta.get(index).and_then(|delta| delta.get(&watch.key));
                match change {
                    Some(change) => state = change.stored().and_then(super::packed::Stored::value),
                    None if frame.base => state = None,
                    None => {}
                }
                push_point(&mut watch.points, position, frame.bare.clock, state.as_ref());
            }
        }
        watch.touched = true;
        self.watch = Some(watch);
        self.record_watch();
    }

    fn record_watch(&mut self) {
        let Some(watch) = &mut self.watch else { return };
        if !watch.touched {
            return;
        }
        watch.touched = false;
        let Some(graph) = &self.graph else { return };
        let Some(index) = graph.doc.steps.iter().position(|s| s.id == watch.step) else { return };
        let Some(engine) = &self.engine else { return };
        let state = engine.step_state(index, &watch.key);
        if push_point(&mut watch.points, self.position, engine.clock(), state.as_ref()) {
            watch.view = None;
        }
    }

    fn take_snapshot(&mut self) {
        if self.graph.is_none() {
            return;
        }
        if self.ended {
            self.notice(NoticeLevel::Warning, "no snapshot after end of input: seek back first".into());
            return;
        }
        if self.engine.is_none() && !self.rebuild_at(self.position) {
            return;
        }
        let (Some(engine), Some(graph)) = (self.engine.as_mut(), self.graph.clone()) else { return };
        let keyframe = engine.keyframe();
        let resume = engine.snapshot();
        let clock = engine.clock();
        let id = self.next_id;
        self.next_id += 1;
        let changed = self.keyframes.changed_since();
        let sample = state_sample(self.position, engine, &graph, &self.ledger, changed);
        let info = snapshot_info(id, SnapshotKind::Manual, self.generation, &graph, clock, &sample);
        let resume = match resume {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                self.notice(
                    NoticeLevel::Warning,
                    format!("snapshot {id}: the logics' snapshot() failed ({e}); it restores into this pipeline only"),
                );
                None
            }
        };
        let frame = Frame { info, graph, keyframe, previews: self.previews.clone(), resume };
        self.manual.insert(id, Arc::new(frame));
        self.log_entry(self.position, clock, LogKind::SnapshotTaken { id });
        self.snapshots_dirty = true;
    }

    /// A manual snapshot, or an automatic keyframe composed whole.
    fn frame(&self, id: SnapshotId) -> Option<Arc<Frame>> {
        if let Some(frame) = self.manual.get(&id) {
            return Some(Arc::clone(frame));
        }
        let position = self.keyframes.position_of(id)?;
        let (keyframe, previews, info) = self.keyframes.compose(position)?;
        let graph = Arc::clone(self.graph.as_ref()?);
        Some(Arc::new(Frame { info, graph, keyframe, previews, resume: None }))
    }

    fn frame_or_notice(&mut self, id: SnapshotId) -> Option<Arc<Frame>> {
        let frame = self.frame(id);
        if frame.is_none() {
            self.notice(NoticeLevel::Warning, format!("there is no snapshot {id}"));
        }
        frame
    }

    fn open_snapshot(&mut self, id: SnapshotId) {
        let Some(frame) = self.frame_or_notice(id) else { return };
        let steps = frame_tables(&frame)
            .into_iter()
            .map(|(step, states)| {
                let mut states = states.clone();
                states.sort_unstable_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
                (step, rows_of(&states))
            })
            .collect();
        let timers = frame
            .keyframe
            .timers
            .iter()
            .map(|t| TimerView { step: t.step.clone(), key: t.key.clone(), due_micros: t.due })
            .collect();
        self.events.push(Event::SnapshotOpened(Arc::new(SnapshotContents {
            info: frame.info.clone(),
            steps,
            timers,
        })));
    }

    fn diff_snapshots(&mut self, a: SnapshotId, b: SnapshotId) {
        let (Some(from), Some(to)) = (self.frame_or_notice(a), self.frame_or_notice(b)) else { return };
        let old: BTreeMap<String, &Vec<(Key, Dynamic)>> = frame_tables(&from).into_iter().collect();
        let new: BTreeMap<String, &Vec<(Key, Dynamic)>> = frame_tables(&to).into_iter().collect();
        let mut ids: Vec<&String> = old.keys().chain(new.keys()).collect();
        ids.sort();
        ids.dedup();
        let empty = Vec::new();
        let mut steps = Vec::new();
        for id in ids {
            let diff = diff_states(
                id,
                old.get(id).copied().unwrap_or(&empty),
                new.get(id).copied().unwrap_or(&empty),
            );
            if !(diff.added.is_empty() && diff.removed.is_empty() && diff.changed.is_empty()) {
                steps.push(diff);
            }
        }
        let diff = SnapshotDiff { from: from.info.clone(), to: to.info.clone(), steps };
        self.events.push(Event::SnapshotDiff(Arc::new(diff)));
    }

    fn restore_snapshot(&mut self, id: SnapshotId) {
        let Some(frame) = self.frame_or_notice(id) else { return };
        let Some(graph) = self.graph.clone() else { return };
        if frame.info.generation == self.generation {
            match Engine::from_keyframe((*graph).clone(), frame.keyframe.clone(), &self.options) {
                Ok(mut engine) => {
                    engine.set_tracing(true);
                    self.engine = Some(engine);
                    self.ledger = StateLedger::of_states(&frame.keyframe.states);
                    if self.keyframes.position_of(id) == Some(frame.info.position) {
                        self.keyframes.passed(frame.info.position);
                    } else {
                        self.keyframes.lost_track();
                    }
                    self.goal = None;
                    self.position = frame.info.position;
                    self.previews = frame.previews.clone();
                    self.previews_dirty = true;
                    self.truncate_history(self.position);
                    self.ended = false;
                    self.error = None;
                    self.breakpoint_hit = None;
                    self.changed_all = true;
                    self.table_dirty = true;
                    self.status = Status::Paused;
                    self.refresh_counts();
                }
                Err(error) => self.fail(error),
            }
            return;
        }
        // Taken from another graph: through the logics' snapshot() and builder(resume).
        let restored = match &frame.resume {
            None => Err("it holds no snapshot() values".to_owned()),
            Some(snapshot) => compatible(&frame.graph, &graph).and_then(|()| {
                let mut engine =
                    Engine::restore((*graph).clone(), snapshot, &self.options).map_err(|e| e.to_string())?;
                engine.carry_stats(&frame.keyframe.stats, &frame.graph);
                Ok(engine)
            }),
        };
        match restored {
            Ok(engine) => self.install((*graph).clone(), Some((engine, frame.info.position))),
            Err(why) => self.notice(NoticeLevel::Warning, format!("cannot restore snapshot {id}: {why}")),
        }
    }

    // --- log and notices ------------------------------------------------------------------

    /// What the scripts printed during the last step, into the log at the event they name.
    fn log_prints(&mut self, clock: Option<i64>) {
        for output in crate::script::take_script_output() {
            let crate::script::ScriptOutput { step, key, event, line, debug, text } = output;
            self.log_entry(event, clock, LogKind::Print { step, key, line, debug, text });
        }
    }

    fn log_entry(&mut self, position: u64, clock_micros: Option<i64>, kind: LogKind) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry { position, clock_micros, kind });
        self.log_dirty = true;
    }

    fn notice(&mut self, level: NoticeLevel, message: String) {
        let clock = self.engine.as_ref().and_then(Engine::clock);
        self.log_entry(self.position, clock, LogKind::Notice { level, message: message.clone() });
        self.events.push(Event::Notice(Notice { level, message }));
    }

    // --- views ----------------------------------------------------------------------------

    fn refresh_counts(&mut self) {
        let (Some(engine), Some(graph)) = (&self.engine, &self.graph) else { return };
        let stats = engine.stats();
        let steps = graph
            .doc
            .steps
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let counts = stats.steps.get(i).copied().unwrap_or_default();
                StepCounts {
                    step: spec.id.clone(),
                    items_in: counts.items_in,
                    items_out: counts.items_out,
                    keys: spec.op.is_stateful().then(|| engine.step_key_count(i)),
                }
            })
            .collect();
        let sinks = graph
            .doc
            .sinks
            .iter()
            .enumerate()
            .map(|(i, spec)| SinkCounts {
                sink: spec.id.clone(),
                items: stats.sink_items.get(i).copied().unwrap_or(0),
            })
            .collect();
        self.counts = (Arc::new(steps), Arc::new(sinks));
    }

    fn due(last: Option<Instant>, now: Instant, interval: Duration, fresh: bool) -> bool {
        fresh || last.is_none_or(|at| now.duration_since(at) >= interval)
    }

    fn build_view(&mut self, fresh: bool, now: Instant) -> Arc<RunView> {
        self.refresh_counts();
        // At most a fifth of the time goes to a big table while playing.
        let table_interval = TABLE_INTERVAL.max(self.table_cost * 5);
        if self.table_dirty && Self::due(self.table_at, now, table_interval, fresh) {
            self.rebuild_table();
            self.table_cost = now.elapsed();
            self.table_at = Some(now);
        }
        if self.previews_dirty && Self::due(self.previews_at, now, PREVIEW_INTERVAL, fresh) {
            self.rebuild_previews();
            self.previews_at = Some(now);
        }
        if self.goal.is_some_and(|g| !matches!(g, Goal::Seek(_)))
            && Self::due(self.metrics.state_at, now, STATE_SAMPLE_INTERVAL, false)
        {
            self.sample_state(now);
        }
        if self.metrics_dirty && Self::due(self.metrics_at, now, METRICS_INTERVAL, fresh) {
            self.metrics_view = Arc::new(Metrics {
                bucket_events: self.metrics.bucket,
                by_position: self.metrics.by_position.clone(),
                by_wall: self.metrics.by_wall.clone(),
                state: self.metrics.state.values().cloned().collect(),
            });
            self.metrics_dirty = false;
            self.metrics_at = Some(now);
        }
        if self.log_dirty {
            self.log_view = Arc::new(self.log.iter().cloned().collect());
            self.log_dirty = false;
        }
        if self.snapshots_dirty {
            let mut list: Vec<SnapshotInfo> =
                self.keyframes.infos().cloned().chain(self.manual.values().map(|f| f.info.clone())).collect();
            list.sort_by_key(|s| (s.generation, s.position, s.id));
            self.snapshots_view = Arc::new(list);
            self.snapshots_dirty = false;
        }
        let watch = self.watch.as_mut().map(|watch| {
            let view = watch.view.get_or_insert_with(|| {
                Arc::new(KeySeries {
                    step: watch.step.clone(),
                    key: watch.key.to_string(),
                    points: watch.points.clone(),
                })
            });
            Arc::clone(view)
        });
        let timers = match (&self.engine, &self.graph) {
            (Some(engine), Some(graph)) => TimersView {
                total: engine.pending_timer_count(),
                shown: engine
                    .pending_timers()
                    .take(TIMERS_SHOWN)
                    .map(|t| TimerView {
                        step: graph.doc.steps[engine.step_at_position(t.position)].id.clone(),
                        key: t.key.to_string(),
                        due_micros: t.due,
                    })
                    .collect(),
            },
            _ => TimersView::default(),
        };
        Arc::new(RunView {
            generation: self.generation,
            pipeline: self.info.clone(),
            status: self.status,
            position: self.position,
            total: self.total,
            origin: self.origin,
            clock_micros: self
                .engine
                .as_ref()
                .and_then(Engine::clock)
                .or_else(|| self.error.as_ref().and_then(|e| e.clock_micros)),
            speed: self.speed,
            waiting_micros: if self.goal == Some(Goal::Play) { self.waiting } else { None },
            steps: Arc::clone(&self.counts.0),
            sinks: Arc::clone(&self.counts.1),
            timers: Arc::new(timers),
            log: Arc::clone(&self.log_view),
            snapshots: Arc::clone(&self.snapshots_view),
            selected: self.table.clone(),
            watch,
            previews: Arc::clone(&self.previews_view),
            breakpoint_hit: self.breakpoint_hit.clone(),
            error: self.error.clone(),
            metrics: Arc::clone(&self.metrics_view),
            keyframes: KeyframeUse {
                count: self.keyframes.len(),
                bytes: self.keyframes.bytes(),
                budget: self.keyframes.budget(),
                every: self.keyframe_every,
            },
        })
    }

    fn rebuild_table(&mut self) {
        let Some(step) = self.selected_index() else {
            self.table = None;
            self.table_dirty = false;
            return;
        };
        let Some(engine) = &self.engine else { return };
        let id = self.step_id(step);
        let previous = self.table.as_ref().filter(|t| t.step == id);
        let since = previous.map(|t| t.position);
        // In key order, as the table lists them (sorted on their first bytes, which are read
        // once, and compared whole only when those are equal).
        let mut touched: Vec<(u64, &Key)> =
            self.changed.iter().map(|k| (key_prefix(k.as_bytes()), k)).collect();
        touched.sort_unstable_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| a.as_bytes().cmp(b.as_bytes())));
        touched.dedup_by(|(pa, a), (pb, b)| pa == pb && a.as_bytes() == b.as_bytes());
        let (rows, changed) = match previous {
            // The keys the run touched since the last table, and only them.
            Some(previous) if !self.changed_all => {
                // One merge of the old rows with the touched keys, both in key order: the runs
                // of old rows between two touched keys are found by a galloping search (few
                // rows read when the touched keys are many or few) and copied.
                let mut rows = Vec::with_capacity(previous.rows.len() + touched.len());
                let mut changed = Vec::with_capacity(touched.len());
                let old = &previous.rows;
                let mut next = 0;
                for &(_, key) in &touched {
                    let skip = rows_before(&old[next..], key.as_bytes());
                    rows.extend_from_slice(&old[next..next + skip]);
                    next += skip;
                    // The key's old row, if any, gives way to its state now (none if it went);
                    // a state that came back the same keeps its row and is not reported.
                    let old_row = old.get(next).filter(|r| r.key.as_bytes() == key.as_bytes());
                    next += usize::from(old_row.is_some());
                    let row = engine.with_step_state(step, key, |state| row_of(key, state));
                    match (old_row, row) {
                        (Some(old_row), Some(row)) if old_row.state == row.state => {
                            rows.push(Arc::clone(old_row));
                        }
                        (None, None) => {}
                        (_, row) => {
                            rows.extend(row.map(Arc::new));
                            changed.push(key.to_string());
                        }
                    }
                }
                rows.extend_from_slice(&old[next..]);
                (rows, changed)
            }
            // Changes not known key by key: the whole table, compared with the last one.
            Some(previous) => {
                let rows = rows_of(&engine.step_states(step));
                let changed = changed_rows(&previous.rows, &rows);
                (rows, changed)
            }
            None => {
                let rows = rows_of(&engine.step_states(step));
                let changed = if self.changed_all {
                    rows.iter().map(|r| r.key.clone()).collect()
                } else {
                    touched.iter().map(|(_, k)| k.to_string()).collect()
                };
                (rows, changed)
            }
        };
        self.table = Some(Arc::new(KeyTable {
            step: self.step_id(step),
            position: self.position,
            since,
            rows,
            changed,
        }));
        self.changed.clear();
        self.changed_all = false;
        self.table_dirty = false;
    }

    fn rebuild_previews(&mut self) {
        let Some(graph) = &self.graph else { return };
        let render = |ring: &VecDeque<RawItem>| {
            ring.iter()
                .map(|item| PreviewItem {
                    key: item.key.as_ref().map(|k| k.to_string()),
                    value: to_json(&item.value),
                    port: item.port,
                    clock_micros: item.clock,
                    position: item.position,
                })
                .collect()
        };
        let previews = graph
            .doc
            .steps
            .iter()
            .zip(&self.previews)
            .map(|(spec, p)| NodePreview {
                step: spec.id.clone(),
                items_in: render(&p.items_in),
                items_out: render(&p.items_out),
            })
            .collect();
        self.previews_view = Arc::new(previews);
        self.previews_dirty = false;
    }

    /// Throughput since the last sample (every so often, or at once when `closing`).
    fn sample_throughput(&mut self, closing: bool) {
        let Some(engine) = &self.engine else { return };
        let now = Instant::now();
        let items_in: Vec<u64> = engine.stats().steps.iter().map(|s| s.items_in).collect();
        let Some((since, position, before)) = &self.metrics.wall_mark else {
            self.metrics.wall_mark = Some((now, self.position, items_in));
            return;
        };
        let elapsed = now.duration_since(*since);
        if elapsed < METRICS_INTERVAL && !(closing && elapsed > Duration::from_millis(20)) {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let sample = WallSample {
            secs: now.duration_since(self.loaded_at).as_secs_f64(),
            events_per_sec: self.position.saturating_sub(*position) as f64 / secs,
            items_in_per_sec: items_in
                .iter()
                .zip(before)
                .map(|(a, b)| a.saturating_sub(*b) as f64 / secs)
                .collect(),
        };
        if self.metrics.by_wall.len() == WALL_SAMPLES_CAP {
            self.metrics.by_wall.remove(0);
        }
        self.metrics.by_wall.push(sample);
        self.metrics.wall_mark = if closing { None } else { Some((now, self.position, items_in)) };
        self.metrics_dirty = true;
    }

    fn sample_state(&mut self, now: Instant) {
        self.metrics.state_at = Some(now);
        let (Some(engine), Some(graph)) = (&self.engine, &self.graph) else { return };
        let changed = self.keyframes.changed_since();
        let sample = state_sample(self.position, engine, graph, &self.ledger, changed);
        self.metrics.state.insert(self.position, sample);
        self.metrics_dirty = true;
    }
}

/// What one engine step did.
enum Stepped {
    Event { timer_fired: bool, hit: bool },
    Ended,
    Failed,
}

/// The keyframe budget a pipeline file sets in its `[editor]` table
/// (`keyframe_budget_mib = 512`), in bytes; a value that is not a positive integer is ignored.
fn budget_in(doc: &crate::graph::PipelineDoc) -> Option<u64> {
    let mib = doc.editor.as_ref()?.get("keyframe_budget_mib")?.as_integer()?;
    u64::try_from(mib).ok().filter(|&m| m > 0).map(|m| m.saturating_mul(1024 * 1024))
}

/// Whether a state can move from `old` to `new` (same stateful step ids, same operators).
fn compatible(old: &ValidGraph, new: &ValidGraph) -> Result<(), String> {
    let stateful = |g: &ValidGraph| -> BTreeMap<String, String> {
        g.doc.steps.iter().filter(|s| s.op.is_stateful()).map(|s| (s.id.clone(), s.op.to_string())).collect()
    };
    let (before, after) = (stateful(old), stateful(new));
    if before == after {
        return Ok(());
    }
    let describe = |m: &BTreeMap<String, String>| {
        m.iter().map(|(id, op)| format!("`{id}` ({op})")).collect::<Vec<_>>().join(", ")
    };
    Err(format!(
        "the stateful steps differ (before: {}; now: {})",
        if before.is_empty() { "none".into() } else { describe(&before) },
        if after.is_empty() { "none".into() } else { describe(&after) }
    ))
}

/// Adds a point when the state differs from the last one; true if added.
fn push_point(
    points: &mut Vec<SeriesPoint>,
    position: u64,
    clock: Option<i64>,
    state: Option<&Dynamic>,
) -> bool {
    let json = state.map(to_json);
    if points.last().is_some_and(|p| p.state == json) {
        return false;
    }
    if points.last().is_some_and(|p| p.position == position) {
        points.pop();
    }
    let number = state.and_then(as_number);
    let fields = state
        .and_then(|s| {
            s.read_lock::<rhai::Map>()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.to_string(), as_number(v)?))).collect())
        })
        .unwrap_or_default();
    points.push(SeriesPoint { position, clock_micros: clock, state: json, number, fields });
    true
}

fn as_number(v: &Dynamic) -> Option<f64> {
    v.as_int().map(|i| i as f64).ok().or_else(|| v.as_float().ok())
}

fn snapshot_info(
    id: SnapshotId,
    kind: SnapshotKind,
    generation: u64,
    graph: &ValidGraph,
    clock_micros: Option<i64>,
    sample: &StateSample,
) -> SnapshotInfo {
    let mut keys = Vec::new();
    let mut bytes = 0;
    for (i, spec) in graph.doc.steps.iter().enumerate() {
        if spec.op.is_stateful() {
            keys.push((spec.id.clone(), sample.keys.get(i).copied().unwrap_or(0)));
            bytes += sample.approx_bytes.get(i).copied().unwrap_or(0);
        }
    }
    SnapshotInfo { id, kind, generation, position: sample.position, clock_micros, keys, approx_bytes: bytes }
}

/// Keys and approximate bytes per step now: the ledger's, with the keys `changed` since
/// looked up (see [`StateLedger::totals_now`]).
fn state_sample(
    position: u64,
    engine: &Engine,
    graph: &ValidGraph,
    ledger: &StateLedger,
    changed: Option<&[super::keyframes::Changed]>,
) -> StateSample {
    let totals = ledger.totals_now(engine, changed);
    let stateful = |i: usize| graph.doc.steps.get(i).is_some_and(|s| s.op.is_stateful());
    StateSample {
        position,
        keys: (0..graph.doc.steps.len())
            .map(|i| if stateful(i) { engine.step_key_count(i) } else { 0 })
            .collect(),
        approx_bytes: (0..graph.doc.steps.len())
            .map(|i| if stateful(i) { totals.get(i).copied().unwrap_or(0) } else { 0 })
            .collect(),
    }
}

/// Each stateful step's states in a frame, by step id.
fn frame_tables(frame: &Frame) -> Vec<(String, &Vec<(Key, Dynamic)>)> {
    frame
        .graph
        .doc
        .steps
        .iter()
        .zip(&frame.keyframe.states)
        .filter(|(spec, _)| spec.op.is_stateful())
        .map(|(spec, states)| (spec.id.clone(), states))
        .collect()
}

fn diff_states(step: &str, old: &[(Key, Dynamic)], new: &[(Key, Dynamic)]) -> StepDiff {
    let old: BTreeMap<&[u8], (&Key, &Dynamic)> = old.iter().map(|(k, v)| (k.as_bytes(), (k, v))).collect();
    let new: BTreeMap<&[u8], (&Key, &Dynamic)> = new.iter().map(|(k, v)| (k.as_bytes(), (k, v))).collect();
    let mut diff =
        StepDiff { step: step.to_owned(), added: Vec::new(), removed: Vec::new(), changed: Vec::new() };
    for (bytes, (key, value)) in &new {
        match old.get(bytes) {
            None => diff.added.push((key.to_string(), to_json(value))),
            Some((_, before)) => {
                let (before, after) = (to_json(before), to_json(value));
                if before != after {
                    diff.changed.push(KeyChange { key: key.to_string(), old: before, new: after });
                }
            }
        }
    }
    for (bytes, (key, value)) in &old {
        if !new.contains_key(bytes) {
            diff.removed.push((key.to_string(), to_json(value)));
        }
    }
    diff
}

/// Keys whose row differs between two tables (both in key order).
fn changed_rows(old: &[Arc<KeyRow>], new: &[Arc<KeyRow>]) -> Vec<String> {
    let old: BTreeMap<&[u8], &Value> = old.iter().map(|r| (r.key.as_bytes(), &r.state)).collect();
    let new: BTreeMap<&[u8], &Value> = new.iter().map(|r| (r.key.as_bytes(), &r.state)).collect();
    let mut keys: Vec<&[u8]> = old.keys().chain(new.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(k) != new.get(k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect()
}

/// How many of `rows` (in key order) come before `key`: a galloping search from the start.
fn rows_before(rows: &[Arc<KeyRow>], key: &[u8]) -> usize {
    let before = |i: usize| rows.get(i).is_some_and(|r| r.key.as_bytes() < key);
    let mut end = 1;
    while end <= rows.len() && before(end - 1) {
        end *= 2;
    }
    let start = end / 2;
    let end = end.min(rows.len());
    start + rows[start..end].partition_point(|r| r.key.as_bytes() < key)
}

/// A key's first eight bytes as a number that orders keys as their bytes do (ties: compare
/// the whole keys).
fn key_prefix(bytes: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    let n = bytes.len().min(8);
    first[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(first)
}

fn rows_of(states: &[(Key, Dynamic)]) -> Vec<Arc<KeyRow>> {
    states.iter().map(|(key, state)| Arc::new(row_of(key, state))).collect()
}

fn row_of(key: &Key, state: &Dynamic) -> KeyRow {
    KeyRow { key: key.to_string(), state: to_json(state), preview: crate::value::preview(state) }
}

/// A value as JSON for display: like the sinks write it, but never failing (a non-finite
/// float or a value with no JSON form becomes a string).
pub fn to_json(value: &Dynamic) -> Value {
    if value.is_unit() {
        Value::Null
    } else if let Ok(b) = value.as_bool() {
        Value::Bool(b)
    } else if let Ok(i) = value.as_int() {
        Value::from(i)
    } else if let Ok(f) = value.as_float() {
        serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
    } else if value.is_string() || value.is_char() {
        Value::String(value.to_string())
    } else if let Some(array) = value.read_lock::<rhai::Array>() {
        Value::Array(array.iter().map(to_json).collect())
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        Value::Object(map.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
    } else {
        Value::String(value.to_string())
    }
}

/// Roughly how many bytes a value takes.
pub fn approx_bytes(value: &Dynamic) -> usize {
    const SLOT: usize = 16;
    if let Some(array) = value.read_lock::<rhai::Array>() {
        SLOT + array.iter().map(approx_bytes).sum::<usize>()
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        SLOT + map.iter().map(|(k, v)| SLOT + k.len() + approx_bytes(v)).sum::<usize>()
    } else if value.is_string() {
        SLOT + value.read_lock::<rhai::ImmutableString>().map_or(0, |s| s.len())
    } else {
        SLOT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_for_display_never_fails() {
        let mut map = rhai::Map::new();
        map.insert("n".into(), Dynamic::from_int(3));
        map.insert("x".into(), Dynamic::from_float(f64::NAN));
        let value = Dynamic::from_map(map);
        assert_eq!(to_json(&value), serde_json::json!({"n": 3, "x": "NaN"}));
        assert!(approx_bytes(&value) > 32);
    }

    #[test]
    fn rows_before_a_key_are_counted_as_a_linear_scan_would() {
        let row =
            |key: &str| Arc::new(KeyRow { key: key.into(), state: Value::Null, preview: String::new() });
        for n in 0..40 {
            let mut keys: Vec<String> = (0..n).map(|i| format!("k{:03}", i * 2)).collect();
            keys.sort();
            let rows: Vec<_> = keys.iter().map(|k| row(k)).collect();
            for probe in 0..(2 * n + 2) {
                let key = format!("k{probe:03}");
                let linear = rows.iter().filter(|r| r.key.as_str() < key.as_str()).count();
                assert_eq!(rows_before(&rows, key.as_bytes()), linear, "{n} rows, {key}");
            }
        }
        let mut keys = ["", "a", "a\0", "ab", "abcdefgh", "abcdefghi", "abcdefgi", "b"].map(Key::from);
        keys.reverse();
        keys.sort_by(|a, b| key_prefix(a.as_bytes()).cmp(&key_prefix(b.as_bytes())).then(a.cmp(b)));
        assert!(keys.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()), "{keys:?}");
    }

    #[test]
    fn a_point_is_added_only_when_the_state_changes() {
        let mut points = Vec::new();
        let one = Dynamic::from_int(1);
        assert!(push_point(&mut points, 1, None, Some(&one)));
        assert!(!push_point(&mut points, 2, None, Some(&one)));
        assert!(push_point(&mut points, 3, None, None));
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].number, Some(1.0));
        assert_eq!(points[1].state, None);
    }
}
