//! Replay sources: read a recorded file (CSV, JSON Lines, a JSON array) one event at a
//! time, read each event's time from its time field, and handle bad rows by the
//! source's policy (fail, skip, dead-letter).
//!
//! Each format has a reader that turns the file into rows (a record as an object map,
//! or a [`RowError`]); [`Source`] adds what all formats share: the time field, the
//! policy, the counts, and resuming at a row.

mod csv;
mod json;
mod jsonl;

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rhai::Dynamic;

use crate::graph::{BadRowPolicy, SourceFormat, SourceSpec, TimeFormat};
use crate::io::error::{IoError, RowError};
use crate::io::json::{show_value, write_json_str};

/// How many bad rows a source keeps as samples for the run's summary.
const MAX_SAMPLES: usize = 5;

/// One event read from a source.
#[derive(Debug, Clone)]
pub struct SourceEvent {
    /// The whole record as an object map (CSV: typed cells by header name; JSON: the
    /// object), the time field included and unchanged.
    pub value: Dynamic,
    /// The event time in microseconds since the epoch; `None` when the source has no
    /// time field.
    pub time: Option<i64>,
    /// The 1-based line of the file where the record starts.
    pub line: u64,
}

/// One row from a format reader: a record, or why it cannot be read.
enum Row {
    /// A readable record.
    Good {
        /// Its fields.
        fields: rhai::Map,
        /// Its first line in the file.
        line: u64,
    },
    /// A row that cannot be read.
    Bad(RowError),
}

/// The reader of one file format.
enum Reader {
    /// CSV with a header row.
    Csv(csv::CsvReader),
    /// JSON Lines.
    Jsonl(jsonl::JsonlReader),
    /// One JSON array of objects.
    Json(json::JsonReader),
}

impl Reader {
    fn next_row(&mut self) -> Result<Option<Row>, IoError> {
        match self {
            Self::Csv(reader) => reader.next_row(),
            Self::Jsonl(reader) => reader.next_row(),
            Self::Json(reader) => reader.next_row(),
        }
    }

    /// The raw text of the row last returned (for a row whose time field is bad).
    fn last_raw(&mut self) -> String {
        match self {
            Self::Csv(reader) => reader.last_raw(),
            Self::Jsonl(reader) => reader.last_raw(),
            Self::Json(reader) => reader.last_raw(),
        }
    }
}

/// The dead-letter file of a source with the policy `dead_letter`.
struct DeadLetter {
    /// The file (resolved).
    path: PathBuf,
    /// Buffered, flushed after every line so that the file is complete at any moment.
    out: BufWriter<File>,
    /// The line being written.
    line: Vec<u8>,
}

/// What one row turned out to be.
enum Step {
    /// The end of the file.
    End,
    /// A good event.
    Event(SourceEvent),
    /// A bad row, skipped or dead-lettered.
    Skipped,
}

/// A replay source: a file read one event at a time, in file order.
pub struct Source {
    /// The source's id (names it in errors and dead letters).
    id: String,
    /// The file, resolved against the pipeline's folder.
    path: PathBuf,
    /// The file's path as the pipeline file writes it (for dead-letter lines, so that
    /// they do not depend on where the run was started).
    spec_path: String,
    /// The format reader.
    reader: Reader,
    /// The time field and how to read it.
    time: Option<(String, TimeFormat)>,
    /// What to do with a bad row.
    policy: BadRowPolicy,
    /// Where bad rows go under `dead_letter`.
    dead_letter: Option<DeadLetter>,
    /// Rows consumed so far, good and bad.
    consumed: u64,
    /// Bad rows skipped or dead-lettered so far.
    bad: u64,
    /// The first few bad rows.
    samples: Vec<RowError>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("policy", &self.policy)
            .field("rows_consumed", &self.consumed)
            .field("bad_rows", &self.bad)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Opens a source; its paths are relative to `base_dir` (the pipeline file's folder).
    ///
    /// The format is `spec.effective_format()`. A CSV file's header is read here, so a
    /// forced type or a time field naming a column the header lacks is an error now, not
    /// on every row. Under `dead_letter` the dead-letter file is created (or truncated),
    /// with its parent folders.
    pub fn open(spec: &SourceSpec, base_dir: &Path) -> Result<Source, IoError> {
        let path = base_dir.join(&spec.path);
        let Some(format) = spec.effective_format() else {
            return Err(IoError::file(
                path,
                "open",
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "source `{}`: the format cannot be told from the file name; \
                         set format = \"csv\", \"jsonl\" or \"json\"",
                        spec.id
                    ),
                ),
            ));
        };
        let reader = match format {
            SourceFormat::Csv => Reader::Csv(csv::CsvReader::open(&path, spec)?),
            SourceFormat::Jsonl => Reader::Jsonl(jsonl::JsonlReader::open(&path)?),
            SourceFormat::Json => Reader::Json(json::JsonReader::open(&path)?),
        };
        let dead_letter = match spec.on_bad_row {
            BadRowPolicy::DeadLetter => Some(open_dead_letter(spec, base_dir)?),
            BadRowPolicy::Fail | BadRowPolicy::Skip => None,
        };
        Ok(Source {
            id: spec.id.clone(),
            path,
            spec_path: spec.path.display().to_string(),
            reader,
            time: spec.time_field.as_ref().map(|field| (field.clone(), spec.time_format)),
            policy: spec.on_bad_row,
            dead_letter,
            consumed: 0,
            bad: 0,
            samples: Vec::new(),
        })
    }

    /// The next good event, or `None` at the end of the file.
    ///
    /// Bad rows follow the policy: `fail` returns [`IoError::Row`]; `skip` counts the
    /// row and goes on; `dead_letter` appends one JSON line
    /// `{"source":…,"path":…,"line":…,"column":…,"reason":…,"raw":…}` to the dead-letter
    /// file, counts the row and goes on.
    pub fn next_event(&mut self) -> Result<Option<SourceEvent>, IoError> {
        loop {
            match self.step()? {
                Step::End => return Ok(None),
                Step::Event(event) => return Ok(Some(event)),
                Step::Skipped => {}
            }
        }
    }

    /// Rows consumed so far, good and bad, so that a run can resume: `open` then
    /// `skip_rows(n)` reaches the same place.
    pub fn rows_consumed(&self) -> u64 {
        self.consumed
    }

    /// Reads and drops the next `n` rows (fewer if the file ends first).
    ///
    /// The rows are read exactly as [`Source::next_event`] reads them, so that bad rows
    /// among them are counted, sampled and dead-lettered again: a resumed run ends with
    /// the same counts and the same dead-letter file as an uninterrupted one.
    pub fn skip_rows(&mut self, n: u64) -> Result<(), IoError> {
        let target = self.consumed.saturating_add(n);
        while self.consumed < target {
            if let Step::End = self.step()? {
                break;
            }
        }
        Ok(())
    }

    /// Bad rows skipped or dead-lettered so far.
    pub fn bad_rows(&self) -> u64 {
        self.bad
    }

    /// The first bad rows (up to 5), for the run's summary.
    pub fn bad_row_samples(&self) -> &[RowError] {
        &self.samples
    }

    /// The source's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file read, resolved against the pipeline's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads one row and applies the time field and the policy to it.
    fn step(&mut self) -> Result<Step, IoError> {
        let Some(row) = self.reader.next_row()? else {
            return Ok(Step::End);
        };
        self.consumed += 1;
        let error = match row {
            Row::Good { fields, line } => match self.event_time(&fields) {
                Ok(time) => {
                    return Ok(Step::Event(SourceEvent { value: Dynamic::from_map(fields), time, line }));
                }
                Err((column, reason)) => RowError {
                    path: self.path.clone(),
                    line,
                    column: Some(column),
                    reason,
                    raw: self.reader.last_raw(),
                },
            },
            Row::Bad(error) => error,
        };
        self.bad_row(error)?;
        Ok(Step::Skipped)
    }

    /// The event time of a record, or the column and reason of a bad one.
    fn event_time(&self, fields: &rhai::Map) -> Result<Option<i64>, (String, String)> {
        let Some((field, format)) = &self.time else {
            return Ok(None);
        };
        match fields.get(field.as_str()) {
            None => Err((field.clone(), "the time field is missing".to_string())),
            Some(value) => read_time(value, *format).map(Some).map_err(|reason| (field.clone(), reason)),
        }
    }

    /// Handles a bad row by the policy.
    fn bad_row(&mut self, error: RowError) -> Result<(), IoError> {
        match self.policy {
            BadRowPolicy::Fail => return Err(IoError::Row(error)),
            BadRowPolicy::Skip => {}
            BadRowPolicy::DeadLetter => {
                if let Some(dead) = &mut self.dead_letter {
                    write_dead_letter(dead, &self.id, &self.spec_path, &error)?;
                }
            }
        }
        self.bad += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(error);
        }
        Ok(())
    }
}

/// Creates (or truncates) a source's dead-letter file and its parent folders.
fn open_dead_letter(spec: &SourceSpec, base_dir: &Path) -> Result<DeadLetter, IoError> {
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
    Ok(DeadLetter { path, out: BufWriter::with_capacity(64 * 1024, file), line: Vec::with_capacity(256) })
}

/// Appends one bad row to the dead-letter file as a JSON line.
fn write_dead_letter(
    dead: &mut DeadLetter,
    source: &str,
    spec_path: &str,
    error: &RowError,
) -> Result<(), IoError> {
    let line = &mut dead.line;
    line.clear();
    line.extend_from_slice(b"{\"source\":");
    write_json_str(line, source);
    line.extend_from_slice(b",\"path\":");
    write_json_str(line, spec_path);
    line.extend_from_slice(b",\"line\":");
    line.extend_from_slice(itoa::Buffer::new().format(error.line).as_bytes());
    line.extend_from_slice(b",\"column\":");
    match &error.column {
        Some(column) => write_json_str(line, column),
        None => line.extend_from_slice(b"null"),
    }
    line.extend_from_slice(b",\"reason\":");
    write_json_str(line, &error.reason);
    line.extend_from_slice(b",\"raw\":");
    write_json_str(line, &error.raw);
    line.extend_from_slice(b"}\n");
    dead.out
        .write_all(line)
        .and_then(|()| dead.out.flush())
        .map_err(|e| IoError::file(&dead.path, "write", e))
}

/// Reads an event time (microseconds since the epoch) from a time field's value.
fn read_time(value: &Dynamic, format: TimeFormat) -> Result<i64, String> {
    const MICROS: i64 = crate::time::MICROS_PER_SEC;
    let found = || show_value(value);
    match format {
        TimeFormat::Rfc3339 => value
            .as_immutable_string_ref()
            .ok()
            .and_then(|text| crate::time::parse_rfc3339_micros(text.as_str()))
            .ok_or_else(|| {
                format!("expected an RFC 3339 time (e.g. \"2024-01-01T00:00:00Z\"), found {}", found())
            }),
        TimeFormat::UnixS => {
            if let Ok(secs) = value.as_int() {
                secs.checked_mul(MICROS)
                    .ok_or_else(|| format!("{secs} seconds since the epoch is out of range"))
            } else if let Ok(secs) = value.as_float() {
                let micros = (secs * 1e6).round();
                // `i64::MAX as f64` is 2^63, itself out of range; `i64::MIN as f64` is exact.
                if micros.is_finite() && micros >= i64::MIN as f64 && micros < i64::MAX as f64 {
                    Ok(micros as i64)
                } else {
                    Err(format!("{} seconds since the epoch is out of range", found()))
                }
            } else {
                Err(format!("expected a number of seconds since the epoch (unix_s), found {}", found()))
            }
        }
        TimeFormat::UnixMs => match value.as_int() {
            Ok(ms) => ms
                .checked_mul(1000)
                .ok_or_else(|| format!("{ms} milliseconds since the epoch is out of range")),
            Err(_) => Err(format!(
                "expected an integer number of milliseconds since the epoch (unix_ms), found {}",
                found()
            )),
        },
        TimeFormat::UnixUs => value.as_int().map_err(|_| {
            format!("expected an integer number of microseconds since the epoch (unix_us), found {}", found())
        }),
    }
}

/// The raw text of a row without its line ending, for dead letters.
fn raw_text(bytes: &[u8]) -> String {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
