//! Errors of sources and sinks. Every message says what went wrong and where (file,
//! line, column, or sink), so the runner and the workbench can show it as it is.

use std::fmt;
use std::path::PathBuf;

/// What can go wrong while reading a source or writing a sink.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A file could not be opened, read, created or written; names the path and the OS error.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// The file (as resolved against the pipeline's folder).
        path: PathBuf,
        /// What was being done: `"open"`, `"read"`, `"create"` or `"write"`.
        action: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A bad row under the policy `fail`.
    #[error(transparent)]
    Row(#[from] RowError),
    /// Text that breaks the file's format so that nothing after it can be found (a JSON array
    /// broken mid-way): no bad-row policy can go past it.
    #[error(
        "{0}\n  (past this point the file cannot be read as a JSON array at all, so no on_bad_row policy can skip it: \
         fix the file, or write it as JSON Lines, where a broken line is just one bad row)"
    )]
    Unreadable(RowError),
    /// An item the sink cannot write: a value with no JSON form (a non-finite float, a
    /// function pointer, …) or a CSV column problem.
    #[error("sink `{sink}`: {reason}")]
    Write {
        /// The sink's id.
        sink: String,
        /// What is wrong with the item.
        reason: String,
    },
}

impl IoError {
    /// A file error for `path`, so that callers need not spell the struct out.
    pub(crate) fn file(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Self::File { path: path.into(), action, source }
    }
}

/// A row of a source that cannot be read: where it is, why, and its raw text.
///
/// Displayed as `{path}:{line}: column `{column}`: {reason}` (the column part only when
/// known), which editors and terminals turn into a link to the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The source file (as resolved against the pipeline's folder).
    pub path: PathBuf,
    /// The 1-based line of the file where the row starts.
    pub line: u64,
    /// The CSV header name or JSON field at fault, when known.
    pub column: Option<String>,
    /// What is wrong, showing the bad value.
    pub reason: String,
    /// The row's raw text (without its line ending), for the dead-letter file.
    pub raw: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.line)?;
        if let Some(column) = &self.column {
            write!(f, "column `{column}`: ")?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for RowError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_error_display() {
        let mut err = RowError {
            path: PathBuf::from("data/events.csv"),
            line: 7,
            column: Some("amount".into()),
            reason: "expected an integer, found \"x\"".into(),
            raw: "a,x".into(),
        };
        assert_eq!(err.to_string(), "data/events.csv:7: column `amount`: expected an integer, found \"x\"");
        err.column = None;
        assert_eq!(IoError::Row(err).to_string(), "data/events.csv:7: expected an integer, found \"x\"");
    }

    #[test]
    fn file_and_write_display() {
        let err = IoError::file(
            "out/x.jsonl",
            "create",
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        assert_eq!(err.to_string(), "cannot create out/x.jsonl: denied");
        let err = IoError::Write { sink: "out".into(), reason: "NaN has no JSON form".into() };
        assert_eq!(err.to_string(), "sink `out`: NaN has no JSON form");
    }
}
