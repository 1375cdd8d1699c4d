//! *Run* in the workbench (Ctrl+Enter, the toolbar): `eddy run` on a background thread. Its
//! files are compared byte for byte with what the `eddy` binary writes; a run whose output
//! would overwrite an input is refused before anything is opened.

use std::path::Path;
use std::time::{Duration, Instant};

use eddy::engine::RunOutcome;
use eddy::ui::Workbench;
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use eddy::ui::panels::io_ui::sink_items;

use super::ui_util::{click, click_node, example, open, wait_for};
use super::util::eddy;

const SINKS: [&str; 2] = ["out/user_stats_per_user.jsonl", "out/user_stats_per_category.csv"];

/// Runs frames until the workbench's run has ended.
fn wait_for_run(harness: &mut Harness<'_, Workbench>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.state().is_running() || harness.state().run_report().is_none() {
        assert!(Instant::now() < deadline, "the run did not end");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(2);
}

fn sink_bytes(dir: &Path) -> Vec<Vec<u8>> {
    SINKS.iter().map(|s| std::fs::read(dir.join(s)).unwrap_or_else(|e| panic!("{s}: {e}"))).collect()
}

#[test]
fn ctrl_enter_runs_for_real_and_writes_what_eddy_run_writes() {
    let cli_dir = tempfile::tempdir().unwrap();
    example("user_stats", cli_dir.path());
    let out = eddy(&["run", "--quiet", "user_stats.toml"], cli_dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = sink_bytes(cli_dir.path());

    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let mut harness = open(&file, config.path());
    assert!(!dir.path().join(SINKS[0]).exists());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    harness.run_steps(2);
    wait_for_run(&mut harness);
    let report = harness.state().run_report().unwrap().clone();
    assert_eq!(report.outcome, RunOutcome::Done, "{}", report.summary);
    assert_eq!(sink_bytes(dir.path()), expected);
    let lines = |i: usize| expected[i].iter().filter(|b| **b == b'\n').count() as u64;
    let items: Vec<(String, u64)> = report.sinks.iter().map(|(id, n, _)| (id.clone(), *n)).collect();
    assert_eq!(items, vec![("per_user".to_owned(), lines(0)), ("per_category".to_owned(), lines(1) - 1)]);
    // The summary `eddy run` prints, in the Run tab; the headline under the replay bar.
    let headline = report.headline();
    assert!(headline.starts_with("Run done: "), "{headline}");
    harness.get_by_label(&headline);
    click(&mut harness, "Summary");
    assert!(report.summary.starts_with("done: "), "{}", report.summary);
    harness.get_by_label(&report.summary);

    // Again from the toolbar: the same bytes (the sinks are written over, as eddy run does).
    click(&mut harness, "Run to files");
    wait_for_run(&mut harness);
    assert_eq!(harness.state().run_report().unwrap().outcome, RunOutcome::Done);
    assert_eq!(sink_bytes(dir.path()), expected);

    // The replay writes nothing: its sink nodes say "captured".
    click(&mut harness, "⏭ To end");
    wait_for(&mut harness, "the end", |v| v.status == eddy::session::Status::Ended);
    let captured = format!("{} captured", lines(0));
    assert!(harness.query_by_label_contains(&captured).is_some(), "no `{captured}` on the canvas");
    let written = format!("{} written", lines(0));
    assert!(harness.query_all_by_label_contains(&written).next().is_none(), "`{written}` on the canvas");

    // A sink selected, the Data tab lists the last items it received: what `eddy run` wrote.
    click_node(&mut harness, "per_user");
    click(&mut harness, "Data");
    harness.get_by_label(&format!("Into sink `per_user` (last {})", lines(0)));
    let view = harness.state().replay_view().unwrap().clone();
    let sink = harness.state().current_doc().sinks.iter().find(|s| s.id == "per_user").unwrap().clone();
    let (items, unseen) = sink_items(&view.previews, &sink);
    assert!(unseen.is_empty());
    // A keyed item is written as `[key, value]`.
    let values: Vec<serde_json::Value> =
        items.iter().map(|i| serde_json::json!([i.key.clone().unwrap(), i.value.clone()])).collect();
    let written: Vec<serde_json::Value> =
        String::from_utf8_lossy(&expected[0]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(values, written);
}

#[test]
fn a_run_whose_output_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("user_stats", dir.path());
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replace("path = \"out/user_stats_per_user.jsonl\"", "path = \"purchases.jsonl\"");
    std::fs::write(&file, text).unwrap();
    let input = std::fs::read(dir.path().join("purchases.jsonl")).unwrap();
    let mut harness = open(&file, config.path());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    harness.run_steps(4);
    assert!(!harness.state().is_running());
    assert!(harness.state().run_report().is_none());
    assert!(harness.query_by_label_contains("cannot run: ").is_some(), "no refusal shown");
    assert_eq!(std::fs::read(dir.path().join("purchases.jsonl")).unwrap(), input);
    assert!(!dir.path().join(SINKS[1]).exists(), "a refused run opened a sink");
}

#[test]
fn a_stdout_sink_run_from_the_workbench_shows_its_lines_in_the_run_tab() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let file = example("sessions", dir.path());
    // The example's sink, sent to standard output instead of a file.
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replace("format = \"jsonl\"\npath = \"out/sessions.jsonl\"", "format = \"stdout\"");
    assert!(text.contains("format = \"stdout\""), "the example's sink changed: update this test");
    std::fs::write(&file, &text).unwrap();
    let out = eddy(&["run", "--quiet", "sessions.toml"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert!(!expected.is_empty());

    let mut harness = open(&file, config.path());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    harness.run_steps(2);
    wait_for_run(&mut harness);
    let report = harness.state().run_report().unwrap().clone();
    assert_eq!(report.outcome, RunOutcome::Done, "{}", report.summary);
    assert_eq!(report.stdout, vec![("sessions".to_owned(), expected.clone())]);
    click(&mut harness, "Run");
    harness.get_by_label(&format!("Standard output of sink `sessions` ({} lines)", expected.len()));
    harness.get_by_label(&expected[0]);
}
