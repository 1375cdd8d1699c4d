//! Replay sources: read a recorded file (CSV, JSON Lines, a JSON array) one event at a
//! time, read each event's time from its time field, and handle bad rows by the
//! source's policy (fail, skip, dead-letter).
//!
//! Each format has a reader that turns the file into rows (a record as an object map,
//! or a [`RowError`]); [`Source`] adds what all formats share: the time field, the
//! policy, the counts, and resuming at a row.

mod bad_rows;
mod csv;
mod json;
mod jsonl;
mod range;

use std::fmt;
use std::path::{Path, PathBuf};

use rhai::Dynamic;

use crate::graph::{BadRowPolicy, SourceFormat, SourceSpec, TimeFormat};
use crate::io::FeedTail;
use crate::io::error::{IoError, RowError};
use crate::io::recording::{RecordedTiming, RecordingInput, SharedMarks, TeeBuffer};
use crate::value::show_value;

pub use bad_rows::BadRows;
use bad_rows::open_dead_letter;
pub use range::{newlines_before, record_cuts};

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
    /// The record's key field, read by the source when asked to ([`Source::set_key_field`])
    /// and the field is a string; `None` otherwise.
    pub key: Option<rhai::ImmutableString>,
    /// Bytes of the file consumed before this record's row: a snapshot taken with this event
    /// not yet processed records this many bytes (and checks them on resume).
    pub offset: u64,
    /// A live source being recorded: the text it consumed for this event (the row, and any
    /// header, bad rows and blank lines before it), exactly as it came.
    pub raw: Option<Box<str>>,
    /// A source replaying a recording: when the live run took the event.
    pub recorded: Option<Box<RecordedTiming>>,
}

/// One row from a format reader: a record, or why it cannot be read.
enum Row {
    /// A readable record.
    Good {
        /// Its fields.
        fields: rhai::Map,
        /// Its first line in the file.
        line: u64,
        /// Its event time, when the reader read it itself (the time field left out of
        /// `fields` by a projection); else the time is read from `fields`.
        time: Option<Result<i64, String>>,
        /// The key field's value, when asked for and a string.
        key: Option<rhai::ImmutableString>,
    },
    /// A row that cannot be read.
    Bad(RowError),
}

/// Where a source's reader stood after a row, so that a reader of the same file can go on
/// from there without reading the rows before ([`Source::skip_to`]): the bytes consumed and
/// the line feeds among them (for the lines that errors name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMark {
    /// Bytes of the file consumed.
    pub bytes: u64,
    /// `\n` bytes among them.
    pub newlines: u64,
}

/// The reader of one file format.
enum Reader {
    /// CSV with a header row.
    Csv(Box<csv::CsvReader>),
    /// JSON Lines.
    Jsonl(jsonl::JsonlReader),
    /// One JSON array of objects.
    Json(json::JsonReader),
}

impl Reader {
    /// Passes over the next row, reading no more of it than needed to find its end.
    fn skip_row(&mut self) -> Result<bool, IoError> {
        match self {
            Self::Csv(reader) => reader.skip_row(),
            Self::Jsonl(reader) => reader.skip_row(),
            Self::Json(reader) => reader.next_row().map(|row| row.is_some()),
        }
    }

    /// The next row (a record or a bad row), or `None` at the end of the file.
    fn next_row(&mut self) -> Result<Option<Row>, IoError> {
        match self {
            Self::Csv(reader) => reader.next_row(),
            Self::Jsonl(reader) => reader.next_row(),
            Self::Json(reader) => reader.next_row(),
        }
    }

    /// Where a reader can go on from (CSV only).
    fn mark(&self) -> Option<ReadMark> {
        match self {
            Self::Csv(reader) => Some(reader.mark()),
            Self::Jsonl(_) | Self::Json(_) => None,
        }
    }

    /// Goes on from `mark`; false when this reader cannot (nothing moved).
    fn seek(&mut self, mark: ReadMark) -> Result<bool, IoError> {
        match self {
            Self::Csv(reader) => reader.seek(mark),
            Self::Jsonl(_) | Self::Json(_) => Ok(false),
        }
    }

    /// Bytes of the file consumed: through the end of the row last read.
    fn position(&self) -> u64 {
        match self {
            Self::Csv(reader) => reader.position(),
            Self::Jsonl(reader) => reader.position(),
            Self::Json(reader) => reader.position(),
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
    /// The source's id (names it in errors).
    id: String,
    /// The file, resolved against the pipeline's folder.
    path: PathBuf,
    /// The format reader.
    reader: Reader,
    /// The time field and how to read it.
    time: Option<(String, TimeFormat)>,
    /// What to do with a bad row.
    policy: BadRowPolicy,
    /// The policy applied: counts, samples, the dead-letter file, the rows kept for the ledger.
    bad_rows: BadRows,
    /// Bad rows passed over and not handled yet, once [`Source::defer_bad_rows`] handed
    /// their handling to the reader of the events (a source read ahead on its own thread).
    deferred: Option<Vec<RowError>>,
    /// Rows consumed so far, good and bad.
    consumed: u64,
    /// A projection keeps no field at all: records are `()`.
    unit_records: bool,
    /// Standard input or a followed file: rows come as they arrive.
    live: bool,
    /// A live source being recorded: the copy of what it read, where the copy starts in the
    /// text, and whether the text taken last ended mid-line.
    tee: Option<(TeeBuffer, u64, bool)>,
    /// A source replaying a recording: the timing of its lines.
    marks: Option<SharedMarks>,
    /// What is left after the last event, once the text has ended.
    tail: Option<FeedTail>,
    /// Records written as they are read ([`Source::write_records`]), through this buffer.
    written: Option<Vec<u8>>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("policy", &self.policy)
            .field("rows_consumed", &self.consumed)
            .field("bad_rows", &self.bad_rows.count())
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
        Self::open_with(spec, base_dir, false)
    }

    /// [`Source::open`]; with `record_text`, a live source's events carry the text they were
    /// read from ([`SourceEvent::raw`]) for a recording. A source with `recording` set reads
    /// its lines back from the recording, each event with its recorded timing.
    pub fn open_with(spec: &SourceSpec, base_dir: &Path, record_text: bool) -> Result<Source, IoError> {
        let path = match &spec.recording {
            Some(recording) => base_dir.join(recording),
            None if spec.is_stdin() => PathBuf::from(super::input::STDIN_NAME),
            None => base_dir.join(&spec.path),
        };
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
        let marks = spec.recording.as_ref().map(|_| SharedMarks::default());
        let tee = (record_text && spec.is_live()).then(TeeBuffer::default);
        let open = || match &marks {
            Some(marks) => RecordingInput::open(&path, &spec.id, std::sync::Arc::clone(marks))
                .map(|input| super::input::Input::Recording(Box::new(input))),
            None if spec.follow => super::input::Input::follow(&path, format == SourceFormat::Csv),
            None => super::input::Input::open(&path),
        };
        let mut input = open().map_err(|e| IoError::file(&path, "open", e))?;
        if let Some(tee) = &tee {
            input = input.teed(std::sync::Arc::clone(tee));
        }
        let reader = match format {
            SourceFormat::Csv => Reader::Csv(Box::new(csv::CsvReader::open(input, &path, spec)?)),
            SourceFormat::Jsonl => Reader::Jsonl(jsonl::JsonlReader::open(input, &path)),
            SourceFormat::Json => Reader::Json(json::JsonReader::open(input, &path)?),
        };
        let dead_letter = match spec.on_bad_row {
            BadRowPolicy::DeadLetter => Some(open_dead_letter(spec, base_dir)?),
            BadRowPolicy::Fail | BadRowPolicy::Skip => None,
        };
        Ok(Source {
            id: spec.id.clone(),
            path,
            reader,
            time: spec.time_field.as_ref().map(|field| (field.clone(), spec.time_format)),
            policy: spec.on_bad_row,
            bad_rows: BadRows::new(dead_letter),
            deferred: None,
            consumed: 0,
            unit_records: false,
            live: spec.is_live(),
            tee: tee.map(|tee| (tee, 0, false)),
            marks,
            tail: None,
            written: None,
        })
    }

    /// What the source had after its last event: the text read after it (a recorded live
    /// source) and the ticks after it (a recording read back). Empty until the end.
    pub fn take_tail(&mut self) -> FeedTail {
        self.tail.take().unwrap_or_default()
    }

    /// The text consumed through `end` since the last time (a recorded live source), in whole
    /// lines: a CSV row ended by `\r\n` is read through its `\r`, so its `\n` is taken with it
    /// when it has come (else the next text starts with it, and it is left out there: a
    /// recording's lines each end in a line break when read back).
    fn take_text(&mut self, end: u64) -> Option<Box<str>> {
        let (tee, base, open_line) = self.tee.as_mut()?;
        let mut copy = tee.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut n = usize::try_from(end.saturating_sub(*base)).unwrap_or(usize::MAX).min(copy.len());
        if n > 0 && copy[n - 1] == b'\r' && copy.get(n) == Some(&b'\n') {
            n += 1;
        }
        let skip = usize::from(*open_line && n > 0 && copy[0] == b'\n');
        let text = String::from_utf8_lossy(&copy[skip..n]).into();
        if n > 0 {
            *open_line = copy[n - 1] != b'\n';
        }
        copy.drain(..n);
        *base += n as u64;
        Some(text)
    }

    /// Drops the copied text and the recorded timing of the rows skipped so far (resuming).
    fn forget_skipped(&mut self) {
        // Rows skipped to resume are not dropped again.
        self.bad_rows.forget_kept();
        let end = self.reader.position();
        let _ = self.take_text(end);
        if let Some(marks) = &self.marks {
            marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drop_through(end);
        }
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
                Step::Event(mut event) => {
                    if let Some(scratch) = &mut self.written {
                        let value = std::mem::take(&mut event.value);
                        event.value = Dynamic::from(crate::value::WrittenRecord::new(value, scratch));
                    }
                    return Ok(Some(event));
                }
                Step::Skipped => {}
            }
        }
    }

    /// Makes each record a written one ([`crate::value::WrittenRecord`]: the record with its
    /// JSON text) as it is read, for a join that writes its rows and is the only reader of the
    /// records (docs/architecture.md#written-rows): the text is made on the thread that read
    /// the record, while it is at hand there.
    pub fn write_records(&mut self) {
        self.written.get_or_insert_with(Vec::new);
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
        self.forget_skipped();
        Ok(())
    }

    /// Passes over the next `n` rows (fewer if the file ends first) without reading them as
    /// events: positions only. Unlike [`Source::skip_rows`], bad rows among them are not
    /// counted, sampled or dead-lettered again (a workbench seeking back wants the position
    /// fast, and keeps its own counters). CSV and JSON Lines rows are not even parsed.
    pub fn skip_rows_quickly(&mut self, n: u64) -> Result<(), IoError> {
        for _ in 0..n {
            if !self.reader.skip_row()? {
                break;
            }
            self.consumed += 1;
        }
        self.forget_skipped();
        Ok(())
    }

    /// Passes over the first `rows` rows of a source not read yet, for their position only
    /// like [`Source::skip_rows_quickly`]: straight to `mark` (taken by a source of the same
    /// file after those rows, [`Source::read_mark`]) when the file can be sought (an
    /// uncompressed CSV file), else row by row.
    pub fn skip_to(&mut self, rows: u64, mark: ReadMark) -> Result<(), IoError> {
        if self.consumed == 0 && self.reader.seek(mark)? {
            self.consumed = rows;
            return Ok(());
        }
        self.skip_rows_quickly(rows)
    }

    /// Where a source of the same file can go on from after the rows consumed so far,
    /// without reading them ([`Source::skip_to`]); `None` for formats that cannot.
    pub fn read_mark(&self) -> Option<ReadMark> {
        self.reader.mark()
    }

    /// Bytes of the file consumed so far: through the end of the row last read.
    pub fn bytes_consumed(&self) -> u64 {
        self.reader.position()
    }

    /// Keeps every bad row from now on, until [`Source::take_bad_rows`] takes them (the
    /// dropped-items ledger, docs/ledger.md).
    pub fn keep_bad_rows(&mut self) {
        self.bad_rows.keep();
    }

    /// Whether bad rows are kept ([`Source::keep_bad_rows`]).
    pub fn keeps_bad_rows(&self) -> bool {
        self.bad_rows.keeps()
    }

    /// The bad rows kept since the last call, in file order (none unless kept).
    pub fn take_bad_rows(&mut self) -> Vec<RowError> {
        self.bad_rows.take_kept()
    }

    /// Bad rows skipped or dead-lettered so far.
    pub fn bad_rows(&self) -> u64 {
        self.bad_rows.count()
    }

    /// The first bad rows (up to 5), for the run's summary.
    pub fn bad_row_samples(&self) -> &[RowError] {
        self.bad_rows.samples()
    }

    /// Hands the handling of bad rows (counts, samples, the dead-letter file, the rows kept
    /// for the ledger) to the caller, which applies it as it passes each bad row's place in
    /// the file; from now on this source only collects the bad rows it passes over
    /// ([`Source::take_deferred_bad_rows`]). A source read ahead on its own thread does this
    /// so that what a run dead-letters and counts is where the run is, not where the reading
    /// thread is (docs/file-format.md, `dead_letter_path`).
    pub fn defer_bad_rows(&mut self) -> BadRows {
        self.deferred.get_or_insert_with(Vec::new);
        std::mem::take(&mut self.bad_rows)
    }

    /// The bad rows passed over since the last call, after [`Source::defer_bad_rows`].
    pub fn take_deferred_bad_rows(&mut self) -> Vec<RowError> {
        self.deferred.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The source's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the source is a live stream (standard input): its events come as they arrive,
    /// and its text cannot be read again.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The file read, resolved against the pipeline's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells the source which fields of its records the pipeline can ever read, so that a
    /// reader may leave the others out of each record (a CSV reader does; others ignore it).
    /// Rows stay exactly as good or bad as before: left-out cells are still checked.
    /// With no field at all, records are `()` (nothing reads them). Returns whether the
    /// records are projected (see [`project_record`]).
    pub fn set_projection(&mut self, fields: &std::collections::BTreeSet<String>) -> bool {
        if let Reader::Csv(reader) = &mut self.reader
            && reader.set_projection(fields, self.time.as_ref().map(|(f, format)| (f.as_str(), *format)))
        {
            self.unit_records = fields.is_empty();
            return true;
        }
        false
    }

    /// The whole record of the good event at `line`, read again from the start of the file
    /// without a projection (for an error message about a projected record). `None` when
    /// the file cannot be read again or has no good event there.
    pub fn reread_record(spec: &SourceSpec, base_dir: &Path, line: u64) -> Option<Dynamic> {
        if spec.is_stdin() && spec.recording.is_none() {
            // Reading standard input again would take rows of the live stream.
            return None;
        }
        let mut spec = spec.clone();
        // Quietly: no dead-letter file is touched, bad rows are passed over.
        spec.on_bad_row = BadRowPolicy::Skip;
        spec.dead_letter_path = None;
        let mut source = Source::open(&spec, base_dir).ok()?;
        while let Ok(Some(event)) = source.next_event() {
            match event.line.cmp(&line) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some(event.value),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// Asks the source to read `field` of every record as its key ([`SourceEvent::key`]),
    /// when it is a string: the `key_on` right after the source then has nothing to do.
    /// When the field is not a string the record carries it, for `key_on` to report.
    /// Returns whether the reader does this (a CSV reader with that column does).
    pub fn set_key_field(&mut self, field: &str) -> bool {
        match &mut self.reader {
            Reader::Csv(reader) => reader.set_key_field(field),
            _ => false,
        }
    }

    /// Reads one row and applies the time field and the policy to it.
    fn step(&mut self) -> Result<Step, IoError> {
        let offset = self.reader.position();
        let Some(row) = self.reader.next_row()? else {
            if self.tail.is_none() {
                let raw = self.take_text(u64::MAX).filter(|text| !text.is_empty());
                let ticks = match &self.marks {
                    Some(marks) => {
                        marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take_ticks()
                    }
                    None => Vec::new(),
                };
                self.tail = Some(FeedTail { raw, ticks });
            }
            return Ok(Step::End);
        };
        self.consumed += 1;
        let error = match row {
            Row::Good { fields, line, time, key } => match self.event_time(&fields, time) {
                Ok(time) => {
                    let value = if self.unit_records && fields.is_empty() {
                        Dynamic::UNIT
                    } else {
                        Dynamic::from_map(fields)
                    };
                    let end = self.reader.position();
                    let raw = self.take_text(end);
                    let recorded = self.marks.as_ref().and_then(|marks| {
                        marks
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .timing_through(end)
                            .map(Box::new)
                    });
                    return Ok(Step::Event(SourceEvent { value, time, line, key, offset, raw, recorded }));
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
        if self.policy == BadRowPolicy::Fail && self.tee.is_some() {
            // The row that stops the run is the last text a recording gets: its replay stops
            // at the same row, with the same error.
            let raw = self.take_text(self.reader.position()).filter(|text| !text.is_empty());
            self.tail = Some(FeedTail { raw, ticks: Vec::new() });
        }
        self.bad_row(error)?;
        Ok(Step::Skipped)
    }

    /// The event time of a record, or the column and reason of a bad one.
    fn event_time(
        &self,
        fields: &rhai::Map,
        read: Option<Result<i64, String>>,
    ) -> Result<Option<i64>, (String, String)> {
        let Some((field, format)) = &self.time else {
            return Ok(None);
        };
        if let Some(read) = read {
            return read.map(Some).map_err(|reason| (field.clone(), reason));
        }
        match fields.get(field.as_str()) {
            None => Err((field.clone(), "the time field is missing".to_string())),
            Some(value) => read_time(value, *format).map(Some).map_err(|reason| (field.clone(), reason)),
        }
    }

    /// Applies the policy to bad rows another reader of the same file read (a worker reading
    /// a chunk, docs/workers.md#partitioned-reading), in file order, as if this source had
    /// read them: counted, sampled, dead-lettered.
    pub fn record_bad_rows(&mut self, rows: Vec<RowError>) -> Result<(), IoError> {
        rows.into_iter().try_for_each(|error| self.bad_row(error))
    }

    /// Handles a bad row by the policy (or collects it, once deferred).
    fn bad_row(&mut self, error: RowError) -> Result<(), IoError> {
        if self.policy == BadRowPolicy::Fail {
            return Err(IoError::Row(error));
        }
        match &mut self.deferred {
            Some(deferred) => {
                deferred.push(error);
                Ok(())
            }
            None => self.bad_rows.record(error, true),
        }
    }
}

/// A record as a source projected to `fields` gives it: `()` when no field is kept, else the
/// map with only those fields (a record that is not a map stays whole).
pub fn project_record(record: &Dynamic, fields: &std::collections::BTreeSet<String>) -> Dynamic {
    try_project_record(record, fields).unwrap_or_else(|| record.clone())
}

/// [`project_record`], or `None` when `record` stays whole (it is not a map and a field is
/// kept). Built field by field: a record is a map of a few fields, and collecting them
/// would gather, sort and bulk-build them first.
pub fn try_project_record(record: &Dynamic, fields: &std::collections::BTreeSet<String>) -> Option<Dynamic> {
    if fields.is_empty() {
        return Some(Dynamic::UNIT);
    }
    let map = record.read_lock::<rhai::Map>()?;
    let mut kept = rhai::Map::new();
    for field in fields {
        if let Some(value) = map.get(field.as_str()) {
            kept.insert(field.as_str().into(), value.clone());
        }
    }
    Some(Dynamic::from_map(kept))
}

/// Reads an event time (microseconds since the epoch) from a time field's value.
pub(super) fn read_time(value: &Dynamic, format: TimeFormat) -> Result<i64, String> {
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

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::value::to_json_string;

    /// A source spec with only an id and a path.
    pub(in crate::io::source) fn spec(path: &str) -> SourceSpec {
        SourceSpec {
            id: "events".into(),
            path: path.into(),
            format: None,
            time_field: None,
            time_format: TimeFormat::default(),
            on_bad_row: BadRowPolicy::default(),
            dead_letter_path: None,
            types: BTreeMap::new(),
            follow: false,
            recording: None,
        }
    }

    /// A temporary folder holding one file.
    pub(in crate::io::source) fn folder_with(name: &str, contents: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), contents).unwrap();
        dir
    }

    /// An event as (JSON text of the record, time, line).
    pub(in crate::io::source) type Seen = (String, Option<i64>, u64);

    pub(in crate::io::source) fn seen(event: &SourceEvent) -> Seen {
        (to_json_string(&event.value).unwrap(), event.time, event.line)
    }

    /// Every remaining event of a source.
    pub(in crate::io::source) fn read_all(source: &mut Source) -> Result<Vec<Seen>, IoError> {
        let mut out = Vec::new();
        while let Some(event) = source.next_event()? {
            out.push(seen(&event));
        }
        Ok(out)
    }

    /// Opens `name` in `dir` with `spec` and reads every event.
    pub(in crate::io::source) fn read_file(
        dir: &tempfile::TempDir,
        spec: &SourceSpec,
    ) -> Result<Vec<Seen>, IoError> {
        let mut source = Source::open(spec, dir.path())?;
        read_all(&mut source)
    }

    fn ev(json: &str, time: Option<i64>, line: u64) -> Seen {
        (json.to_string(), time, line)
    }

    /// Each bad-row sample as (line, column, reason, raw row).
    fn sample_parts(source: &Source) -> Vec<(u64, Option<&str>, &str, &str)> {
        source
            .bad_row_samples()
            .iter()
            .map(|s| (s.line, s.column.as_deref(), s.reason.as_str(), s.raw.as_str()))
            .collect()
    }

    const BROKEN_CSV: &str = "user,amount\nann,5\nbob,x7,extra\ncid,notanumber\ndan,8\n";

    fn broken_spec(policy: BadRowPolicy) -> SourceSpec {
        let mut spec = spec("in/events.csv");
        spec.on_bad_row = policy;
        spec.types.insert("amount".into(), crate::graph::ColumnType::Int);
        spec.dead_letter_path = Some("bad/dead.jsonl".into());
        spec
    }

    fn broken_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/events.csv"), BROKEN_CSV).unwrap();
        dir
    }

    #[test]
    fn csv_bad_row_under_fail() {
        let dir = broken_folder();
        let mut source = Source::open(&broken_spec(BadRowPolicy::Fail), dir.path()).unwrap();
        assert_eq!(seen(&source.next_event().unwrap().unwrap()), ev(r#"{"amount":5,"user":"ann"}"#, None, 2));
        let err = source.next_event().unwrap_err();
        let path = dir.path().join("in/events.csv");
        assert_eq!(err.to_string(), format!("{}:3: expected 2 fields, found 3", path.display()));
        let IoError::Row(row) = err else { panic!("not a row error") };
        assert_eq!(row.raw, "bob,x7,extra");
        assert_eq!(row.line, 3);
        // Under fail, a bad cell names its column.
        let dir = folder_with("e.csv", b"user,amount\ncid,notanumber\n");
        let mut spec = broken_spec(BadRowPolicy::Fail);
        spec.path = "e.csv".into();
        let err = read_file(&dir, &spec).unwrap_err();
        let text = err.to_string();
        assert_eq!(
            text,
            format!(
                "{}:2: column `amount`: expected an integer (forced type int), found \"notanumber\"",
                dir.path().join("e.csv").display()
            )
        );
    }

    #[test]
    fn csv_bad_rows_under_skip() {
        let dir = broken_folder();
        let mut source = Source::open(&broken_spec(BadRowPolicy::Skip), dir.path()).unwrap();
        assert_eq!(
            read_all(&mut source).unwrap(),
            vec![ev(r#"{"amount":5,"user":"ann"}"#, None, 2), ev(r#"{"amount":8,"user":"dan"}"#, None, 5),]
        );
        assert_eq!(source.bad_rows(), 2);
        assert_eq!(source.rows_consumed(), 4);
        let samples = source.bad_row_samples();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].line, 3);
        assert_eq!(samples[0].column, None);
        assert_eq!(samples[1].line, 4);
        assert_eq!(samples[1].column.as_deref(), Some("amount"));
        assert_eq!(samples[1].raw, "cid,notanumber");
        // No dead-letter file under skip.
        assert!(!dir.path().join("bad").exists());
    }

    #[test]
    fn csv_bad_rows_under_dead_letter() {
        let dir = broken_folder();
        let mut source = Source::open(&broken_spec(BadRowPolicy::DeadLetter), dir.path()).unwrap();
        assert_eq!(read_all(&mut source).unwrap().len(), 2);
        assert_eq!(source.bad_rows(), 2);
        let dead = std::fs::read_to_string(dir.path().join("bad/dead.jsonl")).unwrap();
        assert_eq!(
            dead,
            concat!(
                r#"{"source":"events","path":"in/events.csv","line":3,"column":null,"reason":"expected 2 fields, found 3","raw":"bob,x7,extra"}"#,
                "\n",
                r#"{"source":"events","path":"in/events.csv","line":4,"column":"amount","reason":"expected an integer (forced type int), found \"notanumber\"","raw":"cid,notanumber"}"#,
                "\n"
            )
        );
        // Every line is JSON.
        for line in dead.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        // Opening again truncates the file.
        let source = Source::open(&broken_spec(BadRowPolicy::DeadLetter), dir.path()).unwrap();
        drop(source);
        assert_eq!(std::fs::read_to_string(dir.path().join("bad/dead.jsonl")).unwrap(), "");
    }

    #[test]
    fn only_five_samples_are_kept() {
        let mut text = String::from("a,b\n");
        for i in 0..8 {
            text.push_str(&format!("{i}\n"));
        }
        let dir = folder_with("e.csv", text.as_bytes());
        let mut spec = spec("e.csv");
        spec.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&spec, dir.path()).unwrap();
        assert!(read_all(&mut source).unwrap().is_empty());
        assert_eq!(source.bad_rows(), 8);
        let lines: Vec<u64> = source.bad_row_samples().iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn jsonl_reads_objects_and_bad_lines() {
        let text = concat!(
            "{\"a\": 1, \"b\": [1.5, null], \"c\": {\"d\": \"x\"}}\n",
            "\n",
            "   \n",
            "{\"a\": 2,}\n",
            "[1, 2]\n",
            "{\"id\": 9223372036854775808}\n",
            "{\"a\": 3} trailing\n",
            "{\"a\": -9223372036854775808, \"e\": 1e2}\r\n",
            "\"just a string\"\n",
            "{\"a\": 5}"
        );
        let dir = folder_with("e.jsonl", text.as_bytes());
        let mut spec = spec("e.jsonl");
        spec.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&spec, dir.path()).unwrap();
        assert_eq!(
            read_all(&mut source).unwrap(),
            vec![
                ev(r#"{"a":1,"b":[1.5,null],"c":{"d":"x"}}"#, None, 1),
                ev(r#"{"a":-9223372036854775808,"e":100.0}"#, None, 8),
                ev(r#"{"a":5}"#, None, 10),
            ]
        );
        assert_eq!(source.rows_consumed(), 8);
        assert_eq!(source.bad_rows(), 5);
        let bad = sample_parts(&source);
        assert_eq!(
            bad,
            vec![
                (4, None, "invalid JSON at column 9: trailing comma", "{\"a\": 2,}"),
                (5, None, "expected a JSON object, found an array", "[1, 2]"),
                (
                    6,
                    Some("id"),
                    "integer 9223372036854775808 does not fit in 64 bits",
                    "{\"id\": 9223372036854775808}"
                ),
                (7, None, "invalid JSON at column 10: trailing characters", "{\"a\": 3} trailing"),
                (9, None, "expected a JSON object, found a string", "\"just a string\""),
            ]
        );
    }

    #[test]
    fn jsonl_huge_integer_fails_with_line_and_field() {
        let dir = folder_with("e.jsonl", b"{\"id\": 1}\n{\"n\": {\"id\": 18446744073709551616}}\n");
        let err = read_file(&dir, &spec("e.jsonl")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: column `n.id`: integer 18446744073709551616 does not fit in 64 bits",
                dir.path().join("e.jsonl").display()
            )
        );
    }

    #[test]
    fn jsonl_invalid_utf8_is_a_bad_row() {
        let dir = folder_with("e.jsonl", b"{\"s\": \"\xff\"}\n{\"s\": \"ok\"}\n");
        let mut spec = spec("e.jsonl");
        spec.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&spec, dir.path()).unwrap();
        assert_eq!(read_all(&mut source).unwrap(), vec![ev(r#"{"s":"ok"}"#, None, 2)]);
        let sample = &source.bad_row_samples()[0];
        assert_eq!(sample.line, 1);
        assert_eq!(sample.column.as_deref(), Some("s"));
        assert!(sample.reason.starts_with("invalid JSON"), "{}", sample.reason);
        assert_eq!(sample.raw, "{\"s\": \"\u{fffd}\"}");
    }

    #[test]
    fn json_array_elements_and_bad_elements() {
        let text = "[\n  {\"a\": 1},\n  5,\n  {\"b\": {\"c\": 99999999999999999999}},\n  {\"a\": 2,\n   \"t\": true}\n]\n";
        let dir = folder_with("e.json", text.as_bytes());
        let mut spec = spec("e.json");
        spec.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&spec, dir.path()).unwrap();
        assert_eq!(
            read_all(&mut source).unwrap(),
            vec![ev(r#"{"a":1}"#, None, 2), ev(r#"{"a":2,"t":true}"#, None, 5)]
        );
        assert_eq!(source.rows_consumed(), 4);
        let bad = sample_parts(&source);
        assert_eq!(
            bad,
            vec![
                (3, None, "element 2: expected a JSON object, found a number", "5"),
                (
                    4,
                    Some("b.c"),
                    "element 3: integer 99999999999999999999 does not fit in 64 bits",
                    "{\"b\": {\"c\": 99999999999999999999}}"
                ),
            ]
        );
    }

    #[test]
    fn json_empty_files_and_arrays() {
        for text in ["", "  \n", "[]", " [ ] \n"] {
            let dir = folder_with("e.json", text.as_bytes());
            assert_eq!(read_file(&dir, &spec("e.json")).unwrap(), vec![], "{text:?}");
        }
    }

    #[test]
    fn json_invalid_text_is_an_error_with_serde_line_and_column() {
        let cases = [
            "[\n {\"a\": 1},\n {\"a\": tru}\n]",
            "[\n {\"a\": 1},\n {\"a\":\n   1 2}\n]",
            "[{\"a\": 1} {\"a\": 2}]",
            "[{\"a\": 1},]",
            "[{\"a\": 1}",
            "[{\"a\": 1}] x",
            "[{\"a\": 1},\n\n  {\"b\": \"unterminated}]",
        ];
        for text in cases {
            let dir = folder_with("e.json", text.as_bytes());
            let mut spec = spec("e.json");
            // Whatever the policy: the rest of the file cannot be found.
            spec.on_bad_row = BadRowPolicy::Skip;
            let err = read_file(&dir, &spec).unwrap_err();
            let IoError::Unreadable(row) = err else {
                panic!("{text:?}: not an unreadable-file error: {err}")
            };
            let serde =
                serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(text).unwrap_err();
            assert_eq!(row.line, serde.line() as u64, "{text:?}: {row}");
            let column = format!("invalid JSON at column {}:", serde.column());
            assert!(row.reason.starts_with(&column), "{text:?}: {row} vs {serde}");
        }
        let dir = folder_with("e.json", b"\n  {\"a\": 1}");
        let err = read_file(&dir, &spec("e.json")).unwrap_err();
        let IoError::Unreadable(row) = err else { panic!("not an unreadable-file error: {err}") };
        assert_eq!(
            row.to_string(),
            format!(
                "{}:2: invalid JSON at column 3: expected a JSON array of objects",
                dir.path().join("e.json").display()
            )
        );
        let dir = folder_with("e.json", b"[\n {\"a\": 1},\n {\"a\": tru}\n]");
        let err = read_file(&dir, &spec("e.json")).unwrap_err();
        let IoError::Unreadable(row) = err else { panic!() };
        assert_eq!(
            row.to_string(),
            format!("{}:3: invalid JSON at column 11: expected ident", dir.path().join("e.json").display())
        );
        assert_eq!(row.raw, " {\"a\": tru}");
    }

    #[test]
    fn time_formats() {
        let jsonl =
            concat!("{\"ts\": \"2024-01-01T00:00:01.5Z\"}\n", "{\"ts\": \"2024-01-01T01:00:00+01:00\"}\n",);
        let dir = folder_with("e.jsonl", jsonl.as_bytes());
        let mut s = spec("e.jsonl");
        s.time_field = Some("ts".into());
        assert_eq!(
            read_file(&dir, &s).unwrap(),
            vec![
                ev(r#"{"ts":"2024-01-01T00:00:01.5Z"}"#, Some(1_704_067_201_500_000), 1),
                ev(r#"{"ts":"2024-01-01T01:00:00+01:00"}"#, Some(1_704_067_200_000_000), 2),
            ]
        );

        let cases: [(TimeFormat, &str, Option<i64>); 12] = [
            (TimeFormat::UnixS, "1700000000", Some(1_700_000_000_000_000)),
            (TimeFormat::UnixS, "1700000000.25", Some(1_700_000_000_250_000)),
            (TimeFormat::UnixS, "1.0000004", Some(1_000_000)),
            (TimeFormat::UnixS, "1.0000006", Some(1_000_001)),
            (TimeFormat::UnixS, "-1", Some(-1_000_000)),
            (TimeFormat::UnixS, "\"1700000000\"", None),
            (TimeFormat::UnixS, "1e300", None),
            (TimeFormat::UnixMs, "1700000000123", Some(1_700_000_000_123_000)),
            (TimeFormat::UnixMs, "1700000000123.0", None),
            (TimeFormat::UnixMs, "9223372036854775807", None),
            (TimeFormat::UnixUs, "1700000000123456", Some(1_700_000_000_123_456)),
            (TimeFormat::UnixUs, "null", None),
        ];
        for (format, value, expected) in cases {
            let line = format!("{{\"t\": {value}, \"x\": 1}}\n");
            let dir = folder_with("e.jsonl", line.as_bytes());
            let mut s = spec("e.jsonl");
            s.time_field = Some("t".into());
            s.time_format = format;
            let result = read_file(&dir, &s);
            match expected {
                Some(time) => {
                    let events = result.unwrap();
                    assert_eq!(events.len(), 1);
                    assert_eq!(events[0].1, Some(time), "{format:?} {value}");
                    // The time field stays in the record unchanged.
                    let expected_json = format!(
                        "{{\"t\":{},\"x\":1}}",
                        to_json_string(
                            &crate::value::json_to_dynamic(&serde_json::from_str(value).unwrap()).unwrap()
                        )
                        .unwrap()
                    );
                    assert_eq!(events[0].0, expected_json);
                }
                None => {
                    let err = result.unwrap_err();
                    let IoError::Row(row) = err else { panic!() };
                    assert_eq!(row.column.as_deref(), Some("t"), "{format:?} {value}");
                    assert_eq!(row.line, 1);
                    assert_eq!(row.raw, line.trim_end());
                }
            }
        }
    }

    #[test]
    fn time_reasons_show_the_bad_value() {
        let text = concat!(
            "{\"ts\": \"yesterday\"}\n",
            "{\"other\": 1}\n",
            "{\"ts\": 17}\n",
            "{\"ts\": \"2024-01-01T00:00:00Z\"}\n"
        );
        let dir = folder_with("e.jsonl", text.as_bytes());
        let mut s = spec("e.jsonl");
        s.time_field = Some("ts".into());
        s.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&s, dir.path()).unwrap();
        assert_eq!(
            read_all(&mut source).unwrap(),
            vec![ev(r#"{"ts":"2024-01-01T00:00:00Z"}"#, Some(1_704_067_200_000_000), 4)]
        );
        let reasons: Vec<(u64, Option<&str>, &str)> = source
            .bad_row_samples()
            .iter()
            .map(|s| (s.line, s.column.as_deref(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    1,
                    Some("ts"),
                    "expected an RFC 3339 time (e.g. \"2024-01-01T00:00:00Z\"), found \"yesterday\""
                ),
                (2, Some("ts"), "the time field is missing"),
                (3, Some("ts"), "expected an RFC 3339 time (e.g. \"2024-01-01T00:00:00Z\"), found 17"),
            ]
        );
        let mut s2 = spec("e.jsonl");
        s2.time_field = Some("ts".into());
        s2.time_format = TimeFormat::UnixMs;
        let dir = folder_with("e.jsonl", b"{\"ts\": \"soon\"}\n");
        let err = read_file(&dir, &s2).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:1: column `ts`: expected an integer number of milliseconds since the epoch (unix_ms), found \"soon\"",
                dir.path().join("e.jsonl").display()
            )
        );
    }

    #[test]
    fn csv_time_field() {
        let text = "ts,v\n2024-01-01T00:00:00Z,1\n,2\n1700000000,3\n";
        let dir = folder_with("e.csv", text.as_bytes());
        let mut s = spec("e.csv");
        s.time_field = Some("ts".into());
        s.on_bad_row = BadRowPolicy::DeadLetter;
        s.dead_letter_path = Some("dead.jsonl".into());
        let mut source = Source::open(&s, dir.path()).unwrap();
        assert_eq!(
            read_all(&mut source).unwrap(),
            vec![ev(r#"{"ts":"2024-01-01T00:00:00Z","v":1}"#, Some(1_704_067_200_000_000), 2)]
        );
        let dead = std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap();
        assert_eq!(
            dead,
            concat!(
                r#"{"source":"events","path":"e.csv","line":3,"column":"ts","reason":"expected an RFC 3339 time (e.g. \"2024-01-01T00:00:00Z\"), found null","raw":",2"}"#,
                "\n",
                r#"{"source":"events","path":"e.csv","line":4,"column":"ts","reason":"expected an RFC 3339 time (e.g. \"2024-01-01T00:00:00Z\"), found 1700000000","raw":"1700000000,3"}"#,
                "\n"
            )
        );
        // A time field the header lacks is an error at open.
        s.time_field = Some("time".into());
        let err = Source::open(&s, dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:1: column `time`: source `events` reads its event time from this column, but the header has no such column (columns: ts, v)",
                dir.path().join("e.csv").display()
            )
        );
    }

    fn spec_skipping(s: &SourceSpec) -> SourceSpec {
        SourceSpec { on_bad_row: BadRowPolicy::Skip, dead_letter_path: None, ..s.clone() }
    }

    #[test]
    fn skipping_to_a_mark_reads_on_as_a_source_that_read_every_row() {
        // Quoted line breaks, CRLF, a blank line and bad rows: the lines named stay exact.
        let text = "ts,v\r\n2024-01-01T00:00:00Z,\"a\nb\"\r\n\r\n2024-01-01T00:00:01Z,2\nbad\n\
                    2024-01-01T00:00:02Z,\"c\r\n\nd\"\n2024-01-01T00:00:03Z,4\nx,y,z\n2024-01-01T00:00:05Z,5";
        let dir = folder_with("e.csv", text.as_bytes());
        let mut s = spec("e.csv");
        s.time_field = Some("ts".into());
        s.on_bad_row = BadRowPolicy::Skip;
        let mut full = Source::open(&s, dir.path()).unwrap();
        let mut events = Vec::new();
        let mut marks = vec![(0, full.read_mark().unwrap())];
        while let Some(event) = full.next_event().unwrap() {
            events.push((full.rows_consumed(), seen(&event)));
            marks.push((full.rows_consumed(), full.read_mark().unwrap()));
        }
        assert_eq!(events.len(), 5);
        for (rows, mark) in marks {
            let mut resumed = Source::open(&s, dir.path()).unwrap();
            resumed.skip_to(rows, mark).unwrap();
            assert_eq!(resumed.rows_consumed(), rows);
            let expected: Vec<Seen> =
                events.iter().filter(|(n, _)| *n > rows).map(|(_, e)| e.clone()).collect();
            assert_eq!(read_all(&mut resumed).unwrap(), expected, "after {rows} rows, {mark:?}");
            assert_eq!(resumed.rows_consumed(), full.rows_consumed());
            // Under `fail`, the bad row ahead is named by the same line either way.
            let failing = SourceSpec { on_bad_row: BadRowPolicy::Fail, ..s.clone() };
            let mut straight = Source::open(&failing, dir.path()).unwrap();
            straight.skip_rows_quickly(rows).unwrap();
            let mut jumped = Source::open(&failing, dir.path()).unwrap();
            jumped.skip_to(rows, mark).unwrap();
            let error = |source: &mut Source| read_all(source).err().map(|e| e.to_string());
            assert_eq!(error(&mut jumped), error(&mut straight), "after {rows} rows");
        }
    }

    #[test]
    fn resume_with_skip_rows_gives_the_same_following_events() {
        let text = "ts,v\n2024-01-01T00:00:00Z,1\nbad\n2024-01-01T00:00:02Z,2\n,3\n2024-01-01T00:00:04Z,4\n2024-01-01T00:00:05Z,5\n";
        let dir = folder_with("e.csv", text.as_bytes());
        let mut s = spec("e.csv");
        s.time_field = Some("ts".into());
        s.on_bad_row = BadRowPolicy::DeadLetter;
        s.dead_letter_path = Some("dead.jsonl".into());

        // The uninterrupted run, remembering rows_consumed after each event.
        let mut full = Source::open(&s, dir.path()).unwrap();
        let mut events = Vec::new();
        while let Some(event) = full.next_event().unwrap() {
            events.push((full.rows_consumed(), seen(&event)));
        }
        let total_rows = full.rows_consumed();
        let total_bad = full.bad_rows();
        let full_dead = std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap();
        assert_eq!(total_rows, 6);
        assert_eq!(total_bad, 2);
        assert_eq!(events.len(), 4);

        for (at, _) in std::iter::once((0, None)).chain(events.iter().map(|(n, e)| (*n, Some(e)))) {
            let mut resumed = Source::open(&s, dir.path()).unwrap();
            resumed.skip_rows(at).unwrap();
            assert_eq!(resumed.rows_consumed(), at);
            let rest = read_all(&mut resumed).unwrap();
            let expected: Vec<Seen> =
                events.iter().filter(|(n, _)| *n > at).map(|(_, e)| e.clone()).collect();
            assert_eq!(rest, expected, "resumed after {at} rows");
            assert_eq!(resumed.rows_consumed(), total_rows);
            assert_eq!(resumed.bad_rows(), total_bad);
            assert_eq!(std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap(), full_dead);
        }
        // Skipping quickly reaches the same places (without counting bad rows again).
        for (at, _) in std::iter::once((0, None)).chain(events.iter().map(|(n, e)| (*n, Some(e)))) {
            let mut resumed = Source::open(&spec_skipping(&s), dir.path()).unwrap();
            resumed.skip_rows_quickly(at).unwrap();
            assert_eq!(resumed.rows_consumed(), at);
            let rest = read_all(&mut resumed).unwrap();
            let expected: Vec<Seen> =
                events.iter().filter(|(n, _)| *n > at).map(|(_, e)| e.clone()).collect();
            assert_eq!(rest, expected, "resumed quickly after {at} rows");
        }
        // Skipping past the end stops at the end.
        let mut resumed = Source::open(&s, dir.path()).unwrap();
        resumed.skip_rows(100).unwrap();
        assert_eq!(resumed.rows_consumed(), total_rows);
        assert!(resumed.next_event().unwrap().is_none());
    }

    #[test]
    fn resume_jsonl_and_json() {
        let jsonl = "{\"a\":1}\n\n{\"a\":2}\nnot json\n{\"a\":3}\n";
        let json = "[{\"a\":1},\n{\"a\":2},\n7,\n{\"a\":3}]";
        for (name, text) in [("e.jsonl", jsonl), ("e.json", json)] {
            let dir = folder_with(name, text.as_bytes());
            let mut s = spec(name);
            s.on_bad_row = BadRowPolicy::Skip;
            let all = read_file(&dir, &s).unwrap();
            assert_eq!(all.len(), 3);
            for skip in 0..5 {
                let mut source = Source::open(&s, dir.path()).unwrap();
                source.skip_rows(skip).unwrap();
                let rest = read_all(&mut source).unwrap();
                // Rows 1, 2 are good, 3 is bad, 4 is good.
                let good_skipped = match skip {
                    0 => 0,
                    1 => 1,
                    2 | 3 => 2,
                    _ => 3,
                };
                assert_eq!(rest, all[good_skipped..].to_vec(), "{name} skip {skip}");
            }
        }
    }

    #[test]
    fn open_errors_name_the_source() {
        let dir = folder_with("events.txt", b"a\n1\n");
        let err = Source::open(&spec("events.txt"), dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("events.txt"), "{text}");
        assert!(text.contains("source `events`"), "{text}");
        assert!(text.contains("format"), "{text}");
        // With a format given, any extension goes.
        let mut s = spec("events.txt");
        s.format = Some(SourceFormat::Csv);
        assert_eq!(read_file(&dir, &s).unwrap(), vec![ev(r#"{"a":1}"#, None, 2)]);

        let err = Source::open(&spec("missing.csv"), dir.path()).unwrap_err();
        assert!(matches!(err, IoError::File { action: "open", .. }), "{err}");
        assert!(err.to_string().contains("missing.csv"), "{err}");

        let mut s = spec("events.txt");
        s.format = Some(SourceFormat::Csv);
        s.on_bad_row = BadRowPolicy::DeadLetter;
        let err = Source::open(&s, dir.path()).unwrap_err();
        assert!(err.to_string().contains("no dead_letter_path"), "{err}");
    }

    #[test]
    fn sources_and_events_can_move_to_the_engine_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Source>();
        assert_send::<SourceEvent>();
        assert_send::<IoError>();
    }

    #[test]
    fn source_accessors() {
        let dir = folder_with("e.jsonl", b"{\"a\": 1}\n");
        let source = Source::open(&spec("e.jsonl"), dir.path()).unwrap();
        assert_eq!(source.id(), "events");
        assert_eq!(source.path(), dir.path().join("e.jsonl"));
        assert_eq!(source.rows_consumed(), 0);
        assert_eq!(source.bad_rows(), 0);
        assert!(source.bad_row_samples().is_empty());
        assert!(format!("{source:?}").contains("events"));
    }
}
