//! The replay's manual snapshots (frames to open, compare and go back to), the ids they and
//! the automatic keyframes share, and what opening or comparing two of them shows.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::Dynamic;

use super::command::SnapshotId;
use super::event::{KeyChange, SnapshotContents, SnapshotDiff, SnapshotInfo, StepDiff, TimerView};
use super::views::{StepPreview, rows_of};
use crate::engine::{EngineSnapshot, Keyframe};
use crate::graph::ValidGraph;
use crate::ops::Key;
use crate::value::display_json;

/// A manual snapshot (or an automatic keyframe composed whole): a point to go back to, with
/// what the views showed there.
#[derive(Debug)]
pub(super) struct Frame {
    /// What the snapshot list shows of it.
    pub info: SnapshotInfo,
    /// The graph it was taken in.
    pub graph: Arc<ValidGraph>,
    /// The run there, states included.
    pub keyframe: Keyframe,
    /// What the node previews showed there.
    pub previews: Vec<StepPreview>,
    /// The logics' own `snapshot()` (manual snapshots; to restore into another graph).
    pub resume: Option<EngineSnapshot>,
}

/// The manual snapshots taken, by id.
#[derive(Debug)]
pub(super) struct Snapshots {
    manual: BTreeMap<SnapshotId, Arc<Frame>>,
    next_id: SnapshotId,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots { manual: BTreeMap::new(), next_id: 1 }
    }
}

impl Snapshots {
    /// A new id, for a snapshot or a keyframe (they share one sequence).
    pub fn next_id(&mut self) -> SnapshotId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Keeps a manual snapshot under its id.
    pub fn insert(&mut self, frame: Frame) {
        self.manual.insert(frame.info.id, Arc::new(frame));
    }

    /// The manual snapshot `id`.
    pub fn get(&self, id: SnapshotId) -> Option<Arc<Frame>> {
        self.manual.get(&id).map(Arc::clone)
    }

    /// What the list shows of each manual snapshot.
    pub fn infos(&self) -> impl Iterator<Item = &SnapshotInfo> {
        self.manual.values().map(|f| &f.info)
    }
}

/// What opening a frame shows: each stateful step's states in key order, and the timers.
pub(super) fn contents(frame: &Frame) -> SnapshotContents {
    let steps = frame_tables(frame)
        .into_iter()
        .map(|(step, states)| {
            let mut states = states.clone();
            states.sort_unstable_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
            (step, rows_of(&states))
        })
        .collect();
    let timers = frame
        .keyframe
        .timers
        .iter()
        .map(|t| TimerView { step: t.step.clone(), key: t.key.clone(), due_micros: t.due })
        .collect();
    SnapshotContents { info: frame.info.clone(), steps, timers }
}

/// The keys added, removed and changed from one frame to another, per stateful step.
pub(super) fn diff(from: &Frame, to: &Frame) -> SnapshotDiff {
    let old: BTreeMap<String, &Vec<(Key, Dynamic)>> = frame_tables(from).into_iter().collect();
    let new: BTreeMap<String, &Vec<(Key, Dynamic)>> = frame_tables(to).into_iter().collect();
    let mut ids: Vec<&String> = old.keys().chain(new.keys()).collect();
    ids.sort();
    ids.dedup();
    let empty = Vec::new();
    let mut steps = Vec::new();
    for id in ids {
        let diff =
            diff_states(id, old.get(id).copied().unwrap_or(&empty), new.get(id).copied().unwrap_or(&empty));
        if !(diff.added.is_empty() && diff.removed.is_empty() && diff.changed.is_empty()) {
            steps.push(diff);
        }
    }
    SnapshotDiff { from: from.info.clone(), to: to.info.clone(), steps }
}

/// Each stateful step's states in a frame, by step id.
fn frame_tables(frame: &Frame) -> Vec<(String, &Vec<(Key, Dynamic)>)> {
    frame
        .graph
        .doc
        .steps
        .iter()
        .zip(&frame.keyframe.states)
        .filter(|(spec, _)| spec.op.is_stateful())
        .map(|(spec, states)| (spec.id.clone(), states))
        .collect()
}

fn diff_states(step: &str, old: &[(Key, Dynamic)], new: &[(Key, Dynamic)]) -> StepDiff {
    let old: BTreeMap<&[u8], (&Key, &Dynamic)> = old.iter().map(|(k, v)| (k.as_bytes(), (k, v))).collect();
    let new: BTreeMap<&[u8], (&Key, &Dynamic)> = new.iter().map(|(k, v)| (k.as_bytes(), (k, v))).collect();
    let mut diff =
        StepDiff { step: step.to_owned(), added: Vec::new(), removed: Vec::new(), changed: Vec::new() };
    for (bytes, (key, value)) in &new {
        match old.get(bytes) {
            None => diff.added.push((key.to_string(), display_json(value))),
            Some((_, before)) => {
                let (before, after) = (display_json(before), display_json(value));
                if before != after {
                    diff.changed.push(KeyChange { key: key.to_string(), old: before, new: after });
                }
            }
        }
    }
    for (bytes, (key, value)) in &old {
        if !new.contains_key(bytes) {
            diff.removed.push((key.to_string(), display_json(value)));
        }
    }
    diff
}
