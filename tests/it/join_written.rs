//! A join read only by JSON sinks writes its rows by splicing each record's JSON text, made
//! once (docs/architecture.md#written-rows); any other reader gets ordinary rows. Each case
//! runs the same join over the same random records twice: read only by a JSON Lines sink
//! (written rows), and also by a step (ordinary rows), and compares the sink's whole file.
//! CSV sources write their records on their reading thread (the join's `key_on` is done by
//! the source); JSON Lines sources carry nested values, and the join writes them itself.

use std::fmt::Write as _;
use std::path::Path;

use eddy::engine::{Engine, EngineOptions, load_and_check};
use serde_json::{Value, json};

use crate::util::{Lcg, eddy, text};

const INSERT_MODES: [&str; 3] = ["first", "last", "product"];
const EMIT_MODES: [&str; 3] = ["complete", "final", "running"];

/// Strings a writer must escape, and some it must not.
const TEXTS: [&str; 9] = [
    "",
    "plain",
    "quote \" here",
    "back\\slash",
    "a,b",
    "line\nbreak",
    "tab\there",
    "héllo ✓ 😀",
    "\u{1}ctl",
];

/// The pipeline: two sources keyed by `k`, joined with these modes, the rows to `rows.jsonl`;
/// with `probe`, a step reads the rows too (so that they are ordinary values).
fn pipeline(format: &str, insert: &str, emit: &str, probe: bool) -> String {
    let source = |id: &str| {
        format!(
            "[[sources]]\nid = \"{id}\"\npath = \"{id}.{format}\"\nformat = \"{format}\"\ntime_field = \"t\"\n\n"
        )
    };
    let key_on = |id: &str| {
        format!("[[steps]]\nid = \"{id}_by_k\"\nop = \"key_on\"\ninputs = [\"{id}\"]\nfield = \"k\"\n\n")
    };
    let probe = if probe {
        "[[steps]]\nid = \"probe\"\nop = \"filter_value\"\ninputs = [\"j\"]\nscript = '''\nfn predicate(row) { false }\n'''\n\n"
    } else {
        ""
    };
    format!(
        "format_version = 1\n\n{}{}{}{}[[steps]]\nid = \"j\"\nop = \"join\"\ninputs = [\"left_by_k\", \"right_by_k\"]\n\
         insert_mode = \"{insert}\"\nemit_mode = \"{emit}\"\n\n{probe}[[sinks]]\nid = \"rows\"\ninputs = [\"j\"]\n\
         format = \"jsonl\"\npath = \"rows.jsonl\"\n",
        source("left"),
        source("right"),
        key_on("left"),
        key_on("right"),
    )
}

fn time(second: usize) -> String {
    format!("2024-01-01T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60)
}

fn pick<'a>(rng: &mut Lcg, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

/// A CSV cell of every kind the reader types: empty, integers, floats, strings needing quotes.
fn csv_cell(rng: &mut Lcg) -> String {
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    match rng.below(6) {
        0 => String::new(),
        1 => ["0", "-42", "9223372036854775807"][rng.below(3) as usize].to_owned(),
        2 => ["3.0", "0.1", "1e20", "-0.0", "1.5e-7"][rng.below(5) as usize].to_owned(),
        3 => ["true", "false"][rng.below(2) as usize].to_owned(),
        _ => quoted(pick(rng, &TEXTS)),
    }
}

/// A random JSON value, nested a few levels.
fn json_value(rng: &mut Lcg, depth: usize) -> Value {
    match rng.below(if depth < 3 { 9 } else { 6 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!([0_i64, -42, i64::MIN, i64::MAX][rng.below(4) as usize]),
        3 => json!([3.0, 0.1, 1e20, -0.0, 1.5e-7, -2.5][rng.below(6) as usize]),
        4 | 5 => json!(pick(rng, &TEXTS)),
        6 => Value::Array((0..rng.below(4)).map(|_| json_value(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.below(4)).map(|_| (pick(rng, &TEXTS).to_owned(), json_value(rng, depth + 1))).collect(),
        ),
    }
}

/// Writes `left` and `right` sources of `format` with random records over a few keys.
fn write_sources(dir: &Path, format: &str, seed: u64) {
    let mut rng = Lcg(seed);
    for (index, id) in ["left", "right"].iter().enumerate() {
        let mut file = String::new();
        if format == "csv" {
            file.push_str("t,k,a,b,c\n");
        }
        for row in 0..150 {
            let t = time(row * 2 + index);
            let k = format!("k{}", rng.below(7));
            if format == "csv" {
                let cells: Vec<String> = (0..3).map(|_| csv_cell(&mut rng)).collect();
                writeln!(file, "{t},{k},{}", cells.join(",")).unwrap();
            } else {
                let record =
                    json!({ "t": t, "k": k, "v": json_value(&mut rng, 0), "w": json_value(&mut rng, 1) });
                writeln!(file, "{record}").unwrap();
            }
        }
        std::fs::write(dir.join(format!("{id}.{format}")), file).unwrap();
    }
}

/// Runs `pipeline` in `dir` as `eddy run` does (records pruned to what is read) and returns
/// the sink's file.
fn run(dir: &Path, pipeline: &str) -> String {
    std::fs::write(dir.join("pipeline.toml"), pipeline).unwrap();
    let options = EngineOptions { prune_fields: true, ..EngineOptions::default() };
    let mut engine = Engine::new(load_and_check(&dir.join("pipeline.toml")).unwrap(), &options).unwrap();
    engine.run_to_end().unwrap();
    drop(engine);
    std::fs::read_to_string(dir.join("rows.jsonl")).unwrap()
}

#[test]
fn written_rows_are_the_ordinary_rows_byte_for_byte() {
    for format in ["csv", "jsonl"] {
        for seed in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            write_sources(dir.path(), format, seed);
            for insert in INSERT_MODES {
                for emit in EMIT_MODES {
                    let written = run(dir.path(), &pipeline(format, insert, emit, false));
                    let ordinary = run(dir.path(), &pipeline(format, insert, emit, true));
                    assert!(!written.is_empty(), "{format}, seed {seed}, {insert} × {emit}: no rows");
                    assert!(
                        written == ordinary,
                        "{format}, seed {seed}, {insert} × {emit}: the written rows differ from the ordinary ones"
                    );
                }
            }
        }
    }
}

#[test]
fn eddy_run_writes_the_same_bytes_on_one_worker_and_two() {
    let dir = tempfile::tempdir().unwrap();
    write_sources(dir.path(), "csv", 3);
    let ordinary = run(dir.path(), &pipeline("csv", "last", "running", true));
    std::fs::write(dir.path().join("pipeline.toml"), pipeline("csv", "last", "running", false)).unwrap();
    for workers in ["1", "2"] {
        let output = eddy(&["run", "pipeline.toml", "--workers", workers], dir.path());
        assert!(output.status.success(), "{}", text(&output.stderr));
        let written = std::fs::read_to_string(dir.path().join("rows.jsonl")).unwrap();
        assert!(written == ordinary, "{workers} worker(s): the rows differ from the ordinary ones");
    }
}

#[test]
fn a_join_feeding_a_script_step_gives_it_maps() {
    let dir = tempfile::tempdir().unwrap();
    write_sources(dir.path(), "csv", 4);
    let script = "[[steps]]\nid = \"types\"\nop = \"map_value\"\ninputs = [\"j\"]\nscript = '''\n\
                  fn mapper(row) { [type_of(row), type_of(row[0]), type_of(row[1]), row[0]] }\n'''\n\n";
    let pipeline = pipeline("csv", "last", "running", false)
        .replace("[[sinks]]", &format!("{script}[[sinks]]"))
        .replace("inputs = [\"j\"]\nformat", "inputs = [\"types\"]\nformat");
    let rows = run(dir.path(), &pipeline);
    let mut maps = 0;
    for line in rows.lines() {
        let item: Value = serde_json::from_str(line).unwrap();
        let [row, first, second, left] = [&item[1][0], &item[1][1], &item[1][2], &item[1][3]];
        assert_eq!(row, "array", "{line}");
        for side in [first, second] {
            assert!(side == "map" || side == "()", "{line}");
        }
        if first == "map" {
            assert!(left.is_object(), "{line}");
            maps += 1;
        }
    }
    assert!(maps > 100, "{maps} rows with a left record");
}

/// The conformance scenarios with a join, run as the runner runs them (records pruned: joins
/// read only by JSON sinks write their rows), against the ordinary run: the same lines, and,
/// cut after every event, the same snapshot and the same lines once resumed from it.
#[test]
fn conformance_joins_written_match_and_resume_from_every_cut() {
    use eddy::engine::StepOutcome;
    let runner = EngineOptions { capture_sinks: true, prune_fields: true, ..EngineOptions::default() };
    let ordinary = EngineOptions { capture_sinks: true, ..EngineOptions::default() };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut scenarios: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains("join"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 6, "{scenarios:?}");
    for scenario in scenarios {
        let path = scenario.join("pipeline.toml");
        let whole = eddy::run_captured(&path).unwrap();
        let mut events = 0;
        loop {
            let mut first = Engine::new(load_and_check(&path).unwrap(), &runner).unwrap();
            let mut reference = Engine::new(load_and_check(&path).unwrap(), &ordinary).unwrap();
            let mut ended = false;
            for _ in 0..events {
                ended |= !matches!(first.step().unwrap(), StepOutcome::Event { .. });
                reference.step().unwrap();
            }
            let snapshot = first.snapshot().unwrap();
            let what = format!("{}, cut at event {events}", scenario.display());
            assert_eq!(format!("{snapshot:?}"), format!("{:?}", reference.snapshot().unwrap()), "{what}");
            let mut second = Engine::restore(load_and_check(&path).unwrap(), &snapshot, &runner).unwrap();
            second.run_to_end().unwrap();
            let mut joined = first.captured();
            for (sink, lines) in second.captured() {
                joined.entry(sink).or_default().extend(lines);
            }
            assert_eq!(joined, whole, "{what}");
            if ended {
                break;
            }
            events += 1;
        }
    }
}
