//! One step on one worker: its operator (holding the state of the keys this worker owns),
//! its timers, and the rules that make a worker's calls happen in the single-threaded run's
//! order (docs/workers.md#the-order-of-a-run).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::engine::{Routes, RunStats, Target, TimerWheel};
use crate::graph::{StreamRef, ValidGraph};
use crate::ops::{
    DropLedger, DropReason, DropSite, Item, Key, OpContext, Operator, Output, StepError, Timers,
};
use crate::script::{set_print_context, set_script_clock};

use super::message::{Dest, EpochClock, Msg, Packer, Tag};

/// What one worker counts for the summary, shared by its stages (one thread).
#[derive(Debug)]
pub(crate) struct WorkerCounts {
    /// Items per step and timers fired.
    pub stats: RunStats,
    /// Drops per step and reason.
    pub drops: DropLedger,
}

/// What every stage of a worker reads: the pipeline and its wiring.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The pipeline.
    pub graph: ValidGraph,
    /// Who reads what.
    pub routes: Routes,
}

/// A step's timers on this worker, at the step's topological position.
struct StageTimers<'a> {
    wheel: &'a mut TimerWheel,
    position: usize,
}

impl Timers for StageTimers<'_> {
    fn arm(&mut self, key: &Key, due: i64) {
        self.wheel.arm(self.position, key, due);
    }

    fn cancel(&mut self, key: &Key) {
        self.wheel.cancel(self.position, key);
    }
}

/// One step on one worker.
pub(crate) struct Stage {
    step: usize,
    op: Box<dyn Operator>,
    wheel: TimerWheel,
    plan: Arc<Plan>,
    counts: Rc<RefCell<WorkerCounts>>,
    /// The replay clock as of the last batch this stage went through.
    clock: Option<i64>,
    /// A keyed stage that failed handles nothing more (everything after its failure comes
    /// later in the order, and the writer stops at the failure).
    failed: bool,
    /// The buffer a call's outputs go to, kept from call to call.
    outputs: Vec<Output>,
}

impl Stage {
    /// The stage of `step`, running `op`.
    pub fn new(
        step: usize,
        op: Box<dyn Operator>,
        plan: Arc<Plan>,
        counts: Rc<RefCell<WorkerCounts>>,
    ) -> Self {
        Stage {
            step,
            op,
            wheel: TimerWheel::default(),
            plan,
            counts,
            clock: None,
            failed: false,
            outputs: Vec::new(),
        }
    }

    /// Whether this step keeps state per key (its items wait for their whole batch and are
    /// handled in order).
    pub fn is_keyed(&self) -> bool {
        self.plan.graph.doc.steps[self.step].op.is_stateful()
    }

    /// The step's index.
    pub fn step(&self) -> usize {
        self.step
    }

    fn position(&self) -> usize {
        self.plan.routes.positions[self.step]
    }

    /// Where a `print` of the step's next call says it came from (steps whose script cannot
    /// print pay nothing).
    fn print_context(&self, key: Option<&Key>, event: u64) {
        if let Some(Some(id)) = self.plan.routes.print_ids.get(self.step) {
            set_print_context(id, key, event);
        }
    }

    /// Handles one item sent to this step; what it emits goes to `out`.
    pub fn item(&mut self, msg: Msg, out: &mut Packer) {
        if self.failed {
            return;
        }
        let Dest::Step { input, .. } = msg.to else { return };
        self.counts.borrow_mut().stats.steps[self.step].items_in += 1;
        let item = Item { key: msg.key, value: msg.value };
        #[cfg(test)]
        super::tests::panic_if_asked(&self.plan.graph.doc.steps[self.step].id, item.key.as_ref());
        self.print_context(item.key.as_ref(), msg.tag.position);
        let tag = msg.tag;
        let result = self
            .call(msg.clock, tag.position, |op, ctx, outputs| op.on_item(ctx, input as usize, item, outputs));
        self.emit(result, &tag, msg.clock, out);
    }

    /// Goes through one whole batch in the run's order: before each event position, this
    /// worker's timers of this step that the clock made due, interleaved with the items
    /// by their tags; then the items; at end of input, the step's end.
    /// (`items` is left empty, its buffer kept for the next batch.)
    pub fn batch(&mut self, items: &mut Vec<Msg>, clock: &EpochClock, out: &mut Packer) {
        if clock.start.is_some() {
            self.clock = clock.start;
        }
        if items.iter().any(|msg| matches!(msg.to, Dest::Restore { .. } | Dest::RestoreTimer { .. })) {
            *items = self.restore(std::mem::take(items), out);
        }
        items.sort_by(|a, b| a.tag.cmp(&b.tag));
        let mut items = items.drain(..).peekable();
        let step_position = self.position() as u32;
        let mut changes = clock.changes.iter().peekable();
        for position in clock.first..=clock.last {
            while let Some(&&(at, now)) = changes.peek()
                && at <= position
            {
                self.clock = Some(now);
                changes.next();
            }
            if let Some(now) = self.clock
                && self.wheel.next_due().is_some_and(|due| due <= now)
            {
                for entry in self.wheel.due_up_to(now) {
                    let tag = Tag::timer(position, entry.due, step_position, entry.key.clone());
                    while let Some(msg) = items.next_if(|msg| msg.tag < tag) {
                        self.item(msg, out);
                    }
                    if self.failed || !self.wheel.take_if_current(&entry) {
                        continue;
                    }
                    self.counts.borrow_mut().stats.timers_fired += 1;
                    self.print_context(Some(&entry.key), position);
                    let key = entry.key;
                    let result =
                        self.call(self.clock, position, |op, ctx, outputs| op.on_notify(ctx, &key, outputs));
                    self.emit(result, &tag, self.clock, out);
                }
            }
            while let Some(msg) = items.next_if(|msg| msg.tag.position <= position) {
                self.item(msg, out);
            }
        }
        if clock.end {
            let end = Tag::end(step_position, None);
            while let Some(msg) = items.next_if(|msg| msg.tag < end) {
                self.item(msg, out);
            }
            self.end(out);
        }
        for msg in items {
            self.item(msg, out);
        }
        if clock.snapshot {
            self.snapshot(out);
        }
    }

    /// Takes this worker's keys' states and timers from the snapshot the run resumes from
    /// (the first batch brings them); gives back the other items.
    fn restore(&mut self, items: Vec<Msg>, out: &mut Packer) -> Vec<Msg> {
        let (mut states, mut timers, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for msg in items {
            match (msg.to, msg.key) {
                (Dest::Restore { .. }, Some(key)) => states.push((key, msg.value)),
                (Dest::RestoreTimer { due, .. }, Some(key)) => timers.push((due, key)),
                (to, key) => rest.push(Msg { to, key, ..msg }),
            }
        }
        states.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        set_script_clock(self.clock);
        if !states.is_empty()
            && let Err(error) = self.op.restore(states)
        {
            self.fail(error, &Tag::event(0), out);
        }
        for (due, key) in timers {
            self.wheel.arm(self.position(), &key, due);
        }
        rest
    }

    /// Sends this worker's keys' `snapshot()` values and pending timers to the writer, which
    /// writes the run's snapshot (docs/workers.md#snapshots).
    fn snapshot(&mut self, out: &mut Packer) {
        if self.failed {
            return;
        }
        set_script_clock(self.clock);
        let step = self.step as u32;
        let message = Msg::snapshot_entry;
        match self.op.snapshot() {
            Ok(states) => {
                states
                    .into_iter()
                    .for_each(|(key, value)| out.add(message(Dest::State { step }, key, value)));
            }
            Err(error) => {
                self.fail(error, &Tag::end(self.position() as u32, None), out);
                return;
            }
        }
        for entry in self.wheel.pending() {
            out.add(message(Dest::Timer { step, due: entry.due }, entry.key, rhai::Dynamic::UNIT));
        }
    }

    /// End of input: the step's `on_eof` (its outputs in key order), then its pending timers
    /// counted as dropped.
    fn end(&mut self, out: &mut Packer) {
        if self.failed {
            return;
        }
        self.print_context(None, u64::MAX);
        let step_position = self.position() as u32;
        match self.call(self.clock, u64::MAX, |op, ctx, outputs| op.on_eof(ctx, outputs)) {
            Ok(outputs) => {
                // Outputs come grouped by key in key order: each is placed by its key, then
                // its rank among that key's outputs.
                let mut rank = 0;
                let mut last_key: Option<Key> = None;
                self.counts.borrow_mut().stats.steps[self.step].items_out += outputs.len() as u64;
                for output in outputs {
                    if last_key != output.item.key {
                        rank = 0;
                        last_key.clone_from(&output.item.key);
                    }
                    let tag = Tag::end(step_position, output.item.key.clone());
                    self.fan_out(&tag, rank, output, self.clock, out);
                    rank += 1;
                }
            }
            Err(error) => self.fail(error, &Tag::end(step_position, None), out),
        }
        let pending: Vec<_> = self.wheel.pending().collect();
        let mut counts = self.counts.borrow_mut();
        for entry in pending {
            counts.drops.drop_at(
                DropSite::Step(self.step),
                DropReason::PendingTimer,
                Some(&entry.key),
                || rhai::Dynamic::UNIT,
            );
        }
    }

    /// Runs one operator call with this step's context at `position`'s clock.
    fn call(
        &mut self,
        now: Option<i64>,
        position: u64,
        call: impl FnOnce(&mut dyn Operator, &mut OpContext<'_>, &mut Vec<Output>) -> Result<(), StepError>,
    ) -> Result<Vec<Output>, StepError> {
        set_script_clock(now);
        let mut outputs = std::mem::take(&mut self.outputs);
        outputs.clear();
        let position_in_order = self.position();
        let mut counts = self.counts.borrow_mut();
        counts.drops.step = self.step;
        counts.drops.event = position;
        let mut timers = StageTimers { wheel: &mut self.wheel, position: position_in_order };
        let mut ctx = OpContext { now, timers: &mut timers, drops: &mut counts.drops };
        call(self.op.as_mut(), &mut ctx, &mut outputs)?;
        Ok(outputs)
    }

    /// Sends a call's outputs on, or its failure.
    fn emit(
        &mut self,
        result: Result<Vec<Output>, StepError>,
        tag: &Tag,
        clock: Option<i64>,
        out: &mut Packer,
    ) {
        match result {
            Ok(mut outputs) => {
                self.counts.borrow_mut().stats.steps[self.step].items_out += outputs.len() as u64;
                for (index, output) in outputs.drain(..).enumerate() {
                    self.fan_out(tag, index as u32, output, clock, out);
                }
                self.outputs = outputs;
            }
            Err(error) => self.fail(error, tag, out),
        }
    }

    /// The failure at `tag`, sent to the writer (which names its event's source line); a
    /// keyed stage stops.
    fn fail(&mut self, error: StepError, tag: &Tag, out: &mut Packer) {
        if self.is_keyed() {
            self.failed = true;
        }
        out.add(Msg {
            tag: tag.clone(),
            to: Dest::Failed(Box::new(error)),
            clock: None,
            key: None,
            route_key: None,
            value: rhai::Dynamic::UNIT,
        });
    }

    /// Delivers output number `index` of a call at `tag` to each reader of its port.
    fn fan_out(&mut self, tag: &Tag, index: u32, output: Output, clock: Option<i64>, out: &mut Packer) {
        let from = StreamRef::Step { step: self.step, port: output.port };
        let mut drops = Drops { counts: &self.counts, step: self.step };
        deliver(&self.plan.routes, from, tag, index, output.item, clock, &mut drops, out);
    }
}

/// Where an item nothing reads is counted.
pub(crate) struct Drops<'a> {
    /// The worker's counters.
    pub counts: &'a Rc<RefCell<WorkerCounts>>,
    /// The step whose port nothing reads.
    pub step: usize,
}

/// Sends `item`, output number `index` of a call at `tag` on stream `from`, to each of the
/// stream's readers in order, as the engine's delivery does (a merge with an unkeyed output
/// takes `[key, value]`; an output nothing reads is counted as dropped).
#[expect(clippy::too_many_arguments, reason = "one delivery's whole context")]
pub(crate) fn deliver(
    routes: &Routes,
    from: StreamRef,
    tag: &Tag,
    index: u32,
    item: Item,
    clock: Option<i64>,
    drops: &mut Drops<'_>,
    out: &mut Packer,
) {
    let targets = routes.targets(from);
    let mut item = Some(item);
    for (reader, target) in targets.iter().enumerate() {
        let this = if reader + 1 == targets.len() { item.take() } else { item.clone() };
        let Some(this) = this else { break };
        let tag = tag.child(index, reader as u32);
        match *target {
            Target::Step { step, input } => {
                let this = if routes.unkeys_input[step] && this.key.is_some() {
                    Item::plain(this.into_script_arg())
                } else {
                    this
                };
                let to = Dest::Step { step: step as u32, input: input as u32 };
                out.add(Msg { tag, to, clock, key: this.key, route_key: None, value: this.value });
            }
            Target::Sink(sink) => {
                let to = Dest::Sink { sink: sink as u32, from: from.into() };
                out.add(Msg { tag, to, clock, key: this.key, route_key: None, value: this.value });
            }
            Target::Unread => {
                let mut counts = drops.counts.borrow_mut();
                let site = DropSite::Step(drops.step);
                counts.drops.drop_at(site, DropReason::NoSink, this.key.as_ref(), || this.value);
            }
        }
    }
}
