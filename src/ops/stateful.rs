//! stateful and stateful_batch: a StatefulLogic per key, written as one Rhai script whose
//! methods run with `this` bound to the key's state (docs/semantics.md#low-level-stateful-logic).

use rhai::Dynamic;

use super::common::{KeyMap, StepError, as_array, as_pair, in_context, sorted_keys, step_error, unkeyed};
use super::keyed_state::{StateValue, keyed_state_accessors};
use super::{DropLedger, DropReason, Item, Key, OpContext, Operator, Output, TimerHandle};
use crate::script::{Answer, Script};

/// Whether a logic survives a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Keep the logic.
    Retain,
    /// Drop the logic and its timer.
    Discard,
}

/// One key's logic: its state, whether the state is known *checked* (read-write throughout,
/// nested no deeper than `max_depth`, its arrays within the size limits: see
/// [`Script::call_this_checked`]), which spares the next call walks of the whole state, and
/// where its timer is held (re-armed after every item without a look-up by key). Only the
/// calls' answers set `checked`; a state built, restored or set from outside is not checked.
struct Logic {
    state: Dynamic,
    checked: bool,
    timer: TimerHandle,
}

impl Logic {
    fn unchecked(state: Dynamic) -> Self {
        Self { state, checked: false, timer: TimerHandle::default() }
    }
}

impl StateValue for Logic {
    fn to_value(&self) -> Dynamic {
        self.state.clone()
    }

    fn visit(&self, visit: &mut dyn FnMut(&Dynamic)) {
        visit(&self.state);
    }
}

/// A stateful or stateful_batch step.
pub struct StatefulLogic {
    script: Script,
    batch: bool,
    has_notify: bool,
    has_eof: bool,
    has_notify_at: bool,
    has_snapshot: bool,
    logics: KeyMap<Logic>,
}

impl StatefulLogic {
    /// Builds the step, checking the script's functions.
    pub fn new(script: Script, batch: bool) -> Result<Self, StepError> {
        script.require("builder", &["resume"])?;
        if batch {
            script.require("on_batch", &["values"])?;
        } else {
            script.require("on_item", &["value"])?;
        }
        Ok(Self {
            has_notify: script.has("on_notify", 0),
            has_eof: script.has("on_eof", 0),
            has_notify_at: script.has("notify_at", 0),
            has_snapshot: script.has("snapshot", 0),
            script,
            batch,
            logics: KeyMap::default(),
        })
    }

    fn step(&self) -> &str {
        self.script.step()
    }

    fn build(&mut self, key: &Key, resume: Dynamic) -> Result<Dynamic, StepError> {
        Self::build_with(&mut self.script, key, resume)
    }

    fn build_with(script: &mut Script, key: &Key, resume: Dynamic) -> Result<Dynamic, StepError> {
        script.call("builder", std::slice::from_ref(&resume)).map_err(|e| {
            e.with_context(format!("key {:?}, resume state {}", key.as_str(), crate::value::preview(&resume)))
        })
    }

    /// Emits a call's outputs, applies its retention, and re-reads `notify_at`; an error
    /// about a result's shape names the line where the function starts. `logic` is the key's
    /// logic where it is stored (in `logics`); the caller drops it on `Discard` or an error.
    #[expect(clippy::too_many_arguments, reason = "the step's parts, borrowed apart from its states")]
    fn finish(
        script: &mut Script,
        has_notify_at: bool,
        ctx: &mut OpContext<'_>,
        key: &Key,
        function: &str,
        logic: &mut Logic,
        result: Answer,
        out: &mut Vec<Output>,
    ) -> Result<Retention, StepError> {
        Self::finish_unlocated(script, has_notify_at, ctx, key, function, logic, result, out)
            .map_err(|e| script.locate(e))
    }

    #[expect(clippy::too_many_arguments, reason = "the step's parts, borrowed apart from its states")]
    fn finish_unlocated(
        script: &mut Script,
        has_notify_at: bool,
        ctx: &mut OpContext<'_>,
        key: &Key,
        function: &str,
        logic: &mut Logic,
        result: Answer,
        out: &mut Vec<Output>,
    ) -> Result<Retention, StepError> {
        let shape = "[outputs, RETAIN] or [outputs, DISCARD]";
        let step = script.step();
        let (outputs, discard) = match result {
            Answer::Pair(outputs, discard) => (outputs, discard),
            Answer::Whole(result) => as_pair(step, function, shape, result)?,
        };
        let outputs = as_array(step, function, "the outputs (first element)", outputs)?;
        let retention = match discard.as_bool() {
            Ok(true) => Retention::Discard,
            Ok(false) => Retention::Retain,
            Err(_) => {
                return Err(step_error(
                    step,
                    Some(function),
                    format!(
                        "the second element must be RETAIN or DISCARD, found {}",
                        crate::value::preview(&discard)
                    ),
                ));
            }
        };
        for value in outputs {
            out.push(Output { port: 0, item: Item::keyed(key.clone(), value) });
        }
        match retention {
            Retention::Discard => {
                ctx.timers.cancel(key);
            }
            Retention::Retain => {
                if has_notify_at {
                    let due =
                        script.call_this_checked(&mut logic.state, &mut logic.checked, "notify_at", ())?;
                    if due.is_unit() {
                        ctx.timers.cancel(key);
                    } else if let Ok(due) = due.as_int() {
                        ctx.timers.arm_with(key, due, &mut logic.timer);
                    } else {
                        return Err(step_error(
                            script.step(),
                            Some("notify_at"),
                            format!(
                                "must return a time (INT microseconds, e.g. now() + secs(5)) or (), it returned {}",
                                crate::value::preview(&due)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(retention)
    }
}

/// After a call on `key`'s logic, run on its state where it is stored: a discarded logic, or
/// one whose call failed, is gone; a retained one stays as the call left it.
///
/// A DISCARDed key's state goes to the ledger (docs/ledger.md#reasons: discarded).
fn settle(
    logics: &mut KeyMap<Logic>,
    key: &Key,
    finished: Result<Retention, StepError>,
    drops: &mut DropLedger,
) -> Result<(), StepError> {
    if !matches!(finished, Ok(Retention::Retain))
        && let Some(state) = logics.remove(key)
        && finished.is_ok()
    {
        drops.drop_item(DropReason::Discarded, Some(key), || state.state);
    }
    finished.map(|_| ())
}

impl Operator for StatefulLogic {
    fn value_use(&self) -> super::ValueUse {
        if self.batch {
            super::ValueUse::Whole
        } else {
            super::ValueUse::reads(self.script.param_fields("on_item", 1, 0))
        }
    }

    fn on_item(
        &mut self,
        ctx: &mut OpContext<'_>,
        _input: usize,
        item: Item,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        let key = item.key.ok_or_else(|| unkeyed(self.step()))?;
        // The call runs on the state where it is stored; a new key's logic is built first.
        // Looked up twice rather than once through `get_or_insert_with`, since building a new
        // key's logic can fail (the second look-up finds the slot in cache).
        let Self { script, logics, batch, has_notify_at, .. } = self;
        if !logics.contains_key(&key) {
            let logic = Logic::unchecked(Self::build_with(script, &key, Dynamic::UNIT)?);
            logics.insert(&key, logic);
        }
        let Some(logic) = logics.get_mut(&key) else { return Ok(()) }; // inserted just above
        let context = item.value.clone();
        let Logic { state, checked, .. } = &mut *logic;
        let (function, result) = if *batch {
            let values = Dynamic::from_array(vec![item.value]);
            ("on_batch", script.call_this_checked_pair(state, checked, "on_batch", (values,)))
        } else {
            ("on_item", script.call_this_checked_pair(state, checked, "on_item", (item.value,)))
        };
        let finished = result.map_err(|e| in_context(e, Some(&key), &context)).and_then(|result| {
            Self::finish(script, *has_notify_at, ctx, &key, function, logic, result, out)
                .map_err(|e| in_context(e, Some(&key), &context))
        });
        settle(logics, &key, finished, ctx.drops)
    }

    fn on_notify(
        &mut self,
        ctx: &mut OpContext<'_>,
        key: &Key,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        let Self { script, logics, has_notify, has_notify_at, .. } = self;
        let Some(logic) = logics.get_mut(key) else { return Ok(()) };
        let result = if *has_notify {
            script
                .call_this_checked_pair(&mut logic.state, &mut logic.checked, "on_notify", ())
                .map_err(|e| e.with_context(format!("key {:?}, timer", key.as_str())))
        } else {
            Ok(Answer::Pair(Dynamic::from_array(Vec::new()), Dynamic::from_bool(false)))
        };
        let finished = result.and_then(|result| {
            Self::finish(script, *has_notify_at, ctx, key, "on_notify", logic, result, out).map_err(|e| {
                if e.context.is_some() { e } else { e.with_context(format!("key {:?}, timer", key.as_str())) }
            })
        });
        settle(logics, key, finished, ctx.drops)
    }

    fn on_eof(&mut self, ctx: &mut OpContext<'_>, out: &mut Vec<Output>) -> Result<(), StepError> {
        if !self.has_eof {
            return Ok(());
        }
        for key in sorted_keys(&self.logics) {
            let Self { script, logics, has_notify_at, .. } = &mut *self;
            let Some(logic) = logics.get_mut(&key) else { continue };
            let finished = script
                .call_this_checked_pair(&mut logic.state, &mut logic.checked, "on_eof", ())
                .map_err(|e| e.with_context(format!("key {:?}, end of input", key.as_str())))
                .and_then(|result| {
                    Self::finish(script, *has_notify_at, ctx, &key, "on_eof", logic, result, out)
                });
            settle(logics, &key, finished, ctx.drops)?;
        }
        Ok(())
    }

    keyed_state_accessors!(logics);

    fn set_states(&mut self, states: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
        self.logics = states.into_iter().map(|(key, state)| (key, Logic::unchecked(state))).collect();
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<(Key, Dynamic)>, StepError> {
        let mut snapshot = Vec::with_capacity(self.logics.len());
        for key in sorted_keys(&self.logics) {
            let Some(logic) = self.logics.get_mut(&key) else { continue };
            let value = if self.has_snapshot {
                self.script
                    .call_this_checked(&mut logic.state, &mut logic.checked, "snapshot", ())
                    .map_err(|e| e.with_context(format!("key {:?}, snapshot", key.as_str())))?
            } else {
                logic.state.clone()
            };
            snapshot.push((key, value));
        }
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
        self.logics.clear();
        for (key, resume) in snapshot {
            let state = self.build(&key, resume)?;
            self.logics.insert(&key, Logic::unchecked(state));
        }
        Ok(())
    }
}
