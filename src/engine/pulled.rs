//! What a run spread over several workers (`src/workers`, docs/workers.md) needs of the
//! engine: the sources read and merged one event at a time without running the steps, the
//! wiring between steps, sinks written from outside, the steps built again for each worker,
//! and the workers' counters added back for the summary.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{CheckedScripts, Engine, Next, RunError, RunStats, Target, ValidGraph, script_limits};
use crate::graph::{OpKind, StreamRef};
use crate::ops::{DropLedger, Item, Operator, StepError};
use crate::script::ScriptHost;

/// The wiring of a pipeline, as the engine built it: who reads each source and each step's
/// ports, in delivery order.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    /// Per source: its readers.
    pub source_targets: Vec<Vec<Target>>,
    /// Per step, per output port: its readers (`Unread` for a port nothing reads).
    pub step_targets: Vec<[Vec<Target>; 2]>,
    /// Per step: a merge whose output is unkeyed (a keyed item entering becomes `[key, value]`).
    pub unkeys_input: Vec<bool>,
    /// Step index → position in the topological order.
    pub positions: Vec<usize>,
    /// Per step: its id when its script can `print`.
    pub print_ids: Vec<Option<Arc<str>>>,
    /// Per source: the fields its records keep, when they are projected.
    pub projections: Vec<Option<BTreeSet<String>>>,
}

impl Routes {
    /// The wiring of `graph` (no projections: those depend on the sources opened).
    pub fn of(graph: &ValidGraph) -> Self {
        let doc = &graph.doc;
        let mut positions = vec![0; doc.steps.len()];
        for (position, &step) in graph.order.iter().enumerate() {
            positions[step] = position;
        }
        let mut source_targets = vec![Vec::new(); doc.sources.len()];
        let mut step_targets = vec![[Vec::new(), Vec::new()]; doc.steps.len()];
        let mut add = |from: StreamRef, target: Target| match from {
            StreamRef::Source(s) => source_targets[s].push(target),
            StreamRef::Step { step, port } => step_targets[step][port.min(1)].push(target),
        };
        // Consumers in file order: steps first, then sinks.
        for (step, inputs) in graph.step_inputs.iter().enumerate() {
            for (input, from) in inputs.iter().enumerate() {
                add(*from, Target::Step { step, input });
            }
        }
        for (sink, inputs) in graph.sink_inputs.iter().enumerate() {
            for from in inputs {
                add(*from, Target::Sink(sink));
            }
        }
        // An output nothing reads (a branch's `falses` included) drops what it carries.
        for (step, ports) in step_targets.iter_mut().enumerate() {
            let port_count = if doc.steps[step].op == OpKind::Branch { 2 } else { 1 };
            for port in ports.iter_mut().take(port_count) {
                if port.is_empty() {
                    port.push(Target::Unread);
                }
            }
        }
        let unkeys_input = doc
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| s.op == OpKind::Merge && !graph.step_keyed[i])
            .collect();
        let print_ids = doc
            .steps
            .iter()
            .map(|step| {
                let prints =
                    step.script.as_deref().is_some_and(|s| s.contains("print") || s.contains("debug"));
                prints.then(|| Arc::from(step.id.as_str()))
            })
            .collect();
        Routes {
            source_targets,
            step_targets,
            unkeys_input,
            positions,
            print_ids,
            projections: vec![None; doc.sources.len()],
        }
    }

    /// The readers of a stream.
    pub fn targets(&self, from: StreamRef) -> &[Target] {
        match from {
            StreamRef::Source(source) => &self.source_targets[source],
            StreamRef::Step { step, port } => &self.step_targets[step][port.min(1)],
        }
    }
}

/// One source event as [`Engine::pull_event`] read it: where it enters the dataflow and the
/// clock after it.
#[derive(Debug)]
pub(crate) struct Pulled {
    /// The source it came from.
    pub source: usize,
    /// Its line (or record number) in that source.
    pub line: u64,
    /// The replay clock once it is taken.
    pub clock: Option<i64>,
    /// The stream it enters on: the source, or the `key_on` the source keyed it for.
    pub from: StreamRef,
    /// The event.
    pub item: Item,
}

/// Builds every step's operator with its script (the check's compiled scripts when they
/// match `options`); also says how many scripts it compiled.
pub(crate) fn build_ops(
    graph: &ValidGraph,
    options: &super::EngineOptions,
) -> Result<(Vec<Box<dyn Operator>>, usize), RunError> {
    let limits = script_limits(options.limits, &graph.doc.limits);
    let host = ScriptHost::new(limits).with_fast_path(!options.rhai_only);
    // The check's scripts, when they were compiled as this host would compile them.
    let checked = graph
        .compiled
        .get::<CheckedScripts>()
        .filter(|checked| checked.limits == limits && !options.rhai_only);
    let mut ops = Vec::with_capacity(graph.doc.steps.len());
    let mut compiled = 0;
    for (i, step) in graph.doc.steps.iter().enumerate() {
        let script = match checked.and_then(|checked| checked.scripts.get(i)) {
            Some(Some(script)) => Ok(Some(script.clone())),
            _ => {
                compiled += usize::from(step.script.is_some());
                crate::ops::compile_script(&host, step)
            }
        };
        let op = script
            .and_then(|script| {
                crate::ops::build_with(step, script, graph.step_inputs[i].len(), graph.timeouts_micros[i])
            })
            .map_err(|error| RunError::Step { error, at: None })?;
        ops.push(op);
    }
    Ok((ops, compiled))
}

/// A step's error, located at the source line of the event being processed (`at`: source
/// index and line), as every run reports it. When that source projects its records
/// (`projections`), the item the error shows is the whole record, read again from the file.
pub(crate) fn step_error_at(
    graph: &ValidGraph,
    projections: &[Option<BTreeSet<String>>],
    mut error: StepError,
    at: Option<(usize, u64)>,
) -> RunError {
    if let (Some((source, line)), Some(context)) = (at, &error.context)
        && let Some(Some(fields)) = projections.get(source)
    {
        error.context = Some(whole_record_context(graph, source, line, fields, context));
    }
    let at = at.map(|(source, line)| {
        let spec = &graph.doc.sources[source];
        format!("source `{}` ({}), line {line}", spec.id, graph.resolve(&spec.path).display())
    });
    RunError::Step { error, at }
}

/// An error's context as it would read had the source not projected its records: the item a
/// step saw is the projected record, so its preview is replaced by the whole record's, read
/// again from the file (the error path only).
fn whole_record_context(
    graph: &ValidGraph,
    source: usize,
    line: u64,
    fields: &BTreeSet<String>,
    context: &str,
) -> String {
    let spec = &graph.doc.sources[source];
    let Some(record) = crate::io::Source::reread_record(spec, &graph.base_dir, line) else {
        return context.to_owned();
    };
    let projected = format!("item {}", crate::value::preview(&crate::io::project_record(&record, fields)));
    match context.strip_suffix(&projected) {
        Some(head) => format!("{head}item {}", crate::value::preview(&record)),
        None => context.to_owned(),
    }
}

impl Engine {
    /// The wiring the engine delivers items by.
    pub(crate) fn routes(&self) -> Routes {
        Routes {
            source_targets: self.source_targets.clone(),
            step_targets: self.step_targets.clone(),
            unkeys_input: self.unkeys_input.clone(),
            positions: self.positions.clone(),
            print_ids: self.print_ids.clone(),
            projections: self.projections.clone(),
        }
    }

    /// Reads the next source event (sources merged as [`Engine::step`] merges them) and
    /// advances the clock to it, without running any step; `None` at end of input. For a
    /// pipeline without live sources or recordings (docs/workers.md).
    pub(crate) fn pull_event(&mut self) -> Result<Option<Pulled>, RunError> {
        if self.ended {
            return Ok(None);
        }
        self.drops.event = self.stats.events_in + 1;
        if let Some(error) = self.read_ahead_error.take() {
            return Err(error);
        }
        let index = match self.next_source(None)? {
            Next::Source(index) => index,
            Next::Ended | Next::Pending => return Ok(None),
        };
        let Some(event) = self.sources[index].head.take() else { return Ok(None) };
        self.clock.advance(event.time);
        self.stats.events_in += 1;
        self.stats.per_source[index] += 1;
        let (from, item) = source_entry(self.keyed_by_source[index], index, event.key, event.value);
        if let StreamRef::Step { step, .. } = from {
            self.stats.steps[step].items_in += 1;
            self.stats.steps[step].items_out += 1;
        }
        Ok(Some(Pulled { source: index, line: event.line, clock: self.clock.now(), from, item }))
    }

    /// After [`Engine::pull_event`] returned `None`: the sources' tails, then the sinks
    /// flushed; the engine has ended.
    pub(crate) fn end_pulled_input(&mut self) -> Result<(), RunError> {
        self.finish_tails()?;
        self.ended = true;
        self.flush()
    }

    /// Writes an item that reached sink `sink` from stream `from`.
    pub(crate) fn write_pulled(&mut self, sink: usize, item: &Item, from: StreamRef) -> Result<(), RunError> {
        self.write_sink(sink, item, from)
    }

    /// A snapshot at a cut of a run whose only source was read in chunks by the workers
    /// (docs/workers.md#partitioned-reading), not by this engine: `events_in` events read,
    /// `rows` rows of the source's file read (the events and the bad rows before the last of
    /// them), through `bytes`, the clock at `clock`.
    pub(crate) fn snapshot_at_cut(
        &mut self,
        steps: std::collections::BTreeMap<String, Vec<(crate::ops::Key, rhai::Dynamic)>>,
        timers: Vec<super::SnapshotTimer>,
        events_in: u64,
        (rows, bytes): (u64, u64),
        clock: Option<i64>,
    ) -> Result<super::EngineSnapshot, RunError> {
        let mut snapshot = self.snapshot_with(steps, timers)?;
        snapshot.events_in = events_in;
        snapshot.clock = clock;
        snapshot.source_rows.values_mut().for_each(|read| *read = rows);
        snapshot.source_bytes.values_mut().for_each(|read| *read = bytes);
        Ok(snapshot)
    }

    /// Counts `events` events of source `source` that the workers read in chunks (this engine
    /// did not), the clock after them at `clock`, so that the summary covers them.
    pub(crate) fn count_read_in_chunks(&mut self, source: usize, events: u64, clock: Option<i64>) {
        self.stats.events_in += events;
        if let Some(read) = self.stats.per_source.get_mut(source) {
            *read += events;
        }
        self.clock.advance(clock);
    }

    /// Applies source `source`'s bad-row policy to bad rows the workers read in chunks, in
    /// file order (counted, sampled, dead-lettered as if this engine had read them), so that
    /// the summary and the dead-letter file are one reading's.
    pub(crate) fn record_bad_rows_read_in_chunks(
        &mut self,
        source: usize,
        rows: Vec<crate::io::RowError>,
    ) -> Result<(), RunError> {
        let Some(slot) = self.sources.get_mut(source) else { return Ok(()) };
        let source_id = slot.source.id().to_owned();
        slot.source.record_bad_rows(rows).map_err(|error| match error {
            crate::io::IoError::Row(error) => RunError::BadRow { source_id, error },
            other => other.into(),
        })
    }

    /// Adds what a worker counted (items per step, timers fired, drops) to this engine's
    /// counters, so that the summary covers the whole run.
    pub(crate) fn add_worker_counts(&mut self, stats: &RunStats, drops: &DropLedger) {
        for (mine, theirs) in self.stats.steps.iter_mut().zip(&stats.steps) {
            mine.items_in += theirs.items_in;
            mine.items_out += theirs.items_out;
        }
        self.stats.timers_fired += stats.timers_fired;
        self.drops.add_counts(drops);
    }
}

/// Where an event of source `source` enters the graph, and as what: past the `key_on` step
/// `keyed` whose key field the source read itself (that step's work done: it counts the item
/// in and out), else at the source, unkeyed.
pub(crate) fn source_entry(
    keyed: Option<usize>,
    source: usize,
    key: Option<crate::ops::Key>,
    value: rhai::Dynamic,
) -> (StreamRef, Item) {
    match (keyed, key) {
        (Some(step), Some(key)) => (StreamRef::Step { step, port: 0 }, Item::keyed(key, value)),
        _ => (StreamRef::Source(source), Item::plain(value)),
    }
}
