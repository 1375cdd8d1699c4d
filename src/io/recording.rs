//! Recordings of live runs (`eddy run --record rec.jsonl`) and reading them back.
//!
//! A recording is JSON Lines. Its first line says what it is:
//! `{"recording":"eddy","version":1}`. Then, in the order the run took them:
//!
//! - `{"source":"clicks","at":<µs since the epoch>,"line":"<raw text>"}`: one line a live
//!   source received (a CSV header, a bad row and a blank line too, each as it came, without
//!   its line break), at the clock the run took the row at (in wall mode the run's clock; else
//!   the machine's clock then);
//! - `{"at":<µs>}`: a *tick*, where the live run's clock advanced while the stream was quiet and
//!   fired timers.
//!
//! A source with `recording = "rec.jsonl"` reads its own lines back as its text (so its rows,
//! line numbers and bad rows are those of the live run), each event carrying the recorded clock
//! and the ticks before it ([`RecordedTiming`]); the engine sets its clock to them (README,
//! "Running live").

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::error::IoError;

/// The first line of every recording.
pub const RECORDING_HEADER: &str = r#"{"recording":"eddy","version":1}"#;

/// Writes a recording, line by line, as the run takes rows and fires timers while idle.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl Recorder {
    /// Creates the recording at `path`; an existing file is refused, never truncated (a
    /// recording is the only copy of what a stream sent).
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    e.kind(),
                    "the file already exists, and a recording never writes over a file: \
                     give a new path, or remove the old file first",
                )
            } else {
                e
            }
        })?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        out.write_all(RECORDING_HEADER.as_bytes())?;
        out.write_all(b"\n")?;
        Ok(Self { path: path.to_path_buf(), out, line: Vec::with_capacity(256) })
    }

    /// The recording's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the text a source consumed for one event (its row, and the header, bad rows and
    /// blank lines before it), one entry per line, at the clock `at`.
    pub fn text(&mut self, source: &str, at: i64, text: &str) -> Result<(), IoError> {
        /// One received line of a recording (what [`RecordedEntry`] reads back).
        #[derive(serde::Serialize)]
        struct Received<'a> {
            source: &'a str,
            at: i64,
            line: &'a str,
        }
        for line in text.split_inclusive('\n') {
            let line = line.strip_suffix('\n').unwrap_or(line);
            self.line.clear();
            serde_json::to_writer(&mut self.line, &Received { source, at, line })
                .map_err(|e| IoError::file(&self.path, "write", e.into()))?;
            self.line.push(b'\n');
            self.out.write_all(&self.line).map_err(|e| IoError::file(&self.path, "write", e))?;
        }
        Ok(())
    }

    /// Records a tick: the clock moved to `at` while idle and fired timers.
    pub fn tick(&mut self, at: i64) -> Result<(), IoError> {
        writeln!(self.out, "{{\"at\":{at}}}").map_err(|e| IoError::file(&self.path, "write", e))
    }

    /// Writes what is buffered (complete lines only) to the file.
    pub fn flush(&mut self) -> Result<(), IoError> {
        self.out.flush().map_err(|e| IoError::file(&self.path, "write", e))
    }
}

/// When a recorded event was taken, for a replay to take it at the same clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTiming {
    /// The clock the live run took the event at (µs since the epoch).
    pub at: i64,
    /// Its line in the recording: events and ticks happen in this order.
    pub seq: u64,
    /// The ticks recorded before it (since the previous event of its source): `(seq, at)`.
    pub ticks: Vec<(u64, i64)>,
}

/// What a recording's reader has found and a [`Source`](super::Source) takes from: the end of
/// each line of its text (with its clock and recording line), and the ticks, in order.
#[derive(Debug, Default)]
pub struct RecordingMarks {
    /// `(end of the line in the source's text, at, recording line)`.
    lines: VecDeque<(u64, i64, u64)>,
    /// `(recording line, at)`.
    ticks: VecDeque<(u64, i64)>,
}

/// The marks shared between a recording's reader and its source.
pub type SharedMarks = Arc<Mutex<RecordingMarks>>;

impl RecordingMarks {
    /// The timing of the row that ends at `end` of the text: the clock of its last line, and
    /// the ticks before it. Marks up to it are dropped.
    pub fn timing_through(&mut self, end: u64) -> Option<RecordedTiming> {
        let mut found = None;
        while let Some(&(line_end, at, seq)) = self.lines.front() {
            if line_end > end && found.is_some() {
                break;
            }
            self.lines.pop_front();
            found = Some((at, seq));
            if line_end >= end {
                break;
            }
        }
        let (at, seq) = found?;
        let mut ticks = Vec::new();
        while let Some(&(tick_seq, tick_at)) = self.ticks.front() {
            if tick_seq > seq {
                break;
            }
            ticks.push((tick_seq, tick_at));
            self.ticks.pop_front();
        }
        Some(RecordedTiming { at, seq, ticks })
    }

    /// Drops the marks of the text up to `end` (rows skipped when resuming), and the ticks
    /// before them, which fired before the state resumed from.
    pub fn drop_through(&mut self, end: u64) {
        let _ = self.timing_through(end);
    }

    /// The ticks left after the last event (read once the text has ended).
    pub fn take_ticks(&mut self) -> Vec<(u64, i64)> {
        self.ticks.drain(..).collect()
    }
}

/// One source's text in a recording, read back: the lines recorded for it, each ending in a
/// line break, and the marks of their timing.
pub struct RecordingInput {
    path: PathBuf,
    source: String,
    reader: BufReader<File>,
    /// The recording's line last read.
    seq: u64,
    /// Text read and not handed out yet.
    pending: Vec<u8>,
    /// Where `pending` starts in the text.
    handed: usize,
    /// Bytes of text produced so far.
    produced: u64,
    marks: SharedMarks,
    raw: Vec<u8>,
    /// Another source's id met in the recording (to say so when none is this source's).
    other_source: Option<String>,
}

impl RecordingInput {
    /// Opens `path` to read `source`'s lines back; the first line must be a recording's.
    pub fn open(path: &Path, source: &str, marks: SharedMarks) -> io::Result<Self> {
        let mut reader = BufReader::with_capacity(256 * 1024, File::open(path)?);
        let mut first = Vec::new();
        reader.read_until(b'\n', &mut first)?;
        let header: Option<serde_json::Value> = serde_json::from_slice(&first).ok();
        let is_recording =
            header.as_ref().and_then(|h| h.get("recording")).and_then(|r| r.as_str()) == Some("eddy");
        if !is_recording {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line 1: not a recording of `eddy run --record` (it starts with {RECORDING_HEADER})"),
            ));
        }
        let version = header.as_ref().and_then(|h| h.get("version")).and_then(serde_json::Value::as_u64);
        if version != Some(1) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line 1: a recording of version {version:?}; this eddy reads version 1"),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            source: source.to_owned(),
            reader,
            seq: 1,
            pending: Vec::new(),
            handed: 0,
            produced: 0,
            marks,
            raw: Vec::new(),
            other_source: None,
        })
    }

    /// Reads recording lines until one of this source's is pending; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            self.raw.clear();
            if self.reader.read_until(b'\n', &mut self.raw)? == 0 {
                if let (0, Some(other)) = (self.produced, &self.other_source) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "no line of source `{}` in the recording (it has lines of `{other}`): \
                             was it recorded from this pipeline?",
                            self.source
                        ),
                    ));
                }
                return Ok(false);
            }
            self.seq += 1;
            if self.raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let bad = |reason: String| {
                io::Error::new(io::ErrorKind::InvalidData, format!("line {}: {reason}", self.seq))
            };
            let entry: RecordedEntry =
                serde_json::from_slice(&self.raw).map_err(|e| bad(format!("not a recording entry ({e})")))?;
            let at = entry.at.ok_or_else(|| bad("the entry has no `at`".into()))?;
            let mut marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
            match (entry.source, entry.line) {
                (None, None) => marks.ticks.push_back((self.seq, at)),
                (Some(source), Some(line)) => {
                    if source != self.source {
                        self.other_source.get_or_insert(source);
                        continue;
                    }
                    if self.handed == self.pending.len() {
                        self.pending.clear();
                        self.handed = 0;
                    }
                    self.pending.extend_from_slice(line.as_bytes());
                    self.pending.push(b'\n');
                    self.produced += line.len() as u64 + 1;
                    marks.lines.push_back((self.produced, at, self.seq));
                    return Ok(true);
                }
                _ => {
                    return Err(bad("an entry has `source` and `line` together, or neither (a tick)".into()));
                }
            }
        }
    }
}

/// One line of a recording after its first.
#[derive(serde::Deserialize)]
struct RecordedEntry {
    source: Option<String>,
    at: Option<i64>,
    line: Option<String>,
}

impl Read for RecordingInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.handed == self.pending.len() && !self.fill()? {
            return Ok(0);
        }
        let available = &self.pending[self.handed..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.handed += n;
        Ok(n)
    }
}

impl std::fmt::Debug for RecordingInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingInput").field("path", &self.path).field("source", &self.source).finish()
    }
}

/// A copy of every byte a live source reads, for a recording: the source takes from it the
/// text of each row it makes an event of.
pub type TeeBuffer = Arc<Mutex<Vec<u8>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_reads_back_as_each_sources_text_with_its_timing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let mut recorder = Recorder::create(&path).unwrap();
        recorder.text("a", 10, "ts,v\n1,x\n").unwrap();
        recorder.text("b", 11, "{\"q\":\"\\u00e9\"}\r\n").unwrap();
        recorder.tick(15).unwrap();
        recorder.text("a", 20, "2,y").unwrap();
        recorder.tick(30).unwrap();
        recorder.flush().unwrap();
        assert!(Recorder::create(&path).unwrap_err().to_string().contains("already exists"));

        let marks = SharedMarks::default();
        let mut text = String::new();
        RecordingInput::open(&path, "a", Arc::clone(&marks)).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "ts,v\n1,x\n2,y\n");
        let mut marks = marks.lock().unwrap();
        assert_eq!(marks.timing_through(9), Some(RecordedTiming { at: 10, seq: 3, ticks: vec![] }));
        assert_eq!(marks.timing_through(13), Some(RecordedTiming { at: 20, seq: 6, ticks: vec![(5, 15)] }));
        assert_eq!(marks.take_ticks(), vec![(7, 30)]);

        let marks = SharedMarks::default();
        let mut text = String::new();
        RecordingInput::open(&path, "b", marks).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"q\":\"\\u00e9\"}\r\n");
    }

    #[test]
    fn other_files_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "{\"a\":1}\n").unwrap();
        let err = RecordingInput::open(&path, "a", SharedMarks::default()).unwrap_err();
        assert!(err.to_string().starts_with("line 1: not a recording"), "{err}");
        std::fs::write(&path, format!("{RECORDING_HEADER}\n{{\"source\":\"a\",\"line\":\"x\"}}\n")).unwrap();
        let mut input = RecordingInput::open(&path, "a", SharedMarks::default()).unwrap();
        let err = input.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "line 2: the entry has no `at`");
        std::fs::write(&path, format!("{RECORDING_HEADER}\n{{\"source\":\"b\",\"at\":1,\"line\":\"x\"}}\n"))
            .unwrap();
        let mut input = RecordingInput::open(&path, "a", SharedMarks::default()).unwrap();
        let err = input.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().starts_with("no line of source `a` in the recording (it has lines of `b`)"),
            "{err}"
        );
    }
}
