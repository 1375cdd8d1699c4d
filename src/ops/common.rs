//! Pieces every operator family uses: keys, errors with context, shape checks.

use rhai::{Array, Dynamic, ImmutableString};

use crate::script::ScriptError;

/// A key of a keyed stream: a string, compared by its UTF-8 bytes.
pub type Key = ImmutableString;

/// An error of one step while it runs: names the step, the function, the script line, and
/// (in its context) the key and the item.
pub type StepError = ScriptError;

pub use super::key_map::{InKeyOrder, KeyMap, drain_sorted, sorted_keys};

/// A final step's end of input in parts (docs/architecture.md#end-of-input-in-parts): the
/// first call drains `map` into `ending`, in key order; each call hands `take` up to `limit`
/// more entries. Returns whether entries remain.
pub fn take_in_key_order<V>(
    map: &mut KeyMap<V>,
    ending: &mut Option<InKeyOrder<V>>,
    limit: usize,
    mut take: impl FnMut(Key, V),
) -> bool {
    let entries = ending.get_or_insert_with(|| drain_sorted(map));
    for (key, value) in entries.by_ref().take(limit) {
        take(key, value);
    }
    let more = entries.len() > 0;
    if !more {
        *ending = None;
    }
    more
}

/// `key "a", item {…}` for error messages.
pub fn describe_item(key: Option<&Key>, value: &Dynamic) -> String {
    match key {
        Some(key) => format!("key {:?}, item {}", key.as_str(), crate::value::preview(value)),
        None => format!("item {}", crate::value::preview(value)),
    }
}

/// An error of a step, not raised by a script line (a wrong shape, a non-string key…).
pub fn step_error(step: &str, function: Option<&str>, message: impl Into<String>) -> StepError {
    ScriptError::new(step, function, message)
}

/// The error for an unkeyed item reaching a keyed operator (validation prevents it; this
/// keeps the engine honest if it ever happens).
pub fn unkeyed(step: &str) -> StepError {
    step_error(step, None, "received an unkeyed item, but this operator needs a keyed stream")
}

/// A key from a user function's result: must be a string.
pub fn as_key(step: &str, function: &str, value: Dynamic) -> Result<Key, StepError> {
    if value.is_string() {
        if let Ok(s) = value.into_immutable_string() {
            return Ok(s);
        }
        return Err(step_error(step, Some(function), "the key could not be read as a string"));
    }
    let hint = if value.is_int() || value.is_float() {
        " (use `.to_string()` in the function, or force the column's type to \"string\" in the source's [types])"
    } else {
        " (use `.to_string()`)"
    };
    Err(step_error(
        step,
        Some(function),
        format!(
            "a key must be a string, but `{function}` returned {}{hint}",
            crate::value::describe_type(&value)
        ),
    ))
}

/// A predicate's result: must be a bool.
pub fn as_bool(step: &str, function: &str, value: &Dynamic) -> Result<bool, StepError> {
    value.as_bool().map_err(|_| {
        step_error(
            step,
            Some(function),
            format!("`{function}` must return true or false, it returned {}", crate::value::preview(value)),
        )
    })
}

/// An array result (flat_map, outputs of a logic).
pub fn as_array(step: &str, function: &str, what: &str, value: Dynamic) -> Result<Array, StepError> {
    if value.is_array() {
        return value
            .into_array()
            .map_err(|t| step_error(step, Some(function), format!("{what} must be an array, found {t}")));
    }
    Err(step_error(
        step,
        Some(function),
        format!("{what} must be an array, `{function}` returned {}", crate::value::preview(&value)),
    ))
}

/// Splits a `[a, b]` pair result (stateful_map's `[state, out]`, a logic's `[outputs, discard]`).
pub fn as_pair(
    step: &str,
    function: &str,
    shape: &str,
    value: Dynamic,
) -> Result<(Dynamic, Dynamic), StepError> {
    let bad = |v: &Dynamic| {
        step_error(
            step,
            Some(function),
            format!("`{function}` must return {shape}, it returned {}", crate::value::preview(v)),
        )
    };
    if !value.is_array() {
        return Err(bad(&value));
    }
    // No copy of the result on the good path: a bad one is rebuilt for its preview.
    let mut array =
        value.into_array().map_err(|_| step_error(step, Some(function), "the result is not an array"))?;
    if array.len() != 2 {
        return Err(bad(&Dynamic::from_array(array)));
    }
    let second = array.pop().unwrap_or_default();
    let first = array.pop().unwrap_or_default();
    Ok((first, second))
}

/// Reads `field` of a map value (a built-in `field` form).
pub fn get_field(step: &str, field: &str, value: &Dynamic) -> Result<Dynamic, StepError> {
    let Some(map) = value.read_lock::<rhai::Map>() else {
        return Err(step_error(
            step,
            None,
            format!(
                "`field = \"{field}\"` reads a field of an object map, but the value is {}",
                crate::value::describe_type(value)
            ),
        ));
    };
    match map.get(field) {
        Some(v) => Ok(v.clone()),
        None => {
            let fields: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
            Err(step_error(
                step,
                None,
                format!(
                    "the value has no field `{field}`{} (it has: {})",
                    crate::graph::hint(field, fields.iter().copied()),
                    fields.join(", ")
                ),
            ))
        }
    }
}

/// Adds the key and item to an error, unless it already has context.
pub fn in_context(err: StepError, key: Option<&Key>, value: &Dynamic) -> StepError {
    if err.context.is_some() { err } else { err.with_context(describe_item(key, value)) }
}
