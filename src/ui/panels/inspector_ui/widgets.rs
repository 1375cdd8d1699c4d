//! The inspector's widgets for one setting, driven by its description (`graph::Setting`): the
//! label with its doc, the one combo box and the radio row of an enum-valued setting, a path
//! with its file dialog, an optional text.

use std::hash::Hash;
use std::path::PathBuf;

use eframe::egui;
use egui_snarl::NodeId;

use super::{InspectorAction, PathField};
use crate::graph::{FileEnum, Setting};

/// The description of `key` among `settings`, for its label and doc.
pub(super) fn described(settings: &'static [Setting], key: &'static str) -> (&'static str, &'static str) {
    settings.iter().find(|s| s.key == key).map_or((key, ""), |s| (s.label, s.doc))
}

/// A setting's label, its one-line doc shown on hover.
pub(super) fn setting_label(ui: &mut egui::Ui, (label, doc): (&str, &str)) -> egui::Response {
    let response = ui.label(label);
    if doc.is_empty() { response } else { response.on_hover_text(doc) }
}

/// The combo box of an enum-valued setting: its values as the description lists them, and,
/// when `unset` names it, an entry for leaving the setting out (`None`). Returns the choice.
pub(super) fn choice_combo<T: FileEnum>(
    ui: &mut egui::Ui,
    salt: impl Hash + std::fmt::Debug,
    selected: Option<T>,
    unset: Option<&'static str>,
) -> Option<T> {
    let mut choice = selected;
    egui::ComboBox::from_id_salt(salt)
        .selected_text(choice.map_or(unset.unwrap_or_default(), T::name))
        .show_ui(ui, |ui| {
            if let Some(unset) = unset {
                ui.selectable_value(&mut choice, None, unset);
            }
            for &value in T::VALUES {
                ui.selectable_value(&mut choice, Some(value), value.name());
            }
        });
    choice
}

/// A row of radio buttons over an enum-valued setting's values.
pub(super) fn choice_radios<T: FileEnum>(ui: &mut egui::Ui, value: &mut T) {
    ui.horizontal(|ui| {
        for &choice in T::VALUES {
            ui.radio_value(value, choice, choice.name());
        }
    });
}

/// A grid row for a path setting: its text and a button for the file dialog.
pub(super) fn path_row(
    ui: &mut egui::Ui,
    described: (&str, &str),
    path: &mut PathBuf,
    id: NodeId,
    field: PathField,
    actions: &mut Vec<InspectorAction>,
) {
    let label = setting_label(ui, described);
    ui.horizontal(|ui| {
        let mut text = path.display().to_string();
        if ui.add(egui::TextEdit::singleline(&mut text).desired_width(180.0)).labelled_by(label.id).changed()
        {
            *path = PathBuf::from(text);
        }
        if ui.button("…").on_hover_text("Choose a file").clicked() {
            actions.push(InspectorAction::Browse(id, field));
        }
    });
    ui.end_row();
}

/// A grid row for an optional path setting: empty means not set.
pub(super) fn optional_path_row(
    ui: &mut egui::Ui,
    described: (&str, &str),
    path: &mut Option<PathBuf>,
    id: NodeId,
    field: PathField,
    actions: &mut Vec<InspectorAction>,
) {
    let mut text = path.clone().unwrap_or_default();
    path_row(ui, described, &mut text, id, field, actions);
    *path = (!text.as_os_str().is_empty()).then_some(text);
}

/// A text field for an optional setting: empty means not set.
pub(super) fn optional_text(ui: &mut egui::Ui, value: &mut Option<String>, hint: &str) -> egui::Response {
    let mut text = value.clone().unwrap_or_default();
    let response = ui.add(egui::TextEdit::singleline(&mut text).hint_text(hint).desired_width(200.0));
    if response.changed() {
        *value = (!text.is_empty()).then_some(text);
    }
    response
}
