//! `PipelineDoc` → `ValidGraph`: every structural problem, reported at once.
//!
//! Checks: ids unique and well-formed, inputs that exist, arity (join ≥ 2, merge ≥ 1, the rest
//! exactly 1, sinks ≥ 1), no cycles, keyed operators fed by keyed streams, operator settings
//! (a script or built-in where one is needed, collect's size/timeout, durations), sink paths,
//! source files that exist, and no file both read and written or written twice
//! ([`super::paths`]). Scripts are compiled one layer up (`engine::check`), since
//! this module knows nothing of Rhai; the check leaves them in [`ValidGraph::compiled`].

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{GraphError, GraphErrors, Place, ProblemKind, hint};
use super::model::{BadRowPolicy, Builtin, OpKind, PipelineDoc, SinkFormat, StepSpec};
use super::settings::StepSetting;

/// Where a stream comes from: a source, or one output port of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamRef {
    /// The events of `doc.sources[index]`.
    Source(usize),
    /// Output `port` of `doc.steps[step]` (0, or 1 for a branch's `falses`).
    Step {
        /// Index into `doc.steps`.
        step: usize,
        /// Output port (branch: 0 = `trues`, 1 = `falses`).
        port: usize,
    },
}

/// The names of a branch's two output ports.
pub const BRANCH_PORTS: [&str; 2] = ["trues", "falses"];

/// A pipeline that passed validation: the engine's only input.
#[derive(Debug, Clone)]
pub struct ValidGraph {
    /// The document, unchanged.
    pub doc: PipelineDoc,
    /// The folder relative paths are resolved against.
    pub base_dir: PathBuf,
    /// Step indices in topological order, ties broken by file order: the *step position*.
    pub order: Vec<usize>,
    /// For each step (by index into `doc.steps`), its resolved inputs in file order.
    pub step_inputs: Vec<Vec<StreamRef>>,
    /// For each sink, its resolved inputs.
    pub sink_inputs: Vec<Vec<StreamRef>>,
    /// For each step, whether its output stream is keyed.
    pub step_keyed: Vec<bool>,
    /// For each step, its collect timeout in microseconds, when it has one.
    pub timeouts_micros: Vec<Option<i64>>,
    /// What the check compiled for this graph (its steps' scripts), so that building an
    /// engine reuses it instead of compiling again; empty after validation alone.
    pub compiled: CompiledArtifacts,
}

/// What a layer above compiled for a [`ValidGraph`], carried with it: opaque at this floor,
/// which knows nothing of scripts (`engine::check` puts its compiled scripts in, the engine
/// takes them out by their type). Shared, so that cloning a graph does not copy them.
#[derive(Clone, Default)]
pub struct CompiledArtifacts(Option<Arc<dyn Any + Send + Sync>>);

impl CompiledArtifacts {
    /// Holds `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Some(Arc::new(value)))
    }

    /// What is held, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|value| value.downcast_ref::<T>())
    }
}

impl std::fmt::Debug for CompiledArtifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "CompiledArtifacts(..)" } else { "CompiledArtifacts(none)" })
    }
}

impl ValidGraph {
    /// Whether a stream carries `(key, value)` pairs.
    pub fn is_keyed(&self, stream: StreamRef) -> bool {
        match stream {
            StreamRef::Source(_) => false,
            StreamRef::Step { step, .. } => self.step_keyed[step],
        }
    }

    /// A stream's name as the file writes it (`clicks`, `split.falses`).
    pub fn stream_name(&self, stream: StreamRef) -> String {
        stream_name(&self.doc, stream)
    }

    /// Resolves a path of the pipeline file against its folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }
}

fn stream_name(doc: &PipelineDoc, stream: StreamRef) -> String {
    match stream {
        StreamRef::Source(i) => doc.sources[i].id.clone(),
        StreamRef::Step { step, port } if doc.steps[step].op == OpKind::Branch => {
            format!("{}.{}", doc.steps[step].id, BRANCH_PORTS[port])
        }
        StreamRef::Step { step, .. } => doc.steps[step].id.clone(),
    }
}

/// Validates a document; `base_dir` is the folder of its file (relative paths start there).
pub fn validate(doc: &PipelineDoc, base_dir: &Path) -> Result<ValidGraph, GraphErrors> {
    let mut errors = Vec::new();
    let names = check_ids(doc, &mut errors);

    let resolve = |place: &Place, inputs: &[String], errors: &mut Vec<GraphError>| {
        let mut out = Vec::new();
        for input in inputs {
            match names.get(input.as_str()) {
                Some(stream) => out.push(*stream),
                None => {
                    let candidates = names.keys().map(String::as_str);
                    errors.push(
                        GraphError::at(
                            place.clone(),
                            "inputs",
                            format!("no source or step named `{input}`{}", hint(input, candidates)),
                        )
                        .of_kind(ProblemKind::UnknownInput(input.clone())),
                    );
                }
            }
        }
        out
    };
    let step_inputs: Vec<Vec<StreamRef>> =
        doc.steps.iter().map(|s| resolve(&Place::Step(s.id.clone()), &s.inputs, &mut errors)).collect();
    let sink_inputs: Vec<Vec<StreamRef>> =
        doc.sinks.iter().map(|s| resolve(&Place::Sink(s.id.clone()), &s.inputs, &mut errors)).collect();

    for step in &doc.steps {
        check_arity(step, &mut errors);
        check_settings(step, &mut errors);
    }
    for sink in &doc.sinks {
        let place = Place::Sink(sink.id.clone());
        if sink.inputs.is_empty() {
            errors.push(GraphError::at(place.clone(), "inputs", "a sink needs at least one input"));
        }
        match (sink.format, &sink.path) {
            (SinkFormat::Stdout, Some(_)) => errors.push(GraphError::at(
                place,
                "path",
                "a stdout sink writes to standard output and takes no path",
            )),
            (SinkFormat::Jsonl | SinkFormat::Csv, None) => errors.push(GraphError::at(
                place,
                "path",
                format!("missing: a `{}` sink writes to a file", sink.format.as_str()),
            )),
            _ => {}
        }
    }
    check_sources(doc, base_dir, &mut errors);
    errors.extend(super::paths::path_collisions(doc, base_dir, None, None));

    let (order, cycle) = topological_order(doc, &step_inputs);
    if !cycle.is_empty() {
        let ids: Vec<&str> = cycle.iter().map(|&i| doc.steps[i].id.as_str()).collect();
        for &i in &cycle {
            errors.push(GraphError::at(
                Place::Step(doc.steps[i].id.clone()),
                "inputs",
                format!("part of a cycle: {}", ids.join(" → ")),
            ));
        }
    }
    let step_keyed = keyedness(doc, &order, &step_inputs, &mut errors);

    let timeouts_micros = doc
        .steps
        .iter()
        .map(|s| s.timeout.as_deref().and_then(|t| crate::time::parse_duration_micros(t).ok()))
        .collect();

    if errors.is_empty() {
        Ok(ValidGraph {
            doc: doc.clone(),
            base_dir: base_dir.to_owned(),
            order,
            step_inputs,
            sink_inputs,
            step_keyed,
            timeouts_micros,
            compiled: CompiledArtifacts::default(),
        })
    } else {
        Err(GraphErrors(errors))
    }
}

/// Checks that ids are unique, non-empty and free of `.`; returns the stream name table.
fn check_ids(doc: &PipelineDoc, errors: &mut Vec<GraphError>) -> BTreeMap<String, StreamRef> {
    let mut names: BTreeMap<String, StreamRef> = BTreeMap::new();
    let mut seen: BTreeMap<&str, Place> = BTreeMap::new();
    let entries = doc
        .sources
        .iter()
        .map(|s| (s.id.as_str(), Place::Source(s.id.clone())))
        .chain(doc.steps.iter().map(|s| (s.id.as_str(), Place::Step(s.id.clone()))))
        .chain(doc.sinks.iter().map(|s| (s.id.as_str(), Place::Sink(s.id.clone()))));
    for (id, place) in entries {
        if id.is_empty() {
            continue; // already reported as missing
        }
        if id.contains('.') || id.chars().any(char::is_whitespace) {
            errors.push(GraphError::at(
                place.clone(),
                "id",
                "an id may not contain `.` or spaces (`.` separates a step from its port)",
            ));
        }
        if let Some(first) = seen.get(id) {
            errors.push(GraphError::at(place.clone(), "id", format!("duplicate id: {first} has it too")));
        } else {
            seen.insert(id, place);
        }
    }
    for (i, source) in doc.sources.iter().enumerate() {
        names.entry(source.id.clone()).or_insert(StreamRef::Source(i));
    }
    for (i, step) in doc.steps.iter().enumerate() {
        if step.op == OpKind::Branch {
            for (port, name) in BRANCH_PORTS.iter().enumerate() {
                names.entry(format!("{}.{name}", step.id)).or_insert(StreamRef::Step { step: i, port });
            }
        } else {
            names.entry(step.id.clone()).or_insert(StreamRef::Step { step: i, port: 0 });
        }
    }
    names
}

fn check_arity(step: &StepSpec, errors: &mut Vec<GraphError>) {
    let place = Place::Step(step.id.clone());
    let n = step.inputs.len();
    let problem = match step.op {
        OpKind::Join if n < 2 => Some(format!("a join needs at least two inputs (its sides), it has {n}")),
        OpKind::Merge if n == 0 => Some("a merge needs at least one input".to_owned()),
        OpKind::Join | OpKind::Merge => None,
        _ if n == 0 => Some("no input: connect it to a source or a step".to_owned()),
        _ if n > 1 => Some(format!("`{}` takes exactly one input, it has {n} (merge them first)", step.op)),
        _ => None,
    };
    if let Some(message) = problem {
        errors.push(GraphError::at(place, "inputs", message));
    }
}

/// Whether an operator needs a script (or built-in) to run, and which functions.
fn check_settings(step: &StepSpec, errors: &mut Vec<GraphError>) {
    let place = Place::Step(step.id.clone());
    let has_script = step.script.is_some();
    let needs = |what: &str, errors: &mut Vec<GraphError>| {
        errors.push(GraphError::at(place.clone(), StepSetting::Script.key(), format!("missing: {what}")));
    };
    match step.op {
        OpKind::Map | OpKind::MapValue => {
            if !has_script && step.field.is_none() {
                needs("a script with `fn mapper(x)`, or `field = \"name\"` to take one field", errors);
            }
        }
        OpKind::KeyOn | OpKind::CountFinal => {
            if !has_script && step.field.is_none() {
                needs("a script with `fn key(x)`, or `field = \"name\"` to key by a field", errors);
            }
        }
        OpKind::Filter
        | OpKind::FilterValue
        | OpKind::Branch
        | OpKind::FilterMap
        | OpKind::FlatMap
        | OpKind::FlatMapValue
        | OpKind::StatefulFlatMap
        | OpKind::Stateful
        | OpKind::StatefulBatch => {
            if !has_script {
                needs("this operator needs a script", errors);
            }
        }
        OpKind::StatefulMap | OpKind::ReduceFinal | OpKind::FoldFinal => {
            if has_script && step.builtin.is_some() {
                errors.push(GraphError::at(
                    place.clone(),
                    StepSetting::Builtin.key(),
                    "give either a script or a built-in, not both",
                ));
            } else if !has_script && step.builtin.is_none() {
                needs(&format!("a script, or {}", builtin_choices()), errors);
            }
            if step.field.is_some() && step.builtin.is_none() {
                errors.push(GraphError::at(
                    place.clone(),
                    StepSetting::Field.key(),
                    "`field` is the operand of a built-in: set `builtin` too, or read the field in the script",
                ));
            }
            // (`count` counts items: a field would be read by nothing.)
            if step.builtin == Some(Builtin::Count) && step.field.is_some() {
                errors.push(GraphError::at(
                    place.clone(),
                    StepSetting::Field.key(),
                    "the `count` built-in takes no field",
                ));
            }
        }
        OpKind::MaxFinal | OpKind::MinFinal => {
            if has_script && step.field.is_some() {
                errors.push(GraphError::at(
                    place.clone(),
                    StepSetting::Field.key(),
                    "give either a `by` script or a `field`, not both",
                ));
            }
        }
        OpKind::Collect => {
            if step.max_size.is_none() && step.timeout.is_none() {
                errors.push(GraphError::new(
                    place.clone(),
                    "a collect needs `max_size`, `timeout`, or both, else its lists only leave at end of input",
                ));
            }
            if let Some(n) = step.max_size
                && n < 1
            {
                errors.push(GraphError::at(
                    place.clone(),
                    StepSetting::MaxSize.key(),
                    format!("must be at least 1, found {n}"),
                ));
            }
            if let Some(timeout) = &step.timeout {
                match crate::time::parse_duration_micros(timeout) {
                    Ok(0) => errors.push(GraphError::at(
                        place.clone(),
                        StepSetting::Timeout.key(),
                        "must be longer than 0",
                    )),
                    Ok(_) => {}
                    Err(reason) => {
                        errors.push(GraphError::at(place.clone(), StepSetting::Timeout.key(), reason))
                    }
                }
            }
        }
        OpKind::Inspect | OpKind::KeyRm | OpKind::Merge | OpKind::Join => {}
    }
    if let Some(field) = &step.field
        && field.is_empty()
    {
        errors.push(GraphError::at(place, StepSetting::Field.key(), "must not be empty"));
    }
}

/// `` `builtin = "count"` / "sum" / "min" / "max" ``: the built-ins, as the hint for a step
/// that has neither a script nor a built-in lists them.
fn builtin_choices() -> String {
    let mut names = Builtin::NAMES.iter().map(|n| format!("\"{n}\""));
    let first = names.next().unwrap_or_default();
    let rest: Vec<String> = names.collect();
    format!("`builtin = {first}` / {}", rest.join(" / "))
}

fn check_sources(doc: &PipelineDoc, base_dir: &Path, errors: &mut Vec<GraphError>) {
    let mut stdin_readers = 0;
    for source in &doc.sources {
        let place = Place::Source(source.id.clone());
        let full = base_dir.join(&source.path);
        if source.is_stdin() {
            if stdin_readers > 0 {
                errors.push(GraphError::at(
                    place.clone(),
                    "path",
                    "standard input (`-`) is already read by another source: only one source can read it",
                ));
            }
            stdin_readers += 1;
            if source.follow {
                errors.push(GraphError::at(
                    place.clone(),
                    "follow",
                    "standard input is always read as it arrives: leave `follow` out",
                ));
            }
            if source.format.is_none() {
                errors.push(GraphError::at(
                    place.clone(),
                    "format",
                    "standard input has no extension to tell its format: set format = \"jsonl\" or \"csv\"",
                ));
            } else if source.format == Some(super::SourceFormat::Json) {
                errors.push(GraphError::at(
                    place.clone(),
                    "format",
                    "a JSON array is read whole, so it cannot be a live stream: send JSON Lines (format = \"jsonl\") on standard input",
                ));
            }
        } else if source.follow && source.effective_format() == Some(super::SourceFormat::Json) {
            errors.push(GraphError::at(
                place.clone(),
                "follow",
                "a JSON array is read whole, so it cannot be followed: write JSON Lines (format = \"jsonl\")",
            ));
        } else if source.follow && super::without_gz_suffix(&source.path) != source.path.as_path() {
            errors.push(GraphError::at(
                place.clone(),
                "follow",
                "a gzip file cannot be read as it grows: follow the uncompressed log",
            ));
        } else if !full.is_file() && source.recording.is_none() {
            errors.push(GraphError::at(place.clone(), "path", format!("file not found: {}", full.display())));
        }
        if let Some(recording) = &source.recording {
            let full = base_dir.join(recording);
            if !source.is_stdin() && !source.follow {
                errors.push(GraphError::at(
                    place.clone(),
                    "recording",
                    "a recording replays a live source: set it on a source with path = \"-\" or follow = true",
                ));
            } else if !full.is_file() {
                errors.push(GraphError::at(
                    place.clone(),
                    "recording",
                    format!("recording not found: {} (made by `eddy run --record`)", full.display()),
                ));
            }
        }
        if source.effective_format().is_none() && !source.is_stdin() {
            errors.push(GraphError::at(
                place.clone(),
                "format",
                format!(
                    "cannot tell the format of {} from its extension: set format = \"csv\", \"jsonl\" or \"json\"",
                    source.path.display()
                ),
            ));
        }
        if !source.types.is_empty() && source.effective_format() != Some(super::SourceFormat::Csv) {
            errors.push(GraphError::at(
                place.clone(),
                "types",
                "forced column types apply to CSV sources only",
            ));
        }
        match (source.on_bad_row, &source.dead_letter_path) {
            (BadRowPolicy::DeadLetter, None) => errors.push(GraphError::at(
                place,
                "dead_letter_path",
                "missing: on_bad_row = \"dead_letter\" needs a file to write bad rows to",
            )),
            (BadRowPolicy::Fail | BadRowPolicy::Skip, Some(_)) => errors.push(GraphError::at(
                place,
                "dead_letter_path",
                "only used with on_bad_row = \"dead_letter\"",
            )),
            _ => {}
        }
    }
}

/// Kahn's algorithm; ready steps leave in file order. Returns the order of the steps that
/// could be ordered, and the steps left in (or behind) cycles.
fn topological_order(doc: &PipelineDoc, step_inputs: &[Vec<StreamRef>]) -> (Vec<usize>, Vec<usize>) {
    let n = doc.steps.len();
    let mut pending = vec![0usize; n];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, inputs) in step_inputs.iter().enumerate() {
        for input in inputs {
            if let StreamRef::Step { step, .. } = *input {
                pending[i] += 1;
                consumers[step].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| pending[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &c in &consumers[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    let stuck = (0..n).filter(|&i| pending[i] > 0).collect();
    (order, stuck)
}

/// Computes which step outputs are keyed, and reports operators fed the wrong kind.
fn keyedness(
    doc: &PipelineDoc,
    order: &[usize],
    step_inputs: &[Vec<StreamRef>],
    errors: &mut Vec<GraphError>,
) -> Vec<bool> {
    let mut keyed = vec![false; doc.steps.len()];
    for &i in order {
        let step = &doc.steps[i];
        let input_keyed: Vec<bool> = step_inputs[i]
            .iter()
            .map(|s| match *s {
                StreamRef::Source(_) => false,
                StreamRef::Step { step, .. } => keyed[step],
            })
            .collect();
        let all_keyed = !input_keyed.is_empty() && input_keyed.iter().all(|k| *k);
        let needs_keyed = step.op.is_stateful() && step.op != OpKind::CountFinal
            || matches!(
                step.op,
                OpKind::KeyRm | OpKind::MapValue | OpKind::FilterValue | OpKind::FlatMapValue
            );
        if needs_keyed {
            for (input, k) in step_inputs[i].iter().zip(&input_keyed) {
                if !k {
                    errors.push(GraphError::at(
                        Place::Step(step.id.clone()),
                        "inputs",
                        format!(
                            "`{}` needs a keyed stream, but `{}` is not keyed: put a `key_on` step before it",
                            step.op,
                            stream_name(doc, *input)
                        ),
                    ));
                }
            }
        }
        // `field` reads a field of each item; on a keyed stream an item is a `[key, value]` pair,
        // which has none: every item would fail at run time.
        if matches!(step.op, OpKind::KeyOn | OpKind::Map) && step.field.is_some() {
            for (input, k) in step_inputs[i].iter().zip(&input_keyed) {
                if *k {
                    errors.push(GraphError::at(
                        Place::Step(step.id.clone()),
                        "field",
                        format!(
                            "`field` reads a field of each record, but `{}` is keyed: its items are \
                             `[key, value]` pairs. Read the value's field in a script (`x[1].{}`), or \
                             put a `key_rm` step before it",
                            stream_name(doc, *input),
                            step.field.as_deref().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        keyed[i] = match step.op {
            OpKind::Map | OpKind::FlatMap | OpKind::FilterMap | OpKind::KeyRm => false,
            OpKind::Filter | OpKind::Inspect | OpKind::Branch | OpKind::Merge => all_keyed,
            _ => true,
        };
    }
    keyed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_without_script_or_builtin_is_told_both_ways_to_run() {
        let mut step = StepSpec::new("total", OpKind::ReduceFinal, vec!["in".into()]);
        step.field = Some("amount".into());
        let mut errors = Vec::new();
        check_settings(&step, &mut errors);
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "step `total`, key `script`: missing: a script, or `builtin = \"count\"` / \"sum\" / \"min\" / \"max\"",
                "step `total`, key `field`: `field` is the operand of a built-in: set `builtin` too, or read the field in the script",
            ]
        );
    }
}
