//! A fast play's untraced stretches: while nothing will show them, the replay leaves the items
//! out of the engine's trace (their copies are most of what tracing costs) and traces them
//! again a little before every place where the previews are looked at — a keyframe, a preview
//! refresh, the end of a seek or of a count of steps, the end of input. A preview ring that
//! took items in an untraced stretch is *gapped* until it is full of traced items again; where
//! the previews must be exact and one is still gapped, the replay rebuilds them from the last
//! keyframe with every item traced. The rule is written in docs/architecture.md, "Previews of a
//! fast play".

use crate::engine::Engine;

use super::views::StepPreview;

/// The previews are refreshed from events at most this far apart in a fast play: every
/// multiple of it is a place the items before it are traced for.
pub(super) const PREVIEW_PERIOD: u64 = 4096;

/// How many events before such a place are traced at first (enough when every step sees an
/// item of most events: twice a preview ring).
const FIRST_TAIL: u64 = 2 * super::event::PREVIEW_ITEMS as u64;

/// Whether the engine traces items now, and since when it has not.
#[derive(Debug)]
pub(super) struct FastPlay {
    /// In an untraced stretch: each step's (items in, items out) when it began.
    untraced_since: Option<Vec<(u64, u64)>>,
    /// Events traced before each place the previews are looked at.
    tail: u64,
}

impl Default for FastPlay {
    fn default() -> Self {
        Self { untraced_since: None, tail: FIRST_TAIL }
    }
}

impl FastPlay {
    /// A new pipeline: its first stretches get the first tail again.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Whether the event after `position` must be traced item by item, the previews being
    /// looked at next after `boundary` (an event position past `position`).
    pub(super) fn traces(&self, position: u64, boundary: u64) -> bool {
        boundary.saturating_sub(position) <= self.tail
    }

    /// The next place after `position` the previews are looked at in any fast play: a preview
    /// refresh or a keyframe.
    pub(super) fn next_boundary(position: u64, keyframe_every: u64) -> u64 {
        let next = |every: u64| (position / every + 1).saturating_mul(every);
        next(PREVIEW_PERIOD).min(next(keyframe_every.max(1)))
    }

    /// A new engine stands with exact previews (a restore): no stretch is going on.
    pub(super) fn forget(&mut self) {
        self.untraced_since = None;
    }

    /// Whether the engine is in an untraced stretch.
    pub(super) fn is_untraced(&self) -> bool {
        self.untraced_since.is_some()
    }

    /// Sets the engine tracing items (`traced`) or not, ending or beginning a stretch. A
    /// stretch that ends gaps every ring whose step took or gave an item meanwhile.
    pub(super) fn set(&mut self, traced: bool, engine: &mut Engine, previews: &mut [StepPreview]) {
        match (&self.untraced_since, traced) {
            (Some(_), true) => self.end(engine, previews),
            (None, false) => {
                let counts = engine.stats().steps.iter().map(|s| (s.items_in, s.items_out)).collect();
                self.untraced_since = Some(counts);
                engine.set_trace_items(false);
            }
            _ => {}
        }
    }

    /// Ends an untraced stretch, if in one (see [`FastPlay::set`]).
    pub(super) fn end(&mut self, engine: &mut Engine, previews: &mut [StepPreview]) {
        let Some(since) = self.untraced_since.take() else { return };
        engine.set_trace_items(true);
        for ((preview, (was_in, was_out)), now) in previews.iter_mut().zip(since).zip(&engine.stats().steps) {
            if now.items_in != was_in {
                preview.gap_in = Some(0);
            }
            if now.items_out != was_out {
                preview.gap_out = Some(0);
            }
        }
    }

    /// The previews had to be rebuilt: the tail was too short for some step, so later
    /// stretches trace a longer one (a rare step's previews end up traced all the way).
    pub(super) fn lengthen(&mut self) {
        self.tail = self.tail.saturating_mul(4);
    }
}

/// Whether any preview ring is gapped: it does not hold its step's last items.
pub(super) fn any_gapped(previews: &[StepPreview]) -> bool {
    previews.iter().any(|p| p.gap_in.is_some() || p.gap_out.is_some())
}
