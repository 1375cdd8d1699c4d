//! Reading JSON as deep as what the engine may store: serde_json's parser stops at 128 nested
//! arrays and objects, but a snapshot holds state values up to the `max_depth` limit (each
//! level possibly in a tagged form, two levels) inside the file's own structure. The nesting is
//! measured first, without recursion, and refused past [`MAX_JSON_DEPTH`]; only then is the
//! text parsed without serde_json's limit.

use serde::Deserialize;
use serde_json::Value;

use crate::graph::MAX_DEPTH_CAP;

/// The deepest nesting read: the deepest value `max_depth` allows, every level tagged, plus
/// the file's own levels.
pub const MAX_JSON_DEPTH: usize = 2 * MAX_DEPTH_CAP.unsigned_abs() as usize + 16;

/// Parses a JSON document nested at most [`MAX_JSON_DEPTH`] deep.
pub fn from_slice(bytes: &[u8]) -> Result<Value, String> {
    let depth = nesting(bytes);
    if depth > MAX_JSON_DEPTH {
        return Err(format!(
            "arrays and objects are nested {depth} deep, more than the {MAX_JSON_DEPTH} read"
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// The deepest nesting of `[` and `{` outside strings (of well-formed or broken text alike).
fn nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_documents_are_read_and_deeper_ones_refused() {
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        assert!(serde_json::from_str::<Value>(&deep).is_err(), "serde_json's own limit");
        assert!(from_slice(deep.as_bytes()).is_ok());
        let too_deep = "[".repeat(MAX_JSON_DEPTH + 1);
        assert!(from_slice(too_deep.as_bytes()).unwrap_err().contains("nested"));
        assert_eq!(nesting(br#"{"a": "[[[\"{", "b": [1, {}]}"#), 3);
        assert!(from_slice(b"[1] x").is_err(), "trailing text");
    }
}
