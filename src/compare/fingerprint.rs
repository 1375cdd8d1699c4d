//! Fingerprints: a value, an item or a list of items reduced to 64 bits that differ when the
//! parsed values differ (type, then content: `1` and `1.0` differ, map entries in key order),
//! so that two replays can be compared event by event without keeping either one's values.

use rhai::{Array, Dynamic, ImmutableString, Map};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::ops::Key;

/// Reusable scratch space for fingerprinting (one per replay: no allocation per item).
#[derive(Debug, Default)]
pub(super) struct Fingerprinter {
    bytes: Vec<u8>,
}

impl Fingerprinter {
    /// A value's fingerprint.
    pub(super) fn value(&mut self, value: &Dynamic) -> u64 {
        self.bytes.clear();
        write_value(&mut self.bytes, value);
        xxh3_64(&self.bytes)
    }

    /// An emitted item's fingerprint: its output port, its key (on a keyed stream) and value.
    pub(super) fn item(&mut self, port: usize, key: Option<&Key>, value: &Dynamic) -> u64 {
        self.bytes.clear();
        self.bytes.push(u8::try_from(port).unwrap_or(u8::MAX));
        match key {
            Some(key) => {
                self.bytes.push(1);
                write_text(&mut self.bytes, key.as_str());
            }
            None => self.bytes.push(0),
        }
        write_value(&mut self.bytes, value);
        xxh3_64(&self.bytes)
    }
}

/// The seed of a step's key fingerprints: the same for the step of the same id in both
/// versions, whatever its place in each file.
pub(super) fn step_seed(step_id: &str) -> u64 {
    xxh3_64(step_id.as_bytes())
}

/// A key's fingerprint at the step whose seed is `step_seed`: what the comparison tracks a
/// (step, key) by.
pub(super) fn key_id(step_seed: u64, key: &Key) -> u64 {
    xxh3_64_with_seed(key.as_bytes(), step_seed)
}

/// A running fingerprint of a sequence: `item` appended after what `sequence` holds (the order
/// counts).
pub(super) fn append(sequence: u64, item: u64) -> u64 {
    xxh3_64_with_seed(&item.to_le_bytes(), sequence)
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// A value's bytes: a tag for its type, then its content (lengths first, so that no two
/// values share their bytes).
fn write_value(out: &mut Vec<u8>, value: &Dynamic) {
    // Type checks first (reading the tag only), then the content.
    if value.is_map() {
        if let Some(map) = value.read_lock::<Map>() {
            out.push(7);
            write_len(out, map.len());
            for (name, element) in map.iter() {
                write_text(out, name.as_str());
                write_value(out, element);
            }
            return;
        }
    } else if value.is_int() {
        if let Ok(i) = value.as_int() {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
            return;
        }
    } else if value.is_string() {
        if let Some(text) = value.read_lock::<ImmutableString>() {
            out.push(4);
            write_text(out, text.as_str());
            return;
        }
    } else if value.is_unit() {
        out.push(0);
        return;
    } else if value.is_bool() {
        if let Ok(b) = value.as_bool() {
            out.extend_from_slice(&[1, u8::from(b)]);
            return;
        }
    } else if value.is_float() {
        if let Ok(f) = value.as_float() {
            out.push(3);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
            return;
        }
    } else if value.is_char() {
        if let Ok(c) = value.as_char() {
            out.push(5);
            out.extend_from_slice(&u32::from(c).to_le_bytes());
            return;
        }
    } else if value.is_array()
        && let Some(array) = value.read_lock::<Array>()
    {
        out.push(6);
        write_len(out, array.len());
        for element in array.iter() {
            write_value(out, element);
        }
        return;
    }
    // Not plain data (a function pointer, a blob): its type and its text.
    out.push(8);
    write_text(out, value.type_name());
    write_text(out, &value.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_differ_by_type_and_content_and_maps_by_entries() {
        let mut f = Fingerprinter::default();
        assert_ne!(f.value(&Dynamic::from(1_i64)), f.value(&Dynamic::from(1.0_f64)));
        assert_ne!(f.value(&Dynamic::from("1")), f.value(&Dynamic::from(1_i64)));
        let mut a = Map::new();
        a.insert("n".into(), Dynamic::from(1_i64));
        let mut b = a.clone();
        assert_eq!(f.value(&Dynamic::from(a.clone())), f.value(&Dynamic::from(b.clone())));
        b.insert("m".into(), Dynamic::UNIT);
        assert_ne!(f.value(&Dynamic::from(a)), f.value(&Dynamic::from(b)));
        let ab: Array = vec![Dynamic::from("a"), Dynamic::from("b")];
        let a_b: Array = vec![Dynamic::from("ab")];
        assert_ne!(f.value(&Dynamic::from(ab)), f.value(&Dynamic::from(a_b)));
        assert_ne!(append(append(0, 1), 2), append(append(0, 2), 1));
    }
}
