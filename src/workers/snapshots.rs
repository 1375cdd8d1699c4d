//! Snapshots of a run on several workers (docs/workers.md#snapshots): taken at a batch
//! boundary, every keyed step's states and timers gathered by the writer into one snapshot
//! file of the single-threaded runner's format, so that a run resumes from it on any number
//! of workers (keys are dealt out again by hash) or on one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rhai::Dynamic;

use crate::engine::{EngineSnapshot, RunError, SnapshotTimer, SnapshotWriter};
use crate::graph::ValidGraph;
use crate::ops::Key;

use super::message::{Dest, Msg};

/// Where and how often a run on several workers takes snapshots.
#[derive(Debug)]
pub struct SnapshotPlan {
    /// Writes each snapshot file (`--snapshot-dir`, `--keep-snapshots`).
    pub writer: SnapshotWriter,
    /// Events between snapshots: one is taken after the batch that reaches each multiple.
    pub every: u64,
    /// The pipeline file (recorded in each snapshot).
    pub pipeline: PathBuf,
}

/// What a run on several workers recovers with: the snapshots it takes, the one it resumes
/// from.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Snapshots to take, when `--snapshot-dir` is given (process 0 only).
    pub snapshots: Option<SnapshotPlan>,
    /// The snapshot the run resumes from (`--resume`; process 0 only: it deals the states out).
    pub resume: Option<EngineSnapshot>,
}

/// Per step id, each key's `snapshot()` value in key order, as a snapshot holds them.
pub(crate) type StepStates = BTreeMap<String, Vec<(Key, Dynamic)>>;

/// The states and timers the writer gathered for the snapshot being taken.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Per step index: each key's `snapshot()` value.
    states: BTreeMap<u32, Vec<(Key, Dynamic)>>,
    /// Pending timers: (due, step index, key).
    timers: Vec<(i64, u32, Key)>,
}

impl Gathered {
    /// Keeps a state or timer message (any other is ignored).
    pub fn keep(&mut self, msg: Msg) {
        match (msg.to, msg.key) {
            (Dest::State { step }, Some(key)) => self.states.entry(step).or_default().push((key, msg.value)),
            (Dest::Timer { step, due }, Some(key)) => self.timers.push((due, step, key)),
            _ => {}
        }
    }

    /// The gathered states (every stateful step, in key order) and timers (in firing order:
    /// due time, step position, key), as the single-threaded runner's snapshot holds them;
    /// empties the gathering.
    pub fn take(&mut self, graph: &ValidGraph, positions: &[usize]) -> (StepStates, Vec<SnapshotTimer>) {
        let mut states = std::mem::take(&mut self.states);
        let mut steps = BTreeMap::new();
        for (index, spec) in graph.doc.steps.iter().enumerate() {
            if spec.op.is_stateful() {
                let mut entries = states.remove(&(index as u32)).unwrap_or_default();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                steps.insert(spec.id.clone(), entries);
            }
        }
        let mut timers = std::mem::take(&mut self.timers);
        timers.sort_by(|a, b| {
            (a.0, positions[a.1 as usize], a.2.as_bytes()).cmp(&(
                b.0,
                positions[b.1 as usize],
                b.2.as_bytes(),
            ))
        });
        let timers = timers
            .into_iter()
            .map(|(due, step, key)| SnapshotTimer {
                step: graph.doc.steps[step as usize].id.clone(),
                key: key.to_string(),
                due,
            })
            .collect();
        (steps, timers)
    }
}

/// The messages that deal a snapshot's states and timers out to the workers owning their
/// keys, before the first event.
pub(crate) fn restore_messages(snapshot: &EngineSnapshot, graph: &ValidGraph) -> Result<Vec<Msg>, RunError> {
    let index_of = |id: &str| {
        graph
            .doc
            .steps
            .iter()
            .position(|s| s.id == id)
            .map(|index| index as u32)
            .ok_or_else(|| RunError::Snapshot(format!("the pipeline has no step `{id}`")))
    };
    let message = Msg::snapshot_entry;
    let mut messages = Vec::new();
    for (id, states) in &snapshot.steps {
        let step = index_of(id)?;
        for (key, value) in states {
            messages.push(message(Dest::Restore { step }, key.clone(), value.clone()));
        }
    }
    for timer in &snapshot.timers {
        let step = index_of(&timer.step)?;
        messages.push(message(
            Dest::RestoreTimer { step, due: timer.due },
            Key::from(timer.key.as_str()),
            Dynamic::UNIT,
        ));
    }
    Ok(messages)
}
