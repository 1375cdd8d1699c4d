//! Problems found in a pipeline file, each naming where it is.

use std::fmt;
use std::path::PathBuf;

/// The part of a pipeline a problem belongs to, so a UI can select it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// The file as a whole (syntax, version, top-level keys).
    File(PathBuf),
    /// The `[clock]` table.
    Clock,
    /// The `[limits]` table.
    Limits,
    /// A `[[sources]]` entry, by id (or `#n` when it has none).
    Source(String),
    /// A `[[steps]]` entry, by id (or `#n` when it has none).
    Step(String),
    /// A `[[sinks]]` entry, by id (or `#n` when it has none).
    Sink(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File(path) => write!(f, "{}", path.display()),
            Place::Clock => f.write_str("[clock]"),
            Place::Limits => f.write_str("[limits]"),
            Place::Source(id) => write!(f, "source `{id}`"),
            Place::Step(id) => write!(f, "step `{id}`"),
            Place::Sink(id) => write!(f, "sink `{id}`"),
        }
    }
}

/// One problem in a pipeline: where it is, which key (field) and, for scripts, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GraphError {
    /// The source, step or sink at fault.
    pub place: Place,
    /// The key of that entry (`script`, `inputs`, …), if the problem is in one.
    pub field: Option<String>,
    /// For script problems: the 1-based line and column inside the script.
    pub script_position: Option<(usize, usize)>,
    /// What is wrong, and how to fix it when that is known.
    pub message: String,
    /// What kind of problem it is, where code needs to tell.
    pub kind: ProblemKind,
}

/// The kind of a [`GraphError`], for code that treats some problems specially.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProblemKind {
    /// Any other problem.
    #[default]
    Other,
    /// An entry's `inputs` names no source or step: the name.
    UnknownInput(String),
}

impl GraphError {
    /// A problem with a whole entry.
    pub fn new(place: Place, message: impl Into<String>) -> Self {
        Self { place, field: None, script_position: None, message: message.into(), kind: ProblemKind::Other }
    }

    /// A problem with one key of an entry.
    pub fn at(place: Place, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            place,
            field: Some(field.into()),
            script_position: None,
            message: message.into(),
            kind: ProblemKind::Other,
        }
    }

    /// The same problem, of kind `kind`.
    pub fn of_kind(self, kind: ProblemKind) -> Self {
        Self { kind, ..self }
    }

    /// The step id this problem belongs to, if it is a step's.
    pub fn step_id(&self) -> Option<&str> {
        match &self.place {
            Place::Step(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.place)?;
        if let Some(field) = &self.field {
            write!(f, ", key `{field}`")?;
        }
        if let Some((line, column)) = self.script_position {
            write!(f, ", script line {line}, column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Several problems, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GraphErrors(pub Vec<GraphError>);

impl fmt::Display for GraphErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(f, "{count} problem{} in the pipeline:", if count == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// A suggestion for a misspelt name: the closest candidate within a small edit distance.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(wrong, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current[j + 1] = (previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A ` (did you mean `x`?)` suffix, or nothing.
pub fn hint<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(wrong, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}
