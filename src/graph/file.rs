//! Reading and writing the pipeline file (TOML).
//!
//! Reading is done by hand from a [`toml::Table`] rather than by serde derive, so that every
//! problem (an unknown key, a typo in an operator name, a wrong type) is reported at once,
//! naming the step and the key, with a "did you mean" hint where one is close. Which keys an
//! entry knows, and an enum setting's values, come from the description in `settings.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::error::{GraphError, GraphErrors, Place, hint};
use super::limits::{ByteSize, LIMITS_KEYS, LimitsSpec};
use super::model::{
    ClockSpec, ColumnType, FORMAT_VERSION, OpKind, PipelineDoc, SinkFormat, SinkSpec, SourceFormat,
    SourceSpec, StepSpec,
};
use super::settings::{
    CLOCK_SETTINGS, FileEnum, SINK_SETTINGS, SOURCE_SETTINGS, STEP_COMMON_SETTINGS, STEP_SETTINGS,
    SettingKind, StepSetting, keys, op_settings,
};

/// Reads and parses a pipeline file; every problem of its shape is reported.
pub fn load_file(path: &Path) -> Result<PipelineDoc, GraphErrors> {
    parse_str(&read_text(path)?, path)
}

/// Reads a pipeline file's text, with an error naming the file.
pub fn read_text(path: &Path) -> Result<String, GraphErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        GraphErrors(vec![GraphError::new(
            Place::File(path.to_owned()),
            format!("cannot read the pipeline file: {e}"),
        )])
    })
}

/// Parses pipeline text; `path` only names the file in messages.
pub fn parse_str(text: &str, path: &Path) -> Result<PipelineDoc, GraphErrors> {
    let partial = parse_lenient(text, path)?;
    if partial.problems.is_empty() { Ok(partial.doc) } else { Err(GraphErrors(partial.problems)) }
}

/// What a lenient read gives: the document as far as it could be read, the problems found,
/// and the ids of entries that could not be read at all (left out of the document).
#[derive(Debug, Clone)]
pub struct PartialDoc {
    /// Every entry that could be read.
    pub doc: PipelineDoc,
    /// The problems found while reading.
    pub problems: Vec<GraphError>,
    /// Ids of entries left out (an unknown operator, say), so that references to them are
    /// not reported a second time as unknown inputs.
    pub unreadable: Vec<String>,
}

/// Parses pipeline text as far as possible, so that every problem can be reported at once;
/// `Err` only when the text is not TOML at all.
pub fn parse_lenient(text: &str, path: &Path) -> Result<PartialDoc, GraphErrors> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        let mut message = format!("not valid TOML: {}", e.message());
        if let Some(span) = e.span() {
            let (line, column) = line_column(text, span.start);
            message = format!("line {line}, column {column}: {message}");
        }
        GraphErrors(vec![GraphError::new(Place::File(path.to_owned()), message)])
    })?;
    let mut reader = Reader { path: path.to_owned(), errors: Vec::new(), unreadable: Vec::new() };
    let doc = reader.doc(table);
    Ok(PartialDoc { doc, problems: reader.errors, unreadable: reader.unreadable })
}

/// Writes a pipeline file in canonical form (see [`super::to_canonical_toml`]); to keep an
/// existing file's comments, write [`super::to_toml_over`]'s text instead.
pub fn save_file(doc: &PipelineDoc, path: &Path) -> Result<(), GraphError> {
    write_text_atomically(path, &super::write::to_canonical_toml(doc))
}

/// Writes a file through a temporary file in the same folder and a rename, so that a failed
/// write never leaves a half-written pipeline behind. Errors name `path`, never the temporary
/// file (which is removed again). An existing file keeps its permissions; a new one gets the
/// usual mode for new files (0666 less the umask), like any file an editor creates.
pub fn write_text_atomically(path: &Path, text: &str) -> Result<(), GraphError> {
    let fail =
        |e: std::io::Error| GraphError::new(Place::File(path.to_owned()), format!("cannot write: {e}"));
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let existing = std::fs::metadata(path).ok().filter(std::fs::Metadata::is_file).map(|m| m.permissions());
    let (temp_path, mut temp) = create_temp(folder, &name).map_err(fail)?;
    let written = write_and_sync(&mut temp, text, existing).and_then(|()| {
        drop(temp);
        std::fs::rename(&temp_path, path)
    });
    if let Err(e) = written {
        let _ignored = std::fs::remove_file(&temp_path);
        return Err(fail(e));
    }
    Ok(())
}

/// Creates a new temporary file beside the one being written (`.NAME.eddy-<pid>-<n>.tmp`),
/// with the mode new files get (not a temporary file's private 0600).
fn create_temp(folder: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut last = std::io::Error::other("no temporary file name was free");
    for n in 0..1000 {
        let temp_path = folder.join(format!(".{name}.eddy-{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn write_and_sync(
    file: &mut std::fs::File,
    text: &str,
    permissions: Option<std::fs::Permissions>,
) -> std::io::Result<()> {
    std::io::Write::write_all(file, text.as_bytes())?;
    if let Some(permissions) = permissions {
        file.set_permissions(permissions)?;
    }
    file.sync_all()
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

const TOP_KEYS: [&str; 7] = ["format_version", "clock", "limits", "sources", "steps", "sinks", "editor"];
/// Whether `key` holds a duration written with its unit (`"30s"`): a step setting described so,
/// or the limits' `call_timeout`.
fn is_duration_key(key: &str) -> bool {
    key == "call_timeout" || STEP_SETTINGS.iter().any(|s| s.key == key && s.kind == SettingKind::Duration)
}

/// What to suggest for an unknown key: the real options where a near spelling would mislead
/// (`by` on `max_final`, `timeout_seconds`), else the nearest known key, else every key the
/// entry knows.
fn unknown_key_hint(key: &str, known: &[&str]) -> String {
    let lower = key.to_ascii_lowercase();
    let knows = |setting: StepSetting| known.contains(&setting.key());
    if lower.starts_with("timeout") && knows(StepSetting::Timeout) {
        return " (did you mean `timeout`? it takes a duration with its unit, e.g. timeout = \"30s\" or \"1h30m\")"
            .into();
    }
    if matches!(lower.as_str(), "by" | "key" | "compare" | "compare_by")
        && knows(StepSetting::Field)
        && knows(StepSetting::Script)
    {
        return " (compare by a field with field = \"name\", or by a script with fn by(v) returning what to compare)".into();
    }
    let nearest = hint(key, known.iter().copied());
    if nearest.is_empty() && !known.is_empty() {
        let keys: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        return format!(" (the keys here are {})", keys.join(", "));
    }
    nearest
}

/// Whether `key` is one the document model holds for an entry of `section` (`clock`, `limits`,
/// `sources`, `steps`, `sinks`): for steps, a setting of any operator. A key that is not (a
/// typo like `feild`) is the user's text, which writing over a file keeps as written.
pub(super) fn is_model_key(section: &str, key: &str) -> bool {
    match section {
        "clock" => CLOCK_SETTINGS.iter().any(|s| s.key == key),
        "limits" => super::LIMITS_KEYS.contains(&key),
        "sources" => SOURCE_SETTINGS.iter().any(|s| s.key == key),
        "sinks" => SINK_SETTINGS.iter().any(|s| s.key == key),
        "steps" => STEP_COMMON_SETTINGS.iter().chain(&STEP_SETTINGS).any(|s| s.key == key),
        _ => false,
    }
}

struct Reader {
    path: PathBuf,
    errors: Vec<GraphError>,
    unreadable: Vec<String>,
}

/// A table being read: remembers which keys were taken, so the rest can be reported.
struct Entry {
    place: Place,
    table: Table,
}

impl Reader {
    fn doc(&mut self, mut table: Table) -> PipelineDoc {
        let file = Place::File(self.path.clone());
        let format_version = match table.remove("format_version") {
            Some(Value::Integer(FORMAT_VERSION)) => FORMAT_VERSION,
            Some(Value::Integer(other)) => {
                self.errors.push(GraphError::at(
                    file.clone(),
                    "format_version",
                    format!("this build reads format_version = {FORMAT_VERSION}, the file has {other}"),
                ));
                other
            }
            Some(other) => {
                self.errors.push(GraphError::at(
                    file.clone(),
                    "format_version",
                    format!("expected an integer, found {}", other.type_str()),
                ));
                FORMAT_VERSION
            }
            None => {
                self.errors.push(GraphError::at(
                    file.clone(),
                    "format_version",
                    format!("missing: add `format_version = {FORMAT_VERSION}` at the top"),
                ));
                FORMAT_VERSION
            }
        };
        let clock = match table.remove("clock") {
            Some(Value::Table(t)) => self.clock(t),
            Some(other) => {
                self.errors.push(GraphError::at(
                    Place::Clock,
                    "clock",
                    format!("expected a table, found {}", other.type_str()),
                ));
                ClockSpec::default()
            }
            None => ClockSpec::default(),
        };
        let limits = match table.remove("limits") {
            Some(Value::Table(t)) => self.limits(t),
            Some(other) => {
                self.errors.push(GraphError::at(
                    Place::Limits,
                    "limits",
                    format!("expected a table, found {}", other.type_str()),
                ));
                LimitsSpec::default()
            }
            None => LimitsSpec::default(),
        };
        let sources = self.array_of_tables(&mut table, "sources", |r, e| r.source(e));
        let steps = self.array_of_tables(&mut table, "steps", |r, e| r.step(e));
        let sinks = self.array_of_tables(&mut table, "sinks", |r, e| r.sink(e));
        let editor = match table.remove("editor") {
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                self.errors.push(GraphError::at(
                    file.clone(),
                    "editor",
                    format!("expected a table, found {}", other.type_str()),
                ));
                None
            }
            None => None,
        };
        for key in table.keys() {
            self.errors.push(GraphError::at(
                file.clone(),
                key.as_str(),
                format!("unknown top-level key{}", hint(key, TOP_KEYS)),
            ));
        }
        PipelineDoc { format_version, clock, limits, sources, steps, sinks, editor }
    }

    fn array_of_tables<T>(
        &mut self,
        table: &mut Table,
        name: &str,
        mut read: impl FnMut(&mut Self, &mut Entry) -> Option<T>,
    ) -> Vec<T> {
        let Some(value) = table.remove(name) else { return Vec::new() };
        let Value::Array(items) = value else {
            self.errors.push(GraphError::at(
                Place::File(self.path.clone()),
                name,
                format!("expected an array of tables (`[[{name}]]`), found {}", value.type_str()),
            ));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let Value::Table(mut t) = item else {
                self.errors.push(GraphError::at(
                    Place::File(self.path.clone()),
                    name,
                    format!("entry {} is not a table", index + 1),
                ));
                continue;
            };
            let id = match t.get("id") {
                Some(Value::String(id)) => id.clone(),
                _ => format!("#{}", index + 1),
            };
            let place = match name {
                "sources" => Place::Source(id.clone()),
                "steps" => Place::Step(id.clone()),
                _ => Place::Sink(id.clone()),
            };
            if !t.contains_key("id") {
                self.errors.push(GraphError::at(place.clone(), "id", "missing"));
                t.insert("id".into(), Value::String(String::new()));
            }
            let mut entry = Entry { place, table: t };
            match read(self, &mut entry) {
                Some(value) => out.push(value),
                None => self.unreadable.push(id),
            }
        }
        out
    }

    fn clock(&mut self, table: Table) -> ClockSpec {
        let mut entry = Entry { place: Place::Clock, table };
        let mode = self.choice_opt(&mut entry, "mode").unwrap_or_default();
        self.leftovers(&entry, &keys(&CLOCK_SETTINGS));
        ClockSpec { mode }
    }

    fn limits(&mut self, table: Table) -> LimitsSpec {
        let mut entry = Entry { place: Place::Limits, table };
        let mut spec =
            LimitsSpec { call_timeout: self.string_opt(&mut entry, "call_timeout"), ..LimitsSpec::default() };
        spec.call_memory = self.byte_size_opt(&mut entry, "call_memory");
        spec.max_string_size = self.byte_size_opt(&mut entry, "max_string_size");
        spec.max_depth = self.integer_opt(&mut entry, "max_depth");
        spec.max_operations = self.integer_opt(&mut entry, "max_operations");
        spec.max_call_levels = self.integer_opt(&mut entry, "max_call_levels");
        spec.max_array_size = self.integer_opt(&mut entry, "max_array_size");
        spec.max_map_size = self.integer_opt(&mut entry, "max_map_size");
        for (key, message) in spec.problems() {
            self.errors.push(GraphError::at(Place::Limits, key, message));
        }
        self.leftovers(&entry, &LIMITS_KEYS);
        spec
    }

    fn integer_opt(&mut self, entry: &mut Entry, key: &str) -> Option<i64> {
        match entry.table.remove(key)? {
            Value::Integer(n) => Some(n),
            other => {
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    key,
                    format!("expected an integer, found {}", other.type_str()),
                ));
                None
            }
        }
    }

    fn byte_size_opt(&mut self, entry: &mut Entry, key: &str) -> Option<ByteSize> {
        match entry.table.remove(key)? {
            Value::Integer(n) => Some(ByteSize::Bytes(n)),
            Value::String(s) => Some(ByteSize::Text(s)),
            other => {
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    key,
                    format!("expected a size (\"256MiB\") or a number of bytes, found {}", other.type_str()),
                ));
                None
            }
        }
    }

    fn source(&mut self, entry: &mut Entry) -> Option<SourceSpec> {
        let id = self.string_req(entry, "id").unwrap_or_default();
        let path = self.string_req(entry, "path").map(PathBuf::from);
        let format = self.choice_opt(entry, "format");
        let time_field = self.string_opt(entry, "time_field");
        let time_format = self.choice_opt(entry, "time_format").unwrap_or_default();
        let on_bad_row = self.choice_opt(entry, "on_bad_row").unwrap_or_default();
        let dead_letter_path = self.string_opt(entry, "dead_letter_path").map(PathBuf::from);
        let mut types = BTreeMap::new();
        match entry.table.remove("types") {
            Some(Value::Table(t)) => {
                for (column, value) in t {
                    match value.as_str().and_then(ColumnType::parse) {
                        Some(ty) => {
                            types.insert(column, ty);
                        }
                        None => self.errors.push(GraphError::at(
                            entry.place.clone(),
                            format!("types.{column}"),
                            format!("expected one of {}, found {value}", quoted_names(ColumnType::NAMES)),
                        )),
                    }
                }
            }
            Some(other) => self.errors.push(GraphError::at(
                entry.place.clone(),
                "types",
                format!("expected a table of column = \"type\", found {}", other.type_str()),
            )),
            None => {}
        }
        let follow = match entry.table.remove("follow") {
            None => false,
            Some(Value::Boolean(follow)) => follow,
            Some(other) => {
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    "follow",
                    format!("expected true or false, found {}", other.type_str()),
                ));
                false
            }
        };
        let recording = self.string_opt(entry, "recording").map(PathBuf::from);
        self.leftovers(entry, &keys(&SOURCE_SETTINGS));
        Some(SourceSpec {
            id,
            path: path?,
            format,
            time_field,
            time_format,
            on_bad_row,
            dead_letter_path,
            types,
            follow,
            recording,
        })
    }

    fn sink(&mut self, entry: &mut Entry) -> Option<SinkSpec> {
        let id = self.string_req(entry, "id").unwrap_or_default();
        let inputs = self.inputs(entry);
        let path = self.string_opt(entry, "path").map(PathBuf::from);
        // Sinks write plain text: a `.gz` name would hold uncompressed lines under a name that
        // says otherwise (sources, which read gzip, look past the suffix).
        let compressed = path.as_deref().is_some_and(|p| crate::graph::without_gz_suffix(p) != p);
        if compressed {
            self.errors.push(GraphError::at(
                entry.place.clone(),
                "path",
                "sinks write plain text, not gzip: name the file without `.gz` (compress it after the run)",
            ));
        }
        // Like a source, a sink's format may be told by its file's extension.
        let by_extension =
            path.as_deref().filter(|_| !compressed).and_then(SourceFormat::from_extension).and_then(|f| {
                match f {
                    SourceFormat::Csv => Some(SinkFormat::Csv),
                    SourceFormat::Jsonl => Some(SinkFormat::Jsonl),
                    SourceFormat::Json => None,
                }
            });
        let format = match by_extension {
            Some(format) if !entry.table.contains_key("format") => Some(format),
            _ => self.choice_req::<SinkFormat>(entry, "format"),
        };
        self.leftovers(entry, &keys(&SINK_SETTINGS));
        Some(SinkSpec { id, inputs, format: format?, path })
    }

    fn step(&mut self, entry: &mut Entry) -> Option<StepSpec> {
        let id = self.string_req(entry, "id").unwrap_or_default();
        let inputs = self.inputs(entry);
        let op = match entry.table.remove("op") {
            Some(Value::String(name)) => match OpKind::parse(&name) {
                Some(op) => Some(op),
                None => {
                    self.errors.push(GraphError::at(
                        entry.place.clone(),
                        "op",
                        format!(
                            "unknown operator `{name}`{}",
                            hint(&name, OpKind::ALL.iter().map(|op| op.as_str()))
                        ),
                    ));
                    None
                }
            },
            Some(other) => {
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    "op",
                    format!("expected an operator name, found {}", other.type_str()),
                ));
                None
            }
            None => {
                self.errors.push(GraphError::at(entry.place.clone(), "op", "missing"));
                None
            }
        };
        let Some(op) = op else {
            // Without an operator the other keys cannot be checked; report what is certain.
            return None;
        };
        let mut step = StepSpec::new(id, op, inputs);
        for setting in StepSetting::ALL {
            self.step_setting(entry, &mut step, setting);
        }
        // Keys this operator does not take: report them, naming the operator.
        let allowed = op_settings(op);
        for setting in StepSetting::ALL {
            if setting.is_set(&step) && !allowed.contains(&setting) {
                let takes = if allowed.is_empty() {
                    "no settings".to_owned()
                } else {
                    allowed.iter().map(|s| format!("`{}`", s.key())).collect::<Vec<_>>().join(", ")
                };
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    setting.key(),
                    format!("`{op}` does not take this key (it takes {takes})"),
                ));
            }
        }
        let known: Vec<&str> =
            keys(&STEP_COMMON_SETTINGS).into_iter().chain(allowed.iter().map(|s| s.key())).collect();
        self.leftovers(entry, &known);
        Some(step)
    }

    /// Reads one step setting, whatever the operator (those it does not take are reported
    /// afterwards, naming the operator).
    fn step_setting(&mut self, entry: &mut Entry, step: &mut StepSpec, setting: StepSetting) {
        let key = setting.key();
        match setting {
            StepSetting::Script => step.script = self.string_opt(entry, key),
            StepSetting::Builtin => step.builtin = self.choice_opt(entry, key),
            StepSetting::Field => step.field = self.string_opt(entry, key),
            StepSetting::MaxSize => step.max_size = self.integer_opt(entry, key),
            StepSetting::Timeout => step.timeout = self.string_opt(entry, key),
            StepSetting::InsertMode => step.insert_mode = self.choice_opt(entry, key),
            StepSetting::EmitMode => step.emit_mode = self.choice_opt(entry, key),
        }
    }

    fn inputs(&mut self, entry: &mut Entry) -> Vec<String> {
        match entry.table.remove("inputs") {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|item| match item {
                    Value::String(s) => Some(s),
                    other => {
                        self.errors.push(GraphError::at(
                            entry.place.clone(),
                            "inputs",
                            format!("expected stream names (strings), found {}", other.type_str()),
                        ));
                        None
                    }
                })
                .collect(),
            Some(Value::String(single)) => vec![single],
            Some(other) => {
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    "inputs",
                    format!("expected a list of stream names, found {}", other.type_str()),
                ));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn string_opt(&mut self, entry: &mut Entry, key: &str) -> Option<String> {
        match entry.table.remove(key)? {
            Value::String(s) => Some(s),
            other => {
                let message = if is_duration_key(key) && (other.is_integer() || other.is_float()) {
                    format!(
                        "expected a duration with its unit, found the {} {other} (write e.g. {key} = \"{other}s\", \"250ms\" or \"1h30m\")",
                        other.type_str()
                    )
                } else {
                    format!("expected a string, found {}", other.type_str())
                };
                self.errors.push(GraphError::at(entry.place.clone(), key, message));
                None
            }
        }
    }

    fn string_req(&mut self, entry: &mut Entry, key: &str) -> Option<String> {
        if !entry.table.contains_key(key) {
            self.errors.push(GraphError::at(entry.place.clone(), key, "missing"));
            return None;
        }
        self.string_opt(entry, key)
    }

    /// Reads an enum-valued setting; a name it does not have is reported with the names it has.
    fn choice_opt<T: FileEnum>(&mut self, entry: &mut Entry, key: &str) -> Option<T> {
        let value = entry.table.remove(key)?;
        match value.as_str().and_then(T::from_name) {
            Some(choice) => Some(choice),
            None => {
                let names: Vec<&str> = T::VALUES.iter().map(|v| v.name()).collect();
                let suggestion = value.as_str().map(|s| hint(s, names.iter().copied())).unwrap_or_default();
                self.errors.push(GraphError::at(
                    entry.place.clone(),
                    key,
                    format!("expected one of {}, found {value}{suggestion}", quoted_names(&names)),
                ));
                None
            }
        }
    }

    fn choice_req<T: FileEnum>(&mut self, entry: &mut Entry, key: &str) -> Option<T> {
        if !entry.table.contains_key(key) {
            let names: Vec<&str> = T::VALUES.iter().map(|v| v.name()).collect();
            self.errors.push(GraphError::at(
                entry.place.clone(),
                key,
                format!("missing: one of {}", quoted_names(&names)),
            ));
            return None;
        }
        self.choice_opt(entry, key)
    }

    /// Reports every key nobody took.
    fn leftovers(&mut self, entry: &Entry, known: &[&str]) {
        for key in entry.table.keys() {
            if key == "id" {
                continue;
            }
            self.errors.push(GraphError::at(
                entry.place.clone(),
                key.as_str(),
                format!("unknown key{}", unknown_key_hint(key, known)),
            ));
        }
    }
}

/// `"a", "b", "c"`: the names an enum-valued setting takes, as messages list them.
fn quoted_names(names: &[&str]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}
