//! Runaway scripts through the real binary: every call of a user function is bounded in wall
//! time, memory and the nesting of the values it keeps, and exceeding a bound is an ordinary
//! run error (exit 1) naming the step, the function and the script line, with the sinks
//! flushed; never an abort or a hang. Also the `[limits]` table that sets the bounds.

use std::path::Path;

use crate::util::{eddy, text};

/// A folder with `p.toml`: a source of two rows (`a`, then `b`) keyed by `id`, the given
/// steps after the `key_on` (the last one is `s`), and a JSONL sink of `s` in `out.jsonl`.
fn pipeline(limits: &str, steps: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "id,v\na,1\nb,2\n").unwrap();
    let text = format!(
        "format_version = 1\n{limits}\n\
         [[sources]]\nid = \"in\"\npath = \"in.csv\"\n\n\
         [[steps]]\nid = \"by_id\"\nop = \"key_on\"\ninputs = [\"in\"]\nfield = \"id\"\n\n\
         {steps}\n\
         [[sinks]]\nid = \"out\"\ninputs = [\"s\"]\nformat = \"jsonl\"\npath = \"out.jsonl\"\n"
    );
    std::fs::write(dir.path().join("p.toml"), text).unwrap();
    dir
}

/// A `map_value` step `s` whose mapper returns `v.v` for key `a` and runs `body` for key `b`.
fn runaway(limits: &str, body: &str) -> tempfile::TempDir {
    let script = format!(
        "[[steps]]\nid = \"s\"\nop = \"map_value\"\ninputs = [\"by_id\"]\nscript = '''\n\
         fn mapper(v) {{\n    if v.id == \"a\" {{ return v.v; }}\n{body}\n}}\n'''\n"
    );
    pipeline(limits, &script)
}

/// Runs `p.toml`; asserts a located run error (exit 1) whose message has `needle`, and that
/// the first row's output reached the sink before the failure.
fn assert_stopped(dir: &Path, needle: &str) -> String {
    let run = eddy(&["run", "--quiet", "p.toml"], dir);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "exit 1 expected: {stderr}");
    assert!(stderr.contains("step `s`, function `mapper`, script line "), "not located: {stderr}");
    assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    assert!(stderr.contains("while processing key \"b\""), "no key: {stderr}");
    let out = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    assert_eq!(out, "[\"a\",1]\n", "the sink is flushed up to the failure");
    stderr
}

#[test]
fn a_quadratic_copy_stops_at_the_time_limit() {
    // About 1.2 M operations, each copying the array: 36 s in one call before the time limit.
    let body = "    let a = [];\n    for i in 0..300000 {\n        a = a + [i];\n    }\n    a.len()";
    let dir = runaway("", body);
    let stderr = assert_stopped(dir.path(), "the call ran longer than 2s (`call_timeout` in [limits]");
    assert!(stderr.contains("script line 1, column 1: "), "where `mapper` starts: {stderr}");
}

#[test]
fn unbounded_nesting_stops_without_overflowing_the_stack() {
    // Aborted the process (stack overflow, exit 134) before any limit.
    let body = "    let a = [];\n    for i in 0..45000 {\n        a = [a];\n    }\n    a";
    let dir = runaway("", body);
    assert_stopped(dir.path(), "stopped: ");
}

#[test]
fn a_value_nested_too_deep_is_refused_when_returned() {
    let body = "    let a = 1;\n    for i in 0..200 {\n        a = [a];\n    }\n    a";
    let dir = runaway("", body);
    let stderr =
        assert_stopped(dir.path(), "nests arrays and maps more than 128 deep (`max_depth` in [limits])");
    assert!(stderr.contains("script line 1, column 1"), "the function's line: {stderr}");
}

#[test]
fn unbounded_memory_stops_at_the_memory_limit() {
    // A map of 1,000 strings of 8 MiB each: gigabytes before the string-size limit.
    let body = "    let big = \"x\";\n    while big.len() < 8388608 { big += big; }\n    let m = #{};\n    \
                for i in 0..1000 {\n        m[\"k\" + i] = big + i;\n    }\n    m.len()";
    // A long time limit, so that the memory limit is what stops it even in a slow build.
    let dir = runaway("[limits]\ncall_timeout = \"60s\"", body);
    assert_stopped(dir.path(), "the call took more than 256MiB of memory (`call_memory` in [limits]");
}

#[test]
fn the_limits_table_sets_the_bounds() {
    let limits = "[limits]\ncall_timeout = \"100ms\"\ncall_memory = 67108864\nmax_depth = 3\n";
    let dir = runaway(limits, "    let n = 0;\n    loop { n += 1; }");
    assert_stopped(dir.path(), "the call ran longer than 100ms");

    let dir = runaway(limits, "    [[[[1]]]]");
    assert_stopped(dir.path(), "more than 3 deep");

    let dir = runaway(limits, "    [[[1]]]");
    let run = eddy(&["run", "--quiet", "p.toml"], dir.path());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));

    let dir = runaway("[limits]\ncall_memory = \"64MiB\"", "    let s = \"x\";\n    loop { s += s; }");
    let stderr = assert_stopped(dir.path(), "stopped: ");
    assert!(stderr.contains("64MiB") || stderr.contains("grew past its limit"), "{stderr}");
}

#[test]
fn the_limits_table_is_checked_like_the_others() {
    let limits = "[limits]\ncall_timout = \"1s\"\ncall_memory = \"12 parsecs\"\nmax_depth = 0\n\
                  max_operations = \"many\"\n";
    let dir = runaway(limits, "    1");
    let check = eddy(&["check", "p.toml"], dir.path());
    let stderr = text(&check.stderr) + text(&check.stdout).as_str();
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    for needle in [
        "[limits], key `call_timout`: unknown key (did you mean `call_timeout`?)",
        "[limits], key `call_memory`: size \"12 parsecs\" has an unknown unit",
        "[limits], key `max_depth`: expected a number from 1 to 1000, found 0",
        "[limits], key `max_operations`: expected an integer, found string",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in:\n{stderr}");
    }
}

/// A `stateful_map` whose state for each key is a value nested `depth` deep.
fn deep_state(depth: usize) -> tempfile::TempDir {
    let script = format!(
        "[[steps]]\nid = \"s\"\nop = \"stateful_map\"\ninputs = [\"by_id\"]\nscript = '''\n\
         fn mapper(state, v) {{\n    let a = v.v;\n    for i in 0..{depth} {{ a = [a]; }}\n    [a, v.v]\n}}\n'''\n"
    );
    pipeline("", &script)
}

#[test]
fn state_as_deep_as_the_limit_allows_is_snapshotted_and_resumed() {
    // Nested 127 deep, it snapshotted fine but every resume failed ("recursion limit exceeded").
    let dir = deep_state(127);
    let dir = dir.path();
    let whole = eddy(&["run", "--quiet", "p.toml"], dir);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    let expected = std::fs::read(dir.join("out.jsonl")).unwrap();
    std::fs::remove_file(dir.join("out.jsonl")).unwrap();
    let args =
        ["run", "--quiet", "p.toml", "--snapshot-every", "1", "--snapshot-dir", "snaps", "--stop-after", "1"];
    let first = eddy(&args, dir);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let resumed = eddy(&["run", "--quiet", "p.toml", "--resume", "snaps"], dir);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert_eq!(std::fs::read(dir.join("out.jsonl")).unwrap(), expected);
}

#[test]
fn state_deeper_than_the_limit_is_refused_when_stored_naming_step_and_key() {
    let dir = deep_state(200);
    let run =
        eddy(&["run", "--quiet", "p.toml", "--snapshot-every", "1", "--snapshot-dir", "snaps"], dir.path());
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step `s`, function `mapper`, script line 1"), "{stderr}");
    assert!(stderr.contains("more than 128 deep"), "{stderr}");
    assert!(stderr.contains("while processing key \"a\""), "{stderr}");
}
