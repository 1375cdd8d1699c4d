//! The workbench's *Run* as a library: `BackgroundRun` cancelled half-way leaves complete lines,
//! as many as it says it wrote, and says where it stopped.

use eddy::engine::{BackgroundRun, RunOutcome};
use eddy::graph::load_file;

#[test]
fn a_cancelled_run_leaves_complete_lines_and_says_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = String::new();
    for i in 0..300_000u64 {
        events.push_str(&format!(
            "{{\"ts\": {}, \"user\": \"u{}\", \"n\": {i}}}\n",
            1_700_000_000_000_000u64 + i,
            i % 7
        ));
    }
    std::fs::write(dir.path().join("events.jsonl"), events).unwrap();
    let file = dir.path().join("copy.toml");
    std::fs::write(
        &file,
        r#"format_version = 1

[[sources]]
id = "events"
path = "events.jsonl"
time_field = "ts"
time_format = "unix_us"

[[steps]]
id = "tag"
op = "map"
inputs = ["events"]
script = '''
fn mapper(v) { v.tagged = true; v }
'''

[[sinks]]
id = "out"
inputs = ["tag"]
path = "out/copy.jsonl"
"#,
    )
    .unwrap();
    let doc = load_file(&file).unwrap();
    let run = BackgroundRun::start(&doc, dir.path(), Some(&file)).unwrap();
    while run.progress().events < 1000 {
        std::thread::yield_now();
    }
    run.cancel();
    let report = run.wait();
    assert_eq!(report.outcome, RunOutcome::Cancelled, "{}", report.summary);
    assert!(report.events >= 1000 && report.events < 300_000, "{}", report.events);
    let written = std::fs::read_to_string(dir.path().join("out/copy.jsonl")).unwrap();
    assert!(written.ends_with('\n'));
    let lines: Vec<&str> = written.lines().collect();
    // One item per event: every event read before the cancel is written, whole.
    assert_eq!(lines.len() as u64, report.events);
    assert_eq!(report.sinks[0].1, report.events);
    for (i, line) in lines.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["n"], i as u64);
        assert_eq!(value["tagged"], true);
    }
    let headline = report.headline();
    let at = eddy::engine::thousands(report.events);
    assert!(headline.starts_with(&format!("Run cancelled after event {at} (clock 2023-")), "{headline}");
    assert!(report.summary.starts_with(&format!("stopped: {} events", report.events)), "{}", report.summary);
}
