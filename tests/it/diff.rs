//! `eddy diff a.toml b.toml`: two versions of a pipeline replayed in lockstep on one input,
//! compared event by event (README, "Comparing two versions"). Whole printed outputs where
//! they are deterministic; the sinks are never written.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::util::{eddy, text};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A click log and a pipeline counting, per user, the clicks worth more than 5.
const PIPELINE: &str = r#"format_version = 1

[[sources]]
id = "clicks"
path = "clicks.csv"
time_field = "ts"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["clicks"]
field = "user"

[[steps]]
id = "big"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, click) {
    let n = state ?? 0;
    if click.value > 5 { n += 1; }
    [n, n]
}
'''

[[sinks]]
id = "out"
inputs = ["big"]
format = "jsonl"
path = "out.jsonl"
"#;

const CLICKS: &str = "ts,user,value\n\
    2024-01-01T00:00:00Z,ann,3\n\
    2024-01-01T00:00:01Z,bob,7\n\
    2024-01-01T00:00:02Z,ann,6\n\
    2024-01-01T00:00:03Z,bob,2\n\
    2024-01-01T00:00:04Z,ann,6\n";

/// A folder with the click log, `a.toml` (the pipeline) and `b.toml` (`a` with `edit` applied).
fn two_versions(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clicks.csv"), CLICKS).unwrap();
    std::fs::write(dir.path().join("a.toml"), PIPELINE).unwrap();
    let b = edit(PIPELINE);
    std::fs::write(dir.path().join("b.toml"), b).unwrap();
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_example_and_conformance_scenario_agrees_with_itself_and_nothing_is_written() {
    let mut pipelines: Vec<PathBuf> = std::fs::read_dir(root().join("assets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    let scenarios: Vec<PathBuf> = std::fs::read_dir(root().join("tests").join("conformance"))
        .unwrap()
        .map(|e| e.unwrap().path().join("pipeline.toml"))
        .collect();
    assert!(pipelines.len() >= 4 && scenarios.len() >= 20, "examples or scenarios missing");
    pipelines.extend(scenarios);
    pipelines.sort();
    let elsewhere = tempfile::tempdir().unwrap();
    for pipeline in &pipelines {
        let before = files(pipeline.parent().unwrap());
        let file = pipeline.to_str().unwrap();
        let output = eddy(&["diff", file, file], elsewhere.path());
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{file}: {stdout}{}", text(&output.stderr));
        assert!(output.stderr.is_empty(), "{file}: {}", text(&output.stderr));
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{file}: {stdout}");
        assert_eq!(lines[0], format!("a: {file}"));
        assert_eq!(lines[1], format!("b: {file}"));
        let agree = lines[2].strip_prefix("they agree: ").unwrap_or_else(|| panic!("{file}: {stdout}"));
        let events = agree.strip_suffix(" events and end of input compared, nothing differs").unwrap();
        assert!(events.parse::<u64>().is_ok(), "{file}: {stdout}");
        assert_eq!(files(pipeline.parent().unwrap()), before, "{file}: eddy diff wrote a file");
    }
    assert!(files(elsewhere.path()).is_empty(), "eddy diff wrote into its working folder");
}

#[test]
fn a_one_character_script_change_is_reported_at_its_exact_first_event() {
    // `> 5` becomes `> 6`: the first click worth exactly 6 is the third event (line 4).
    let dir = two_versions(|a| a.replacen("> 5", "> 6", 1));
    let output = eddy(&["diff", "a.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        r#"a: a.toml
b: b.toml
they differ at 2 of 6 events; 5 events and end of input compared

first divergence at event 3 (source `clicks`, line 4, time 2024-01-01T00:00:02Z)
  step `big`, key "ann"
    state before  a: 0
                  b: 0
    state after   a: 1
                  b: 0
    outputs       a: ["ann",1]
                  b: ["ann",0]
  also differing at this event: sink `out`

summary:
  step `big`: differs at 2 events (its outputs at 2); keys whose state differs: "ann" at 2
  sink `out`: receives different items at 2 events
"#
    );
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    assert_eq!(files(dir.path()), ["a.toml", "b.toml", "clicks.csv"], "no sink may be written");
}

#[test]
fn a_change_in_the_example_sessions_gap_is_found_at_the_first_gap_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sessions.toml", "clicks.csv"] {
        std::fs::copy(root().join("assets").join(name), dir.path().join(name)).unwrap();
    }
    let a = std::fs::read_to_string(dir.path().join("sessions.toml")).unwrap();
    let b = a.replacen("const GAP = mins(30);", "const GAP = mins(20);", 1);
    assert_ne!(a, b, "the sessions example changed shape; update this test");
    std::fs::write(dir.path().join("b.toml"), b).unwrap();
    // Independently: the first click that comes 20 to 30 minutes after the same user's last.
    let csv = std::fs::read_to_string(dir.path().join("clicks.csv")).unwrap();
    let mut last: std::collections::HashMap<String, chrono::DateTime<chrono::FixedOffset>> =
        Default::default();
    let mut expected = None;
    for (index, row) in csv.lines().skip(1).enumerate() {
        let cells: Vec<&str> = row.split(',').collect();
        let t = chrono::DateTime::parse_from_rfc3339(cells[0]).unwrap();
        if let Some(previous) = last.insert(cells[1].to_owned(), t) {
            let gap = t - previous;
            if gap > chrono::Duration::minutes(20)
                && gap <= chrono::Duration::minutes(30)
                && expected.is_none()
            {
                expected = Some((index + 1, cells[0].to_owned(), cells[1].to_owned()));
            }
        }
    }
    let (event, time, user) = expected.expect("the example has a gap between 20 and 30 minutes");
    let output = eddy(&["diff", "sessions.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let first = stdout.lines().find(|l| l.starts_with("first divergence")).unwrap();
    assert_eq!(
        first,
        format!("first divergence at event {event} (source `clicks`, line {}, time {time})", event + 1)
    );
    // Both versions close the session at that click (a logout), so no state differs after it:
    // what differs is what `sessionise` emits — b closes the session before by the gap.
    assert!(stdout.contains("\n  step `sessionise`: its outputs differ\n"), "{stdout}");
    let b_outputs = stdout.lines().find(|l| l.trim_start().starts_with("b: [")).unwrap();
    assert!(
        b_outputs.contains(&format!("[\"{user}\",{{")) && b_outputs.contains("\"ended_by\":\"gap\""),
        "{stdout}"
    );
    assert_eq!(files(dir.path()), ["b.toml", "clicks.csv", "sessions.toml"], "no sink may be written");
}

#[test]
fn max_events_and_json_give_the_summary_as_one_object() {
    let dir = two_versions(|a| a.replacen("> 5", "> 6", 1));
    let output = eddy(&["diff", "--json", "--max-events", "4", "a.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        value,
        json!({
            "a": "a.toml",
            "b": "b.toml",
            "differ": true,
            "events": 4,
            "end_of_input": false,
            "differing_events": 1,
            "first": {
                "at": { "event": 3, "source": "clicks", "line": 4, "time": "2024-01-01T00:00:02Z" },
                "spot": { "step": "big", "key": "ann" },
                "also": [{ "sink": "out" }],
                "a": { "state_before": 0, "state_after": 1, "outputs": [{ "port": 0, "item": ["ann", 1] }] },
                "b": { "state_before": 0, "state_after": 0, "outputs": [{ "port": 0, "item": ["ann", 0] }] },
            },
            "steps": [{ "step": "big", "events": 1, "output_events": 1, "keys": [["ann", 1]] }],
            "sinks": [{ "sink": "out", "events": 1 }],
            "only_in_a": { "steps": [], "sinks": [] },
            "only_in_b": { "steps": [], "sinks": [] },
        })
    );
    let before = eddy(&["diff", "--max-events", "2", "a.toml", "b.toml"], dir.path());
    assert_eq!(before.status.code(), Some(0));
    assert_eq!(
        text(&before.stdout),
        "a: a.toml\nb: b.toml\nthey agree: 2 events compared, not end of input (--max-events), nothing differs\n"
    );
}

#[test]
fn steps_and_sinks_of_one_version_only_are_listed() {
    // b passes the count through a renamed step into a renamed sink.
    let dir = two_versions(|a| {
        a.replace("id = \"out\"", "id = \"counts\"").replace(
            "[[sinks]]",
            "[[steps]]\nid = \"same\"\nop = \"inspect\"\ninputs = [\"big\"]\n\n[[sinks]]",
        )
    });
    let output = eddy(&["diff", "a.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "a: a.toml\nb: b.toml\nthey differ at 0 of 6 events; 5 events and end of input compared\n\
         only in a: sink `out`\nonly in b: step `same`, sink `counts`\n"
    );
    // A step added on the side changes nothing the two share: they agree.
    let dir = two_versions(|a| {
        a.replace("[[sinks]]", "[[steps]]\nid = \"extra\"\nop = \"inspect\"\ninputs = [\"big\"]\n\n[[sinks]]")
    });
    let output = eddy(&["diff", "a.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "a: a.toml\nb: b.toml\nthey agree: 5 events and end of input compared, nothing differs\n\
         only in b: step `extra`\n"
    );
}

/// How a case makes `b.toml` out of `a.toml`.
type Edit = Box<dyn Fn(&str) -> String>;

#[test]
fn bad_input_exits_2_naming_the_file_the_source_or_the_step_and_line() {
    let cases: [(&str, Edit, &str); 5] = [
        (
            "a missing file",
            Box::new(|a: &str| a.to_owned()),
            "error: missing.toml: 1 problem in the pipeline:\n  - missing.toml: cannot read the pipeline file",
        ),
        (
            "another input",
            Box::new(|a: &str| a.replace("path = \"clicks.csv\"", "path = \"other.csv\"")),
            "error: source `clicks` differs between a.toml and b.toml (it reads ",
        ),
        (
            "a script error",
            Box::new(|a: &str| a.replace("click.value > 5", "click.nothere.x > 5")),
            "error: b.toml: step `big`, function `mapper`, script line 3, column ",
        ),
        (
            "a live source",
            Box::new(|a: &str| a.replace("path = \"clicks.csv\"", "path = \"clicks.csv\"\nfollow = true")),
            "error: b.toml: source `clicks` is live (path = \"-\" or follow = true)",
        ),
        (
            "the machine's clock",
            Box::new(|a: &str| {
                a.replace("format_version = 1\n", "format_version = 1\n[clock]\nmode = \"wall\"\n")
            }),
            "error: b.toml: [clock] mode = \"wall\" reads the machine's clock",
        ),
    ];
    for (what, edit, expected) in cases {
        let dir = two_versions(edit);
        std::fs::write(dir.path().join("other.csv"), CLICKS).unwrap();
        let b = if what == "a missing file" { "missing.toml" } else { "b.toml" };
        let output = eddy(&["diff", "a.toml", b], dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.starts_with(expected), "{what}: {stderr}");
        assert!(output.stdout.is_empty(), "{what}: {}", text(&output.stdout));
        assert_eq!(
            files(dir.path()),
            ["a.toml", "b.toml", "clicks.csv", "other.csv"],
            "{what}: a file was written"
        );
    }
}

#[test]
fn versions_that_read_different_fields_agree_when_what_they_do_is_the_same() {
    // a reads only the key of each click; b also reads `value`, to the same effect. Each
    // version alone would leave different fields out of the records `by_user` passes on, so
    // both are replayed with whole records: `by_user`'s outputs are the same.
    let counting = |script: &str| {
        PIPELINE.replace(
            "    let n = state ?? 0;\n    if click.value > 5 { n += 1; }\n",
            &format!("    let n = state ?? 0;\n    {script}\n"),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clicks.csv"), CLICKS).unwrap();
    std::fs::write(dir.path().join("a.toml"), counting("n += 1;")).unwrap();
    std::fs::write(dir.path().join("b.toml"), counting("if click.value > -1 { n += 1; }")).unwrap();
    assert_ne!(counting("n += 1;"), PIPELINE, "the pipeline changed shape; update this test");
    let output = eddy(&["diff", "a.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "a: a.toml\nb: b.toml\nthey agree: 5 events and end of input compared, nothing differs\n"
    );
    // The same two, told apart where they differ: b now skips the click worth 2.
    std::fs::write(dir.path().join("b.toml"), counting("if click.value > 2 { n += 1; }")).unwrap();
    let output = eddy(&["diff", "--json", "a.toml", "b.toml"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["first"]["at"]["event"], json!(4), "{value}");
    assert_eq!(value["first"]["spot"], json!({ "step": "big", "key": "bob" }), "{value}");
    assert_eq!(value["steps"][0]["step"], json!("big"), "only `big` differs: {value}");
    assert_eq!(value["steps"].as_array().unwrap().len(), 1, "only `big` differs: {value}");
}

/// The first divergence's event and spots as `eddy diff --json` gives them, with the summary's
/// step counts.
fn first_of(dir: &Path) -> serde_json::Value {
    let output = eddy(&["diff", "--json", "a.toml", "b.toml"], dir);
    assert_eq!(output.status.code(), Some(1), "{}{}", text(&output.stdout), text(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json!({ "first": value["first"], "steps": value["steps"], "sinks": value["sinks"] })
}

#[test]
fn a_divergence_only_in_a_state_only_in_outputs_or_only_at_end_of_input_is_found_at_its_event() {
    // Only a state: `b` keeps the count as a float (`1` and `1.0` differ) and reads it back as
    // an int, so that it emits the same items: its states differ from the first event on.
    let dir = two_versions(|a| {
        a.replacen("[n, n]", "[n + 0.0, n]", 1).replacen("state ?? 0", "(state ?? 0).to_int()", 1)
    });
    assert_eq!(
        first_of(dir.path()),
        json!({
            "first": {
                "at": { "event": 1, "source": "clicks", "line": 2, "time": "2024-01-01T00:00:00Z" },
                "spot": { "step": "big", "key": "ann" },
                "also": [],
                "a": { "state_after": 0, "outputs": [{ "port": 0, "item": ["ann", 0] }] },
                "b": { "state_after": 0.0, "outputs": [{ "port": 0, "item": ["ann", 0] }] },
            },
            "steps": [{ "step": "big", "events": 5, "output_events": 0, "keys": [["ann", 3], ["bob", 2]] }],
            "sinks": [],
        })
    );
    // Only the outputs: the same states, the items emitted as floats.
    let dir = two_versions(|a| a.replacen("[n, n]", "[n, n + 0.0]", 1));
    assert_eq!(
        first_of(dir.path()),
        json!({
            "first": {
                "at": { "event": 1, "source": "clicks", "line": 2, "time": "2024-01-01T00:00:00Z" },
                "spot": { "step": "big", "outputs": true },
                "also": [{ "sink": "out" }],
                "a": { "outputs": [{ "port": 0, "item": ["ann", 0] }] },
                "b": { "outputs": [{ "port": 0, "item": ["ann", 0.0] }] },
            },
            "steps": [{ "step": "big", "events": 5, "output_events": 5, "keys": [] }],
            "sinks": [{ "sink": "out", "events": 5 }],
        })
    );
    // Only at end of input: a per-user total of the counts emitted (ann 0+1+2, bob 1+1),
    // shifted by one more in `b`.
    let totals = |shift: &str| {
        PIPELINE
            .replace(
                "[[sinks]]",
                &format!(
                    "[[steps]]\nid = \"total\"\nop = \"reduce_final\"\ninputs = [\"big\"]\nscript = '''\n\
                 fn reducer(acc, v) {{ acc + v }}\n'''\n\n[[steps]]\nid = \"shifted\"\nop = \"map_value\"\n\
                 inputs = [\"total\"]\nscript = '''\nfn mapper(v) {{ v {shift} }}\n'''\n\n[[sinks]]"
                ),
            )
            .replace("inputs = [\"big\"]\nformat", "inputs = [\"shifted\"]\nformat")
    };
    let dir = two_versions(|_| totals("+ 2"));
    std::fs::write(dir.path().join("a.toml"), totals("+ 1")).unwrap();
    assert_eq!(
        first_of(dir.path()),
        json!({
            "first": {
                "at": { "end_of_input": true, "after": 5 },
                "spot": { "step": "shifted", "outputs": true },
                "also": [{ "sink": "out" }],
                "a": { "outputs": [{ "port": 0, "item": ["ann", 4] }, { "port": 0, "item": ["bob", 3] }] },
                "b": { "outputs": [{ "port": 0, "item": ["ann", 5] }, { "port": 0, "item": ["bob", 4] }] },
            },
            "steps": [{ "step": "shifted", "events": 1, "output_events": 1, "keys": [] }],
            "sinks": [{ "sink": "out", "events": 1 }],
        })
    );
}
