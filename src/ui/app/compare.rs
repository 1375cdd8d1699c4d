//! Run against run in the workbench: the pipeline on screen compared with its saved version or
//! with another file, on a background thread, by the comparison `eddy diff` makes
//! ([`crate::compare`]); the Compare tab shows the result (`panels/compare_ui.rs`) and can
//! take the replay to the first event where the two differ.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, TryRecvError, bounded};

use super::Workbench;
use super::ui::BottomTab;
use crate::compare::{CompareOptions, CompareProgress, Comparison, Version};
use crate::graph::{PipelineDoc, ValidGraph};
use crate::ui::panels::compare_ui::{CompareAction, CompareShown};

/// One comparison: going on, or its result.
pub struct CompareRun {
    /// The shown name of the other version (`a`): a file.
    pub a_name: String,
    /// The shown name of the version on screen (`b`).
    pub b_name: String,
    /// Each version's scripts by step id, to show the lines that differ.
    pub scripts: (BTreeMap<String, String>, BTreeMap<String, String>),
    /// Source events in the replay, when the replay knows them (for the progress bar).
    pub total: Option<u64>,
    progress: Arc<CompareProgress>,
    receiver: Option<Receiver<Result<Comparison, String>>>,
    /// How it ended: the comparison, or why it could not be made.
    pub result: Option<Result<Comparison, String>>,
    /// The pipeline on screen when the comparison started: B, as compared.
    b_doc: PipelineDoc,
}

impl CompareRun {
    /// Starts comparing `a` (the other version, read from `a_file`) with `b` (the pipeline on
    /// screen, `b_doc` its document) on a thread of its own.
    fn start(
        a: ValidGraph,
        a_file: &Path,
        b: (ValidGraph, &PipelineDoc),
        b_name: &str,
        total: Option<u64>,
    ) -> Self {
        let (b, b_doc) = (b.0, b.1.clone());
        let progress = Arc::new(CompareProgress::default());
        let (sender, receiver) = bounded(1);
        let scripts = (scripts_of(&a), scripts_of(&b));
        let (a_path, b_path) = (a_file.to_path_buf(), PathBuf::from(b_name));
        let counted = Arc::clone(&progress);
        let spawned = std::thread::Builder::new().name("eddy-compare".into()).spawn(move || {
            let result = crate::compare::compare(
                Version { graph: &a, name: &a_path },
                Version { graph: &b, name: &b_path },
                &CompareOptions::default(),
                Some(&counted),
            );
            let _ignored = sender.send(result.map_err(|error| error.to_string()));
        });
        let (receiver, result) = match spawned {
            Ok(_) => (Some(receiver), None),
            Err(error) => (None, Some(Err(format!("cannot start the comparison's thread: {error}")))),
        };
        CompareRun {
            a_name: a_file.display().to_string(),
            b_name: b_name.to_owned(),
            scripts,
            total,
            progress,
            receiver,
            result,
            b_doc,
        }
    }

    /// Whether it is still going on.
    pub fn is_running(&self) -> bool {
        self.result.is_none()
    }

    /// Source events compared so far.
    pub fn events(&self) -> u64 {
        self.progress.events()
    }

    /// Takes the result once the thread has sent it.
    fn poll(&mut self) {
        let Some(receiver) = &self.receiver else { return };
        match receiver.try_recv() {
            Ok(result) => {
                self.result = Some(result);
                self.receiver = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                self.result = Some(Err("the comparison's thread ended without a result".to_owned()));
                self.receiver = None;
            }
        }
    }

    /// Whether `doc` is still the B this comparison compared (its layout aside).
    fn compared(&self, doc: &PipelineDoc) -> bool {
        self.b_doc.same_but_layout(doc)
    }

    /// What the Compare tab shows; `changed`: the pipeline on screen is no longer the B compared.
    pub fn shown(&self, changed: bool) -> CompareShown<'_> {
        CompareShown {
            a_name: &self.a_name,
            b_name: &self.b_name,
            scripts: (&self.scripts.0, &self.scripts.1),
            events: self.events(),
            total: self.total,
            result: self.result.as_ref(),
            changed,
        }
    }
}

impl Drop for CompareRun {
    fn drop(&mut self) {
        // A comparison nobody will see stops at its next check.
        self.progress.cancel();
    }
}

/// Each step's script by step id (steps with a built-in have none).
fn scripts_of(graph: &ValidGraph) -> BTreeMap<String, String> {
    graph.doc.steps.iter().filter_map(|step| Some((step.id.clone(), step.script.clone()?))).collect()
}

impl Workbench {
    /// The comparison going on or shown, if any (tests read its result).
    pub fn comparison(&self) -> Option<&CompareRun> {
        self.compare.as_ref()
    }

    /// Takes a finished comparison's result; keeps the frames coming while one runs.
    pub(super) fn poll_compare(&mut self, ctx: &eframe::egui::Context) {
        let Some(compare) = &mut self.compare else { return };
        if !compare.is_running() {
            return;
        }
        compare.poll();
        if compare.is_running() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
            return;
        }
        // Done: the replay jumps to the first divergence, as the Go to button does.
        // Edited while it ran: the replay would show another B than the one compared.
        let jump = match &compare.result {
            Some(Ok(comparison)) if compare.compared(&self.current) => {
                comparison.first.as_ref().map(CompareAction::go_to_first)
            }
            _ => None,
        };
        if let Some(jump) = jump {
            self.compare_action(jump);
        }
    }

    /// Compares the pipeline on screen with the file it was opened from, as saved.
    pub(super) fn compare_with_saved(&mut self, now: f64) {
        let Some(file) = self.document.file.clone() else {
            self.show_toast(
                "this pipeline has no saved version yet: save it first, or compare with another file",
                true,
                now,
            );
            return;
        };
        self.compare_with_file(&file, "the saved version", now);
    }

    /// Compares the pipeline on screen (`b`) with the pipeline file `file` (`a`); `what` names
    /// the file in messages.
    pub(super) fn compare_with_file(&mut self, file: &Path, what: &str, now: f64) {
        let other = match crate::engine::load_and_check(file) {
            Ok(graph) => graph,
            Err(error) => {
                self.report_error(format!("cannot compare with {what} ({}): {error}", file.display()), now);
                return;
            }
        };
        let Some(on_screen) = self.graph_for_replay(now) else { return };
        self.file_dialog = None;
        let total = self.replay.view.as_ref().and_then(|view| view.total);
        let b_name =
            if self.is_dirty() { "the pipeline on screen (edited)" } else { "the pipeline on screen" };
        let b = (on_screen, &self.current);
        self.compare = Some(CompareRun::start(other, file, b, b_name, total));
        self.bottom_tab = BottomTab::Compare;
    }

    /// The Compare tab's view of the comparison, if any.
    pub(super) fn compare_shown(&self) -> Option<CompareShown<'_>> {
        let compare = self.compare.as_ref()?;
        Some(compare.shown(!compare.compared(&self.current)))
    }

    /// Does what the Compare tab asked.
    pub(super) fn compare_action(&mut self, action: CompareAction) {
        match action {
            CompareAction::Cancel => self.compare = None,
            CompareAction::WithSaved => self.pending.push(super::UiCommand::CompareWithSaved),
            CompareAction::WithFile => self.pending.push(super::UiCommand::CompareDialog),
            CompareAction::GoTo { events, step, key } => self.go_to(events, step, key),
        }
    }

    /// Takes the replay of the pipeline on screen to `events` source events, shows `step`
    /// and selects `key` in its state table.
    fn go_to(&mut self, events: Option<u64>, step: Option<String>, key: Option<String>) {
        let Some(ctx) = self.ctx.clone() else { return };
        let stale = self.replay.loaded.as_ref().is_some_and(|loaded| !loaded.same_but_layout(&self.current));
        if stale && events.is_some() {
            self.pending.push(super::UiCommand::ReloadReplay { restart: true });
        }
        if let Some(events) = events {
            self.pending.push(super::UiCommand::Replay(crate::session::Command::Seek(events)));
        }
        if let Some(step) = step {
            self.pending.push(super::UiCommand::InspectId(step.clone()));
            let stateful = self.current.steps.iter().any(|s| s.id == step && s.op.is_stateful());
            if stateful && let Some(key) = key {
                self.pending.push(super::UiCommand::SelectKey { step, key });
            }
        }
        self.bottom_tab = BottomTab::Compare;
        ctx.request_repaint();
    }

    /// Selects `key` in `step`'s state table and follows it (after the step is inspected).
    pub(super) fn select_key(&mut self, step: String, key: String) {
        let Some(ctx) = self.ctx.clone() else { return };
        if self.replay.selected_step.as_deref() != Some(step.as_str()) {
            self.replay.selected_step = Some(step.clone());
            self.replay.send(&ctx, crate::session::Command::Select(Some(step.clone())));
        }
        self.replay.selected_key = Some(key.clone());
        self.replay.send(&ctx, crate::session::Command::WatchKey { step, key });
    }
}
