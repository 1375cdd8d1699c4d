//! Eddy's integration tests: one test binary, one module per concern.

mod conformance;
mod errors;
mod examples;
mod util;
