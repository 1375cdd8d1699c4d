//! Roughly how many bytes a value takes, for the state ledger's per-step totals.

use rhai::Dynamic;

/// Roughly how many bytes a value takes.
pub fn approx_bytes(value: &Dynamic) -> usize {
    const SLOT: usize = 16;
    if let Some(array) = value.read_lock::<rhai::Array>() {
        SLOT + array.iter().map(approx_bytes).sum::<usize>()
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        SLOT + map.iter().map(|(k, v)| SLOT + k.len() + approx_bytes(v)).sum::<usize>()
    } else if value.is_string() {
        SLOT + value.read_lock::<rhai::ImmutableString>().map_or(0, |s| s.len())
    } else {
        SLOT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_slot_per_value_plus_text() {
        let mut map = rhai::Map::new();
        map.insert("n".into(), Dynamic::from_int(3));
        map.insert("s".into(), Dynamic::from("abcd"));
        // map slot + ("n" slot + 1 + int slot) + ("s" slot + 1 + string slot + 4)
        assert_eq!(approx_bytes(&Dynamic::from_map(map)), 16 + (16 + 1 + 16) + (16 + 1 + 16 + 4));
        assert_eq!(approx_bytes(&Dynamic::UNIT), 16);
    }
}
