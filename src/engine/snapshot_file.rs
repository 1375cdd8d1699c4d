//! The file form of a snapshot (what `eddy run --snapshot-every` writes and `--resume`
//! reads): one JSON document with a format version, the pipeline's file name, its
//! fingerprint (everything that changes the output bytes: a resume against anything else is
//! refused, naming what changed), each source's consumed rows and bytes with a hash of those
//! bytes (a changed input is refused), the run it belongs to, and the snapshot itself.
//! README, "Snapshots and recovery", states these rules.
//!
//! Values are in their tagged JSON form ([`crate::value::to_tagged_json`]), so that every
//! value comes back with its type; a value with no such form (a function pointer, a blob, …)
//! cannot be snapshotted: an error names the step and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::snapshot::{EngineSnapshot, SnapshotTimer};
use super::source_digest::PrefixHasher;
use super::{RunError, ValidGraph};
use crate::io::SinkPosition;
use crate::ops::Key;
use crate::value::{from_tagged_json, to_tagged_json};

/// What the `format` field of a snapshot file says.
const FORMAT: &str = "eddy-snapshot";
/// The version of the file form this Eddy writes and reads (2: fingerprint, source bytes and
/// hashes, run id).
pub const SNAPSHOT_FORMAT_VERSION: u32 = 2;
/// File names: `snapshot-<events, 12 digits>.json`.
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".json";
/// Temporary files while a snapshot is written: `.snapshot-<random>.tmp` (a kill can leave one;
/// the next run into the folder removes it).
const TEMP_PREFIX: &str = ".snapshot-";
const TEMP_SUFFIX: &str = ".tmp";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    format: String,
    format_version: u32,
    /// The pipeline file's name (for messages).
    pipeline: String,
    /// A hash of the fingerprint ([`pipeline_hash`]), for a quick look.
    pipeline_hash: String,
    /// Everything of the pipeline that changes the output bytes ([`fingerprint`]).
    fingerprint: BTreeMap<String, Value>,
    /// The run this snapshot belongs to (a resumed run goes on with the same one).
    run: String,
    events_in: u64,
    clock: Option<i64>,
    /// Per source: rows and bytes consumed, and a hash of those bytes.
    sources: BTreeMap<String, SourceMark>,
    /// Per file sink: bytes and items written (and a CSV sink's columns).
    sinks: BTreeMap<String, SinkPosition>,
    /// Per stateful step: `[key, snapshot value]` in key order.
    steps: BTreeMap<String, Vec<(String, Value)>>,
    timers: Vec<FileTimer>,
}

/// Where a source stood at a snapshot, and what it had read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceMark {
    /// Rows consumed (good and bad).
    rows: u64,
    /// Bytes of the file those rows take.
    bytes: u64,
    /// XXH3 (64 bits, hex) of those bytes.
    xxh3: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTimer {
    step: String,
    key: String,
    due: i64,
}

/// Everything of a pipeline that changes its output bytes, by part: `order` (the ids of
/// sources, steps and sinks in file order), `clock`, and one entry per source (path, format,
/// time field and format, forced types, bad-row policy and dead-letter file), per step (op,
/// inputs, settings, script) and per sink (format, path). The editor's layout is left out.
pub fn fingerprint(graph: &ValidGraph) -> BTreeMap<String, Value> {
    let doc = &graph.doc;
    let mut parts = BTreeMap::new();
    let ids = |list: Vec<&str>| Value::from(list);
    parts.insert(
        "order".to_owned(),
        serde_json::json!({
            "sources": ids(doc.sources.iter().map(|s| s.id.as_str()).collect()),
            "steps": ids(doc.steps.iter().map(|s| s.id.as_str()).collect()),
            "sinks": ids(doc.sinks.iter().map(|s| s.id.as_str()).collect()),
        }),
    );
    parts.insert("clock".to_owned(), serde_json::to_value(doc.clock).unwrap_or(Value::Null));
    for source in &doc.sources {
        let mut value = serde_json::to_value(source).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut value {
            // The format as read: `format = "csv"` on `x.csv` changes nothing.
            fields.insert(
                "format".into(),
                serde_json::to_value(source.effective_format()).unwrap_or(Value::Null),
            );
        }
        parts.insert(format!("source `{}`", source.id), value);
    }
    for step in &doc.steps {
        parts.insert(format!("step `{}`", step.id), serde_json::to_value(step).unwrap_or(Value::Null));
    }
    for sink in &doc.sinks {
        parts.insert(format!("sink `{}`", sink.id), serde_json::to_value(sink).unwrap_or(Value::Null));
    }
    parts
}

/// A short hash of a pipeline's [`fingerprint`]: FNV-1a (64 bits) of its JSON form, in hex.
pub fn pipeline_hash(graph: &ValidGraph) -> String {
    hash_of(&fingerprint(graph))
}

fn hash_of(fingerprint: &BTreeMap<String, Value>) -> String {
    let text = serde_json::to_string(fingerprint).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// What differs between the fingerprint a snapshot recorded and the pipeline's now, one line
/// per change: "step `count`: `script` changed", "sink `out` was added".
fn fingerprint_changes(then: &BTreeMap<String, Value>, now: &BTreeMap<String, Value>) -> Vec<String> {
    let mut changes = Vec::new();
    for (part, old) in then {
        match now.get(part) {
            None => changes.push(format!("{part} was removed")),
            Some(new) if new != old => {
                let (Value::Object(old), Value::Object(new)) = (old, new) else {
                    changes.push(format!("{part} changed"));
                    continue;
                };
                let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
                for key in keys {
                    let (a, b) = (old.get(key), new.get(key));
                    if a != b {
                        let show = |v: Option<&Value>| v.map_or_else(|| "(not set)".to_owned(), short_json);
                        changes.push(format!("{part}: `{key}` changed (was {}, now {})", show(a), show(b)));
                    }
                }
            }
            Some(_) => {}
        }
    }
    for part in now.keys() {
        if !then.contains_key(part) {
            changes.push(format!("{part} was added"));
        }
    }
    changes
}

/// A value's JSON text, cut to 60 characters.
fn short_json(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        text
    } else {
        format!("{}…", text.chars().take(59).collect::<String>())
    }
}

/// Writes a run's snapshots into its folder: `snapshot-<events>.json`, atomically (a
/// temporary file, synced, renamed into place), keeping the last `keep`. One folder holds one
/// run's snapshots, so that their order by events is the order they were written in.
#[derive(Debug)]
pub struct SnapshotWriter {
    dir: PathBuf,
    keep: usize,
    run: String,
    /// Per source id: the hash of the bytes consumed so far, carried from one snapshot to the
    /// next so that each byte is read once for hashing.
    hashers: BTreeMap<String, PrefixHasher>,
}

/// A snapshot read back and checked against the pipeline and its inputs, ready to resume.
#[derive(Debug)]
pub struct ResumePoint {
    /// The snapshot.
    pub snapshot: EngineSnapshot,
    /// The file it came from.
    pub path: PathBuf,
    /// The run it belongs to.
    run: String,
    /// Per source id: the hash of the consumed bytes, verified.
    hashers: BTreeMap<String, PrefixHasher>,
}

impl SnapshotWriter {
    /// Prepares `dir` for this run's snapshots. Leftover temporary files of a killed write are
    /// removed. A folder holding snapshots of another run is refused (nothing is removed)
    /// unless `overwrite` (they are removed) or this run resumes from one of them (the ones
    /// after it, of the abandoned continuation, are removed: their sink bytes are cut back).
    /// Returns the writer and a note for the user of what was removed.
    pub fn open(
        dir: &Path,
        keep: usize,
        graph: &ValidGraph,
        resumed: Option<&ResumePoint>,
        overwrite: bool,
    ) -> Result<(Self, Option<String>), RunError> {
        let fail = |what: &str, path: &Path, e: std::io::Error| {
            RunError::SnapshotWrite(format!("cannot {what} {}: {e}", path.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| fail("create", dir, e))?;
        for entry in std::fs::read_dir(dir).map_err(|e| fail("list", dir, e))?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let leftover = (name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX))
                || (name.len() == 10 && name.starts_with(".tmp"));
            if leftover && entry.path().is_file() {
                let _ignored = std::fs::remove_file(entry.path());
            }
        }
        let existing = snapshot_files(dir).map_err(|e| fail("list", dir, e))?;
        let same_dir = |path: &Path| {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            crate::graph::canonical_path(parent) == crate::graph::canonical_path(dir)
        };
        let mut note = None;
        if !existing.is_empty() {
            let doomed: Vec<&PathBuf> = match resumed {
                Some(point) if same_dir(&point.path) => {
                    existing.iter().filter(|f| events_of(f) > Some(point.snapshot.events_in)).collect()
                }
                _ if overwrite => existing.iter().collect(),
                _ => {
                    let latest = existing.last().map(|f| f.display().to_string()).unwrap_or_default();
                    return Err(RunError::SnapshotWrite(format!(
                        "the snapshot folder {} holds {} snapshot(s) of another run (latest {latest}): \
                         resume from them with --resume {}, or pass --overwrite-snapshots to replace them",
                        dir.display(),
                        existing.len(),
                        dir.display()
                    )));
                }
            };
            for file in &doomed {
                std::fs::remove_file(file).map_err(|e| fail("remove", file, e))?;
            }
            if !doomed.is_empty() {
                note = Some(format!(
                    "removed {} snapshot(s) from {} ({})",
                    doomed.len(),
                    dir.display(),
                    if overwrite && resumed.is_none() {
                        "--overwrite-snapshots"
                    } else {
                        "they came after the resumed one"
                    }
                ));
            }
        }
        let (run, hashers) = match resumed {
            Some(point) => (point.run.clone(), point.hashers.clone()),
            None => (new_run_id(), BTreeMap::new()),
        };
        let mut hashers = hashers;
        for source in &graph.doc.sources {
            hashers
                .entry(source.id.clone())
                .or_insert_with(|| PrefixHasher::new(graph.resolve(&source.path)));
        }
        Ok((Self { dir: dir.to_path_buf(), keep: keep.max(1), run, hashers }, note))
    }

    /// Writes a snapshot, then removes the older ones beyond the last `keep`.
    pub fn write(
        &mut self,
        snapshot: &EngineSnapshot,
        graph: &ValidGraph,
        pipeline: &Path,
    ) -> Result<PathBuf, RunError> {
        let dir = &self.dir;
        let fail = |what: &str, path: &Path, e: std::io::Error| {
            RunError::SnapshotWrite(format!("cannot {what} {}: {e}", path.display()))
        };
        let mut steps = BTreeMap::new();
        for (step, states) in &snapshot.steps {
            let mut entries = Vec::with_capacity(states.len());
            for (key, value) in states {
                let json = to_tagged_json(value).map_err(|e| {
                    RunError::SnapshotWrite(format!("step `{step}`, key {:?}: {e}", key.as_str()))
                })?;
                entries.push((key.to_string(), json));
            }
            steps.insert(step.clone(), entries);
        }
        let mut sources = BTreeMap::new();
        for (id, rows) in &snapshot.source_rows {
            let bytes = snapshot.source_bytes.get(id).copied().unwrap_or(0);
            // Standard input cannot be read again: nothing to prove on resume (README, "Live
            // streams": a resumed live run goes on from the next row it receives).
            if graph.doc.sources.iter().any(|s| s.id == *id && s.is_stdin()) {
                sources.insert(id.clone(), SourceMark { rows: *rows, bytes, xxh3: String::new() });
                continue;
            }
            let hasher = self
                .hashers
                .get_mut(id)
                .ok_or_else(|| RunError::SnapshotWrite(format!("source `{id}` is not in the pipeline")))?;
            let xxh3 = hasher.advance_to(bytes).map_err(|e| {
                RunError::SnapshotWrite(format!("source `{id}`: cannot hash what was read: {e}"))
            })?;
            sources.insert(id.clone(), SourceMark { rows: *rows, bytes, xxh3 });
        }
        let fingerprint = fingerprint(graph);
        let file = SnapshotFile {
            format: FORMAT.to_owned(),
            format_version: SNAPSHOT_FORMAT_VERSION,
            pipeline: pipeline_name(pipeline),
            pipeline_hash: hash_of(&fingerprint),
            fingerprint,
            run: self.run.clone(),
            events_in: snapshot.events_in,
            clock: snapshot.clock,
            sources,
            sinks: snapshot.sinks.clone(),
            steps,
            timers: snapshot
                .timers
                .iter()
                .map(|t| FileTimer { step: t.step.clone(), key: t.key.clone(), due: t.due })
                .collect(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| RunError::SnapshotWrite(e.to_string()))?;
        let path = dir.join(format!("{PREFIX}{:012}{SUFFIX}", snapshot.events_in));
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir)
            .map_err(|e| fail("create a file in", dir, e))?;
        std::io::Write::write_all(&mut temp, &text).map_err(|e| fail("write", temp.path(), e))?;
        temp.as_file().sync_all().map_err(|e| fail("write", temp.path(), e))?;
        temp.persist(&path).map_err(|e| fail("write", &path, e.error))?;
        // The rename itself reaches the disk with the folder.
        if let Ok(folder) = std::fs::File::open(dir) {
            let _ignored = folder.sync_all();
        }
        let all = snapshot_files(dir).map_err(|e| fail("list", dir, e))?;
        for old in all.iter().rev().skip(self.keep) {
            let _ignored = std::fs::remove_file(old);
        }
        Ok(path)
    }
}

/// A run id: the time and the process, in hex (unique enough to tell two runs apart).
fn new_run_id() -> String {
    format!("{:x}-{:x}", super::clock::wall_clock_micros(), std::process::id())
}

/// The events count in a snapshot file's name.
fn events_of(path: &Path) -> Option<u64> {
    let digits = path.file_name()?.to_str()?.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The snapshot files in `dir`, oldest first.
fn snapshot_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| events_of(path).is_some())
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

/// Reads a snapshot file taken from this pipeline and checks it: refuses a corrupt file,
/// another format version, a pipeline whose fingerprint differs (naming each change), and a
/// source whose consumed bytes differ from what the snapshot read (naming the source and how
/// many bytes). Each message names the file.
pub fn read_snapshot_file(path: &Path, graph: &ValidGraph, pipeline: &Path) -> Result<ResumePoint, RunError> {
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
            "snapshot format version {} is not the one this eddy reads ({SNAPSHOT_FORMAT_VERSION}); \
             run the pipeline again from the start",
            version.map_or_else(|| "(missing)".to_owned(), |v| v.to_string())
        )));
    }
    let file: SnapshotFile =
        serde_json::from_value(probe).map_err(|e| bad(format!("not a valid snapshot: {e}")))?;
    let changes = fingerprint_changes(&file.fingerprint, &fingerprint(graph));
    if !changes.is_empty() {
        return Err(bad(format!(
            "it was taken from `{}` as it was then; `{}` differs in what decides the output, \
             so resuming would mix two runs:\n    {}",
            file.pipeline,
            pipeline_name(pipeline),
            changes.join("\n    ")
        )));
    }
    let mut hashers = BTreeMap::new();
    let mut source_rows = BTreeMap::new();
    let mut source_bytes = BTreeMap::new();
    for source in &graph.doc.sources {
        let Some(mark) = file.sources.get(&source.id) else {
            return Err(bad(format!("it records nothing for source `{}`", source.id)));
        };
        if source.is_stdin() {
            // A new stream: none of its rows are to be skipped.
            source_rows.insert(source.id.clone(), 0);
            source_bytes.insert(source.id.clone(), 0);
            continue;
        }
        let full = graph.resolve(&source.path);
        let mut hasher = PrefixHasher::new(full.clone());
        let digest = hasher.advance_to(mark.bytes).map_err(|e| {
            bad(format!(
                "source `{}` ({}): the snapshot had read its first {} bytes, but now {e}: \
                 the input changed since the snapshot",
                source.id,
                full.display(),
                mark.bytes
            ))
        })?;
        if digest != mark.xxh3 {
            return Err(bad(format!(
                "source `{}` ({}): its first {} bytes (what the snapshot had read, {} rows) are not what \
                 they were: the input changed since the snapshot",
                source.id,
                full.display(),
                mark.bytes,
                mark.rows
            )));
        }
        hashers.insert(source.id.clone(), hasher);
        source_rows.insert(source.id.clone(), mark.rows);
        source_bytes.insert(source.id.clone(), mark.bytes);
    }
    let mut steps = BTreeMap::new();
    for (step, entries) in file.steps {
        let mut states = Vec::with_capacity(entries.len());
        for (key, json) in entries {
            let value =
                from_tagged_json(&json).map_err(|e| bad(format!("step `{step}`, key {key:?}: {e}")))?;
            states.push((Key::from(key.as_str()), value));
        }
        steps.insert(step, states);
    }
    let snapshot = EngineSnapshot {
        clock: file.clock,
        source_rows,
        source_bytes,
        steps,
        timers: file
            .timers
            .into_iter()
            .map(|t| SnapshotTimer { step: t.step, key: t.key, due: t.due })
            .collect(),
        events_in: file.events_in,
        sinks: file.sinks,
    };
    Ok(ResumePoint { snapshot, path: path.to_path_buf(), run: file.run, hashers })
}

fn pipeline_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
