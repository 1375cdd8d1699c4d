//! The workbench's panels, driven with egui_kittest: the bottom panel keeps one height for every
//! tab (its tab strip never moves under the pointer), and the height the user drags it to.

use eddy::ui::Workbench;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, click_node, example, open, wait_for};

const TABS: [&str; 9] =
    ["State", "Timers", "Log", "Snapshots", "Data", "Dropped", "Breakpoints", "Plots", "Run"];

/// The top of the bottom panel's tab strip (its first tab, drawn before any tab's contents).
fn strip_top(harness: &Harness<'_, Workbench>) -> f32 {
    harness.query_all_by_label_contains("No problems").next().unwrap().rect().min.y
}

fn click_tab(harness: &mut Harness<'_, Workbench>, tab: &str) {
    // The strip's own button: the first widget with that exact label.
    harness.query_all_by_label(tab).next().unwrap_or_else(|| panic!("no tab `{tab}`")).click();
    harness.run_steps(3);
}

/// Every tab, with the state table full: the strip stays where it was on the first.
fn strip_tops(harness: &mut Harness<'_, Workbench>) -> Vec<(String, f32)> {
    let mut tops = Vec::new();
    for tab in TABS {
        click_tab(harness, tab);
        tops.push((tab.to_owned(), strip_top(harness)));
    }
    click_tab(harness, "✔ No problems");
    tops.push(("Problems".to_owned(), strip_top(harness)));
    tops
}

#[test]
fn the_bottom_panel_keeps_one_height_for_every_tab_and_the_height_dragged_to() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, dir.path());
    click_node(&mut harness, "stats");
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the end of the replay", |v| v.total == Some(v.position) && v.selected.is_some());
    harness.run_steps(2);

    let first = strip_top(&harness);
    let tops = strip_tops(&mut harness);
    assert!(tops.iter().all(|(_, y)| (*y - first).abs() < 0.5), "the tab strip moved: {tops:?}");

    // Drag the panel's top border up by 150 points: the strip follows and stays for every tab.
    let edge = first - 3.0;
    harness.hover_at(egui::pos2(300.0, edge));
    harness.run_steps(1);
    harness.drag_at(egui::pos2(300.0, edge));
    harness.run_steps(1);
    for step in 1..=10 {
        harness.hover_at(egui::pos2(300.0, edge - 15.0 * step as f32));
        harness.run_steps(1);
    }
    harness.drop_at(egui::pos2(300.0, edge - 150.0));
    harness.run_steps(3);
    let dragged = strip_top(&harness);
    assert!(
        (dragged - (first - 150.0)).abs() < 2.0,
        "the border did not follow the drag: {first} → {dragged}"
    );
    let tops = strip_tops(&mut harness);
    assert!(tops.iter().all(|(_, y)| (*y - dragged).abs() < 0.5), "the tab strip moved: {tops:?}");
}

/// The frame-time line is a developer overlay: hidden while playing unless View → Developer
/// overlay is ticked. Menus show their shortcuts.
#[test]
fn frame_times_are_a_developer_overlay_and_menus_show_shortcuts() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, dir.path());
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the end of the replay", |v| v.total == Some(v.position));
    harness.run_steps(2);
    assert!(!harness.state().frame_times().is_empty(), "frames were timed while playing");
    assert!(harness.query_all_by_label_contains("ms worst while playing").next().is_none());

    harness.get_by_label("File").click();
    harness.run_steps(2);
    assert!(harness.query_all_by_label_contains("Ctrl+S").next().is_some(), "Save shows Ctrl+S");
    harness.get_by_label("View").click();
    harness.run_steps(2);
    harness.get_by_label("Developer overlay (frame times)").click();
    harness.run_steps(3);
    assert!(harness.query_all_by_label_contains("ms worst while playing").next().is_some());
}
