//! Eddy's integration tests: one test binary, one module per concern.

mod cli;
mod conformance;
mod errors;
mod examples;
mod snapshots;
mod util;
