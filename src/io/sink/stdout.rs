//! The stdout sink: JSON Lines on standard output, the only thing `eddy run` prints
//! there, so that two runs of a deterministic pipeline print byte-identical output.

use std::io::Write;
use std::path::PathBuf;

use rhai::Dynamic;

use super::{Sink, item_error, write_item};
use crate::io::error::IoError;

/// Bytes gathered before they are written to standard output.
const BUFFER: usize = 64 * 1024;

/// The name standard output goes by in errors.
const STDOUT: &str = "<stdout>";

/// Writes items to standard output as JSON Lines.
///
/// Items are gathered in the sink's own buffer and written with standard output locked
/// once per buffer (a held lock is not `Send`, and sinks move to the engine thread), so
/// lines from several stdout sinks never interleave mid-line.
pub(super) struct StdoutSink {
    /// The sink's id (for errors).
    id: String,
    /// Lines not yet written.
    buf: Vec<u8>,
    /// Items written.
    written: u64,
}

impl StdoutSink {
    /// A sink writing to this process's standard output.
    pub(super) fn new(id: &str) -> Self {
        StdoutSink { id: id.to_string(), buf: Vec::with_capacity(BUFFER), written: 0 }
    }

    /// Writes the gathered lines to standard output and flushes it.
    fn drain(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let result = lock.write_all(&self.buf).and_then(|()| lock.flush());
        self.buf.clear();
        result
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError> {
        let mark = self.buf.len();
        if let Err(reason) = write_item(&mut self.buf, key, value) {
            self.buf.truncate(mark);
            return Err(item_error(&self.id, key, &reason));
        }
        self.buf.push(b'\n');
        self.written += 1;
        if self.buf.len() >= BUFFER {
            self.drain().map_err(|e| IoError::file(PathBuf::from(STDOUT), "write", e))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.drain().map_err(|e| IoError::file(PathBuf::from(STDOUT), "write", e))
    }

    fn items_written(&self) -> u64 {
        self.written
    }
}

impl Drop for StdoutSink {
    fn drop(&mut self) {
        // Items written but not flushed still reach stdout, as a BufWriter's would.
        let _ = self.drain();
    }
}
