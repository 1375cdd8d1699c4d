//! Undo and redo over whole canvas states. Every edit is caught the same way: after each frame
//! the document is compared with the last committed one, and a difference is committed once the
//! user pauses (no button held, no typing for a moment), so typing a word or dragging a node is
//! one step, not one per frame.

use egui_snarl::Snarl;

use crate::graph::PipelineDoc;
use crate::ui::editor::node::EditorNode;

/// Seconds of quiet after which a pending edit is committed.
const QUIET_SECONDS: f64 = 0.5;

/// Most undo steps kept.
const MAX_STEPS: usize = 200;

/// One committed state of the canvas.
#[derive(Clone)]
pub struct Checkpoint {
    /// The canvas (nodes, wires, positions).
    pub snarl: Snarl<EditorNode>,
    /// The document it gives.
    pub doc: PipelineDoc,
}

/// The undo and redo stacks around the committed state.
pub struct History {
    committed: Checkpoint,
    undo: Vec<Checkpoint>,
    redo: Vec<Checkpoint>,
    /// When the current, uncommitted change was last seen changing.
    changing_since: Option<f64>,
    last_seen: Option<PipelineDoc>,
}

impl History {
    /// A history that starts at `start` with nothing to undo.
    pub fn new(start: Checkpoint) -> Self {
        Self { committed: start, undo: Vec::new(), redo: Vec::new(), changing_since: None, last_seen: None }
    }

    /// Looks at the canvas after a frame; commits a change once it has settled. `busy` is true
    /// while the user holds a button or types. Returns true when a change was committed.
    pub fn observe(&mut self, snarl: &Snarl<EditorNode>, doc: &PipelineDoc, now: f64, busy: bool) -> bool {
        if *doc == self.committed.doc {
            self.changing_since = None;
            self.last_seen = None;
            return false;
        }
        if self.last_seen.as_ref() != Some(doc) {
            self.last_seen = Some(doc.clone());
            self.changing_since = Some(now);
        }
        let settled = self.changing_since.is_some_and(|since| now - since >= QUIET_SECONDS);
        if busy || !settled {
            return false;
        }
        self.commit(snarl, doc);
        true
    }

    /// Commits the canvas now (before an undo, a save, or a structural edit).
    pub fn commit(&mut self, snarl: &Snarl<EditorNode>, doc: &PipelineDoc) {
        if *doc == self.committed.doc {
            return;
        }
        let previous =
            std::mem::replace(&mut self.committed, Checkpoint { snarl: snarl.clone(), doc: doc.clone() });
        self.undo.push(previous);
        if self.undo.len() > MAX_STEPS {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.changing_since = None;
        self.last_seen = None;
    }

    /// Steps back: returns the state to show, if there is one.
    pub fn undo(&mut self, snarl: &Snarl<EditorNode>, doc: &PipelineDoc) -> Option<Checkpoint> {
        self.commit(snarl, doc);
        let previous = self.undo.pop()?;
        let current = std::mem::replace(&mut self.committed, previous);
        self.redo.push(current);
        Some(self.committed.clone())
    }

    /// Steps forward again: returns the state to show, if there is one.
    pub fn redo(&mut self, snarl: &Snarl<EditorNode>, doc: &PipelineDoc) -> Option<Checkpoint> {
        if *doc != self.committed.doc {
            // A new edit since the undo: there is nothing to redo any more.
            self.commit(snarl, doc);
            return None;
        }
        let next = self.redo.pop()?;
        let current = std::mem::replace(&mut self.committed, next);
        self.undo.push(current);
        Some(self.committed.clone())
    }

    /// Whether there is something to undo (committed or pending).
    pub fn can_undo(&self, doc: &PipelineDoc) -> bool {
        !self.undo.is_empty() || *doc != self.committed.doc
    }

    /// Whether the canvas has a change not committed yet.
    pub fn is_pending(&self, doc: &PipelineDoc) -> bool {
        *doc != self.committed.doc
    }

    /// Rewrites every state kept (the committed one, undo's and redo's) the same way: after a
    /// Save As into another folder, their relative paths must name their files from there.
    pub fn rebase(&mut self, mut rewrite: impl FnMut(&mut Checkpoint)) {
        rewrite(&mut self.committed);
        self.undo.iter_mut().chain(self.redo.iter_mut()).for_each(&mut rewrite);
        self.last_seen = None;
        self.changing_since = None;
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
}
