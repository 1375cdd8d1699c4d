//! Times for people: the run's clock, snapshot times and the microsecond timestamps inside a
//! key's state are shown as RFC 3339 (timer due times: `stepping_ui`).

use eddy::session::{Command, SnapshotKind};
use eddy::time::format_rfc3339_micros;
use eddy::ui::UiCommand;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, click_node, example, open, wait_for};

#[test]
fn the_clock_snapshots_and_times_in_a_state_read_as_rfc_3339() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("sliding_window", dir.path());
    let mut harness = open(&file, config.path());
    click_node(&mut harness, "window_sum");
    click(&mut harness, "Step N");
    wait_for(&mut harness, "10 events", |v| v.position == 10 && v.selected.is_some());
    let view = harness.state().replay_view().unwrap().clone();
    let clock = format_rfc3339_micros(view.clock_micros.unwrap()).unwrap();
    harness.get_by_label(&format!("clock {clock}"));

    // A key's state: `items` holds [now(), vehicles] pairs; the times read as RFC 3339.
    click(&mut harness, "State");
    let table = view.selected.clone().unwrap();
    let row = table.rows.iter().find(|r| r.key == "gate-south").unwrap();
    let first_time = row.state["items"][0][0].as_i64().unwrap();
    click(&mut harness, "gate-south");
    let shown = format!("= {}", format_rfc3339_micros(first_time).unwrap());
    assert!(shown.starts_with("= 2024-09-02T07:"), "{shown}");
    harness.get_by_label(&shown);
    // A count in the same state is not taken for a time.
    let vehicles = row.state["items"][0][1].as_i64().unwrap();
    assert!(eddy::ui::panels::state_ui::time_text(vehicles).is_none());

    // A snapshot lists its clock as RFC 3339.
    harness.state_mut().command(UiCommand::Replay(Command::TakeSnapshot));
    wait_for(&mut harness, "the snapshot", |v| v.snapshots.iter().any(|s| s.kind == SnapshotKind::Manual));
    click(&mut harness, "Snapshots");
    assert!(
        harness.query_all_by_label(&clock).next().is_some(),
        "the snapshot's clock `{clock}` is not in the Snapshots tab"
    );
}
