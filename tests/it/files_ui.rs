//! The workbench and the user's files, driven with egui_kittest: Save As and Export into
//! another folder give a pipeline that runs from there, saves keep a file's permissions, and a
//! file with typos opens onto the canvas with its problems listed.

use std::path::{Path, PathBuf};

use eddy::ui::{UiCommand, Workbench, WorkbenchOptions};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::util::{eddy, text};

fn workbench(file: Option<PathBuf>, config: &Path) -> Harness<'static, Workbench> {
    let options = WorkbenchOptions { file, config_dir: Some(config.to_path_buf()) };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |_cc| Workbench::new(options));
    harness.run_steps(12);
    harness
}

/// The sessions example with its data in `dir/proj`, its sink path under `out/`.
fn project(dir: &Path) -> PathBuf {
    let proj = dir.join("proj");
    std::fs::create_dir_all(proj.join("out")).unwrap();
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    std::fs::copy(assets.join("clicks.csv"), proj.join("clicks.csv")).unwrap();
    let pipeline = std::fs::read_to_string(assets.join("sessions.toml")).unwrap();
    let file = proj.join("sessions.toml");
    std::fs::write(&file, pipeline).unwrap();
    file
}

fn check_passes(file: &Path) {
    let out = eddy(&["check", file.file_name().unwrap().to_str().unwrap()], file.parent().unwrap());
    assert!(
        out.status.success(),
        "eddy check {}: {}{}",
        file.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn export_into_another_folder_rebases_relative_paths_and_the_copy_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let elsewhere = dir.path().join("shared").join("exports");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut harness = workbench(Some(file.clone()), dir.path());
    let before = harness.state().current_doc().clone();

    // Export proposes a new name beside the open file, not the open file itself.
    harness.state_mut().command(UiCommand::ExportDialog);
    harness.run_steps(4);
    let proposed = harness.get_by_label("File path").value().unwrap();
    assert_eq!(PathBuf::from(&proposed), file.parent().unwrap().join("sessions-export.toml"));

    let target = elsewhere.join("sessions.toml");
    harness.state_mut().command(UiCommand::Export { path: target.clone(), include_layout: false });
    harness.run_steps(4);
    harness.get_by_label_contains(&format!("2 paths rebased to {}", elsewhere.display()));
    let exported = std::fs::read_to_string(&target).unwrap();
    assert!(exported.contains("path = \"../../proj/clicks.csv\""), "{exported}");
    assert!(exported.contains("path = \"../../proj/out/sessions.jsonl\""), "{exported}");
    check_passes(&target);
    // The open pipeline is untouched.
    assert_eq!(harness.state().current_doc(), &before);
    assert_eq!(harness.state().file(), Some(file.as_path()));
}

#[test]
fn save_as_into_another_folder_rebases_the_canvas_too_and_shows_no_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let elsewhere = dir.path().join("copy");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut harness = workbench(Some(file), dir.path());
    let target = elsewhere.join("mine.toml");
    harness.state_mut().command(UiCommand::SaveAs(target.clone()));
    harness.run_steps(12);
    harness.get_by_label_contains("2 paths rebased to");
    let doc = harness.state().current_doc();
    assert_eq!(doc.sources[0].path, Path::new("../proj/clicks.csv"));
    assert_eq!(doc.sinks[0].path.as_deref(), Some(Path::new("../proj/out/sessions.jsonl")));
    assert!(harness.state().problems().is_empty(), "{:?}", harness.state().problems());
    assert!(!harness.state().is_dirty());
    check_passes(&target);
}

#[test]
fn a_failed_export_names_the_target_file_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let mut harness = workbench(Some(file), dir.path());
    let target = dir.path().join("no such folder").join("x.toml");
    harness.state_mut().command(UiCommand::Export { path: target.clone(), include_layout: false });
    harness.run_steps(4);
    let node = harness.get_by_label_contains("cannot write");
    let shown = node.accesskit_node().label().or_else(|| node.value()).unwrap_or_default();
    assert!(shown.contains(&target.display().to_string()), "{shown}");
    // (The test's own folder is a `.tmp…` one: look past it.)
    let rest = shown.replace(&dir.path().display().to_string(), "");
    assert!(!rest.contains(".tmp"), "{shown}");
    // A write that fails at the rename (over a folder) leaves no temporary file behind.
    let over_folder = dir.path().join("proj").join("out");
    harness.state_mut().command(UiCommand::Export { path: over_folder, include_layout: false });
    harness.run_steps(4);
    let mut left: Vec<_> =
        std::fs::read_dir(dir.path().join("proj")).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["clicks.csv", "out", "sessions.toml"]);
}

#[cfg(unix)]
#[test]
fn saving_keeps_the_file_mode_and_a_new_file_gets_the_umask_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    // What a new file gets here (the umask is the process's; commonly 0644).
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    let new_mode = mode(&probe);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut harness = workbench(Some(file.clone()), dir.path());
    harness.state_mut().command(UiCommand::Save);
    harness.run_steps(4);
    assert_eq!(mode(&file), 0o640, "an existing file keeps its mode");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
    harness.state_mut().command(UiCommand::Save);
    harness.run_steps(4);
    assert_eq!(mode(&file), 0o664, "an existing file keeps its mode");

    let fresh = dir.path().join("proj").join("fresh.toml");
    harness.state_mut().command(UiCommand::SaveAs(fresh.clone()));
    harness.run_steps(4);
    let exported = dir.path().join("proj").join("exported.toml");
    harness.state_mut().command(UiCommand::Export { path: exported.clone(), include_layout: true });
    harness.run_steps(4);
    assert_eq!((mode(&fresh), mode(&exported)), (new_mode, new_mode), "new files get the umask mode");
    assert_ne!(new_mode, 0o600, "this test needs a umask that does not hide the bug");
}

#[test]
fn a_file_with_typos_opens_onto_the_canvas_with_its_problems_listed_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let text = std::fs::read_to_string(&file).unwrap();
    let typos = text
        .replace("field = \"user_id\"", "feild = \"user_id\"")
        .replace("op = \"stateful_flat_map\"", "op = \"statefull_flat_map\"");
    assert_ne!(typos, text);
    std::fs::write(&file, &typos).unwrap();

    let mut harness = workbench(Some(file.clone()), dir.path());
    assert_eq!(harness.state().file(), Some(file.as_path()));
    let doc = harness.state().current_doc().clone();
    let steps: Vec<(&str, &str)> = doc.steps.iter().map(|s| (s.id.as_str(), s.op.as_str())).collect();
    assert_eq!(steps, [("by_user", "key_on"), ("sessionise", "stateful_flat_map")]);
    assert!(harness.state().is_dirty(), "the repaired operator is not saved yet");
    // Listed in the Problems panel...
    harness.get_by_label_contains("key `feild`: unknown key (did you mean `field`?)");
    harness
        .get_by_label_contains("unknown operator `statefull_flat_map` (did you mean `stateful_flat_map`?)");
    // ... and marked on the node, setting by setting.
    let titles: Vec<_> = harness.query_all_by_value("by_user").collect();
    titles[0].click_accesskit();
    harness.run_steps(4);
    harness.get_by_label_contains("⚠ feild: unknown key");

    // Saving writes what the canvas shows and keeps what it cannot show: the unknown key stays
    // in the file as written, and listed, until the user fixes it.
    harness.state_mut().command(UiCommand::Save);
    harness.run_steps(12);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("op = \"stateful_flat_map\"") && saved.contains("feild = \"user_id\""), "{saved}");
    assert_eq!(harness.query_all_by_label_contains("statefull_flat_map").count(), 0);
    harness.get_by_label_contains("key `feild`: unknown key");
    assert!(!harness.state().is_dirty());
}

#[test]
fn text_that_is_not_toml_is_refused_with_its_line_and_the_canvas_stays() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let mut harness = workbench(Some(file.clone()), dir.path());
    let before = harness.state().current_doc().clone();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "format_version = 1\n\n[[steps]\nid = \"x\"\n").unwrap();
    harness.state_mut().command(UiCommand::Open(broken));
    harness.run_steps(4);
    harness.get_by_label_contains("line 3, column");
    assert_eq!(harness.state().current_doc(), &before);
    assert_eq!(harness.state().file(), Some(file.as_path()));
}

/// Makes the open pipeline differ from its file: a new step from the palette.
fn edit(harness: &mut Harness<'static, Workbench>) {
    harness
        .state_mut()
        .command(UiCommand::Add(eddy::ui::editor::palette::PaletteKind::Step(eddy::graph::OpKind::Inspect)));
    harness.run_steps(4);
    assert!(harness.state().is_dirty());
}

#[test]
fn unsaved_changes_can_be_saved_before_opening_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let other = dir.path().join("other.toml");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sliding_window.toml"), &other).unwrap();
    let mut harness = workbench(Some(file.clone()), dir.path());
    edit(&mut harness);
    let edited = harness.state().current_doc().clone();

    harness.state_mut().command(UiCommand::Open(other.clone()));
    harness.run_steps(4);
    harness.get_by_label("Unsaved changes");
    harness.get_by_label("Save").click();
    harness.run_steps(6);
    // Saved first, then opened.
    assert_eq!(harness.state().file(), Some(other.as_path()));
    let saved = eddy::graph::parse_str(&std::fs::read_to_string(&file).unwrap(), &file).unwrap();
    assert_eq!(saved.steps, edited.steps);
}

#[test]
fn a_save_that_fails_keeps_the_changes_and_does_not_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let other = dir.path().join("other.toml");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sliding_window.toml"), &other).unwrap();
    let mut harness = workbench(Some(file.clone()), dir.path());
    edit(&mut harness);
    // The file became a folder (with something in it) behind the workbench's back: the save
    // cannot replace it, whoever runs the test.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join("keep.txt"), "kept").unwrap();
    harness.state_mut().command(UiCommand::Open(other));
    harness.run_steps(4);
    harness.get_by_label("Save").click();
    harness.run_steps(6);
    assert_eq!(harness.state().file(), Some(file.as_path()), "went on after a failed save");
    assert!(harness.state().is_dirty(), "the changes were dropped");
    assert_eq!(std::fs::read_to_string(file.join("keep.txt")).unwrap(), "kept");
    harness.get_by_label_contains("cannot write");
}

#[test]
fn an_untitled_pipeline_is_saved_as_before_going_on() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("drafted.toml");
    let mut harness = workbench(None, dir.path());
    edit(&mut harness);
    harness.state_mut().command(UiCommand::New);
    harness.run_steps(4);
    harness.get_by_label("Save As…").click();
    harness.run_steps(4);
    harness.get_by_label("File path").focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label("File path").type_text(target.to_str().unwrap());
    harness.run_steps(1);
    harness.key_press(egui::Key::Enter);
    harness.run_steps(6);
    assert!(target.exists(), "not saved");
    // Then the new, empty pipeline.
    assert_eq!(harness.state().file(), None);
    assert!(harness.state().current_doc().steps.is_empty());
}

#[test]
fn undo_and_redo_after_save_as_into_another_folder_keep_the_rebased_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let elsewhere = dir.path().join("copy");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut harness = workbench(Some(file), dir.path());
    let opened = harness.state().current_doc().clone();
    edit(&mut harness);
    let edited = harness.state().current_doc().clone();
    harness.state_mut().command(UiCommand::SaveAs(elsewhere.join("mine.toml")));
    harness.run_steps(12);
    harness.get_by_label_contains("2 paths rebased to");

    // Undo goes back to the pipeline before the edit, as it reads from the new folder.
    harness.state_mut().command(UiCommand::Undo);
    harness.run_steps(12);
    let undone = harness.state().current_doc().clone();
    assert_eq!(undone.steps, opened.steps);
    assert_eq!(undone.sources[0].path, Path::new("../proj/clicks.csv"));
    assert_eq!(undone.sinks[0].path.as_deref(), Some(Path::new("../proj/out/sessions.jsonl")));
    assert!(harness.state().problems().is_empty(), "{:?}", harness.state().problems());

    // Redo brings the edit back, its paths rebased too.
    harness.state_mut().command(UiCommand::Redo);
    harness.run_steps(12);
    let redone = harness.state().current_doc().clone();
    assert_eq!(redone.steps, edited.steps);
    assert_eq!(redone.sources[0].path, Path::new("../proj/clicks.csv"));
    // (The new step has no input yet: that is its only problem; every file is found.)
    let problems = harness.state().problems();
    assert!(problems.iter().all(|p| !p.message.contains("not found")), "{problems:?}");
    assert!(!harness.state().is_dirty());
}
