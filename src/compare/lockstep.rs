//! The comparison proper: the two replays' digested events, pairwise, in order; what differs
//! at each, counted per step, key and sink; where it first differs.

use crossbeam_channel::Receiver;
use rustc_hash::FxHashMap;

use crate::engine::RunError;
use crate::graph::ValidGraph;
use crate::ops::Key;

use super::digest::{At, Batch, EventDigest, Items};
use super::side::Message;
use super::{OnlyIn, Spot, StepDifferences, Summary};

/// A side's events, one at a time, out of the batches its thread sends.
pub(super) struct Cursor {
    receiver: Receiver<Message>,
    batch: Batch,
    next: usize,
}

impl Cursor {
    /// Reads the events `receiver` brings.
    pub(super) fn new(receiver: Receiver<Message>) -> Self {
        Self { receiver, batch: Batch::default(), next: 0 }
    }

    /// The next event; `None` when the replay is over; the error that stopped it.
    pub(super) fn next(&mut self) -> Result<Option<EventDigest<'_>>, RunError> {
        while self.next >= self.batch.len() {
            match self.receiver.recv() {
                Ok(Message::Events(batch)) => {
                    self.batch = batch;
                    self.next = 0;
                }
                Ok(Message::Failed(error)) => return Err(error),
                Err(_) => return Ok(None),
            }
        }
        self.next += 1;
        Ok(self.batch.event(self.next - 1))
    }
}

/// Something that differs, by index into the first version's steps or sinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawSpot {
    /// A key's state at a step.
    State(usize, Key),
    /// A step's outputs.
    Outputs(usize),
    /// A sink's items.
    Sink(usize),
}

/// The first event that differs: its number in the replay (from 1; end of input counts as
/// one), where it is, and what differs, the first thing to show first.
#[derive(Debug, Clone)]
pub(super) struct FirstAt {
    /// The event's number (end of input: one past the last event).
    pub(super) number: u64,
    /// The event.
    pub(super) at: At,
    /// What differs, in the order it is shown, with its names.
    pub(super) spots: Vec<(RawSpot, Spot)>,
}

/// A (step, key)'s state fingerprint on each side, as last seen, and how often it differed.
#[derive(Debug)]
struct Track {
    /// The step (of `a`).
    step: usize,
    a: Option<u64>,
    b: Option<u64>,
    differed: u64,
    /// The key, once it has differed.
    key: Option<Key>,
}

impl Track {
    fn new(step: usize) -> Self {
        Self { step, a: None, b: None, differed: 0, key: None }
    }
}

/// Per step of the first version: events at which it differed, and its outputs did.
#[derive(Debug, Clone, Copy, Default)]
struct StepCount {
    events: u64,
    output_events: u64,
}

/// The running comparison of two replays.
#[derive(Debug)]
pub(super) struct Lockstep {
    step_ids: Vec<String>,
    sink_ids: Vec<String>,
    /// Per step of `a`: its topological position.
    positions: Vec<usize>,
    /// Per step of `b`: the step of `a` with its id.
    b_steps: Vec<Option<usize>>,
    /// Per sink of `b`: the sink of `a` with its id.
    b_sinks: Vec<Option<usize>>,
    /// Per step of `a`: whether `b` has it.
    shared_steps: Vec<bool>,
    /// Per sink of `a`: whether `b` has it.
    shared_sinks: Vec<bool>,
    only_in_a: OnlyIn,
    only_in_b: OnlyIn,
    /// Per (step, key) changed so far, by the key's fingerprint at the step.
    tracks: FxHashMap<u64, Track>,
    steps: Vec<StepCount>,
    sinks: Vec<u64>,
    events: u64,
    end_of_input: bool,
    differing: u64,
    first: Option<FirstAt>,
    touched: Vec<u64>,
    /// Scratch space, kept from event to event.
    spots: Vec<RawSpot>,
    scratch: Vec<(usize, Items)>,
}

impl Lockstep {
    /// A comparison of replays of `a` and `b`, before their first event.
    pub(super) fn new(a: &ValidGraph, b: &ValidGraph) -> Self {
        let step_ids: Vec<String> = a.doc.steps.iter().map(|s| s.id.clone()).collect();
        let sink_ids: Vec<String> = a.doc.sinks.iter().map(|s| s.id.clone()).collect();
        let index = |ids: &[String], id: &str| ids.iter().position(|x| x == id);
        let b_steps: Vec<Option<usize>> = b.doc.steps.iter().map(|s| index(&step_ids, &s.id)).collect();
        let b_sinks: Vec<Option<usize>> = b.doc.sinks.iter().map(|s| index(&sink_ids, &s.id)).collect();
        let mut shared_steps = vec![false; step_ids.len()];
        b_steps.iter().flatten().for_each(|&s| shared_steps[s] = true);
        let mut shared_sinks = vec![false; sink_ids.len()];
        b_sinks.iter().flatten().for_each(|&s| shared_sinks[s] = true);
        let unshared = |ids: &[String], shared: &[bool]| {
            ids.iter().zip(shared).filter(|(_, shared)| !**shared).map(|(id, _)| id.clone()).collect()
        };
        let only_in_a =
            OnlyIn { steps: unshared(&step_ids, &shared_steps), sinks: unshared(&sink_ids, &shared_sinks) };
        let only_in_b = OnlyIn {
            steps: b
                .doc
                .steps
                .iter()
                .zip(&b_steps)
                .filter(|(_, a)| a.is_none())
                .map(|(s, _)| s.id.clone())
                .collect(),
            sinks: b
                .doc
                .sinks
                .iter()
                .zip(&b_sinks)
                .filter(|(_, a)| a.is_none())
                .map(|(s, _)| s.id.clone())
                .collect(),
        };
        let mut positions = vec![0; step_ids.len()];
        for (position, &step) in a.order.iter().enumerate() {
            positions[step] = position;
        }
        Self {
            steps: vec![StepCount::default(); step_ids.len()],
            sinks: vec![0; sink_ids.len()],
            step_ids,
            sink_ids,
            positions,
            b_steps,
            b_sinks,
            shared_steps,
            shared_sinks,
            only_in_a,
            only_in_b,
            tracks: FxHashMap::default(),
            events: 0,
            end_of_input: false,
            differing: 0,
            first: None,
            touched: Vec::new(),
            spots: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Source events compared so far.
    pub(super) fn events(&self) -> u64 {
        self.events
    }

    /// Compares the next event of each replay; refuses two different events.
    pub(super) fn compare(&mut self, a: &EventDigest<'_>, b: &EventDigest<'_>) -> Result<(), String> {
        if a.at != b.at {
            return Err(format!(
                "the two versions read different events at event {} ({:?} against {:?}) from the same input",
                self.events + 1,
                a.at,
                b.at
            ));
        }
        let mut spots = std::mem::take(&mut self.spots);
        spots.clear();
        // Outputs of the shared steps, and the sinks' items.
        let shared_steps = &self.shared_steps;
        let b_steps = &self.b_steps;
        diff_items(
            a.outputs.iter().filter(|(s, _)| shared_steps[*s]).copied(),
            b.outputs.iter().filter_map(|&(s, items)| b_steps[s].map(|s| (s, items))),
            &mut self.scratch,
            |step| spots.push(RawSpot::Outputs(step)),
        );
        let shared_sinks = &self.shared_sinks;
        let b_sinks = &self.b_sinks;
        diff_items(
            a.sinks.iter().filter(|(s, _)| shared_sinks[*s]).copied(),
            b.sinks.iter().filter_map(|&(s, items)| b_sinks[s].map(|s| (s, items))),
            &mut self.scratch,
            |sink| spots.push(RawSpot::Sink(sink)),
        );
        // The states of the keys changed on either side.
        self.touched.clear();
        for &(step, id, _, state) in a.states {
            if self.shared_steps[step] {
                self.tracks.entry(id).or_insert_with(|| Track::new(step)).a = state;
                self.touched.push(id);
            }
        }
        for &(step, id, _, state) in b.states {
            if let Some(step) = self.b_steps[step] {
                self.tracks.entry(id).or_insert_with(|| Track::new(step)).b = state;
                self.touched.push(id);
            }
        }
        self.touched.sort_unstable();
        self.touched.dedup();
        for &id in &self.touched {
            let Some(track) = self.tracks.get_mut(&id) else { continue };
            if track.a != track.b {
                track.differed += 1;
                let key = match &track.key {
                    Some(key) => key.clone(),
                    None => {
                        let key = a.states.iter().chain(b.states).find(|s| s.1 == id).map(|s| s.2.clone());
                        let key = key.unwrap_or_default();
                        track.key = Some(key.clone());
                        key
                    }
                };
                spots.push(RawSpot::State(track.step, key));
            } else if track.a.is_none() && track.differed == 0 {
                // No state on either side, never differed: nothing to remember.
                self.tracks.remove(&id);
            }
        }
        let number = self.events + 1;
        match a.at {
            At::Event { .. } => self.events += 1,
            At::End => self.end_of_input = true,
        }
        if spots.is_empty() {
            self.spots = spots;
            return Ok(());
        }
        self.differing += 1;
        let mut steps: Vec<(usize, bool)> = Vec::new();
        for spot in &spots {
            match spot {
                RawSpot::State(step, _) => steps.push((*step, false)),
                RawSpot::Outputs(step) => steps.push((*step, true)),
                RawSpot::Sink(sink) => self.sinks[*sink] += 1,
            }
        }
        steps.sort_unstable();
        let mut last = None;
        for (step, outputs) in steps {
            if last != Some(step) {
                self.steps[step].events += 1;
                last = Some(step);
            }
            if outputs {
                self.steps[step].output_events += 1;
            }
        }
        if self.first.is_none() {
            let mut named: Vec<(RawSpot, Spot)> =
                spots.iter().map(|raw| (raw.clone(), self.name(raw))).collect();
            named.sort_by_key(|(raw, spot)| self.order_of(raw, spot));
            self.first = Some(FirstAt { number, at: a.at, spots: named });
        }
        self.spots = spots;
        Ok(())
    }

    /// Where a spot is shown among those of one event: steps in step position order (a key's
    /// state before the outputs), then sinks.
    fn order_of(&self, raw: &RawSpot, spot: &Spot) -> (usize, usize, usize, Spot) {
        match raw {
            RawSpot::State(step, _) => (0, self.positions[*step], 0, spot.clone()),
            RawSpot::Outputs(step) => (0, self.positions[*step], 1, spot.clone()),
            RawSpot::Sink(sink) => (1, *sink, 0, spot.clone()),
        }
    }

    fn name(&self, raw: &RawSpot) -> Spot {
        match raw {
            RawSpot::State(step, key) => {
                Spot::State { step: self.step_ids[*step].clone(), key: key.to_string() }
            }
            RawSpot::Outputs(step) => Spot::Outputs { step: self.step_ids[*step].clone() },
            RawSpot::Sink(sink) => Spot::Sink { sink: self.sink_ids[*sink].clone() },
        }
    }

    /// The first event that differed, if one did.
    pub(super) fn first(&self) -> Option<FirstAt> {
        self.first.clone()
    }

    /// The counts so far.
    pub(super) fn summary(&self) -> Summary {
        let mut keys: Vec<Vec<(String, u64)>> = vec![Vec::new(); self.step_ids.len()];
        let mut tracked: Vec<&Track> = self.tracks.values().filter(|t| t.differed > 0).collect();
        tracked.sort_unstable_by(|x, y| (x.step, &x.key).cmp(&(y.step, &y.key)));
        for track in tracked {
            let key = track.key.as_ref().map(ToString::to_string).unwrap_or_default();
            keys[track.step].push((key, track.differed));
        }
        let mut order: Vec<usize> = (0..self.step_ids.len()).collect();
        order.sort_by_key(|&step| self.positions[step]);
        let steps = order
            .into_iter()
            .filter(|&step| self.steps[step].events > 0)
            .map(|step| {
                let mut keys = std::mem::take(&mut keys[step]);
                keys.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
                StepDifferences {
                    step: self.step_ids[step].clone(),
                    events: self.steps[step].events,
                    output_events: self.steps[step].output_events,
                    keys,
                }
            })
            .collect();
        let sinks = self
            .sink_ids
            .iter()
            .zip(&self.sinks)
            .filter(|(_, n)| **n > 0)
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        Summary {
            events: self.events,
            end_of_input: self.end_of_input,
            differing: self.differing,
            steps,
            sinks,
            only_in_a: self.only_in_a.clone(),
            only_in_b: self.only_in_b.clone(),
        }
    }
}

/// Calls `differs` with each index whose items differ between `a` and `b` (lists of (index,
/// items); `a` in index order, `b` in any order; an index missing from one has no items).
/// `scratch` is spare room for `b`, sorted.
fn diff_items(
    a: impl Iterator<Item = (usize, Items)>,
    b: impl Iterator<Item = (usize, Items)>,
    scratch: &mut Vec<(usize, Items)>,
    mut differs: impl FnMut(usize),
) {
    scratch.clear();
    scratch.extend(b);
    scratch.sort_unstable_by_key(|(index, _)| *index);
    let mut b = scratch.iter().copied().peekable();
    for (index, items) in a {
        while let Some((other, _)) = b.next_if(|(other, _)| *other < index) {
            differs(other);
        }
        match b.next_if(|(other, _)| *other == index) {
            Some((_, other)) if other == items => {}
            _ => differs(index),
        }
    }
    for (other, _) in b {
        differs(other);
    }
}
