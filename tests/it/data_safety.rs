//! Nothing lost: through the real binary, every way found to destroy or mix data with exit 0
//! is refused (README, "Snapshots and recovery" and "Values and files").

use std::path::Path;
use std::process::Command;

use crate::util::{eddy, text};

/// 200 JSON Lines events over 7 users, one a second.
fn events() -> String {
    (0..200)
        .map(|i| format!("{{\"user\":\"u{}\",\"value\":{},\"ts\":{}}}\n", i % 7, i, 1_700_000_000 + i))
        .collect()
}

/// A folder with `e.jsonl` (the events) and `out/`, and a pipeline `p.toml` whose source and
/// sinks are the given TOML tables.
fn folder(tables: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.jsonl"), events()).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("p.toml"), pipeline(tables)).unwrap();
    dir
}

fn pipeline(tables: &str) -> String {
    format!(
        r#"format_version = 1
{tables}

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "total"
op = "stateful_map"
inputs = ["by_user"]
builtin = "sum"
field = "value"
"#
    )
}

const SOURCE: &str = r#"
[[sources]]
id = "events"
path = "e.jsonl"
time_field = "ts"
time_format = "unix_s"
"#;

fn sink(id: &str, format: &str, path: &str) -> String {
    format!("\n[[sinks]]\nid = \"{id}\"\ninputs = [\"total\"]\nformat = \"{format}\"\npath = \"{path}\"\n")
}

/// `eddy check` and `eddy run` both exit 2 naming `expected` (each part), and no file of the
/// folder changed (nothing was opened for writing).
fn refused(dir: &Path, run_args: &[&str], expected: &[&str]) {
    let before = files(dir);
    let check = eddy(&["check", "p.toml"], dir);
    let run = eddy(run_args, dir);
    for (what, output) in [("check", &check), ("run", &run)] {
        let message = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{what} must refuse: {message}");
        for part in expected {
            assert!(message.contains(part), "{what}: `{part}` missing from: {message}");
        }
    }
    assert_eq!(files(dir), before, "a refused run changed files");
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.push((path.strip_prefix(dir).unwrap().display().to_string(), bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_output_on_an_input_is_refused_however_it_is_spelt() {
    // A sink on its own source: plainly, with `./`, through `..`, through a symlink.
    for path in ["e.jsonl", "./e.jsonl", "out/../e.jsonl", "link.jsonl"] {
        let dir = folder(&format!("{SOURCE}{}", sink("copy", "jsonl", path)));
        std::os::unix::fs::symlink("e.jsonl", dir.path().join("link.jsonl")).unwrap();
        refused(dir.path(), &["run", "p.toml"], &["sink `copy`", "source `events` reads", "e.jsonl"]);
    }
    // A dead-letter file on the source itself.
    let dead = SOURCE.replace(
        "time_format = \"unix_s\"",
        "time_format = \"unix_s\"\non_bad_row = \"dead_letter\"\ndead_letter_path = \"./e.jsonl\"",
    );
    let dir = folder(&format!("{dead}{}", sink("out", "jsonl", "out/x.jsonl")));
    refused(dir.path(), &["run", "p.toml"], &["source `events`", "dead_letter_path", "e.jsonl"]);
    // A sink on the pipeline file.
    let dir = folder(&format!("{SOURCE}{}", sink("over", "csv", "p.toml")));
    refused(dir.path(), &["run", "p.toml"], &["sink `over`", "the pipeline file", "p.toml"]);
}

#[test]
fn two_outputs_on_one_file_are_refused() {
    let two_sinks =
        format!("{SOURCE}{}{}", sink("a", "jsonl", "out/x.jsonl"), sink("b", "jsonl", "out/../out/x.jsonl"));
    let dir = folder(&two_sinks);
    refused(dir.path(), &["run", "p.toml"], &["sink `b`", "sink `a` writes too", "out/x.jsonl"]);

    let csv_and_jsonl = format!("{SOURCE}{}{}", sink("a", "jsonl", "out/x"), sink("b", "csv", "out/x"));
    let dir = folder(&csv_and_jsonl);
    refused(dir.path(), &["run", "p.toml"], &["sink `b`", "sink `a`", "out/x"]);

    let dead = SOURCE.replace(
        "time_format = \"unix_s\"",
        "time_format = \"unix_s\"\non_bad_row = \"dead_letter\"\ndead_letter_path = \"out/bad.jsonl\"",
    );
    let dir = folder(&format!("{dead}{}", sink("a", "jsonl", "out/bad.jsonl")));
    refused(
        dir.path(),
        &["run", "p.toml"],
        &["sink `a`", "source `events` writes its bad rows", "bad.jsonl"],
    );
}

#[test]
fn a_sink_inside_the_snapshot_folder_is_refused() {
    let dir = folder(&format!("{SOURCE}{}", sink("a", "jsonl", "snaps/snapshot-000000000010.json")));
    let before = files(dir.path());
    let run = eddy(&["run", "p.toml", "--snapshot-every", "10", "--snapshot-dir", "snaps"], dir.path());
    let message = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{message}");
    assert!(message.contains("sink `a`") && message.contains("inside the snapshot folder"), "{message}");
    assert_eq!(files(dir.path()), before);
}

/// The folder after a run stopped at event 150 with snapshots every 50.
fn interrupted(tables: &str) -> tempfile::TempDir {
    let dir = folder(tables);
    let first = eddy(
        &["run", "-q", "p.toml", "--snapshot-every", "50", "--snapshot-dir", "snaps", "--stop-after", "150"],
        dir.path(),
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    dir
}

#[test]
fn a_resume_against_an_edited_pipeline_names_what_changed() {
    let tables = format!("{SOURCE}{}", sink("out", "csv", "out/total.csv"));
    let edits: [(&str, &str, &[&str]); 4] = [
        ("bad-row policy", "on_bad_row = \"skip\"\n", &["source `events`: `on_bad_row` changed"]),
        ("sink format", "", &["sink `out`: `format` changed (was \"csv\", now \"jsonl\")"]),
        ("source path", "", &["source `events`: `path` changed"]),
        ("script", "", &["step `total`: `builtin` changed"]),
    ];
    for (what, extra, expected) in edits {
        let dir = interrupted(&tables);
        let edited = match what {
            "bad-row policy" => pipeline(&format!("{SOURCE}{extra}{}", sink("out", "csv", "out/total.csv"))),
            "sink format" => pipeline(&format!("{SOURCE}{}", sink("out", "jsonl", "out/total.csv"))),
            "source path" => {
                std::fs::copy(dir.path().join("e.jsonl"), dir.path().join("f.jsonl")).unwrap();
                pipeline(&format!(
                    "{}{}",
                    SOURCE.replace("e.jsonl", "f.jsonl"),
                    sink("out", "csv", "out/total.csv")
                ))
            }
            _ => pipeline(&format!("{SOURCE}{}", sink("out", "csv", "out/total.csv")))
                .replace("\"sum\"", "\"max\""),
        };
        std::fs::write(dir.path().join("p.toml"), edited).unwrap();
        let before = files(dir.path());
        let resumed = eddy(&["run", "p.toml", "--resume", "snaps"], dir.path());
        let message = text(&resumed.stderr);
        assert_eq!(resumed.status.code(), Some(1), "{what}: {message}");
        assert!(message.contains("snapshot-000000000150.json"), "{what}: names the file: {message}");
        for part in expected {
            assert!(message.contains(part), "{what}: `{part}` missing from: {message}");
        }
        assert_eq!(files(dir.path()), before, "{what}: a refused resume changed files");
    }
}

#[test]
fn a_resume_against_a_changed_input_is_refused() {
    let tables = format!("{SOURCE}{}", sink("out", "jsonl", "out/total.jsonl"));
    // Shorter: the snapshot had read 150 rows, the file now has 100.
    let dir = interrupted(&tables);
    let short: String = events().lines().take(100).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("e.jsonl"), short).unwrap();
    let resumed = eddy(&["run", "p.toml", "--resume", "snaps"], dir.path());
    let message = text(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "{message}");
    assert!(
        message.contains("source `events`") && message.contains("changed since the snapshot"),
        "{message}"
    );
    // Same length, one value changed inside what was read.
    let dir = interrupted(&tables);
    let edited = events().replacen("\"value\":42,", "\"value\":43,", 1);
    std::fs::write(dir.path().join("e.jsonl"), edited).unwrap();
    let resumed = eddy(&["run", "p.toml", "--resume", "snaps"], dir.path());
    let message = text(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "{message}");
    assert!(message.contains("are not what they were") && message.contains("150 rows"), "{message}");
    // Rows appended after what was read are fine: the run goes on to the end.
    let dir = interrupted(&tables);
    let longer = format!("{}{{\"user\":\"u9\",\"value\":1,\"ts\":1700000999}}\n", events());
    std::fs::write(dir.path().join("e.jsonl"), longer).unwrap();
    let resumed = eddy(&["run", "-q", "p.toml", "--resume", "snaps"], dir.path());
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    let lines = std::fs::read_to_string(dir.path().join("out/total.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 201);
}

#[test]
fn a_snapshot_folder_of_another_run_is_refused_and_resuming_keeps_it_one_run() {
    let tables = format!("{SOURCE}{}", sink("out", "jsonl", "out/total.jsonl"));
    let dir = interrupted(&tables);
    let snaps = dir.path().join("snaps");
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&snaps),
        ["snapshot-000000000050.json", "snapshot-000000000100.json", "snapshot-000000000150.json"]
    );
    // A fresh run into the used folder is refused, and nothing is touched.
    let before = files(dir.path());
    let fresh = eddy(&["run", "p.toml", "--snapshot-every", "30", "--snapshot-dir", "snaps"], dir.path());
    let message = text(&fresh.stderr);
    assert_eq!(fresh.status.code(), Some(1), "{message}");
    assert!(message.contains("another run") && message.contains("--overwrite-snapshots"), "{message}");
    assert_eq!(files(dir.path()), before);

    // Leftovers of a write killed half-way are removed by the next run into the folder.
    std::fs::write(snaps.join(".snapshot-Ab12Cd.tmp"), "{\"half").unwrap();
    // Resuming from an earlier snapshot drops the later ones (their sink bytes are cut back),
    // so the folder's latest is this run's.
    let resumed = eddy(
        &[
            "run",
            "-q",
            "p.toml",
            "--resume",
            "snaps/snapshot-000000000050.json",
            "--snapshot-every",
            "70",
            "--snapshot-dir",
            "snaps",
            "--stop-after",
            "120",
        ],
        dir.path(),
    );
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert_eq!(names(&snaps), ["snapshot-000000000050.json", "snapshot-000000000070.json"]);
    let last = eddy(&["run", "-q", "p.toml", "--resume", "snaps"], dir.path());
    assert_eq!(last.status.code(), Some(0), "{}", text(&last.stderr));

    // With --overwrite-snapshots a fresh run replaces them.
    let over = eddy(
        &[
            "run",
            "-q",
            "p.toml",
            "--snapshot-every",
            "90",
            "--snapshot-dir",
            "snaps",
            "--overwrite-snapshots",
        ],
        dir.path(),
    );
    assert_eq!(over.status.code(), Some(0), "{}", text(&over.stderr));
    assert_eq!(names(&snaps), ["snapshot-000000000090.json", "snapshot-000000000180.json"]);

    // The output of every path equals one uninterrupted run's.
    let one = folder(&tables);
    assert_eq!(eddy(&["run", "-q", "p.toml"], one.path()).status.code(), Some(0));
    assert_eq!(
        std::fs::read(dir.path().join("out/total.jsonl")).unwrap(),
        std::fs::read(one.path().join("out/total.jsonl")).unwrap()
    );
}

#[test]
fn the_built_in_sum_refuses_a_string_in_the_row_that_brings_it() {
    let dir = folder(&format!("{SOURCE}{}", sink("out", "jsonl", "out/total.jsonl")));
    // u3's first value (row 4) is a string; u5's first value (row 6) a numeric string.
    let rows = events().replacen("\"value\":3,", "\"value\":\"abc\",", 1);
    std::fs::write(dir.path().join("e.jsonl"), &rows).unwrap();
    let run = eddy(&["run", "p.toml"], dir.path());
    let message = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{message}");
    assert!(message.contains("takes numbers, not a string") && message.contains("line 4"), "{message}");
    // It names the built-in, not a script function the user would look for.
    assert!(message.contains("step `total`, built-in `sum`:"), "{message}");
    let rows = events().replacen("\"value\":5,", "\"value\":\"3\",", 1);
    std::fs::write(dir.path().join("e.jsonl"), &rows).unwrap();
    let run = eddy(&["run", "p.toml"], dir.path());
    let message = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{message}");
    assert!(message.contains("takes numbers, not a string") && message.contains("line 6"), "{message}");
}

#[test]
fn a_stdout_sink_with_stdout_closed_fails() {
    let stdout_sink = "\n[[sinks]]\nid = \"screen\"\ninputs = [\"total\"]\nformat = \"stdout\"\n";
    let dir = folder(&format!("{SOURCE}{stdout_sink}"));
    let closed = Command::new("sh")
        .arg("-c")
        .arg(format!("exec '{}' run p.toml >&-", env!("CARGO_BIN_EXE_eddy")))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let message = text(&closed.stderr);
    assert_eq!(closed.status.code(), Some(1), "{message}");
    assert!(message.contains("sink `screen`") && message.contains("standard output is closed"), "{message}");
    // To /dev/null on purpose is fine.
    let null = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["run", "-q", "p.toml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(null.code(), Some(0));
}

#[test]
fn a_broken_json_array_under_skip_says_why_skip_cannot_help() {
    let dir = folder(&format!(
        "{}{}",
        SOURCE
            .replace("e.jsonl", "e.json")
            .replace("time_format = \"unix_s\"", "time_format = \"unix_s\"\non_bad_row = \"skip\""),
        sink("out", "jsonl", "out/total.jsonl")
    ));
    std::fs::write(dir.path().join("e.json"), "[{\"user\":\"a\",\"value\":1,\"ts\":1},\n{\"user\":\"b\",\n")
        .unwrap();
    let run = eddy(&["run", "p.toml"], dir.path());
    let message = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{message}");
    assert!(
        message.contains("source `events`: cannot read past") && message.contains("e.json:3"),
        "{message}"
    );
    assert!(message.contains("no on_bad_row policy can skip this"), "{message}");
    assert!(!message.contains("set on_bad_row"), "must not suggest what is already set: {message}");
}
