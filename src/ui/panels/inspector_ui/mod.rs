//! The inspector: every setting of the selected node as a proper widget, its inputs, and its
//! script in the script editor. This module holds what every node has (id, inputs, problems,
//! delete); the settings are drawn by one part per kind of node (`source`, `step`, `sink`)
//! from the settings' description (`graph::Setting`), with the widgets of `widgets`.

mod sink;
mod source;
mod step;
mod widgets;

use eframe::egui::{self, RichText};
use egui_snarl::{InPinId, NodeId, OutPinId};

use super::script_ui::ScriptProblem;
use crate::graph::GraphError;
use crate::ui::editor::node::{EditorNode, NodeBody};
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
    id_row(ui, id, node, state, context, &mut actions);
    ui.separator();
    if node.input_slots > 0 {
        inputs_ui(ui, id, node, context, &mut actions);
    }
    ui.separator();
    match &mut node.body {
        NodeBody::Source(source) => source::source_ui(ui, id, source, state, &mut actions),
        NodeBody::Sink(sink) => sink::sink_ui(ui, id, sink, &mut actions),
        NodeBody::Step(step) => step::step_ui(ui, id, step, context),
    }
    problems_ui(ui, context.problems);
    ui.separator();
    if ui.button(RichText::new("🗑 Delete node").color(theme::error(ui.visuals()))).clicked() {
        actions.push(InspectorAction::Delete(id));
    }
    actions
}

/// The node's id, renamed when the typed one is committed and free (what is wrong with it is
/// shown while typing).
fn id_row(
    ui: &mut egui::Ui,
    id: NodeId,
    node: &EditorNode,
    state: &mut InspectorState,
    context: &InspectorContext<'_>,
    actions: &mut Vec<InspectorAction>,
) {
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
}

/// Each input pin with the stream wired to it, and buttons to add or remove a pin where the
/// operator takes several.
fn inputs_ui(
    ui: &mut egui::Ui,
    id: NodeId,
    node: &EditorNode,
    context: &InspectorContext<'_>,
    actions: &mut Vec<InspectorAction>,
) {
    ui.label(RichText::new("Inputs").strong());
    egui::Grid::new("inspector_inputs").num_columns(2).spacing([8.0, 4.0]).show(ui, |ui| {
        for pin in 0..node.input_slots {
            ui.label(node.input_label(pin));
            let current = context.inputs.get(pin).cloned().flatten();
            let to = InPinId { node: id, input: pin };
            egui::ComboBox::from_id_salt(("input", pin))
                .selected_text(current.clone().unwrap_or_else(|| "not connected".to_owned()))
                .width(180.0)
                .show_ui(ui, |ui| {
                    if ui.selectable_label(current.is_none(), "not connected").clicked() {
                        actions.push(InspectorAction::Connect(to, None));
                    }
                    for (name, from) in context.streams {
                        if ui.selectable_label(current.as_deref() == Some(name), name).clicked() {
                            actions.push(InspectorAction::Connect(to, Some(*from)));
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
            let removable = node.input_slots > node.min_input_slots();
            if ui.add_enabled(removable, egui::Button::new("➖ Remove last")).clicked() {
                actions.push(InspectorAction::RemoveInput(id));
            }
        });
    }
}

/// The node's problems, but a script's problem the script editor shows at its line.
fn problems_ui(ui: &mut egui::Ui, problems: &[GraphError]) {
    let others: Vec<&GraphError> = problems
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
}
