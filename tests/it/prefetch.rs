//! Reading ahead on another thread (what `eddy run` does) changes nothing a pipeline sees:
//! same outputs, same bad-row handling, same positions for snapshots.

use std::path::{Path, PathBuf};

use eddy::cli::Prefetched;
use eddy::engine::{Engine, EngineOptions, StepOutcome, load_and_check};

fn prefetched() -> EngineOptions {
    EngineOptions {
        capture_sinks: true,
        feed: Some(Prefetched::wrap),
        prune_fields: true,
        ..EngineOptions::default()
    }
}

fn pipelines() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut all: Vec<PathBuf> = std::fs::read_dir(root.join("tests/conformance"))
        .unwrap()
        .map(|e| e.unwrap().path().join("pipeline.toml"))
        .collect();
    all.sort();
    for name in ["sessions", "user_stats", "orders_join", "sliding_window"] {
        all.push(root.join("assets").join(format!("{name}.toml")));
    }
    all
}

fn run_prefetched(path: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut engine = Engine::new(load_and_check(path).unwrap(), &prefetched()).unwrap();
    engine.run_to_end().unwrap();
    engine.captured()
}

#[test]
fn read_ahead_gives_the_same_output_as_direct_reading() {
    for path in pipelines() {
        assert_eq!(run_prefetched(&path), eddy::run_captured(&path).unwrap(), "{}", path.display());
    }
}

/// A folder with a 2,000-row CSV (a bad row after row 1,500 when `broken`) and a running count.
fn generated(broken: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts,user,value\n");
    for i in 0..2000 {
        csv.push_str(&format!("2024-01-01T00:00:{:02}.{:03}Z,u{},{}\n", i / 1000, i % 1000, i % 7, i));
        if broken && i == 1500 {
            csv.push_str("broken,row\n");
        }
    }
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    let pipeline = "format_version = 1\n[[sources]]\nid = \"events\"\npath = \"events.csv\"\ntime_field = \"ts\"\n\
        [[steps]]\nid = \"k\"\nop = \"key_on\"\ninputs = [\"events\"]\nfield = \"user\"\n\
        [[steps]]\nid = \"c\"\nop = \"stateful_map\"\ninputs = [\"k\"]\nbuiltin = \"count\"\n\
        [[sinks]]\nid = \"out\"\ninputs = [\"c\"]\nformat = \"jsonl\"\npath = \"out.jsonl\"\n";
    std::fs::write(dir.path().join("p.toml"), pipeline).unwrap();
    dir
}

#[test]
fn read_ahead_resumes_from_snapshots_like_direct_reading() {
    let dir = generated(false);
    let path = dir.path().join("p.toml");
    let whole = eddy::run_captured(&path).unwrap();
    for cut in [0, 1, 511, 512, 513, 1999, 2000] {
        let mut first = Engine::new(load_and_check(&path).unwrap(), &prefetched()).unwrap();
        for _ in 0..cut {
            assert!(matches!(first.step().unwrap(), StepOutcome::Event { .. }));
        }
        let snapshot = first.snapshot().unwrap();
        let mut second = Engine::restore(load_and_check(&path).unwrap(), &snapshot, &prefetched()).unwrap();
        second.run_to_end().unwrap();
        let mut joined = first.captured();
        for (sink, lines) in second.captured() {
            joined.entry(sink).or_default().extend(lines);
        }
        assert_eq!(joined, whole, "cut at {cut}");
    }
}

#[test]
fn read_ahead_reports_bad_rows_at_the_same_point() {
    let dir = generated(true);
    let path = dir.path().join("p.toml");
    let direct = {
        let mut engine = Engine::new(
            load_and_check(&path).unwrap(),
            &EngineOptions { capture_sinks: true, ..Default::default() },
        )
        .unwrap();
        let error = engine.run_to_end().unwrap_err().to_string();
        (error, engine.captured(), engine.stats().events_in)
    };
    let ahead = {
        let mut engine = Engine::new(load_and_check(&path).unwrap(), &prefetched()).unwrap();
        let error = engine.run_to_end().unwrap_err().to_string();
        (error, engine.captured(), engine.stats().events_in)
    };
    assert_eq!(direct, ahead);
    assert_eq!(ahead.2, 1501);
    assert!(ahead.0.contains("events.csv:1503"), "{}", ahead.0);
}

#[test]
fn left_out_cells_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "ts,user,value\n2024-01-01T00:00:00Z,a,1\n2024-01-01T00:00:01Z,b,x\nnot a time,c,3\n";
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    for (types, needle) in [
        ("[sources.types]\nvalue = \"int\"\n", "events.csv:3: column `value`"),
        ("", "events.csv:4: column `ts`"),
    ] {
        let pipeline = format!(
            "format_version = 1\n[[sources]]\nid = \"events\"\npath = \"events.csv\"\ntime_field = \"ts\"\n{types}\
             [[steps]]\nid = \"k\"\nop = \"key_on\"\ninputs = [\"events\"]\nfield = \"user\"\n\
             [[steps]]\nid = \"c\"\nop = \"stateful_map\"\ninputs = [\"k\"]\nbuiltin = \"count\"\n\
             [[sinks]]\nid = \"out\"\ninputs = [\"c\"]\nformat = \"jsonl\"\npath = \"out.jsonl\"\n"
        );
        std::fs::write(dir.path().join("p.toml"), pipeline).unwrap();
        let path = dir.path().join("p.toml");
        let mut engine = Engine::new(load_and_check(&path).unwrap(), &prefetched()).unwrap();
        let error = engine.run_to_end().unwrap_err().to_string();
        assert!(error.contains(needle), "{error}");
    }
}

#[test]
fn a_key_the_source_cannot_read_as_a_string_still_fails_in_key_on() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "ts,user,value\n2024-01-01T00:00:00Z,a,1\n2024-01-01T00:00:01Z,42,2\n";
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    let pipeline = "format_version = 1\n[[sources]]\nid = \"events\"\npath = \"events.csv\"\ntime_field = \"ts\"\n\
         [[steps]]\nid = \"by_user\"\nop = \"key_on\"\ninputs = [\"events\"]\nfield = \"user\"\n\
         [[steps]]\nid = \"c\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nbuiltin = \"count\"\n\
         [[sinks]]\nid = \"out\"\ninputs = [\"c\"]\nformat = \"jsonl\"\npath = \"out.jsonl\"\n";
    std::fs::write(dir.path().join("p.toml"), pipeline).unwrap();
    let path = dir.path().join("p.toml");
    let direct = eddy::run_captured(&path).unwrap_err().to_string();
    let mut engine = Engine::new(load_and_check(&path).unwrap(), &prefetched()).unwrap();
    let pruned = engine.run_to_end().unwrap_err().to_string();
    assert_eq!(direct, pruned);
    assert!(pruned.contains("step `by_user`"), "{pruned}");
    assert!(pruned.contains("a key must be a string"), "{pruned}");
    assert_eq!(engine.captured()["out"], vec!["[\"a\",1]"]);
}

/// Scripted steps that read some fields, all of them, or none: pruning records to what the
/// scripts read changes no output and no error.
#[test]
fn scripted_steps_see_the_fields_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts,user,value,kind\n");
    for i in 0..300 {
        csv.push_str(&format!("2024-01-01T00:00:{:02}Z,u{},{},k{}\n", i / 10, i % 7, i % 13, i % 3));
    }
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    let steps = [
        // Reads nothing of the value.
        ("stateful_map", "fn mapper(s, v) { let n = (s ?? 0) + 1; [n, n] }"),
        // Reads one field.
        ("stateful_map", "fn mapper(s, v) { let n = (s ?? 0) + v.value; [n, n] }"),
        // Reads two, one by index.
        ("stateful_map", "fn mapper(s, v) { [(), `${v.kind}:${v[\"value\"]}`] }"),
        // Keeps the whole record: must see every field.
        ("stateful_map", "fn mapper(s, v) { [v, [s, v]] }"),
        ("stateful_map", "fn mapper(s, v) { [(), v.len()] }"),
        ("stateful_map", "fn mapper(s, v) { [(), v.keys()] }"),
        // fold_final and a filter_value in front of a stateful_map.
        ("fold_final", "fn builder() { 0 }\nfn folder(acc, e) { acc + e.value }"),
        ("map_value", "fn mapper(v) { v.kind + v.value }"),
        (
            "stateful",
            "fn builder(r) { #{n: r ?? 0} }\nfn on_item(v) { this.n += v.value; [[this.n], RETAIN] }\nfn snapshot() { this.n }",
        ),
        // A missing field: the source does not prune, the error is the same.
        ("stateful_map", "fn mapper(s, v) { [(), v.valeu] }"),
        // A type error on a read field.
        ("stateful_map", "fn mapper(s, v) { [(), v.kind - 1] }"),
    ];
    for (op, script) in steps {
        let pipeline = format!(
            "format_version = 1\n[[sources]]\nid = \"events\"\npath = \"events.csv\"\ntime_field = \"ts\"\n\
             [[steps]]\nid = \"by_user\"\nop = \"key_on\"\ninputs = [\"events\"]\nfield = \"user\"\n\
             [[steps]]\nid = \"measured\"\nop = \"{op}\"\ninputs = [\"by_user\"]\nscript = '''\n{script}\n'''\n\
             [[sinks]]\nid = \"out\"\ninputs = [\"measured\"]\nformat = \"jsonl\"\npath = \"out.jsonl\"\n"
        );
        std::fs::write(dir.path().join("p.toml"), pipeline).unwrap();
        let path = dir.path().join("p.toml");
        let direct = {
            let options = EngineOptions { capture_sinks: true, ..Default::default() };
            let mut engine = Engine::new(load_and_check(&path).unwrap(), &options).unwrap();
            let result = engine.run_to_end().map_err(|e| e.to_string());
            (result, engine.captured())
        };
        let pruned = {
            let mut engine = Engine::new(load_and_check(&path).unwrap(), &prefetched()).unwrap();
            let result = engine.run_to_end().map_err(|e| e.to_string());
            (result, engine.captured())
        };
        assert_eq!(direct, pruned, "{op}: {script}");
    }
}
