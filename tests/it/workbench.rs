//! The workbench's editor, driven like a person would with egui_kittest: click by label, type,
//! press keys, and read what the window shows. No GPU and no display needed.

use std::path::{Path, PathBuf};

use eddy::graph::{OpKind, PipelineDoc, load_file};
use eddy::ui::{UiCommand, Workbench, WorkbenchOptions};
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{replace_text, type_script};

const EXAMPLES: [&str; 4] = ["sessions", "user_stats", "orders_join", "sliding_window"];

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn workbench(file: Option<PathBuf>, config: &Path) -> Harness<'static, Workbench> {
    let options = WorkbenchOptions { file, config_dir: Some(config.to_path_buf()) };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_cc| Workbench::new(options));
    settle(&mut harness);
    harness
}

/// Runs frames for a few simulated seconds, so debounced checks and undo commits happen.
fn settle(harness: &mut Harness<'_, Workbench>) {
    harness.run_steps(12);
}

/// Copies an example with its data into a fresh folder.
fn example_copy(name: &str, dir: &Path) -> PathBuf {
    for entry in std::fs::read_dir(assets()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir.join(format!("{name}.toml"))
}

/// Clicks the last widget labelled or showing exactly this text (menus and popups are drawn
/// last).
fn click_last(harness: &Harness<'_, Workbench>, text: &str) {
    let labelled: Vec<_> = harness.query_all_by_label(text).collect();
    if let Some(node) = labelled.last() {
        node.click();
        return;
    }
    let showing: Vec<_> = harness.query_all_by_value(text).collect();
    showing.last().unwrap_or_else(|| panic!("nothing shows `{text}`")).click();
}

/// Clicks a node's title on the canvas (through AccessKit: the canvas is zoomed and panned, so
/// the title's screen position is not its layout position).
fn click_node(harness: &mut Harness<'_, Workbench>, id: &str) {
    let titles: Vec<_> = harness.query_all_by_value(id).collect();
    titles.first().unwrap_or_else(|| panic!("no node `{id}`")).click_accesskit();
    settle(harness);
}

fn add_from_palette(harness: &mut Harness<'_, Workbench>, entry: &str) {
    harness.get_by_label("➕ Add node").click();
    harness.run_steps(2);
    harness.get_by_label("🔍").type_text(entry);
    harness.run_steps(2);
    click_last(harness, entry);
    settle(harness);
}

/// Picks `stream` for the inspected node's input pin (`in`, `side 1`, …).
fn wire_input(harness: &mut Harness<'_, Workbench>, stream: &str) {
    click_last(harness, "not connected");
    harness.run_steps(2);
    click_last(harness, stream);
    settle(harness);
}

fn step_ids(doc: &PipelineDoc) -> Vec<(&str, OpKind, Vec<&str>)> {
    doc.steps.iter().map(|s| (s.id.as_str(), s.op, s.inputs.iter().map(String::as_str).collect())).collect()
}

#[test]
fn build_a_pipeline_from_the_palette_save_it_reopen_it_and_run_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("events.csv"),
        "ts,user\n2024-01-01T00:00:00Z,ann\n2024-01-01T00:00:01Z,bob\n2024-01-01T00:00:02Z,ann\n",
    )
    .unwrap();
    let mut harness = workbench(None, dir.path());
    harness.get_by_label_contains("Empty pipeline");

    add_from_palette(&mut harness, "CSV source");
    replace_text(&mut harness, "time field", "ts");
    add_from_palette(&mut harness, "key_on");
    wire_input(&mut harness, "events");
    add_from_palette(&mut harness, "running count");
    wire_input(&mut harness, "key_on");
    add_from_palette(&mut harness, "JSON Lines sink");
    wire_input(&mut harness, "count");

    // Save through the in-app dialog (there is no file-dialog portal here).
    harness.get_by_label("File").click();
    harness.run_steps(2);
    harness.get_by_label_contains("Save As…").click();
    settle(&mut harness);
    let file = dir.path().join("built.toml");
    replace_text(&mut harness, "File path", file.to_str().unwrap());
    assert!(file.is_file(), "the pipeline was not saved");
    assert!(!harness.state().is_dirty());
    harness.get_by_label("✔ No problems");

    let saved = load_file(&file).unwrap();
    assert_eq!(saved.sources.len(), 1);
    assert_eq!(saved.sources[0].time_field.as_deref(), Some("ts"));
    assert_eq!(
        step_ids(&saved),
        vec![("key_on", OpKind::KeyOn, vec!["events"]), ("count", OpKind::StatefulMap, vec!["key_on"])]
    );
    assert_eq!(saved.sinks[0].inputs, vec!["count"]);
    assert_eq!(&saved, harness.state().current_doc());

    // Reopen in a new window: the same document, layout included.
    let reopened = workbench(Some(file.clone()), dir.path());
    assert_eq!(reopened.state().current_doc(), &saved);

    // And the runner runs what the editor saved.
    let outputs = eddy::engine::run_captured(&file).unwrap();
    assert_eq!(outputs["output"], vec![r#"["ann",1]"#, r#"["bob",1]"#, r#"["ann",2]"#]);
}

#[test]
fn undo_and_redo_every_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(None, dir.path());
    add_from_palette(&mut harness, "map");
    add_from_palette(&mut harness, "filter");
    assert_eq!(harness.state().current_doc().steps.len(), 2);

    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    assert_eq!(step_ids(harness.state().current_doc()), vec![("map", OpKind::Map, vec![])]);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut harness);
    assert!(harness.state().current_doc().steps.is_empty());

    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    settle(&mut harness);
    harness.get_by_label("⟳ Redo").click();
    settle(&mut harness);
    assert_eq!(harness.state().current_doc().steps.len(), 2);

    // A rename is an edit too, and undoing it brings the old id back.
    click_node(&mut harness, "filter");
    replace_text(&mut harness, "id", "keep_even");
    assert_eq!(harness.state().current_doc().steps[1].id, "keep_even");
    harness.get_by_label("⟲ Undo").click();
    settle(&mut harness);
    assert_eq!(harness.state().current_doc().steps[1].id, "filter");
}

#[test]
fn a_wire_that_would_make_the_pipeline_invalid_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.csv"), "ts,user\n").unwrap();
    let mut harness = workbench(None, dir.path());
    add_from_palette(&mut harness, "CSV source");
    add_from_palette(&mut harness, "running count");
    wire_input(&mut harness, "events");
    harness.get_by_label_contains("Wire refused: `stateful_map` needs a keyed stream");
    assert!(harness.state().current_doc().steps[0].inputs.is_empty());
}

#[test]
fn a_script_error_is_shown_at_its_line_and_in_the_problems_panel() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_copy("user_stats", dir.path());
    let mut harness = workbench(Some(file), dir.path());
    harness.get_by_label("✔ No problems");
    click_node(&mut harness, "stats");
    replace_text(
        &mut harness,
        "Script (Rhai)",
        "fn builder() {\n    0\n}\n\nfn folder(acc, p) {\n    acc +\n}\n",
    );
    harness.get_by_label_contains("⚠ line 7");
    harness.get_by_label("⚠ Problems (1)");
    let problem = &harness.state().problems()[0];
    assert_eq!(problem.step_id(), Some("stats"));
    assert_eq!(problem.script_position.map(|(line, _)| line), Some(7));
}

#[test]
fn opening_a_broken_file_shows_why_and_keeps_what_is_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_copy("sessions", dir.path());
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "format_version = 1\n[[steps]]\nid = \"x\"\nop = \"frobnicate\"\ninputs = []\n")
        .unwrap();
    let mut harness = workbench(Some(file.clone()), dir.path());
    let before = harness.state().current_doc().clone();
    harness.state_mut().command(UiCommand::Open(broken));
    settle(&mut harness);
    harness.get_by_label_contains("unknown operator `frobnicate`");
    assert_eq!(harness.state().current_doc(), &before);
    assert_eq!(harness.state().file(), Some(file.as_path()));
}

#[test]
fn every_example_round_trips_through_the_editor_byte_for_byte() {
    for name in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let file = example_copy(name, dir.path());
        let original = std::fs::read_to_string(&file).unwrap();
        let mut harness = workbench(Some(file.clone()), dir.path());
        assert!(!harness.state().is_dirty(), "{name}: dirty right after opening");
        assert!(harness.state().problems().is_empty(), "{name}: {:?}", harness.state().problems());
        harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
        settle(&mut harness);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), original, "{name}: saving changed the file");
    }
}

/// Wires the first unconnected input pin of the inspected node from `stream`.
fn wire_first_free_input(harness: &mut Harness<'_, Workbench>, stream: &str) {
    let combos: Vec<_> = harness.query_all_by_value("not connected").collect();
    combos.first().unwrap_or_else(|| panic!("no free input for `{stream}`")).click();
    harness.run_steps(2);
    click_last(harness, stream);
    settle(harness);
}

fn palette_label_of_source(format: eddy::graph::SourceFormat) -> &'static str {
    match format {
        eddy::graph::SourceFormat::Csv => "CSV source",
        eddy::graph::SourceFormat::Jsonl => "JSON Lines source",
        eddy::graph::SourceFormat::Json => "JSON source",
    }
}

fn palette_label_of_sink(format: eddy::graph::SinkFormat) -> &'static str {
    match format {
        eddy::graph::SinkFormat::Jsonl => "JSON Lines sink",
        eddy::graph::SinkFormat::Csv => "CSV sink",
        eddy::graph::SinkFormat::Stdout => "stdout sink",
    }
}

/// The issue's "done means": every shipped example can be built from an empty canvas with the
/// palette, the inspector and the keyboard, saved, and run with the same output.
#[test]
fn every_example_can_be_built_from_an_empty_canvas_and_runs_the_same() {
    for name in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let shipped_file = example_copy(name, dir.path());
        let shipped = load_file(&shipped_file).unwrap();
        let mut harness = workbench(None, dir.path());

        // Save first, so relative paths start from the data's folder.
        let built_file = dir.path().join("built.toml");
        harness.get_by_label("File").click();
        harness.run_steps(2);
        harness.get_by_label_contains("Save As…").click();
        settle(&mut harness);
        replace_text(&mut harness, "File path", built_file.to_str().unwrap());

        for source in &shipped.sources {
            add_from_palette(&mut harness, palette_label_of_source(source.effective_format().unwrap()));
            replace_text(&mut harness, "id", &source.id);
            replace_text(&mut harness, "file", source.path.to_str().unwrap());
            if let Some(field) = &source.time_field {
                replace_text(&mut harness, "time field", field);
            }
            for (column, kind) in &source.types {
                assert_eq!(
                    *kind,
                    eddy::graph::ColumnType::String,
                    "{name}: only string columns are built here"
                );
                replace_text(&mut harness, "column", column);
                harness.get_by_label("Force to string").click();
                settle(&mut harness);
            }
        }
        for step in &shipped.steps {
            add_from_palette(&mut harness, step.op.as_str());
            replace_text(&mut harness, "id", &step.id);
            if let Some(field) = &step.field {
                replace_text(&mut harness, "field", field);
            }
            if let Some(script) = &step.script {
                type_script(&mut harness, script);
            }
            if let Some(mode) = step.insert_mode {
                click_last(&harness, mode.as_str());
                settle(&mut harness);
            }
            if let Some(mode) = step.emit_mode {
                click_last(&harness, mode.as_str());
                settle(&mut harness);
            }
            assert!(step.builtin.is_none(), "{name}: built-ins are not built here");
            for input in &step.inputs {
                wire_first_free_input(&mut harness, input);
            }
        }
        for sink in &shipped.sinks {
            add_from_palette(&mut harness, palette_label_of_sink(sink.format));
            replace_text(&mut harness, "id", &sink.id);
            if let Some(path) = &sink.path {
                replace_text(&mut harness, "file", path.to_str().unwrap());
            }
            for input in &sink.inputs {
                wire_first_free_input(&mut harness, input);
            }
        }
        harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
        settle(&mut harness);
        assert!(harness.state().problems().is_empty(), "{name}: {:?}", harness.state().problems());

        let built = load_file(&built_file).unwrap();
        let without_layout = |doc: &PipelineDoc| PipelineDoc { editor: None, ..doc.clone() };
        assert_eq!(without_layout(&built), without_layout(&shipped), "{name}: the built pipeline differs");
        assert_eq!(
            eddy::engine::run_captured(&built_file).unwrap(),
            eddy::engine::run_captured(&shipped_file).unwrap(),
            "{name}: outputs differ"
        );
    }
}

#[test]
fn duplicate_delete_copy_and_paste_nodes_keep_ids_unique() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(None, dir.path());
    add_from_palette(&mut harness, "map");
    type_script(&mut harness, "fn mapper(x) {\n    x.amount\n}\n");
    harness.key_press(Key::Escape); // leave the script editor: shortcuts act on nodes again
    settle(&mut harness);

    // Ctrl+D duplicates the selected node, script included, under a fresh id.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::D);
    settle(&mut harness);
    let steps = &harness.state().current_doc().steps;
    assert_eq!(steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["map", "map_2"]);
    assert_eq!(steps[0].script, steps[1].script);

    // Delete removes the selected one (the duplicate).
    harness.key_press(Key::Delete);
    settle(&mut harness);
    assert_eq!(harness.state().current_doc().steps.len(), 1);

    // Copy and paste (the clipboard events a desktop sends for Ctrl+C and Ctrl+V).
    click_node(&mut harness, "map");
    harness.input_mut().events.push(egui::Event::Copy);
    settle(&mut harness);
    harness.input_mut().events.push(egui::Event::Paste(String::new()));
    settle(&mut harness);
    let ids: Vec<String> = harness.state().current_doc().steps.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, ["map", "map_2"]);

    // And every edit can be undone, back to the empty canvas.
    for _ in 0..6 {
        harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
        settle(&mut harness);
    }
    assert!(harness.state().current_doc().steps.is_empty());
}

#[test]
fn a_sink_over_its_source_or_the_pipeline_file_is_a_problem_in_the_workbench() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_copy("sessions", dir.path());
    let mut harness = workbench(Some(file), dir.path());
    click_node(&mut harness, "sessions");
    replace_text(&mut harness, "file", "./clicks.csv");
    harness.run_steps(40);
    let problems: Vec<String> = harness.state().problems().iter().map(ToString::to_string).collect();
    assert!(
        problems.iter().any(|p| p.contains("sink `sessions`") && p.contains("source `clicks` reads")),
        "{problems:?}"
    );
    replace_text(&mut harness, "file", "sessions.toml");
    harness.run_steps(40);
    let problems: Vec<String> = harness.state().problems().iter().map(ToString::to_string).collect();
    assert!(
        problems.iter().any(|p| p.contains("sink `sessions`") && p.contains("is the pipeline file")),
        "{problems:?}"
    );
    harness.get_by_label_contains("⚠ Problems (1)");
}
