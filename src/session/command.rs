//! What the workbench asks of the session thread: imperative [`Command`]s, each answered by
//! a fresh [`RunView`](super::RunView) (and, for some, another [`Event`](super::Event)).

use std::path::PathBuf;

use crate::graph::{PipelineDoc, ValidGraph};

/// Identifies a snapshot (an automatic keyframe or a manual snapshot) within a session.
pub type SnapshotId = u64;

/// Where a pipeline comes from.
#[derive(Debug, Clone)]
pub enum GraphSource {
    /// A graph that passed validation already.
    Valid(Box<ValidGraph>),
    /// A document to validate (structure and scripts) against the folder its paths are
    /// relative to; problems come back as [`Event::Invalid`](super::Event::Invalid).
    Doc {
        /// The document.
        doc: Box<PipelineDoc>,
        /// The folder relative paths start from (the pipeline file's folder).
        base_dir: PathBuf,
    },
    /// A pipeline file to read and validate.
    File(PathBuf),
}

/// What happens to the replay when the graph is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceMode {
    /// Start the new graph from the first event.
    Restart,
    /// Continue from the current position: the current state is snapshotted (each logic's
    /// `snapshot()`) and restored into the new graph, when both have the same stateful step
    /// ids; otherwise a [`Notice`](super::Notice) says why and the new graph restarts.
    Continue,
}

/// How fast `Play` goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Event time runs at this multiple of wall time (clamped to 0.1..=1000).
    RealTime(f64),
    /// As fast as the engine goes (views still come at most about 60 times a second).
    AsFastAsPossible,
}

impl Speed {
    /// The slowest real-time multiplier.
    pub const MIN_MULTIPLIER: f64 = 0.1;
    /// The fastest real-time multiplier.
    pub const MAX_MULTIPLIER: f64 = 1000.0;

    /// The same speed with a real-time multiplier clamped to its range (NaN becomes 1).
    pub fn clamped(self) -> Speed {
        match self {
            Speed::RealTime(m) if m.is_nan() => Speed::RealTime(1.0),
            Speed::RealTime(m) => Speed::RealTime(m.clamp(Self::MIN_MULTIPLIER, Self::MAX_MULTIPLIER)),
            Speed::AsFastAsPossible => Speed::AsFastAsPossible,
        }
    }
}

impl Speed {
    /// The speed a session starts at: event time a thousand times faster than wall time,
    /// so that recordings whose events are minutes apart (the shipped examples) visibly play.
    pub const DEFAULT_MULTIPLIER: f64 = 1000.0;
}

impl Default for Speed {
    /// [`Speed::DEFAULT_MULTIPLIER`] times real time.
    fn default() -> Self {
        Speed::RealTime(Self::DEFAULT_MULTIPLIER)
    }
}

/// Where a forward run (`Play`, `Step`, `RunToNextTimer`, `RunToEnd`) pauses by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breakpoint {
    /// The step emits an item.
    NodeEmits(String),
    /// An item of this key reaches the step.
    KeyTouched {
        /// The step id.
        step: String,
        /// The key.
        key: String,
    },
    /// A Rhai expression over `item` (the value) and `key` (the key, or `()` on an unkeyed
    /// stream) is true for an item reaching the step. It runs under the scripts' limits; one
    /// that does not compile is reported as a [`Notice`](super::Notice) and left out.
    Predicate {
        /// The step id.
        step: String,
        /// The expression, e.g. `item.amount_cents > 10000`.
        script: String,
    },
}

impl Breakpoint {
    /// The step the breakpoint watches.
    pub fn step(&self) -> &str {
        match self {
            Breakpoint::NodeEmits(step)
            | Breakpoint::KeyTouched { step, .. }
            | Breakpoint::Predicate { step, .. } => step,
        }
    }
}

impl std::fmt::Display for Breakpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breakpoint::NodeEmits(step) => write!(f, "`{step}` emits"),
            Breakpoint::KeyTouched { step, key } => write!(f, "key {key:?} reaches `{step}`"),
            Breakpoint::Predicate { step, script } => write!(f, "`{step}`: {script}"),
        }
    }
}

/// A command to the session thread. Every command is answered by a fresh view; none blocks
/// the sender.
#[derive(Debug, Clone)]
pub enum Command {
    /// Loads a pipeline: counts the source events (in the background), stands before the first
    /// event, paused. Keyframes and breakpoint hits of the previous pipeline are dropped;
    /// manual snapshots, the selection, the watched key and the breakpoints are kept.
    Load(GraphSource),
    /// Replaces the graph (the user edited it), restarting or continuing (see [`ReplaceMode`]).
    ReplaceGraph {
        /// The new graph.
        source: GraphSource,
        /// Restart or continue.
        mode: ReplaceMode,
    },
    /// Plays forward at the current [`Speed`] until paused, a breakpoint, an error or the end.
    Play,
    /// Stops a play, a run or a seek in progress (a seek stops where it got to).
    Pause,
    /// Processes the next `n` source events (the last step may be end of input), then pauses.
    Step(u64),
    /// Runs until a timer fires; pauses after the event during which it fired.
    RunToNextTimer,
    /// Runs as fast as possible to end of input (breakpoints still pause it).
    RunToEnd,
    /// Goes back one event: a seek to the position before (restored from the nearest
    /// keyframe and replayed forward, so it shows exactly what stepping there shows).
    StepBack,
    /// Goes back to the last position before this one where a timer fired (a seek there);
    /// a notice when none did since the first position of this graph.
    PreviousTimer,
    /// Goes back before the first event of the current graph, paused.
    Restart,
    /// Sets the speed of `Play`.
    SetSpeed(Speed),
    /// Goes to a position (source events processed): forward by stepping, backward from the
    /// nearest keyframe. Breakpoints do not stop a seek. What is shown at a position is the
    /// same whatever the way there.
    Seek(u64),
    /// Selects the step whose per-key state table the views carry (`None`: no table).
    Select(Option<String>),
    /// Follows one key's state over the replay (the view's `watch` series).
    WatchKey {
        /// The step id.
        step: String,
        /// The key.
        key: String,
    },
    /// Stops following a key.
    Unwatch,
    /// Takes a manual snapshot at the current position.
    TakeSnapshot,
    /// Sends the state of every stateful step per key in a snapshot
    /// ([`Event::SnapshotOpened`](super::Event::SnapshotOpened)).
    OpenSnapshot(SnapshotId),
    /// Compares two snapshots per step: keys added, removed and changed
    /// ([`Event::SnapshotDiff`](super::Event::SnapshotDiff)); from the first to the second.
    DiffSnapshots(SnapshotId, SnapshotId),
    /// Continues from a snapshot: exactly its state when it was taken from the current graph,
    /// else through the logics' `snapshot()`/`builder(resume)` as `ReplaceGraph` continues.
    RestoreSnapshot(SnapshotId),
    /// Replaces the breakpoints (an empty list clears them).
    SetBreakpoints(Vec<Breakpoint>),
    /// Sets the bytes the automatic keyframes may hold (about; 512 MiB by default): past it,
    /// old keyframes are thinned out instead of memory growing.
    SetKeyframeBudget(u64),
    /// Ends the session thread (dropping the handle does too).
    Shutdown,
}
