//! The workbench replays a recording of a live run, given in the inspector of the live source
//! (README, "Running live"), to the items the live run wrote. Driven with egui_kittest.

use eddy::session::Status;
use egui_kittest::kittest::Queryable;

use super::live::{finish, folder, pipeline, send, spawn, wait_for_lines};
use super::ui_util::{click, click_node, open, wait_for};

/// A session per user closing 300 ms after its last click, saying when (`now()` in `on_notify`).
const SESSIONS: &str = r#"[[steps]]
id = "measured"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { if resume == () { #{ clicks: 0, last: 0 } } else { resume } }
fn on_item(e) { this.clicks += 1; this.last = now(); [[], RETAIN] }
fn on_notify() { [[#{ clicks: this.clicks, last: this.last, closed: now() }], DISCARD] }
fn notify_at() { this.last + millis(300) }
'''"#;

#[test]
fn the_workbench_replays_a_recording_given_in_the_inspector_to_the_live_output() {
    let (dir, out) = folder(&pipeline("wall", SESSIONS));
    let (child, mut stdin) = spawn(dir.path(), &["-q", "--record", "rec.jsonl"]);
    for user in ["ann", "bob", "ann"] {
        send(&mut stdin, user);
    }
    assert_eq!(wait_for_lines(&out, 2).len(), 2);
    drop(stdin);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let written: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();

    let config = tempfile::tempdir().unwrap();
    let mut harness = open(&dir.path().join("p.toml"), config.path());
    click_node(&mut harness, "live");
    harness.get_by_label("recording").focus();
    harness.run_steps(1);
    harness.get_by_label("recording").type_text("rec.jsonl");
    harness.run_steps(2);
    assert_eq!(
        harness.state().current_doc().sources[0].recording.as_deref(),
        Some(std::path::Path::new("rec.jsonl"))
    );
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the end", |v| v.status == Status::Ended);
    let view = harness.state().replay_view().unwrap().clone();
    assert!(view.error.is_none(), "{:?}", view.error);
    let preview = view.previews.iter().find(|p| p.step == "measured").unwrap();
    let items: Vec<serde_json::Value> = preview
        .items_out
        .iter()
        .map(|i| serde_json::json!([i.key.clone().unwrap(), i.value.clone()]))
        .collect();
    assert_eq!(items, written);
}

#[test]
fn a_file_source_is_made_live_in_the_inspector_and_saved_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = super::ui_util::example("sessions", dir.path());
    let mut harness = open(&file, config.path());
    click_node(&mut harness, "clicks");
    assert!(harness.query_by_label("recording").is_none(), "a file source has no recording field");
    click(&mut harness, "read as the file grows (tail -F)");
    harness.run_steps(4);
    assert!(harness.state().current_doc().sources[0].follow);
    // A live source: the workbench replays it from a recording, whose field now shows.
    harness.get_by_label("recording");
    harness.state_mut().command(eddy::ui::UiCommand::Save);
    harness.run_steps(6);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("follow = true"), "{saved}");
}
