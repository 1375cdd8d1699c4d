//! The per-key state table every keyed operator keeps (docs/performance.md, "Keys held
//! inline"): a key of up to 15 bytes is held in the table's slot itself, so a look-up reads
//! no string behind a pointer and a new key allocates nothing; longer keys are held as the
//! shared strings they came as. Keys of up to 7 bytes have a table of their own whose slots
//! are no larger than a pointer to a string would be. Every ordered use goes through [`sorted_keys`] or
//! [`drain_sorted`], so output order never depends on hashing.

use rustc_hash::FxHashMap;

use super::common::Key;

/// A key of fewer than `N` bytes held inline, zero-padded, its length in the last byte: one
/// or two words to hash and compare. `N` is 8 or 16.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(align(8))]
struct Inline<const N: usize>([u8; N]);

/// Keys of up to 7 bytes: a slot as small as a pointer to a string.
type TinyKey = Inline<8>;

/// Keys of 8 to 15 bytes.
type ShortKey = Inline<16>;

impl<const N: usize> Inline<N> {
    /// `key` held inline, if it is short enough.
    fn new(key: &str) -> Option<Self> {
        let bytes = key.as_bytes();
        let len = u8::try_from(bytes.len()).ok().filter(|&len| usize::from(len) < N)?;
        let mut inline = [0u8; N];
        inline[..bytes.len()].copy_from_slice(bytes);
        inline[N - 1] = len;
        Some(Self(inline))
    }

    /// The key's bytes.
    fn as_bytes(&self) -> &[u8] {
        &self.0[..usize::from(self.0[N - 1])]
    }

    /// The key as a string (always valid UTF-8: it was copied from one).
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl<const N: usize> std::hash::Hash for Inline<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for word in self.0.chunks_exact(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            state.write_u64(u64::from_ne_bytes(bytes));
        }
    }
}

/// Per-key state of a step: keys of up to 7 bytes, of 8 to 15 bytes, and longer ones each in
/// a hash table of their own (see the module doc).
#[derive(Clone)]
pub struct KeyMap<V> {
    /// Keys of up to 7 bytes.
    tiny: FxHashMap<TinyKey, V>,
    /// Keys of 8 to 15 bytes.
    short: FxHashMap<ShortKey, V>,
    /// Longer keys.
    long: FxHashMap<Key, V>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        Self { tiny: FxHashMap::default(), short: FxHashMap::default(), long: FxHashMap::default() }
    }
}

impl<V> KeyMap<V> {
    /// How many keys have a state.
    pub fn len(&self) -> usize {
        self.tiny.len() + self.short.len() + self.long.len()
    }

    /// `key`'s state.
    pub fn get(&self, key: &str) -> Option<&V> {
        if let Some(tiny) = TinyKey::new(key) {
            self.tiny.get(&tiny)
        } else if let Some(short) = ShortKey::new(key) {
            self.short.get(&short)
        } else {
            self.long.get(key)
        }
    }

    /// `key`'s state, to change in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if let Some(tiny) = TinyKey::new(key) {
            self.tiny.get_mut(&tiny)
        } else if let Some(short) = ShortKey::new(key) {
            self.short.get_mut(&short)
        } else {
            self.long.get_mut(key)
        }
    }

    /// Whether `key` has a state.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`'s state; gives the one it replaces.
    pub fn insert(&mut self, key: &Key, value: V) -> Option<V> {
        if let Some(tiny) = TinyKey::new(key) {
            self.tiny.insert(tiny, value)
        } else if let Some(short) = ShortKey::new(key) {
            self.short.insert(short, value)
        } else {
            self.long.insert(key.clone(), value)
        }
    }

    /// `key`'s state, made by `make` first if it has none.
    pub fn get_or_insert_with(&mut self, key: &Key, make: impl FnOnce() -> V) -> &mut V {
        if let Some(tiny) = TinyKey::new(key) {
            self.tiny.entry(tiny).or_insert_with(make)
        } else if let Some(short) = ShortKey::new(key) {
            self.short.entry(short).or_insert_with(make)
        } else {
            self.long.entry(key.clone()).or_insert_with(make)
        }
    }

    /// Takes `key`'s state out.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        if let Some(tiny) = TinyKey::new(key) {
            self.tiny.remove(&tiny)
        } else if let Some(short) = ShortKey::new(key) {
            self.short.remove(&short)
        } else {
            self.long.remove(key)
        }
    }

    /// Forgets every state (and frees the tables).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Every key (as a string of its own) with its state, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &V)> + '_ {
        let tiny = self.tiny.iter().map(|(key, value)| (Key::from(key.as_str()), value));
        let short = self.short.iter().map(|(key, value)| (Key::from(key.as_str()), value));
        tiny.chain(short).chain(self.long.iter().map(|(key, value)| (key.clone(), value)))
    }
}

impl<V> FromIterator<(Key, V)> for KeyMap<V> {
    fn from_iter<I: IntoIterator<Item = (Key, V)>>(entries: I) -> Self {
        let mut map = Self::default();
        for (key, value) in entries {
            map.insert(&key, value);
        }
        map
    }
}

/// The map's keys in key order (UTF-8 byte order).
pub fn sorted_keys<V>(map: &KeyMap<V>) -> Vec<Key> {
    let tiny = map.tiny.keys().map(|key| (*key, ())).collect();
    let short = map.short.keys().map(|key| (*key, ())).collect();
    let long = map.long.keys().map(|key| (key.clone(), ())).collect();
    InKeyOrder::new(tiny, short, long).map(|(key, ())| key).collect()
}

/// Every entry of `map`, taken out in the order of [`sorted_keys`], the map left empty and its
/// tables freed: what a final operator emits at end of input, the tables gone before the
/// outputs are built (docs/performance.md, memory per key). Each inline key becomes a string
/// of its own as its entry is taken.
pub fn drain_sorted<V>(map: &mut KeyMap<V>) -> InKeyOrder<V> {
    let KeyMap { tiny, short, long } = std::mem::take(map);
    InKeyOrder::new(tiny.into_iter().collect(), short.into_iter().collect(), long.into_iter().collect())
}

/// The entries of a map's three tables in key order: each table's entries sorted on their own
/// (an inline key's padded bytes, read as one big-endian number, sort as its bytes do: a
/// shorter key pads with zeros and its length byte is smaller), then merged as they are taken.
pub struct InKeyOrder<V> {
    /// Keys of up to 7 bytes, sorted.
    tiny: std::iter::Peekable<std::vec::IntoIter<(TinyKey, V)>>,
    /// Keys of 8 to 15 bytes, sorted.
    short: std::iter::Peekable<std::vec::IntoIter<(ShortKey, V)>>,
    /// Longer keys, sorted, each after the first eight bytes of its key as a number.
    long: std::iter::Peekable<std::vec::IntoIter<(u64, Key, V)>>,
}

/// Which table's entry comes next.
enum Next {
    Tiny,
    Short,
    Long,
}

impl<V> InKeyOrder<V> {
    /// Sorts each table's entries.
    fn new(mut tiny: Vec<(TinyKey, V)>, mut short: Vec<(ShortKey, V)>, long: Vec<(Key, V)>) -> Self {
        tiny.sort_unstable_by_key(|(key, _)| u64::from_be_bytes(key.0));
        short.sort_unstable_by_key(|(key, _)| u128::from_be_bytes(key.0));
        // A long key is behind a pointer (a cache miss apiece over many keys): its first eight
        // bytes as a number decide the order unless two keys share them.
        let mut long: Vec<(u64, Key, V)> =
            long.into_iter().map(|(key, value)| (order_prefix(key.as_bytes()), key, value)).collect();
        long.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_bytes().cmp(b.1.as_bytes())));
        Self {
            tiny: tiny.into_iter().peekable(),
            short: short.into_iter().peekable(),
            long: long.into_iter().peekable(),
        }
    }

    /// The table whose first entry has the smallest key.
    fn next_table(&mut self) -> Option<Next> {
        let heads = [
            (Next::Tiny, self.tiny.peek().map(|(key, _)| key.as_bytes())),
            (Next::Short, self.short.peek().map(|(key, _)| key.as_bytes())),
            (Next::Long, self.long.peek().map(|(_, key, _)| key.as_bytes())),
        ];
        let first = heads.into_iter().filter_map(|(table, key)| Some((table, key?)));
        first.min_by(|a, b| a.1.cmp(b.1)).map(|(table, _)| table)
    }
}

impl<V> Iterator for InKeyOrder<V> {
    type Item = (Key, V);

    fn next(&mut self) -> Option<(Key, V)> {
        match self.next_table()? {
            Next::Tiny => self.tiny.next().map(|(key, value)| (Key::from(key.as_str()), value)),
            Next::Short => self.short.next().map(|(key, value)| (Key::from(key.as_str()), value)),
            Next::Long => self.long.next().map(|(_, key, value)| (key, value)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.tiny.len() + self.short.len() + self.long.len();
        (left, Some(left))
    }
}

impl<V> ExactSizeIterator for InKeyOrder<V> {}

/// The first eight bytes of a key, zero-padded, as a big-endian number: two keys whose
/// prefixes differ are in the same order as their bytes.
fn order_prefix(bytes: &[u8]) -> u64 {
    let mut prefix = [0u8; 8];
    let n = bytes.len().min(8);
    prefix[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(prefix)
}

#[cfg(test)]
mod tests {
    use super::{Key, KeyMap, drain_sorted, sorted_keys};

    #[test]
    fn keys_sort_by_their_bytes_whatever_their_prefixes_and_lengths() {
        let keys = [
            "",
            "a",
            "a\0",
            "ab",
            "abcdefg",
            "abcdefg\0",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgg~",
            "abcdefghijklmno",
            "abcdefghijklmno\0",
            "abcdefghijklmnop",
            "abcdefghijklmnn~~~~~~~~~~~~~~",
            "é",
            "éééééééé",
            "z",
            "Z",
            "\u{7f}",
        ];
        let mut map: KeyMap<usize> = KeyMap::default();
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(map.insert(&Key::from(*key), n), None);
        }
        assert_eq!(map.len(), keys.len());
        let mut expected: Vec<&str> = keys.to_vec();
        expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let sorted: Vec<String> = sorted_keys(&map).iter().map(|k| k.to_string()).collect();
        assert_eq!(sorted, expected);
        let drained: Vec<(String, usize)> = drain_sorted(&mut map).map(|(k, n)| (k.to_string(), n)).collect();
        let with_values: Vec<(String, usize)> = expected
            .iter()
            .map(|key| (key.to_string(), keys.iter().position(|k| k == key).unwrap_or(usize::MAX)))
            .collect();
        assert_eq!(drained, with_values);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn short_and_long_keys_are_found_changed_and_removed_alike() {
        let mut map: KeyMap<i64> = KeyMap::default();
        let short = Key::from("u1");
        let seven = Key::from("abcdefg");
        let eight = Key::from("abcdefgh");
        let edge = Key::from("abcdefghijklmno");
        let long = Key::from("abcdefghijklmnop");
        for key in [&short, &seven, &eight, &edge, &long] {
            assert!(!map.contains_key(key));
            *map.get_or_insert_with(key, || 1) += 1;
            *map.get_or_insert_with(key, || 100) += 1;
            assert_eq!(map.get(key), Some(&3));
            if let Some(n) = map.get_mut(key) {
                *n *= 10;
            }
            assert_eq!(map.insert(key, 7), Some(30));
        }
        // A key and a prefix of it, or one padded with NULs, are different keys.
        assert_eq!(map.get("u1\0"), None);
        assert_eq!(map.get("abcdefghijklmn"), None);
        assert_eq!(map.get("abcdefg\0"), None);
        let mut all: Vec<(String, i64)> = map.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        all.sort();
        let keys = ["abcdefg", "abcdefgh", "abcdefghijklmno", "abcdefghijklmnop", "u1"];
        assert_eq!(all, keys.iter().map(|key| (key.to_string(), 7)).collect::<Vec<_>>());
        assert_eq!(map.remove(&seven), Some(7));
        assert_eq!(map.remove(&eight), Some(7));
        assert_eq!(map.remove(&edge), Some(7));
        assert_eq!(map.remove(&long), Some(7));
        assert_eq!(map.remove(&long), None);
        assert_eq!(map.len(), 1);
        let rebuilt: KeyMap<i64> = map.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(rebuilt.get("u1"), Some(&7));
        map.clear();
        assert_eq!(map.len(), 0);
    }
    #[test]
    fn random_keys_of_every_length_come_out_as_a_sorted_map_has_them() {
        let alphabet = ["\0", "a", "b", "z", "é", "\u{7f}", "ab", "\u{10348}"];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut map: KeyMap<u64> = KeyMap::default();
        let mut reference = std::collections::BTreeMap::new();
        for n in 0..3000 {
            let len = (next() % 12) as usize;
            let key: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            map.insert(&Key::from(key.as_str()), n);
            reference.insert(key.into_bytes(), n);
            if n % 7 == 0 {
                let gone: String = (0..(next() % 6)).map(|_| alphabet[(next() % 3) as usize]).collect();
                assert_eq!(map.remove(&gone), reference.remove(gone.as_bytes()), "{gone:?}");
            }
        }
        assert_eq!(map.len(), reference.len());
        let keys: Vec<Vec<u8>> = sorted_keys(&map).iter().map(|key| key.as_bytes().to_vec()).collect();
        assert_eq!(keys, reference.keys().cloned().collect::<Vec<_>>());
        let drained: Vec<(Vec<u8>, u64)> =
            drain_sorted(&mut map).map(|(k, n)| (k.as_bytes().to_vec(), n)).collect();
        assert_eq!(drained, reference.into_iter().collect::<Vec<_>>());
    }
}
