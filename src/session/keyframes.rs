//! The automatic keyframes of a replay, in bounded memory: each holds only the per-key states
//! that changed since the keyframe before it (a *delta*), or all of them (a *base*: the first
//! one of a continued graph, or one taken after a restore). Going back to a keyframe composes
//! the deltas from it back to the nearest base (or the start, with no state). Their size is
//! estimated and kept under a budget: past it, every other keyframe is dropped (its delta
//! merged into the next one), so that memory stays bounded however long the replay.

use std::collections::BTreeMap;

use rhai::Dynamic;
use rustc_hash::FxHashMap;

use super::event::SnapshotInfo;
use super::ledger::{StateLedger, key_hash, size_of};
use super::packed::{Entry, PackedStates};
use crate::engine::{Engine, Keyframe};
use crate::ops::Key;

/// The keyframes' budget when none is set: 512 MiB.
pub const DEFAULT_KEYFRAME_BUDGET: u64 = 512 * 1024 * 1024;

/// A keyframe holds every live state (a base) once composing it from the deltas back to the
/// last base would read more than this many times as many changes as there are live keys: the
/// walk back that a seek composes stays bounded however far into the replay (a base costs
/// about as much as that many deltas' worth of a few keys' changes).
const BASE_AFTER: usize = 4;

/// One step's states that changed since the previous keyframe, packed one after another.
pub(super) type StepDelta = PackedStates;

/// An automatic keyframe: where the run stood (clock, sources, timers, counters: the
/// keyframe's `states` left empty) and the states that changed since the one before.
#[derive(Debug)]
pub(super) struct DeltaFrame {
    /// What the snapshot list shows of it.
    pub info: SnapshotInfo,
    /// The run at this point, without its states.
    pub bare: Keyframe,
    /// Per step (document order): the states changed since the previous keyframe.
    pub delta: Vec<StepDelta>,
    /// Whether `delta` holds every live state (composing stops here).
    pub base: bool,
    /// Per step: the live keys at this point (composing stops once it has found them all).
    pub live: Vec<usize>,
    /// What the node previews showed here.
    pub previews: Vec<super::views::StepPreview>,
    /// Estimated bytes held.
    pub bytes: u64,
}

/// What is known of a key changed since the last keyframe.
#[derive(Debug, Clone)]
enum Since {
    /// Changed once: its state then is the packed entry, of this size (`None`: the key went).
    Once(Option<usize>),
    /// Changed again since: its state is read (by this key) at the next keyframe.
    Again(Key),
}

/// What a key's state's size is now, as [`Changed::sizes`] gives it.
#[derive(Debug, Clone, Copy)]
pub(super) enum SizeNow<'a> {
    /// Known without asking the engine (`None`: the key went).
    Known(Option<usize>),
    /// Changed again since it was packed: ask the engine for this key's state.
    Ask(&'a Key),
}

/// One step's keys changed since the last keyframe: each one's state at its first change,
/// packed while the engine had it at hand (rather than looked up cold at the next keyframe),
/// and which changed again since. Each key is hashed once, when it first changes (its text
/// is then at hand): the hash finds its entry here and its size in the [`StateLedger`], and
/// no copy of the key is kept but the packed one (a key changed again keeps its own).
#[derive(Debug, Default, Clone)]
pub(super) struct Changed {
    /// Each key's entry in `hashes`, `first` and `since`, by the key's hash.
    index: FxHashMap<u64, usize>,
    /// The entries of keys whose hash is another key's here (rare: 64-bit hashes).
    collided: FxHashMap<Key, usize>,
    hashes: Vec<u64>,
    first: PackedStates,
    since: Vec<Since>,
}

/// Packs `key`'s state at `step` as `engine` holds it now into `into` (gone if it has none);
/// its size (`None`: gone).
fn pack_current(into: &mut PackedStates, engine: &Engine, step: usize, key: &Key) -> Option<usize> {
    let size = engine.with_step_state(step, key, |state| {
        into.push(key, Some(state));
        size_of(key, state)
    });
    if size.is_none() {
        into.push(key, None);
    }
    size
}

impl Changed {
    /// Room for `keys` keys.
    fn with_room(keys: usize) -> Self {
        Changed {
            index: FxHashMap::with_capacity_and_hasher(keys, Default::default()),
            collided: FxHashMap::default(),
            hashes: Vec::with_capacity(keys),
            first: PackedStates::default(),
            since: Vec::with_capacity(keys),
        }
    }

    /// How many keys changed.
    pub fn len(&self) -> usize {
        self.since.len()
    }

    /// The keys changed, in the order they first changed.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.first.keys()
    }

    /// Each key changed (by its ledger hash, [`key_hash`]) with its state's size now.
    pub fn sizes(&self) -> impl Iterator<Item = (u64, SizeNow<'_>)> {
        self.hashes.iter().zip(&self.since).map(|(&hash, since)| match since {
            Since::Once(size) => (hash, SizeNow::Known(*size)),
            Since::Again(key) => (hash, SizeNow::Ask(key)),
        })
    }

    /// The entry of `key` (hashed `hash`), if it changed since the keyframe.
    fn entry_of(&self, hash: u64, key: &str) -> Option<usize> {
        let entry = *self.index.get(&hash)?;
        if self.first.get(entry).is_some_and(|(packed, _)| packed == key) {
            return Some(entry);
        }
        self.collided.get(key).copied()
    }

    /// `key` changed (`engine` just past the change, at `step`).
    fn touch(&mut self, step: usize, key: &Key, engine: &Engine) {
        let hash = key_hash(key);
        match self.entry_of(hash, key) {
            Some(entry) => {
                if let Some(since) = self.since.get_mut(entry) {
                    *since = Since::Again(key.clone());
                }
            }
            None => {
                let size = pack_current(&mut self.first, engine, step, key);
                self.add(hash, key, Since::Once(size));
            }
        }
    }

    /// `key` changed at some point, its state not known (it is read at the next keyframe).
    fn touch_unknown(&mut self, key: &str) {
        let hash = key_hash(key);
        if self.entry_of(hash, key).is_none() {
            let key = Key::from(key);
            self.first.push(&key, None);
            self.add(hash, &key, Since::Again(key.clone()));
        }
    }

    /// A key new since the keyframe, its entry in `first` just pushed.
    fn add(&mut self, hash: u64, key: &Key, since: Since) {
        let entry = self.since.len();
        match self.index.entry(hash) {
            // Another key has this hash: this one is found by its text.
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.clone(), entry);
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(entry);
            }
        }
        self.hashes.push(hash);
        self.since.push(since);
    }

    /// The changes as a keyframe keeps them, the states changed again read from `engine`
    /// (at `step`), each key's size recorded in `ledger`; `self` is left empty, its room kept.
    fn take(
        &mut self,
        step: usize,
        engine: &Engine,
        ledger: &mut StateLedger,
        scratch: &mut Scratch,
    ) -> StepDelta {
        let Scratch { delta, sizes } = scratch;
        delta.clear();
        sizes.clear();
        for (index, (&hash, since)) in self.hashes.iter().zip(&self.since).enumerate() {
            let size = match since {
                Since::Once(size) => {
                    delta.push_from(&self.first, index);
                    *size
                }
                Since::Again(key) => pack_current(delta, engine, step, key),
            };
            sizes.push((hash, size));
        }
        ledger.record_all(step, sizes);
        self.index.clear();
        self.collided.clear();
        self.hashes.clear();
        self.first.clear();
        self.since.clear();
        delta.exact_copy()
    }
}

/// Room reused from keyframe to keyframe: where a step's delta is packed before it is copied
/// into room of its exact size (growing a buffer leaves slack the allocator keeps even when
/// asked to shrink it), and its keys' sizes gathered for the ledger.
#[derive(Debug, Default)]
struct Scratch {
    delta: PackedStates,
    sizes: Vec<(u64, Option<usize>)>,
}

/// Which keys changed since the last keyframe, per step.
#[derive(Debug, Clone)]
enum Pending {
    /// These keys (per step).
    Keys(Vec<Changed>),
    /// Not known key by key: the next keyframe is a base.
    All,
}

/// No changes yet for `steps` steps, each with room for `room` keys (the last interval's).
fn no_changes(steps: usize, room: &[usize]) -> Pending {
    Pending::Keys((0..steps).map(|i| Changed::with_room(room.get(i).copied().unwrap_or(0))).collect())
}

/// A keyframe composed whole ([`Keyframes::compose`]).
pub(super) struct Composed {
    /// The run there, states included.
    pub keyframe: Keyframe,
    /// What the node previews showed there.
    pub previews: Vec<super::views::StepPreview>,
    /// What the snapshot list shows of it.
    pub info: SnapshotInfo,
    /// The sizes of its states, as recorded when they were packed.
    pub ledger: StateLedger,
}

/// The keyframes of one graph, and what changed since the last one the run passed.
#[derive(Debug)]
pub(super) struct Keyframes {
    frames: BTreeMap<u64, DeltaFrame>,
    pending: Pending,
    steps: usize,
    budget: u64,
    bytes: u64,
    /// Room reused by each keyframe.
    scratch: Scratch,
}

impl Keyframes {
    /// No keyframes, for a graph of `steps` steps, the run at its start (no state).
    pub fn new(steps: usize, budget: u64) -> Self {
        Keyframes {
            frames: BTreeMap::new(),
            pending: no_changes(steps, &[]),
            steps,
            budget,
            bytes: 0,
            scratch: Scratch::default(),
        }
    }

    /// Drops every keyframe; the run is at its start (no state).
    pub fn clear(&mut self, steps: usize) {
        let budget = self.budget;
        *self = Keyframes::new(steps, budget);
    }

    /// The budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Sets the budget (the caller thins the keyframes if they are over it now).
    pub fn set_budget(&mut self, budget: u64) {
        self.budget = budget.max(1);
    }

    /// Estimated bytes held by the keyframes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the keyframes are over their budget.
    pub fn over_budget(&self) -> bool {
        self.bytes > self.budget && self.frames.len() > 1
    }

    /// How many keyframes there are.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there is a keyframe at `position`.
    pub fn contains(&self, position: u64) -> bool {
        self.frames.contains_key(&position)
    }

    /// The keyframes' snapshot-list entries, by position.
    pub fn infos(&self) -> impl Iterator<Item = &SnapshotInfo> {
        self.frames.values().map(|f| &f.info)
    }

    /// The keyframe with this snapshot id.
    pub fn position_of(&self, id: u64) -> Option<u64> {
        self.frames.iter().find(|(_, f)| f.info.id == id).map(|(&p, _)| p)
    }

    /// The position of the last keyframe at or before `target`.
    pub fn nearest(&self, target: u64) -> Option<u64> {
        self.frames.range(..=target).next_back().map(|(&p, _)| p)
    }

    /// The keyframes in position order.
    pub fn frames(&self) -> impl Iterator<Item = (u64, &DeltaFrame)> {
        self.frames.iter().map(|(&p, f)| (p, f))
    }

    /// A state of `step` changed for `key` (the run moving forward, `engine` just past the
    /// change): the first change since the keyframe is packed now, while the state is at hand.
    pub fn touched(&mut self, step: usize, key: &Key, engine: &Engine) {
        if let Pending::Keys(steps) = &mut self.pending
            && let Some(keys) = steps.get_mut(step)
        {
            keys.touch(step, key, engine);
        }
    }

    /// The run stands at its start (no state): what changes next is relative to it.
    pub fn at_start(&mut self) {
        self.pending = no_changes(self.steps, &[]);
    }

    /// The run now stands exactly at the keyframe at `position` (restored there, or passing
    /// it again): what changes next is relative to it.
    pub fn passed(&mut self, position: u64) {
        if self.frames.contains_key(&position) {
            self.pending = no_changes(self.steps, &[]);
        }
    }

    /// The run stands somewhere whose changes since the last keyframe are unknown (restored
    /// from a manual snapshot, continued into a new graph): the next keyframe holds all.
    pub fn lost_track(&mut self) {
        self.pending = Pending::All;
    }

    /// The keys changed since the keyframe the run last passed, per step (`None`: not known
    /// key by key).
    pub fn changed_since(&self) -> Option<&[Changed]> {
        match &self.pending {
            Pending::Keys(steps) => Some(steps),
            Pending::All => None,
        }
    }

    /// Takes a keyframe at `position` of the engine as it stands (`stateful`: per step), the
    /// sizes of the states it holds recorded in `ledger` on the way; `info` gives its
    /// snapshot-list entry from the ledger then up to date.
    pub fn take(
        &mut self,
        position: u64,
        engine: &Engine,
        stateful: &[bool],
        previews: Vec<super::views::StepPreview>,
        ledger: &mut StateLedger,
        info: impl FnOnce(&StateLedger) -> SnapshotInfo,
    ) {
        if let Pending::Keys(steps) = &self.pending {
            let live: usize = (0..self.steps).map(|step| engine.step_key_count(step)).sum();
            if self.changes_back_to_base(position, steps) > BASE_AFTER * live.max(1) {
                self.pending = Pending::All;
            }
        }
        let scratch = &mut self.scratch;
        let (delta, base): (Vec<StepDelta>, bool) = match &mut self.pending {
            Pending::Keys(steps) => (
                steps
                    .iter_mut()
                    .enumerate()
                    .map(|(step, keys)| keys.take(step, engine, ledger, scratch))
                    .collect(),
                false,
            ),
            Pending::All => {
                let delta = (0..self.steps)
                    .map(|step| {
                        ledger.clear_step(step);
                        let delta = &mut scratch.delta;
                        delta.clear();
                        if stateful.get(step).copied().unwrap_or(false) {
                            engine.visit_step_states(step, &mut |key, state| {
                                ledger.record(step, key, Some(size_of(key, state)));
                                delta.push(key, Some(state));
                            });
                        }
                        delta.exact_copy()
                    })
                    .collect();
                self.pending = no_changes(self.steps, &[]);
                (delta, true)
            }
        };
        let info = info(ledger);
        let bare = engine.keyframe_without_states();
        let live = (0..self.steps).map(|step| engine.step_key_count(step)).collect();
        let bytes = frame_bytes(&delta, &bare, &previews);
        if let Some(old) = self.frames.remove(&position) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
        self.frames.insert(position, DeltaFrame { info, bare, delta, base, live, previews, bytes });
    }

    /// The changes composing a keyframe at `position` would read: `pending`'s, and the
    /// deltas of the keyframes before it back to the last base (included).
    fn changes_back_to_base(&self, position: u64, pending: &[Changed]) -> usize {
        let mut changes: usize = pending.iter().map(|keys| keys.len()).sum();
        for (_, frame) in self.frames.range(..position).rev() {
            changes += frame.delta.iter().map(|keys| keys.len()).sum::<usize>();
            if frame.base {
                break;
            }
        }
        changes
    }

    /// Drops the keyframes `keep` refuses, each merged into the next one (or, for the last,
    /// into what is pending when `current` is past it); the dropped snapshot ids.
    pub fn retain(&mut self, current: u64, mut keep: impl FnMut(u64) -> bool) -> Vec<u64> {
        let positions: Vec<u64> = self.frames.keys().copied().collect();
        let mut dropped = Vec::new();
        for (i, &position) in positions.iter().enumerate() {
            if keep(position) {
                continue;
            }
            let Some(frame) = self.frames.remove(&position) else { continue };
            self.bytes -= frame.bytes;
            dropped.push(frame.info.id);
            // The next keyframe (or what is pending, if the run is between the two) now has
            // this one's predecessor before it: it takes over the changes it did not repeat.
            let next = positions.get(i + 1).copied();
            if position <= current
                && next.is_none_or(|n| n > current)
                && let Pending::Keys(steps) = &mut self.pending
            {
                if frame.base {
                    self.pending = Pending::All;
                } else {
                    for (keys, delta) in steps.iter_mut().zip(&frame.delta) {
                        // Their states now are read at the next keyframe (unless changed since).
                        delta.keys().for_each(|key| keys.touch_unknown(key));
                    }
                }
            }
            if let Some(next) = next
                && let Some(successor) = self.frames.get_mut(&next)
                && !successor.base
            {
                self.bytes -= successor.bytes;
                for (into, delta) in successor.delta.iter_mut().zip(&frame.delta) {
                    *into = into.merged_over(delta, &mut self.scratch.delta);
                }
                successor.base |= frame.base;
                successor.bytes = frame_bytes(&successor.delta, &successor.bare, &successor.previews);
                self.bytes += successor.bytes;
            }
        }
        dropped
    }

    /// The whole keyframe at `position` (its states composed from the deltas back to a base
    /// or the start), with the previews there; `None` when there is no keyframe there.
    pub fn compose(&self, position: u64) -> Option<Composed> {
        let frame = self.frames.get(&position)?;
        // The newest change of each key, borrowed; only those are unpacked. A key whose newest
        // change is a state is live here: once as many as the keyframe's live keys are found,
        // every older change is of a key gone by now, and the walk stops.
        let mut seen: Vec<FxHashMap<&str, Option<Entry<'_>>>> = vec![FxHashMap::default(); self.steps];
        let mut found = vec![0usize; self.steps];
        for (_, older) in self.frames.range(..=position).rev() {
            for ((into, found), delta) in seen.iter_mut().zip(&mut found).zip(&older.delta) {
                // Newest first: a key's entry in a newer keyframe hides its older ones.
                delta.iter().for_each(|(key, entry)| {
                    if let std::collections::hash_map::Entry::Vacant(vacant) = into.entry(key) {
                        *found += usize::from(entry.is_live());
                        vacant.insert(entry.is_live().then_some(entry));
                    }
                });
            }
            if older.base || found.iter().zip(&frame.live).all(|(found, live)| found >= live) {
                break;
            }
        }
        let mut states = Vec::with_capacity(seen.len());
        let mut ledger = StateLedger::empty(self.steps);
        for (index, step) in seen.into_iter().enumerate() {
            // The order of the states does not matter: they are restored into a hash map.
            let live: Option<Vec<(Key, Dynamic)>> = step
                .into_iter()
                .filter_map(|(key, entry)| {
                    let value = entry?.value();
                    let key = Key::from(key);
                    if let Some(value) = &value {
                        ledger.record(index, &key, Some(size_of(&key, value)));
                    }
                    Some(value.map(|value| (key, value)))
                })
                .collect();
            states.push(live?);
        }
        let keyframe = Keyframe { states, ..frame.bare.clone() };
        Some(Composed { keyframe, previews: frame.previews.clone(), info: frame.info.clone(), ledger })
    }
}

/// Roughly the heap bytes a value holds (rhai maps are B-trees of nodes of 11 entries).
pub fn heap_bytes(value: &Dynamic) -> u64 {
    const DYNAMIC: u64 = 16;
    if let Some(array) = value.read_lock::<rhai::Array>() {
        24 + array.capacity() as u64 * DYNAMIC + array.iter().map(heap_bytes).sum::<u64>()
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        const NODE: u64 = 11 * (24 + DYNAMIC) + 16;
        let nodes = (map.len() as u64).div_ceil(11).max(1);
        let nodes = nodes + nodes / 8; // internal nodes
        24 + nodes * NODE
            + map
                .iter()
                .map(|(k, v)| if k.len() > 23 { k.len() as u64 } else { 0 } + heap_bytes(v))
                .sum::<u64>()
    } else if value.is_string() {
        32 + value.read_lock::<rhai::ImmutableString>().map_or(0, |s| s.len() as u64)
    } else {
        0
    }
}

/// A keyframe's estimated bytes: its states (with their keys and hash-map slots), timers,
/// counters, previews and the dropped items it keeps.
fn frame_bytes(delta: &[StepDelta], bare: &Keyframe, previews: &[super::views::StepPreview]) -> u64 {
    let states: u64 = delta.iter().map(PackedStates::heap_bytes).sum();
    let timers: u64 = bare.timers.iter().map(|t| 64 + t.step.len() as u64 + t.key.len() as u64).sum();
    let previews: u64 = previews
        .iter()
        .flat_map(|p| p.items_in.iter().chain(&p.items_out))
        .map(|item| 64 + heap_bytes(&item.value))
        .sum();
    let dropped: u64 = bare.drops.items().map(|d| 64 + heap_bytes(&d.item)).sum();
    256 + states + timers + previews + dropped + bare.stats.steps.len() as u64 * 16
}

#[cfg(test)]
mod tests {
    use super::{Changed, Since};
    use crate::ops::Key;

    /// Two keys whose hashes are equal are still told apart (the second is found by its
    /// text), and a key changed again is noted as such.
    #[test]
    fn changed_keys_with_one_hash_stay_apart() {
        let mut changed = Changed::default();
        for (key, size) in [("a", 1), ("b", 2)] {
            let key = Key::from(key);
            changed.first.push(&key, None);
            changed.add(7, &key, Since::Once(Some(size)));
        }
        assert_eq!(changed.entry_of(7, "a"), Some(0));
        assert_eq!(changed.entry_of(7, "b"), Some(1));
        assert_eq!(changed.entry_of(7, "c"), None);
        assert_eq!(changed.entry_of(8, "a"), None);
        assert_eq!(changed.keys().collect::<Vec<_>>(), ["a", "b"]);
        let sizes: Vec<String> = changed.sizes().map(|(hash, size)| format!("{hash} {size:?}")).collect();
        assert_eq!(sizes, ["7 Known(Some(1))", "7 Known(Some(2))"]);
    }
}
