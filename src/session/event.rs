//! What the session thread sends back: [`Event`]s, chiefly [`RunView`]s. Every type here is
//! plain data (strings, numbers, `serde_json::Value`), shared behind `Arc` where it is large,
//! so the UI can keep the last view and draw it every frame without copying.

use std::sync::Arc;

use serde_json::Value;

use super::command::{Breakpoint, SnapshotId, Speed};

/// A message from the session thread.
#[derive(Debug, Clone)]
pub enum Event {
    /// The replay as it stands now (after every command, and while playing at most about 60
    /// times a second).
    View(Arc<RunView>),
    /// A pipeline could not be loaded: every problem validation found.
    Invalid(Arc<Vec<Problem>>),
    /// Something the user should read (a breakpoint that does not compile, a continue that
    /// had to restart, a command that cannot apply now).
    Notice(Notice),
    /// Answer to `OpenSnapshot`.
    SnapshotOpened(Arc<SnapshotContents>),
    /// Answer to `DiffSnapshots`.
    SnapshotDiff(Arc<SnapshotDiff>),
    /// The session thread has ended; nothing more will come.
    Closed,
}

/// One problem of a pipeline that did not validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The step it is about, if any.
    pub step: Option<String>,
    /// The whole message, naming where.
    pub message: String,
}

/// How much a notice matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    /// For information.
    Info,
    /// Something did not go as asked, and the session did something else (says what).
    Warning,
    /// Something failed.
    Error,
}

/// A message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// How much it matters.
    pub level: NoticeLevel,
    /// The text.
    pub message: String,
}

/// What the replay is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No pipeline is loaded.
    Idle,
    /// Playing or running forward.
    Playing,
    /// Going to a position (`Seek`).
    Seeking,
    /// Loaded and stopped.
    Paused,
    /// End of input has been processed.
    Ended,
    /// An error stopped the replay (see [`RunView::error`]).
    Error,
}

/// The replay as it stands: everything the workbench draws.
#[derive(Debug, Clone)]
pub struct RunView {
    /// Counts the pipelines loaded or replaced in this session: views of one graph share it.
    pub generation: u64,
    /// The loaded pipeline's steps, sources and sinks (`None` when nothing is loaded).
    pub pipeline: Option<Arc<PipelineInfo>>,
    /// What the replay is doing.
    pub status: Status,
    /// Source events processed (0..=total).
    pub position: u64,
    /// Source events in the whole replay; `None` while they are being counted.
    pub total: Option<u64>,
    /// The first position this graph can show (0, or where a `Continue` restored a state).
    pub origin: u64,
    /// The run's clock, microseconds since the epoch (`None` before the first timed event).
    pub clock_micros: Option<i64>,
    /// The speed of `Play`.
    pub speed: Speed,
    /// Counters per step, in the document's order.
    pub steps: Arc<Vec<StepCounts>>,
    /// Items written per sink, in the document's order.
    pub sinks: Arc<Vec<SinkCounts>>,
    /// Pending timers, in firing order.
    pub timers: Arc<TimersView>,
    /// The session's log, oldest first (the last [`LOG_CAPACITY`] entries).
    pub log: Arc<Vec<LogEntry>>,
    /// Snapshots: automatic keyframes of this graph and manual snapshots, by position.
    pub snapshots: Arc<Vec<SnapshotInfo>>,
    /// The selected step's per-key state (sent when it changed, at most a few times a second
    /// while playing; between two, the same `Arc`).
    pub selected: Option<Arc<KeyTable>>,
    /// The watched key's history.
    pub watch: Option<Arc<KeySeries>>,
    /// The last items into and out of each step, in the document's order.
    pub previews: Arc<Vec<NodePreview>>,
    /// The dropped-items ledger (its counts, and the latest items).
    pub dropped: Arc<DroppedView>,
    /// The breakpoint that paused the replay, until the next command moves it.
    pub breakpoint_hit: Option<BreakpointHit>,
    /// The error that stopped the replay.
    pub error: Option<ErrorView>,
    /// Series for plots.
    pub metrics: Arc<Metrics>,
    /// The automatic keyframes' use of their memory budget.
    pub keyframes: KeyframeUse,
    /// While a real-time play waits for its next event: how far ahead that event is, in
    /// microseconds of event time (so that a replay whose events are minutes apart shows it
    /// is waiting, not frozen).
    pub waiting_micros: Option<i64>,
}

impl RunView {
    /// "next event in 7 min of event time" while a real-time play waits for it.
    pub fn waiting_text(&self) -> Option<String> {
        self.waiting_micros.map(|micros| format!("next event in {} of event time", span_text(micros)))
    }
}

/// A span of event time for people, in its two largest units: "450 ms", "12 s", "7 min",
/// "1 h 8 min", "3 d 2 h".
fn span_text(micros: i64) -> String {
    let micros = micros.max(0).unsigned_abs();
    if micros < 1_000_000 {
        return format!("{} ms", micros.div_ceil(1000));
    }
    let seconds = micros.div_ceil(1_000_000);
    let (days, hours, minutes, secs) =
        (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) if secs == 0 => format!("{m} min"),
        (0, 0, m) => format!("{m} min {secs} s"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// How much memory the automatic keyframes hold, against their budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyframeUse {
    /// Keyframes held.
    pub count: usize,
    /// Their estimated bytes (the states that changed since the keyframe before, timers,
    /// counters, previews).
    pub bytes: u64,
    /// The budget, in bytes.
    pub budget: u64,
    /// Events between two keyframes now (doubled each time they are thinned).
    pub every: u64,
}

/// Log entries kept by a session.
pub const LOG_CAPACITY: usize = 1000;
/// Pending timers listed in a view (the count is always whole).
pub const TIMERS_SHOWN: usize = 1000;
/// Items kept per step and direction for [`NodePreview`].
pub const PREVIEW_ITEMS: usize = 50;

/// A loaded pipeline's outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineInfo {
    /// The source ids.
    pub sources: Vec<String>,
    /// The steps, in the document's order.
    pub steps: Vec<StepInfo>,
    /// The sink ids.
    pub sinks: Vec<String>,
}

/// One step of the outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// The step id.
    pub id: String,
    /// The operator (`stateful_map`).
    pub op: String,
    /// Whether it holds per-key state.
    pub stateful: bool,
}

/// One step's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCounts {
    /// The step id.
    pub step: String,
    /// Items received.
    pub items_in: u64,
    /// Items emitted.
    pub items_out: u64,
    /// Live keys (stateful steps only).
    pub keys: Option<usize>,
    /// Items it dropped so far, every reason (docs/ledger.md).
    pub dropped: u64,
}

/// Dropped items listed in a view, the newest (the count is always whole).
pub const DROPPED_SHOWN: usize = PREVIEW_ITEMS;

/// The dropped-items ledger at the view's position (docs/ledger.md#in-the-workbench).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DroppedView {
    /// Every item dropped so far (the steps' drops and the sources' bad rows).
    pub total: u64,
    /// Bad rows per source, in the document's order.
    pub per_source: Vec<u64>,
    /// The latest [`DROPPED_SHOWN`], newest first.
    pub latest: Vec<DroppedRow>,
}

/// One dropped item, as the *Dropped* tab lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRow {
    /// The step's id (a source's, for a bad row).
    pub step: String,
    /// Why (`filtered`, `no_sink`, …).
    pub reason: &'static str,
    /// Its key, if any.
    pub key: Option<String>,
    /// The run's step it was dropped in (the position; end of input is one past the last).
    pub event: u64,
    /// The item, previewed.
    pub item: String,
}

/// One sink's counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkCounts {
    /// The sink id.
    pub sink: String,
    /// Items written.
    pub items: u64,
}

/// Pending timers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimersView {
    /// How many are pending.
    pub total: usize,
    /// The first [`TIMERS_SHOWN`], in firing order (due, step position, key).
    pub shown: Vec<TimerView>,
}

/// A pending timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerView {
    /// The step id.
    pub step: String,
    /// The key.
    pub key: String,
    /// When it is due, microseconds since the epoch.
    pub due_micros: i64,
}

/// One entry of the session's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The position when it happened (for a timer: once the event that fired it is done).
    pub position: u64,
    /// The clock then.
    pub clock_micros: Option<i64>,
    /// What happened.
    pub kind: LogKind,
}

/// What a log entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    /// A timer fired (logged while playing or stepping, not while seeking).
    TimerFired {
        /// The step id.
        step: String,
        /// The key.
        key: String,
        /// When it was due.
        due_micros: i64,
    },
    /// The replay stopped on an error.
    Error {
        /// The step, when a step failed.
        step: Option<String>,
        /// The message.
        message: String,
    },
    /// A breakpoint paused the replay.
    BreakpointHit {
        /// Its index in the list last set.
        index: usize,
        /// What it was.
        description: String,
    },
    /// A script called `print` or `debug` (logged while playing or stepping, not while
    /// seeking: a position passed again prints nothing new).
    Print {
        /// The step whose script printed.
        step: String,
        /// The key it was called for, if keyed.
        key: Option<String>,
        /// The script line of a `debug`.
        line: Option<usize>,
        /// `debug` rather than `print`.
        debug: bool,
        /// What was printed.
        text: String,
    },
    /// A manual snapshot was taken.
    SnapshotTaken {
        /// Its id.
        id: SnapshotId,
    },
    /// A notice (also sent as [`Event::Notice`]).
    Notice {
        /// How much it matters.
        level: NoticeLevel,
        /// The text.
        message: String,
    },
}

/// Whether a snapshot was taken by the session or by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// A keyframe the session took to seek (every `keyframe_every` events).
    Keyframe,
    /// Taken by `TakeSnapshot`.
    Manual,
}

/// One snapshot in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its id.
    pub id: SnapshotId,
    /// Keyframe or manual.
    pub kind: SnapshotKind,
    /// The graph generation it was taken from.
    pub generation: u64,
    /// Its position.
    pub position: u64,
    /// The clock then.
    pub clock_micros: Option<i64>,
    /// Live keys per stateful step (step id, keys).
    pub keys: Vec<(String, usize)>,
    /// Approximate size of its state in bytes.
    pub approx_bytes: usize,
}

/// One key's state, for a table.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    /// The key.
    pub key: String,
    /// The state as the engine holds it (a logic's `this`), as JSON (non-finite floats and
    /// values with no JSON form become strings).
    pub state: Value,
    /// A one-line rendering, cut at about 200 characters.
    pub preview: String,
}

/// The selected step's per-key state.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTable {
    /// The step id.
    pub step: String,
    /// The position it shows.
    pub position: u64,
    /// The position of the table before it (of the same step), which `changed` is measured
    /// from: one event back after a step, further back while playing, ahead after a seek back;
    /// `None` for a first table (nothing to compare with).
    pub since: Option<u64>,
    /// Every live key, in key order (each row shared with the tables before it that showed
    /// the same state: a new table re-renders only the keys that changed).
    pub rows: Vec<Arc<KeyRow>>,
    /// Keys whose state changed (a new state, appeared or went) since the previous table
    /// sent, in key order.
    pub changed: Vec<String>,
}

/// One point of a watched key's history.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    /// The position.
    pub position: u64,
    /// The clock.
    pub clock_micros: Option<i64>,
    /// The state (`None`: the key has no state there).
    pub state: Option<Value>,
    /// The state, if it is a number.
    pub number: Option<f64>,
    /// The state's numeric fields, if it is a map, by name.
    pub fields: Vec<(String, f64)>,
}

/// A watched key's history: a point where it changed. Points before the watch began come
/// from keyframes; after, from every change. Seeking back drops the points past the position.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySeries {
    /// The step id.
    pub step: String,
    /// The key.
    pub key: String,
    /// The points, by position.
    pub points: Vec<SeriesPoint>,
}

/// An item seen going into or out of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewItem {
    /// The item's key, on a keyed stream.
    pub key: Option<String>,
    /// Its value as JSON.
    pub value: Value,
    /// The input index (items in) or output port (items out).
    pub port: usize,
    /// The clock then.
    pub clock_micros: Option<i64>,
    /// The position once the event that carried it was done.
    pub position: u64,
}

/// The last [`PREVIEW_ITEMS`] items into and out of one step, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePreview {
    /// The step id.
    pub step: String,
    /// Items in.
    pub items_in: Vec<PreviewItem>,
    /// Items out.
    pub items_out: Vec<PreviewItem>,
}

/// A breakpoint that paused the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakpointHit {
    /// Its index in the list last set.
    pub index: usize,
    /// The breakpoint.
    pub breakpoint: Breakpoint,
    /// The position it paused at (the event that triggered it is done).
    pub position: u64,
    /// The key of the item that triggered it.
    pub key: Option<String>,
}

/// The error that stopped the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorView {
    /// The step that failed (`None` for a bad row or an i/o error).
    pub step: Option<String>,
    /// The script function that failed.
    pub function: Option<String>,
    /// 1-based script line, when known.
    pub script_line: Option<usize>,
    /// The whole message (step, function, line, key, item, source line).
    pub message: String,
    /// Source events fully processed: the event that failed is the next one.
    pub position: u64,
    /// The run's clock when it failed (at the failing event), kept for the view once the
    /// failed engine is gone.
    pub clock_micros: Option<i64>,
}

/// Series for plots. Per-step vectors are in the document's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Positions between two samples of `by_position`.
    pub bucket_events: u64,
    /// Cumulative counts at every multiple of `bucket_events` reached so far.
    pub by_position: Vec<PositionSample>,
    /// Throughput while playing, sampled about 4 times a second of wall time.
    pub by_wall: Vec<WallSample>,
    /// Keys and approximate state size per step, at keyframes and every so often.
    pub state: Vec<StateSample>,
}

/// Counters at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionSample {
    /// The position.
    pub position: u64,
    /// Items received so far, per step.
    pub items_in: Vec<u64>,
}

/// Throughput over a stretch of wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct WallSample {
    /// Seconds since the pipeline was loaded, at the end of the stretch.
    pub secs: f64,
    /// Source events per second.
    pub events_per_sec: f64,
    /// Items received per second, per step.
    pub items_in_per_sec: Vec<f64>,
}

/// State size at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSample {
    /// The position.
    pub position: u64,
    /// Live keys per step (0 for stateless steps).
    pub keys: Vec<usize>,
    /// Approximate state bytes per step.
    pub approx_bytes: Vec<usize>,
}

/// A snapshot's contents (answer to `OpenSnapshot`).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotContents {
    /// The snapshot as listed.
    pub info: SnapshotInfo,
    /// Per stateful step (step id), every live key's state in key order.
    pub steps: Vec<(String, Vec<Arc<KeyRow>>)>,
    /// Pending timers then.
    pub timers: Vec<TimerView>,
}

/// How one key differs between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyChange {
    /// The key.
    pub key: String,
    /// Its state in the first snapshot.
    pub old: Value,
    /// Its state in the second.
    pub new: Value,
}

/// How one step's state differs between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct StepDiff {
    /// The step id.
    pub step: String,
    /// Keys only in the second, with their state.
    pub added: Vec<(String, Value)>,
    /// Keys only in the first, with their state.
    pub removed: Vec<(String, Value)>,
    /// Keys in both whose state differs.
    pub changed: Vec<KeyChange>,
}

/// Two snapshots compared (answer to `DiffSnapshots`).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotDiff {
    /// The first.
    pub from: SnapshotInfo,
    /// The second.
    pub to: SnapshotInfo,
    /// Per stateful step of either (step ids in order), only steps with a difference.
    pub steps: Vec<StepDiff>,
}

#[cfg(test)]
mod tests {
    use super::span_text;

    #[test]
    fn spans_of_event_time_read_in_their_two_largest_units() {
        let cases = [
            (0, "0 ms"),
            (450_000, "450 ms"),
            (12_000_000, "12 s"),
            (420_000_000, "7 min"),
            (481_000_000, "8 min 1 s"),
            (4_080_000_000, "1 h 8 min"),
            (3_600_000_000, "1 h"),
            (266_400_000_000, "3 d 2 h"),
            (-5, "0 ms"),
        ];
        for (micros, text) in cases {
            assert_eq!(span_text(micros), text, "{micros}");
        }
    }
}
