//! The sink of a replay nobody reads the lines of (the workbench): each item is turned into
//! the JSON text a file sink would write, in one reused buffer, and dropped, so that an item
//! with no JSON form fails the same way, the counts are the same, and nothing is kept.

use rhai::Dynamic;

use super::{Sink, item_error};
use crate::io::error::IoError;
use crate::value::write_json;

/// A sink that checks and counts items, keeping none.
#[derive(Debug)]
pub struct CheckedSink {
    /// The sink's id (for errors).
    id: String,
    /// The item's text, reused from item to item.
    buf: Vec<u8>,
    /// Items written.
    written: u64,
}

impl CheckedSink {
    /// A checking sink standing for the sink `sink_id`.
    pub fn new(sink_id: &str) -> Self {
        CheckedSink { id: sink_id.to_owned(), buf: Vec::with_capacity(256), written: 0 }
    }
}

impl Sink for CheckedSink {
    fn write(&mut self, key: Option<&str>, value: &Dynamic) -> Result<(), IoError> {
        self.buf.clear();
        // The key is a string: only the value can lack a JSON form.
        write_json(&mut self.buf, value).map_err(|reason| item_error(&self.id, key, &reason))?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }

    fn items_written(&self) -> u64 {
        self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::CaptureSink;

    #[test]
    fn fails_and_counts_like_the_capture_sink() {
        let (mut captured, _lines) = CaptureSink::new("out");
        let mut checked = CheckedSink::new("out");
        let values = [
            Dynamic::from(1_i64),
            Dynamic::from(f64::NAN),
            Dynamic::from("text"),
            Dynamic::from(std::time::Instant::now()),
        ];
        for value in &values {
            for key in [Some("k"), None] {
                let want = captured.write(key, value).map_err(|e| e.to_string());
                let got = checked.write(key, value).map_err(|e| e.to_string());
                assert_eq!(got, want);
            }
        }
        assert_eq!(checked.items_written(), captured.items_written());
    }
}
