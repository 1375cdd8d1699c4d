//! The *Dropped* tab: the items that left the pipeline without reaching a sink, newest first,
//! with the total count (docs/ledger.md#in-the-workbench).

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use crate::session::RunView;

/// The dropped items of the replay so far.
pub fn dropped_ui(ui: &mut egui::Ui, view: &RunView) {
    let dropped = &view.dropped;
    ui.label(RichText::new(format!("{} dropped items", crate::ui::thousands(dropped.total))).strong());
    if dropped.total > dropped.latest.len() as u64 {
        ui.weak(format!("the latest {} are listed, newest first", dropped.latest.len()));
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt("dropped")
        .striped(true)
        .column(Column::initial(140.0).clip(true))
        .column(Column::initial(110.0).clip(true))
        .column(Column::initial(140.0).clip(true))
        .column(Column::initial(70.0).clip(true))
        .column(Column::remainder().clip(true))
        .header(20.0, |mut header| {
            for title in ["step", "reason", "key", "event", "item"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, dropped.latest.len(), |mut row| {
                let Some(entry) = dropped.latest.get(row.index()) else { return };
                row.col(|ui| {
                    ui.label(&entry.step);
                });
                row.col(|ui| {
                    ui.label(entry.reason);
                });
                row.col(|ui| {
                    ui.monospace(entry.key.as_deref().unwrap_or("—"));
                });
                row.col(|ui| {
                    ui.label(entry.event.to_string());
                });
                row.col(|ui| {
                    ui.monospace(&entry.item);
                });
            });
        });
}
