//! Plots of the replay: events per second per node while playing, keys and state size per
//! stateful node over the replay, and the watched key's value over the replay.

use eframe::egui::{self, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::state_ui::key_history_plot_ui;
use crate::session::RunView;

/// The plots.
pub fn plots_ui(ui: &mut egui::Ui, view: &RunView) {
    let Some(pipeline) = &view.pipeline else { return };
    let metrics = &view.metrics;
    ui.columns(3, |columns| {
        let ui = &mut columns[0];
        ui.label(RichText::new("Items per second into each step (while playing)").strong());
        counting_plot("throughput", 180.0, "seconds of play", "items/s").show(ui, |plot| {
            for (index, step) in pipeline.steps.iter().enumerate() {
                let points: Vec<[f64; 2]> = metrics
                    .by_wall
                    .iter()
                    .filter_map(|s| s.items_in_per_sec.get(index).map(|v| [s.secs, *v]))
                    .collect();
                plot.line(Line::new(step.id.clone(), PlotPoints::from(points)));
            }
        });
        let ui = &mut columns[1];
        ui.label(RichText::new("Keys per stateful step, by event").strong());
        counting_plot("keys", 180.0, "event", "keys").show(ui, |plot| {
            for (index, step) in pipeline.steps.iter().enumerate().filter(|(_, s)| s.stateful) {
                let points: Vec<[f64; 2]> = metrics
                    .state
                    .iter()
                    .filter_map(|s| s.keys.get(index).map(|k| [s.position as f64, *k as f64]))
                    .collect();
                plot.line(Line::new(format!("{} keys", step.id), PlotPoints::from(points)));
            }
        });
        ui.label(RichText::new("State size (KiB)").strong());
        counting_plot("state_bytes", 120.0, "event", "KiB").show(ui, |plot| {
            for (index, step) in pipeline.steps.iter().enumerate().filter(|(_, s)| s.stateful) {
                let points: Vec<[f64; 2]> = metrics
                    .state
                    .iter()
                    .filter_map(|s| {
                        s.approx_bytes.get(index).map(|b| [s.position as f64, *b as f64 / 1024.0])
                    })
                    .collect();
                plot.line(Line::new(step.id.clone(), PlotPoints::from(points)));
            }
        });
        let ui = &mut columns[2];
        match &view.watch {
            Some(series) => {
                ui.label(RichText::new(format!("`{}` key {:?}, by event", series.step, series.key)).strong());
                key_history_plot_ui(ui, series);
            }
            None => {
                ui.weak("Click a key in the State tab to follow its value here.");
            }
        }
    });
}

/// A plot of counts (items, keys, bytes): its axes named with their units, its y-range from 0 to
/// a little over the largest value, so a flat line reads as the count it is, not as noise.
fn counting_plot<'a>(id: &'a str, height: f32, x: &str, y: &str) -> Plot<'a> {
    Plot::new(id)
        .height(height)
        .legend(Legend::default())
        .x_axis_label(x.to_owned())
        .y_axis_label(y.to_owned())
        .include_y(0.0)
        .auto_bounds([true, true])
}
