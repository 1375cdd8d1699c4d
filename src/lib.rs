//! Eddy: a workbench and a runner for stateful stream pipelines.
//!
//! Crate map (dependencies point down only; nothing below `cli`/`ui` knows of them; each layer's
//! job is in docs/architecture.md, the rules it keeps in the other pages of `docs/`):
//! - [`cli`]: the `eddy` command line (`run`, `check`, `diff`, `test`, `bench`, `open`).
//! - `ui` (feature `gui`): the workbench.
//! - [`compare`]: run against run: two versions of a pipeline replayed in lockstep and
//!   compared event by event (`eddy diff`).
//! - [`regression`]: a recorded run as a regression test: a folder of pipeline, inputs and
//!   expected sink lines, replayed and compared (`eddy test`).
//! - [`session`]: the workbench's engine thread ([`session::spawn`] → [`session::SessionHandle`]),
//!   commands in, views out, over the synchronous replay state machine [`session::Playback`].
//! - [`engine`]: the deterministic executor ([`engine::Engine`]), clock, timers, snapshots.
//! - [`ops`]: the operators, one module per family, behind [`ops::Operator`].
//! - [`script`]: the sandboxed Rhai host ([`script::ScriptHost`]) and compiled scripts.
//! - [`io`]: replay sources ([`io::Source`]) and sinks ([`io::Sink`]).
//! - [`graph`]: the pipeline file ([`graph::PipelineDoc`]) and its validation ([`graph::ValidGraph`]).
//! - [`value`], [`time`]: value comparison and time helpers (leaves).
//!
//! # Example
//!
//! A running count per user, run to the end with its sink captured in memory:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("clicks.csv"),
//!     "ts,user\n2024-01-01T00:00:00Z,ann\n2024-01-01T00:00:01Z,bob\n2024-01-01T00:00:02Z,ann\n",
//! )?;
//! std::fs::write(
//!     dir.path().join("count.toml"),
//!     r#"
//! format_version = 1
//!
//! [[sources]]
//! id = "clicks"
//! path = "clicks.csv"
//! time_field = "ts"
//!
//! [[steps]]
//! id = "by_user"
//! op = "key_on"
//! inputs = ["clicks"]
//! field = "user"
//!
//! [[steps]]
//! id = "running"
//! op = "stateful_map"
//! inputs = ["by_user"]
//! script = '''
//! fn mapper(state, click) {
//!     let n = (state ?? 0) + 1;
//!     [n, n]
//! }
//! '''
//!
//! [[sinks]]
//! id = "out"
//! inputs = ["running"]
//! format = "jsonl"
//! path = "out.jsonl"
//! "#,
//! )?;
//! let outputs = eddy::run_captured(&dir.path().join("count.toml"))?;
//! assert_eq!(outputs["out"], ["[\"ann\",1]", "[\"bob\",1]", "[\"ann\",2]"]);
//! # Ok(())
//! # }
//! ```

/// `eprintln!` that never panics: with standard error closed (`eddy run p.toml 2>&1 | head`)
/// the line is lost instead of the run ending in a panic.
#[macro_export]
macro_rules! eprintln_lossy {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _lost = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see [`eprintln_lossy!`]).
#[macro_export]
macro_rules! eprint_lossy {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _lost = ::std::write!(::std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics: with standard output closed (`eddy bench | head -3`) the
/// line is lost instead of the process ending in a panic.
#[macro_export]
macro_rules! println_lossy {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _lost = ::std::writeln!(::std::io::stdout(), $($arg)*);
    }};
}

pub mod cli;
pub mod compare;
pub mod engine;
pub mod graph;
pub mod io;
pub mod ops;
pub mod regression;
pub mod script;
pub mod session;
pub mod time;
#[cfg(feature = "gui")]
pub mod ui;
pub mod value;
pub mod workers;

pub use engine::{RunError as Error, run_captured};
