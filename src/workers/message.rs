//! What travels between workers: items with their place in the single-threaded run's order
//! ([`Tag`], docs/workers.md#the-order-of-a-run), and each batch's clock ([`EpochClock`]).

use rhai::Dynamic;
use serde::{Deserialize, Serialize};

use super::path::Path;
use crate::graph::StreamRef;
use crate::ops::Key;
use crate::script::ScriptError;

/// `Tag::phase` of the timers fired before an event.
pub(crate) const PHASE_TIMERS: u8 = 0;
/// `Tag::phase` of an event and what it causes.
pub(crate) const PHASE_EVENT: u8 = 1;
/// `Tag::phase` of end of input.
pub(crate) const PHASE_END: u8 = 2;

/// Where an item stands in the order the single-threaded engine processes everything: by the
/// event position, then timers before the event (in the firing order: due time, step, key)
/// or the event, then the depth-first path of emits and deliveries that made the item. Two
/// items compare as the single-threaded engine would have handled them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tag {
    /// The event's position in the run (1-based); `u64::MAX` at end of input.
    pub position: u64,
    /// [`PHASE_TIMERS`], [`PHASE_EVENT`] or [`PHASE_END`].
    pub phase: u8,
    /// The timer's due time (timers only).
    pub due: i64,
    /// The topological position of the step whose timer fired, or whose end of input this is.
    pub step: u32,
    /// The timer's key; at end of input, the key the output belongs to (emitted in key order).
    pub key: Option<Key>,
    /// Per hop: the index of the output in its call, then the index of the reader (packed
    /// into two words: [`Path`]).
    pub path: Path,
}

impl Tag {
    /// The tag of an event's entry into the dataflow.
    pub fn event(position: u64) -> Self {
        Tag { position, phase: PHASE_EVENT, due: 0, step: 0, key: None, path: Path::new() }
    }

    /// The tag of a timer firing before event `position`.
    pub fn timer(position: u64, due: i64, step: u32, key: Key) -> Self {
        Tag { position, phase: PHASE_TIMERS, due, step, key: Some(key), path: Path::new() }
    }

    /// The tag of a step's end of input (`key`: the key its outputs belong to).
    pub fn end(step: u32, key: Option<Key>) -> Self {
        Tag { position: u64::MAX, phase: PHASE_END, due: 0, step, key, path: Path::new() }
    }

    /// The tag of the `reader`-th delivery of the `output`-th output of a call at this tag.
    pub fn child(&self, output: u32, reader: u32) -> Self {
        Tag { path: self.path.pushed(output, reader), key: self.key.clone(), ..*self }
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// A step's input.
    Step {
        /// The step.
        step: u32,
        /// Which of its inputs.
        input: u32,
    },
    /// A sink, from a stream (named in a write error).
    Sink {
        /// The sink.
        sink: u32,
        /// The stream the item comes from.
        from: SinkFrom,
    },
    /// A keyed step's state of the item's key at a snapshot (the step's `snapshot()` value),
    /// on its way to the writer (docs/workers.md#snapshots).
    State {
        /// The step.
        step: u32,
    },
    /// A pending timer of the item's key at a snapshot, on its way to the writer.
    Timer {
        /// The step.
        step: u32,
        /// When it is due.
        due: i64,
    },
    /// A key's state from the snapshot a run resumes from, on its way to its worker.
    Restore {
        /// The step.
        step: u32,
    },
    /// A pending timer from the snapshot a run resumes from, on its way to its key's worker.
    RestoreTimer {
        /// The step.
        step: u32,
        /// When it is due.
        due: i64,
    },
    /// A step failed here: the writer stops at this place in the order, as the
    /// single-threaded run stops at its first error, and reports it at the source line of the message's event.
    Failed(Box<ScriptError>),
}

impl Dest {
    /// The step that handles a message with this destination, if a step does.
    pub fn step(&self) -> Option<u32> {
        match *self {
            Dest::Step { step, .. } | Dest::Restore { step } | Dest::RestoreTimer { step, .. } => Some(step),
            Dest::Sink { .. } | Dest::State { .. } | Dest::Timer { .. } | Dest::Failed(_) => None,
        }
    }
}

/// The stream a sink item comes from, in eight bytes (a [`StreamRef`] takes 24): what a write
/// error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SinkFrom {
    /// A source, by index.
    Source(u32),
    /// A step's output port (a step has at most two).
    Step(u32, u8),
}

impl From<StreamRef> for SinkFrom {
    fn from(stream: StreamRef) -> Self {
        match stream {
            StreamRef::Source(source) => SinkFrom::Source(source as u32),
            StreamRef::Step { step, port } => SinkFrom::Step(step as u32, port.min(1) as u8),
        }
    }
}

impl From<SinkFrom> for StreamRef {
    fn from(from: SinkFrom) -> Self {
        match from {
            SinkFrom::Source(source) => StreamRef::Source(source as usize),
            SinkFrom::Step(step, port) => StreamRef::Step { step: step as usize, port: usize::from(port) },
        }
    }
}

/// An item on its way, with its place in the run's order.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    /// Its place in the order.
    pub tag: Tag,
    /// Where it goes.
    pub to: Dest,
    /// The replay clock at its event. (The source line of its event, which an error names,
    /// is not carried: the writer finds it by position in the batch's clock.)
    pub clock: Option<i64>,
    /// Its key, on keyed streams.
    pub key: Option<Key>,
    /// The key an item will be kept under by the step it goes to (a step that keys
    /// its input itself: [`crate::ops::Operator::route_key`]).
    pub route_key: Option<Key>,
    /// Its value.
    pub value: Dynamic,
}

impl Msg {
    /// What is left in a batch's buffer where a message was taken out: no key, no value.
    pub fn taken() -> Self {
        Msg::snapshot_entry(Dest::State { step: 0 }, Key::default(), Dynamic::UNIT)
    }

    /// A key's state or timer on its way to or from a snapshot (`to` says which): it has no
    /// place in the run's order, only a key.
    pub fn snapshot_entry(to: Dest, key: Key, value: Dynamic) -> Self {
        Msg { tag: Tag::event(0), to, clock: None, key: Some(key), route_key: None, value }
    }
}

/// One batch's clock, sent to every worker: the positions it holds, where the replay clock
/// changes in it, and where each event came from, so that a worker fires its keys' timers
/// at the right place even in a batch that brought it no item.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct EpochClock {
    /// The replay clock before the batch's first event. A stage takes it as its clock: a
    /// resumed run's stages start from the snapshot's clock, not from none (its timers,
    /// its end of input and what they emit read `now()`, docs/workers.md#snapshots).
    pub start: Option<i64>,
    /// The first event position of the batch (none when `last < first`).
    pub first: u64,
    /// The last event position.
    pub last: u64,
    /// (position, clock) where the clock changed.
    pub changes: Vec<(u64, i64)>,
    /// Per position from `first`: (source, line).
    pub origins: Vec<(u32, u64)>,
    /// Whether the input ended: this batch is end of input.
    pub end: bool,
    /// Whether a snapshot is taken after this batch: every keyed step then sends its keys'
    /// states and timers to the writer.
    pub snapshot: bool,
    /// Partitioned reading: where the source stands after this batch, for a snapshot after
    /// it (the engine that writes it has not read the file).
    pub cut: Option<Cut>,
}

/// Where a source read in chunks stands after a batch (docs/workers.md#partitioned-reading).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Cut {
    /// Rows of the file read through the batch's last event: the events, and the bad rows
    /// before it (`skip`, `dead_letter`).
    pub rows: u64,
    /// Bytes of the file read through the batch's last event.
    pub bytes: u64,
    /// The replay clock after it.
    pub clock: Option<i64>,
}

impl EpochClock {
    /// The batch that ends the input: no event, the clock `start` as the input left it.
    pub fn end_of_input(start: Option<i64>) -> Self {
        EpochClock { start, first: 1, last: 0, end: true, ..EpochClock::default() }
    }

    /// The source and line of the event at `position`, when it is in this batch.
    pub fn origin_of(&self, position: u64) -> Option<(u32, u64)> {
        let index = usize::try_from(position.checked_sub(self.first)?).ok()?;
        self.origins.get(index).copied()
    }
}

/// The form a [`Msg`] crosses processes in: tagged JSON text for values (lossless, the
/// snapshots' encoding), strings for keys.
#[derive(Serialize, Deserialize)]
struct WireMsg {
    position: u64,
    phase: u8,
    due: i64,
    step: u32,
    tag_key: Option<String>,
    path: Vec<u32>,
    to: WireDest,
    clock: Option<i64>,
    key: Option<String>,
    route_key: Option<String>,
    value: String,
}

#[derive(Serialize, Deserialize)]
enum WireDest {
    Step(u32, u32),
    SinkFromSource(u32, u32),
    SinkFromStep(u32, u32, u8),
    Failed(String, Option<String>, Option<(usize, usize)>, String, Option<String>),
    State(u32),
    Timer(u32, i64),
    Restore(u32),
    RestoreTimer(u32, i64),
}

impl Serialize for Msg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = crate::value::to_tagged_json(&self.value).map_err(serde::ser::Error::custom)?.to_string();
        let to = match &self.to {
            Dest::Step { step, input } => WireDest::Step(*step, *input),
            Dest::Sink { sink, from: SinkFrom::Source(source) } => WireDest::SinkFromSource(*sink, *source),
            Dest::Sink { sink, from: SinkFrom::Step(step, port) } => {
                WireDest::SinkFromStep(*sink, *step, *port)
            }
            Dest::State { step } => WireDest::State(*step),
            Dest::Timer { step, due } => WireDest::Timer(*step, *due),
            Dest::Restore { step } => WireDest::Restore(*step),
            Dest::RestoreTimer { step, due } => WireDest::RestoreTimer(*step, *due),
            Dest::Failed(error) => WireDest::Failed(
                error.step.clone(),
                error.function.clone(),
                error.position,
                error.message.clone(),
                error.context.clone(),
            ),
        };
        WireMsg {
            position: self.tag.position,
            phase: self.tag.phase,
            due: self.tag.due,
            step: self.tag.step,
            tag_key: self.tag.key.as_ref().map(|k| k.to_string()),
            path: self.tag.path.to_vec(),
            to,
            clock: self.clock,
            key: self.key.as_ref().map(|k| k.to_string()),
            route_key: self.route_key.as_ref().map(|k| k.to_string()),
            value,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Msg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireMsg::deserialize(deserializer)?;
        let json: serde_json::Value = serde_json::from_str(&wire.value).map_err(serde::de::Error::custom)?;
        let value = crate::value::from_tagged_json(&json).map_err(serde::de::Error::custom)?;
        let to = match wire.to {
            WireDest::Step(step, input) => Dest::Step { step, input },
            WireDest::SinkFromSource(sink, source) => Dest::Sink { sink, from: SinkFrom::Source(source) },
            WireDest::SinkFromStep(sink, step, port) => Dest::Sink { sink, from: SinkFrom::Step(step, port) },
            WireDest::State(step) => Dest::State { step },
            WireDest::Timer(step, due) => Dest::Timer { step, due },
            WireDest::Restore(step) => Dest::Restore { step },
            WireDest::RestoreTimer(step, due) => Dest::RestoreTimer { step, due },
            WireDest::Failed(step, function, position, message, context) => {
                Dest::Failed(Box::new(ScriptError { step, function, position, message, context }))
            }
        };
        Ok(Msg {
            tag: Tag {
                position: wire.position,
                phase: wire.phase,
                due: wire.due,
                step: wire.step,
                key: wire.tag_key.map(Key::from),
                path: Path::from_numbers(&wire.path),
            },
            to,
            clock: wire.clock,
            key: wire.key.map(Key::from),
            route_key: wire.route_key.map(Key::from),
            value,
        })
    }
}

/// Messages for one destination (a step, or the writer) on one worker, moved through timely
/// as one item: a hop then moves one pointer through timely's buffers and exchange, not each
/// message (docs/workers.md#how-a-run-is-spread).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Bundle {
    /// The step the messages are for; the pipeline's step count for the writer.
    pub dest: u32,
    /// The worker that handles them ([`route`] modulo the workers).
    pub worker: u64,
    /// The messages, in the order they were made.
    pub msgs: Vec<Msg>,
}

/// Messages a bundle starts with room for.
const BUNDLE_START: usize = 256;

/// Groups messages into [`Bundle`]s by destination and by the worker that handles them.
pub(crate) struct Packer {
    peers: u64,
    writer: u32,
    /// Per destination, per worker: the messages of the next bundle.
    open: Vec<Vec<Msg>>,
    /// Messages added since the bundles were last taken.
    pending: usize,
}

impl Packer {
    /// A packer for a pipeline of `steps` steps on `peers` workers.
    pub fn new(steps: usize, peers: usize) -> Self {
        let peers = peers.max(1);
        Packer {
            peers: peers as u64,
            writer: steps as u32,
            open: vec![Vec::new(); (steps + 1) * peers],
            pending: 0,
        }
    }

    /// Adds `msg` to the bundle for its destination and worker.
    pub fn add(&mut self, msg: Msg) {
        let dest = msg.to.step().map_or(self.writer, |step| step.min(self.writer));
        let index = dest as usize * self.peers as usize + (route(&msg) % self.peers) as usize;
        if let Some(open) = self.open.get_mut(index) {
            if open.capacity() == 0 {
                open.reserve(BUNDLE_START);
            }
            open.push(msg);
            self.pending += 1;
        }
    }

    /// How many messages wait in the open bundles.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// The bundles made since the last call (the non-empty ones).
    pub fn bundles(&mut self) -> impl Iterator<Item = Bundle> + '_ {
        self.pending = 0;
        let peers = self.peers;
        self.open.iter_mut().enumerate().filter(|(_, msgs)| !msgs.is_empty()).map(move |(index, msgs)| {
            Bundle {
                dest: (index as u64 / peers) as u32,
                worker: index as u64 % peers,
                msgs: std::mem::take(msgs),
            }
        })
    }
}

/// The worker an item's key lives on (a stable hash: the same in every process and run).
pub(crate) fn key_hash(key: &Key) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// Which worker a message is handled on: an item of a step that keys its input itself by
/// the key the step keeps it under, a step's keyed input by its key (its state lives there,
/// restored states included), an unkeyed one by its event, the writer's messages (sink items,
/// failures, snapshot states) on worker 0.
pub(crate) fn route(msg: &Msg) -> u64 {
    match (msg.to.step(), msg.route_key.as_ref().or(msg.key.as_ref())) {
        (Some(_), Some(key)) => key_hash(key),
        (Some(_), None) => msg.tag.position,
        (None, _) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_stays_small_since_every_hop_moves_it() {
        // Each item is moved several times per hop through timely's buffers.
        assert!(std::mem::size_of::<Msg>() <= 120, "{} bytes", std::mem::size_of::<Msg>());
        assert_eq!(std::mem::size_of::<Dest>(), 16);
    }
}
