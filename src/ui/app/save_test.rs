//! *File → Save as test…*: the open pipeline file made a regression test folder through the
//! same rules as `eddy test --save` ([`crate::regression::save_folder`]). A test replays a file,
//! so it is made from the pipeline as saved: with unsaved edits it is refused (the dialog offers
//! to save them first), never made silently from an older file. The keys the user looks at in
//! the replay (the watched key, the key selected in the state table) become per-key state
//! checkpoints at the replay's position.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, TryRecvError, bounded};

use super::Workbench;
use crate::regression::{PIPELINE_FILE, Saved, StateCheckpoint, save_folder_with};

/// A test folder being written on a background thread (its replay may take a while: the window
/// stays live and says so).
pub struct SavingTest {
    /// The folder being written.
    pub folder: PathBuf,
    receiver: Receiver<Result<Saved, String>>,
}

impl Workbench {
    /// Starts writing the test folder `folder` from the open pipeline file on a background
    /// thread; why not, at once, when it is untitled or has unsaved edits, or a test is being
    /// written already. The replay's own refusals (a folder not empty, a live source, the wall
    /// clock, an input outside the pipeline's folder, a failing replay) come with the result.
    pub(super) fn start_save_test(&mut self, folder: &Path) -> Result<(), String> {
        let Some(pipeline) = self.document.file.clone() else {
            return Err("the pipeline is untitled: save it first, a test folder is made from its file".into());
        };
        if self.is_dirty() {
            return Err(unsaved_message(&pipeline));
        }
        if let Some(saving) = &self.saving_test {
            return Err(format!(
                "a test is being written into {} already: wait for it",
                saving.folder.display()
            ));
        }
        let checkpoints = self.test_checkpoints();
        let (sender, receiver) = bounded(1);
        let target = folder.to_path_buf();
        std::thread::Builder::new()
            .name("eddy-save-test".into())
            .stack_size(crate::script::ENGINE_STACK_SIZE)
            .spawn(move || {
                let saved = save_folder_with(&target, &pipeline, &checkpoints)
                    .map_err(|e| format!("cannot save the test: {e}"));
                let _ignored = sender.send(saved);
            })
            .map_err(|e| format!("cannot save the test: no thread for it ({e})"))?;
        self.saving_test = Some(SavingTest { folder: folder.to_path_buf(), receiver });
        Ok(())
    }

    /// Whether a test folder is being written.
    pub fn is_saving_test(&self) -> bool {
        self.saving_test.is_some()
    }

    /// Takes the result of the test folder being written, when it has come: the dialog closes
    /// with a notice, or says why not.
    pub(super) fn poll_save_test(&mut self, ctx: &eframe::egui::Context, now: f64) {
        let Some(saving) = &self.saving_test else { return };
        let result = match saving.receiver.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => {
                ctx.request_repaint_after(std::time::Duration::from_millis(100));
                return;
            }
            Err(TryRecvError::Disconnected) => {
                Err("cannot save the test: its thread ended without a result".into())
            }
        };
        self.saving_test = None;
        self.save_test_done(result, now);
    }

    fn save_test_done(&mut self, result: Result<Saved, String>, now: f64) {
        match result {
            Ok(saved) => {
                self.file_dialog = None;
                // Long enough to read and copy the `eddy test` command.
                self.show_toast_for(saved_notice(&saved), false, 12.0, now);
            }
            Err(message) => self.report_error(message, now),
        }
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
