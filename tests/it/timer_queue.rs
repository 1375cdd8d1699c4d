//! The timer queue against what the engine did before it (an ordered tree of every armed
//! timer): `tests/it/timer_queue/` holds a pipeline whose two `stateful` steps re-arm their
//! timers at random (later, earlier, at the same due time), cancel them by returning `()`,
//! DISCARD, and share due times across keys and steps, the second step's timers re-armed while
//! the first step's fire. `expected.jsonl` is that run's whole output and `pending.jsonl` the
//! pending timers after each event, both written by the engine before the queue changed.

use std::path::{Path, PathBuf};

use eddy::engine::{Engine, EngineOptions, StepOutcome, load_and_check};
use serde_json::Value;

use crate::util::read_lines;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/timer_queue")
}

fn capture() -> EngineOptions {
    EngineOptions { capture_sinks: true, ..EngineOptions::default() }
}

fn expected() -> Vec<String> {
    read_lines(&folder().join("expected.jsonl"))
}

/// The pending timers as (step, key, due), in firing order.
fn pending(engine: &Engine, steps: &[String]) -> Vec<Value> {
    engine
        .pending_timers()
        .map(|t| serde_json::json!([steps[engine.step_at_position(t.position)], t.key.as_str(), t.due]))
        .collect()
}

fn step_ids(path: &Path) -> Vec<String> {
    load_and_check(path).unwrap().doc.steps.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn random_rearms_and_cancels_give_the_whole_output_of_before() {
    let captured = eddy::run_captured(&folder().join("pipeline.toml")).unwrap();
    assert_eq!(captured["out"], expected());
}

#[test]
fn the_pending_timers_after_each_event_are_those_of_before() {
    let path = folder().join("pipeline.toml");
    let steps = step_ids(&path);
    let before = read_lines(&folder().join("pending.jsonl"));
    let mut engine = Engine::new(load_and_check(&path).unwrap(), &capture()).unwrap();
    for line in &before {
        assert!(matches!(engine.step().unwrap(), StepOutcome::Event { .. }));
        let line: Value = serde_json::from_str(line).unwrap();
        let after = line["after"].as_u64().unwrap();
        let timers = line["timers"].as_array().unwrap();
        assert_eq!(&pending(&engine, &steps), timers, "after event {after}");
        assert_eq!(engine.pending_timer_count(), timers.len(), "after event {after}");
        let first: Vec<Value> = engine
            .first_pending_timers(2)
            .into_iter()
            .map(|t| serde_json::json!([steps[engine.step_at_position(t.position)], t.key.as_str(), t.due]))
            .collect();
        assert_eq!(first, timers.iter().take(2).cloned().collect::<Vec<_>>(), "after event {after}");
    }
}

#[test]
fn a_snapshot_and_resume_between_any_two_events_gives_the_whole_output_of_before() {
    let path = folder().join("pipeline.toml");
    let expected = expected();
    for cut in (0..=600).step_by(13) {
        let mut first = Engine::new(load_and_check(&path).unwrap(), &capture()).unwrap();
        for _ in 0..cut {
            assert!(matches!(first.step().unwrap(), StepOutcome::Event { .. }));
        }
        let snapshot = first.snapshot().unwrap();
        let mut second = Engine::restore(load_and_check(&path).unwrap(), &snapshot, &capture()).unwrap();
        second.run_to_end().unwrap();
        let mut joined = first.captured().remove("out").unwrap_or_default();
        joined.extend(second.captured().remove("out").unwrap_or_default());
        assert_eq!(joined, expected, "resumed after event {cut}");
    }
}
