//! Partitioned reading (docs/workers.md#partitioned-reading): a pipeline's one CSV or JSON
//! Lines file cut into chunks at record boundaries, each read and parsed by one worker
//! (chunk index mod workers), so that reading uses every worker, with the positions, clock
//! and lines every chunk would have had in one reading of the whole file.
//!
//! A worker parses its chunk, then posts what the chunks after it need (its event count,
//! greatest event time, where its last record ends, its bad rows under `on_bad_row = "skip"`
//! or `"dead_letter"`) on the [`Board`]; it tags and sends its events once every chunk before
//! its own is posted. Each chunk is one timely timestamp. Worker 0 takes the chunks' bad rows
//! in chunk order, so that they are counted, sampled and dead-lettered in file order.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::{Engine, RunError};
use crate::graph::{BadRowPolicy, SourceFormat, SourceSpec, ValidGraph};
use crate::io::{IoError, RowError};
use crate::io::{ReadMark, Source, SourceEvent};

/// Bytes of the file per chunk (about: a chunk ends at the first record boundary after). About
/// 4,000 short CSV rows: larger chunks make batches whose message buffers are fresh pages the
/// kernel zeroes (measured at 1 MiB: a quarter of worker 0's time).
const CHUNK_BYTES: u64 = 128 << 10;

/// The environment variable that sets the chunk size in bytes of `eddy run --workers` (tests
/// cross many chunk boundaries with tiny chunks); not a user setting.
pub const CHUNK_BYTES_VAR: &str = "EDDY_PARTITION_BYTES";

/// How one source file is read in chunks, and what the workers tell each other about them.
pub(crate) struct ChunkedSource {
    /// The source (the pipeline's only one).
    spec: SourceSpec,
    /// The pipeline's folder.
    base_dir: PathBuf,
    /// The `key_on` step whose key field the source reads itself, and that field.
    key_field: Option<(usize, String)>,
    /// The fields records keep, when projected.
    projection: Option<BTreeSet<String>>,
    /// Where each chunk starts; chunk `k` runs to the start of chunk `k + 1`, the last one
    /// to the end of the file.
    starts: Vec<ReadMark>,
    /// Events before the first chunk sent (a resumed run's), the clock then, the rows and
    /// bytes read.
    before: Prefix,
    /// Events between snapshots, when snapshots are taken.
    pub snapshot_every: Option<u64>,
    /// Bad rows are skipped or dead-lettered (not `fail`): the chunks' readers keep them.
    keeps_bad_rows: bool,
    /// The first chunks, before a resumed run's cut, read again for their bad rows only.
    recounted: usize,
    /// What the workers post about their chunks.
    board: Board,
}

/// What every chunk before a given one holds, all told: where the next chunk's events stand.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prefix {
    /// Chunks counted.
    pub chunks: usize,
    /// Events before the next chunk (the position of its first event, minus one).
    pub events: u64,
    /// Bad rows before the next chunk, counted since the first chunk (`skip`, `dead_letter`).
    pub bad: u64,
    /// Rows of the file read through the last event (events and the bad rows before it, a
    /// resumed run's included): what a snapshot there records.
    pub rows: u64,
    /// The replay clock after them.
    pub clock: Option<i64>,
    /// Bytes of the file read through the last of them.
    pub bytes: u64,
    /// The reading ended with the last chunk counted (an error, a signal).
    pub ended: bool,
}

/// What a worker posts about a chunk it has read.
#[derive(Debug, Clone)]
struct Posted {
    events: u64,
    /// Its bad rows (`skip`, `dead_letter`), in file order: how many there are, and the rows
    /// themselves until worker 0 takes them.
    bad: u64,
    bad_rows: Vec<RowError>,
    /// Rows (events and bad rows) through its last event (none without events).
    rows_through_last: Option<u64>,
    max_time: Option<i64>,
    /// Bytes of the file read through its last event (none without events).
    end_bytes: Option<u64>,
    /// The reading ends with this chunk: a reading error in it, or a signal.
    ended: bool,
}

/// The chunks' posts, shared by the workers of one process.
#[derive(Default)]
struct Board {
    posts: Mutex<Posts>,
    /// The writer met a failure (or the run was aborted): the workers stop reading.
    halted: AtomicBool,
}

#[derive(Default)]
struct Posts {
    chunks: Vec<Option<Posted>>,
    /// The first reading error, by chunk.
    error: Option<(usize, RunError)>,
    /// A signal stopped the reading.
    signalled: bool,
}

/// One chunk read and parsed (its events are in the worker's [`ChunkReader`]).
pub(crate) struct ChunkRead {
    /// Rows (events and bad rows) through its last event (none without events).
    pub rows_through_last: Option<u64>,
    /// Bytes of the file read through its last event (none without events).
    pub end_bytes: Option<u64>,
    /// The reading ends with this chunk (a reading error in it, or a signal).
    pub ends: bool,
    /// Whether a signal asked the run to stop once this chunk is sent.
    pub signalled: bool,
}

/// What one worker reads its chunks with, kept from chunk to chunk (the file stays open and
/// its reader keeps its buffers and key cache; the events' buffer keeps its room).
#[derive(Default)]
pub(crate) struct ChunkReader {
    /// The file, opened at the first chunk.
    source: Option<Source>,
    /// The events of the chunk read last, in file order (up to a reading error).
    pub events: Vec<SourceEvent>,
    /// Its bad rows, in file order (`skip`, `dead_letter`), until they are posted.
    bad: Vec<RowError>,
}

impl ChunkedSource {
    /// The partitioned reading of `engine`'s pipeline on `workers` workers, resumed from
    /// `resume` when given, or `None` when it reads as one (several sources, a format or file
    /// that cannot be cut, a file of one chunk; docs/workers.md#partitioned-reading).
    pub fn plan(
        engine: &Engine,
        workers: usize,
        resume: Option<&crate::engine::EngineSnapshot>,
        snapshot_every: Option<u64>,
        chunk_bytes: Option<u64>,
    ) -> Option<ChunkedSource> {
        let graph = engine.graph();
        let spec = single_file_source(graph)?;
        if workers < 2 {
            return None;
        }
        let format = spec.effective_format()?;
        let path = graph.base_dir.join(&spec.path);
        // A compressed file cannot be sought.
        if crate::io::Input::open(&path).ok()?.is_compressed() {
            return None;
        }
        let (projection, keyed) = engine.source_pruning(0);
        let key_field = match keyed {
            Some(step) => Some((step, graph.doc.steps[step].field.clone()?)),
            None => None,
        };
        let header_end = match format {
            SourceFormat::Csv => Source::open(spec, &graph.base_dir).ok()?.read_mark()?,
            _ => ReadMark { bytes: 0, newlines: 0 },
        };
        let events_in = engine.stats().events_in;
        let (start, rows) = match resume {
            // A snapshot records the rows read (under `fail` its events; else also the bad
            // rows before the last one) and the bytes they take.
            Some(snapshot) => {
                let bytes = *snapshot.source_bytes.get(&spec.id)?;
                let rows = *snapshot.source_rows.get(&spec.id)?;
                let bad_rows = rows.checked_sub(snapshot.events_in)?;
                if (bad_rows > 0 && spec.on_bad_row == BadRowPolicy::Fail) || bytes < header_end.bytes {
                    return None;
                }
                (ReadMark { bytes, newlines: crate::io::newlines_before(&path, bytes).ok()? }, rows)
            }
            None => (header_end, events_in),
        };
        let every = chunk_bytes.unwrap_or(CHUNK_BYTES);
        // Bad rows before a resumed run's cut are counted and dead-lettered again, as one
        // worker reads them again: the chunks before the cut are read for those only.
        let mut starts = Vec::new();
        if rows > events_in {
            starts.push(header_end);
            let cuts = crate::io::record_cuts(&path, format, header_end, every).ok()??;
            starts.extend(cuts.into_iter().take_while(|cut| cut.bytes < start.bytes));
        }
        let recounted = starts.len();
        starts.push(start);
        starts.extend(crate::io::record_cuts(&path, format, start, every).ok()??);
        if starts.len() < 2 {
            return None;
        }
        Some(ChunkedSource {
            spec: spec.clone(),
            base_dir: graph.base_dir.clone(),
            key_field,
            projection: projection.cloned(),
            board: Board {
                posts: Mutex::new(Posts { chunks: vec![None; starts.len()], ..Posts::default() }),
                ..Board::default()
            },
            starts,
            keeps_bad_rows: spec.on_bad_row != BadRowPolicy::Fail,
            recounted,
            before: Prefix {
                chunks: 0,
                events: events_in,
                bad: 0,
                rows,
                clock: engine.clock(),
                bytes: start.bytes,
                ended: false,
            },
            snapshot_every,
        })
    }

    /// How many chunks the file is cut into.
    pub fn chunks(&self) -> usize {
        self.starts.len()
    }

    /// What the run had read before the first chunk.
    pub fn before(&self) -> Prefix {
        self.before
    }

    /// The `key_on` step whose key the source reads itself.
    pub fn keyed_step(&self) -> Option<usize> {
        self.key_field.as_ref().map(|(step, _)| *step)
    }

    /// Reads and parses chunk `chunk`, then posts what the chunks after it need; `signalled`
    /// says whether a signal asked the run to stop (the reading then ends with this chunk).
    pub fn read(&self, chunk: usize, signalled: bool, reader: &mut ChunkReader) -> ChunkRead {
        let (mut end_bytes, mut rows_through_last, error) = self.parse(chunk, reader);
        if chunk < self.recounted {
            reader.events.clear();
            (end_bytes, rows_through_last) = (None, None);
        }
        let events = &reader.events;
        let ended = error.is_some() || signalled;
        let posted = Posted {
            events: events.len() as u64,
            bad: reader.bad.len() as u64,
            bad_rows: std::mem::take(&mut reader.bad),
            rows_through_last,
            max_time: events.iter().filter_map(|event| event.time).max(),
            end_bytes,
            ended,
        };
        if let Ok(mut posts) = self.board.posts.lock() {
            if let Some(slot) = posts.chunks.get_mut(chunk) {
                *slot = Some(posted);
            }
            if let Some(error) = error
                && posts.error.as_ref().is_none_or(|(first, _)| chunk < *first)
            {
                posts.error = Some((chunk, error));
            }
            posts.signalled |= signalled;
        }
        ChunkRead { rows_through_last, end_bytes, ends: ended, signalled }
    }

    /// Counts the posted chunks after `prefix` into it, up to `upto` (excluded), stopping at a
    /// chunk that ended the reading; true once it counts them all (or reaches that chunk).
    /// With `bad_rows` (worker 0), takes the counted chunks' bad rows into it, in file order.
    pub fn advance(
        &self,
        prefix: &mut Prefix,
        upto: usize,
        mut bad_rows: Option<&mut Vec<RowError>>,
    ) -> bool {
        let Ok(mut posts) = self.board.posts.lock() else { return true };
        while prefix.chunks < upto && !prefix.ended {
            let Some(Some(posted)) = posts.chunks.get_mut(prefix.chunks) else { return false };
            if let Some(rows) = posted.rows_through_last {
                prefix.rows = prefix.events + prefix.bad + rows;
            }
            if let Some(taken) = bad_rows.as_deref_mut() {
                taken.append(&mut posted.bad_rows);
            }
            prefix.events += posted.events;
            prefix.bad += posted.bad;
            if let Some(time) = posted.max_time {
                prefix.clock = Some(prefix.clock.map_or(time, |clock| clock.max(time)));
            }
            if let Some(bytes) = posted.end_bytes {
                prefix.bytes = bytes;
            }
            prefix.ended = posted.ended;
            prefix.chunks += 1;
        }
        true
    }

    /// Stops every worker's reading (the writer met a failure, or the run is aborted).
    pub fn halt(&self) {
        self.board.halted.store(true, Ordering::SeqCst);
    }

    /// Whether the reading was halted.
    pub fn is_halted(&self) -> bool {
        self.board.halted.load(Ordering::SeqCst)
    }

    /// The first reading error, in file order (taken), and whether a signal stopped the reading.
    pub fn take_end(&self) -> (Option<RunError>, bool) {
        match self.board.posts.lock() {
            Ok(mut posts) => (posts.error.take().map(|(_, error)| error), posts.signalled),
            Err(_) => (None, false),
        }
    }

    /// Reads the events of chunk `chunk` (up to a reading error) and its bad rows into
    /// `reader`; gives the bytes and rows read through the last event, and the error.
    fn parse(&self, chunk: usize, reader: &mut ChunkReader) -> (Option<u64>, Option<u64>, Option<RunError>) {
        let ChunkReader { source, events, bad } = reader;
        events.clear();
        bad.clear();
        let (mut end_bytes, mut rows_through_last) = (None, None);
        let reading_error = |error: IoError| match error {
            IoError::Row(error) => RunError::BadRow { source_id: self.spec.id.clone(), error },
            IoError::Unreadable(error) => RunError::Unreadable { source_id: self.spec.id.clone(), error },
            other => other.into(),
        };
        let source = match self.go_to(source, self.starts[chunk]) {
            Ok(source) => source,
            Err(error) => return (end_bytes, rows_through_last, Some(reading_error(error))),
        };
        // A record belongs to the chunk its first line is in, and so does a bad row.
        let next_line = self.starts.get(chunk + 1).map(|next| next.newlines + 1);
        let error = loop {
            match source.next_event_before(next_line) {
                Ok(Some(event)) => {
                    end_bytes = Some(source.bytes_consumed());
                    events.push(event);
                    bad.append(&mut source.take_bad_rows());
                    rows_through_last = Some((events.len() + bad.len()) as u64);
                }
                Ok(None) => break None,
                Err(error) => break Some(reading_error(error)),
            }
        };
        // The bad rows after the last event, up to the next chunk's first line.
        bad.append(&mut source.take_bad_rows());
        (end_bytes, rows_through_last, error)
    }

    /// The worker's source moved to `mark`: opened there the first time, else sought.
    fn go_to<'a>(&self, source: &'a mut Option<Source>, mark: ReadMark) -> Result<&'a mut Source, IoError> {
        match source {
            Some(source) => {
                if !source.move_to(mark)? {
                    return Err(cannot_cut(&self.spec, "a cut"));
                }
                Ok(source)
            }
            None => Ok(source.insert(self.open_at(mark)?)),
        }
    }

    /// The source opened at `mark`, reading records as the engine's source does (its key
    /// field, its projection).
    /// A chunk's bad rows are kept, not written: worker 0 dead-letters them in file order.
    fn open_at(&self, mark: ReadMark) -> Result<Source, IoError> {
        let mut spec = self.spec.clone();
        if self.keeps_bad_rows {
            spec.on_bad_row = BadRowPolicy::Skip;
            spec.dead_letter_path = None;
        }
        let mut source = Source::open(&spec, &self.base_dir)?;
        if self.keeps_bad_rows {
            source.keep_bad_rows();
        }
        if let Some((_, field)) = &self.key_field
            && !source.set_key_field(field)
        {
            return Err(cannot_cut(&self.spec, "its key field"));
        }
        if let Some(fields) = &self.projection
            && !source.set_projection(fields)
        {
            return Err(cannot_cut(&self.spec, "its projection"));
        }
        if !source.move_to(mark)? {
            return Err(cannot_cut(&self.spec, "a cut"));
        }
        Ok(source)
    }
}

/// The error of a chunk that cannot be read as the engine reads the file (a bug: the plan
/// checked it).
fn cannot_cut(spec: &SourceSpec, what: &str) -> IoError {
    IoError::file(
        spec.path.clone(),
        "read in chunks",
        std::io::Error::other(format!("source `{}` cannot be read from {what}", spec.id)),
    )
}

/// The pipeline's only source when it is a file that can be read in chunks: not live, not a
/// recording, CSV or JSON Lines (whatever its `on_bad_row`).
fn single_file_source(graph: &ValidGraph) -> Option<&SourceSpec> {
    let [spec] = graph.doc.sources.as_slice() else { return None };
    let readable = !spec.is_live()
        && !spec.is_stdin()
        && spec.recording.is_none()
        && matches!(spec.effective_format(), Some(SourceFormat::Csv | SourceFormat::Jsonl));
    readable.then_some(spec)
}
