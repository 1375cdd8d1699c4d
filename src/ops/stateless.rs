//! Stateless steps: map, filter, filter_map, flat_map, key_on, key_rm, map_value,
//! filter_value, flat_map_value, inspect, merge, branch.

use rhai::Dynamic;

use super::common::{Key, StepError, as_array, as_bool, as_key, get_field, in_context, unkeyed};
use super::{DropReason, Item, OpContext, Operator, Output};
use crate::graph::{OpKind, StepSpec};
use crate::script::Script;

/// How the step computes its function: a script, a built-in field read, or nothing.
enum Function {
    Script { script: Script, name: &'static str },
    Field(String),
    None,
}

/// Any stateless step.
pub struct Stateless {
    step: String,
    op: OpKind,
    function: Function,
}

impl Stateless {
    /// Builds the step, checking its script defines the function it calls.
    pub fn new(spec: &StepSpec, script: Option<Script>) -> Result<Self, StepError> {
        let name = match spec.op {
            OpKind::Map | OpKind::FilterMap | OpKind::FlatMap | OpKind::MapValue | OpKind::FlatMapValue => {
                "mapper"
            }
            OpKind::Filter | OpKind::FilterValue | OpKind::Branch => "predicate",
            OpKind::KeyOn => "key",
            OpKind::Inspect => "inspector",
            _ => "",
        };
        let function = match (script, &spec.field) {
            (Some(script), _) => {
                script.require(name, &["x"])?;
                Function::Script { script, name }
            }
            (None, Some(field)) => Function::Field(field.clone()),
            (None, None) => Function::None,
        };
        Ok(Self { step: spec.id.clone(), op: spec.op, function })
    }

    /// Applies the user function (or field read) to `arg`, which is left as it was.
    fn apply(&mut self, key: Option<&Key>, arg: &Dynamic) -> Result<Dynamic, StepError> {
        match &mut self.function {
            Function::Script { script, name } => {
                script.call(name, std::slice::from_ref(arg)).map_err(|e| in_context(e, key, arg))
            }
            Function::Field(field) => get_field(&self.step, field, arg).map_err(|e| in_context(e, key, arg)),
            Function::None => Ok(arg.clone()),
        }
    }

    /// Gives an error about the function's result (a wrong shape) the function's script line.
    fn located(&self, error: StepError) -> StepError {
        match &self.function {
            Function::Script { script, .. } => script.locate(error),
            _ => error,
        }
    }

    fn function_name(&self) -> &'static str {
        match &self.function {
            Function::Script { name, .. } => name,
            _ => "field",
        }
    }
}

impl Operator for Stateless {
    fn value_use(&self) -> super::ValueUse {
        if let Function::Script { script, name } = &self.function {
            // The `_value` forms call their function on the value itself (the others on
            // `[key, value]` when the stream is keyed: left whole).
            return match self.op {
                OpKind::MapValue | OpKind::FlatMapValue => {
                    super::ValueUse::reads(script.param_fields(name, 1, 0))
                }
                OpKind::FilterValue => super::ValueUse::forwards(script.param_fields(name, 1, 0)),
                _ => super::ValueUse::Whole,
            };
        }
        let Function::Field(field) = &self.function else { return super::ValueUse::Whole };
        let fields = std::iter::once(field.clone()).collect();
        match self.op {
            OpKind::KeyOn => super::ValueUse::Forwards(fields),
            OpKind::Map | OpKind::MapValue => super::ValueUse::Reads(fields),
            _ => super::ValueUse::Whole,
        }
    }

    fn on_item(
        &mut self,
        ctx: &mut OpContext<'_>,
        _input: usize,
        item: Item,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        let emit = |out: &mut Vec<Output>, port: usize, item: Item| out.push(Output { port, item });
        match self.op {
            OpKind::Map => {
                let key = item.key.clone();
                let arg = match &self.function {
                    // The built-in field form reads the value's field, keyed or not.
                    Function::Field(_) => item.value,
                    _ => item.into_script_arg(),
                };
                let value = self.apply(key.as_ref(), &arg)?;
                emit(out, 0, Item::plain(value));
            }
            OpKind::Filter | OpKind::Branch => {
                let key = item.key.clone();
                let verdict = match &item.key {
                    Some(k) => {
                        let pair = Dynamic::from_array(vec![Dynamic::from(k.clone()), item.value.clone()]);
                        self.apply(key.as_ref(), &pair)?
                    }
                    None => self.apply(key.as_ref(), &item.value)?,
                };
                let name = self.function_name();
                let pass = as_bool(&self.step, name, &verdict)
                    .map_err(|e| self.located(in_context(e, key.as_ref(), &item.value)))?;
                match (self.op, pass) {
                    (OpKind::Filter, true) => emit(out, 0, item),
                    // docs/ledger.md#reasons: filtered.
                    (OpKind::Filter, false) => {
                        ctx.drops.drop_item(DropReason::Filtered, item.key.as_ref(), || item.value)
                    }
                    (_, true) => emit(out, 0, item),
                    (_, false) => emit(out, 1, item),
                }
            }
            OpKind::FilterMap => {
                let key = item.key.clone();
                let arg = item.into_script_arg();
                let value = self.apply(key.as_ref(), &arg)?;
                if !value.is_unit() {
                    emit(out, 0, Item::plain(value));
                } else {
                    ctx.drops
                        .drop_item(DropReason::Filtered, key.as_ref(), || value_of_arg(key.as_ref(), arg));
                }
            }
            OpKind::FlatMap => {
                let key = item.key.clone();
                let arg = item.into_script_arg();
                let value = self.apply(key.as_ref(), &arg)?;
                let items = as_array(&self.step, self.function_name(), "the result", value)
                    .map_err(|e| self.located(in_context(e, key.as_ref(), &arg)))?;
                if items.is_empty() {
                    ctx.drops
                        .drop_item(DropReason::Filtered, key.as_ref(), || value_of_arg(key.as_ref(), arg));
                }
                for value in items {
                    emit(out, 0, Item::plain(value));
                }
            }
            OpKind::KeyOn => {
                let key = item.key.clone();
                let value = item.into_script_arg();
                let new_key = self.apply(key.as_ref(), &value)?;
                let new_key = as_key(&self.step, self.function_name(), new_key)
                    .map_err(|e| self.located(in_context(e, key.as_ref(), &value)))?;
                emit(out, 0, Item::keyed(new_key, value));
            }
            OpKind::KeyRm => emit(out, 0, Item::plain(item.value)),
            OpKind::MapValue | OpKind::FilterValue | OpKind::FlatMapValue => {
                let key = item.key.ok_or_else(|| unkeyed(&self.step))?;
                match self.op {
                    OpKind::MapValue => {
                        let value = self.apply(Some(&key), &item.value)?;
                        emit(out, 0, Item::keyed(key, value));
                    }
                    OpKind::FilterValue => {
                        let verdict = self.apply(Some(&key), &item.value)?;
                        if as_bool(&self.step, self.function_name(), &verdict)
                            .map_err(|e| self.located(in_context(e, Some(&key), &item.value)))?
                        {
                            emit(out, 0, Item::keyed(key, item.value));
                        } else {
                            ctx.drops.drop_item(DropReason::Filtered, Some(&key), || item.value);
                        }
                    }
                    _ => {
                        let value = self.apply(Some(&key), &item.value)?;
                        let items = as_array(&self.step, self.function_name(), "the result", value)
                            .map_err(|e| self.located(in_context(e, Some(&key), &item.value)))?;
                        if items.is_empty() {
                            ctx.drops.drop_item(DropReason::Filtered, Some(&key), || item.value);
                        }
                        for value in items {
                            emit(out, 0, Item::keyed(key.clone(), value));
                        }
                    }
                }
            }
            OpKind::Inspect => {
                if matches!(self.function, Function::Script { .. }) {
                    let key = item.key.clone();
                    let _ignored = self.apply(key.as_ref(), &item.clone().into_script_arg())?;
                }
                emit(out, 0, item);
            }
            _ => emit(out, 0, item), // merge
        }
        Ok(())
    }
}

/// The value of an item whose function argument was `arg` (`[key, value]` on a keyed
/// stream): what the ledger records of an item the step dropped.
fn value_of_arg(key: Option<&Key>, arg: Dynamic) -> Dynamic {
    if key.is_none() {
        return arg;
    }
    match arg.into_array() {
        Ok(mut pair) if pair.len() == 2 => pair.pop().unwrap_or(Dynamic::UNIT),
        Ok(other) => Dynamic::from_array(other),
        Err(_) => Dynamic::UNIT,
    }
}
