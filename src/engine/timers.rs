//! Pending timers in their firing order: (due time, step position, key order).

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

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

/// Where a timer sits in the firing order: (due time, step position, key order). At most one
/// timer per (step, key) is armed, so no two armed timers share a place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    due: i64,
    position: usize,
    key: Key,
}

/// Every armed timer of a run; at most one per (step, key).
///
/// `ordered` holds the firing order with each timer's generation; `armed` finds a (step, key)'s
/// timer with one hash lookup. Re-arming at the same due time only renews the generation.
#[derive(Debug, Default, Clone)]
pub struct TimerWheel {
    ordered: BTreeMap<Place, u64>,
    armed: FxHashMap<(usize, Key), (i64, u64)>,
    next_generation: u64,
}

impl TimerWheel {
    /// Arms or re-arms the timer of (position, key).
    pub fn arm(&mut self, position: usize, key: &Key, due: i64) {
        self.next_generation += 1;
        let generation = self.next_generation;
        match self.armed.entry((position, key.clone())) {
            Entry::Occupied(mut slot) => {
                let (old_due, _) = std::mem::replace(slot.get_mut(), (due, generation));
                let old = Place { due: old_due, position, key: key.clone() };
                if old_due == due
                    && let Some(current) = self.ordered.get_mut(&old)
                {
                    *current = generation;
                    return;
                }
                self.ordered.remove(&old);
            }
            Entry::Vacant(slot) => {
                slot.insert((due, generation));
            }
        }
        self.ordered.insert(Place { due, position, key: key.clone() }, generation);
    }

    /// Cancels the timer of (position, key), if armed.
    pub fn cancel(&mut self, position: usize, key: &Key) {
        if let Some((due, _)) = self.armed.remove(&(position, key.clone())) {
            self.ordered.remove(&Place { due, position, key: key.clone() });
        }
    }

    /// The timers due at or before `clock`, in firing order (the set D of docs/time.md#when-timers-fire).
    pub fn due_up_to(&self, clock: i64) -> Vec<TimerEntry> {
        self.ordered.iter().take_while(|(place, _)| place.due <= clock).map(entry_of).collect()
    }

    /// Disarms `entry` if it is still armed as it was when taken; false if it was
    /// cancelled or re-armed since.
    pub fn take_if_current(&mut self, entry: &TimerEntry) -> bool {
        match self.armed.entry((entry.position, entry.key.clone())) {
            Entry::Occupied(slot) if *slot.get() == (entry.due, entry.generation) => {
                slot.remove();
                self.ordered.remove(&Place {
                    due: entry.due,
                    position: entry.position,
                    key: entry.key.clone(),
                });
                true
            }
            _ => false,
        }
    }

    /// Every pending timer in firing order.
    pub fn pending(&self) -> impl Iterator<Item = TimerEntry> + '_ {
        self.ordered.iter().map(entry_of)
    }

    /// The earliest due time, if any timer is armed.
    pub fn next_due(&self) -> Option<i64> {
        self.ordered.first_key_value().map(|(place, _)| place.due)
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

fn entry_of((place, generation): (&Place, &u64)) -> TimerEntry {
    TimerEntry { due: place.due, position: place.position, key: place.key.clone(), generation: *generation }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dues(wheel: &TimerWheel) -> Vec<(i64, usize, String)> {
        wheel.pending().map(|t| (t.due, t.position, t.key.to_string())).collect()
    }

    #[test]
    fn timers_are_ordered_by_due_then_position_then_key() {
        let mut wheel = TimerWheel::default();
        wheel.arm(1, &"b".into(), 5);
        wheel.arm(0, &"c".into(), 5);
        wheel.arm(1, &"a".into(), 5);
        wheel.arm(0, &"z".into(), 3);
        wheel.arm(0, &"c".into(), 7);
        assert_eq!(
            dues(&wheel),
            vec![(3, 0, "z".into()), (5, 1, "a".into()), (5, 1, "b".into()), (7, 0, "c".into())]
        );
        assert_eq!(wheel.next_due(), Some(3));
        wheel.cancel(0, &"z".into());
        assert_eq!(wheel.next_due(), Some(5));
        assert_eq!(wheel.len(), 3);
    }

    #[test]
    fn a_timer_rearmed_after_the_due_set_was_taken_is_skipped_even_at_the_same_due_time() {
        let mut wheel = TimerWheel::default();
        wheel.arm(0, &"a".into(), 5);
        wheel.arm(0, &"b".into(), 5);
        let due = wheel.due_up_to(5);
        assert_eq!(due.len(), 2);
        wheel.arm(0, &"b".into(), 5);
        assert!(wheel.take_if_current(&due[0]));
        assert!(!wheel.take_if_current(&due[1]));
        assert_eq!(dues(&wheel), vec![(5, 0, "b".into())]);
        let again = wheel.due_up_to(5);
        assert_eq!(again.len(), 1);
        assert!(wheel.take_if_current(&again[0]));
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_due(), None);
    }
}
