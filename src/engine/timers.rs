//! Pending timers in their firing order: (due time, step position, key order).
//!
//! A (step, key)'s timer is re-armed on nearly every item of a `stateful` session (its due
//! time moves later each time), so re-arming must not reorder anything. Each armed timer has a
//! slot holding its current due time and generation (what decides whether it is pending, and
//! what [`TimerWheel::pending`] lists), found by step and key through a hash map, or directly
//! through a [`TimerHandle`] the step keeps with the key's state. A queue (a min-heap of the
//! next second's entries and unordered buckets of later ones, `time_queue.rs`) holds, for each
//! armed timer, one entry at or before its due time, and may hold stale entries of timers
//! since cancelled or moved earlier. Moving a timer later only changes its slot; when its
//! queue entry comes up, the entry is put back at the current due time. Stale entries are
//! dropped as they come up, and the queue is rebuilt when they outnumber the armed timers.

use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use super::time_queue::{Due, TimeQueue};
use super::trace::{TraceEvent, TraceKind};
use crate::ops::{Key, TimerHandle, Timers};

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

/// A queue entry: a place in the firing order (due time, step position, key order), at or
/// before the due time of the timer in `slot`, unless stale (the slot has another tenant, or
/// its timer is queued elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    due: i64,
    position: usize,
    key: Key,
    slot: u32,
    tenancy: u64,
}

impl Due for Queued {
    fn due(&self) -> i64 {
        self.due
    }
}

/// Tenancies of slots, unique in the process, so that a handle never finds another timer.
static NEXT_TENANCY: AtomicU64 = AtomicU64::new(1);

/// One armed timer, or a free slot (`tenancy` 0).
#[derive(Debug, Clone)]
struct Slot {
    /// Which arming of a (step, key) holds the slot; 0 while it is free.
    tenancy: u64,
    /// When it is due.
    due: i64,
    /// Which arming this is.
    generation: u64,
    /// The due time of its entry in the queue (at or before `due`); `None` while it is in a due
    /// set taken by [`TimerWheel::due_up_to`] and not yet fired, skipped or re-armed.
    queued: Option<i64>,
    position: usize,
    key: Key,
}

/// Every armed timer of a run; at most one per (step, key).
#[derive(Debug, Default, Clone)]
pub struct TimerWheel {
    /// The armed timers' slots by step position, then key.
    index: Vec<FxHashMap<Key, u32>>,
    /// The slots, armed and free.
    slots: Vec<Slot>,
    /// The free slots.
    free: Vec<u32>,
    /// How many timers are armed.
    count: usize,
    /// The queue: one entry per armed timer (except those in a due set), plus stale ones.
    queue: TimeQueue<Queued>,
    /// How many of the queue's entries are stale.
    stale: usize,
    /// How many timers of the last due set have not yet been taken or skipped: when the next
    /// due set is taken while some remain (the firing stopped on an error), they go back to
    /// the queue first.
    unresolved: usize,
    next_generation: u64,
    /// How many times the queue was rebuilt (for the tests).
    #[cfg(test)]
    rebuilds: usize,
}

impl TimerWheel {
    /// Arms or re-arms the timer of (position, key).
    pub fn arm(&mut self, position: usize, key: &Key, due: i64) {
        let mut handle = TimerHandle::default();
        self.arm_with(position, key, due, &mut handle);
    }

    /// Arms or re-arms the timer of (position, key), found through `handle` when it still
    /// names it (no hash look-up), else by step and key; `handle` then names it.
    pub fn arm_with(&mut self, position: usize, key: &Key, due: i64, handle: &mut TimerHandle) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let slot = match self.held(handle) {
            Some(slot) => slot,
            None => {
                let slot = self.slot_of(position, key);
                *handle = TimerHandle { slot, tenancy: self.slots[slot as usize].tenancy };
                slot
            }
        };
        let armed = &mut self.slots[slot as usize];
        armed.due = due;
        armed.generation = generation;
        match armed.queued {
            // Its queue entry is at or before the new due time: it stays as it is.
            Some(queued) if queued <= due => return,
            Some(_) => self.stale += 1,
            None => {}
        }
        armed.queued = Some(due);
        let tenancy = armed.tenancy;
        self.queue.push(Queued { due, position, key: key.clone(), slot, tenancy });
        self.compact_if_stale();
    }

    /// The slot `handle` names, if it still holds that timer.
    fn held(&self, handle: &TimerHandle) -> Option<u32> {
        let slot = self.slots.get(handle.slot as usize)?;
        (handle.tenancy != 0 && slot.tenancy == handle.tenancy).then_some(handle.slot)
    }

    /// The slot of (position, key)'s timer; a new one, not queued, if it is not armed.
    fn slot_of(&mut self, position: usize, key: &Key) -> u32 {
        if self.index.len() <= position {
            self.index.resize_with(position + 1, FxHashMap::default);
        }
        if let Some(&slot) = self.index[position].get(key) {
            return slot;
        }
        let tenancy = NEXT_TENANCY.fetch_add(1, Ordering::Relaxed);
        let tenant = Slot { tenancy, due: 0, generation: 0, queued: None, position, key: key.clone() };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = tenant;
                slot
            }
            None => {
                self.slots.push(tenant);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.index[position].insert(key.clone(), slot);
        self.count += 1;
        slot
    }

    /// Frees `slot` (its timer is disarmed); its queue entry, if any, becomes stale.
    fn release(&mut self, slot: u32) {
        let freed = &mut self.slots[slot as usize];
        if let Some(timers) = self.index.get_mut(freed.position) {
            timers.remove(&freed.key);
        }
        if freed.queued.is_some() {
            self.stale += 1;
        }
        freed.tenancy = 0;
        freed.queued = None;
        freed.key = Key::default();
        self.free.push(slot);
        self.count -= 1;
    }

    /// Cancels the timer of (position, key), if armed.
    pub fn cancel(&mut self, position: usize, key: &Key) {
        if let Some(&slot) = self.index.get(position).and_then(|timers| timers.get(key)) {
            self.release(slot);
            self.compact_if_stale();
        }
    }

    /// The timers due at or before `clock`, in firing order (the set D of
    /// docs/time.md#when-timers-fire). They stay armed until [`Self::take_if_current`] takes
    /// them; one cancelled or re-armed before then is skipped there.
    pub fn due_up_to(&mut self, clock: i64) -> Vec<TimerEntry> {
        if self.unresolved > 0 {
            self.requeue_due_set();
        }
        let mut due_set = Vec::new();
        while let Some(top) = self.queue.peek()
            && top.due <= clock
        {
            let Some(entry) = self.queue.pop() else { break };
            let Some(armed) = self.current(&entry) else {
                self.stale -= 1;
                continue;
            };
            if armed.due == entry.due {
                armed.queued = None;
                let generation = armed.generation;
                due_set.push(TimerEntry {
                    due: entry.due,
                    position: entry.position,
                    key: entry.key,
                    generation,
                });
            } else {
                // Moved later since it was queued: back in the queue at its due time, which
                // may still be at or before the clock (it then comes up again in its place).
                armed.queued = Some(armed.due);
                let due = armed.due;
                self.queue.push(Queued { due, ..entry });
            }
        }
        self.unresolved = due_set.len();
        due_set
    }

    /// Disarms `entry` (of the last [`Self::due_up_to`]) if it is still armed as it was when
    /// taken; false if it was cancelled or re-armed since.
    pub fn take_if_current(&mut self, entry: &TimerEntry) -> bool {
        self.unresolved = self.unresolved.saturating_sub(1);
        let Some(&slot) = self.index.get(entry.position).and_then(|timers| timers.get(&entry.key)) else {
            return false;
        };
        let armed = &self.slots[slot as usize];
        if armed.due == entry.due && armed.generation == entry.generation {
            self.release(slot);
            true
        } else {
            false
        }
    }

    /// Every pending timer in firing order.
    pub fn pending(&self) -> impl Iterator<Item = TimerEntry> + '_ {
        let mut entries = self.entries();
        entries.sort_unstable();
        entries.into_iter()
    }

    /// The first `n` pending timers in firing order (without ordering the others).
    pub fn first_pending(&self, n: usize) -> Vec<TimerEntry> {
        let mut entries = self.entries();
        if n == 0 {
            return Vec::new();
        }
        if entries.len() > n {
            entries.select_nth_unstable(n - 1);
            entries.truncate(n);
        }
        entries.sort_unstable();
        entries
    }

    /// The earliest due time, if any timer is armed.
    pub fn next_due(&mut self) -> Option<i64> {
        if self.unresolved > 0 {
            self.requeue_due_set();
        }
        loop {
            let top = self.queue.peek()?;
            let armed = &self.slots[top.slot as usize];
            if armed.tenancy == top.tenancy && armed.queued == Some(top.due) && armed.due == top.due {
                return Some(top.due);
            }
            let entry = self.queue.pop()?;
            match self.current(&entry) {
                None => self.stale -= 1,
                Some(armed) => {
                    armed.queued = Some(armed.due);
                    let due = armed.due;
                    self.queue.push(Queued { due, ..entry });
                }
            }
        }
    }

    /// Whether a timer may be due at `clock`: false means none is (a check without a lookup,
    /// for every event; true may be answered by an empty [`Self::due_up_to`]).
    pub fn may_be_due(&self, clock: i64) -> bool {
        self.unresolved > 0 || self.queue.earliest_bound().is_some_and(|due| due <= clock)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The armed timer a queue entry stands for, or `None` when the entry is stale.
    fn current(&mut self, entry: &Queued) -> Option<&mut Slot> {
        let armed = &mut self.slots[entry.slot as usize];
        (armed.tenancy == entry.tenancy && armed.queued == Some(entry.due)).then_some(armed)
    }

    /// The armed slots.
    fn armed(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|slot| slot.tenancy != 0)
    }

    /// Every armed timer, in no order.
    fn entries(&self) -> Vec<TimerEntry> {
        let mut entries = Vec::with_capacity(self.count);
        entries.extend(self.armed().map(|armed| TimerEntry {
            due: armed.due,
            position: armed.position,
            key: armed.key.clone(),
            generation: armed.generation,
        }));
        entries
    }

    /// Puts back in the queue the timers of a due set that was not fired to its end.
    fn requeue_due_set(&mut self) {
        self.unresolved = 0;
        self.requeue(|armed| armed.queued.is_none());
    }

    /// Puts back in the queue at its due time every armed timer `which` selects.
    fn requeue(&mut self, which: impl Fn(&Slot) -> bool) {
        let mut back = Vec::new();
        for (slot, armed) in self.slots.iter_mut().enumerate() {
            if armed.tenancy != 0 && which(armed) {
                armed.queued = Some(armed.due);
                back.push(Queued {
                    due: armed.due,
                    position: armed.position,
                    key: armed.key.clone(),
                    slot: u32::try_from(slot).unwrap_or(u32::MAX),
                    tenancy: armed.tenancy,
                });
            }
        }
        self.queue.extend(back);
    }

    /// Rebuilds the queue without its stale entries when they outnumber the armed timers.
    fn compact_if_stale(&mut self) {
        if self.stale <= self.count + 64 {
            return;
        }
        self.queue.clear();
        self.stale = 0;
        self.requeue(|armed| armed.queued.is_some());
        #[cfg(test)]
        {
            self.rebuilds += 1;
        }
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

    fn arm_with(&mut self, key: &Key, due: i64, handle: &mut TimerHandle) {
        self.wheel.arm_with(self.position, key, due, handle);
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
    use std::collections::BTreeMap;

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

    #[test]
    fn a_timer_moved_later_fires_at_its_new_time_in_its_new_place() {
        let mut wheel = TimerWheel::default();
        wheel.arm(0, &"a".into(), 5);
        wheel.arm(0, &"b".into(), 6);
        wheel.arm(0, &"a".into(), 8);
        wheel.arm(1, &"c".into(), 8);
        assert_eq!(wheel.next_due(), Some(6));
        let due: Vec<_> = wheel.due_up_to(7).into_iter().map(|t| (t.due, t.key.to_string())).collect();
        assert_eq!(due, vec![(6, "b".to_string())]);
        let due: Vec<_> =
            wheel.due_up_to(9).into_iter().map(|t| (t.due, t.position, t.key.to_string())).collect();
        assert_eq!(due, vec![(6, 0, "b".into()), (8, 0, "a".into()), (8, 1, "c".into())]);
    }

    #[test]
    fn a_due_set_not_fired_to_its_end_goes_back_to_the_queue() {
        let mut wheel = TimerWheel::default();
        wheel.arm(0, &"a".into(), 5);
        wheel.arm(0, &"b".into(), 5);
        let due = wheel.due_up_to(5);
        assert!(wheel.take_if_current(&due[0]));
        // The firing stopped here (an error); "b" is still armed and due.
        assert!(wheel.may_be_due(5));
        assert_eq!(wheel.next_due(), Some(5));
        let again = wheel.due_up_to(5);
        assert_eq!(again.iter().map(|t| t.key.to_string()).collect::<Vec<_>>(), vec!["b".to_string()]);
    }

    /// The wheel as it was (an ordered tree of every armed timer), to compare against.
    #[derive(Default)]
    struct Reference {
        armed: BTreeMap<(usize, String), (i64, u64)>,
        generation: u64,
    }

    impl Reference {
        fn arm(&mut self, position: usize, key: &str, due: i64) {
            self.generation += 1;
            self.armed.insert((position, key.to_string()), (due, self.generation));
        }

        fn cancel(&mut self, position: usize, key: &str) {
            self.armed.remove(&(position, key.to_string()));
        }

        fn pending(&self) -> Vec<(i64, usize, String, u64)> {
            let mut all: Vec<_> = self.armed.iter().map(|((p, k), (d, g))| (*d, *p, k.clone(), *g)).collect();
            all.sort();
            all
        }

        fn take_if_current(&mut self, entry: &(i64, usize, String, u64)) -> bool {
            let place = (entry.1, entry.2.clone());
            if self.armed.get(&place) == Some(&(entry.0, entry.3)) {
                self.armed.remove(&place);
                true
            } else {
                false
            }
        }
    }

    fn listed(entries: impl IntoIterator<Item = TimerEntry>) -> Vec<(i64, usize, String, u64)> {
        entries.into_iter().map(|t| (t.due, t.position, t.key.to_string(), t.generation)).collect()
    }

    /// Random arms (later, earlier, the same due time), cancels, due sets taken and fired
    /// with arms and cancels in between, over few keys, steps and due times so that they tie:
    /// the wheel and the reference give the same due sets, takes and pending lists.
    #[test]
    fn random_rearms_and_cancels_give_what_an_ordered_tree_gives() {
        let mut next = super::super::time_queue::xorshift(0x2545_f491_4f6c_dd1d);
        let mut rebuilds = 0;
        for round in 0..40 {
            let mut wheel = TimerWheel::default();
            let mut reference = Reference::default();
            let mut clock = 0_i64;
            let mut handles: BTreeMap<(usize, String), TimerHandle> = BTreeMap::new();
            let keys = 1 + round % 12;
            // Due times a few microseconds apart, or a few tenths of a second (across buckets).
            let unit: i64 = if round % 2 == 0 { 1 } else { 300_000 };
            for _ in 0..3000 {
                let position = usize::try_from(next(3)).unwrap_or(0);
                let key = format!("k{}", next(keys as u64));
                match next(10) {
                    0..=4 => {
                        // Now and then far ahead, so that stale entries pile up in the queue.
                        let far = if next(8) == 0 { 100_000 } else { 0 };
                        let due = clock + (i64::try_from(next(20)).unwrap_or(0) - 3 + far) * unit;
                        // As a step that keeps its keys' handles does, or by key.
                        if next(2) == 0 {
                            let handle = handles.entry((position, key.clone())).or_default();
                            wheel.arm_with(position, &key.as_str().into(), due, handle);
                        } else {
                            wheel.arm(position, &key.as_str().into(), due);
                        }
                        reference.arm(position, &key, due);
                    }
                    5 | 6 => {
                        wheel.cancel(position, &key.as_str().into());
                        reference.cancel(position, &key);
                    }
                    7 => assert_eq!(wheel.next_due(), reference.pending().first().map(|t| t.0)),
                    _ => {
                        clock += i64::try_from(next(6)).unwrap_or(0) * unit;
                        let due = listed(wheel.due_up_to(clock));
                        let expected: Vec<_> =
                            reference.pending().into_iter().take_while(|t| t.0 <= clock).collect();
                        assert_eq!(due, expected);
                        for entry in &due {
                            // What a fired timer's step and the steps after it may do.
                            for _ in 0..next(3) {
                                let position = usize::try_from(next(3)).unwrap_or(0);
                                let key = format!("k{}", next(keys as u64));
                                if next(3) == 0 {
                                    wheel.cancel(position, &key.as_str().into());
                                    reference.cancel(position, &key);
                                } else {
                                    let due = clock + (i64::try_from(next(8)).unwrap_or(0) - 2) * unit;
                                    let handle = handles.entry((position, key.clone())).or_default();
                                    wheel.arm_with(position, &key.as_str().into(), due, handle);
                                    reference.arm(position, &key, due);
                                }
                            }
                            let timer = TimerEntry {
                                due: entry.0,
                                position: entry.1,
                                key: entry.2.as_str().into(),
                                generation: entry.3,
                            };
                            assert_eq!(wheel.take_if_current(&timer), reference.take_if_current(entry));
                        }
                    }
                }
                assert_eq!(listed(wheel.pending()), reference.pending());
                assert_eq!(wheel.len(), reference.armed.len());
                let first = reference.pending().into_iter().take(3).collect::<Vec<_>>();
                assert_eq!(listed(wheel.first_pending(3)), first);
            }
            assert!(wheel.queue.len() - wheel.stale <= wheel.len(), "one live entry per armed timer");
            assert!(wheel.stale <= 2 * keys * 3 + 64, "stale entries are dropped");
            rebuilds += wheel.rebuilds;
        }
        assert!(rebuilds > 0, "the queue was rebuilt");
    }
}
