//! Eddy: a workbench and a runner for stateful stream pipelines.
//!
//! Crate map (dependencies point down only; nothing below `cli`/`ui` knows of them):
//! - [`cli`]: the `eddy` command line (`run`, `check`, `bench`, `open`).
//! - `ui` (feature `gui`): the workbench.
//! - [`engine`]: the deterministic executor ([`engine::Engine`]), clock, timers, snapshots.
//! - [`ops`]: the operators, one module per family, behind [`ops::Operator`].
//! - [`script`]: the sandboxed Rhai host ([`script::ScriptHost`]) and compiled scripts.
//! - [`io`]: replay sources ([`io::Source`]) and sinks ([`io::Sink`]).
//! - [`graph`]: the pipeline file ([`graph::PipelineDoc`]) and its validation ([`graph::ValidGraph`]).
//! - [`value`], [`time`]: value comparison and time helpers (leaves).

pub mod cli;
pub mod engine;
pub mod graph;
pub mod io;
pub mod ops;
pub mod script;
pub mod time;
#[cfg(feature = "gui")]
pub mod ui;
pub mod value;

pub use engine::{RunError as Error, run_captured};
