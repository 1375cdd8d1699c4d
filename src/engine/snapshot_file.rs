//! The file form of a snapshot (what `eddy run --snapshot-every` writes and `--resume`
//! reads): one JSON document with a format version, the pipeline's file name and a hash of
//! its steps (a snapshot of another pipeline is refused), and the snapshot itself.
//!
//! Values are JSON with a few tagged forms so that every value comes back with its type:
//! `()` is `null`, an INT a JSON integer, a FLOAT a JSON number with a fraction or exponent
//! (`{"$float": "NaN"}`, `"inf"`, `"-inf"` when not finite), a character `{"$char": "a"}`,
//! a tagged value `{"$tag": [tag, value]}`; a map whose only key starts with `$` is written
//! `{"$map": {…}}`. Any other value (a function pointer, a blob, …) cannot be snapshotted:
//! an error names the step and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rhai::Dynamic;
use serde::{Deserialize, Serialize};
use serde_json::{Map as JsonMap, Value};

use super::snapshot::{EngineSnapshot, SnapshotTimer};
use super::{RunError, ValidGraph};
use crate::io::SinkPosition;
use crate::ops::Key;

/// What the `format` field of a snapshot file says.
const FORMAT: &str = "eddy-snapshot";
/// The version of the file form this Eddy writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// File names: `snapshot-<events, 12 digits>.json`.
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".json";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    format: String,
    format_version: u32,
    /// The pipeline file's name (for messages).
    pipeline: String,
    /// A hash of the pipeline's steps ([`pipeline_hash`]).
    pipeline_hash: String,
    events_in: u64,
    clock: Option<i64>,
    /// Rows consumed per source.
    sources: BTreeMap<String, u64>,
    /// Per file sink: bytes and items written (and a CSV sink's columns).
    sinks: BTreeMap<String, SinkPosition>,
    /// Per stateful step: `[key, snapshot value]` in key order.
    steps: BTreeMap<String, Vec<(String, Value)>>,
    timers: Vec<FileTimer>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTimer {
    step: String,
    key: String,
    due: i64,
}

/// A hash of the pipeline's steps (ids, operators, inputs, settings, scripts) and of its
/// source and sink ids: a snapshot only fits the pipeline it was taken from. FNV-1a (64 bits)
/// of their JSON form, in hex.
pub fn pipeline_hash(graph: &ValidGraph) -> String {
    let doc = &graph.doc;
    let sources: Vec<&str> = doc.sources.iter().map(|s| s.id.as_str()).collect();
    let sinks: Vec<&str> = doc.sinks.iter().map(|s| s.id.as_str()).collect();
    let text = serde_json::to_string(&(&doc.steps, sources, sinks)).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A value's JSON form in a snapshot file.
pub fn value_to_json(value: &Dynamic) -> Result<Value, String> {
    if value.is_shared() {
        return value_to_json(&value.flatten_clone());
    }
    let tag = value.tag();
    if tag != 0 {
        let mut untagged = value.clone();
        untagged.set_tag(0);
        return Ok(single("$tag", Value::Array(vec![Value::from(tag), value_to_json(&untagged)?])));
    }
    Ok(if value.is_unit() {
        Value::Null
    } else if let Ok(b) = value.as_bool() {
        Value::Bool(b)
    } else if let Ok(i) = value.as_int() {
        Value::from(i)
    } else if let Ok(f) = value.as_float() {
        match serde_json::Number::from_f64(f) {
            Some(n) if f.is_finite() => Value::Number(n),
            _ => single(
                "$float",
                Value::from(if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "inf"
                } else {
                    "-inf"
                }),
            ),
        }
    } else if let Ok(c) = value.as_char() {
        single("$char", Value::from(c.to_string()))
    } else if let Ok(s) = value.as_immutable_string_ref() {
        Value::from(s.as_str())
    } else if let Ok(array) = value.as_array_ref() {
        Value::Array(array.iter().map(value_to_json).collect::<Result<_, _>>()?)
    } else if let Ok(map) = value.as_map_ref() {
        let mut object = JsonMap::new();
        for (k, v) in map.iter() {
            object.insert(k.to_string(), value_to_json(v).map_err(|e| format!("field `{k}`: {e}"))?);
        }
        if object.len() == 1 && object.keys().all(|k| k.starts_with('$')) {
            single("$map", Value::Object(object))
        } else {
            Value::Object(object)
        }
    } else {
        return Err(format!("a value of type {} cannot be written in a snapshot", value.type_name()));
    })
}

fn single(name: &str, value: Value) -> Value {
    let mut object = JsonMap::new();
    object.insert(name.to_owned(), value);
    Value::Object(object)
}

/// A value back from its JSON form in a snapshot file.
pub fn json_to_value(json: &Value) -> Result<Dynamic, String> {
    Ok(match json {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => {
            let text = n.to_string();
            if text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
                Dynamic::from_float(text.parse::<f64>().map_err(|_| format!("bad number {text}"))?)
            } else {
                Dynamic::from_int(
                    text.parse::<i64>().map_err(|_| format!("integer {text} does not fit in 64 bits"))?,
                )
            }
        }
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => {
            Dynamic::from_array(items.iter().map(json_to_value).collect::<Result<_, _>>()?)
        }
        Value::Object(object) => {
            if object.len() == 1
                && let Some((name, inner)) = object.iter().next()
                && name.starts_with('$')
            {
                return match (name.as_str(), inner) {
                    ("$float", Value::String(s)) => match s.as_str() {
                        "NaN" => Ok(Dynamic::from_float(f64::NAN)),
                        "inf" => Ok(Dynamic::from_float(f64::INFINITY)),
                        "-inf" => Ok(Dynamic::from_float(f64::NEG_INFINITY)),
                        other => Err(format!("bad float {other:?}")),
                    },
                    ("$char", Value::String(s)) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => Ok(Dynamic::from_char(c)),
                            _ => Err(format!("bad character {s:?}")),
                        }
                    }
                    ("$tag", Value::Array(pair)) if pair.len() == 2 => {
                        let tag = pair[0].as_i64().and_then(|t| i32::try_from(t).ok()).ok_or("bad tag")?;
                        let mut value = json_to_value(&pair[1])?;
                        value.set_tag(tag);
                        Ok(value)
                    }
                    ("$map", Value::Object(fields)) => map_from_json(fields),
                    _ => Err(format!("unknown form `{name}`")),
                };
            }
            map_from_json(object)?
        }
    })
}

fn map_from_json(object: &JsonMap<String, Value>) -> Result<Dynamic, String> {
    let mut map = rhai::Map::new();
    for (k, v) in object {
        map.insert(k.as_str().into(), json_to_value(v).map_err(|e| format!("field `{k}`: {e}"))?);
    }
    Ok(Dynamic::from_map(map))
}

/// Writes a snapshot into `dir` as `snapshot-<events>.json`, atomically (a temporary file
/// renamed into place), and removes older snapshot files beyond the last `keep`.
pub fn write_snapshot_file(
    dir: &Path,
    snapshot: &EngineSnapshot,
    graph: &ValidGraph,
    pipeline: &Path,
    keep: usize,
) -> Result<PathBuf, RunError> {
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        RunError::Snapshot(format!("cannot {what} {}: {e}", path.display()))
    };
    let mut steps = BTreeMap::new();
    for (step, states) in &snapshot.steps {
        let mut entries = Vec::with_capacity(states.len());
        for (key, value) in states {
            let json = value_to_json(value)
                .map_err(|e| RunError::Snapshot(format!("step `{step}`, key {:?}: {e}", key.as_str())))?;
            entries.push((key.to_string(), json));
        }
        steps.insert(step.clone(), entries);
    }
    let file = SnapshotFile {
        format: FORMAT.to_owned(),
        format_version: SNAPSHOT_FORMAT_VERSION,
        pipeline: pipeline_name(pipeline),
        pipeline_hash: pipeline_hash(graph),
        events_in: snapshot.events_in,
        clock: snapshot.clock,
        sources: snapshot.source_rows.clone(),
        sinks: snapshot.sinks.clone(),
        steps,
        timers: snapshot
            .timers
            .iter()
            .map(|t| FileTimer { step: t.step.clone(), key: t.key.clone(), due: t.due })
            .collect(),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("create", dir, e))?;
    let text = serde_json::to_vec_pretty(&file).map_err(|e| RunError::Snapshot(e.to_string()))?;
    let path = dir.join(format!("{PREFIX}{:012}{SUFFIX}", snapshot.events_in));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail("create a file in", dir, e))?;
    std::io::Write::write_all(&mut temp, &text).map_err(|e| fail("write", temp.path(), e))?;
    temp.as_file().sync_all().map_err(|e| fail("write", temp.path(), e))?;
    temp.persist(&path).map_err(|e| fail("write", &path, e.error))?;
    let all = snapshot_files(dir).map_err(|e| fail("list", dir, e))?;
    for old in all.iter().rev().skip(keep.max(1)) {
        let _ignored = std::fs::remove_file(old);
    }
    Ok(path)
}

/// The snapshot files in `dir`, oldest first.
fn snapshot_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name().and_then(|n| n.to_str()).is_some_and(|name| {
                name.strip_prefix(PREFIX)
                    .and_then(|rest| rest.strip_suffix(SUFFIX))
                    .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The snapshot file to resume from: `path` itself, or the latest snapshot in a folder.
pub fn resolve_snapshot_path(path: &Path) -> Result<PathBuf, RunError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let files = snapshot_files(path)
        .map_err(|e| RunError::Snapshot(format!("cannot list {}: {e}", path.display())))?;
    files.last().cloned().ok_or_else(|| {
        RunError::Snapshot(format!("{} holds no snapshot file ({PREFIX}…{SUFFIX})", path.display()))
    })
}

/// Reads a snapshot file taken from this pipeline; refuses a corrupt file, another format
/// version, or a snapshot of another pipeline, with a message naming the file.
pub fn read_snapshot_file(
    path: &Path,
    graph: &ValidGraph,
    pipeline: &Path,
) -> Result<EngineSnapshot, RunError> {
    let bad = |why: String| RunError::Snapshot(format!("{}: {why}", path.display()));
    let text = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let probe: Value = super::deep_json::from_slice(&text)
        .map_err(|e| bad(format!("not a snapshot file (it is not valid JSON: {e})")))?;
    if probe.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(bad("not a snapshot file (no `\"format\": \"eddy-snapshot\"`)".into()));
    }
    let version = probe.get("format_version").and_then(Value::as_u64);
    if version != Some(u64::from(SNAPSHOT_FORMAT_VERSION)) {
        return Err(bad(format!(
            "snapshot format version {} is not the one this eddy reads ({SNAPSHOT_FORMAT_VERSION})",
            version.map_or_else(|| "(missing)".to_owned(), |v| v.to_string())
        )));
    }
    let file: SnapshotFile =
        serde_json::from_value(probe).map_err(|e| bad(format!("not a valid snapshot: {e}")))?;
    let hash = pipeline_hash(graph);
    if file.pipeline_hash != hash {
        return Err(bad(format!(
            "it was taken from another pipeline (`{}`, steps hash {}), not from `{}` (steps hash {hash}): \
             a snapshot only resumes the pipeline it was taken from",
            file.pipeline,
            file.pipeline_hash,
            pipeline_name(pipeline)
        )));
    }
    let mut steps = BTreeMap::new();
    for (step, entries) in file.steps {
        let mut states = Vec::with_capacity(entries.len());
        for (key, json) in entries {
            let value = json_to_value(&json).map_err(|e| bad(format!("step `{step}`, key {key:?}: {e}")))?;
            states.push((Key::from(key.as_str()), value));
        }
        steps.insert(step, states);
    }
    Ok(EngineSnapshot {
        clock: file.clock,
        source_rows: file.sources,
        steps,
        timers: file
            .timers
            .into_iter()
            .map(|t| SnapshotTimer { step: t.step, key: t.key, due: t.due })
            .collect(),
        events_in: file.events_in,
        sinks: file.sinks,
    })
}

fn pipeline_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_with_their_types() {
        let mut map = rhai::Map::new();
        map.insert("a".into(), Dynamic::from_int(1));
        map.insert("b".into(), Dynamic::from_float(3.0));
        let mut odd = rhai::Map::new();
        odd.insert("$char".into(), Dynamic::from("x"));
        let mut tagged = Dynamic::from_int(7);
        tagged.set_tag(3);
        let values = vec![
            Dynamic::UNIT,
            Dynamic::from_bool(true),
            Dynamic::from_int(i64::MIN),
            Dynamic::from_float(-0.0),
            Dynamic::from_float(1e300),
            Dynamic::from_float(f64::NAN),
            Dynamic::from_float(f64::NEG_INFINITY),
            Dynamic::from_char('é'),
            Dynamic::from("text"),
            Dynamic::from_array(vec![Dynamic::from_int(1), Dynamic::from_float(1.0)]),
            Dynamic::from_map(map),
            Dynamic::from_map(odd),
            tagged,
        ];
        for value in values {
            let json = value_to_json(&value).unwrap();
            let text = serde_json::to_string(&json).unwrap();
            let back = json_to_value(&serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!(format!("{value:?}"), format!("{back:?}"), "{text}");
            assert_eq!(value.type_name(), back.type_name(), "{text}");
            assert_eq!(value.tag(), back.tag(), "{text}");
        }
        assert!(value_to_json(&Dynamic::from(rhai::FnPtr::new("f").unwrap())).is_err());
    }
}
