//! Hashed outputs: every item a step emits reduced to 64 bits by a caller's hasher, in place
//! (no copy of the value), in the order they are emitted. `eddy diff` compares two replays
//! this way without tracing copies of every item (docs/architecture.md, "Run against run").

use rhai::Dynamic;

use crate::ops::Key;

/// Reduces an emitted item (its output port, its key on a keyed stream, its value) to 64 bits.
/// Called once per item, before the item is delivered downstream.
pub type OutputHasher = Box<dyn FnMut(usize, Option<&Key>, &Dynamic) -> u64 + Send>;

/// One item a step emitted, hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputHash {
    /// The step (index into the document's `steps`).
    pub step: usize,
    /// The output port (0, or 1 for a branch's `falses`).
    pub port: usize,
    /// What the hasher made of the item.
    pub hash: u64,
}

/// The hasher and what it hashed since the last take.
pub(super) struct OutputHashes {
    hasher: OutputHasher,
    hashes: Vec<OutputHash>,
}

impl OutputHashes {
    /// Hashes with `hasher`, nothing hashed yet.
    pub(super) fn new(hasher: OutputHasher) -> Self {
        Self { hasher, hashes: Vec::new() }
    }

    /// Hashes one item `step` emitted on `port`.
    pub(super) fn push(&mut self, step: usize, port: usize, key: Option<&Key>, value: &Dynamic) {
        let hash = (self.hasher)(port, key, value);
        self.hashes.push(OutputHash { step, port, hash });
    }

    /// What was hashed since the last take, into `buffer` (cleared first; allocations kept).
    pub(super) fn take_into(&mut self, buffer: &mut Vec<OutputHash>) {
        buffer.clear();
        std::mem::swap(&mut self.hashes, buffer);
    }
}
