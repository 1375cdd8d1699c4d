//! gzip-compressed recordings, through the real binary: a `.gz` source of each format gives
//! the same output bytes as the plain file, bad rows keep their exact text, a run resumes from
//! a snapshot, and a damaged file is an error naming it (README, "Values and files").

use std::io::Write;
use std::path::Path;

use crate::util::{eddy, text};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// 300 events over 5 users, one a second, as CSV (two bad rows, one with quotes), JSON Lines
/// and a JSON array.
fn recordings() -> [(&'static str, String); 3] {
    let mut csv = String::from("ts,user,value\n");
    let mut jsonl = String::new();
    let mut json = Vec::new();
    for i in 0..300 {
        let (ts, user, value) = (1_700_000_000 + i, format!("u{}", i % 5), i * 3 % 17);
        csv.push_str(&format!("{ts},{user},{value}\n"));
        if i == 40 {
            csv.push_str("1700000040,\"u,1\",\"not a number\"\n");
        }
        if i == 200 {
            csv.push_str("oops\n");
        }
        jsonl.push_str(&format!("{{\"ts\":{ts},\"user\":\"{user}\",\"value\":{value}}}\n"));
        json.push(format!("{{\"ts\":{ts},\"user\":\"{user}\",\"value\":{value}}}"));
    }
    [("csv", csv), ("jsonl", jsonl), ("json", format!("[\n{}\n]\n", json.join(",\n")))]
}

fn pipeline(path: &str, out: &str) -> String {
    format!(
        r#"format_version = 1

[[sources]]
id = "events"
path = "{path}"
time_field = "ts"
time_format = "unix_s"
on_bad_row = "dead_letter"
dead_letter_path = "{out}.dead.jsonl"

[sources.types]
value = "int"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "total"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, e) {{ let s = (state ?? 0) + e.value; [s, s] }}
'''

[[sinks]]
id = "out"
inputs = ["total"]
path = "{out}"
"#
    )
}

fn run(dir: &Path, args: &[&str]) -> String {
    let output = eddy(args, dir);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stderr));
    text(&output.stderr)
}

#[test]
fn a_compressed_source_gives_the_plain_files_output_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for (format, body) in recordings() {
        // JSON Lines and JSON have no `types`: only CSV cells are typed from text.
        let plain = format!("events.{format}");
        std::fs::write(dir.path().join(&plain), &body).unwrap();
        std::fs::write(dir.path().join(format!("{plain}.gz")), gzip(body.as_bytes())).unwrap();
        for (path, out) in [
            (plain.clone(), format!("plain-{format}.jsonl")),
            (format!("{plain}.gz"), format!("gz-{format}.jsonl")),
        ] {
            let mut text = pipeline(&path, &out);
            if format != "csv" {
                text = text.replace("[sources.types]\nvalue = \"int\"\n", "");
            }
            std::fs::write(dir.path().join("p.toml"), text).unwrap();
            run(dir.path(), &["check", "p.toml"]);
            run(dir.path(), &["run", "-q", "p.toml"]);
        }
        let read = |name: String| std::fs::read(dir.path().join(name)).unwrap();
        let plain_out = read(format!("plain-{format}.jsonl"));
        assert_eq!(plain_out.iter().filter(|b| **b == b'\n').count(), 300, "{format}");
        assert_eq!(read(format!("gz-{format}.jsonl")), plain_out, "{format}: outputs differ");
        // Dead letters name their file: otherwise the same.
        let dead = |name: String| text(&read(name)).replace(".gz\"", "\"");
        assert_eq!(
            dead(format!("gz-{format}.jsonl.dead.jsonl")),
            dead(format!("plain-{format}.jsonl.dead.jsonl")),
            "{format}: dead letters differ"
        );
    }
    // The CSV's bad rows keep their exact text (quotes included) and line numbers.
    let dead = std::fs::read_to_string(dir.path().join("gz-csv.jsonl.dead.jsonl")).unwrap();
    assert!(dead.contains(r#"1700000040,\"u,1\",\"not a number\""#) && dead.contains("oops"), "{dead}");
    assert!(dead.contains("\"line\":43") && dead.contains("\"line\":204"), "{dead}");
}

#[test]
fn a_run_over_a_compressed_source_resumes_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let [(_, csv), ..] = recordings();
    std::fs::write(dir.path().join("events.csv.gz"), gzip(csv.as_bytes())).unwrap();
    std::fs::write(dir.path().join("p.toml"), pipeline("events.csv.gz", "whole.jsonl")).unwrap();
    run(dir.path(), &["run", "-q", "p.toml"]);
    std::fs::write(dir.path().join("p.toml"), pipeline("events.csv.gz", "resumed.jsonl")).unwrap();
    run(
        dir.path(),
        &["run", "-q", "p.toml", "--snapshot-every", "70", "--snapshot-dir", "snaps", "--stop-after", "150"],
    );
    run(dir.path(), &["run", "-q", "p.toml", "--resume", "snaps"]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(read("resumed.jsonl"), read("whole.jsonl"));
    assert_eq!(read("resumed.jsonl.dead.jsonl"), read("whole.jsonl.dead.jsonl"));
    // A recording replaced by another under the same name is refused on resume.
    run(
        dir.path(),
        &["run", "-q", "p.toml", "--snapshot-every", "70", "--snapshot-dir", "snaps2", "--stop-after", "150"],
    );
    let edited = csv.replacen("1700000010,u0,13", "1700000010,u0,14", 1);
    assert_ne!(edited, csv);
    std::fs::write(dir.path().join("events.csv.gz"), gzip(edited.as_bytes())).unwrap();
    let refused = eddy(&["run", "p.toml", "--resume", "snaps2"], dir.path());
    let message = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(message.contains("source `events`") && message.contains("are not what they were"), "{message}");
}

#[test]
fn a_damaged_compressed_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let [(_, csv), ..] = recordings();
    let packed = gzip(csv.as_bytes());
    // Cut short, and with its middle overwritten: each an error naming the file, never a panic.
    let mut corrupt = packed.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 40].fill(0xAA);
    for (what, bytes) in [("truncated", packed[..packed.len() / 2].to_vec()), ("corrupt", corrupt)] {
        std::fs::write(dir.path().join("events.csv.gz"), bytes).unwrap();
        std::fs::write(dir.path().join("p.toml"), pipeline("events.csv.gz", "out.jsonl")).unwrap();
        let output = eddy(&["run", "p.toml"], dir.path());
        let message = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}: {message}");
        assert!(message.contains("events.csv.gz"), "{what}: names the file: {message}");
    }
}

#[test]
fn a_sink_refuses_a_gz_name() {
    let dir = tempfile::tempdir().unwrap();
    let [(_, csv), ..] = recordings();
    std::fs::write(dir.path().join("events.csv"), csv).unwrap();
    std::fs::write(dir.path().join("p.toml"), pipeline("events.csv", "out.jsonl.gz")).unwrap();
    let output = eddy(&["check", "p.toml"], dir.path());
    let message = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("sink `out`") && message.contains("not gzip"), "{message}");
}
