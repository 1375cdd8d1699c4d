//! *Run*: the progress of a background run (a bar of events read against the total, the
//! run's clock, Cancel), its one-line result afterwards, and the Run tab's full summary.

use eframe::egui::{self, RichText};

use crate::engine::{RunOutcome, RunProgress, RunReport, thousands};
use crate::ui::theme;

/// What the run row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAction {
    /// Stop the run after the event it is on.
    Cancel,
    /// Show the whole summary (the Run tab).
    ShowSummary,
    /// Hide the last run's result.
    Dismiss,
}

/// The row under the replay bar while a run goes (`progress`) or after it (`report`).
pub fn run_row_ui(
    ui: &mut egui::Ui,
    progress: Option<RunProgress>,
    report: Option<&RunReport>,
) -> Option<RunAction> {
    let mut action = None;
    if let Some(progress) = progress {
        ui.horizontal(|ui| {
            if ui
                .button("Cancel run")
                .on_hover_text("Stop after the current event; complete lines stay")
                .clicked()
            {
                action = Some(RunAction::Cancel);
            }
            let clock = crate::ui::panels::timeline_ui::clock_text(progress.clock);
            let (fraction, text) = match progress.total {
                Some(total) if total > 0 => (
                    progress.events as f32 / total as f32,
                    format!(
                        "Running: {} / {} events · clock {clock}",
                        thousands(progress.events),
                        thousands(total)
                    ),
                ),
                _ => (
                    0.0,
                    format!(
                        "Running: {} events (counting the total…) · clock {clock}",
                        thousands(progress.events)
                    ),
                ),
            };
            ui.add(
                egui::ProgressBar::new(fraction.clamp(0.0, 1.0)).text(text).animate(progress.total.is_none()),
            );
        });
    } else if let Some(report) = report {
        ui.horizontal_wrapped(|ui| {
            if ui.small_button("Hide").clicked() {
                action = Some(RunAction::Dismiss);
            }
            if ui.button("Summary").clicked() {
                action = Some(RunAction::ShowSummary);
            }
            let color = match report.outcome {
                RunOutcome::Done => theme::weak_text(ui.visuals()),
                RunOutcome::Cancelled => theme::selection(ui.visuals()),
                RunOutcome::Failed(_) => theme::error(ui.visuals()),
            };
            ui.label(RichText::new(report.headline()).color(color));
        });
    }
    action
}

/// The Run tab: the last run's whole summary, as `eddy run` prints it.
pub fn run_summary_ui(ui: &mut egui::Ui, report: Option<&RunReport>) {
    let Some(report) = report else {
        ui.weak("Run (Ctrl+Enter) runs the pipeline for real, as `eddy run` does, and writes its sinks; its summary shows here.");
        return;
    };
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.label(RichText::new(report.headline()).strong());
        if let RunOutcome::Failed(message) = &report.outcome {
            ui.colored_label(theme::error(ui.visuals()), message);
        }
        ui.label(RichText::new(&report.summary).monospace());
        // What `eddy run` would print on standard output: the workbench's own is not on screen.
        for (sink, lines) in &report.stdout {
            let written = report.sinks.iter().find(|(id, ..)| id == sink).map_or(0, |(_, n, _)| *n);
            ui.separator();
            let shown = if (lines.len() as u64) < written {
                format!("the last {} of {} lines", lines.len(), written)
            } else {
                format!("{} lines", lines.len())
            };
            ui.label(RichText::new(format!("Standard output of sink `{sink}` ({shown})")).strong());
            for line in lines {
                ui.label(RichText::new(line).monospace());
            }
        }
    });
}
