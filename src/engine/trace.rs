//! Tracing: what happened inside one [`Engine::step`](super::Engine::step), item by item, for
//! the workbench (node previews, breakpoints, changed keys). Off by default; when off it costs
//! one branch per item (the headless runner never turns it on).

use std::sync::Arc;

use rhai::Dynamic;

use crate::ops::Key;

/// An item's value as traced: one copy shared by every record of the same item (out of one
/// step, into the next), so that tracing copies each item once, not once per record.
pub type TracedValue = Arc<Dynamic>;

/// One thing that happened at a step, in the order it happened.
#[derive(Debug, Clone)]
pub struct TraceEvent {
    /// The step (index into the document's `steps`).
    pub step: usize,
    /// What happened.
    pub kind: TraceKind,
}

/// What happened at a step.
#[derive(Debug, Clone)]
pub enum TraceKind {
    /// An item arrived on one of the step's inputs (before the step ran).
    ItemIn {
        /// The input's index in the step's `inputs`.
        input: usize,
        /// The item's key, on a keyed stream.
        key: Option<Key>,
        /// The item's value (shared with the record of the item leaving the step before).
        value: TracedValue,
    },
    /// The step emitted an item.
    ItemOut {
        /// The output port (0, or 1 for a branch's `falses`).
        port: usize,
        /// The item's key, on a keyed stream.
        key: Option<Key>,
        /// The item's value.
        value: TracedValue,
    },
    /// The step armed (`Some(due)`) or cancelled (`None`) a key's timer.
    TimerSet {
        /// The key.
        key: Key,
        /// When it is due (microseconds since the epoch), or `None` when cancelled.
        due: Option<i64>,
    },
    /// A key's timer fired (before `on_notify` ran).
    TimerFired {
        /// The key.
        key: Key,
        /// When it was due (microseconds since the epoch).
        due: i64,
    },
    /// A stateful step ran for a key (an item or a timer): its state may have changed.
    StateChanged {
        /// The key.
        key: Key,
    },
    /// The step's script called `print` or `debug` (on a thread that captures script output).
    Printed(crate::script::ScriptOutput),
    /// The step failed; the step's error is what [`Engine::step`](super::Engine::step) returns.
    Error {
        /// The error, as displayed.
        message: String,
    },
}
