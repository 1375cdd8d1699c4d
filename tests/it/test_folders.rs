//! `eddy test FOLDER...` and `eddy test --save FOLDER PIPELINE`: a recorded run as a
//! regression test (README, "Regression tests"; docs/file-format.md#test-folders). Whole
//! printed outputs and whole files; nothing is written into a folder that is replayed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{assert_same_per_key, eddy, read_lines, text};

/// The shipped examples, each with a test folder in `tests/recorded/`.
const EXAMPLES: [&str; 4] = ["orders_join", "sessions", "sliding_window", "user_stats"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (relative path → bytes), and every folder (→ `None`).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(base).unwrap().to_owned();
            if path.is_dir() {
                out.insert(relative, None);
                walk(base, &path, out);
            } else {
                out.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Copies the test folder of example `name` into `into/name`.
fn copy_recorded(name: &str, into: &Path) -> PathBuf {
    let to = into.join(name);
    for (relative, bytes) in tree(&root().join("tests/recorded").join(name)) {
        match bytes {
            None => std::fs::create_dir_all(to.join(relative)).unwrap(),
            Some(bytes) => {
                std::fs::create_dir_all(to.join(&relative).parent().unwrap()).unwrap();
                std::fs::write(to.join(relative), bytes).unwrap();
            }
        }
    }
    to
}

#[test]
fn the_examples_test_folders_pass() {
    let folders: Vec<String> = EXAMPLES.iter().map(|n| format!("tests/recorded/{n}")).collect();
    let args: Vec<&str> = ["test"].into_iter().chain(folders.iter().map(String::as_str)).collect();
    let before = tree(&root().join("tests/recorded"));
    let out = eddy(&args, &root());
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        "PASS tests/recorded/orders_join (1 sink(s), 300 lines)\n\
         PASS tests/recorded/sessions (1 sink(s), 19 lines)\n\
         PASS tests/recorded/sliding_window (1 sink(s), 841 lines)\n\
         PASS tests/recorded/user_stats (2 sink(s), 21 lines)\n\
         4 folder(s): 4 passed, 0 failed, 0 error(s)\n"
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(tree(&root().join("tests/recorded")) == before, "eddy test wrote into tests/recorded/");
}

/// The recorded folders hold the examples as shipped (pipeline and inputs byte for byte), and
/// their expected outputs agree with the Python oracle's (tests/examples/, per key, in order):
/// a saved folder is checked, not merely copied from Eddy. After changing an example, save its
/// folder again (README, "Regression tests").
#[test]
fn the_recorded_folders_are_the_examples_and_agree_with_the_oracle() {
    for name in EXAMPLES {
        let folder = root().join("tests/recorded").join(name);
        let shipped = |file: &str| std::fs::read(root().join("assets").join(file)).unwrap();
        assert!(
            std::fs::read(folder.join("pipeline.toml")).unwrap() == shipped(&format!("{name}.toml")),
            "{name}: tests/recorded/{name}/pipeline.toml is not assets/{name}.toml: save the folder again"
        );
        for (relative, bytes) in tree(&folder) {
            if let (Some(bytes), None) = (bytes, relative.strip_prefix("expected").ok()) {
                let file = relative.to_str().unwrap();
                if file != "pipeline.toml" {
                    assert!(
                        bytes == shipped(file),
                        "{name}: {file} is not assets/{file}: save the folder again"
                    );
                }
            }
        }
        let oracle = root().join("tests/examples").join(name);
        let mut sinks = Vec::new();
        for entry in std::fs::read_dir(folder.join("expected")).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert_same_per_key(
                &read_lines(&path),
                &read_lines(&oracle.join(&file)),
                &format!("{name}/{file}"),
            );
            sinks.push(file);
        }
        sinks.sort();
        let mut oracle_sinks: Vec<String> = std::fs::read_dir(&oracle)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        oracle_sinks.sort();
        assert_eq!(sinks, oracle_sinks, "{name}: the recorded sinks are not the oracle's");
    }
}

#[test]
fn one_edited_expected_line_fails_with_the_line_expected_and_got_and_a_junit_report() {
    let dir = tempfile::tempdir().unwrap();
    let folder = copy_recorded("user_stats", dir.path());
    copy_recorded("sessions", dir.path());
    let per_user = folder.join("expected/per_user.jsonl");
    let mut lines = read_lines(&per_user);
    lines[2] = r#"["u03",{"count":1}]"#.to_owned();
    std::fs::write(&per_user, lines.join("\n") + "\n").unwrap();
    let before = tree(dir.path());

    let out = eddy(&["test", "sessions", "user_stats", "--junit", "report.xml"], dir.path());
    let diff = "sink `per_user`: first difference at line 3 (expected 15 lines, got 15 lines: 1 line differs)\n  \
                expected: [\"u03\",{\"count\":1}]\n  \
                got:      [\"u03\",{\"count\":18,\"max\":27012,\"mean\":6644.777777777777,\"min\":499,\"sum\":119606}]";
    assert_eq!(
        text(&out.stdout),
        format!(
            "PASS sessions (1 sink(s), 19 lines)\nFAIL user_stats\n{}\n4 folder(s): 1 passed, 1 failed, 0 error(s)\n",
            diff.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
        )
        .replace("4 folder(s)", "2 folder(s)")
    );
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(1));

    let escaped = diff.replace('"', "&quot;").replace('\n', "&#10;");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.xml")).unwrap(),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"eddy test\" tests=\"2\" failures=\"1\" errors=\"0\">\n  \
             <testsuite name=\"eddy test\" tests=\"2\" failures=\"1\" errors=\"0\">\n    \
             <testcase classname=\"eddy.test\" name=\"sessions\"/>\n    \
             <testcase classname=\"eddy.test\" name=\"user_stats\">\n      \
             <failure message=\"{escaped}\">{escaped}</failure>\n    \
             </testcase>\n  \
             </testsuite>\n\
             </testsuites>\n"
        )
    );
    let mut after = tree(dir.path());
    after.remove(Path::new("report.xml"));
    assert!(after == before, "eddy test wrote into the folders");
}

#[test]
fn missing_and_extra_lines_and_sinks_are_each_named() {
    let dir = tempfile::tempdir().unwrap();
    let folder = copy_recorded("user_stats", dir.path());
    let expected = folder.join("expected");
    // per_category: its last two lines gone; per_user renamed to a sink the pipeline lacks.
    let lines = read_lines(&expected.join("per_category.jsonl"));
    std::fs::write(expected.join("per_category.jsonl"), lines[..4].join("\n") + "\n").unwrap();
    std::fs::rename(expected.join("per_user.jsonl"), expected.join("users.jsonl")).unwrap();
    let out = eddy(&["test", "user_stats"], dir.path());
    assert_eq!(
        text(&out.stdout),
        format!(
            "FAIL user_stats\n  \
             sink `per_category`: first difference at line 5 (expected 4 lines, got 6 lines: 2 lines extra)\n    \
             expected: (no such line)\n    \
             got:      {}\n  \
             sink `per_user`: no expected file expected/per_user.jsonl (the sink received 15 lines)\n  \
             expected/users.jsonl: the pipeline has no sink `users` (15 lines expected)\n\
             1 folder(s): 0 passed, 1 failed, 0 error(s)\n",
            lines[4]
        )
    );
    assert_eq!(out.status.code(), Some(1));
}

/// A small pipeline with a dead-lettering source (one bad row) and a CSV and a JSON Lines sink.
const PIPELINE: &str = r#"format_version = 1

[[sources]]
id = "clicks"
path = "data/clicks.csv"
time_field = "ts"
on_bad_row = "dead_letter"
dead_letter_path = "bad_rows.jsonl"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["clicks"]
field = "user"

[[steps]]
id = "total"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, click) {
    print("seen " + click.user);
    let n = (state ?? 0) + 60 / click.value;
    [n, n]
}
'''

[[sinks]]
id = "totals"
inputs = ["total"]
path = "out/totals.csv"

[[sinks]]
id = "raw"
inputs = ["clicks"]
path = "out/raw.jsonl"
"#;

const CLICKS: &str = "ts,user,value\n\
                      2024-01-01T00:00:00Z,a,1\n\
                      2024-01-01T00:00:01Z,b,2\n\
                      not a row\n\
                      2024-01-01T00:00:02Z,a,3\n";

/// A pipeline folder `work/` (pipeline.toml, data/clicks.csv) in a new temporary folder.
fn work_pipeline() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("work/data")).unwrap();
    std::fs::write(dir.path().join("work/pipeline.toml"), PIPELINE).unwrap();
    std::fs::write(dir.path().join("work/data/clicks.csv"), CLICKS).unwrap();
    dir
}

#[test]
fn save_writes_the_pipeline_its_inputs_and_the_expected_lines_and_test_writes_nothing() {
    let dir = work_pipeline();
    let out = eddy(&["test", "--save", "saved/t1", "work/pipeline.toml"], dir.path());
    assert_eq!(
        text(&out.stderr),
        "saved saved/t1: pipeline.toml from work/pipeline.toml, 1 input file(s), expected outputs of 2 sink(s): \
         `raw` 3 lines, `totals` 3 lines\n"
    );
    assert_eq!(out.status.code(), Some(0));
    let saved = tree(&dir.path().join("saved"));
    let file = |bytes: &str| Some(bytes.as_bytes().to_vec());
    let want: BTreeMap<PathBuf, Option<Vec<u8>>> = [
        ("t1", None),
        ("t1/data", None),
        ("t1/data/clicks.csv", file(CLICKS)),
        ("t1/expected", None),
        (
            "t1/expected/raw.jsonl",
            file(
                "{\"ts\":\"2024-01-01T00:00:00Z\",\"user\":\"a\",\"value\":1}\n\
                 {\"ts\":\"2024-01-01T00:00:01Z\",\"user\":\"b\",\"value\":2}\n\
                 {\"ts\":\"2024-01-01T00:00:02Z\",\"user\":\"a\",\"value\":3}\n",
            ),
        ),
        ("t1/expected/totals.jsonl", file("[\"a\",60]\n[\"b\",30]\n[\"a\",80]\n")),
        ("t1/pipeline.toml", file(PIPELINE)),
    ]
    .into_iter()
    .map(|(path, bytes)| (PathBuf::from(path), bytes))
    .collect();
    assert!(saved == want, "the saved folder holds {:#?}", saved.keys().collect::<Vec<_>>());
    assert!(!dir.path().join("work/out").exists() && !dir.path().join("work/bad_rows.jsonl").exists());

    let before = tree(dir.path());
    let out = eddy(&["test", "saved/t1"], dir.path());
    assert_eq!(
        text(&out.stdout),
        "PASS saved/t1 (2 sink(s), 6 lines)\n1 folder(s): 1 passed, 0 failed, 0 error(s)\n"
    );
    assert_eq!(text(&out.stderr), "", "print output is not shown");
    assert_eq!(out.status.code(), Some(0));
    assert!(tree(dir.path()) == before, "eddy test wrote a file (a sink, a dead-letter file)");

    // An empty folder is filled.
    std::fs::create_dir(dir.path().join("saved/t2")).unwrap();
    let out = eddy(&["test", "--save", "saved/t2", "work/pipeline.toml"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(tree(&dir.path().join("saved/t2")) == tree(&dir.path().join("saved/t1")));
}

#[test]
fn save_refuses_a_used_folder_a_live_source_and_inputs_it_cannot_copy_and_writes_nothing() {
    let dir = work_pipeline();
    std::fs::create_dir_all(dir.path().join("used")).unwrap();
    std::fs::write(dir.path().join("used/keep.txt"), "mine").unwrap();
    std::fs::write(dir.path().join("a_file"), "mine").unwrap();
    let variant = |name: &str, from: &str, to: &str| {
        std::fs::write(dir.path().join("work").join(name), PIPELINE.replace(from, to)).unwrap();
    };
    variant("live.toml", "time_field = \"ts\"\n", "time_field = \"ts\"\nfollow = true\n");
    variant("up.toml", "data/clicks.csv", "../outside.csv");
    std::fs::write(dir.path().join("outside.csv"), CLICKS).unwrap();
    let absolute = dir.path().join("work/data/clicks.csv");
    variant("absolute.toml", "data/clicks.csv", absolute.to_str().unwrap());
    variant("missing.toml", "data/clicks.csv", "data/gone.csv");
    variant("wall.toml", "format_version = 1\n", "format_version = 1\n[clock]\nmode = \"wall\"\n");
    let before = tree(dir.path());
    let d = dir.path().display().to_string();
    let cases = [
        ("used", "work/pipeline.toml", "used: exists and is not empty: eddy test --save writes a new folder (or fills an empty one), never over files".to_owned()),
        ("a_file", "work/pipeline.toml", "a_file: exists and is not a folder: eddy test --save writes a new folder (or fills an empty one), never over files".to_owned()),
        ("new", "work/live.toml", "work/live.toml: source `clicks` is live (path = \"-\" or follow = true): a test replays files, the same way every time; record the stream (eddy run --record FILE) and make it a file source".to_owned()),
        ("new", "work/wall.toml", "work/wall.toml: [clock] mode = \"wall\" reads the machine's clock, so two replays differ by when they run: test with mode = \"replay\"".to_owned()),
        ("new", "work/up.toml", "work/up.toml: source `clicks` reads ../outside.csv, a path that leaves the pipeline's folder: a test folder holds the input files at the paths the pipeline names them, so each must be a relative path inside the pipeline's folder".to_owned()),
        ("new", "work/absolute.toml", format!("work/absolute.toml: source `clicks` reads {d}/work/data/clicks.csv, an absolute path: a test folder holds the input files at the paths the pipeline names them, so each must be a relative path inside the pipeline's folder")),
        ("new", "work/missing.toml", "work/missing.toml: 1 problem in the pipeline:\n  - source `clicks`, key `path`: file not found: work/data/gone.csv\n".to_owned()),
    ];
    for (folder, pipeline, message) in cases {
        let out = eddy(&["test", "--save", folder, pipeline], dir.path());
        assert_eq!(text(&out.stderr), format!("error: {message}\n"), "--save {folder} {pipeline}");
        assert_eq!(out.status.code(), Some(2), "--save {folder} {pipeline}");
        assert!(tree(dir.path()) == before, "--save {folder} {pipeline} wrote something");
    }
}

#[test]
fn a_script_error_or_a_bad_folder_exits_2_naming_the_file_the_step_and_the_line() {
    let dir = work_pipeline();
    assert_eq!(eddy(&["test", "--save", "t", "work/pipeline.toml"], dir.path()).status.code(), Some(0));
    // A zero now divides: the replay fails at the step, its script line and the source row.
    let clicks = dir.path().join("t/data/clicks.csv");
    std::fs::write(&clicks, CLICKS.replace(",b,2", ",b,0")).unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let out = eddy(&["test", "t", "empty", "nowhere"], dir.path());
    assert_eq!(
        text(&out.stdout),
        "ERROR t\nERROR empty\nERROR nowhere\n3 folder(s): 0 passed, 0 failed, 3 error(s)\n"
    );
    assert_eq!(
        text(&out.stderr),
        "error: t/pipeline.toml: step `total`, function `mapper`, script line 3, column 31: Division by zero: \
         60 / 0 (while processing key \"b\", item #{ts: \"2024-01-01T00:00:01Z\", user: \"b\", value: 0})\n  \
         at source `clicks` (t/data/clicks.csv), line 3\n\
         error: empty: not a test folder: it has no pipeline.toml (make one with eddy test --save FOLDER PIPELINE)\n\
         error: nowhere: no such folder (a test folder holds pipeline.toml)\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn state_checkpoints_are_checked_with_a_readable_diff_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let folder = copy_recorded("user_stats", dir.path());
    let checkpoints = folder.join("checkpoints.jsonl");
    let run = || eddy(&["test", "user_stats"], dir.path());

    // The saved state: passes (the keys of a line in any order, the state compared as JSON).
    std::fs::write(
        &checkpoints,
        "{\"state\":{\"sum\":3399,\"min\":3399,\"max\":3399,\"mean\":3399.0,\"count\":1},\"key\":\"u03\",\"step\":\"stats\",\"event\":40}\n\
         {\"event\":0,\"step\":\"stats\",\"key\":\"u03\",\"state\":null}\n",
    )
    .unwrap();
    let out = run();
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        (
            "PASS user_stats (2 sink(s), 21 lines, 2 state checkpoint(s))\n1 folder(s): 1 passed, 0 failed, 0 error(s)\n".into(),
            String::new()
        )
    );
    assert_eq!(out.status.code(), Some(0));

    // Another state: fails, naming the key, the step, the event and both states.
    std::fs::write(
        &checkpoints,
        "{\"event\":40,\"step\":\"stats\",\"key\":\"u03\",\"state\":{\"count\":0}}\n",
    )
    .unwrap();
    let out = run();
    assert_eq!(
        text(&out.stdout),
        "FAIL user_stats\n  state of key `u03` of step `stats` after event 40: differs\n    expected: {\"count\":0}\n    \
         got:      {\"count\":1,\"max\":3399,\"mean\":3399.0,\"min\":3399,\"sum\":3399}\n\
         1 folder(s): 0 passed, 1 failed, 0 error(s)\n"
    );
    assert_eq!(out.status.code(), Some(1));

    // A checkpoint that cannot be taken, or a line that is not one: an error naming it.
    for (line, error) in [
        (
            "{\"event\":4000,\"step\":\"stats\",\"key\":\"u03\",\"state\":null}",
            "error: user_stats/pipeline.toml: checkpoint key `u03` of step `stats` after event 4000: the input has 330 events, not 4000\n",
        ),
        (
            "{\"event\":4,\"step\":\"nope\",\"key\":\"u03\",\"state\":null}",
            "error: user_stats/pipeline.toml: checkpoint key `u03` of step `nope` after event 4: the pipeline has no step `nope`\n",
        ),
        (
            "{\"event\":4,\"step\":\"stats\",\"key\":\"u03\"}",
            "error: user_stats/checkpoints.jsonl: line 1: no state (each line is {\"event\":N,\"step\":\"ID\",\"key\":\"KEY\",\"state\":JSON})\n",
        ),
    ] {
        std::fs::write(&checkpoints, format!("{line}\n")).unwrap();
        let out = run();
        assert_eq!(text(&out.stderr), error);
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn save_takes_state_checkpoints_from_the_command_line_and_refuses_bad_ones_writing_nothing() {
    let dir = work_pipeline();
    let save = |folder: &str, checkpoints: &[&str]| {
        let mut args = vec!["test", "--save", folder, "work/pipeline.toml"];
        for checkpoint in checkpoints {
            args.extend(["--checkpoint", checkpoint]);
        }
        eddy(&args, dir.path())
    };
    let out = save("saved/t1", &["total:a@1", "total:a@3", "total:b@0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).ends_with("and 3 state checkpoint(s) in checkpoints.jsonl\n"),
        "{}",
        text(&out.stderr)
    );
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.path().join("saved/t1/checkpoints.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    let states: Vec<(u64, &str, &str, &serde_json::Value)> = lines
        .iter()
        .map(|l| {
            (
                l["event"].as_u64().unwrap(),
                l["step"].as_str().unwrap(),
                l["key"].as_str().unwrap(),
                &l["state"],
            )
        })
        .collect();
    let (sixty, eighty) = (serde_json::json!(60), serde_json::json!(80));
    assert_eq!(
        states,
        [(1, "total", "a", &sixty), (3, "total", "a", &eighty), (0, "total", "b", &serde_json::Value::Null)]
    );
    let out = eddy(&["test", "saved/t1"], dir.path());
    assert_eq!(
        text(&out.stdout),
        "PASS saved/t1 (2 sink(s), 6 lines, 3 state checkpoint(s))\n1 folder(s): 1 passed, 0 failed, 0 error(s)\n"
    );

    // Refused, naming the argument or the checkpoint; no folder written.
    for (checkpoint, error) in [
        (
            "total-a@1",
            "error: --checkpoint total-a@1: no `:` after the step id (expected STEP:KEY@EVENTS, e.g. stats:u03@40)\n",
        ),
        (
            "total:a",
            "error: --checkpoint total:a: no `@` before the events (expected STEP:KEY@EVENTS, e.g. stats:u03@40)\n",
        ),
        (
            "total:a@x",
            "error: --checkpoint total:a@x: `x` is not a number of source events (expected STEP:KEY@EVENTS, e.g. stats:u03@40)\n",
        ),
        (
            "nope:a@1",
            "error: work/pipeline.toml: checkpoint key `a` of step `nope` after event 1: the pipeline has no step `nope`\n",
        ),
        (
            "total:a@99",
            "error: work/pipeline.toml: checkpoint key `a` of step `total` after event 99: the input has 3 events, not 99\n",
        ),
    ] {
        let out = save("saved/t2", &[checkpoint]);
        assert_eq!(text(&out.stderr), error);
        assert_eq!(out.status.code(), Some(2));
        assert!(!dir.path().join("saved/t2").exists(), "{checkpoint}");
    }
    // Only with --save.
    let out = eddy(&["test", "saved/t1", "--checkpoint", "total:a@1"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--save"), "{}", text(&out.stderr));
}
