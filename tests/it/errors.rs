//! Bad input, as a new user meets it: every mistake gets an error that says what and where,
//! and nothing produced before it is lost.

use std::path::{Path, PathBuf};

use eddy::Error;

/// A folder with a pipeline file and its data files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

const EVENTS_CSV: &str = "ts,user,value\n\
2024-01-01T00:00:00Z,a,1\n\
2024-01-01T00:00:01Z,b,2\n\
2024-01-01T00:00:02Z,a,x,extra\n\
2024-01-01T00:00:03Z,b,4\n";

fn pipeline(source_extra: &str, steps: &str) -> String {
    format!(
        "format_version = 1\n\
         [[sources]]\nid = \"events\"\npath = \"events.csv\"\ntime_field = \"ts\"\n{source_extra}\n\
         [[steps]]\nid = \"by_user\"\nop = \"key_on\"\ninputs = [\"events\"]\nfield = \"user\"\n\
         {steps}\n\
         [[sinks]]\nid = \"out\"\ninputs = [\"last\"]\nformat = \"jsonl\"\npath = \"out/out.jsonl\"\n"
    )
}

const RUNNING_SUM: &str = "[[steps]]\nid = \"last\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\n\
builtin = \"sum\"\nfield = \"value\"\n";

fn problems(path: &Path) -> Vec<String> {
    match eddy::engine::load_and_check(path) {
        Err(Error::Invalid(problems)) => problems.0.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("expected validation problems, got {other}"),
        Ok(_) => panic!("expected validation problems, the pipeline is valid"),
    }
}

fn assert_has(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "no problem contains {needle:?}; problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once_naming_step_and_key() {
    let text = "format_version = 1\n\
        [[sources]]\nid = \"events\"\npath = \"events.csv\"\ntime_field = \"ts\"\n\
        [[sources]]\nid = \"gone\"\npath = \"missing.csv\"\n\
        [[steps]]\nid = \"by_user\"\nop = \"key_onn\"\ninputs = [\"events\"]\nfield = \"user\"\n\
        [[steps]]\nid = \"count\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nscrpt = \"x\"\n\
        [[steps]]\nid = \"bad_script\"\nop = \"map\"\ninputs = [\"events\"]\nscript = '''\nfn mapper(x) {\n    let y = x.value +;\n    y\n}\n'''\n\
        [[steps]]\nid = \"no_fn\"\nop = \"filter\"\ninputs = [\"events\"]\nscript = \"fn pred(x) { true }\"\n\
        [[steps]]\nid = \"unkeyed\"\nop = \"reduce_final\"\ninputs = [\"events\"]\nbuiltin = \"sum\"\n\
        [[steps]]\nid = \"bad_script\"\nop = \"inspect\"\ninputs = [\"events\"]\n\
        [[steps]]\nid = \"loop_a\"\nop = \"map\"\ninputs = [\"loop_b\"]\nfield = \"x\"\n\
        [[steps]]\nid = \"loop_b\"\nop = \"map\"\ninputs = [\"loop_a\"]\nfield = \"x\"\n\
        [[steps]]\nid = \"lonely\"\nop = \"join\"\ninputs = [\"unkeyed\"]\n\
        [[steps]]\nid = \"orphan\"\nop = \"map\"\ninputs = [\"nowhere\"]\nfield = \"x\"\n\
        [[sinks]]\nid = \"out\"\ninputs = [\"count\"]\nformat = \"jsonl\"\n";
    let fixture = Fixture::new(&[("p.toml", text), ("events.csv", EVENTS_CSV)]);
    let problems = problems(&fixture.path("p.toml"));
    assert_has(&problems, "step `by_user`, key `op`: unknown operator `key_onn` (did you mean `key_on`?)");
    assert_has(&problems, "step `count`, key `scrpt`: unknown key (did you mean `script`?)");
    assert_has(&problems, "source `gone`, key `path`: file not found");
    assert_has(&problems, "step `bad_script`, key `script`, script line 2, column 22: does not compile");
    assert_has(&problems, "step `no_fn`, key `script`: in `predicate`: missing function");
    assert_has(&problems, "step `unkeyed`, key `inputs`: `reduce_final` needs a keyed stream");
    assert_has(&problems, "step `bad_script`, key `id`: duplicate id");
    assert_has(&problems, "step `loop_a`, key `inputs`: part of a cycle");
    assert_has(&problems, "step `lonely`, key `inputs`: a join needs at least two inputs");
    assert_has(&problems, "sink `out`, key `path`: missing");
    // An input naming nothing is reported; one naming the unreadable step is not reported
    // again as an unknown input (told apart by the problem's kind, not its text).
    assert_has(&problems, "step `orphan`, key `inputs`: no source or step named `nowhere`");
    assert!(!problems.iter().any(|p| p.contains("no source or step named `by_user`")), "{problems:#?}");
}

#[test]
fn an_unknown_key_far_from_every_known_one_is_told_the_keys_the_entry_takes() {
    let text =
        pipeline("colour = \"blue\"", RUNNING_SUM).replace("field = \"user\"", "field = \"user\"\nzzz = 1");
    let fixture = Fixture::new(&[("p.toml", &text), ("events.csv", EVENTS_CSV)]);
    let problems = problems(&fixture.path("p.toml"));
    let expected = [
        "source `events`, key `colour`: unknown key (the keys here are `id`, `path`, `format`, `time_field`, \
         `time_format`, `on_bad_row`, `dead_letter_path`, `types`, `follow`, `recording`)",
        "step `by_user`, key `zzz`: unknown key (the keys here are `id`, `op`, `inputs`, `script`, `field`)",
    ];
    assert_eq!(problems.iter().filter(|p| p.contains("unknown key")).collect::<Vec<_>>(), expected);
}

#[test]
fn not_toml_names_line_and_column() {
    let fixture = Fixture::new(&[("p.toml", "format_version = 1\n[[steps]\nid = 1\n")]);
    let problems = problems(&fixture.path("p.toml"));
    assert_has(&problems, "p.toml: line 2, column");
    assert_has(&problems, "not valid TOML");
}

#[test]
fn a_broken_row_fails_naming_file_line_and_keeps_earlier_output() {
    let fixture = Fixture::new(&[("p.toml", &pipeline("", RUNNING_SUM)), ("events.csv", EVENTS_CSV)]);
    let graph = eddy::engine::load_and_check(&fixture.path("p.toml")).unwrap();
    let mut engine = eddy::engine::Engine::new(graph, &Default::default()).unwrap();
    let error = engine.run_to_end().unwrap_err();
    let text = error.to_string();
    assert!(text.contains("source `events`: bad row at "), "{text}");
    assert!(text.contains("events.csv:4: expected 3 fields, found 4"), "{text}");
    assert_eq!(error.exit_code(), 1);
    engine.flush().unwrap();
    let written = std::fs::read_to_string(fixture.path("out/out.jsonl")).unwrap();
    assert_eq!(written, "[\"a\",1]\n[\"b\",2]\n");
}

#[test]
fn skip_and_dead_letter_policies_go_on_and_account_for_the_row() {
    let fixture = Fixture::new(&[
        ("skip.toml", &pipeline("on_bad_row = \"skip\"", RUNNING_SUM)),
        (
            "dl.toml",
            &pipeline("on_bad_row = \"dead_letter\"\ndead_letter_path = \"bad/rows.jsonl\"", RUNNING_SUM),
        ),
        ("events.csv", EVENTS_CSV),
    ]);
    for name in ["skip.toml", "dl.toml"] {
        let out = eddy::run_captured(&fixture.path(name)).unwrap();
        assert_eq!(out["out"], vec!["[\"a\",1]", "[\"b\",2]", "[\"b\",6]"], "{name}");
    }
    let dead = std::fs::read_to_string(fixture.path("bad/rows.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(dead.trim()).unwrap();
    assert_eq!(row["line"], 4);
    assert_eq!(row["raw"], "2024-01-01T00:00:02Z,a,x,extra");
    assert_eq!(row["reason"], "expected 3 fields, found 4");
}

#[test]
fn an_endless_loop_is_stopped_naming_step_function_line_key_and_item() {
    let spin = "[[steps]]\nid = \"last\"\nop = \"map_value\"\ninputs = [\"by_user\"]\nscript = '''\n\
        fn mapper(v) {\n    let n = 0;\n    while true { n += 1; }\n    n\n}\n'''\n";
    let fixture = Fixture::new(&[("p.toml", &pipeline("", spin)), ("events.csv", EVENTS_CSV)]);
    let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
    assert!(error.contains("step `last`, function `mapper`, script line 1"), "{error}");
    assert!(error.contains("where `mapper` starts"), "{error}");
    assert!(error.contains("endless loop"), "{error}");
    assert!(error.contains("key \"a\""), "{error}");
    assert!(error.contains("user: \"a\""), "{error}");
    assert!(error.contains("events.csv), line 2"), "{error}");
}

#[test]
fn runaway_recursion_and_growth_are_stopped() {
    let recurse = "[[steps]]\nid = \"last\"\nop = \"map_value\"\ninputs = [\"by_user\"]\nscript = '''\n\
        fn deep(n) { deep(n + 1) }\nfn mapper(v) { deep(0) }\n'''\n";
    let grow = "[[steps]]\nid = \"last\"\nop = \"map_value\"\ninputs = [\"by_user\"]\nscript = '''\n\
        fn mapper(v) { let s = \"x\"; loop { s += s; } }\n'''\n";
    for (steps, needle) in [(recurse, "endless recursion"), (grow, "grew past its limit")] {
        let fixture = Fixture::new(&[("p.toml", &pipeline("", steps)), ("events.csv", EVENTS_CSV)]);
        let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
        assert!(error.contains("step `last`"), "{error}");
        assert!(error.contains(needle), "{error}");
    }
}

#[test]
fn script_errors_name_the_line_and_missing_fields_are_errors() {
    let typo = "[[steps]]\nid = \"last\"\nop = \"map_value\"\ninputs = [\"by_user\"]\nscript = '''\n\
        fn mapper(v) {\n    v.valeu\n}\n'''\n";
    let fixture = Fixture::new(&[("p.toml", &pipeline("", typo)), ("events.csv", EVENTS_CSV)]);
    let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
    assert!(error.contains("step `last`, function `mapper`, script line 2"), "{error}");
    assert!(error.contains("valeu"), "{error}");
}

#[test]
fn wrong_result_shapes_and_non_string_keys_are_errors() {
    let shape = "[[steps]]\nid = \"last\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nscript = '''\n\
        fn mapper(state, v) { 42 }\n'''\n";
    let fixture = Fixture::new(&[("p.toml", &pipeline("", shape)), ("events.csv", EVENTS_CSV)]);
    let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
    assert!(error.contains("`mapper` must return [new_state, output], it returned 42"), "{error}");

    let text =
        pipeline("", "[[steps]]\nid = \"last\"\nop = \"key_on\"\ninputs = [\"events\"]\nfield = \"value\"\n")
            .replace("field = \"user\"", "field = \"user\"\n");
    let fixture =
        Fixture::new(&[("p.toml", &text), ("events.csv", "ts,user,value\n2024-01-01T00:00:00Z,a,1\n")]);
    let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
    assert!(error.contains("a key must be a string"), "{error}");
    assert!(error.contains("force the column's type"), "{error}");
}

#[test]
fn a_value_with_no_json_form_names_sink_step_and_key() {
    let inf = "[[steps]]\nid = \"last\"\nop = \"map_value\"\ninputs = [\"by_user\"]\nscript = '''\n\
        fn mapper(v) { 1.0 / 0.0 }\n'''\n";
    let fixture = Fixture::new(&[
        ("p.toml", &pipeline("", inf)),
        ("events.csv", "ts,user,value\n2024-01-01T00:00:00Z,a,1\n"),
    ]);
    let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
    assert!(error.contains("sink `out` could not write the output of `last` for key \"a\""), "{error}");
}

/// Every error about the shape of a function's result names the step, the function and its
/// script line (where the function starts), and the key and item being processed.
#[test]
fn wrong_shape_errors_name_step_function_line_key_and_item() {
    let step = |op: &str, script: &str| {
        format!(
            "[[steps]]\nid = \"last\"\nop = \"{op}\"\ninputs = [\"by_user\"]\nscript = '''\n// shape\n{script}\n'''\n"
        )
    };
    let cases = [
        (
            step("stateful_map", "fn mapper(state, v) { 42 }"),
            "function `mapper`, script line 2",
            "must return [new_state, output]",
        ),
        (
            step("stateful_flat_map", "fn mapper(state, v) { [1, 2] }"),
            "function `mapper`, script line 2",
            "must be an array",
        ),
        (
            step("flat_map_value", "fn mapper(v) { v }"),
            "function `mapper`, script line 2",
            "the result must be an array",
        ),
        (
            step("filter_value", "fn predicate(v) { 1 }"),
            "function `predicate`, script line 2",
            "must return true or false",
        ),
        (
            step("filter", "fn predicate(v) { \"yes\" }"),
            "function `predicate`, script line 2",
            "must return true or false",
        ),
        (
            step("flat_map", "fn mapper(v) { 5 }"),
            "function `mapper`, script line 2",
            "the result must be an array",
        ),
        (
            step("stateful", "fn builder(s) { #{} }\nfn on_item(v) { 7 }"),
            "function `on_item`, script line 3",
            "must return [outputs, RETAIN] or [outputs, DISCARD]",
        ),
        (
            step("stateful", "fn builder(s) { #{} }\nfn on_item(v) { [1, RETAIN] }"),
            "function `on_item`, script line 3",
            "the outputs (first element) must be an array",
        ),
        (
            step("stateful", "fn builder(s) { #{} }\nfn on_item(v) { [[], 3] }"),
            "function `on_item`, script line 3",
            "the second element must be RETAIN or DISCARD",
        ),
        (
            step(
                "stateful",
                "fn builder(s) { #{} }\nfn on_item(v) { [[], RETAIN] }\n\nfn notify_at() { \"soon\" }",
            ),
            "function `notify_at`, script line 5",
            "must return a time",
        ),
    ];
    for (steps, place, what) in cases {
        let fixture = Fixture::new(&[("p.toml", &pipeline("", &steps)), ("events.csv", EVENTS_CSV)]);
        let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
        assert!(error.contains(&format!("step `last`, {place}, column 1: ")), "{steps}\n{error}");
        assert!(error.contains(what), "{steps}\n{error}");
        assert!(error.contains("while processing key \"a\", item "), "{steps}\n{error}");
    }
    // A key_on's script: the stream is not keyed yet, so the item alone.
    let key_on = "[[steps]]\nid = \"last\"\nop = \"key_rm\"\ninputs = [\"by_user\"]\n";
    let text = pipeline("", key_on).replace(
        "op = \"key_on\"\ninputs = [\"events\"]\nfield = \"user\"",
        "op = \"key_on\"\ninputs = [\"events\"]\nscript = '''\n\nfn key(e) { 1 }\n'''",
    );
    let fixture = Fixture::new(&[("p.toml", &text), ("events.csv", EVENTS_CSV)]);
    let error = eddy::run_captured(&fixture.path("p.toml")).unwrap_err().to_string();
    assert!(
        error.contains("step `by_user`, function `key`, script line 2, column 1: a key must be a string"),
        "{error}"
    );
    assert!(error.contains("while processing item #{"), "{error}");
}

#[test]
fn a_count_built_in_with_a_field_is_refused_on_every_operator_that_takes_it() {
    for op in ["stateful_map", "reduce_final", "fold_final"] {
        let steps = format!(
            "[[steps]]\nid = \"n\"\nop = \"{op}\"\ninputs = [\"by_user\"]\nbuiltin = \"count\"\nfield = \"value\"\n"
        );
        let fixture = Fixture::new(&[("events.csv", EVENTS_CSV), ("p.toml", &pipeline("", &steps))]);
        let found = problems(&fixture.path("p.toml"));
        assert_has(&found, "the `count` built-in takes no field");
        assert!(found.iter().any(|p| p.contains("`n`")), "{op}: {found:?}");
    }
}

#[test]
fn a_field_read_on_a_keyed_stream_is_a_problem_before_the_run() {
    for op in ["key_on", "map"] {
        let steps = format!(
            "[[steps]]\nid = \"again\"\nop = \"{op}\"\ninputs = [\"by_user\"]\nfield = \"value\"\n\
             [[steps]]\nid = \"last\"\nop = \"inspect\"\ninputs = [\"again\"]\n"
        );
        let fixture = Fixture::new(&[("events.csv", EVENTS_CSV), ("p.toml", &pipeline("", &steps))]);
        let found = problems(&fixture.path("p.toml"));
        assert_has(&found, "but `by_user` is keyed: its items are `[key, value]` pairs");
        assert!(found.iter().any(|p| p.contains("`again`")), "{op}: {found:?}");
    }
}

#[test]
fn a_followed_json_array_is_refused_whether_its_format_is_given_or_inferred() {
    for format in ["format = \"json\"\n", ""] {
        let text = format!(
            "format_version = 1\n[[sources]]\nid = \"a\"\npath = \"log.json\"\nfollow = true\n{format}\
             [[sinks]]\nid = \"out\"\ninputs = [\"a\"]\npath = \"out.jsonl\"\n"
        );
        let fixture = Fixture::new(&[("log.json", "[]"), ("p.toml", &text)]);
        assert_has(
            &problems(&fixture.path("p.toml")),
            "a JSON array is read whole, so it cannot be followed",
        );
    }
}

/// A run that stops on a script error has dead-lettered and counted exactly the bad rows before
/// the event it stopped at, every time (docs/file-format.md, `dead_letter_path`): the source is
/// read ahead on its own thread, and until 2026-12-07 that thread wrote the rows it had read,
/// a different number from run to run.
#[test]
fn a_run_stopped_by_an_error_dead_letters_the_bad_rows_before_it_and_no_more() {
    let mut csv = String::from("ts,user,n\n");
    let (mut bad_lines, mut line, mut stop_line) = (Vec::new(), 1, 0);
    for i in 0..20_000u64 {
        if i % 97 == 13 {
            line += 1;
            csv.push_str("not a time,u1,1\n");
            bad_lines.push(line);
        }
        line += 1;
        if i == 5000 {
            stop_line = line;
        }
        csv.push_str(&format!("2024-01-01T00:00:{:02}Z,u{},{}\n", i / 400 % 60, i % 50, i));
    }
    let stops = "[[steps]]\nid = \"last\"\nop = \"map_value\"\ninputs = [\"by_user\"]\n\
                 script = 'fn mapper(v) { if v.n == 5000 { throw \"stop here\" } v }'\n";
    let dead_letter = "on_bad_row = \"dead_letter\"\ndead_letter_path = \"out/dead.jsonl\"";
    let fixture = Fixture::new(&[("p.toml", &pipeline(dead_letter, stops)), ("events.csv", &csv)]);
    let before: Vec<u64> = bad_lines.iter().copied().filter(|&l| l < stop_line).collect();
    assert!(before.len() > 40 && before.len() < bad_lines.len(), "{} of {}", before.len(), bad_lines.len());
    for _ in 0..3 {
        let run = crate::util::eddy(&["run", "p.toml"], fixture.dir.path());
        assert_eq!(run.status.code(), Some(1), "{}", crate::util::text(&run.stderr));
        let stderr = crate::util::text(&run.stderr);
        assert!(stderr.contains("stop here"), "{stderr}");
        assert!(stderr.contains(&format!("{} bad rows dead-lettered", before.len())), "{stderr}");
        let dead = std::fs::read_to_string(fixture.path("out/dead.jsonl")).unwrap();
        let lines: Vec<u64> = dead
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, before);
    }
}
