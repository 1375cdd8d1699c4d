//! The `eddy` binary as a user runs it: exit codes, where output goes, byte-identical reruns.

use std::path::{Path, PathBuf};

use crate::util::{eddy, text};

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// A copy of assets/ in a temporary folder, so runs write their outputs there.
fn assets_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(assets()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn run_writes_the_sinks_twice_byte_identical_with_stdout_clean() {
    let work = assets_copy();
    for example in ["sessions", "user_stats", "orders_join", "sliding_window"] {
        let file = format!("{example}.toml");
        let first = eddy(&["run", &file], work.path());
        assert_eq!(first.status.code(), Some(0), "{example}: {}", text(&first.stderr));
        assert!(first.stdout.is_empty(), "{example}: stdout must only carry stdout sinks");
        assert!(text(&first.stderr).contains("done:"), "{example}: summary missing: {}", text(&first.stderr));
        let outputs: Vec<PathBuf> = std::fs::read_dir(work.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(example))
            .collect();
        assert!(!outputs.is_empty(), "{example}: no output file");
        let before: Vec<Vec<u8>> = outputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let second = eddy(&["run", "--quiet", &file], work.path());
        assert_eq!(second.status.code(), Some(0));
        assert!(second.stderr.is_empty(), "--quiet prints nothing: {}", text(&second.stderr));
        let after: Vec<Vec<u8>> = outputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert_eq!(before, after, "{example}: two runs differ");
    }
}

#[test]
fn run_works_from_any_folder_and_stdout_sinks_print_json_lines() {
    let work = assets_copy();
    let text_toml = std::fs::read_to_string(work.path().join("sessions.toml")).unwrap();
    let stdout_toml =
        text_toml.replace("format = \"jsonl\"\npath = \"out/sessions.jsonl\"", "format = \"stdout\"");
    assert_ne!(stdout_toml, text_toml, "the sessions example's sink changed shape; update this test");
    std::fs::write(work.path().join("stdout.toml"), stdout_toml).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = work.path().join("stdout.toml");
    let first = eddy(&["run", file.to_str().unwrap()], elsewhere.path());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let second = eddy(&["run", file.to_str().unwrap()], elsewhere.path());
    assert_eq!(first.stdout, second.stdout);
    let lines = text(&first.stdout);
    assert_eq!(lines.lines().count(), 19);
    for line in lines.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(value.is_array(), "{line}");
    }
}

#[test]
fn check_exit_codes_and_problem_list() {
    let work = assets_copy();
    let ok = eddy(&["check", "sessions.toml"], work.path());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("valid"));

    std::fs::write(
        work.path().join("bad.toml"),
        "format_version = 1\n[[steps]]\nid = \"x\"\nop = \"mapp\"\n",
    )
    .unwrap();
    let bad = eddy(&["check", "bad.toml"], work.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown operator `mapp` (did you mean `map`?)"),
        "{}",
        text(&bad.stderr)
    );
    let run = eddy(&["run", "bad.toml"], work.path());
    assert_eq!(run.status.code(), Some(2));

    let missing = eddy(&["run", "nope.toml"], work.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("nope.toml: cannot read the pipeline file"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn a_failed_run_exits_1() {
    let work = assets_copy();
    let clicks = std::fs::read_to_string(work.path().join("clicks.csv")).unwrap();
    let mut lines: Vec<&str> = clicks.lines().collect();
    lines.insert(3, "not,a,valid,row,at,all,really");
    std::fs::write(work.path().join("clicks.csv"), lines.join("\n") + "\n").unwrap();
    let run = eddy(&["run", "sessions.toml"], work.path());
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("clicks.csv:4"), "{}", text(&run.stderr));
}

#[test]
fn every_command_has_help() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for command in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["check", "--help"],
        vec!["bench", "--help"],
        vec!["open", "--help"],
    ] {
        let out = eddy(&command, here);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{command:?}: {}", text(&out.stdout));
    }
}

#[test]
fn without_a_display_the_workbench_points_at_eddy_run() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = eddy(&[], here);
    assert_ne!(out.status.code(), Some(0));
    let message = text(&out.stderr);
    assert!(message.contains("eddy run"), "{message}");
    assert!(message.contains("display") || message.contains("workbench"), "{message}");
}

#[test]
fn a_file_given_alone_opens_in_the_workbench_like_eddy_open() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [vec!["assets/user_stats.toml"], vec!["open", "assets/user_stats.toml"]] {
        let out = eddy(&args, here);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let message = text(&out.stderr);
        assert!(message.contains("no display found"), "{args:?}: {message}");
        assert!(message.contains("eddy run assets/user_stats.toml"), "{args:?}: {message}");
    }
}

/// Every file under `dir/out`, by name, with its bytes.
fn outputs(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snapshot-") && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// A pipeline whose CSV and JSON Lines sinks are written all along (not only at the end),
/// with a timer step, over 500 generated events.
fn running_outputs_pipeline() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts,user,value\n");
    for i in 0..500 {
        csv.push_str(&format!("2024-01-01T00:{:02}:{:02}Z,u{},{}\n", i / 60, i % 60, i % 7, i % 11));
    }
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    let pipeline = r#"format_version = 1
[[sources]]
id = "events"
path = "events.csv"
time_field = "ts"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) {
    let s = state ?? #{n: 0, total: 0};
    s.n += 1;
    s.total += e.value;
    [s, #{n: s.n, total: s.total, last: e.value}]
}
'''

[[steps]]
id = "batches"
op = "collect"
inputs = ["by_user"]
max_size = 4
timeout = "20s"

[[sinks]]
id = "table"
inputs = ["running"]
format = "csv"
path = "out/running.csv"

[[sinks]]
id = "lines"
inputs = ["batches"]
format = "jsonl"
path = "out/batches.jsonl"
"#;
    std::fs::write(dir.path().join("p.toml"), pipeline).unwrap();
    dir
}

/// Stopped (as if killed) after some events, then resumed from the snapshot folder, a run
/// writes exactly the files an uninterrupted run writes: output after the last snapshot is
/// cut back, not duplicated.
#[test]
fn run_interrupted_and_resumed_writes_what_one_run_writes() {
    let mut cases: Vec<(tempfile::TempDir, String)> =
        ["sessions", "user_stats", "orders_join", "sliding_window"]
            .into_iter()
            .map(|e| (assets_copy(), format!("{e}.toml")))
            .collect();
    cases.push((running_outputs_pipeline(), "p.toml".into()));
    for (work, file) in cases {
        let dir = work.path();
        let whole = eddy(&["run", "--quiet", &file], dir);
        assert_eq!(whole.status.code(), Some(0), "{file}: {}", text(&whole.stderr));
        let expected = outputs(dir);
        std::fs::remove_dir_all(dir.join("out")).unwrap();
        // Snapshots every 7 events; stopped at 17, then at 40, then to the end.
        let first = eddy(
            &[
                "run",
                "--quiet",
                &file,
                "--snapshot-every",
                "7",
                "--snapshot-dir",
                "snaps",
                "--stop-after",
                "17",
            ],
            dir,
        );
        assert_eq!(first.status.code(), Some(0), "{file}: {}", text(&first.stderr));
        assert!(snapshot_files(&dir.join("snaps")).len() <= 3, "{file}: only the last 3 snapshots are kept");
        let second = eddy(
            &[
                "run",
                "--quiet",
                &file,
                "--resume",
                "snaps",
                "--snapshot-every",
                "7",
                "--snapshot-dir",
                "snaps",
                "--stop-after",
                "40",
            ],
            dir,
        );
        assert_eq!(second.status.code(), Some(0), "{file}: {}", text(&second.stderr));
        let third = eddy(&["run", "--quiet", &file, "--resume", "snaps"], dir);
        assert_eq!(third.status.code(), Some(0), "{file}: {}", text(&third.stderr));
        assert_eq!(outputs(dir), expected, "{file}: interrupted and resumed differs from one run");
    }
}

#[test]
fn resume_refuses_another_pipelines_snapshot_and_a_corrupt_file() {
    let work = assets_copy();
    let dir = work.path();
    let first =
        eddy(&["run", "--quiet", "sessions.toml", "--snapshot-every", "5", "--snapshot-dir", "snaps"], dir);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let latest = snapshot_files(&dir.join("snaps")).pop().unwrap();
    let wrong = eddy(&["run", "--quiet", "user_stats.toml", "--resume", "snaps"], dir);
    assert_eq!(wrong.status.code(), Some(1));
    let message = text(&wrong.stderr);
    assert!(message.contains(&latest), "names the snapshot file: {message}");
    assert!(
        message.contains("differs in what decides the output") && message.contains("sessions.toml"),
        "{message}"
    );

    std::fs::write(dir.join("broken.json"), "{\"format\": \"eddy-snapshot\", \"format_ver").unwrap();
    let corrupt = eddy(&["run", "--quiet", "sessions.toml", "--resume", "broken.json"], dir);
    assert_eq!(corrupt.status.code(), Some(1));
    let message = text(&corrupt.stderr);
    assert!(message.contains("broken.json") && message.contains("not a snapshot file"), "{message}");

    std::fs::create_dir(dir.join("empty")).unwrap();
    let none = eddy(&["run", "--quiet", "sessions.toml", "--resume", "empty"], dir);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).contains("holds no snapshot file"), "{}", text(&none.stderr));

    let needs_dir = eddy(&["run", "sessions.toml", "--snapshot-every", "5"], dir);
    assert_eq!(needs_dir.status.code(), Some(2), "{}", text(&needs_dir.stderr));
}

/// A script reading a variable nothing defines (`v` inside `notify_at`) is a problem at its
/// line for `eddy check`, before any run; a top-level constant read in a function is fine.
#[test]
fn check_finds_an_undefined_variable_at_its_line() {
    let work = assets_copy();
    let pipeline = |notify_at: &str| {
        format!(
            "format_version = 1\n[[sources]]\nid = \"clicks\"\npath = \"clicks.csv\"\ntime_field = \"ts\"\n\
             [[steps]]\nid = \"by_user\"\nop = \"key_on\"\ninputs = [\"clicks\"]\nfield = \"user_id\"\n\
             [[steps]]\nid = \"sessions\"\nop = \"stateful\"\ninputs = [\"by_user\"]\nscript = '''\n\
             const GAP = secs(30);\n\
             fn builder(resume) {{ #{{ n: resume ?? 0 }} }}\n\
             fn on_item(v) {{ this.n += 1; [[], RETAIN] }}\n\
             fn on_notify() {{ [[this.n], DISCARD] }}\n\
             fn on_eof() {{ [[this.n], DISCARD] }}\n\
             fn notify_at() {{ {notify_at} }}\n\
             fn snapshot() {{ this.n }}\n'''\n\
             [[sinks]]\nid = \"out\"\ninputs = [\"sessions\"]\nformat = \"jsonl\"\npath = \"out/n.jsonl\"\n"
        )
    };
    std::fs::write(work.path().join("good.toml"), pipeline("now() + GAP")).unwrap();
    let good = eddy(&["check", "good.toml"], work.path());
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));

    std::fs::write(work.path().join("undefined.toml"), pipeline("v.ts + GAP")).unwrap();
    let bad = eddy(&["check", "undefined.toml"], work.path());
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains(
            "step `sessions`, key `script`, script line 6, column 18: does not compile: Undefined variable: v"
        ),
        "{}",
        text(&bad.stderr)
    );
    assert!(!work.path().join("out/n.jsonl").exists());
}

/// Mistakes made writing a pipeline by hand get hints a user can act on: a duration without
/// its unit, `timeout_seconds`, `by` on `max_final`, a missing function (naming those the
/// script defines); compound durations are accepted and a sink's format follows its extension.
#[test]
fn hand_written_mistakes_get_actionable_hints() {
    let work = assets_copy();
    let pipeline = |collect: &str, max: &str| {
        format!(
            "format_version = 1\n[[sources]]\nid = \"clicks\"\npath = \"clicks.csv\"\ntime_field = \"ts\"\n\
             [[steps]]\nid = \"k\"\nop = \"key_on\"\ninputs = [\"clicks\"]\nfield = \"action\"\n\
             [[steps]]\nid = \"c\"\nop = \"collect\"\ninputs = [\"k\"]\nmax_size = 3\n{collect}\n\
             [[steps]]\nid = \"m\"\nop = \"max_final\"\ninputs = [\"k\"]\n{max}\n\
             [[sinks]]\nid = \"lists\"\ninputs = [\"c\"]\npath = \"out/c.jsonl\"\n\
             [[sinks]]\nid = \"latest\"\ninputs = [\"m\"]\npath = \"out/m.csv\"\n"
        )
    };
    let check = |name: &str, content: String| {
        std::fs::write(work.path().join(name), content).unwrap();
        let out = eddy(&["check", name], work.path());
        (out.status.code(), text(&out.stderr))
    };
    let (code, stderr) = check("a.toml", pipeline("timeout = 30", "by = \"value\""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "step `c`, key `timeout`: expected a duration with its unit, found the integer 30 (write e.g. timeout = \"30s\", \"250ms\" or \"1h30m\")"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "step `m`, key `by`: unknown key (compare by a field with field = \"name\", or by a script with fn by(v) returning what to compare)"
        ),
        "{stderr}"
    );
    let (code, stderr) = check("b.toml", pipeline("timeout_seconds = 30", "script = \"fn bye(v) { v.ts }\""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("step `c`, key `timeout_seconds`: unknown key (did you mean `timeout`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "missing function: this operator calls `fn by(value)` (did you mean `bye`?); the script defines `bye` (1 parameter)"
        ),
        "{stderr}"
    );
    let (code, stderr) = check("good.toml", pipeline("timeout = \"1h30m\"", "field = \"user_id\""));
    assert_eq!(code, Some(0), "{stderr}");
    let run = eddy(&["run", "good.toml"], work.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let csv = std::fs::read_to_string(work.path().join("out/m.csv")).unwrap();
    assert!(csv.starts_with("key,"), "the .csv sink writes CSV: {csv}");
    let jsonl = std::fs::read_to_string(work.path().join("out/c.jsonl")).unwrap();
    assert!(jsonl.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()), "{jsonl}");
}

#[test]
fn a_closed_standard_error_or_output_loses_lines_but_never_panics() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("bad.toml"), "format_version = 1\n[[steps]]\nid = \"x\"\nop = \"map\"\n")
        .unwrap();
    // `eddy check bad.toml 2>&1 | head -0`: the problems go to a pipe nobody reads any more.
    for (args, dir, want) in [
        (vec!["check", "bad.toml"], work.path(), 2),
        (vec!["run", "--quiet", "assets/user_stats.toml"], here, 0),
        (vec!["--help"], here, 0),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(&args)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(want),
            "{args:?}: a closed pipe made it end otherwise (101 is a panic)"
        );
    }
}

#[test]
fn bench_reports_the_memory_one_more_key_costs_from_child_processes() {
    let dir = tempfile::tempdir().unwrap();
    let out = eddy(
        &[
            "bench",
            "--events",
            "3000",
            "--keys",
            "10",
            "--many-keys",
            "2000",
            "--only",
            "many keys",
            "--rounds",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for case in ["running count, Rhai stateful_map", "count_final"] {
        let line = report
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("memory per key, {case} ")))
            .unwrap_or_else(|| panic!("no memory line for {case}: {report}"));
        // "N B (A KiB at 10 keys, B KiB at K keys), target ≤ 100 B", K the file's distinct users.
        assert!(line.contains(" B (median peaks of 3: "), "{line}");
        assert!(line.contains(" KiB at 10 keys, "), "{line}");
        assert!(line.ends_with("keys), target ≤ 100 B"), "{line}");
    }
}

#[test]
fn bench_on_workers_runs_each_case_as_eddy_run_in_a_child_and_compares_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--events",
        "3000",
        "--keys",
        "10",
        "--workers",
        "2",
        "--only",
        "built-in",
        "--rounds",
        "2",
        "--dir",
        "data",
    ];
    let out = eddy(&args, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let line = report
        .lines()
        .find(|line| line.starts_with("running count, built-in "))
        .unwrap_or_else(|| panic!("no line for the built-in count: {report}"));
    // "name  A M (a–a)  B M (b–b)  ×R (r–r)": a rate on each side and their ratio.
    assert_eq!(line.matches(" M (").count(), 2, "{line}");
    assert!(line.contains(" ×"), "{line}");
    assert!(report.contains("every round's outputs were byte-identical on 1 and 2 workers"), "{report}");
    // Each run wrote the case's output in the bench's folder, as `eddy run` would.
    let written = std::fs::read_to_string(dir.path().join("data/out.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 3000, "{written}");
}
