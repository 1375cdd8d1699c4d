//! The inspector's widgets for each kind of node, driven from the settings' description: each
//! enum-valued setting is picked in its combo box and lands in the document, and nothing else
//! of the entry changes.

use eddy::graph::{BadRowPolicy, Builtin, SinkFormat, SourceFormat, TimeFormat};
use eddy::ui::{Workbench, WorkbenchOptions};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::replace_text;

fn empty_workbench(config: &std::path::Path) -> Harness<'static, Workbench> {
    let options = WorkbenchOptions { file: None, config_dir: Some(config.to_path_buf()) };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_cc| Workbench::new(options));
    harness.run_steps(12);
    harness
}

fn add_from_palette(harness: &mut Harness<'_, Workbench>, entry: &str) {
    harness.get_by_label("➕ Add node").click();
    harness.run_steps(2);
    harness.get_by_label("🔍").type_text(entry);
    harness.run_steps(2);
    let entries: Vec<_> = harness.query_all_by_label(entry).collect();
    entries.last().unwrap_or_else(|| panic!("no palette entry `{entry}`")).click();
    harness.run_steps(12);
}

/// Opens the combo box showing `showing` and picks `choice` in it.
fn pick(harness: &mut Harness<'_, Workbench>, showing: &str, choice: &str) {
    let combos: Vec<_> = harness.query_all_by_value(showing).collect();
    combos.last().unwrap_or_else(|| panic!("no combo box shows `{showing}`")).click();
    harness.run_steps(2);
    let items: Vec<_> = harness.query_all_by_label(choice).collect();
    items.last().unwrap_or_else(|| panic!("no `{choice}` in the combo box")).click();
    harness.run_steps(12);
}

#[test]
fn each_enum_setting_is_picked_in_its_combo_box_and_nothing_else_changes() {
    let config = tempfile::tempdir().unwrap();
    let mut harness = empty_workbench(config.path());

    add_from_palette(&mut harness, "CSV source");
    let mut expected = harness.state().current_doc().sources[0].clone();
    pick(&mut harness, "rfc3339", "unix_ms");
    pick(&mut harness, "fail", "skip");
    assert_eq!(expected.format, Some(SourceFormat::Csv));
    pick(&mut harness, "csv", "jsonl");
    expected.time_format = TimeFormat::UnixMs;
    expected.on_bad_row = BadRowPolicy::Skip;
    expected.format = Some(SourceFormat::Jsonl);
    assert_eq!(harness.state().current_doc().sources[0], expected);

    // A built-in replaces the script; its operand is a field.
    add_from_palette(&mut harness, "stateful_map");
    let mut expected = harness.state().current_doc().steps[0].clone();
    assert!(expected.script.is_some(), "a new stateful_map starts from its template");
    pick(&mut harness, "script", "sum");
    replace_text(&mut harness, "field", "amount");
    expected.builtin = Some(Builtin::Sum);
    expected.script = None;
    expected.field = Some("amount".into());
    assert_eq!(harness.state().current_doc().steps[0], expected);

    add_from_palette(&mut harness, "JSON Lines sink");
    let mut expected = harness.state().current_doc().sinks[0].clone();
    pick(&mut harness, "jsonl", "stdout");
    expected.format = SinkFormat::Stdout;
    expected.path = None;
    assert_eq!(harness.state().current_doc().sinks[0], expected);
}
