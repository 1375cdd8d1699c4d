//! The JSON Lines reader: each non-blank line one JSON object. A line that is not an
//! object, is not valid JSON, or holds an integer beyond i64 is a bad row.

use crate::io::input::Input;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::error::Category;

use super::{Row, raw_text};
use crate::io::error::{IoError, RowError};
use crate::value::{ErrorPath, ParseFailure, json_kind, parse_value};

/// Bytes buffered from the file.
const BUFFER: usize = 256 * 1024;

/// Reads a JSON Lines file row by row.
pub(super) struct JsonlReader {
    /// The file, buffered.
    reader: BufReader<Input>,
    /// The file (for errors).
    path: PathBuf,
    /// The line being read, reused.
    buf: Vec<u8>,
    /// The number of the line in `buf`.
    line: u64,
    /// Bytes read from the file so far (through the line in `buf`).
    offset: u64,
    /// The path of a JSON error inside a line.
    error_path: ErrorPath,
}

impl JsonlReader {
    /// Reads `file`, opened from `path`.
    pub(super) fn open(file: Input, path: &Path) -> Self {
        JsonlReader {
            reader: BufReader::with_capacity(BUFFER, file),
            path: path.to_path_buf(),
            buf: Vec::with_capacity(1024),
            line: 0,
            offset: 0,
            error_path: ErrorPath::default(),
        }
    }

    /// Passes over the next row (the next non-blank line) without parsing it; false at the end.
    pub(super) fn skip_row(&mut self) -> Result<bool, IoError> {
        Ok(self.read_line()?.is_some())
    }

    /// Reads the next non-blank line into `buf`, counting lines and bytes; returns where its
    /// text starts in `buf` (past a byte order mark on the first line), or `None` at the end.
    fn read_line(&mut self) -> Result<Option<usize>, IoError> {
        loop {
            self.buf.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| IoError::file(&self.path, "read", e))?;
            if read == 0 {
                return Ok(None);
            }
            self.offset += read as u64;
            self.line += 1;
            let start = if self.line == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
            if !self.buf[start..].iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(start));
            }
        }
    }

    /// The next row (blank lines are not rows), or `None` at the end of the file.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, IoError> {
        let Some(start) = self.read_line()? else {
            return Ok(None);
        };
        let text = &self.buf[start..];
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let parsed = parse_value(&mut deserializer, &self.error_path).and_then(|value| {
            deserializer.end().map(|()| value).map_err(|error| ParseFailure { error, column: None })
        });
        let row = match parsed {
            Ok(value) => {
                let kind = json_kind(&value);
                match value.try_cast::<rhai::Map>() {
                    Some(fields) => Row::Good { fields, line: self.line, time: None, key: None },
                    None => Row::Bad(self.row_error(None, format!("expected a JSON object, found {kind}"))),
                }
            }
            Err(failure) => {
                let reason = match failure.error.classify() {
                    Category::Data => failure.message(),
                    Category::Syntax | Category::Eof | Category::Io => {
                        format!("invalid JSON at column {}: {}", failure.error.column(), failure.message())
                    }
                };
                Row::Bad(self.row_error(failure.column, reason))
            }
        };
        Ok(Some(row))
    }

    /// Goes on from `mark` (the start of a line, and the line feeds before it) whatever was
    /// read before, the buffered text dropped; false, nothing moved, when the file cannot be
    /// sought.
    pub(super) fn move_to(&mut self, mark: super::ReadMark) -> Result<bool, IoError> {
        if self.reader.get_ref().cannot_reread() {
            return Ok(false);
        }
        let buffered = self.reader.buffer().len();
        std::io::BufRead::consume(&mut self.reader, buffered);
        self.reader.get_mut().skip_to(mark.bytes).map_err(|e| IoError::file(&self.path, "read", e))?;
        self.offset = mark.bytes;
        self.line = mark.newlines;
        Ok(true)
    }

    /// Bytes of the file consumed: through the end of the row last read.
    pub(super) fn position(&self) -> u64 {
        self.offset
    }

    /// The raw text of the line last read.
    pub(super) fn last_raw(&self) -> String {
        raw_text(&self.buf)
    }

    fn row_error(&self, column: Option<String>, reason: String) -> RowError {
        RowError { path: self.path.clone(), line: self.line, column, reason, raw: self.last_raw() }
    }
}
