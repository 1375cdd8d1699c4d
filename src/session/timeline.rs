//! Where the replay stands and how it gets elsewhere: the position (and the continue point it
//! counts from), the total once counted, the automatic keyframes and their spacing, the
//! ledger of state sizes, and the positions where timers fired. Decides where a seek, a step
//! back or *previous timer* goes and which keyframe it starts from; the engine itself is
//! [`super::playback::Playback`]'s.

use std::collections::BTreeSet;

use rustc_hash::FxHashSet;

use super::event::KeyTable;
use super::keyframes::{DEFAULT_KEYFRAME_BUDGET, Keyframes};
use super::ledger::StateLedger;
use super::timer_marks::TimerMarks;
use crate::graph::{BadRowPolicy, ValidGraph};
use crate::io::Source;
use crate::ops::Key;

/// Keyframes are taken every `keyframe_every` events: at least this many.
pub const MIN_KEYFRAME_EVERY: u64 = 1000;
/// About this many keyframes over a whole replay.
const KEYFRAMES_WANTED: u64 = 150;
/// Keyframes are taken every this many events at most (while the budget allows): a seek
/// replays fewer events than this from its keyframe, a fraction of a second.
pub const MAX_KEYFRAME_EVERY: u64 = 50_000;
/// Past this many keyframes (the total still unknown), they are thinned out.
const MAX_KEYFRAMES: usize = 300;

/// The replay's position and its keyframes.
pub(super) struct Timeline {
    /// Source events processed.
    pub position: u64,
    /// Where this graph's history begins (0, or the position a continued graph took over).
    pub origin: u64,
    /// The sources are exhausted.
    pub ended: bool,
    /// The source events of the whole replay, once counted.
    pub total: Option<u64>,
    /// Counting the source events (until the total is known).
    pub counter: Option<Counter>,
    /// Events between two automatic keyframes.
    pub keyframe_every: u64,
    pub keyframes: Keyframes,
    /// Each key's state size as of the last keyframe.
    pub ledger: StateLedger,
    /// Where timers fired, for *previous timer*.
    pub timer_marks: TimerMarks,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            position: 0,
            origin: 0,
            ended: false,
            total: None,
            counter: None,
            keyframe_every: MIN_KEYFRAME_EVERY,
            keyframes: Keyframes::new(0, DEFAULT_KEYFRAME_BUDGET),
            ledger: StateLedger::default(),
            timer_marks: TimerMarks::default(),
        }
    }
}

impl Timeline {
    /// A new graph: no keyframes, total or timer marks, its events being counted; the budget
    /// its file sets, if any.
    pub fn load(&mut self, graph: &ValidGraph) {
        let steps = graph.doc.steps.len();
        self.keyframes.clear(steps);
        if let Some(bytes) = budget_in(&graph.doc) {
            self.keyframes.set_budget(bytes);
        }
        self.ledger = StateLedger::empty(steps);
        self.keyframe_every = MIN_KEYFRAME_EVERY;
        self.ended = false;
        self.total = None;
        self.timer_marks.clear();
        self.counter = Counter::start(graph);
    }

    /// The total is known: keyframes spaced to about [`KEYFRAMES_WANTED`] over the replay.
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        let wanted = total.div_ceil(KEYFRAMES_WANTED).div_ceil(MIN_KEYFRAME_EVERY) * MIN_KEYFRAME_EVERY;
        self.keyframe_every = wanted.clamp(MIN_KEYFRAME_EVERY, MAX_KEYFRAME_EVERY);
        self.thin_keyframes();
    }

    /// Drops the keyframes off the current spacing (the continue point stays).
    pub fn thin_keyframes(&mut self) {
        let (every, origin) = (self.keyframe_every, self.origin);
        self.keyframes.retain(self.position, |p| p == origin || p.is_multiple_of(every));
    }

    /// Thins the keyframes (taking them half as often) while there are too many or they are
    /// over their budget.
    pub fn keep_keyframes_bounded(&mut self) {
        while self.keyframes.len() > MAX_KEYFRAMES || self.keyframes.over_budget() {
            let before = self.keyframes.len();
            self.keyframe_every = self.keyframe_every.saturating_mul(2);
            self.thin_keyframes();
            if self.keyframes.len() == before {
                break; // only the continue point is left
            }
        }
    }

    /// Where a seek to `target` lands: not before the continue point nor past the end.
    pub fn clamp(&self, target: u64) -> u64 {
        target.max(self.origin).min(self.total.unwrap_or(u64::MAX))
    }

    /// Whether a seek to `target` starts from a keyframe (or the start) rather than going on
    /// from here: it is behind, the engine is gone, or a keyframe past here is a shortcut.
    pub fn seek_restores(&self, target: u64, engine_gone: bool) -> bool {
        let behind = engine_gone || self.ended || target < self.position;
        behind || self.keyframes.nearest(target).is_some_and(|at| at > self.position)
    }

    /// The selected step's keys (`step`) whose state at the keyframe at `keyframe` (0: the
    /// start) may differ from what `table` shows, `changed` being the keys touched since it
    /// was built: those changed between the two positions or since, from the keyframes'
    /// deltas. `None` when not known key by key, or when they are so many that the whole
    /// table is cheaper.
    pub fn keys_to_refresh(
        &self,
        step: usize,
        table: &KeyTable,
        changed: &[Key],
        keyframe: u64,
    ) -> Option<FxHashSet<Key>> {
        let (from, to) = (keyframe.min(table.position), keyframe.max(table.position).max(self.position));
        let pending = self.keyframes.changed_since()?.get(step)?;
        let mut keys: FxHashSet<Key> = changed.iter().cloned().collect();
        keys.extend(pending.keys().map(Key::from));
        for (_, frame) in self.keyframes.frames().filter(|&(p, _)| from < p && p <= to) {
            if frame.base {
                return None;
            }
            keys.extend(frame.delta.get(step)?.keys().map(Key::from));
            if keys.len() > table.rows.len() / 2 {
                return None;
            }
        }
        (keys.len() <= table.rows.len() / 2).then_some(keys)
    }
}

/// The keyframe budget a pipeline file sets in its `[editor]` table
/// (`keyframe_budget_mib = 512`), in bytes; a value that is not a positive integer is ignored.
fn budget_in(doc: &crate::graph::PipelineDoc) -> Option<u64> {
    let mib = doc.editor.as_ref()?.get("keyframe_budget_mib")?.as_integer()?;
    u64::try_from(mib).ok().filter(|&m| m > 0).map(|m| m.saturating_mul(1024 * 1024))
}

/// Counts the source events of a pipeline on a thread of its own (`eddy-count`), so that the
/// session's thread — the one a play keeps busy — spends nothing on it.
pub(super) struct Counter {
    total: crossbeam_channel::Receiver<u64>,
    /// Set when the count is no longer wanted (a new pipeline, the session ending).
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Where a count stands.
pub(super) enum Count {
    /// Still counting.
    Pending,
    /// Every source read: the total.
    Done(u64),
    /// The count stopped without a total (its thread ended early): the total stays unknown.
    Lost,
}

impl Counter {
    /// Opens the graph's sources and starts counting them (none if one cannot be opened).
    fn start(graph: &ValidGraph) -> Option<Counter> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let mut sources = Vec::new();
        for spec in &graph.doc.sources {
            let mut spec = spec.clone();
            if spec.on_bad_row == BadRowPolicy::DeadLetter {
                spec.on_bad_row = BadRowPolicy::Skip; // counting writes no dead letters
            }
            let mut source = Source::open(&spec, &graph.base_dir).ok()?;
            source.set_projection(&BTreeSet::new());
            sources.push(source);
        }
        let (sender, total) = crossbeam_channel::bounded(1);
        let cancel = std::sync::Arc::new(AtomicBool::new(false));
        let cancelled = std::sync::Arc::clone(&cancel);
        std::thread::Builder::new()
            .name("eddy-count".into())
            .spawn(move || {
                let mut count = 0u64;
                for mut source in sources {
                    loop {
                        if count.is_multiple_of(1024) && cancelled.load(Ordering::Relaxed) {
                            return;
                        }
                        match source.next_event() {
                            Ok(Some(_)) => count += 1,
                            // A bad row under `fail` ends the replay there: count no further
                            // in this source.
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
                let _gone = sender.send(count);
            })
            .ok()?;
        Some(Counter { total, cancel })
    }

    /// The count, if it has ended.
    pub fn poll(&self) -> Count {
        match self.total.try_recv() {
            Ok(total) => Count::Done(total),
            Err(crossbeam_channel::TryRecvError::Empty) => Count::Pending,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Count::Lost,
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
