//! The inspector's part for a sink: its format and, unless it writes to standard output, its file.

use eframe::egui;
use egui_snarl::NodeId;

use super::widgets::{choice_combo, described, optional_path_row, setting_label};
use super::{InspectorAction, PathField};
use crate::graph::{SINK_SETTINGS, SinkFormat, SinkSpec};

/// The sink's format and file.
pub(super) fn sink_ui(
    ui: &mut egui::Ui,
    id: NodeId,
    sink: &mut SinkSpec,
    actions: &mut Vec<InspectorAction>,
) {
    egui::Grid::new("inspector_sink").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
        setting_label(ui, described(&SINK_SETTINGS, "format"));
        if let Some(format) = choice_combo(ui, "sink_format", Some(sink.format), None) {
            sink.format = format;
        }
        ui.end_row();
        match sink.format {
            SinkFormat::Stdout => sink.path = None,
            SinkFormat::Jsonl | SinkFormat::Csv => {
                let about = described(&SINK_SETTINGS, "path");
                optional_path_row(ui, about, &mut sink.path, id, PathField::SinkPath, actions);
            }
        }
    });
}
