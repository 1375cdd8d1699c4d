//! The approximate size of each stateful step's state, kept key by key as of the last
//! keyframe (the keyframe's pass over the changed keys records their sizes, so that no other
//! pass over them is needed), and brought up to now on demand from the keys changed since.
//! Keys are told apart by a 64-bit hash of their text, not the text itself: a lookup then
//! touches the ledger's table only, not each key's text elsewhere in memory (a cache miss
//! per key per keyframe over a hundred thousand keys). Two keys of one step with the same
//! hash would share a size — the figure is an estimate either way.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rhai::Dynamic;

use super::keyframes::{Changed, SizeNow};
use crate::engine::Engine;
use crate::ops::Key;
use crate::value::approx_bytes;

/// Per step: each live key's approximate bytes and their sum.
#[derive(Debug, Default)]
pub(super) struct StateLedger {
    sizes: Vec<Sizes>,
    totals: Vec<usize>,
}

/// Each key's size by its [`key_hash`], which places it in the table as it is (it is a hash
/// already): the keys a keyframe records, taken in the order of their hashes' low bits
/// ([`StateLedger::record_all`]), then go through the table from one end to the other, not
/// back and forth (one cache miss per key, over a hundred thousand keys, otherwise).
type Sizes = HashMap<u64, usize, BuildHasherDefault<KeyHashIsHash>>;

/// The hasher of a table keyed by [`key_hash`]: the key as it is.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHashIsHash(u64);

impl Hasher for KeyHashIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`); any other input is folded in.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// The ledger's name for a key: a hash of its text (the keyframes' changed keys are found
/// by it too, so that a key is hashed once).
pub(super) fn key_hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(key)
}

/// A key's approximate bytes with this state.
pub(super) fn size_of(key: &Key, state: &Dynamic) -> usize {
    key.len() + approx_bytes(state)
}

/// A changed key's size now at `step` (`None`: the key went), asking `engine` when needed.
fn size_now(engine: &Engine, step: usize, size: SizeNow<'_>) -> Option<usize> {
    match size {
        SizeNow::Known(size) => size,
        SizeNow::Ask(key) => engine.with_step_state(step, key, |state| size_of(key, state)),
    }
}

impl StateLedger {
    /// The ledger of a run whose states are these (per step, document order).
    pub fn of_states(states: &[Vec<(Key, Dynamic)>]) -> Self {
        let mut ledger = StateLedger::empty(states.len());
        for (step, states) in states.iter().enumerate() {
            for (key, state) in states {
                ledger.record(step, key, Some(size_of(key, state)));
            }
        }
        ledger
    }

    /// The ledger of `engine`'s states now (`steps` steps), read where the engine holds them.
    pub fn of_engine(engine: &Engine, steps: usize) -> Self {
        let mut ledger = StateLedger::empty(steps);
        for step in 0..steps {
            engine.visit_step_states(step, &mut |key, state| {
                ledger.record(step, key, Some(size_of(key, state)))
            });
        }
        ledger
    }

    /// The ledger of a run with no state yet.
    pub fn empty(steps: usize) -> Self {
        StateLedger { sizes: vec![Sizes::default(); steps], totals: vec![0; steps] }
    }

    /// Forgets what `step` held (its states are all recorded again next).
    pub fn clear_step(&mut self, step: usize) {
        if let (Some(sizes), Some(total)) = (self.sizes.get_mut(step), self.totals.get_mut(step)) {
            sizes.clear();
            *total = 0;
        }
    }

    /// The state of `key` at `step` is now `size` bytes (`None`: the key went).
    pub fn record(&mut self, step: usize, key: &Key, size: Option<usize>) {
        self.record_hashed(step, key_hash(key), size);
    }

    /// [`StateLedger::record`] for the key whose [`key_hash`] is `hash`.
    pub fn record_hashed(&mut self, step: usize, hash: u64, size: Option<usize>) {
        let (Some(sizes), Some(total)) = (self.sizes.get_mut(step), self.totals.get_mut(step)) else {
            return;
        };
        match size {
            Some(size) => {
                let old = sizes.insert(hash, size).unwrap_or(0);
                *total = *total - old + size;
            }
            None => *total -= sizes.remove(&hash).unwrap_or(0),
        }
    }

    /// [`StateLedger::record_hashed`] for each of `changes` (key hash, size) at `step`, in the
    /// order of the table's slots (`changes` is sorted so, then emptied).
    pub fn record_all(&mut self, step: usize, changes: &mut Vec<(u64, Option<usize>)>) {
        // A table of 2^n slots places a hash by its n low bits: sorted by the bits reversed,
        // the keys come in slot order whatever the table's size.
        changes.sort_unstable_by_key(|&(hash, _)| hash.reverse_bits());
        for (hash, size) in changes.drain(..) {
            self.record_hashed(step, hash, size);
        }
    }

    /// Records the states now of the keys changed since (`changed`, per step; `None`: not
    /// known, every state is recorded again): the run passes a keyframe it has already.
    pub fn catch_up(&mut self, engine: &Engine, changed: Option<&[Changed]>) {
        let Some(changed) = changed else {
            *self = StateLedger::of_engine(engine, self.sizes.len());
            return;
        };
        for (step, keys) in changed.iter().enumerate() {
            // Each key on its own: the order does not matter.
            let mut changes: Vec<_> =
                keys.sizes().map(|(hash, size)| (hash, size_now(engine, step, size))).collect();
            self.record_all(step, &mut changes);
        }
    }

    /// Each step's approximate bytes now: as recorded, with the keys changed since
    /// (`changed`, per step; `None`: not known, the recorded figures are given) looked up in
    /// the engine.
    pub fn totals_now(&self, engine: &Engine, changed: Option<&[Changed]>) -> Vec<usize> {
        let mut totals = self.totals.clone();
        let Some(changed) = changed else { return totals };
        for (step, keys) in changed.iter().enumerate() {
            let (Some(sizes), Some(total)) = (self.sizes.get(step), totals.get_mut(step)) else { continue };
            // Sums: the order of the keys does not matter.
            keys.sizes().for_each(|(hash, size)| {
                let now = size_now(engine, step, size).unwrap_or(0);
                *total = *total - sizes.get(&hash).copied().unwrap_or(0) + now;
            });
        }
        totals
    }
}
