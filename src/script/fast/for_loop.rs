//! `for x in array { … }` and `for (x, i) in array { … }`.
//!
//! Rhai iterates over the value of the iterable expression: a copy of a variable's array (a
//! clone of every item). The loop does the same when the array is computed, or held in a local
//! the body could change. When the array is reached through properties and indices from an
//! argument, a constant or a literal (or a local still borrowing one), nothing the call does can
//! change it: the loop then runs over the array in place, the loop variable borrowing each item
//! ([`Value::Ref`]: a read of it copies it, as a read of Rhai's copy would, and a write to it
//! makes it a copy first). A method's `this` that the body only reads is such an argument
//! (`fn total() { let sum = 0; for item in this.items { sum += item[1]; } sum }`).
//!
//! Locals hold values borrowed for the whole call (`Value<'a>`), and the items are borrowed for
//! the loop only, so the body runs on the locals moved into a buffer of the shorter lifetime; as
//! they come back after the loop, a local that still borrows an item takes a copy of it (the
//! loop variable itself is out of scope then and is dropped).

use rhai::{Dynamic, INT, ImmutableString};

use super::access::{Atom, Operand, Path, PathStepKind, calc_index};
use super::lower::{Lowering, break_value};
use super::run::{Env, EvalFn, EvalResult, Exit, eval_fn, fail};
use super::tree::{Expr, ForLoop, LoopBody};
use super::value::{Value, ValueRef, borrowed, owned};

/// How the loop finds its array.
enum Iterable {
    /// A chain of properties and indices read in place (or an atom: no steps).
    Path(Path),
    /// Anything else: computed.
    Eval(EvalFn),
}

/// What a round runs: the loop variable's and the counter's slots, the body, and the
/// operations a round counts at most.
struct Rounds {
    var: usize,
    counter: Option<usize>,
    body: EvalFn,
    ops_per_round: u64,
}

/// Lowers a `for` loop (see the module's documentation).
pub(super) fn lower(lowering: &mut Lowering, f: ForLoop) -> Option<EvalFn> {
    let ForLoop { var, counter, iterable, body: LoopBody { body, ops_per_round } } = f;
    let iterable = match iterable {
        Expr::Chain(c) => match lowering.chain(*c)? {
            Ok(path) => Iterable::Path(path),
            Err(ev) => Iterable::Eval(ev),
        },
        e => match lowering.atom(e) {
            Ok(root) => Iterable::Path(Path { root, steps: Vec::new() }),
            Err(e) => Iterable::Eval(lowering.expr(e)?),
        },
    };
    let rounds = Rounds { var, counter, body: lowering.block(body)?, ops_per_round };
    Some(eval_fn(move |env| {
        let value = match &iterable {
            Iterable::Path(path) => {
                if let Some(result) = in_place(env, path, &rounds) {
                    return result;
                }
                path.with(env, |v| Ok(v.to_owned()))?
            }
            Iterable::Eval(e) => e(env)?,
        };
        // Rhai iterates over the value of the expression (a copy of a variable's array).
        let items = match value {
            Value::Own(d) if d.is_array() => d.into_array().or_else(fail)?,
            Value::Ref(d) if d.is_array() => d.as_array_ref().or_else(fail)?.clone(),
            _ => return Err(Exit::Fail),
        };
        rounds.run(env, items.into_iter().map(owned))
    }))
}

impl Rounds {
    /// Runs a round per item, the loop variable holding it, up to a `break`.
    fn run<'e, 'g: 'e>(
        &self,
        env: &mut Env<'e, '_>,
        items: impl Iterator<Item = Value<'g>>,
    ) -> EvalResult<Value<'static>> {
        for (i, item) in items.enumerate() {
            self.start(env, i)?;
            env.locals[self.var] = item;
            match (self.body)(env) {
                Ok(_) | Err(Exit::Continue) => {}
                Err(Exit::Break(value)) => return Ok(break_value(value)),
                Err(other) => return Err(other),
            }
        }
        Ok(Value::Unit)
    }

    /// Starts round `i`: counts its operations, forgets the measured local, sets the counter.
    #[inline]
    fn start(&self, env: &mut Env<'_, '_>, i: usize) -> EvalResult<()> {
        env.round(self.ops_per_round)?;
        env.forget_sized();
        if let Some(c) = self.counter {
            env.locals[c] = Value::Int(INT::try_from(i).or_else(fail)?);
        }
        Ok(())
    }
}

/// An index step's key, read before the walk (the walk must not hold the `Env`).
enum Key {
    Int(INT),
    Str(ImmutableString),
}

/// Runs the loop over the array in place when `path` reaches one from a value borrowed for the
/// whole call (an argument, a constant or a literal, or a local borrowing one) through
/// properties and indices, none of it shared; `None` (nothing done) otherwise.
fn in_place<'a>(env: &mut Env<'a, '_>, path: &Path, rounds: &Rounds) -> Option<EvalResult<Value<'a>>> {
    let root: &'a Dynamic = match path.root {
        Atom::Arg(i) => {
            let args: &'a [Dynamic] = env.args;
            args.get(i)?
        }
        Atom::Lit(k) => {
            let lits: &'a [Dynamic] = env.lits;
            lits.get(k)?
        }
        Atom::Local(slot) => match env.locals.get(slot)? {
            &Value::Ref(d) => d,
            _ => return None,
        },
        Atom::Unit | Atom::Bool(_) | Atom::Int(_) | Atom::Float(_) | Atom::Slot(_) => return None,
    };
    let mut keys = Vec::new();
    for step in &path.steps {
        match &step.kind {
            PathStepKind::Prop(_) => {}
            PathStepKind::Index(Operand::Atom(a)) => keys.push(match a.val(env) {
                ValueRef::Int(i) => Key::Int(i),
                ValueRef::Dyn(d) if d.is_int() => Key::Int(d.as_int().ok()?),
                ValueRef::Dyn(d) if d.is_string() => Key::Str(d.as_immutable_string_ref().ok()?.clone()),
                _ => return None,
            }),
            PathStepKind::Index(Operand::Computed(_)) | PathStepKind::Method(..) => return None,
        }
        if step.nullish {
            // `?.` on `()` gives `()`: not an array, which the copying loop fails on.
            return None;
        }
    }
    with_array(root, path, &keys, |items| lend(env, items, rounds))
}

/// Walks `path`'s steps from `cur` (`keys`: the index steps' keys, in order) and runs `f` on the
/// array reached; `None` when a step does not find what it reads, or a value on the way is
/// shared (its lock would be held while the body runs).
fn with_array<R>(cur: &Dynamic, path: &Path, keys: &[Key], f: impl FnOnce(&[Dynamic]) -> R) -> Option<R> {
    fn walk<R>(
        cur: &Dynamic,
        steps: &[super::access::PathStep],
        keys: &[Key],
        f: impl FnOnce(&[Dynamic]) -> R,
    ) -> Option<R> {
        if cur.is_shared() {
            return None;
        }
        let Some((step, rest)) = steps.split_first() else {
            return if cur.is_array() { Some(f(&cur.as_array_ref().ok()?)) } else { None };
        };
        match &step.kind {
            PathStepKind::Prop(name) => {
                if !cur.is_map() {
                    return None;
                }
                let map = cur.as_map_ref().ok()?;
                walk(map.get(name.as_str())?, rest, keys, f)
            }
            PathStepKind::Index(_) => {
                let (key, keys) = keys.split_first()?;
                match key {
                    Key::Int(i) if cur.is_array() => {
                        let array = cur.as_array_ref().ok()?;
                        let i = calc_index(array.len(), *i)?;
                        walk(array.get(i)?, rest, keys, f)
                    }
                    Key::Str(name) if cur.is_map() => {
                        let map = cur.as_map_ref().ok()?;
                        walk(map.get(name.as_str())?, rest, keys, f)
                    }
                    _ => None,
                }
            }
            PathStepKind::Method(..) => None,
        }
    }
    walk(cur, &path.steps, keys, f)
}

/// Runs the rounds over `items`, borrowed for the loop only: the locals are moved into a buffer
/// of that lifetime for the rounds and back after them (see the module's documentation).
fn lend<'a, 'g>(env: &mut Env<'a, '_>, items: &'g [Dynamic], rounds: &Rounds) -> EvalResult<Value<'a>>
where
    'a: 'g,
{
    let n = env.locals.len();
    if n <= 8 {
        let mut buf = [const { Value::Unit }; 8];
        let mut saved = [None; 8];
        lend_with(env, &mut buf[..n], &mut saved[..n], items, rounds)
    } else {
        let mut buf: Vec<Value<'g>> = (0..n).map(|_| Value::Unit).collect();
        let mut saved = vec![None; n];
        lend_with(env, &mut buf, &mut saved, items, rounds)
    }
}

fn lend_with<'a, 'g>(
    env: &mut Env<'a, '_>,
    buf: &mut [Value<'g>],
    saved: &mut [Option<&'a Dynamic>],
    items: &'g [Dynamic],
    rounds: &Rounds,
) -> EvalResult<Value<'a>>
where
    'a: 'g,
{
    for ((local, slot), saved) in env.locals.iter_mut().zip(buf.iter_mut()).zip(saved.iter_mut()) {
        let value = std::mem::replace(local, Value::Unit);
        if let Value::Ref(d) = &value {
            *saved = Some(*d);
        }
        *slot = value;
    }
    let mut inner = Env {
        args: env.args,
        lits: env.lits,
        limits: env.limits,
        locals: buf,
        journal: env.journal.take(),
        fns: env.fns,
        budget: env.budget,
        sized: env.sized,
        arg_within: env.arg_within,
        slots: &mut *env.slots,
    };
    let result = rounds.run(&mut inner, items.iter().map(borrowed));
    // The loop variable is out of scope after the loop.
    if let Some(var) = inner.locals.get_mut(rounds.var) {
        *var = Value::Unit;
    }
    let Env { journal, budget, sized, locals: buf, .. } = inner;
    env.journal = journal;
    env.budget = budget;
    env.sized = sized;
    for ((local, slot), saved) in env.locals.iter_mut().zip(buf.iter_mut()).zip(saved.iter()) {
        *local = match std::mem::replace(slot, Value::Unit) {
            Value::Unit => Value::Unit,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Own(d) => Value::Own(d),
            // Still what it borrowed before the loop, or a borrowed item, copied.
            Value::Ref(d) => match saved {
                Some(before) if std::ptr::eq(*before, d) => Value::Ref(before),
                _ => Value::Own(d.clone()),
            },
        };
    }
    result
}
