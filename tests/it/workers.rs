//! `eddy run --workers N` (docs/workers.md): every sink gets the same bytes as with one worker.
//!
//! Each pipeline runs on one worker (the single-threaded engine) and on 2, 3 and 4 workers;
//! every sink's whole output, in order, must be equal. Failures stop every sink where the
//! single-threaded run stops them, with the same error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{Lcg, eddy, eddy_command, text};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn on_one(path: &Path) -> BTreeMap<String, Vec<String>> {
    eddy::run_captured(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn on_workers(path: &Path, workers: usize) -> BTreeMap<String, Vec<String>> {
    eddy::workers::run_captured_on_workers(path, workers)
        .unwrap_or_else(|e| panic!("{} on {workers} workers: {e}", path.display()))
}

/// Every sink of `path` on 2, 3 and 4 workers equals the single-threaded run's, whole.
fn assert_same_on_workers(path: &Path) {
    let expected = on_one(path);
    for workers in [2, 3, 4] {
        let actual = on_workers(path, workers);
        assert_eq!(
            actual.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{}",
            path.display()
        );
        for (sink, lines) in &expected {
            let got = &actual[sink];
            if got != lines {
                let at =
                    got.iter().zip(lines).position(|(a, b)| a != b).unwrap_or(got.len().min(lines.len()));
                panic!(
                    "{}: sink `{sink}` on {workers} workers differs from one worker at line {}: {:?} vs {:?} ({} vs {} lines)",
                    path.display(),
                    at + 1,
                    got.get(at),
                    lines.get(at),
                    got.len(),
                    lines.len()
                );
            }
        }
    }
}

#[test]
fn every_conformance_scenario_gives_the_same_outputs_on_several_workers() {
    let dir = root().join("tests").join("conformance");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("pipeline.toml"))
        .filter(|p| p.is_file())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 25, "found only {} scenarios", scenarios.len());
    for pipeline in scenarios {
        assert_same_on_workers(&pipeline);
    }
}

#[test]
fn every_example_gives_the_same_outputs_on_several_workers() {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("assets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "found only {} examples", examples.len());
    for example in examples {
        assert_same_on_workers(&example);
    }
}

/// Two timed sources merged by time, a filter, `key_on`s, a branch with an unread port, a
/// running join, a `stateful` with timers and `on_eof`, `stateful_map`, `flat_map`,
/// `count_final` keying unkeyed words itself, `collect` with a timeout, `fold_final`, and
/// sinks fed by two steps each.
const PIPELINE: &str = r#"format_version = 1

[[sources]]
id = "clicks"
path = "clicks.jsonl"
format = "jsonl"
time_field = "ts"

[[sources]]
id = "users"
path = "users.jsonl"
format = "jsonl"
time_field = "ts"

[[steps]]
id = "real"
op = "filter"
inputs = ["clicks"]
script = 'fn predicate(x) { x.n % 7 != 3 }'

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["real"]
field = "user"

[[steps]]
id = "users_by_id"
op = "key_on"
inputs = ["users"]
field = "user"

[[steps]]
id = "split"
op = "branch"
inputs = ["by_user"]
script = 'fn predicate(x) { x[1].n % 2 == 0 }'

[[steps]]
id = "profile"
op = "join"
inputs = ["split.trues", "users_by_id"]
emit_mode = "running"

[[steps]]
id = "session"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { if resume == () { #{ count: 0, total: 0 } } else { resume } }
fn on_item(v) {
    this.count += 1;
    this.total += v.n;
    if this.count >= 5 { [[#{ closed: "full", count: this.count, total: this.total }], DISCARD] } else { [[], RETAIN] }
}
fn on_notify() { [[#{ closed: "timeout", count: this.count, total: this.total }], DISCARD] }
fn on_eof() { [[#{ closed: "end", count: this.count }], DISCARD] }
fn notify_at() { now() + secs(3000) }
'''

[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = 'fn mapper(state, v) { let n = (state ?? 0) + v.n; [n, n] }'

[[steps]]
id = "words"
op = "flat_map"
inputs = ["real"]
script = 'fn mapper(x) { if x.n % 5 == 0 { [x.tag, x.tag + "!"] } else { [x.tag] } }'

[[steps]]
id = "tags"
op = "count_final"
inputs = ["words"]
script = 'fn key(w) { w }'

[[steps]]
id = "lists"
op = "collect"
inputs = ["by_user"]
max_size = 4
timeout = "20s"

[[steps]]
id = "sums"
op = "fold_final"
inputs = ["users_by_id"]
script = '''
fn builder() { #{ n: 0, max: 0 } }
fn folder(acc, v) { acc.n += 1; if v.age > acc.max { acc.max = v.age } acc }
'''

[[sinks]]
id = "profiles"
inputs = ["profile"]
format = "jsonl"
path = "out/profiles.jsonl"

[[sinks]]
id = "sessions"
inputs = ["session", "running"]
format = "jsonl"
path = "out/sessions.jsonl"

[[sinks]]
id = "tag_counts"
inputs = ["tags", "sums"]
format = "jsonl"
path = "out/tags.jsonl"

[[sinks]]
id = "batches"
inputs = ["lists"]
format = "jsonl"
path = "out/lists.jsonl"
"#;

fn timestamp(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    format!("2024-01-{:02}T{:02}:{m:02}:{s:02}Z", 1 + h / 24, h % 24)
}

/// A folder with the pipeline (`script_extra` added to the session's `on_item`) and its data:
/// 6,000 clicks over 150 users and 800 user records, with equal times and long gaps.
fn workspace(script_extra: &str) -> tempfile::TempDir {
    workspace_of(script_extra, 6000)
}

/// [`workspace`] with `clicks` clicks (and a user record per 7.5 clicks).
fn workspace_of(script_extra: &str, clicks_count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pipeline =
        PIPELINE.replace("    this.total += v.n;\n", &format!("    this.total += v.n;\n{script_extra}"));
    std::fs::write(dir.path().join("pipeline.toml"), pipeline).unwrap();
    let mut random = Lcg(7);
    let steps = [0, 0, 1, 2, 5, 40];
    let (mut clicks, mut t) = (String::new(), 0);
    for _ in 0..clicks_count {
        t += steps[random.below(6) as usize];
        let (user, n, tag) = (random.below(150), random.below(100), random.below(12));
        clicks.push_str(&format!(
            "{{\"ts\":\"{}\",\"user\":\"u{user}\",\"n\":{n},\"tag\":\"t{tag}\"}}\n",
            timestamp(t)
        ));
    }
    let (mut users, mut t) = (String::new(), 0);
    for _ in 0..clicks_count * 2 / 15 {
        t += [0, 3, 10, 60][random.below(4) as usize];
        let (user, age) = (random.below(150), random.below(90));
        users.push_str(&format!("{{\"ts\":\"{}\",\"user\":\"u{user}\",\"age\":{age}}}\n", timestamp(t)));
    }
    std::fs::write(dir.path().join("clicks.jsonl"), clicks).unwrap();
    std::fs::write(dir.path().join("users.jsonl"), users).unwrap();
    dir
}

#[test]
fn a_generated_pipeline_with_every_kind_of_step_gives_the_same_outputs_on_several_workers() {
    let dir = workspace("");
    let pipeline = dir.path().join("pipeline.toml");
    let outputs = on_one(&pipeline);
    // The data exercises what it is meant to: timers close sessions, every sink has lines.
    assert!(outputs["sessions"].iter().any(|line| line.contains("timeout")), "no session timed out");
    assert!(outputs["sessions"].iter().any(|line| line.contains("full")), "no session filled up");
    for (sink, lines) in &outputs {
        assert!(lines.len() > 20, "sink {sink} has only {} lines", lines.len());
    }
    assert_same_on_workers(&pipeline);
}

/// The files under `out/`, by name.
/// The files of `dir`'s `out` folder by name (none while it does not exist).
pub(crate) fn out_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("out"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `dir`'s pipeline on 2 workers with snapshots (and `env`), stops it with SIGINT once it
/// has written something, and checks that it stopped with a snapshot that resumes on 3
/// workers to the `expected` outputs (or, if it ended before the signal, that they are whole).
pub(crate) fn interrupt_then_resume(dir: &Path, expected: &BTreeMap<String, Vec<u8>>, env: &[(&str, &str)]) {
    let args =
        ["run", "pipeline.toml", "--workers", "2", "--snapshot-dir", "snaps", "--snapshot-every", "1000000"];
    let child = eddy_command(&args, dir)
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the run has written something.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !dir.join("out").is_dir() || out_files(dir).values().all(Vec::is_empty) {
        assert!(std::time::Instant::now() < deadline, "no output within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let signalled =
        std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    let stopped = child.wait_with_output().unwrap();
    let stderr = text(&stopped.stderr);
    if stopped.status.code() == Some(0) {
        // The run ended before the signal came: nothing to resume, the outputs are whole.
        eprintln!("the run ended before the signal came");
        assert_eq!(&out_files(dir), expected);
        return;
    }
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped by SIGINT: the sinks are flushed and a snapshot was written"),
        "{stderr}"
    );
    assert_ne!(&out_files(dir), expected, "stopped, yet every output is whole");
    let args = ["run", "pipeline.toml", "--quiet", "--workers", "3", "--resume", "snaps"];
    let resumed = eddy_command(&args, dir).envs(env.iter().copied()).output().unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert_eq!(&out_files(dir), expected, "after SIGINT and a resume on 3 workers");
}

#[test]
fn a_script_error_stops_every_sink_where_one_worker_stops_them_with_the_same_error() {
    let failing = "    if v.n > 90 && this.count == 3 { throw \"too much for \" + this.total; }\n";
    let one = workspace(failing);
    let run = eddy(&["run", "pipeline.toml", "--quiet"], one.path());
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let error = text(&run.stderr);
    assert!(error.contains("too much for"), "{error}");
    let expected = out_files(one.path());
    assert!(expected.values().any(|bytes| !bytes.is_empty()), "the failure came before any output");
    for workers in ["2", "3"] {
        let many = workspace(failing);
        let run = eddy(&["run", "pipeline.toml", "--quiet", "--workers", workers], many.path());
        assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
        assert_eq!(text(&run.stderr), error, "on {workers} workers");
        assert_eq!(out_files(many.path()), expected, "on {workers} workers");
    }
}

/// A bad row under `on_bad_row = "fail"` in a file worker 0 reads (two sources, so not in
/// chunks): the events before it reach the sinks, then the run stops with one worker's error.
/// (Until 2026-12-07 the batch holding the bad row was dropped, events before it included.)
#[test]
fn a_bad_row_stops_every_sink_where_one_worker_stops_them_with_the_same_error() {
    let with_bad_row = || {
        let dir = workspace("");
        let clicks = std::fs::read_to_string(dir.path().join("clicks.jsonl")).unwrap();
        let mut lines: Vec<&str> = clicks.lines().collect();
        lines.insert(4500, "{\"ts\": \"not a time\", \"user\": \"u1\", \"n\": 1, \"tag\": \"t1\"}");
        std::fs::write(dir.path().join("clicks.jsonl"), lines.join("\n") + "\n").unwrap();
        dir
    };
    let one = with_bad_row();
    let run = eddy(&["run", "pipeline.toml", "--quiet"], one.path());
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let error = text(&run.stderr);
    assert!(error.contains("clicks.jsonl:4501"), "{error}");
    let expected = out_files(one.path());
    assert!(expected.values().any(|bytes| !bytes.is_empty()), "the failure came before any output");
    for workers in ["2", "3"] {
        let many = with_bad_row();
        let run = eddy(&["run", "pipeline.toml", "--quiet", "--workers", workers], many.path());
        assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
        assert_eq!(text(&run.stderr), error, "on {workers} workers");
        assert!(out_files(many.path()) == expected, "on {workers} workers, the outputs differ");
    }
}

#[test]
fn what_does_not_run_on_several_workers_yet_is_refused_before_any_output() {
    let dir = workspace("");
    for args in [&["--ledger", "ledger.jsonl"][..], &["--record", "rec.jsonl"][..]] {
        let mut all = vec!["run", "pipeline.toml", "--workers", "2"];
        all.extend_from_slice(args);
        let run = eddy(&all, dir.path());
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", text(&run.stderr));
        let message = text(&run.stderr);
        assert!(message.contains("does not run on several workers yet"), "{args:?}: {message}");
        assert!(!dir.path().join("out").exists(), "{args:?} opened the outputs");
        assert!(
            !dir.path().join("ledger.jsonl").exists() && !dir.path().join("rec.jsonl").exists(),
            "{args:?}"
        );
    }
    // A hosts file that cannot be read, a malformed line, a process it does not list.
    std::fs::write(dir.path().join("hosts.txt"), "127.0.0.1:1\nlocalhost\n").unwrap();
    std::fs::write(dir.path().join("two.txt"), "127.0.0.1:1\n127.0.0.1:2\n").unwrap();
    std::fs::write(dir.path().join("far.txt"), "10.255.255.1:4000\n127.0.0.1:2\n").unwrap();
    for (hosts, process, says) in [
        ("missing.txt", "0", "--hosts missing.txt: cannot read it"),
        ("hosts.txt", "0", "--hosts hosts.txt: line 2: expected host:port, found \"localhost\""),
        ("two.txt", "2", "--process 2: two.txt lists 2 process(es), numbered from 0"),
        ("far.txt", "0", "--hosts far.txt: line 1: process 0 cannot listen on 10.255.255.1:4000"),
    ] {
        let run = eddy(&["run", "pipeline.toml", "--hosts", hosts, "--process", process], dir.path());
        assert_eq!(run.status.code(), Some(2), "{hosts}: {}", text(&run.stderr));
        assert!(text(&run.stderr).contains(says), "{hosts}: {}", text(&run.stderr));
        assert!(!dir.path().join("out").exists(), "{hosts} opened the outputs");
    }
    // A live source (standard input).
    let live = std::fs::read_to_string(dir.path().join("pipeline.toml"))
        .unwrap()
        .replace("path = \"users.jsonl\"", "path = \"-\"");
    std::fs::write(dir.path().join("live.toml"), live).unwrap();
    let run = eddy(&["run", "live.toml", "--workers", "2"], dir.path());
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("source `users` is live"), "{}", text(&run.stderr));
    assert!(!dir.path().join("out").exists());
}

/// Copies the files of `from` (not its subfolders) into a new folder.
fn copy_folder(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// Every file under `dir` (sinks write into it and into `out/`), by path.
fn all_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Two distinct ports nothing listens on now, on the loopback interface.
fn free_ports() -> (u16, u16) {
    let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let second = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (first.local_addr().unwrap().port(), second.local_addr().unwrap().port())
}

/// Writes `hosts.txt` in `dir` for two processes on fresh ports.
fn write_hosts(dir: &Path) {
    let (first, second) = free_ports();
    std::fs::write(dir.join("hosts.txt"), format!("127.0.0.1:{first}\n127.0.0.1:{second}\n")).unwrap();
}

/// Runs `pipeline` (in `dir`) as 2 processes of 2 workers each on localhost, both reaped
/// within 60 s; process 0's exit code, standard output and standard error. A start that
/// fails because another test took a port first (a process refused, exit 2, or ended while
/// the other waits) is tried again on other ports.
fn run_on_two_processes(dir: &Path, pipeline: &str) -> (Option<i32>, Vec<u8>, String) {
    let logs = tempfile::tempdir().unwrap();
    for _attempt in 0..3 {
        write_hosts(dir);
        let spawn = |process: &str| {
            let out = std::fs::File::create(logs.path().join(format!("out-{process}"))).unwrap();
            let err = std::fs::File::create(logs.path().join(format!("err-{process}"))).unwrap();
            std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
                .args([
                    "run",
                    pipeline,
                    "--quiet",
                    "--workers",
                    "2",
                    "--process",
                    process,
                    "--hosts",
                    "hosts.txt",
                ])
                .current_dir(dir)
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap()
        };
        let mut other = spawn("1");
        let mut first = spawn("0");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let (code, retry) = loop {
            let (one, zero) = (other.try_wait().unwrap(), first.try_wait().unwrap());
            match (one, zero) {
                (Some(_), Some(zero)) => break (zero.code(), zero.code() == Some(2)),
                (Some(one), None) if !one.success() => break (None, true),
                (None, Some(zero)) if zero.code() == Some(2) => break (None, true),
                _ if std::time::Instant::now() > deadline => {
                    for child in [&mut other, &mut first] {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    panic!("{}: the two processes did not end within 60 s", dir.display());
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        for child in [&mut other, &mut first] {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::fs::remove_file(dir.join("hosts.txt")).unwrap();
        if !retry {
            let stdout = std::fs::read(logs.path().join("out-0")).unwrap();
            let stderr = std::fs::read_to_string(logs.path().join("err-0")).unwrap();
            return (code, stdout, stderr);
        }
    }
    panic!("{}: two processes could not start in 3 attempts", dir.display());
}

#[test]
fn every_scenario_and_example_writes_the_same_bytes_on_two_processes_of_two_workers() {
    let conformance = root().join("tests").join("conformance");
    let mut runs: Vec<(PathBuf, String)> = std::fs::read_dir(&conformance)
        .unwrap()
        .map(|e| (e.unwrap().path(), "pipeline.toml".to_owned()))
        .filter(|(dir, _)| dir.join("pipeline.toml").is_file())
        .collect();
    for example in ["orders_join", "sessions", "sliding_window", "user_stats"] {
        runs.push((root().join("assets"), format!("{example}.toml")));
    }
    runs.sort();
    for (folder, pipeline) in runs {
        let one = copy_folder(&folder);
        let single = eddy(&["run", &pipeline, "--quiet"], one.path());
        let many = copy_folder(&folder);
        let (code, stdout, stderr) = run_on_two_processes(many.path(), &pipeline);
        let what = format!("{} {pipeline}", folder.display());
        assert_eq!(code, single.status.code(), "{what}: {stderr}");
        assert_eq!(stdout, single.stdout, "{what}: standard output");
        assert_eq!(all_files(many.path()), all_files(one.path()), "{what}");
    }
}

/// The sink files of a run of the generated pipeline on one worker, from the start.
fn reference_outputs(clicks: usize) -> BTreeMap<String, Vec<u8>> {
    let one = workspace_of("", clicks);
    let run = eddy(&["run", "pipeline.toml", "--quiet"], one.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    out_files(one.path())
}

#[test]
fn a_snapshot_of_two_workers_resumes_on_one_and_on_three_with_the_same_outputs() {
    let expected = reference_outputs(6000);
    let dir = workspace("");
    let run = eddy(
        &[
            "run",
            "pipeline.toml",
            "--quiet",
            "--workers",
            "2",
            "--snapshot-dir",
            "snaps",
            "--snapshot-every",
            "3000",
        ],
        dir.path(),
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(out_files(dir.path()), expected, "the run that took the snapshots");
    // Batches end at multiples of 4,096 events: the snapshot after the batch reaching 3,000.
    let snapshot = dir.path().join("snaps").join("snapshot-000000004096.json");
    assert!(
        snapshot.is_file(),
        "no snapshot at 4096 in {:?}",
        std::fs::read_dir(dir.path().join("snaps")).unwrap().collect::<Vec<_>>()
    );
    let full = out_files(dir.path());
    for workers in ["1", "3"] {
        // Each resume starts from the files as the first run left them (cut back to the snapshot).
        for (name, bytes) in &full {
            std::fs::write(dir.path().join("out").join(name), bytes).unwrap();
        }
        let run = eddy(
            &[
                "run",
                "pipeline.toml",
                "--quiet",
                "--workers",
                workers,
                "--resume",
                snapshot.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(run.status.code(), Some(0), "{workers}: {}", text(&run.stderr));
        assert_eq!(out_files(dir.path()), expected, "resumed on {workers} worker(s)");
    }
}

/// Waits up to `seconds` for `child` to end; kills it (SIGKILL) if it has not.
fn reap(child: &mut std::process::Child, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_two_process_run_killed_by_sigkill_resumes_on_both_with_the_same_outputs() {
    let clicks = 60_000;
    let expected = reference_outputs(clicks);
    let dir = workspace_of("", clicks);
    let spawn = |process: &str, resume: bool| {
        let mut args = vec!["run", "pipeline.toml", "--quiet", "--workers", "2", "--hosts", "hosts.txt"];
        args.extend(["--process", process, "--snapshot-dir", "snaps", "--snapshot-every", "4096"]);
        if resume {
            args.extend(["--resume", "snaps"]);
        }
        std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(&args)
            .current_dir(dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Start both; once process 0 has written a snapshot, SIGKILL process 1, then process 0.
    write_hosts(dir.path());
    let mut other = spawn("1", false);
    let mut first = spawn("0", false);
    let snaps = dir.path().join("snaps");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&snaps).map_or(0, |entries| entries.count()) == 0 {
        assert!(std::time::Instant::now() < deadline, "no snapshot within 60 s");
        assert!(first.try_wait().unwrap().is_none(), "process 0 ended before its first snapshot");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    other.kill().unwrap();
    other.wait().unwrap();
    reap(&mut first, 5);
    let written = std::fs::read_dir(&snaps).unwrap().count();
    assert!(written >= 1);
    assert_ne!(out_files(dir.path()), expected, "the killed run had already finished");
    // Resume both processes from the latest snapshot.
    write_hosts(dir.path());
    let mut other = spawn("1", true);
    let mut first = spawn("0", true);
    reap(&mut other, 120);
    reap(&mut first, 120);
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(out_files(dir.path()), expected, "after the kill and the resume");
}

#[test]
fn sigint_stops_several_workers_with_a_snapshot_that_resumes_to_the_same_outputs() {
    let clicks = 60_000;
    let expected = reference_outputs(clicks);
    let dir = workspace_of("", clicks);
    interrupt_then_resume(dir.path(), &expected, &[]);
}
