//! The dropped-items ledger (docs/ledger.md): every item that leaves the pipeline without
//! reaching a sink, counted per step and reason, and — when recording is on — kept with its
//! key, its event and the item itself.
//!
//! Operators report their drops through [`OpContext::drops`](super::OpContext); the engine
//! reports the ones it sees itself (an output nothing reads, a bad row, a timer pending when
//! the run ends). A drop costs a counter's increment and one branch on whether items are
//! recorded; an item that passes costs nothing.

use std::collections::VecDeque;

use rhai::Dynamic;

use super::Key;

/// Why an item left the pipeline without reaching a sink (docs/ledger.md#reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// A `filter`/`filter_value` predicate said false, a `filter_map` returned `()`, a
    /// `flat_map`/`flat_map_value` returned an empty array.
    Filtered,
    /// An output of a step that no step or sink reads.
    NoSink,
    /// A `join` key in `complete` mode whose sides never all matched by end of input.
    Unmatched,
    /// A `stateful`/`stateful_batch` key DISCARDed: the state it held is dropped with it.
    Discarded,
    /// A bad row a source skipped or dead-lettered.
    BadRow,
    /// A timer still pending when the run ended (it never fires).
    PendingTimer,
}

impl DropReason {
    /// Every reason, in the order counts are listed.
    pub const ALL: [DropReason; 6] = [
        DropReason::Filtered,
        DropReason::NoSink,
        DropReason::Unmatched,
        DropReason::Discarded,
        DropReason::BadRow,
        DropReason::PendingTimer,
    ];

    /// The reason's name in the ledger file, the summary and the workbench.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Filtered => "filtered",
            DropReason::NoSink => "no_sink",
            DropReason::Unmatched => "unmatched",
            DropReason::Discarded => "discarded",
            DropReason::BadRow => "bad_row",
            DropReason::PendingTimer => "pending_timer",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where an item was dropped: a step (by index into the document's `steps`) or, for a bad
/// row, a source (by index into `sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropSite {
    /// A step.
    Step(usize),
    /// A source (bad rows).
    Source(usize),
}

/// One dropped item, as recorded.
#[derive(Debug, Clone)]
pub struct Dropped {
    /// Where it was dropped.
    pub site: DropSite,
    /// Why.
    pub reason: DropReason,
    /// Its key, on a keyed stream (or the key of the state or timer dropped).
    pub key: Option<Key>,
    /// The run's step in which it was dropped: step `n` takes the `n`-th source event (with
    /// the timers it makes due and the rows read before it); end of input is the step after
    /// the last event (docs/ledger.md#event-positions).
    pub event: u64,
    /// The item (for a discarded key, its state; for a timer, when it was due; for a bad
    /// row, its line, column, reason and text).
    pub item: Dynamic,
}

/// The ledger of one run: counts per step and reason, always; the items themselves when
/// recording ([`DropLedger::record_items`]), the latest `keep` of them.
#[derive(Debug, Clone, Default)]
pub struct DropLedger {
    /// Per step, per reason.
    step_counts: Vec<[u64; 6]>,
    /// Per source: bad rows recorded (only while recording items: the sources count their
    /// bad rows themselves).
    source_counts: Vec<u64>,
    /// The items recorded, oldest first, when recording.
    items: Option<VecDeque<Dropped>>,
    /// Items kept at most (the oldest leave first).
    keep: usize,
    /// The step whose call is running (set by the engine before each operator call).
    pub(crate) step: usize,
    /// The run's step being processed (set by the engine at each step).
    pub(crate) event: u64,
}

impl DropLedger {
    /// A ledger that counts, for `steps` steps and `sources` sources.
    pub fn new(steps: usize, sources: usize) -> Self {
        DropLedger {
            step_counts: vec![[0; 6]; steps],
            source_counts: vec![0; sources],
            items: None,
            keep: 0,
            step: 0,
            event: 0,
        }
    }

    /// Records the items too from now on, keeping the latest `keep` (`usize::MAX`: all,
    /// for a reader that takes them as they come, [`DropLedger::take_items`]).
    pub fn record_items(&mut self, keep: usize) {
        self.keep = keep;
        self.items.get_or_insert_with(VecDeque::new);
    }

    /// Whether items are recorded.
    pub fn is_recording(&self) -> bool {
        self.items.is_some()
    }

    /// Records one drop at the step whose call is running. `item` is only made when items
    /// are recorded.
    #[inline]
    pub fn drop_item(&mut self, reason: DropReason, key: Option<&Key>, item: impl FnOnce() -> Dynamic) {
        let step = self.step;
        self.drop_at(DropSite::Step(step), reason, key, item);
    }

    /// Records one drop at `site`.
    #[inline]
    pub fn drop_at(
        &mut self,
        site: DropSite,
        reason: DropReason,
        key: Option<&Key>,
        item: impl FnOnce() -> Dynamic,
    ) {
        match site {
            DropSite::Step(step) => {
                if let Some(counts) = self.step_counts.get_mut(step) {
                    counts[reason.index()] += 1;
                }
            }
            DropSite::Source(source) => {
                if let Some(count) = self.source_counts.get_mut(source) {
                    *count += 1;
                }
            }
        }
        if let Some(items) = &mut self.items {
            if items.len() >= self.keep {
                items.pop_front();
            }
            if self.keep > 0 {
                items.push_back(Dropped { site, reason, key: key.cloned(), event: self.event, item: item() });
            }
        }
    }

    /// Adds another ledger's counts to these (a worker's, `eddy run --workers`); its items
    /// are not taken.
    pub fn add_counts(&mut self, other: &DropLedger) {
        for (mine, theirs) in self.step_counts.iter_mut().zip(&other.step_counts) {
            for (count, more) in mine.iter_mut().zip(theirs) {
                *count += more;
            }
        }
        for (count, more) in self.source_counts.iter_mut().zip(&other.source_counts) {
            *count += more;
        }
    }

    /// A step's count for a reason.
    pub fn count(&self, step: usize, reason: DropReason) -> u64 {
        self.step_counts.get(step).map_or(0, |counts| counts[reason.index()])
    }

    /// A step's drops, all reasons together.
    pub fn step_total(&self, step: usize) -> u64 {
        self.step_counts.get(step).map_or(0, |counts| counts.iter().sum())
    }

    /// A source's bad rows recorded (counted only while items are recorded).
    pub fn source_total(&self, source: usize) -> u64 {
        self.source_counts.get(source).copied().unwrap_or(0)
    }

    /// Every drop counted so far: the steps', and the sources' recorded bad rows.
    pub fn total(&self) -> u64 {
        let steps: u64 = self.step_counts.iter().flatten().sum();
        steps + self.source_counts.iter().sum::<u64>()
    }

    /// The items recorded and kept, oldest first.
    pub fn items(&self) -> impl DoubleEndedIterator<Item = &Dropped> {
        self.items.iter().flatten()
    }

    /// How many items are kept now.
    pub fn kept(&self) -> usize {
        self.items.as_ref().map_or(0, VecDeque::len)
    }

    /// Takes over the counts and items of a ledger saved with a keyframe (docs/ledger.md):
    /// this ledger's recording setting stays.
    pub fn resume_from(&mut self, saved: DropLedger) {
        self.step_counts = saved.step_counts;
        self.source_counts = saved.source_counts;
        if let Some(items) = &mut self.items {
            *items = saved.items.unwrap_or_default();
            while items.len() > self.keep {
                items.pop_front();
            }
        }
    }

    /// Takes over the counts and items of another graph's ledger (continuing after an edit):
    /// `step_of` and `source_of` give this graph's index of the other's step or source (by
    /// id), or `None` when it has none; what has none is left out.
    pub fn carry_from(
        &mut self,
        other: &DropLedger,
        step_of: &dyn Fn(usize) -> Option<usize>,
        source_of: &dyn Fn(usize) -> Option<usize>,
    ) {
        for (old, counts) in other.step_counts.iter().enumerate() {
            if let Some(slot) = step_of(old).and_then(|new| self.step_counts.get_mut(new)) {
                *slot = *counts;
            }
        }
        for (old, count) in other.source_counts.iter().enumerate() {
            if let Some(slot) = source_of(old).and_then(|new| self.source_counts.get_mut(new)) {
                *slot = *count;
            }
        }
        if let Some(items) = &mut self.items {
            items.clear();
            for dropped in other.items() {
                let site = match dropped.site {
                    DropSite::Step(step) => step_of(step).map(DropSite::Step),
                    DropSite::Source(source) => source_of(source).map(DropSite::Source),
                };
                if let Some(site) = site {
                    items.push_back(Dropped { site, ..dropped.clone() });
                }
            }
            while items.len() > self.keep {
                items.pop_front();
            }
        }
    }

    /// Takes the items recorded so far, oldest first (the counts stay).
    pub fn take_items(&mut self) -> Vec<Dropped> {
        self.items.as_mut().map(|items| items.drain(..).collect()).unwrap_or_default()
    }
}
