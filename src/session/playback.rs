//! The replay state machine over [`Engine`]: play, pause, step, run to the next timer, run to
//! the end, seek (keyframes), speed, breakpoints, snapshots, and the views. Synchronous: the
//! session thread feeds it commands and calls [`Playback::work`] in short slices; tests drive
//! it directly.
//!
//! Its parts, one job each: the [`Timeline`] (position, keyframes, where a seek goes), the
//! [`Views`] (what the UI is shown, each a throttled cache), the [`Snapshots`] and the
//! [`Breakpoints`]. Whenever the run lands somewhere other than by going forward (a load, a
//! restart, a seek, a restored snapshot) it goes through one reset path,
//! [`Playback::reset_to`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::breakpoints::{Breakpoints, Trigger};
use super::command::{Command, GraphSource, ReplaceMode, SnapshotId, Speed};
use super::event::{
    BreakpointHit, ErrorView, Event, KeyframeUse, LogKind, Notice, NoticeLevel, PipelineInfo, PositionSample,
    Problem, RunView, SinkCounts, SnapshotInfo, SnapshotKind, StateSample, Status, StepCounts, StepInfo,
    TIMERS_SHOWN, TimerView, TimersView,
};
use super::fast_play::{self, FastPlay};
use super::keyframes::Composed;
use super::ledger::StateLedger;
use super::snapshots::{self, Frame, Snapshots};
use super::timeline::{Count, Timeline};

/// How often a session waiting only for its event count looks at it again.
const COUNT_POLL: Duration = Duration::from_millis(5);
use super::views::{METRICS_INTERVAL, RawItem, StepPreview, TableReset, Views, Watch, push_point};
use crate::engine::{Engine, EngineOptions, RunError, StepOutcome, TraceEvent, TraceKind};
use crate::graph::ValidGraph;
use crate::ops::Key;
use crate::script::ScriptHost;

pub use super::timeline::MIN_KEYFRAME_EVERY;

/// The selected step's table is rebuilt at most this often while playing.
const TABLE_INTERVAL: Duration = Duration::from_millis(250);
/// Node previews are rebuilt at most this often while playing.
const PREVIEW_INTERVAL: Duration = Duration::from_millis(100);
/// State size is sampled at most this often while playing (besides keyframes).
const STATE_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);
/// Position samples wanted over a whole replay.
const POSITION_SAMPLES_WANTED: u64 = 200;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Play,
    RunToEnd,
    NextTimer,
    Steps(u64),
    Seek(u64),
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
    goal: Option<Goal>,
    speed: Speed,
    /// Real-time play: (wall instant, clock) it is measured from.
    anchor: Option<(Instant, i64)>,
    /// A real-time play waiting for the next event: how far ahead it is, in event time (µs).
    waiting: Option<i64>,
    timeline: Timeline,
    views: Views,
    snapshots: Snapshots,
    breakpoints: Breakpoints,
    error: Option<ErrorView>,
    selected: Option<String>,
    events: Vec<Event>,
    /// The engine's trace of the last step, its allocation kept from step to step.
    trace_buffer: Vec<TraceEvent>,
    /// A fast play's stretches whose items are not traced.
    fast: FastPlay,
    /// The *Dropped* tab's view, rebuilt when the ledger grows.
    dropped: super::dropped::DroppedCache,
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
            .field("position", &self.timeline.position)
            .field("total", &self.timeline.total)
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
                record_drops: Some(super::DROPPED_SHOWN),
                project_untraced: true,
                ..EngineOptions::default()
            },
            generation: 0,
            graph: None,
            info: None,
            engine: None,
            status: Status::Idle,
            goal: None,
            speed: Speed::default(),
            anchor: None,
            waiting: None,
            timeline: Timeline::default(),
            views: Views::default(),
            snapshots: Snapshots::default(),
            breakpoints: Breakpoints::default(),
            error: None,
            selected: None,
            events: Vec::new(),
            trace_buffer: Vec::new(),
            fast: FastPlay::default(),
            dropped: super::dropped::DroppedCache::default(),
        }
    }

    /// The position (source events processed).
    pub fn position(&self) -> u64 {
        self.timeline.position
    }

    /// What the replay is doing.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The source events of the whole replay, once counted.
    pub fn total(&self) -> Option<u64> {
        self.timeline.total
    }

    /// Events between two automatic keyframes.
    pub fn keyframe_every(&self) -> u64 {
        self.timeline.keyframe_every
    }

    /// The keyframes held, their estimated bytes and their budget.
    pub fn keyframe_use(&self) -> (usize, u64, u64) {
        let keyframes = &self.timeline.keyframes;
        (keyframes.len(), keyframes.bytes(), keyframes.budget())
    }

    /// Whether [`Playback::work`] has something to do (counting, playing, seeking).
    pub fn is_busy(&self) -> bool {
        self.goal.is_some() || self.timeline.counter.is_some()
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
                    self.exact_previews();
                }
            }
            Command::Step(n) if n > 0 => self.start(Goal::Steps(n)),
            Command::Step(_) => {}
            Command::RunToNextTimer => self.start(Goal::NextTimer),
            Command::RunToEnd => self.start(Goal::RunToEnd),
            Command::StepBack if self.graph.is_some() => {
                let (position, origin) = (self.timeline.position, self.timeline.origin);
                if position > origin {
                    self.seek(position - 1);
                } else {
                    self.notice(NoticeLevel::Info, format!("already at the first event (event {origin})"));
                }
            }
            Command::PreviousTimer if self.graph.is_some() => {
                let position = self.timeline.position;
                match self.timeline.timer_marks.before(position, self.timeline.origin) {
                    Some(at) => self.seek(at),
                    None => self.notice(NoticeLevel::Info, format!("no timer fired before event {position}")),
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
                self.views.reset_table(TableReset::Drop);
            }
            Command::WatchKey { step, key } => self.watch_key(step, key),
            Command::Unwatch => self.views.watch = None,
            Command::TakeSnapshot => self.take_snapshot(),
            Command::OpenSnapshot(id) => {
                if let Some(frame) = self.frame_or_notice(id) {
                    self.events.push(Event::SnapshotOpened(Arc::new(snapshots::contents(&frame))));
                }
            }
            Command::DiffSnapshots(a, b) => {
                if let (Some(from), Some(to)) = (self.frame_or_notice(a), self.frame_or_notice(b)) {
                    self.events.push(Event::SnapshotDiff(Arc::new(snapshots::diff(&from, &to))));
                }
            }
            Command::RestoreSnapshot(id) => self.restore_snapshot(id),
            Command::SetBreakpoints(breakpoints) => {
                self.breakpoints.set(breakpoints);
                self.arm_breakpoints();
            }
            Command::SetKeyframeBudget(bytes) => {
                self.timeline.keyframes.set_budget(bytes);
                self.keep_keyframes_bounded();
            }
            Command::Shutdown => {}
        }
    }

    /// Does up to `budget` of work: counting events, then the current play, run or seek.
    pub fn work(&mut self, budget: Duration) -> Work {
        let deadline = Instant::now() + budget;
        if let Some(counter) = &self.timeline.counter {
            match counter.poll() {
                Count::Pending => {}
                Count::Done(total) => {
                    self.timeline.counter = None;
                    self.set_total(total);
                }
                Count::Lost => self.timeline.counter = None,
            }
        }
        let Some(_) = self.goal else {
            return if self.timeline.counter.is_some() { Work::Wait(COUNT_POLL) } else { Work::Idle };
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
                Goal::Seek(target) if self.timeline.position >= target => {
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
            if self.timeline.ended {
                self.stop(Status::Ended);
                break Work::Idle;
            }
            let live = !matches!(goal, Goal::Seek(_));
            self.choose_tracing(goal);
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
            self.views.sample_throughput(self.engine.as_ref(), self.timeline.position, false);
        }
        match outcome {
            Work::Idle if self.timeline.counter.is_some() => Work::Wait(COUNT_POLL),
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
        let steps = doc.steps.len();
        self.info = Some(Arc::new(PipelineInfo {
            sources: doc.sources.iter().map(|s| s.id.clone()).collect(),
            steps: doc
                .steps
                .iter()
                .map(|s| StepInfo { id: s.id.clone(), op: s.op.to_string(), stateful: s.op.is_stateful() })
                .collect(),
            sinks: doc.sinks.iter().map(|s| s.id.clone()).collect(),
        }));
        self.timeline.load(&graph);
        self.views.load(steps);
        self.fast.reset();
        self.graph = Some(Arc::clone(&graph));
        match continued {
            Some((mut engine, position)) => {
                engine.set_tracing(true);
                let ledger = StateLedger::of_engine(&engine, steps);
                self.timeline.keyframes.lost_track();
                self.timeline.origin = position;
                self.reset_to(
                    Ok(engine),
                    position,
                    ledger,
                    vec![StepPreview::default(); steps],
                    TableReset::Drop,
                );
                self.take_keyframe();
            }
            None => {
                self.timeline.origin = 0;
                if let Some(watch) = &mut self.views.watch {
                    watch.points.clear();
                }
                self.reset_to_start(&graph);
            }
        }
        self.arm_breakpoints();
    }

    /// `ReplaceGraph` with `Continue`.
    fn continue_with(&mut self, graph: ValidGraph) {
        let Some(old_graph) = self.graph.clone() else {
            self.install(graph, None);
            return;
        };
        let position = self.timeline.position;
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
        if self.engine.is_none() || self.timeline.ended {
            self.rebuild_at(position);
        }
        let Some(engine) = self.engine.as_mut() else {
            return Err("the current state could not be rebuilt".into());
        };
        if self.timeline.position != position {
            return Err("the current state could not be rebuilt".into());
        }
        let snapshot = engine.snapshot().map_err(|e| e.to_string())?;
        let stats = engine.stats().clone();
        let drops = engine.drops().clone();
        let mut engine =
            Engine::restore(graph.clone(), &snapshot, &self.options).map_err(|e| e.to_string())?;
        engine.carry_stats(&stats, old);
        engine.carry_drops(&drops, old);
        Ok(engine)
    }

    fn set_total(&mut self, total: u64) {
        self.timeline.set_total(total);
        self.views.snapshots.mark_dirty();
        let bucket = total.div_ceil(POSITION_SAMPLES_WANTED).max(1);
        let metrics = &mut self.views.metrics;
        metrics.bucket = bucket;
        metrics.by_position.retain(|s| s.position.is_multiple_of(bucket));
        self.views.metrics_view.mark_dirty();
    }

    fn keep_keyframes_bounded(&mut self) {
        self.timeline.keep_keyframes_bounded();
        self.views.snapshots.mark_dirty();
    }

    fn arm_breakpoints(&mut self) {
        let problems = self.breakpoints.arm(self.graph.as_deref(), &self.host);
        for problem in problems {
            self.notice(NoticeLevel::Error, problem);
        }
    }

    // --- moving ---------------------------------------------------------------------------

    /// Whether the replay can go on from where it stands: a pipeline loaded (else
    /// `no_pipeline` is said, if given), not at its end (else `at_end` is said), and an engine
    /// there (rebuilt if it was dropped).
    fn can_go_on(&mut self, no_pipeline: Option<&str>, at_end: (NoticeLevel, &str)) -> bool {
        if self.graph.is_none() {
            if let Some(message) = no_pipeline {
                self.notice(NoticeLevel::Warning, message.into());
            }
            return false;
        }
        if self.timeline.ended {
            self.notice(at_end.0, at_end.1.into());
            return false;
        }
        self.engine.is_some() || self.rebuild_at(self.timeline.position)
    }

    fn start(&mut self, goal: Goal) {
        let at_end = (NoticeLevel::Info, "the replay has ended: Restart or Seek to go on");
        if !self.can_go_on(Some("no pipeline is loaded"), at_end) {
            return;
        }
        self.breakpoints.hit = None;
        self.anchor = None;
        self.goal = Some(goal);
        self.status = Status::Playing;
        self.views.metrics.wall_mark = None;
    }

    fn stop(&mut self, status: Status) {
        self.goal = None;
        if !self.timeline.ended {
            self.exact_previews();
        }
        self.waiting = None;
        self.status = status;
        self.views.sample_throughput(self.engine.as_ref(), self.timeline.position, true);
    }

    /// The one way the run lands somewhere other than by going forward (a load, a restart,
    /// a seek's keyframe, a restored snapshot): `engine` at `position` with these states'
    /// `ledger` and `previews`, paused, no error, no breakpoint hit, what was recorded past
    /// `position` dropped, the table going on as `table` says. An engine that could not be
    /// made is the replay's error. The keyframes are told where they stand by the caller.
    fn reset_to(
        &mut self,
        engine: Result<Engine, RunError>,
        position: u64,
        ledger: StateLedger,
        previews: Vec<StepPreview>,
        table: TableReset,
    ) {
        self.goal = None;
        self.waiting = None;
        self.anchor = None;
        self.fast.forget();
        self.timeline.position = position;
        self.timeline.ended = false;
        self.timeline.ledger = ledger;
        self.error = None;
        self.breakpoints.hit = None;
        self.views.moved(position, previews, table);
        self.status = Status::Paused;
        match engine {
            Ok(engine) => {
                self.engine = Some(engine);
                self.refresh_counts();
            }
            Err(error) => {
                self.engine = None;
                self.fail(error);
            }
        }
    }

    fn restart(&mut self) {
        let Some(graph) = self.graph.clone() else { return };
        let steps = graph.doc.steps.len();
        if self.timeline.origin > 0 {
            // The keyframes hold a history continued from an edit: not this graph's own.
            self.timeline.keyframes.clear(steps);
            self.timeline.timer_marks.clear();
            self.timeline.origin = 0;
            self.views.snapshots.mark_dirty();
        }
        self.timeline.keyframes.at_start();
        self.reset_to_start(&graph);
    }

    /// A fresh engine of `graph` before its first event: no state, no previews, no table.
    fn reset_to_start(&mut self, graph: &ValidGraph) {
        let steps = graph.doc.steps.len();
        let engine = self.new_engine(graph);
        self.reset_to(
            engine,
            0,
            StateLedger::empty(steps),
            vec![StepPreview::default(); steps],
            TableReset::Drop,
        );
    }

    fn seek(&mut self, target: u64) {
        if self.graph.is_none() {
            return;
        }
        let target = self.timeline.clamp(target);
        self.breakpoints.hit = None;
        // Forward too: a keyframe past the current position is a shortcut to the target.
        if self.timeline.seek_restores(target, self.engine.is_none()) && !self.restore_nearest(target) {
            return;
        }
        self.goal = Some(Goal::Seek(target));
        self.status = Status::Seeking;
    }

    /// A fresh engine at the nearest keyframe at or before `target` (the start when none).
    fn restore_nearest(&mut self, target: u64) -> bool {
        let Some(graph) = self.graph.clone() else { return false };
        let at = self.timeline.keyframes.nearest(target);
        let table = match self.keys_to_refresh(at.unwrap_or(0)) {
            Some(keys) => TableReset::Keys(keys),
            None => TableReset::Compare,
        };
        let steps = graph.doc.steps.len();
        let composed = at.and_then(|at| Some((at, self.timeline.keyframes.compose(at)?)));
        let restored = match composed {
            Some((at, Composed { keyframe, previews, ledger, .. })) => {
                Engine::from_keyframe((*graph).clone(), keyframe, &self.options).map(|mut engine| {
                    engine.set_tracing(true);
                    (engine, Some(at), ledger, previews)
                })
            }
            None if self.timeline.origin == 0 => self
                .new_engine(&graph)
                .map(|engine| (engine, None, StateLedger::empty(steps), vec![StepPreview::default(); steps])),
            None => Err(RunError::Snapshot("no keyframe at the continue point".into())),
        };
        match restored {
            Ok((engine, at, ledger, previews)) => {
                match at {
                    Some(at) => self.timeline.keyframes.passed(at),
                    None => self.timeline.keyframes.at_start(),
                }
                self.reset_to(Ok(engine), at.unwrap_or(0), ledger, previews, table);
                true
            }
            Err(error) => {
                self.fail(error);
                false
            }
        }
    }

    /// The selected step's keys whose state at the keyframe at `keyframe` may differ from
    /// what its table shows (see [`Timeline::keys_to_refresh`]).
    fn keys_to_refresh(&self, keyframe: u64) -> Option<rustc_hash::FxHashSet<Key>> {
        let step = self.selected_index()?;
        let step_id = self.step_id(step);
        let table =
            self.views.table.view().as_ref().filter(|t| !self.views.changed_all && t.step == step_id)?;
        self.timeline.keys_to_refresh(step, table, &self.views.changed, keyframe)
    }

    /// A healthy engine at `target` (after an error, or to snapshot after the end).
    fn rebuild_at(&mut self, target: u64) -> bool {
        if !self.restore_nearest(target) {
            return false;
        }
        while self.timeline.position < target {
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
        let untraced = self.fast.is_untraced();
        let result = engine.step();
        let mut trace = std::mem::take(&mut self.trace_buffer);
        engine.take_trace_into(&mut trace);
        let clock = engine.clock();
        if live && crate::script::has_script_output() {
            self.log_prints(clock);
        } else if crate::script::has_script_output() {
            drop(crate::script::take_script_output());
        }
        let position = self.timeline.position;
        // The end or an error in an untraced stretch: its previews are made exact by doing
        // that last step again, traced (docs/architecture.md, "Previews of a fast play").
        if untraced && !matches!(result, Ok(StepOutcome::Event { .. })) && self.stretch_left_gaps() {
            let failed = result.is_err();
            self.absorb(trace, position + u64::from(failed), clock, live);
            return self.redo_traced(position, result.err());
        }
        match result {
            Ok(StepOutcome::Event { .. }) => {
                let at = position + 1;
                let (timer_fired, hit) = self.absorb(trace, at, clock, live);
                self.timeline.position = at;
                self.after_event();
                Stepped::Event { timer_fired, hit: hit && live }
            }
            Ok(StepOutcome::Ended | StepOutcome::Finished) => {
                self.absorb(trace, position, clock, live);
                self.timeline.ended = true;
                self.views.reset_table(TableReset::Compare);
                if let Some(watch) = &mut self.views.watch {
                    watch.touched = true;
                }
                self.record_watch();
                self.refresh_counts();
                self.stop(Status::Ended);
                Stepped::Ended
            }
            Err(error) => {
                self.absorb(trace, position + 1, clock, live);
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
        let mut hit: Option<Trigger> = None;
        for TraceEvent { step, kind } in trace.drain(..) {
            match kind {
                TraceKind::ItemIn { input, key, value } => {
                    if live && hit.is_none() {
                        let (found, failure) =
                            self.breakpoints.check_item_in(step, key.as_ref(), &value, &self.host);
                        hit = found;
                        if let Some(message) = failure {
                            self.notice(NoticeLevel::Error, message);
                        }
                    }
                    if let Some(preview) = self.views.previews.get_mut(step) {
                        preview.push_in(RawItem { key, value, port: input, clock, position: at });
                    }
                }
                TraceKind::ItemOut { port, key, value } => {
                    if live && hit.is_none() {
                        hit = self.breakpoints.check_item_out(step, key.as_ref());
                    }
                    if let Some(preview) = self.views.previews.get_mut(step) {
                        preview.push_out(RawItem { key, value, port, clock, position: at });
                    }
                }
                TraceKind::TimerFired { key, due } => {
                    timer_fired = true;
                    self.timeline.timer_marks.fired(at);
                    if live {
                        let step = self.step_id(step);
                        self.views.log_entry(
                            at,
                            clock,
                            LogKind::TimerFired { step, key: key.to_string(), due_micros: due },
                        );
                    }
                }
                TraceKind::StateChanged { key } => {
                    if let Some(engine) = &self.engine {
                        self.timeline.keyframes.touched(step, &key, engine);
                    }
                    if selected == Some(step) {
                        self.views.touched(&key);
                    }
                    if let Some(watch) = &mut self.views.watch
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
                        self.views.log_entry(event, clock, LogKind::Print { step, key, line, debug, text });
                    }
                }
                TraceKind::TimerSet { .. } | TraceKind::Error { .. } => {}
            }
        }
        self.views.previews_view.mark_dirty();
        self.views.metrics_view.mark_dirty();
        let was_hit = hit.is_some();
        if let Some((index, key)) = hit
            && let Some(breakpoint) = self.breakpoints.get(index).cloned()
        {
            self.views.log_entry(
                at,
                clock,
                LogKind::BreakpointHit { index, description: breakpoint.to_string() },
            );
            self.breakpoints.hit = Some(BreakpointHit { index, breakpoint, position: at, key });
        }
        self.trace_buffer = trace;
        (timer_fired, was_hit)
    }

    /// After an event: keyframe, position sample, the watched key.
    fn after_event(&mut self) {
        let position = self.timeline.position;
        if self.timeline.keyframes.contains(position) {
            // The ledger stands at the last keyframe: it moves on to this one.
            if let Some(engine) = &self.engine {
                let timeline = &mut self.timeline;
                timeline.ledger.catch_up(engine, timeline.keyframes.changed_since());
            }
            self.timeline.keyframes.passed(position);
        } else if position.is_multiple_of(self.timeline.keyframe_every) {
            if self.stretch_left_gaps() {
                // The traced tail was too short for some step: a keyframe holds exact
                // previews, so they are rebuilt (that replay takes the keyframe).
                self.fast.lengthen();
                self.rebuild_keeping_goal();
                return;
            }
            self.take_keyframe();
        }
        let metrics = &mut self.views.metrics;
        if position.is_multiple_of(metrics.bucket.max(1))
            && metrics.by_position.last().is_none_or(|s| s.position < position)
            && let Some(engine) = &self.engine
        {
            let items_in = engine.stats().steps.iter().map(|s| s.items_in).collect();
            metrics.by_position.push(PositionSample { position, items_in });
        }
        self.record_watch();
    }

    /// Whether the next step traces items: not in a fast play's stretch that no preview will
    /// show (see [`FastPlay`]).
    fn choose_tracing(&mut self, goal: Goal) {
        let Some(engine) = self.engine.as_mut() else { return };
        let position = self.timeline.position;
        let fast = match goal {
            Goal::Play => matches!(self.speed, Speed::AsFastAsPossible),
            Goal::RunToEnd | Goal::NextTimer | Goal::Steps(_) | Goal::Seek(_) => true,
        };
        let traced = !fast || self.breakpoints.any_armed() || {
            let mut boundary = FastPlay::next_boundary(position, self.timeline.keyframe_every);
            match goal {
                Goal::Seek(target) => boundary = boundary.min(target),
                Goal::Steps(n) => boundary = boundary.min(position.saturating_add(n)),
                _ => {}
            }
            if let Some(total) = self.timeline.total {
                boundary = boundary.min(total);
            }
            self.fast.traces(position, boundary)
        };
        self.fast.set(traced, engine, &mut self.views.previews);
    }

    /// Makes the previews exact where the run stands, after a fast play left items out of
    /// the trace: rebuilt from the last keyframe when a ring is gapped.
    fn exact_previews(&mut self) {
        if self.stretch_left_gaps() {
            self.rebuild_keeping_goal();
        }
    }

    /// Ends an untraced stretch, if the run is in one, and says whether a preview ring is
    /// left gapped by it (or by an earlier one).
    fn stretch_left_gaps(&mut self) -> bool {
        if let Some(engine) = &mut self.engine {
            self.fast.end(engine, &mut self.views.previews);
        }
        fast_play::any_gapped(&self.views.previews)
    }

    /// Rebuilds the run where it stands from the last keyframe, every item traced, and goes
    /// on with what it was doing.
    fn rebuild_keeping_goal(&mut self) {
        let (goal, status, anchor) = (self.goal, self.status, self.anchor);
        if self.rebuild_at(self.timeline.position) {
            (self.goal, self.status, self.anchor) = (goal, status, anchor);
        }
    }

    /// Does again, traced, the last step of an untraced stretch that ended the input or
    /// failed (`error`): from the last keyframe to `position`, then that step.
    fn redo_traced(&mut self, position: u64, error: Option<RunError>) -> Stepped {
        if !self.rebuild_at(position) {
            return Stepped::Failed;
        }
        match (self.step_engine(false), error) {
            // Not failing the second time (a timeout is the only way): the run's error stands.
            (Stepped::Event { .. }, Some(error)) => {
                self.fail(error);
                Stepped::Failed
            }
            (stepped, _) => stepped,
        }
    }

    fn take_keyframe(&mut self) {
        let (Some(engine), Some(graph)) = (&self.engine, &self.graph) else { return };
        let id = self.snapshots.next_id();
        let stateful: Vec<bool> = graph.doc.steps.iter().map(|s| s.op.is_stateful()).collect();
        let (position, generation) = (self.timeline.position, self.generation);
        let mut sample = None;
        let timeline = &mut self.timeline;
        timeline.keyframes.take(
            position,
            engine,
            &stateful,
            self.views.previews.clone(),
            &mut timeline.ledger,
            |ledger| {
                let taken = state_sample(position, engine, graph, ledger, None);
                let info =
                    snapshot_info(id, SnapshotKind::Keyframe, generation, graph, engine.clock(), &taken);
                sample = Some(taken);
                info
            },
        );
        if let Some(sample) = sample {
            self.views.metrics.state.insert(position, sample);
        }
        self.keep_keyframes_bounded();
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
        let position = self.timeline.position;
        self.views.log_entry(
            position,
            clock,
            LogKind::Error { step: step.clone(), message: message.clone() },
        );
        self.error = Some(ErrorView { step, function, script_line, message, position, clock_micros: clock });
        self.refresh_counts();
        self.engine = None;
        self.goal = None;
        self.status = Status::Error;
        self.views.table.mark_dirty();
    }

    // --- watching, snapshots --------------------------------------------------------------

    fn selected_index(&self) -> Option<usize> {
        let selected = self.selected.as_deref()?;
        self.step_index(selected)
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
            let position = self.timeline.position;
            for (at, frame) in self.timeline.keyframes.frames().filter(|(p, _)| *p < position) {
                let change = frame.delta.get(index).and_then(|delta| delta.find(&watch.key));
                match change {
                    Some(entry) => state = entry.value(),
                    None if frame.base => state = None,
                    None => {}
                }
                push_point(&mut watch.points, at, frame.bare.clock, state.as_ref());
            }
        }
        watch.touched = true;
        self.views.watch = Some(watch);
        self.record_watch();
    }

    fn record_watch(&mut self) {
        self.views.record_watch(self.graph.as_deref(), self.engine.as_ref(), self.timeline.position);
    }

    fn take_snapshot(&mut self) {
        if !self.can_go_on(None, (NoticeLevel::Warning, "no snapshot after end of input: seek back first")) {
            return;
        }
        // A snapshot taken while playing fast keeps exact previews too.
        self.exact_previews();
        let (Some(engine), Some(graph)) = (self.engine.as_mut(), self.graph.clone()) else { return };
        let keyframe = engine.keyframe();
        let resume = engine.snapshot();
        let clock = engine.clock();
        let id = self.snapshots.next_id();
        let position = self.timeline.position;
        let changed = self.timeline.keyframes.changed_since();
        let sample = state_sample(position, engine, &graph, &self.timeline.ledger, changed);
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
        self.snapshots.insert(Frame { info, graph, keyframe, previews: self.views.previews.clone(), resume });
        self.views.log_entry(position, clock, LogKind::SnapshotTaken { id });
        self.views.snapshots.mark_dirty();
    }

    /// A manual snapshot, or an automatic keyframe composed whole.
    fn frame(&self, id: SnapshotId) -> Option<Arc<Frame>> {
        if let Some(frame) = self.snapshots.get(id) {
            return Some(frame);
        }
        let position = self.timeline.keyframes.position_of(id)?;
        let Composed { keyframe, previews, info, .. } = self.timeline.keyframes.compose(position)?;
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

    fn restore_snapshot(&mut self, id: SnapshotId) {
        let Some(frame) = self.frame_or_notice(id) else { return };
        let Some(graph) = self.graph.clone() else { return };
        if frame.info.generation == self.generation {
            match Engine::from_keyframe((*graph).clone(), frame.keyframe.clone(), &self.options) {
                Ok(mut engine) => {
                    engine.set_tracing(true);
                    let position = frame.info.position;
                    if self.timeline.keyframes.position_of(id) == Some(position) {
                        self.timeline.keyframes.passed(position);
                    } else {
                        self.timeline.keyframes.lost_track();
                    }
                    let ledger = StateLedger::of_states(&frame.keyframe.states);
                    self.reset_to(Ok(engine), position, ledger, frame.previews.clone(), TableReset::Compare);
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
                engine.carry_drops(&frame.keyframe.drops, &frame.graph);
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
            self.views.log_entry(event, clock, LogKind::Print { step, key, line, debug, text });
        }
    }

    fn notice(&mut self, level: NoticeLevel, message: String) {
        let clock = self.engine.as_ref().and_then(Engine::clock);
        self.views.log_entry(
            self.timeline.position,
            clock,
            LogKind::Notice { level, message: message.clone() },
        );
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
                    dropped: engine.drops().step_total(i),
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
        self.views.counts = (Arc::new(steps), Arc::new(sinks));
    }

    fn build_view(&mut self, fresh: bool, now: Instant) -> Arc<RunView> {
        self.refresh_counts();
        // At most a fifth of the time goes to a big table while playing.
        let table_interval = TABLE_INTERVAL.max(self.views.table_cost * 5);
        if self.views.table.due(now, table_interval, fresh) {
            let selected = self.selected_index().map(|i| (i, self.step_id(i)));
            self.views.rebuild_table(selected, self.engine.as_ref(), self.timeline.position);
            self.views.table_cost = now.elapsed();
            self.views.table.stamp(now);
        }
        if self.views.previews_view.due(now, PREVIEW_INTERVAL, fresh)
            && let Some(graph) = &self.graph
        {
            let previews = self.views.render_previews(graph);
            self.views.previews_view.replace(previews);
            self.views.previews_view.stamp(now);
        }
        if self.goal.is_some_and(|g| !matches!(g, Goal::Seek(_)))
            && self.views.metrics.state_at.is_none_or(|at| now.duration_since(at) >= STATE_SAMPLE_INTERVAL)
        {
            self.sample_state(now);
        }
        if self.views.metrics_view.due(now, METRICS_INTERVAL, fresh) {
            let metrics = self.views.render_metrics();
            self.views.metrics_view.replace(metrics);
            self.views.metrics_view.stamp(now);
        }
        let log = &self.views.log;
        self.views.log_view.refresh(now, Duration::ZERO, true, || Arc::new(log.iter().cloned().collect()));
        let (keyframes, manual) = (&self.timeline.keyframes, &self.snapshots);
        self.views.snapshots.refresh(now, Duration::ZERO, true, || {
            let mut list: Vec<SnapshotInfo> = keyframes.infos().chain(manual.infos()).cloned().collect();
            list.sort_by_key(|s| (s.generation, s.position, s.id));
            Arc::new(list)
        });
        let watch = self.views.watch_view();
        let timers = match (&self.engine, &self.graph) {
            (Some(engine), Some(graph)) => TimersView {
                total: engine.pending_timer_count(),
                shown: engine
                    .first_pending_timers(TIMERS_SHOWN)
                    .into_iter()
                    .map(|t| TimerView {
                        step: graph.doc.steps[engine.step_at_position(t.position)].id.clone(),
                        key: t.key.to_string(),
                        due_micros: t.due,
                    })
                    .collect(),
            },
            _ => TimersView::default(),
        };
        let timeline = &self.timeline;
        let views = &self.views;
        Arc::new(RunView {
            generation: self.generation,
            pipeline: self.info.clone(),
            status: self.status,
            position: timeline.position,
            total: timeline.total,
            origin: timeline.origin,
            clock_micros: self
                .engine
                .as_ref()
                .and_then(Engine::clock)
                .or_else(|| self.error.as_ref().and_then(|e| e.clock_micros)),
            speed: self.speed,
            waiting_micros: if self.goal == Some(Goal::Play) { self.waiting } else { None },
            steps: Arc::clone(&views.counts.0),
            sinks: Arc::clone(&views.counts.1),
            timers: Arc::new(timers),
            log: Arc::clone(views.log_view.view()),
            snapshots: Arc::clone(views.snapshots.view()),
            selected: views.table.view().clone(),
            watch,
            previews: Arc::clone(views.previews_view.view()),
            dropped: self.dropped.view(self.generation, self.engine.as_ref()),
            breakpoint_hit: self.breakpoints.hit.clone(),
            error: self.error.clone(),
            metrics: Arc::clone(views.metrics_view.view()),
            keyframes: KeyframeUse {
                count: timeline.keyframes.len(),
                bytes: timeline.keyframes.bytes(),
                budget: timeline.keyframes.budget(),
                every: timeline.keyframe_every,
            },
        })
    }

    fn sample_state(&mut self, now: Instant) {
        self.views.metrics.state_at = Some(now);
        let (Some(engine), Some(graph)) = (&self.engine, &self.graph) else { return };
        let changed = self.timeline.keyframes.changed_since();
        let position = self.timeline.position;
        let sample = state_sample(position, engine, graph, &self.timeline.ledger, changed);
        self.views.metrics.state.insert(position, sample);
        self.views.metrics_view.mark_dirty();
    }
}

/// What one engine step did.
enum Stepped {
    Event { timer_fired: bool, hit: bool },
    Ended,
    Failed,
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
