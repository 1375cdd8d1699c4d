//! The closures the expressions of the checked tree lower to, one builder per kind of expression
//! ([`Lowering::expr`](super::lower::Lowering::expr) picks the builder and lowers the operands).

use rhai::{Array, Dynamic, ImmutableString, Map};

use super::access::{Access, Atom, pure_binary};
use super::builtins::builtin;
use super::limits::value_sizes;
use super::operators::{binary as binary_op, scalar_to_string, string_value};
use super::run::{Env, EvalFn, EvalResult, Exit, eval_fn};
use super::tree::{BinOp, Builtin};
use super::value::{Kind, Value, read};

/// A statement or expression that yields `()`.
pub(super) fn unit() -> EvalFn {
    eval_fn(|_| Ok(Value::Unit))
}

/// An atom's value (a literal, an argument or a constant borrowed; a local copied).
pub(super) fn atom(a: Atom) -> EvalFn {
    match a {
        Atom::Unit => unit(),
        Atom::Bool(b) => eval_fn(move |_| Ok(Value::Bool(b))),
        Atom::Int(i) => eval_fn(move |_| Ok(Value::Int(i))),
        Atom::Float(f) => eval_fn(move |_| Ok(Value::Float(f))),
        Atom::Lit(k) => eval_fn(move |env| {
            let lits = env.lits;
            Ok(Value::Ref(&lits[k]))
        }),
        Atom::Arg(i) => eval_fn(move |env| {
            let args = env.args;
            Ok(Value::Ref(&args[i]))
        }),
        Atom::Local(i) => eval_fn(move |env| Ok(env.locals[i].copy())),
        Atom::Slot(k) => eval_fn(move |env| Ok(read(&env.slots[k]))),
    }
}

/// An operator: pure operands are read in place, the others computed.
pub(super) fn binary(op: BinOp, a: Access, b: Access) -> EvalFn {
    match (a.is_pure(), b.is_pure()) {
        (true, true) => eval_fn(move |env| pure_binary(op, &a, &b, env)),
        (true, false) => eval_fn(move |env| {
            // `a` is read in place: no side effects, so it may be read second.
            let y = b.value(env)?;
            a.with(env, |x| binary_op(env.limits, op, x, y.view()))
        }),
        (false, true) => eval_fn(move |env| {
            let x = a.value(env)?;
            b.with(env, |y| binary_op(env.limits, op, x.view(), y))
        }),
        (false, false) => eval_fn(move |env| {
            let x = a.value(env)?;
            let y = b.value(env)?;
            binary_op(env.limits, op, x.view(), y.view())
        }),
    }
}

/// `a ?? b ?? …`: the first item that is not `()`.
pub(super) fn coalesce(items: Vec<Access>) -> EvalFn {
    eval_fn(move |env| {
        let mut value = Value::Unit;
        for item in &items {
            value = item.value(env)?;
            if !value.view().is_unit() {
                break;
            }
        }
        Ok(value)
    })
}

/// `a && b && …`, short-circuiting.
pub(super) fn and(items: Vec<Access>) -> EvalFn {
    eval_fn(move |env| {
        for item in &items {
            if !item.get(env, |v| v.bool())? {
                return Ok(Value::Bool(false));
            }
        }
        Ok(Value::Bool(true))
    })
}

/// `a || b || …`, short-circuiting.
pub(super) fn or(items: Vec<Access>) -> EvalFn {
    eval_fn(move |env| {
        for item in &items {
            if item.get(env, |v| v.bool())? {
                return Ok(Value::Bool(true));
            }
        }
        Ok(Value::Bool(false))
    })
}

/// An array literal `[a, b, …]`, checked against the data-size limits as Rhai checks it.
pub(super) fn array(items: Vec<Access>) -> EvalFn {
    eval_fn(move |env| {
        let mut array = Array::with_capacity(items.len());
        let mut sizes = (0, 0, 0);
        let check = env.limits.has_data_limit();
        for item in &items {
            let v = item.value(env)?;
            if check {
                let s = value_sizes(&v)?;
                sizes = (sizes.0 + 1 + s.0, sizes.1 + s.1, sizes.2 + s.2);
            }
            array.push(v.dynamic());
        }
        if check && !env.limits.within(sizes) {
            return Err(Exit::Fail);
        }
        Ok(Value::Own(Dynamic::from_array(array)))
    })
}

/// The items of a two-item array literal `[a, b]`, computed and measured as [`array`] computes
/// and measures them (the same order, the same data-size check of the array they would make),
/// without making the array: for a caller that takes the array apart at once.
pub(super) fn pair_items(env: &mut Env<'_, '_>, items: &[Access; 2]) -> EvalResult<(Dynamic, Dynamic)> {
    let check = env.limits.has_data_limit();
    let [first, second] = items;
    let first = first.value(env)?;
    let mut sizes = (0, 0, 0);
    if check {
        let s = value_sizes(&first)?;
        sizes = (1 + s.0, s.1, s.2);
    }
    let first = first.dynamic();
    let second = second.value(env)?;
    if check {
        let s = value_sizes(&second)?;
        sizes = (sizes.0 + 1 + s.0, sizes.1 + s.1, sizes.2 + s.2);
        if !env.limits.within(sizes) {
            return Err(Exit::Fail);
        }
    }
    Ok((first, second.dynamic()))
}

/// An object map literal `#{a: x, …}`: Rhai's template with the entries filled in, checked
/// against the data-size limits as Rhai checks it.
pub(super) fn map(template: Box<Map>, entries: Vec<(ImmutableString, Access)>) -> EvalFn {
    eval_fn(move |env| {
        let mut map = (*template).clone();
        let mut sizes = (0, 0, 0);
        let check = env.limits.has_data_limit();
        for (key, item) in &entries {
            let v = item.value(env)?;
            if check {
                let s = value_sizes(&v)?;
                sizes = (sizes.0 + s.0, sizes.1 + 1 + s.1, sizes.2 + s.2);
            }
            *map.get_mut(key.as_str()).ok_or(Exit::Fail)? = v.dynamic();
        }
        if check && !env.limits.within(sizes) {
            return Err(Exit::Fail);
        }
        Ok(Value::Own(Dynamic::from_map(map)))
    })
}

/// Unary `-` (checked on `INT`).
pub(super) fn neg(x: Access) -> EvalFn {
    eval_fn(move |env| {
        x.get(env, |v| match v.kind() {
            Kind::Int => Ok(Value::Int(v.int()?.checked_neg().ok_or(Exit::Fail)?)),
            Kind::Float => Ok(Value::Float(-v.float()?)),
            _ => Err(Exit::Fail),
        })
    })
}

/// `!x` on a `bool`.
pub(super) fn not(x: Access) -> EvalFn {
    eval_fn(move |env| Ok(Value::Bool(!x.get(env, |v| v.bool())?)))
}

/// A call of a built-in function (`None` for an arity it does not take).
pub(super) fn call(f: Builtin, mut args: Vec<Access>) -> Option<EvalFn> {
    Some(match (f, args.len()) {
        (Builtin::Contains | Builtin::Get, 2) => {
            let item = args.pop()?;
            let container = args.pop()?;
            eval_fn(move |env| {
                let item = item.value(env)?;
                container.get(env, |c| builtin(env.limits, f, c, Some(item.view()), false))
            })
        }
        (_, 1) => {
            let arg = args.pop()?;
            eval_fn(move |env| arg.get(env, |a| builtin(env.limits, f, a, None, false)))
        }
        _ => return None,
    })
}

/// An interpolated string of scalars.
pub(super) fn interpolation(parts: Vec<Access>) -> EvalFn {
    eval_fn(move |env| {
        let mut s = String::new();
        for part in &parts {
            let piece = part.get(env, scalar_to_string)?;
            s.push_str(piece.as_str());
        }
        env.limits.check_string(s.len())?;
        Ok(string_value(s))
    })
}

/// `now()`: what `ScriptHost`'s `now` returns, the clock as an INT, or `()`.
pub(super) fn now() -> EvalFn {
    eval_fn(|_| {
        Ok(match crate::script::script_clock() {
            Some(t) => Value::Int(t),
            None => Value::Unit,
        })
    })
}
