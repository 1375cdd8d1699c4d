//! Display: a value as JSON and as text for people — the workbench's tables and diffs,
//! error messages — never failing (what sink JSON refuses becomes a string).

use rhai::Dynamic;
use serde_json::Value;

use super::json::to_json_string;

/// A value as JSON for display: like the sinks write it ([`super::write_json`]), but never
/// failing (a non-finite float or a value with no JSON form becomes a string).
pub fn display_json(value: &Dynamic) -> Value {
    if let Some(json) = exact_scalar_json(value) {
        json
    } else if let Ok(f) = value.as_float() {
        serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
    } else if value.is_string() || value.is_char() {
        Value::String(value.to_string())
    } else if let Some(array) = value.read_lock::<rhai::Array>() {
        Value::Array(array.iter().map(display_json).collect())
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        Value::Object(map.iter().map(|(k, v)| (k.to_string(), display_json(v))).collect())
    } else {
        Value::String(value.to_string())
    }
}

/// The JSON of `()`, a bool or an INT, which every JSON form of a value writes alike
/// (display, sink and tagged); `None` for any other value.
pub(super) fn exact_scalar_json(value: &Dynamic) -> Option<Value> {
    if value.is_unit() {
        Some(Value::Null)
    } else if let Ok(b) = value.as_bool() {
        Some(Value::Bool(b))
    } else if let Ok(i) = value.as_int() {
        Some(Value::from(i))
    } else {
        None
    }
}

/// A short, one-line rendering of a value for error messages (cut at about 200 chars).
pub fn preview(v: &Dynamic) -> String {
    let mut text = String::new();
    write_preview(&mut text, v);
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn write_preview(out: &mut String, v: &Dynamic) {
    use std::fmt::Write;
    if out.len() > 400 {
        return;
    }
    if v.is_unit() {
        out.push_str("()");
    } else if v.is_string() {
        let _ = write!(out, "{:?}", v.to_string());
    } else if let Some(array) = v.read_lock::<rhai::Array>() {
        out.push('[');
        for (i, item) in array.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_preview(out, item);
        }
        out.push(']');
    } else if let Some(map) = v.read_lock::<rhai::Map>() {
        out.push_str("#{");
        for (i, (k, item)) in map.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{k}: ");
            write_preview(out, item);
        }
        out.push('}');
    } else {
        let _ = write!(out, "{v}");
    }
}

/// How a value is named in a reason: "an object", "a string", …
pub(crate) fn json_kind(value: &Dynamic) -> &'static str {
    if value.is_unit() {
        "null"
    } else if value.is_map() {
        "an object"
    } else if value.is_array() {
        "an array"
    } else if value.is_string() || value.is_char() {
        "a string"
    } else if value.is_bool() {
        "a boolean"
    } else if value.is_int() || value.is_float() {
        "a number"
    } else {
        "a value"
    }
}

/// A value shown in a reason: its JSON text (cut after 80 characters), or its type.
pub(crate) fn show_value(value: &Dynamic) -> String {
    const LIMIT: usize = 80;
    match to_json_string(value) {
        Ok(text) if text.chars().count() > LIMIT => {
            let cut: String = text.chars().take(LIMIT).collect();
            format!("{cut}…")
        }
        Ok(text) => text,
        Err(_) => format!("a `{}`", value.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(fields: &[(&str, Dynamic)]) -> Dynamic {
        let mut m = rhai::Map::new();
        for (k, v) in fields {
            m.insert((*k).into(), v.clone());
        }
        Dynamic::from_map(m)
    }

    #[test]
    fn json_for_display_never_fails() {
        let value = map(&[("n", Dynamic::from_int(3)), ("x", Dynamic::from_float(f64::NAN))]);
        assert_eq!(display_json(&value), serde_json::json!({"n": 3, "x": "NaN"}));
    }

    #[test]
    fn shows_values_in_reasons() {
        assert_eq!(show_value(&Dynamic::from("abc")), "\"abc\"");
        assert_eq!(show_value(&Dynamic::UNIT), "null");
        let long = "x".repeat(200);
        let shown = show_value(&Dynamic::from(long));
        assert_eq!(shown.chars().count(), 81);
        assert_eq!(json_kind(&Dynamic::from_int(1)), "a number");
        assert_eq!(json_kind(&map(&[])), "an object");
    }
}
