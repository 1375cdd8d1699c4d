//! Live streams through the real binary, with a pipe the test controls: a source reading
//! standard input, timers firing on the machine's clock while no row arrives, sinks flushed
//! while the stream is quiet, and SIGTERM stopping cleanly with a snapshot to resume from
//! (README, "Running live"). Waits are bounded; no timing is asserted.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{eddy, text};

/// A pipeline over standard input (JSON Lines) keyed by `user`, with `step` (TOML) as its
/// `measured` step, writing `out.jsonl`.
pub(crate) fn pipeline(clock: &str, step: &str) -> String {
    format!(
        r#"format_version = 1

[clock]
mode = "{clock}"

[[sources]]
id = "live"
path = "-"
format = "jsonl"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["live"]
field = "user"

{step}

[[sinks]]
id = "out"
inputs = ["measured"]
path = "out.jsonl"
"#
    )
}

/// A session per user that closes 1 s (of the machine's clock) after its last click.
const SESSION_WINDOW: &str = r#"[[steps]]
id = "measured"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { if resume == () { #{ clicks: 0, last: 0 } } else { resume } }
fn on_item(e) { this.clicks += 1; this.last = now(); [[], RETAIN] }
fn on_notify() { [[this.clicks], DISCARD] }
fn notify_at() { this.last + millis(1000) }
'''"#;

/// `eddy run` on `p.toml` in `dir`, its standard input a pipe the test writes.
pub(crate) fn spawn(dir: &Path, extra: &[&str]) -> (Child, ChildStdin) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["run", "p.toml"])
        .args(extra)
        .current_dir(dir)
        .env_remove("DISPLAY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

pub(crate) fn send(stdin: &mut ChildStdin, user: &str) {
    writeln!(stdin, "{{\"user\":\"{user}\"}}").unwrap();
    stdin.flush().unwrap();
}

/// The lines of `path` once it has at least `n` of them (at most 20 s; then what there is).
pub(crate) fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines: Vec<String> = std::fs::File::open(path)
            .map(|f| std::io::BufReader::new(f).lines().map_while(Result::ok).collect())
            .unwrap_or_default();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child to end (at most 20 s, then kills it and fails).
pub(crate) fn finish(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("eddy run did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (output.status.code(), text(&output.stderr))
}

pub(crate) fn folder(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), text).unwrap();
    let out = dir.path().join("out.jsonl");
    (dir, out)
}

#[test]
fn a_session_closes_on_the_wall_clock_while_the_stream_is_quiet() {
    let (dir, out) = folder(&pipeline("wall", SESSION_WINDOW));
    let check = eddy(&["check", "p.toml"], dir.path());
    assert!(check.status.success(), "{}", text(&check.stderr));
    let (child, mut stdin) = spawn(dir.path(), &["-q"]);
    send(&mut stdin, "ann");
    send(&mut stdin, "ann");
    send(&mut stdin, "bob");
    // Nothing more is sent: both sessions close on their timers, and the lines reach the file.
    let lines = wait_for_lines(&out, 2);
    assert_eq!(lines, ["[\"ann\",2]", "[\"bob\",1]"], "while idle");
    send(&mut stdin, "ann");
    let lines = wait_for_lines(&out, 3);
    assert_eq!(lines.get(2).map(String::as_str), Some("[\"ann\",1]"), "{lines:?}");
    // The pipe closes: end of input, as in a replay (a pending timer does not fire).
    send(&mut stdin, "cyd");
    drop(stdin);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_collect_with_a_timeout_emits_while_idle() {
    let step = "[[steps]]\nid = \"measured\"\nop = \"collect\"\ninputs = [\"by_user\"]\nmax_size = 100\ntimeout = \"1s\"\n";
    let (dir, out) = folder(&pipeline("wall", step));
    let (child, mut stdin) = spawn(dir.path(), &["-q"]);
    for user in ["ann", "bob", "ann"] {
        send(&mut stdin, user);
    }
    // An inactivity timeout: bob's list (last item earlier) comes first.
    let lines = wait_for_lines(&out, 2);
    assert_eq!(
        lines,
        ["[\"bob\",[{\"user\":\"bob\"}]]", "[\"ann\",[{\"user\":\"ann\"},{\"user\":\"ann\"}]]"],
        "while idle"
    );
    drop(stdin);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn sigterm_stops_with_flushed_output_and_a_snapshot_that_resumes() {
    let count =
        "[[steps]]\nid = \"measured\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nbuiltin = \"count\"\n";
    let (dir, out) = folder(&pipeline("wall", count));
    let (child, mut stdin) = spawn(dir.path(), &["--snapshot-dir", "snaps", "--snapshot-every", "1000"]);
    for user in ["ann", "bob", "ann"] {
        send(&mut stdin, user);
    }
    // Flushed while the stream is quiet, before any signal.
    let lines = wait_for_lines(&out, 3);
    assert_eq!(lines, ["[\"ann\",1]", "[\"bob\",1]", "[\"ann\",2]"]);
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let (code, stderr) = finish(child);
    drop(stdin);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM") && stderr.contains("snapshot"), "{stderr}");
    let snapshots: Vec<_> = std::fs::read_dir(dir.path().join("snaps")).unwrap().collect();
    assert_eq!(snapshots.len(), 1, "one snapshot, at the stop");
    // Resumed on a new stream: the counts go on from the snapshot.
    let (child, mut stdin) = spawn(dir.path(), &["-q", "--resume", "snaps"]);
    send(&mut stdin, "ann");
    send(&mut stdin, "cyd");
    drop(stdin);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        wait_for_lines(&out, 5),
        ["[\"ann\",1]", "[\"bob\",1]", "[\"ann\",2]", "[\"ann\",3]", "[\"cyd\",1]"]
    );
}

#[test]
fn standard_input_needs_a_stream_format_and_one_reader() {
    let base = pipeline(
        "wall",
        "[[steps]]\nid = \"measured\"\nop = \"map\"\ninputs = [\"by_user\"]\nfield = \"user\"\n",
    );
    let cases = [
        (base.replace("format = \"jsonl\"\n", ""), "standard input has no extension to tell its format"),
        (base.replace("format = \"jsonl\"", "format = \"json\""), "cannot be a live stream"),
        (
            base.replace(
                "[[steps]]\nid = \"by_user\"",
                "[[sources]]\nid = \"again\"\npath = \"-\"\nformat = \"csv\"\n\n[[steps]]\nid = \"by_user\"",
            ),
            "only one source can read it",
        ),
    ];
    for (text_of_file, expected) in cases {
        let (dir, _) = folder(&text_of_file);
        let output = eddy(&["check", "p.toml"], dir.path());
        let message = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(message.contains(expected), "`{expected}` missing: {message}");
    }
}

#[test]
fn the_workbench_refuses_to_replay_standard_input() {
    use eddy::session::{Command as SessionCommand, Event, GraphSource};
    let (dir, _) = folder(&pipeline("wall", SESSION_WINDOW));
    let handle = eddy::session::spawn().unwrap();
    handle.send(SessionCommand::Load(GraphSource::File(dir.path().join("p.toml")))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let problems = loop {
        match handle.recv_timeout(Duration::from_secs(20)) {
            Some(Event::Invalid(problems)) => break problems,
            Some(_) if Instant::now() < deadline => {}
            other => panic!("no refusal: {other:?}"),
        }
    };
    handle.shutdown();
    assert!(problems.iter().any(|p| p.message.contains("which the workbench cannot replay")), "{problems:?}");
}

#[test]
fn a_followed_file_is_read_as_it_grows_through_truncation_and_rotation() {
    let file_text = pipeline(
        "wall",
        "[[steps]]\nid = \"measured\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nbuiltin = \"count\"\n",
    )
    .replace("path = \"-\"", "path = \"log.jsonl\"\nfollow = true");
    let (dir, out) = folder(&file_text);
    let log = dir.path().join("log.jsonl");
    let append = |line: &str| {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        writeln!(file, "{line}").unwrap();
    };
    append("{\"user\":\"ann\"}");
    let check = eddy(&["check", "p.toml"], dir.path());
    assert!(check.status.success(), "{}", text(&check.stderr));
    let (child, stdin) = spawn(dir.path(), &["-q"]);
    assert_eq!(wait_for_lines(&out, 1), ["[\"ann\",1]"]);
    // Grows.
    append("{\"user\":\"ann\"}");
    assert_eq!(wait_for_lines(&out, 2).get(1).map(String::as_str), Some("[\"ann\",2]"));
    // Cut short, then written again: read from its start.
    std::fs::write(&log, "").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    append("{\"user\":\"bob\"}");
    assert_eq!(wait_for_lines(&out, 3).get(2).map(String::as_str), Some("[\"bob\",1]"));
    // Rotated: renamed away, a new file under the name.
    std::fs::rename(&log, dir.path().join("log.jsonl.1")).unwrap();
    append("{\"user\":\"ann\"}");
    assert_eq!(wait_for_lines(&out, 4).get(3).map(String::as_str), Some("[\"ann\",3]"));
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let (code, stderr) = finish(child);
    drop(stdin);
    assert_eq!(code, Some(0), "{stderr}");
}
