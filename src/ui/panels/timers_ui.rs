//! Pending timers (ordered by due time, with the time left on the clock) and the replay's log
//! (timers fired, errors, breakpoints, snapshots).

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::timeline_ui::clock_text;
use crate::session::{LogKind, RunView};
use crate::ui::theme;

/// The pending timers.
pub fn timers_ui(ui: &mut egui::Ui, view: &RunView) {
    let timers = &view.timers;
    ui.label(RichText::new(format!("{} pending timers", timers.total)).strong());
    if timers.total > timers.shown.len() {
        ui.weak(format!("the first {} by due time are listed", timers.shown.len()));
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt("timers")
        .striped(true)
        .column(Column::initial(140.0).clip(true))
        .column(Column::initial(160.0).clip(true))
        .column(Column::initial(220.0).clip(true))
        .column(Column::remainder())
        .header(20.0, |mut header| {
            for title in ["step", "key", "due", "left on the clock"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, timers.shown.len(), |mut row| {
                let Some(timer) = timers.shown.get(row.index()) else { return };
                row.col(|ui| {
                    ui.label(&timer.step);
                });
                row.col(|ui| {
                    ui.monospace(&timer.key);
                });
                row.col(|ui| {
                    ui.label(clock_text(Some(timer.due_micros)));
                });
                row.col(|ui| {
                    let left = view.clock_micros.map(|clock| timer.due_micros - clock);
                    ui.label(left.map_or("—".to_owned(), crate::time::format_duration_micros));
                });
            });
        });
}

/// The log, newest first.
pub fn log_ui(ui: &mut egui::Ui, view: &RunView) {
    if view.log.is_empty() {
        ui.weak("Timers that fire, errors, breakpoints and snapshots are listed here.");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let log = &view.log;
    TableBuilder::new(ui)
        .id_salt("log")
        .striped(true)
        .column(Column::initial(80.0))
        .column(Column::initial(220.0).clip(true))
        .column(Column::remainder().clip(true))
        .header(20.0, |mut header| {
            for title in ["event", "clock", "what"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, log.len(), |mut row| {
                let Some(entry) = log.get(log.len() - 1 - row.index()) else { return };
                row.col(|ui| {
                    ui.label(entry.position.to_string());
                });
                row.col(|ui| {
                    ui.label(clock_text(entry.clock_micros));
                });
                row.col(|ui| {
                    let (text, is_error) = match &entry.kind {
                        LogKind::TimerFired { step, key, due_micros } => (
                            format!(
                                "timer fired: `{step}` key {key:?} (due {})",
                                clock_text(Some(*due_micros))
                            ),
                            false,
                        ),
                        LogKind::Error { message, .. } => (format!("error: {message}"), true),
                        LogKind::BreakpointHit { description, .. } => {
                            (format!("breakpoint: {description}"), false)
                        }
                        LogKind::SnapshotTaken { id } => (format!("snapshot #{id} taken"), false),
                        LogKind::Notice { message, .. } => (message.clone(), false),
                    };
                    let color = if is_error { theme::error(ui.visuals()) } else { ui.visuals().text_color() };
                    ui.add(egui::Label::new(RichText::new(text).color(color)).truncate());
                });
            });
        });
}
