//! Values while a body runs: [`Value`] (computed, owned or borrowed), [`ValueRef`] (a view read in
//! place), their coarse [`Kind`], and the reads that copy them as Rhai does.

use rhai::{Dynamic, FLOAT, INT, ImmutableString};

use super::run::{EvalResult, Exit, fail};

/// A value computed by an expression.
///
/// (`repr(u64)`: a whole-word tag, so that writing a `Value` then moving it does not stall on store
/// forwarding, as a `Dynamic` written field by field does.)
#[repr(u64)]
pub(super) enum Value<'a> {
    /// Fresh values: no tag, read-write.
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    /// An argument, a constant or a literal, not copied yet.
    Ref(&'a Dynamic),
    Own(Dynamic),
}

impl<'a> Value<'a> {
    /// A copy (Rhai's read of a variable: a clone).
    #[inline]
    pub(super) fn copy(&self) -> Value<'a> {
        match self {
            Value::Unit => Value::Unit,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::Ref(d) => Value::Ref(d),
            Value::Own(d) => Value::Own(d.clone()),
        }
    }

    /// The value as Rhai would hold it (a borrowed value is cloned, which also makes it
    /// read-write, as Rhai's reads do).
    #[inline(always)]
    pub(super) fn dynamic(self) -> Dynamic {
        match self {
            Value::Unit => Dynamic::UNIT,
            Value::Bool(b) => Dynamic::from_bool(b),
            Value::Int(i) => Dynamic::from_int(i),
            Value::Float(f) => Dynamic::from_float(f),
            Value::Ref(d) => d.clone(),
            Value::Own(d) => d,
        }
    }

    /// The stored value, to be modified in place.
    pub(super) fn own(&mut self) -> EvalResult<&mut Dynamic> {
        if !matches!(self, Value::Own(_)) {
            let v = std::mem::replace(self, Value::Unit).dynamic();
            *self = Value::Own(v);
        }
        match self {
            Value::Own(d) => Ok(d),
            _ => Err(Exit::Fail),
        }
    }

    #[inline(always)]
    pub(super) fn view(&self) -> ValueRef<'_> {
        match self {
            Value::Unit => ValueRef::Unit,
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Ref(d) => ValueRef::Dyn(d),
            Value::Own(d) => ValueRef::Dyn(d),
        }
    }
}

/// A borrowed view of a value.
#[derive(Clone, Copy)]
pub(super) enum ValueRef<'x> {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    Dyn(&'x Dynamic),
}

impl ValueRef<'_> {
    pub(super) fn kind(self) -> Kind {
        match self {
            ValueRef::Unit => Kind::Unit,
            ValueRef::Bool(_) => Kind::Bool,
            ValueRef::Int(_) => Kind::Int,
            ValueRef::Float(_) => Kind::Float,
            ValueRef::Dyn(d) => kind(d),
        }
    }

    /// The `INT`, if it is one.
    #[inline]
    pub(super) fn as_int(self) -> Option<INT> {
        match self {
            ValueRef::Int(i) => Some(i),
            ValueRef::Dyn(d) if d.is_int() => d.as_int().ok(),
            _ => None,
        }
    }

    /// The `INT` (only after a kind check).
    pub(super) fn int(self) -> EvalResult<INT> {
        self.as_int().ok_or(Exit::Fail)
    }

    /// The number as a `FLOAT` (only after a kind check: `INT` or `FLOAT`).
    pub(super) fn float(self) -> EvalResult<FLOAT> {
        match self {
            ValueRef::Int(i) => Ok(i as FLOAT),
            ValueRef::Float(f) => Ok(f),
            ValueRef::Dyn(d) if d.is_float() => d.as_float().or_else(fail),
            ValueRef::Dyn(d) if d.is_int() => Ok(d.as_int().or_else(fail)? as FLOAT),
            _ => Err(Exit::Fail),
        }
    }

    /// The `bool`, or a failure for another type.
    #[inline]
    pub(super) fn bool(self) -> EvalResult<bool> {
        match self {
            ValueRef::Bool(b) => Ok(b),
            ValueRef::Dyn(d) if d.is_bool() => d.as_bool().or_else(fail),
            _ => Err(Exit::Fail),
        }
    }

    /// The character (only after a kind check).
    pub(super) fn char(self) -> EvalResult<char> {
        match self {
            ValueRef::Dyn(d) if d.is_char() => d.as_char().or_else(fail),
            _ => Err(Exit::Fail),
        }
    }

    /// The string (only after a kind check).
    pub(super) fn string(self) -> EvalResult<ImmutableString> {
        match self {
            ValueRef::Dyn(d) if d.is_string() => Ok(d.as_immutable_string_ref().or_else(fail)?.clone()),
            _ => Err(Exit::Fail),
        }
    }

    #[inline]
    pub(super) fn is_unit(self) -> bool {
        match self {
            ValueRef::Unit => true,
            ValueRef::Dyn(d) => d.is_unit(),
            _ => false,
        }
    }

    /// An owned copy (Rhai's read: a clone).
    pub(super) fn to_owned(self) -> Value<'static> {
        match self {
            ValueRef::Unit => Value::Unit,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Dyn(d) => read(d),
        }
    }
}

/// A number, boolean or `()` as an unboxed [`Value`] (other values: `None`).
fn unboxed(d: &Dynamic) -> Option<Value<'static>> {
    if d.is_int() {
        d.as_int().ok().map(Value::Int)
    } else if d.is_float() {
        d.as_float().ok().map(Value::Float)
    } else if d.is_bool() {
        d.as_bool().ok().map(Value::Bool)
    } else if d.is_unit() {
        Some(Value::Unit)
    } else {
        None
    }
}

/// A stored value, read: untagged numbers and booleans are not cloned.
pub(super) fn read(d: &Dynamic) -> Value<'static> {
    if d.tag() == 0
        && let Some(value) = unboxed(d)
    {
        return value;
    }
    Value::Own(d.clone())
}

/// A stored value borrowed (a `for` loop's item, read in place): untagged numbers, booleans
/// and `()` unboxed, anything else by reference (a read of it copies it).
#[inline]
pub(super) fn borrowed(d: &Dynamic) -> Value<'_> {
    if d.tag() == 0
        && let Some(value) = unboxed(d)
    {
        return value;
    }
    Value::Ref(d)
}

/// An owned value as a [`Value`]: untagged numbers, booleans and `()` unboxed (the same value).
pub(super) fn owned(d: Dynamic) -> Value<'static> {
    if d.tag() == 0
        && !d.is_read_only()
        && let Some(value) = unboxed(&d)
    {
        return value;
    }
    Value::Own(d)
}

/// The coarse type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Unit,
    Bool,
    Str,
    Char,
    Int,
    Float,
    Array,
    Map,
    Other,
}

pub(super) fn kind(d: &Dynamic) -> Kind {
    if d.is_int() {
        Kind::Int
    } else if d.is_string() {
        Kind::Str
    } else if d.is_float() {
        Kind::Float
    } else if d.is_unit() {
        Kind::Unit
    } else if d.is_bool() {
        Kind::Bool
    } else if d.is_map() {
        Kind::Map
    } else if d.is_array() {
        Kind::Array
    } else if d.is_char() {
        Kind::Char
    } else {
        Kind::Other
    }
}

/// No shared value (a closure's captured variable) anywhere inside.
#[inline]
pub(super) fn unshared(d: &Dynamic) -> bool {
    if d.is_shared() {
        false
    } else if d.is_map() || d.is_array() {
        unshared_inside(d)
    } else {
        true
    }
}

#[inline(never)]
pub(super) fn unshared_inside(d: &Dynamic) -> bool {
    if d.is_map() {
        d.as_map_ref().is_ok_and(|m| m.values().all(unshared))
    } else {
        d.as_array_ref().is_ok_and(|a| a.iter().all(unshared))
    }
}

/// No shared value and no read-only one anywhere inside: a value that a copy (which Rhai makes
/// read-write, nested values included) reproduces exactly.
pub(super) fn read_write(d: &Dynamic) -> bool {
    if d.is_shared() || d.is_read_only() {
        false
    } else if d.is_map() {
        d.as_map_ref().is_ok_and(|m| m.values().all(read_write))
    } else if d.is_array() {
        d.as_array_ref().is_ok_and(|a| a.iter().all(read_write))
    } else {
        true
    }
}

/// Rhai interns a string bound by `let` or assigned into a property or index: a new value, with
/// no tag.
pub(super) fn intern(v: Value<'_>) -> EvalResult<Value<'_>> {
    match v {
        Value::Ref(d) if d.tag() != 0 && d.is_string() => {
            Ok(Value::Own(Dynamic::from(d.as_immutable_string_ref().or_else(fail)?.clone())))
        }
        Value::Own(d) if d.tag() != 0 && d.is_string() => {
            Ok(Value::Own(Dynamic::from(d.as_immutable_string_ref().or_else(fail)?.clone())))
        }
        other => Ok(other),
    }
}
