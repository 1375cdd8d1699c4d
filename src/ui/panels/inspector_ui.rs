//! The inspector: every setting of the selected node as a proper widget, its inputs, and its
//! script in the script editor.

use std::path::PathBuf;

use eframe::egui::{self, RichText};
use egui_snarl::{InPinId, NodeId, OutPinId};

use super::script_ui::{ScriptProblem, script_editor_ui};
use crate::graph::{
    BadRowPolicy, Builtin, ColumnType, EmitMode, GraphError, InsertMode, OpKind, SinkFormat, SourceFormat,
    StepSetting, TimeFormat, op_settings,
};
use crate::ui::editor::node::{EditorNode, NodeBody};
use crate::ui::editor::templates::template_script;
use crate::ui::theme;

/// Widget state of the inspector that outlives a frame.
#[derive(Debug, Default)]
pub struct InspectorState {
    /// The node the rename buffer belongs to.
    pub node: Option<NodeId>,
    /// The id being typed.
    pub rename: String,
    /// A new forced column type being typed (column name).
    pub new_column: String,
}

/// An edit the inspector asks the app to make (it needs more than the node).
#[derive(Debug, Clone, PartialEq)]
pub enum InspectorAction {
    /// Rename the node.
    Rename(NodeId, String),
    /// Wire an input pin from a stream, or cut it (`None`).
    Connect(InPinId, Option<OutPinId>),
    /// Add an input pin.
    AddInput(NodeId),
    /// Remove the last input pin.
    RemoveInput(NodeId),
    /// Pick a file for a path setting with the native dialog.
    Browse(NodeId, PathField),
    /// Delete the node.
    Delete(NodeId),
}

/// Which path setting a file dialog fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathField {
    /// A source's file.
    SourcePath,
    /// A source's dead-letter file.
    DeadLetter,
    /// A live source's recording, replayed in place of the stream.
    Recording,
    /// A sink's file.
    SinkPath,
}

/// What the inspector shows about the node's surroundings.
pub struct InspectorContext<'a> {
    /// Streams the node can be wired from: name and pin.
    pub streams: &'a [(String, OutPinId)],
    /// Each input pin's current stream name.
    pub inputs: &'a [Option<String>],
    /// The problems of this node.
    pub problems: &'a [GraphError],
    /// Ids taken by other nodes.
    pub taken: &'a dyn Fn(&str) -> bool,
    /// The error the replay stopped on in this step's script, if any: shown at its line when
    /// the script compiles.
    pub run_error: Option<ScriptProblem>,
}

/// The inspector for one node. Returns edits that need the app.
pub fn inspector_ui(
    ui: &mut egui::Ui,
    id: NodeId,
    node: &mut EditorNode,
    state: &mut InspectorState,
    context: &InspectorContext<'_>,
) -> Vec<InspectorAction> {
    let mut actions = Vec::new();
    if state.node != Some(id) {
        state.node = Some(id);
        state.rename = node.id().to_owned();
        state.new_column.clear();
    }
    ui.horizontal(|ui| {
        ui.heading(node.id());
        ui.label(RichText::new(node.kind_label()).color(theme::weak_text(ui.visuals())));
    });
    egui::Grid::new("inspector_id").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
        let label = ui.label("id");
        let response =
            ui.add(egui::TextEdit::singleline(&mut state.rename).desired_width(180.0)).labelled_by(label.id);
        let wanted = state.rename.trim().to_owned();
        let problem = if wanted == node.id() {
            None
        } else if let Some(problem) = crate::graph::id_problem(&wanted) {
            Some(problem.to_owned())
        } else if (context.taken)(&wanted) {
            Some(format!("`{wanted}` is already used"))
        } else {
            None
        };
        let commit = response.lost_focus() || ui.input(|i| i.key_pressed(egui::Key::Enter));
        if commit && wanted != node.id() {
            match &problem {
                None => actions.push(InspectorAction::Rename(id, wanted)),
                Some(_) => state.rename = node.id().to_owned(),
            }
        }
        ui.end_row();
        if let Some(problem) = problem.filter(|_| response.has_focus()) {
            ui.label("");
            ui.colored_label(theme::error(ui.visuals()), problem);
            ui.end_row();
        }
    });
    ui.separator();

    if node.input_slots > 0 {
        ui.label(RichText::new("Inputs").strong());
        egui::Grid::new("inspector_inputs").num_columns(2).spacing([8.0, 4.0]).show(ui, |ui| {
            for pin in 0..node.input_slots {
                ui.label(node.input_label(pin));
                let current = context.inputs.get(pin).cloned().flatten();
                egui::ComboBox::from_id_salt(("input", pin))
                    .selected_text(current.clone().unwrap_or_else(|| "not connected".to_owned()))
                    .width(180.0)
                    .show_ui(ui, |ui| {
                        if ui.selectable_label(current.is_none(), "not connected").clicked() {
                            actions.push(InspectorAction::Connect(InPinId { node: id, input: pin }, None));
                        }
                        for (name, from) in context.streams {
                            if ui.selectable_label(current.as_deref() == Some(name), name).clicked() {
                                actions.push(InspectorAction::Connect(
                                    InPinId { node: id, input: pin },
                                    Some(*from),
                                ));
                            }
                        }
                    });
                ui.end_row();
            }
        });
        if node.has_variable_inputs() {
            ui.horizontal(|ui| {
                if ui.button("➕ Add input").clicked() {
                    actions.push(InspectorAction::AddInput(id));
                }
                if ui
                    .add_enabled(
                        node.input_slots > node.min_input_slots(),
                        egui::Button::new("➖ Remove last"),
                    )
                    .clicked()
                {
                    actions.push(InspectorAction::RemoveInput(id));
                }
            });
        }
    }

    ui.separator();

    match &mut node.body {
        NodeBody::Source(source) => {
            egui::Grid::new("inspector_source").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
                path_row(ui, "file", &mut source.path, id, PathField::SourcePath, &mut actions);
                ui.label("format");
                let mut format = source.format;
                egui::ComboBox::from_id_salt("source_format")
                    .selected_text(format.map_or("from the extension", |f| f.as_str()))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut format, None, "from the extension");
                        for f in [SourceFormat::Csv, SourceFormat::Jsonl, SourceFormat::Json] {
                            ui.selectable_value(&mut format, Some(f), f.as_str());
                        }
                    });
                source.format = format;
                ui.end_row();
                let label = ui.label("time field");
                optional_text(ui, &mut source.time_field, "none: the source does not move the clock")
                    .labelled_by(label.id);
                ui.end_row();
                ui.label("time format");
                egui::ComboBox::from_id_salt("time_format")
                    .selected_text(source.time_format.as_str())
                    .show_ui(ui, |ui| {
                        for f in
                            [TimeFormat::Rfc3339, TimeFormat::UnixS, TimeFormat::UnixMs, TimeFormat::UnixUs]
                        {
                            ui.selectable_value(&mut source.time_format, f, f.as_str());
                        }
                    });
                ui.end_row();
                ui.label("bad rows");
                egui::ComboBox::from_id_salt("on_bad_row").selected_text(source.on_bad_row.as_str()).show_ui(
                    ui,
                    |ui| {
                        for p in [BadRowPolicy::Fail, BadRowPolicy::Skip, BadRowPolicy::DeadLetter] {
                            ui.selectable_value(&mut source.on_bad_row, p, p.as_str());
                        }
                    },
                );
                ui.end_row();
                if source.on_bad_row == BadRowPolicy::DeadLetter {
                    let mut path = source.dead_letter_path.clone().unwrap_or_default();
                    path_row(ui, "dead letters", &mut path, id, PathField::DeadLetter, &mut actions);
                    source.dead_letter_path = (!path.as_os_str().is_empty()).then_some(path);
                }
                if !source.is_stdin() {
                    ui.label("follow");
                    ui.checkbox(&mut source.follow, "read as the file grows (tail -F)").on_hover_text(
                        "A live stream for `eddy run`: rows appended later are read as they come, \
                         through truncation and rotation; the workbench replays it from a recording",
                    );
                    ui.end_row();
                }
                // A live stream cannot be replayed here; a recording of it can.
                if source.is_stdin() || source.follow {
                    let mut path = source.recording.clone().unwrap_or_default();
                    path_row(ui, "recording", &mut path, id, PathField::Recording, &mut actions);
                    source.recording = (!path.as_os_str().is_empty()).then_some(path);
                }
            });
            if source.effective_format() == Some(SourceFormat::Csv) {
                ui.add_space(6.0);
                ui.label(RichText::new("Column types (others are typed from their text)").strong());
                let mut remove = None;
                for (column, kind) in &mut source.types {
                    ui.horizontal(|ui| {
                        ui.monospace(column);
                        egui::ComboBox::from_id_salt(("column_type", column.as_str()))
                            .selected_text(kind.as_str())
                            .show_ui(ui, |ui| {
                                for t in
                                    [ColumnType::String, ColumnType::Int, ColumnType::Float, ColumnType::Bool]
                                {
                                    ui.selectable_value(kind, t, t.as_str());
                                }
                            });
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
                    ui.add(
                        egui::TextEdit::singleline(&mut state.new_column)
                            .hint_text("name")
                            .desired_width(120.0),
                    )
                    .labelled_by(label.id);
                    let name = state.new_column.trim().to_owned();
                    if ui.add_enabled(!name.is_empty(), egui::Button::new("Force to string")).clicked() {
                        source.types.insert(name, ColumnType::String);
                        state.new_column.clear();
                    }
                });
            }
        }
        NodeBody::Sink(sink) => {
            egui::Grid::new("inspector_sink").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
                ui.label("format");
                egui::ComboBox::from_id_salt("sink_format").selected_text(sink.format.as_str()).show_ui(
                    ui,
                    |ui| {
                        for f in [SinkFormat::Jsonl, SinkFormat::Csv, SinkFormat::Stdout] {
                            ui.selectable_value(&mut sink.format, f, f.as_str());
                        }
                    },
                );
                ui.end_row();
                match sink.format {
                    SinkFormat::Stdout => sink.path = None,
                    SinkFormat::Jsonl | SinkFormat::Csv => {
                        let mut path = sink.path.clone().unwrap_or_default();
                        path_row(ui, "file", &mut path, id, PathField::SinkPath, &mut actions);
                        sink.path = (!path.as_os_str().is_empty()).then_some(path);
                    }
                }
            });
        }
        NodeBody::Step(step) => {
            let settings = op_settings(step.op);
            egui::Grid::new("inspector_step").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
                if settings.contains(&StepSetting::Builtin) {
                    ui.label("function");
                    let mut builtin = step.builtin;
                    egui::ComboBox::from_id_salt("builtin")
                        .selected_text(builtin.map_or("script", |b| b.as_str()))
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut builtin, None, "script");
                            for b in [Builtin::Count, Builtin::Sum, Builtin::Min, Builtin::Max] {
                                ui.selectable_value(&mut builtin, Some(b), b.as_str());
                            }
                        });
                    if builtin != step.builtin {
                        step.builtin = builtin;
                        if builtin.is_some() {
                            step.script = None;
                        } else {
                            step.field = None;
                            step.script = template_script(step.op).map(str::to_owned);
                        }
                    }
                    ui.end_row();
                }
                let field_used = settings.contains(&StepSetting::Field)
                    && !(settings.contains(&StepSetting::Builtin)
                        && matches!(step.builtin, None | Some(Builtin::Count)));
                if field_used {
                    let label = ui.label("field");
                    let hint = match step.op {
                        OpKind::KeyOn | OpKind::CountFinal => "key by this field instead of a script",
                        OpKind::Map | OpKind::MapValue => "take this field instead of a script",
                        OpKind::MaxFinal | OpKind::MinFinal => "compare this field instead of by()",
                        _ => "the built-in's operand (empty: the whole value)",
                    };
                    let had = step.field.is_some();
                    optional_text(ui, &mut step.field, hint).labelled_by(label.id);
                    // A field replaces the script for operators that take either.
                    if !had && step.field.is_some() && !settings.contains(&StepSetting::Builtin) {
                        step.script = None;
                    }
                    ui.end_row();
                }
                if settings.contains(&StepSetting::MaxSize) {
                    ui.label("max size");
                    let mut on = step.max_size.is_some();
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut on, "");
                        let mut size = step.max_size.unwrap_or(10);
                        ui.add_enabled(on, egui::DragValue::new(&mut size).range(1..=1_000_000));
                        step.max_size = on.then_some(size);
                    });
                    ui.end_row();
                }
                if settings.contains(&StepSetting::Timeout) {
                    let label = ui.label("timeout");
                    ui.vertical(|ui| {
                        optional_text(ui, &mut step.timeout, "e.g. 10s, 250ms, 1h; none: no timeout")
                            .labelled_by(label.id);
                        if let Some(text) = &step.timeout {
                            match crate::time::parse_duration_micros(text) {
                                Ok(micros) => {
                                    ui.weak(format!("= {}", crate::time::format_duration_micros(micros)));
                                }
                                Err(reason) => {
                                    ui.colored_label(theme::error(ui.visuals()), reason);
                                }
                            }
                        }
                    });
                    ui.end_row();
                }
                if settings.contains(&StepSetting::InsertMode) {
                    ui.label("insert mode");
                    let mut mode = step.insert_mode.unwrap_or_default();
                    ui.horizontal(|ui| {
                        for &m in InsertMode::ALL {
                            ui.radio_value(&mut mode, m, m.as_str());
                        }
                    });
                    step.insert_mode = Some(mode);
                    ui.end_row();
                }
                if settings.contains(&StepSetting::EmitMode) {
                    ui.label("emit mode");
                    let mut mode = step.emit_mode.unwrap_or_default();
                    ui.horizontal(|ui| {
                        for &m in EmitMode::ALL {
                            ui.radio_value(&mut mode, m, m.as_str());
                        }
                    });
                    step.emit_mode = Some(mode);
                    ui.end_row();
                }
            });
            if settings.contains(&StepSetting::Script)
                && !(settings.contains(&StepSetting::Builtin) && step.builtin.is_some())
            {
                ui.add_space(6.0);
                let script_label = ui
                    .horizontal(|ui| {
                        let label = ui.label(RichText::new("Script (Rhai)").strong());
                        if let Some(template) = template_script(step.op)
                            && ui
                                .small_button("Template")
                                .on_hover_text("Replace the script with the operator's template")
                                .clicked()
                        {
                            step.script = Some(template.to_owned());
                        }
                        label.id
                    })
                    .inner;
                let problem =
                    context.problems.iter().find(|p| p.field.as_deref() == Some("script")).map(|p| {
                        ScriptProblem {
                            line: p.script_position.map(|(l, _)| l),
                            column: p.script_position.map(|(_, c)| c),
                            message: p.message.clone(),
                        }
                    });
                let problem = problem.or_else(|| context.run_error.clone());
                match &mut step.script {
                    Some(script) => {
                        script_editor_ui(
                            ui,
                            egui::Id::new(("script", id)),
                            script_label,
                            script,
                            problem.as_ref(),
                        );
                    }
                    None => {
                        ui.horizontal(|ui| {
                            ui.weak("No script.");
                            if ui.button("Add a script").clicked() {
                                step.script = Some(template_script(step.op).unwrap_or("").to_owned());
                                step.field = None;
                            }
                        });
                    }
                }
            }
        }
    }

    let others: Vec<&GraphError> = context
        .problems
        .iter()
        .filter(|p| p.field.as_deref() != Some("script") || p.script_position.is_none())
        .collect();
    if !others.is_empty() {
        ui.separator();
        for problem in others {
            let field = problem.field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default();
            ui.colored_label(theme::error(ui.visuals()), format!("⚠ {field}{}", problem.message));
        }
    }
    ui.separator();
    if ui.button(RichText::new("🗑 Delete node").color(theme::error(ui.visuals()))).clicked() {
        actions.push(InspectorAction::Delete(id));
    }
    actions
}

fn path_row(
    ui: &mut egui::Ui,
    label: &str,
    path: &mut PathBuf,
    id: NodeId,
    field: PathField,
    actions: &mut Vec<InspectorAction>,
) {
    let label = ui.label(label);
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

/// A text field for an optional setting: empty means not set.
fn optional_text(ui: &mut egui::Ui, value: &mut Option<String>, hint: &str) -> egui::Response {
    let mut text = value.clone().unwrap_or_default();
    let response = ui.add(egui::TextEdit::singleline(&mut text).hint_text(hint).desired_width(200.0));
    if response.changed() {
        *value = (!text.is_empty()).then_some(text);
    }
    response
}
