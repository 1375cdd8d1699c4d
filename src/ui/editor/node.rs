//! The editor's node payload: plain data (a source, step or sink of the pipeline model) plus
//! what the canvas needs to keep the file's order and a few pins. All behaviour is in the viewer.

use std::collections::BTreeMap;

use crate::graph::{BRANCH_PORTS, OpKind, SinkFormat, SinkSpec, SourceSpec, StepSpec};

/// Longest summary shown on a node, so nodes stay narrow and the layout readable.
pub const SUMMARY_CHARS: usize = 30;

/// What a node stands for. The `inputs` of steps and sinks are not used while editing: the
/// wires are the truth, and the inputs are rebuilt from them.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeBody {
    /// A `[[sources]]` entry.
    Source(SourceSpec),
    /// A `[[steps]]` entry.
    Step(StepSpec),
    /// A `[[sinks]]` entry.
    Sink(SinkSpec),
}

/// One node on the canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct EditorNode {
    /// The entry it edits.
    pub body: NodeBody,
    /// Order in the file (sources, steps and sinks are each written in rank order).
    pub rank: u64,
    /// The id the entry had in the file that was opened, so saving can keep its comments
    /// after a rename.
    pub origin: Option<String>,
    /// Input pins: 1 for most steps; one per side of a join, per input of a merge or sink.
    pub input_slots: usize,
    /// Inputs named in the file that name nothing (kept so the file round-trips and the
    /// problem stays visible), by pin.
    pub unresolved: BTreeMap<usize, String>,
}

impl EditorNode {
    /// The entry's id.
    pub fn id(&self) -> &str {
        match &self.body {
            NodeBody::Source(s) => &s.id,
            NodeBody::Step(s) => &s.id,
            NodeBody::Sink(s) => &s.id,
        }
    }

    /// Sets the entry's id.
    pub fn set_id(&mut self, id: String) {
        match &mut self.body {
            NodeBody::Source(s) => s.id = id,
            NodeBody::Step(s) => s.id = id,
            NodeBody::Sink(s) => s.id = id,
        }
    }

    /// What kind of node this is, for the header: `csv source`, `stateful_map`, `jsonl sink`.
    pub fn kind_label(&self) -> String {
        match &self.body {
            NodeBody::Source(s) => {
                format!("{} source", s.effective_format().map_or("?", |f| f.as_str()))
            }
            NodeBody::Step(s) => s.op.as_str().to_owned(),
            NodeBody::Sink(s) => format!("{} sink", s.format.as_str()),
        }
    }

    /// Whether the number of input pins can be changed (join sides, merge and sink inputs).
    pub fn has_variable_inputs(&self) -> bool {
        match &self.body {
            NodeBody::Source(_) => false,
            NodeBody::Step(s) => matches!(s.op, OpKind::Join | OpKind::Merge),
            NodeBody::Sink(_) => true,
        }
    }

    /// The fewest input pins the node may have.
    pub fn min_input_slots(&self) -> usize {
        match &self.body {
            NodeBody::Source(_) => 0,
            NodeBody::Step(s) if s.op == OpKind::Join => 2,
            _ => 1,
        }
    }

    /// The number of output pins.
    pub fn output_count(&self) -> usize {
        match &self.body {
            NodeBody::Source(_) => 1,
            NodeBody::Step(s) if s.op == OpKind::Branch => 2,
            NodeBody::Step(_) => 1,
            NodeBody::Sink(_) => 0,
        }
    }

    /// The label of input pin `index`.
    pub fn input_label(&self, index: usize) -> String {
        match &self.body {
            NodeBody::Step(s) if s.op == OpKind::Join => format!("side {}", index + 1),
            _ if self.has_variable_inputs() && self.input_slots > 1 => format!("in {}", index + 1),
            _ => "in".to_owned(),
        }
    }

    /// The label of output pin `index`.
    pub fn output_label(&self, index: usize) -> &'static str {
        match &self.body {
            NodeBody::Step(s) if s.op == OpKind::Branch => BRANCH_PORTS.get(index).copied().unwrap_or("out"),
            _ => "out",
        }
    }

    /// The stream name a wire from output pin `index` carries (`clicks`, `split.falses`).
    pub fn stream_name(&self, index: usize) -> String {
        match &self.body {
            NodeBody::Step(s) if s.op == OpKind::Branch => format!("{}.{}", s.id, self.output_label(index)),
            _ => self.id().to_owned(),
        }
    }

    /// A one-line summary of the settings, shown on the node (at most [`SUMMARY_CHARS`]).
    pub fn summary(&self) -> String {
        let full = self.full_summary();
        if full.chars().count() <= SUMMARY_CHARS {
            return full;
        }
        let cut: String = full.chars().take(SUMMARY_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }

    fn full_summary(&self) -> String {
        match &self.body {
            NodeBody::Source(s) => {
                let mut text = s.path.display().to_string();
                if let Some(field) = &s.time_field {
                    text.push_str(&format!(" · time `{field}`"));
                }
                text
            }
            NodeBody::Sink(s) => match (&s.format, &s.path) {
                (SinkFormat::Stdout, _) => "standard output".to_owned(),
                (_, Some(path)) => path.display().to_string(),
                (_, None) => "no path".to_owned(),
            },
            NodeBody::Step(s) => step_summary(s),
        }
    }
}

fn step_summary(step: &StepSpec) -> String {
    let mut parts = Vec::new();
    if let Some(builtin) = step.builtin {
        match &step.field {
            Some(field) => parts.push(format!("{}(`{field}`)", builtin.as_str())),
            None => parts.push(format!("built-in {}", builtin.as_str())),
        }
    } else if let Some(field) = &step.field {
        parts.push(format!("field `{field}`"));
    }
    if let Some(size) = step.max_size {
        parts.push(format!("max {size}"));
    }
    if let Some(timeout) = &step.timeout {
        parts.push(format!("timeout {timeout}"));
    }
    if let Some(mode) = step.insert_mode {
        parts.push(format!("insert {}", mode.as_str()));
    }
    if let Some(mode) = step.emit_mode {
        parts.push(format!("emit {}", mode.as_str()));
    }
    if let Some(script) = &step.script {
        let functions: Vec<&str> = script
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("fn "))
            .filter_map(|rest| rest.split('(').next())
            .map(str::trim)
            .collect();
        if functions.is_empty() {
            parts.push("script".to_owned());
        } else {
            parts.push(format!("fn {}", functions.join(", ")));
        }
    }
    if parts.is_empty() { "—".to_owned() } else { parts.join(" · ") }
}
