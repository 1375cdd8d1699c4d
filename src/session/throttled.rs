//! One cached view of the replay (the state table, the node previews, the log, the snapshot
//! list, the metrics): the value last built (an `Arc`, cheap to hand to every `RunView`),
//! whether what it shows has changed since, and when it was last built, so that a costly view
//! is rebuilt at most every so often while playing and at once when the replay stands still.

use std::time::{Duration, Instant};

/// A view built from the replay's state, rebuilt only when stale and due.
#[derive(Debug)]
pub(super) struct Throttled<V> {
    view: V,
    dirty: bool,
    built_at: Option<Instant>,
}

impl<V> Throttled<V> {
    /// `view`, stale (built on the next look).
    pub fn new(view: V) -> Self {
        Throttled { view, dirty: true, built_at: None }
    }

    /// The view as last built.
    pub fn view(&self) -> &V {
        &self.view
    }

    /// What the view shows has changed: rebuild it when due.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether to rebuild now: stale, and either `fresh` (every view up to date) or `interval`
    /// gone by since the last build.
    pub fn due(&self, now: Instant, interval: Duration, fresh: bool) -> bool {
        self.dirty && (fresh || self.built_at.is_none_or(|at| now.duration_since(at) >= interval))
    }

    /// The view rebuilt: up to date.
    pub fn replace(&mut self, view: V) {
        self.view = view;
        self.dirty = false;
    }

    /// A build was made (or tried) at `now`: the next one is due `interval` later.
    pub fn stamp(&mut self, now: Instant) {
        self.built_at = Some(now);
    }

    /// Rebuilds with `build` when [`Throttled::due`]; true if rebuilt.
    pub fn refresh(
        &mut self,
        now: Instant,
        interval: Duration,
        fresh: bool,
        build: impl FnOnce() -> V,
    ) -> bool {
        if !self.due(now, interval, fresh) {
            return false;
        }
        self.replace(build());
        self.stamp(now);
        true
    }
}

impl<V: Default> Default for Throttled<V> {
    fn default() -> Self {
        Throttled::new(V::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_view_is_rebuilt_when_fresh_or_once_the_interval_is_past() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut view = Throttled::new(0);
        assert!(view.refresh(start, interval, false, || 1), "never built: due");
        assert!(!view.refresh(start, interval, true, || 2), "up to date: not rebuilt");
        view.mark_dirty();
        assert!(!view.refresh(start + interval / 2, interval, false, || 3), "too soon");
        assert!(view.refresh(start + interval / 2, interval, true, || 4), "fresh wanted");
        view.mark_dirty();
        assert!(view.refresh(start + interval * 2, interval, false, || 5));
        assert_eq!(*view.view(), 5);
        assert!(!view.due(start + interval * 9, interval, true), "up to date");
    }
}
