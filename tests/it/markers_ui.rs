//! Paused where and why, on the canvas, in the script editor and on the timeline: the node a
//! breakpoint paused on is marked, the line a script error came from is marked in the editor,
//! and the timeline carries marks for errors, breakpoint hits, snapshots and fired timers.

use eddy::graph::load_file;
use eddy::session::{Breakpoint, Command, SnapshotKind, Status};
use eddy::ui::UiCommand;
use eddy::ui::panels::timeline_ui::{MarkerKind, timeline_markers};
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, example, open, wait_for};

#[test]
fn a_breakpoint_marks_its_node_and_the_timeline_marks_hits_snapshots_and_timers() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, config.path());
    assert!(harness.query_by_label_contains("⏸ paused here").is_none());
    let breakpoints = vec![Breakpoint::NodeEmits("completed".into())];
    harness.state_mut().command(UiCommand::Replay(Command::SetBreakpoints(breakpoints)));
    harness.run_steps(2);
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the breakpoint", |v| v.breakpoint_hit.is_some());
    let hit = harness.state().replay_view().unwrap().breakpoint_hit.clone().unwrap();
    // The node is marked on the canvas (it is the only one).
    assert_eq!(harness.query_all_by_label("⏸ paused here").count(), 1);

    harness.state_mut().command(UiCommand::Replay(Command::TakeSnapshot));
    wait_for(&mut harness, "the snapshot", |v| v.snapshots.iter().any(|s| s.kind == SnapshotKind::Manual));
    let marks = timeline_markers(harness.state().replay_view().unwrap());
    assert!(marks.contains(&(hit.position, MarkerKind::Breakpoint)), "{marks:?}");
    assert!(marks.contains(&(hit.position, MarkerKind::Snapshot)), "{marks:?}");

    // A restart clears the node's mark.
    click(&mut harness, "⏮");
    wait_for(&mut harness, "the restart", |v| v.position == 0 && v.breakpoint_hit.is_none());
    assert!(harness.query_by_label_contains("⏸ paused here").is_none());

    // Fired timers are marked where they fired.
    let file = example("sliding_window", dir.path());
    let mut harness = open(&file, config.path());
    click(&mut harness, "⏱ Next timer");
    wait_for(&mut harness, "a timer", |v| v.status == Status::Paused && v.position > 0);
    let at = harness.state().replay_view().unwrap().position;
    assert_eq!(timeline_markers(harness.state().replay_view().unwrap()), vec![(at, MarkerKind::Timer)]);
}

#[test]
fn a_script_error_marks_its_line_in_the_editor_and_on_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let original = std::fs::read_to_string(&file).unwrap();
    let good =
        load_file(&file).unwrap().steps.iter().find(|s| s.id == "stats").unwrap().script.clone().unwrap();
    let bad = good
        .replace("acc.count += 1;", "acc.count += 1;\n    if acc.count == 3 { throw \"a third purchase\"; }");
    std::fs::write(&file, original.replace(&good, &bad)).unwrap();
    let mut harness = open(&file, config.path());
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the error", |v| v.status == Status::Error);
    let error = harness.state().replay_view().unwrap().error.clone().unwrap();
    assert_eq!(error.script_line, Some(8));
    // The clock stays shown: the failing event's.
    let clock = eddy::time::format_rfc3339_micros(error.clock_micros.unwrap()).unwrap();
    harness.get_by_label(&format!("clock {clock}"));
    click(&mut harness, "Show the step");
    let marked = format!("⚠ line 8: the replay stopped here at event {}: ", error.position + 1);
    harness.get_by_label_contains(&marked);
    let marks = timeline_markers(harness.state().replay_view().unwrap());
    assert!(marks.contains(&(error.position, MarkerKind::Error)), "{marks:?}");
}
