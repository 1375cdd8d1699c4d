//! The one input both versions replay: `a`'s sources, which `b` must read alike (same ids in
//! the same order, same files, same settings), replayable (no live source) and deterministic
//! (no machine clock); and nothing written on the side (no dead-letter file).

use std::path::Path;

use crate::graph::{BadRowPolicy, ClockMode, SourceSpec, ValidGraph, canonical_path};

use super::CompareError;

/// Refuses two versions that cannot be replayed on one input, naming the source or setting.
pub(super) fn check(
    a: &ValidGraph,
    a_file: &Path,
    b: &ValidGraph,
    b_file: &Path,
) -> Result<(), CompareError> {
    let refuse = |message: String| Err(CompareError::Inputs(message));
    for (graph, file) in [(a, a_file), (b, b_file)] {
        if let Some(source) = graph.doc.sources.iter().find(|s| s.is_live()) {
            return refuse(format!(
                "{}: source `{}` is live (path = \"-\" or follow = true): eddy diff replays files; record the \
                 stream (eddy run --record FILE) and compare on the recording (recording = \"FILE\")",
                file.display(),
                source.id
            ));
        }
        if graph.doc.clock.mode == ClockMode::Wall && graph.doc.sources.iter().any(|s| s.recording.is_none())
        {
            return refuse(format!(
                "{}: [clock] mode = \"wall\" reads the machine's clock, so two replays differ by when they \
                 run: compare with mode = \"replay\" (or on recordings of live sources)",
                file.display()
            ));
        }
    }
    for (index, source) in a.doc.sources.iter().enumerate() {
        let Some(other) = b.doc.sources.iter().find(|s| s.id == source.id) else {
            return refuse(format!(
                "source `{}` of {} is not in {}: eddy diff replays both versions on the sources of {}, which \
                 the other must have too (same ids, same order, same files and settings)",
                source.id,
                a_file.display(),
                b_file.display(),
                a_file.display()
            ));
        };
        if b.doc.sources.get(index).map(|s| &s.id) != Some(&source.id) {
            return refuse(format!(
                "source `{}` is not in the same place among the sources of {} and {}: the order of sources \
                 decides which of two simultaneous events comes first, so it must be the same",
                source.id,
                a_file.display(),
                b_file.display()
            ));
        }
        if let Some(setting) = differing_setting(a, source, b, other) {
            return refuse(format!(
                "source `{}` differs between {} and {} ({setting}): eddy diff replays both versions on the \
                 same input, the sources of {}",
                source.id,
                a_file.display(),
                b_file.display(),
                a_file.display()
            ));
        }
    }
    if let Some(extra) = b.doc.sources.iter().find(|s| !a.doc.sources.iter().any(|x| x.id == s.id)) {
        return refuse(format!(
            "source `{}` of {} is not in {}: eddy diff replays both versions on the sources of {}",
            extra.id,
            b_file.display(),
            a_file.display(),
            a_file.display()
        ));
    }
    Ok(())
}

/// The first setting in which two sources of the same id differ (paths resolved against each
/// pipeline file's folder; where bad rows are dead-lettered does not count).
fn differing_setting(a: &ValidGraph, x: &SourceSpec, b: &ValidGraph, y: &SourceSpec) -> Option<String> {
    let file = |graph: &ValidGraph, path: &Path| canonical_path(&graph.resolve(path));
    if file(a, &x.path) != file(b, &y.path) {
        return Some(format!(
            "it reads {} in one, {} in the other",
            file(a, &x.path).display(),
            file(b, &y.path).display()
        ));
    }
    let recording = |graph: &ValidGraph, s: &SourceSpec| s.recording.as_deref().map(|p| file(graph, p));
    let differs = [
        ("format", x.effective_format() != y.effective_format()),
        ("time_field", x.time_field != y.time_field),
        ("time_format", x.time_format != y.time_format),
        ("on_bad_row", x.on_bad_row != y.on_bad_row),
        ("types", x.types != y.types),
        ("follow", x.follow != y.follow),
        ("recording", recording(a, x) != recording(b, y)),
    ];
    differs.iter().find(|(_, differs)| *differs).map(|(name, _)| format!("its `{name}` setting"))
}

/// The graph with each dead-lettering source skipping its bad rows instead: the same events
/// reach the steps, and no dead-letter file is written.
pub(super) fn without_dead_letters(mut graph: ValidGraph) -> ValidGraph {
    for source in &mut graph.doc.sources {
        if source.on_bad_row == BadRowPolicy::DeadLetter {
            source.on_bad_row = BadRowPolicy::Skip;
            source.dead_letter_path = None;
        }
    }
    graph
}
