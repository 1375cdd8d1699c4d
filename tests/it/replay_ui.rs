//! The workbench's live replay, driven with egui_kittest: step, inspect per-key state, seek
//! back, stop at a breakpoint, diff two snapshots. Every value shown is compared with the engine
//! run directly to the same position.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eddy::engine::{Engine, EngineOptions, check};
use eddy::graph::load_file;
use eddy::session::{Command, KeyTable, Status};
use eddy::ui::{UiCommand, Workbench};
use eddy::value::display_json as to_json;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, click_node, example, open, wait_for};
use serde_json::Value;

/// Each key's state at `step` after `position` source events, by running the engine directly.
fn engine_states(file: &Path, step: &str, position: u64) -> BTreeMap<String, Value> {
    let doc = load_file(file).unwrap();
    let index = doc.steps.iter().position(|s| s.id == step).unwrap();
    let graph = check(&doc, file.parent().unwrap()).unwrap();
    let mut engine = Engine::new(graph, &EngineOptions::default()).unwrap();
    for _ in 0..position {
        engine.step().unwrap();
    }
    engine.step_states(index).into_iter().map(|(k, v)| (k.to_string(), to_json(&v))).collect()
}

fn shown(table: &KeyTable) -> BTreeMap<String, Value> {
    table.rows.iter().map(|row| (row.key.clone(), row.state.clone())).collect()
}

fn table(harness: &Harness<'_, Workbench>) -> KeyTable {
    harness
        .state()
        .replay_view()
        .and_then(|v| v.selected.as_deref())
        .cloned()
        .unwrap_or_else(|| panic!("no state table shown"))
}

#[test]
fn step_inspect_seek_back_break_and_diff_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, dir.path());

    // Select the fold and step ten events (the "Step N" button, N = 10).
    click_node(&mut harness, "stats");
    click(&mut harness, "Step N");
    wait_for(&mut harness, "10 events", |v| v.position == 10 && v.selected.is_some());
    click(&mut harness, "State");
    let at_10 = engine_states(&file, "stats", 10);
    assert!(!at_10.is_empty());
    assert_eq!(shown(&table(&harness)), at_10);
    harness.get_by_label_contains("`stats`: ");

    // One more event: the table shows its change, and says which key changed.
    click(&mut harness, "Step");
    wait_for(&mut harness, "event 11", |v| {
        v.position == 11 && v.selected.as_ref().is_some_and(|t| t.position == 11)
    });
    let at_11 = engine_states(&file, "stats", 11);
    assert_eq!(shown(&table(&harness)), at_11);
    let changed: Vec<String> =
        at_11.iter().filter(|(k, v)| at_10.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    assert_eq!(table(&harness).changed, changed);
    let noun = if changed.len() == 1 { "key" } else { "keys" };
    harness.get_by_label(&format!("{} {noun} changed by the last event", changed.len()));

    // Seek back: the earlier state, exactly.
    harness.state_mut().command(UiCommand::Replay(Command::Seek(4)));
    wait_for(&mut harness, "seek to 4", |v| {
        v.position == 4 && v.selected.as_ref().is_some_and(|t| t.position == 4)
    });
    assert_eq!(shown(&table(&harness)), engine_states(&file, "stats", 4));
    // What the seek changed is said as that, not as the last event's work.
    let at_4 = engine_states(&file, "stats", 4);
    let differ = at_11.keys().chain(at_4.keys()).collect::<std::collections::BTreeSet<_>>();
    let differ = differ.into_iter().filter(|k| at_11.get(*k) != at_4.get(*k)).count();
    harness.get_by_label(&format!("{differ} keys differ from event 11"));
    assert!(harness.query_by_label_contains("by the last event").is_none());

    // A breakpoint on a key: running to the end stops at the first event after 4 where that
    // key reaches `stats`.
    let key = at_11.keys().find(|k| !engine_states(&file, "stats", 4).contains_key(*k)).unwrap().clone();
    let expected_stop = (5..=330).find(|p| engine_states(&file, "stats", *p).contains_key(&key)).unwrap();
    click(&mut harness, "Breakpoints");
    click(&mut harness, "this key reaches it");
    harness.get_by_label("breakpoint").focus();
    harness.run_steps(1);
    harness.get_by_label("breakpoint").type_text(&key);
    harness.run_steps(2);
    click(&mut harness, "Add breakpoint");
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the breakpoint", |v| v.breakpoint_hit.is_some() && v.status == Status::Paused);
    let hit = harness.state().replay_view().unwrap().breakpoint_hit.clone().unwrap();
    assert_eq!(hit.position, expected_stop);
    assert_eq!(hit.key.as_deref(), Some(key.as_str()));
    harness.get_by_label_contains(&format!("hit at event {expected_stop}"));

    // Two manual snapshots, ten events apart, and their diff.
    harness.state_mut().command(UiCommand::Replay(Command::SetBreakpoints(Vec::new())));
    harness.state_mut().command(UiCommand::Replay(Command::Seek(20)));
    wait_for(&mut harness, "seek to 20", |v| v.position == 20);
    click(&mut harness, "📷 Snapshot");
    wait_for(&mut harness, "a snapshot", |v| {
        v.snapshots.iter().any(|s| s.position == 20 && s.kind == eddy::session::SnapshotKind::Manual)
    });
    click(&mut harness, "Step N");
    wait_for(&mut harness, "event 30", |v| v.position == 30);
    click(&mut harness, "📷 Snapshot");
    wait_for(&mut harness, "a second snapshot", |v| {
        v.snapshots.iter().any(|s| s.position == 30 && s.kind == eddy::session::SnapshotKind::Manual)
    });
    click(&mut harness, "Snapshots");
    click(&mut harness, "manual only");
    let a_buttons: Vec<_> = harness.get_all_by_label("A").collect();
    a_buttons.last().unwrap().click(); // the older snapshot is listed last
    harness.run_steps(2);
    let b_buttons: Vec<_> = harness.get_all_by_label("B").collect();
    b_buttons.first().unwrap().click();
    harness.run_steps(2);
    click(&mut harness, "Diff A → B");
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.query_by_label_contains("Diff #").is_none() {
        assert!(Instant::now() < deadline, "no diff shown");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let (before, after) = (engine_states(&file, "stats", 20), engine_states(&file, "stats", 30));
    let added = after.keys().filter(|k| !before.contains_key(*k)).count();
    let changed = after.iter().filter(|(k, v)| before.get(*k).is_some_and(|old| old != *v)).count();
    harness.get_by_label_contains(&format!("stats: {added} added, 0 removed, {changed} changed"));
}

#[test]
fn a_script_error_pauses_the_replay_and_a_fix_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let original = std::fs::read_to_string(&file).unwrap();
    let good_script =
        load_file(&file).unwrap().steps.iter().find(|s| s.id == "stats").unwrap().script.clone().unwrap();
    let bad_script = good_script
        .replace("acc.count += 1;", "acc.count += 1;\n    if acc.count == 3 { throw \"a third purchase\"; }");
    std::fs::write(&file, original.replace(&good_script, &bad_script)).unwrap();
    let mut harness = open(&file, dir.path());

    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the error", |v| v.status == Status::Error);
    let error = harness.state().replay_view().unwrap().error.clone().unwrap();
    assert_eq!(error.step.as_deref(), Some("stats"));
    assert!(error.message.contains("a third purchase"), "{}", error.message);
    assert_eq!(error.script_line, Some(8), "{}", error.message);
    harness.get_by_label_contains(&format!("Stopped at event {} in `stats`", error.position + 1));
    harness.get_by_label_contains("the replay stopped here");

    // Fix the script in the inspector and continue from where it stopped.
    click(&mut harness, "Show the step");
    harness.get_by_label("Script (Rhai)").focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label("Script (Rhai)").type_text(&good_script);
    harness.run_steps(4);
    click(&mut harness, "Continue from here with the changes");
    wait_for(&mut harness, "the new graph", |v| v.status == Status::Paused && v.error.is_none());
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the end", |v| v.status == Status::Ended);
    let view = harness.state().replay_view().unwrap();
    let per_user = view.sinks.iter().find(|s| s.sink == "per_user").unwrap().items;
    let expected =
        eddy::engine::run_captured(&example("user_stats", dir.path())).unwrap()["per_user"].len() as u64;
    assert_eq!(per_user, expected);
}

/// A generated replay of `events` events over `keys` keys with a map state per key.
fn generated_replay(dir: &Path, events: u64, keys: u64) -> PathBuf {
    let mut csv = String::from("ts,user,value\n");
    for i in 0..events {
        csv.push_str(&format!("{},u{},{}\n", 1_700_000_000 + i, (i * 7919) % keys, i % 100));
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
    let pipeline = r#"format_version = 1

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
id = "measured"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) { let s = state ?? #{ n: 0, total: 0 }; s.n += 1; s.total += e.value; [s, s.n] }
'''

[[sinks]]
id = "out"
inputs = ["measured"]
format = "jsonl"
path = "out.jsonl"
"#;
    let file = dir.join("generated.toml");
    std::fs::write(&file, pipeline).unwrap();
    file
}

#[test]
fn a_generated_replay_played_to_the_end_with_the_state_tab_open_shows_the_runners_final_state() {
    let dir = tempfile::tempdir().unwrap();
    let (events, keys) = (30_000, 2_000);
    let file = generated_replay(dir.path(), events, keys);
    let mut harness = open(&file, dir.path());
    click_node(&mut harness, "measured");
    click(&mut harness, "State");
    harness.state_mut().command(UiCommand::Replay(Command::SetSpeed(eddy::session::Speed::AsFastAsPossible)));
    harness.state_mut().command(UiCommand::Replay(Command::Play));
    wait_for(&mut harness, "the end", |v| {
        v.status == Status::Ended && v.selected.as_ref().is_some_and(|t| t.position == events)
    });
    harness.get_by_label_contains("`measured`: ");
    // What `eddy run` holds at the end of the same file.
    let doc = load_file(&file).unwrap();
    let graph = check(&doc, file.parent().unwrap()).unwrap();
    let mut engine =
        Engine::new(graph, &EngineOptions { capture_sinks: true, ..EngineOptions::default() }).unwrap();
    engine.run_to_end().unwrap();
    let index = doc.steps.iter().position(|s| s.id == "measured").unwrap();
    let expected: BTreeMap<String, Value> =
        engine.step_states(index).into_iter().map(|(k, v)| (k.to_string(), to_json(&v))).collect();
    assert_eq!(expected.len(), keys as usize);
    assert_eq!(shown(&table(&harness)), expected);
}
