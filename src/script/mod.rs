//! Rhai user functions: the sandboxed engine ([`ScriptHost`]), a step's compiled script
//! ([`Script`]) and errors that name the step, the function and the script line ([`ScriptError`]).

mod compiled;
mod error;
mod fast;
mod fields;
mod host;

pub use compiled::{DISCARD, RETAIN, Script};
pub use error::{ScriptError, ScriptResult};
pub use fast::{FastFn, FastLimits};
pub use fields::param_fields;
pub use host::{ScriptHost, ScriptLimits, script_clock, set_script_clock};
