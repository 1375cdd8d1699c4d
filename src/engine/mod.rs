//! The executor: compiles a [`ValidGraph`] into a dataflow and runs it, one source event (with
//! the timers it makes due) at a time, deterministically. No threads, no UI: the runner and the
//! workbench's session both drive [`Engine::step`].
//!
//! Entry points: [`check`] (validate + compile every script, all problems at once),
//! [`Engine::new`], [`Engine::step`], [`Engine::run_to_end`], [`Engine::snapshot`],
//! [`Engine::restore`], and [`run_captured`] for tests.

mod background;
mod clock;
mod deep_json;
mod error;
mod ledger_line;
mod output_hashes;
mod prefetch;
mod pulled;
mod run;
mod snapshot;
mod snapshot_file;
mod source_digest;
mod stats;
mod summary;
mod time_queue;
mod timers;
mod trace;
mod untraced_projection;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rhai::Dynamic;

use crate::graph::{
    CompiledArtifacts, GraphError, GraphErrors, LimitsSpec, OpKind, PipelineDoc, Place, SinkFormat,
    StreamRef, ValidGraph,
};
use crate::io::{
    CaptureHandle, CaptureSink, CheckedSink, EventFeed, IoError, Polled, Recorder, Sink, Source, SourceEvent,
    open_sink,
};
use crate::ops::{
    DropLedger, DropReason, DropSite, Dropped, Item, Key, OpContext, Operator, Output, ValueUse,
};
use crate::script::{ScriptHost, ScriptLimits, set_print_context, set_script_clock};

pub use background::{BackgroundRun, RunOutcome, RunProgress, RunReport, thousands};
pub use clock::{Clock, WallClock};
pub use error::RunError;
pub use ledger_line::write_ledger_line;
pub use output_hashes::{OutputHash, OutputHasher};
pub use prefetch::Prefetched;
pub(crate) use pulled::{Routes, build_ops, source_entry, step_error_at};
pub use run::{load_and_check, load_and_check_with, run_captured};
pub use snapshot::{EngineSnapshot, Keyframe, SnapshotTimer};
pub use snapshot_file::{
    ResumePoint, SNAPSHOT_FORMAT_VERSION, SnapshotWriter, fingerprint, pipeline_hash, read_snapshot_file,
    resolve_snapshot_path,
};
pub use stats::{RunStats, StepStats};
pub use summary::run_summary;
pub use timers::{TimerEntry, TimerWheel};
pub use trace::{TraceEvent, TraceKind, TracedValue};

use timers::StepTimers;

/// How many end-of-input outputs a runner takes from a step at a time
/// (docs/architecture.md#end-of-input-in-parts): enough to keep the per-part cost unseen,
/// few enough that they take a few hundred KB.
const EOF_PART: usize = 4096;

/// Wraps an opened source into the feed the engine reads (a runner's read-ahead, say).
pub type FeedWrapper = fn(Source) -> Box<dyn EventFeed>;

/// How an engine is set up.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Limits for every script call; what the pipeline file's `[limits]` table sets replaces
    /// them ([`script_limits`]).
    pub limits: ScriptLimits,
    /// Capture every sink in memory instead of writing files and stdout.
    pub capture_sinks: bool,
    /// Write no sink, keep no line: every item is only checked to have the JSON form a file
    /// sink needs, and counted (the workbench, which shows counts and errors, never lines).
    /// `capture_sinks` wins when both are set.
    pub check_sinks: bool,
    /// How sources are read: directly when `None`.
    pub feed: Option<FeedWrapper>,
    /// Leave out of each source record the fields no step can read (a runner's speed-up;
    /// unobservable in the outputs, but a workbench showing records wants them whole). Also
    /// lets a join read only by JSON sinks write its rows (docs/architecture.md#written-rows).
    pub prune_fields: bool,
    /// What `clock = wall` reads instead of the machine's clock (a mock, for tests).
    pub wall_clock: Option<WallClock>,
    /// Run every script function in the Rhai interpreter, none on the fast path (outputs are
    /// the same; `eddy bench` quotes the fast path's gain with it).
    pub rhai_only: bool,
    /// A stdout sink keeps its latest N lines in memory ([`Engine::captured`]) instead of
    /// writing to this process's standard output: the workbench's *Run*, whose standard
    /// output nobody sees, shows them in its Run tab.
    pub stdout_tail: Option<usize>,
    /// Keep the text each live source's event was read from, for a recording
    /// ([`Engine::record_to`]).
    pub record_live: bool,
    /// While the trace leaves items out ([`Engine::set_trace_items`]), leave out of each
    /// source record the fields no step can read (the workbench's fast play: nobody sees
    /// those records). Off for `eddy diff`, whose two sides must carry the same records.
    pub project_untraced: bool,
    /// Record each dropped item in the ledger (docs/ledger.md), keeping the latest N
    /// (`usize::MAX`: all, for a reader that takes them after each step,
    /// [`Engine::take_dropped`]); `None`: drops are only counted.
    pub record_drops: Option<usize>,
}

/// What one [`Engine::step_live`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStep {
    /// An event (or the end of input), as [`Engine::step`] says.
    Stepped(StepOutcome),
    /// No event came in time; in wall mode, the timers due by the machine's clock fired.
    Idle,
}

/// Which source the next event comes from.
enum Next {
    /// This source's head.
    Source(usize),
    /// Every source has ended.
    Ended,
    /// A live source has not sent its next row yet, and no other source has one.
    Pending,
}

/// What one [`Engine::step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// One source event (and the timers it made due) went through the dataflow.
    Event {
        /// Index of the source it came from.
        source: usize,
        /// Its line in the source file.
        line: u64,
    },
    /// Input ended: every step ran its end-of-input, and the sinks were flushed.
    Ended,
    /// Nothing left to do: the run had ended already.
    Finished,
}

/// Where an item goes: a step's input, or a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Step {
        step: usize,
        input: usize,
    },
    Sink(usize),
    /// Nothing reads this output: what it carries is dropped (docs/ledger.md#reasons: no_sink).
    Unread,
}

struct SourceSlot {
    source: Box<dyn EventFeed>,
    head: Option<SourceEvent>,
    exhausted: bool,
}

struct SinkSlot {
    id: String,
    sink: Box<dyn Sink>,
}

/// The limits a pipeline's script calls run under: `base` (the engine options'), with what
/// the file's `[limits]` table sets in its place (the table was checked when read; a setting
/// that is still out of range keeps the base's value).
pub fn script_limits(base: ScriptLimits, spec: &LimitsSpec) -> ScriptLimits {
    let mut limits = base;
    if let Some(Ok(micros)) = spec.call_timeout_micros() {
        limits.call_timeout = std::time::Duration::from_micros(micros.unsigned_abs());
    }
    if let Some(Ok(bytes)) = spec.call_memory.as_ref().map(|s| s.bytes()) {
        limits.call_memory = bytes;
    }
    if let Some(Ok(bytes)) = spec.max_string_size.as_ref().map(|s| s.bytes()) {
        limits.max_string_size = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(Ok(n)) = spec.count("max_depth") {
        limits.max_depth = size(n);
    }
    if let Some(Ok(n)) = spec.count("max_operations") {
        limits.max_operations = n;
    }
    if let Some(Ok(n)) = spec.count("max_call_levels") {
        limits.max_call_levels = size(n);
    }
    if let Some(Ok(n)) = spec.count("max_array_size") {
        limits.max_array_size = size(n);
    }
    if let Some(Ok(n)) = spec.count("max_map_size") {
        limits.max_map_size = size(n);
    }
    limits
}

/// Validates a document and compiles every step's script, reporting all problems at once:
/// structural ones, then each script that does not compile or lacks a function it needs.
pub fn check(doc: &PipelineDoc, base_dir: &std::path::Path) -> Result<ValidGraph, GraphErrors> {
    let structural = crate::graph::validate(doc, base_dir);
    let host = ScriptHost::new(script_limits(ScriptLimits::default(), &doc.limits));
    let mut problems = match &structural {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.clone(),
    };
    let mut scripts = Vec::with_capacity(doc.steps.len());
    for step in &doc.steps {
        if step.script.is_none() && !matches!(step.op, OpKind::Stateful | OpKind::StatefulBatch) {
            scripts.push(None);
            continue;
        }
        let inputs = step.inputs.len();
        let compiled = crate::ops::compile_script(&host, step);
        scripts.push(compiled.as_ref().ok().cloned().flatten());
        if let Err(e) = compiled.and_then(|script| crate::ops::build_with(step, script, inputs, None)) {
            if step.script.is_none() {
                continue; // already reported by validation as a missing script
            }
            problems.push(GraphError {
                place: Place::Step(step.id.clone()),
                kind: crate::graph::ProblemKind::Other,
                field: Some("script".into()),
                script_position: e.position,
                message: match &e.function {
                    Some(f) if !e.message.contains(&format!("`{f}`")) => format!("in `{f}`: {}", e.message),
                    _ => e.message,
                },
            });
        }
    }
    match structural {
        Ok(mut graph) if problems.is_empty() => {
            graph.compiled = CompiledArtifacts::new(CheckedScripts { limits: host.limits(), scripts });
            Ok(graph)
        }
        _ => Err(GraphErrors(problems)),
    }
}

/// The scripts [`check`] compiled, per step, and the limits they were compiled with: what
/// [`Engine::new`] reuses (through [`ValidGraph::compiled`]) when its own host would compile
/// them alike, so that a checked pipeline's scripts are compiled once.
struct CheckedScripts {
    /// The limits of the host that compiled them.
    limits: ScriptLimits,
    /// Per step: its compiled script, if it has one.
    scripts: Vec<Option<crate::script::Script>>,
}

/// The fields of the values sent to `targets` that can ever be read, or `None` when the
/// whole value may be (a sink, a script, anything not known to read only fields).
fn needed_fields(
    ops: &[Box<dyn Operator>],
    step_targets: &[[Vec<Target>; 2]],
    targets: &[Target],
) -> Option<std::collections::BTreeSet<String>> {
    let mut fields = std::collections::BTreeSet::new();
    for target in targets {
        let step = match *target {
            Target::Step { step, .. } => step,
            Target::Unread => continue,
            Target::Sink(_) => return None,
        };
        match ops[step].value_use() {
            ValueUse::Whole => return None,
            ValueUse::Reads(read) => fields.extend(read),
            ValueUse::Forwards(read) => {
                fields.extend(read);
                fields.extend(needed_fields(ops, step_targets, &step_targets[step][0])?);
            }
        }
    }
    Some(fields)
}

/// A running pipeline.
pub struct Engine {
    graph: ValidGraph,
    ops: Vec<Box<dyn Operator>>,
    /// Step index → position in the topological order.
    positions: Vec<usize>,
    source_targets: Vec<Vec<Target>>,
    /// Per step, per output port.
    step_targets: Vec<[Vec<Target>; 2]>,
    /// Merges whose output is unkeyed: keyed items entering become `[key, value]`.
    unkeys_input: Vec<bool>,
    /// Per step: whether it emits the value of an (unkeyed, keyed) item unchanged on port 0
    /// (`key_on` on an unkeyed stream, `filter_value`), so that the trace shares its copy of
    /// the value in and out.
    passes_value: Vec<(bool, bool)>,
    /// Per step: whether its outputs may carry shared parts (a join's rows share its
    /// records, docs/architecture.md#shared-parts), unshared before a step receives them.
    shares_parts: Vec<bool>,
    /// Per step: whether it emits its rows written (docs/architecture.md#written-rows): read
    /// only by JSON sinks, which splice them; made ordinary for anything else.
    writes_rows: Vec<bool>,
    sources: Vec<SourceSlot>,
    /// Per source: the `key_on` step whose key the source reads itself.
    keyed_by_source: Vec<Option<usize>>,
    /// Per source: the fields its records keep, when they are projected.
    projections: Vec<Option<std::collections::BTreeSet<String>>>,
    /// Per source: the fields its records keep while the trace leaves items out, when they
    /// are projected then (see `untraced_projection.rs`).
    untraced_fields: Vec<Option<std::collections::BTreeSet<String>>>,
    /// Whether the source event being processed was projected so.
    projected_untraced: bool,
    sinks: Vec<SinkSlot>,
    captures: BTreeMap<String, CaptureHandle>,
    clock: Clock,
    timers: TimerWheel,
    stats: RunStats,
    ended: bool,
    pool: Vec<Vec<Output>>,
    /// Spare buffers for the traced copies of one operator call's outputs.
    traced_pool: Vec<Vec<TracedValue>>,
    /// An error met reading ahead for [`Engine::next_event_time`], given by the next step.
    read_ahead_error: Option<RunError>,
    /// The source event being processed, for error messages.
    current: Option<(usize, u64)>,
    /// What happened since the last [`Engine::take_trace`], when tracing is on.
    trace: Option<Vec<TraceEvent>>,
    /// Whether the trace records items (in and out of each step) or only the rest: timers,
    /// touched states, prints and errors (see [`Engine::set_trace_items`]).
    trace_items: bool,
    /// Every emitted item hashed in place, when set (see [`Engine::set_output_hasher`]).
    output_hashes: Option<output_hashes::OutputHashes>,
    /// Per step: its id when its script can `print` or `debug` (the others never set the
    /// print context, so they pay nothing for it).
    print_ids: Vec<Option<std::sync::Arc<str>>>,
    /// Where a live run records what its live sources receive (`eddy run --record`).
    recorder: Option<Recorder>,
    /// A replayed recording: the line of the last tick fired (each fires once, whichever
    /// source's event carries it).
    last_tick: u64,
    /// How many step scripts building this engine compiled (none when it reused the check's).
    scripts_compiled: usize,
    /// What left the pipeline without reaching a sink (docs/ledger.md).
    drops: DropLedger,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("clock", &self.clock)
            .field("stats", &self.stats)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Compiles the graph (reusing the scripts [`check`] compiled, when it made the graph),
    /// opens every source and sink, and stands before the first event.
    pub fn new(graph: ValidGraph, options: &EngineOptions) -> Result<Self, RunError> {
        Self::build(graph, options, None)
    }

    /// [`Engine::new`], with file sinks resumed at the positions a snapshot recorded.
    fn build(
        graph: ValidGraph,
        options: &EngineOptions,
        sink_positions: Option<&BTreeMap<String, crate::io::SinkPosition>>,
    ) -> Result<Self, RunError> {
        let (mut ops, scripts_compiled) = build_ops(&graph, options)?;
        // This engine gives every step it delivers to parts of its own (`deliver`), so steps
        // may share parts of their outputs with their states.
        let mut shares_parts: Vec<bool> = ops.iter_mut().map(|op| op.share_outputs()).collect();
        let doc = &graph.doc;
        let Routes { source_targets, step_targets, unkeys_input, positions, print_ids, projections: _ } =
            Routes::of(&graph);
        // A step read only by JSON sinks may emit its rows written: each record's JSON text made
        // once (docs/architecture.md#written-rows). Only a run that prunes its records (the
        // runner's, which shows nothing): the workbench's replay traces the rows, which would
        // make each one an ordinary row again.
        let writes_rows: Vec<bool> = ops
            .iter_mut()
            .zip(&step_targets)
            .map(|(op, ports)| {
                options.prune_fields && read_only_by_json_sinks(doc, ports) && op.write_outputs()
            })
            .collect();
        // What keeps or changes such a row (the trace, the ledger) makes it ordinary first.
        shares_parts.iter_mut().zip(&writes_rows).for_each(|(shares, writes)| *shares |= writes);
        let mut drops = DropLedger::new(doc.steps.len(), doc.sources.len());
        if let Some(keep) = options.record_drops {
            drops.record_items(keep);
        }
        let passes_value =
            doc.steps.iter().map(|s| (s.op == OpKind::KeyOn, s.op == OpKind::FilterValue)).collect();

        let mut sources = Vec::with_capacity(doc.sources.len());
        let mut keyed_by_source = vec![None; doc.sources.len()];
        let mut projections = vec![None; doc.sources.len()];
        let mut untraced_fields = vec![None; doc.sources.len()];
        for (index, spec) in doc.sources.iter().enumerate() {
            let mut source = Source::open_with(spec, &graph.base_dir, options.record_live)?;
            if drops.is_recording() {
                source.keep_bad_rows();
            }
            // Standard input is taken as it comes (whole records, its key_on run as a step):
            // an error about one of its records cannot read it again.
            if !spec.is_stdin() {
                let targets = &source_targets[index];
                // A source read only by a `key_on` of one of its fields: the source reads the
                // key itself (on its reading thread when read ahead) and the `key_on` passes
                // the record on unchanged, traced as if it had run (the workbench too).
                let fused = match targets.as_slice() {
                    [Target::Step { step, input: 0 }] if doc.steps[*step].op == OpKind::KeyOn => {
                        match (ops[*step].value_use(), &doc.steps[*step].field) {
                            (ValueUse::Forwards(_), Some(field)) => Some((*step, field.as_str())),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if let Some((step, field)) = fused
                    && source.set_key_field(field)
                {
                    keyed_by_source[index] = Some(step);
                    // That key_on read only by a join that writes its rows: the source writes
                    // each record as it reads it (docs/architecture.md#written-rows).
                    if let [Target::Step { step: join, .. }] = step_targets[step][0].as_slice()
                        && writes_rows[*join]
                    {
                        source.write_records();
                    }
                }
                // Records keep only what is read (after the key_on, when fused); a workbench's,
                // only while its trace leaves items out (untraced_projection.rs).
                if options.prune_fields {
                    let fields = match fused {
                        Some((step, _)) => needed_fields(&ops, &step_targets, &step_targets[step][0]),
                        None => needed_fields(&ops, &step_targets, targets),
                    };
                    if let Some(fields) = fields
                        && source.set_projection(&fields)
                    {
                        projections[index] = Some(fields);
                    }
                } else if options.project_untraced {
                    let kinds: Vec<OpKind> = doc.steps.iter().map(|s| s.op).collect();
                    let reached = match keyed_by_source[index] {
                        Some(step) => &step_targets[step][0],
                        None => targets,
                    };
                    untraced_fields[index] =
                        untraced_projection::untraced_fields(&ops, &kinds, &step_targets, reached);
                }
            }
            let source: Box<dyn EventFeed> = match options.feed {
                Some(wrap) => wrap(source),
                None => Box::new(source),
            };
            sources.push(SourceSlot { source, head: None, exhausted: false });
        }
        let mut sinks = Vec::with_capacity(doc.sinks.len());
        let mut captures = BTreeMap::new();
        for spec in &doc.sinks {
            let stdout_tail = options.stdout_tail.filter(|_| spec.format == SinkFormat::Stdout);
            let sink: Box<dyn Sink> = if options.capture_sinks || stdout_tail.is_some() {
                let (sink, handle) = CaptureSink::tail(&spec.id, stdout_tail.unwrap_or(usize::MAX));
                captures.insert(spec.id.clone(), handle);
                Box::new(sink)
            } else if options.check_sinks {
                Box::new(CheckedSink::new(&spec.id))
            } else {
                match sink_positions.and_then(|positions| positions.get(&spec.id)) {
                    Some(position) => crate::io::resume_sink(spec, &graph.base_dir, position)?,
                    None => open_sink(spec, &graph.base_dir)?,
                }
            };
            sinks.push(SinkSlot { id: spec.id.clone(), sink });
        }
        let stats = RunStats::new(&graph);
        Ok(Self {
            clock: match options.wall_clock {
                Some(wall) => Clock::new(doc.clock.mode).with_wall_clock(wall),
                None => Clock::new(doc.clock.mode),
            },
            ops,
            positions,
            source_targets,
            step_targets,
            unkeys_input,
            passes_value,
            shares_parts,
            writes_rows,
            sources,
            keyed_by_source,
            projections,
            untraced_fields,
            projected_untraced: false,
            sinks,
            captures,
            timers: TimerWheel::default(),
            stats,
            ended: false,
            pool: Vec::new(),
            traced_pool: Vec::new(),
            read_ahead_error: None,
            current: None,
            trace: None,
            trace_items: true,
            output_hashes: None,
            print_ids,
            recorder: None,
            last_tick: 0,
            scripts_compiled,
            drops,
            graph,
        })
    }

    /// Records from now on what the live sources receive, and the ticks of the clock while
    /// idle that fire timers, into `recorder` (the engine must have been built with
    /// [`EngineOptions::record_live`]). It is flushed with the sinks.
    pub fn record_to(&mut self, recorder: Recorder) {
        self.recorder = Some(recorder);
    }

    /// How many step scripts building this engine compiled: none when the graph came from
    /// [`check`] (which compiled them) and the engine runs them under the same limits.
    pub fn scripts_compiled(&self) -> usize {
        self.scripts_compiled
    }

    /// How a source's records are pruned ([`EngineOptions::prune_fields`]): the fields they
    /// keep (`None`: whole), and the `key_on` step whose key the source reads itself. Two
    /// engines that prune a source alike trace the same values for the same input
    /// (`eddy diff`, `src/compare/`).
    pub fn source_pruning(
        &self,
        source: usize,
    ) -> (Option<&std::collections::BTreeSet<String>>, Option<usize>) {
        (
            self.projections.get(source).and_then(Option::as_ref),
            self.keyed_by_source.get(source).copied().flatten(),
        )
    }

    /// The fields a source's records keep while the trace leaves items out (`None`: whole;
    /// see [`Engine::set_trace_items`]): the workbench's fast play projects them so, where
    /// no step could record one as dropped.
    pub fn untraced_fields(&self, source: usize) -> Option<&std::collections::BTreeSet<String>> {
        self.untraced_fields.get(source).and_then(Option::as_ref)
    }

    /// The graph this engine runs.
    pub fn graph(&self) -> &ValidGraph {
        &self.graph
    }

    /// The run's clock (`None` before the first timed event).
    pub fn clock(&self) -> Option<i64> {
        self.clock.now()
    }

    /// Counters of the run so far.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Whether end of input has been processed.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Every pending timer, in firing order.
    pub fn pending_timers(&self) -> impl Iterator<Item = TimerEntry> + '_ {
        self.timers.pending()
    }

    /// The first `n` pending timers, in firing order (cheaper than [`Self::pending_timers`]
    /// when many are pending: the others are not ordered).
    pub fn first_pending_timers(&self, n: usize) -> Vec<TimerEntry> {
        self.timers.first_pending(n)
    }

    /// How many timers are pending.
    pub fn pending_timer_count(&self) -> usize {
        self.timers.len()
    }

    /// The step index at a topological position.
    pub fn step_at_position(&self, position: usize) -> usize {
        self.graph.order[position]
    }

    /// A step's live per-key state (as the engine holds it), in key order.
    pub fn step_states(&self, step: usize) -> Vec<(Key, Dynamic)> {
        self.ops.get(step).map(|op| op.states()).unwrap_or_default()
    }

    /// Shows each live key's state at a step (as the engine holds it) to `visit`, in no
    /// particular order, without copying it.
    pub fn visit_step_states(&self, step: usize, visit: &mut dyn FnMut(&Key, &Dynamic)) {
        if let Some(op) = self.ops.get(step) {
            op.visit_states(visit);
        }
    }

    /// One key's live state at a step (as the engine holds it), if the key is live.
    pub fn step_state(&self, step: usize, key: &Key) -> Option<Dynamic> {
        self.ops.get(step).and_then(|op| op.state_of(key))
    }

    /// `read` applied to one key's live state at a step, without copying the state where the
    /// step holds it as is; `None` when the key is not live.
    pub fn with_step_state<R>(&self, step: usize, key: &Key, read: impl FnOnce(&Dynamic) -> R) -> Option<R> {
        let op = self.ops.get(step)?;
        let mut read = Some(read);
        let mut result = None;
        op.visit_state(key, &mut |state| {
            if let Some(read) = read.take() {
                result = Some(read(state));
            }
        });
        result
    }

    /// A step's number of live keys.
    pub fn step_key_count(&self, step: usize) -> usize {
        self.ops.get(step).map_or(0, |op| op.key_count())
    }

    /// The lines captured by each sink so far (with `capture_sinks`; with `stdout_tail`, the
    /// stdout sinks' latest lines).
    pub fn captured(&self) -> BTreeMap<String, Vec<String>> {
        self.captures.iter().map(|(id, h)| (id.clone(), h.lines())).collect()
    }

    /// Bad rows skipped or dead-lettered, per source id.
    pub fn bad_rows(&self) -> Vec<(String, u64)> {
        self.sources.iter().map(|s| (s.source.id().to_owned(), s.source.bad_rows())).collect()
    }

    /// The dropped-items ledger so far (docs/ledger.md): counts per step and reason, and the
    /// items recorded ([`EngineOptions::record_drops`]) and not taken yet.
    pub fn drops(&self) -> &DropLedger {
        &self.drops
    }

    /// Takes the dropped items recorded since the last call, in the order they were dropped
    /// (the counts stay): `eddy run --ledger` writes them after each step.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        self.drops.take_items()
    }

    /// A few bad rows per source, for the end-of-run report.
    pub fn bad_row_samples(&self) -> Vec<String> {
        self.sources
            .iter()
            .flat_map(|s| s.source.bad_row_samples().into_iter().map(|e| e.to_string()))
            .collect()
    }

    /// Turns tracing on or off: when on, every item in and out of each step, every timer set
    /// and fired, every state touched and every error is recorded as a [`TraceEvent`] until
    /// [`Engine::take_trace`] takes them. Off by default.
    pub fn set_tracing(&mut self, on: bool) {
        self.trace = if on { Some(self.trace.take().unwrap_or_default()) } else { None };
    }

    /// Whether the trace records items: on by default. Off, it records only timers, touched
    /// states, prints and errors, and copies no item: the workbench plays the stretches whose
    /// items no view will show this way (docs/architecture.md, "Previews of a fast play").
    pub fn set_trace_items(&mut self, on: bool) {
        self.trace_items = on;
    }

    /// Hashes every item a step emits with `hasher` from now on (`None`: stops), in place and
    /// in the order they are emitted, whether tracing is on or not, until
    /// [`Engine::take_output_hashes_into`] takes them: `eddy diff` compares outputs this way
    /// without the trace's copy of every item.
    pub fn set_output_hasher(&mut self, hasher: Option<OutputHasher>) {
        self.output_hashes = hasher.map(output_hashes::OutputHashes::new);
    }

    /// The items hashed since the last call, in the order they were emitted, into `buffer`
    /// (cleared first; the engine keeps its old allocation). Empty without a hasher.
    pub fn take_output_hashes_into(&mut self, buffer: &mut Vec<OutputHash>) {
        buffer.clear();
        if let Some(hashes) = &mut self.output_hashes {
            hashes.take_into(buffer);
        }
    }

    /// Whether tracing is on.
    pub fn is_tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// The trace recorded since the last call, in the order it happened (empty when off).
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Like [`Engine::take_trace`], into `buffer` (cleared first), the engine keeping the
    /// buffer's old allocation for the next step: no allocation per step.
    pub fn take_trace_into(&mut self, buffer: &mut Vec<TraceEvent>) {
        buffer.clear();
        if let Some(trace) = &mut self.trace {
            std::mem::swap(trace, buffer);
        }
    }

    /// The event time of the next source event, read ahead without processing it (for a
    /// replay that waits for it in real time); `None` when it has no time, at end of input,
    /// or when reading it failed (the next [`Engine::step`] then returns that error).
    pub fn next_event_time(&mut self) -> Option<i64> {
        if self.ended || self.read_ahead_error.is_some() {
            return None;
        }
        match self.next_source(None) {
            Ok(Next::Source(index)) => {
                let head = self.sources.get(index)?.head.as_ref()?;
                // A recorded event is replayed at the clock the live run took it at (in wall
                // mode: in replay mode the clock is the event times, live and replayed).
                match (&head.recorded, self.clock.mode()) {
                    (Some(timing), crate::graph::ClockMode::Wall) => Some(timing.at),
                    _ => head.time,
                }
            }
            Ok(Next::Ended | Next::Pending) => None,
            Err(error) => {
                self.read_ahead_error = Some(error);
                None
            }
        }
    }

    /// Processes the next source event to quiescence (with the timers it makes due), or
    /// end of input when the sources are exhausted. A live source is waited for.
    pub fn step(&mut self) -> Result<StepOutcome, RunError> {
        if self.ended {
            return Ok(StepOutcome::Finished);
        }
        self.drops.event = self.stats.events_in + 1;
        if let Some(error) = self.read_ahead_error.take() {
            return Err(error);
        }
        set_script_clock(self.clock.now());
        match self.next_source(None)? {
            Next::Source(index) => self.take_event(index),
            Next::Ended | Next::Pending => {
                self.finish_tails()?;
                self.end_of_input()?;
                Ok(StepOutcome::Ended)
            }
        }
    }

    /// One step of a live run: the next event if one is at hand or arrives within `wait`;
    /// else [`LiveStep::Idle`], after firing, in wall mode, the timers the machine's clock has
    /// made due, so that a session closes on time while its stream is quiet (README, "Running
    /// live"). The wait ends early when the next timer falls due.
    pub fn step_live(&mut self, wait: Duration) -> Result<LiveStep, RunError> {
        if self.ended {
            return Ok(LiveStep::Stepped(StepOutcome::Finished));
        }
        self.drops.event = self.stats.events_in + 1;
        if let Some(error) = self.read_ahead_error.take() {
            return Err(error);
        }
        set_script_clock(self.clock.now());
        let mut next = self.next_source(Some(Duration::ZERO))?;
        if matches!(next, Next::Pending) {
            let wait = match (self.clock.mode(), self.timers.next_due()) {
                (crate::graph::ClockMode::Wall, Some(due)) => {
                    let until_due = due.saturating_sub(self.clock.read_wall()).max(0);
                    wait.min(Duration::from_micros(u64::try_from(until_due).unwrap_or(0)))
                }
                _ => wait,
            };
            next = self.next_source(Some(wait))?;
        }
        match next {
            Next::Source(index) => self.take_event(index).map(LiveStep::Stepped),
            Next::Ended => {
                self.finish_tails()?;
                self.end_of_input()?;
                Ok(LiveStep::Stepped(StepOutcome::Ended))
            }
            Next::Pending => {
                if self.clock.mode() == crate::graph::ClockMode::Wall {
                    self.clock.advance(None);
                    set_script_clock(self.clock.now());
                    let fired = self.stats.timers_fired;
                    self.fire_due_timers()?;
                    // A replay of the recording fires these timers at this same clock.
                    if let (Some(recorder), Some(now)) = (&mut self.recorder, self.clock.now())
                        && self.stats.timers_fired > fired
                    {
                        recorder.tick(now)?;
                    }
                }
                Ok(LiveStep::Idle)
            }
        }
    }

    /// At the end of input: what the sources had after their last event. A recording replayed
    /// fires the ticks recorded after the last event (timers the live run fired while idle
    /// before its stream ended); a live run being recorded records the text read after its
    /// last event (bad rows).
    fn finish_tails(&mut self) -> Result<(), RunError> {
        for index in 0..self.sources.len() {
            let tail = self.sources[index].source.take_tail();
            self.fire_recorded_ticks(&tail.ticks)?;
            if let (Some(raw), Some(recorder)) = (tail.raw, &mut self.recorder) {
                recorder.text(self.sources[index].source.id(), self.clock.now_or_wall(), &raw)?;
            }
        }
        Ok(())
    }

    /// Fires, in order, the recorded ticks not fired yet: the clock set to each (wall mode),
    /// the timers due by it.
    fn fire_recorded_ticks(&mut self, ticks: &[(u64, i64)]) -> Result<(), RunError> {
        for &(seq, at) in ticks {
            if seq <= self.last_tick {
                continue;
            }
            self.last_tick = seq;
            if self.clock.mode() == crate::graph::ClockMode::Wall {
                self.clock.set(Some(at));
                set_script_clock(self.clock.now());
                self.fire_due_timers()?;
            }
        }
        Ok(())
    }

    /// Whether a source is a live stream (standard input), so the run should use
    /// [`Engine::step_live`].
    pub fn has_live_source(&self) -> bool {
        self.sources.iter().any(|slot| slot.source.is_live())
    }

    /// Takes source `index`'s head event through the dataflow.
    fn take_event(&mut self, index: usize) -> Result<StepOutcome, RunError> {
        let Some(event) = self.sources[index].head.take() else {
            return Ok(StepOutcome::Finished);
        };
        self.current = Some((index, event.line));
        match &event.recorded {
            // A recorded event: the ticks before it, then the clock the live run took it at
            // (wall mode; a replay clock moves with the event times as always).
            Some(timing) if self.clock.mode() == crate::graph::ClockMode::Wall => {
                self.fire_recorded_ticks(&timing.ticks)?;
                self.clock.set(Some(timing.at));
            }
            _ => self.clock.advance(event.time),
        }
        if let (Some(raw), Some(recorder)) = (&event.raw, &mut self.recorder) {
            let at = match self.clock.mode() {
                crate::graph::ClockMode::Wall => self.clock.now_or_wall(),
                crate::graph::ClockMode::Replay => self.clock.read_wall(),
            };
            recorder.text(self.sources[index].source.id(), at, raw)?;
        }
        set_script_clock(self.clock.now());
        self.fire_due_timers()?;
        self.stats.events_in += 1;
        self.stats.per_source[index] += 1;
        let mut event = event;
        // A record written as it was read goes as it is only to the join that writes its rows,
        // through the key_on the source ran (docs/architecture.md#written-rows); a trace, the
        // output hashes or a key_on that runs itself get the record.
        let to_join = event.key.is_some() && self.trace.is_none() && self.output_hashes.is_none();
        if !to_join && event.value.is::<crate::value::WrittenRecord>() {
            event.value = crate::value::into_plain(std::mem::take(&mut event.value));
        }
        if self.trace.is_some() && !self.trace_items {
            self.projected_untraced = self.project_untraced(index, &mut event.value);
        }
        match (self.keyed_by_source[index], event.key) {
            (Some(step), Some(key)) => {
                // The key_on's work was done by the source.
                self.stats.steps[step].items_in += 1;
                self.stats.steps[step].items_out += 1;
                if let Some(hashes) = &mut self.output_hashes {
                    hashes.push(step, 0, Some(&key), &event.value);
                }
                // One traced copy of the event, in and out of the key_on and into its targets.
                let traced = self.trace.as_mut().filter(|_| self.trace_items).map(|trace| {
                    let value = Arc::new(event.value.clone());
                    let kind = TraceKind::ItemIn { input: 0, key: None, value: Arc::clone(&value) };
                    trace.push(TraceEvent { step, kind });
                    trace.push(TraceEvent {
                        step,
                        kind: TraceKind::ItemOut {
                            port: 0,
                            key: Some(key.clone()),
                            value: Arc::clone(&value),
                        },
                    });
                    value
                });
                self.deliver_from_step(step, 0, Item::keyed(key, event.value), traced)?;
            }
            _ => self.deliver_from_source(index, Item::plain(event.value))?,
        }
        self.current = None;
        self.projected_untraced = false;
        Ok(StepOutcome::Event { source: index, line: event.line })
    }

    /// Leaves out of source `index`'s record what no step can read, the trace not showing
    /// it; the whole record goes back to the source's feed to be freed
    /// (`untraced_projection.rs`).
    /// Whether it did.
    fn project_untraced(&mut self, index: usize, value: &mut Dynamic) -> bool {
        let Some(fields) = self.untraced_fields.get(index).and_then(Option::as_ref) else { return false };
        let Some(projected) = crate::io::try_project_record(value, fields) else { return false };
        let whole = std::mem::replace(value, projected);
        self.sources[index].source.dispose(whole);
        true
    }

    /// Runs every remaining event and end of input; flushes the sinks.
    pub fn run_to_end(&mut self) -> Result<(), RunError> {
        while !matches!(self.step()?, StepOutcome::Ended | StepOutcome::Finished) {}
        Ok(())
    }

    /// Flushes every sink (done by end of input; call it to keep output after an error).
    pub fn flush(&mut self) -> Result<(), RunError> {
        for slot in &mut self.sinks {
            slot.sink.flush()?;
        }
        if let Some(recorder) = &mut self.recorder {
            recorder.flush()?;
        }
        Ok(())
    }

    /// Fills the source heads and picks the next event: the smallest time, ties by source
    /// order; an event without a time ranks at the current clock. With `wait`, a live source
    /// is given that long to send its next row; a source that has not is passed over
    /// (`Pending` when no other has an event). Without, every source is waited for.
    fn next_source(&mut self, wait: Option<Duration>) -> Result<Next, RunError> {
        let mut best: Option<((i64, u64), usize)> = None;
        let mut pending = false;
        let untimed_rank = self.clock.now().unwrap_or(i64::MIN);
        for (index, slot) in self.sources.iter_mut().enumerate() {
            if slot.head.is_none() && !slot.exhausted {
                let polled = match wait {
                    None => slot.source.next_event().map(|e| e.map_or(Polled::Ended, Polled::Event)),
                    Some(wait) => slot.source.poll_event(wait),
                };
                match polled {
                    Ok(Polled::Event(event)) => slot.head = Some(event),
                    Ok(Polled::Ended) => slot.exhausted = true,
                    Ok(Polled::Pending) => pending = true,
                    Err(IoError::Row(error)) => {
                        // A recorded live run records the row that stops it: the recording's
                        // replay stops at it too.
                        if let (Some(raw), Some(recorder)) = (slot.source.take_tail().raw, &mut self.recorder)
                        {
                            recorder.text(slot.source.id(), self.clock.now_or_wall(), &raw)?;
                            recorder.flush()?;
                        }
                        return Err(RunError::BadRow { source_id: slot.source.id().to_owned(), error });
                    }
                    Err(IoError::Unreadable(error)) => {
                        return Err(RunError::Unreadable { source_id: slot.source.id().to_owned(), error });
                    }
                    Err(other) => return Err(other.into()),
                }
                // docs/ledger.md#reasons: bad_row, when the source had them before this event.
                if self.drops.is_recording() {
                    for error in slot.source.take_bad_rows() {
                        let key = None;
                        self.drops.drop_at(DropSite::Source(index), DropReason::BadRow, key, || {
                            bad_row_item(error)
                        });
                    }
                }
            }
            if let Some(head) = &slot.head {
                // A recorded event ranks by when the live run took it (then its line in the
                // recording): the replay takes them in the live run's order.
                let rank = match &head.recorded {
                    Some(timing) => (timing.at, timing.seq),
                    None => (head.time.unwrap_or(untimed_rank), 0),
                };
                if best.is_none_or(|(t, _)| rank < t) {
                    best = Some((rank, index));
                }
            }
        }
        Ok(match best {
            Some((_, index)) => Next::Source(index),
            None if pending => Next::Pending,
            None => Next::Ended,
        })
    }

    fn fire_due_timers(&mut self) -> Result<(), RunError> {
        let Some(now) = self.clock.now() else { return Ok(()) };
        if !self.timers.may_be_due(now) {
            return Ok(());
        }
        for entry in self.timers.due_up_to(now) {
            if !self.timers.take_if_current(&entry) {
                continue;
            }
            self.stats.timers_fired += 1;
            let step = self.graph.order[entry.position];
            let key = entry.key.clone();
            if let Some(trace) = &mut self.trace {
                trace.push(TraceEvent {
                    step,
                    kind: TraceKind::TimerFired { key: key.clone(), due: entry.due },
                });
            }
            if let Some(Some(id)) = self.print_ids.get(step) {
                // Timers fire while the next event is being processed.
                set_print_context(id, Some(&key), self.stats.events_in + 1);
            }
            self.run_op(step, None, |op, ctx, out| op.on_notify(ctx, &key, out))?;
            if let Some(trace) = &mut self.trace {
                trace.push(TraceEvent { step, kind: TraceKind::StateChanged { key } });
            }
        }
        Ok(())
    }

    fn end_of_input(&mut self) -> Result<(), RunError> {
        set_script_clock(self.clock.now());
        for position in 0..self.graph.order.len() {
            let step = self.graph.order[position];
            if let Some(Some(id)) = self.print_ids.get(step) {
                set_print_context(id, None, self.stats.events_in);
            }
            // docs/architecture.md#end-of-input-in-parts: a runner without a trace or output
            // hashes takes the outputs in parts, each delivered before the next is made; the
            // sinks see the same items in the same order.
            let limit =
                if self.trace.is_none() && self.output_hashes.is_none() { EOF_PART } else { usize::MAX };
            let mut more = true;
            while more {
                self.run_op(step, None, |op, ctx, out| {
                    more = op.on_eof_part(ctx, out, limit)?;
                    Ok(())
                })?;
            }
        }
        // docs/ledger.md#reasons: pending_timer, in firing order.
        let pending: Vec<TimerEntry> = self.timers.pending().collect();
        for entry in pending {
            let site = DropSite::Step(self.graph.order[entry.position]);
            let due = || {
                let mut item = rhai::Map::new();
                let due = crate::time::format_rfc3339_micros(entry.due)
                    .map_or_else(|| Dynamic::from_int(entry.due), Dynamic::from);
                item.insert("due".into(), due);
                Dynamic::from_map(item)
            };
            self.drops.drop_at(site, DropReason::PendingTimer, Some(&entry.key), due);
        }
        self.ended = true;
        self.flush()
    }

    /// Runs one operator call and carries each output, in order, all the way down.
    /// `passed`: the traced copy of the item the step passes on unchanged, if it does.
    fn run_op(
        &mut self,
        step: usize,
        mut passed: Option<TracedValue>,
        call: impl FnOnce(
            &mut dyn Operator,
            &mut OpContext<'_>,
            &mut Vec<Output>,
        ) -> Result<(), crate::ops::StepError>,
    ) -> Result<(), RunError> {
        let mut out = self.pool.pop().unwrap_or_default();
        self.drops.step = step;
        let result = {
            let mut timers = StepTimers {
                wheel: &mut self.timers,
                position: self.positions[step],
                step,
                trace: self.trace.as_mut(),
            };
            let mut ctx = OpContext { now: self.clock.now(), timers: &mut timers, drops: &mut self.drops };
            call(self.ops[step].as_mut(), &mut ctx, &mut out)
        };
        // What the call printed, in its place among what happened (a thread that captures
        // script output: the workbench's replay).
        if let Some(trace) = &mut self.trace
            && crate::script::has_script_output()
        {
            for output in crate::script::take_script_output() {
                trace.push(TraceEvent { step, kind: TraceKind::Printed(output) });
            }
        }
        if let Err(error) = result {
            let error = self.step_error(error);
            if let Some(trace) = &mut self.trace {
                trace.push(TraceEvent { step, kind: TraceKind::Error { message: error.to_string() } });
            }
            return Err(error);
        }
        self.stats.steps[step].items_out += out.len() as u64;
        if let Some(hashes) = &mut self.output_hashes {
            // Rows written (docs/architecture.md#written-rows) are hashed as the ordinary rows.
            if self.writes_rows[step] {
                out.iter_mut().for_each(|output| crate::value::unshare_parts(&mut output.item.value));
            }
            // Every output is hashed before any is delivered, as the trace records them.
            for output in &out {
                hashes.push(step, output.port, output.item.key.as_ref(), &output.item.value);
            }
        }
        let shares = self.shares_parts[step];
        match &mut self.trace {
            Some(trace) if self.trace_items => {
                // Every output is recorded before any is delivered; each one's traced copy is
                // shared with the records of its arrival downstream.
                let mut traced = self.traced_pool.pop().unwrap_or_default();
                for output in &out {
                    let value = match passed.take() {
                        Some(value) if out.len() == 1 && output.port == 0 => value,
                        _ => Arc::new(own_copy(shares, output.item.value.clone())),
                    };
                    let kind = TraceKind::ItemOut {
                        port: output.port,
                        key: output.item.key.clone(),
                        value: Arc::clone(&value),
                    };
                    trace.push(TraceEvent { step, kind });
                    traced.push(value);
                }
                for (output, value) in out.drain(..).zip(traced.drain(..)) {
                    self.deliver_from_step(step, output.port, output.item, Some(value))?;
                }
                self.traced_pool.push(traced);
            }
            _ => {
                for output in out.drain(..) {
                    self.deliver_from_step(step, output.port, output.item, None)?;
                }
            }
        }
        self.pool.push(out);
        Ok(())
    }

    fn step_error(&self, error: crate::ops::StepError) -> RunError {
        // The fields the event's record kept: the runner's projection, or (never both) the
        // fast play's while its trace leaves items out.
        let projections = if self.projected_untraced { &self.untraced_fields } else { &self.projections };
        step_error_at(&self.graph, projections, error, self.current)
    }

    fn deliver_from_source(&mut self, source: usize, item: Item) -> Result<(), RunError> {
        let count = self.source_targets[source].len();
        let from = StreamRef::Source(source);
        self.deliver(count, |engine, i| engine.source_targets[source][i], item, from, None)
    }

    /// `traced`: the item's traced copy, when tracing (shared by the records of its arrival).
    fn deliver_from_step(
        &mut self,
        step: usize,
        port: usize,
        item: Item,
        traced: Option<TracedValue>,
    ) -> Result<(), RunError> {
        let count = self.step_targets[step][port.min(1)].len();
        self.deliver(
            count,
            |engine, i| engine.step_targets[step][port.min(1)][i],
            item,
            StreamRef::Step { step, port },
            traced,
        )
    }

    /// Sends an item to `count` targets in order; the last one gets it without a copy. When
    /// tracing, its arrivals share `traced` (the copy recorded as it left), or one new copy.
    fn deliver(
        &mut self,
        count: usize,
        target_at: impl Fn(&Self, usize) -> Target,
        item: Item,
        from: StreamRef,
        mut traced: Option<TracedValue>,
    ) -> Result<(), RunError> {
        let mut item = Some(item);
        for i in 0..count {
            let target = target_at(self, i);
            let this = if i + 1 == count { item.take() } else { item.clone() };
            let Some(mut this) = this else { break };
            match target {
                Target::Step { step, input } => {
                    // docs/architecture.md#shared-parts: the one place items enter a step,
                    // which may change or keep them; a row sharing its parts with the state of
                    // the step that emitted it gets parts of its own here. Sinks and the
                    // output hashes read shared parts in place; the trace and the ledger keep
                    // copies of their own (`own_copy`).
                    if let StreamRef::Step { step: from, .. } = from
                        && self.shares_parts[from]
                    {
                        crate::value::unshare_parts(&mut this.value);
                    }
                    self.stats.steps[step].items_in += 1;
                    let unkeyed = self.unkeys_input[step] && this.key.is_some();
                    let this = if unkeyed { Item::plain(this.into_script_arg()) } else { this };
                    let mut touched = None;
                    let mut passed = None;
                    if let Some(trace) = &mut self.trace {
                        if self.trace_items {
                            // An unkeyed arrival is another value: its own copy.
                            let value = match &traced {
                                _ if unkeyed => Arc::new(this.value.clone()),
                                Some(value) => Arc::clone(value),
                                None => Arc::clone(traced.insert(Arc::new(this.value.clone()))),
                            };
                            let (unkeyed_passes, keyed_passes) = self.passes_value[step];
                            if (unkeyed_passes && this.key.is_none()) || (keyed_passes && this.key.is_some())
                            {
                                passed = Some(Arc::clone(&value));
                            }
                            let kind = TraceKind::ItemIn { input, key: this.key.clone(), value };
                            trace.push(TraceEvent { step, kind });
                        }
                        if self.graph.doc.steps[step].op.is_stateful() {
                            touched = this.key.clone();
                        }
                    }
                    if let Some(Some(id)) = self.print_ids.get(step) {
                        set_print_context(id, this.key.as_ref(), self.stats.events_in);
                    }
                    self.run_op(step, passed, |op, ctx, out| op.on_item(ctx, input, this, out))?;
                    if let (Some(key), Some(trace)) = (touched, &mut self.trace) {
                        trace.push(TraceEvent { step, kind: TraceKind::StateChanged { key } });
                    }
                }
                Target::Sink(sink) => self.write_sink(sink, &this, from)?,
                Target::Unread => {
                    if let StreamRef::Step { step, .. } = from {
                        let reason = DropReason::NoSink;
                        let kept = || own_copy(self.shares_parts[step], this.value);
                        self.drops.drop_at(DropSite::Step(step), reason, this.key.as_ref(), kept);
                    }
                }
            }
        }
        Ok(())
    }

    fn write_sink(&mut self, sink: usize, item: &Item, from: StreamRef) -> Result<(), RunError> {
        let slot = &mut self.sinks[sink];
        match slot.sink.write(item.key.as_ref().map(|k| k.as_str()), &item.value) {
            Ok(()) => {
                self.stats.sink_items[sink] += 1;
                Ok(())
            }
            Err(IoError::Write { reason, .. }) => Err(RunError::Output {
                sink: slot.id.clone(),
                from: self.graph.stream_name(from),
                key: item.key.as_ref().map(|k| k.to_string()),
                reason,
            }),
            Err(other) => Err(other.into()),
        }
    }
}

/// Whether a step's outputs (`ports`) are read only by JSON sinks (JSON Lines files, standard
/// output), which write a row of written records by splicing their texts
/// (docs/architecture.md#written-rows).
fn read_only_by_json_sinks(doc: &PipelineDoc, ports: &[Vec<Target>; 2]) -> bool {
    let json_sink = |target: &Target| match *target {
        Target::Sink(sink) => doc
            .sinks
            .get(sink)
            .is_some_and(|spec| matches!(spec.format, SinkFormat::Jsonl | SinkFormat::Stdout)),
        Target::Step { .. } | Target::Unread => false,
    };
    !ports[0].is_empty() && ports[0].iter().all(json_sink) && ports[1].iter().all(json_sink)
}

/// `value`, emitted by a step, as something that keeps it (the trace, the ledger) holds it:
/// sharing nothing with the step's state when the step `shares` parts
/// (docs/architecture.md#shared-parts).
fn own_copy(shares: bool, mut value: Dynamic) -> Dynamic {
    if shares {
        crate::value::unshare_parts(&mut value);
    }
    value
}

/// What the ledger records of a bad row: its line, column (or `()`), reason and text.
fn bad_row_item(error: crate::io::RowError) -> Dynamic {
    let mut item = rhai::Map::new();
    item.insert("line".into(), Dynamic::from_int(i64::try_from(error.line).unwrap_or(i64::MAX)));
    item.insert("column".into(), error.column.map_or(Dynamic::UNIT, Dynamic::from));
    item.insert("reason".into(), Dynamic::from(error.reason));
    item.insert("raw".into(), Dynamic::from(error.raw));
    Dynamic::from_map(item)
}
