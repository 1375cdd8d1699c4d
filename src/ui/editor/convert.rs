//! Pipeline document ⇄ canvas: the canvas is built from a document when a file is opened (or
//! an edit is undone), and the document is rebuilt from the canvas after every edit.

use std::collections::BTreeMap;

use eframe::egui::pos2;
use egui_snarl::{InPinId, NodeId, OutPinId, Snarl};

use super::node::{EditorNode, NodeBody};
use crate::graph::{EditorLayout, GraphError, PipelineDoc, Place, wire_problems};

/// Builds the canvas for a document: one node per source, step and sink, wires from the
/// inputs, positions from the editor section (or an automatic layout where it has none).
pub fn doc_to_snarl(doc: &PipelineDoc) -> Snarl<EditorNode> {
    let mut layout = EditorLayout::from_doc(doc);
    layout.fill_missing(doc);
    let mut snarl = Snarl::new();
    let mut rank = 0_u64;
    let mut streams: BTreeMap<String, OutPinId> = BTreeMap::new();
    let mut wired: Vec<(NodeId, Vec<String>)> = Vec::new();
    let mut add = |snarl: &mut Snarl<EditorNode>, body: NodeBody, inputs: Vec<String>| {
        let mut node = EditorNode { body, rank, origin: None, input_slots: 0, unresolved: BTreeMap::new() };
        rank += 1;
        node.origin = Some(node.id().to_owned());
        node.input_slots = if matches!(node.body, NodeBody::Source(_)) {
            0
        } else if node.has_variable_inputs() {
            inputs.len().max(node.min_input_slots())
        } else {
            1
        };
        let [x, y] = layout.positions.get(node.id()).copied().unwrap_or([0.0, 0.0]);
        let outputs = node.output_count();
        let names: Vec<String> = (0..outputs).map(|i| node.stream_name(i)).collect();
        let id = snarl.insert_node(pos2(x, y), node);
        for (index, name) in names.into_iter().enumerate() {
            streams.entry(name).or_insert(OutPinId { node: id, output: index });
        }
        id
    };
    for source in &doc.sources {
        add(&mut snarl, NodeBody::Source(source.clone()), Vec::new());
    }
    for step in &doc.steps {
        let id = add(&mut snarl, NodeBody::Step(step.clone()), step.inputs.clone());
        wired.push((id, step.inputs.clone()));
    }
    for sink in &doc.sinks {
        let id = add(&mut snarl, NodeBody::Sink(sink.clone()), sink.inputs.clone());
        wired.push((id, sink.inputs.clone()));
    }
    for (node, inputs) in wired {
        let single = snarl.get_node(node).is_some_and(|n| !n.has_variable_inputs());
        for (index, input) in inputs.iter().enumerate() {
            // A single-input step given several inputs keeps the extra ones as unresolved
            // names, so validation still reports them and nothing is lost.
            let pin = if single { 0 } else { index };
            match streams.get(input) {
                Some(&from) if !(single && index > 0) => {
                    snarl.connect(from, InPinId { node, input: pin });
                }
                _ => {
                    if let Some(n) = snarl.get_node_mut(node) {
                        n.unresolved.insert(index, input.clone());
                    }
                }
            }
        }
    }
    snarl
}

/// The document the canvas shows: entries in rank order, inputs from the wires, positions in
/// the editor section; `base` gives what the canvas does not hold (format version, clock, limits,
/// other editor keys). Also returns the problems only the canvas can see (an input pin left
/// unconnected).
pub fn snarl_to_doc(snarl: &Snarl<EditorNode>, base: &PipelineDoc) -> (PipelineDoc, Vec<GraphError>) {
    let mut doc = PipelineDoc {
        format_version: base.format_version,
        clock: base.clock,
        limits: base.limits.clone(),
        sources: Vec::new(),
        steps: Vec::new(),
        sinks: Vec::new(),
        editor: base.editor.clone(),
    };
    let mut problems = Vec::new();
    let mut nodes: Vec<(NodeId, &EditorNode)> = snarl.node_ids().collect();
    nodes.sort_by_key(|(id, node)| (node.rank, id.0));
    let mut layout = EditorLayout::default();
    for (id, node) in &nodes {
        if let Some(info) = snarl.get_node_info(*id) {
            layout.positions.insert(node.id().to_owned(), [info.pos.x, info.pos.y]);
        }
        let inputs = inputs_of(snarl, *id, node);
        match &node.body {
            NodeBody::Source(source) => doc.sources.push(source.clone()),
            NodeBody::Step(step) => {
                let mut step = step.clone();
                step.inputs = inputs.iter().flatten().cloned().collect();
                doc.steps.push(step);
            }
            NodeBody::Sink(sink) => {
                let mut sink = sink.clone();
                sink.inputs = inputs.iter().flatten().cloned().collect();
                doc.sinks.push(sink);
            }
        }
        let place = match &node.body {
            NodeBody::Source(s) => Place::Source(s.id.clone()),
            NodeBody::Step(s) => Place::Step(s.id.clone()),
            NodeBody::Sink(s) => Place::Sink(s.id.clone()),
        };
        // With nothing connected at all, validation reports the missing input itself.
        let partly_connected = node.has_variable_inputs() && inputs.iter().any(Option::is_some);
        for (index, input) in inputs.iter().enumerate() {
            if input.is_none() && partly_connected {
                problems.push(GraphError::at(
                    place.clone(),
                    "inputs",
                    format!("{} is not connected", node.input_label(index)),
                ));
            }
        }
    }
    layout.write_into(&mut doc);
    (doc, problems)
}

/// Each input pin's stream name (`None` when nothing is connected), in pin order.
pub fn inputs_of(snarl: &Snarl<EditorNode>, id: NodeId, node: &EditorNode) -> Vec<Option<String>> {
    let mut by_pin: Vec<Option<String>> = vec![None; node.input_slots];
    let mut extra = Vec::new();
    for (out, into) in snarl.wires() {
        if into.node != id {
            continue;
        }
        let Some(from) = snarl.get_node(out.node) else { continue };
        let name = from.stream_name(out.output);
        match by_pin.get_mut(into.input) {
            Some(slot @ None) => *slot = Some(name),
            _ => extra.push((into.input, name)),
        }
    }
    for (pin, name) in &node.unresolved {
        match by_pin.get_mut(*pin) {
            Some(slot @ None) => *slot = Some(name.clone()),
            _ => extra.push((*pin, name.clone())),
        }
    }
    extra.sort();
    by_pin.extend(extra.into_iter().map(|(_, name)| Some(name)));
    by_pin
}

/// The ids each node had in the file that was opened, for nodes renamed since (new → old).
pub fn renamed_ids(snarl: &Snarl<EditorNode>) -> BTreeMap<String, String> {
    snarl
        .nodes()
        .filter_map(|node| match &node.origin {
            Some(origin) if origin != node.id() => Some((node.id().to_owned(), origin.clone())),
            _ => None,
        })
        .collect()
}

/// Why the canvas `after` (the canvas `before` with a new wire) is refused, if it is: the wire
/// would make a cycle, or feed a keyed operator an unkeyed stream.
pub fn refused_wiring(
    before: &Snarl<EditorNode>,
    after: &Snarl<EditorNode>,
    base: &PipelineDoc,
    base_dir: &std::path::Path,
) -> Option<String> {
    let (before, _) = snarl_to_doc(before, base);
    let (after, _) = snarl_to_doc(after, base);
    let problem = wire_problems(&before, &after, base_dir).into_iter().next()?;
    Some(if problem.message.contains("cycle") {
        format!("that wire would make a cycle through `{}`", problem.step_id().unwrap_or("a step"))
    } else {
        problem.message
    })
}
