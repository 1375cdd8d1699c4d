//! A join's rows may share the records the join remembers (docs/architecture.md#shared-parts;
//! a `product` side's records, once they go into several rows at once): whatever a later step
//! does to a row it received never reaches the join's state, another branch or a later row. Each case runs a join (running, complete and final; last and
//! product, several rows sharing one record) read by a sink, by a Rhai `map_value` that
//! writes every record of its row, by an identity `map_value` delivered after it and by a
//! `stateful_map` that writes the records and keeps the row; on the fast path and in plain
//! Rhai. Whole outputs are compared, and the join's state as the workbench and a snapshot
//! read it.

use std::path::Path;

use eddy::engine::{Engine, EngineOptions, StepOutcome, TraceKind, load_and_check};
use eddy::value::{display_json, has_shared_parts};
use serde_json::{Value, json};

/// Left records (`v` 1 and 2, key `a`) and right ones (`v` 10 and 20 on `a`, 30 on `b`), at
/// seconds 1, 2 (left) and 3, 4, 5 (right).
const LEFT: &str = "{\"t\":\"2024-01-01T00:00:01Z\",\"k\":\"a\",\"v\":1}\n{\"t\":\"2024-01-01T00:00:02Z\",\"k\":\"a\",\"v\":2}\n";
const RIGHT: &str = "{\"t\":\"2024-01-01T00:00:03Z\",\"k\":\"a\",\"v\":10}\n{\"t\":\"2024-01-01T00:00:04Z\",\"k\":\"a\",\"v\":20}\n{\"t\":\"2024-01-01T00:00:05Z\",\"k\":\"b\",\"v\":30}\n";

/// The records by name: L1, L2 (left), R1, R2, R3 (right).
fn record(name: &str) -> Value {
    let (second, key, v) = match name {
        "L1" => (1, "a", 1),
        "L2" => (2, "a", 2),
        "R1" => (3, "a", 10),
        "R2" => (4, "a", 20),
        "R3" => (5, "b", 30),
        other => panic!("no record {other}"),
    };
    json!({ "t": format!("2024-01-01T00:00:0{second}Z"), "k": key, "v": v })
}

/// A row `[key, [left, right]]` of records by name (`-`: none).
fn row(key: &str, left: &str, right: &str) -> Value {
    let side = |name: &str| if name == "-" { Value::Null } else { record(name) };
    json!([key, [side(left), side(right)]])
}

/// `rows` with every record's `v` made `f(v)`.
fn with_v(rows: &[Value], f: impl Fn(i64) -> i64) -> Vec<Value> {
    let mut rows = rows.to_vec();
    for item in &mut rows {
        for record in item[1].as_array_mut().unwrap() {
            if let Some(v) = record.get("v").and_then(Value::as_i64) {
                record["v"] = json!(f(v));
            }
        }
    }
    rows
}

/// `bump`: writes both records of its row (through a shared cell, if the row still had one).
const BUMP: &str = "fn mapper(row) {
    if row[0] != () { row[0].v = 99; }
    if row[1] != () { row[1].v = 99; }
    row
}";

/// `keep`: writes both records of its row and keeps the row as its state.
const KEEP: &str = "fn mapper(state, row) {
    if row[0] != () { row[0].v += 1; }
    if row[1] != () { row[1].v += 1; }
    [row, row]
}";

#[test]
fn join_sharing_writers_run_on_the_fast_path_unless_switched_off() {
    use eddy::script::{Script, ScriptHost, ScriptLimits};
    let host = ScriptHost::new(ScriptLimits::default());
    assert!(Script::compile(&host, "bump", BUMP).unwrap().is_fast("mapper", 1));
    assert!(Script::compile(&host, "keep", KEEP).unwrap().is_fast("mapper", 2));
}

fn pipeline(insert: &str, emit: &str) -> String {
    format!(
        r#"format_version = 1

[[sources]]
id = "left"
path = "left.jsonl"
format = "jsonl"
time_field = "t"

[[sources]]
id = "right"
path = "right.jsonl"
format = "jsonl"
time_field = "t"

[[steps]]
id = "left_by_k"
op = "key_on"
inputs = ["left"]
field = "k"

[[steps]]
id = "right_by_k"
op = "key_on"
inputs = ["right"]
field = "k"

[[steps]]
id = "j"
op = "join"
inputs = ["left_by_k", "right_by_k"]
insert_mode = "{insert}"
emit_mode = "{emit}"

[[steps]]
id = "bump"
op = "map_value"
inputs = ["j"]
script = '''
{BUMP}
'''

[[steps]]
id = "copy"
op = "map_value"
inputs = ["j"]
script = '''
fn mapper(row) {{ row }}
'''

[[steps]]
id = "keep"
op = "stateful_map"
inputs = ["j"]
script = '''
{KEEP}
'''

[[sinks]]
id = "rows"
inputs = ["j"]
format = "jsonl"
path = "rows.jsonl"

[[sinks]]
id = "bumped"
inputs = ["bump"]
format = "jsonl"
path = "bumped.jsonl"

[[sinks]]
id = "copied"
inputs = ["copy"]
format = "jsonl"
path = "copied.jsonl"

[[sinks]]
id = "kept"
inputs = ["keep"]
format = "jsonl"
path = "kept.jsonl"
"#
    )
}

/// A folder with the two sources and the pipeline joining them with these modes.
fn folder(insert: &str, emit: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("left.jsonl"), LEFT).unwrap();
    std::fs::write(dir.path().join("right.jsonl"), RIGHT).unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), pipeline(insert, emit)).unwrap();
    dir
}

fn engine(dir: &Path, rhai_only: bool) -> Engine {
    let options = EngineOptions { capture_sinks: true, rhai_only, ..EngineOptions::default() };
    Engine::new(load_and_check(&dir.join("pipeline.toml")).unwrap(), &options).unwrap()
}

fn sink(engine: &Engine, id: &str) -> Vec<Value> {
    engine.captured()[id].iter().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn step_index(engine: &Engine, id: &str) -> usize {
    engine.graph().doc.steps.iter().position(|s| s.id == id).unwrap()
}

/// Runs the join with these modes to the end (fast path, then plain Rhai) and checks every
/// sink against `rows`, the join's rows as they must be.
fn assert_isolated(insert: &str, emit: &str, rows: &[Value]) {
    let dir = folder(insert, emit);
    for rhai_only in [false, true] {
        let mut engine = engine(dir.path(), rhai_only);
        engine.run_to_end().unwrap();
        let case = format!("insert {insert}, emit {emit}, rhai_only {rhai_only}");
        assert_eq!(sink(&engine, "rows"), rows, "{case}: the join's rows");
        assert_eq!(sink(&engine, "bumped"), with_v(rows, |_| 99), "{case}: the rows bumped");
        assert_eq!(sink(&engine, "copied"), rows, "{case}: the branch after the bump");
        assert_eq!(sink(&engine, "kept"), with_v(rows, |v| v + 1), "{case}: each row written once");
    }
}

#[test]
fn join_running_last_rows_are_not_changed_by_a_later_step() {
    let rows = [
        row("a", "L1", "-"),
        row("a", "L2", "-"),
        row("a", "L2", "R1"),
        row("a", "L2", "R2"),
        row("b", "-", "R3"),
    ];
    assert_isolated("last", "running", &rows);
}

#[test]
fn join_running_product_rows_sharing_a_record_are_not_changed_by_a_later_step() {
    let rows = [
        row("a", "L1", "-"),
        row("a", "L1", "-"),
        row("a", "L2", "-"),
        row("a", "L1", "R1"),
        row("a", "L2", "R1"),
        row("a", "L1", "R1"),
        row("a", "L1", "R2"),
        row("a", "L2", "R1"),
        row("a", "L2", "R2"),
        row("b", "-", "R3"),
    ];
    assert_isolated("product", "running", &rows);
}

#[test]
fn join_complete_and_final_product_rows_sharing_a_record_are_not_changed_by_a_later_step() {
    assert_isolated("product", "complete", &[row("a", "L1", "R1"), row("a", "L2", "R1")]);
    let all = [
        row("a", "L1", "R1"),
        row("a", "L1", "R2"),
        row("a", "L2", "R1"),
        row("a", "L2", "R2"),
        row("b", "-", "R3"),
    ];
    assert_isolated("product", "final", &all);
    assert_isolated("last", "final", &[row("a", "L2", "R2"), row("b", "-", "R3")]);
}

/// Sets `v` to -1 in every record of `value`, in place (`as_*_mut` write through a shared
/// value's cell).
fn write_every_v(value: &mut rhai::Dynamic) {
    if let Ok(mut map) = value.as_map_mut() {
        map.insert("v".into(), rhai::Dynamic::from_int(-1));
    } else if let Ok(mut array) = value.as_array_mut() {
        array.iter_mut().for_each(write_every_v);
    }
}

/// Each key's state, as JSON, in key order.
type States = Vec<(String, Value)>;

/// The join's state as the workbench's state view and a snapshot read it, key by key.
fn join_state(engine: &mut Engine) -> (States, States) {
    let j = step_index(engine, "j");
    let mut viewed = Vec::new();
    for (key, _) in engine.step_states(j) {
        let state = engine.with_step_state(j, &key, |state| {
            assert!(!has_shared_parts(state), "the state view is given a value of its own");
            display_json(state)
        });
        viewed.push((key.to_string(), state.unwrap()));
    }
    let snapshot = engine.snapshot().unwrap();
    let snapshotted =
        snapshot.steps["j"].iter().map(|(key, value)| (key.to_string(), display_json(value))).collect();
    (viewed, snapshotted)
}

#[test]
fn join_state_is_unchanged_by_downstream_writes_in_the_state_view_and_snapshots() {
    let dir = folder("product", "running");
    for rhai_only in [false, true] {
        let mut engine = engine(dir.path(), rhai_only);
        // After L1, L2 and R1: every row the join emitted was written by `bump` and `keep`.
        for _ in 0..3 {
            assert!(matches!(engine.step().unwrap(), StepOutcome::Event { .. }));
        }
        let expected = vec![("a".to_owned(), json!([[record("L1"), record("L2")], [record("R1")]]))];
        let (viewed, snapshotted) = join_state(&mut engine);
        assert_eq!(viewed, expected, "rhai_only {rhai_only}");
        assert_eq!(snapshotted, expected, "rhai_only {rhai_only}");
        // Values a snapshot and the state view gave, written in place (through any shared
        // cell, as a script would), change neither the state nor the next rows.
        let mut snapshot = engine.snapshot().unwrap();
        for (_, sides) in snapshot.steps.get_mut("j").unwrap() {
            write_every_v(sides);
        }
        for (_, mut sides) in engine.step_states(step_index(&engine, "j")) {
            write_every_v(&mut sides);
        }
        engine.run_to_end().unwrap();
        let (viewed, _) = join_state(&mut engine);
        let end = vec![
            ("a".to_owned(), json!([[record("L1"), record("L2")], [record("R1"), record("R2")]])),
            ("b".to_owned(), json!([[], [record("R3")]])),
        ];
        assert_eq!(viewed, end, "rhai_only {rhai_only}");
        assert_eq!(sink(&engine, "copied"), sink(&engine, "rows"), "rhai_only {rhai_only}");
    }
}

#[test]
fn join_rows_the_trace_records_are_copies_of_their_own() {
    let dir = folder("product", "running");
    let mut engine = engine(dir.path(), false);
    engine.set_tracing(true);
    engine.run_to_end().unwrap();
    let j = step_index(&engine, "j");
    let mut traced = Vec::new();
    for event in engine.take_trace() {
        if let (true, TraceKind::ItemOut { key, value, .. }) = (event.step == j, &event.kind) {
            assert!(!has_shared_parts(value), "the trace keeps values of its own");
            traced.push(json!([key.as_ref().map(|k| k.to_string()), display_json(value)]));
        }
    }
    assert_eq!(traced, sink(&engine, "rows"));
    assert_eq!(sink(&engine, "copied"), sink(&engine, "rows"));
}
