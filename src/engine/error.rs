//! Why a run stopped.

use crate::graph::GraphErrors;
use crate::io::IoError;
use crate::script::ScriptError;

/// A run that could not start or could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pipeline is not valid (exit code 2).
    #[error("{0}")]
    Invalid(GraphErrors),
    /// A step failed: a script error, a wrong result shape, a key that is not a string, ….
    #[error("{error}{}", at.as_ref().map(|a| format!("\n  at {a}")).unwrap_or_default())]
    Step {
        /// What failed, naming step, function, script line, key and item.
        error: ScriptError,
        /// The source event being processed (`source `clicks`, line 17`), when one was.
        at: Option<String>,
    },
    /// A source row could not be read, and the source's policy is `fail`.
    #[error(
        "source `{source_id}`: bad row at {error}\n  (to go on past bad rows, set on_bad_row = \"skip\" or \"dead_letter\" on the source)"
    )]
    BadRow {
        /// The source.
        source_id: String,
        /// File, line, column and reason.
        error: crate::io::RowError,
    },
    /// A source's file breaks its format so that nothing after the fault can be read (a JSON
    /// array broken mid-way): whatever its bad-row policy.
    #[error(
        "source `{source_id}`: cannot read past {error}\n  (the rest of the file cannot be found in a broken JSON array, \
         so no on_bad_row policy can skip this: fix the file, or write it as JSON Lines, where a broken line is one bad row)"
    )]
    Unreadable {
        /// The source.
        source_id: String,
        /// File, line, column and reason.
        error: crate::io::RowError,
    },
    /// Reading a source or writing a sink failed.
    #[error("{0}")]
    Io(#[from] IoError),
    /// A value could not be written by a sink (no JSON form, a CSV column problem).
    #[error("sink `{sink}` could not write the output of `{from}`{}: {reason}", key.as_ref().map(|k| format!(" for key {k:?}")).unwrap_or_default())]
    Output {
        /// The sink.
        sink: String,
        /// The stream it came from (a step id).
        from: String,
        /// The item's key, if keyed.
        key: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// A snapshot does not fit this pipeline (or its inputs), or cannot be read.
    #[error("cannot restore the snapshot: {0}")]
    Snapshot(String),
    /// A snapshot could not be taken or written (a value with no file form, a full disk), or
    /// the snapshot folder is not this run's to write.
    #[error("cannot write a snapshot: {0}")]
    SnapshotWrite(String),
    /// The command line asks for what this run cannot do (`--record` without a live source,
    /// a file it may not write; a snapshot duration for a replay): exit code 2.
    #[error("{0}")]
    Usage(String),
    /// The workbench's background run could not start its thread.
    #[error("cannot start the run's thread: {0}")]
    Thread(String),
    /// A run on several workers or processes that could not go on (docs/workers.md#failures).
    #[error("{0}")]
    Workers(String),
}

impl RunError {
    /// The process exit code the runner uses: 2 for an invalid pipeline, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Invalid(_) | RunError::Usage(_) => 2,
            _ => 1,
        }
    }
}
