//! One replay's events, digested: per event, each step's outputs (one fingerprint of the
//! ordered list), the state each changed key is left in, and the items each sink received,
//! read from the items the engine hashed as they were emitted ([`crate::engine::OutputHash`],
//! made by [`item_hasher`]) and the keys its trace says were touched
//! ([`crate::engine::TraceEvent`], items not traced).

use crate::engine::{Engine, OutputHash, OutputHasher, TraceEvent, TraceKind};
use crate::graph::{StreamRef, ValidGraph};
use crate::ops::Key;

use super::fingerprint::{Fingerprinter, append, key_id, step_seed};

/// What the engine of a side hashes each emitted item with: [`Fingerprinter::item`], in place.
pub(super) fn item_hasher() -> OutputHasher {
    let mut fingerprints = Fingerprinter::default();
    Box::new(move |port, key, value| fingerprints.item(port, key, value))
}

/// Where in the replay an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum At {
    /// A source event: the source's index and the line it was read from.
    Event {
        /// The source (index into the pipeline's `sources`).
        source: usize,
        /// Its line in the source file.
        line: u64,
    },
    /// End of input.
    End,
}

/// What a list of items came to: its fingerprint and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Items {
    /// The ordered list's fingerprint.
    pub(super) fingerprint: u64,
    /// How many items.
    pub(super) count: u32,
}

impl Items {
    const EMPTY: Items = Items { fingerprint: 0, count: 0 };

    fn push(&mut self, item: u64) {
        self.fingerprint = append(self.fingerprint, item);
        self.count = self.count.saturating_add(1);
    }
}

/// One event of one replay, digested (its parts are held by the [`Batch`] it came in).
#[derive(Debug, Clone, Copy)]
pub(super) struct EventDigest<'a> {
    /// Which event.
    pub(super) at: At,
    /// The steps that emitted (step index, what they emitted), in step index order.
    pub(super) outputs: &'a [(usize, Items)],
    /// Each (step, key) whose state the event may have changed, once: the step, the key's
    /// fingerprint at the step ([`key_id`]), the key, and the fingerprint of the state it is
    /// left in (`None`: the key holds no state).
    pub(super) states: &'a [State],
    /// The sinks that received items (sink index, the items), in sink index order.
    pub(super) sinks: &'a [(usize, Items)],
}

/// A (step, key) whose state an event may have changed: the step, the key's fingerprint at the
/// step ([`key_id`]), the key, and the fingerprint of the state it is left in (`None`: none).
pub(super) type State = (usize, u64, Key, Option<u64>);

/// Where one event's parts end in its batch's lists.
#[derive(Debug, Clone, Copy)]
struct Ends {
    at: At,
    outputs: usize,
    states: usize,
    sinks: usize,
}

/// Consecutive events of one replay, digested, their parts in lists shared by the batch (a few
/// allocations per batch, not per event).
#[derive(Debug, Default)]
pub(super) struct Batch {
    ends: Vec<Ends>,
    outputs: Vec<(usize, Items)>,
    states: Vec<State>,
    sinks: Vec<(usize, Items)>,
}

impl Batch {
    /// How many events it holds.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Its `index`th event.
    pub(super) fn event(&self, index: usize) -> Option<EventDigest<'_>> {
        let ends = self.ends.get(index)?;
        let start = match index.checked_sub(1).and_then(|i| self.ends.get(i)) {
            Some(before) => (before.outputs, before.states, before.sinks),
            None => (0, 0, 0),
        };
        Some(EventDigest {
            at: ends.at,
            outputs: self.outputs.get(start.0..ends.outputs)?,
            states: self.states.get(start.1..ends.states)?,
            sinks: self.sinks.get(start.2..ends.sinks)?,
        })
    }
}

/// Digests one replay's events (set up once per pipeline; reused event after event).
#[derive(Debug)]
pub(super) struct Digester {
    /// Per step, per output port: the sinks that read it.
    stream_sinks: Vec<[Vec<usize>; 2]>,
    /// Per source: the sinks that read it.
    source_sinks: Vec<Vec<usize>>,
    /// Per step: the seed of its keys' fingerprints ([`step_seed`]).
    step_seeds: Vec<u64>,
    fingerprints: Fingerprinter,
    step_items: Vec<Option<Items>>,
    sink_items: Vec<Option<Items>>,
    touched: Vec<(usize, Key)>,
}

impl Digester {
    /// A digester for a replay of `graph`.
    pub(super) fn new(graph: &ValidGraph) -> Self {
        let mut stream_sinks = vec![[Vec::new(), Vec::new()]; graph.doc.steps.len()];
        let mut source_sinks = vec![Vec::new(); graph.doc.sources.len()];
        for (sink, inputs) in graph.sink_inputs.iter().enumerate() {
            for input in inputs {
                match *input {
                    StreamRef::Source(source) => source_sinks[source].push(sink),
                    StreamRef::Step { step, port } => stream_sinks[step][port.min(1)].push(sink),
                }
            }
        }
        Self {
            stream_sinks,
            source_sinks,
            step_seeds: graph.doc.steps.iter().map(|s| step_seed(&s.id)).collect(),
            fingerprints: Fingerprinter::default(),
            step_items: vec![None; graph.doc.steps.len()],
            sink_items: vec![None; graph.doc.sinks.len()],
            touched: Vec::new(),
        }
    }

    /// Adds the digest of the event `at` to `batch`, from the items hashed as they were
    /// emitted (`outputs`, by [`item_hasher`]) and the keys its trace touched, with the states
    /// read from `engine` as the event left them.
    pub(super) fn digest(
        &mut self,
        engine: &Engine,
        at: At,
        trace: &[TraceEvent],
        outputs: &[OutputHash],
        batch: &mut Batch,
    ) {
        if let At::Event { source, line } = at {
            // A source read by a sink directly: both replays read the same input, so the
            // event is named by its source and line.
            for &sink in &self.source_sinks[source] {
                let item = append(source as u64, line);
                self.sink_items[sink].get_or_insert(Items::EMPTY).push(item);
            }
        }
        for &OutputHash { step, port, hash } in outputs {
            self.step_items[step].get_or_insert(Items::EMPTY).push(hash);
            for &sink in &self.stream_sinks[step][port.min(1)] {
                self.sink_items[sink].get_or_insert(Items::EMPTY).push(hash);
            }
        }
        for event in trace {
            if let TraceKind::StateChanged { key } = &event.kind {
                self.touched.push((event.step, key.clone()));
            }
        }
        self.touched.sort_unstable();
        self.touched.dedup();
        let fingerprints = &mut self.fingerprints;
        let seeds = &self.step_seeds;
        batch.states.extend(self.touched.drain(..).map(|(step, key)| {
            let state = engine.with_step_state(step, &key, |state| fingerprints.value(state));
            (step, key_id(seeds[step], &key), key, state)
        }));
        take_items(&mut self.step_items, &mut batch.outputs);
        take_items(&mut self.sink_items, &mut batch.sinks);
        batch.ends.push(Ends {
            at,
            outputs: batch.outputs.len(),
            states: batch.states.len(),
            sinks: batch.sinks.len(),
        });
    }
}

/// The lists filled, in index order, onto `out`, each slot left empty for the next event.
fn take_items(slots: &mut [Option<Items>], out: &mut Vec<(usize, Items)>) {
    out.extend(
        slots.iter_mut().enumerate().filter_map(|(index, slot)| slot.take().map(|items| (index, items))),
    );
}
