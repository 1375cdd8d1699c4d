//! The capture sink: keeps every item in memory as one JSON Lines string, for tests,
//! `run_captured` and the workbench's output panel.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use rhai::Dynamic;

use super::{Sink, item_error, write_item};
use crate::io::error::IoError;

/// The lines shared by a [`CaptureSink`] and its [`CaptureHandle`]s.
type Lines = Arc<Mutex<Vec<String>>>;

/// Locks the lines; a panic elsewhere while holding the lock leaves them usable.
fn lock(lines: &Lines) -> MutexGuard<'_, Vec<String>> {
    lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An in-memory sink: every item becomes one String holding the same text the JSON
/// Lines sink writes (without the newline), whatever format the sink's spec names.
pub struct CaptureSink {
    /// The sink's id (for errors).
    id: String,
    /// The captured lines, shared with the handles.
    lines: Lines,
    /// The line being written, reused.
    buf: Vec<u8>,
    /// Items written.
    written: u64,
}

/// Reads what a [`CaptureSink`] captured, from any thread, while or after it runs.
#[derive(Clone, Default)]
pub struct CaptureHandle {
    /// The captured lines, shared with the sink.
    lines: Lines,
}

impl CaptureSink {
    /// A capture sink for the sink `sink_id` and the handle that reads its lines.
    pub fn new(sink_id: &str) -> (CaptureSink, CaptureHandle) {
        let lines = Lines::default();
        let sink = CaptureSink {
            id: sink_id.to_string(),
            lines: Arc::clone(&lines),
            buf: Vec::with_capacity(256),
            written: 0,
        };
        (sink, CaptureHandle { lines })
    }
}

impl CaptureHandle {
    /// A copy of every line captured so far, in the order written.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }
}

impl fmt::Debug for CaptureSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureSink")
            .field("id", &self.id)
            .field("items_written", &self.written)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CaptureHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureHandle").field("lines", &lock(&self.lines).len()).finish()
    }
}

impl Sink for CaptureSink {
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError> {
        self.buf.clear();
        write_item(&mut self.buf, key, value).map_err(|reason| item_error(&self.id, key, &reason))?;
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        lock(&self.lines).push(line);
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }

    fn items_written(&self) -> u64 {
        self.written
    }
}
