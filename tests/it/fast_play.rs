//! A fast play leaves items untraced where no preview shows them (docs/architecture.md,
//! "Previews of a fast play"): whatever it skipped, where it stops shows exactly what a replay
//! tracing every item shows — previews of a busy step and of a rare one, counts, states,
//! timers, the dropped items, and an error's place — also where the records of an untraced
//! stretch keep only the fields the pipeline reads.

use std::path::{Path, PathBuf};

use eddy::session::{
    Breakpoint, Command, DroppedView, GraphSource, NodePreview, Playback, RunView, SnapshotKind, Speed,
    Status, StepCounts, TimersView,
};

/// A pipeline over `events` events: a running count per user, a step that sees one event in
/// about `rare` (its previews need a longer traced tail), and a collect with a timeout
/// (timers). With `fail_at`, the running count throws at that event.
fn pipeline(dir: &Path, events: u64, rare: u64, fail_at: Option<u64>) -> PathBuf {
    let mut csv = String::from("ts,i,user,amount\n");
    for i in 1..=events {
        let second = i * 2 + (i % 7);
        csv.push_str(&format!("{},{i},u{:03},{}\n", 1_700_000_000 + second, (i * 7 + i / 13) % 131, i % 100));
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
    let throw =
        fail_at.map_or(String::new(), |at| format!("    if e.i == {at} {{ throw \"event {at}\"; }}\n"));
    let pipeline = format!(
        r#"
format_version = 1

[[sources]]
id = "events"
path = "events.csv"
time_field = "ts"
time_format = "unix_s"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) {{
{throw}    let n = (state ?? 0) + 1;
    [n, #{{ user_n: n, amount: e.amount }}]
}}
'''

[[steps]]
id = "rare"
op = "filter_value"
inputs = ["running"]
script = '''
fn predicate(x) {{ x.user_n % {rare} == 0 }}
'''

[[steps]]
id = "batches"
op = "collect"
inputs = ["by_user"]
max_size = 4
timeout = "20s"

[[sinks]]
id = "all"
inputs = ["running"]
format = "jsonl"
path = "out/all.jsonl"

[[sinks]]
id = "rare_out"
inputs = ["rare"]
format = "jsonl"
path = "out/rare.jsonl"

[[sinks]]
id = "lists"
inputs = ["batches"]
format = "jsonl"
path = "out/lists.jsonl"
"#
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, pipeline).unwrap();
    path
}

/// A loaded replay; `traced`: with a breakpoint that never triggers armed, so that every
/// item is traced (the reference).
fn loaded(path: &Path, traced: bool) -> Playback {
    let mut playback = Playback::new();
    playback.handle(Command::Load(GraphSource::File(path.to_path_buf())));
    playback.handle(Command::SetSpeed(Speed::AsFastAsPossible));
    playback.handle(Command::Select(Some("running".into())));
    if traced {
        let never = Breakpoint::KeyTouched { step: "running".into(), key: "nobody".into() };
        playback.handle(Command::SetBreakpoints(vec![never]));
    }
    playback.finish();
    let events = playback.take_events();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(playback.view().status, Status::Paused);
    playback
}

fn apply(playback: &mut Playback, command: Command) -> std::sync::Arc<RunView> {
    playback.handle(command);
    playback.finish();
    playback.view()
}

/// Everything a view shows that depends on the position only.
#[derive(Debug, PartialEq)]
struct Shown {
    status: Status,
    position: u64,
    clock: Option<i64>,
    steps: Vec<StepCounts>,
    timers: TimersView,
    rows: Option<Vec<(String, serde_json::Value)>>,
    previews: Vec<NodePreview>,
    error: Option<(Option<String>, String, u64)>,
    dropped: DroppedView,
}

fn shown(view: &RunView) -> Shown {
    Shown {
        status: view.status,
        position: view.position,
        clock: view.clock_micros,
        steps: view.steps.to_vec(),
        timers: (*view.timers).clone(),
        rows: view
            .selected
            .as_ref()
            .map(|t| t.rows.iter().map(|r| (r.key.clone(), r.state.clone())).collect()),
        previews: view.previews.to_vec(),
        error: view.error.as_ref().map(|e| (e.step.clone(), e.message.clone(), e.position)),
        dropped: (*view.dropped).clone(),
    }
}

/// The reference: a replay tracing every item, stepped straight to `position`.
fn traced_to(path: &Path, position: u64) -> Shown {
    let mut playback = loaded(path, true);
    shown(&apply(&mut playback, Command::Step(position)))
}

#[test]
fn a_fast_play_stops_where_a_traced_one_shows_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let events = 9000;
    let path = pipeline(dir.path(), events, 29, None);
    for position in [150, 1000, 4095, 4096, 6100, 8191] {
        let expected = traced_to(&path, position);
        assert_eq!(expected.position, position);
        assert_eq!(expected.previews.len(), 4);
        assert!(expected.previews.iter().all(|p| !p.items_in.is_empty()), "{position}");
        // A seek from the start, a count of steps, a play paused on the way.
        let mut playback = loaded(&path, false);
        assert_eq!(shown(&apply(&mut playback, Command::Seek(position))), expected, "seek to {position}");
        let mut playback = loaded(&path, false);
        assert_eq!(shown(&apply(&mut playback, Command::Step(position))), expected, "step {position}");
        // Steps on from there, then back again.
        let on = (position + 777).min(events);
        assert_eq!(
            shown(&apply(&mut playback, Command::Step(777))),
            traced_to(&path, on),
            "{position} + 777"
        );
        assert_eq!(shown(&apply(&mut playback, Command::Seek(position))), expected, "back to {position}");
    }
    // A play paused wherever it got to (an untraced stretch, most likely).
    for slice in [1, 3, 7] {
        let mut playback = loaded(&path, false);
        playback.handle(Command::Play);
        playback.work(std::time::Duration::from_millis(slice));
        let view = apply(&mut playback, Command::Pause);
        assert_eq!(view.status, Status::Paused);
        assert_eq!(shown(&view), traced_to(&path, view.position), "paused after {slice} ms");
    }
    // A snapshot taken while playing fast, restored after the play went on.
    let mut playback = loaded(&path, false);
    playback.handle(Command::Play);
    playback.work(std::time::Duration::from_millis(3));
    playback.handle(Command::TakeSnapshot);
    playback.work(std::time::Duration::from_millis(3));
    let view = apply(&mut playback, Command::Pause);
    let manual = view.snapshots.iter().find(|s| s.kind == SnapshotKind::Manual).unwrap().clone();
    let view = apply(&mut playback, Command::RestoreSnapshot(manual.id));
    assert_eq!(view.position, manual.position);
    assert_eq!(shown(&view), traced_to(&path, manual.position), "restored");
    // To the end: the end of input's own outputs (the collect's leftovers) traced too.
    let mut reference = loaded(&path, true);
    let expected = shown(&apply(&mut reference, Command::RunToEnd));
    assert_eq!(expected.status, Status::Ended);
    let mut playback = loaded(&path, false);
    assert_eq!(shown(&apply(&mut playback, Command::RunToEnd)), expected);
    let mut playback = loaded(&path, false);
    assert_eq!(shown(&apply(&mut playback, Command::Play)), expected);
}

#[test]
fn an_error_in_a_fast_play_shows_what_a_traced_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = pipeline(dir.path(), 6000, 1, Some(3333));
    let mut reference = loaded(&path, true);
    let expected = shown(&apply(&mut reference, Command::RunToEnd));
    assert_eq!(expected.status, Status::Error);
    // An error stands before the event that failed.
    assert_eq!(expected.position, 3332);
    let mut playback = loaded(&path, false);
    assert_eq!(shown(&apply(&mut playback, Command::RunToEnd)), expected);
    let mut playback = loaded(&path, false);
    assert_eq!(shown(&apply(&mut playback, Command::Play)), expected);
}

/// A pipeline over `events` events whose steps read `steps`' fields of the records (CSV
/// columns `ts,i,user,amount,note`), the source read only by a `key_on` of `user`.
fn reading_pipeline(dir: &Path, events: u64, steps: &str) -> PathBuf {
    let mut csv = String::from("ts,i,user,amount,note\n");
    for i in 1..=events {
        let second = i * 2 + (i % 5);
        csv.push_str(&format!(
            "{},{i},u{:03},{},note {}\n",
            1_700_000_000 + second,
            (i * 11) % 97,
            i % 50,
            i % 3
        ));
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
    let pipeline = format!(
        r#"
format_version = 1

[[sources]]
id = "events"
path = "events.csv"
time_field = "ts"
time_format = "unix_s"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"
{steps}
[[sinks]]
id = "out"
inputs = ["running"]
format = "jsonl"
path = "out/out.jsonl"
"#
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, pipeline).unwrap();
    path
}

/// The fields the workbench's engine keeps of the records in an untraced stretch.
fn untraced_fields(path: &Path) -> Option<Vec<String>> {
    let graph = eddy::engine::load_and_check(path).unwrap();
    let options = eddy::engine::EngineOptions { project_untraced: true, ..Default::default() };
    let engine = eddy::engine::Engine::new(graph, &options).unwrap();
    engine.untraced_fields(0).map(|fields| fields.iter().cloned().collect())
}

/// A fast play (seeks, counts of steps, plays paused anywhere, to the end) shows at every
/// place it stops what a replay tracing every item shows.
fn fast_shows_what_traced_does(path: &Path, events: u64) {
    for position in [150, 4095, 4096, 6100] {
        let expected = traced_to(path, position);
        assert_eq!(expected.position, position);
        let mut playback = loaded(path, false);
        assert_eq!(shown(&apply(&mut playback, Command::Seek(position))), expected, "seek to {position}");
        let mut playback = loaded(path, false);
        assert_eq!(shown(&apply(&mut playback, Command::Step(position))), expected, "step {position}");
        let on = (position + 777).min(events);
        assert_eq!(shown(&apply(&mut playback, Command::Step(777))), traced_to(path, on), "{position} + 777");
        assert_eq!(shown(&apply(&mut playback, Command::Seek(position))), expected, "back to {position}");
    }
    for slice in [1, 3, 7] {
        let mut playback = loaded(path, false);
        playback.handle(Command::Play);
        playback.work(std::time::Duration::from_millis(slice));
        let view = apply(&mut playback, Command::Pause);
        assert_eq!(shown(&view), traced_to(path, view.position), "paused after {slice} ms");
    }
    let mut reference = loaded(path, true);
    let expected = shown(&apply(&mut reference, Command::RunToEnd));
    assert_eq!(expected.status, Status::Ended);
    let mut playback = loaded(path, false);
    assert_eq!(shown(&apply(&mut playback, Command::Play)), expected, "played to the end");
}

#[test]
fn records_keeping_the_fields_read_in_untraced_stretches_show_what_traced_ones_do() {
    // The steps read `amount` and `i` only: untraced records keep those two fields; the
    // `rare` filter drops the running step's outputs (not records) into the ledger.
    let dir = tempfile::tempdir().unwrap();
    let steps = r#"
[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) { let n = (state ?? 0) + 1; [n, #{ n: n, amount: e.amount, i: e.i }] }
'''

[[steps]]
id = "rare"
op = "filter_value"
inputs = ["running"]
script = '''
fn predicate(x) { x.n % 7 == 0 }
'''
"#;
    let path = reading_pipeline(dir.path(), 9000, steps);
    assert_eq!(untraced_fields(&path), Some(vec!["amount".to_owned(), "i".to_owned()]));
    fast_shows_what_traced_does(&path, 9000);
}

#[test]
fn records_read_by_no_step_in_untraced_stretches_show_what_traced_ones_do() {
    // The running count reads nothing of the record: untraced records are `()`.
    let dir = tempfile::tempdir().unwrap();
    let steps = r#"
[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, value) { let n = (state ?? 0) + 1; [n, n] }
'''
"#;
    let path = reading_pipeline(dir.path(), 9000, steps);
    assert_eq!(untraced_fields(&path), Some(Vec::new()));
    fast_shows_what_traced_does(&path, 9000);
}

#[test]
fn records_a_step_may_drop_stay_whole_in_untraced_stretches() {
    // A filter on the records themselves: what it drops is listed whole in the Dropped tab,
    // so these records are never projected, traced or not.
    let dir = tempfile::tempdir().unwrap();
    let steps = r#"
[[steps]]
id = "big"
op = "filter_value"
inputs = ["by_user"]
script = '''
fn predicate(e) { e.amount > 20 }
'''

[[steps]]
id = "running"
op = "stateful_map"
inputs = ["big"]
script = '''
fn mapper(state, e) { let n = (state ?? 0) + e.amount; [n, n] }
'''
"#;
    let path = reading_pipeline(dir.path(), 9000, steps);
    assert_eq!(untraced_fields(&path), None);
    fast_shows_what_traced_does(&path, 9000);
    // The items dropped last carry every column of their record.
    let mut playback = loaded(&path, false);
    let view = apply(&mut playback, Command::Seek(4000));
    let last = view.dropped.latest.first().expect("items dropped by 4000");
    assert!(last.item.contains("note"), "{last:?}");
}

#[test]
fn an_error_on_a_projected_record_shows_what_a_traced_one_does() {
    // The mapper throws at event 3457, most likely in an untraced stretch: its message
    // names the whole record, as a traced replay's does.
    let dir = tempfile::tempdir().unwrap();
    let steps = r#"
[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) {
    if e.i == 3457 && e.amount == 7 { throw "amount 7 at event 3457"; }
    let n = (state ?? 0) + 1;
    [n, n]
}
'''
"#;
    let path = reading_pipeline(dir.path(), 6000, steps);
    assert_eq!(untraced_fields(&path), Some(vec!["amount".to_owned(), "i".to_owned()]));
    let mut reference = loaded(&path, true);
    let expected = shown(&apply(&mut reference, Command::RunToEnd));
    assert_eq!(expected.status, Status::Error);
    assert_eq!(expected.position, 3456);
    assert!(expected.error.as_ref().is_some_and(|(_, message, _)| message.contains("note")), "{expected:?}");
    let mut playback = loaded(&path, false);
    assert_eq!(shown(&apply(&mut playback, Command::RunToEnd)), expected);
    let mut playback = loaded(&path, false);
    assert_eq!(shown(&apply(&mut playback, Command::Play)), expected);
}
