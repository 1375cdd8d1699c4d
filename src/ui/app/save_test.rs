//! *File → Save as test…*: the open pipeline file made a regression test folder through the
//! same rules as `eddy test --save` ([`crate::regression::save_folder`]). A test replays a file,
//! so it is made from the pipeline as saved: with unsaved edits it is refused (the dialog offers
//! to save them first), never made silently from an older file. The keys the user looks at in
//! the replay (the watched key, the key selected in the state table) become per-key state
//! checkpoints at the replay's position.

use std::path::Path;

use super::Workbench;
use crate::regression::{PIPELINE_FILE, Saved, StateCheckpoint, save_folder_with};

impl Workbench {
    /// Writes the test folder `folder` from the open pipeline file; why not, naming the folder or
    /// the source at fault (untitled or unsaved edits, a folder not empty, a live source, the
    /// wall clock, an input outside the pipeline's folder, a failing replay).
    pub(super) fn save_test(&self, folder: &Path) -> Result<Saved, String> {
        let Some(pipeline) = self.document.file.as_deref() else {
            return Err("the pipeline is untitled: save it first, a test folder is made from its file".into());
        };
        if self.is_dirty() {
            return Err(unsaved_message(pipeline));
        }
        save_folder_with(folder, pipeline, &self.test_checkpoints())
            .map_err(|e| format!("cannot save the test: {e}"))
    }

    /// The keys the user looks at in the replay, at its position: the watched key and the key
    /// selected in the state table (of steps the pipeline has).
    pub(super) fn test_checkpoints(&self) -> Vec<StateCheckpoint> {
        let Some(view) = self.replay_view() else { return Vec::new() };
        let watched = view.watch.as_ref().map(|series| (series.step.clone(), series.key.clone()));
        let selected = self.replay.selected_step.clone().zip(self.replay.selected_key.clone());
        let mut checkpoints: Vec<StateCheckpoint> = watched
            .into_iter()
            .chain(selected)
            .filter(|(step, _)| self.current.steps.iter().any(|s| s.id == *step))
            .map(|(step, key)| StateCheckpoint { event: view.position, step, key })
            .collect();
        checkpoints.dedup();
        checkpoints
    }

    /// A folder for a new test beside the open file: `NAME-test` (or `NAME-test-2`, … when it is
    /// taken).
    pub(super) fn save_test_start(&self) -> String {
        let stem = self
            .document
            .file
            .as_deref()
            .and_then(Path::file_stem)
            .map_or_else(|| "pipeline".to_owned(), |s| s.to_string_lossy().into_owned());
        let candidate = super::files::first_free(&self.base_dir(), |n| match n {
            None => format!("{stem}-test"),
            Some(n) => format!("{stem}-test-{n}"),
        });
        candidate.display().to_string()
    }
}

/// Why a pipeline with unsaved edits is not made a test.
pub(super) fn unsaved_message(pipeline: &Path) -> String {
    format!(
        "{} has unsaved edits: a test is made from the file as saved, so save first (Save and make the test)",
        pipeline.display()
    )
}

/// The notice after a test folder was written: where, what it holds, how to run it.
pub(super) fn saved_notice(saved: &Saved) -> String {
    let sinks: Vec<String> = saved.sinks.iter().map(|(sink, n)| format!("`{sink}` {n} lines")).collect();
    let checkpoints = match saved.checkpoints {
        0 => String::new(),
        n => format!(", {n} state checkpoint(s)"),
    };
    format!(
        "Saved the test {}: {PIPELINE_FILE}, {} input file(s), expected outputs of {}{checkpoints}. Run it with: eddy test {}",
        saved.folder.display(),
        saved.inputs.len(),
        sinks.join(", "),
        shell_word(&saved.folder)
    )
}

/// `path` as one shell word (quoted when it has a space or a quote).
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().any(|c| c.is_whitespace() || "'\"$`\\".contains(c)) {
        format!("'{}'", text.replace('\'', r"'\''"))
    } else {
        text
    }
}

/// What the dialog says about the checkpoints the test will hold.
pub(super) fn checkpoints_note(checkpoints: &[StateCheckpoint]) -> String {
    if checkpoints.is_empty() {
        return "No state checkpoint: watch or select a key in the replay to check its state too.".into();
    }
    let each: Vec<String> = checkpoints.iter().map(ToString::to_string).collect();
    format!("State checkpoints: {}", each.join("; "))
}
