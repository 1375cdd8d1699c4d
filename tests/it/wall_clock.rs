//! `clock = "wall"`: the clock is read from the machine at each event. Under a mock clock
//! (`EngineOptions::wall_clock`) timers fire exactly as the clock rules say, deterministically.

use std::cell::Cell;

use eddy::engine::{Engine, EngineOptions, StepOutcome, load_and_check};

thread_local! {
    /// The mock wall clock (the engine runs on the test's thread).
    static NOW: Cell<i64> = const { Cell::new(0) };
}

fn mock_clock() -> i64 {
    NOW.with(Cell::get)
}

const T0: i64 = 1_700_000_000_000_000;
const SEC: i64 = 1_000_000;

const PIPELINE: &str = r#"format_version = 1
[clock]
mode = "wall"

[[sources]]
id = "events"
path = "events.jsonl"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "batches"
op = "collect"
inputs = ["by_user"]
max_size = 10
timeout = "10s"

[[steps]]
id = "seen"
op = "map_value"
inputs = ["by_user"]
script = '''
fn mapper(v) { #{n: v.n, now: now()} }
'''

[[sinks]]
id = "batches_out"
inputs = ["batches"]
format = "jsonl"
path = "out/batches.jsonl"

[[sinks]]
id = "seen_out"
inputs = ["seen"]
format = "jsonl"
path = "out/seen.jsonl"
"#;

/// Runs the pipeline with the mock clock at `times[i]` when event `i` is read.
fn run(times: &[i64]) -> std::collections::BTreeMap<String, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let events = "{\"user\": \"a\", \"n\": 1}\n{\"user\": \"b\", \"n\": 2}\n{\"user\": \"a\", \"n\": 3}\n\
                  {\"user\": \"b\", \"n\": 4}\n{\"user\": \"c\", \"n\": 5}\n";
    std::fs::write(dir.path().join("events.jsonl"), events).unwrap();
    std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
    let options =
        EngineOptions { capture_sinks: true, wall_clock: Some(mock_clock), ..EngineOptions::default() };
    let mut engine = Engine::new(load_and_check(&dir.path().join("p.toml")).unwrap(), &options).unwrap();
    for &t in times {
        NOW.with(|now| now.set(t));
        assert!(matches!(engine.step().unwrap(), StepOutcome::Event { .. }));
        assert_eq!(engine.clock(), Some(t), "wall mode reads the clock at every event");
    }
    // End of input: the clock does not move and pending timers do not fire.
    NOW.with(|now| now.set(T0 + 1000 * SEC));
    assert_eq!(engine.step().unwrap(), StepOutcome::Ended);
    engine.captured()
}

#[test]
fn timers_fire_in_wall_mode_by_the_mock_clock() {
    // a@0s, b@4s, a@8s (a's deadline moves to 18s), b@17s (b's timer, due 14s, fires first),
    // c@30s (a's timer, due 18s, then b's, due 27s, fire before c); c's list leaves at the end.
    let times = [T0, T0 + 4 * SEC, T0 + 8 * SEC, T0 + 17 * SEC, T0 + 30 * SEC];
    let outputs = run(&times);
    assert_eq!(
        outputs["batches_out"],
        vec![
            r#"["b",[{"n":2,"user":"b"}]]"#,
            r#"["a",[{"n":1,"user":"a"},{"n":3,"user":"a"}]]"#,
            r#"["b",[{"n":4,"user":"b"}]]"#,
            r#"["c",[{"n":5,"user":"c"}]]"#,
        ]
    );
    // now() in scripts is the wall clock read for the event.
    let seen: Vec<String> = ["a", "b", "a", "b", "c"]
        .iter()
        .zip(times)
        .enumerate()
        .map(|(i, (user, t))| format!(r#"["{user}",{{"n":{},"now":{t}}}]"#, i + 1))
        .collect();
    assert_eq!(outputs["seen_out"], seen);
    // The same clock readings give the same run.
    assert_eq!(run(&times), outputs);
    // Events closer together than the timeout: nothing fires before the end.
    let close = [T0, T0 + SEC, T0 + 2 * SEC, T0 + 3 * SEC, T0 + 4 * SEC];
    assert_eq!(
        run(&close)["batches_out"],
        vec![
            r#"["a",[{"n":1,"user":"a"},{"n":3,"user":"a"}]]"#,
            r#"["b",[{"n":2,"user":"b"},{"n":4,"user":"b"}]]"#,
            r#"["c",[{"n":5,"user":"c"}]]"#,
        ]
    );
}

#[test]
fn a_wall_clock_stepped_back_leaves_the_run_clock_where_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let events = "{\"user\": \"a\", \"n\": 1}\n{\"user\": \"b\", \"n\": 2}\n{\"user\": \"a\", \"n\": 3}\n";
    std::fs::write(dir.path().join("events.jsonl"), events).unwrap();
    std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
    let options =
        EngineOptions { capture_sinks: true, wall_clock: Some(mock_clock), ..EngineOptions::default() };
    let mut engine = Engine::new(load_and_check(&dir.path().join("p.toml")).unwrap(), &options).unwrap();
    // The machine's clock reads 5 s, then 2 s (stepped back), then 6 s.
    for (read, want) in
        [(T0 + 5 * SEC, T0 + 5 * SEC), (T0 + 2 * SEC, T0 + 5 * SEC), (T0 + 6 * SEC, T0 + 6 * SEC)]
    {
        NOW.with(|now| now.set(read));
        assert!(matches!(engine.step().unwrap(), StepOutcome::Event { .. }));
        assert_eq!(engine.clock(), Some(want), "the clock read {read}");
    }
    NOW.with(|now| now.set(T0));
    assert_eq!(engine.step().unwrap(), StepOutcome::Ended);
    let seen: Vec<String> = engine.captured()["seen_out"].clone();
    assert_eq!(
        seen,
        vec![
            format!(r#"["a",{{"n":1,"now":{}}}]"#, T0 + 5 * SEC),
            format!(r#"["b",{{"n":2,"now":{}}}]"#, T0 + 5 * SEC),
            format!(r#"["a",{{"n":3,"now":{}}}]"#, T0 + 6 * SEC),
        ]
    );
}
