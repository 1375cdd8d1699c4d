//! Reading one file in parts (docs/workers.md#partitioned-reading): where a CSV or JSON Lines
//! file can be cut into byte ranges at record boundaries ([`record_cuts`]), and a source that
//! goes on from such a cut ([`Source::move_to`]) without reading the rows before it.

use std::io::Read;
use std::path::Path;

use super::{ReadMark, Reader, Source, SourceEvent, Step};
use crate::graph::SourceFormat;
use crate::io::error::IoError;

/// Bytes read at a time by [`record_cuts`].
const SCAN_BUFFER: usize = 1 << 20;

impl Source {
    /// Goes on from `mark`, a record boundary of the same file ([`record_cuts`], or
    /// [`Source::read_mark`] of another source), whatever this source has read before (a
    /// worker opening the file at its first chunk, or reading its next chunk with the same
    /// open file): the rows read next are those after `mark`, with the lines they have in the
    /// whole file. False, nothing moved, when this source cannot (a compressed file, a live
    /// stream, a recording, a JSON array).
    pub fn move_to(&mut self, mark: ReadMark) -> Result<bool, IoError> {
        if self.live || self.tee.is_some() || self.marks.is_some() {
            return Ok(false);
        }
        match &mut self.reader {
            Reader::Csv(reader) => reader.seek(mark),
            Reader::Jsonl(reader) => reader.move_to(mark),
            Reader::Json(_) => Ok(false),
        }
    }
}

impl Source {
    /// The next event whose row starts before line `next_line` (a chunk's reader stops at the
    /// next chunk's first line), or `None` at the end of the file or once a row starting
    /// there or later was read, good or bad (a skipping reader reads no further past its
    /// chunk than that row, which is the next chunk's: a bad one is neither an error here nor
    /// kept). Bad rows before it follow the policy as in [`Source::next_event`]; under `skip`
    /// with bad rows kept ([`Source::keep_bad_rows`]) the caller takes them.
    pub fn next_event_before(&mut self, next_line: Option<u64>) -> Result<Option<SourceEvent>, IoError> {
        let beyond = |line: u64| next_line.is_some_and(|next| line >= next);
        loop {
            match self.step() {
                Ok(Step::End) => return Ok(None),
                Ok(Step::Event(event)) if beyond(event.line) => return Ok(None),
                Ok(Step::Event(event)) => return Ok(Some(event)),
                Ok(Step::Skipped) => {
                    if let Some(kept) = self.bad_rows.kept_mut()
                        && kept.last().is_some_and(|error| beyond(error.line))
                    {
                        kept.pop();
                        return Ok(None);
                    }
                }
                Err(IoError::Row(error)) if beyond(error.line) => return Ok(None),
                Err(error) => return Err(error),
            }
        }
    }
}

/// The record boundaries of the file at `path` (`format`: CSV or JSON Lines) after `start`,
/// about `every` bytes apart: each the byte after a line feed that ends a record, with the
/// line feeds before it (so that a reader starting there numbers its lines as a reader of the
/// whole file does). The end of the file is not a cut.
///
/// In a CSV file a line feed inside a quoted field ends no record. The scan follows quotes as
/// the CSV reader does for regular files (a field that starts with `"` runs to the `"` that is
/// not doubled, and a delimiter or line break follows it); `None` when the file quotes
/// otherwise (a `"` inside an unquoted field, text after a closing quote, a quote left open),
/// where only the reader itself can say where the records end. JSON Lines: every line feed
/// ends a row.
pub fn record_cuts(
    path: &Path,
    format: SourceFormat,
    start: ReadMark,
    every: u64,
) -> std::io::Result<Option<Vec<ReadMark>>> {
    let mut file = std::fs::File::open(path)?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start.bytes))?;
    let mut scan = CutScan {
        csv: format == SourceFormat::Csv,
        quote: Quote::Out,
        previous: b'\n',
        newlines: start.newlines,
        last_cut: start.bytes,
        every: every.max(1),
        cuts: Vec::new(),
    };
    let mut base = start.bytes;
    let regular = each_block(file, |block| {
        let regular = scan.feed(base, block);
        base += block.len() as u64;
        regular
    })?;
    if !regular || scan.quote == Quote::In {
        return Ok(None);
    }
    scan.cuts.retain(|cut| cut.bytes < base);
    Ok(Some(scan.cuts))
}

/// `\n` bytes among the first `end` bytes of the file at `path`.
pub fn newlines_before(path: &Path, end: u64) -> std::io::Result<u64> {
    let mut newlines = 0;
    each_block(std::fs::File::open(path)?.take(end), |block| {
        newlines += memchr::memchr_iter(b'\n', block).count() as u64;
        true
    })?;
    Ok(newlines)
}

/// Reads `input` to its end [`SCAN_BUFFER`] bytes at a time, each block handed to `each`;
/// stops early, giving false, when `each` gives false.
fn each_block(mut input: impl Read, mut each: impl FnMut(&[u8]) -> bool) -> std::io::Result<bool> {
    let mut buffer = vec![0u8; SCAN_BUFFER];
    loop {
        let read = match input.read(&mut buffer) {
            Ok(0) => return Ok(true),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if !each(&buffer[..read]) {
            return Ok(false);
        }
    }
}

/// Where the scan stands in CSV quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// Outside a quoted field.
    Out,
    /// Inside one.
    In,
    /// Just after a `"` inside one: a doubled quote, or the field's end.
    Closing,
}

/// The state of [`record_cuts`] between two buffers.
struct CutScan {
    csv: bool,
    quote: Quote,
    /// The last byte seen outside quotes.
    previous: u8,
    /// Line feeds before the byte being looked at.
    newlines: u64,
    last_cut: u64,
    every: u64,
    cuts: Vec<ReadMark>,
}

impl CutScan {
    /// Scans `bytes`, which start at offset `base`; false when the quoting is irregular.
    fn feed(&mut self, base: u64, bytes: &[u8]) -> bool {
        let mut i = 0;
        while i < bytes.len() {
            match self.quote {
                Quote::Out => {
                    let rest = &bytes[i..];
                    let found = if self.csv {
                        memchr::memchr2(b'\n', b'"', rest)
                    } else {
                        memchr::memchr(b'\n', rest)
                    };
                    let Some(offset) = found else {
                        self.previous = bytes[bytes.len() - 1];
                        return true;
                    };
                    let at = i + offset;
                    if bytes[at] == b'\n' {
                        self.newlines += 1;
                        let next = base + at as u64 + 1;
                        if next >= self.last_cut + self.every {
                            self.cuts.push(ReadMark { bytes: next, newlines: self.newlines });
                            self.last_cut = next;
                        }
                    } else {
                        let before = if at > 0 { bytes[at - 1] } else { self.previous };
                        if !matches!(before, b',' | b'\n' | b'\r') {
                            return false;
                        }
                        self.quote = Quote::In;
                    }
                    self.previous = bytes[at];
                    i = at + 1;
                }
                Quote::In => {
                    let rest = &bytes[i..];
                    let end = memchr::memchr(b'"', rest);
                    let inside = &rest[..end.unwrap_or(rest.len())];
                    self.newlines += memchr::memchr_iter(b'\n', inside).count() as u64;
                    match end {
                        Some(offset) => {
                            i += offset + 1;
                            self.quote = Quote::Closing;
                        }
                        None => return true,
                    }
                }
                Quote::Closing => match bytes[i] {
                    b'"' => {
                        self.quote = Quote::In;
                        i += 1;
                    }
                    b',' | b'\r' => {
                        self.quote = Quote::Out;
                        self.previous = bytes[i];
                        i += 1;
                    }
                    // The line feed is looked at outside the quotes: it may end the record.
                    b'\n' => self.quote = Quote::Out,
                    _ => return false,
                },
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(text: &str, format: SourceFormat, every: u64) -> Option<Vec<(u64, u64)>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, text).unwrap();
        record_cuts(&path, format, ReadMark { bytes: 0, newlines: 0 }, every)
            .unwrap()
            .map(|cuts| cuts.into_iter().map(|m| (m.bytes, m.newlines)).collect())
    }

    #[test]
    fn cuts_fall_after_line_feeds_outside_quotes() {
        let text = "a,b\n\"x\ny\",2\n\n3,\"q\"\"\n\"\n4,5\n";
        assert_eq!(cuts(text, SourceFormat::Csv, 1), Some(vec![(4, 1), (12, 3), (13, 4), (22, 6)]));
        assert_eq!(cuts(text, SourceFormat::Jsonl, 1).map(|c| c.len()), Some(6));
        assert_eq!(cuts(text, SourceFormat::Csv, 10), Some(vec![(12, 3), (22, 6)]));
    }

    #[test]
    fn irregular_quoting_gives_no_cuts() {
        assert_eq!(cuts("a,b\nx\"y,2\n", SourceFormat::Csv, 1), None);
        assert_eq!(cuts("a,b\n\"x\"y,2\n", SourceFormat::Csv, 1), None);
        assert_eq!(cuts("a,b\n\"x,2\n", SourceFormat::Csv, 1), None);
        assert_eq!(cuts("a,b\nx\"y,2\n", SourceFormat::Jsonl, 1), Some(vec![(4, 1)]));
    }
}
