//! The palette: every kind of node a pipeline can hold, grouped by family, with a search box.

use eframe::egui;

use crate::graph::{Builtin, OpFamily, OpKind, SinkFormat, SourceFormat};

/// What a palette entry creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaletteKind {
    /// A source of a format.
    Source(SourceFormat),
    /// A step with the operator's template script.
    Step(OpKind),
    /// A step with a built-in function instead of a script.
    Builtin(OpKind, Builtin),
    /// A sink of a format.
    Sink(SinkFormat),
}

/// One entry of the palette.
#[derive(Debug, Clone, Copy)]
pub struct PaletteItem {
    /// The name shown (and searched).
    pub label: &'static str,
    /// The group heading.
    pub group: &'static str,
    /// One line on what it does (searched too).
    pub description: &'static str,
    /// What it creates.
    pub kind: PaletteKind,
}

/// The group heading of an operator family.
pub fn family_name(family: OpFamily) -> &'static str {
    match family {
        OpFamily::Stateless => "Stateless",
        OpFamily::BasicStateful => "Stateful",
        OpFamily::FiniteAggregation => "Aggregate at end of input",
        OpFamily::Collection => "Collect",
        OpFamily::Correlation => "Join",
        OpFamily::LowLevel => "Low-level stateful",
    }
}

fn op_description(op: OpKind) -> &'static str {
    match op {
        OpKind::Map => "mapper(x) → one item per item",
        OpKind::Filter => "predicate(x) → keep when true",
        OpKind::FilterMap => "mapper(x) → an item, or () to drop",
        OpKind::FlatMap => "mapper(x) → an array of items",
        OpKind::KeyOn => "key(x) → a string key: makes the stream keyed",
        OpKind::KeyRm => "(key, value) → value: drops the key",
        OpKind::MapValue => "mapper(v) on the value of a keyed item",
        OpKind::FilterValue => "predicate(v) on the value of a keyed item",
        OpKind::FlatMapValue => "mapper(v) → array, on the value of a keyed item",
        OpKind::Inspect => "inspector(x): look at items, pass them on",
        OpKind::Merge => "several inputs, one output",
        OpKind::Branch => "predicate(x): outputs trues and falses",
        OpKind::StatefulMap => "mapper(state, v) → [state, out] per key",
        OpKind::StatefulFlatMap => "mapper(state, v) → [state, [outs]] per key",
        OpKind::ReduceFinal => "reducer(acc, v) per key, emitted at end of input",
        OpKind::FoldFinal => "builder(), folder(acc, v) per key, at end of input",
        OpKind::CountFinal => "count per key(x) of an unkeyed stream, at end",
        OpKind::MaxFinal => "the largest value per key (by(v)), at end",
        OpKind::MinFinal => "the smallest value per key (by(v)), at end",
        OpKind::Collect => "lists per key, by size or timeout",
        OpKind::Join => "join keyed inputs: one side per input",
        OpKind::Stateful => "a StatefulLogic per key: on_item, timers, on_eof",
        OpKind::StatefulBatch => "a StatefulLogic per key that gets batches",
    }
}

/// Every palette entry, in display order.
pub fn palette_items() -> Vec<PaletteItem> {
    let mut items = vec![
        PaletteItem {
            label: "CSV source",
            group: "Sources",
            description: "replay a CSV file with a header row",
            kind: PaletteKind::Source(SourceFormat::Csv),
        },
        PaletteItem {
            label: "JSON Lines source",
            group: "Sources",
            description: "replay one JSON object per line",
            kind: PaletteKind::Source(SourceFormat::Jsonl),
        },
        PaletteItem {
            label: "JSON source",
            group: "Sources",
            description: "replay a JSON array of objects",
            kind: PaletteKind::Source(SourceFormat::Json),
        },
    ];
    for op in OpKind::ALL {
        items.push(PaletteItem {
            label: op.as_str(),
            group: family_name(op.family()),
            description: op_description(op),
            kind: PaletteKind::Step(op),
        });
        if op == OpKind::StatefulMap {
            items.push(PaletteItem {
                label: "running count",
                group: family_name(op.family()),
                description: "stateful_map with the built-in count: no script",
                kind: PaletteKind::Builtin(op, Builtin::Count),
            });
        }
    }
    items.extend([
        PaletteItem {
            label: "JSON Lines sink",
            group: "Sinks",
            description: "write one JSON value per line",
            kind: PaletteKind::Sink(SinkFormat::Jsonl),
        },
        PaletteItem {
            label: "CSV sink",
            group: "Sinks",
            description: "write CSV with a header row",
            kind: PaletteKind::Sink(SinkFormat::Csv),
        },
        PaletteItem {
            label: "stdout sink",
            group: "Sinks",
            description: "print JSON Lines on standard output",
            kind: PaletteKind::Sink(SinkFormat::Stdout),
        },
    ]);
    items
}

/// The palette list with its search box. Returns the entry the user picked.
pub fn palette_ui(ui: &mut egui::Ui, search: &mut String) -> Option<PaletteKind> {
    let response = ui
        .horizontal(|ui| {
            let label = ui.label("🔍");
            ui.add(egui::TextEdit::singleline(search).hint_text("Search nodes…").desired_width(200.0))
                .labelled_by(label.id)
        })
        .inner;
    if !response.has_focus() && search.is_empty() {
        response.request_focus();
    }
    let needle = search.to_lowercase();
    let items: Vec<PaletteItem> = palette_items()
        .into_iter()
        .filter(|item| {
            needle.is_empty()
                || item.label.to_lowercase().contains(&needle)
                || item.description.to_lowercase().contains(&needle)
                || item.group.to_lowercase().contains(&needle)
        })
        .collect();
    // Enter picks the first match, so "add a node" works from the keyboard.
    if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
        return items.first().map(|item| item.kind);
    }
    let mut picked = None;
    egui::ScrollArea::vertical().max_height(360.0).show(ui, |ui| {
        let mut group = "";
        for item in &items {
            if item.group != group {
                group = item.group;
                ui.add_space(4.0);
                ui.label(egui::RichText::new(group).small().strong());
            }
            if ui.button(item.label).on_hover_text(item.description).clicked() {
                picked = Some(item.kind);
            }
        }
        if items.is_empty() {
            ui.weak("No node matches.");
        }
    });
    picked
}
