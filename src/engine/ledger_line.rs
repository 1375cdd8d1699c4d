//! One line of `eddy run --ledger FILE` (docs/ledger.md#the-ledger-file): a dropped item as
//! `{"step":…,"reason":…,"key":…,"event":…,"item":…}`.

use crate::graph::ValidGraph;
use crate::ops::{DropSite, Dropped};

/// Appends one dropped item's JSON line (with its `\n`) to `out`. `step` is the id of the
/// step (or, for a bad row, the source) where it was dropped; an item with no JSON form (a
/// function pointer, a NaN) is written as the string of its preview, never lost.
pub fn write_ledger_line(out: &mut Vec<u8>, graph: &ValidGraph, dropped: &Dropped) {
    let id = match dropped.site {
        DropSite::Step(step) => graph.doc.steps.get(step).map(|s| s.id.as_str()),
        DropSite::Source(source) => graph.doc.sources.get(source).map(|s| s.id.as_str()),
    };
    out.extend_from_slice(b"{\"step\":");
    crate::value::write_json(out, &rhai::Dynamic::from(id.unwrap_or("?").to_owned())).unwrap_or(());
    out.extend_from_slice(b",\"reason\":\"");
    out.extend_from_slice(dropped.reason.name().as_bytes());
    out.extend_from_slice(b"\",\"key\":");
    match &dropped.key {
        Some(key) => crate::value::write_json(out, &rhai::Dynamic::from(key.clone())).unwrap_or(()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(dropped.event.to_string().as_bytes());
    out.extend_from_slice(b",\"item\":");
    let mut item = Vec::new();
    match crate::value::write_json(&mut item, &dropped.item) {
        Ok(()) => out.extend_from_slice(&item),
        Err(_) => {
            let text = rhai::Dynamic::from(crate::value::preview(&dropped.item));
            crate::value::write_json(out, &text).unwrap_or(());
        }
    }
    out.extend_from_slice(b"}\n");
}
