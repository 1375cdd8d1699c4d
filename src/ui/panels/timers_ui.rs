//! Pending timers (ordered by due time, with the time left on the clock) and the replay's log
//! (timers fired, scripts' print and debug, errors, breakpoints, snapshots), filtered by kind
//! and text.

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

/// What the Log shows: kinds of entries, and text they must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// Scripts' `print` and `debug`.
    pub prints: bool,
    /// Timers that fired.
    pub timers: bool,
    /// Errors, breakpoints, snapshots and notices.
    pub others: bool,
    /// Text every entry shown contains (step, key or message); empty: any.
    pub text: String,
}

impl LogFilter {
    /// Whether an entry of this kind, shown as `text`, passes (text matched ignoring case).
    pub fn passes(&self, kind: &LogKind, text: &str) -> bool {
        let wanted = match kind {
            LogKind::Print { .. } => self.prints,
            LogKind::TimerFired { .. } => self.timers,
            _ => self.others,
        };
        wanted && (self.text.is_empty() || text.to_lowercase().contains(&self.text.to_lowercase()))
    }
}

impl Default for LogFilter {
    fn default() -> Self {
        Self { prints: true, timers: true, others: true, text: String::new() }
    }
}

/// One entry as the Log shows it: its text, and whether it is an error.
pub fn log_text(kind: &LogKind) -> (String, bool) {
    match kind {
        LogKind::TimerFired { step, key, due_micros } => {
            (format!("timer fired: `{step}` key {key:?} (due {})", clock_text(Some(*due_micros))), false)
        }
        LogKind::Print { step, key, line, debug, text } => {
            let key = key.as_ref().map(|k| format!(" key {k:?}")).unwrap_or_default();
            let line = line.map(|l| format!(" line {l}")).unwrap_or_default();
            let what = if *debug { "debug" } else { "print" };
            (format!("{what} `{step}`{key}{line}: {text}"), false)
        }
        LogKind::Error { message, .. } => (format!("error: {message}"), true),
        LogKind::BreakpointHit { description, .. } => (format!("breakpoint: {description}"), false),
        LogKind::SnapshotTaken { id } => (format!("snapshot #{id} taken"), false),
        LogKind::Notice { message, .. } => (message.clone(), false),
    }
}

/// The log, newest first, filtered.
pub fn log_ui(ui: &mut egui::Ui, view: &RunView, filter: &mut LogFilter) {
    ui.horizontal(|ui| {
        ui.checkbox(&mut filter.prints, "print / debug");
        ui.checkbox(&mut filter.timers, "timers");
        ui.checkbox(&mut filter.others, "errors, breakpoints, snapshots");
        ui.add(
            egui::TextEdit::singleline(&mut filter.text)
                .hint_text("filter: step, key, text")
                .desired_width(220.0),
        );
    });
    if view.log.is_empty() {
        ui.weak(
            "Timers that fire, scripts' print and debug, errors, breakpoints and snapshots are listed here.",
        );
        return;
    }
    let entries: Vec<(u64, Option<i64>, String, bool)> = view
        .log
        .iter()
        .rev()
        .filter_map(|entry| {
            let (text, is_error) = log_text(&entry.kind);
            filter.passes(&entry.kind, &text).then_some((entry.position, entry.clock_micros, text, is_error))
        })
        .collect();
    if entries.is_empty() {
        ui.weak(format!("None of the {} entries passes the filter.", view.log.len()));
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
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
            body.rows(row_height, entries.len(), |mut row| {
                let Some((position, clock, text, is_error)) = entries.get(row.index()) else { return };
                row.col(|ui| {
                    ui.label(position.to_string());
                });
                row.col(|ui| {
                    ui.label(clock_text(*clock));
                });
                row.col(|ui| {
                    let color =
                        if *is_error { theme::error(ui.visuals()) } else { ui.visuals().text_color() };
                    ui.add(egui::Label::new(RichText::new(text).color(color)).truncate());
                });
            });
        });
}
