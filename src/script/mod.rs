//! Rhai user functions: the sandboxed engine ([`ScriptHost`]), a step's compiled script
//! ([`Script`]) and errors that name the step, the function and the script line ([`ScriptError`]).

mod compiled;
mod error;
mod fast;
mod fields;
mod function_body;
mod guard;
mod host;
mod output;

pub use compiled::{DISCARD, RETAIN, Script};
pub use error::{ScriptError, ScriptResult};
pub use fast::{Answer, FastFn};
pub use fields::param_fields;
pub use guard::{nested_deeper_than, resident_bytes};
pub use host::{ScriptHost, ScriptLimits, script_clock, set_script_clock};
pub use output::{
    ScriptOutput, capture_script_output, has_script_output, set_print_context, take_script_output,
};

/// The stack of a thread that runs scripts (the runner's, the workbench's session): large, so
/// that a deeply nested value a call builds before its time limit stops it is cloned, measured
/// and dropped without overflowing. Only the pages used are ever resident.
pub const ENGINE_STACK_SIZE: usize = 256 * 1024 * 1024;
