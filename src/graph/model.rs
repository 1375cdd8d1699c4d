//! The pipeline document: a faithful, serialisable picture of one pipeline file.
//!
//! Nothing here is checked beyond its shape; [`crate::graph::validate`] turns a
//! [`PipelineDoc`] into a [`crate::graph::ValidGraph`], the only thing the engine accepts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::limits::LimitsSpec;
use super::settings::file_enum;

/// The file format version this build reads and writes.
pub const FORMAT_VERSION: i64 = 1;

/// One whole pipeline: sources, steps, sinks, clock and the editor's layout.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PipelineDoc {
    /// Always [`FORMAT_VERSION`] for files this build writes.
    pub format_version: i64,
    /// How the run's clock moves.
    pub clock: ClockSpec,
    /// Bounds on every call of a user function (the `[limits]` table).
    #[serde(skip_serializing_if = "LimitsSpec::is_empty")]
    pub limits: LimitsSpec,
    /// Recorded inputs, merged by event time in this order.
    pub sources: Vec<SourceSpec>,
    /// Operators, in file order (which breaks ties in the step position).
    pub steps: Vec<StepSpec>,
    /// Outputs.
    pub sinks: Vec<SinkSpec>,
    /// The workbench's own section; the runner ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub editor: Option<toml::Table>,
}

impl PipelineDoc {
    /// Whether `other` runs as this document does: everything but the editor's layout is
    /// equal. Nothing is copied (the workbench asks every frame).
    pub fn same_but_layout(&self, other: &PipelineDoc) -> bool {
        let PipelineDoc { format_version, clock, limits, sources, steps, sinks, editor: _ } = self;
        *format_version == other.format_version
            && *clock == other.clock
            && *limits == other.limits
            && *sources == other.sources
            && *steps == other.steps
            && *sinks == other.sinks
    }
}

/// Which clock a run uses (docs/time.md#the-clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Event time from the sources' time fields: deterministic.
    #[default]
    Replay,
    /// The machine's UTC clock, for live inputs.
    Wall,
}

/// The `[clock]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ClockSpec {
    /// Replay (default) or wall.
    pub mode: ClockMode,
}

/// The format of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    Json,
}

impl SourceFormat {
    /// The format a file name's extension suggests, if any; a final `.gz` is looked past
    /// (`events.csv.gz` is CSV, read through gzip).
    pub fn from_extension(path: &std::path::Path) -> Option<Self> {
        match crate::graph::without_gz_suffix(path).extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// How a source's time field is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// An RFC 3339 string (`2024-01-01T00:00:00Z`, offsets and fractions allowed).
    #[default]
    Rfc3339,
    /// An integer or float number of seconds since the Unix epoch.
    UnixS,
    /// An integer number of milliseconds since the Unix epoch.
    UnixMs,
    /// An integer number of microseconds since the Unix epoch.
    UnixUs,
}

/// What a source does with a row it cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BadRowPolicy {
    /// Stop the run with an error naming file, line and column.
    #[default]
    Fail,
    /// Skip the row, count it, and report the count at the end.
    Skip,
    /// Write the raw row and the reason to the source's dead-letter file, and go on.
    DeadLetter,
}

/// A forced CSV column type (otherwise cells are typed as docs/file-format.md#csv-cells says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Keep the cell's text as a string, even when it looks like a number.
    String,
    /// An i64; anything else is a bad row.
    Int,
    /// An f64; anything else is a bad row.
    Float,
    /// `true` or `false`; anything else is a bad row.
    Bool,
}

/// One `[[sources]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceSpec {
    /// Unique id, used as an input name by steps.
    pub id: String,
    /// The file, relative to the pipeline file's folder.
    pub path: PathBuf,
    /// The file's format; from the extension when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<SourceFormat>,
    /// The field holding the event time; a source without one does not move the clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    /// How the time field is written.
    #[serde(skip_serializing_if = "is_default")]
    pub time_format: TimeFormat,
    /// What to do with a row that cannot be read.
    #[serde(skip_serializing_if = "is_default")]
    pub on_bad_row: BadRowPolicy,
    /// Where `dead_letter` writes bad rows (JSON Lines), relative to the pipeline file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_path: Option<PathBuf>,
    /// CSV only: forced column types.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, ColumnType>,
    /// Keep reading the file as it grows, like `tail -F` (through truncation and rotation by
    /// rename): a live stream that never ends by itself.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub follow: bool,
    /// A live source's lines read back from a recording (`eddy run --record`), relative to the
    /// pipeline file, at the clock the live run took them: the live run replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<PathBuf>,
}

impl SourceSpec {
    /// The format given, or the one the extension suggests.
    pub fn effective_format(&self) -> Option<SourceFormat> {
        self.format.or_else(|| SourceFormat::from_extension(&self.path))
    }

    /// Whether the source reads standard input (`path = "-"`): a live stream, read as it
    /// arrives, that cannot be replayed again (README, "Running live").
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == STDIN_PATH
    }

    /// Whether the source is a live stream (standard input, or a followed file): read as rows
    /// arrive, never replayed from its start. A live source reading a recording is not.
    pub fn is_live(&self) -> bool {
        (self.is_stdin() || self.follow) && self.recording.is_none()
    }
}

/// The `path` of a source that reads standard input.
pub const STDIN_PATH: &str = "-";

/// The format of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkFormat {
    /// One JSON value per line; keyed items as `[key, value]`.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// JSON Lines on standard output.
    Stdout,
}

/// One `[[sinks]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkSpec {
    /// Unique id.
    pub id: String,
    /// The streams written, merged in arrival order.
    pub inputs: Vec<String>,
    /// How items are written.
    pub format: SinkFormat,
    /// The file written (not for `stdout`), relative to the pipeline file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// `insert_mode` of a join: what a side remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InsertMode {
    /// A side keeps its first value.
    First,
    /// A side keeps its latest value.
    #[default]
    Last,
    /// A side keeps all its values.
    Product,
}

/// `emit_mode` of a join: when rows are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmitMode {
    /// When every side has a value; then the key's state is discarded.
    #[default]
    Complete,
    /// At end of input only.
    Final,
    /// After every item.
    Running,
}

/// A built-in function that replaces a script (same semantics, no Rhai).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// Count the items.
    Count,
    /// Add the values (INT stays INT).
    Sum,
    /// Keep the smallest value.
    Min,
    /// Keep the largest value.
    Max,
}

file_enum!(ClockMode { Replay => "replay", Wall => "wall" });
file_enum!(SourceFormat { Csv => "csv", Jsonl => "jsonl", Json => "json" });
file_enum!(TimeFormat { Rfc3339 => "rfc3339", UnixS => "unix_s", UnixMs => "unix_ms", UnixUs => "unix_us" });
file_enum!(BadRowPolicy { Fail => "fail", Skip => "skip", DeadLetter => "dead_letter" });
file_enum!(ColumnType { String => "string", Int => "int", Float => "float", Bool => "bool" });
file_enum!(SinkFormat { Jsonl => "jsonl", Csv => "csv", Stdout => "stdout" });
file_enum!(InsertMode { First => "first", Last => "last", Product => "product" });
file_enum!(EmitMode { Complete => "complete", Final => "final", Running => "running" });
file_enum!(Builtin { Count => "count", Sum => "sum", Min => "min", Max => "max" });

/// Every operator the engine knows (the table of docs/file-format.md#steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// `mapper(x)` → one item.
    Map,
    /// `predicate(x)` → keep when true.
    Filter,
    /// `mapper(x)` → an item, or `()` to drop.
    FilterMap,
    /// `mapper(x)` → an array of items.
    FlatMap,
    /// `key(x)` → a string key; emits `(key, x)`.
    KeyOn,
    /// `(k, v)` → `v`.
    KeyRm,
    /// `mapper(v)` on the value of a keyed item.
    MapValue,
    /// `predicate(v)` on the value of a keyed item.
    FilterValue,
    /// `mapper(v)` → array, on the value of a keyed item.
    FlatMapValue,
    /// Observe items; pass them through.
    Inspect,
    /// Several inputs, one output.
    Merge,
    /// `predicate(x)`: two outputs, `trues` and `falses`.
    Branch,
    /// `mapper(state, v)` → `[state, out]`.
    StatefulMap,
    /// `mapper(state, v)` → `[state, [outs]]`.
    StatefulFlatMap,
    /// `reducer(acc, v)`, emitted at end of input.
    ReduceFinal,
    /// `builder()`, `folder(acc, v)`, emitted at end of input.
    FoldFinal,
    /// Count per `key(x)` of an unkeyed stream, emitted at end of input.
    CountFinal,
    /// The largest value per key (by `by(v)`), at end of input.
    MaxFinal,
    /// The smallest value per key (by `by(v)`), at end of input.
    MinFinal,
    /// Lists per key, emitted by size, timeout or end of input.
    Collect,
    /// N-way join of keyed inputs.
    Join,
    /// A StatefulLogic per key.
    Stateful,
    /// A StatefulLogic per key that receives batches.
    StatefulBatch,
}

/// The family an operator belongs to (the palette's groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpFamily {
    /// map, filter, key_on, …
    Stateless,
    /// stateful_map, stateful_flat_map.
    BasicStateful,
    /// *_final.
    FiniteAggregation,
    /// collect.
    Collection,
    /// join.
    Correlation,
    /// stateful, stateful_batch.
    LowLevel,
}

impl OpKind {
    /// Every operator, in the order of the table of docs/file-format.md#steps.
    pub const ALL: [OpKind; 23] = [
        Self::Map,
        Self::Filter,
        Self::FilterMap,
        Self::FlatMap,
        Self::KeyOn,
        Self::KeyRm,
        Self::MapValue,
        Self::FilterValue,
        Self::FlatMapValue,
        Self::Inspect,
        Self::Merge,
        Self::Branch,
        Self::StatefulMap,
        Self::StatefulFlatMap,
        Self::ReduceFinal,
        Self::FoldFinal,
        Self::CountFinal,
        Self::MaxFinal,
        Self::MinFinal,
        Self::Collect,
        Self::Join,
        Self::Stateful,
        Self::StatefulBatch,
    ];

    /// The name used in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Map => "map",
            Self::Filter => "filter",
            Self::FilterMap => "filter_map",
            Self::FlatMap => "flat_map",
            Self::KeyOn => "key_on",
            Self::KeyRm => "key_rm",
            Self::MapValue => "map_value",
            Self::FilterValue => "filter_value",
            Self::FlatMapValue => "flat_map_value",
            Self::Inspect => "inspect",
            Self::Merge => "merge",
            Self::Branch => "branch",
            Self::StatefulMap => "stateful_map",
            Self::StatefulFlatMap => "stateful_flat_map",
            Self::ReduceFinal => "reduce_final",
            Self::FoldFinal => "fold_final",
            Self::CountFinal => "count_final",
            Self::MaxFinal => "max_final",
            Self::MinFinal => "min_final",
            Self::Collect => "collect",
            Self::Join => "join",
            Self::Stateful => "stateful",
            Self::StatefulBatch => "stateful_batch",
        }
    }

    /// Parses a name from the pipeline file.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The palette group.
    pub fn family(self) -> OpFamily {
        match self {
            Self::StatefulMap | Self::StatefulFlatMap => OpFamily::BasicStateful,
            Self::ReduceFinal | Self::FoldFinal | Self::CountFinal | Self::MaxFinal | Self::MinFinal => {
                OpFamily::FiniteAggregation
            }
            Self::Collect => OpFamily::Collection,
            Self::Join => OpFamily::Correlation,
            Self::Stateful | Self::StatefulBatch => OpFamily::LowLevel,
            _ => OpFamily::Stateless,
        }
    }

    /// True for operators that keep per-key state (and so need a keyed input).
    pub fn is_stateful(self) -> bool {
        self.family() != OpFamily::Stateless
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[steps]]` entry: an operator with its inputs, settings and script.
///
/// Settings an operator does not take are rejected when the file is read, so a
/// `StepSpec` only carries what its `op` accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSpec {
    /// Unique id; names the step in errors, state, metrics and the UI.
    pub id: String,
    /// The operator.
    pub op: OpKind,
    /// Upstream streams: a source id, a step id, or `step.port` for a branch.
    pub inputs: Vec<String>,
    /// The Rhai script holding the user function(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// A built-in function instead of a script (stateful_map, reduce_final, fold_final).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin: Option<Builtin>,
    /// A field of the value used instead of a function: the key of `key_on` /
    /// `count_final`, the new value of `map` / `map_value`, the `by` of
    /// `max_final` / `min_final`, the operand of a built-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// collect: emit a key's list when it holds this many items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
    /// collect: emit a key's list after this long without a new item (`"10s"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// join: what each side remembers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insert_mode: Option<InsertMode>,
    /// join: when rows are emitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emit_mode: Option<EmitMode>,
}

impl StepSpec {
    /// A step with only its id, operator and inputs set.
    pub fn new(id: impl Into<String>, op: OpKind, inputs: Vec<String>) -> Self {
        Self {
            id: id.into(),
            op,
            inputs,
            script: None,
            builtin: None,
            field: None,
            max_size: None,
            timeout: None,
            insert_mode: None,
            emit_mode: None,
        }
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
