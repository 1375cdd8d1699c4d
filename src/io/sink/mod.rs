//! Sinks: where a pipeline's outputs go. JSON Lines and CSV files, standard output,
//! an in-memory capture for tests, and a sink that only checks and counts (the workbench's
//! replay).
//!
//! Every sink writes a keyed item as the pair `[key, value]` (CSV: a `key` column), and
//! refuses a value with no JSON form with an error naming the sink and the key, never
//! writing a silent `null`.

mod capture;
mod checked;
mod csv;
mod jsonl;
mod stdout;

use std::fs::File;
use std::path::{Path, PathBuf};

use rhai::Dynamic;

pub use capture::{CaptureHandle, CaptureSink};
pub use checked::CheckedSink;
pub use stdout::guard_standard_streams;

use crate::graph::{SinkFormat, SinkSpec};
use crate::io::error::IoError;
use crate::value::{write_json, write_json_str};

/// Bytes buffered by the file sinks before they write to the file.
const BUFFER: usize = 1 << 20;

/// Writes a pipeline's output items, one at a time, in the order they arrive.
pub trait Sink: Send {
    /// Writes one item. `key` is `Some` for a keyed stream: the item is written as
    /// `[key, value]`. A value with no JSON form is an [`IoError::Write`] and nothing of
    /// the item is written.
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError>;

    /// Pushes buffered items out to the file or stream. Also called at the end of a run.
    fn flush(&mut self) -> Result<(), IoError>;

    /// Pushes flushed bytes to the disk itself (fsync), so that a snapshot taken next never
    /// records bytes a power loss could take back. Nothing to do for a sink that is no file.
    fn sync(&mut self) -> Result<(), IoError> {
        Ok(())
    }

    /// Items written so far.
    fn items_written(&self) -> u64;

    /// Where a file sink stands (call right after [`Sink::flush`]): what a snapshot records so
    /// that a resumed run appends after exactly these bytes. `None` for a sink that is no file.
    fn position(&self) -> Option<SinkPosition> {
        None
    }
}

/// Where a file sink stood at a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkPosition {
    /// Bytes in the file.
    pub bytes: u64,
    /// Items written.
    pub items: u64,
    /// A CSV sink's columns, once its header is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvColumns>,
}

/// A CSV sink's columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvColumns {
    /// A `key` column first.
    pub keyed: bool,
    /// The value's fields, or `None` for one `value` column.
    pub fields: Option<Vec<String>>,
}

/// A writer that counts the bytes written through it.
pub(crate) struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W> Counting<W> {
    pub(crate) fn new(inner: W, count: u64) -> Self {
        Counting { inner, count }
    }

    /// Bytes written so far (those still in a buffer above this writer not included).
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The writer underneath.
    pub(crate) fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: std::io::Write> std::io::Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a file sink again to continue a run from a snapshot: the file is cut back to the
/// bytes it had at the snapshot (output written after it is dropped, not duplicated) and
/// written on from there. A stdout sink just starts again.
pub fn resume_sink(
    spec: &SinkSpec,
    base_dir: &Path,
    position: &SinkPosition,
) -> Result<Box<dyn Sink>, IoError> {
    let Some(relative) = &spec.path else { return open_sink(spec, base_dir) };
    if spec.format == SinkFormat::Stdout {
        return open_sink(spec, base_dir);
    }
    let path = base_dir.join(relative);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| IoError::file(&path, "open (to resume)", e))?;
    let length = file.metadata().map_err(|e| IoError::file(&path, "open (to resume)", e))?.len();
    if length < position.bytes {
        return Err(IoError::file(
            &path,
            "resume",
            std::io::Error::other(format!(
                "the file has {length} bytes but held {} at the snapshot: it was changed since",
                position.bytes
            )),
        ));
    }
    file.set_len(position.bytes).map_err(|e| IoError::file(&path, "truncate (to resume)", e))?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))
        .map_err(|e| IoError::file(&path, "resume", e))?;
    Ok(match spec.format {
        SinkFormat::Csv => Box::new(csv::CsvSink::resume(&spec.id, path, file, position)),
        _ => Box::new(jsonl::JsonlSink::resume(&spec.id, path, file, position)),
    })
}

/// Opens the sink a `[[sinks]]` entry describes: a file (relative to `base_dir`,
/// created with its parent folders, truncated) or standard output.
pub fn open_sink(spec: &SinkSpec, base_dir: &Path) -> Result<Box<dyn Sink>, IoError> {
    match spec.format {
        SinkFormat::Stdout => {
            // Rust's standard output quietly drops writes to a closed descriptor: refuse
            // one instead, so that no run reports success for output that went nowhere.
            if stdout::stdout_closed() {
                return Err(IoError::Write {
                    sink: spec.id.clone(),
                    reason: "standard output is closed: nothing written to it would arrive".into(),
                });
            }
            Ok(Box::new(stdout::StdoutSink::new(&spec.id)))
        }
        SinkFormat::Jsonl => {
            let (path, file) = create_file(spec, base_dir)?;
            Ok(Box::new(jsonl::JsonlSink::new(&spec.id, path, file)))
        }
        SinkFormat::Csv => {
            let (path, file) = create_file(spec, base_dir)?;
            Ok(Box::new(csv::CsvSink::new(&spec.id, path, file)))
        }
    }
}

/// Creates a file sink's file and its parent folders.
fn create_file(spec: &SinkSpec, base_dir: &Path) -> Result<(PathBuf, File), IoError> {
    let Some(relative) = &spec.path else {
        return Err(IoError::file(
            base_dir,
            "create",
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("sink `{}` (format {}) has no path", spec.id, spec.format.as_str()),
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
    Ok((path, file))
}

/// Appends an item's JSON text (`[key, value]` when keyed, else the value), no newline.
pub(crate) fn write_item(out: &mut Vec<u8>, key: Option<&str>, value: &Dynamic) -> Result<(), String> {
    match key {
        Some(key) => {
            out.push(b'[');
            write_json_str(out, key);
            out.push(b',');
            write_json(out, value)?;
            out.push(b']');
        }
        None => write_json(out, value)?,
    }
    Ok(())
}

/// The error for an item a sink cannot write, naming the sink and the key.
pub(crate) fn item_error(sink: &str, key: Option<&str>, reason: &str) -> IoError {
    let reason = match key {
        Some(key) => format!("cannot write the item with key {key:?}: {reason}"),
        None => format!("cannot write an item: {reason}"),
    };
    IoError::Write { sink: sink.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Array, Map};

    fn map(fields: &[(&str, Dynamic)]) -> Dynamic {
        let mut m = Map::new();
        for (k, v) in fields {
            m.insert((*k).into(), v.clone());
        }
        Dynamic::from_map(m)
    }

    fn s(text: &str) -> Dynamic {
        Dynamic::from(text.to_string())
    }

    fn sink_spec(format: SinkFormat, path: Option<&str>) -> SinkSpec {
        SinkSpec { id: "out".into(), inputs: vec!["x".into()], format, path: path.map(PathBuf::from) }
    }

    /// Writes the items to a file sink of `format` and returns the file's text.
    fn write_file(format: SinkFormat, items: &[(Option<&str>, Dynamic)]) -> Result<String, IoError> {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = open_sink(&sink_spec(format, Some("deep/er/out.txt")), dir.path())?;
        let mut result = Ok(());
        for (key, value) in items {
            result = result.and(sink.write(*key, value));
        }
        sink.flush()?;
        assert_eq!(sink.items_written(), items.len() as u64 - u64::from(result.is_err()));
        result?;
        Ok(std::fs::read_to_string(dir.path().join("deep/er/out.txt")).unwrap())
    }

    fn sample_items() -> Vec<(Option<&'static str>, Dynamic)> {
        vec![
            (Some("a"), Dynamic::from_int(1)),
            (Some("b"), Dynamic::UNIT),
            (Some("k\"ey"), map(&[("z", Dynamic::from_float(3.0)), ("a", s("x"))])),
            (None, Dynamic::from_array(vec![s("t"), Dynamic::from_float(1e20)])),
        ]
    }

    const SAMPLE_JSONL: &str =
        "[\"a\",1]\n[\"b\",null]\n[\"k\\\"ey\",{\"a\":\"x\",\"z\":3.0}]\n[\"t\",1e20]\n";

    #[test]
    fn jsonl_sink_writes_keyed_items_as_pairs() {
        assert_eq!(write_file(SinkFormat::Jsonl, &sample_items()).unwrap(), SAMPLE_JSONL);
    }

    #[test]
    fn capture_sink_holds_the_jsonl_text() {
        let (mut sink, handle) = CaptureSink::new("cap");
        let reader = handle.clone();
        for (key, value) in sample_items() {
            sink.write(key, &value).unwrap();
        }
        sink.flush().unwrap();
        assert_eq!(sink.items_written(), 4);
        let expected: Vec<String> = SAMPLE_JSONL.lines().map(str::to_string).collect();
        assert_eq!(reader.lines(), expected);
        assert_eq!(handle.lines(), expected);
        // A handle can be read from another thread.
        let lines = std::thread::spawn(move || reader.lines()).join().unwrap();
        assert_eq!(lines.len(), 4);
        // The sink can move to another thread (Sink: Send).
        let mut boxed: Box<dyn Sink> = Box::new(sink);
        std::thread::spawn(move || boxed.write(None, &Dynamic::from_bool(true)).unwrap()).join().unwrap();
        assert_eq!(handle.lines().last().map(String::as_str), Some("true"));
    }

    #[test]
    fn a_value_without_json_form_is_an_error_and_writes_nothing() {
        let items = vec![
            (Some("a"), Dynamic::from_int(1)),
            (Some("bad key"), map(&[("x", Dynamic::from_float(f64::NAN))])),
            (Some("c"), Dynamic::from_int(3)),
        ];
        let err = write_file(SinkFormat::Jsonl, &items).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sink `out`: cannot write the item with key \"bad key\": the float NaN has no JSON form (JSON numbers are finite)"
        );
        // Written by hand to see the file after the error: only good items.
        let dir = tempfile::tempdir().unwrap();
        let mut sink = open_sink(&sink_spec(SinkFormat::Jsonl, Some("o.jsonl")), dir.path()).unwrap();
        for (key, value) in &items {
            let _ = sink.write(*key, value);
        }
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("o.jsonl")).unwrap(), "[\"a\",1]\n[\"c\",3]\n");

        let (mut capture, handle) = CaptureSink::new("cap");
        let fn_ptr = Dynamic::from(rhai::FnPtr::new("f").unwrap());
        let err = capture.write(None, &fn_ptr).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sink `cap`: cannot write an item: a value of type `Fn` has no JSON form"
        );
        assert!(handle.lines().is_empty());
        assert_eq!(capture.items_written(), 0);
    }

    #[test]
    fn csv_keyed_map_with_a_key_field_is_refused() {
        let items = vec![(Some("a"), map(&[("key", s("x")), ("n", Dynamic::from_int(1))]))];
        let err = write_file(SinkFormat::Csv, &items).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "sink `out`: cannot write the item with key \"a\": the value has a field named `key`"
            ),
            "{err}"
        );
        // Unkeyed, a `key` field is just a column.
        let items = vec![(None, map(&[("key", s("x")), ("n", Dynamic::from_int(1))]))];
        assert_eq!(write_file(SinkFormat::Csv, &items).unwrap(), "key,n\nx,1\n");
    }

    #[test]
    fn resumed_file_sinks_cut_back_and_append() {
        for format in [SinkFormat::Jsonl, SinkFormat::Csv] {
            let dir = tempfile::tempdir().unwrap();
            let spec = sink_spec(format, Some("o.txt"));
            let item = |n: i64| map(&[("n", Dynamic::from_int(n))]);
            let mut sink = open_sink(&spec, dir.path()).unwrap();
            sink.write(Some("a"), &item(1)).unwrap();
            sink.flush().unwrap();
            let position = sink.position().unwrap();
            sink.write(Some("b"), &item(2)).unwrap(); // after the snapshot: dropped on resume
            sink.flush().unwrap();
            drop(sink);
            let mut resumed = resume_sink(&spec, dir.path(), &position).unwrap();
            resumed.write(Some("c"), &item(3)).unwrap();
            resumed.flush().unwrap();
            assert_eq!(resumed.items_written(), 2);
            let text = std::fs::read_to_string(dir.path().join("o.txt")).unwrap();
            let expected = match format {
                SinkFormat::Csv => "key,n\na,1\nc,3\n",
                _ => "[\"a\",{\"n\":1}]\n[\"c\",{\"n\":3}]\n",
            };
            assert_eq!(text, expected);
            assert_eq!(resumed.position().unwrap().bytes, expected.len() as u64);
            // A file shorter than the snapshot says is refused.
            std::fs::write(dir.path().join("o.txt"), "x").unwrap();
            let err = resume_sink(&spec, dir.path(), &position).err().unwrap().to_string();
            assert!(err.contains("it was changed since"), "{err}");
        }
    }

    #[test]
    fn csv_header_keyed_map() {
        let items = vec![
            (Some("k1"), map(&[("b", Dynamic::from_int(2)), ("a", s("x,y"))])),
            (Some("k2"), map(&[("a", Dynamic::UNIT)])),
            (
                Some("k3"),
                map(&[
                    ("a", Dynamic::from_float(3.0)),
                    ("b", Dynamic::from_array(vec![Dynamic::from_int(1), s("q")])),
                ]),
            ),
        ];
        assert_eq!(
            write_file(SinkFormat::Csv, &items).unwrap(),
            "key,a,b\nk1,\"x,y\",2\nk2,,\nk3,3.0,\"[1,\"\"q\"\"]\"\n"
        );
    }

    #[test]
    fn csv_header_keyed_other() {
        let items = vec![
            (Some("k1"), Dynamic::from_int(5)),
            (Some("k2"), s("say \"hi\"")),
            (Some("k3"), Dynamic::from_bool(false)),
            (Some("k4"), map(&[("m", Dynamic::from_int(1))])),
            (Some("k5"), Dynamic::UNIT),
            (Some("k6"), Dynamic::from_float(-0.5)),
            (Some("k7"), Dynamic::from_char('c')),
        ];
        assert_eq!(
            write_file(SinkFormat::Csv, &items).unwrap(),
            "key,value\nk1,5\nk2,\"say \"\"hi\"\"\"\nk3,false\nk4,\"{\"\"m\"\":1}\"\nk5,\nk6,-0.5\nk7,c\n"
        );
    }

    #[test]
    fn csv_header_unkeyed_map_and_other() {
        let items = vec![
            (None, map(&[("user", s("ann")), ("n", Dynamic::from_int(1))])),
            (None, map(&[("user", s("bob"))])),
        ];
        assert_eq!(write_file(SinkFormat::Csv, &items).unwrap(), "n,user\n1,ann\n,bob\n");
        let items = vec![
            (None, s("line one")),
            (None, Dynamic::from_array(Array::new())),
            (None, Dynamic::from_float(1e20)),
            (None, Dynamic::UNIT),
            (None, s("")),
        ];
        // A lone empty cell is written `""`, so that the row is not a blank line.
        assert_eq!(write_file(SinkFormat::Csv, &items).unwrap(), "value\nline one\n[]\n1e20\n\"\"\n\"\"\n");
    }

    #[test]
    fn csv_sink_rejects_what_its_header_cannot_hold() {
        let items = vec![
            (None, map(&[("a", Dynamic::from_int(1))])),
            (None, map(&[("a", Dynamic::from_int(2)), ("zz", Dynamic::from_int(3))])),
        ];
        assert_eq!(
            write_file(SinkFormat::Csv, &items).unwrap_err().to_string(),
            "sink `out`: cannot write an item: field `zz` is not a column of the sink (its columns come from the first item: a)"
        );
        let items = vec![(Some("k"), map(&[("a", Dynamic::from_int(1))])), (Some("k"), Dynamic::from_int(2))];
        assert_eq!(
            write_file(SinkFormat::Csv, &items).unwrap_err().to_string(),
            "sink `out`: cannot write the item with key \"k\": the value is a number, but the sink's columns (key, a) come from the fields of an object"
        );
        let items = vec![(Some("k"), Dynamic::from_int(1)), (None, Dynamic::from_int(2))];
        assert!(write_file(SinkFormat::Csv, &items).unwrap_err().to_string().contains("the item has no key"));
        let items = vec![(None, map(&[("f", Dynamic::from_float(f64::INFINITY))]))];
        assert_eq!(
            write_file(SinkFormat::Csv, &items).unwrap_err().to_string(),
            "sink `out`: cannot write an item: column `f`: the float inf has no JSON form (JSON numbers are finite)"
        );
    }

    #[test]
    fn csv_sink_header_comes_from_the_first_written_item() {
        // A first item that fails leaves no header behind; the next good one makes it.
        let dir = tempfile::tempdir().unwrap();
        let mut sink = open_sink(&sink_spec(SinkFormat::Csv, Some("o.csv")), dir.path()).unwrap();
        assert!(sink.write(None, &map(&[("x", Dynamic::from_float(f64::NAN))])).is_err());
        sink.write(None, &map(&[("y", Dynamic::from_int(1))])).unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("o.csv")).unwrap(), "y\n1\n");
        // No items: an empty file.
        let mut sink = open_sink(&sink_spec(SinkFormat::Csv, Some("empty.csv")), dir.path()).unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("empty.csv")).unwrap(), "");
    }

    #[test]
    fn csv_sink_output_reads_back_as_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = open_sink(&sink_spec(SinkFormat::Csv, Some("o.csv")), dir.path()).unwrap();
        let rows = [
            map(&[
                ("i", Dynamic::from_int(-3)),
                ("f", Dynamic::from_float(2.0)),
                ("s", s("a \"b\", c\nd")),
                ("b", Dynamic::from_bool(true)),
                ("u", Dynamic::UNIT),
            ]),
            map(&[
                ("i", Dynamic::from_int(i64::MAX)),
                ("f", Dynamic::from_float(1.5e-9)),
                ("s", s("x")),
                ("b", Dynamic::from_bool(false)),
                ("u", Dynamic::UNIT),
            ]),
        ];
        for row in &rows {
            sink.write(None, row).unwrap();
        }
        sink.flush().unwrap();
        let spec = crate::graph::SourceSpec {
            id: "back".into(),
            path: "o.csv".into(),
            format: None,
            time_field: None,
            time_format: crate::graph::TimeFormat::default(),
            on_bad_row: crate::graph::BadRowPolicy::default(),
            dead_letter_path: None,
            types: std::collections::BTreeMap::new(),
            follow: false,
            recording: None,
        };
        let mut source = crate::io::Source::open(&spec, dir.path()).unwrap();
        for row in &rows {
            let event = source.next_event().unwrap().unwrap();
            assert_eq!(
                crate::value::to_json_string(&event.value).unwrap(),
                crate::value::to_json_string(row).unwrap()
            );
        }
        assert!(source.next_event().unwrap().is_none());
    }

    #[test]
    fn open_sink_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_sink(&sink_spec(SinkFormat::Jsonl, None), dir.path()).err().unwrap();
        assert!(err.to_string().contains("sink `out` (format jsonl) has no path"), "{err}");
        // A parent that is a file cannot be created.
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let err = open_sink(&sink_spec(SinkFormat::Csv, Some("file/out.csv")), dir.path()).err().unwrap();
        assert!(matches!(err, IoError::File { action: "create", .. }), "{err}");
    }

    #[test]
    fn stdout_sink_counts_and_refuses_bad_values() {
        let mut sink = open_sink(&sink_spec(SinkFormat::Stdout, None), Path::new(".")).unwrap();
        let err = sink.write(Some("k"), &Dynamic::from_float(f64::NAN)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sink `out`: cannot write the item with key \"k\": the float NaN has no JSON form (JSON numbers are finite)"
        );
        assert_eq!(sink.items_written(), 0);
        sink.flush().unwrap();
    }
}
