//! Running a lowered function: the compiled function ([`CompiledFn`]), what its closures see
//! ([`Env`]), and how evaluation stops early ([`Exit`]).
//!
//! The checked tree is lowered to closures. Two costs dominate a small function and are avoided:
//! calls into `Dynamic` that are not inlined (`clone`, `drop`, a failed `as_*`, which formats the
//! type's name), and store-forwarding stalls when a `Dynamic` written field by field is moved as a
//! whole. So values travel as [`Value`] (word-aligned; fresh numbers and booleans unboxed; arguments,
//! constants and literals borrowed), operands are read through [`ValueRef`] views without copies,
//! and types are tested with the inlined `is_*` before any `as_*`.

use rhai::Dynamic;

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
    #[inline]
    pub(super) fn run<'a>(
        &'a self,
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
    ) -> Result<(Dynamic, Option<Dynamic>), ()> {
        for &(param, slot) in &self.param_copies {
            locals[slot] = Value::Ref(&args[param]);
        }
        let mut env = Env { args, lits: &self.lits, limits: &self.limits, locals };
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
