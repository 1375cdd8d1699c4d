//! Finite aggregations, emitted once per key at end of input: reduce_final, fold_final,
//! count_final, max_final, min_final.

use rhai::Dynamic;

use super::common::{
    InKeyOrder, KeyMap, StepError, as_key, get_field, in_context, step_error, take_in_key_order, unkeyed,
};
use super::keyed_state::keyed_state_accessors;
use super::stateful_map::builtin_step;
use super::{Item, Key, OpContext, Operator, Output};
use crate::graph::{Builtin, OpKind, StepSpec};
use crate::script::Script;

enum Kind {
    Reduce,
    Fold,
    Count,
    Max,
    Min,
}

enum Function {
    Script(Script),
    Builtin(Builtin),
    Field(String),
    None,
}

/// Any `*_final` step.
pub struct Aggregate {
    step: String,
    kind: Kind,
    function: Function,
    /// Operand field of a built-in.
    field: Option<String>,
    /// Per key: the accumulator (max/min: `[by, value]`).
    accs: KeyMap<Dynamic>,
    /// At end of input, the accumulators not emitted yet, in key order (emitted in parts).
    ending: Option<InKeyOrder<Dynamic>>,
}

impl Aggregate {
    /// Builds the step, checking its script defines the functions it calls.
    pub fn new(spec: &StepSpec, script: Option<Script>) -> Result<Self, StepError> {
        let kind = match spec.op {
            OpKind::ReduceFinal => Kind::Reduce,
            OpKind::FoldFinal => Kind::Fold,
            OpKind::CountFinal => Kind::Count,
            OpKind::MaxFinal => Kind::Max,
            _ => Kind::Min,
        };
        let function = match (script, spec.builtin, &spec.field) {
            (Some(script), _, _) => {
                match kind {
                    Kind::Reduce => script.require("reducer", &["acc", "value"])?,
                    Kind::Fold => {
                        script.require("builder", &[])?;
                        script.require("folder", &["acc", "value"])?;
                    }
                    Kind::Count => script.require("key", &["x"])?,
                    Kind::Max | Kind::Min => script.require("by", &["value"])?,
                }
                Function::Script(script)
            }
            (None, Some(builtin), _) => Function::Builtin(builtin),
            (None, None, Some(field)) if matches!(kind, Kind::Count | Kind::Max | Kind::Min) => {
                Function::Field(field.clone())
            }
            (None, None, _) if matches!(kind, Kind::Max | Kind::Min) => Function::None,
            _ => return Err(step_error(&spec.id, None, "needs a script or a built-in")),
        };
        let field = if matches!(function, Function::Builtin(_)) { spec.field.clone() } else { None };
        Ok(Self { step: spec.id.clone(), kind, function, field, accs: KeyMap::default(), ending: None })
    }

    fn by(&mut self, key: Option<&Key>, value: &Dynamic) -> Result<Dynamic, StepError> {
        match &mut self.function {
            Function::Script(script) => {
                script.call("by", std::slice::from_ref(value)).map_err(|e| in_context(e, key, value))
            }
            Function::Field(field) => {
                get_field(&self.step, field, value).map_err(|e| in_context(e, key, value))
            }
            _ => Ok(value.clone()),
        }
    }
}

impl Aggregate {
    /// The key `count_final` counts `arg` under: its `key` function's result, or its `field`.
    fn count_key(&mut self, arg: &Dynamic) -> Result<Key, StepError> {
        match &mut self.function {
            Function::Script(script) => {
                let k =
                    script.call("key", std::slice::from_ref(arg)).map_err(|e| in_context(e, None, arg))?;
                as_key(&self.step, "key", k).map_err(|e| script.locate(in_context(e, None, arg)))
            }
            Function::Field(field) => {
                let k = get_field(&self.step, field, arg).map_err(|e| in_context(e, None, arg))?;
                as_key(&self.step, "field", k).map_err(|e| in_context(e, None, arg))
            }
            _ => Err(step_error(&self.step, None, "count_final needs `fn key(x)` or `field`")),
        }
    }
}

impl Operator for Aggregate {
    fn route_key(&mut self, value: &Dynamic) -> Option<Key> {
        match self.kind {
            Kind::Count => self.count_key(value).ok(),
            _ => None,
        }
    }

    fn value_use(&self) -> super::ValueUse {
        let reads = |field: &str| super::ValueUse::Reads(std::iter::once(field.to_owned()).collect());
        match (&self.kind, &self.function, &self.field) {
            (Kind::Count, Function::Field(field), _) => reads(field),
            (Kind::Reduce | Kind::Fold, Function::Builtin(Builtin::Count), _) => {
                super::ValueUse::Reads(Default::default())
            }
            (Kind::Reduce | Kind::Fold, Function::Builtin(_), Some(field)) => reads(field),
            (Kind::Fold, Function::Script(script), _) => {
                super::ValueUse::reads(script.param_fields("folder", 2, 1))
            }
            _ => super::ValueUse::Whole,
        }
    }

    fn on_item(
        &mut self,
        _ctx: &mut OpContext<'_>,
        _input: usize,
        item: Item,
        _out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        if let Kind::Count = self.kind {
            let arg = item.into_script_arg();
            let key = self.count_key(&arg)?;
            let count = self.accs.get_or_insert_with(&key, || Dynamic::from_int(0));
            let n = count.as_int().unwrap_or(0);
            *count = Dynamic::from_int(n + 1);
            return Ok(());
        }
        let key = item.key.ok_or_else(|| unkeyed(&self.step))?;
        let value = item.value;
        match self.kind {
            Kind::Max | Kind::Min => {
                let by = self.by(Some(&key), &value)?;
                let replace = match self.accs.get(&key) {
                    None => true,
                    Some(best) => {
                        let best_by = best.read_lock::<rhai::Array>().and_then(|pair| pair.first().cloned());
                        let best_by = best_by.unwrap_or_default();
                        let order = crate::value::compare(&by, &best_by).map_err(|m| {
                            let error = in_context(step_error(&self.step, Some("by"), m), Some(&key), &value);
                            match &self.function {
                                Function::Script(script) => script.locate(error),
                                _ => error,
                            }
                        })?;
                        // On a tie the earlier value is kept.
                        if matches!(self.kind, Kind::Max) { order.is_gt() } else { order.is_lt() }
                    }
                };
                if replace {
                    self.accs.insert(&key, Dynamic::from_array(vec![by, value]));
                }
            }
            _ => {
                if let (Function::Script(script), Some(slot)) = (&mut self.function, self.accs.get_mut(&key))
                {
                    // A live key's next accumulator takes the last one's place: one look-up.
                    let name = if matches!(self.kind, Kind::Reduce) { "reducer" } else { "folder" };
                    // The accumulator is moved into the call, which may change it in place.
                    let mut args = [std::mem::take(slot), value];
                    return match script.call_mut(name, &mut args) {
                        Ok(next) => {
                            *slot = next;
                            Ok(())
                        }
                        Err(e) => {
                            // As when the accumulator is taken out for the call: the key is gone.
                            self.accs.remove(&key);
                            Err(in_context(e, Some(&key), &args[1]))
                        }
                    };
                }
                let previous = self.accs.remove(&key);
                let next = match (&mut self.function, previous) {
                    (Function::Builtin(builtin), previous) => {
                        let builtin = *builtin;
                        let previous = match (&self.kind, previous) {
                            (Kind::Fold, None) if builtin == Builtin::Count => Some(Dynamic::from_int(0)),
                            (_, previous) => previous,
                        };
                        builtin_step(&self.step, builtin, self.field.as_deref(), previous.as_ref(), &value)
                            .map_err(|e| in_context(e, Some(&key), &value))?
                    }
                    (Function::Script(script), previous) => {
                        let acc = match (&self.kind, previous) {
                            (_, Some(acc)) => acc,
                            (Kind::Reduce, None) => {
                                self.accs.insert(&key, value);
                                return Ok(());
                            }
                            (_, None) => {
                                script.call("builder", &[]).map_err(|e| in_context(e, Some(&key), &value))?
                            }
                        };
                        let name = if matches!(self.kind, Kind::Reduce) { "reducer" } else { "folder" };
                        let args = [acc, value];
                        script.call(name, &args).map_err(|e| in_context(e, Some(&key), &args[1]))?
                    }
                    _ => return Err(step_error(&self.step, None, "needs a script or a built-in")),
                };
                self.accs.insert(&key, next);
            }
        }
        Ok(())
    }

    fn on_eof(&mut self, ctx: &mut OpContext<'_>, out: &mut Vec<Output>) -> Result<(), StepError> {
        while self.on_eof_part(ctx, out, usize::MAX)? {}
        Ok(())
    }

    fn on_eof_part(
        &mut self,
        _ctx: &mut OpContext<'_>,
        out: &mut Vec<Output>,
        limit: usize,
    ) -> Result<bool, StepError> {
        let kind = &self.kind;
        out.reserve(self.accs.len().min(limit));
        let more = take_in_key_order(&mut self.accs, &mut self.ending, limit, |key, acc| {
            let value = match kind {
                Kind::Max | Kind::Min => {
                    acc.into_array().ok().and_then(|mut pair| pair.pop()).unwrap_or_default()
                }
                _ => acc,
            };
            out.push(Output { port: 0, item: Item::keyed(key, value) });
        });
        Ok(more)
    }

    keyed_state_accessors!(accs, set_states);
}
