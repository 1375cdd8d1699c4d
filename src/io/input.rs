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
    /// A file read as it grows (`follow = true`).
    Follow(Box<Follow>),
    /// A gzip file (every member, as `gzip -d` reads concatenated members), decompressed.
    Gzip(Box<MultiGzDecoder<File>>),
    /// A live stream whose bytes are also copied for a recording (`eddy run --record`).
    Teed(Box<Input>, super::recording::TeeBuffer),
    /// A live source's lines read back from a recording (`recording = "rec.jsonl"`).
    Recording(Box<super::recording::RecordingInput>),
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

    /// Opens `path` to be read as it grows, like `tail -F` ([`Follow`]); `header_line`: every
    /// file under the name begins with the same header line (CSV), read once.
    pub fn follow(path: &Path, header_line: bool) -> io::Result<Self> {
        Ok(Self::Follow(Box::new(Follow::open(path, header_line)?)))
    }

    /// The same stream, every byte read also copied into `tee` (for a recording).
    pub fn teed(self, tee: super::recording::TeeBuffer) -> Self {
        Self::Teed(Box::new(self), tee)
    }

    /// Whether the file is decompressed as it is read.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Self::Gzip(_))
    }

    /// Whether the text cannot be read again by opening the path anew (so a reader keeps what
    /// it needs of it, a bad row's text, say): compressed files (too slow) and standard input.
    pub fn cannot_reread(&self) -> bool {
        match self {
            Self::Teed(inner, _) => inner.cannot_reread(),
            Self::Gzip(_) | Self::Stdin(_) | Self::Follow(_) | Self::Recording(_) => true,
            Self::Plain(_) => false,
        }
    }

    /// Moves to `offset` (of the decompressed bytes): a seek in a plain file, reading and
    /// dropping the bytes before it in a compressed one. An error says when the text is
    /// shorter.
    pub fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        match self {
            Self::Plain(file) => file.seek(SeekFrom::Start(offset)).map(drop),
            Self::Stdin(_) => Err(io::Error::other("standard input cannot be read again")),
            Self::Teed(inner, _) => inner.skip_to(offset),
            Self::Recording(recording) => {
                let skipped = io::copy(&mut recording.by_ref().take(offset), &mut io::sink())?;
                if skipped < offset {
                    return Err(io::Error::other(format!("the recorded text has only {skipped} bytes")));
                }
                Ok(())
            }
            Self::Follow(follow) => {
                let skipped = io::copy(&mut follow.by_ref().take(offset), &mut io::sink())?;
                if skipped < offset {
                    return Err(io::Error::other(format!("the file has only {skipped} bytes")));
                }
                Ok(())
            }
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
            Self::Follow(follow) => follow.read(buf),
            Self::Recording(recording) => recording.read(buf),
            Self::Teed(inner, tee) => {
                let n = inner.read(buf)?;
                tee.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Self::Gzip(decoder) => decoder.read(buf).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                    io::Error::new(e.kind(), format!("damaged gzip data: {e}"))
                }
                _ => e,
            }),
        }
    }
}

/// How often a followed file at its end is looked at again.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// A file read as it grows, like `tail -F`: at its end, reading waits for more. A file cut
/// short (truncated) is read again from its start; a file replaced under its name (rotation
/// by rename) is read on in the new file from its start, once the old one is read to its end.
/// Reading never ends by itself: the run is stopped by a signal. For a CSV file, whose rows
/// are read against the header line of the first file, a later file's first line is passed
/// over when it is that same header (a writer starting a new file writes it again), and read
/// as a row otherwise (a file truncated in place by `copytruncate` goes on without one).
pub struct Follow {
    path: std::path::PathBuf,
    file: File,
    /// Bytes read from the current file.
    read: u64,
    /// The current file's identity (device and inode), to tell a rotation.
    identity: (u64, u64),
    /// CSV: the header line, as the first file began.
    header: Option<HeaderLine>,
    /// Bytes read but not handed over yet (what followed a new file's first line).
    pending: Vec<u8>,
}

/// The header line of a followed CSV file, and the first line of a later file while it is
/// being read (to be told apart from a row).
#[derive(Default)]
struct HeaderLine {
    /// The first file's first line, line feed included, once read whole.
    line: Vec<u8>,
    complete: bool,
    /// A later file's first bytes, while its first line is not whole yet.
    next: Option<Vec<u8>>,
}

impl HeaderLine {
    /// Notes the bytes `read` from the first file (up to its first line feed).
    fn learn(&mut self, read: &[u8]) {
        if self.complete {
            return;
        }
        match read.iter().position(|&b| b == b'\n') {
            Some(at) => {
                self.line.extend_from_slice(&read[..=at]);
                self.complete = true;
            }
            None => self.line.extend_from_slice(read),
        }
    }

    /// Whether `line` (a later file's first line) is the header again.
    fn is_header(&self, line: &[u8]) -> bool {
        let trim = |l: &[u8]| -> Vec<u8> {
            let mut l = l.to_vec();
            while l.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                l.pop();
            }
            l
        };
        self.complete && trim(line) == trim(&self.line)
    }
}

impl Follow {
    fn open(path: &Path, header_line: bool) -> io::Result<Self> {
        let file = File::open(path)?;
        let identity = identity(&file.metadata()?);
        let header = header_line.then(HeaderLine::default);
        Ok(Self { path: path.to_path_buf(), file, read: 0, identity, header, pending: Vec::new() })
    }

    /// A new file (rotated, or the same one cut short) is read from its start.
    fn starts_again(&mut self) {
        self.read = 0;
        if let Some(header) = &mut self.header
            && header.complete
        {
            // What was held of a first line before (a file replaced again meanwhile) is read
            // as it is.
            if let Some(held) = header.next.replace(Vec::new()) {
                self.pending.extend(held);
            }
        }
    }

    /// Takes in `n` bytes just read into `buf`: the first file's header line is noted; a later
    /// file's first line is held until whole, then dropped if it is the header again. Returns
    /// how many bytes of `buf` to hand over now (the rest, if any, went to `pending`).
    fn take_in(&mut self, buf: &mut [u8], n: usize) -> usize {
        let Some(header) = &mut self.header else { return n };
        let Some(next) = &mut header.next else {
            header.learn(&buf[..n]);
            return n;
        };
        next.extend_from_slice(&buf[..n]);
        let Some(at) = next.iter().position(|&b| b == b'\n') else { return 0 };
        let first_line = next[..=at].to_vec();
        let rest = next.split_off(at + 1);
        header.next = None;
        if !header.is_header(&first_line) {
            self.pending.extend(first_line);
        }
        self.pending.extend(rest);
        0
    }
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.pending.is_empty() && !buf.is_empty() {
                let n = self.pending.len().min(buf.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            let n = self.file.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                match self.take_in(buf, n) {
                    0 if n > 0 => continue,
                    given => return Ok(given),
                }
            }
            // At the end of what is there: replaced, cut short, or not grown yet.
            if let Ok(meta) = std::fs::metadata(&self.path) {
                if identity(&meta) != self.identity {
                    if let Ok(file) = File::open(&self.path) {
                        self.identity = file.metadata().map(|m| identity(&m)).unwrap_or(self.identity);
                        self.file = file;
                        self.starts_again();
                        continue;
                    }
                } else if meta.len() < self.read {
                    self.file.seek(SeekFrom::Start(0))?;
                    self.starts_again();
                    continue;
                }
            }
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}

/// A file's device and inode: what stays the same while the file is the same file.
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Without inodes, a rotation is not told apart (truncation still is).
#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
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
    fn a_followed_csv_file_replaced_or_cut_short_passes_over_its_header_line_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, "ts,user\r\n1,a\r\n").unwrap();
        let mut input = Input::follow(&path, true).unwrap();
        let mut read = |len: usize| {
            let mut bytes = vec![0; len];
            input.read_exact(&mut bytes).unwrap();
            String::from_utf8(bytes).unwrap()
        };
        assert_eq!(read(14), "ts,user\r\n1,a\r\n");
        // Rotated: a new file under the name begins with the header again (line feed only).
        std::fs::rename(&path, dir.path().join("log.csv.1")).unwrap();
        std::fs::write(&path, "ts,user\n2,b\n").unwrap();
        assert_eq!(read(4), "2,b\n");
        // Cut short in place and written on without a header (copytruncate): a row.
        std::fs::write(&path, "").unwrap();
        std::thread::sleep(2 * FOLLOW_POLL);
        std::fs::write(&path, "3,c\n").unwrap();
        assert_eq!(read(4), "3,c\n");
        // Not CSV: every byte of a new file is read.
        std::fs::write(&path, "a\n").unwrap();
        let mut plain = Input::follow(&path, false).unwrap();
        let mut first = [0; 2];
        plain.read_exact(&mut first).unwrap();
        std::fs::rename(&path, dir.path().join("log.csv.2")).unwrap();
        std::fs::write(&path, "a\nb\n").unwrap();
        let mut next = [0; 4];
        plain.read_exact(&mut next).unwrap();
        assert_eq!(&next, b"a\nb\n");
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
