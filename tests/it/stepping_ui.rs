//! Stepping in the workbench as a debugger steps: back one event (Ctrl+Left, *◀ Back*), to the
//! next and the previous timer (the Timers tab driven too). Every position reached is compared
//! with a replay stepped straight there.

use std::path::Path;

use eddy::engine::{Engine, EngineOptions, TraceKind, load_and_check};
use eddy::session::{Command, GraphSource, Playback, RunView, Speed, Status, TimersView};
use eddy::ui::Workbench;
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, click_node, example, open, wait_for};

/// What a position shows that a step back must give exactly: clock, timers, the step's keys.
#[derive(Debug, PartialEq)]
struct AtPosition {
    position: u64,
    clock: Option<i64>,
    timers: TimersView,
    rows: Vec<(String, serde_json::Value)>,
}

fn at_position(view: &RunView) -> AtPosition {
    AtPosition {
        position: view.position,
        clock: view.clock_micros,
        timers: (*view.timers).clone(),
        rows: view.selected.as_ref().unwrap().rows.iter().map(|r| (r.key.clone(), r.state.clone())).collect(),
    }
}

/// A fresh replay with `window_sum` selected, stepped straight to `position`.
fn straight(file: &Path, position: u64) -> AtPosition {
    let mut playback = Playback::new();
    playback.handle(Command::Load(GraphSource::File(file.to_path_buf())));
    playback.handle(Command::SetSpeed(Speed::AsFastAsPossible));
    playback.handle(Command::Select(Some("window_sum".into())));
    playback.handle(Command::Step(position));
    playback.finish();
    at_position(&playback.view())
}

/// The positions (events processed) after which timers fired, by the engine alone.
fn timer_positions(file: &Path, up_to: usize) -> Vec<u64> {
    let mut engine = Engine::new(load_and_check(file).unwrap(), &EngineOptions::default()).unwrap();
    engine.set_tracing(true);
    let mut positions = Vec::new();
    let mut position = 0;
    while positions.len() < up_to {
        engine.step().unwrap();
        position += 1;
        if engine.take_trace().iter().any(|t| matches!(t.kind, TraceKind::TimerFired { .. })) {
            positions.push(position);
        }
    }
    positions
}

fn paused_at(harness: &mut Harness<'_, Workbench>, position: u64) -> AtPosition {
    wait_for(harness, &format!("event {position}"), |v| {
        v.status == Status::Paused && v.position == position && v.selected.is_some()
    });
    at_position(harness.state().replay_view().unwrap())
}

#[test]
fn step_back_and_previous_timer_land_exactly_where_stepping_straight_lands() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("sliding_window", dir.path());
    let timers = timer_positions(&file, 3);
    let (first, second, third) = (timers[0], timers[1], timers[2]);
    // The last timer before a position, by the engine.
    let before = |position: u64| timers.iter().rev().copied().find(|&t| t < position);

    let mut harness = open(&file, config.path());
    click_node(&mut harness, "window_sum");
    // To the third timer, by *next timer*: the button, then Ctrl+Shift+Right.
    click(&mut harness, "⏱ Next timer");
    assert_eq!(paused_at(&mut harness, first), straight(&file, first));
    click_node(&mut harness, "window_sum");
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::ArrowRight);
    assert_eq!(paused_at(&mut harness, second), straight(&file, second));
    click(&mut harness, "⏱ Next timer");
    let at_third = paused_at(&mut harness, third);
    assert_eq!(at_third, straight(&file, third));

    // The Timers tab lists the pending timers with their due times as RFC 3339.
    click(&mut harness, "Timers");
    let pending = &at_third.timers;
    assert!(pending.total > 0);
    harness.get_by_label(&format!("{} pending timers", pending.total));
    let due = eddy::time::format_rfc3339_micros(pending.shown[0].due_micros).unwrap();
    assert!(harness.query_all_by_label(&due).next().is_some(), "no due time `{due}` in the Timers tab");

    // Back one event: Ctrl+Left, then the button.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::ArrowLeft);
    assert_eq!(paused_at(&mut harness, third - 1), straight(&file, third - 1));
    click(&mut harness, "◀ Back");
    assert_eq!(paused_at(&mut harness, third - 2), straight(&file, third - 2));

    // Back to the previous timers: Ctrl+Shift+Left, then the button, to the first.
    let mut position = third - 2;
    let mut by_key = true;
    while let Some(previous) = before(position) {
        if by_key {
            harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::ArrowLeft);
        } else {
            click(&mut harness, "⏱ Previous timer");
        }
        by_key = !by_key;
        assert_eq!(paused_at(&mut harness, previous), straight(&file, previous));
        position = previous;
    }
    assert_eq!(position, first);
    // None before the first: the position stays, and the bar says so.
    click(&mut harness, "⏱ Previous timer");
    harness.run_steps(4);
    assert_eq!(paused_at(&mut harness, first).position, first);
    let notice = format!("no timer fired before event {first}");
    assert!(harness.query_by_label_contains(&notice).is_some(), "no `{notice}`");

    // Step back at the start says so and stays there.
    click(&mut harness, "⏮");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::ArrowLeft);
    harness.run_steps(4);
    assert_eq!(paused_at(&mut harness, 0).position, 0);
    assert!(harness.query_by_label_contains("already at the first event").is_some());
}
