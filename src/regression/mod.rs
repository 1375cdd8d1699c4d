//! A recorded run as a regression test: a folder holding a pipeline, the input files it reads
//! and each sink's expected output lines, replayed headless and compared line by line
//! (`eddy test`; docs/file-format.md#test-folders).
//!
//! `folder.rs` reads a test folder, `replay.rs` runs a pipeline with its sinks in memory
//! (nothing written: no sink, no dead-letter file), `verdict.rs` compares what each sink
//! received with its expected lines, `save.rs` writes a new folder from a pipeline
//! (`eddy test --save`, the workbench's *Save as test…*), `checkpoint.rs` reads and writes the
//! per-key state checkpoints.

mod checkpoint;
mod folder;
mod replay;
mod save;
mod verdict;

use std::path::PathBuf;

pub use checkpoint::{StateCheckpoint, checkpoint_line, parse_checkpoints};
pub use folder::{TestFolder, load_folder};
pub use replay::{SinkLines, replay_captured, replay_with_states};
pub use save::{Saved, save_folder, save_folder_with};
pub use verdict::{SinkDiff, StateDiff, Verdict, compare_outputs, compare_states};

/// The pipeline file of a test folder.
pub const PIPELINE_FILE: &str = "pipeline.toml";

/// The file of a test folder holding its per-key state checkpoints (optional).
pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";

/// The sub-folder of a test folder holding each sink's expected lines.
pub const EXPECTED_DIR: &str = "expected";

/// The extension of an expected file: its lines are JSON Lines (what the sink receives, in the
/// form a `jsonl` sink writes it, whatever the sink's own format).
pub const EXPECTED_EXT: &str = "jsonl";

/// Why a test folder could not be saved or replayed (not a failed comparison: that is a
/// [`Verdict`]).
#[derive(Debug, thiserror::Error)]
pub enum RegressionError {
    /// The folder (or a file in it) is not a test folder's.
    #[error("{}: {reason}", path.display())]
    Folder {
        /// The folder or file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The pipeline is invalid, or its replay failed (a script, a source row): the error names
    /// the step, the script line and the source row.
    #[error("{}: {error}", file.display())]
    Run {
        /// The pipeline file.
        file: PathBuf,
        /// Why.
        error: crate::engine::RunError,
    },
    /// The pipeline cannot be replayed the same way twice (a live source, the machine's clock),
    /// or `--save` refuses it (a file outside its folder, a folder not empty).
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The pipeline file or the folder refused.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
}

impl RegressionError {
    /// A [`RegressionError::Folder`] for `path`.
    fn folder(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        RegressionError::Folder { path: path.into(), reason: reason.into() }
    }

    /// A [`RegressionError::Refused`] for `path`.
    fn refused(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        RegressionError::Refused { path: path.into(), reason: reason.into() }
    }
}
