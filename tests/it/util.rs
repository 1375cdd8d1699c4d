//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Parses JSON Lines text (one value per non-empty line); panics naming the line on bad JSON.
pub fn parse_lines(lines: &[String], what: &str) -> Vec<Value> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what}: line {}: not JSON ({e}): {line}", i + 1))
        })
        .collect()
}

/// Reads a JSON Lines file into lines.
pub fn read_lines(path: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines().map(str::to_owned).collect()
}

/// Groups keyed outputs (`[key, value]`) by key, keeping each key's order.
/// Unkeyed outputs (anything that is not a 2-element array with a string first) go under `None`.
pub fn group_by_key(values: Vec<Value>) -> BTreeMap<Option<String>, Vec<Value>> {
    let mut groups: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    for value in values {
        match value {
            Value::Array(mut pair) if pair.len() == 2 && pair[0].is_string() => {
                let v = pair.pop().unwrap();
                let Value::String(k) = pair.pop().unwrap() else { unreachable!() };
                groups.entry(Some(k)).or_default().push(v);
            }
            other => groups.entry(None).or_default().push(other),
        }
    }
    groups
}

/// Asserts that two outputs are equal per key, in order, as parsed JSON
/// (conformance/README.md: integers never equal floats; map members unordered).
pub fn assert_same_per_key(actual: &[String], expected: &[String], what: &str) {
    let actual = group_by_key(parse_lines(actual, what));
    let expected = group_by_key(parse_lines(expected, what));
    if actual != expected {
        let mut report = String::new();
        let keys: std::collections::BTreeSet<_> = actual.keys().chain(expected.keys()).collect();
        for key in keys {
            let (a, e) = (actual.get(key), expected.get(key));
            if a != e {
                report.push_str(&format!(
                    "  key {key:?}:\n    expected {}\n    actual   {}\n",
                    serde_json::to_string(&e).unwrap(),
                    serde_json::to_string(&a).unwrap()
                ));
            }
        }
        panic!("{what}: output differs from expected, per key:\n{report}");
    }
}

/// Runs the `eddy` binary in `dir` as a user would (no display, so no workbench).
pub fn eddy(args: &[&str], dir: &Path) -> Output {
    eddy_command(args, dir).output().unwrap()
}

/// The command of [`eddy`], for a test to set more of its environment before it runs.
pub fn eddy_command(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command.args(args).current_dir(dir).env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    command
}

/// A process's output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Deterministic pseudo-random numbers (a 64-bit LCG): the same test data every run.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number, below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}
