//! Whole runs in one call: load, check, run to the end.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Engine, EngineOptions, RunError};
use crate::graph::{GraphErrors, ProblemKind, ValidGraph};

/// Loads a pipeline file and checks it (structure and scripts), all problems at once.
pub fn load_and_check(path: &Path) -> Result<ValidGraph, RunError> {
    load_and_check_with(path, None)
}

/// [`load_and_check`], and the files of the run against the pipeline file itself and against
/// the snapshot folder `snapshot_dir` (none may be written over another).
pub fn load_and_check_with(path: &Path, snapshot_dir: Option<&Path>) -> Result<ValidGraph, RunError> {
    let text = crate::graph::read_text(path).map_err(RunError::Invalid)?;
    let partial = crate::graph::parse_lenient(&text, path).map_err(RunError::Invalid)?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base_dir = if base_dir.as_os_str().is_empty() { std::path::PathBuf::from(".") } else { base_dir };
    let checked = check_with_paths(&partial.doc, &base_dir, Some(path), snapshot_dir);
    if partial.problems.is_empty() {
        return checked.map_err(RunError::Invalid);
    }
    // Report what could not be read, then what the rest has, without the echo of entries
    // that were left out (an input naming an unreadable step).
    let mut problems = partial.problems;
    if let Err(more) = checked {
        problems.extend(more.0.into_iter().filter(|p| match &p.kind {
            ProblemKind::UnknownInput(name) => !partial.unreadable.iter().any(|id| id == name),
            ProblemKind::Other => true,
        }));
    }
    Err(RunError::Invalid(GraphErrors(problems)))
}

/// Checks `doc` (structure and scripts) and the files of its run against each other, against
/// the pipeline file `file` and against the snapshot folder `snapshot_dir` (none may be written
/// over another): every problem at once. What `eddy run` and the workbench's *Run* check.
pub(crate) fn check_with_paths(
    doc: &crate::graph::PipelineDoc,
    base_dir: &Path,
    file: Option<&Path>,
    snapshot_dir: Option<&Path>,
) -> Result<ValidGraph, GraphErrors> {
    let checked = super::check(doc, base_dir);
    let collisions = crate::graph::path_collisions(doc, base_dir, file, snapshot_dir);
    let known = match &checked {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.clone(),
    };
    let extra: Vec<_> = collisions.into_iter().filter(|c| !known.contains(c)).collect();
    if extra.is_empty() { checked } else { Err(GraphErrors(known.into_iter().chain(extra).collect())) }
}

/// Runs a pipeline file to the end with every sink captured in memory (nothing is written
/// to disk or stdout); returns each sink's output as JSON Lines, one String per item.
pub fn run_captured(path: &Path) -> Result<BTreeMap<String, Vec<String>>, RunError> {
    let graph = load_and_check(path)?;
    let options = EngineOptions { capture_sinks: true, ..EngineOptions::default() };
    let mut engine = Engine::new(graph, &options)?;
    engine.run_to_end()?;
    Ok(engine.captured())
}
