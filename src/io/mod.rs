//! Replay sources and sinks: how recorded events get into a pipeline and how its outputs
//! get out.
//!
//! - [`Source`] reads a CSV, JSON Lines or JSON file one [`SourceEvent`] at a time (the
//!   whole record as an object map, with its event time), handling bad rows by the
//!   source's policy, and can resume at a row.
//! - [`Sink`]s write items as JSON Lines, CSV or to stdout ([`open_sink`]), or keep them
//!   in memory ([`CaptureSink`]).
//! - Values become JSON and JSON becomes values through [`crate::value`] (one module owns
//!   value ↔ JSON ↔ display, the way docs/semantics.md#values says).

mod error;
mod feed;
mod input;
mod recording;
mod sink;
mod source;

pub use error::{IoError, RowError};
pub use feed::{EventFeed, FeedTail, Polled};
pub use input::{Input, STDIN_NAME};
pub use recording::{RECORDING_HEADER, RecordedTiming, Recorder};
pub use sink::{
    CaptureHandle, CaptureSink, CheckedSink, CsvColumns, Sink, SinkPosition, guard_standard_streams,
    open_sink, resume_sink,
};
pub use source::{
    BadRows, ReadMark, Source, SourceEvent, newlines_before, project_record, record_cuts, try_project_record,
};
