//! Snapshots: what a run needs to continue from a point between two events — every stateful
//! step's `snapshot()` per live key, the pending timers, the clock and each source's position.

use std::collections::BTreeMap;

use rhai::Dynamic;

use super::{Engine, EngineOptions, RunError};
use crate::graph::ValidGraph;
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

/// A point of a run to resume from (SEMANTICS.md, "Snapshots and recovery").
#[derive(Debug, Clone)]
pub struct EngineSnapshot {
    /// The clock.
    pub clock: Option<i64>,
    /// Rows consumed per source (by source id): the next event is the row after them.
    pub source_rows: BTreeMap<String, u64>,
    /// Per step id, each live key's `snapshot()` value, in key order.
    pub steps: BTreeMap<String, Vec<(Key, Dynamic)>>,
    /// Pending timers, in firing order.
    pub timers: Vec<SnapshotTimer>,
    /// Source events processed before this point.
    pub events_in: u64,
    /// Per file sink (by id): where its file stood, flushed (empty with captured sinks).
    pub sinks: BTreeMap<String, crate::io::SinkPosition>,
}

impl Engine {
    /// Takes a snapshot between two events (before end of input). File sinks are flushed, so
    /// that the bytes it records for them are in their files.
    pub fn snapshot(&mut self) -> Result<EngineSnapshot, RunError> {
        self.flush()?;
        let sinks =
            self.sinks.iter().filter_map(|slot| slot.sink.position().map(|p| (slot.id.clone(), p))).collect();
        let mut steps = BTreeMap::new();
        for (index, spec) in self.graph.doc.steps.iter().enumerate() {
            if !spec.op.is_stateful() {
                continue;
            }
            set_script_clock(self.clock.now());
            let state = self.ops[index].snapshot().map_err(|error| RunError::Step { error, at: None })?;
            steps.insert(spec.id.clone(), state);
        }
        let source_rows = self
            .sources
            .iter()
            .map(|slot| {
                let peeked = u64::from(slot.head.is_some());
                (slot.source.id().to_owned(), slot.source.rows_consumed() - peeked)
            })
            .collect();
        let timers = self
            .timers
            .pending()
            .map(|t| SnapshotTimer {
                step: self.graph.doc.steps[self.graph.order[t.position]].id.clone(),
                key: t.key.to_string(),
                due: t.due,
            })
            .collect();
        Ok(EngineSnapshot {
            clock: self.clock.now(),
            source_rows,
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
        let mut engine = Engine::build(graph, options, Some(&snapshot.sinks))?;
        engine.clock.set(snapshot.clock);
        set_script_clock(snapshot.clock);
        for slot in &mut engine.sources {
            let rows = snapshot.source_rows.get(slot.source.id()).copied().unwrap_or(0);
            slot.source.skip_rows(rows)?;
        }
        let index_of = |id: &str| engine.graph.doc.steps.iter().position(|s| s.id == id);
        for (id, state) in &snapshot.steps {
            let Some(index) = index_of(id) else {
                return Err(RunError::Snapshot(format!("the pipeline has no step `{id}`")));
            };
            engine.ops[index].restore(state.clone()).map_err(|error| RunError::Step { error, at: None })?;
        }
        for timer in &snapshot.timers {
            let Some(index) = index_of(&timer.step) else {
                return Err(RunError::Snapshot(format!(
                    "a timer names step `{}`, which the pipeline lacks",
                    timer.step
                )));
            };
            let position = engine.positions[index];
            engine.timers.arm(position, &Key::from(timer.key.as_str()), timer.due);
        }
        engine.stats.events_in = snapshot.events_in;
        Ok(engine)
    }
}
