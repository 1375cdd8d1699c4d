//! Rhai's binary operators: the built-in ones on `INT`, `FLOAT`, `bool`, strings, characters and
//! `()`, and the registered `+` of a string and a scalar.

use rhai::{Dynamic, FLOAT, FloatWrapper, INT, ImmutableString};

use super::run::{EvalResult, Exit, fail};
use super::tree::BinOp;
use super::value::{Kind, Value, ValueRef};
use crate::script::ScriptLimits;

/// Rhai's built-in `INT` operators (with the `arithmetic` package's checks).
#[inline]
pub(super) fn int_op(op: BinOp, x: INT, y: INT) -> EvalResult<Value<'static>> {
    let int = |v: Option<INT>| v.map(Value::Int).ok_or(Exit::Fail);
    match op {
        BinOp::Add => int(x.checked_add(y)),
        BinOp::Sub => int(x.checked_sub(y)),
        BinOp::Mul => int(x.checked_mul(y)),
        BinOp::Div => {
            if y == 0 {
                Err(Exit::Fail)
            } else {
                int(x.checked_div(y))
            }
        }
        BinOp::Rem => int(x.checked_rem(y)),
        BinOp::Pow => {
            if y > INT::from(u32::MAX) || y < 0 {
                Err(Exit::Fail)
            } else {
                int(x.checked_pow(u32::try_from(y).or_else(fail)?))
            }
        }
        BinOp::Shl => Ok(Value::Int(shift_left(x, y))),
        BinOp::Shr => Ok(Value::Int(shift_right(x, y))),
        BinOp::BitAnd => Ok(Value::Int(x & y)),
        BinOp::BitOr => Ok(Value::Int(x | y)),
        BinOp::BitXor => Ok(Value::Int(x ^ y)),
        BinOp::Eq => Ok(Value::Bool(x == y)),
        BinOp::Ne => Ok(Value::Bool(x != y)),
        BinOp::Lt => Ok(Value::Bool(x < y)),
        BinOp::Le => Ok(Value::Bool(x <= y)),
        BinOp::Gt => Ok(Value::Bool(x > y)),
        BinOp::Ge => Ok(Value::Bool(x >= y)),
    }
}

/// The `arithmetic` package's `<<`.
pub(super) fn shift_left(x: INT, y: INT) -> INT {
    if y > INT::from(u32::MAX) {
        0
    } else if y < 0 {
        shift_right(x, y.checked_abs().unwrap_or(INT::MAX))
    } else {
        u32::try_from(y).ok().and_then(|y| x.checked_shl(y)).unwrap_or(0)
    }
}

/// The `arithmetic` package's `>>`.
pub(super) fn shift_right(x: INT, y: INT) -> INT {
    if y > INT::from(u32::MAX) {
        x.wrapping_shr(u32::MAX)
    } else if y < 0 {
        shift_left(x, y.checked_abs().unwrap_or(INT::MAX))
    } else {
        u32::try_from(y).ok().and_then(|y| x.checked_shr(y)).unwrap_or_else(|| x.wrapping_shr(u32::MAX))
    }
}

/// Rhai's built-in `FLOAT` operators (also for `INT` mixed with `FLOAT`), including its
/// comparisons with a relative tolerance of `FLOAT::EPSILON`.
pub(super) fn float_op(op: BinOp, x: FLOAT, y: FLOAT) -> EvalResult<Value<'static>> {
    let max = || if x * y == 0.0 { 1.0 } else { x.abs().max(y.abs()) };
    Ok(match op {
        BinOp::Add => Value::Float(x + y),
        BinOp::Sub => Value::Float(x - y),
        BinOp::Mul => Value::Float(x * y),
        BinOp::Div => Value::Float(x / y),
        BinOp::Rem => Value::Float(x % y),
        BinOp::Pow => Value::Float(x.powf(y)),
        BinOp::Eq => {
            let m = max();
            Value::Bool(m == 0.0 || (x - y).abs() / m <= FLOAT::EPSILON)
        }
        BinOp::Ne => {
            let m = max();
            Value::Bool(m != 0.0 && (x - y).abs() / m > FLOAT::EPSILON)
        }
        BinOp::Gt => {
            let m = max();
            Value::Bool(m != 0.0 && (x - y) / m > FLOAT::EPSILON)
        }
        BinOp::Ge => {
            let m = max();
            Value::Bool(m == 0.0 || (x - y) / m > -FLOAT::EPSILON)
        }
        BinOp::Lt => {
            let m = max();
            Value::Bool(m != 0.0 && (y - x) / m > FLOAT::EPSILON)
        }
        BinOp::Le => {
            let m = max();
            Value::Bool(m == 0.0 || (y - x) / m > -FLOAT::EPSILON)
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => return Err(Exit::Fail),
    })
}

/// Rhai's binary operators: the built-in ones, and the registered `+` of a string and a scalar.
#[inline]
pub(super) fn binary(
    limits: &ScriptLimits,
    op: BinOp,
    a: ValueRef<'_>,
    b: ValueRef<'_>,
) -> EvalResult<Value<'static>> {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return int_op(op, x, y);
    }
    binary_other(limits, op, a, b)
}

pub(super) fn binary_other(
    limits: &ScriptLimits,
    op: BinOp,
    a: ValueRef<'_>,
    b: ValueRef<'_>,
) -> EvalResult<Value<'static>> {
    let (ka, kb) = (a.kind(), b.kind());
    match (ka, kb) {
        (Kind::Int | Kind::Float, Kind::Int | Kind::Float) => float_op(op, a.float()?, b.float()?),
        (Kind::Bool, Kind::Bool) => bool_op(op, a.bool()?, b.bool()?),
        (Kind::Str, Kind::Str) => string_op(limits, op, a, b),
        (Kind::Char, Kind::Char) => char_op(limits, op, a.char()?, b.char()?),
        (Kind::Unit, Kind::Unit) => match op {
            BinOp::Eq => Ok(Value::Bool(true)),
            BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(Value::Bool(false)),
            _ => Err(Exit::Fail),
        },
        (Kind::Char, Kind::Str) => char_string_op(limits, op, a.char()?, b.string()?),
        (Kind::Str, Kind::Char) => string_char_op(limits, op, a.string()?, b.char()?),
        (Kind::Unit, Kind::Str) | (Kind::Str, Kind::Unit) => match op {
            // The built-in `+` returns the string operand itself.
            BinOp::Add => Ok(if ka == Kind::Str { a.to_owned() } else { b.to_owned() }),
            BinOp::Ne => Ok(Value::Bool(true)),
            BinOp::Eq | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(Value::Bool(false)),
            _ => Err(Exit::Fail),
        },
        // Registered `+` (string, any) and (any, string): the other operand's `to_string`.
        (Kind::Str, Kind::Int | Kind::Float | Kind::Bool) if op == BinOp::Add => {
            joined(limits, a.string()?, scalar_to_string(b)?)
        }
        (Kind::Int | Kind::Float | Kind::Bool, Kind::Str) if op == BinOp::Add => {
            joined(limits, scalar_to_string(a)?, b.string()?)
        }
        // Different types, not both numbers: comparisons are constant.
        _ if ka != kb && ka != Kind::Other && kb != Kind::Other => match op {
            BinOp::Ne => Ok(Value::Bool(true)),
            BinOp::Eq | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(Value::Bool(false)),
            _ => Err(Exit::Fail),
        },
        _ => Err(Exit::Fail),
    }
}

/// Rhai's built-in `bool` operators: `&`, `|`, `^` and comparisons (`false < true`).
fn bool_op(op: BinOp, x: bool, y: bool) -> EvalResult<Value<'static>> {
    match op {
        BinOp::BitAnd => Ok(Value::Bool(x & y)),
        BinOp::BitOr => Ok(Value::Bool(x | y)),
        BinOp::BitXor => Ok(Value::Bool(x ^ y)),
        _ => compare(op, x.cmp(&y)),
    }
}

/// Two strings: `+` concatenates, comparisons are by bytes.
fn string_op(
    limits: &ScriptLimits,
    op: BinOp,
    a: ValueRef<'_>,
    b: ValueRef<'_>,
) -> EvalResult<Value<'static>> {
    let (ValueRef::Dyn(a), ValueRef::Dyn(b)) = (a, b) else { return Err(Exit::Fail) };
    let x = a.as_immutable_string_ref().or_else(fail)?;
    let y = b.as_immutable_string_ref().or_else(fail)?;
    if op == BinOp::Add {
        limits.check_string(x.len() + y.len())?;
        return Ok(Value::Own(Dynamic::from(concat(x.as_str(), y.as_str()))));
    }
    compare(op, x.as_str().cmp(y.as_str()))
}

/// Two characters: `+` makes a string, comparisons are by code point.
fn char_op(limits: &ScriptLimits, op: BinOp, x: char, y: char) -> EvalResult<Value<'static>> {
    if op == BinOp::Add {
        let mut s = String::with_capacity(8);
        s.push(x);
        s.push(y);
        limits.check_string(s.len())?;
        return Ok(string_value(s));
    }
    compare(op, x.cmp(&y))
}

/// A character and a string: `+` makes a string; comparisons compare the character with the
/// string's first two characters, as Rhai does.
fn char_string_op(
    limits: &ScriptLimits,
    op: BinOp,
    x: char,
    y: ImmutableString,
) -> EvalResult<Value<'static>> {
    if op == BinOp::Add {
        let mut s = String::with_capacity(y.len() + 4);
        s.push(x);
        s.push_str(y.as_str());
        limits.check_string(s.len())?;
        return Ok(string_value(s));
    }
    let mut it = y.chars();
    compare(op, [Some(x), None].cmp(&[it.next(), it.next()]))
}

/// A string and a character: the mirror of [`char_string_op`].
fn string_char_op(
    limits: &ScriptLimits,
    op: BinOp,
    x: ImmutableString,
    y: char,
) -> EvalResult<Value<'static>> {
    if op == BinOp::Add {
        let mut s = String::with_capacity(x.len() + 4);
        s.push_str(x.as_str());
        s.push(y);
        limits.check_string(s.len())?;
        return Ok(string_value(s));
    }
    let mut it = x.chars();
    compare(op, [it.next(), it.next()].cmp(&[Some(y), None]))
}

/// `x + y` of two strings, within the string-size limit.
fn joined(limits: &ScriptLimits, x: ImmutableString, y: ImmutableString) -> EvalResult<Value<'static>> {
    limits.check_string(x.len() + y.len())?;
    Ok(Value::Own(Dynamic::from(concat(x.as_str(), y.as_str()))))
}

/// What Rhai's `to_string` gives for a scalar (the registered `to_string` / `print` functions).
pub(super) fn scalar_to_string(v: ValueRef<'_>) -> EvalResult<ImmutableString> {
    Ok(match v.kind() {
        Kind::Str => v.string()?,
        Kind::Int => v.int()?.to_string().into(),
        Kind::Float => format!("{}", FloatWrapper::new(v.float()?)).into(),
        Kind::Bool => (if v.bool()? { "true" } else { "false" }).into(),
        Kind::Char => v.char()?.to_string().into(),
        Kind::Unit => ImmutableString::new(),
        _ => return Err(Exit::Fail),
    })
}

pub(super) fn concat(x: &str, y: &str) -> ImmutableString {
    let mut s = String::with_capacity(x.len() + y.len());
    s.push_str(x);
    s.push_str(y);
    s.into()
}

pub(super) fn string_value(s: String) -> Value<'static> {
    Value::Own(Dynamic::from(ImmutableString::from(s)))
}

pub(super) fn compare(op: BinOp, ord: std::cmp::Ordering) -> EvalResult<Value<'static>> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(Value::Bool(match op {
        BinOp::Eq => ord == Equal,
        BinOp::Ne => ord != Equal,
        BinOp::Gt => ord == Greater,
        BinOp::Ge => ord != Less,
        BinOp::Lt => ord == Less,
        BinOp::Le => ord != Greater,
        _ => return Err(Exit::Fail),
    }))
}
