//! The dropped-items ledger (docs/ledger.md) as `eddy run --ledger FILE` writes it: whole
//! files compared, on generated data with every reason and on the examples.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::{eddy, text};

/// A pipeline that drops items for every reason: a filter, a filter_map, a branch whose
/// `falses` nothing reads, a `complete` join left unmatched, a DISCARD, a timer pending at
/// the end, and a bad row dead-lettered.
const PIPELINE: &str = r#"
format_version = 1

[[sources]]
id = "events"
path = "events.jsonl"
format = "jsonl"
time_field = "ts"
on_bad_row = "dead_letter"
dead_letter_path = "bad.jsonl"

[[steps]]
id = "real"
op = "filter"
inputs = ["events"]
script = 'fn predicate(x) { x.kind != "noise" }'

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["real"]
field = "user"

[[steps]]
id = "split"
op = "branch"
inputs = ["by_user"]
script = 'fn predicate(x) { x[1].kind == "click" }'

[[steps]]
id = "buys"
op = "filter_value"
inputs = ["by_user"]
script = 'fn predicate(v) { v.kind == "buy" }'

[[steps]]
id = "match"
op = "join"
inputs = ["split.trues", "buys"]
emit_mode = "complete"

[[steps]]
id = "session"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { #{ count: 0 } }
fn on_item(v) {
    this.count += 1;
    if v.kind == "buy" { [[this.count], DISCARD] } else { [[], RETAIN] }
}
fn notify_at() { now() + secs(10) }
'''

[[steps]]
id = "big"
op = "filter_map"
inputs = ["real"]
script = 'fn mapper(x) { if x.n > 2 { x.n } else { () } }'

[[sinks]]
id = "matched"
inputs = ["match"]
format = "jsonl"
path = "out/match.jsonl"

[[sinks]]
id = "sessions"
inputs = ["session"]
format = "jsonl"
path = "out/session.jsonl"

[[sinks]]
id = "bigs"
inputs = ["big"]
format = "jsonl"
path = "out/big.jsonl"
"#;

const EVENTS: &str = r#"{"ts":"2024-01-01T00:00:00Z","user":"a","kind":"click","n":1}
{"ts":"2024-01-01T00:00:01Z","user":"b","kind":"noise","n":2}
not json
{"ts":"2024-01-01T00:00:02Z","user":"a","kind":"buy","n":3}
{"ts":"2024-01-01T00:00:03Z","user":"c","kind":"click","n":4}
"#;

/// The folder of [`PIPELINE`] and its events.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
    std::fs::write(dir.path().join("events.jsonl"), EVENTS).unwrap();
    dir
}

fn ledger_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

fn event(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

#[test]
fn the_ledger_lists_every_drop_in_order_with_its_reason() {
    let dir = workspace();
    let run = eddy(&["run", "p.toml", "--ledger", "ledger.jsonl"], dir.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let lines: Vec<&str> = EVENTS.lines().collect();
    let (click_a, noise_b, buy_a, click_c) =
        (event(lines[0]), event(lines[1]), event(lines[3]), event(lines[4]));
    let bad_row = ledger_lines(&dir.path().join("bad.jsonl")).remove(0);
    let expected = vec![
        // Event 1: a's click is no buy, and n = 1 is too small.
        json!({"step": "buys", "reason": "filtered", "key": "a", "event": 1, "item": click_a}),
        json!({"step": "big", "reason": "filtered", "key": null, "event": 1, "item": click_a}),
        // Event 2: noise.
        json!({"step": "real", "reason": "filtered", "key": null, "event": 2, "item": noise_b}),
        // Event 3: the bad row read before it, then a's buy goes to `falses` (read by nothing)
        // and a's session is DISCARDed with its state.
        json!({"step": "events", "reason": "bad_row", "key": null, "event": 3, "item": {
            "line": 3, "column": bad_row["column"], "reason": bad_row["reason"], "raw": "not json"}}),
        json!({"step": "split", "reason": "no_sink", "key": "a", "event": 3, "item": buy_a}),
        json!({"step": "session", "reason": "discarded", "key": "a", "event": 3, "item": {"count": 2}}),
        // Event 4: c's click is no buy.
        json!({"step": "buys", "reason": "filtered", "key": "c", "event": 4, "item": click_c}),
        // End of input (step 5): c's click never met a buy; c's session timer never fires.
        json!({"step": "match", "reason": "unmatched", "key": "c", "event": 5, "item": [[click_c], []]}),
        json!({"step": "session", "reason": "pending_timer", "key": "c", "event": 5,
            "item": {"due": "2024-01-01T00:00:13Z"}}),
    ];
    assert_eq!(ledger_lines(&dir.path().join("ledger.jsonl")), expected);
    assert_eq!(bad_row["raw"], "not json", "the bad row still reaches the dead-letter file");
    // The summary counts the same, per step and reason.
    let stderr = text(&run.stderr);
    for line in [
        "drops  real                 1 filtered",
        "drops  split                1 no_sink",
        "drops  buys                 2 filtered",
        "drops  match                1 unmatched",
        "drops  session              1 discarded, 1 pending_timer",
        "drops  big                  1 filtered",
    ] {
        assert!(stderr.contains(line), "summary lacks `{line}`: {stderr}");
    }
    // Twice the same bytes; the sinks are what they are without the ledger.
    let first = std::fs::read(dir.path().join("ledger.jsonl")).unwrap();
    let sinks = |dir: &Path| {
        ["match", "session", "big"].map(|s| std::fs::read(dir.join(format!("out/{s}.jsonl"))).unwrap())
    };
    let with_ledger = sinks(dir.path());
    let again = eddy(&["run", "-q", "p.toml", "--ledger", "ledger.jsonl"], dir.path());
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(std::fs::read(dir.path().join("ledger.jsonl")).unwrap(), first);
    let without = eddy(&["run", "-q", "p.toml"], dir.path());
    assert_eq!(without.status.code(), Some(0));
    assert_eq!(sinks(dir.path()), with_ledger);
}

#[test]
fn counts_are_in_the_summary_without_the_ledger_too() {
    let dir = workspace();
    let run = eddy(&["run", "p.toml"], dir.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("drops  session              1 discarded, 1 pending_timer"), "{stderr}");
    assert!(stderr.contains("1 bad rows dead-lettered"), "{stderr}");
    assert!(!dir.path().join("ledger.jsonl").exists());
}

#[test]
fn a_ledger_path_the_run_reads_or_writes_is_refused_and_left_alone() {
    let dir = workspace();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/match.jsonl"), "keep me\n").unwrap();
    std::fs::write(dir.path().join("bad.jsonl"), "keep me too\n").unwrap();
    for (path, role) in [
        ("out/match.jsonl", "sink `matched`"),
        ("events.jsonl", "source `events`"),
        ("bad.jsonl", "writes its bad rows"),
        ("p.toml", "pipeline"),
    ] {
        let before = std::fs::read(dir.path().join(path)).unwrap();
        let run = eddy(&["run", "-q", "p.toml", "--ledger", path], dir.path());
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{path}: {stderr}");
        assert!(stderr.contains("--ledger") && stderr.contains(path), "{path}: {stderr}");
        assert!(stderr.contains(role), "{path}: the message names the file's role ({role}): {stderr}");
        assert_eq!(std::fs::read(dir.path().join(path)).unwrap(), before, "{path} was touched");
    }
    let run = eddy(&["run", "-q", "p.toml", "--ledger", "l.jsonl", "--record", "l.jsonl"], dir.path());
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(!dir.path().join("l.jsonl").exists());
}

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

#[test]
fn the_user_stats_example_ledger_is_every_purchase_not_completed() {
    let work = tempfile::tempdir().unwrap();
    for file in ["user_stats.toml", "purchases.jsonl"] {
        std::fs::copy(assets().join(file), work.path().join(file)).unwrap();
    }
    let run = eddy(&["run", "-q", "user_stats.toml", "--ledger", "ledger.jsonl"], work.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    // Derived from the input alone: the filter keeps `completed` purchases.
    let purchases = std::fs::read_to_string(work.path().join("purchases.jsonl")).unwrap();
    let expected: Vec<Value> = purchases
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let record = event(line);
            (record["status"] != "completed").then(|| {
                json!({"step": "completed", "reason": "filtered", "key": null, "event": i + 1, "item": record})
            })
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ledger_lines(&work.path().join("ledger.jsonl")), expected);
}
