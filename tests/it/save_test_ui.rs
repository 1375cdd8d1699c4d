//! *File → Save as test…* driven with egui_kittest on the real app: the folder it writes passes
//! `eddy test` (the library functions the CLI calls), a second save into it is refused with the
//! message shown and nothing changed, unsaved edits are saved first (and are what the test
//! holds), and a pipeline a test cannot replay is refused naming its source, writing nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy::regression::{Verdict, compare_outputs, compare_states, load_folder, replay_with_states};
use eddy::ui::{UiCommand, Workbench};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::ui_util::{example, open};

/// Every file under `dir` (relative path → bytes).
/// Runs frames until the test folder being written (on a background thread) is done.
fn wait_saved(harness: &mut Harness<'static, Workbench>) {
    harness.run_steps(4);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while harness.state().is_saving_test() {
        assert!(std::time::Instant::now() < deadline, "the test folder was not written in 30 s");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    harness.run_steps(3);
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(path.strip_prefix(base).unwrap().to_owned(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// What `eddy test FOLDER` does for one folder (`run_folder` in src/cli/test_cmd.rs): the
/// sinks' lines and the checkpoints' states that differ from the saved ones (empty: it passes).
fn eddy_test(folder: &Path) -> String {
    let test = load_folder(folder).unwrap();
    let wanted: Vec<_> = test.checkpoints.iter().map(|(checkpoint, _)| checkpoint.clone()).collect();
    let (got, states) = replay_with_states(&test.pipeline, &wanted).unwrap();
    let verdict = Verdict {
        checkpoints: wanted.len(),
        states: compare_states(&test.checkpoints, &states),
        ..compare_outputs(&test.expected, &got)
    };
    assert!(verdict.sinks > 0 && verdict.lines > 0, "{verdict:?}");
    verdict.to_string()
}

/// The text shown by the widget whose label contains `part`.
fn shown(harness: &Harness<'static, Workbench>, part: &str) -> String {
    let node = harness.get_by_label_contains(part);
    node.accesskit_node().label().or_else(|| node.value()).unwrap_or_default()
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn save_as_test_writes_a_folder_that_passes_and_a_second_save_there_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("sessions", dir.path());
    let mut harness = open(&file, dir.path());

    // The dialog proposes a new folder beside the pipeline.
    harness.state_mut().command(UiCommand::SaveTestDialog);
    harness.run_steps(4);
    assert_eq!(
        PathBuf::from(harness.get_by_label("Test folder").value().unwrap()),
        dir.path().join("sessions-test")
    );
    harness.get_by_label_contains("Run it with: eddy test FOLDER");

    // (The dialog's path field and Browse… stand for the native dialog: the test hook is the
    // command they send.)
    let folder = dir.path().join("tests").join("sessions");
    harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
    wait_saved(&mut harness);
    let notice = shown(&harness, "Saved the test");
    assert_eq!(
        notice,
        format!(
            "Saved the test {}: pipeline.toml, 1 input file(s), expected outputs of `sessions` 19 lines. \
             Run it with: eddy test {}",
            folder.display(),
            folder.display()
        )
    );
    assert!(harness.query_by_label("Test folder").is_none(), "the dialog closes once the test is saved");
    let saved = files(&folder);
    assert_eq!(
        saved.keys().cloned().collect::<Vec<_>>(),
        [PathBuf::from("clicks.csv"), "expected/sessions.jsonl".into(), "pipeline.toml".into()]
    );
    assert_eq!(saved[Path::new("pipeline.toml")], std::fs::read(&file).unwrap());
    assert_eq!(eddy_test(&folder), "");

    // Again into the same folder: refused, said in the open dialog, nothing changed.
    harness.state_mut().command(UiCommand::SaveTestDialog);
    harness.run_steps(4);
    harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
    wait_saved(&mut harness);
    assert_eq!(
        shown(&harness, "cannot save the test"),
        format!(
            "cannot save the test: {}: exists and is not empty: eddy test --save writes a new folder \
             (or fills an empty one), never over files",
            folder.display()
        )
    );
    assert!(harness.query_by_label("Test folder").is_some(), "the dialog stays open to pick another folder");
    assert_eq!(files(&folder), saved);
    assert_eq!(names(folder.parent().unwrap()), ["sessions"], "no staging folder left");
    assert!(!harness.state().is_dirty());
}

#[test]
fn unsaved_edits_are_saved_first_and_are_what_the_test_holds() {
    let dir = tempfile::tempdir().unwrap();
    let file = example("sessions", dir.path());
    let mut harness = open(&file, dir.path());
    let sink = harness.state().snarl().node_ids().find(|(_, n)| n.id() == "sessions").unwrap().0;
    harness.state_mut().command(UiCommand::Rename(sink, "per_session".into()));
    harness.run_steps(4);
    assert!(harness.state().is_dirty());
    let folder = dir.path().join("renamed-test");

    // Without the dialog: refused, the file and the edits as they were.
    let before = std::fs::read(&file).unwrap();
    harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
    wait_saved(&mut harness);
    assert_eq!(
        shown(&harness, "unsaved edits"),
        format!(
            "{} has unsaved edits: a test is made from the file as saved, so save first (Save and make the test)",
            file.display()
        )
    );
    assert!(!folder.exists());
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert!(harness.state().is_dirty());

    // The dialog says the edits are saved first, and its button does both.
    harness.state_mut().command(UiCommand::SaveTestDialog);
    harness.run_steps(4);
    harness
        .get_by_label_contains("has unsaved edits: the test is made from the file, so they are saved first.");
    harness.get_by_label("Test folder").focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label("Test folder").type_text(&folder.display().to_string());
    harness.run_steps(1);
    harness.get_by_label("Save and make the test").click();
    wait_saved(&mut harness);
    assert!(!harness.state().is_dirty(), "the edits were saved");
    harness.get_by_label_contains(&format!("Run it with: eddy test {}", folder.display()));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("id = \"per_session\""), "{saved}");
    assert_eq!(std::fs::read_to_string(folder.join("pipeline.toml")).unwrap(), saved);
    assert_eq!(names(&folder.join("expected")), ["per_session.jsonl"]);
    assert_eq!(eddy_test(&folder), "");
}

#[test]
fn a_pipeline_a_test_cannot_replay_is_refused_naming_the_source_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(example("sessions", dir.path())).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::copy(dir.path().join("clicks.csv"), dir.path().join("sub").join("clicks.csv")).unwrap();
    let cases = [
        (
            "live.toml",
            original.replace("time_field = \"ts\"", "time_field = \"ts\"\nfollow = true"),
            "source `clicks` is live (path = \"-\" or follow = true)",
        ),
        (
            "wall.toml",
            original.replace("mode = \"replay\"", "mode = \"wall\""),
            "[clock] mode = \"wall\" reads the machine's clock",
        ),
        (
            "sub/outside.toml",
            original.replace("path = \"clicks.csv\"", "path = \"../clicks.csv\""),
            "source `clicks` reads ../clicks.csv, a path that leaves the pipeline's folder",
        ),
    ];
    for (name, text, why) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let mut harness = open(&file, dir.path());
        let folder = dir.path().join(format!("{name}-test"));
        let beside = names(dir.path());
        harness.state_mut().command(UiCommand::SaveTestDialog);
        harness.run_steps(4);
        harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
        wait_saved(&mut harness);
        let message = shown(&harness, "cannot save the test");
        assert!(
            message.starts_with(&format!("cannot save the test: {}: ", file.display())),
            "{name}: {message}"
        );
        assert!(message.contains(why), "{name}: {message}");
        assert!(!folder.exists(), "{name}");
        assert_eq!(names(dir.path()), beside, "{name}: nothing written");
    }
}

#[test]
fn an_untitled_pipeline_is_saved_before_it_becomes_a_test() {
    let dir = tempfile::tempdir().unwrap();
    let options = eddy::ui::WorkbenchOptions { file: None, config_dir: Some(dir.path().to_path_buf()) };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |_cc| Workbench::new(options));
    harness.run_steps(8);
    let folder = dir.path().join("t");
    harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
    wait_saved(&mut harness);
    harness.get_by_label_contains(
        "the pipeline is untitled: save it first, a test folder is made from its file",
    );
    assert!(!folder.exists());
}

/// Step `step`'s state of `key` after `events` source events, read straight off an engine.
fn engine_state(file: &Path, step: &str, key: &str, events: u64) -> serde_json::Value {
    use eddy::engine::{Engine, EngineOptions, check};
    let doc = eddy::graph::load_file(file).unwrap();
    let index = doc.steps.iter().position(|s| s.id == step).unwrap();
    let mut engine =
        Engine::new(check(&doc, file.parent().unwrap()).unwrap(), &EngineOptions::default()).unwrap();
    for _ in 0..events {
        engine.step().unwrap();
    }
    engine.step_state(index, &key.into()).map(|s| eddy::value::display_json(&s)).unwrap()
}

#[test]
fn the_watched_key_becomes_a_state_checkpoint_that_eddy_test_checks() {
    use eddy::session::Command;
    let dir = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, dir.path());
    harness.state_mut().command(UiCommand::Replay(Command::Seek(40)));
    crate::ui_util::wait_for(&mut harness, "event 40", |v| v.position == 40);
    harness
        .state_mut()
        .command(UiCommand::Replay(Command::WatchKey { step: "stats".into(), key: "u03".into() }));
    crate::ui_util::wait_for(&mut harness, "the watch", |v| v.watch.is_some());

    harness.state_mut().command(UiCommand::SaveTestDialog);
    harness.run_steps(4);
    harness.get_by_label("State checkpoints: key `u03` of step `stats` after event 40");
    let folder = dir.path().join("stats-test");
    harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
    wait_saved(&mut harness);
    assert!(shown(&harness, "Saved the test").contains(", 1 state checkpoint(s). Run it with"));

    let text = std::fs::read_to_string(folder.join("checkpoints.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let state = engine_state(&file, "stats", "u03", 40);
    assert_eq!(lines, [serde_json::json!({"event": 40, "step": "stats", "key": "u03", "state": state})]);
    assert_eq!(eddy_test(&folder), "");

    // A state changed by hand: the test fails, saying which key, where, and both states.
    let other = serde_json::json!({"event": 40, "step": "stats", "key": "u03", "state": {"count": 0}});
    std::fs::write(folder.join("checkpoints.jsonl"), format!("{other}\n")).unwrap();
    assert_eq!(
        eddy_test(&folder),
        format!(
            "state of key `u03` of step `stats` after event 40: differs\n  expected: {{\"count\":0}}\n  got:      {state}"
        )
    );
}

#[test]
fn a_large_test_is_written_in_the_background_while_the_window_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = String::from("user,n\n");
    for n in 0..200 {
        rows.push_str(&format!("u{},{n}\n", n % 50));
    }
    std::fs::write(dir.path().join("rows.csv"), rows).unwrap();
    // Slow on purpose (a loop per event): the replay outlasts the frames this test runs.
    let file = dir.path().join("big.toml");
    let pipeline = r#"format_version = 1
[[sources]]
id = "rows"
path = "rows.csv"
format = "csv"
[[steps]]
id = "by_user"
op = "key_on"
inputs = ["rows"]
field = "user"
[[steps]]
id = "count"
op = "fold_final"
inputs = ["by_user"]
script = '''
fn builder() { 0 }
fn folder(acc, v) { let s = 0; for i in 0..4000 { s += i; } acc + 1 }
'''
[[sinks]]
id = "out"
inputs = ["count"]
path = "out.jsonl"
format = "jsonl"
"#;
    std::fs::write(&file, pipeline).unwrap();
    let mut harness = open(&file, dir.path());
    let folder = dir.path().join("big-test");
    harness.state_mut().command(UiCommand::SaveTestDialog);
    harness.run_steps(2);
    harness.state_mut().command(UiCommand::SaveTest(folder.clone()));
    harness.run_steps(2);
    // Frames go on while the replay runs; the dialog says what it is doing.
    assert!(harness.state().is_saving_test());
    harness.get_by_label(&format!("Replaying the pipeline to write {}…", folder.display()));
    // A second save meanwhile is refused, naming the first.
    harness.state_mut().command(UiCommand::SaveTest(dir.path().join("other")));
    harness.run_steps(1);
    assert!(harness.state().is_saving_test(), "the save ended too soon for this test");
    harness.get_by_label_contains(&format!("a test is being written into {} already", folder.display()));
    wait_saved(&mut harness);
    harness.get_by_label_contains(&format!("Run it with: eddy test {}", folder.display()));
    assert_eq!(names(&folder.join("expected")), ["out.jsonl"]);
    assert_eq!(std::fs::read_to_string(folder.join("expected/out.jsonl")).unwrap().lines().count(), 50);
    assert!(!dir.path().join("other").exists());
}
