//! stateful_map and stateful_flat_map: `mapper(state, value)` → `[new_state, out]`.

use rhai::Dynamic;

use super::common::{KeyMap, StepError, as_array, as_pair, get_field, in_context, step_error, unkeyed};
use super::keyed_state::keyed_state_accessors;
use super::{Item, Key, OpContext, Operator, Output};
use crate::graph::{Builtin, OpKind, StepSpec};
use crate::script::{Answer, Script};

enum Mapper {
    Script(Script),
    Builtin { builtin: Builtin, field: Option<String> },
}

/// A stateful_map or stateful_flat_map step.
pub struct StatefulMap {
    step: String,
    flat: bool,
    mapper: Mapper,
    states: KeyMap<Dynamic>,
    /// Which fields of its values the mapper can read.
    value_use: super::ValueUse,
}

impl StatefulMap {
    /// Builds the step from its script or built-in.
    pub fn new(spec: &StepSpec, script: Option<Script>) -> Result<Self, StepError> {
        let (mapper, value_use) = match (script, spec.builtin) {
            (Some(script), _) => {
                script.require("mapper", &["state", "value"])?;
                let value_use = super::ValueUse::reads(script.param_fields("mapper", 2, 1));
                (Mapper::Script(script), value_use)
            }
            (None, Some(Builtin::Count)) => (
                Mapper::Builtin { builtin: Builtin::Count, field: spec.field.clone() },
                super::ValueUse::Reads(Default::default()),
            ),
            (None, Some(builtin)) => {
                let value_use = match &spec.field {
                    Some(field) => super::ValueUse::Reads(std::iter::once(field.clone()).collect()),
                    None => super::ValueUse::Whole,
                };
                (Mapper::Builtin { builtin, field: spec.field.clone() }, value_use)
            }
            (None, None) => return Err(step_error(&spec.id, None, "needs a script or a built-in")),
        };
        Ok(Self {
            step: spec.id.clone(),
            flat: spec.op == OpKind::StatefulFlatMap,
            mapper,
            states: KeyMap::default(),
            value_use,
        })
    }
}

/// The next state of a built-in running aggregate (the output is the state).
pub fn builtin_step(
    step: &str,
    builtin: Builtin,
    field: Option<&str>,
    state: Option<&Dynamic>,
    value: &Dynamic,
) -> Result<Dynamic, StepError> {
    let operand = |value: &Dynamic| match field {
        Some(field) => get_field(step, field, value),
        None => Ok(value.clone()),
    };
    let fail = |m: String| crate::script::ScriptError::builtin(step, builtin.as_str(), m);
    Ok(match (builtin, state) {
        (Builtin::Count, None) => Dynamic::from_int(1),
        (Builtin::Count, Some(n)) => {
            let n = n.as_int().map_err(|_| fail("the count is not an INT".into()))?;
            Dynamic::from_int(n + 1)
        }
        // A key's first value is checked as every later one is, so that the error names
        // the row that brought it.
        (Builtin::Sum, None) => {
            let first = operand(value)?;
            if !(first.is_int() || first.is_float()) {
                return Err(fail(format!(
                    "the built-in sum takes numbers, not {}",
                    crate::value::describe_type(&first)
                )));
            }
            first
        }
        (Builtin::Min | Builtin::Max, None) => {
            let first = operand(value)?;
            crate::value::compare(&first, &first).map_err(fail)?;
            first
        }
        (Builtin::Sum, Some(acc)) => crate::value::add(acc, &operand(value)?).map_err(fail)?,
        (Builtin::Min | Builtin::Max, Some(acc)) => {
            let candidate = operand(value)?;
            let order = crate::value::compare(&candidate, acc).map_err(fail)?;
            let better = if builtin == Builtin::Min { order.is_lt() } else { order.is_gt() };
            if better { candidate } else { acc.clone() }
        }
    })
}

impl Operator for StatefulMap {
    fn value_use(&self) -> super::ValueUse {
        self.value_use.clone()
    }

    fn on_item(
        &mut self,
        _ctx: &mut OpContext<'_>,
        _input: usize,
        item: Item,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        let key = item.key.ok_or_else(|| unkeyed(&self.step))?;
        match &mut self.mapper {
            Mapper::Builtin { builtin, field } => {
                let field = field.as_deref();
                let next = match self.states.get_mut(&key) {
                    Some(slot) => {
                        let next = builtin_step(&self.step, *builtin, field, Some(slot), &item.value)
                            .map_err(|e| in_context(e, Some(&key), &item.value))?;
                        slot.clone_from(&next);
                        next
                    }
                    None => {
                        let next = builtin_step(&self.step, *builtin, field, None, &item.value)
                            .map_err(|e| in_context(e, Some(&key), &item.value))?;
                        self.states.insert(&key, next.clone());
                        next
                    }
                };
                out.push(Output { port: 0, item: Item::keyed(key, next) });
            }
            Mapper::Script(script) => {
                // One hash lookup per item: the state is taken out of its slot for the call
                // and the new state put back in the same slot.
                let mut slot = self.states.get_mut(&key);
                let state = slot.as_deref_mut().map(std::mem::take).unwrap_or(Dynamic::UNIT);
                let args = [state, item.value];
                // Asked by parts: a mapper ending with `[n, n]` hands over the two items
                // without building the array (docs/performance.md, the runner).
                let result = script.call_pair("mapper", &args);
                let [state, context] = args;
                let result = match result {
                    Ok(result) => result,
                    Err(e) => {
                        if let Some(slot) = slot {
                            *slot = state;
                        }
                        return Err(in_context(e, Some(&key), &context));
                    }
                };
                let shape = if self.flat { "[new_state, [outputs…]]" } else { "[new_state, output]" };
                let (new_state, output) = match result {
                    Answer::Pair(new_state, output) => (new_state, output),
                    Answer::Whole(result) => as_pair(&self.step, "mapper", shape, result)
                        .map_err(|e| script.locate(in_context(e, Some(&key), &context)))?,
                };
                match slot {
                    Some(slot) if !new_state.is_unit() => *slot = new_state,
                    Some(_) => {
                        self.states.remove(&key);
                    }
                    None if !new_state.is_unit() => {
                        self.states.insert(&key, new_state);
                    }
                    None => {}
                }
                if self.flat {
                    let outputs = as_array(&self.step, "mapper", "the second element of the result", output)
                        .map_err(|e| script.locate(in_context(e, Some(&key), &context)))?;
                    for value in outputs {
                        out.push(Output { port: 0, item: Item::keyed(key.clone(), value) });
                    }
                } else {
                    out.push(Output { port: 0, item: Item::keyed(key, output) });
                }
            }
        }
        Ok(())
    }

    keyed_state_accessors!(states, set_states);
}
