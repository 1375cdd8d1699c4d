//! The JSON reader: the file is one array of objects, read one element at a time.
//!
//! An element that is not an object, or holds an integer beyond i64, is a bad row at
//! the element's line. Text that is not JSON at all stops the read with an
//! [`IoError::Unreadable`] naming serde_json's line and column, whatever the policy: there is
//! no telling where the next element would start.

use crate::io::input::Input;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::error::Category;

use super::Row;
use crate::io::error::{IoError, RowError};
use crate::value::{ErrorPath, json_kind, parse_value, serde_message};

/// Where the reader is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    Start,
    /// Inside the array; `true` before its first element.
    InArray(bool),
    /// After the closing `]` (or an empty file).
    Done,
}

/// Reads a JSON array of objects element by element.
pub(super) struct JsonReader {
    /// The file (for errors).
    path: PathBuf,
    /// The whole file.
    bytes: Vec<u8>,
    /// The next byte to read.
    pos: usize,
    /// Where the reader is.
    state: State,
    /// How many elements were read.
    index: u64,
    /// Lines counted up to `counted_to`: (byte offset, its 1-based line).
    counted: (usize, u64),
    /// Byte range of the element last read.
    last_span: (usize, usize),
    /// The path of a JSON error inside an element.
    error_path: ErrorPath,
}

impl JsonReader {
    /// Reads the whole file (its elements are parsed one at a time, as asked for).
    pub(super) fn open(mut file: Input, path: &Path) -> Result<Self, IoError> {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| IoError::file(path, "read", e))?;
        let pos = if bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        Ok(JsonReader {
            path: path.to_path_buf(),
            bytes,
            pos,
            state: State::Start,
            index: 0,
            counted: (0, 1),
            last_span: (0, 0),
            error_path: ErrorPath::default(),
        })
    }

    /// The next element, or `None` after the array.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, IoError> {
        if self.state == State::Start {
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                // An empty file: no events.
                None => self.state = State::Done,
                Some(b'[') => {
                    self.pos += 1;
                    self.state = State::InArray(true);
                }
                Some(_) => {
                    return Err(self.syntax_error(self.pos, "expected a JSON array of objects".into()));
                }
            }
        }
        let State::InArray(first) = self.state else {
            return Ok(None);
        };
        self.skip_whitespace();
        match self.bytes.get(self.pos) {
            None => {
                return Err(self.eof_error("the file ends inside the array (no closing `]`)"));
            }
            Some(b']') => {
                self.pos += 1;
                self.finish()?;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.pos += 1;
                self.skip_whitespace();
            }
            Some(_) if first => {}
            Some(_) => {
                return Err(
                    self.syntax_error(self.pos, format!("expected `,` or `]` after element {}", self.index))
                );
            }
        }
        self.state = State::InArray(false);
        self.index += 1;
        let start = self.pos;
        let line = self.line_at(start);
        let mut deserializer = serde_json::Deserializer::from_slice(&self.bytes[start..]);
        match parse_value(&mut deserializer, &self.error_path) {
            Ok(value) => {
                let end = start + deserializer.into_iter::<IgnoredAny>().byte_offset();
                self.pos = end;
                self.last_span = (start, end);
                let kind = json_kind(&value);
                Ok(Some(match value.try_cast::<rhai::Map>() {
                    Some(fields) => Row::Good { fields, line, time: None, key: None },
                    None => Row::Bad(RowError {
                        path: self.path.clone(),
                        line,
                        column: None,
                        reason: format!("element {}: expected a JSON object, found {kind}", self.index),
                        raw: self.last_raw(),
                    }),
                }))
            }
            Err(failure) if failure.error.classify() == Category::Data => {
                // Valid JSON with a value Eddy refuses (a huge integer): skip the element.
                let mut skipper = serde_json::Deserializer::from_slice(&self.bytes[start..]);
                if let Err(error) = IgnoredAny::deserialize(&mut skipper) {
                    return Err(self.serde_error(start, &error));
                }
                let end = start + skipper.into_iter::<IgnoredAny>().byte_offset();
                self.pos = end;
                self.last_span = (start, end);
                Ok(Some(Row::Bad(RowError {
                    path: self.path.clone(),
                    line,
                    column: failure.column.clone(),
                    reason: format!("element {}: {}", self.index, failure.message()),
                    raw: self.last_raw(),
                })))
            }
            Err(failure) => Err(self.serde_error(start, &failure.error)),
        }
    }

    /// Bytes of the file consumed: through the end of the element last read (or the
    /// closing `]` and what follows it, at the end).
    pub(super) fn position(&self) -> u64 {
        self.pos as u64
    }

    /// The raw text of the element last read.
    pub(super) fn last_raw(&self) -> String {
        let (start, end) = self.last_span;
        String::from_utf8_lossy(&self.bytes[start..end]).into_owned()
    }

    /// After the closing `]`: only whitespace may follow.
    fn finish(&mut self) -> Result<(), IoError> {
        self.state = State::Done;
        self.skip_whitespace();
        if self.pos < self.bytes.len() {
            return Err(
                self.syntax_error(self.pos, "unexpected text after the closing `]` of the array".into())
            );
        }
        Ok(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.bytes.get(self.pos)
            && matches!(c, b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
    }

    /// The 1-based line of a byte offset (counting onwards from the last call).
    fn line_at(&mut self, offset: usize) -> u64 {
        let (from, line) = if offset >= self.counted.0 { self.counted } else { (0, 1) };
        let newlines = self.bytes[from..offset].iter().filter(|&&c| c == b'\n').count();
        let line = line + newlines as u64;
        self.counted = (offset, line);
        line
    }

    /// The 1-based column (in bytes) of a byte offset.
    fn column_at(&self, offset: usize) -> usize {
        let line_start = self.bytes[..offset].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        offset - line_start + 1
    }

    /// A fatal error at a byte offset: the file is not a JSON array of objects.
    fn syntax_error(&mut self, offset: usize, message: String) -> IoError {
        let offset = offset.min(self.bytes.len());
        let line = self.line_at(offset);
        let column = self.column_at(offset);
        self.fatal(line, column, offset + 1 - column, &message)
    }

    /// A fatal error at the end of the file (placed as serde_json places it: after the
    /// last character read).
    fn eof_error(&mut self, message: &str) -> IoError {
        let end = self.bytes.len();
        let line = self.line_at(end);
        let column = self.column_at(end) - 1;
        self.fatal(line, column, end - column, message)
    }

    /// A fatal serde_json error in the text that starts at byte `start`, with the line
    /// and column serde_json gives for the whole file.
    fn serde_error(&mut self, start: usize, error: &serde_json::Error) -> IoError {
        let first_line = self.line_at(start);
        let (line, column, line_start) = if error.line() <= 1 {
            let start_column = self.column_at(start);
            (first_line, start_column - 1 + error.column(), start + 1 - start_column)
        } else {
            // serde_json's lines count from `start`: find where its line begins.
            let mut offset = start;
            let mut lines_left = error.line() - 1;
            while lines_left > 0 && offset < self.bytes.len() {
                if self.bytes[offset] == b'\n' {
                    lines_left -= 1;
                }
                offset += 1;
            }
            (first_line + error.line() as u64 - 1, error.column(), offset)
        };
        self.fatal(line, column, line_start, &serde_message(error))
    }

    /// The error for text that is not a JSON array of objects; `raw` is the line's text.
    fn fatal(&self, line: u64, column: usize, line_start: usize, message: &str) -> IoError {
        let line_start = line_start.min(self.bytes.len());
        let line_end = self.bytes[line_start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.bytes.len(), |i| line_start + i);
        let raw =
            String::from_utf8_lossy(&self.bytes[line_start..line_end]).trim_end_matches('\r').to_string();
        IoError::Unreadable(RowError {
            path: self.path.clone(),
            line,
            column: None,
            reason: format!("invalid JSON at column {column}: {message}"),
            raw,
        })
    }
}
