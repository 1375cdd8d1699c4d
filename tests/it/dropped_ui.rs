//! The workbench's *Dropped* tab and the dropped counts on the canvas (docs/ledger.md), driven
//! with egui_kittest on the user_stats example, whose filter drops the purchases not completed.

use std::path::Path;

use eddy::engine::{Engine, EngineOptions, load_and_check};
use eddy::session::{Command, Status};
use eddy::ui::{UiCommand, Workbench};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, example, open, wait_for};

/// The order ids of the purchases the filter dropped in the first `events` events, by a
/// headless engine, oldest first.
fn dropped_orders(file: &Path, events: u64) -> Vec<String> {
    let options =
        EngineOptions { capture_sinks: true, record_drops: Some(usize::MAX), ..EngineOptions::default() };
    let mut engine = Engine::new(load_and_check(file).unwrap(), &options).unwrap();
    for _ in 0..events {
        engine.step().unwrap();
    }
    engine
        .take_dropped()
        .iter()
        .map(|d| {
            assert_eq!(d.reason.name(), "filtered");
            eddy::value::display_json(&d.item)["order_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn go_to(harness: &mut Harness<'_, Workbench>, command: Command, position: u64) {
    harness.state_mut().command(UiCommand::Replay(command));
    wait_for(harness, &format!("event {position}"), |v| v.status == Status::Paused && v.position == position);
    harness.run_steps(3);
}

/// The rows' tops of the items with these order ids, as the tab draws them.
fn row_tops(harness: &Harness<'_, Workbench>, orders: &[String]) -> Vec<f32> {
    orders
        .iter()
        .map(|order| {
            let cell = harness.query_all_by_label_contains(order).next();
            cell.unwrap_or_else(|| panic!("no row for {order}")).rect().min.y
        })
        .collect()
}

#[test]
fn the_dropped_tab_lists_the_filtered_items_newest_first_and_shrinks_on_a_seek_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let at_70 = dropped_orders(&file, 70);
    let at_40 = dropped_orders(&file, 40);
    assert!(at_70.len() >= 3 && at_40.len() < at_70.len() && !at_40.is_empty(), "{at_70:?} {at_40:?}");

    let mut harness = open(&file, dir.path());
    // Step through the replay: 70 events, one Step command.
    go_to(&mut harness, Command::Step(70), 70);
    click(&mut harness, "Dropped");
    let header = format!("{} dropped items", at_70.len());
    assert!(harness.query_by_label(&header).is_some(), "no `{header}`");
    // Every dropped purchase is a row (step, reason, event, the item), the newest on top.
    let tops = row_tops(&harness, &at_70);
    assert!(tops.windows(2).all(|w| w[0] > w[1]), "not newest first: {at_70:?} at {tops:?}");
    assert_eq!(harness.query_all_by_label("filtered").count(), at_70.len());
    assert!(harness.query_all_by_label("completed").count() >= at_70.len());
    // The filter's node says how many it dropped.
    let count = format!("· {} dropped", at_70.len());
    assert!(harness.query_all_by_label_contains(&count).next().is_some(), "no node shows `{count}`");

    // Back to event 40: the later drops are gone, the earlier ones still listed.
    go_to(&mut harness, Command::Seek(40), 40);
    let header = format!("{} dropped items", at_40.len());
    assert!(harness.query_by_label(&header).is_some(), "no `{header}` after the seek back");
    for gone in &at_70[at_40.len()..] {
        assert!(harness.query_all_by_label_contains(gone).next().is_none(), "{gone} still listed at 40");
    }
    let tops = row_tops(&harness, &at_40);
    assert!(tops.windows(2).all(|w| w[0] > w[1]), "not newest first: {at_40:?} at {tops:?}");
    let count = format!("· {} dropped", at_40.len());
    assert!(harness.query_all_by_label_contains(&count).next().is_some(), "no node shows `{count}`");
}
