//! Per-key states as keyframes keep them: packed one after another into one byte buffer per
//! step ([`PackedStates`]), each state made of plain data (unit, bools, integers, floats,
//! chars, strings, arrays, maps, blobs) in a few bytes, anything else kept as the value
//! itself. A map state like `#{ n, total }` is a B-tree node of some 450 bytes as a value and
//! 28 bytes packed; with its key (shared with the engine) and its place in the buffer, a
//! keyframe holds it in about 40 bytes, so that the keyframe budget holds several times more
//! keyframes (closer together: a shorter replay after a seek). Unpacking gives back an equal
//! value of the same types.

use rhai::{Array, Blob, Dynamic, ImmutableString, Map};

/// Values nested deeper than this are kept as they are (never packed, never recursed into).
const MAX_PACKED_DEPTH: usize = 64;

const UNIT: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const CHAR: u8 = 5;
const STRING: u8 = 6;
const ARRAY: u8 = 7;
const MAP: u8 = 8;
const BLOB: u8 = 9;
/// An entry of [`PackedStates`]: the key went (no state).
const GONE: u8 = 0xF0;
/// An entry of [`PackedStates`]: a value kept as it is, its index in `held` follows.
const HELD: u8 = 0xF1;

/// One step's states, each with its key, packed one after another: a keyframe's share of a
/// step (or the first change of each key since the last keyframe). Entries keep the order
/// they were pushed in; a key appears once unless the caller pushes it twice. The key's text
/// is packed too: a key the engine holds may be a different allocation from the one an event
/// carried, so a shared key would not be shared.
#[derive(Debug, Default, Clone)]
pub(super) struct PackedStates {
    /// Where each entry ends in `bytes` (it starts where the one before ends): the key's
    /// length and text, then its state.
    ends: Vec<u32>,
    bytes: Vec<u8>,
    /// States that are not plain data (a shared or tagged value, a timestamp, a function
    /// pointer, a custom type), as they are.
    held: Vec<Dynamic>,
}

/// One entry's state, borrowed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Entry<'a> {
    /// The key went.
    Gone,
    /// Plain data, packed.
    Packed(&'a [u8]),
    /// A value kept as it is.
    Held(&'a Dynamic),
}

impl Entry<'_> {
    /// Whether the key has a state here (it did not go).
    pub fn is_live(&self) -> bool {
        !matches!(self, Entry::Gone)
    }

    /// The state (`None`: the key went, or, never for an entry written here, bytes that do
    /// not unpack).
    pub fn value(&self) -> Option<Dynamic> {
        match self {
            Entry::Gone => None,
            Entry::Packed(bytes) => unpack(bytes),
            Entry::Held(value) => Some((*value).clone()),
        }
    }
}

impl PackedStates {
    /// How many entries.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Drops every entry, keeping the room.
    pub fn clear(&mut self) {
        self.ends.clear();
        self.bytes.clear();
        self.held.clear();
    }

    /// The `index`th entry's key and state.
    pub fn get(&self, index: usize) -> Option<(&str, Entry<'_>)> {
        let (key, state) = self.split(index)?;
        let entry = match state.split_first() {
            Some((&GONE, _)) => Entry::Gone,
            Some((&HELD, rest)) => Entry::Held(self.held.get(Reader { bytes: rest, at: 0 }.len()?)?),
            _ => Entry::Packed(state),
        };
        Some((key, entry))
    }

    /// Where the `index`th entry stands in `bytes`.
    fn range(&self, index: usize) -> Option<std::ops::Range<usize>> {
        let start = match index.checked_sub(1) {
            Some(before) => *self.ends.get(before)? as usize,
            None => 0,
        };
        Some(start..*self.ends.get(index)? as usize)
    }

    /// The `index`th entry's key and the bytes of its state.
    fn split(&self, index: usize) -> Option<(&str, &[u8])> {
        let bytes = self.bytes.get(self.range(index)?)?;
        let mut reader = Reader { bytes, at: 0 };
        let len = reader.len()?;
        let key_end = reader.at.checked_add(len)?;
        let key = std::str::from_utf8(bytes.get(reader.at..key_end)?).ok()?;
        Some((key, bytes.get(key_end..)?))
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Entry<'_>)> {
        (0..self.len()).filter_map(|index| self.get(index))
    }

    /// The keys, in entry order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|index| self.split(index).map(|(key, _)| key))
    }

    /// The last entry of `key` (`None`: it has none). A walk over every entry: for rare
    /// questions (the history of one watched key).
    pub fn find(&self, key: &str) -> Option<Entry<'_>> {
        let index = (0..self.len()).rev().find(|&i| self.split(i).is_some_and(|(k, _)| k == key))?;
        self.get(index).map(|(_, entry)| entry)
    }

    /// Adds `key` with `state` (`None`: the key went), packed if it is plain data.
    pub fn push(&mut self, key: &str, state: Option<&Dynamic>) {
        let start = self.bytes.len();
        push_bytes(&mut self.bytes, key.as_bytes());
        let at = self.bytes.len();
        match state {
            None => self.bytes.push(GONE),
            Some(value) => {
                if !pack(value, &mut self.bytes, 0) {
                    self.bytes.truncate(at);
                    self.hold(value.clone());
                }
            }
        }
        self.end_entry(start);
    }

    /// Adds `other`'s `index`th entry as it is.
    pub fn push_from(&mut self, other: &PackedStates, index: usize) {
        let Some((key, entry)) = other.get(index) else { return };
        match entry {
            // Its index in `held` is other's: held again here.
            Entry::Held(value) => self.push(key, Some(value)),
            Entry::Gone | Entry::Packed(_) => {
                let start = self.bytes.len();
                self.bytes.extend_from_slice(
                    other.range(index).and_then(|r| other.bytes.get(r)).unwrap_or_default(),
                );
                self.end_entry(start);
            }
        }
    }

    fn hold(&mut self, value: Dynamic) {
        self.bytes.push(HELD);
        push_varint(&mut self.bytes, self.held.len());
        self.held.push(value);
    }

    fn end_entry(&mut self, start: usize) {
        match u32::try_from(self.bytes.len()) {
            Ok(end) => self.ends.push(end),
            // Past 4 GiB of one step's packed states (far over any budget): the entry is
            // dropped rather than misread; the keyframe then lacks it.
            Err(_) => self.bytes.truncate(start),
        }
    }

    /// These entries, then those of `older` whose key has none here: `older`'s changes
    /// merged under these newer ones, in room of their exact size (`scratch` is where they
    /// are gathered first).
    pub fn merged_over(&self, older: &PackedStates, scratch: &mut PackedStates) -> PackedStates {
        scratch.clear();
        let here: rustc_hash::FxHashSet<&str> = self.keys().collect();
        (0..self.len()).for_each(|index| scratch.push_from(self, index));
        for (index, key) in older.keys().enumerate() {
            if !here.contains(key) {
                scratch.push_from(older, index);
            }
        }
        scratch.exact_copy()
    }

    /// A copy in room of its exact size (a grown buffer keeps slack that even a shrink may
    /// leave with the allocator).
    pub fn exact_copy(&self) -> PackedStates {
        PackedStates {
            ends: self.ends.as_slice().to_vec(),
            bytes: self.bytes.as_slice().to_vec(),
            held: self.held.as_slice().to_vec(),
        }
    }

    /// Roughly the heap bytes held.
    pub fn heap_bytes(&self) -> u64 {
        (self.ends.capacity() * 4 + self.bytes.capacity()) as u64
            + self.held.capacity() as u64 * 16
            + self.held.iter().map(super::keyframes::heap_bytes).sum::<u64>()
    }
}

/// `value` unpacked from bytes [`pack`] wrote (`None` for any other bytes).
pub(super) fn unpack(bytes: &[u8]) -> Option<Dynamic> {
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.value()?;
    (reader.at == bytes.len()).then_some(value)
}

/// Appends `value` packed; `false` (the buffer then holds garbage past where it was) when it
/// is not plain data.
fn pack(value: &Dynamic, out: &mut Vec<u8>, depth: usize) -> bool {
    // `is_*` before `as_*`: a failed `as_*` computes a type name for its error.
    if depth > MAX_PACKED_DEPTH || value.is_shared() || value.tag() != 0 || value.is_read_only() {
        return false;
    }
    if value.is_unit() {
        out.push(UNIT);
    } else if value.is_bool()
        && let Ok(b) = value.as_bool()
    {
        out.push(if b { TRUE } else { FALSE });
    } else if value.is_int()
        && let Ok(n) = value.as_int()
    {
        out.push(INT);
        out.extend_from_slice(&n.to_le_bytes());
    } else if value.is_float()
        && let Ok(x) = value.as_float()
    {
        out.push(FLOAT);
        out.extend_from_slice(&x.to_bits().to_le_bytes());
    } else if value.is_char()
        && let Ok(c) = value.as_char()
    {
        out.push(CHAR);
        out.extend_from_slice(&u32::from(c).to_le_bytes());
    } else if let Some(s) = value.read_lock::<ImmutableString>() {
        out.push(STRING);
        return push_bytes(out, s.as_bytes());
    } else if let Some(array) = value.read_lock::<Array>() {
        out.push(ARRAY);
        return push_len(out, array.len()) && array.iter().all(|item| pack(item, out, depth + 1));
    } else if let Some(map) = value.read_lock::<Map>() {
        out.push(MAP);
        return push_len(out, map.len())
            && map.iter().all(|(k, v)| push_bytes(out, k.as_bytes()) && pack(v, out, depth + 1));
    } else if let Some(blob) = value.read_lock::<Blob>() {
        out.push(BLOB);
        return push_bytes(out, &blob);
    } else {
        return false;
    }
    true
}

fn push_len(out: &mut Vec<u8>, len: usize) -> bool {
    push_varint(out, len);
    true
}

/// `n` in 7-bit groups, low first, the high bit set on all but the last (a length under 128
/// takes one byte).
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    push_len(out, bytes.len()) && {
        out.extend_from_slice(bytes);
        true
    }
}

/// Reads packed values back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let [byte] = self.array()?;
            n |= usize::from(byte & 0x7F).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&[u8]> {
        let len = self.len()?;
        self.take(len)
    }

    fn value(&mut self) -> Option<Dynamic> {
        let [tag] = self.array()?;
        Some(match tag {
            UNIT => Dynamic::UNIT,
            FALSE => Dynamic::FALSE,
            TRUE => Dynamic::TRUE,
            INT => Dynamic::from_int(i64::from_le_bytes(self.array()?)),
            FLOAT => Dynamic::from_float(f64::from_bits(u64::from_le_bytes(self.array()?))),
            CHAR => Dynamic::from_char(char::from_u32(u32::from_le_bytes(self.array()?))?),
            STRING => Dynamic::from(ImmutableString::from(std::str::from_utf8(self.bytes()?).ok()?)),
            ARRAY => {
                let len = self.len()?;
                // Each item takes a byte at least: a bad length cannot reserve much.
                let mut array = Array::with_capacity(len.min(self.bytes.len()));
                for _ in 0..len {
                    array.push(self.value()?);
                }
                Dynamic::from_array(array)
            }
            MAP => {
                let len = self.len()?;
                let mut map = Map::new();
                for _ in 0..len {
                    let key = std::str::from_utf8(self.bytes()?).ok()?.into();
                    map.insert(key, self.value()?);
                }
                Dynamic::from_map(map)
            }
            BLOB => Dynamic::from_blob(self.bytes()?.to_vec()),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value, its type name and its text, nested values included.
    fn shape(value: &Dynamic) -> String {
        format!("{} {value:?}", value.type_name())
    }

    #[test]
    fn plain_data_is_packed_and_comes_back_the_same() {
        let mut map = Map::new();
        map.insert("n".into(), Dynamic::from_int(3));
        map.insert("total".into(), Dynamic::from_float(-0.5));
        map.insert("name".into(), Dynamic::from("zoé"));
        map.insert(
            "flags".into(),
            Dynamic::from_array(vec![Dynamic::TRUE, Dynamic::UNIT, Dynamic::from_char('x')]),
        );
        map.insert("raw".into(), Dynamic::from_blob(vec![0, 255, 7]));
        map.insert("long".into(), Dynamic::from("x".repeat(300)));
        let values = [
            Dynamic::from_map(map),
            Dynamic::from_int(i64::MIN),
            Dynamic::from_float(f64::NAN),
            Dynamic::from_array(Vec::new()),
            Dynamic::FALSE,
        ];
        let mut states = PackedStates::default();
        for (i, value) in values.iter().enumerate() {
            states.push(&format!("k{i}"), Some(value));
        }
        assert!(states.held.is_empty(), "everything above is plain data");
        for (i, value) in values.iter().enumerate() {
            let (key, entry) = states.get(i).unwrap_or(("", Entry::Gone));
            assert_eq!(key, format!("k{i}"));
            assert!(matches!(entry, Entry::Packed(_)), "{}", shape(value));
            assert_eq!(entry.value().map(|v| shape(&v)), Some(shape(value)));
        }
    }

    #[test]
    fn a_small_map_state_packs_into_a_few_bytes() {
        let mut map = Map::new();
        map.insert("n".into(), Dynamic::from_int(3));
        map.insert("total".into(), Dynamic::from_int(1234));
        let mut states = PackedStates::default();
        states.push("user42", Some(&Dynamic::from_map(map)));
        // The key (a length and 6 bytes) and the state (28 bytes).
        assert_eq!(states.bytes.len(), 7 + 28);
    }

    #[test]
    fn other_values_are_kept_as_they_are_and_gone_keys_are_marked() {
        let mut tagged = Dynamic::from_int(1);
        tagged.set_tag(7);
        let shared = Dynamic::from_int(2).into_shared();
        let mut states = PackedStates::default();
        states.push("a", Some(&tagged));
        states.push("b", None);
        states.push("c", Some(&shared));
        let entries: Vec<(String, Option<i32>, bool)> = states
            .iter()
            .map(|(k, e)| (k.to_string(), e.value().map(|v| v.tag()), matches!(e, Entry::Held(_))))
            .collect();
        assert_eq!(
            entries,
            vec![("a".into(), Some(7), true), ("b".into(), None, false), ("c".into(), Some(0), true)]
        );
        // Copied and merged entries keep what they were.
        let mut newer = PackedStates::default();
        newer.push("b", Some(&Dynamic::from_int(5)));
        let newer = newer.merged_over(&states, &mut PackedStates::default());
        let merged: Vec<(String, Option<String>)> =
            newer.iter().map(|(k, e)| (k.to_string(), e.value().map(|v| shape(&v)))).collect();
        assert_eq!(
            merged,
            vec![
                ("b".into(), Some(shape(&Dynamic::from_int(5)))),
                ("a".into(), Some(shape(&tagged))),
                ("c".into(), Some(shape(&shared))),
            ]
        );
        assert_eq!(newer.find("a").and_then(|e| e.value()).map(|v| v.tag()), Some(7));
        assert!(newer.find("zz").is_none());
    }

    #[test]
    fn bytes_not_packed_here_give_nothing() {
        for bytes in
            [&[][..], &[42][..], &[INT, 1, 2][..], &[ARRAY, 255, 255, 255, 255][..], &[UNIT, UNIT][..]]
        {
            assert!(unpack(bytes).is_none(), "{bytes:?}");
        }
    }
}
