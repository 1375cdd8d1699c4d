//! The approximate size of each stateful step's state, kept up to date key by key (the keys
//! the run touched since the last look), so that sampling it never walks every key.

use rhai::Dynamic;
use rustc_hash::{FxHashMap, FxHashSet};

use super::playback::approx_bytes;
use crate::engine::Engine;
use crate::ops::Key;

/// Per step: each live key's approximate bytes and their sum, and the keys touched since.
#[derive(Debug, Default)]
pub(super) struct StateLedger {
    sizes: Vec<FxHashMap<Key, usize>>,
    totals: Vec<usize>,
    dirty: Vec<FxHashSet<Key>>,
}

impl StateLedger {
    /// The ledger of a run whose states are these (per step, document order).
    pub fn of_states(states: &[Vec<(Key, Dynamic)>]) -> Self {
        let mut ledger = StateLedger::empty(states.len());
        for (step, states) in states.iter().enumerate() {
            for (key, state) in states {
                let size = key.len() + approx_bytes(state);
                ledger.sizes[step].insert(key.clone(), size);
                ledger.totals[step] += size;
            }
        }
        ledger
    }

    /// The ledger of a run with no state yet.
    pub fn empty(steps: usize) -> Self {
        StateLedger {
            sizes: vec![FxHashMap::default(); steps],
            totals: vec![0; steps],
            dirty: vec![FxHashSet::default(); steps],
        }
    }

    /// The state of `key` at `step` may have changed.
    pub fn touched(&mut self, step: usize, key: &Key) {
        if let Some(dirty) = self.dirty.get_mut(step)
            && !dirty.contains(key)
        {
            dirty.insert(key.clone());
        }
    }

    /// Each step's approximate bytes now, the touched keys looked up in the engine.
    pub fn totals(&mut self, engine: &Engine) -> &[usize] {
        for (step, dirty) in self.dirty.iter_mut().enumerate() {
            let (sizes, total) = (&mut self.sizes[step], &mut self.totals[step]);
            // Sums: the order of the keys does not matter.
            dirty.drain().for_each(|key| {
                let size = engine.with_step_state(step, &key, |state| key.len() + approx_bytes(state));
                if let Some(old) = sizes.remove(&key) {
                    *total -= old;
                }
                if let Some(size) = size {
                    sizes.insert(key, size);
                    *total += size;
                }
            });
        }
        &self.totals
    }
}
