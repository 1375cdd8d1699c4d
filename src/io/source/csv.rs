//! The CSV reader: a header row, then one record per row, each cell typed as DESIGN.md
//! says (INT, FLOAT, bool, `()` for an empty cell, else string) or as the source forces.
//!
//! This is the benchmark's hot path: one reused [`ByteRecord`], the header names built
//! once as map keys, integers parsed by hand, and the raw text of a row re-read from the
//! file only when the row is bad.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ::csv::{ByteRecord, ReaderBuilder};
use rhai::{Dynamic, ImmutableString};

use super::{Row, raw_text};
use crate::graph::{ColumnType, SourceSpec};
use crate::io::error::{IoError, RowError};
use crate::io::json::Identifier;

/// Bytes buffered by the CSV parser.
const BUFFER: usize = 256 * 1024;

/// Reads a CSV file row by row.
pub(super) struct CsvReader {
    /// The parser.
    reader: ::csv::Reader<File>,
    /// The file (for errors and for re-reading a bad row's text).
    path: PathBuf,
    /// The record being read, reused.
    record: ByteRecord,
    /// The header names, as map keys.
    names: Vec<Identifier>,
    /// Each column's forced type, if any.
    types: Vec<Option<ColumnType>>,
    /// No header (an empty file) or the end was reached.
    done: bool,
    /// Byte range of the row last read (for its raw text).
    last_span: (u64, u64),
}

impl CsvReader {
    /// Opens the file and reads its header; checks that forced types and the time field
    /// name columns of the header.
    pub(super) fn open(path: &Path, spec: &SourceSpec) -> Result<Self, IoError> {
        let file = File::open(path).map_err(|e| IoError::file(path, "open", e))?;
        let mut reader =
            ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(BUFFER).from_reader(file);
        let mut record = ByteRecord::new();
        let has_header = reader.read_byte_record(&mut record).map_err(|e| read_error(path, e))?;
        let header_span = span(&record, &reader);
        let line = record.position().map_or(1, ::csv::Position::line);
        let header_error = |column: Option<&str>, reason: String| {
            IoError::Row(RowError {
                path: path.to_path_buf(),
                line,
                column: column.map(str::to_string),
                reason,
                raw: read_raw(path, header_span, &record),
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
        Ok(CsvReader {
            reader,
            path: path.to_path_buf(),
            record,
            names,
            types,
            // An empty file has no header and no events.
            done: !has_header,
            last_span: header_span,
        })
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
        self.last_span = span(&self.record, &self.reader);
        let line = self.record.position().map_or(0, ::csv::Position::line);
        if self.record.len() != self.names.len() {
            let reason = format!("expected {} fields, found {}", self.names.len(), self.record.len());
            return Ok(Some(Row::Bad(self.row_error(line, None, reason))));
        }
        let mut fields = rhai::Map::new();
        for (i, cell) in self.record.iter().enumerate() {
            match type_cell(cell, self.types[i]) {
                Ok(value) => {
                    fields.insert(self.names[i].clone(), value);
                }
                Err(reason) => {
                    let column = self.names[i].to_string();
                    return Ok(Some(Row::Bad(self.row_error(line, Some(column), reason))));
                }
            }
        }
        Ok(Some(Row::Good { fields, line }))
    }

    /// The raw text of the row last read, re-read from the file.
    pub(super) fn last_raw(&self) -> String {
        read_raw(&self.path, self.last_span, &self.record)
    }

    fn row_error(&self, line: u64, column: Option<String>, reason: String) -> RowError {
        RowError { path: self.path.clone(), line, column, reason, raw: self.last_raw() }
    }
}

/// The raw text of a row (its byte range re-read from the file, without the line
/// ending), or its fields joined with `,` when the file cannot be read again.
fn read_raw(path: &Path, (start, end): (u64, u64), record: &ByteRecord) -> String {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(end.saturating_sub(start)).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    match read() {
        Ok(bytes) => raw_text(&bytes),
        Err(_) => {
            let fields: Vec<_> = record.iter().map(String::from_utf8_lossy).collect();
            fields.join(",")
        }
    }
}

/// The byte range of the record just read: from its start to where the reader stands.
fn span(record: &ByteRecord, reader: &::csv::Reader<File>) -> (u64, u64) {
    let start = record.position().map_or(0, ::csv::Position::byte);
    (start, reader.position().byte())
}

/// A CSV parse error as an [`IoError`] (only I/O errors can happen with these settings).
fn read_error(path: &Path, error: ::csv::Error) -> IoError {
    match error.into_kind() {
        ::csv::ErrorKind::Io(e) => IoError::file(path, "read", e),
        other => IoError::file(path, "read", std::io::Error::other(format!("{other:?}"))),
    }
}

/// Types one cell: by DESIGN.md's rules, or as the column's forced type says.
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

/// Types a cell by DESIGN.md's rules: INT if it matches `-?[0-9]+` and fits i64, FLOAT
/// if it parses as a finite number and has `.`, `e` or `E`, `true`/`false` as bools, an
/// empty cell as `()`, anything else a string.
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
