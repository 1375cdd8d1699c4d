//! A tag's depth-first path (docs/workers.md#the-order-of-a-run) in 16 bytes: the path's
//! numbers packed into two words by an order-keeping code, so that comparing two paths is
//! comparing two integers and a child's path is made without an allocation. A path too long
//! for the words (about fifteen hops of small numbers) is kept as a list instead.

use std::cmp::Ordering;

/// Nibbles of the code; the lowest byte of the packed words holds how many are used.
const CODE_NIBBLES: u32 = 30;

/// A sequence of numbers (per hop: the output's index in its call, then the reader's index)
/// that compares as the sequence does: element by element, a prefix first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Path {
    /// The numbers' codes from the highest nibble down, the count of nibbles used in the
    /// lowest byte.
    Packed(u64, u64),
    /// The numbers themselves, when their codes do not fit.
    Long(Box<[u32]>),
}

impl Default for Path {
    fn default() -> Self {
        Path::Packed(0, 0)
    }
}

/// The order-keeping code of `value`: nibbles, most significant first. No code starts with
/// a zero nibble (so a prefix, padded with zeros, comes first) and no code is the start of
/// another; a bigger number's code is bigger.
fn code(value: u32) -> (u128, u32) {
    match value {
        0..=10 => (u128::from(value) + 1, 1),
        11..=266 => ((12 << 8) | u128::from(value - 11), 3),
        267..=65_802 => ((13 << 16) | u128::from(value - 267), 5),
        _ => ((14 << 32) | u128::from(value), 9),
    }
}

impl Path {
    /// The empty path.
    pub fn new() -> Self {
        Path::default()
    }

    /// The path with `first`, then `second`, appended.
    pub fn pushed(&self, first: u32, second: u32) -> Self {
        if let Path::Packed(high, low) = *self {
            let words = (u128::from(high) << 64) | u128::from(low);
            let used = (words & 0xff) as u32;
            let (a, a_len) = code(first);
            let (b, b_len) = code(second);
            let len = used + a_len + b_len;
            if len <= CODE_NIBBLES {
                let added = ((a << (4 * b_len)) | b) << (4 * (32 - len));
                let words = (words & !0xff) | added | u128::from(len);
                return Path::Packed((words >> 64) as u64, words as u64);
            }
        }
        let mut numbers = self.to_vec();
        numbers.extend([first, second]);
        Path::Long(numbers.into_boxed_slice())
    }

    /// The numbers of the path.
    pub fn to_vec(&self) -> Vec<u32> {
        let (high, low) = match self {
            Path::Long(numbers) => return numbers.to_vec(),
            Path::Packed(high, low) => (*high, *low),
        };
        let words = (u128::from(high) << 64) | u128::from(low);
        let used = (words & 0xff) as u32;
        let nibble = |at: u32| ((words >> (4 * (31 - at))) & 0xf) as u32;
        let read = |from: u32, count: u32| (from..from + count).fold(0u32, |n, at| (n << 4) | nibble(at));
        let mut numbers = Vec::new();
        let mut at = 0;
        while at < used {
            let (value, len) = match nibble(at) {
                12 => (read(at + 1, 2) + 11, 3),
                13 => (read(at + 1, 4) + 267, 5),
                14 => (read(at + 1, 8), 9),
                small => (small.saturating_sub(1), 1),
            };
            numbers.push(value);
            at += len;
        }
        numbers
    }

    /// The path of these numbers (a path read back from another process).
    pub fn from_numbers(numbers: &[u32]) -> Self {
        let mut path = Path::new();
        let mut pairs = numbers.chunks_exact(2);
        for pair in &mut pairs {
            path = path.pushed(pair[0], pair[1]);
        }
        match pairs.remainder() {
            [] => path,
            _ => Path::Long(numbers.into()),
        }
    }
}

impl Ord for Path {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Path::Packed(a_high, a_low), Path::Packed(b_high, b_low)) => {
                (a_high, a_low).cmp(&(b_high, b_low))
            }
            _ => self.to_vec().cmp(&other.to_vec()),
        }
    }
}

impl PartialOrd for Path {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(numbers: &[u32]) -> Path {
        let mut path = Path::new();
        for pair in numbers.chunks(2) {
            path = path.pushed(pair[0], pair.get(1).copied().unwrap_or(0));
        }
        path
    }

    #[test]
    fn packed_paths_compare_as_their_numbers_do() {
        let samples: Vec<u32> =
            vec![0, 1, 9, 10, 11, 12, 265, 266, 267, 268, 65_801, 65_802, 65_803, u32::MAX];
        let mut paths = Vec::new();
        for &a in &samples {
            for &b in &samples {
                paths.push(vec![a, b]);
                for &c in &[0, 3, 300, u32::MAX] {
                    paths.push(vec![a, b, c, 1]);
                }
            }
        }
        // Long enough to spill into a list, so that packed and long paths are compared too.
        paths.push(vec![u32::MAX; 8]);
        paths.push(vec![1; 40]);
        for a in &paths {
            let pa = path_of(a);
            assert_eq!(&pa.to_vec(), a);
            assert_eq!(Path::from_numbers(a), pa);
            for b in &paths {
                assert_eq!(pa.cmp(&path_of(b)), a.cmp(b), "{a:?} against {b:?}");
            }
        }
        assert!(matches!(path_of(&[1; 10]), Path::Packed(..)));
        assert!(matches!(path_of(&[1; 40]), Path::Long(_)));
    }
}
