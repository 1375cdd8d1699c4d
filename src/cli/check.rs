//! `eddy check`: every problem of a pipeline, at once.

use std::path::Path;

use crate::engine::{RunError, load_and_check};

/// Checks a pipeline file; returns the exit code (0 valid, 2 invalid).
pub fn check_command(file: &Path) -> u8 {
    match load_and_check(file) {
        Ok(graph) => {
            let doc = &graph.doc;
            crate::eprintln_lossy!(
                "{}: valid ({} sources, {} steps, {} sinks)",
                file.display(),
                doc.sources.len(),
                doc.steps.len(),
                doc.sinks.len()
            );
            0
        }
        Err(RunError::Invalid(problems)) => {
            crate::eprint_lossy!("{}: {problems}", file.display());
            2
        }
        Err(other) => {
            crate::eprintln_lossy!("{}: {other}", file.display());
            other.exit_code()
        }
    }
}
