//! Scripts' `print` and `debug`: in `eddy run` on stderr, each prefixed with its step, key and
//! event (stdout untouched); in the workbench, in the Log, filterable.

use std::path::{Path, PathBuf};

use super::util::{eddy, text};

/// A pipeline whose stateful step prints every item and debugs the second of each key.
pub fn printing_pipeline(dir: &Path) -> PathBuf {
    let events = [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("b", 5)];
    let mut lines = String::new();
    for (i, (user, value)) in events.iter().enumerate() {
        lines.push_str(&format!(
            "{{\"ts\": \"2024-01-01T00:00:0{i}Z\", \"user\": \"{user}\", \"value\": {value}}}\n"
        ));
    }
    std::fs::write(dir.join("events.jsonl"), lines).unwrap();
    let file = dir.join("prints.toml");
    std::fs::write(
        &file,
        r#"format_version = 1

[[sources]]
id = "events"
path = "events.jsonl"
time_field = "ts"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "count"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) {
    let n = (state ?? 0) + 1;
    print(`value ${e.value}, n ${n}`);
    if n == 2 { debug("second"); }
    [n, n]
}
'''

[[sinks]]
id = "out"
inputs = ["count"]
format = "stdout"
"#,
    )
    .unwrap();
    file
}

#[test]
fn eddy_run_prints_to_stderr_with_step_key_and_event() {
    let dir = tempfile::tempdir().unwrap();
    printing_pipeline(dir.path());
    let out = eddy(&["run", "--quiet", "prints.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "[script] step `count`, key \"a\", event 1: value 1, n 1\n\
         [script] step `count`, key \"b\", event 2: value 2, n 1\n\
         [script] step `count`, key \"a\", event 3: value 3, n 2\n\
         [script debug] step `count`, key \"a\", event 3, line 4: \"second\"\n\
         [script] step `count`, key \"a\", event 4: value 4, n 3\n\
         [script] step `count`, key \"b\", event 5: value 5, n 2\n\
         [script debug] step `count`, key \"b\", event 5, line 4: \"second\"\n"
    );
    // stdout carries only the sink's lines.
    assert_eq!(text(&out.stdout).lines().count(), 5);
}

#[cfg(feature = "gui")]
mod in_the_workbench {
    use eddy::session::{LogKind, Status};
    use eddy::ui::panels::timers_ui::{LogFilter, log_text};
    use egui_kittest::kittest::Queryable;

    use super::super::ui_util::{click, open, wait_for};
    use super::printing_pipeline;

    #[test]
    fn print_and_debug_reach_the_log_with_step_key_and_event_and_can_be_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let config = tempfile::tempdir().unwrap();
        let file = printing_pipeline(dir.path());
        let mut harness = open(&file, config.path());
        click(&mut harness, "⏭ To end");
        wait_for(&mut harness, "the end", |v| v.status == Status::Ended);
        let view = harness.state().replay_view().unwrap().clone();
        let prints: Vec<(u64, String)> = view
            .log
            .iter()
            .filter(|e| matches!(e.kind, LogKind::Print { .. }))
            .map(|e| (e.position, log_text(&e.kind).0))
            .collect();
        let expected = [
            (1, "print `count` key \"a\": value 1, n 1"),
            (2, "print `count` key \"b\": value 2, n 1"),
            (3, "print `count` key \"a\": value 3, n 2"),
            (3, "debug `count` key \"a\" line 4: \"second\""),
            (4, "print `count` key \"a\": value 4, n 3"),
            (5, "print `count` key \"b\": value 5, n 2"),
            (5, "debug `count` key \"b\" line 4: \"second\""),
        ];
        assert_eq!(prints, expected.map(|(p, t)| (p, t.to_owned())).to_vec());

        click(&mut harness, "Log");
        for (_, text) in &expected {
            harness.get_by_label(text);
        }
        // Unticked, the prints leave the Log; ticked again, they come back.
        click(&mut harness, "print / debug");
        assert!(harness.query_by_label(expected[0].1).is_none());
        click(&mut harness, "print / debug");
        harness.get_by_label(expected[0].1);
        // No stepping back prints again: a seek replays silently.
        click(&mut harness, "◀ Back");
        wait_for(&mut harness, "event 4", |v| v.status == Status::Paused && v.position == 4);
        let again = harness
            .state()
            .replay_view()
            .unwrap()
            .log
            .iter()
            .filter(|e| matches!(e.kind, LogKind::Print { .. }))
            .count();
        assert_eq!(again, expected.len());

        // The text filter matches step, key or message, ignoring case.
        let filter = LogFilter { text: "KEY \"B\"".into(), ..LogFilter::default() };
        let kept: Vec<&str> = expected
            .iter()
            .map(|(_, t)| *t)
            .filter(|t| {
                filter.passes(
                    &LogKind::Print {
                        step: "count".into(),
                        key: None,
                        line: None,
                        debug: false,
                        text: String::new(),
                    },
                    t,
                )
            })
            .collect();
        assert_eq!(kept, vec![expected[1].1, expected[5].1, expected[6].1]);
        let timers_only = LogFilter { prints: false, ..LogFilter::default() };
        assert!(!timers_only.passes(
            &LogKind::Print { step: "count".into(), key: None, line: None, debug: true, text: String::new() },
            "x"
        ));
    }
}
