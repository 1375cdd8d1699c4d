//! The last items into and out of the selected step, with their keys, the clock and the event
//! they belong to: a debugger's watch window for a node.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::timeline_ui::clock_text;
use crate::session::{NodePreview, PreviewItem};

/// The preview of one step.
pub fn io_ui(ui: &mut egui::Ui, preview: &NodePreview) {
    ui.columns(2, |columns| {
        items_ui(&mut columns[0], "in", &format!("Into `{}`", preview.step), &preview.items_in);
        items_ui(&mut columns[1], "out", &format!("Out of `{}`", preview.step), &preview.items_out);
    });
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
