//! The one typed description of the pipeline file's settings: for every entry (clock, source,
//! step, sink) each key, what kind of value it holds, its default and a one-line doc, and for
//! every operator which step settings it takes.
//!
//! The reader (`file.rs`) takes its lists of known keys and its enum choices from here, the
//! writer (`write.rs`) its key order and defaults, the workbench's inspector its labels and
//! combo boxes, and a test checks docs/file-format.md's tables against it, so none of them
//! can drift from the others.

use super::model::{
    BadRowPolicy, Builtin, ClockMode, EmitMode, InsertMode, OpKind, SinkFormat, SourceFormat, StepSpec,
    TimeFormat,
};

/// An enum-valued setting: its values and their names in the pipeline file.
///
/// Implemented by the `file_enum!` macro for every such enum, so the names are written once and the
/// reader, the writer and the inspector's combo boxes all go through them.
pub trait FileEnum: Copy + PartialEq + 'static {
    /// Every value, in the order the file format documents them and the workbench offers them.
    const VALUES: &'static [Self];
    /// The name used in the pipeline file.
    fn name(self) -> &'static str;
    /// The value a name from the pipeline file stands for.
    fn from_name(name: &str) -> Option<Self> {
        Self::VALUES.iter().copied().find(|value| value.name() == name)
    }
}

/// Gives an enum its names in the pipeline file: the inherent `ALL`, `NAMES`, `as_str` and
/// `parse`, and [`FileEnum`].
macro_rules! file_enum {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in the order the file format documents them and the workbench offers them.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// The names used in the pipeline file, in the order of `ALL`.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The name used in the pipeline file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// Parses a name from the pipeline file.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl $crate::graph::FileEnum for $ty {
            const VALUES: &'static [Self] = $ty::ALL;

            fn name(self) -> &'static str {
                self.as_str()
            }
        }
    };
}
pub(super) use file_enum;

/// What a setting holds: decides how it is read, written, documented and edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// One of these names (an enum's `NAMES`).
    Choice(&'static [&'static str]),
    /// A string.
    Text,
    /// A file path, relative to the pipeline file's folder.
    Path,
    /// A Rhai script.
    Script,
    /// An integer.
    Integer,
    /// A duration with its unit (`"30s"`).
    Duration,
    /// `true` or `false`.
    Bool,
    /// A table of `column = "type"` (a source's `types`).
    ColumnTypes,
    /// A list of stream names (or one name).
    Streams,
    /// An operator's name (a step's `op`).
    Operator,
}

/// One key of an entry of the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The key in the file.
    pub key: &'static str,
    /// What it holds.
    pub kind: SettingKind,
    /// What leaving it out means, as docs/file-format.md's default column says it: `required`,
    /// `none`, the value written as TOML (`"rfc3339"`, `false`), or what decides it
    /// (`from the extension`).
    pub default: &'static str,
    /// The workbench's label for it.
    pub label: &'static str,
    /// One line saying what it does (the inspector's hover text).
    pub doc: &'static str,
}

impl Setting {
    const fn new(key: &'static str, kind: SettingKind, default: &'static str) -> Self {
        Self { key, kind, default, label: key, doc: "" }
    }

    const fn label(mut self, label: &'static str) -> Self {
        self.label = label;
        self
    }

    const fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    /// Whether `value`, written in a file, says what leaving the key out says.
    pub fn is_default(&self, value: &toml::Value) -> bool {
        match self.kind {
            SettingKind::Choice(_) => {
                value.as_str().is_some_and(|name| self.default == format!("\"{name}\""))
            }
            SettingKind::Bool => value.as_bool().is_some_and(|b| self.default == b.to_string()),
            SettingKind::ColumnTypes => value.as_table().is_some_and(toml::Table::is_empty),
            _ => false,
        }
    }
}

/// The keys of a list of settings, in its order.
pub fn keys(settings: &[Setting]) -> Vec<&'static str> {
    settings.iter().map(|s| s.key).collect()
}

/// The `[clock]` table.
pub const CLOCK_SETTINGS: [Setting; 1] =
    [Setting::new("mode", SettingKind::Choice(ClockMode::NAMES), "\"replay\"")
        .doc("replay: the clock is the sources' event time; wall: the machine's UTC clock")];

/// A `[[sources]]` entry, in the order the canonical form writes them.
pub const SOURCE_SETTINGS: [Setting; 10] = [
    Setting::new("id", SettingKind::Text, "required").doc("the source's id"),
    Setting::new("path", SettingKind::Path, "required")
        .label("file")
        .doc("the file read; \"-\" reads standard input"),
    Setting::new("format", SettingKind::Choice(SourceFormat::NAMES), "from the extension")
        .doc("how the file is written; from its extension when not given"),
    Setting::new("time_field", SettingKind::Text, "none")
        .label("time field")
        .doc("the field holding each event's time; without it the source does not move the clock"),
    Setting::new("time_format", SettingKind::Choice(TimeFormat::NAMES), "\"rfc3339\"")
        .label("time format")
        .doc("how the time field is written"),
    Setting::new("on_bad_row", SettingKind::Choice(BadRowPolicy::NAMES), "\"fail\"")
        .label("bad rows")
        .doc("a row that cannot be read: stop the run, skip it, or write it to the dead-letter file"),
    Setting::new("dead_letter_path", SettingKind::Path, "none")
        .label("dead letters")
        .doc("with on_bad_row = \"dead_letter\": the JSON Lines file bad rows are written to"),
    Setting::new("types", SettingKind::ColumnTypes, "none").doc("CSV only: forced column types"),
    Setting::new("follow", SettingKind::Bool, "false")
        .doc("keep reading the file as it grows (tail -F): a live stream"),
    Setting::new("recording", SettingKind::Path, "none")
        .doc("a live source's recording (eddy run --record), read in place of its stream"),
];

/// A `[[sinks]]` entry, in the order the canonical form writes them.
pub const SINK_SETTINGS: [Setting; 4] = [
    Setting::new("id", SettingKind::Text, "required").doc("the sink's id"),
    Setting::new("inputs", SettingKind::Streams, "required").doc("the streams written, in arrival order"),
    Setting::new("format", SettingKind::Choice(SinkFormat::NAMES), "from the extension")
        .doc("how items are written; from the path's extension when not given"),
    Setting::new("path", SettingKind::Path, "none").label("file").doc("the file written (not for stdout)"),
];

/// The keys every `[[steps]]` entry has, whatever its operator.
pub const STEP_COMMON_SETTINGS: [Setting; 3] = [
    Setting::new("id", SettingKind::Text, "required").doc("names the step everywhere"),
    Setting::new("op", SettingKind::Operator, "required").doc("the operator"),
    Setting::new("inputs", SettingKind::Streams, "none").doc("the streams the step reads"),
];

/// A setting of a step that only some operators take ([`op_settings`] says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepSetting {
    /// `script`: the Rhai script with the operator's functions.
    Script,
    /// `builtin`: a built-in function in place of the script.
    Builtin,
    /// `field`: a field read in place of a function, or a built-in's operand.
    Field,
    /// `max_size`: collect's list size.
    MaxSize,
    /// `timeout`: collect's timeout.
    Timeout,
    /// `insert_mode`: what each side of a join remembers.
    InsertMode,
    /// `emit_mode`: when a join emits.
    EmitMode,
}

impl StepSetting {
    /// Every step setting, in the order the reader takes them (the canonical form writes them
    /// in this order too, but the script last).
    pub const ALL: [StepSetting; 7] = [
        Self::Script,
        Self::Builtin,
        Self::Field,
        Self::MaxSize,
        Self::Timeout,
        Self::InsertMode,
        Self::EmitMode,
    ];

    /// Its description.
    pub fn setting(self) -> &'static Setting {
        &STEP_SETTINGS[self as usize]
    }

    /// Its key in the file.
    pub fn key(self) -> &'static str {
        self.setting().key
    }

    /// Whether `step` sets it.
    pub fn is_set(self, step: &StepSpec) -> bool {
        match self {
            Self::Script => step.script.is_some(),
            Self::Builtin => step.builtin.is_some(),
            Self::Field => step.field.is_some(),
            Self::MaxSize => step.max_size.is_some(),
            Self::Timeout => step.timeout.is_some(),
            Self::InsertMode => step.insert_mode.is_some(),
            Self::EmitMode => step.emit_mode.is_some(),
        }
    }
}

/// The description of each [`StepSetting`], in the order of its variants.
pub const STEP_SETTINGS: [Setting; 7] = [
    Setting::new("script", SettingKind::Script, "none")
        .doc("the Rhai script holding the operator's functions"),
    Setting::new("builtin", SettingKind::Choice(Builtin::NAMES), "none")
        .label("function")
        .doc("a built-in in place of the script"),
    Setting::new("field", SettingKind::Text, "none").doc("a field read in place of a function"),
    Setting::new("max_size", SettingKind::Integer, "none")
        .label("max size")
        .doc("emit a key's list when it holds this many values"),
    Setting::new("timeout", SettingKind::Duration, "none")
        .doc("emit a key's list after this long without a new value"),
    Setting::new("insert_mode", SettingKind::Choice(InsertMode::NAMES), "\"last\"")
        .label("insert mode")
        .doc("what each side of the join remembers"),
    Setting::new("emit_mode", SettingKind::Choice(EmitMode::NAMES), "\"complete\"")
        .label("emit mode")
        .doc("when the join emits rows"),
];

/// The settings (besides id, op, inputs) each operator accepts, in the order its errors list
/// them.
pub fn op_settings(op: OpKind) -> &'static [StepSetting] {
    use StepSetting::{Builtin, EmitMode, Field, InsertMode, MaxSize, Script, Timeout};
    match op {
        OpKind::Map | OpKind::MapValue | OpKind::KeyOn | OpKind::CountFinal => &[Script, Field],
        OpKind::MaxFinal | OpKind::MinFinal => &[Script, Field],
        OpKind::Filter
        | OpKind::FilterMap
        | OpKind::FlatMap
        | OpKind::FilterValue
        | OpKind::FlatMapValue
        | OpKind::Inspect
        | OpKind::Branch
        | OpKind::StatefulFlatMap
        | OpKind::Stateful
        | OpKind::StatefulBatch => &[Script],
        OpKind::KeyRm | OpKind::Merge => &[],
        OpKind::StatefulMap | OpKind::ReduceFinal | OpKind::FoldFinal => &[Script, Builtin, Field],
        OpKind::Collect => &[MaxSize, Timeout],
        OpKind::Join => &[InsertMode, EmitMode],
    }
}

/// Whether `op` takes `setting`.
pub fn op_takes(op: OpKind, setting: StepSetting) -> bool {
    op_settings(op).contains(&setting)
}

/// Every described table, by the heading of docs/file-format.md that documents it: `clock`,
/// `sources`, `steps` (the keys every step has, then the settings), `sinks`.
pub fn described_sections() -> [(&'static str, Vec<Setting>); 4] {
    let steps = STEP_COMMON_SETTINGS.iter().chain(&STEP_SETTINGS).copied().collect();
    [
        ("clock", CLOCK_SETTINGS.to_vec()),
        ("sources", SOURCE_SETTINGS.to_vec()),
        ("steps", steps),
        ("sinks", SINK_SETTINGS.to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ColumnType;

    fn check_names<T: FileEnum + serde::Serialize + std::fmt::Debug>() {
        for value in T::VALUES {
            // The snapshot fingerprint serialises these enums with serde: the names agree.
            assert_eq!(serde_json::to_value(value).unwrap(), value.name());
            assert_eq!(T::from_name(value.name()), Some(*value));
        }
    }

    fn check_default<T: FileEnum + serde::Serialize + Default + std::fmt::Debug>(setting: &Setting) {
        check_names::<T>();
        assert_eq!(setting.default, format!("\"{}\"", T::default().name()), "{}", setting.key);
        let names: Vec<&str> = T::VALUES.iter().map(|v| v.name()).collect();
        assert_eq!(setting.kind, SettingKind::Choice(names.leak()));
    }

    #[test]
    fn described_choices_and_defaults_are_the_enums_own() {
        check_default::<ClockMode>(&CLOCK_SETTINGS[0]);
        check_default::<TimeFormat>(&SOURCE_SETTINGS[4]);
        check_default::<BadRowPolicy>(&SOURCE_SETTINGS[5]);
        check_default::<InsertMode>(StepSetting::InsertMode.setting());
        check_default::<EmitMode>(StepSetting::EmitMode.setting());
        check_names::<SourceFormat>();
        check_names::<SinkFormat>();
        check_names::<ColumnType>();
        check_names::<Builtin>();
    }

    #[test]
    fn every_described_setting_has_a_label_and_a_doc() {
        for (section, settings) in described_sections() {
            for setting in settings {
                assert!(!setting.label.is_empty() && !setting.doc.is_empty(), "{section}: {}", setting.key);
            }
        }
    }

    #[test]
    fn step_settings_are_described_in_the_order_of_their_variants() {
        for setting in StepSetting::ALL {
            let described = STEP_SETTINGS.iter().find(|s| s.key == setting.key());
            assert_eq!(described, Some(setting.setting()));
        }
        let keys: Vec<String> =
            StepSetting::ALL.iter().map(|s| format!("{s:?}").to_lowercase()).collect::<Vec<_>>();
        let described: Vec<String> = STEP_SETTINGS.iter().map(|s| s.key.replace('_', "")).collect();
        assert_eq!(keys, described);
    }
}
