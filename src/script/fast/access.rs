//! Reading operands in place: [`Atom`]s (literals, arguments, locals, constants), chains of
//! property, index and method steps ([`Path`], [`walk`]), and [`Access`], how an operator or a
//! call gets each operand.

use rhai::{Dynamic, FLOAT, INT, ImmutableString};

use super::builtins::builtin;
use super::operators::binary;
use super::run::{Env, EvalFn, EvalResult, Exit, fail};
use super::tree::{BinOp, Builtin};
use super::value::{Value, ValueRef, read};

/// An operand read without evaluation: a literal, an argument, a local, a constant.
#[derive(Debug, Clone, Copy)]
pub(super) enum Atom {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    /// An entry of the constants-and-literals pool.
    Lit(usize),
    Arg(usize),
    Local(usize),
    /// A property of a slotted local, held in the call's slots (see `slots`).
    Slot(usize),
}

impl Atom {
    #[inline(always)]
    pub(super) fn val<'s>(self, env: &'s Env<'_, '_>) -> ValueRef<'s> {
        match self {
            Atom::Unit => ValueRef::Unit,
            Atom::Bool(b) => ValueRef::Bool(b),
            Atom::Int(i) => ValueRef::Int(i),
            Atom::Float(f) => ValueRef::Float(f),
            Atom::Lit(k) => ValueRef::Dyn(&env.lits[k]),
            Atom::Arg(i) => ValueRef::Dyn(&env.args[i]),
            Atom::Local(i) => env.locals[i].view(),
            Atom::Slot(k) => ValueRef::Dyn(&env.slots[k]),
        }
    }

    #[inline(always)]
    pub(super) fn value<'a>(self, env: &Env<'a, '_>) -> Value<'a> {
        let (args, lits) = (env.args, env.lits);
        match self {
            Atom::Unit => Value::Unit,
            Atom::Bool(b) => Value::Bool(b),
            Atom::Int(i) => Value::Int(i),
            Atom::Float(f) => Value::Float(f),
            Atom::Lit(k) => Value::Ref(&lits[k]),
            Atom::Arg(i) => Value::Ref(&args[i]),
            Atom::Local(i) => env.locals[i].copy(),
            Atom::Slot(k) => read(&env.slots[k]),
        }
    }
}

/// An index or method argument of a run-time chain step: read in place, or the n-th value
/// computed before the chain is walked.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operand {
    Atom(Atom),
    /// The n-th value computed before the chain is walked.
    Computed(usize),
}

/// What one step of a run-time chain does: read a property, read an index, or call a built-in
/// method on the value reached so far.
#[derive(Debug)]
pub(super) enum PathStepKind {
    Prop(ImmutableString),
    Index(Operand),
    Method(Builtin, Vec<Operand>),
}

/// One step of a run-time chain ([`PathStepKind`]), with whether it short-circuits on `()`.
#[derive(Debug)]
pub(super) struct PathStep {
    pub(super) kind: PathStepKind,
    /// `?.` / `?[`: a `()` object makes the whole chain `()`.
    pub(super) nullish: bool,
}

/// A chain whose root and operands are all atoms: read in place, with no evaluation.
pub(super) struct Path {
    pub(super) root: Atom,
    pub(super) steps: Vec<PathStep>,
}

impl Path {
    #[inline]
    pub(super) fn with<T, F: FnOnce(ValueRef<'_>) -> EvalResult<T>>(
        &self,
        env: &Env<'_, '_>,
        f: F,
    ) -> EvalResult<T> {
        // Inside a method's `this` whose arrays are known within the limits (see `walk`), held
        // in place (journaled) or read as its argument.
        let inside_checked = match self.root {
            Atom::Local(slot) => env.arrays_within(slot),
            Atom::Arg(i) => env.arg_within == Some(i),
            _ => false,
        };
        match self.root.val(env) {
            ValueRef::Dyn(d) => walk(d, &self.steps, env, &[], inside_checked, f),
            scalar => walk(&scalar.to_owned().dynamic(), &self.steps, env, &[], false, f),
        }
    }
}

/// How an operand of an operator or a call is obtained.
pub(super) enum Access {
    Atom(Atom),
    Path(Path),
    /// `a ?? b ?? …` of atoms.
    Coalesce(Vec<Atom>),
    /// An operator on two pure accesses: computed with no closure call.
    Bin(BinOp, Box<(Access, Access)>),
    /// Computed by a closure.
    Eval(EvalFn),
}

impl Access {
    /// Whether it can be read with a shared `Env` (no evaluation).
    pub(super) fn is_pure(&self) -> bool {
        !matches!(self, Access::Eval(_))
    }

    /// Reads a pure access in place.
    #[inline(always)]
    pub(super) fn with<T, F: FnOnce(ValueRef<'_>) -> EvalResult<T>>(
        &self,
        env: &Env<'_, '_>,
        f: F,
    ) -> EvalResult<T> {
        match self {
            Access::Atom(a) => f(a.val(env)),
            Access::Path(p) => p.with(env, f),
            Access::Coalesce(atoms) => {
                let mut value = ValueRef::Unit;
                for a in atoms {
                    value = a.val(env);
                    if !value.is_unit() {
                        break;
                    }
                }
                f(value)
            }
            Access::Bin(op, x) => {
                let v = pure_binary(*op, &x.0, &x.1, env)?;
                f(v.view())
            }
            Access::Eval(_) => Err(Exit::Fail),
        }
    }

    /// Reads any access: in place when pure, else by evaluating it.
    #[inline(always)]
    pub(super) fn get<T, F: FnOnce(ValueRef<'_>) -> EvalResult<T>>(
        &self,
        env: &mut Env<'_, '_>,
        f: F,
    ) -> EvalResult<T> {
        match self {
            Access::Eval(e) => {
                let v = e(env)?;
                f(v.view())
            }
            pure => pure.with(env, f),
        }
    }

    /// The value (a copy).
    #[inline(always)]
    pub(super) fn value<'a>(&self, env: &mut Env<'a, '_>) -> EvalResult<Value<'a>> {
        match self {
            Access::Atom(a) => Ok(a.value(env)),
            Access::Bin(op, x) => pure_binary(*op, &x.0, &x.1, env),
            Access::Coalesce(atoms) => {
                let mut value = Value::Unit;
                for a in atoms {
                    value = a.value(env);
                    if !value.view().is_unit() {
                        break;
                    }
                }
                Ok(value)
            }
            Access::Path(p) => p.with(env, |v| Ok(v.to_owned())),
            Access::Eval(e) => e(env),
        }
    }
}

/// An operator on two pure accesses.
pub(super) fn pure_binary(
    op: BinOp,
    a: &Access,
    b: &Access,
    env: &Env<'_, '_>,
) -> EvalResult<Value<'static>> {
    a.with(env, |x| b.with(env, |y| binary(env.limits, op, x, y)))
}

pub(super) fn operand_value<'s>(o: Operand, env: &'s Env<'_, '_>, vals: &'s [Dynamic]) -> ValueRef<'s> {
    match o {
        Operand::Atom(a) => a.val(env),
        Operand::Computed(i) => ValueRef::Dyn(&vals[i]),
    }
}

/// Walks a chain from `cur`, as Rhai's `eval_dot_index_chain_raw` reads it. `inside_checked`:
/// `cur` is inside a method's `this` whose arrays are all known within the data-size limits
/// (`Env::arrays_within`), so that a built-in method called on an array reached through
/// properties and indices need not measure it (Rhai's check after the call would pass).
pub(super) fn walk<T, F: FnOnce(ValueRef<'_>) -> EvalResult<T>>(
    cur: &Dynamic,
    steps: &[PathStep],
    env: &Env<'_, '_>,
    vals: &[Dynamic],
    inside_checked: bool,
    f: F,
) -> EvalResult<T> {
    let Some((step, rest)) = steps.split_first() else {
        return f(ValueRef::Dyn(cur));
    };
    if step.nullish && cur.is_unit() {
        return f(ValueRef::Unit);
    }
    match &step.kind {
        PathStepKind::Prop(key) => {
            if !cur.is_map() {
                // Rhai would call a property getter.
                return Err(Exit::Fail);
            }
            let map = cur.as_map_ref().or_else(fail)?;
            let child = map.get(key.as_str()).ok_or(Exit::Fail)?;
            walk(child, rest, env, vals, inside_checked, f)
        }
        PathStepKind::Index(o) => {
            let idx = operand_value(*o, env, vals);
            if cur.is_array() {
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let array = cur.as_array_ref().or_else(fail)?;
                let i = calc_index(array.len(), i).ok_or(Exit::Fail)?;
                walk(&array[i], rest, env, vals, inside_checked, f)
            } else if cur.is_map() {
                let ValueRef::Dyn(key) = idx else { return Err(Exit::Fail) };
                if !key.is_string() {
                    return Err(Exit::Fail);
                }
                let key = key.as_immutable_string_ref().or_else(fail)?;
                let map = cur.as_map_ref().or_else(fail)?;
                let child = map.get(key.as_str()).ok_or(Exit::Fail)?;
                walk(child, rest, env, vals, inside_checked, f)
            } else if cur.is_int() {
                // A bit of an integer.
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let bit = calc_index(INT::BITS as usize, i).ok_or(Exit::Fail)?;
                let set = cur.as_int().or_else(fail)? & (1 << bit) != 0;
                walk(&Dynamic::from_bool(set), rest, env, vals, false, f)
            } else if cur.is_string() {
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let ch = string_char(&cur.as_immutable_string_ref().or_else(fail)?, i)?;
                walk(&Dynamic::from_char(ch), rest, env, vals, false, f)
            } else {
                Err(Exit::Fail)
            }
        }
        PathStepKind::Method(b, args) => {
            // A map property holding a function pointer is called instead (OOP style).
            if cur.is_map()
                && let Ok(map) = cur.as_map_ref()
                && map.get(b.name()).is_some_and(Dynamic::is_fnptr)
            {
                return Err(Exit::Fail);
            }
            let known_within = inside_checked && cur.is_array();
            let result = match args.as_slice() {
                [] => builtin(env.limits, *b, ValueRef::Dyn(cur), None, known_within)?,
                [a] => builtin(
                    env.limits,
                    *b,
                    ValueRef::Dyn(cur),
                    Some(operand_value(*a, env, vals)),
                    known_within,
                )?,
                _ => return Err(Exit::Fail),
            };
            walk(&result.dynamic(), rest, env, vals, false, f)
        }
    }
}

/// Rhai's `calc_index(len, index, true)`: a negative index counts from the end.
pub(super) fn calc_index(len: usize, index: INT) -> Option<usize> {
    if len == 0 {
        None
    } else if index < 0 {
        let abs = usize::try_from(index.unsigned_abs()).ok()?;
        (abs <= len).then(|| len - abs)
    } else {
        let i = usize::try_from(index).ok()?;
        (i < len).then_some(i)
    }
}

/// `s[index]`, as Rhai indexes a string by characters.
pub(super) fn string_char(s: &str, index: INT) -> EvalResult<char> {
    if index >= 0 {
        let offset = usize::try_from(index).or_else(fail)?;
        s.chars().nth(offset).ok_or(Exit::Fail)
    } else {
        let offset = usize::try_from(index.unsigned_abs()).or_else(fail)?;
        s.chars().rev().nth(offset - 1).ok_or(Exit::Fail)
    }
}
