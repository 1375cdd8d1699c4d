//! Each sink's lines against its expected file: pass, or where they part (the first differing
//! line, with both sides, and how many lines differ, are missing or extra), a sink with no
//! expected file, an expected file with no sink.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::checkpoint::StateCheckpoint;
use super::{EXPECTED_DIR, EXPECTED_EXT};

/// How one sink's output departs from what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkDiff {
    /// The sink's lines differ from its expected file's.
    Lines {
        /// The sink.
        sink: String,
        /// The first line (from 1) that differs, is missing or is extra.
        line: usize,
        /// The expected file's text of that line (`None`: the file has no such line).
        expected: Option<String>,
        /// The sink's line (`None`: the sink received no such line).
        got: Option<String>,
        /// Lines of the expected file.
        expected_lines: usize,
        /// Lines the sink received.
        got_lines: usize,
        /// Lines present on both sides that differ.
        differing: usize,
    },
    /// The pipeline has this sink, the folder no expected file for it.
    NoExpectedFile {
        /// The sink.
        sink: String,
        /// Lines it received.
        got_lines: usize,
    },
    /// The folder has an expected file for a sink the pipeline does not have.
    NoSink {
        /// The sink the file's name gives.
        sink: String,
        /// Lines of the expected file.
        expected_lines: usize,
    },
}

/// A key's state at a checkpoint that is not the one saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDiff {
    /// Where: the step, the key, the event.
    pub checkpoint: StateCheckpoint,
    /// The saved state (JSON text; `null`: no state).
    pub expected: String,
    /// The replay's state (JSON text; `null`: no state).
    pub got: String,
}

/// The outcome of one test folder's comparison: it passes when nothing differs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Sinks compared (of the pipeline and of the expected files).
    pub sinks: usize,
    /// Lines the sinks received, all together.
    pub lines: usize,
    /// What differs, sink by sink in id order.
    pub diffs: Vec<SinkDiff>,
    /// Per-key state checkpoints compared.
    pub checkpoints: usize,
    /// The checkpoints whose state differs, in the folder's order.
    pub states: Vec<StateDiff>,
}

impl Verdict {
    /// Whether every sink received exactly its expected lines.
    pub fn passed(&self) -> bool {
        self.diffs.is_empty() && self.states.is_empty()
    }
}

/// Each checkpoint's saved state (`expected`) against the replay's (`got`, in the same order):
/// those that differ, compared as JSON values.
pub fn compare_states(expected: &[(StateCheckpoint, String)], got: &[String]) -> Vec<StateDiff> {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    expected
        .iter()
        .zip(got.iter().map(String::as_str).chain(std::iter::repeat("null")))
        .filter(|((_, want), have)| parse(want) != parse(have) || parse(want).is_none())
        .map(|((checkpoint, want), have)| StateDiff {
            checkpoint: checkpoint.clone(),
            expected: want.clone(),
            got: have.to_owned(),
        })
        .collect()
}

/// Compares what each sink received (`got`) with the expected files' lines (`expected`), line by
/// line as text.
pub fn compare_outputs(
    expected: &BTreeMap<String, Vec<String>>,
    got: &BTreeMap<String, Vec<String>>,
) -> Verdict {
    let sinks: BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
    let mut verdict =
        Verdict { sinks: sinks.len(), lines: got.values().map(Vec::len).sum(), ..Verdict::default() };
    for sink in sinks {
        let diff = match (expected.get(sink), got.get(sink)) {
            (Some(want), Some(have)) => compare_lines(sink, want, have),
            (None, Some(have)) => {
                Some(SinkDiff::NoExpectedFile { sink: sink.clone(), got_lines: have.len() })
            }
            (Some(want), None) => Some(SinkDiff::NoSink { sink: sink.clone(), expected_lines: want.len() }),
            (None, None) => None,
        };
        verdict.diffs.extend(diff);
    }
    verdict
}

fn compare_lines(sink: &str, want: &[String], have: &[String]) -> Option<SinkDiff> {
    let longest = want.len().max(have.len());
    let first = (0..longest).find(|&i| want.get(i) != have.get(i))?;
    let differing = want.iter().zip(have).filter(|(w, h)| w != h).count();
    Some(SinkDiff::Lines {
        sink: sink.to_owned(),
        line: first + 1,
        expected: want.get(first).cloned(),
        got: have.get(first).cloned(),
        expected_lines: want.len(),
        got_lines: have.len(),
        differing,
    })
}

/// "1 line", "3 lines".
fn lines(n: usize) -> String {
    if n == 1 { "1 line".to_owned() } else { format!("{n} lines") }
}

impl fmt::Display for SinkDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkDiff::Lines { sink, line, expected, got, expected_lines, got_lines, differing } => {
                let mut counts = Vec::new();
                if *differing > 0 {
                    let verb = if *differing == 1 { "differs" } else { "differ" };
                    counts.push(format!("{} {verb}", lines(*differing)));
                }
                if expected_lines > got_lines {
                    counts.push(format!("{} missing", lines(expected_lines - got_lines)));
                }
                if got_lines > expected_lines {
                    counts.push(format!("{} extra", lines(got_lines - expected_lines)));
                }
                writeln!(
                    f,
                    "sink `{sink}`: first difference at line {line} (expected {}, got {}: {})",
                    lines(*expected_lines),
                    lines(*got_lines),
                    counts.join(", ")
                )?;
                writeln!(f, "  expected: {}", expected.as_deref().unwrap_or("(no such line)"))?;
                write!(f, "  got:      {}", got.as_deref().unwrap_or("(no such line)"))
            }
            SinkDiff::NoExpectedFile { sink, got_lines } => write!(
                f,
                "sink `{sink}`: no expected file {EXPECTED_DIR}/{sink}.{EXPECTED_EXT} (the sink received {})",
                lines(*got_lines)
            ),
            SinkDiff::NoSink { sink, expected_lines } => write!(
                f,
                "{EXPECTED_DIR}/{sink}.{EXPECTED_EXT}: the pipeline has no sink `{sink}` ({} expected)",
                lines(*expected_lines)
            ),
        }
    }
}

impl fmt::Display for StateDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "state of {}: differs", self.checkpoint)?;
        writeln!(f, "  expected: {}", self.expected)?;
        write!(f, "  got:      {}", self.got)
    }
}

impl fmt::Display for Verdict {
    /// The differences, one sink after another (nothing when it passed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diff) in self.diffs.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diff}")?;
        }
        for (i, diff) in self.states.iter().enumerate() {
            if i > 0 || !self.diffs.is_empty() {
                writeln!(f)?;
            }
            write!(f, "{diff}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect())).collect()
    }

    #[test]
    fn each_kind_of_difference_reads_as_said() {
        let expected =
            outputs(&[("a", &["1", "2", "3"]), ("b", &["x"]), ("gone", &["1", "2"]), ("same", &["s"])]);
        let got = outputs(&[("a", &["1", "9", "3", "4"]), ("b", &[]), ("new", &["n"]), ("same", &["s"])]);
        let verdict = compare_outputs(&expected, &got);
        assert!(!verdict.passed());
        assert_eq!(
            verdict.to_string(),
            "sink `a`: first difference at line 2 (expected 3 lines, got 4 lines: 1 line differs, 1 line extra)\n  \
             expected: 2\n  got:      9\n\
             sink `b`: first difference at line 1 (expected 1 line, got 0 lines: 1 line missing)\n  \
             expected: x\n  got:      (no such line)\n\
             expected/gone.jsonl: the pipeline has no sink `gone` (2 lines expected)\n\
             sink `new`: no expected file expected/new.jsonl (the sink received 1 line)"
        );
    }

    #[test]
    fn equal_outputs_pass() {
        let both = outputs(&[("a", &["1"]), ("b", &[])]);
        let verdict = compare_outputs(&both, &both);
        assert!(verdict.passed());
        assert_eq!((verdict.sinks, verdict.lines), (2, 1));
    }
}
