//! Rhai values to JSON text and back, as docs/semantics.md#values defines them.
//!
//! Writing is on the hot path of every file sink, so it appends to a caller's reused
//! buffer and formats numbers with `itoa` / `ryu`. Reading goes straight from JSON text
//! to Rhai values (no `serde_json::Value` in between) and remembers the field path of
//! an error, so that a bad row names its column.

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

/// Appends the JSON text of a value: `()` → `null`, bool, INT → integer, FLOAT → number
/// always with a fraction or exponent (`3.0`, `1e20`), finite only, string escaped, char →
/// string, array, object map with keys in sorted order (a [`rhai::Map`] is ordered by key).
/// Anything else (function pointer, timestamp, custom type) is an error naming the type.
///
/// On error, `out` may hold part of the value; callers write each item into a scratch
/// buffer first so that a failed item leaves nothing behind.
pub fn write_json(out: &mut Vec<u8>, value: &Dynamic) -> Result<(), String> {
    if value.is_shared() {
        // A value captured by a closure: write what it holds.
        return write_json(out, &value.flatten_clone());
    }
    // `is_*` first: a failed `as_*` computes the type's name for its error.
    if value.is_unit() {
        out.extend_from_slice(b"null");
    } else if value.is_int() {
        let n = value.as_int().map_err(no_json_form)?;
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    } else if value.is_string() {
        let s = value.as_immutable_string_ref().map_err(no_json_form)?;
        write_json_str(out, s.as_str());
    } else if value.is_float() {
        write_float(out, value.as_float().map_err(no_json_form)?)?;
    } else if value.is_bool() {
        let b = value.as_bool().map_err(no_json_form)?;
        out.extend_from_slice(if b { b"true" } else { b"false" });
    } else if value.is_map() {
        let map = value.as_map_ref().map_err(no_json_form)?;
        out.push(b'{');
        for (i, (key, item)) in map.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(out, key.as_str());
            out.push(b':');
            write_json(out, item)?;
        }
        out.push(b'}');
    } else if value.is_array() {
        let array = value.as_array_ref().map_err(no_json_form)?;
        out.push(b'[');
        for (i, item) in array.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json(out, item)?;
        }
        out.push(b']');
    } else if value.is_char() {
        let c = value.as_char().map_err(no_json_form)?;
        let mut utf8 = [0u8; 4];
        write_json_str(out, c.encode_utf8(&mut utf8));
    } else {
        return Err(no_json_form(value.type_name()));
    }
    Ok(())
}

/// The reason for a value of type `type_name` that JSON cannot hold.
fn no_json_form(type_name: &str) -> String {
    format!("a value of type `{type_name}` has no JSON form")
}

/// The JSON text of a value, as [`write_json`] writes it.
pub fn to_json_string(value: &Dynamic) -> Result<String, String> {
    let mut out = Vec::with_capacity(64);
    write_json(&mut out, value)?;
    // write_json only appends valid UTF-8 (escaped str text and ASCII).
    String::from_utf8(out).map_err(|e| format!("internal error: JSON text is not UTF-8: {e}"))
}

/// Appends a finite float with a fraction or an exponent (`3.0`, `1e20`, `-0.0`).
pub(crate) fn write_float(out: &mut Vec<u8>, f: f64) -> Result<(), String> {
    if !f.is_finite() {
        return Err(format!("the float {f} has no JSON form (JSON numbers are finite)"));
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(f);
    out.extend_from_slice(text.as_bytes());
    if !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
        out.extend_from_slice(b".0");
    }
    Ok(())
}

/// What each byte becomes inside a JSON string: 0 = itself, `u` = `\u00XX`, else `\` + it.
const ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends a string as a JSON string literal: quotes, backslashes and control characters
/// escaped, everything else (all of Unicode) as UTF-8.
pub(crate) fn write_json_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPES[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

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
    use rhai::{Array, Map};

    fn json(value: &Dynamic) -> String {
        to_json_string(value).unwrap()
    }

    fn map(fields: &[(&str, Dynamic)]) -> Dynamic {
        let mut m = Map::new();
        for (k, v) in fields {
            m.insert((*k).into(), v.clone());
        }
        Dynamic::from_map(m)
    }

    fn parse(text: &str) -> Result<Dynamic, ParseFailure> {
        let path = ErrorPath::default();
        let mut de = serde_json::Deserializer::from_str(text);
        parse_value(&mut de, &path)
    }

    #[test]
    fn writes_scalars() {
        assert_eq!(json(&Dynamic::UNIT), "null");
        assert_eq!(json(&Dynamic::from_bool(true)), "true");
        assert_eq!(json(&Dynamic::from_bool(false)), "false");
        assert_eq!(json(&Dynamic::from_int(0)), "0");
        assert_eq!(json(&Dynamic::from_int(-42)), "-42");
        assert_eq!(json(&Dynamic::from_int(i64::MIN)), "-9223372036854775808");
        assert_eq!(json(&Dynamic::from_int(i64::MAX)), "9223372036854775807");
        assert_eq!(json(&Dynamic::from_char('x')), "\"x\"");
        assert_eq!(json(&Dynamic::from_char('"')), "\"\\\"\"");
    }

    #[test]
    fn writes_floats_with_fraction_or_exponent() {
        let cases = [
            (3.0, "3.0"),
            (1e20, "1e20"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1.5e-7, "1.5e-7"),
            (123456789.0, "123456789.0"),
            (1e16, "1e16"),
            (f64::MAX, "1.7976931348623157e308"),
        ];
        for (value, text) in cases {
            assert_eq!(json(&Dynamic::from_float(value)), text, "{value:?}");
            // And it reads back as the same FLOAT.
            let back = parse(text).unwrap();
            assert!(back.is_float(), "{text}");
            assert_eq!(back.as_float().unwrap().to_bits(), value.to_bits());
        }
    }

    #[test]
    fn non_finite_floats_are_errors() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = to_json_string(&Dynamic::from_float(value)).unwrap_err();
            assert!(err.contains("no JSON form"), "{err}");
        }
        // Nested too, naming the value.
        let arr = Dynamic::from_array(vec![Dynamic::from_int(1), Dynamic::from_float(f64::NAN)]);
        assert_eq!(
            to_json_string(&arr).unwrap_err(),
            "the float NaN has no JSON form (JSON numbers are finite)"
        );
    }

    #[test]
    fn values_without_json_form_are_errors() {
        let fn_ptr = Dynamic::from(rhai::FnPtr::new("f").unwrap());
        let err = to_json_string(&fn_ptr).unwrap_err();
        assert_eq!(err, "a value of type `Fn` has no JSON form");
        #[derive(Clone)]
        struct Custom;
        let err = to_json_string(&Dynamic::from(Custom)).unwrap_err();
        assert!(err.contains("Custom"), "{err}");
    }

    #[test]
    fn escapes_strings() {
        let cases = [
            ("plain", r#""plain""#),
            ("quote \" here", r#""quote \" here""#),
            ("back\\slash", r#""back\\slash""#),
            ("a\nb\tc\rd", r#""a\nb\tc\rd""#),
            ("\u{8}\u{c}", r#""\b\f""#),
            ("\u{0}\u{1f}\u{1}", r#""\u0000\u001f\u0001""#),
            ("\u{7f}", "\"\u{7f}\""),
            ("héllo ✓ 😀", "\"héllo ✓ 😀\""),
            ("/", r#""/""#),
            ("", r#""""#),
        ];
        for (text, expected) in cases {
            assert_eq!(json(&Dynamic::from(text)), expected);
            // serde_json agrees, and reads it back.
            assert_eq!(serde_json::to_string(text).unwrap(), expected);
            assert_eq!(parse(expected).unwrap().into_string().unwrap(), text);
        }
    }

    #[test]
    fn writes_nested_maps_with_sorted_keys() {
        let inner = map(&[("z", Dynamic::from_int(1)), ("a", Dynamic::UNIT)]);
        let value = map(&[
            ("b", Dynamic::from_array(vec![inner, Dynamic::from_float(3.0)])),
            ("a", Dynamic::from("x")),
            ("B", Dynamic::from_bool(true)),
            ("é", Dynamic::from_array(Array::new())),
            ("", map(&[])),
        ]);
        assert_eq!(json(&value), r#"{"":{},"B":true,"a":"x","b":[{"a":null,"z":1},3.0],"é":[]}"#);
    }

    #[test]
    fn writes_shared_values() {
        let shared = Dynamic::from_int(7).into_shared();
        assert_eq!(json(&shared), "7");
        let arr = Dynamic::from_array(vec![Dynamic::from("s").into_shared()]);
        assert_eq!(json(&arr), r#"["s"]"#);
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
