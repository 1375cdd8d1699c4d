//! The *Dropped* tab's view of the engine's dropped-items ledger (docs/ledger.md#in-the-workbench).
//! The session's engine keeps the latest [`DROPPED_SHOWN`] items with the counts, and both go
//! into every keyframe: a position shows the same ledger whichever way the replay got there.

use std::sync::Arc;

use super::event::{DROPPED_SHOWN, DroppedRow, DroppedView};
use crate::engine::Engine;
use crate::ops::DropSite;

/// The last view built, and what it was built from: rebuilt only when the ledger has grown
/// (or the graph changed). A ledger's kept items are the same at the same count of drops,
/// whatever the way there, so the count is a safe key.
#[derive(Debug, Default)]
pub(super) struct DroppedCache {
    built_from: Option<(u64, u64)>,
    view: Arc<DroppedView>,
}

impl DroppedCache {
    /// The view of `engine`'s ledger (`generation`: the loaded graph's).
    pub(super) fn view(&mut self, generation: u64, engine: Option<&Engine>) -> Arc<DroppedView> {
        let Some(engine) = engine else { return Arc::new(DroppedView::default()) };
        let key = (generation, engine.drops().total());
        if self.built_from != Some(key) {
            self.view = Arc::new(build(engine));
            self.built_from = Some(key);
        }
        Arc::clone(&self.view)
    }
}

fn build(engine: &Engine) -> DroppedView {
    let drops = engine.drops();
    let doc = &engine.graph().doc;
    let latest = drops
        .items()
        .rev()
        .take(DROPPED_SHOWN)
        .map(|dropped| DroppedRow {
            step: match dropped.site {
                DropSite::Step(step) => doc.steps.get(step).map(|s| s.id.clone()),
                DropSite::Source(source) => doc.sources.get(source).map(|s| s.id.clone()),
            }
            .unwrap_or_default(),
            reason: dropped.reason.name(),
            key: dropped.key.as_ref().map(ToString::to_string),
            event: dropped.event,
            item: crate::value::preview(&dropped.item),
        })
        .collect();
    DroppedView {
        total: drops.total(),
        per_source: (0..doc.sources.len()).map(|source| drops.source_total(source)).collect(),
        latest,
    }
}
