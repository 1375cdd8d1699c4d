//! The workbench's debugger habits, driven with egui_kittest: a breakpoint that does not compile
//! is refused where it is typed, and a hit does not outlive a restart or a seek.

use eddy::session::{Command, Status};
use eddy::ui::{UiCommand, Workbench};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, click_node, example, open, wait_for};

fn type_breakpoint(harness: &mut Harness<'_, Workbench>, text: &str) {
    harness.get_by_label("breakpoint").focus();
    harness.run_steps(1);
    harness.get_by_label("breakpoint").type_text(text);
    harness.run_steps(2);
}

fn hits_shown(harness: &Harness<'_, Workbench>) -> usize {
    harness.query_all_by_label_contains("hit at event").count()
}

#[test]
fn a_breakpoint_that_does_not_compile_is_refused_and_hits_clear_on_restart_and_seek() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, dir.path());
    click_node(&mut harness, "stats");
    click(&mut harness, "Step");
    wait_for(&mut harness, "event 1", |v| v.position == 1);
    click(&mut harness, "Breakpoints");
    click(&mut harness, "this is true of an item");

    // Not Rhai: refused, with the compiler's error under the field; nothing is added.
    type_breakpoint(&mut harness, "item.amount_cents >");
    click(&mut harness, "Add breakpoint");
    harness.get_by_label_contains("does not compile");
    assert!(harness.state().replay_breakpoints().is_empty());
    harness.get_by_label("No breakpoints.");
    // The text stays, to be fixed; fixing it takes the error away.
    assert_eq!(harness.get_by_label("breakpoint").value().as_deref(), Some("item.amount_cents >"));
    type_breakpoint(&mut harness, " 0");
    assert_eq!(harness.query_all_by_label_contains("does not compile").count(), 0);
    click(&mut harness, "Add breakpoint");
    assert_eq!(harness.state().replay_breakpoints().len(), 1);

    // A hit is shown while paused at it...
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the breakpoint", |v| v.breakpoint_hit.is_some() && v.status == Status::Paused);
    assert_eq!(hits_shown(&harness), 1);
    // ... on that breakpoint only: removed and replaced by another, the new one shows no hit.
    click(&mut harness, "Remove");
    type_breakpoint(&mut harness, "item.amount_cents < 0");
    click(&mut harness, "Add breakpoint");
    assert_eq!(harness.state().replay_breakpoints().len(), 1);
    assert_eq!(hits_shown(&harness), 0);
    click(&mut harness, "Remove");
    type_breakpoint(&mut harness, "item.amount_cents > 0");
    click(&mut harness, "Add breakpoint");
    assert_eq!(hits_shown(&harness), 1);
    // ... and gone after a restart,
    click(&mut harness, "⏮");
    wait_for(&mut harness, "the restart", |v| v.position == 0);
    harness.run_steps(4);
    assert_eq!(hits_shown(&harness), 0);
    assert!(harness.state().replay_view().unwrap().breakpoint_hit.is_none());
    // ... and after a seek.
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the breakpoint again", |v| {
        v.breakpoint_hit.is_some() && v.status == Status::Paused
    });
    let at = harness.state().replay_view().unwrap().position;
    harness.state_mut().command(UiCommand::Replay(Command::Seek(at + 3)));
    wait_for(&mut harness, "the seek", |v| v.position == at + 3);
    harness.run_steps(4);
    assert_eq!(hits_shown(&harness), 0);
    assert!(harness.state().replay_view().unwrap().breakpoint_hit.is_none());
}

#[test]
fn a_breakpoint_pause_says_where_and_clicking_the_timeline_seeks_there() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, dir.path());
    click_node(&mut harness, "stats");
    click(&mut harness, "Step");
    wait_for(&mut harness, "event 1", |v| v.position == 1);
    click(&mut harness, "Breakpoints");
    click(&mut harness, "this is true of an item");
    type_breakpoint(&mut harness, "item.amount_cents > 20000");
    click(&mut harness, "Add breakpoint");
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the breakpoint", |v| v.breakpoint_hit.is_some() && v.status == Status::Paused);
    let hit = harness.state().replay_view().unwrap().breakpoint_hit.clone().unwrap();
    let key = hit.key.clone().unwrap();
    // The banner: which breakpoint, on which step, which key, at which event.
    harness.get_by_label(&format!(
        "⏸ Paused by breakpoint 1 (`stats`: item.amount_cents > 20000) at event {}, key {key:?}",
        hit.position
    ));
    // Its button selects the step (the inspector shows it) even after another node was selected.
    click_node(&mut harness, "by_user");
    click(&mut harness, "Show the step");
    harness.run_steps(4);
    assert!(harness.query_all_by_label("id").count() > 0);
    assert_eq!(harness.get_by_label("id").value().as_deref(), Some("stats"));

    // A click anywhere on the timeline seeks there (here: a quarter of the way along).
    let total = harness.state().replay_view().unwrap().total.unwrap();
    let slider = harness.get_by_role(egui::accesskit::Role::Slider);
    let rect = slider.rect();
    let at = egui::pos2(rect.left() + rect.width() * 0.25, rect.center().y);
    harness.hover_at(at);
    harness.run_steps(1);
    harness.drag_at(at);
    harness.run_steps(1);
    harness.drop_at(at);
    harness.run_steps(2);
    let expected = total / 4;
    wait_for(&mut harness, "the seek", |v| {
        v.position.abs_diff(expected) <= total / 50 && v.status == Status::Paused
    });
    assert!(harness.state().replay_view().unwrap().breakpoint_hit.is_none());
    assert_eq!(harness.query_all_by_label_contains("Paused by breakpoint").count(), 0);
}
