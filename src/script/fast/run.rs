//! Running a lowered function: the compiled function ([`CompiledFn`]), what its closures see
//! ([`Env`]), and how evaluation stops early ([`Exit`]).
//!
//! The checked tree is lowered to closures. Two costs dominate a small function and are avoided:
//! calls into `Dynamic` that are not inlined (`clone`, `drop`, a failed `as_*`, which formats the
//! type's name), and store-forwarding stalls when a `Dynamic` written field by field is moved as a
//! whole. So values travel as [`Value`] (word-aligned; fresh numbers and booleans unboxed; arguments,
//! constants and literals borrowed), operands are read through [`ValueRef`] views without copies,
//! and types are tested with the inlined `is_*` before any `as_*`.

use rhai::{Dynamic, ImmutableString};

use super::value::Value;
use crate::script::ScriptLimits;

/// Why evaluation stopped early.
pub(super) enum Exit {
    /// `return` (boxed: keeps `EvalResult<Value>` small and word-aligned).
    Return(Box<Dynamic>),
    /// Anything the fast path does not reproduce: run the call in Rhai.
    Fail,
}

/// What evaluating a node gives: a value, or an early [`Exit`].
pub(super) type EvalResult<T> = Result<T, Exit>;

/// Shorthand for giving up.
pub(super) fn fail<T, X>(_: X) -> EvalResult<T> {
    Err(Exit::Fail)
}

/// What a running body sees.
pub(super) struct Env<'a, 'l> {
    pub(super) args: &'a [Dynamic],
    /// Top-level constants and literals.
    pub(super) lits: &'a [Dynamic],
    pub(super) limits: &'a ScriptLimits,
    /// Local variables, held as `Value`s: a local bound to an argument borrows it until the body
    /// assigns to it.
    pub(super) locals: &'l mut [Value<'a>],
    /// A method's `this`, when it is written in place: how to put it back on a fallback.
    pub(super) journal: Option<Journal>,
}

/// What one write to a method's `this` replaced, to be put back if the call falls back.
pub(super) enum Undo {
    /// `this` was a map whose property held this value (`None`: it had no such property), and
    /// the write changed that property only.
    Prop(ImmutableString, Option<Dynamic>),
    /// `this` as a whole, before a write of another kind.
    Whole(Dynamic),
}

/// The writes to a method's `this` while the body runs.
///
/// `this` is moved into its local rather than copied on its first write (a whole state map copied
/// and dropped on every call, for a call that changes a few numbers in it). The first write of any
/// other kind than "one property of the map" saves `this` whole, after which nothing more need be
/// saved. On a fallback the entries, undone last first, give back `this` as it came in, for Rhai to
/// run the call on.
pub(super) struct Journal {
    /// The local holding `this`.
    slot: usize,
    undo: Vec<Undo>,
    /// `this` was saved whole: later writes need no entry.
    whole: bool,
}

impl Env<'_, '_> {
    /// Called before a write to local `slot` that changes only property `prop` of it (`Some`), or
    /// anything in it (`None`): when the local is the journaled `this`, saves what the write may
    /// change.
    #[inline]
    pub(super) fn before_write(&mut self, slot: usize, prop: Option<&ImmutableString>) -> EvalResult<()> {
        let Some(journal) = &mut self.journal else { return Ok(()) };
        if journal.slot != slot || journal.whole {
            return Ok(());
        }
        let target = &self.locals[slot];
        if let (Some(prop), Value::Own(d)) = (prop, target)
            && d.is_map()
        {
            let old = d.as_map_ref().or_else(fail)?.get(prop.as_str()).cloned();
            journal.undo.push(Undo::Prop(prop.clone(), old));
        } else {
            journal.undo.push(Undo::Whole(target.copy().dynamic()));
            journal.whole = true;
        }
        Ok(())
    }
}

impl Journal {
    /// `this` as it came in: `now` (what the body left in it) with the writes undone, last first.
    fn undo(self, mut now: Dynamic) -> Dynamic {
        for undo in self.undo.into_iter().rev() {
            match undo {
                Undo::Whole(before) => now = before,
                Undo::Prop(prop, old) => {
                    // A property entry is only made while `this` is a map, and every write after it
                    // either kept it a map or was preceded by a whole entry (undone first).
                    debug_assert!(now.is_map(), "a journaled `this` is a map");
                    if let Ok(mut map) = now.as_map_mut() {
                        match old {
                            Some(value) => {
                                map.insert(prop.as_str().into(), value);
                            }
                            None => {
                                map.remove(prop.as_str());
                            }
                        }
                    }
                }
            }
        }
        now
    }
}

/// A compiled expression or statement.
pub(super) type EvalFn = Box<dyn for<'a, 'l> Fn(&mut Env<'a, 'l>) -> EvalResult<Value<'a>> + Send + Sync>;

pub(super) fn eval_fn<F>(f: F) -> EvalFn
where
    F: for<'a, 'l> Fn(&mut Env<'a, 'l>) -> EvalResult<Value<'a>> + Send + Sync + 'static,
{
    Box::new(f)
}

/// A function lowered to closures, with what a call needs to set up its locals.
pub(super) struct CompiledFn {
    pub(super) arity: usize,
    pub(super) n_locals: usize,
    /// Called with `this` bound: it is the argument after the parameters.
    pub(super) method: bool,
    /// `(parameter, local slot)`: parameters the body assigns to, held in locals.
    pub(super) param_copies: Vec<(usize, usize)>,
    /// Top-level constants and literals, read by index.
    pub(super) lits: Vec<Dynamic>,
    pub(super) limits: ScriptLimits,
    pub(super) body: EvalFn,
}

impl CompiledFn {
    /// The local slot of a method's `this` when the body assigns to it (else `this` is read in
    /// place, as an argument).
    pub(super) fn this_slot(&self) -> Option<usize> {
        let this = self.arity;
        self.param_copies.iter().find(|(param, _)| self.method && *param == this).map(|&(_, slot)| slot)
    }

    /// Runs the body with `this` (a method's, whose body assigns to it) moved into its local and
    /// written in place. `Ok`: the value and what the body left in `this`; `Err`: `this` as it
    /// came in.
    pub(super) fn run_in_place<'a>(
        &'a self,
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
        slot: usize,
        this: Dynamic,
    ) -> Result<(Dynamic, Dynamic), Dynamic> {
        for &(param, copy) in &self.param_copies {
            if copy != slot {
                locals[copy] = Value::Ref(&args[param]);
            }
        }
        locals[slot] = Value::Own(this);
        let journal = Journal { slot, undo: Vec::new(), whole: false };
        let mut env = Env { args, lits: &self.lits, limits: &self.limits, locals, journal: Some(journal) };
        let value = match (self.body)(&mut env) {
            Ok(v) => Ok(v.dynamic()),
            Err(Exit::Return(v)) => Ok(*v),
            Err(Exit::Fail) => Err(()),
        };
        let left = std::mem::replace(&mut env.locals[slot], Value::Unit).dynamic();
        match value {
            Ok(value) => Ok((value, left)),
            Err(()) => Err(match env.journal.take() {
                Some(journal) => journal.undo(left),
                None => left,
            }),
        }
    }

    #[inline]
    pub(super) fn run<'a>(
        &'a self,
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
    ) -> Result<(Dynamic, Option<Dynamic>), ()> {
        for &(param, slot) in &self.param_copies {
            locals[slot] = Value::Ref(&args[param]);
        }
        let mut env = Env { args, lits: &self.lits, limits: &self.limits, locals, journal: None };
        let value = match (self.body)(&mut env) {
            Ok(v) => v.dynamic(),
            Err(Exit::Return(v)) => *v,
            Err(Exit::Fail) => return Err(()),
        };
        // A method's `this`, when the body may have assigned to it: still the argument itself
        // (never written), or its new value.
        let this = self.arity;
        let left = match self.param_copies.iter().find(|(param, _)| self.method && *param == this) {
            Some(&(_, slot)) => match std::mem::replace(&mut locals[slot], Value::Unit) {
                Value::Ref(given) if std::ptr::eq(given, &args[this]) => None,
                other => Some(other.dynamic()),
            },
            None => None,
        };
        Ok((value, left))
    }
}
