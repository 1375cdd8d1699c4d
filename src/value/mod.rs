//! Value rules the engine applies itself, in Rust, exactly (docs/semantics.md#values):
//! comparison for min/max and key order, the built-in sum, and every rendering of a value
//! as text — the one place that owns value ↔ JSON ↔ display:
//!
//! - [`json`]: sink JSON, exact, failing on what JSON cannot hold (every file sink);
//! - [`json_read`]: JSON → value (every JSON source, `--seed`);
//! - [`tagged_json`]: the typed JSON form of snapshot files, round-tripping every type;
//! - [`display`]: display JSON and text that never fail (the workbench's views, messages);
//! - [`size`]: roughly how many bytes a value takes (the state ledger);
//! - [`shared`]: the parts a join row shares with the join's state, and their unsharing;
//! - [`written`]: a join's records held with their JSON text, and rows written by splicing it.

mod display;
mod json;
mod json_read;
mod shared;
mod size;
mod tagged_json;
mod written;

pub use display::{display_json, preview};
pub(crate) use display::{json_kind, show_value};
pub(crate) use json::write_json_str;
pub use json::{to_json_string, write_json};
pub use json_read::json_to_dynamic;
pub(crate) use json_read::{ErrorPath, Identifier, ParseFailure, parse_value, serde_message};
pub use shared::{has_shared_parts, unshare_parts};
pub use size::approx_bytes;
pub use tagged_json::{from_tagged_json, to_tagged_json};
pub use written::{WrittenRecord, WrittenRow, into_plain, plain_clone};

use std::cmp::Ordering;

use rhai::Dynamic;

/// Compares two values: numbers by numeric value (INT against FLOAT too), strings by
/// UTF-8 byte order, bools, arrays element by element. Anything else is an error.
pub fn compare(a: &Dynamic, b: &Dynamic) -> Result<Ordering, String> {
    if let (Some(x), Some(y)) = (a.as_int().ok(), b.as_int().ok()) {
        return Ok(x.cmp(&y));
    }
    // An INT against a FLOAT by their exact values (as the reference's Python does): through
    // f64 an INT past 2^53 would round and compare equal to a neighbour.
    if let (Ok(x), Ok(y)) = (a.as_int(), b.as_float()) {
        return int_float_order(x, y).ok_or_else(|| format!("cannot compare {x} with {y} (NaN)"));
    }
    if let (Ok(x), Ok(y)) = (a.as_float(), b.as_int()) {
        return int_float_order(y, x)
            .map(Ordering::reverse)
            .ok_or_else(|| format!("cannot compare {x} with {y} (NaN)"));
    }
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x.partial_cmp(&y).ok_or_else(|| format!("cannot compare {x} with {y} (NaN)"));
    }
    if a.is_string()
        && b.is_string()
        && let (Some(x), Some(y)) =
            (a.read_lock::<rhai::ImmutableString>(), b.read_lock::<rhai::ImmutableString>())
    {
        return Ok(x.as_bytes().cmp(y.as_bytes()));
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return Ok(x.cmp(&y));
    }
    if a.is_array() && b.is_array() {
        let (Some(x), Some(y)) = (a.read_lock::<rhai::Array>(), b.read_lock::<rhai::Array>()) else {
            return Err("cannot read arrays".into());
        };
        for (p, q) in x.iter().zip(y.iter()) {
            match compare(p, q)? {
                Ordering::Equal => {}
                other => return Ok(other),
            }
        }
        return Ok(x.len().cmp(&y.len()));
    }
    Err(format!(
        "cannot compare {} with {} (numbers, strings, bools and arrays of them compare)",
        describe_type(a),
        describe_type(b)
    ))
}

/// How INT `i` orders against FLOAT `f`, exactly; `None` when `f` is NaN.
fn int_float_order(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^63: every i64 is below it, and -2^63 is i64::MIN.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // |whole| < 2^63 (or exactly -2^63): the conversion is exact.
    #[expect(clippy::cast_possible_truncation, reason = "whole is an integer within i64's range")]
    let whole_int = whole as i64;
    Some(i.cmp(&whole_int).then_with(|| {
        // Equal integer parts: the fraction decides (i has none).
        if f > whole {
            Ordering::Less
        } else if f < whole {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
}

fn as_number(v: &Dynamic) -> Option<f64> {
    if let Ok(i) = v.as_int() {
        return Some(i as f64);
    }
    v.as_float().ok()
}

/// Adds two values for the built-in sum: INT + INT stays INT (overflow is an error),
/// a FLOAT on either side gives a FLOAT.
pub fn add(a: &Dynamic, b: &Dynamic) -> Result<Dynamic, String> {
    if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        return x.checked_add(y).map(Dynamic::from_int).ok_or_else(|| format!("integer overflow: {x} + {y}"));
    }
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => Ok(Dynamic::from_float(x + y)),
        _ => Err(format!(
            "cannot add {} and {}: the built-in sum takes numbers",
            describe_type(a),
            describe_type(b)
        )),
    }
}

/// A value's type as messages name it.
pub fn describe_type(v: &Dynamic) -> &'static str {
    if v.is_unit() {
        "()"
    } else if v.is_int() {
        "an INT"
    } else if v.is_float() {
        "a FLOAT"
    } else if v.is_string() {
        "a string"
    } else if v.is_bool() {
        "a bool"
    } else if v.is_array() {
        "an array"
    } else if v.is_map() {
        "an object map"
    } else if v.is_char() {
        "a char"
    } else {
        "a value of another type"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_exactly() {
        let i = |n: i64| Dynamic::from_int(n);
        let f = |x: f64| Dynamic::from_float(x);
        assert_eq!(compare(&i(3), &i(5)), Ok(Ordering::Less));
        assert_eq!(compare(&i(3), &f(2.5)), Ok(Ordering::Greater));
        assert_eq!(compare(&Dynamic::from("b"), &Dynamic::from("ab")), Ok(Ordering::Greater));
        assert!(compare(&i(1), &Dynamic::from("1")).is_err());
        assert_eq!(add(&i(2), &i(3)).unwrap().as_int(), Ok(5));
        assert!(add(&i(i64::MAX), &i(1)).is_err());
        assert_eq!(add(&i(2), &f(0.5)).unwrap().as_float(), Ok(2.5));
    }

    #[test]
    fn an_int_against_a_float_compares_by_exact_value() {
        let i = |n: i64| Dynamic::from_int(n);
        let f = |x: f64| Dynamic::from_float(x);
        let two_53 = 9_007_199_254_740_992_i64;
        // Through f64, 2^53 + 1 rounds to 2^53 and would compare equal.
        assert_eq!(compare(&i(two_53 + 1), &f(two_53 as f64)), Ok(Ordering::Greater));
        assert_eq!(compare(&f(two_53 as f64), &i(two_53 + 1)), Ok(Ordering::Less));
        assert_eq!(compare(&i(two_53), &f(two_53 as f64)), Ok(Ordering::Equal));
        assert_eq!(compare(&i(i64::MAX), &f(9_223_372_036_854_775_808.0)), Ok(Ordering::Less));
        assert_eq!(compare(&i(i64::MIN), &f(-9_223_372_036_854_775_808.0)), Ok(Ordering::Equal));
        assert_eq!(compare(&i(i64::MIN), &f(-1e19)), Ok(Ordering::Greater));
        assert_eq!(compare(&i(-3), &f(-2.5)), Ok(Ordering::Less));
        assert_eq!(compare(&i(-2), &f(-2.5)), Ok(Ordering::Greater));
        assert_eq!(compare(&i(2), &f(2.0)), Ok(Ordering::Equal));
        assert_eq!(compare(&i(0), &f(-0.0)), Ok(Ordering::Equal));
        assert_eq!(compare(&i(1), &f(f64::INFINITY)), Ok(Ordering::Less));
        assert_eq!(compare(&i(1), &f(f64::NEG_INFINITY)), Ok(Ordering::Greater));
        assert!(compare(&i(1), &f(f64::NAN)).is_err());
    }
}
