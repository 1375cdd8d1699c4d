//! A running hash of the first bytes of a source file: what a snapshot records of each source,
//! so that a resume against a changed input is refused instead of giving wrong output.
//!
//! Each snapshot extends the hash from where the previous one stopped, so over a whole run
//! every byte is read once more (from the page cache, usually), not once per snapshot.

use std::io::Read;
use std::path::PathBuf;

use xxhash_rust::xxh3::Xxh3;

use crate::io::Input;

/// Bytes read per chunk while hashing.
const CHUNK: usize = 1 << 16;

/// The XXH3 hash of a file's first `hashed` bytes, extendable. For a gzip file the bytes are
/// those of the text it holds (the offsets a source reports), and the decompressing reader
/// is kept open between extensions, so the text is decompressed once over a whole run.
pub struct PrefixHasher {
    path: PathBuf,
    hashed: u64,
    state: Xxh3,
    /// The file, open and positioned at `hashed`, when it is compressed.
    open: Option<Input>,
}

impl Clone for PrefixHasher {
    /// A copy opens the file again when it next extends (an open reader cannot be shared).
    fn clone(&self) -> Self {
        Self { path: self.path.clone(), hashed: self.hashed, state: self.state.clone(), open: None }
    }
}

impl std::fmt::Debug for PrefixHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixHasher").field("path", &self.path).field("hashed", &self.hashed).finish()
    }
}

impl PrefixHasher {
    /// A hasher of `path` that has hashed nothing yet.
    pub fn new(path: PathBuf) -> Self {
        Self { path, hashed: 0, state: Xxh3::new(), open: None }
    }

    /// Extends the hash to the file's first `bytes` bytes and returns it (hex). Asking for
    /// fewer bytes than already hashed starts over. An error says why the bytes cannot be read
    /// (the file is shorter, or gone).
    pub fn advance_to(&mut self, bytes: u64) -> std::io::Result<String> {
        if bytes < self.hashed {
            *self = Self::new(std::mem::take(&mut self.path));
        }
        if bytes > self.hashed {
            let mut input = match self.open.take() {
                Some(input) => input,
                None => {
                    let mut input = Input::open(&self.path)?;
                    if let Input::Plain(file) = &input {
                        let length = file.metadata()?.len();
                        if length < bytes {
                            return Err(std::io::Error::other(format!("the file has only {length} bytes")));
                        }
                    }
                    input.skip_to(self.hashed)?;
                    input
                }
            };
            let mut buffer = vec![0; CHUNK];
            let mut left = bytes - self.hashed;
            while left > 0 {
                let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
                let read = input.read(&mut buffer[..want])?;
                if read == 0 {
                    // What was hashed so far stays valid; the reader is at the text's end.
                    self.hashed = bytes - left;
                    return Err(std::io::Error::other(format!(
                        "the file ended after {} bytes",
                        bytes - left
                    )));
                }
                self.state.update(&buffer[..read]);
                left -= read as u64;
            }
            self.hashed = bytes;
            if input.is_compressed() {
                self.open = Some(input);
            }
        }
        Ok(format!("{:016x}", self.state.digest()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extending_gives_the_hash_of_the_whole_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut stepwise = PrefixHasher::new(path.clone());
        stepwise.advance_to(10).unwrap();
        stepwise.advance_to(70_000).unwrap();
        let extended = stepwise.advance_to(150_000).unwrap();
        let direct = PrefixHasher::new(path.clone()).advance_to(150_000).unwrap();
        assert_eq!(extended, direct);
        assert_eq!(direct, format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes[..150_000])));
        assert_eq!(stepwise.advance_to(10).unwrap(), PrefixHasher::new(path.clone()).advance_to(10).unwrap());
        let short = PrefixHasher::new(path).advance_to(300_000).unwrap_err();
        assert!(short.to_string().contains("only 200000 bytes"), "{short}");
    }

    #[test]
    fn a_compressed_file_hashes_the_text_it_holds() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).unwrap();
        let path = dir.path().join("f.gz");
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let mut stepwise = PrefixHasher::new(path.clone());
        stepwise.advance_to(10).unwrap();
        let copy = stepwise.clone();
        stepwise.advance_to(70_000).unwrap();
        assert_eq!(
            stepwise.advance_to(150_000).unwrap(),
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes[..150_000]))
        );
        // A copy reopens the file and goes on from where it was.
        assert_eq!(copy.clone().advance_to(150_000).unwrap(), stepwise.advance_to(150_000).unwrap());
        let short = PrefixHasher::new(path).advance_to(300_000).unwrap_err();
        assert!(short.to_string().contains("ended after 200000 bytes"), "{short}");
    }
}
