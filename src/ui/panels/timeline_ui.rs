//! The replay bar: play, pause, step, run to the next timer or to the end, restart, speed,
//! snapshot, and the timeline of the whole replay, which can be dragged to any position.

use eframe::egui::{self, RichText};

use crate::session::{Command, LogKind, RunView, SnapshotKind, Speed, Status};
use crate::ui::theme;

/// Speeds offered, as real-time multipliers against event time.
const SPEEDS: [f64; 9] = [0.1, 0.5, 1.0, 2.0, 10.0, 50.0, 100.0, 500.0, 1000.0];

/// A clock value for people: RFC 3339 in UTC.
pub fn clock_text(micros: Option<i64>) -> String {
    micros.and_then(crate::time::format_rfc3339_micros).unwrap_or_else(|| "—".to_owned())
}

/// What a mark on the timeline stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    /// A timer fired during the event before this position.
    Timer,
    /// A manual snapshot was taken here.
    Snapshot,
    /// A breakpoint paused the replay here.
    Breakpoint,
    /// The replay stopped on an error here (at the next event).
    Error,
}

/// The marks on the timeline: positions with what happened there (from the log and the
/// snapshot list), by position, one per position and kind.
pub fn timeline_markers(view: &RunView) -> Vec<(u64, MarkerKind)> {
    let mut marks: Vec<(u64, MarkerKind)> = view
        .log
        .iter()
        .filter_map(|entry| {
            let kind = match entry.kind {
                LogKind::TimerFired { .. } => MarkerKind::Timer,
                LogKind::BreakpointHit { .. } => MarkerKind::Breakpoint,
                LogKind::Error { .. } => MarkerKind::Error,
                _ => return None,
            };
            Some((entry.position, kind))
        })
        .chain(
            view.snapshots
                .iter()
                .filter(|s| s.kind == SnapshotKind::Manual)
                .map(|s| (s.position, MarkerKind::Snapshot)),
        )
        .collect();
    marks.sort_unstable();
    marks.dedup();
    marks
}

/// Draws the marks over the timeline's slider, and names the one under the pointer.
fn markers_ui(ui: &egui::Ui, slider: &egui::Response, view: &RunView, total: u64) {
    let marks = timeline_markers(view);
    let span = total.saturating_sub(view.origin);
    if marks.is_empty() || span == 0 {
        return;
    }
    // The slider's own geometry: its handle's centre travels the rail shrunk by the radius.
    let rect = slider.rect;
    let rail = rect.x_range().shrink(rect.height() / 2.5);
    let x_of =
        |position: u64| rail.min + rail.span() * (position.saturating_sub(view.origin) as f32 / span as f32);
    let painter = ui.painter();
    for &(position, kind) in &marks {
        let x = x_of(position);
        let (color, height) = match kind {
            MarkerKind::Timer => (theme::weak_text(ui.visuals()), 0.3),
            MarkerKind::Snapshot => (egui::Color32::from_rgb(0x5d, 0xad, 0xe2), 0.5),
            MarkerKind::Breakpoint => (theme::selection(ui.visuals()), 0.5),
            MarkerKind::Error => (theme::error(ui.visuals()), 0.5),
        };
        let (top, bottom) = match kind {
            MarkerKind::Timer => (rect.bottom() - rect.height() * height, rect.bottom()),
            _ => (rect.top(), rect.top() + rect.height() * height),
        };
        painter.line_segment([egui::pos2(x, top), egui::pos2(x, bottom)], egui::Stroke::new(2.0, color));
    }
    if let Some(pointer) = slider.hover_pos() {
        let near: Vec<String> = marks
            .iter()
            .filter(|(position, _)| (x_of(*position) - pointer.x).abs() <= 3.0)
            .map(|(position, kind)| {
                let what = match kind {
                    MarkerKind::Timer => "a timer fired",
                    MarkerKind::Snapshot => "snapshot taken",
                    MarkerKind::Breakpoint => "breakpoint hit",
                    MarkerKind::Error => "stopped on an error",
                };
                format!("event {position}: {what}")
            })
            .collect();
        if !near.is_empty() {
            egui::Tooltip::always_open(ui.ctx().clone(), ui.layer_id(), slider.id.with("marks"), slider.rect)
                .at_pointer()
                .show(|ui| {
                    ui.label(near.join("\n"));
                });
        }
    }
}

/// The replay bar. `loaded` says whether a pipeline is loaded; commands it returns that need
/// one are sent after loading the pipeline on screen.
pub fn timeline_ui(
    ui: &mut egui::Ui,
    view: Option<&RunView>,
    speed: &mut Speed,
    step_n: &mut u64,
) -> Vec<Command> {
    let mut commands = Vec::new();
    let status = view.map_or(Status::Idle, |v| v.status);
    let playing = matches!(status, Status::Playing | Status::Seeking);
    ui.horizontal(|ui| {
        if ui.button("⏮").on_hover_text("Restart: back before the first event").clicked() {
            commands.push(Command::Restart);
        }
        if playing {
            if ui.button("⏸ Pause").clicked() {
                commands.push(Command::Pause);
            }
        } else if ui.button("▶ Play").on_hover_text("Play at the chosen speed").clicked() {
            commands.push(Command::Play);
        }
        if ui.button("◀ Back").on_hover_text("Step back one event (Ctrl+Left)").clicked() {
            commands.push(Command::StepBack);
        }
        if ui.button("Step").on_hover_text("Process the next event (Ctrl+Right)").clicked() {
            commands.push(Command::Step(1));
        }
        ui.add(egui::DragValue::new(step_n).range(1..=1_000_000).prefix("× "));
        if ui.button("Step N").on_hover_text("Process the next N events").clicked() {
            commands.push(Command::Step((*step_n).max(1)));
        }
        if ui
            .button("⏱ Previous timer")
            .on_hover_text("Back to the last event before this one where a timer fired (Ctrl+Shift+Left)")
            .clicked()
        {
            commands.push(Command::PreviousTimer);
        }
        if ui.button("⏱ Next timer").on_hover_text("Run until a timer fires (Ctrl+Shift+Right)").clicked() {
            commands.push(Command::RunToNextTimer);
        }
        if ui
            .button("⏭ To end")
            .on_hover_text(
                "Replay to the end of input (nothing is written: Run, Ctrl+Enter, writes the sinks)",
            )
            .clicked()
        {
            commands.push(Command::RunToEnd);
        }
        let speed_text = match speed {
            Speed::RealTime(m) => format!("× {m}"),
            Speed::AsFastAsPossible => "max".to_owned(),
        };
        let before = *speed;
        egui::ComboBox::from_id_salt("speed").selected_text(speed_text).width(70.0).show_ui(ui, |ui| {
            for m in SPEEDS {
                ui.selectable_value(speed, Speed::RealTime(m), format!("× {m}"));
            }
            ui.selectable_value(speed, Speed::AsFastAsPossible, "max");
        });
        if *speed != before {
            commands.push(Command::SetSpeed(*speed));
        }
        if ui.button("📷 Snapshot").on_hover_text("Take a snapshot here").clicked() {
            commands.push(Command::TakeSnapshot);
        }
        ui.separator();
        let (status_text, color) = match status {
            Status::Idle => ("not loaded", theme::weak_text(ui.visuals())),
            Status::Playing => ("playing", ui.visuals().text_color()),
            Status::Seeking => ("seeking", ui.visuals().text_color()),
            Status::Paused => ("paused", ui.visuals().text_color()),
            Status::Ended => ("ended", ui.visuals().text_color()),
            Status::Error => ("stopped on an error", theme::error(ui.visuals())),
        };
        ui.label(RichText::new(status_text).color(color));
        if let Some(view) = view {
            ui.label(format!("clock {}", clock_text(view.clock_micros)));
            if let Some(waiting) = view.waiting_text() {
                ui.label(waiting);
            }
        }
    });
    if let Some(view) = view {
        ui.horizontal(|ui| {
            let total = view.total.unwrap_or(view.position).max(view.position);
            let mut position = view.position;
            let label = match view.total {
                Some(total) => format!("event {position} of {total}"),
                None => format!("event {position} (counting…)"),
            };
            ui.spacing_mut().slider_width = (ui.available_width() - 220.0).max(120.0);
            let response = ui.add(
                egui::Slider::new(&mut position, view.origin..=total.max(view.origin)).show_value(false),
            );
            if response.changed() && position != view.position {
                commands.push(Command::Seek(position));
            }
            markers_ui(ui, &response, view, total.max(view.origin));
            ui.label(label);
        });
    }
    commands
}
