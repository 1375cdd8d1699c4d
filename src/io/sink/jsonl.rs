//! The JSON Lines file sink: one item per line, keyed items as `[key, value]`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use rhai::Dynamic;

use super::{BUFFER, Counting, Sink, SinkPosition, item_error, write_item};
use crate::io::error::IoError;

/// Writes items to a file as JSON Lines.
pub(super) struct JsonlSink {
    /// The sink's id (for errors).
    id: String,
    /// The file (for errors).
    path: PathBuf,
    /// The file, with a large buffer.
    out: BufWriter<Counting<File>>,
    /// The line being written, reused.
    line: Vec<u8>,
    /// Items written.
    written: u64,
}

impl JsonlSink {
    /// A sink writing to `file` (already created at `path`).
    pub(super) fn new(id: &str, path: PathBuf, file: File) -> Self {
        Self::at(id, path, file, 0, 0)
    }

    /// A sink appending to `file` (positioned at its end) from a snapshot's position.
    pub(super) fn resume(id: &str, path: PathBuf, file: File, position: &SinkPosition) -> Self {
        Self::at(id, path, file, position.bytes, position.items)
    }

    fn at(id: &str, path: PathBuf, file: File, bytes: u64, items: u64) -> Self {
        JsonlSink {
            id: id.to_string(),
            path,
            out: BufWriter::with_capacity(BUFFER, Counting::new(file, bytes)),
            line: Vec::with_capacity(256),
            written: items,
        }
    }
}

impl Sink for JsonlSink {
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError> {
        self.line.clear();
        write_item(&mut self.line, key, value).map_err(|reason| item_error(&self.id, key, &reason))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(|e| IoError::file(&self.path, "write", e))?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.out.flush().map_err(|e| IoError::file(&self.path, "write", e))
    }

    fn sync(&mut self) -> Result<(), IoError> {
        self.out.get_ref().get_ref().sync_data().map_err(|e| IoError::file(&self.path, "sync", e))
    }

    fn items_written(&self) -> u64 {
        self.written
    }

    fn position(&self) -> Option<SinkPosition> {
        Some(SinkPosition { bytes: self.out.get_ref().count(), items: self.written, csv: None })
    }
}
