//! Sink JSON: a value's exact JSON text, as docs/semantics.md#values defines it, failing
//! on what JSON cannot hold (a non-finite float, a function pointer, …).
//!
//! Writing is on the hot path of every file sink, so it appends to a caller's reused
//! buffer and formats numbers with `itoa` / `ryu`.

use rhai::Dynamic;

use super::written::{WrittenRecord, WrittenRow};

/// Appends the JSON text of a value: `()` → `null`, bool, INT → integer, FLOAT → number
/// always with a fraction or exponent (`3.0`, `1e20`), finite only, string escaped, char →
/// string, array, object map with keys in sorted order (a [`rhai::Map`] is ordered by key).
/// Anything else (function pointer, timestamp, custom type) is an error naming the type.
///
/// On error, `out` may hold part of the value; callers write each item into a scratch
/// buffer first so that a failed item leaves nothing behind.
pub fn write_json(out: &mut Vec<u8>, value: &Dynamic) -> Result<(), String> {
    write_json_noting_shared(out, value, &mut false)
}

/// As [`write_json`], and sets `met_shared` when the value holds a shared cell (whose content
/// may change after it was written).
pub(crate) fn write_json_noting_shared(
    out: &mut Vec<u8>,
    value: &Dynamic,
    met_shared: &mut bool,
) -> Result<(), String> {
    if value.is_shared() {
        // A join row's record (docs/architecture.md#shared-parts) or a value captured by a
        // closure: what it holds, read in place (one lock, no copy).
        *met_shared = true;
        return match value.read_lock::<Dynamic>() {
            Some(held) => write_json_noting_shared(out, &held, met_shared),
            None => write_json_noting_shared(out, &value.flatten_clone(), met_shared),
        };
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
            write_json_noting_shared(out, item, met_shared)?;
        }
        out.push(b'}');
    } else if value.is_array() {
        let array = value.as_array_ref().map_err(no_json_form)?;
        out.push(b'[');
        for (i, item) in array.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_noting_shared(out, item, met_shared)?;
        }
        out.push(b']');
    } else if value.is_char() {
        let c = value.as_char().map_err(no_json_form)?;
        let mut utf8 = [0u8; 4];
        write_json_str(out, c.encode_utf8(&mut utf8));
    } else if let Some(row) = value.read_lock::<WrittenRow>() {
        // A join's row of records written when remembered (docs/architecture.md#written-rows).
        row.write_json(out)?;
    } else if let Some(record) = value.read_lock::<WrittenRecord>() {
        record.write_json(out)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{ErrorPath, ParseFailure, parse_value};
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
}
