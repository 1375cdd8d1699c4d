//! What a source does with the rows it cannot read, by its `on_bad_row` policy: counts them,
//! keeps the first few for the run's summary, writes them to the dead-letter file
//! (`dead_letter`), and keeps them for the dropped-items ledger when asked (docs/ledger.md).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::graph::SourceSpec;
use crate::io::error::{IoError, RowError};

/// How many bad rows a source keeps as samples for the run's summary.
const MAX_SAMPLES: usize = 5;

/// The dead-letter file of a source with the policy `dead_letter`.
pub(super) struct DeadLetter {
    /// The source's id (in each line).
    source: String,
    /// The source's file as the pipeline file writes it (in each line, so that the lines do
    /// not depend on where the run was started).
    source_path: String,
    /// The file (resolved).
    path: PathBuf,
    /// Buffered, flushed after every line so that the file is complete at any moment.
    out: BufWriter<File>,
    /// The line being written.
    line: Vec<u8>,
}

/// A source's bad rows handled by its policy (`skip` or `dead_letter`; `fail` stops the run
/// before a row gets here): counted, sampled, dead-lettered, kept for the ledger. A source
/// read ahead hands this to the reader of its events ([`super::Source::defer_bad_rows`]),
/// which applies it to each bad row as it passes the row's place.
#[derive(Default)]
pub struct BadRows {
    /// Where bad rows go, under `dead_letter` only.
    dead_letter: Option<DeadLetter>,
    /// Bad rows skipped or dead-lettered so far.
    count: u64,
    /// The first few bad rows.
    samples: Vec<RowError>,
    /// Every bad row since the last [`BadRows::take_kept`], when kept (the ledger).
    kept: Option<Vec<RowError>>,
}

impl BadRows {
    /// No bad row handled yet; each one to be written to `dead_letter` when given.
    pub(super) fn new(dead_letter: Option<DeadLetter>) -> Self {
        Self { dead_letter, ..Self::default() }
    }

    /// Handles one bad row: dead-lettered under `dead_letter`, counted, sampled, and kept for
    /// the ledger when `keep` and rows are kept (a row skipped to resume is not kept again).
    pub fn record(&mut self, error: RowError, keep: bool) -> Result<(), IoError> {
        if let Some(dead) = &mut self.dead_letter {
            write_dead_letter(dead, &error)?;
        }
        self.count += 1;
        if keep && let Some(kept) = &mut self.kept {
            kept.push(error.clone());
        }
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(error);
        }
        Ok(())
    }

    /// Bad rows skipped or dead-lettered so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The first bad rows (up to 5), for the run's summary.
    pub fn samples(&self) -> &[RowError] {
        &self.samples
    }

    /// Keeps every bad row from now on (the ledger).
    pub(super) fn keep(&mut self) {
        self.kept.get_or_insert_with(Vec::new);
    }

    /// Whether bad rows are kept.
    pub(super) fn keeps(&self) -> bool {
        self.kept.is_some()
    }

    /// The bad rows kept since the last call, in file order (none unless kept).
    pub fn take_kept(&mut self) -> Vec<RowError> {
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The rows kept so far, when kept (a chunk's reader gives back the row past its chunk).
    pub(super) fn kept_mut(&mut self) -> Option<&mut Vec<RowError>> {
        self.kept.as_mut()
    }

    /// Drops the rows kept so far (rows skipped to resume are not dropped again).
    pub(super) fn forget_kept(&mut self) {
        if let Some(kept) = &mut self.kept {
            kept.clear();
        }
    }
}

/// Creates (or truncates) a source's dead-letter file and its parent folders.
pub(super) fn open_dead_letter(spec: &SourceSpec, base_dir: &Path) -> Result<DeadLetter, IoError> {
    let Some(relative) = &spec.dead_letter_path else {
        return Err(IoError::file(
            base_dir.join(&spec.path),
            "open",
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("source `{}` has on_bad_row = \"dead_letter\" but no dead_letter_path", spec.id),
            ),
        ));
    };
    let path = base_dir.join(relative);
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| IoError::file(parent, "create", e))?;
    }
    let file = File::create(&path).map_err(|e| IoError::file(&path, "create", e))?;
    Ok(DeadLetter {
        source: spec.id.clone(),
        source_path: spec.path.display().to_string(),
        path,
        out: BufWriter::with_capacity(64 * 1024, file),
        line: Vec::with_capacity(256),
    })
}

/// Appends one bad row to the dead-letter file as a JSON line.
fn write_dead_letter(dead: &mut DeadLetter, error: &RowError) -> Result<(), IoError> {
    /// One line of a dead-letter file (docs/file-format.md, `dead_letter_path`).
    #[derive(serde::Serialize)]
    struct DeadLetterLine<'a> {
        source: &'a str,
        path: &'a str,
        line: u64,
        column: Option<&'a str>,
        reason: &'a str,
        raw: &'a str,
    }
    let entry = DeadLetterLine {
        source: &dead.source,
        path: &dead.source_path,
        line: error.line,
        column: error.column.as_deref(),
        reason: &error.reason,
        raw: &error.raw,
    };
    let line = &mut dead.line;
    line.clear();
    serde_json::to_writer(&mut *line, &entry).map_err(|e| IoError::file(&dead.path, "write", e.into()))?;
    line.push(b'\n');
    dead.out
        .write_all(line)
        .and_then(|()| dead.out.flush())
        .map_err(|e| IoError::file(&dead.path, "write", e))
}
