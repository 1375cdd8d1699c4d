//! The workbench's Compare tab: the pipeline on screen against its saved version or another
//! file, replayed on the same input; the first event where they differ, from both sides, and
//! a button that takes the replay there.

use std::path::Path;
use std::time::{Duration, Instant};

use eddy::ui::{UiCommand, Workbench};
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::ui_util::{click, click_node, open, type_script, wait_for};

const ROWS: &str = "user,n\na,1\nb,2\nb,3\na,4\nc,5\nb,6\n";

const SAVED_SCRIPT: &str = "fn mapper(state, v) {\n    let total = if state == () { 0 } else { state };\n    total += v.n;\n    [total, total]\n}\n";

/// A running total per user, written to `out.jsonl`; `script` is the total's.
fn pipeline(script: &str) -> String {
    format!(
        r#"format_version = 1

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
id = "total"
op = "stateful_map"
inputs = ["by_user"]
script = '''
{script}'''

[[sinks]]
id = "out"
inputs = ["total"]
path = "out.jsonl"
format = "jsonl"
"#
    )
}

fn workspace(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("rows.csv"), ROWS).unwrap();
    let file = dir.join("pipeline.toml");
    std::fs::write(&file, pipeline(SAVED_SCRIPT)).unwrap();
    file
}

/// Runs frames until the comparison has a result.
fn wait_for_comparison(harness: &mut Harness<'_, Workbench>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.state().comparison().is_none_or(|c| c.is_running()) {
        assert!(Instant::now() < deadline, "the comparison did not end");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(3);
}

#[test]
fn an_edited_script_is_compared_with_its_saved_version_down_to_the_first_event_and_the_replay_goes_there() {
    let dir = tempfile::tempdir().unwrap();
    let file = workspace(dir.path());
    let mut harness = open(&file, dir.path());

    // Unchanged: the two agree.
    click(&mut harness, "Compare");
    click(&mut harness, "Compare with saved version");
    wait_for_comparison(&mut harness);
    harness.get_by_label("✔ The two versions agree: 6 events and end of input compared");
    harness.get_by_label(&format!("A: {}", file.display()));
    harness.get_by_label("B: the pipeline on screen");

    // One changed line: the first difference is event 3, key "b", on both sides.
    click_node(&mut harness, "total");
    type_script(
        &mut harness,
        &SAVED_SCRIPT.replace("total += v.n;", "total += if v.n == 3 { 30 } else { v.n };"),
    );
    assert!(harness.state().is_dirty());
    click(&mut harness, "Compare with saved version");
    wait_for_comparison(&mut harness);
    harness.get_by_label("B: the pipeline on screen (edited)");
    harness.get_by_label("✖ The two versions differ at 2 of 6 events and end of input");
    harness.get_by_label("First difference: event 3 (source `rows`, line 4)");
    harness.get_by_label("step `total`, key \"b\": its state differs");
    // State before (the same), after, and the outputs: A's then B's.
    harness.get_by_label("state before");
    assert!(harness.query_all_by_label("2").count() >= 2, "state before, on both sides");
    harness.get_by_label("5");
    harness.get_by_label("32");
    harness.get_by_label("[\"b\",5]");
    harness.get_by_label("[\"b\",32]");
    harness.get_by_label("Also differing at this event: sink `out`");
    // The script line that changed, numbered as in each version.
    harness.get_by_label("   3      total += v.n;");
    harness.get_by_label("   3      total += if v.n == 3 { 30 } else { v.n };");
    // Where they differ: the step at 2 events (its outputs at both), key "b" at 2; the sink.
    harness.get_by_label("step `total`");
    harness.get_by_label("\"b\" ×2");
    harness.get_by_label("sink `out`");
    // The saved file is untouched.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pipeline(SAVED_SCRIPT));

    // The replay of the pipeline on screen jumped there: after event 3, key "b" selected.
    wait_for(&mut harness, "event 3", |view| {
        view.position == 3 && view.selected.as_ref().is_some_and(|table| table.step == "total")
    });
    wait_for(&mut harness, "key b watched", |view| view.watch.as_ref().is_some_and(|w| w.key == "b"));
    // Elsewhere and back with the button.
    harness.state_mut().command(UiCommand::Replay(eddy::session::Command::Seek(6)));
    wait_for(&mut harness, "event 6", |view| view.position == 6);
    click(&mut harness, "Go to event 3");
    wait_for(&mut harness, "event 3 again", |view| view.position == 3);
    click(&mut harness, "State");
    // The Compare tab is hidden: 32 is the on-screen version's state of "b", in the table.
    assert!(harness.query_all_by_label("B: the pipeline on screen (edited)").next().is_none());
    assert!(harness.query_all_by_label_contains("32").next().is_some(), "the state table shows b = 32");

    // Edited again: the tab says the comparison is of an older B.
    click(&mut harness, "Compare");
    assert!(harness.query_all_by_label_contains("changed since this comparison").next().is_none());
    click_node(&mut harness, "total");
    type_script(&mut harness, SAVED_SCRIPT);
    click(&mut harness, "Compare");
    harness.get_by_label_contains("The pipeline on screen changed since this comparison: compare again");
}

#[test]
fn another_file_is_picked_in_the_dialog_and_one_whose_input_differs_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = workspace(dir.path());
    let other = dir.path().join("other.toml");
    std::fs::write(&other, pipeline(&SAVED_SCRIPT.replace("v.n", "v.n * 2"))).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("rows.csv"), "user,n\na,1\n").unwrap();
    let mut harness = open(&file, dir.path());

    for (path, expect) in [
        (&other, "First difference: event 1 (source `rows`, line 2)".to_owned()),
        (&elsewhere.join("missing.toml"), "cannot compare with that file".to_owned()),
    ] {
        harness.state_mut().command(UiCommand::CompareDialog);
        harness.run_steps(4);
        harness.get_by_label("File path").focus();
        harness.run_steps(1);
        harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
        harness.get_by_label("File path").type_text(&path.display().to_string());
        harness.run_steps(1);
        click(&mut harness, "Compare");
        if path == &other {
            wait_for_comparison(&mut harness);
            harness.get_by_label(&format!("A: {}", other.display()));
            harness.get_by_label(&expect);
        } else {
            // A file that cannot be read stays in the dialog, with why.
            harness.get_by_label_contains(&expect);
            harness.get_by_label_contains("missing.toml");
        }
    }

    // Sources that read other files cannot be compared: the error names the source.
    std::fs::write(elsewhere.join("pipeline.toml"), pipeline(SAVED_SCRIPT)).unwrap();
    harness.state_mut().command(UiCommand::CompareWith(elsewhere.join("pipeline.toml")));
    harness.run_steps(2);
    wait_for_comparison(&mut harness);
    harness.get_by_label_contains("Could not compare:");
    harness.get_by_label_contains("source `rows`");
}

#[test]
fn the_sessions_example_against_a_one_character_change_of_its_gap() {
    let dir = tempfile::tempdir().unwrap();
    let file = super::ui_util::example("sessions", dir.path());
    let mut harness = open(&file, dir.path());
    click(&mut harness, "Compare");
    click(&mut harness, "Compare with saved version");
    wait_for_comparison(&mut harness);
    harness.get_by_label_contains("✔ The two versions agree: ");

    // 30 minutes becomes 20: sessions split earlier.
    let script =
        harness.state().current_doc().steps.iter().find(|s| s.id == "sessionise").unwrap().script.clone();
    let script = script.unwrap();
    assert!(script.contains("const GAP = mins(30);"));
    click_node(&mut harness, "sessionise");
    type_script(&mut harness, &script.replace("const GAP = mins(30);", "const GAP = mins(20);"));
    click(&mut harness, "Compare");
    click(&mut harness, "Compare with saved version");
    wait_for_comparison(&mut harness);
    let first = match &harness.state().comparison().unwrap().result {
        Some(Ok(comparison)) => comparison.first.clone().expect("they differ"),
        other => panic!("{other:?}"),
    };
    let eddy::compare::Position::Event { number, line, .. } = first.position else {
        panic!("{:?}", first.position)
    };
    harness.get_by_label_contains("✖ The two versions differ at ");
    harness.get_by_label_contains(&format!("First difference: event {number} (source `clicks`, line {line}"));
    // The replay of the edited pipeline jumped there.
    wait_for(&mut harness, "the first difference", |view| view.position == number);
    // The same as `eddy diff` finds between the saved file and the edited one, saved aside.
    let edited = dir.path().join("edited.toml");
    std::fs::write(&edited, std::fs::read_to_string(&file).unwrap().replace("mins(30)", "mins(20)")).unwrap();
    let headless =
        eddy::compare::compare_files(&file, &edited, &eddy::compare::CompareOptions::default()).unwrap();
    assert_eq!(headless.first.map(|f| f.position), Some(first.position));
}
