//! Opening a source file for reading, compressed or not: recordings are usually kept
//! gzip-compressed (`events.jsonl.gz`), and a source reads them directly.
//!
//! Whether a file is compressed is told by its first bytes (gzip's magic number), not by its
//! name, so a renamed file still reads right. Every position a reader reports (a row's byte
//! range, the bytes a snapshot hashes) counts *decompressed* bytes: the rows, lines and
//! offsets of a compressed file are those of the text it holds (README, "Values and files").

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// gzip's magic number: the first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The path a source reading standard input is given (errors name it so).
pub const STDIN_NAME: &str = "<stdin>";

/// A source file's bytes: the file itself, the text a gzip file holds, or standard input.
pub enum Input {
    /// An uncompressed file.
    Plain(File),
    /// Standard input, read as it arrives (a live stream).
    Stdin(io::Stdin),
    /// A gzip file (every member, as `gzip -d` reads concatenated members), decompressed.
    Gzip(Box<MultiGzDecoder<File>>),
}

impl Input {
    /// Opens `path`, decompressing it when it starts with gzip's magic number; [`STDIN_NAME`]
    /// is standard input.
    pub fn open(path: &Path) -> io::Result<Self> {
        if path.as_os_str() == STDIN_NAME {
            return Ok(Self::Stdin(io::stdin()));
        }
        let mut file = File::open(path)?;
        let mut magic = [0u8; 2];
        let mut read = 0;
        while read < magic.len() {
            match file.read(&mut magic[read..])? {
                0 => break,
                n => read += n,
            }
        }
        file.seek(SeekFrom::Start(0))?;
        if read == magic.len() && magic == GZIP_MAGIC {
            Ok(Self::Gzip(Box::new(MultiGzDecoder::new(file))))
        } else {
            Ok(Self::Plain(file))
        }
    }

    /// Whether the file is decompressed as it is read.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Self::Gzip(_))
    }

    /// Whether the text cannot be read again by opening the path anew (so a reader keeps what
    /// it needs of it, a bad row's text, say): compressed files (too slow) and standard input.
    pub fn cannot_reread(&self) -> bool {
        matches!(self, Self::Gzip(_) | Self::Stdin(_))
    }

    /// Moves to `offset` (of the decompressed bytes): a seek in a plain file, reading and
    /// dropping the bytes before it in a compressed one. An error says when the text is
    /// shorter.
    pub fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        match self {
            Self::Plain(file) => file.seek(SeekFrom::Start(offset)).map(drop),
            Self::Stdin(_) => Err(io::Error::other("standard input cannot be read again")),
            Self::Gzip(decoder) => {
                let skipped = io::copy(&mut decoder.by_ref().take(offset), &mut io::sink())?;
                if skipped < offset {
                    return Err(io::Error::other(format!("the decompressed text has only {skipped} bytes")));
                }
                Ok(())
            }
        }
    }

    /// The bytes from `start` to `end` (decompressed offsets; fewer at the end of the text).
    pub fn read_span(path: &Path, start: u64, end: u64) -> io::Result<Vec<u8>> {
        let mut input = Self::open(path)?;
        input.skip_to(start)?;
        let mut bytes = Vec::new();
        input.take(end.saturating_sub(start)).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(file) => file.read(buf),
            Self::Stdin(stdin) => stdin.read(buf),
            Self::Gzip(decoder) => decoder.read(buf).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                    io::Error::new(e.kind(), format!("damaged gzip data: {e}"))
                }
                _ => e,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn compressed_and_plain_files_read_the_same_text() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"ts,user\n1,a\n2,b\n";
        std::fs::write(dir.path().join("plain.csv"), text).unwrap();
        // Two gzip members: read as one text, like `gzip -d`.
        let mut two = gzip(&text[..8]);
        two.extend(gzip(&text[8..]));
        std::fs::write(dir.path().join("packed.csv.gz"), two).unwrap();
        for (name, compressed) in [("plain.csv", false), ("packed.csv.gz", true)] {
            let mut input = Input::open(&dir.path().join(name)).unwrap();
            assert_eq!(input.is_compressed(), compressed);
            let mut read = Vec::new();
            input.read_to_end(&mut read).unwrap();
            assert_eq!(read, text);
            assert_eq!(Input::read_span(&dir.path().join(name), 8, 12).unwrap(), b"1,a\n");
            // A plain file seeks past its end without complaint; a compressed one says so.
            let mut input = Input::open(&dir.path().join(name)).unwrap();
            assert_eq!(input.skip_to(100).is_err(), compressed);
        }
    }

    #[test]
    fn tiny_and_empty_files_are_plain() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("empty", &b""[..]), ("one", &b"\x1f"[..])] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
            let mut input = Input::open(&dir.path().join(name)).unwrap();
            assert!(!input.is_compressed());
            let mut read = Vec::new();
            input.read_to_end(&mut read).unwrap();
            assert_eq!(read, bytes);
        }
    }
}
