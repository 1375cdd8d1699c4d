//! Helpers shared by the workbench's kittest tests: a copy of the examples, the real app in a
//! harness, waiting for the session thread, clicking by label.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eddy::session::RunView;
use eddy::ui::{Workbench, WorkbenchOptions};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Copies every file of `assets/` into `dir`; the path of the example `name` there.
pub fn example(name: &str, dir: &Path) -> PathBuf {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for entry in std::fs::read_dir(&assets).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir.join(format!("{name}.toml"))
}

/// The workbench on `file`, its settings kept in `config`, after its first frames.
pub fn open(file: &Path, config: &Path) -> Harness<'static, Workbench> {
    let options = WorkbenchOptions { file: Some(file.to_path_buf()), config_dir: Some(config.to_path_buf()) };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |_cc| Workbench::new(options));
    harness.run_steps(8);
    harness
}

/// Runs frames until the replay's view satisfies `done` (the session works on its own thread).
pub fn wait_for(harness: &mut Harness<'_, Workbench>, what: &str, done: impl Fn(&RunView) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        harness.step();
        if harness.state().replay_view().is_some_and(&done) {
            harness.run_steps(2);
            return;
        }
        if Instant::now() >= deadline {
            let view = harness.state().replay_view();
            panic!(
                "timed out waiting for {what}: status {:?}, position {:?}, hit {:?}, log {:?}",
                view.map(|v| v.status),
                view.map(|v| v.position),
                view.map(|v| v.breakpoint_hit.clone()),
                view.map(|v| v.log.iter().rev().take(3).cloned().collect::<Vec<_>>())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Replaces the text of the field labelled `label` with `text` (select all, type, Enter).
pub fn replace_text(harness: &mut Harness<'_, Workbench>, label: &str, text: &str) {
    use egui::{Key, Modifiers};
    harness.get_by_label(label).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run_steps(1);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(1);
    harness.key_press(Key::Enter);
    harness.run_steps(12);
}

/// Types a script into the inspected step's editor, replacing what is there.
pub fn type_script(harness: &mut Harness<'_, Workbench>, script: &str) {
    use egui::{Key, Modifiers};
    harness.get_by_label("Script (Rhai)").focus();
    harness.run_steps(1);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run_steps(1);
    harness.get_by_label("Script (Rhai)").type_text(script);
    harness.run_steps(12);
}

/// Clicks the last widget labelled `label`.
pub fn click(harness: &mut Harness<'_, Workbench>, label: &str) {
    let nodes: Vec<_> = harness.query_all_by_label(label).collect();
    nodes.last().unwrap_or_else(|| panic!("no `{label}`")).click();
    harness.run_steps(2);
}

/// Clicks the title of the node `id` (selects it for the inspector).
pub fn click_node(harness: &mut Harness<'_, Workbench>, id: &str) {
    let titles: Vec<_> = harness.query_all_by_value(id).collect();
    titles.first().unwrap_or_else(|| panic!("no node `{id}`")).click_accesskit();
    harness.run_steps(4);
}
