//! The tagged JSON form of a value, which snapshot files use: plain JSON with a few tagged
//! forms so that every value comes back with its type. `()` is `null`, an INT a JSON
//! integer, a FLOAT a JSON number with a fraction or exponent (`{"$float": "NaN"}`, `"inf"`,
//! `"-inf"` when not finite), a character `{"$char": "a"}`, a tagged value
//! `{"$tag": [tag, value]}`; a map whose only key starts with `$` is written `{"$map": {…}}`.
//! Any other value (a function pointer, a blob, …) has no tagged form: an error.

use rhai::Dynamic;
use serde_json::{Map as JsonMap, Value};

use super::display::exact_scalar_json;

/// A value's JSON form in a snapshot file.
pub fn to_tagged_json(value: &Dynamic) -> Result<Value, String> {
    if value.is_shared() {
        return to_tagged_json(&value.flatten_clone());
    }
    let tag = value.tag();
    if tag != 0 {
        let mut untagged = value.clone();
        untagged.set_tag(0);
        return Ok(single("$tag", Value::Array(vec![Value::from(tag), to_tagged_json(&untagged)?])));
    }
    Ok(if let Some(json) = exact_scalar_json(value) {
        json
    } else if let Ok(f) = value.as_float() {
        match serde_json::Number::from_f64(f) {
            Some(n) if f.is_finite() => Value::Number(n),
            _ => single(
                "$float",
                Value::from(if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "inf"
                } else {
                    "-inf"
                }),
            ),
        }
    } else if let Ok(c) = value.as_char() {
        single("$char", Value::from(c.to_string()))
    } else if let Ok(s) = value.as_immutable_string_ref() {
        Value::from(s.as_str())
    } else if let Ok(array) = value.as_array_ref() {
        Value::Array(array.iter().map(to_tagged_json).collect::<Result<_, _>>()?)
    } else if let Ok(map) = value.as_map_ref() {
        let mut object = JsonMap::new();
        for (k, v) in map.iter() {
            object.insert(k.to_string(), to_tagged_json(v).map_err(|e| format!("field `{k}`: {e}"))?);
        }
        if object.len() == 1 && object.keys().all(|k| k.starts_with('$')) {
            single("$map", Value::Object(object))
        } else {
            Value::Object(object)
        }
    } else {
        return Err(format!("a value of type {} cannot be written in a snapshot", value.type_name()));
    })
}

fn single(name: &str, value: Value) -> Value {
    let mut object = JsonMap::new();
    object.insert(name.to_owned(), value);
    Value::Object(object)
}

/// A value back from its JSON form in a snapshot file.
pub fn from_tagged_json(json: &Value) -> Result<Dynamic, String> {
    Ok(match json {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => {
            let text = n.to_string();
            if text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
                Dynamic::from_float(text.parse::<f64>().map_err(|_| format!("bad number {text}"))?)
            } else {
                Dynamic::from_int(
                    text.parse::<i64>().map_err(|_| format!("integer {text} does not fit in 64 bits"))?,
                )
            }
        }
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => {
            Dynamic::from_array(items.iter().map(from_tagged_json).collect::<Result<_, _>>()?)
        }
        Value::Object(object) => {
            if object.len() == 1
                && let Some((name, inner)) = object.iter().next()
                && name.starts_with('$')
            {
                return match (name.as_str(), inner) {
                    ("$float", Value::String(s)) => match s.as_str() {
                        "NaN" => Ok(Dynamic::from_float(f64::NAN)),
                        "inf" => Ok(Dynamic::from_float(f64::INFINITY)),
                        "-inf" => Ok(Dynamic::from_float(f64::NEG_INFINITY)),
                        other => Err(format!("bad float {other:?}")),
                    },
                    ("$char", Value::String(s)) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => Ok(Dynamic::from_char(c)),
                            _ => Err(format!("bad character {s:?}")),
                        }
                    }
                    ("$tag", Value::Array(pair)) if pair.len() == 2 => {
                        let tag = pair[0].as_i64().and_then(|t| i32::try_from(t).ok()).ok_or("bad tag")?;
                        let mut value = from_tagged_json(&pair[1])?;
                        value.set_tag(tag);
                        Ok(value)
                    }
                    ("$map", Value::Object(fields)) => map_from_json(fields),
                    _ => Err(format!("unknown form `{name}`")),
                };
            }
            map_from_json(object)?
        }
    })
}

fn map_from_json(object: &JsonMap<String, Value>) -> Result<Dynamic, String> {
    let mut map = rhai::Map::new();
    for (k, v) in object {
        map.insert(k.as_str().into(), from_tagged_json(v).map_err(|e| format!("field `{k}`: {e}"))?);
    }
    Ok(Dynamic::from_map(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_with_their_types() {
        let mut map = rhai::Map::new();
        map.insert("a".into(), Dynamic::from_int(1));
        map.insert("b".into(), Dynamic::from_float(3.0));
        let mut odd = rhai::Map::new();
        odd.insert("$char".into(), Dynamic::from("x"));
        let mut tagged = Dynamic::from_int(7);
        tagged.set_tag(3);
        let values = vec![
            Dynamic::UNIT,
            Dynamic::from_bool(true),
            Dynamic::from_int(i64::MIN),
            Dynamic::from_float(-0.0),
            Dynamic::from_float(1e300),
            Dynamic::from_float(f64::NAN),
            Dynamic::from_float(f64::NEG_INFINITY),
            Dynamic::from_char('é'),
            Dynamic::from("text"),
            Dynamic::from_array(vec![Dynamic::from_int(1), Dynamic::from_float(1.0)]),
            Dynamic::from_map(map),
            Dynamic::from_map(odd),
            tagged,
        ];
        for value in values {
            let json = to_tagged_json(&value).unwrap();
            let text = serde_json::to_string(&json).unwrap();
            let back = from_tagged_json(&serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!(format!("{value:?}"), format!("{back:?}"), "{text}");
            assert_eq!(value.type_name(), back.type_name(), "{text}");
            assert_eq!(value.tag(), back.tag(), "{text}");
        }
        assert!(to_tagged_json(&Dynamic::from(rhai::FnPtr::new("f").unwrap())).is_err());
    }
}
