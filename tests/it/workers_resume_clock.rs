//! A resumed run on several workers starts from the snapshot's replay clock
//! (docs/workers.md#snapshots): timers that come due at the next event, end of input, and what
//! they emit read the same `now()` as on one worker, even when no event after the cut moves
//! the clock (events tied with the cut's time, or no event left at all).

use std::path::Path;

use crate::util::{eddy, text};

const PIPELINE: &str = r#"format_version = 1

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
id = "ticks"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) { if resume == () { #{ count: 0 } } else { resume } }
fn on_item(v) { this.count += 1; [[], RETAIN] }
fn on_notify() { [[#{ fired: now(), count: this.count }], RETAIN] }
fn on_eof() { [[#{ ended: now(), count: this.count }], DISCARD] }
fn notify_at() { now() }
'''

[[steps]]
id = "counts"
op = "count_final"
inputs = ["events"]
field = "user"

[[steps]]
id = "seen"
op = "stateful"
inputs = ["counts"]
script = '''
fn builder(resume) { if resume == () { #{ n: 0 } } else { resume } }
fn on_item(v) { this.n = v; [[], RETAIN] }
fn on_notify() { [[#{ late: now() }], DISCARD] }
fn on_eof() { [[#{ n: this.n, at: now() }], DISCARD] }
fn notify_at() { now() + secs(1) }
'''

[[sinks]]
id = "out"
inputs = ["ticks", "seen"]
format = "jsonl"
path = "out/out.jsonl"
"#;

/// 12,285 events over 7 users whose time moves only every 1,500 events, so that the cuts fall
/// among events of one time. With `second_source`, a second file (3 events, to the sink) makes
/// worker 0 read both in batches of 4,096; without, the one file is read in chunks.
fn workspace(second_source: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = PIPELINE.to_owned();
    if second_source {
        pipeline =
            pipeline.replace("inputs = [\"ticks\", \"seen\"]", "inputs = [\"ticks\", \"seen\", \"more\"]");
        pipeline.push_str("\n[[sources]]\nid = \"more\"\npath = \"more.csv\"\ntime_field = \"ts\"\n");
        let more = "ts,n\n2024-01-01T00:00:00Z,1\n2024-01-01T00:00:03Z,2\n2024-01-01T00:00:05Z,3\n";
        std::fs::write(dir.path().join("more.csv"), more).unwrap();
    }
    std::fs::write(dir.path().join("pipeline.toml"), pipeline).unwrap();
    let mut csv = String::from("ts,user\n");
    for i in 0..12_285 {
        csv.push_str(&format!("2024-01-01T00:00:{:02}Z,u{}\n", i / 1500, i * 3 % 7));
    }
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) {
    let mut all = vec!["run", "pipeline.toml", "--quiet"];
    all.extend_from_slice(args);
    let run = eddy(&all, dir);
    assert_eq!(run.status.code(), Some(0), "{args:?}: {}", text(&run.stderr));
}

fn output(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("out/out.jsonl")).unwrap()
}

#[test]
fn snapshots_of_two_workers_reading_in_chunks_resume_on_one_and_three_with_the_clock_of_the_cut() {
    resumes_with_the_clock_of_the_cut(false);
}

#[test]
fn snapshots_of_two_workers_reading_on_worker_0_resume_on_one_and_three_with_the_clock_of_the_cut() {
    resumes_with_the_clock_of_the_cut(true);
}

fn resumes_with_the_clock_of_the_cut(second_source: bool) {
    let dir = workspace(second_source);
    run(dir.path(), &[]);
    let expected = output(dir.path());
    // A snapshot after every chunk or batch: the last one at the end of input.
    let snaps = ["--snapshot-dir", "snaps", "--snapshot-every", "1", "--keep-snapshots", "100"];
    run(dir.path(), &[&["--workers", "2"], &snaps[..]].concat());
    assert!(output(dir.path()) == expected, "the run that took the snapshots differs from one worker");
    // The cuts fall where chunks or batches end, among events of one time, and at the end
    // of input.
    let mut taken: Vec<String> = std::fs::read_dir(dir.path().join("snaps"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    taken.sort();
    assert!(taken.len() >= 2, "{taken:?}");
    let end = if second_source { "snapshot-000000012288.json" } else { "snapshot-000000012285.json" };
    assert_eq!(taken.last().map(String::as_str), Some(end));
    for name in &taken {
        for workers in ["1", "3"] {
            std::fs::write(dir.path().join("out/out.jsonl"), &expected).unwrap();
            let snapshot = format!("snaps/{name}");
            run(dir.path(), &["--workers", workers, "--resume", &snapshot]);
            assert!(
                output(dir.path()) == expected,
                "{name} resumed on {workers} worker(s) differs from one worker"
            );
        }
    }
}
