//! Operators: each a per-step state machine with the same small interface ([`Operator`]):
//! an item arrives, a key's timer fires, input ends, snapshot, restore. They know nothing of
//! scheduling, so the same code can be hosted by another executor.
//!
//! One module per family: [`stateless`], [`stateful_map`], [`aggregate`], [`collect`],
//! [`join`], [`stateful`]. [`build`] makes the operator a step spec asks for. [`DropLedger`]
//! counts (and may keep) what steps drop (docs/ledger.md).

mod aggregate;
mod collect;
mod common;
mod dropped;
mod join;
mod key_map;
mod keyed_state;
mod stateful;
mod stateful_map;
mod stateless;

use rhai::Dynamic;

use crate::graph::{OpKind, StepSpec};
use crate::script::{Script, ScriptError, ScriptHost};

pub use common::{Key, StepError, describe_item};
pub use dropped::{DropLedger, DropReason, DropSite, Dropped};

/// One item on a stream: keyed streams carry a key, unkeyed ones do not.
#[derive(Debug, Clone)]
pub struct Item {
    /// The key, on keyed streams.
    pub key: Option<Key>,
    /// The value (the whole record, for source events).
    pub value: Dynamic,
}

impl ValueUse {
    /// What a step whose function reads `fields` of its argument does with the value:
    /// only reads those (`None`: may read it whole).
    pub fn reads(fields: Option<std::collections::BTreeSet<String>>) -> Self {
        fields.map_or(ValueUse::Whole, ValueUse::Reads)
    }

    /// Same, for a step that then passes the value on unchanged.
    pub fn forwards(fields: Option<std::collections::BTreeSet<String>>) -> Self {
        fields.map_or(ValueUse::Whole, ValueUse::Forwards)
    }
}

impl Item {
    /// An item of an unkeyed stream.
    pub fn plain(value: Dynamic) -> Self {
        Self { key: None, value }
    }

    /// An item of a keyed stream.
    pub fn keyed(key: Key, value: Dynamic) -> Self {
        Self { key: Some(key), value }
    }

    /// What a stateless user function sees: the value, or `[key, value]` on a keyed stream.
    pub fn into_script_arg(self) -> Dynamic {
        match self.key {
            Some(key) => Dynamic::from_array(vec![Dynamic::from(key), self.value]),
            None => self.value,
        }
    }
}

/// An item emitted on one of a step's output ports (0, or 1 for a branch's `falses`).
#[derive(Debug, Clone)]
pub struct Output {
    /// The output port.
    pub port: usize,
    /// The item.
    pub item: Item,
}

/// Where a key's timer is held, kept by a step with the key's state so that re-arming it
/// needs no look-up by key. It names one arming: once that timer fires or is cancelled the
/// handle no longer finds anything, and the next arming goes by key and renews it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerHandle {
    /// The timer's slot.
    pub slot: u32,
    /// Which arming holds the slot (0: none).
    pub tenancy: u64,
}

/// Timer requests of one step: at most one timer per key.
pub trait Timers {
    /// Arms (or re-arms) the key's timer at `due` (microseconds since the epoch).
    fn arm(&mut self, key: &Key, due: i64);
    /// Arms (or re-arms) the key's timer at `due`, found through `handle` when it still names
    /// it; `handle` then names it. By default, as [`Timers::arm`].
    fn arm_with(&mut self, key: &Key, due: i64, handle: &mut TimerHandle) {
        let _ = handle;
        self.arm(key, due);
    }
    /// Cancels the key's timer, if any.
    fn cancel(&mut self, key: &Key);
}

/// What an operator may see and do besides its own state.
pub struct OpContext<'a> {
    /// The run's clock (`None` before the first timed event).
    pub now: Option<i64>,
    /// This step's timers.
    pub timers: &'a mut dyn Timers,
    /// The dropped-items ledger (docs/ledger.md): where a step reports an item it drops.
    pub drops: &'a mut DropLedger,
}

/// How a step uses the values it receives: what lets a source leave out the fields of its
/// records that nothing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueUse {
    /// The whole value may be read, kept or passed on.
    Whole,
    /// Only these fields of the value are read; the value itself goes no further.
    Reads(std::collections::BTreeSet<String>),
    /// These fields are read and the value is passed on unchanged on output port 0.
    Forwards(std::collections::BTreeSet<String>),
}

/// One step of the dataflow. Implementations hold all state of their step, per key.
pub trait Operator: Send {
    /// How this step uses the values it receives (by default: wholly).
    fn value_use(&self) -> ValueUse {
        ValueUse::Whole
    }

    /// The key the value of an unkeyed item will be kept under, for a step that keys its
    /// input itself (`count_final` with `key` or `field`): a run on several workers sends the
    /// item to the worker that owns that key (docs/workers.md). `None` for a step that does
    /// not, or when keying fails (`on_item` then reports the error where it belongs).
    fn route_key(&mut self, _value: &Dynamic) -> Option<Key> {
        None
    }

    /// Asks the step to share parts of what it emits with its state instead of copying them
    /// (a join: the records it remembers, with the rows it emits); returns whether it will.
    /// Only an executor that gives every consumer that may change or keep an item parts of
    /// its own first asks: the engine does, at its one delivery to a step
    /// (docs/architecture.md#shared-parts). By default a step shares nothing.
    fn share_outputs(&mut self) -> bool {
        false
    }

    /// Asks the step to emit its rows written ([`crate::value::WrittenRow`]: each record it
    /// remembers held with its JSON text, made once when it arrives, and the rows written by
    /// splicing those texts); returns whether it will. Only an executor whose every reader of
    /// the step's outputs writes them as JSON, or makes them ordinary values first
    /// ([`crate::value::unshare_parts`]), asks: the engine does, for a step read only by JSON
    /// sinks (docs/architecture.md#written-rows). By default a step emits ordinary values.
    fn write_outputs(&mut self) -> bool {
        false
    }

    /// An item arrived on input `input` (the index in the step's `inputs`).
    fn on_item(
        &mut self,
        ctx: &mut OpContext<'_>,
        input: usize,
        item: Item,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError>;

    /// The key's timer is due (it has been disarmed already).
    fn on_notify(
        &mut self,
        _ctx: &mut OpContext<'_>,
        _key: &Key,
        _out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        Ok(())
    }

    /// All inputs have ended: emit what is left, for every live key in key order.
    fn on_eof(&mut self, _ctx: &mut OpContext<'_>, _out: &mut Vec<Output>) -> Result<(), StepError> {
        Ok(())
    }

    /// All inputs have ended, emitted in parts: what [`Operator::on_eof`] emits, in the same
    /// order, but a step may stop after `limit` outputs and be called again while it returns
    /// `true` (outputs remain). The engine delivers each part before asking for the next, so a
    /// final aggregate over many keys does not hold all its outputs at once
    /// (docs/architecture.md#end-of-input-in-parts). By default the whole `on_eof` at once.
    fn on_eof_part(
        &mut self,
        ctx: &mut OpContext<'_>,
        out: &mut Vec<Output>,
        _limit: usize,
    ) -> Result<bool, StepError> {
        self.on_eof(ctx, out)?;
        Ok(false)
    }

    /// Number of live keys.
    fn key_count(&self) -> usize {
        0
    }

    /// Each live key's state as the engine holds it (for the UI and keyframes), in key order.
    fn states(&self) -> Vec<(Key, Dynamic)> {
        Vec::new()
    }

    /// Each live key's state as [`Operator::states`] gives it, in no particular order (hash
    /// order): cheaper, for the engine's keyframes, which are only restored or sorted when shown.
    fn states_unsorted(&self) -> Vec<(Key, Dynamic)> {
        self.states()
    }

    /// Shows each live key's state (as [`Operator::states`] gives it) to `visit`, in no
    /// particular order (hash order), without copying the states held as they are: for
    /// keyframes, which pack them, and are only restored or sorted when shown.
    fn visit_states(&self, visit: &mut dyn FnMut(&Key, &Dynamic)) {
        for (key, state) in self.states() {
            visit(&key, &state);
        }
    }

    /// One key's state as the engine holds it (as in [`Operator::states`]), if the key is live.
    fn state_of(&self, key: &Key) -> Option<Dynamic> {
        self.states().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Shows one key's state (as in [`Operator::state_of`]) to `visit` without copying it
    /// where the operator holds it as is; nothing is called when the key is not live. For
    /// the workbench, which sizes and renders states while a replay plays.
    fn visit_state(&self, key: &Key, visit: &mut dyn FnMut(&Dynamic)) {
        if let Some(state) = self.state_of(key) {
            visit(&state);
        }
    }

    /// Replaces all state with what [`Operator::states`] returned (keyframe restore).
    fn set_states(&mut self, _states: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
        Ok(())
    }

    /// Each live key's state to resume from (a StatefulLogic's `snapshot()`), in key order.
    fn snapshot(&mut self) -> Result<Vec<(Key, Dynamic)>, StepError> {
        Ok(self.states())
    }

    /// Rebuilds state from [`Operator::snapshot`] (a StatefulLogic calls `builder(state)`).
    fn restore(&mut self, snapshot: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
        self.set_states(snapshot)
    }
}

/// Compiles a step's script (if any) and builds its operator; checks the script has the
/// functions the operator calls. `timeout_micros` is a collect's timeout.
pub fn build(
    host: &ScriptHost,
    step: &StepSpec,
    input_count: usize,
    timeout_micros: Option<i64>,
) -> Result<Box<dyn Operator>, ScriptError> {
    build_with(step, compile_script(host, step)?, input_count, timeout_micros)
}

/// Compiles a step's script, if it has one, in the form its operator calls it.
pub fn compile_script(host: &ScriptHost, step: &StepSpec) -> Result<Option<Script>, ScriptError> {
    Ok(match &step.script {
        // Only a StatefulLogic calls its functions as methods (`this` bound to the key's state).
        Some(source) if matches!(step.op, OpKind::Stateful | OpKind::StatefulBatch) => {
            Some(Script::compile_with_methods(host, &step.id, source)?)
        }
        Some(source) => Some(Script::compile(host, &step.id, source)?),
        None => None,
    })
}

/// Builds a step's operator around its script as [`compile_script`] compiled it; checks the
/// script has the functions the operator calls.
pub fn build_with(
    step: &StepSpec,
    script: Option<Script>,
    input_count: usize,
    timeout_micros: Option<i64>,
) -> Result<Box<dyn Operator>, ScriptError> {
    let id = step.id.as_str();
    Ok(match step.op {
        OpKind::Map
        | OpKind::Filter
        | OpKind::FilterMap
        | OpKind::FlatMap
        | OpKind::KeyOn
        | OpKind::KeyRm
        | OpKind::MapValue
        | OpKind::FilterValue
        | OpKind::FlatMapValue
        | OpKind::Inspect
        | OpKind::Merge
        | OpKind::Branch => Box::new(stateless::Stateless::new(step, script)?),
        OpKind::StatefulMap | OpKind::StatefulFlatMap => {
            Box::new(stateful_map::StatefulMap::new(step, script)?)
        }
        OpKind::ReduceFinal
        | OpKind::FoldFinal
        | OpKind::CountFinal
        | OpKind::MaxFinal
        | OpKind::MinFinal => Box::new(aggregate::Aggregate::new(step, script)?),
        OpKind::Collect => Box::new(collect::Collect::new(id, step.max_size, timeout_micros)),
        OpKind::Join => Box::new(join::Join::new(
            id,
            input_count,
            step.insert_mode.unwrap_or_default(),
            step.emit_mode.unwrap_or_default(),
        )),
        OpKind::Stateful | OpKind::StatefulBatch => {
            let Some(script) = script else {
                return Err(ScriptError::new(id, None, "this operator needs a script"));
            };
            Box::new(stateful::StatefulLogic::new(script, step.op == OpKind::StatefulBatch)?)
        }
    })
}
