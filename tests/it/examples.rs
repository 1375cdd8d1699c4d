//! The example pipelines in `assets/`, run end to end and checked against whole expected outputs.
//!
//! Each example (`assets/NAME.toml` with its event files) is run with every sink captured, and
//! each sink's lines are compared per key, in order, with `tests/examples/NAME/SINK_ID.jsonl`.
//! Those files come from `tests/examples/oracle.py`, a plain Python program that recomputes
//! every sink from the event files and the rules of docs/semantics.md and docs/time.md without
//! running Eddy: it is the independent check of the engine. After changing an example or its data
//! (`assets/gen/generate.py`), rerun the oracle; never copy Eddy's output into the expected files.
//!
//! Each test also requires the set of sinks to equal the set of expected files, and a second run
//! to give identical lines (a replay is deterministic).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::{assert_same_per_key, read_lines};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `assets/NAME.toml` with every sink captured.
fn run(name: &str) -> BTreeMap<String, Vec<String>> {
    let path = root().join("assets").join(format!("{name}.toml"));
    eddy::run_captured(&path).unwrap_or_else(|e| panic!("{name}: the example failed to run: {e}"))
}

/// The expected output of each sink of example `name`: sink id → lines.
fn expected(name: &str) -> BTreeMap<String, Vec<String>> {
    let dir: PathBuf = root().join("tests").join("examples").join(name);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{name}: cannot list {}: {e}", dir.display()));
    let mut sinks = BTreeMap::new();
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{name}: {e}")).path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            let Some(sink) = path.file_stem().and_then(|s| s.to_str()) else {
                panic!("{name}: unreadable file name {}", path.display());
            };
            sinks.insert(sink.to_owned(), read_lines(&path));
        }
    }
    assert!(!sinks.is_empty(), "{name}: no expected files in {}", dir.display());
    sinks
}

/// Runs example `name` twice and checks every sink against its expected file.
fn check_example(name: &str) {
    let expected = expected(name);
    let actual = run(name);

    let expected_sinks: BTreeSet<&String> = expected.keys().collect();
    let actual_sinks: BTreeSet<&String> = actual.keys().collect();
    assert_eq!(
        actual_sinks, expected_sinks,
        "{name}: the pipeline's sinks differ from the expected files in tests/examples/{name}/"
    );

    for (sink, expected_lines) in &expected {
        assert_same_per_key(&actual[sink], expected_lines, &format!("{name}/{sink}"));
    }

    let again = run(name);
    for (sink, lines) in &actual {
        assert!(
            again.get(sink) == Some(lines),
            "{name}/{sink}: a second run gave different lines (the replay is not deterministic)"
        );
    }
}

/// Sessionisation with `stateful_flat_map`: logout or a gap over 30 minutes closes a session.
#[test]
fn sessions() {
    check_example("sessions");
}

/// `fold_final` statistics per user and `count_final` per category; a JSON Lines and a CSV sink.
#[test]
fn user_stats() {
    check_example("user_stats");
}

/// Orders enriched with the latest user profile: two sources merged by time, a running join.
#[test]
fn orders_join() {
    check_example("orders_join");
}

/// A 60 s sliding-window sum per sensor with `stateful` timers on the replay clock.
#[test]
fn sliding_window() {
    check_example("sliding_window");
}
