//! Eddy's integration tests: one test binary, one module per concern.

mod conformance;
mod examples;
mod util;
