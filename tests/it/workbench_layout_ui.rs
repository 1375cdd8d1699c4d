//! The canvas's room, driven with egui_kittest on a 1280×800 window: Fit shows every node when
//! it can at a readable zoom, and a graph too wide to fit beside the inspector fits once the
//! inspector is hidden (the toolbar's *Inspector*, Ctrl+I); selecting a node shows it again.

use eddy::ui::{Workbench, WorkbenchOptions};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click_node, example};

fn small_window(name: &str, dir: &std::path::Path) -> Harness<'static, Workbench> {
    let file = example(name, dir);
    let options = WorkbenchOptions { file: Some(file), config_dir: Some(dir.to_path_buf()) };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |_cc| Workbench::new(options));
    harness.run_steps(8);
    harness
}

#[test]
fn the_shipped_examples_of_up_to_five_columns_are_shown_whole_beside_the_inspector() {
    for example in ["sessions", "sliding_window", "user_stats"] {
        let dir = tempfile::tempdir().unwrap();
        let harness = small_window(example, dir.path());
        assert!(harness.state().inspector_open());
        assert_eq!(harness.state().nodes_out_of_view(), Vec::<String>::new(), "{example}");
    }
}

#[test]
fn a_wide_graph_fits_once_the_inspector_is_hidden_and_a_selection_shows_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = small_window("orders_join", dir.path());
    // Six columns do not fit beside the inspector at a zoom whose text keeps its glyphs: the
    // view starts at the sources and the sink is out of view.
    let hidden = harness.state().nodes_out_of_view();
    assert!(hidden.contains(&"enriched".to_owned()), "{hidden:?}");
    // The toolbar's *Inspector* (the first of that label; the panel's heading is the other).
    harness.query_all_by_label("Inspector").next().unwrap().click();
    harness.run_steps(6);
    assert!(!harness.state().inspector_open());
    assert_eq!(harness.state().nodes_out_of_view(), Vec::<String>::new());

    // Selecting a node brings the inspector back, showing that node.
    click_node(&mut harness, "enrich");
    assert!(harness.state().inspector_open());
    assert!(harness.query_all_by_label_contains("map_value").count() >= 2, "the inspector shows `enrich`");

    // Ctrl+I hides it again.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::I);
    harness.run_steps(6);
    assert!(!harness.state().inspector_open());
}
