//! [`EventFeed`]: what the engine reads events from. A [`Source`] is one; a runner may wrap a
//! source in a feed that reads ahead on another thread, with exactly the same events, errors
//! and positions.

use super::{IoError, ReadMark, RowError, Source, SourceEvent};

/// What a feed has for the engine right now.
#[derive(Debug)]
pub enum Polled {
    /// The next good event.
    Event(SourceEvent),
    /// The end of the source.
    Ended,
    /// Nothing yet: a live stream that has not sent its next row.
    Pending,
}

/// What a feed has after its last event, once it has ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedTail {
    /// A recorded live source: the text read after its last event (bad rows, blank lines).
    pub raw: Option<Box<str>>,
    /// A source replaying a recording: the ticks after its last event, `(line, at)`.
    pub ticks: Vec<(u64, i64)>,
}

/// A stream of one source's events, in file order.
pub trait EventFeed: Send {
    /// The next good event, or `None` at the end; bad rows follow the source's policy. On a
    /// live stream this waits for the next row.
    fn next_event(&mut self) -> Result<Option<SourceEvent>, IoError>;
    /// The next event if one comes within `wait`. A file always has its next row at hand, so
    /// by default this is [`EventFeed::next_event`].
    fn poll_event(&mut self, wait: std::time::Duration) -> Result<Polled, IoError> {
        let _ = wait;
        Ok(match self.next_event()? {
            Some(event) => Polled::Event(event),
            None => Polled::Ended,
        })
    }
    /// Whether events come as they arrive (standard input), not from a file read at will.
    fn is_live(&self) -> bool {
        false
    }
    /// What the source had after its last event (empty before it has ended).
    fn take_tail(&mut self) -> FeedTail {
        FeedTail::default()
    }
    /// Rows consumed (good and bad) up to and including the last event returned.
    fn rows_consumed(&self) -> u64;
    /// Bytes of the file consumed up to and including the last event returned.
    fn bytes_consumed(&self) -> u64;
    /// Skips `n` rows before the first event is read (resuming from a snapshot).
    fn skip_rows(&mut self, n: u64) -> Result<(), IoError>;
    /// Skips `n` rows for their position only: bad rows among them need not be counted or
    /// dead-lettered again (seeking to a keyframe). By default, [`EventFeed::skip_rows`].
    fn skip_rows_quickly(&mut self, n: u64) -> Result<(), IoError> {
        self.skip_rows(n)
    }
    /// Skips the first `rows` rows for their position only, straight to `mark` when the
    /// source can (see [`Source::skip_to`]). By default, [`EventFeed::skip_rows_quickly`].
    fn skip_to(&mut self, rows: u64, mark: ReadMark) -> Result<(), IoError> {
        let _row_by_row = mark;
        self.skip_rows_quickly(rows)
    }
    /// Where a feed of the same file can go on from after the events returned so far
    /// ([`EventFeed::skip_to`]); `None` when not known. By default, `None`.
    fn read_mark(&self) -> Option<ReadMark> {
        None
    }
    /// Bad rows skipped or dead-lettered so far.
    fn bad_rows(&self) -> u64;
    /// The first few bad rows, for the end-of-run report.
    fn bad_row_samples(&self) -> Vec<RowError>;
    /// The bad rows read since the last call, in file order, when the source keeps them
    /// ([`Source::keep_bad_rows`]): those before the event returned last (or, once ended,
    /// before the end). None by default.
    fn take_bad_rows(&mut self) -> Vec<RowError> {
        Vec::new()
    }
    /// Applies the policy to bad rows that another reader of the same file read, in file
    /// order ([`Source::record_bad_rows`]): partitioned reading, where the workers read the
    /// file and this feed does not. By default an error: only a source can.
    fn record_bad_rows(&mut self, rows: Vec<RowError>) -> Result<(), IoError> {
        let _unrecorded = rows;
        Err(IoError::File {
            path: std::path::PathBuf::from(self.id()),
            action: "count bad rows read in chunks by",
            source: std::io::Error::other("this feed cannot count rows it did not read"),
        })
    }
    /// The source's id.
    fn id(&self) -> &str;
    /// Takes back a record this feed gave and nobody needs any more, to free it where it
    /// was made (a read-ahead thread frees it there, off the engine's thread). By default it
    /// is dropped here.
    fn dispose(&mut self, record: rhai::Dynamic) {
        drop(record);
    }
}

impl EventFeed for Source {
    fn next_event(&mut self) -> Result<Option<SourceEvent>, IoError> {
        Source::next_event(self)
    }

    fn rows_consumed(&self) -> u64 {
        Source::rows_consumed(self)
    }

    fn bytes_consumed(&self) -> u64 {
        Source::bytes_consumed(self)
    }

    fn skip_rows(&mut self, n: u64) -> Result<(), IoError> {
        Source::skip_rows(self, n)
    }

    fn skip_rows_quickly(&mut self, n: u64) -> Result<(), IoError> {
        Source::skip_rows_quickly(self, n)
    }

    fn skip_to(&mut self, rows: u64, mark: ReadMark) -> Result<(), IoError> {
        Source::skip_to(self, rows, mark)
    }

    fn read_mark(&self) -> Option<ReadMark> {
        Source::read_mark(self)
    }

    fn bad_rows(&self) -> u64 {
        Source::bad_rows(self)
    }

    fn bad_row_samples(&self) -> Vec<RowError> {
        Source::bad_row_samples(self).to_vec()
    }

    fn take_bad_rows(&mut self) -> Vec<RowError> {
        Source::take_bad_rows(self)
    }

    fn record_bad_rows(&mut self, rows: Vec<RowError>) -> Result<(), IoError> {
        Source::record_bad_rows(self, rows)
    }

    fn id(&self) -> &str {
        Source::id(self)
    }

    fn is_live(&self) -> bool {
        Source::is_live(self)
    }

    fn take_tail(&mut self) -> FeedTail {
        Source::take_tail(self)
    }
}
