//! The canvas behaviour (egui-snarl's `SnarlViewer`): how nodes look, which wires are allowed,
//! and the menus. Edits that need more than the canvas are returned as [`EditorAction`]s.

use std::collections::BTreeMap;
use std::path::Path;

use eframe::egui::{self, Color32, Pos2, Rect, RichText, Sense, Stroke, emath::TSTransform};
use egui_snarl::ui::{AnyPins, PinInfo, SnarlViewer};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};

use super::convert::refused_wiring;
use super::node::{EditorNode, NodeBody};
use super::palette::{PaletteKind, palette_ui};
use crate::graph::PipelineDoc;
use crate::ui::theme::{self, NodeTone};

/// An edit the canvas asks the app to make after the frame.
#[derive(Debug, Clone)]
pub enum EditorAction {
    /// Show this node in the inspector.
    Inspect(NodeId),
    /// Add a node from the palette at a canvas position, wired to `from` when it was dropped
    /// from a wire.
    Add {
        /// What to add.
        kind: PaletteKind,
        /// Where (canvas coordinates).
        pos: Pos2,
        /// The pins the wire was dragged from.
        from: Option<WireEnd>,
    },
    /// Delete the node.
    Delete(NodeId),
    /// Duplicate the node (settings and script, no wires).
    Duplicate(NodeId),
    /// Add an input pin (join side, merge or sink input).
    AddInput(NodeId),
    /// Remove the last input pin.
    RemoveInput(NodeId),
    /// A wire was refused: why.
    Refused(String),
}

/// The pins a wire was dragged from before it was dropped on empty canvas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireEnd {
    /// Output pins: the new node gets them on its first input.
    Out(Vec<OutPinId>),
    /// Input pins: the new node's first output feeds them.
    In(Vec<InPinId>),
}

impl WireEnd {
    fn from_pins(pins: AnyPins<'_>) -> Self {
        match pins {
            AnyPins::Out(pins) => Self::Out(pins.to_vec()),
            AnyPins::In(pins) => Self::In(pins.to_vec()),
        }
    }
}

/// What the canvas needs from the app for one frame.
pub struct EditorViewer<'a> {
    /// What the canvas does not hold (clock, format version).
    pub base: &'a PipelineDoc,
    /// The pipeline file's folder (source files are checked there).
    pub base_dir: &'a Path,
    /// Problems by node id, for the markers.
    pub problems: &'a BTreeMap<String, usize>,
    /// The node shown in the inspector.
    pub inspected: Option<NodeId>,
    /// The palette's search text.
    pub search: &'a mut String,
    /// Edits to make after the frame.
    pub actions: Vec<EditorAction>,
    /// Node rectangles (canvas coordinates), for fit-to-view.
    pub node_rects: &'a mut BTreeMap<NodeId, Rect>,
    /// A transform to apply this frame (fit to view, zoom buttons).
    pub transform: Option<TSTransform>,
    /// The transform the canvas had this frame.
    pub seen_transform: Option<TSTransform>,
    /// The app's visuals (theme colours).
    pub visuals: egui::Visuals,
    /// What the replay has seen at each node (`in 12 · out 7 · 3 keys`), by id.
    pub activity: &'a BTreeMap<String, String>,
    /// The step the replay stopped on with an error.
    pub failed: Option<&'a str>,
    /// The step a breakpoint paused the replay on, and the key, if any.
    pub paused_at: Option<(&'a str, Option<&'a str>)>,
}

fn tone(node: &EditorNode) -> NodeTone {
    match &node.body {
        NodeBody::Source(_) => NodeTone::Source,
        NodeBody::Step(step) => NodeTone::Op(step.op.family()),
        NodeBody::Sink(_) => NodeTone::Sink,
    }
}

impl SnarlViewer<EditorNode> for EditorViewer<'_> {
    fn title(&mut self, node: &EditorNode) -> String {
        node.id().to_owned()
    }

    fn node_frame(
        &mut self,
        default: egui::Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<EditorNode>,
    ) -> egui::Frame {
        let Some(data) = snarl.get_node(node) else { return default };
        let visuals = &self.visuals;
        let mut frame = default.inner_margin(egui::Margin::same(6));
        if self.inspected == Some(node) {
            frame = frame.stroke(Stroke::new(2.0, theme::selection(visuals)));
        } else if self.problems.get(data.id()).is_some_and(|n| *n > 0) || self.failed == Some(data.id()) {
            frame = frame.stroke(Stroke::new(1.5, theme::error(visuals)));
        } else if self.paused_at.is_some_and(|(step, _)| step == data.id()) {
            frame = frame.stroke(Stroke::new(2.5, theme::selection(visuals)));
        } else {
            frame =
                frame.stroke(Stroke::new(1.0, theme::node_accent(tone(data), visuals).gamma_multiply(0.7)));
        }
        frame
    }

    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut egui::Ui,
        snarl: &mut Snarl<EditorNode>,
    ) {
        let Some(data) = snarl.get_node(node) else { return };
        let accent = theme::node_accent(tone(data), ui.visuals());
        let response = ui
            .horizontal(|ui| {
                // A long id and kind (`sessionise stateful_flat_map`) would widen the node past
                // its column and over its neighbour: the kind gives way (whole on hover).
                ui.set_max_width(NODE_HEADER_WIDTH);
                ui.label(RichText::new("■").color(accent));
                ui.add(
                    egui::Label::new(RichText::new(data.id()).strong())
                        .selectable(false)
                        .sense(Sense::click()),
                ) | ui
                    .add(
                        egui::Label::new(
                            RichText::new(data.kind_label()).size(NODE_SMALL_TEXT).color(accent),
                        )
                        .selectable(false)
                        .truncate()
                        .sense(Sense::click()),
                    )
                    .on_hover_text(data.kind_label())
            })
            .inner;
        if response.clicked() {
            self.actions.push(EditorAction::Inspect(node));
        }
    }

    fn inputs(&mut self, node: &EditorNode) -> usize {
        node.input_slots
    }

    fn outputs(&mut self, node: &EditorNode) -> usize {
        node.output_count()
    }

    #[expect(refining_impl_trait, reason = "the pins are always egui-snarl's PinInfo")]
    fn show_input(&mut self, pin: &InPin, ui: &mut egui::Ui, snarl: &mut Snarl<EditorNode>) -> PinInfo {
        let Some(node) = snarl.get_node(pin.id.node) else { return PinInfo::circle() };
        let accent = theme::node_accent(tone(node), ui.visuals());
        let unresolved = node.unresolved.get(&pin.id.input);
        match unresolved {
            Some(name) if pin.remotes.is_empty() => {
                ui.colored_label(
                    theme::error(ui.visuals()),
                    format!("{} ← {name}?", node.input_label(pin.id.input)),
                );
                PinInfo::circle().with_fill(theme::error(ui.visuals()))
            }
            _ => {
                pin_label(ui, &node.input_label(pin.id.input));
                PinInfo::circle().with_fill(accent)
            }
        }
    }

    #[expect(refining_impl_trait, reason = "the pins are always egui-snarl's PinInfo")]
    fn show_output(&mut self, pin: &OutPin, ui: &mut egui::Ui, snarl: &mut Snarl<EditorNode>) -> PinInfo {
        let Some(node) = snarl.get_node(pin.id.node) else { return PinInfo::circle() };
        pin_label(ui, node.output_label(pin.id.output));
        PinInfo::circle().with_fill(theme::node_accent(tone(node), ui.visuals()))
    }

    fn has_body(&mut self, _node: &EditorNode) -> bool {
        true
    }

    fn show_body(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut egui::Ui,
        snarl: &mut Snarl<EditorNode>,
    ) {
        let Some(data) = snarl.get_node(node) else { return };
        ui.vertical(|ui| {
            // Narrow enough that nodes laid out a column apart (230 px, `graph::layout`) never
            // overlap, whatever the counters say (long text is cut with `…`, whole on hover).
            ui.set_max_width(NODE_BODY_WIDTH);
            let summary = egui::Label::new(
                RichText::new(data.summary()).size(NODE_SMALL_TEXT).color(theme::weak_text(ui.visuals())),
            )
            .truncate()
            .sense(Sense::click());
            if ui.add(summary).clicked() {
                self.actions.push(EditorAction::Inspect(node));
            }
            if let Some(activity) = self.activity.get(data.id()) {
                let text = RichText::new(activity)
                    .size(NODE_SMALL_TEXT)
                    .color(theme::node_accent(tone(data), ui.visuals()));
                ui.add(egui::Label::new(text).truncate());
            }
            if let Some((_, key)) = self.paused_at.filter(|(step, _)| *step == data.id()) {
                let key = key.map(|k| format!(", key {k:?}")).unwrap_or_default();
                ui.label(
                    RichText::new(format!("⏸ paused here{key}"))
                        .small()
                        .color(theme::selection(ui.visuals())),
                );
            }
            if self.failed == Some(data.id()) {
                ui.label(
                    RichText::new("⚠ the replay stopped here")
                        .size(NODE_SMALL_TEXT)
                        .color(theme::error(ui.visuals())),
                );
            }
            if let Some(count) = self.problems.get(data.id()).filter(|n| **n > 0) {
                let text =
                    if *count == 1 { "⚠ 1 problem".to_owned() } else { format!("⚠ {count} problems") };
                if ui
                    .add(
                        egui::Label::new(
                            RichText::new(text).size(NODE_SMALL_TEXT).color(theme::error(ui.visuals())),
                        )
                        .sense(Sense::click()),
                    )
                    .clicked()
                {
                    self.actions.push(EditorAction::Inspect(node));
                }
            }
        });
    }

    fn final_node_rect(
        &mut self,
        node: NodeId,
        rect: Rect,
        _ui: &mut egui::Ui,
        _snarl: &mut Snarl<EditorNode>,
    ) {
        self.node_rects.insert(node, rect);
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<EditorNode>) {
        if from.id.node == to.id.node {
            self.actions.push(EditorAction::Refused("a node cannot feed itself".to_owned()));
            return;
        }
        let mut trial = snarl.clone();
        // One wire per input pin: a new wire replaces the old one.
        trial.drop_inputs(to.id);
        trial.connect(from.id, to.id);
        if let Some(node) = trial.get_node_mut(to.id.node) {
            node.unresolved.remove(&to.id.input);
        }
        if let Some(reason) = refused_wiring(snarl, &trial, self.base, self.base_dir) {
            self.actions.push(EditorAction::Refused(reason));
            return;
        }
        *snarl = trial;
    }

    fn has_graph_menu(&mut self, _pos: Pos2, _snarl: &mut Snarl<EditorNode>) -> bool {
        true
    }

    fn show_graph_menu(&mut self, pos: Pos2, ui: &mut egui::Ui, _snarl: &mut Snarl<EditorNode>) {
        self.palette_menu_ui(ui, "Add a node", pos, None);
    }

    fn has_dropped_wire_menu(&mut self, _src_pins: AnyPins, _snarl: &mut Snarl<EditorNode>) -> bool {
        true
    }

    fn show_dropped_wire_menu(
        &mut self,
        pos: Pos2,
        ui: &mut egui::Ui,
        src_pins: AnyPins,
        _snarl: &mut Snarl<EditorNode>,
    ) {
        self.palette_menu_ui(ui, "Add a node and connect it", pos, Some(WireEnd::from_pins(src_pins)));
    }

    fn has_node_menu(&mut self, _node: &EditorNode) -> bool {
        true
    }

    fn show_node_menu(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut egui::Ui,
        snarl: &mut Snarl<EditorNode>,
    ) {
        let Some(data) = snarl.get_node(node) else { return };
        if ui.button("Inspect").clicked() {
            self.actions.push(EditorAction::Inspect(node));
            ui.close();
        }
        if data.has_variable_inputs() {
            let noun = if data.input_label(0).starts_with("side") { "side" } else { "input" };
            if ui.button(format!("Add {noun}")).clicked() {
                self.actions.push(EditorAction::AddInput(node));
                ui.close();
            }
            if ui
                .add_enabled(
                    data.input_slots > data.min_input_slots(),
                    egui::Button::new(format!("Remove last {noun}")),
                )
                .clicked()
            {
                self.actions.push(EditorAction::RemoveInput(node));
                ui.close();
            }
        }
        if ui.button("Duplicate").clicked() {
            self.actions.push(EditorAction::Duplicate(node));
            ui.close();
        }
        if ui.button(RichText::new("Delete").color(theme::error(ui.visuals()))).clicked() {
            self.actions.push(EditorAction::Delete(node));
            ui.close();
        }
    }

    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<EditorNode>) {
        if let Some(transform) = self.transform.take() {
            *to_global = transform;
        }
        self.seen_transform = Some(*to_global);
    }
}

impl EditorViewer<'_> {
    /// The palette as a canvas menu: the picked node is added at `pos` (wired to `from`).
    fn palette_menu_ui(&mut self, ui: &mut egui::Ui, title: &str, pos: Pos2, from: Option<WireEnd>) {
        ui.label(RichText::new(title).strong());
        if let Some(kind) = palette_ui(ui, self.search) {
            self.actions.push(EditorAction::Add { kind, pos, from });
            self.search.clear();
            ui.close();
        }
    }
}

/// The size of a node's small text (kinds, pins, summaries, counters) at 1:1: egui's small
/// text (9 px) loses glyphs (`_`, `.`) once the canvas is zoomed out.
const NODE_SMALL_TEXT: f32 = 10.5;

/// A pin's name beside it, unless it is the plain `in` or `out` of a one-input or one-output
/// node (the pin says that by its side): the room goes to the node's summary.
fn pin_label(ui: &mut egui::Ui, label: &str) {
    if label != "in" && label != "out" {
        ui.label(RichText::new(label).size(NODE_SMALL_TEXT));
    }
}

/// The widest a node's header grows: with the pins and margins, a node stays narrower than a
/// column of the automatic layout (`graph::layout`, 230 px), so neighbours never overlap.
const NODE_HEADER_WIDTH: f32 = 180.0;

/// The widest a node's body grows.
const NODE_BODY_WIDTH: f32 = 150.0;

/// The smallest zoom Fit picks: below about 0.8, egui drops thin strokes of node text (`_`
/// in `by_sensor`, the `.` of file names), as seen under Xvfb at 1280×800; 0.85 keeps a
/// margin. A graph too wide for it scrolls instead.
const MIN_FIT_SCALE: f32 = 0.85;

/// A transform that shows `content` (canvas coordinates) inside `view` (screen coordinates),
/// with a margin, never zoomed in past 1:1 nor out so far that text is unreadable; a graph too
/// big for that starts at the view's left edge (sources first) and scrolls.
pub fn fit_transform(content: Rect, view: Rect) -> TSTransform {
    let content = content.expand(30.0);
    let scale = (view.width() / content.width().max(1.0))
        .min(view.height() / content.height().max(1.0))
        .clamp(MIN_FIT_SCALE, 1.0);
    let mut translation = view.center().to_vec2() - content.center().to_vec2() * scale;
    if content.width() * scale > view.width() {
        translation.x = view.left() - content.left() * scale;
    }
    if content.height() * scale > view.height() {
        translation.y = view.top() - content.top() * scale;
    }
    // Whole pixels: at a fractional offset, thin strokes at the bottom of a text row (`_`)
    // fall outside the node's clip and vanish.
    TSTransform::new(translation.round(), scale)
}

/// The accent of pins and headers, exposed for the inspector's header.
pub fn accent_of(node: &EditorNode, visuals: &egui::Visuals) -> Color32 {
    theme::node_accent(tone(node), visuals)
}
