//! Read-ahead for `eddy run` and the workbench: each source is read and parsed on its own thread, in batches,
//! while the engine processes the previous ones. The engine sees exactly the events, bad-row
//! errors and row positions it would see reading directly; only the work moves to another core.
//! Bad rows are counted and dead-lettered here, as the engine takes the event after them
//! (docs/architecture.md#the-engine), not on the reading thread as it reads them.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use rhai::Dynamic;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::io::{BadRows, EventFeed, FeedTail, IoError, Polled, ReadMark, RowError, Source, SourceEvent};

/// Events per batch handed from the reading thread to the engine.
const BATCH_EVENTS: usize = 512;
/// Batches in flight between the two.
const BATCHES_IN_FLIGHT: usize = 8;
/// Batches of records given back ([`EventFeed::dispose`]) in flight to the reading thread.
const SPENT_IN_FLIGHT: usize = 8;

/// An event read ahead, with where the source stood once it was read.
struct ReadAhead {
    event: SourceEvent,
    /// The bad rows read just before it: handled (counted, dead-lettered) as the engine takes
    /// the event, not when the reading thread read them.
    bad_before: Vec<RowError>,
    rows: u64,
    bytes: u64,
    mark: Option<ReadMark>,
}

/// One message from the reading thread.
enum Message {
    /// The bad rows among the rows skipped to resume (counted and dead-lettered again, not
    /// dropped again); sent before any event.
    Skipped(Vec<RowError>),
    /// Events, each with the rows consumed once it was read.
    Batch { events: Vec<ReadAhead> },
    /// The source failed (a bad row under `fail`, a read error) after the bad rows
    /// `bad_before`; nothing follows but the text a recorded live source read up to the failure.
    Failed { error: IoError, tail: FeedTail, bad_before: Vec<RowError> },
    /// The end of the source, after the bad rows `bad_after`; nothing follows.
    End { bytes: u64, tail: FeedTail, bad_after: Vec<RowError> },
}

enum State {
    /// Not started yet: rows to skip first (a restore) may still be set, read as events
    /// (`skip`) or passed over for their position only (`pass`, a seek; done first, straight
    /// to `jump` when given).
    Idle { source: Box<Source>, skip: u64, pass: u64, jump: Option<ReadMark> },
    /// The reading thread is running; `spent` takes records back to it to be freed there.
    Running { receiver: Receiver<Message>, spent: Sender<Vec<Dynamic>>, thread: Option<JoinHandle<()>> },
    /// Ended or failed.
    Done,
}

/// A source read ahead on its own thread.
pub struct Prefetched {
    id: String,
    state: State,
    batch: std::vec::IntoIter<ReadAhead>,
    rows_consumed: u64,
    bytes_consumed: u64,
    mark: Option<ReadMark>,
    /// Once the reading thread runs, the source's bad-row handling, applied here as each
    /// event is taken (docs/file-format.md, `dead_letter_path`): a run dead-letters and counts
    /// the bad rows before the events it took, whatever the thread read ahead.
    bad: Option<BadRows>,
    /// A live stream: each event is handed over as soon as it is read, not in batches.
    live: bool,
    /// What the source had after its last event.
    tail: FeedTail,
    /// Records given back ([`EventFeed::dispose`]) not yet sent to the reading thread.
    spent: Vec<Dynamic>,
}

impl Prefetched {
    /// Wraps an opened source; its thread starts at the first read.
    pub fn wrap(source: Source) -> Box<dyn EventFeed> {
        Box::new(Self {
            id: source.id().to_owned(),
            live: source.is_live(),
            state: State::Idle { source: Box::new(source), skip: 0, pass: 0, jump: None },
            batch: Vec::new().into_iter(),
            rows_consumed: 0,
            bytes_consumed: 0,
            mark: None,
            bad: None,
            tail: FeedTail::default(),
            spent: Vec::new(),
        })
    }

    fn start(&mut self) -> Result<(), IoError> {
        let State::Idle { .. } = self.state else { return Ok(()) };
        let State::Idle { mut source, skip, pass, jump } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(());
        };
        self.bad = Some(source.defer_bad_rows());
        let (sender, receiver) = bounded(BATCHES_IN_FLIGHT);
        let (spent, spent_receiver) = bounded(SPENT_IN_FLIGHT);
        // A live stream's rows go one by one: the next may be minutes away.
        let batch = if self.live { 1 } else { BATCH_EVENTS };
        let name = format!("eddy-source-{}", self.id);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || read_ahead(*source, (pass, jump, skip), batch, &sender, &spent_receiver))
            .map_err(|e| IoError::File {
                path: std::path::PathBuf::from(&self.id),
                action: "read (cannot start the reading thread)",
                source: e,
            })?;
        self.state = State::Running { receiver, spent, thread: Some(thread) };
        Ok(())
    }
}

/// The reading thread's body: batches of events until the end or an error.
/// `skips`: rows passed over for their position only (straight to a mark when given), then
/// rows skipped as events.
fn read_ahead(
    mut source: Source,
    skips: (u64, Option<ReadMark>, u64),
    batch: usize,
    sender: &Sender<Message>,
    spent: &Receiver<Vec<Dynamic>>,
) {
    let (pass, jump, skip) = skips;
    let skipped = match (pass, jump, skip) {
        (0, None, 0) => Ok(()),
        (pass, Some(mark), skip) => source.skip_to(pass, mark).and_then(|()| source.skip_rows(skip)),
        (pass, None, skip) => source.skip_rows_quickly(pass).and_then(|()| source.skip_rows(skip)),
    };
    let bad_skipped = source.take_deferred_bad_rows();
    if !bad_skipped.is_empty() && sender.send(Message::Skipped(bad_skipped)).is_err() {
        return; // the engine is gone
    }
    if let Err(error) = skipped {
        let tail = source.take_tail();
        let _ignored = sender.send(Message::Failed { error, tail, bad_before: Vec::new() });
        return;
    }
    loop {
        let mut events = Vec::with_capacity(batch);
        let last = loop {
            match source.next_event() {
                Ok(Some(event)) => {
                    events.push(ReadAhead {
                        event,
                        bad_before: source.take_deferred_bad_rows(),
                        rows: source.rows_consumed(),
                        bytes: source.bytes_consumed(),
                        mark: source.read_mark(),
                    });
                    if events.len() == batch {
                        break None;
                    }
                }
                Ok(None) => break Some(None),
                Err(error) => break Some(Some(error)),
            }
        };
        if sender.send(Message::Batch { events }).is_err() {
            return; // the engine is gone
        }
        // The records the engine gave back are freed here, where they were made.
        spent.try_iter().for_each(drop);
        match last {
            None => {}
            Some(None) => {
                let _ignored = sender.send(Message::End {
                    bytes: source.bytes_consumed(),
                    tail: source.take_tail(),
                    bad_after: source.take_deferred_bad_rows(),
                });
                return;
            }
            Some(Some(error)) => {
                let tail = source.take_tail();
                let bad_before = source.take_deferred_bad_rows();
                let _ignored = sender.send(Message::Failed { error, tail, bad_before });
                return;
            }
        }
    }
}

impl Prefetched {
    /// `rows` more rows to pass over before the first read.
    fn state_passed(&mut self, rows: u64) {
        if let State::Idle { pass, .. } = &mut self.state {
            *pass += rows;
        }
        self.rows_consumed += rows;
    }

    /// The error of a skip asked for after the first read (or after a skip read as events).
    fn too_late(&self) -> IoError {
        IoError::File {
            path: std::path::PathBuf::from(&self.id),
            action: "skip rows in",
            source: std::io::Error::other("rows can only be skipped before the first read"),
        }
    }
}

impl Prefetched {
    /// Applies the source's policy to bad rows the engine has now passed; `keep`: kept for
    /// the ledger (not the rows skipped to resume).
    fn handle_bad_rows(&mut self, rows: Vec<RowError>, keep: bool) -> Result<(), IoError> {
        match &mut self.bad {
            Some(bad) => rows.into_iter().try_for_each(|row| bad.record(row, keep)),
            None => Ok(()),
        }
    }

    /// The next event, waiting at most `wait` for one when it is given (forever when not).
    fn receive(&mut self, wait: Option<Duration>) -> Result<Polled, IoError> {
        loop {
            if let Some(ReadAhead { event, bad_before, rows, bytes, mark }) = self.batch.next() {
                self.handle_bad_rows(bad_before, true)?;
                self.rows_consumed = rows;
                self.bytes_consumed = bytes;
                self.mark = mark;
                return Ok(Polled::Event(event));
            }
            self.start()?;
            let State::Running { receiver, thread, .. } = &mut self.state else { return Ok(Polled::Ended) };
            let message = match wait {
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(wait) => receiver.recv_timeout(wait),
            };
            let finish = |thread: &mut Option<JoinHandle<()>>| {
                if let Some(handle) = thread.take() {
                    let _ignored = handle.join();
                }
            };
            match message {
                Ok(Message::Skipped(rows)) => self.handle_bad_rows(rows, false)?,
                Ok(Message::Batch { events }) => {
                    self.batch = events.into_iter();
                }
                Ok(Message::End { bytes, tail, bad_after }) => {
                    self.tail = tail;
                    self.bytes_consumed = bytes;
                    finish(thread);
                    self.state = State::Done;
                    self.handle_bad_rows(bad_after, true)?;
                }
                Ok(Message::Failed { error, tail, bad_before }) => {
                    self.tail = tail;
                    finish(thread);
                    self.state = State::Done;
                    self.handle_bad_rows(bad_before, true)?;
                    return Err(error);
                }
                Err(RecvTimeoutError::Timeout) => return Ok(Polled::Pending),
                Err(RecvTimeoutError::Disconnected) => {
                    finish(thread);
                    self.state = State::Done;
                    return Err(IoError::File {
                        path: std::path::PathBuf::from(&self.id),
                        action: "read (the reading thread stopped)",
                        source: std::io::Error::other("the reading thread ended without a word"),
                    });
                }
            }
        }
    }
}

impl EventFeed for Prefetched {
    fn next_event(&mut self) -> Result<Option<SourceEvent>, IoError> {
        match self.receive(None)? {
            Polled::Event(event) => Ok(Some(event)),
            Polled::Ended | Polled::Pending => Ok(None),
        }
    }

    fn poll_event(&mut self, wait: Duration) -> Result<Polled, IoError> {
        self.receive(Some(wait))
    }

    fn is_live(&self) -> bool {
        self.live
    }

    fn take_tail(&mut self) -> FeedTail {
        std::mem::take(&mut self.tail)
    }

    fn rows_consumed(&self) -> u64 {
        self.rows_consumed
    }

    fn bytes_consumed(&self) -> u64 {
        self.bytes_consumed
    }

    fn skip_rows(&mut self, n: u64) -> Result<(), IoError> {
        match &mut self.state {
            State::Idle { skip, .. } => {
                *skip += n;
                self.rows_consumed += n;
                Ok(())
            }
            _ => Err(self.too_late()),
        }
    }

    fn skip_rows_quickly(&mut self, n: u64) -> Result<(), IoError> {
        match &mut self.state {
            State::Idle { skip: 0, pass, .. } => {
                *pass += n;
                self.rows_consumed += n;
                Ok(())
            }
            _ => Err(self.too_late()),
        }
    }

    fn skip_to(&mut self, rows: u64, mark: ReadMark) -> Result<(), IoError> {
        match &mut self.state {
            State::Idle { skip: 0, pass: 0, jump, .. } => {
                *jump = Some(mark);
                self.state_passed(rows);
                self.bytes_consumed = mark.bytes;
                self.mark = Some(mark);
                Ok(())
            }
            _ => Err(self.too_late()),
        }
    }

    fn read_mark(&self) -> Option<ReadMark> {
        self.mark
    }

    fn bad_rows(&self) -> u64 {
        match (&self.bad, &self.state) {
            (Some(bad), _) => bad.count(),
            (None, State::Idle { source, .. }) => source.bad_rows(),
            (None, _) => 0,
        }
    }

    fn bad_row_samples(&self) -> Vec<RowError> {
        match (&self.bad, &self.state) {
            (Some(bad), _) => bad.samples().to_vec(),
            (None, State::Idle { source, .. }) => source.bad_row_samples().to_vec(),
            (None, _) => Vec::new(),
        }
    }

    fn take_bad_rows(&mut self) -> Vec<RowError> {
        match (&mut self.bad, &mut self.state) {
            (Some(bad), _) => bad.take_kept(),
            (None, State::Idle { source, .. }) => source.take_bad_rows(),
            (None, _) => Vec::new(),
        }
    }

    /// Only before the reading thread starts (partitioned reading never starts it): the source
    /// applies its policy, and its counts and samples become the feed's.
    fn record_bad_rows(&mut self, rows: Vec<RowError>) -> Result<(), IoError> {
        let State::Idle { source, .. } = &mut self.state else { return Err(self.too_late()) };
        source.record_bad_rows(rows)
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn dispose(&mut self, record: Dynamic) {
        self.spent.push(record);
        if self.spent.len() < BATCH_EVENTS {
            return;
        }
        let batch = std::mem::replace(&mut self.spent, Vec::with_capacity(BATCH_EVENTS));
        if let State::Running { spent, .. } = &self.state {
            // A full channel or a thread gone: they are freed here instead.
            let _freed_here = spent.try_send(batch);
        }
    }
}
