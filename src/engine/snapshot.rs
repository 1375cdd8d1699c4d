//! Snapshots: what a run needs to continue from a point between two events — every stateful
//! step's `snapshot()` per live key, the pending timers, the clock and each source's position.
//!
//! [`Keyframe`]s are the workbench's kind: the engine's full per-key state as it is (no script
//! runs to take or restore one) and the run's counters, so that a replay restored from one is
//! exactly where the first pass was, down to what the state table shows.

use std::collections::BTreeMap;

use rhai::Dynamic;

use super::{Engine, EngineOptions, RunError, RunStats};
use crate::graph::ValidGraph;
use crate::io::ReadMark;
use crate::ops::Key;
use crate::script::set_script_clock;

/// A pending timer in a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotTimer {
    /// The step id.
    pub step: String,
    /// The key.
    pub key: String,
    /// When it is due (microseconds since the epoch).
    pub due: i64,
}

/// A point of a run to resume from (docs/snapshots.md#what-a-snapshot-holds).
#[derive(Debug, Clone)]
pub struct EngineSnapshot {
    /// The clock.
    pub clock: Option<i64>,
    /// Rows consumed per source (by source id): the next event is the row after them.
    pub source_rows: BTreeMap<String, u64>,
    /// Bytes of each source's file those rows take (by source id): a resume checks that
    /// they are unchanged.
    pub source_bytes: BTreeMap<String, u64>,
    /// Per step id, each live key's `snapshot()` value, in key order.
    pub steps: BTreeMap<String, Vec<(Key, Dynamic)>>,
    /// Pending timers, in firing order.
    pub timers: Vec<SnapshotTimer>,
    /// Source events processed before this point.
    pub events_in: u64,
    /// Per file sink (by id): where its file stood, flushed (empty with captured sinks).
    pub sinks: BTreeMap<String, crate::io::SinkPosition>,
}

/// A point of a run to seek back to: the full per-key state of every stateful step as the
/// engine holds it ([`crate::ops::Operator::states`]), the pending timers, the clock, each
/// source's position and the counters. Only for the graph it was taken from.
#[derive(Debug, Clone)]
pub struct Keyframe {
    /// The clock.
    pub clock: Option<i64>,
    /// Rows consumed per source (by source id): the next event is the row after them.
    pub source_rows: BTreeMap<String, u64>,
    /// Where a source can go on from without reading those rows again (by source id; only
    /// the sources that know, and had no event read ahead).
    pub source_marks: BTreeMap<String, ReadMark>,
    /// Per step (by index into the document's `steps`), each live key's state, in no
    /// particular order (sort by key to show them); empty for stateless steps.
    pub states: Vec<Vec<(Key, Dynamic)>>,
    /// Pending timers, in firing order.
    pub timers: Vec<SnapshotTimer>,
    /// The counters at this point.
    pub stats: RunStats,
    /// The dropped-items ledger at this point (its counts, and the items it keeps).
    pub drops: crate::ops::DropLedger,
}

/// How [`Engine::resumed`] positions an engine.
struct Resume<'a> {
    /// Pass over the rows before the position without parsing them (keyframes: bad rows
    /// there are not counted or dead-lettered again).
    quickly: bool,
    /// File sinks' recorded positions, to cut back and append to.
    sinks: Option<&'a BTreeMap<String, crate::io::SinkPosition>>,
    /// Where the sources can go on from without reading the rows before (keyframes).
    marks: Option<&'a BTreeMap<String, ReadMark>>,
}

impl Engine {
    fn source_rows(&self) -> BTreeMap<String, u64> {
        self.sources
            .iter()
            .map(|slot| {
                let peeked = u64::from(slot.head.is_some());
                (slot.source.id().to_owned(), slot.source.rows_consumed() - peeked)
            })
            .collect()
    }

    fn source_marks(&self) -> BTreeMap<String, ReadMark> {
        self.sources
            .iter()
            .filter(|slot| slot.head.is_none())
            .filter_map(|slot| Some((slot.source.id().to_owned(), slot.source.read_mark()?)))
            .collect()
    }

    fn source_bytes(&self) -> BTreeMap<String, u64> {
        self.sources
            .iter()
            .map(|slot| {
                let bytes = match &slot.head {
                    Some(head) => head.offset,
                    None => slot.source.bytes_consumed(),
                };
                (slot.source.id().to_owned(), bytes)
            })
            .collect()
    }

    fn snapshot_timers(&self) -> Vec<SnapshotTimer> {
        self.timers
            .pending()
            .map(|t| SnapshotTimer {
                step: self.graph.doc.steps[self.graph.order[t.position]].id.clone(),
                key: t.key.to_string(),
                due: t.due,
            })
            .collect()
    }

    /// A fresh engine at a recorded clock, its sources past `source_rows` (`quickly`: for their
    /// position only, see [`crate::io::Source::skip_rows_quickly`]).
    fn resumed(
        graph: ValidGraph,
        clock: Option<i64>,
        source_rows: &BTreeMap<String, u64>,
        options: &EngineOptions,
        resume: Resume<'_>,
    ) -> Result<Engine, RunError> {
        let mut engine = Engine::build(graph, options, resume.sinks)?;
        engine.clock.set(clock);
        set_script_clock(clock);
        for slot in &mut engine.sources {
            let rows = source_rows.get(slot.source.id()).copied().unwrap_or(0);
            let mark = resume.marks.and_then(|marks| marks.get(slot.source.id()));
            if let (true, Some(&mark)) = (resume.quickly, mark) {
                slot.source.skip_to(rows, mark)?;
            } else if resume.quickly {
                slot.source.skip_rows_quickly(rows)?;
            } else {
                slot.source.skip_rows(rows)?;
            }
        }
        Ok(engine)
    }

    fn arm_timers(&mut self, timers: &[SnapshotTimer]) -> Result<(), RunError> {
        for timer in timers {
            let Some(index) = self.graph.doc.steps.iter().position(|s| s.id == timer.step) else {
                return Err(RunError::Snapshot(format!(
                    "a timer names step `{}`, which the pipeline lacks",
                    timer.step
                )));
            };
            let position = self.positions[index];
            self.timers.arm(position, &Key::from(timer.key.as_str()), timer.due);
        }
        Ok(())
    }

    /// Takes a keyframe between two events: the full state as held, without calling scripts.
    pub fn keyframe(&self) -> Keyframe {
        let states = self
            .graph
            .doc
            .steps
            .iter()
            .zip(&self.ops)
            .map(|(spec, op)| if spec.op.is_stateful() { op.states_unsorted() } else { Vec::new() })
            .collect();
        Keyframe { states, ..self.keyframe_without_states() }
    }

    /// A keyframe with every step's `states` left empty: where the run stands (clock, sources,
    /// timers, counters), for a workbench that keeps the states its own way (changes only).
    pub fn keyframe_without_states(&self) -> Keyframe {
        Keyframe {
            clock: self.clock.now(),
            source_rows: self.source_rows(),
            source_marks: self.source_marks(),
            states: vec![Vec::new(); self.graph.doc.steps.len()],
            timers: self.snapshot_timers(),
            stats: self.stats.clone(),
            drops: self.drops.clone(),
        }
    }

    /// Builds an engine exactly where a keyframe of the same graph was taken: the same state,
    /// timers, clock, source positions and counters. The sources pass over the rows before
    /// it quickly: bad rows among them are not counted or dead-lettered again. The states
    /// are moved into the steps, not copied.
    pub fn from_keyframe(
        graph: ValidGraph,
        keyframe: Keyframe,
        options: &EngineOptions,
    ) -> Result<Engine, RunError> {
        if keyframe.states.len() != graph.doc.steps.len() {
            return Err(RunError::Snapshot("the keyframe was taken from another pipeline".into()));
        }
        let resume = Resume { quickly: true, sinks: None, marks: Some(&keyframe.source_marks) };
        let mut engine = Engine::resumed(graph, keyframe.clock, &keyframe.source_rows, options, resume)?;
        for (op, states) in engine.ops.iter_mut().zip(keyframe.states) {
            if !states.is_empty() {
                op.set_states(states).map_err(|error| RunError::Step { error, at: None })?;
            }
        }
        engine.arm_timers(&keyframe.timers)?;
        engine.stats = keyframe.stats;
        engine.drops.resume_from(keyframe.drops);
        Ok(engine)
    }

    /// Carries counters over from another run of a graph with (some of) the same step, source
    /// and sink ids: each count goes to the entry of the same id (continuing after an edit).
    pub fn carry_stats(&mut self, stats: &RunStats, graph: &ValidGraph) {
        let doc = &self.graph.doc;
        for (index, step) in doc.steps.iter().enumerate() {
            if let Some(old) = graph.doc.steps.iter().position(|s| s.id == step.id)
                && let Some(counts) = stats.steps.get(old)
            {
                self.stats.steps[index] = *counts;
            }
        }
        for (index, source) in doc.sources.iter().enumerate() {
            if let Some(old) = graph.doc.sources.iter().position(|s| s.id == source.id)
                && let Some(count) = stats.per_source.get(old)
            {
                self.stats.per_source[index] = *count;
            }
        }
        for (index, sink) in doc.sinks.iter().enumerate() {
            if let Some(old) = graph.doc.sinks.iter().position(|s| s.id == sink.id)
                && let Some(count) = stats.sink_items.get(old)
            {
                self.stats.sink_items[index] = *count;
            }
        }
        self.stats.events_in = stats.events_in;
        self.stats.timers_fired = stats.timers_fired;
    }

    /// Carries the dropped-items ledger over from another run of a graph with (some of) the
    /// same step and source ids, as [`Engine::carry_stats`] carries the counters.
    pub fn carry_drops(&mut self, drops: &crate::ops::DropLedger, graph: &ValidGraph) {
        let doc = &self.graph.doc;
        let step_of = |old: usize| {
            let id = &graph.doc.steps.get(old)?.id;
            doc.steps.iter().position(|s| &s.id == id)
        };
        let source_of = |old: usize| {
            let id = &graph.doc.sources.get(old)?.id;
            doc.sources.iter().position(|s| &s.id == id)
        };
        self.drops.carry_from(drops, &step_of, &source_of);
    }

    /// Takes a snapshot between two events (before end of input). File sinks are flushed and
    /// synced to the disk, so that the bytes it records for them are in their files even
    /// after a power loss.
    pub fn snapshot(&mut self) -> Result<EngineSnapshot, RunError> {
        let mut steps = BTreeMap::new();
        for (index, spec) in self.graph.doc.steps.iter().enumerate() {
            if !spec.op.is_stateful() {
                continue;
            }
            set_script_clock(self.clock.now());
            let state = self.ops[index].snapshot().map_err(|error| RunError::Step { error, at: None })?;
            steps.insert(spec.id.clone(), state);
        }
        let timers = self.snapshot_timers();
        self.snapshot_with(steps, timers)
    }

    /// A snapshot of this engine's clock, sources and sinks (flushed and synced) with the
    /// given steps' states and timers: its own, or those a run on several workers gathered
    /// (docs/workers.md#snapshots).
    pub(crate) fn snapshot_with(
        &mut self,
        steps: BTreeMap<String, Vec<(Key, Dynamic)>>,
        timers: Vec<SnapshotTimer>,
    ) -> Result<EngineSnapshot, RunError> {
        self.flush()?;
        for slot in &mut self.sinks {
            slot.sink.sync()?;
        }
        let sinks =
            self.sinks.iter().filter_map(|slot| slot.sink.position().map(|p| (slot.id.clone(), p))).collect();
        Ok(EngineSnapshot {
            clock: self.clock.now(),
            source_rows: self.source_rows(),
            source_bytes: self.source_bytes(),
            steps,
            timers,
            events_in: self.stats.events_in,
            sinks,
        })
    }

    /// Builds an engine that continues from a snapshot: each key's logic is rebuilt from its
    /// snapshot value, exactly the recorded timers are re-armed, sources resume where they were,
    /// and file sinks the snapshot records are cut back to their recorded length and appended
    /// to (without a recorded position, a file sink starts afresh).
    pub fn restore(
        graph: ValidGraph,
        snapshot: &EngineSnapshot,
        options: &EngineOptions,
    ) -> Result<Engine, RunError> {
        let resume = Resume { quickly: false, sinks: Some(&snapshot.sinks), marks: None };
        let mut engine = Engine::resumed(graph, snapshot.clock, &snapshot.source_rows, options, resume)?;
        let index_of = |id: &str| engine.graph.doc.steps.iter().position(|s| s.id == id);
        for (id, state) in &snapshot.steps {
            let Some(index) = index_of(id) else {
                return Err(RunError::Snapshot(format!("the pipeline has no step `{id}`")));
            };
            engine.ops[index].restore(state.clone()).map_err(|error| RunError::Step { error, at: None })?;
        }
        engine.arm_timers(&snapshot.timers)?;
        engine.stats.events_in = snapshot.events_in;
        Ok(engine)
    }
}
