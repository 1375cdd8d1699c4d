//! Validate once: the scripts `check` compiled are the ones the engine runs, so a checked
//! pipeline's scripts are compiled once per Play, with the same output as compiling anew.

use std::collections::BTreeMap;

use eddy::engine::{Engine, EngineOptions};

const EVENTS_CSV: &str = "ts,user,value\n\
2024-01-01T00:00:00Z,a,1\n\
2024-01-01T00:00:01Z,b,2\n\
2024-01-01T00:00:02Z,a,3\n\
2024-01-01T00:00:03Z,b,4\n";

/// A pipeline with three scripted steps (a map, a stateful step and a filter) and one built-in.
const PIPELINE: &str = r#"format_version = 1
[[sources]]
id = "events"
path = "events.csv"
time_field = "ts"
[[steps]]
id = "doubled"
op = "map"
inputs = ["events"]
script = "fn mapper(x) { x.value = x.value * 2; x }"
[[steps]]
id = "by_user"
op = "key_on"
inputs = ["doubled"]
field = "user"
[[steps]]
id = "running"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { if resume == () { #{ total: 0 } } else { resume } }
fn on_item(value) { this.total += value.value; [[this.total], RETAIN] }
'''
[[steps]]
id = "big"
op = "filter_value"
inputs = ["running"]
script = "fn predicate(x) { x > 2 }"
[[sinks]]
id = "out"
inputs = ["big"]
format = "jsonl"
path = "out.jsonl"
"#;

/// The pipeline's document and folder.
fn pipeline() -> (tempfile::TempDir, eddy::graph::PipelineDoc) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.csv"), EVENTS_CSV).unwrap();
    std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
    let graph = eddy::engine::load_and_check(&dir.path().join("p.toml")).unwrap();
    (dir, graph.doc)
}

fn captured() -> EngineOptions {
    EngineOptions { capture_sinks: true, ..EngineOptions::default() }
}

/// Runs an engine to its end; its sinks' lines and how many scripts building it compiled.
fn run(graph: eddy::graph::ValidGraph, options: &EngineOptions) -> (BTreeMap<String, Vec<String>>, usize) {
    let mut engine = Engine::new(graph, options).unwrap();
    let compiled = engine.scripts_compiled();
    engine.run_to_end().unwrap();
    (engine.captured(), compiled)
}

#[test]
fn an_engine_reuses_the_scripts_the_check_compiled() {
    let (dir, doc) = pipeline();
    let checked = eddy::engine::check(&doc, dir.path()).unwrap();
    let (reused, compiled) = run(checked, &captured());
    assert_eq!(compiled, 0, "the check compiled every script already");

    // Validation alone compiles nothing: the engine compiles each of the three scripts.
    let validated = eddy::graph::validate(&doc, dir.path()).unwrap();
    let (fresh, compiled) = run(validated, &captured());
    assert_eq!(compiled, 3);
    assert_eq!(reused, fresh);
    let expected = ["[\"b\",4]", "[\"a\",8]", "[\"b\",12]"].map(String::from).to_vec();
    assert_eq!(reused, BTreeMap::from([("out".to_owned(), expected)]));
}

#[test]
fn an_engine_with_other_limits_or_rhai_only_compiles_its_own() {
    let (dir, doc) = pipeline();
    let checked = eddy::engine::check(&doc, dir.path()).unwrap();
    let (reused, _) = run(checked.clone(), &captured());

    let rhai_only = EngineOptions { rhai_only: true, ..captured() };
    let (output, compiled) = run(checked.clone(), &rhai_only);
    assert_eq!((output, compiled), (reused.clone(), 3));

    let mut limits = eddy::script::ScriptLimits::default();
    limits.max_operations += 1;
    let other_limits = EngineOptions { limits, ..captured() };
    let (output, compiled) = run(checked, &other_limits);
    assert_eq!((output, compiled), (reused, 3));
}
