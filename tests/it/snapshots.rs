//! Snapshot and restore at every cut point: a run restored from a snapshot taken between any
//! two events produces, from there, exactly what an uninterrupted run produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy::engine::{Engine, EngineOptions, StepOutcome, load_and_check};

fn capture() -> EngineOptions {
    EngineOptions { capture_sinks: true, ..EngineOptions::default() }
}

fn uninterrupted(path: &Path) -> BTreeMap<String, Vec<String>> {
    eddy::run_captured(path).unwrap()
}

/// Runs `cut` events, snapshots, restores into a fresh engine, runs to the end; returns the
/// outputs of both halves joined.
fn cut_and_resume(path: &Path, cut: usize) -> BTreeMap<String, Vec<String>> {
    let mut first = Engine::new(load_and_check(path).unwrap(), &capture()).unwrap();
    for _ in 0..cut {
        assert!(matches!(first.step().unwrap(), StepOutcome::Event { .. }), "cut {cut} is past the end");
    }
    let snapshot = first.snapshot().unwrap();
    let mut second = Engine::restore(load_and_check(path).unwrap(), &snapshot, &capture()).unwrap();
    second.run_to_end().unwrap();
    let mut joined = first.captured();
    for (sink, lines) in second.captured() {
        joined.entry(sink).or_default().extend(lines);
    }
    joined
}

fn event_count(path: &Path) -> usize {
    let mut engine = Engine::new(load_and_check(path).unwrap(), &capture()).unwrap();
    let mut events = 0;
    while let StepOutcome::Event { .. } = engine.step().unwrap() {
        events += 1;
    }
    events
}

fn check_every_cut(path: &Path, stride: usize) {
    let whole = uninterrupted(path);
    let events = event_count(path);
    for cut in (0..=events).step_by(stride.max(1)) {
        let resumed = cut_and_resume(path, cut);
        assert_eq!(resumed, whole, "{}: restored at event {cut} of {events} differs", path.display());
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn conformance_scenarios_resume_identically_from_every_cut() {
    let dir = root().join("tests/conformance");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    scenarios.sort();
    assert!(scenarios.len() >= 25);
    for scenario in scenarios {
        check_every_cut(&scenario.join("pipeline.toml"), 1);
    }
}

#[test]
fn examples_resume_identically_from_many_cuts() {
    for name in ["sessions", "user_stats", "orders_join", "sliding_window"] {
        check_every_cut(&root().join("assets").join(format!("{name}.toml")), 37);
    }
}

#[test]
fn a_snapshot_holds_the_scripts_snapshot_values_and_the_pending_timers() {
    let path = root().join("tests/conformance/29_notify_at_unit_cancels/pipeline.toml");
    let mut engine = Engine::new(load_and_check(&path).unwrap(), &capture()).unwrap();
    engine.step().unwrap(); // k@0: k's timer at 5 s
    engine.step().unwrap(); // j@1: j's timer at 6 s
    let snapshot = engine.snapshot().unwrap();
    let timers: Vec<(String, String)> =
        snapshot.timers.iter().map(|t| (t.step.clone(), t.key.clone())).collect();
    assert_eq!(timers.len(), 2);
    assert_eq!(timers[0].1, "k");
    assert_eq!(timers[1].1, "j");
    assert_eq!(snapshot.timers[1].due - snapshot.timers[0].due, 1_000_000);
    assert_eq!(snapshot.events_in, 2);
    let keys: Vec<String> = snapshot.steps.values().flatten().map(|(k, _)| k.to_string()).collect();
    assert_eq!(keys, vec!["j", "k"]);
}
