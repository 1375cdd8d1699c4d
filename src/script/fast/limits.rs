//! The host's data-size limits ([`ScriptLimits`]) as the fast path checks them, and Rhai's way of
//! measuring a value against them: a value that would grow past a limit makes the call fall back
//! to Rhai (which reports the error).

use rhai::{Array, Dynamic, Map};

use crate::script::ScriptLimits;

use super::run::{EvalResult, Exit, fail};
use super::value::{Kind, Value, kind};

/// The fast path's checks against the host's limits (`0` means "no limit", as in Rhai): a value
/// that would grow past one makes the call fall back to Rhai, which reports the error.
impl ScriptLimits {
    /// Whether any data size is limited (else sizes need not be measured).
    pub(super) fn has_data_limit(&self) -> bool {
        self.max_string_size != 0 || self.max_array_size != 0 || self.max_map_size != 0
    }

    /// Whether sizes `(array elements, map entries, string bytes)` are within the limits.
    pub(super) fn within(&self, (arrays, maps, strings): Sizes) -> bool {
        !(exceeds(strings, self.max_string_size)
            || exceeds(arrays, self.max_array_size)
            || exceeds(maps, self.max_map_size))
    }

    /// A failure when a string of `len` bytes would be too long.
    pub(super) fn check_string(&self, len: usize) -> EvalResult<()> {
        if exceeds(len, self.max_string_size) { Err(Exit::Fail) } else { Ok(()) }
    }

    /// Rhai's `check_data_size`.
    pub(super) fn check_sizes(&self, v: &Dynamic) -> EvalResult<()> {
        if !self.has_data_limit() || self.within(data_sizes(v)?) { Ok(()) } else { Err(Exit::Fail) }
    }
}

/// Whether `size` is over `max` (`0`: no limit).
pub(super) fn exceeds(size: usize, max: usize) -> bool {
    max != 0 && size > max
}

/// `(array elements, map entries, string bytes)`, as Rhai's `calc_data_sizes` counts them.
pub(super) type Sizes = (usize, usize, usize);

/// Rhai's `calc_data_sizes(value, true)`.
pub(super) fn data_sizes(v: &Dynamic) -> EvalResult<Sizes> {
    if v.is_blob() {
        return Ok((v.as_blob_ref().or_else(fail)?.len(), 0, 0));
    }
    nested_sizes(v)
}

/// The sizes a value adds when it is an element of an array or a map (besides the element itself).
pub(super) fn nested_sizes(v: &Dynamic) -> EvalResult<Sizes> {
    match kind(v) {
        Kind::Unit | Kind::Bool | Kind::Char | Kind::Int | Kind::Float => Ok((0, 0, 0)),
        Kind::Str => Ok((0, 0, v.as_immutable_string_ref().or_else(fail)?.len())),
        Kind::Array => array_sizes(&*v.as_array_ref().or_else(fail)?),
        Kind::Map => map_sizes(&*v.as_map_ref().or_else(fail)?),
        Kind::Other if v.is_shared() => Err(Exit::Fail),
        Kind::Other if v.is_blob() => Ok((1 + v.as_blob_ref().or_else(fail)?.len(), 0, 0)),
        Kind::Other => Ok((0, 0, 0)),
    }
}

pub(super) fn array_sizes(a: &Array) -> EvalResult<Sizes> {
    let mut total = (0, 0, 0);
    for v in a {
        let s = nested_sizes(v)?;
        total = (total.0 + 1 + s.0, total.1 + s.1, total.2 + s.2);
    }
    Ok(total)
}

pub(super) fn map_sizes(m: &Map) -> EvalResult<Sizes> {
    let mut total = (0, 0, 0);
    for v in m.values() {
        let s = nested_sizes(v)?;
        total = (total.0 + s.0, total.1 + 1 + s.1, total.2 + s.2);
    }
    Ok(total)
}

/// The sizes of an evaluated value (Rhai's `calc_data_sizes(value, true)`, as array and map
/// literals count their items).
pub(super) fn value_sizes(v: &Value<'_>) -> EvalResult<Sizes> {
    match v {
        Value::Ref(d) => data_sizes(d),
        Value::Own(d) => data_sizes(d),
        _ => Ok((0, 0, 0)),
    }
}

/// Whether every array in `v` (itself included) is within the data-size limits, as Rhai
/// measures an array after a `push`, `pop` or `shift` on it (`false` for a shared value).
pub(crate) fn arrays_within(v: &Dynamic, limits: &ScriptLimits) -> bool {
    if v.is_shared() {
        return false;
    }
    if v.is_array() {
        let Ok(array) = v.as_array_ref() else { return false };
        let own = !limits.has_data_limit() || array_sizes(&array).is_ok_and(|sizes| limits.within(sizes));
        own && array.iter().all(|item| arrays_within(item, limits))
    } else if v.is_map() {
        v.as_map_ref().is_ok_and(|map| map.values().all(|value| arrays_within(value, limits)))
    } else {
        true
    }
}
