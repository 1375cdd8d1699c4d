//! The pipeline model: the file format, its document type and validation.
//!
//! Entry points: [`load_file`] / [`parse_str`] give a [`PipelineDoc`]; [`validate`] turns it
//! into a [`ValidGraph`], the only thing the engine accepts. Every key of the file, with its
//! kind, default and doc, and which operator takes which setting, is described once in
//! `settings` ([`Setting`], [`StepSetting`], [`op_settings`]). Imports nothing else of the
//! crate but the leaf [`crate::time`] helpers.

mod edit;
mod error;
mod file;
mod layout;
mod limits;
mod model;
mod paths;
mod rebase;
mod settings;
mod validate;
mod write;

pub use edit::{all_ids, id_problem, unique_id, wire_problems};
pub use error::{GraphError, GraphErrors, Place, ProblemKind, did_you_mean, hint};
pub use file::{
    PartialDoc, load_file, parse_lenient, parse_str, read_text, save_file, write_text_atomically,
};
pub use layout::EditorLayout;
pub use limits::{ByteSize, LIMITS_KEYS, LimitsSpec, MAX_DEPTH_CAP, parse_byte_size};
pub use model::{
    BadRowPolicy, Builtin, ClockMode, ClockSpec, ColumnType, EmitMode, FORMAT_VERSION, InsertMode, OpFamily,
    OpKind, PipelineDoc, STDIN_PATH, SinkFormat, SinkSpec, SourceFormat, SourceSpec, StepSpec, TimeFormat,
};
pub use paths::{
    canonical_path, output_path_problem, path_collisions, record_path_problem, without_gz_suffix,
};
pub use rebase::{Rebased, rebase_paths};
pub use settings::{
    CLOCK_SETTINGS, FileEnum, SINK_SETTINGS, SOURCE_SETTINGS, STEP_COMMON_SETTINGS, STEP_SETTINGS, Setting,
    SettingKind, StepSetting, described_sections, keys, op_settings, op_takes,
};
pub use validate::{BRANCH_PORTS, CompiledArtifacts, StreamRef, ValidGraph, validate};
pub use write::{to_canonical_toml, to_toml_over};
