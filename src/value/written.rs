//! Written records: a record a join remembers, held with its JSON text made once while the
//! record is at hand (on the source's reading thread, when it can be), and the rows of such
//! records that a JSON sink writes by splicing the texts (docs/architecture.md#written-rows).
//! A join whose rows go only to JSON sinks emits [`WrittenRow`]s: no record is copied or
//! dropped per row, and none is read again (cold) to be written. A record whose text reads
//! back as the same value is kept as that text alone, and made again from it when asked for
//! (a state view, a snapshot, the ledger). Whatever else needs a row as a value makes it an
//! ordinary one first ([`super::unshare_parts`]), the row the join would have emitted.

use std::sync::Arc;

use rhai::{Array, Dynamic};
use smallvec::SmallVec;

use super::json::{write_json, write_json_noting_shared};
use super::json_read::json_to_dynamic;

/// A remembered record and its JSON text; clones share both.
#[derive(Clone)]
pub struct WrittenRecord(Arc<Written>);

/// What a [`WrittenRecord`] holds: the record's JSON text as [`write_json`] writes it (or
/// its refusal), and the record itself unless the text reads back as the same value
/// ([`reads_back`]): such a record is made again from its text when asked for, and is neither
/// kept nor freed later away from where it was made.
enum Written {
    /// The text alone: the record reads back from it.
    Text(Box<str>),
    /// The record and its text (which would not read back as the same value: a char, nesting
    /// past [`READ_BACK_DEPTH`]).
    Both(Dynamic, Box<str>),
    /// The record and the reason [`write_json`] refuses it (a non-finite float, a function
    /// pointer…).
    Refused(Dynamic, Box<str>),
    /// The record, holding a shared cell (a closure's captured variable) whose content may
    /// still change: written from the value when a row is written, as it then is.
    Live(Dynamic),
}

/// How deep a record kept only as text may be nested: its text reads back within the JSON
/// parser's own limit (128).
const READ_BACK_DEPTH: usize = 100;

impl WrittenRecord {
    /// Remembers `value` with its JSON text, written through `scratch` (a buffer the caller
    /// reuses; left cleared).
    pub fn new(value: Dynamic, scratch: &mut Vec<u8>) -> Self {
        scratch.clear();
        let mut met_shared = false;
        let result = write_json_noting_shared(scratch, &value, &mut met_shared);
        // write_json only appends valid UTF-8 (escaped str text and ASCII).
        let written = match (result, std::str::from_utf8(scratch)) {
            _ if met_shared => Written::Live(value),
            (Ok(()), Ok(text)) if reads_back(&value, 0) => Written::Text(text.into()),
            (Ok(()), Ok(text)) => Written::Both(value, text.into()),
            (Ok(()), Err(_)) => Written::Live(value),
            (Err(reason), _) => Written::Refused(value, reason.into_boxed_str()),
        };
        scratch.clear();
        Self(Arc::new(written))
    }

    /// `value` as a written record: itself when it is one already (written by the source that
    /// read it), else written now through `scratch`.
    pub fn of(value: Dynamic, scratch: &mut Vec<u8>) -> Self {
        // A shared value is kept as it is (`try_cast_result` would take it out of its cell).
        if value.is_shared() || !value.is::<WrittenRecord>() {
            return Self::new(value, scratch);
        }
        match value.try_cast_result::<WrittenRecord>() {
            Ok(record) => record,
            Err(value) => Self::new(value, scratch),
        }
    }

    /// The record as it arrived (a copy, or made again from its text).
    pub fn value(&self) -> Dynamic {
        match &*self.0 {
            Written::Text(text) => read_back(text),
            Written::Both(value, _) | Written::Refused(value, _) | Written::Live(value) => value.clone(),
        }
    }

    /// The record, taken out when nothing else holds it, else copied.
    pub fn into_value(self) -> Dynamic {
        match Arc::try_unwrap(self.0) {
            Ok(Written::Both(value, _) | Written::Refused(value, _) | Written::Live(value)) => value,
            Ok(Written::Text(text)) => read_back(&text),
            Err(shared) => WrittenRecord(shared).value(),
        }
    }

    /// Appends the record's JSON text, or fails as [`write_json`] fails on it.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), String> {
        match &*self.0 {
            Written::Text(text) | Written::Both(_, text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(())
            }
            Written::Refused(_, reason) => Err(reason.to_string()),
            Written::Live(value) => write_json(out, value),
        }
    }
}

/// Whether `value` reads back from its JSON text as the same value: made only of `()`, bools,
/// INTs, FLOATs, strings, arrays and object maps (a char would read back as a string), no
/// shared cell, nested at most [`READ_BACK_DEPTH`] deep.
fn reads_back(value: &Dynamic, depth: usize) -> bool {
    if value.is_shared() {
        return false;
    }
    if value.is_unit() || value.is_int() || value.is_float() || value.is_bool() || value.is_string() {
        return true;
    }
    if depth >= READ_BACK_DEPTH {
        return false;
    }
    if value.is_map() {
        return value.as_map_ref().is_ok_and(|map| map.values().all(|item| reads_back(item, depth + 1)));
    }
    if value.is_array() {
        return value.as_array_ref().is_ok_and(|array| array.iter().all(|item| reads_back(item, depth + 1)));
    }
    false
}

/// The value a text [`reads_back`] from (as the JSON sources read it). Never fails for a text
/// that [`reads_back`] accepted; should it, the text itself, as a string.
fn read_back(text: &str) -> Dynamic {
    serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| e.to_string())
        .and_then(|json| json_to_dynamic(&json))
        .unwrap_or_else(|_| Dynamic::from(text.to_owned()))
}

impl std::fmt::Debug for WrittenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WrittenRecord").field(&self.value()).finish()
    }
}

/// A join's row of written records, one per side (`None`: a side with no record, `()` in the
/// ordinary row). A JSON sink writes it as the ordinary row's text, spliced.
#[derive(Clone, Debug)]
pub struct WrittenRow(SmallVec<[Option<WrittenRecord>; 2]>);

impl WrittenRow {
    /// A row of these sides' records.
    pub fn new(parts: impl IntoIterator<Item = Option<WrittenRecord>>) -> Self {
        Self(parts.into_iter().collect())
    }

    /// The ordinary row: an array of each side's record (a copy), `()` for none.
    pub fn to_row(&self) -> Dynamic {
        let part = |part: &Option<WrittenRecord>| part.as_ref().map_or(Dynamic::UNIT, WrittenRecord::value);
        Dynamic::from_array(self.0.iter().map(part).collect::<Array>())
    }

    /// Appends the ordinary row's JSON text, or fails as [`write_json`] fails on it (at the
    /// first record it refuses).
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), String> {
        out.push(b'[');
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match part {
                Some(record) => record.write_json(out)?,
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b']');
        Ok(())
    }
}

/// A copy of a value as an ordinary one: a written record's record, a shared value's content.
pub fn plain_clone(value: &Dynamic) -> Dynamic {
    if value.is::<WrittenRecord>()
        && let Some(record) = value.read_lock::<WrittenRecord>()
    {
        return record.value();
    }
    value.flatten_clone()
}

/// A value as an ordinary one: a written record's record (moved out when nothing else holds
/// it), a shared value's content.
pub fn into_plain(value: Dynamic) -> Dynamic {
    match value.try_cast_result::<WrittenRecord>() {
        Ok(record) => record.into_value(),
        Err(value) => value.flatten(),
    }
}
