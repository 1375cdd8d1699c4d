//! Pending timers in their firing order: (due time, step position, key order).

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::trace::{TraceEvent, TraceKind};
use crate::ops::{Key, Timers};

/// A timer as the firing order sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerEntry {
    /// When it is due (microseconds since the epoch).
    pub due: i64,
    /// The step's position in the topological order.
    pub position: usize,
    /// The key.
    pub key: Key,
    /// Which arming this is: a timer re-armed after the due set was taken is skipped.
    pub generation: u64,
}

/// Every armed timer of a run; at most one per (step, key).
#[derive(Debug, Default, Clone)]
pub struct TimerWheel {
    ordered: BTreeSet<TimerEntry>,
    armed: FxHashMap<(usize, Key), (i64, u64)>,
    next_generation: u64,
}

impl TimerWheel {
    /// Arms or re-arms the timer of (position, key).
    pub fn arm(&mut self, position: usize, key: &Key, due: i64) {
        self.cancel(position, key);
        self.next_generation += 1;
        let generation = self.next_generation;
        self.armed.insert((position, key.clone()), (due, generation));
        self.ordered.insert(TimerEntry { due, position, key: key.clone(), generation });
    }

    /// Cancels the timer of (position, key), if armed.
    pub fn cancel(&mut self, position: usize, key: &Key) {
        if let Some((due, generation)) = self.armed.remove(&(position, key.clone())) {
            self.ordered.remove(&TimerEntry { due, position, key: key.clone(), generation });
        }
    }

    /// The timers due at or before `clock`, in firing order (the set D of docs/time.md#when-timers-fire).
    pub fn due_up_to(&self, clock: i64) -> Vec<TimerEntry> {
        self.ordered.iter().take_while(|t| t.due <= clock).cloned().collect()
    }

    /// Disarms `entry` if it is still armed as it was when taken; false if it was
    /// cancelled or re-armed since.
    pub fn take_if_current(&mut self, entry: &TimerEntry) -> bool {
        let slot = (entry.position, entry.key.clone());
        if self.armed.get(&slot) == Some(&(entry.due, entry.generation)) {
            self.armed.remove(&slot);
            self.ordered.remove(entry);
            true
        } else {
            false
        }
    }

    /// Every pending timer in firing order.
    pub fn pending(&self) -> impl Iterator<Item = &TimerEntry> {
        self.ordered.iter()
    }

    /// The earliest due time, if any timer is armed.
    pub fn next_due(&self) -> Option<i64> {
        self.ordered.first().map(|t| t.due)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.ordered.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }
}

/// One step's view of the wheel, handed to its operator.
pub struct StepTimers<'a> {
    /// The wheel.
    pub wheel: &'a mut TimerWheel,
    /// The step's position.
    pub position: usize,
    /// The step's index (for the trace).
    pub step: usize,
    /// The engine's trace, when tracing is on.
    pub trace: Option<&'a mut Vec<TraceEvent>>,
}

impl Timers for StepTimers<'_> {
    fn arm(&mut self, key: &Key, due: i64) {
        self.wheel.arm(self.position, key, due);
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent {
                step: self.step,
                kind: TraceKind::TimerSet { key: key.clone(), due: Some(due) },
            });
        }
    }

    fn cancel(&mut self, key: &Key) {
        self.wheel.cancel(self.position, key);
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent {
                step: self.step,
                kind: TraceKind::TimerSet { key: key.clone(), due: None },
            });
        }
    }
}
