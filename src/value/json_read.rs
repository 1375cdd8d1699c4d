//! JSON → value: JSON text (or parsed JSON) to Rhai values, as docs/semantics.md#values
//! defines them (an integer that does not fit 64 bits is an error, never a silent float).
//!
//! Reading goes straight from JSON text to Rhai values (no `serde_json::Value` in between)
//! and remembers the field path of an error, so that a bad row names its column.

use std::cell::RefCell;
use std::fmt;

use rhai::{Dynamic, ImmutableString};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key type of [`rhai::Map`] (Rhai's `Identifier`, a small-string type that Rhai
/// only names under its `internals` feature).
pub(crate) type Identifier = <rhai::Map as MapTypes>::Key;

/// Names the key type of a map type.
pub(crate) trait MapTypes {
    /// The key type.
    type Key;
}

impl<K, V> MapTypes for std::collections::BTreeMap<K, V> {
    type Key = K;
}

/// The map key serde_json uses to hand over a number's text under `arbitrary_precision`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Converts parsed JSON to a Rhai value: integers that fit i64 → INT, an integer literal
/// that does not (no `.`, `e`, `E`) → an error (docs/semantics.md#values: never a silent float), other
/// numbers → FLOAT, `null` → `()`, arrays → arrays, objects → maps.
pub fn json_to_dynamic(value: &serde_json::Value) -> Result<Dynamic, String> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            // With `arbitrary_precision` this is the number's text as written.
            None => number_text_to_dynamic(&n.to_string())?,
        },
        Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        Value::Array(items) => {
            Dynamic::from_array(items.iter().map(json_to_dynamic).collect::<Result<rhai::Array, String>>()?)
        }
        Value::Object(fields) => {
            let mut map = rhai::Map::new();
            for (key, item) in fields {
                let item = json_to_dynamic(item).map_err(|e| format!("field `{key}`: {e}"))?;
                map.insert(key.as_str().into(), item);
            }
            Dynamic::from_map(map)
        }
    })
}

/// A JSON number's text as a Rhai value: an integer literal must fit in i64; anything
/// with a fraction or exponent is a FLOAT, which must be finite.
pub(crate) fn number_text_to_dynamic(text: &str) -> Result<Dynamic, String> {
    if !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
        return text
            .parse::<i64>()
            .map(Dynamic::from_int)
            .map_err(|_| format!("integer {text} does not fit in 64 bits"));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Dynamic::from_float(f)),
        _ => Err(format!("number {text} is out of range for a 64-bit float")),
    }
}

/// One step of the path to a JSON error: a field name or an array index.
#[derive(Debug)]
enum PathStep {
    /// An object field.
    Field(String),
    /// An array element.
    Index(usize),
}

/// Where in a JSON value an error happened, filled in innermost first as the error
/// travels out of the nested values.
#[derive(Debug, Default)]
pub(crate) struct ErrorPath(RefCell<Vec<PathStep>>);

impl ErrorPath {
    /// Forgets the previous value's path.
    pub(crate) fn clear(&self) {
        self.0.borrow_mut().clear();
    }

    /// The path as `a.b[2].c`, or `None` when the error was not inside any field.
    pub(crate) fn render(&self) -> Option<String> {
        let steps = self.0.borrow();
        if steps.is_empty() {
            return None;
        }
        let mut text = String::new();
        for step in steps.iter().rev() {
            match step {
                PathStep::Field(name) => {
                    if !text.is_empty() {
                        text.push('.');
                    }
                    text.push_str(name);
                }
                PathStep::Index(i) => {
                    text.push('[');
                    text.push_str(itoa::Buffer::new().format(*i));
                    text.push(']');
                }
            }
        }
        Some(text)
    }

    fn push(&self, step: PathStep) {
        self.0.borrow_mut().push(step);
    }
}

/// Deserializes any JSON value straight into a [`Dynamic`], with the rules of
/// [`json_to_dynamic`], recording in `path` where an error happened.
#[derive(Clone, Copy)]
pub(crate) struct DynamicSeed<'p> {
    /// Receives the path of an error.
    pub(crate) path: &'p ErrorPath,
}

impl<'de> DeserializeSeed<'de> for DynamicSeed<'_> {
    type Value = Dynamic;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Dynamic, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DynamicSeed<'_> {
    type Value = Dynamic;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Dynamic, E> {
        Ok(Dynamic::from_bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dynamic, E> {
        Ok(Dynamic::from_int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dynamic, E> {
        i64::try_from(v)
            .map(Dynamic::from_int)
            .map_err(|_| E::custom(format!("integer {v} does not fit in 64 bits")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dynamic, E> {
        if v.is_finite() {
            Ok(Dynamic::from_float(v))
        } else {
            Err(E::custom(format!("number {v} is out of range")))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dynamic, E> {
        Ok(Dynamic::from(ImmutableString::from(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Dynamic, E> {
        Ok(Dynamic::from(ImmutableString::from(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Dynamic, E> {
        Ok(Dynamic::UNIT)
    }

    fn visit_none<E: de::Error>(self) -> Result<Dynamic, E> {
        Ok(Dynamic::UNIT)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dynamic, A::Error> {
        let mut items = rhai::Array::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => {
                    self.path.push(PathStep::Index(items.len()));
                    return Err(e);
                }
            }
        }
        Ok(Dynamic::from_array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Dynamic, A::Error> {
        let mut map = rhai::Map::new();
        let Some(mut key) = access.next_key_seed(KeySeed)? else {
            return Ok(Dynamic::from_map(map));
        };
        if key.as_str() == NUMBER_TOKEN {
            // serde_json's `arbitrary_precision` hands a number over as a one-field map.
            let text: String = access.next_value()?;
            return number_text_to_dynamic(&text).map_err(de::Error::custom);
        }
        loop {
            match access.next_value_seed(self) {
                Ok(value) => {
                    map.insert(key, value);
                }
                Err(e) => {
                    self.path.push(PathStep::Field(key.to_string()));
                    return Err(e);
                }
            }
            match access.next_key_seed(KeySeed)? {
                Some(next) => key = next,
                None => break,
            }
        }
        Ok(Dynamic::from_map(map))
    }
}

/// Deserializes an object key straight into a map key.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Identifier;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Identifier, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Identifier;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Identifier, E> {
        Ok(Identifier::from(v))
    }
}

/// A failed parse of one JSON value: serde_json's error and the field path, if any.
#[derive(Debug)]
pub(crate) struct ParseFailure {
    /// serde_json's error (its line and column are relative to the parsed text).
    pub(crate) error: serde_json::Error,
    /// The field path of the error (`a.b[2]`), when it was inside a field.
    pub(crate) column: Option<String>,
}

impl ParseFailure {
    /// serde_json's message without its " at line L column C" suffix.
    pub(crate) fn message(&self) -> String {
        serde_message(&self.error)
    }
}

/// serde_json's message without its " at line L column C" suffix.
pub(crate) fn serde_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => text,
    }
}

/// Parses one JSON value from the deserializer (not checking what follows it).
pub(crate) fn parse_value<'de, R: serde_json::de::Read<'de>>(
    deserializer: &mut serde_json::Deserializer<R>,
    path: &ErrorPath,
) -> Result<Dynamic, ParseFailure> {
    path.clear();
    DynamicSeed { path }
        .deserialize(&mut *deserializer)
        .map_err(|error| ParseFailure { error, column: path.render() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::to_json_string;

    fn json(value: &Dynamic) -> String {
        to_json_string(value).unwrap()
    }

    fn parse(text: &str) -> Result<Dynamic, ParseFailure> {
        let path = ErrorPath::default();
        let mut de = serde_json::Deserializer::from_str(text);
        parse_value(&mut de, &path)
    }

    #[test]
    fn json_to_dynamic_rules() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"i": -5, "big": 9223372036854775807, "f": 3.0, "e": 1e3, "n": null,
                "s": "x", "b": false, "a": [1, 2.5, "y"], "o": {"k": {}}}"#,
        )
        .unwrap();
        let d = json_to_dynamic(&value).unwrap();
        assert_eq!(
            json(&d),
            r#"{"a":[1,2.5,"y"],"b":false,"big":9223372036854775807,"e":1000.0,"f":3.0,"i":-5,"n":null,"o":{"k":{}},"s":"x"}"#
        );
        let m = d.as_map_ref().unwrap();
        assert!(m["i"].is_int());
        assert!(m["f"].is_float());
        assert!(m["e"].is_float());
        assert!(m["n"].is_unit());

        let huge: serde_json::Value = serde_json::from_str(r#"{"id": 9223372036854775808}"#).unwrap();
        assert_eq!(
            json_to_dynamic(&huge).unwrap_err(),
            "field `id`: integer 9223372036854775808 does not fit in 64 bits"
        );
        let neg: serde_json::Value = serde_json::from_str("-9223372036854775809").unwrap();
        assert_eq!(
            json_to_dynamic(&neg).unwrap_err(),
            "integer -9223372036854775809 does not fit in 64 bits"
        );
        let min: serde_json::Value = serde_json::from_str("-9223372036854775808").unwrap();
        assert_eq!(json_to_dynamic(&min).unwrap().as_int(), Ok(i64::MIN));
        let big_float: serde_json::Value = serde_json::from_str("1e400").unwrap();
        // (serde_json may write the exponent as `1e+400`.)
        let err = json_to_dynamic(&big_float).unwrap_err();
        assert!(err.starts_with("number 1e"), "{err}");
        assert!(err.ends_with("400 is out of range for a 64-bit float"), "{err}");
        let neg_zero: serde_json::Value = serde_json::from_str("-0").unwrap();
        assert_eq!(json_to_dynamic(&neg_zero).unwrap().as_int(), Ok(0));
    }

    #[test]
    fn seed_parses_like_json_to_dynamic() {
        let text = r#"{"i": -5, "u": 18, "f": 0.5, "e": 2E-2, "z": -0, "n": null, "s": "a\"\u00e9",
                       "arr": [[], {}, true], "o": {"p": 1.0}}"#;
        let direct = parse(text).unwrap();
        let via_value = json_to_dynamic(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(json(&direct), json(&via_value));
        assert_eq!(
            json(&direct),
            r#"{"arr":[[],{},true],"e":0.02,"f":0.5,"i":-5,"n":null,"o":{"p":1.0},"s":"a\"é","u":18,"z":0}"#
        );
    }

    #[test]
    fn seed_reports_the_path_of_a_huge_integer() {
        let failure = parse(r#"{"a": 1, "b": {"c": [0, 18446744073709551616]}}"#).unwrap_err();
        assert_eq!(failure.column.as_deref(), Some("b.c[1]"));
        assert_eq!(failure.message(), "integer 18446744073709551616 does not fit in 64 bits");
        let failure = parse(r#"{"id": 9223372036854775808}"#).unwrap_err();
        assert_eq!(failure.column.as_deref(), Some("id"));
        assert_eq!(failure.message(), "integer 9223372036854775808 does not fit in 64 bits");
        let failure = parse("-9223372036854775809").unwrap_err();
        assert_eq!(failure.column, None);
        // A syntax error inside a field names the field too.
        let failure = parse(r#"{"ok": 1, "bad": tru}"#).unwrap_err();
        assert_eq!(failure.column.as_deref(), Some("bad"));
        assert_eq!(failure.error.classify(), serde_json::error::Category::Syntax);
    }
}
