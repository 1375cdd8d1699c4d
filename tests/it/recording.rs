//! A live run recorded (`eddy run --record`) and replayed from its recording (`recording` on
//! the live source), by `eddy run` and by the workbench's session, to the same outputs; and
//! snapshots every N seconds of a live run (README, "Running live"). Waits are bounded; no
//! timing is asserted.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use eddy::session::{Command, GraphSource, Playback, Speed};

use crate::live::{finish, folder, send, spawn, wait_for_lines};
use crate::util::{eddy, text};

/// Sessions per user closing 300 ms (of the clock) after their last click; every click and
/// every close says the clock it happened at (`now()`, in `on_item` and in `on_notify`).
const SESSIONS: &str = r#"format_version = 1

[clock]
mode = "wall"

[[sources]]
id = "live"
path = "-"
format = "jsonl"
on_bad_row = "dead_letter"
dead_letter_path = "dead.jsonl"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["live"]
field = "user"

[[steps]]
id = "measured"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { if resume == () { #{ clicks: 0, first: 0, last: 0 } } else { resume } }
fn on_item(e) {
    if this.clicks == 0 { this.first = now(); }
    this.clicks += 1;
    this.last = now();
    [[#{ click: this.clicks, at: now() }], RETAIN]
}
fn on_notify() { [[#{ clicks: this.clicks, first: this.first, last: this.last, closed: now() }], DISCARD] }
fn notify_at() { this.last + millis(300) }
'''

[[sinks]]
id = "out"
inputs = ["measured"]
path = "out.jsonl"
"#;

fn send_raw(stdin: &mut std::process::ChildStdin, line: &str) {
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_recorded_live_run_replays_to_the_same_output_in_eddy_run_and_the_workbench() {
    let (dir, out) = folder(SESSIONS);
    let (child, mut stdin) = spawn(dir.path(), &["-q", "--record", "rec.jsonl"]);
    send(&mut stdin, "ann");
    send(&mut stdin, "ann");
    send_raw(&mut stdin, "not json");
    send_raw(&mut stdin, "");
    send(&mut stdin, "bob");
    // The idle gap: both sessions close on the wall clock, before any later event.
    assert_eq!(wait_for_lines(&out, 5).len(), 5);
    send(&mut stdin, "ann");
    // A gap after the last event: ann's session closes in it, then the stream ends (dan's
    // session is pending at the end: it does not close, live or replayed).
    assert_eq!(wait_for_lines(&out, 7).len(), 7);
    send(&mut stdin, "dan");
    drop(stdin);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let live_out = read(&out);
    assert_eq!(live_out.lines().count(), 8, "{live_out}");
    assert!(live_out.contains("\"closed\":"), "{live_out}");
    let live_dead = read(&dir.path().join("dead.jsonl"));
    assert_eq!(live_dead.lines().count(), 1, "{live_dead}");

    let recording = read(&dir.path().join("rec.jsonl"));
    let lines: Vec<&str> = recording.lines().collect();
    assert_eq!(lines[0], eddy::io::RECORDING_HEADER);
    let received: Vec<serde_json::Value> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("line").is_some())
        .collect();
    let texts: Vec<&str> = received.iter().map(|v| v["line"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            r#"{"user":"ann"}"#,
            r#"{"user":"ann"}"#,
            "not json",
            "",
            r#"{"user":"bob"}"#,
            r#"{"user":"ann"}"#,
            r#"{"user":"dan"}"#
        ]
    );
    assert!(received.iter().all(|v| v["source"] == "live" && v["at"].is_i64()), "{recording}");
    let ticks = lines[1..].iter().filter(|l| !l.contains("\"line\"")).count();
    // A tick wherever the clock fired timers while idle: one or two in the first gap (ann's
    // and bob's sessions close 300 ms after their own last clicks), one in the second.
    assert!(ticks >= 2, "a tick where each idle gap fired timers: {recording}");

    // The recording replayed by `eddy run`: the same output, byte for byte, the same bad row.
    let replay = read(&dir.path().join("p.toml"))
        .replace("path = \"-\"", "path = \"-\"\nrecording = \"rec.jsonl\"")
        .replace("out.jsonl", "replayed.jsonl")
        .replace("dead.jsonl", "replayed-dead.jsonl");
    std::fs::write(dir.path().join("r.toml"), replay).unwrap();
    let run = eddy(&["run", "-q", "r.toml"], dir.path());
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(read(&dir.path().join("replayed.jsonl")), live_out);
    assert_eq!(read(&dir.path().join("replayed-dead.jsonl")), live_dead);

    // Or with the pipeline unchanged: `--replay` puts the recording in place of the live source.
    let same = read(&dir.path().join("p.toml"))
        .replace("out.jsonl", "again.jsonl")
        .replace("dead.jsonl", "again-dead.jsonl");
    std::fs::write(dir.path().join("same.toml"), same).unwrap();
    let run = eddy(&["run", "-q", "same.toml", "--replay", "rec.jsonl"], dir.path());
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(read(&dir.path().join("again.jsonl")), live_out);
    assert_eq!(read(&dir.path().join("again-dead.jsonl")), live_dead);

    // The workbench replays it too (a recording is no live stream), to the same items.
    let mut playback = Playback::new();
    playback.handle(Command::Load(GraphSource::File(dir.path().join("r.toml"))));
    playback.handle(Command::SetSpeed(Speed::AsFastAsPossible));
    playback.handle(Command::RunToEnd);
    playback.finish();
    let view = playback.view();
    assert!(view.error.is_none(), "{:?}", view.error);
    let preview = view.previews.iter().find(|p| p.step == "measured").unwrap();
    let items: Vec<serde_json::Value> = preview
        .items_out
        .iter()
        .map(|i| serde_json::json!([i.key.clone().unwrap(), i.value.clone()]))
        .collect();
    let written: Vec<serde_json::Value> =
        live_out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(items, written);
}

#[test]
fn a_recording_is_never_written_over_a_file() {
    let (dir, _) = folder(SESSIONS);
    std::fs::write(dir.path().join("old.jsonl"), "precious\n").unwrap();
    let cases = [
        ("old.jsonl", "already exists"),
        ("p.toml", "is the pipeline file"),
        ("out.jsonl", "sink `out` writes too"),
        ("dead.jsonl", "source `live` writes its bad rows to"),
    ];
    for (path, expected) in cases {
        let run = eddy(&["run", "-q", "p.toml", "--record", path], dir.path());
        assert_eq!(run.status.code(), Some(2), "{path}");
        let stderr = text(&run.stderr);
        assert!(stderr.contains(expected) && stderr.contains("--record"), "{path}: {stderr}");
    }
    assert_eq!(read(&dir.path().join("old.jsonl")), "precious\n");
    assert!(!dir.path().join("out.jsonl").exists(), "refused before any output is opened");
    // A replay of files has nothing live to record.
    std::fs::write(dir.path().join("e.jsonl"), "{\"user\":\"ann\"}\n").unwrap();
    let files = SESSIONS.replace("path = \"-\"", "path = \"e.jsonl\"");
    std::fs::write(dir.path().join("f.toml"), files).unwrap();
    let run = eddy(&["run", "-q", "f.toml", "--record", "new.jsonl"], dir.path());
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("no live source"), "{}", text(&run.stderr));
    let run = eddy(&["run", "-q", "f.toml", "--replay", "old.jsonl"], dir.path());
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("no live source"), "{}", text(&run.stderr));
    // Nor is a recording read back written over.
    std::fs::write(dir.path().join("out.jsonl"), format!("{}\n", eddy::io::RECORDING_HEADER)).unwrap();
    let run = eddy(&["run", "-q", "p.toml", "--replay", "out.jsonl"], dir.path());
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("writing it would destroy what is read"), "{}", text(&run.stderr));
    // A file that is not a recording, read back, says so and where.
    let bad = SESSIONS.replace("path = \"-\"", "path = \"-\"\nrecording = \"old.jsonl\"");
    std::fs::write(dir.path().join("b.toml"), bad).unwrap();
    let run = eddy(&["run", "-q", "b.toml"], dir.path());
    assert_eq!(run.status.code(), Some(1));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("old.jsonl") && stderr.contains("line 1: not a recording"), "{stderr}");
}

#[test]
fn a_live_run_takes_a_snapshot_every_few_seconds_even_while_idle() {
    let count =
        "[[steps]]\nid = \"measured\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nbuiltin = \"count\"\n";
    let (dir, out) = folder(&crate::live::pipeline("wall", count));
    let snaps = dir.path().join("snaps");
    let (child, mut stdin) =
        spawn(dir.path(), &["-q", "--snapshot-dir", "snaps", "--snapshot-every", "200ms"]);
    send(&mut stdin, "ann");
    assert_eq!(wait_for_lines(&out, 1), ["[\"ann\",1]"]);
    // No more rows: a snapshot after the first event comes anyway, on the wall clock.
    let deadline = Instant::now() + Duration::from_secs(20);
    let name = "snapshot-000000000001.json";
    while !snaps.join(name).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(snaps.join(name).exists(), "no {name} while idle");
    drop(stdin);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");

    for (value, expected) in [
        ("0", "0 events"),
        ("10 parsecs", "expected a number of events (100000) or a duration"),
        ("0s", "a zero duration"),
    ] {
        let run =
            eddy(&["run", "-q", "p.toml", "--snapshot-dir", "s2", "--snapshot-every", value], dir.path());
        assert_eq!(run.status.code(), Some(2), "{value}");
        assert!(text(&run.stderr).contains(expected), "{value}: {}", text(&run.stderr));
    }
    // A replay counts its snapshots in events.
    std::fs::write(dir.path().join("e.jsonl"), "{\"user\":\"ann\"}\n").unwrap();
    let files = crate::live::pipeline("wall", count).replace("path = \"-\"", "path = \"e.jsonl\"");
    std::fs::write(dir.path().join("f.toml"), files).unwrap();
    let run = eddy(&["run", "-q", "f.toml", "--snapshot-dir", "s3", "--snapshot-every", "30s"], dir.path());
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("a duration is for live runs"), "{}", text(&run.stderr));
}

#[test]
fn sigterm_leaves_a_whole_recording_that_replays_to_the_same_output() {
    let (dir, out) = folder(SESSIONS);
    let (child, mut stdin) = spawn(dir.path(), &["-q", "--record", "rec.jsonl"]);
    send(&mut stdin, "ann");
    send(&mut stdin, "bob");
    assert_eq!(wait_for_lines(&out, 4).len(), 4);
    send(&mut stdin, "cyd");
    assert_eq!(wait_for_lines(&out, 5).len(), 5);
    let killed =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let (code, stderr) = finish(child);
    drop(stdin);
    assert_eq!(code, Some(0), "{stderr}");
    let recording = read(&dir.path().join("rec.jsonl"));
    assert!(recording.ends_with('\n'), "{recording}");
    let received = recording.lines().filter(|l| l.contains("\"line\"")).count();
    assert_eq!(received, 3, "{recording}");
    let replay = read(&dir.path().join("p.toml"))
        .replace("path = \"-\"", "path = \"-\"\nrecording = \"rec.jsonl\"")
        .replace("out.jsonl", "replayed.jsonl");
    std::fs::write(dir.path().join("r.toml"), replay).unwrap();
    let run = eddy(&["run", "-q", "r.toml"], dir.path());
    assert!(run.status.success(), "{}", text(&run.stderr));
    // cyd's session was pending when the run stopped: the replay's end of input does not
    // close it either.
    assert_eq!(read(&dir.path().join("replayed.jsonl")), read(&out));
}

#[test]
fn two_live_sources_replay_in_the_order_the_live_run_took_them() {
    // Standard input and a followed file, merged; every item says the clock it was taken at.
    let pipeline = SESSIONS
        .replace(
            "[[steps]]\nid = \"by_user\"",
            "[[sources]]\nid = \"views\"\npath = \"views.jsonl\"\nformat = \"jsonl\"\nfollow = true\n\n\
             [[steps]]\nid = \"all\"\nop = \"merge\"\ninputs = [\"live\", \"views\"]\n\n[[steps]]\nid = \"by_user\"",
        )
        .replace("inputs = [\"live\"]\nfield", "inputs = [\"all\"]\nfield");
    let (dir, out) = folder(&pipeline);
    let views = dir.path().join("views.jsonl");
    std::fs::write(&views, "").unwrap();
    let (child, mut stdin) = spawn(dir.path(), &["-q", "--record", "rec.jsonl"]);
    let mut expected = 0;
    for (i, user) in ["ann", "bob", "ann", "cyd"].into_iter().enumerate() {
        send(&mut stdin, user);
        let mut file = std::fs::OpenOptions::new().append(true).open(&views).unwrap();
        writeln!(file, "{{\"user\":\"{user}\",\"view\":{i}}}").unwrap();
        expected += 2;
        assert!(wait_for_lines(&out, expected).len() >= expected);
    }
    // Every session closes in the quiet that follows; then the run is stopped (a followed
    // file never ends).
    // (On a slow machine a session may close between two rows already: more lines, no fewer.)
    let closed = wait_for_lines(&out, expected + 3);
    assert!(closed.len() >= expected + 3, "{closed:?}");
    let killed =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let (code, stderr) = finish(child);
    drop(stdin);
    assert_eq!(code, Some(0), "{stderr}");
    let recording = read(&dir.path().join("rec.jsonl"));
    assert_eq!(recording.matches("\"source\":\"views\"").count(), 4, "{recording}");
    assert_eq!(recording.matches("\"source\":\"live\"").count(), 4, "{recording}");

    std::fs::rename(&out, dir.path().join("live.jsonl")).unwrap();
    let run = eddy(&["run", "-q", "p.toml", "--replay", "rec.jsonl"], dir.path());
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(read(&out), read(&dir.path().join("live.jsonl")));
}

#[test]
fn a_recording_setting_is_checked_with_the_pipeline() {
    let (dir, _) = folder(SESSIONS);
    std::fs::write(dir.path().join("e.jsonl"), "{\"user\":\"ann\"}\n").unwrap();
    let cases = [
        (
            SESSIONS.replace("path = \"-\"", "path = \"-\"\nrecording = \"missing.jsonl\""),
            "recording not found",
        ),
        (
            SESSIONS.replace("path = \"-\"", "path = \"e.jsonl\"\nrecording = \"e.jsonl\""),
            "a recording replays a live source",
        ),
        (
            SESSIONS.replace("path = \"-\"", "path = \"-\"\nrecording = \"out.jsonl\""),
            "writing it would destroy what is read",
        ),
    ];
    for (pipeline, expected) in cases {
        std::fs::write(dir.path().join("c.toml"), pipeline).unwrap();
        let check = eddy(&["check", "c.toml"], dir.path());
        assert_eq!(check.status.code(), Some(2), "{expected}");
        let out = format!("{}{}", text(&check.stdout), text(&check.stderr));
        assert!(out.contains(expected) && out.contains("recording"), "{expected}: {out}");
    }
}

#[test]
fn a_bad_row_that_stops_a_live_run_is_recorded_and_stops_its_replay_the_same_way() {
    let failing = SESSIONS.replace("on_bad_row = \"dead_letter\"\ndead_letter_path = \"dead.jsonl\"\n", "");
    assert!(!failing.contains("dead_letter"), "the pipeline changed: update this test");
    let (dir, out) = folder(&failing);
    let (child, mut stdin) = spawn(dir.path(), &["-q", "--record", "rec.jsonl"]);
    send(&mut stdin, "ann");
    assert_eq!(wait_for_lines(&out, 1).len(), 1);
    send_raw(&mut stdin, "{\"user\": \"bob\"");
    let (code, live_error) = finish(child);
    drop(stdin);
    assert_eq!(code, Some(1), "{live_error}");
    assert!(live_error.contains("bad row at <stdin>:2"), "{live_error}");
    let recording = read(&dir.path().join("rec.jsonl"));
    assert!(
        recording.lines().last().is_some_and(|l| l.contains("{\\\"user\\\": \\\"bob\\\"")),
        "{recording}"
    );

    let replay = read(&dir.path().join("p.toml")).replace("out.jsonl", "replayed.jsonl");
    std::fs::write(dir.path().join("r.toml"), replay).unwrap();
    let run = eddy(&["run", "-q", "r.toml", "--replay", "rec.jsonl"], dir.path());
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let replay_error = text(&run.stderr);
    assert!(replay_error.contains("rec.jsonl:2"), "{replay_error}");
    // The same error after the file's name, and the same output before it.
    let reason = |message: &str| message.split_once(":2:").map(|(_, rest)| rest.to_owned());
    assert_eq!(reason(&replay_error), reason(&live_error));
    assert_eq!(read(&dir.path().join("replayed.jsonl")), read(&out));
}
