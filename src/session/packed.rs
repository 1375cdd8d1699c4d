//! A per-key state as a keyframe keeps it: packed into a few bytes when it is made of plain
//! data (unit, bools, integers, floats, chars, strings, arrays, maps, blobs), else the value
//! itself. A map state like `#{ n, total }` is a B-tree node of some 450 bytes as a value and
//! about 30 packed, so that keyframes hold many more states in their budget, and taking one
//! is a single small allocation. Unpacking gives back an equal value of the same types.

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

/// Packed values up to this many bytes are kept inline (an int state: 9), without an
/// allocation of their own.
const SMALL: usize = 22;

/// A state kept in a keyframe.
#[derive(Debug, Clone)]
pub(super) enum Stored {
    /// Plain data, packed in a few bytes (the first `len` of `bytes`).
    Small {
        /// How many bytes are used.
        len: u8,
        /// The packed bytes.
        bytes: [u8; SMALL],
    },
    /// Plain data, packed.
    Packed(Box<[u8]>),
    /// Anything else (a shared or tagged value, a timestamp, a function pointer, a custom
    /// type), as it is.
    Value(Dynamic),
}

impl Stored {
    /// `value` packed if it is plain data, else a copy of it; `buffer` is scratch space.
    pub fn of(value: &Dynamic, buffer: &mut Vec<u8>) -> Stored {
        buffer.clear();
        if pack(value, buffer, 0) {
            match (u8::try_from(buffer.len()), buffer.len() <= SMALL) {
                (Ok(len), true) => {
                    let mut bytes = [0; SMALL];
                    bytes[..buffer.len()].copy_from_slice(buffer);
                    Stored::Small { len, bytes }
                }
                _ => Stored::Packed(buffer.as_slice().into()),
            }
        } else {
            Stored::Value(value.clone())
        }
    }

    /// The value back (`None` only if the bytes were not written by [`Stored::of`]).
    pub fn value(&self) -> Option<Dynamic> {
        let bytes: &[u8] = match self {
            Stored::Small { len, bytes } => bytes.get(..usize::from(*len))?,
            Stored::Packed(bytes) => bytes,
            Stored::Value(value) => return Some(value.clone()),
        };
        let mut reader = Reader { bytes, at: 0 };
        let value = reader.value()?;
        (reader.at == bytes.len()).then_some(value)
    }

    /// Roughly the heap bytes it holds.
    pub fn heap_bytes(&self) -> u64 {
        match self {
            Stored::Small { .. } => 0,
            Stored::Packed(bytes) => 16 + bytes.len() as u64,
            Stored::Value(value) => super::keyframes::heap_bytes(value),
        }
    }
}

/// Appends `value` packed; `false` (the buffer then holds garbage) when it is not plain data.
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
    match u32::try_from(len) {
        Ok(len) => {
            out.extend_from_slice(&len.to_le_bytes());
            true
        }
        Err(_) => false,
    }
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
        usize::try_from(u32::from_le_bytes(self.array()?)).ok()
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
        let values = [
            Dynamic::from_map(map),
            Dynamic::from_int(i64::MIN),
            Dynamic::from_float(f64::NAN),
            Dynamic::from_array(Vec::new()),
            Dynamic::FALSE,
        ];
        assert!(std::mem::size_of::<Stored>() <= 24);
        let mut buffer = Vec::new();
        for value in &values {
            let stored = Stored::of(value, &mut buffer);
            assert!(matches!(stored, Stored::Packed(_) | Stored::Small { .. }), "{}", shape(value));
            let back = stored.value().map(|v| shape(&v));
            assert_eq!(back, Some(shape(value)));
        }
    }

    #[test]
    fn other_values_are_kept_as_they_are() {
        let mut tagged = Dynamic::from_int(1);
        tagged.set_tag(7);
        let shared = Dynamic::from_int(2).into_shared();
        let mut buffer = Vec::new();
        for value in [tagged, shared] {
            let stored = Stored::of(&value, &mut buffer);
            assert!(matches!(stored, Stored::Value(_)), "{}", shape(&value));
            assert_eq!(stored.value().map(|v| v.tag()), Some(value.tag()));
        }
    }

    #[test]
    fn bytes_not_packed_here_give_nothing() {
        for bytes in
            [&[][..], &[42][..], &[INT, 1, 2][..], &[ARRAY, 255, 255, 255, 255][..], &[UNIT, UNIT][..]]
        {
            assert!(Stored::Packed(bytes.into()).value().is_none(), "{bytes:?}");
            if let Ok(len) = u8::try_from(bytes.len()) {
                let mut small = [0; SMALL];
                small[..bytes.len()].copy_from_slice(bytes);
                assert!(Stored::Small { len, bytes: small }.value().is_none(), "{bytes:?}");
            }
        }
    }
}
