//! Partitioned reading (docs/workers.md#partitioned-reading): a pipeline whose only source is
//! a CSV or JSON Lines file, read in chunks by every worker, writes the bytes one worker
//! writes. Tiny chunks (`EDDY_PARTITION_BYTES`, or the library's chunk size) make every run
//! cross many chunk boundaries: quoted line breaks, blank lines, a bad row, snapshots.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{Lcg, eddy, eddy_command, text};
use crate::workers::{interrupt_then_resume, out_files};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `eddy ARGS` in `dir`, reading in chunks of `chunk_bytes` bytes on several workers.
fn eddy_in_chunks(args: &[&str], dir: &Path, chunk_bytes: u64) -> Output {
    eddy_command(args, dir).env(eddy::workers::CHUNK_BYTES_VAR, chunk_bytes.to_string()).output().unwrap()
}

#[test]
fn every_scenario_and_example_with_one_file_gives_the_same_outputs_read_in_chunks() {
    let mut pipelines: Vec<PathBuf> = std::fs::read_dir(root().join("tests").join("conformance"))
        .unwrap()
        .map(|e| e.unwrap().path().join("pipeline.toml"))
        .filter(|p| p.is_file())
        .collect();
    pipelines.extend(
        std::fs::read_dir(root().join("assets"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "toml")),
    );
    pipelines.sort();
    let mut chunked = Vec::new();
    for pipeline in &pipelines {
        let expected = eddy::run_captured(pipeline).unwrap_or_else(|e| panic!("{}: {e}", pipeline.display()));
        for workers in [2, 3, 4] {
            for chunk_bytes in [1, 40, 300] {
                let (got, in_chunks) = eddy::workers::run_captured_in_chunks(pipeline, workers, chunk_bytes);
                let got = got.unwrap_or_else(|e| panic!("{} on {workers} workers: {e}", pipeline.display()));
                assert_eq!(
                    got,
                    expected,
                    "{} on {workers} workers, chunks of {chunk_bytes} bytes",
                    pipeline.display()
                );
                if in_chunks && workers == 2 && chunk_bytes == 1 {
                    chunked.push(pipeline.clone());
                }
            }
        }
    }
    // Most scenarios read one small file: each is cut into several chunks.
    assert!(
        chunked.len() >= 15,
        "only {} of {} pipelines were read in chunks: {chunked:?}",
        chunked.len(),
        pipelines.len()
    );
}

/// A pipeline of one source `clicks.<format>` (time field `ts`): a filter, a `key_on`, a
/// `stateful` with timers and `on_eof`, a `stateful_map`, `count_final` keying its input
/// itself and a `collect` with a timeout; file sinks. `key_first`: the `key_on` alone reads
/// the file (the source reads the key field itself), and `count_final` reads a `map` of its
/// output (`key_rm`).
fn pipeline(format: &str, key_first: bool) -> String {
    let (real_input, by_user_input) = if key_first { ("by_user", "clicks") } else { ("clicks", "real") };
    let filter = if key_first { "x[1].n % 7 != 3" } else { "x.n % 7 != 3" };
    // count_final keys unkeyed items itself (read from the file, beside the filter).
    let tags_input = if key_first { "unkeyed" } else { "real" };
    let unkey =
        if key_first { "[[steps]]\nid = \"unkeyed\"\nop = \"key_rm\"\ninputs = [\"real\"]\n\n" } else { "" };
    format!(
        r#"format_version = 1

[[sources]]
id = "clicks"
path = "clicks.{format}"
format = "{format}"
time_field = "ts"

[[steps]]
id = "real"
op = "filter"
inputs = ["{real_input}"]
script = 'fn predicate(x) {{ {filter} }}'

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["{by_user_input}"]
field = "user"

[[steps]]
id = "session"
op = "stateful"
inputs = ["by_user"]
script = '''
fn builder(resume) {{ if resume == () {{ #{{ count: 0, total: 0 }} }} else {{ resume }} }}
fn on_item(v) {{
    this.count += 1;
    this.total += v.n;
    if this.count >= 5 {{ [[#{{ closed: "full", count: this.count, total: this.total }}], DISCARD] }} else {{ [[], RETAIN] }}
}}
fn on_notify() {{ [[#{{ closed: "timeout", count: this.count, total: this.total }}], DISCARD] }}
fn on_eof() {{ [[#{{ closed: "end", count: this.count }}], DISCARD] }}
fn notify_at() {{ now() + secs(3000) }}
'''

[[steps]]
id = "running"
op = "stateful_map"
inputs = ["by_user"]
script = 'fn mapper(state, v) {{ let n = (state ?? 0) + v.n; [n, n] }}'

[[steps]]
id = "tags"
op = "count_final"
inputs = ["{tags_input}"]
script = 'fn key(x) {{ x.user }}'

{unkey}[[steps]]
id = "lists"
op = "collect"
inputs = ["by_user"]
max_size = 4
timeout = "20s"

[[sinks]]
id = "sessions"
inputs = ["session", "running"]
format = "jsonl"
path = "out/sessions.jsonl"

[[sinks]]
id = "tag_counts"
inputs = ["tags"]
format = "jsonl"
path = "out/tags.jsonl"

[[sinks]]
id = "batches"
inputs = ["lists"]
format = "jsonl"
path = "out/lists.jsonl"
"#
    )
}

fn timestamp(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let day = h / 24;
    format!("2024-{:02}-{:02}T{:02}:{m:02}:{s:02}Z", 1 + day / 28, 1 + day % 28, h % 24)
}

/// `rows` clicks as CSV: quoted notes with line breaks and doubled quotes, blank lines, times
/// that go back now and then; `bad_at`: the row that has a field too few; `crlf`: lines end
/// in `\r\n`.
fn clicks_csv(rows: usize, bad_at: Option<usize>, crlf: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut random = Lcg(11);
    let mut text = format!("ts,user,n,note{nl}");
    let mut t = 0;
    for row in 0..rows {
        t += [0, 0, 1, 3, 40, 900][random.below(6) as usize];
        let back = if random.below(9) == 0 { 30 } else { 0 };
        let (user, n) = (random.below(40), random.below(100));
        let note = match random.below(5) {
            0 => format!("\"two{nl}lines\""),
            1 => "\"say \"\"hi\"\", ok\"".to_owned(),
            2 => "plain".to_owned(),
            3 => String::new(),
            _ => format!("\"x,{nl}{nl}y\""),
        };
        if Some(row) == bad_at {
            text.push_str(&format!("{},u{user},{n}{nl}", timestamp(t.max(back) - back)));
        } else {
            text.push_str(&format!("{},u{user},{n},{note}{nl}", timestamp(t.max(back) - back)));
        }
        if random.below(7) == 0 {
            text.push_str(nl);
        }
    }
    text
}

/// The same clicks as JSON Lines, with blank lines.
fn clicks_jsonl(rows: usize) -> String {
    let mut random = Lcg(5);
    let (mut text, mut t) = (String::new(), 0);
    for _ in 0..rows {
        t += [0, 0, 1, 3, 40, 900][random.below(6) as usize];
        let (user, n, note) = (random.below(40), random.below(100), random.below(6));
        text.push_str(&format!(
            "{{\"ts\":\"{}\",\"user\":\"u{user}\",\"n\":{n},\"note\":\"n{note}\"}}\n",
            timestamp(t)
        ));
        if random.below(7) == 0 {
            text.push_str("  \n");
        }
    }
    text
}

fn folder(format: &str, key_first: bool, data: &str) -> tempfile::TempDir {
    folder_with_policy(format, key_first, data, "fail")
}

/// [`folder`] with the source's `on_bad_row` set to `policy` (`dead_letter` writes
/// `out/bad.jsonl`, beside the sinks).
fn folder_with_policy(format: &str, key_first: bool, data: &str, policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let setting = match policy {
        "dead_letter" => "on_bad_row = \"dead_letter\"\ndead_letter_path = \"out/bad.jsonl\"\n".to_owned(),
        other => format!("on_bad_row = \"{other}\"\n"),
    };
    let text = pipeline(format, key_first).replacen(
        "time_field = \"ts\"\n",
        &format!("time_field = \"ts\"\n{setting}"),
        1,
    );
    std::fs::write(dir.path().join("pipeline.toml"), text).unwrap();
    std::fs::write(dir.path().join(format!("clicks.{format}")), data).unwrap();
    dir
}

#[test]
fn quoted_line_breaks_blank_lines_and_crlf_read_in_chunks_of_any_size_give_the_same_outputs() {
    for (format, key_first, data) in [
        ("csv", false, clicks_csv(400, None, false)),
        ("csv", true, clicks_csv(400, None, true)),
        ("jsonl", true, clicks_jsonl(400)),
        ("jsonl", false, clicks_jsonl(400)),
    ] {
        let dir = folder(format, key_first, &data);
        let pipeline = dir.path().join("pipeline.toml");
        let expected = eddy::run_captured(&pipeline).unwrap();
        assert!(expected["sessions"].len() > 100, "{expected:?}");
        for chunk_bytes in [1, 2, 5, 13, 34, 89, 233, 610, 1597, 4000] {
            for workers in [2, 3, 4] {
                let (got, in_chunks) = eddy::workers::run_captured_in_chunks(&pipeline, workers, chunk_bytes);
                assert!(in_chunks, "{format}: not read in chunks");
                assert_eq!(
                    got.unwrap(),
                    expected,
                    "{format} on {workers} workers, chunks of {chunk_bytes} bytes"
                );
            }
        }
    }
}

#[test]
fn a_bad_row_read_in_chunks_stops_every_sink_where_one_worker_stops_them_with_the_same_line() {
    for crlf in [false, true] {
        let dir = folder("csv", false, &clicks_csv(300, Some(200), crlf));
        let one = eddy(&["run", "pipeline.toml", "--quiet"], dir.path());
        assert_eq!(one.status.code(), Some(1), "{}", text(&one.stderr));
        let error = text(&one.stderr);
        assert!(error.contains("clicks.csv") && error.contains("expected 4 fields, found 3"), "{error}");
        let expected = out_files(dir.path());
        assert!(expected.values().any(|bytes| !bytes.is_empty()), "nothing written before the bad row");
        let (in_process, in_chunks) =
            eddy::workers::run_captured_in_chunks(&dir.path().join("pipeline.toml"), 2, 7);
        assert!(in_chunks);
        let one_in_process = eddy::run_captured(&dir.path().join("pipeline.toml")).unwrap_err().to_string();
        assert_eq!(in_process.unwrap_err().to_string(), one_in_process);
        for chunk_bytes in [1, 7, 50, 333, 2000] {
            for workers in ["2", "3"] {
                std::fs::remove_dir_all(dir.path().join("out")).unwrap();
                let run = eddy_in_chunks(
                    &["run", "pipeline.toml", "--quiet", "--workers", workers],
                    dir.path(),
                    chunk_bytes,
                );
                assert_eq!(text(&run.stderr), error, "{workers} workers, chunks of {chunk_bytes}");
                assert_eq!(run.status.code(), Some(1));
                assert_eq!(out_files(dir.path()), expected, "{workers} workers, chunks of {chunk_bytes}");
            }
        }
    }
}

#[test]
fn snapshots_taken_reading_in_chunks_resume_on_one_two_and_three_workers_with_the_same_outputs() {
    snapshots_resume_to_the_same_outputs("csv", false, &clicks_csv(3000, None, false));
    snapshots_resume_to_the_same_outputs("jsonl", true, &clicks_jsonl(3000));
}

/// Snapshots of a run on 2 workers reading `data` in chunks, each resumed on 1, 2 and 3.
fn snapshots_resume_to_the_same_outputs(format: &str, key_first: bool, data: &str) {
    snapshots_resume_to_the_same_outputs_under(format, key_first, data, "fail");
}

/// [`snapshots_resume_to_the_same_outputs`] with the source's `on_bad_row` set to `policy`.
fn snapshots_resume_to_the_same_outputs_under(format: &str, key_first: bool, data: &str, policy: &str) {
    let reference = folder_with_policy(format, key_first, data, policy);
    let run = eddy(&["run", "pipeline.toml", "--quiet"], reference.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let expected = out_files(reference.path());
    let dir = folder_with_policy(format, key_first, data, policy);
    let args = [
        "run",
        "pipeline.toml",
        "--quiet",
        "--workers",
        "2",
        "--snapshot-dir",
        "snaps",
        "--snapshot-every",
        "700",
    ];
    let run = eddy_in_chunks(&args, dir.path(), 5000);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(out_files(dir.path()), expected, "{format}: the run that took the snapshots");
    let mut snapshots: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join("snaps")).unwrap().map(|e| e.unwrap().path()).collect();
    snapshots.sort();
    assert!(snapshots.len() >= 3, "{format}: {snapshots:?}");
    let full = out_files(dir.path());
    for snapshot in [&snapshots[0], &snapshots[snapshots.len() / 2]] {
        // The summary of the resume on one worker: bad rows before the cut counted again.
        let mut one_summary = None;
        for workers in ["1", "2", "3"] {
            for (name, bytes) in &full {
                std::fs::write(dir.path().join("out").join(name), bytes).unwrap();
            }
            let args = ["run", "pipeline.toml", "--workers", workers, "--resume", snapshot.to_str().unwrap()];
            let run = eddy_in_chunks(&args, dir.path(), 3000);
            assert_eq!(run.status.code(), Some(0), "{workers}: {}", text(&run.stderr));
            assert_eq!(
                out_files(dir.path()),
                expected,
                "{} resumed on {workers} worker(s)",
                snapshot.display()
            );
            let summary = summary_without_timing(&run.stderr);
            assert_eq!(&summary, one_summary.get_or_insert_with(|| summary.clone()), "{workers} workers");
        }
    }
}

#[test]
fn sigint_stops_a_run_reading_in_chunks_with_a_snapshot_that_resumes_to_the_same_outputs() {
    let data = clicks_csv(60_000, None, false);
    let reference = folder("csv", false, &data);
    let run = eddy(&["run", "pipeline.toml", "--quiet"], reference.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let expected = out_files(reference.path());
    let dir = folder("csv", false, &data);
    interrupt_then_resume(dir.path(), &expected, &[(eddy::workers::CHUNK_BYTES_VAR, "20000")]);
}

/// Whether row `row` of `rows` is bad, and which kind of bad (`kinds` of them): the first and
/// the last row, a run of 60 (whole chunks of bad rows at small chunk sizes), a run of 3, and
/// about one row in 12 elsewhere.
fn bad_kind(row: usize, rows: usize, kinds: u64, random: &mut Lcg) -> Option<u64> {
    let bad = row == 0 || row + 1 == rows || (150..210).contains(&row) || (300..303).contains(&row);
    let pick = random.below(12 * kinds);
    (bad || pick < kinds).then_some(pick % kinds)
}

/// `rows` clicks as CSV with bad rows among them ([`bad_kind`]): a field too few, a field too
/// many, a time that is no time, an empty time; good rows have quoted line breaks and blank
/// lines after them now and then.
fn clicks_csv_with_bad_rows(rows: usize) -> String {
    let mut random = Lcg(23);
    let mut text = "ts,user,n,note\n".to_owned();
    let mut t = 0;
    for row in 0..rows {
        t += [0, 1, 3, 40, 900][random.below(5) as usize];
        let (user, n) = (random.below(40), random.below(100));
        let note = ["\"two\nlines\"", "plain", "", "\"a \"\"b\"\"\""][random.below(4) as usize];
        let ts = timestamp(t);
        text.push_str(&match bad_kind(row, rows, 4, &mut random) {
            Some(0) => format!("{ts},u{user},{n}\n"),
            Some(1) => format!("{ts},u{user},{n},{note},extra\n"),
            Some(2) => format!("yesterday,u{user},{n},{note}\n"),
            Some(_) => format!(",u{user},{n},{note}\n"),
            None => format!("{ts},u{user},{n},{note}\n"),
        });
        if random.below(9) == 0 {
            text.push('\n');
        }
    }
    text
}

/// `rows` clicks as JSON Lines with bad rows among them ([`bad_kind`]): an array, a number,
/// broken JSON, an object without its time, a time that is no time.
fn clicks_jsonl_with_bad_rows(rows: usize) -> String {
    let mut random = Lcg(29);
    let (mut text, mut t) = (String::new(), 0);
    for row in 0..rows {
        t += [0, 1, 3, 40, 900][random.below(5) as usize];
        let (user, n) = (random.below(40), random.below(100));
        let ts = timestamp(t);
        text.push_str(&match bad_kind(row, rows, 5, &mut random) {
            Some(0) => format!("[\"{ts}\",\"u{user}\",{n}]\n"),
            Some(1) => format!("{n}\n"),
            Some(2) => format!("{{\"ts\":\"{ts}\",\"user\":\n"),
            Some(3) => format!("{{\"user\":\"u{user}\",\"n\":{n}}}\n"),
            Some(_) => format!("{{\"ts\":\"soon\",\"user\":\"u{user}\",\"n\":{n}}}\n"),
            None => format!("{{\"ts\":\"{ts}\",\"user\":\"u{user}\",\"n\":{n}}}\n"),
        });
        if random.below(9) == 0 {
            text.push_str(" \n");
        }
    }
    text
}

/// The end-of-run report on stderr without its timing (the first line's seconds and rate).
fn summary_without_timing(stderr: &[u8]) -> String {
    text(stderr)
        .lines()
        .map(|line| match line.find(" events in ") {
            Some(at) if line.starts_with("done:") || line.starts_with("stopped:") => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bad_rows_skipped_or_dead_lettered_in_chunks_give_one_workers_sinks_dead_letters_and_summary() {
    for (format, key_first, data) in [
        ("csv", false, clicks_csv_with_bad_rows(400)),
        ("csv", true, clicks_csv_with_bad_rows(400)),
        ("jsonl", false, clicks_jsonl_with_bad_rows(400)),
    ] {
        for policy in ["skip", "dead_letter"] {
            let dir = folder_with_policy(format, key_first, &data, policy);
            let one = eddy(&["run", "pipeline.toml"], dir.path());
            assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
            let summary = summary_without_timing(&one.stderr);
            assert!(summary.contains("bad rows") && summary.contains("bad row: "), "{summary}");
            let expected = out_files(dir.path());
            assert_eq!(expected.contains_key("bad.jsonl"), policy == "dead_letter");
            let (_, in_chunks) =
                eddy::workers::run_captured_in_chunks(&dir.path().join("pipeline.toml"), 2, 1);
            assert!(in_chunks, "{format}, {policy}: not read in chunks");
            for chunk_bytes in [1, 7, 50, 333, 4000] {
                for workers in ["2", "3", "4"] {
                    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
                    let run = eddy_in_chunks(
                        &["run", "pipeline.toml", "--workers", workers],
                        dir.path(),
                        chunk_bytes,
                    );
                    let at = format!("{format}, {policy}, {workers} workers, chunks of {chunk_bytes} bytes");
                    assert_eq!(run.status.code(), Some(0), "{at}: {}", text(&run.stderr));
                    assert_eq!(summary_without_timing(&run.stderr), summary, "{at}");
                    assert_eq!(out_files(dir.path()), expected, "{at}");
                }
            }
        }
    }
}

#[test]
fn snapshots_taken_in_chunks_past_bad_rows_resume_on_one_two_and_three_workers_with_the_same_outputs() {
    snapshots_resume_to_the_same_outputs_under("csv", false, &clicks_csv_with_bad_rows(3000), "dead_letter");
    snapshots_resume_to_the_same_outputs_under("jsonl", true, &clicks_jsonl_with_bad_rows(3000), "skip");
}

#[test]
fn sigint_stops_a_run_reading_past_bad_rows_in_chunks_with_a_snapshot_that_resumes_to_the_same_outputs() {
    let data = clicks_csv_with_bad_rows(60_000);
    let reference = folder_with_policy("csv", false, &data, "dead_letter");
    let run = eddy(&["run", "pipeline.toml", "--quiet"], reference.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let expected = out_files(reference.path());
    let dir = folder_with_policy("csv", false, &data, "dead_letter");
    interrupt_then_resume(dir.path(), &expected, &[(eddy::workers::CHUNK_BYTES_VAR, "20000")]);
}
