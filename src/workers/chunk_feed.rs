//! Each worker's reading under partitioned reading (docs/workers.md#partitioned-reading): the
//! chunks `worker, worker + N, …` of the file, each parsed, posted, then tagged and sent as
//! one timely timestamp once every chunk before it is posted. Worker 0 also sends a resumed
//! run's states first and the end of input last, and hands the chunks' bad rows to its engine
//! in chunk order (counted, sampled and dead-lettered as one reading would).

use std::cell::RefCell;
use std::rc::Rc;

use timely::dataflow::{InputHandle, ProbeHandle};

use super::message::{Cut, EpochClock, Msg};
use super::partition::{ChunkRead, ChunkReader, ChunkedSource, Prefix};
use super::stage::{Plan, WorkerCounts};
use super::{Entries, Feeding, Shared};
use crate::engine::{Engine, RunError, source_entry};
use crate::graph::StreamRef;

/// How long a worker waiting for another's post parks at most before it looks again (a post
/// does not wake it; a message does).
const POST_POLL: std::time::Duration = std::time::Duration::from_micros(200);

/// A worker's timely worker.
type Worker = timely::worker::Worker<timely::communication::Allocator>;

/// One worker's reading of its chunks.
pub(super) struct ChunkFeed<'a> {
    /// The file's chunks and the workers' posts.
    pub partition: &'a ChunkedSource,
    /// The wiring the events enter.
    pub plan: &'a Plan,
    /// This worker's counters.
    pub counts: &'a Rc<RefCell<WorkerCounts>>,
    /// The run.
    pub shared: &'a Shared,
    /// Worker 0's: the writer's first failure, at which every worker stops reading.
    pub failure: Option<&'a Rc<RefCell<Option<RunError>>>>,
    /// Worker 0's: the engine, which applies the source's policy to the chunks' bad rows.
    pub engine: Option<&'a Rc<RefCell<Option<Engine>>>>,
}

impl ChunkFeed<'_> {
    /// Reads this worker's chunks into the dataflow (after `restore`, a resumed run's states);
    /// on worker 0, then waits for every chunk and ends the input when the reading reached
    /// the end of the file. Gives how the reading ended and what it read, all chunks told
    /// (worker 0's count).
    pub fn run(
        &self,
        worker: &mut Worker,
        data_in: &mut Entries,
        clock_in: &mut InputHandle<u64, EpochClock>,
        probe: &ProbeHandle<u64>,
        restore: Vec<Msg>,
    ) -> (Result<Feeding, RunError>, Prefix) {
        let (index, peers) = (worker.index(), worker.peers());
        let chunks = self.partition.chunks();
        let mut prefix = self.partition.before();
        for msg in restore {
            data_in.send(msg);
        }
        let mut reader = ChunkReader::default();
        for chunk in (index..chunks).step_by(peers) {
            data_in.advance_to(chunk as u64);
            clock_in.advance_to(chunk as u64);
            // At most two rounds of chunks in flight: memory stays bounded.
            let window = 2 * peers;
            while chunk >= window && probe.less_than(&((chunk + 1 - window) as u64)) {
                if !self.step(worker, true) {
                    return (Err(self.shared.abort_error()), prefix);
                }
            }
            if self.stopping() {
                break;
            }
            let read = self.partition.read(chunk, (self.shared.stop)(), &mut reader);
            while !self.advance(&mut prefix, chunk) && !self.stopping() {
                if !self.step(worker, false) {
                    return (Err(self.shared.abort_error()), prefix);
                }
            }
            // An earlier chunk ended the reading, or the writer failed: nothing more is sent.
            if prefix.ended || prefix.chunks < chunk || self.stopping() {
                break;
            }
            let ends = read.ends;
            let clock = self.send(&read, &mut reader, &prefix, data_in);
            clock_in.send(clock);
            let next = (chunk + peers).min(chunks) as u64;
            data_in.advance_to(next);
            clock_in.advance_to(next);
            if ends {
                break;
            }
        }
        if index != 0 {
            return (Ok(Feeding::Stopped), prefix);
        }
        // Worker 0: the reading ends at the file's end only if no chunk ended it before.
        while !self.advance(&mut prefix, chunks) && !self.stopping() {
            if !self.step(worker, false) {
                return (Err(self.shared.abort_error()), prefix);
            }
        }
        let (error, signalled) = self.partition.take_end();
        if let Some(error) = error {
            return (Err(error), prefix);
        }
        if signalled || prefix.ended || prefix.chunks < chunks || self.stopping() {
            return (Ok(Feeding::Stopped), prefix);
        }
        let end = chunks as u64;
        data_in.advance_to(end);
        clock_in.advance_to(end);
        clock_in.send(EpochClock::end_of_input(prefix.clock));
        data_in.advance_to(end + 1);
        clock_in.advance_to(end + 1);
        (Ok(Feeding::Ended), prefix)
    }

    /// Tags the events of a chunk whose first event follows `prefix` and sends them into the
    /// dataflow; gives the chunk's clock.
    fn send(
        &self,
        read: &ChunkRead,
        reader: &mut ChunkReader,
        prefix: &Prefix,
        data_in: &mut Entries,
    ) -> EpochClock {
        let first = prefix.events + 1;
        let mut clock =
            EpochClock { start: prefix.clock, first, last: prefix.events, ..EpochClock::default() };
        clock.origins.reserve(reader.events.len());
        let mut now = prefix.clock;
        let keyed = self.partition.keyed_step();
        for event in reader.events.drain(..) {
            let position = clock.last + 1;
            clock.last = position;
            // The replay clock: the greatest event time so far.
            if let Some(time) = event.time
                && now.is_none_or(|now| time > now)
            {
                now = Some(time);
                clock.changes.push((position, time));
            }
            clock.origins.push((0, event.line));
            let (from, item) = source_entry(keyed, 0, event.key, event.value);
            if let StreamRef::Step { step, .. } = from {
                let mut counts = self.counts.borrow_mut();
                counts.stats.steps[step].items_in += 1;
                counts.stats.steps[step].items_out += 1;
            }
            data_in.send_event(self.plan, self.counts, from, position, item, now);
        }
        // A snapshot after the chunk that reaches a multiple of the interval, or that a
        // signal ends.
        clock.snapshot = self
            .partition
            .snapshot_every
            .is_some_and(|every| read.signalled || (first - 1) / every.max(1) < clock.last / every.max(1));
        let rows = read.rows_through_last.map_or(prefix.rows, |rows| prefix.events + prefix.bad + rows);
        clock.cut = Some(Cut { rows, bytes: read.end_bytes.unwrap_or(prefix.bytes), clock: now });
        clock
    }

    /// Counts the posted chunks into `prefix` up to `upto` ([`ChunkedSource::advance`]); on
    /// worker 0, hands their bad rows to the engine, in file order (a dead-letter file that
    /// cannot be written is the run's failure).
    fn advance(&self, prefix: &mut Prefix, upto: usize) -> bool {
        let (Some(engine), Some(failure)) = (self.engine, self.failure) else {
            return self.partition.advance(prefix, upto, None);
        };
        let mut bad_rows = Vec::new();
        let counted = self.partition.advance(prefix, upto, Some(&mut bad_rows));
        if !bad_rows.is_empty()
            && let Some(engine) = engine.borrow_mut().as_mut()
            && let Err(error) = engine.record_bad_rows_read_in_chunks(0, bad_rows)
        {
            failure.borrow_mut().get_or_insert(error);
        }
        counted
    }

    /// Whether the reading stops: the writer failed (worker 0 sees it and tells the others).
    fn stopping(&self) -> bool {
        if self.failure.is_some_and(|failure| failure.borrow().is_some()) {
            self.partition.halt();
        }
        self.partition.is_halted() || self.shared.is_aborted()
    }

    /// Steps the worker while it waits: for its dataflow (`park`: it may sleep until a message
    /// comes), or for another worker's post (it does not sleep past a short wait for it).
    /// False once the run is aborted.
    fn step(&self, worker: &mut Worker, park: bool) -> bool {
        let stepped = if park {
            self.shared.step(worker)
        } else {
            worker.step_or_park(Some(POST_POLL));
            !self.shared.is_aborted()
        };
        if !stepped {
            self.partition.halt();
        }
        stepped
    }
}
