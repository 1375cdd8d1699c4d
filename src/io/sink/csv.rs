//! The CSV file sink. Its header comes from the first item: a keyed item gives a `key`
//! column, then the value's fields when the value is an object map (sorted, as maps
//! are), else one `value` column; an unkeyed item gives its fields, or `value`. A keyed
//! map with a field named `key` is refused (the header would name two columns `key`).
//!
//! Cells: `()` is empty, a string is written as it is (quoted as CSV needs), numbers as
//! JSON writes them (`3.0`), bools as `true`/`false`, arrays and maps as JSON text.

use std::borrow::Cow;
use std::fs::File;
use std::path::PathBuf;

use ::csv::{ByteRecord, Writer, WriterBuilder};
use rhai::Dynamic;

use super::{BUFFER, Counting, CsvColumns, Sink, SinkPosition, item_error};
use crate::io::error::IoError;
use crate::value::{json_kind, write_json};

/// The columns, fixed by the first item written.
#[derive(Debug)]
struct Layout {
    /// A `key` column first.
    keyed: bool,
    /// The value's fields (sorted), or `None` for one `value` column.
    fields: Option<Vec<String>>,
}

impl Layout {
    /// The layout the first item gives.
    fn of(key: Option<&str>, value: &Dynamic) -> Self {
        let fields = value.as_map_ref().ok().map(|map| map.keys().map(|k| k.to_string()).collect());
        Layout { keyed: key.is_some(), fields }
    }

    /// The header row.
    fn header(&self) -> ByteRecord {
        let mut header = ByteRecord::new();
        if self.keyed {
            header.push_field(b"key");
        }
        match &self.fields {
            Some(fields) => fields.iter().for_each(|f| header.push_field(f.as_bytes())),
            None => header.push_field(b"value"),
        }
        header
    }

    /// The columns, listed for a message.
    fn columns(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        if self.keyed {
            names.push("key");
        }
        match &self.fields {
            Some(fields) => names.extend(fields.iter().map(String::as_str)),
            None => names.push("value"),
        }
        names.join(", ")
    }
}

/// Writes items to a CSV file with a header row.
pub(super) struct CsvSink {
    /// The sink's id (for errors).
    id: String,
    /// The file (for errors).
    path: PathBuf,
    /// The CSV writer, with a large buffer.
    writer: Writer<Counting<File>>,
    /// The columns, once the first item has been written.
    layout: Option<Layout>,
    /// The row being written, reused.
    record: ByteRecord,
    /// The cell being formatted, reused.
    cell: Vec<u8>,
    /// Items written.
    written: u64,
}

impl CsvSink {
    /// A sink writing to `file` (already created at `path`).
    pub(super) fn new(id: &str, path: PathBuf, file: File) -> Self {
        CsvSink {
            id: id.to_string(),
            path,
            writer: WriterBuilder::new().buffer_capacity(BUFFER).from_writer(Counting::new(file, 0)),
            layout: None,
            record: ByteRecord::new(),
            cell: Vec::with_capacity(64),
            written: 0,
        }
    }

    /// A sink appending to `file` (positioned at its end) from a snapshot's position, with
    /// the columns its header had.
    pub(super) fn resume(id: &str, path: PathBuf, file: File, position: &SinkPosition) -> Self {
        CsvSink {
            id: id.to_string(),
            path,
            writer: WriterBuilder::new()
                .buffer_capacity(BUFFER)
                .from_writer(Counting::new(file, position.bytes)),
            layout: position.csv.as_ref().map(|c| Layout { keyed: c.keyed, fields: c.fields.clone() }),
            record: ByteRecord::new(),
            cell: Vec::with_capacity(64),
            written: position.items,
        }
    }

    fn csv_error(&self, error: ::csv::Error) -> IoError {
        match error.into_kind() {
            ::csv::ErrorKind::Io(e) => IoError::file(&self.path, "write", e),
            other => IoError::file(&self.path, "write", std::io::Error::other(format!("{other:?}"))),
        }
    }
}

impl Sink for CsvSink {
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError> {
        let value = if value.is_shared() { Cow::Owned(value.flatten_clone()) } else { Cow::Borrowed(value) };
        let fresh = self.layout.is_none();
        let layout = match self.layout.take() {
            Some(layout) => layout,
            None => Layout::of(key, &value),
        };
        let filled = fill_record(&mut self.record, &mut self.cell, &layout, key, &value);
        if let Err(reason) = filled {
            // A first item that cannot be written does not fix the header.
            if !fresh {
                self.layout = Some(layout);
            }
            return Err(item_error(&self.id, key, &reason));
        }
        if fresh {
            let header = layout.header();
            self.writer.write_byte_record(&header).map_err(|e| self.csv_error(e))?;
        }
        self.layout = Some(layout);
        self.writer.write_byte_record(&self.record).map_err(|e| self.csv_error(e))?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.writer.flush().map_err(|e| IoError::file(&self.path, "write", e))
    }

    fn sync(&mut self) -> Result<(), IoError> {
        self.writer.get_ref().get_ref().sync_data().map_err(|e| IoError::file(&self.path, "sync", e))
    }

    fn items_written(&self) -> u64 {
        self.written
    }

    fn position(&self) -> Option<SinkPosition> {
        Some(SinkPosition {
            bytes: self.writer.get_ref().count(),
            items: self.written,
            csv: self.layout.as_ref().map(|l| CsvColumns { keyed: l.keyed, fields: l.fields.clone() }),
        })
    }
}

/// Fills `record` with an item's cells in the layout's columns.
fn fill_record(
    record: &mut ByteRecord,
    cell: &mut Vec<u8>,
    layout: &Layout,
    key: Option<&str>,
    value: &Dynamic,
) -> Result<(), String> {
    record.clear();
    match (layout.keyed, key) {
        (true, Some(key)) => record.push_field(key.as_bytes()),
        (false, None) => {}
        (true, None) => {
            return Err(format!(
                "the item has no key, but the sink's columns ({}) come from a keyed first item",
                layout.columns()
            ));
        }
        (false, Some(_)) => {
            return Err(format!(
                "the item has a key, but the sink's columns ({}) come from an unkeyed first item",
                layout.columns()
            ));
        }
    }
    if layout.keyed
        && let Some(fields) = &layout.fields
        && fields.iter().any(|f| f == "key")
    {
        return Err(concat!(
            "the value has a field named `key`, and a keyed item's first column is its key, named `key`: ",
            "rename the field (in a `map_value` step, say) or use a jsonl sink"
        )
        .to_string());
    }
    let Some(fields) = &layout.fields else {
        cell_text(cell, value).map_err(|e| format!("column `value`: {e}"))?;
        record.push_field(cell);
        return Ok(());
    };
    let Ok(map) = value.as_map_ref() else {
        return Err(format!(
            "the value is {}, but the sink's columns ({}) come from the fields of an object",
            json_kind(value),
            layout.columns()
        ));
    };
    let mut found = 0;
    for field in fields {
        match map.get(field.as_str()) {
            Some(item) => {
                found += 1;
                cell_text(cell, item).map_err(|e| format!("column `{field}`: {e}"))?;
                record.push_field(cell);
            }
            None => record.push_field(b""),
        }
    }
    if found < map.len()
        && let Some(extra) =
            map.keys().find(|k| fields.binary_search_by(|f| f.as_str().cmp(k.as_str())).is_err())
    {
        return Err(format!(
            "field `{extra}` is not a column of the sink (its columns come from the first item: {})",
            layout.columns()
        ));
    }
    Ok(())
}

/// Formats one cell: `()` empty, strings as they are, anything else as JSON text.
fn cell_text(out: &mut Vec<u8>, value: &Dynamic) -> Result<(), String> {
    out.clear();
    if value.is_unit() {
        return Ok(());
    }
    if let Ok(text) = value.as_immutable_string_ref() {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    if let Ok(c) = value.as_char() {
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        return Ok(());
    }
    write_json(out, value)
}
