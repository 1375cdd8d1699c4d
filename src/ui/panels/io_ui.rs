//! The last items into and out of the selected step, with their keys, the clock and the event
//! they belong to: a debugger's watch window for a node.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::timeline_ui::clock_text;
use crate::graph::SinkSpec;
use crate::session::{NodePreview, PREVIEW_ITEMS, PreviewItem};

/// The preview of one step.
pub fn io_ui(ui: &mut egui::Ui, preview: &NodePreview) {
    ui.columns(2, |columns| {
        items_ui(&mut columns[0], "in", &format!("Into `{}`", preview.step), &preview.items_in);
        items_ui(&mut columns[1], "out", &format!("Out of `{}`", preview.step), &preview.items_out);
    });
}

/// The last items a sink received: the items out of the steps it reads (on the port it reads),
/// newest last, at most [`PREVIEW_ITEMS`]; and the inputs read straight from a source, whose
/// items are not kept.
pub fn sink_items(previews: &[NodePreview], sink: &SinkSpec) -> (Vec<PreviewItem>, Vec<String>) {
    let mut items = Vec::new();
    let mut unseen = Vec::new();
    for input in &sink.inputs {
        let (step, port) = match input.rsplit_once('.') {
            Some((step, "trues")) => (step, 0),
            Some((step, "falses")) => (step, 1),
            _ => (input.as_str(), 0),
        };
        match previews.iter().find(|p| p.step == step) {
            Some(preview) => items.extend(preview.items_out.iter().filter(|i| i.port == port).cloned()),
            None => unseen.push(input.clone()),
        }
    }
    // One stream's items are in order; several are merged by the event they came with.
    items.sort_by_key(|item| item.position);
    let skip = items.len().saturating_sub(PREVIEW_ITEMS);
    (items.split_off(skip), unseen)
}

/// The Data tab for a sink: the last items it received.
pub fn sink_ui(ui: &mut egui::Ui, previews: &[NodePreview], sink: &SinkSpec) {
    let (items, unseen) = sink_items(previews, sink);
    if !unseen.is_empty() {
        ui.weak(format!(
            "Items straight from {} are not kept (a source's records are not previewed).",
            unseen.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    items_ui(ui, "sink", &format!("Into sink `{}`", sink.id), &items);
}

fn items_ui(ui: &mut egui::Ui, salt: &str, title: &str, items: &[PreviewItem]) {
    ui.label(RichText::new(format!("{title} (last {})", items.len())).strong());
    if items.is_empty() {
        ui.weak("nothing yet");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    TableBuilder::new(ui)
        .id_salt(("preview", salt))
        .striped(true)
        .column(Column::initial(60.0))
        .column(Column::initial(90.0).clip(true))
        .column(Column::remainder().clip(true))
        .header(20.0, |mut header| {
            for name in ["event", "key", "value"] {
                header.col(|ui| {
                    ui.strong(name);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, items.len(), |mut row| {
                // Newest first.
                let Some(item) = items.get(items.len() - 1 - row.index()) else { return };
                row.col(|ui| {
                    ui.label(item.position.to_string())
                        .on_hover_text(format!("clock {}", clock_text(item.clock_micros)));
                });
                row.col(|ui| {
                    ui.monospace(item.key.as_deref().unwrap_or("—"));
                });
                row.col(|ui| {
                    ui.add(egui::Label::new(RichText::new(item.value.to_string()).monospace()).truncate())
                        .on_hover_text(item.value.to_string());
                });
            });
        });
}
