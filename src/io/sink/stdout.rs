//! The stdout sink: JSON Lines on standard output, the only thing `eddy run` prints
//! there, so that two runs of a deterministic pipeline print byte-identical output.

use std::io::Write;
use std::path::PathBuf;

use rhai::Dynamic;

use super::{Sink, item_error, write_item};
use crate::io::error::IoError;

/// Whether the process started with standard output closed ([`guard_standard_streams`]).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Call first thing in a process: notes whether it started with standard output closed
/// (`eddy run p.toml >&-`). Rust's runtime opens `/dev/null` read-write on a closed standard
/// descriptor before `main` (so that no file lands on it), which makes every write to it
/// vanish silently; such a descriptor is recognised by being `/dev/null` opened read-write
/// (a shell's `> /dev/null` opens it write-only). A stdout sink then refuses to start rather
/// than report success for output that went nowhere. Linux only (elsewhere, nothing is noted).
pub fn guard_standard_streams() {
    let target = std::fs::read_link("/proc/self/fd/1");
    let is_null = target.is_ok_and(|t| t == std::path::Path::new("/dev/null"));
    let read_write = std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
            .is_some_and(|flags| flags & 0o3 == 0o2)
    });
    if is_null && read_write {
        STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether standard output was closed when the process started.
pub(super) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

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
