//! Sinks: where a pipeline's outputs go. JSON Lines and CSV files, standard output,
//! and an in-memory capture for tests and the workbench.
//!
//! Every sink writes a keyed item as the pair `[key, value]` (CSV: a `key` column), and
//! refuses a value with no JSON form with an error naming the sink and the key, never
//! writing a silent `null`.

mod capture;
mod csv;
mod jsonl;
mod stdout;

use std::fs::File;
use std::path::{Path, PathBuf};

use rhai::Dynamic;

pub use capture::{CaptureHandle, CaptureSink};

use crate::graph::{SinkFormat, SinkSpec};
use crate::io::error::IoError;
use crate::io::json::{write_json, write_json_str};

/// Bytes buffered by the file sinks before they write to the file.
const BUFFER: usize = 1 << 20;

/// Writes a pipeline's output items, one at a time, in the order they arrive.
pub trait Sink: Send {
    /// Writes one item. `key` is `Some` for a keyed stream: the item is written as
    /// `[key, value]`. A value with no JSON form is an [`IoError::Write`] and nothing of
    /// the item is written.
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError>;

    /// Pushes buffered items out to the file or stream. Also called at the end of a run.
    fn flush(&mut self) -> Result<(), IoError>;

    /// Items written so far.
    fn items_written(&self) -> u64;
}

/// Opens the sink a `[[sinks]]` entry describes: a file (relative to `base_dir`,
/// created with its parent folders, truncated) or standard output.
pub fn open_sink(spec: &SinkSpec, base_dir: &Path) -> Result<Box<dyn Sink>, IoError> {
    match spec.format {
        SinkFormat::Stdout => Ok(Box::new(stdout::StdoutSink::new(&spec.id))),
        SinkFormat::Jsonl => {
            let (path, file) = create_file(spec, base_dir)?;
            Ok(Box::new(jsonl::JsonlSink::new(&spec.id, path, file)))
        }
        SinkFormat::Csv => {
            let (path, file) = create_file(spec, base_dir)?;
            Ok(Box::new(csv::CsvSink::new(&spec.id, path, file)))
        }
    }
}

/// Creates a file sink's file and its parent folders.
fn create_file(spec: &SinkSpec, base_dir: &Path) -> Result<(PathBuf, File), IoError> {
    let Some(relative) = &spec.path else {
        return Err(IoError::file(
            base_dir,
            "create",
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("sink `{}` (format {}) has no path", spec.id, spec.format.as_str()),
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
    Ok((path, file))
}

/// Appends an item's JSON text (`[key, value]` when keyed, else the value), no newline.
pub(crate) fn write_item(out: &mut Vec<u8>, key: Option<&str>, value: &Dynamic) -> Result<(), String> {
    match key {
        Some(key) => {
            out.push(b'[');
            write_json_str(out, key);
            out.push(b',');
            write_json(out, value)?;
            out.push(b']');
        }
        None => write_json(out, value)?,
    }
    Ok(())
}

/// The error for an item a sink cannot write, naming the sink and the key.
pub(crate) fn item_error(sink: &str, key: Option<&str>, reason: &str) -> IoError {
    let reason = match key {
        Some(key) => format!("cannot write the item with key {key:?}: {reason}"),
        None => format!("cannot write an item: {reason}"),
    };
    IoError::Write { sink: sink.to_string(), reason }
}
