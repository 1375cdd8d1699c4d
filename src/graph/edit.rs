//! Helpers for editing a pipeline document: fresh unique ids, and whether a new wire would
//! make the pipeline invalid (so an editor can refuse it and say why).

use std::path::Path;

use super::error::GraphError;
use super::model::PipelineDoc;
use super::validate::validate;

/// Why an id cannot be used, or `None` when it can (non-empty, no `.` or whitespace).
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("an id cannot be empty")
    } else if id.contains('.') || id.chars().any(char::is_whitespace) {
        Some("an id may not contain `.` or spaces (`.` separates a step from its port)")
    } else {
        None
    }
}

/// Every id the document uses (sources, steps and sinks).
pub fn all_ids(doc: &PipelineDoc) -> impl Iterator<Item = &str> {
    doc.sources
        .iter()
        .map(|s| s.id.as_str())
        .chain(doc.steps.iter().map(|s| s.id.as_str()))
        .chain(doc.sinks.iter().map(|s| s.id.as_str()))
}

/// `base` if no entry uses it, else `base_2`, `base_3`, … (the first one free).
pub fn unique_id(base: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = if base.is_empty() { "node" } else { base };
    if !taken(base) {
        return base.to_owned();
    }
    // A trailing `_N` is a counter: `count_2` duplicated becomes `count_3`, not `count_2_2`.
    let stem = match base.rsplit_once('_') {
        Some((stem, n)) if !stem.is_empty() && n.parse::<u32>().is_ok() => stem,
        _ => base,
    };
    (2..)
        .map(|n| format!("{stem}_{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| base.to_owned())
}

/// The problems a new wire would add to `with_wire` compared with `without_wire` (the same
/// pipeline before the wire): a cycle, a keyed operator fed an unkeyed stream, a wrong join or
/// merge input. Empty when the wire is fine.
pub fn wire_problems(
    without_wire: &PipelineDoc,
    with_wire: &PipelineDoc,
    base_dir: &Path,
) -> Vec<GraphError> {
    let before = problems_about_inputs(without_wire, base_dir);
    problems_about_inputs(with_wire, base_dir).into_iter().filter(|p| !before.contains(p)).collect()
}

fn problems_about_inputs(doc: &PipelineDoc, base_dir: &Path) -> Vec<GraphError> {
    match validate(doc, base_dir) {
        Ok(_) => Vec::new(),
        Err(errors) => {
            errors.0.into_iter().filter(|e| e.field.as_deref() == Some("inputs") && refuses_wire(e)).collect()
        }
    }
}

/// Cycles and keyed-ness refuse a wire. Arity problems ("a join needs at least two inputs")
/// change as wires are added one by one, so validation reports them instead.
fn refuses_wire(error: &GraphError) -> bool {
    error.message.contains("cycle") || error.message.contains("keyed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{OpKind, StepSpec, parse_str};

    #[test]
    fn unique_ids_count_up() {
        let taken = ["count", "count_2", "x_9"];
        let is_taken = |id: &str| taken.contains(&id);
        assert_eq!(unique_id("fresh", is_taken), "fresh");
        assert_eq!(unique_id("count", is_taken), "count_3");
        assert_eq!(unique_id("count_2", is_taken), "count_3");
        assert_eq!(unique_id("x_9", is_taken), "x_2");
        assert_eq!(unique_id("", is_taken), "node");
    }

    #[test]
    fn a_cycle_and_an_unkeyed_input_are_refused_with_a_reason() {
        let text = r#"
format_version = 1
[[sources]]
id = "s"
path = "s.csv"
[[steps]]
id = "a"
op = "map"
inputs = ["s"]
field = "x"
[[steps]]
id = "b"
op = "map"
inputs = ["a"]
field = "x"
"#;
        let doc = parse_str(text, Path::new("t.toml")).unwrap();
        let mut cycle = doc.clone();
        cycle.steps[0].inputs = vec!["b".into()];
        let problems = wire_problems(&doc, &cycle, Path::new("/nonexistent"));
        assert!(problems.iter().any(|p| p.message.contains("cycle")), "{problems:?}");

        let mut unkeyed = doc.clone();
        let mut count = StepSpec::new("count", OpKind::StatefulMap, vec!["b".into()]);
        count.builtin = Some(crate::graph::Builtin::Count);
        unkeyed.steps.push(count);
        let problems = wire_problems(&doc, &unkeyed, Path::new("/nonexistent"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("keyed"), "{problems:?}");

        let mut fine = doc.clone();
        fine.steps.push(StepSpec::new("k", OpKind::KeyOn, vec!["b".into()]));
        assert!(wire_problems(&doc, &fine, Path::new("/nonexistent")).is_empty());
    }
}
