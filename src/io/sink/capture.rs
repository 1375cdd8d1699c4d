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
    /// At most this many lines are kept, the latest (`usize::MAX`: all).
    keep: usize,
}

/// Reads what a [`CaptureSink`] captured, from any thread, while or after it runs.
#[derive(Clone, Default)]
pub struct CaptureHandle {
    /// The captured lines, shared with the sink.
    lines: Lines,
    /// How many of the latest lines the sink keeps.
    keep: usize,
}

impl CaptureSink {
    /// A capture sink for the sink `sink_id` and the handle that reads its lines.
    pub fn new(sink_id: &str) -> (CaptureSink, CaptureHandle) {
        Self::tail(sink_id, usize::MAX)
    }

    /// A capture sink that keeps only the latest `keep` lines (memory stays bounded however
    /// long the run), and the handle that reads them.
    pub fn tail(sink_id: &str, keep: usize) -> (CaptureSink, CaptureHandle) {
        let lines = Lines::default();
        let keep = keep.max(1);
        let sink = CaptureSink {
            id: sink_id.to_string(),
            lines: Arc::clone(&lines),
            buf: Vec::with_capacity(256),
            written: 0,
            keep,
        };
        (sink, CaptureHandle { lines, keep })
    }
}

impl CaptureHandle {
    /// A copy of every line captured so far (the latest `keep` of a tail), in the order
    /// written.
    pub fn lines(&self) -> Vec<String> {
        let lines = lock(&self.lines);
        lines[lines.len().saturating_sub(self.keep)..].to_vec()
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
        let mut lines = lock(&self.lines);
        lines.push(line);
        // A tail drops its oldest lines in one go once it holds twice what it keeps.
        if lines.len() >= self.keep.saturating_mul(2) {
            let extra = lines.len() - self.keep;
            lines.drain(..extra);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_latest_lines_in_order() {
        let (mut sink, handle) = CaptureSink::tail("out", 3);
        for n in 0..10_i64 {
            sink.write(None, &Dynamic::from_int(n)).unwrap();
            let lines = handle.lines();
            let first = (n - 2).max(0);
            let want: Vec<String> = (first..=n).map(|i| i.to_string()).collect();
            assert_eq!(lines, want, "after {n}");
        }
        assert_eq!(sink.items_written(), 10);
    }
}
