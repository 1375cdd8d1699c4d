//! The inspector's part for a source: file, format, time, bad rows, live reading, and the
//! forced column types of a CSV file.

use eframe::egui::{self, RichText};
use egui_snarl::NodeId;

use super::widgets::{choice_combo, described, optional_path_row, optional_text, path_row, setting_label};
use super::{InspectorAction, InspectorState, PathField};
use crate::graph::{BadRowPolicy, ColumnType, SOURCE_SETTINGS, SourceFormat, SourceSpec};

/// The source's settings, then its column types when it reads CSV.
pub(super) fn source_ui(
    ui: &mut egui::Ui,
    id: NodeId,
    source: &mut SourceSpec,
    state: &mut InspectorState,
    actions: &mut Vec<InspectorAction>,
) {
    let about = |key| described(&SOURCE_SETTINGS, key);
    egui::Grid::new("inspector_source").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
        path_row(ui, about("path"), &mut source.path, id, PathField::SourcePath, actions);
        setting_label(ui, about("format"));
        source.format = choice_combo(ui, "source_format", source.format, Some("from the extension"));
        ui.end_row();
        let label = setting_label(ui, about("time_field"));
        optional_text(ui, &mut source.time_field, "none: the source does not move the clock")
            .labelled_by(label.id);
        ui.end_row();
        setting_label(ui, about("time_format"));
        if let Some(format) = choice_combo(ui, "time_format", Some(source.time_format), None) {
            source.time_format = format;
        }
        ui.end_row();
        setting_label(ui, about("on_bad_row"));
        if let Some(policy) = choice_combo(ui, "on_bad_row", Some(source.on_bad_row), None) {
            source.on_bad_row = policy;
        }
        ui.end_row();
        if source.on_bad_row == BadRowPolicy::DeadLetter {
            let field = PathField::DeadLetter;
            optional_path_row(
                ui,
                about("dead_letter_path"),
                &mut source.dead_letter_path,
                id,
                field,
                actions,
            );
        }
        live_rows(ui, id, source, actions);
    });
    if source.effective_format() == Some(SourceFormat::Csv) {
        column_types_ui(ui, source, state);
    }
}

/// Whether the file is followed as it grows, and the recording a live source is replayed from.
fn live_rows(ui: &mut egui::Ui, id: NodeId, source: &mut SourceSpec, actions: &mut Vec<InspectorAction>) {
    let about = |key| described(&SOURCE_SETTINGS, key);
    if !source.is_stdin() {
        setting_label(ui, about("follow"));
        ui.checkbox(&mut source.follow, "read as the file grows (tail -F)").on_hover_text(
            "A live stream for `eddy run`: rows appended later are read as they come, \
             through truncation and rotation; the workbench replays it from a recording",
        );
        ui.end_row();
    }
    // A live stream cannot be replayed here; a recording of it can.
    if source.is_stdin() || source.follow {
        optional_path_row(ui, about("recording"), &mut source.recording, id, PathField::Recording, actions);
    }
}

/// The forced column types, each with its combo box and a remove button, and a field to force
/// one more column to string.
fn column_types_ui(ui: &mut egui::Ui, source: &mut SourceSpec, state: &mut InspectorState) {
    ui.add_space(6.0);
    ui.label(RichText::new("Column types (others are typed from their text)").strong());
    let mut remove = None;
    for (column, kind) in &mut source.types {
        ui.horizontal(|ui| {
            ui.monospace(column);
            if let Some(chosen) = choice_combo(ui, ("column_type", column.as_str()), Some(*kind), None) {
                *kind = chosen;
            }
            if ui.small_button("✖").on_hover_text("Remove").clicked() {
                remove = Some(column.clone());
            }
        });
    }
    if let Some(column) = remove {
        source.types.remove(&column);
    }
    ui.horizontal(|ui| {
        let label = ui.label("column");
        ui.add(egui::TextEdit::singleline(&mut state.new_column).hint_text("name").desired_width(120.0))
            .labelled_by(label.id);
        let name = state.new_column.trim().to_owned();
        if ui.add_enabled(!name.is_empty(), egui::Button::new("Force to string")).clicked() {
            source.types.insert(name, ColumnType::String);
            state.new_column.clear();
        }
    });
}
