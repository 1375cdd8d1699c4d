//! Run against run: two versions of a pipeline replayed on the same input, event by event in
//! lockstep, compared after each event — every step the two share (matched by id): its outputs
//! for the event, in order, and the state of each key it changed (parsed values); and the items
//! each sink received. What `eddy diff` prints; the workbench can drive the same comparison.
//!
//! Each version replays on a thread of its own (`side.rs`), traced, its events reduced to
//! fingerprints (`digest.rs`, `fingerprint.rs`); `lockstep.rs` compares them and counts what
//! differs; `detail.rs` replays both again up to the first divergence to read its states and
//! outputs in full; `inputs.rs` refuses two versions that cannot share one input. Nothing is
//! written: sinks are only checked, dead-letter files not opened. README, "Comparing two
//! versions", says what is compared and printed.

mod detail;
mod digest;
mod fingerprint;
mod inputs;
mod lockstep;
mod side;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::Value;

use crate::engine::{RunError, load_and_check};

/// How a comparison runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompareOptions {
    /// Compare the first N source events only (no end of input).
    pub max_events: Option<u64>,
}

/// What went wrong comparing two pipeline files (each one names the file).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A file could not be read or is not a valid pipeline.
    #[error("{file}: {error}", file = file.display())]
    Load {
        /// The pipeline file.
        file: PathBuf,
        /// Why.
        error: RunError,
    },
    /// A replay failed (a source, a script): the error names the step, the script line and the
    /// source row.
    #[error("{file}: {error}", file = file.display())]
    Run {
        /// The pipeline file whose replay failed.
        file: PathBuf,
        /// Why.
        error: RunError,
    },
    /// The two cannot be replayed on one input (their sources differ, a source is live, the
    /// clock is the machine's).
    #[error("{0}")]
    Inputs(String),
    /// The comparison was stopped before it ended ([`CompareProgress::cancel`]).
    #[error("the comparison was cancelled")]
    Cancelled,
    /// A replay thread could not be started.
    #[error("cannot start a replay thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Where in the replay something happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// A source event.
    Event {
        /// Its number in the replay, from 1.
        number: u64,
        /// Its source's id.
        source: String,
        /// Its line in the source file.
        line: u64,
        /// Its event time (microseconds since the epoch), when its source has a `time_field`.
        time: Option<i64>,
    },
    /// End of input, after this many events.
    EndOfInput {
        /// Source events before it.
        after: u64,
    },
}

/// What differed at an event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Spot {
    /// A key's state at a step, after the event.
    State {
        /// The step's id.
        step: String,
        /// The key.
        key: String,
    },
    /// What a step emitted for the event.
    Outputs {
        /// The step's id.
        step: String,
    },
    /// The items a sink received for the event.
    Sink {
        /// The sink's id.
        sink: String,
    },
}

impl Spot {
    /// The spot in words, as `eddy diff` and the workbench list it: ``step `s` key "k"``,
    /// ``step `s` outputs``, ``sink `o` ``.
    pub fn describe(&self) -> String {
        match self {
            Spot::State { step, key } => format!("step `{step}` key {}", quoted(key)),
            Spot::Outputs { step } => format!("step `{step}` outputs"),
            Spot::Sink { sink } => format!("sink `{sink}`"),
        }
    }
}

/// A key as JSON text (quoted, escaped), as the comparison's messages show keys.
pub fn quoted(key: &str) -> String {
    Value::String(key.to_owned()).to_string()
}

/// One item a step emitted, as a sink would write it (`[key, value]` on a keyed stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// The output port: 0, or 1 for a branch's `falses`.
    pub port: usize,
    /// The item.
    pub item: Value,
}

/// One version's side of the first divergence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SideDetail {
    /// The key's state before the event (`None`: no state), when the divergence is a key's.
    pub before: Option<Value>,
    /// The key's state after the event.
    pub after: Option<Value>,
    /// What the step emitted for the event, in order.
    pub outputs: Vec<Emitted>,
}

/// The first event at which the two versions differ, shown from both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstDivergence {
    /// The event.
    pub position: Position,
    /// What is shown: the first thing that differs, in step position order (a key's state
    /// before the step's outputs; sinks last).
    pub spot: Spot,
    /// Everything else that differs at this event.
    pub also: Vec<Spot>,
    /// The first version's side (`a`).
    pub a: SideDetail,
    /// The second version's side (`b`).
    pub b: SideDetail,
}

/// How one step differed over the whole replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDifferences {
    /// The step's id.
    pub step: String,
    /// Events at which anything of the step differed.
    pub events: u64,
    /// Events at which its outputs differed.
    pub output_events: u64,
    /// Per key: events after which its state differed (of those that changed it on either
    /// side), most first, then in key order.
    pub keys: Vec<(String, u64)>,
}

/// Steps and sinks one version has and the other lacks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnlyIn {
    /// Step ids.
    pub steps: Vec<String>,
    /// Sink ids.
    pub sinks: Vec<String>,
}

impl OnlyIn {
    /// Its steps then its sinks, in words (``step `s` ``, ``sink `o` ``).
    pub fn names(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|id| format!("step `{id}`"))
            .chain(self.sinks.iter().map(|id| format!("sink `{id}`")))
            .collect()
    }
}

/// What the whole comparison found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Source events compared.
    pub events: u64,
    /// Whether end of input was compared too (not with `max_events`).
    pub end_of_input: bool,
    /// Events (end of input included) at which anything differed.
    pub differing: u64,
    /// The shared steps that differed, in the first version's step position order.
    pub steps: Vec<StepDifferences>,
    /// The shared sinks whose items differed, with the events at which they did.
    pub sinks: Vec<(String, u64)>,
    /// What only the first version has.
    pub only_in_a: OnlyIn,
    /// What only the second version has.
    pub only_in_b: OnlyIn,
}

/// The result of comparing two versions.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The counts.
    pub summary: Summary,
    /// The first divergence, if any.
    pub first: Option<FirstDivergence>,
}

impl Comparison {
    /// Whether the two differ: something differed at an event, or a sink is in one version
    /// only (a step in one version only is listed, but is not a difference by itself: what
    /// it does shows in the steps and sinks both have).
    pub fn differs(&self) -> bool {
        let s = &self.summary;
        s.differing > 0 || !s.only_in_a.sinks.is_empty() || !s.only_in_b.sinks.is_empty()
    }
}

/// One version of a pipeline to compare: its checked graph, and what names it in messages (its
/// file, or a label such as "the edited pipeline").
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    /// The checked pipeline.
    pub graph: &'a crate::graph::ValidGraph,
    /// Its file, or a label, as errors name it.
    pub name: &'a Path,
}

/// How far a comparison running on another thread has come, and a way to stop it (the
/// workbench shows the first and offers the second).
#[derive(Debug, Default)]
pub struct CompareProgress {
    events: AtomicU64,
    cancelled: AtomicBool,
}

impl CompareProgress {
    /// Source events compared so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Asks the comparison to stop: it ends with [`CompareError::Cancelled`].
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// Replays pipeline files `a` and `b` on `a`'s input (their sources must be alike) in lockstep
/// and compares them after every event.
pub fn compare_files(a: &Path, b: &Path, options: &CompareOptions) -> Result<Comparison, CompareError> {
    let load =
        |file: &Path| load_and_check(file).map_err(|error| CompareError::Load { file: file.into(), error });
    let (graph_a, graph_b) = (load(a)?, load(b)?);
    compare(Version { graph: &graph_a, name: a }, Version { graph: &graph_b, name: b }, options, None)
}

/// Replays two checked versions of a pipeline on `a`'s input (their sources must be alike) in
/// lockstep and compares them after every event; `progress`, when given, counts the events
/// compared and can stop the comparison.
pub fn compare(
    a: Version<'_>,
    b: Version<'_>,
    options: &CompareOptions,
    progress: Option<&CompareProgress>,
) -> Result<Comparison, CompareError> {
    inputs::check(a.graph, a.name, b.graph, b.name)?;
    let graph_a = inputs::without_dead_letters(a.graph.clone());
    let graph_b = inputs::without_dead_letters(b.graph.clone());
    let (a, b) = (a.name, b.name);
    let mut compared = lockstep::Lockstep::new(&graph_a, &graph_b);
    let side_error =
        |(side, error)| CompareError::Run { file: if side == 0 { a.into() } else { b.into() }, error };
    let (engine_a, engine_b) = side::engines(&graph_a, &graph_b).map_err(side_error)?;
    let mut side_a = lockstep::Cursor::new(side::spawn(engine_a, options.max_events, "eddy-diff-a")?);
    let mut side_b = lockstep::Cursor::new(side::spawn(engine_b, options.max_events, "eddy-diff-b")?);
    let mut events = 0u64;
    loop {
        let event_a = side_a.next().map_err(|error| CompareError::Run { file: a.into(), error })?;
        let event_b = side_b.next().map_err(|error| CompareError::Run { file: b.into(), error })?;
        match (event_a, event_b) {
            (Some(event_a), Some(event_b)) => {
                compared.compare(&event_a, &event_b).map_err(CompareError::Inputs)?
            }
            (None, None) => break,
            _ => {
                return Err(CompareError::Inputs(format!(
                    "{} and {} read a different number of events from the same input",
                    a.display(),
                    b.display()
                )));
            }
        }
        events += 1;
        if let Some(progress) = progress
            && events.is_multiple_of(1024)
        {
            if progress.is_cancelled() {
                return Err(CompareError::Cancelled);
            }
            progress.events.store(compared.events(), Ordering::Relaxed);
        }
    }
    if let Some(progress) = progress {
        progress.events.store(compared.events(), Ordering::Relaxed);
    }
    let first = match compared.first() {
        Some(first) => Some(detail::read(&graph_a, &graph_b, first).map_err(side_error)?),
        None => None,
    };
    Ok(Comparison { summary: compared.summary(), first })
}
