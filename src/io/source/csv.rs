//! The CSV reader: a header row, then one record per row, each cell typed as
//! docs/file-format.md#csv-cells says (INT, FLOAT, bool, `()` for an empty cell, else string)
//! or as the source forces.
//!
//! This is the benchmark's hot path: one reused [`ByteRecord`], the header names built
//! once as map keys, integers parsed by hand, and the raw text of a row re-read from the
//! file only when the row is bad (a gzip file's recent text is kept instead: re-reading
//! would decompress it from its start for every bad row).
//!
//! Line numbers are counted here rather than taken from the parser's `Position::line`,
//! which points at the previous row's `\n` in a CRLF file and before any blank lines.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ::csv::{ByteRecord, ReaderBuilder};
use rhai::{Dynamic, ImmutableString};

use super::{ReadMark, Row, raw_text};
use crate::graph::{ColumnType, SourceSpec, TimeFormat};
use crate::io::error::{IoError, RowError};
use crate::io::input::Input;
use crate::value::Identifier;

/// Distinct keys a reader keeps to share among rows (a bound on its memory).
const KEY_CACHE_SIZE: usize = 1 << 16;

/// Bytes buffered by the CSV parser.
const BUFFER: usize = 256 * 1024;

/// Reads a CSV file row by row.
pub(super) struct CsvReader {
    /// The parser, reading through a line tracker.
    reader: ::csv::Reader<LineTracker<Input>>,
    /// The file (for errors and for re-reading a bad row's text).
    path: PathBuf,
    /// The record being read, reused.
    record: ByteRecord,
    /// The header names, as map keys.
    names: Vec<Identifier>,
    /// Each column's forced type, if any.
    types: Vec<Option<ColumnType>>,
    /// Column indexes by descending name (the cheapest order to fill a map in).
    descending: Vec<usize>,
    /// The typed cells of the row being read, reused.
    cells: Vec<Dynamic>,
    /// No header (an empty file) or the end was reached.
    done: bool,
    /// Byte range of the row last read (for its raw text).
    last_span: (u64, u64),
    /// Which columns go into the record (all, without a projection).
    keep: Option<Vec<bool>>,
    /// A time column left out of the record: its index and format, read here.
    time_column: Option<(usize, TimeFormat)>,
    /// The column read as the key, when asked for.
    key_column: Option<usize>,
    /// Keys read so far (a key column left out of the record), by the cell's bytes.
    key_cache: rustc_hash::FxHashMap<Box<[u8]>, ImmutableString>,
}

impl CsvReader {
    /// Opens the file and reads its header; checks that forced types and the time field
    /// name columns of the header.
    pub(super) fn open(file: Input, path: &Path, spec: &SourceSpec) -> Result<Self, IoError> {
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(BUFFER)
            .from_reader(LineTracker::new(file));
        let mut record = ByteRecord::new();
        let has_header = reader.read_byte_record(&mut record).map_err(|e| read_error(path, e))?;
        let (line, header_span) = locate(&record, &mut reader);
        let header_error = |column: Option<&str>, reason: String| {
            IoError::Row(RowError {
                path: path.to_path_buf(),
                line,
                column: column.map(str::to_string),
                reason,
                raw: read_raw(path, reader.get_ref(), header_span, &record),
            })
        };
        let mut names: Vec<Identifier> = Vec::new();
        let mut types = Vec::new();
        if has_header {
            for (i, name) in record.iter().enumerate() {
                let name = if i == 0 { name.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(name) } else { name };
                let Ok(name) = std::str::from_utf8(name) else {
                    return Err(header_error(None, format!("header field {} is not valid UTF-8", i + 1)));
                };
                if names.iter().any(|known| known.as_str() == name) {
                    return Err(header_error(
                        Some(name),
                        format!("source `{}`: the header names this column twice", spec.id),
                    ));
                }
                names.push(Identifier::from(name));
                types.push(spec.types.get(name).copied());
            }
            let column_list = || {
                let list: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
                list.join(", ")
            };
            let has_column = |name: &str| names.iter().any(|known| known.as_str() == name);
            for (name, ty) in &spec.types {
                if !has_column(name) {
                    return Err(header_error(
                        Some(name),
                        format!(
                            "source `{}` forces this column's type to {}, but the header has no such column (columns: {})",
                            spec.id,
                            ty.as_str(),
                            column_list()
                        ),
                    ));
                }
            }
            if let Some(field) = &spec.time_field
                && !has_column(field)
            {
                return Err(header_error(
                    Some(field),
                    format!(
                        "source `{}` reads its event time from this column, but the header has no such column (columns: {})",
                        spec.id,
                        column_list()
                    ),
                ));
            }
        }
        let mut descending: Vec<usize> = (0..names.len()).collect();
        descending.sort_by(|&a, &b| names[b].cmp(&names[a]));
        Ok(CsvReader {
            reader,
            path: path.to_path_buf(),
            record,
            cells: Vec::with_capacity(names.len()),
            descending,
            names,
            types,
            // An empty file has no header and no events.
            done: !has_header,
            last_span: header_span,
            keep: None,
            time_column: None,
            key_column: None,
            key_cache: Default::default(),
        })
    }

    /// Reads `field` as each row's key; false when the header has no such column.
    pub(super) fn set_key_field(&mut self, field: &str) -> bool {
        self.key_column = self.names.iter().position(|n| n.as_str() == field);
        self.key_column.is_some()
    }

    /// Keeps only `fields` in each record; the time field, if left out, is read here.
    /// Returns false (and keeps every column) when the header lacks one of the fields, so
    /// that the error a step gives for it lists them all.
    pub(super) fn set_projection(
        &mut self,
        fields: &std::collections::BTreeSet<String>,
        time: Option<(&str, TimeFormat)>,
    ) -> bool {
        if !fields.iter().all(|f| self.names.iter().any(|n| n.as_str() == f)) {
            return false;
        }
        let keep: Vec<bool> = self.names.iter().map(|n| fields.contains(n.as_str())).collect();
        self.time_column = time.and_then(|(field, format)| {
            let index = self.names.iter().position(|n| n.as_str() == field)?;
            (!keep[index]).then_some((index, format))
        });
        self.keep = Some(keep);
        true
    }

    /// Checks a cell left out of the record, so that the row is as good or bad as it would
    /// be with the cell in it; reads the time when it is the time column.
    fn check_left_out(
        &self,
        i: usize,
        cell: &[u8],
        time: &mut Option<Result<i64, String>>,
    ) -> Result<(), String> {
        let forced = self.types[i];
        if let Some((column, format)) = self.time_column
            && column == i
        {
            // The common case without allocating: an RFC 3339 string (never typed otherwise).
            if format == TimeFormat::Rfc3339
                && matches!(forced, None | Some(ColumnType::String))
                && let Ok(text) = std::str::from_utf8(cell)
                && let Some(t) = crate::time::parse_rfc3339_micros(text)
            {
                *time = Some(Ok(t));
                return Ok(());
            }
            let value = type_cell(cell, forced)?;
            *time = Some(super::read_time(&value, format));
            return Ok(());
        }
        match forced {
            Some(_) => type_cell(cell, forced).map(drop),
            None => utf8(cell).map(drop),
        }
    }

    /// Passes over the next row without reading its cells; false at the end of the file.
    pub(super) fn skip_row(&mut self) -> Result<bool, IoError> {
        if self.done {
            return Ok(false);
        }
        let more = self.reader.read_byte_record(&mut self.record).map_err(|e| read_error(&self.path, e))?;
        if !more {
            self.done = true;
            return Ok(false);
        }
        self.last_span = locate(&self.record, &mut self.reader).1;
        Ok(true)
    }

    /// Bytes of the file consumed: through the end of the row last read.
    pub(super) fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Where a reader of the same file can go on from without reading the rows before: the
    /// bytes consumed and the line feeds among them.
    pub(super) fn mark(&self) -> ReadMark {
        let bytes = self.position();
        ReadMark { bytes, newlines: newlines_before(self.reader.get_ref(), bytes) }
    }

    /// Goes on from `mark` (taken by a reader of the same file, header read), not reading
    /// the rows before it; false, nothing moved, when the file cannot be sought (compressed,
    /// standard input, followed).
    pub(super) fn seek(&mut self, mark: ReadMark) -> Result<bool, IoError> {
        if self.reader.get_ref().inner.cannot_reread() {
            return Ok(false);
        }
        let mut position = ::csv::Position::new();
        position.set_byte(mark.bytes).set_line(mark.newlines + 1);
        self.reader.seek_raw(SeekFrom::Start(mark.bytes), position).map_err(|e| read_error(&self.path, e))?;
        self.reader.get_mut().newlines_before = mark.newlines;
        self.done = false;
        Ok(true)
    }

    /// The next row, or `None` at the end of the file.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, IoError> {
        if self.done {
            return Ok(None);
        }
        let more = self.reader.read_byte_record(&mut self.record).map_err(|e| read_error(&self.path, e))?;
        if !more {
            self.done = true;
            return Ok(None);
        }
        let (line, span) = locate(&self.record, &mut self.reader);
        self.last_span = span;
        if self.record.len() != self.names.len() {
            let reason = format!("expected {} fields, found {}", self.names.len(), self.record.len());
            return Ok(Some(Row::Bad(self.row_error(line, None, reason))));
        }
        self.cells.clear();
        let mut time = None;
        for (i, cell) in self.record.iter().enumerate() {
            let kept = self.keep.as_ref().is_none_or(|keep| keep[i]);
            let typed = if kept {
                type_cell(cell, self.types[i])
            } else {
                self.check_left_out(i, cell, &mut time).map(|()| Dynamic::UNIT)
            };
            match typed {
                Ok(value) => self.cells.push(value),
                Err(reason) => {
                    let column = self.names[i].to_string();
                    return Ok(Some(Row::Bad(self.row_error(line, Some(column), reason))));
                }
            }
        }
        let mut key = None;
        if let Some(k) = self.key_column {
            let kept = self.keep.as_ref().is_none_or(|keep| keep[k]);
            if kept {
                let value = self.cells[k].clone();
                if value.is_string() {
                    key = value.into_immutable_string().ok();
                }
            } else if let Some(cell) = self.record.get(k) {
                // Left out of the record: typed again here (it was only checked), once per
                // distinct key while the cache has room; later rows share the string.
                if let Some(known) = self.key_cache.get(cell) {
                    key = Some(known.clone());
                } else if let Ok(value) = type_cell(cell, self.types[k])
                    && value.is_string()
                    && let Ok(text) = value.into_immutable_string()
                {
                    if self.key_cache.len() < KEY_CACHE_SIZE {
                        self.key_cache.insert(cell.into(), text.clone());
                    }
                    key = Some(text);
                }
            }
        }
        // Not a string: the whole record goes on, for key_on to report it as it is.
        let whole = self.key_column.is_some() && key.is_none();
        if whole && let Some(keep) = &self.keep {
            for (i, cell) in self.record.iter().enumerate() {
                if !keep[i] {
                    self.cells[i] = type_cell(cell, self.types[i]).unwrap_or_default();
                }
            }
        }
        // Inserting keys in descending order costs one key comparison each.
        let mut fields = rhai::Map::new();
        for &i in &self.descending {
            if whole || self.keep.as_ref().is_none_or(|keep| keep[i]) {
                fields.insert(self.names[i].clone(), std::mem::take(&mut self.cells[i]));
            }
        }
        Ok(Some(Row::Good { fields, line, time, key }))
    }

    /// The raw text of the row last read, re-read from the file.
    pub(super) fn last_raw(&self) -> String {
        read_raw(&self.path, self.reader.get_ref(), self.last_span, &self.record)
    }

    fn row_error(&self, line: u64, column: Option<String>, reason: String) -> RowError {
        RowError { path: self.path.clone(), line, column, reason, raw: self.last_raw() }
    }
}

/// The raw text of a row (its byte range, from the tracker's recent text or re-read from the
/// file, without the line ending), or its fields joined with `,` when the file cannot be
/// read again.
fn read_raw(
    path: &Path,
    tracker: &LineTracker<Input>,
    (start, end): (u64, u64),
    record: &ByteRecord,
) -> String {
    if let Some(bytes) = tracker.recent_span(start, end) {
        return raw_text(bytes);
    }
    match Input::read_span(path, start, end) {
        Ok(bytes) => raw_text(&bytes),
        Err(_) => {
            let fields: Vec<_> = record.iter().map(String::from_utf8_lossy).collect();
            fields.join(",")
        }
    }
}

/// The 1-based line where the record just read starts, and its byte range.
///
/// The CSV parser's own position of a record is where it *started looking* for it: in a
/// CRLF file that is the previous row's `\n`, and blank lines before the record are
/// counted in. So the record's real first byte is found by stepping over line breaks
/// from there, and its line is counted from the breaks the tracker saw.
fn locate(record: &ByteRecord, reader: &mut ::csv::Reader<LineTracker<Input>>) -> (u64, (u64, u64)) {
    let looked_from = record.position().map_or(0, ::csv::Position::byte);
    let end = reader.position().byte();
    let tracker = reader.get_mut();
    let start = tracker.pass_breaks(looked_from);
    (tracker.newlines_before + 1, (start, end))
}

/// `\n` bytes before `end` (the end of the record just located): those passed, and those
/// still ahead in the tracker up to `end` (the record's own, a few at most).
fn newlines_before(tracker: &LineTracker<Input>, end: u64) -> u64 {
    let within =
        tracker.breaks.iter().take_while(|&&entry| entry >> 1 < end).filter(|&&entry| entry & 1 == 1);
    tracker.newlines_before + within.count() as u64
}

/// A reader that remembers where the line breaks of the bytes it has handed out are,
/// until the CSV reader has moved past them.
struct LineTracker<R> {
    /// The file.
    inner: R,
    /// Bytes handed out so far.
    offset: u64,
    /// Offsets of the `\r` and `\n` bytes not yet passed, as `offset << 1 | is_newline`.
    breaks: VecDeque<u64>,
    /// `\n` bytes passed so far.
    newlines_before: u64,
    /// For a compressed file or standard input: the last bytes handed out (at most [`RECENT`] after trimming),
    /// ending at `offset`, so that a bad row's text is at hand.
    recent: Option<Vec<u8>>,
}

/// Bytes of recent text a tracker keeps for a compressed file (a row longer than this is
/// re-read by decompressing the file again).
const RECENT: usize = 4 * BUFFER;

impl LineTracker<Input> {
    fn new(inner: Input) -> Self {
        let recent = inner.cannot_reread().then(|| Vec::with_capacity(2 * RECENT));
        LineTracker { inner, offset: 0, breaks: VecDeque::with_capacity(4096), newlines_before: 0, recent }
    }

    /// The bytes from `start` to `end` if they are among the recent text kept.
    fn recent_span(&self, start: u64, end: u64) -> Option<&[u8]> {
        let recent = self.recent.as_ref()?;
        let base = self.offset.checked_sub(recent.len() as u64)?;
        let from = usize::try_from(start.checked_sub(base)?).ok()?;
        let to = usize::try_from(end.checked_sub(base)?).ok()?;
        recent.get(from..to)
    }
}

impl<R> LineTracker<R> {
    /// Passes every break before `from` and the run of breaks starting at `from`;
    /// returns the first byte after them (where a record really starts).
    fn pass_breaks(&mut self, from: u64) -> u64 {
        let mut at = from;
        while let Some(&entry) = self.breaks.front() {
            let offset = entry >> 1;
            if offset > at {
                break;
            }
            if offset == at {
                at += 1;
            }
            self.newlines_before += entry & 1;
            self.breaks.pop_front();
        }
        at
    }
}

impl<R> LineTracker<R> {
    /// Remembers the breaks among `bytes`, which start at offset `base`.
    fn note_breaks(&mut self, base: u64, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            if byte == b'\n' || byte == b'\r' {
                let offset = base + i as u64;
                self.breaks.push_back(offset << 1 | u64::from(byte == b'\n'));
            }
        }
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        // Eight bytes at a time: look closer only at words holding a `\r` or `\n`.
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let has = |word: u64, byte: u8| {
            let x = word ^ (ONES * u64::from(byte));
            x.wrapping_sub(ONES) & !x & HIGHS != 0
        };
        let mut chunks = buf[..n].chunks_exact(8);
        let mut base = self.offset;
        for chunk in chunks.by_ref() {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_le_bytes(word);
            if has(word, b'\n') || has(word, b'\r') {
                self.note_breaks(base, chunk);
            }
            base += 8;
        }
        self.note_breaks(base, chunks.remainder());
        self.offset += n as u64;
        if let Some(recent) = &mut self.recent {
            if recent.len() + n > 2 * RECENT {
                let keep = RECENT.min(recent.len());
                recent.drain(..recent.len() - keep);
            }
            recent.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

impl Seek for LineTracker<Input> {
    /// Moves to a byte of an uncompressed file (a reader going on from a [`ReadMark`]); the
    /// breaks before are forgotten (the caller says how many line feeds there were).
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let SeekFrom::Start(offset) = to else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a source seeks from its start only",
            ));
        };
        self.inner.skip_to(offset)?;
        self.offset = offset;
        self.breaks.clear();
        if let Some(recent) = &mut self.recent {
            recent.clear();
        }
        Ok(offset)
    }
}

/// A CSV parse error as an [`IoError`] (only I/O errors can happen with these settings).
fn read_error(path: &Path, error: ::csv::Error) -> IoError {
    match error.into_kind() {
        ::csv::ErrorKind::Io(e) => IoError::file(path, "read", e),
        other => IoError::file(path, "read", std::io::Error::other(format!("{other:?}"))),
    }
}

/// Types one cell: by the rules of docs/file-format.md#csv-cells, or as the column's forced type says.
fn type_cell(cell: &[u8], forced: Option<ColumnType>) -> Result<Dynamic, String> {
    let Some(ty) = forced else {
        return auto_cell(cell);
    };
    let text = utf8(cell)?;
    match ty {
        ColumnType::String => Ok(Dynamic::from(ImmutableString::from(text))),
        ColumnType::Int => {
            let trimmed = text.trim();
            match parse_int(trimmed.as_bytes()) {
                Some(n) => Ok(Dynamic::from_int(n)),
                None if is_integer_literal(trimmed.as_bytes()) => {
                    Err(format!("integer {trimmed} does not fit in 64 bits"))
                }
                None => Err(format!("expected an integer (forced type int), found {text:?}")),
            }
        }
        ColumnType::Float => match text.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Dynamic::from_float(f)),
            _ => Err(format!("expected a finite number (forced type float), found {text:?}")),
        },
        ColumnType::Bool => match text.trim() {
            "true" => Ok(Dynamic::from_bool(true)),
            "false" => Ok(Dynamic::from_bool(false)),
            _ => Err(format!("expected true or false (forced type bool), found {text:?}")),
        },
    }
}

/// Types a cell by the rules of docs/file-format.md#csv-cells: INT if it matches `-?[0-9]+`
/// and fits i64, FLOAT if it parses as a finite number and has `.`, `e` or `E`, `true`/`false`
/// as bools, an empty cell as `()`, anything else a string.
fn auto_cell(cell: &[u8]) -> Result<Dynamic, String> {
    let Some(&first) = cell.first() else {
        return Ok(Dynamic::UNIT);
    };
    if (first.is_ascii_digit() || first == b'-')
        && let Some(n) = parse_int(cell)
    {
        return Ok(Dynamic::from_int(n));
    }
    let text = utf8(cell)?;
    if looks_like_float(cell)
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Ok(Dynamic::from_float(f));
    }
    Ok(match text {
        "true" => Dynamic::from_bool(true),
        "false" => Dynamic::from_bool(false),
        _ => Dynamic::from(ImmutableString::from(text)),
    })
}

/// A cell's text, or the reason it is not UTF-8.
fn utf8(cell: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(cell)
        .map_err(|e| format!("not valid UTF-8 (bad byte at offset {} of the cell)", e.valid_up_to()))
}

/// True when a cell may be a float: a sign, then a digit or `.`, and a `.`, `e` or `E`
/// somewhere (Rust's float parser decides the rest).
fn looks_like_float(cell: &[u8]) -> bool {
    let body = match cell.first() {
        Some(b'-' | b'+') => &cell[1..],
        _ => cell,
    };
    matches!(body.first(), Some(c) if c.is_ascii_digit() || *c == b'.')
        && body.iter().any(|c| matches!(c, b'.' | b'e' | b'E'))
        && body.iter().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
}

/// True for text matching `-?[0-9]+`.
fn is_integer_literal(text: &[u8]) -> bool {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Parses `-?[0-9]+` into an i64; `None` for anything else or a value that does not fit.
pub(super) fn parse_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    if digits.len() <= 18 {
        // At most 18 digits cannot overflow.
        let mut n: i64 = 0;
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + i64::from(d);
        }
        return Some(if negative { -n } else { n });
    }
    // Accumulate negatively so that i64::MIN fits.
    let mut n: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(d))?;
    }
    if negative { Some(n) } else { n.checked_neg() }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{folder_with, read_all, read_file, spec};
    use super::*;
    use crate::graph::BadRowPolicy;
    use crate::io::Source;
    use crate::value::to_json_string;

    /// The JSON text of the single row of a CSV file.
    fn one_row(text: &str, types: &[(&str, ColumnType)]) -> Result<String, IoError> {
        let dir = folder_with("e.csv", text.as_bytes());
        let mut s = spec("e.csv");
        for (name, ty) in types {
            s.types.insert((*name).to_string(), *ty);
        }
        let events = read_file(&dir, &s)?;
        assert_eq!(events.len(), 1);
        Ok(events[0].0.clone())
    }

    #[test]
    fn types_every_cell_kind() {
        let cases: &[(&str, &str)] = &[
            ("42", "42"),
            ("-7", "-7"),
            ("007", "7"),
            ("-0", "0"),
            ("9223372036854775807", "9223372036854775807"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("9223372036854775808", "\"9223372036854775808\""),
            ("99999999999999999999", "\"99999999999999999999\""),
            ("3.5", "3.5"),
            ("3.0", "3.0"),
            ("-0.25", "-0.25"),
            ("1e3", "1000.0"),
            ("1E-2", "0.01"),
            (".5", "0.5"),
            ("5.", "5.0"),
            ("+1.5", "1.5"),
            ("+5", "\"+5\""),
            ("1e400", "\"1e400\""),
            ("inf", "\"inf\""),
            ("NaN", "\"NaN\""),
            ("1.2.3", "\"1.2.3\""),
            ("e5", "\"e5\""),
            ("true", "true"),
            ("false", "false"),
            ("TRUE", "\"TRUE\""),
            ("", "null"),
            (" 5", "\" 5\""),
            ("-", "\"-\""),
            ("hello world", "\"hello world\""),
            ("\"a,b\"", "\"a,b\""),
            ("\"say \"\"hi\"\"\"", "\"say \\\"hi\\\"\""),
            ("héllo", "\"héllo\""),
        ];
        for (cell, json) in cases {
            let text = format!("c\n{cell}\n");
            // A lone empty cell is an empty line, which CSV skips: give it a neighbour.
            let text = if cell.is_empty() { "c,d\n,1\n".to_string() } else { text };
            let row = one_row(&text, &[]).unwrap();
            let expected = if cell.is_empty() {
                format!("{{\"c\":{json},\"d\":1}}")
            } else {
                format!("{{\"c\":{json}}}")
            };
            assert_eq!(row, expected, "cell {cell:?}");
        }
    }

    #[test]
    fn types_a_whole_row_into_a_map() {
        let dir =
            folder_with("e.csv", b"user,amount,price,ok,note,ts\nann,5,2.50,true,,2024-01-01T00:00:00Z\n");
        let mut source = Source::open(&spec("e.csv"), dir.path()).unwrap();
        let event = source.next_event().unwrap().unwrap();
        let map = event.value.as_map_ref().unwrap();
        assert_eq!(map.len(), 6);
        assert_eq!(map["user"].clone().into_string().unwrap(), "ann");
        assert_eq!(map["amount"].as_int(), Ok(5));
        assert_eq!(map["price"].as_float(), Ok(2.5));
        assert_eq!(map["ok"].as_bool(), Ok(true));
        assert!(map["note"].is_unit());
        assert_eq!(map["ts"].clone().into_string().unwrap(), "2024-01-01T00:00:00Z");
        assert_eq!(event.line, 2);
        assert_eq!(event.time, None);
    }

    #[test]
    fn forced_types() {
        let text = "id,n,f,b,s\n007, 12 ,3,true,\n";
        let row = one_row(
            text,
            &[
                ("id", ColumnType::String),
                ("n", ColumnType::Int),
                ("f", ColumnType::Float),
                ("b", ColumnType::Bool),
                ("s", ColumnType::String),
            ],
        )
        .unwrap();
        assert_eq!(row, r#"{"b":true,"f":3.0,"id":"007","n":12,"s":""}"#);
        // Strings stay strings even when they look like something else.
        let row =
            one_row("a,b\ntrue,1.5\n", &[("a", ColumnType::String), ("b", ColumnType::String)]).unwrap();
        assert_eq!(row, r#"{"a":"true","b":"1.5"}"#);

        let bad: &[(&str, ColumnType, &str)] = &[
            ("x", ColumnType::Int, "expected an integer (forced type int), found \"x\""),
            ("1.5", ColumnType::Int, "expected an integer (forced type int), found \"1.5\""),
            ("", ColumnType::Int, "expected an integer (forced type int), found \"\""),
            ("99999999999999999999", ColumnType::Int, "integer 99999999999999999999 does not fit in 64 bits"),
            ("abc", ColumnType::Float, "expected a finite number (forced type float), found \"abc\""),
            ("inf", ColumnType::Float, "expected a finite number (forced type float), found \"inf\""),
            ("yes", ColumnType::Bool, "expected true or false (forced type bool), found \"yes\""),
        ];
        for (cell, ty, reason) in bad {
            let dir = folder_with("e.csv", format!("k,c\nr,{cell}\n").as_bytes());
            let mut s = spec("e.csv");
            s.types.insert("c".into(), *ty);
            let err = read_file(&dir, &s).unwrap_err();
            let IoError::Row(row) = err else { panic!() };
            assert_eq!(row.column.as_deref(), Some("c"), "{cell:?}");
            assert_eq!(row.reason, *reason);
            assert_eq!(row.line, 2);
            assert_eq!(row.raw, format!("r,{cell}"));
        }
    }

    #[test]
    fn a_forced_column_not_in_the_header_is_an_error_at_open() {
        let dir = folder_with("e.csv", b"a,b\n1,2\n");
        let mut s = spec("e.csv");
        s.types.insert("user_id".into(), ColumnType::String);
        let err = Source::open(&s, dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:1: column `user_id`: source `events` forces this column's type to string, but the header has no such column (columns: a, b)",
                dir.path().join("e.csv").display()
            )
        );
    }

    #[test]
    fn empty_and_header_only_files_have_no_events() {
        for text in ["", "a,b\n", "a,b", "\u{feff}a,b\r\n"] {
            let dir = folder_with("e.csv", text.as_bytes());
            let mut source = Source::open(&spec("e.csv"), dir.path()).unwrap();
            assert!(source.next_event().unwrap().is_none(), "{text:?}");
            assert_eq!(source.rows_consumed(), 0);
        }
    }

    #[test]
    fn byte_order_mark_quotes_crlf_and_line_numbers() {
        let text = "\u{feff}name,text\r\nann,\"two\r\nlines\"\r\n\r\nbob,\"x\"\r\ncid\r\n";
        let dir = folder_with("e.csv", text.as_bytes());
        let mut s = spec("e.csv");
        s.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&s, dir.path()).unwrap();
        let events = read_all(&mut source).unwrap();
        assert_eq!(
            events,
            vec![
                (r#"{"name":"ann","text":"two\r\nlines"}"#.to_string(), None, 2),
                (r#"{"name":"bob","text":"x"}"#.to_string(), None, 5),
            ]
        );
        let bad = &source.bad_row_samples()[0];
        assert_eq!(bad.line, 6);
        assert_eq!(bad.reason, "expected 2 fields, found 1");
        assert_eq!(bad.raw, "cid");
    }

    #[test]
    fn blank_lines_do_not_shift_line_numbers() {
        for text in ["a\n\n\n1\n\n2\n", "a\r\n\r\n\r\n1\r\n\r\n2\r\n", "\n\na\n\n\n1\n\n2"] {
            let dir = folder_with("e.csv", text.as_bytes());
            let lines: Vec<u64> = read_file(&dir, &spec("e.csv")).unwrap().iter().map(|e| e.2).collect();
            let expected = if text.starts_with('\n') { vec![6, 8] } else { vec![4, 6] };
            assert_eq!(lines, expected, "{text:?}");
        }
    }

    #[test]
    fn raw_text_of_a_multi_line_bad_row() {
        let text = "a,b\n1,\"x\ny\",3\n4,5\n";
        let dir = folder_with("e.csv", text.as_bytes());
        let mut s = spec("e.csv");
        s.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&s, dir.path()).unwrap();
        assert_eq!(read_all(&mut source).unwrap(), vec![(r#"{"a":4,"b":5}"#.to_string(), None, 4)]);
        let bad = &source.bad_row_samples()[0];
        assert_eq!((bad.line, bad.raw.as_str()), (2, "1,\"x\ny\",3"));
    }

    #[test]
    fn invalid_utf8_is_a_bad_row_naming_the_column() {
        let dir = folder_with("e.csv", b"a,b\n1,ok\n2,\xff\xfe\n3,fine\n");
        let mut s = spec("e.csv");
        s.on_bad_row = BadRowPolicy::Skip;
        let mut source = Source::open(&s, dir.path()).unwrap();
        let events: Vec<String> = read_all(&mut source).unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(events, vec![r#"{"a":1,"b":"ok"}"#, r#"{"a":3,"b":"fine"}"#]);
        let bad = &source.bad_row_samples()[0];
        assert_eq!(bad.line, 3);
        assert_eq!(bad.column.as_deref(), Some("b"));
        assert_eq!(bad.reason, "not valid UTF-8 (bad byte at offset 0 of the cell)");
        assert_eq!(bad.raw, "2,\u{fffd}\u{fffd}");
    }

    #[test]
    fn header_problems_are_errors_at_open() {
        let dir = folder_with("e.csv", b"a,b,a\n1,2,3\n");
        let err = Source::open(&spec("e.csv"), dir.path()).unwrap_err();
        assert!(
            err.to_string().ends_with(":1: column `a`: source `events`: the header names this column twice"),
            "{err}"
        );
        let dir = folder_with("e.csv", b"a,\xff\n1,2\n");
        let err = Source::open(&spec("e.csv"), dir.path()).unwrap_err();
        assert!(err.to_string().ends_with(":1: header field 2 is not valid UTF-8"), "{err}");
    }

    #[test]
    fn parses_integers_by_hand() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("-0", Some(0)),
            ("123", Some(123)),
            ("-123", Some(-123)),
            ("999999999999999999", Some(999_999_999_999_999_999)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("00000000000000000000000042", Some(42)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("", None),
            ("-", None),
            ("+1", None),
            ("1a", None),
            ("1 ", None),
            ("--1", None),
            ("12345678901234567x", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_int(text.as_bytes()), *expected, "{text:?}");
            if let Some(n) = expected {
                assert_eq!(text.parse::<i64>().ok(), Some(*n));
            }
        }
    }

    #[test]
    fn auto_cells_match_the_rules_on_values() {
        // Whole Dynamic values, not only their JSON text.
        assert_eq!(auto_cell(b"12").unwrap().as_int(), Ok(12));
        assert_eq!(auto_cell(b"1.0").unwrap().as_float(), Ok(1.0));
        assert_eq!(auto_cell(b"false").unwrap().as_bool(), Ok(false));
        assert!(auto_cell(b"").unwrap().is_unit());
        assert_eq!(auto_cell(b"x").unwrap().into_string().unwrap(), "x");
        assert_eq!(to_json_string(&auto_cell(b"-1e-3").unwrap()).unwrap(), "-0.001");
    }
}
