//! The built-in functions the fast path reproduces (`len`, `is_empty`, `contains`, `get`, `abs`,
//! `to_string`, `type_of`), as Rhai's standard packages define them.

use rhai::{Dynamic, INT, ImmutableString};

use super::access::string_char;
use super::operators::{binary, scalar_to_string};
use super::run::{EvalResult, Exit, fail};
use super::tree::{BinOp, Builtin};
use super::value::{Kind, Value, ValueRef, read};
use crate::script::ScriptLimits;

/// A built-in function called on `this` (and one more argument for `contains`).
/// `known_within`: `this` is known within the data-size limits (an array in a checked state:
/// see `Env::arrays_within`), and none of these functions changes it, so it is not measured.
pub(super) fn builtin(
    limits: &ScriptLimits,
    f: Builtin,
    this: ValueRef<'_>,
    arg: Option<ValueRef<'_>>,
    known_within: bool,
) -> EvalResult<Value<'static>> {
    let result = builtin_value(limits, f, this, arg)?;
    // After a native function call, Rhai checks the data size of the first argument when it is
    // passed by reference (a variable or a part of one). Checking it always is stricter, so safe.
    if f != Builtin::TypeOf
        && !known_within
        && let ValueRef::Dyn(d) = this
    {
        limits.check_sizes(d)?;
    }
    Ok(result)
}

pub(super) fn builtin_value(
    limits: &ScriptLimits,
    f: Builtin,
    this: ValueRef<'_>,
    arg: Option<ValueRef<'_>>,
) -> EvalResult<Value<'static>> {
    let k = this.kind();
    match (f, arg) {
        (Builtin::Len, None) => {
            let ValueRef::Dyn(d) = this else { return Err(Exit::Fail) };
            let n = match k {
                Kind::Str => d.as_immutable_string_ref().or_else(fail)?.chars().count(),
                Kind::Array => d.as_array_ref().or_else(fail)?.len(),
                Kind::Map => d.as_map_ref().or_else(fail)?.len(),
                _ => return Err(Exit::Fail),
            };
            Ok(Value::Int(INT::try_from(n).unwrap_or(INT::MAX)))
        }
        (Builtin::IsEmpty, None) => {
            let ValueRef::Dyn(d) = this else { return Err(Exit::Fail) };
            let empty = match k {
                Kind::Str => d.as_immutable_string_ref().or_else(fail)?.is_empty(),
                Kind::Array => d.as_array_ref().or_else(fail)?.is_empty(),
                Kind::Map => d.as_map_ref().or_else(fail)?.is_empty(),
                _ => return Err(Exit::Fail),
            };
            Ok(Value::Bool(empty))
        }
        (Builtin::Abs, None) => match k {
            Kind::Int => Ok(Value::Int(this.int()?.checked_abs().ok_or(Exit::Fail)?)),
            Kind::Float => Ok(Value::Float(this.float()?.abs())),
            _ => Err(Exit::Fail),
        },
        (Builtin::ToString, None) => {
            let s = scalar_to_string(this)?;
            limits.check_string(s.len())?;
            Ok(Value::Own(Dynamic::from(s)))
        }
        (Builtin::TypeOf, None) => {
            let name = match this {
                ValueRef::Dyn(d) if k != Kind::Other => d.type_name(),
                ValueRef::Dyn(_) => return Err(Exit::Fail),
                scalar => scalar.to_owned().dynamic().type_name(),
            };
            Ok(Value::Own(Dynamic::from(ImmutableString::from(name))))
        }
        (Builtin::Get, Some(key)) => get(limits, this, k, key),
        (Builtin::Contains, Some(item)) => contains(limits, this, k, item),
        _ => Err(Exit::Fail),
    }
}

/// `get(this, key)`: a map's entry, an array's item (a negative index counts from the end), a
/// string's character, or `()` when there is none.
fn get(limits: &ScriptLimits, this: ValueRef<'_>, k: Kind, key: ValueRef<'_>) -> EvalResult<Value<'static>> {
    let ValueRef::Dyn(d) = this else { return Err(Exit::Fail) };
    let value = match (k, key.kind()) {
        (Kind::Map, Kind::Str) => {
            let map = d.as_map_ref().or_else(fail)?;
            if map.is_empty() {
                return Ok(Value::Unit);
            }
            match map.get(key.string()?.as_str()) {
                Some(v) => read(v),
                None => return Ok(Value::Unit),
            }
        }
        (Kind::Array, Kind::Int) => {
            let array = d.as_array_ref().or_else(fail)?;
            // The array package's `calc_offset_len(len, index, 0)`.
            let (len, index) = (array.len(), key.int()?);
            let start = if index < 0 {
                usize::try_from(index.unsigned_abs()).map_or(0, |x| len - x.min(len))
            } else {
                usize::try_from(index).unwrap_or(usize::MAX)
            };
            match array.get(start) {
                Some(v) => read(v),
                None => return Ok(Value::Unit),
            }
        }
        (Kind::Str, Kind::Int) => {
            let s = d.as_immutable_string_ref().or_else(fail)?;
            return Ok(string_char(&s, key.int()?).map_or(Value::Unit, |c| Value::Own(Dynamic::from_char(c))));
        }
        _ => return Err(Exit::Fail),
    };
    // The result of a native function: Rhai checks its data size.
    if let Value::Own(d) = &value {
        limits.check_sizes(d)?;
    }
    Ok(value)
}

/// `contains(this, item)`: a map's key, a substring or character of a string, an item of an array.
fn contains(
    limits: &ScriptLimits,
    this: ValueRef<'_>,
    k: Kind,
    item: ValueRef<'_>,
) -> EvalResult<Value<'static>> {
    let ValueRef::Dyn(d) = this else { return Err(Exit::Fail) };
    let found = match k {
        Kind::Map => {
            if item.kind() != Kind::Str {
                return Err(Exit::Fail);
            }
            d.as_map_ref().or_else(fail)?.contains_key(item.string()?.as_str())
        }
        Kind::Str => {
            let s = d.as_immutable_string_ref().or_else(fail)?;
            match item.kind() {
                Kind::Str => s.contains(item.string()?.as_str()),
                Kind::Char => s.contains(item.char()?),
                _ => return Err(Exit::Fail),
            }
        }
        Kind::Array => {
            let array = d.as_array_ref().or_else(fail)?;
            let mut found = false;
            for x in array.iter() {
                if element_equals(limits, ValueRef::Dyn(x), item)? {
                    found = true;
                    break;
                }
            }
            found
        }
        _ => return Err(Exit::Fail),
    };
    Ok(Value::Bool(found))
}

/// `x == item` as the array `contains` does it: the `==` operator, with `false` for values of
/// different types that have no `==`.
pub(super) fn element_equals(limits: &ScriptLimits, x: ValueRef<'_>, item: ValueRef<'_>) -> EvalResult<bool> {
    let (kx, ki) = (x.kind(), item.kind());
    if kx == Kind::Other || ki == Kind::Other {
        return Err(Exit::Fail);
    }
    if matches!(kx, Kind::Array | Kind::Map) || matches!(ki, Kind::Array | Kind::Map) {
        // Different types compare unequal; arrays and maps have registered `==`s.
        return if kx == ki { Err(Exit::Fail) } else { Ok(false) };
    }
    match binary(limits, BinOp::Eq, x, item)? {
        Value::Bool(b) => Ok(b),
        _ => Ok(false),
    }
}
