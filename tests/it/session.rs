//! The session: the replay state machine driven synchronously ([`Playback`]), and the threaded
//! handle. Views are compared whole against what the engine computes directly; no timings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eddy::engine::{Engine, EngineOptions, StepOutcome, TraceKind, load_and_check};
use eddy::graph::PipelineDoc;
use eddy::session::{
    Breakpoint, Command, Event, GraphSource, KeyRow, NodePreview, Playback, ReplaceMode, RunView, SinkCounts,
    SnapshotKind, Speed, Status, StepCounts, TimersView,
};
use eddy::value::display_json as to_json;

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets").join(name)
}

fn loaded(path: &Path) -> Playback {
    let mut playback = Playback::new();
    playback.handle(Command::Load(GraphSource::File(path.to_path_buf())));
    playback.handle(Command::SetSpeed(Speed::AsFastAsPossible));
    playback.finish();
    let events = playback.take_events();
    assert!(events.is_empty(), "{events:?}");
    playback
}

fn apply(playback: &mut Playback, command: Command) -> Arc<RunView> {
    playback.handle(command);
    playback.finish();
    playback.view()
}

fn engine(path: &Path) -> Engine {
    let options = EngineOptions { capture_sinks: true, ..EngineOptions::default() };
    Engine::new(load_and_check(path).unwrap(), &options).unwrap()
}

/// A step's states as the table shows them, computed by an engine stepped `events` times.
fn direct_rows(path: &Path, step: &str, events: u64) -> Vec<(String, serde_json::Value)> {
    let mut engine = engine(path);
    for _ in 0..events {
        assert!(matches!(engine.step().unwrap(), StepOutcome::Event { .. }));
    }
    let index = engine.graph().doc.steps.iter().position(|s| s.id == step).unwrap();
    engine.step_states(index).iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()
}

fn rows(view: &RunView) -> Vec<(String, serde_json::Value)> {
    view.selected.as_ref().unwrap().rows.iter().map(|r| (r.key.clone(), r.state.clone())).collect()
}

/// Everything a view shows that depends on the position only.
#[derive(Debug, PartialEq)]
struct Shown {
    position: u64,
    clock: Option<i64>,
    steps: Vec<StepCounts>,
    sinks: Vec<SinkCounts>,
    timers: TimersView,
    rows: Option<Vec<Arc<KeyRow>>>,
    previews: Vec<NodePreview>,
}

fn shown(view: &RunView) -> Shown {
    Shown {
        position: view.position,
        clock: view.clock_micros,
        steps: view.steps.to_vec(),
        sinks: view.sinks.to_vec(),
        timers: (*view.timers).clone(),
        rows: view.selected.as_ref().map(|t| t.rows.clone()),
        previews: view.previews.to_vec(),
    }
}

/// What a fresh replay of `path` shows with `running` selected after stepping straight to
/// `position`: the reference a seek must match.
fn stepped_straight_to(path: &Path, position: u64) -> Shown {
    let mut playback = loaded(path);
    apply(&mut playback, Command::Select(Some("running".into())));
    shown(&apply(&mut playback, Command::Step(position)))
}

/// Lines of a JSON Lines file as parsed values.
fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A generated pipeline with enough events for several keyframes: a running sum per user
/// (script), and a collect with a timeout (timers).
fn generated(dir: &Path, events: u64) -> PathBuf {
    let mut csv = String::from("ts,user,amount\n");
    for i in 0..events {
        let second = i * 2 + (i % 7);
        csv.push_str(&format!("{},u{:02},{}\n", 1_700_000_000 + second, (i * 7 + i / 13) % 23, i % 100));
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
    let pipeline = r#"
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
fn mapper(state, e) {
    let s = state ?? #{ n: 0, sum: 0 };
    s.n += 1;
    s.sum += e.amount;
    [s, s.sum]
}
'''

[[steps]]
id = "batches"
op = "collect"
inputs = ["by_user"]
max_size = 4
timeout = "20s"

[[sinks]]
id = "sums"
inputs = ["running"]
format = "jsonl"
path = "out/sums.jsonl"

[[sinks]]
id = "lists"
inputs = ["batches"]
format = "jsonl"
path = "out/lists.jsonl"
"#;
    let path = dir.join("generated.toml");
    std::fs::write(&path, pipeline).unwrap();
    path
}

#[test]
fn play_to_end_shows_what_the_engine_computes() {
    let path = asset("user_stats.toml");
    let mut playback = loaded(&path);
    let view = apply(&mut playback, Command::Select(Some("stats".into())));
    let total = view.total.unwrap();
    assert_eq!(total, 330);
    assert_eq!((view.status, view.position), (Status::Paused, 0));
    // Just before end of input: the fold's accumulators per user, as the engine holds them.
    let view = apply(&mut playback, Command::Seek(total));
    assert_eq!(view.position, total);
    assert_eq!(rows(&view), direct_rows(&path, "stats", total));
    assert!(rows(&view).len() > 10);
    // End of input: the finals are emitted and discarded; the sinks got what `eddy run` writes.
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
    assert!(rows(&view).is_empty());
    let captured = eddy::run_captured(&path).unwrap();
    let expected: Vec<SinkCounts> = captured
        .iter()
        .map(|(sink, lines)| SinkCounts { sink: sink.clone(), items: lines.len() as u64 })
        .collect();
    let mut sinks = view.sinks.to_vec();
    sinks.sort_by(|a, b| a.sink.cmp(&b.sink));
    assert_eq!(sinks, expected);
    // The final outputs went through `stats`: its preview ends with the last of them.
    let preview = view.previews.iter().find(|p| p.step == "stats").unwrap();
    let last_line: serde_json::Value = serde_json::from_str(captured["per_user"].last().unwrap()).unwrap();
    let last = preview.items_out.last().unwrap();
    assert_eq!(serde_json::json!([last.key.clone().unwrap(), last.value.clone()]), last_line);
    assert_eq!(last.position, total);
}

#[test]
fn a_step_changes_one_key() {
    let path = asset("user_stats.toml");
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("stats".into())));
    let first = &jsonl(&asset("purchases.jsonl"))[0];
    let user = first["user"].as_str().unwrap().to_owned();
    assert_eq!(first["status"], "completed");
    let view = apply(&mut playback, Command::Step(1));
    let table = view.selected.as_ref().unwrap();
    assert_eq!(table.changed, vec![user.clone()]);
    let amount = first["amount_cents"].as_i64().unwrap();
    let row = table.rows.iter().find(|r| r.key == user).unwrap();
    assert_eq!(row.state["count"], 1);
    assert_eq!(row.state["sum"], amount);
    // The next event of the same user adds to it.
    let lines = jsonl(&asset("purchases.jsonl"));
    let next =
        lines.iter().skip(1).position(|l| l["user"] == user.as_str() && l["status"] == "completed").unwrap();
    let view = apply(&mut playback, Command::Step(next as u64 + 1));
    let row = view.selected.as_ref().unwrap().rows.iter().find(|r| r.key == user).unwrap();
    assert_eq!(row.state["count"], 2);
    assert_eq!(row.state["sum"], amount + lines[next + 1]["amount_cents"].as_i64().unwrap());
    assert_eq!(rows(&view), direct_rows(&path, "stats", next as u64 + 2));
}

#[test]
fn a_position_shows_the_same_whatever_the_way_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 3500);
    let straight = |position: u64| stepped_straight_to(&path, position);
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("batches".into())));
    apply(&mut playback, Command::Select(Some("running".into())));
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
    let keyframes: Vec<u64> =
        view.snapshots.iter().filter(|s| s.kind == SnapshotKind::Keyframe).map(|s| s.position).collect();
    assert_eq!(keyframes, vec![1000, 2000, 3000]);
    // Back from the end, back again, forward, to a keyframe, to the start.
    for position in [2500, 1200, 1999, 3000, 1000, 0, 3500] {
        let view = apply(&mut playback, Command::Seek(position));
        assert_eq!(view.status, Status::Paused);
        assert_eq!(shown(&view), straight(position), "seek to {position}");
    }
    assert!(!shown(&playback.view()).timers.shown.is_empty());
}

#[test]
fn the_file_can_set_the_keyframe_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 10);
    let default = loaded(&path).view().keyframes.budget;
    assert_eq!(default, eddy::session::DEFAULT_KEYFRAME_BUDGET);
    let text = std::fs::read_to_string(&path).unwrap() + "\n[editor]\nkeyframe_budget_mib = 64\n";
    std::fs::write(&path, text).unwrap();
    assert_eq!(loaded(&path).view().keyframes.budget, 64 * 1024 * 1024);
}

#[test]
fn seeking_across_keyframes_thinned_by_the_budget_is_still_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 12_000);
    let straight = |position: u64| stepped_straight_to(&path, position);
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("running".into())));
    let keyframes = |view: &RunView| -> Vec<u64> {
        view.snapshots.iter().filter(|s| s.kind == SnapshotKind::Keyframe).map(|s| s.position).collect()
    };
    // Half-way with the default budget: a keyframe every 1000 events.
    let view = apply(&mut playback, Command::Seek(6000));
    assert_eq!(keyframes(&view), (1..=6).map(|k| k * 1000).collect::<Vec<_>>());
    assert_eq!(view.keyframes.every, 1000);
    // A budget smaller than they hold: they are thinned at once, then as the replay goes on.
    let budget = view.keyframes.bytes / 2;
    let view = apply(&mut playback, Command::SetKeyframeBudget(budget));
    assert!(view.keyframes.every > 1000, "{:?}", view.keyframes);
    assert!(view.keyframes.bytes <= budget || view.keyframes.count == 1, "{:?}", view.keyframes);
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
    assert!(view.keyframes.bytes <= budget || view.keyframes.count == 1, "{:?}", view.keyframes);
    let thinned = keyframes(&view);
    assert!(thinned.len() < 12 && !thinned.is_empty(), "{thinned:?}");
    // Between and onto the kept keyframes, and where dropped ones were, in every direction.
    for position in [11_500, 3000, 2999, 5000, 9001, 1000, 7777, 0, 12_000, 4000] {
        let view = apply(&mut playback, Command::Seek(position));
        assert_eq!(view.status, Status::Paused);
        assert_eq!(shown(&view), straight(position), "seek to {position} (keyframes at {thinned:?})");
    }
    // Every keyframe, opened whole, holds the states a straight replay has there.
    for info in view.snapshots.iter().filter(|s| s.kind == SnapshotKind::Keyframe) {
        playback.handle(Command::OpenSnapshot(info.id));
        let opened = playback.take_events().into_iter().find_map(|e| match e {
            Event::SnapshotOpened(contents) => Some(contents),
            _ => None,
        });
        let opened = opened.unwrap();
        let running = &opened.steps.iter().find(|(step, _)| step == "running").unwrap().1;
        assert_eq!(Some(running.clone()), straight(info.position).rows, "keyframe at {}", info.position);
    }
}

#[test]
fn breakpoints_pause_at_the_event_that_triggers_them() {
    let path = asset("user_stats.toml");
    let lines = jsonl(&asset("purchases.jsonl"));
    let position_of = |from: usize, wanted: &dyn Fn(&serde_json::Value) -> bool| {
        (from + lines[from..].iter().position(wanted).unwrap() + 1) as u64
    };
    let mut playback = loaded(&path);

    let breakpoint = Breakpoint::KeyTouched { step: "stats".into(), key: "u05".into() };
    playback.handle(Command::SetBreakpoints(vec![breakpoint.clone()]));
    let view = apply(&mut playback, Command::Play);
    let expected = position_of(0, &|l| l["user"] == "u05" && l["status"] == "completed");
    assert_eq!((view.status, view.position), (Status::Paused, expected));
    let hit = view.breakpoint_hit.clone().unwrap();
    assert_eq!(
        (hit.index, hit.breakpoint, hit.position, hit.key),
        (0, breakpoint, expected, Some("u05".into()))
    );
    // Playing on stops at the next one.
    let view = apply(&mut playback, Command::Play);
    assert_eq!(
        view.position,
        position_of(expected as usize, &|l| l["user"] == "u05" && l["status"] == "completed")
    );

    let predicate =
        Breakpoint::Predicate { step: "completed".into(), script: "item.amount_cents > 9000".into() };
    playback.handle(Command::SetBreakpoints(vec![predicate]));
    let from = playback.position() as usize;
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.position, position_of(from, &|l| l["amount_cents"].as_i64().unwrap() > 9000));
    assert_eq!(view.breakpoint_hit.as_ref().unwrap().index, 0);

    // `completed` emits only completed purchases.
    playback.handle(Command::SetBreakpoints(vec![Breakpoint::NodeEmits("completed".into())]));
    let cancelled = lines.iter().position(|l| l["status"] != "completed").unwrap();
    apply(&mut playback, Command::Seek(cancelled as u64));
    let view = apply(&mut playback, Command::Play);
    assert_eq!(view.position, position_of(cancelled, &|l| l["status"] == "completed"));

    // A predicate that does not compile is reported, not armed.
    playback.take_events();
    let bad = Breakpoint::Predicate { step: "completed".into(), script: "item.amount_cents >".into() };
    playback.handle(Command::SetBreakpoints(vec![bad]));
    let events = playback.take_events();
    assert!(
        matches!(&events[..], [Event::Notice(n)] if n.message.contains("does not compile")),
        "{events:?}"
    );
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
}

#[test]
fn a_diff_of_two_snapshots_lists_the_keys_that_changed() {
    let path = asset("user_stats.toml");
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Step(40));
    apply(&mut playback, Command::TakeSnapshot);
    apply(&mut playback, Command::Step(25));
    let view = apply(&mut playback, Command::TakeSnapshot);
    let ids: Vec<u64> =
        view.snapshots.iter().filter(|s| s.kind == SnapshotKind::Manual).map(|s| s.id).collect();
    assert_eq!(ids.len(), 2);
    playback.handle(Command::DiffSnapshots(ids[0], ids[1]));
    let [Event::SnapshotDiff(diff)] = &playback.take_events()[..] else { panic!("no diff") };
    let before: std::collections::BTreeMap<_, _> = direct_rows(&path, "stats", 40).into_iter().collect();
    let after: std::collections::BTreeMap<_, _> = direct_rows(&path, "stats", 65).into_iter().collect();
    let stats = diff.steps.iter().find(|s| s.step == "stats").unwrap();
    let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let changed: Vec<&String> =
        after.keys().filter(|k| before.get(*k).is_some_and(|v| v != &after[*k])).collect();
    assert_eq!(stats.added.iter().map(|(k, _)| k).collect::<Vec<_>>(), added);
    assert_eq!(stats.changed.iter().map(|c| &c.key).collect::<Vec<_>>(), changed);
    assert!(stats.removed.is_empty());
    assert!(!changed.is_empty());
    let change = &stats.changed[0];
    assert_eq!((&change.old, &change.new), (&before[&change.key], &after[&change.key]));
    // Opening one gives its states.
    playback.handle(Command::OpenSnapshot(ids[0]));
    let [Event::SnapshotOpened(contents)] = &playback.take_events()[..] else { panic!("not opened") };
    let (_, rows) = contents.steps.iter().find(|(s, _)| s == "stats").unwrap();
    let opened: std::collections::BTreeMap<_, _> =
        rows.iter().map(|r| (r.key.clone(), r.state.clone())).collect();
    assert_eq!(opened, before);
}

#[test]
fn run_to_next_timer_stops_where_the_first_timer_fired() {
    let path = asset("sliding_window.toml");
    let mut direct = engine(&path);
    direct.set_tracing(true);
    let mut expected = 0;
    loop {
        direct.step().unwrap();
        expected += 1;
        if direct.take_trace().iter().any(|t| matches!(t.kind, TraceKind::TimerFired { .. })) {
            break;
        }
    }
    let mut playback = loaded(&path);
    let view = apply(&mut playback, Command::RunToNextTimer);
    assert_eq!((view.status, view.position), (Status::Paused, expected));
    let fired =
        view.log.iter().find(|e| matches!(e.kind, eddy::session::LogKind::TimerFired { .. })).unwrap();
    assert_eq!(fired.position, expected);
    assert_eq!(view.clock_micros, direct.clock());
}

#[test]
fn restoring_a_snapshot_and_going_on_equals_an_uninterrupted_replay() {
    let path = asset("sliding_window.toml");
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("window_sum".into())));
    let view = apply(&mut playback, Command::Step(123));
    let at_snapshot = shown(&view);
    let view = apply(&mut playback, Command::TakeSnapshot);
    let id = view.snapshots.iter().find(|s| s.kind == SnapshotKind::Manual).unwrap().id;
    let uninterrupted = shown(&apply(&mut playback, Command::RunToEnd));
    let view = apply(&mut playback, Command::RestoreSnapshot(id));
    assert_eq!(shown(&view), at_snapshot);
    assert_eq!(shown(&apply(&mut playback, Command::RunToEnd)), uninterrupted);
}

fn user_stats_doc(folder_extra: &str) -> (Box<PipelineDoc>, PathBuf) {
    let path = asset("user_stats.toml");
    let mut doc = eddy::graph::load_file(&path).unwrap();
    let stats = doc.steps.iter_mut().find(|s| s.id == "stats").unwrap();
    let script = stats.script.as_mut().unwrap();
    *script = script.replace(
        "    let amount = p.amount_cents;\n",
        &format!("    let amount = p.amount_cents;\n{folder_extra}"),
    );
    (Box::new(doc), asset(""))
}

#[test]
fn a_script_error_pauses_with_the_step_named_and_restart_and_continue_work() {
    let (doc, base_dir) = user_stats_doc("    if amount > 9500 { throw \"too big\"; }\n");
    let mut playback = loaded(&asset("user_stats.toml"));
    apply(&mut playback, Command::Select(Some("stats".into())));
    apply(&mut playback, Command::Load(GraphSource::Doc { doc, base_dir: base_dir.clone() }));
    let view = apply(&mut playback, Command::Play);
    let lines = jsonl(&asset("purchases.jsonl"));
    let failing =
        lines.iter().position(|l| l["status"] == "completed" && l["amount_cents"].as_i64().unwrap() > 9500);
    let failing = failing.unwrap() as u64;
    assert_eq!(view.status, Status::Error);
    let error = view.error.clone().unwrap();
    assert_eq!(error.step.as_deref(), Some("stats"));
    assert_eq!(error.function.as_deref(), Some("folder"));
    assert!(error.script_line.is_some());
    assert!(error.message.contains("too big"), "{}", error.message);
    assert_eq!((error.position, view.position), (failing, failing));
    // Play again: the same error at the same place.
    let view = apply(&mut playback, Command::Play);
    assert_eq!((view.status, view.position), (Status::Error, failing));
    // Continue with the script fixed: the state so far is kept, the rest runs.
    let (fixed, _) = user_stats_doc("");
    let view = apply(
        &mut playback,
        Command::ReplaceGraph {
            source: GraphSource::Doc { doc: fixed, base_dir: base_dir.clone() },
            mode: ReplaceMode::Continue,
        },
    );
    assert_eq!((view.status, view.position, view.origin), (Status::Paused, failing, failing));
    assert_eq!(rows(&view), direct_rows(&asset("user_stats.toml"), "stats", failing));
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
    // Restart works after an error too.
    let (doc, _) = user_stats_doc("    if amount > 9500 { throw \"too big\"; }\n");
    apply(&mut playback, Command::Load(GraphSource::Doc { doc, base_dir }));
    apply(&mut playback, Command::Play);
    let view = apply(&mut playback, Command::Restart);
    assert_eq!((view.status, view.position, view.error.is_none()), (Status::Paused, 0, true));
}

#[test]
fn replacing_the_graph_with_an_edited_script_continues() {
    let path = asset("user_stats.toml");
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("stats".into())));
    let before = apply(&mut playback, Command::Step(100));
    let (doc, base_dir) = user_stats_doc("    let amount = amount * 1000;\n");
    let view = apply(
        &mut playback,
        Command::ReplaceGraph { source: GraphSource::Doc { doc, base_dir }, mode: ReplaceMode::Continue },
    );
    assert_eq!((view.position, view.origin, view.generation), (100, 100, before.generation + 1));
    assert_eq!(rows(&view), rows(&before));
    assert_eq!(view.steps, before.steps);
    // The next completed purchase goes through the new script.
    let lines = jsonl(&asset("purchases.jsonl"));
    let next = 100 + lines[100..].iter().position(|l| l["status"] == "completed").unwrap();
    let user = lines[next]["user"].as_str().unwrap();
    let old_sum = before
        .selected
        .as_ref()
        .unwrap()
        .rows
        .iter()
        .find(|r| r.key == user)
        .map_or(0, |r| r.state["sum"].as_i64().unwrap());
    let view = apply(&mut playback, Command::Step(next as u64 - 99));
    let row = view.selected.as_ref().unwrap().rows.iter().find(|r| r.key == user).unwrap();
    assert_eq!(
        row.state["sum"].as_i64().unwrap(),
        old_sum + 1000 * lines[next]["amount_cents"].as_i64().unwrap()
    );
    // Seeking before the continue point stops at it.
    assert_eq!(apply(&mut playback, Command::Seek(3)).position, 100);
    // A graph whose stateful steps differ cannot continue: it restarts, and says why.
    let (mut doc, base_dir) = user_stats_doc("");
    doc.steps.retain(|s| s.id != "per_category_count");
    doc.sinks.retain(|s| s.id != "per_category");
    playback.take_events();
    let view = apply(
        &mut playback,
        Command::ReplaceGraph { source: GraphSource::Doc { doc, base_dir }, mode: ReplaceMode::Continue },
    );
    assert_eq!((view.position, view.origin), (0, 0));
    let events = playback.take_events();
    assert!(
        matches!(&events[..], [Event::Notice(n)] if n.message.contains("per_category_count")),
        "{events:?}"
    );
}

#[test]
fn a_watched_key_has_a_history() {
    let path = asset("user_stats.toml");
    let mut playback = loaded(&path);
    playback.handle(Command::WatchKey { step: "stats".into(), key: "u03".into() });
    let view = apply(&mut playback, Command::Step(60));
    let series = view.watch.clone().unwrap();
    let lines = jsonl(&asset("purchases.jsonl"));
    let touched: Vec<u64> = lines[..60]
        .iter()
        .enumerate()
        .filter(|(_, l)| l["user"] == "u03" && l["status"] == "completed")
        .map(|(i, _)| i as u64 + 1)
        .collect();
    let positions: Vec<u64> = series.points.iter().skip(1).map(|p| p.position).collect();
    assert_eq!(positions, touched);
    assert_eq!(series.points[0].state, None);
    let last = series.points.last().unwrap();
    assert_eq!(last.fields.iter().find(|(f, _)| f == "count").map(|(_, n)| *n), Some(touched.len() as f64));
    // Seeking back drops what lies past the position.
    let view = apply(&mut playback, Command::Seek(touched[0]));
    assert_eq!(view.watch.as_ref().unwrap().points.len(), 2);
}

/// Waits for a view that satisfies `done`, draining events; panics after a long while.
fn wait_for(handle: &eddy::session::SessionHandle, done: impl Fn(&RunView) -> bool) -> Arc<RunView> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(Event::View(view)) = handle.recv_timeout(Duration::from_millis(100))
            && done(&view)
        {
            return view;
        }
    }
    panic!("no such view within a minute");
}

#[test]
fn the_threaded_session_answers_commands_and_ends_cleanly() {
    let wakes = Arc::new(AtomicUsize::new(0));
    let handle = eddy::session::spawn().unwrap();
    let counter = Arc::clone(&wakes);
    handle.set_waker(Box::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    let path = asset("user_stats.toml");
    handle.send(Command::Load(GraphSource::File(path.clone()))).unwrap();
    handle.send(Command::Select(Some("stats".into()))).unwrap();
    handle.send(Command::SetSpeed(Speed::AsFastAsPossible)).unwrap();
    let view = wait_for(&handle, |v| v.total.is_some() && v.selected.is_some());
    let total = view.total.unwrap();
    handle.send(Command::Seek(total)).unwrap();
    let view = wait_for(&handle, |v| v.status == Status::Paused && v.position == total);
    assert_eq!(rows(&view), direct_rows(&path, "stats", total));
    handle.send(Command::Play).unwrap();
    let view = wait_for(&handle, |v| v.status == Status::Ended);
    let captured = eddy::run_captured(&path).unwrap();
    assert_eq!(
        view.sinks.iter().find(|s| s.sink == "per_user").unwrap().items,
        captured["per_user"].len() as u64
    );
    assert!(wakes.load(Ordering::Relaxed) > 0);
    // A real-time play of a long replay is paused at once.
    handle.send(Command::Restart).unwrap();
    handle.send(Command::SetSpeed(Speed::RealTime(1.0))).unwrap();
    handle.send(Command::Play).unwrap();
    wait_for(&handle, |v| v.status == Status::Playing);
    handle.send(Command::Pause).unwrap();
    let view = wait_for(&handle, |v| v.status == Status::Paused);
    assert!(view.position < total);
    handle.send(Command::Shutdown).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        closed = matches!(handle.recv_timeout(Duration::from_millis(100)), Some(Event::Closed));
    }
    assert!(closed);
    handle.shutdown();
}

#[test]
fn dropping_the_handle_ends_a_playing_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 3000);
    let handle = eddy::session::spawn().unwrap();
    handle.send(Command::Load(GraphSource::File(path))).unwrap();
    handle.send(Command::SetSpeed(Speed::RealTime(0.1))).unwrap();
    handle.send(Command::Play).unwrap();
    wait_for(&handle, |v| v.status == Status::Playing);
    drop(handle); // joins the thread: the test ends only if it does
}

#[test]
fn an_invalid_pipeline_is_reported() {
    let (mut doc, base_dir) = user_stats_doc("");
    doc.steps[0].inputs = vec!["nowhere".into()];
    let mut playback = Playback::new();
    playback.handle(Command::Load(GraphSource::Doc { doc, base_dir }));
    let events = playback.take_events();
    let [Event::Invalid(problems)] = &events[..] else { panic!("{events:?}") };
    assert_eq!(problems[0].step.as_deref(), Some("completed"));
    assert_eq!(playback.view().status, Status::Idle);
}

/// A runaway call in the workbench's session thread (unbounded nesting, which once overflowed
/// the stack) is an error like any other script error, naming the step and the function.
#[test]
fn a_runaway_script_is_an_error_event_in_the_session_thread() {
    let (mut doc, base_dir) = user_stats_doc("    let a = [];\n    for i in 0..45000 { a = [a]; }\n");
    doc.limits.call_timeout = Some("500ms".into());
    let handle = eddy::session::spawn().unwrap();
    handle.send(Command::Load(GraphSource::Doc { doc, base_dir })).unwrap();
    handle.send(Command::SetSpeed(Speed::AsFastAsPossible)).unwrap();
    handle.send(Command::Play).unwrap();
    let view = wait_for(&handle, |v| v.status == Status::Error);
    let error = view.error.clone().unwrap();
    assert_eq!(error.step.as_deref(), Some("stats"));
    assert_eq!(error.function.as_deref(), Some("folder"));
    assert!(error.script_line.is_some());
    assert!(error.message.contains("the call ran longer than 500ms"), "{}", error.message);
    handle.shutdown();
}

/// Rewrites `events.csv` with `events` events: 23 busy keys, and four rare ones each touched
/// every 2000 events, so that a keyframe's delta holds some of them only.
fn with_rare_keys(dir: &Path, events: u64) {
    let mut csv = String::from("ts,user,amount\n");
    for i in 0..events {
        let user = if i % 500 == 7 { format!("r{}", i / 500 % 4) } else { format!("u{:02}", i % 23) };
        csv.push_str(&format!("{},{user},{}\n", 1_700_000_000 + i * 2, i % 100));
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
}

#[test]
fn seeking_where_keys_went_away_shows_only_the_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 6000);
    // Each key's state goes away every fifth event of the key, then starts again: the
    // keyframes hold states of keys gone by the next one, which composing must not bring back.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("    [s, s.sum]\n", "    if s.n % 5 == 0 { [(), s.sum] } else { [s, s.sum] }\n");
    std::fs::write(&path, text).unwrap();
    with_rare_keys(dir.path(), 6000);
    let straight = |position: u64| stepped_straight_to(&path, position);
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("running".into())));
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
    let live = |view: &RunView| view.selected.as_ref().map_or(0, |t| t.rows.len());
    for position in [5500, 1000, 2001, 4999, 3000, 0, 6000, 2500] {
        let view = apply(&mut playback, Command::Seek(position));
        assert_eq!(view.status, Status::Paused);
        let want = straight(position);
        assert_eq!(shown(&view), want, "seek to {position} ({} keys live)", live(&view));
    }
}

#[test]
fn the_state_size_is_the_same_whatever_the_way_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 6000);
    with_rare_keys(dir.path(), 6000);
    // The size of the stateful steps after `events` events, summed over a fresh engine's states.
    let size_after = |events: u64| -> usize {
        let mut engine = engine(&path);
        for _ in 0..events {
            engine.step().unwrap();
        }
        (1..=2)
            .flat_map(|step| engine.step_states(step))
            .map(|(key, state)| key.len() + eddy::value::approx_bytes(&state))
            .sum()
    };
    // The size the snapshot list gives for the snapshot or keyframe at `position`.
    let listed = |view: &RunView, position: u64| {
        view.snapshots.iter().find(|s| s.position == position).map(|s| s.approx_bytes)
    };
    let mut playback = loaded(&path);
    let view = apply(&mut playback, Command::Seek(4000));
    assert_eq!(listed(&view, 2000), Some(size_after(2000)));
    // Back before a keyframe, then on past it (and past the next): the keyframes are there,
    // and the rare keys r0 and r1 changed before the first only.
    apply(&mut playback, Command::Seek(400));
    apply(&mut playback, Command::Step(800));
    let view = apply(&mut playback, Command::TakeSnapshot);
    assert_eq!(listed(&view, 1200), Some(size_after(1200)));
    apply(&mut playback, Command::Seek(1500));
    apply(&mut playback, Command::Step(1700));
    apply(&mut playback, Command::Step(600));
    let view = apply(&mut playback, Command::TakeSnapshot);
    assert_eq!(view.position, 3800);
    assert_eq!(listed(&view, 3800), Some(size_after(3800)));
    // On to a keyframe not taken yet.
    let view = apply(&mut playback, Command::Seek(5000));
    assert_eq!(listed(&view, 5000), Some(size_after(5000)));
}

/// A real-time play whose next event is minutes of event time away says so in its view (and
/// processes nothing meanwhile); the default speed is the one the workbench starts at.
#[test]
fn a_real_time_play_shows_how_far_the_next_event_is() {
    assert_eq!(Speed::default(), Speed::RealTime(Speed::DEFAULT_MULTIPLIER));
    let mut playback = loaded(&asset("sessions.toml"));
    playback.handle(Command::SetSpeed(Speed::RealTime(1.0)));
    playback.handle(Command::Play);
    // The first event is due at once; the second (07:00:05 → 07:08:06) is 8 min 1 s later.
    let mut work = playback.work(Duration::from_millis(200));
    let deadline = Instant::now() + Duration::from_secs(30);
    while work == eddy::session::Work::Busy && Instant::now() < deadline {
        work = playback.work(Duration::from_millis(200));
    }
    assert!(matches!(work, eddy::session::Work::Wait(_)), "{work:?}");
    let view = playback.view();
    assert_eq!((view.status, view.position), (Status::Playing, 1));
    assert_eq!(view.waiting_text().as_deref(), Some("next event in 8 min 1 s of event time"));
    playback.handle(Command::Pause);
    let view = playback.view();
    assert_eq!((view.status, view.waiting_micros), (Status::Paused, None));
}

/// Seeks where only a few keys of many changed bring the State table there key by key: it
/// shows what a straight replay shows, whatever the way there (back, forward past a keyframe,
/// onto one, to the start), and lists as changed only keys whose state differs.
#[test]
fn seeking_where_few_keys_changed_shows_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path(), 1);
    // 600 users appear first, then four of them take every event.
    let mut csv = String::from("ts,user,amount\n");
    for i in 0..3500u64 {
        let user = if i < 600 { i } else { i % 4 * 150 };
        csv.push_str(&format!("{},u{user:03},{}\n", 1_700_000_000 + i * 3, i % 100));
    }
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    let straight = |position: u64| stepped_straight_to(&path, position);
    let mut playback = loaded(&path);
    apply(&mut playback, Command::Select(Some("running".into())));
    apply(&mut playback, Command::Seek(3400));
    for position in [2500, 2499, 3100, 1000, 1999, 3000, 700, 650, 0, 3350, 3500] {
        let before = playback.view();
        let view = apply(&mut playback, Command::Seek(position));
        assert_eq!(view.status, Status::Paused);
        assert_eq!(shown(&view), straight(position), "seek to {position}");
        let (old, new) = (before.selected.as_ref().unwrap(), view.selected.as_ref().unwrap());
        let differ: Vec<String> = {
            let old: std::collections::BTreeMap<_, _> = old.rows.iter().map(|r| (&r.key, &r.state)).collect();
            let new: std::collections::BTreeMap<_, _> = new.rows.iter().map(|r| (&r.key, &r.state)).collect();
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).copied().collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().filter(|k| old.get(k) != new.get(k)).cloned().collect()
        };
        assert_eq!(new.changed, differ, "seek from {} to {position}", before.position);
    }
}

/// Everything a view shows of where the replay stands and what it paused on, besides the log
/// and the plots (which a restart keeps).
fn standing(view: &RunView) -> (Shown, Status, u64, Option<Vec<String>>, bool, bool, Option<String>) {
    (
        shown(view),
        view.status,
        view.origin,
        view.selected.as_ref().map(|t| t.changed.clone()),
        view.breakpoint_hit.is_some(),
        view.error.is_some(),
        view.watch.as_ref().map(|w| format!("{:?}", w.points)),
    )
}

#[test]
fn a_restart_after_a_breakpoint_hit_and_a_seek_stands_where_a_fresh_load_does() {
    let path = asset("user_stats.toml");
    let prepare = |playback: &mut Playback| {
        apply(playback, Command::Select(Some("stats".into())));
        apply(playback, Command::WatchKey { step: "stats".into(), key: "u05".into() });
    };
    let mut fresh = loaded(&path);
    prepare(&mut fresh);

    let mut used = loaded(&path);
    prepare(&mut used);
    used.handle(Command::SetBreakpoints(vec![Breakpoint::KeyTouched {
        step: "stats".into(),
        key: "u05".into(),
    }]));
    let view = apply(&mut used, Command::Play);
    assert!(view.breakpoint_hit.is_some() && view.position > 0, "{view:?}");
    let view = apply(&mut used, Command::Seek(view.position / 2 + 3));
    assert!(view.selected.as_ref().is_some_and(|t| !t.rows.is_empty()));
    let restarted = apply(&mut used, Command::Restart);
    assert_eq!(standing(&restarted), standing(&fresh.view()));

    // And from there both go the same way: the same table, the same keys marked changed.
    used.handle(Command::SetBreakpoints(Vec::new()));
    for _ in 0..3 {
        assert_eq!(
            standing(&apply(&mut used, Command::Step(5))),
            standing(&apply(&mut fresh, Command::Step(5)))
        );
    }
}

/// A generated pipeline that drops items for several reasons: a filter, a bad row every 97
/// rows (skipped), a DISCARD every fifth item of a key, timers pending at the end.
fn generated_drops(dir: &Path, events: u64) -> PathBuf {
    let mut csv = String::from("ts,user,amount\n");
    for i in 0..events {
        if i % 97 == 50 {
            csv.push_str("not a time,u00,1\n");
        }
        csv.push_str(&format!("{},u{:02},{}\n", 1_700_000_000 + i * 2, (i * 7 + i / 13) % 23, i % 100));
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
    let pipeline = r#"
format_version = 1

[[sources]]
id = "events"
path = "events.csv"
time_field = "ts"
time_format = "unix_s"
on_bad_row = "skip"

[[steps]]
id = "kept"
op = "filter"
inputs = ["events"]
script = 'fn predicate(e) { e.amount % 3 != 0 }'

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["kept"]
field = "user"

[[steps]]
id = "fives"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { #{ n: 0 } }
fn on_item(e) {
    this.n += 1;
    if this.n == 5 { [[this.n], DISCARD] } else { [[], RETAIN] }
}
fn notify_at() { now() + secs(600) }
'''

[[sinks]]
id = "out"
inputs = ["fives"]
format = "jsonl"
path = "out/fives.jsonl"
"#;
    let path = dir.join("drops.toml");
    std::fs::write(&path, pipeline).unwrap();
    path
}

/// Every drop of a headless run of `path`, as the *Dropped* tab shows a row.
fn every_drop(path: &Path) -> Vec<eddy::session::DroppedRow> {
    let options =
        EngineOptions { capture_sinks: true, record_drops: Some(usize::MAX), ..EngineOptions::default() };
    let mut engine = Engine::new(load_and_check(path).unwrap(), &options).unwrap();
    engine.run_to_end().unwrap();
    let doc = engine.graph().doc.clone();
    engine
        .take_dropped()
        .into_iter()
        .map(|d| eddy::session::DroppedRow {
            step: match d.site {
                eddy::ops::DropSite::Step(i) => doc.steps[i].id.clone(),
                eddy::ops::DropSite::Source(i) => doc.sources[i].id.clone(),
            },
            reason: d.reason.name(),
            key: d.key.map(|k| k.to_string()),
            event: d.event,
            item: eddy::value::preview(&d.item),
        })
        .collect()
}

#[test]
fn the_dropped_items_at_a_position_are_the_same_whatever_the_way_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated_drops(dir.path(), 3500);
    let all = every_drop(&path);
    for reason in ["filtered", "bad_row", "discarded", "pending_timer"] {
        assert!(all.iter().any(|d| d.reason == reason), "no {reason} in the generated data");
    }
    // What position p shows: every drop of the steps up to p, the latest 50 newest first.
    let expected = |position: u64| {
        let upto: Vec<_> = all.iter().filter(|d| d.event <= position).cloned().collect();
        let latest: Vec<_> = upto.iter().rev().take(eddy::session::DROPPED_SHOWN).cloned().collect();
        (upto.len() as u64, latest)
    };
    let mut playback = loaded(&path);
    let view = apply(&mut playback, Command::RunToEnd);
    assert_eq!(view.status, Status::Ended);
    let all_shown: Vec<_> = all.iter().rev().take(eddy::session::DROPPED_SHOWN).cloned().collect();
    assert_eq!((view.dropped.total, view.dropped.latest.clone()), (all.len() as u64, all_shown));
    let keyframes: Vec<u64> =
        view.snapshots.iter().filter(|s| s.kind == SnapshotKind::Keyframe).map(|s| s.position).collect();
    assert_eq!(keyframes, vec![1000, 2000, 3000]);
    for position in [2500, 1200, 1999, 3000, 1000, 10, 0, 3400, 1500] {
        let view = apply(&mut playback, Command::Seek(position));
        assert_eq!(view.position, position);
        assert_eq!(
            (view.dropped.total, view.dropped.latest.clone()),
            expected(position),
            "seek to {position}"
        );
        let straight = {
            let mut fresh = loaded(&path);
            apply(&mut fresh, Command::Step(position))
        };
        assert_eq!(view.dropped, straight.dropped, "seek to {position} against stepping there");
        assert_eq!(view.steps, straight.steps, "per-step counts at {position}");
    }
}
