//! The approximate size of each stateful step's state, kept key by key as of the last
//! keyframe (the keyframe's pass over the changed keys records their sizes, so that no other
//! pass over them is needed), and brought up to now on demand from the keys changed since.
//! Keys are told apart by a 64-bit hash of their text, not the text itself: a lookup then
//! touches the ledger's table only, not each key's text elsewhere in memory (a cache miss
//! per key per keyframe over a hundred thousand keys). Two keys of one step with the same
//! hash would share a size — the figure is an estimate either way.

use rhai::Dynamic;
use rustc_hash::FxHashMap;

use super::keyframes::Changed;
use crate::engine::Engine;
use crate::ops::Key;
use crate::value::approx_bytes;

/// Per step: each live key's approximate bytes and their sum.
#[derive(Debug, Default)]
pub(super) struct StateLedger {
    sizes: Vec<FxHashMap<u64, usize>>,
    totals: Vec<usize>,
}

/// The ledger's name for a key: a hash of its text.
fn key_hash(key: &Key) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(key.as_str())
}

/// A key's approximate bytes with this state.
pub(super) fn size_of(key: &Key, state: &Dynamic) -> usize {
    key.len() + approx_bytes(state)
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
        StateLedger { sizes: vec![FxHashMap::default(); steps], totals: vec![0; steps] }
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
        let (Some(sizes), Some(total)) = (self.sizes.get_mut(step), self.totals.get_mut(step)) else {
            return;
        };
        match size {
            Some(size) => {
                let old = sizes.insert(key_hash(key), size).unwrap_or(0);
                *total = *total - old + size;
            }
            None => *total -= sizes.remove(&key_hash(key)).unwrap_or(0),
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
            keys.sizes().for_each(|(key, size)| {
                let size =
                    size.unwrap_or_else(|| engine.with_step_state(step, key, |state| size_of(key, state)));
                self.record(step, key, size);
            });
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
            keys.sizes().for_each(|(key, size)| {
                let now = size
                    .unwrap_or_else(|| engine.with_step_state(step, key, |state| size_of(key, state)))
                    .unwrap_or(0);
                *total = *total - sizes.get(&key_hash(key)).copied().unwrap_or(0) + now;
            });
        }
        totals
    }
}
