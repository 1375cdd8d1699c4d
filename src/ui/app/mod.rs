//! The workbench application: the open document, its canvas, the edit history and the panels'
//! state. Split like Rerun's viewer app: this file holds the state, `ui.rs` lays out the frame,
//! `command_handling.rs` applies what the panels asked for, `files.rs` reads and writes files.

mod command_handling;
mod compare;
mod files;
mod history;
mod replay;
mod save_test;
mod ui;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eframe::egui::{self, Rect, emath::TSTransform};
use egui_snarl::{NodeId, Snarl};

pub use self::command_handling::UiCommand;
pub use self::compare::CompareRun;
use self::files::{FileDialog, PathPick, RecentFiles};
use self::history::{Checkpoint, History};
use self::replay::Replay;
use self::ui::BottomTab;
use crate::graph::{GraphError, PipelineDoc};
use crate::ui::editor::convert::{doc_to_snarl, snarl_to_doc};
use crate::ui::editor::node::EditorNode;
use crate::ui::panels::inspector_ui::InspectorState;

/// Seconds after the last edit before the pipeline is checked again (scripts compiled).
const CHECK_DELAY_SECONDS: f64 = 0.3;

/// How the workbench starts.
#[derive(Debug, Clone, Default)]
pub struct WorkbenchOptions {
    /// The pipeline to open; `None` starts with an empty, untitled pipeline.
    pub file: Option<PathBuf>,
    /// Where the recent-files list is kept; `None` uses the user's config folder.
    pub config_dir: Option<PathBuf>,
}

/// When the pipeline on screen is checked again (scripts compiled), so typing never waits on it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CheckDue {
    /// Checked; nothing changed since.
    Idle,
    /// On the next frame (a file was opened or moved).
    Now,
    /// An edit was just made: [`CHECK_DELAY_SECONDS`] after the frame that sees it.
    AfterPause,
    /// At this time (seconds of the UI clock), unless another edit moves it.
    At(f64),
}

/// The document being edited and what belongs to it.
struct Document {
    /// The file it was opened from or saved to; `None` while untitled.
    file: Option<PathBuf>,
    /// The file's text when it was opened or last saved: saving writes over it, keeping comments.
    original_text: Option<String>,
    /// What the canvas does not hold: format version, clock, other editor keys.
    base: PipelineDoc,
    /// The document as last saved (or opened), for the unsaved-changes marker.
    saved: PipelineDoc,
    /// What was wrong in the file as opened (unknown keys, operator typos): listed in the
    /// Problems panel until the file is saved from the canvas.
    read_problems: Vec<GraphError>,
}

/// A short message over the canvas (a refused wire, a saved file).
struct Toast {
    text: String,
    is_error: bool,
    until: f64,
}

/// The workbench window's state.
pub struct Workbench {
    document: Document,
    snarl: Snarl<EditorNode>,
    /// The document the canvas gives, rebuilt after every frame.
    current: PipelineDoc,
    history: History,
    /// Problems: the canvas's own (unconnected pins) and the last check's.
    problems: Vec<GraphError>,
    canvas_problems: Vec<GraphError>,
    /// When the current document is due to be checked (after typing pauses).
    check_due: CheckDue,
    checked: Option<PipelineDoc>,
    /// The last check that passed, with the document it checked: a Play or a reload of that
    /// same document hands this graph to the session, which then checks nothing again.
    valid: Option<(PipelineDoc, crate::graph::ValidGraph)>,
    inspected: Option<NodeId>,
    inspector: InspectorState,
    palette_search: String,
    toolbar_search: String,
    toast: Option<Toast>,
    file_dialog: Option<FileDialog>,
    /// Waiting for "discard unsaved changes?" before doing this.
    confirm_discard: Option<UiCommand>,
    /// What to do once the Save As dialog opened by "Save" in the unsaved-changes dialog has
    /// saved (dropped when that dialog is closed).
    after_save: Option<UiCommand>,
    recent: RecentFiles,
    replay: Replay,
    /// The egui context, for the session's waker (set on the first frame).
    ctx: Option<egui::Context>,
    /// Shows the frame-time line while playing (View → Developer overlay); off by default.
    developer_overlay: bool,
    dark_mode: bool,
    node_rects: BTreeMap<NodeId, Rect>,
    canvas_rect: Option<Rect>,
    transform: Option<TSTransform>,
    fit_pending: bool,
    /// The last Fit could not show the whole graph at a readable zoom (it scrolls instead).
    fit_too_wide: bool,
    /// The inspector panel is shown (View → Inspector, Ctrl+I; selecting another node shows it).
    inspector_open: bool,
    /// The node the inspector showed last frame, to open the panel when another is selected.
    inspector_seen: Option<NodeId>,
    seen_transform: Option<TSTransform>,
    clipboard: Vec<EditorNode>,
    last_title: String,
    pending: Vec<UiCommand>,
    bottom_tab: BottomTab,
    path_pick: Option<PathPick>,
    /// The run going on (*Run*, Ctrl+Enter): `eddy run` on a background thread.
    run: Option<crate::engine::BackgroundRun>,
    /// How the last run ended, until dismissed.
    run_report: Option<crate::engine::RunReport>,
    /// The comparison with another version going on or shown (the Compare tab).
    compare: Option<compare::CompareRun>,
    /// A test folder being written (*Save as test…*).
    saving_test: Option<save_test::SavingTest>,
}

impl Workbench {
    /// A workbench on a file (problems opening it are shown, never fatal) or an empty pipeline.
    pub fn new(options: WorkbenchOptions) -> Self {
        let empty = empty_doc();
        let snarl = Snarl::new();
        let mut workbench = Self {
            document: Document {
                file: None,
                original_text: None,
                base: empty.clone(),
                saved: empty.clone(),
                read_problems: Vec::new(),
            },
            history: History::new(Checkpoint { snarl: snarl.clone(), doc: empty.clone() }),
            snarl,
            current: empty,
            problems: Vec::new(),
            canvas_problems: Vec::new(),
            check_due: CheckDue::Now,
            checked: None,
            valid: None,
            inspected: None,
            inspector: InspectorState::default(),
            palette_search: String::new(),
            toolbar_search: String::new(),
            toast: None,
            file_dialog: None,
            confirm_discard: None,
            after_save: None,
            recent: RecentFiles::load(options.config_dir),
            replay: Replay::new(),
            ctx: None,
            developer_overlay: false,
            dark_mode: true,
            node_rects: BTreeMap::new(),
            canvas_rect: None,
            transform: None,
            fit_pending: true,
            fit_too_wide: false,
            inspector_open: true,
            inspector_seen: None,
            seen_transform: None,
            clipboard: Vec::new(),
            last_title: String::new(),
            pending: Vec::new(),
            bottom_tab: BottomTab::default(),
            path_pick: None,
            run: None,
            run_report: None,
            compare: None,
            saving_test: None,
        };
        if let Some(file) = options.file
            && let Err(message) = workbench.open_file(&file)
        {
            workbench.show_toast(message, true, 0.0);
        }
        workbench
    }

    /// The document the canvas currently shows (what Save would write).
    pub fn current_doc(&self) -> &PipelineDoc {
        &self.current
    }

    /// The open file, if the pipeline has one.
    pub fn file(&self) -> Option<&Path> {
        self.document.file.as_deref()
    }

    /// Whether the pipeline has changes that are not saved.
    pub fn is_dirty(&self) -> bool {
        self.current != self.document.saved
    }

    /// The problems shown in the validation panel.
    pub fn problems(&self) -> &[GraphError] {
        &self.problems
    }

    /// The canvas (for tests that check nodes and wires).
    pub fn snarl(&self) -> &Snarl<EditorNode> {
        &self.snarl
    }

    /// The nodes not wholly inside the canvas's visible area, by id: what a Fit leaves out
    /// (for tests, and to tell the user the graph is wider than the view).
    pub fn nodes_out_of_view(&self) -> Vec<String> {
        let (Some(view), Some(transform)) = (self.canvas_rect, self.transform.or(self.seen_transform)) else {
            return Vec::new();
        };
        self.snarl
            .nodes_pos_ids()
            .filter(|(id, _, _)| {
                self.node_rects.get(id).is_none_or(|rect| !view.contains_rect(transform.mul_rect(*rect)))
            })
            .map(|(_, _, node)| node.id().to_owned())
            .collect()
    }

    /// Whether the inspector panel is shown.
    pub fn inspector_open(&self) -> bool {
        self.inspector_open
    }

    /// The replay's last view, if a pipeline is loaded in it.
    pub fn replay_view(&self) -> Option<&crate::session::RunView> {
        self.replay.view.as_deref()
    }

    /// Whether a *Run* is going on.
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// How the last *Run* ended (until its result is dismissed).
    pub fn run_report(&self) -> Option<&crate::engine::RunReport> {
        self.run_report.as_ref()
    }

    /// Takes the report of a run that has ended.
    fn poll_run(&mut self, ctx: &egui::Context) {
        let Some(run) = &mut self.run else { return };
        match run.report() {
            Some(report) => {
                self.run_report = Some(report.clone());
                self.run = None;
            }
            None => ctx.request_repaint_after(std::time::Duration::from_millis(100)),
        }
    }

    /// The breakpoints set (as last sent to the replay).
    pub fn replay_breakpoints(&self) -> &[crate::session::Breakpoint] {
        &self.replay.breakpoints
    }

    /// Frame times (seconds) recorded while the replay was moving, oldest first.
    pub fn frame_times(&self) -> Vec<f32> {
        self.replay.frame_times.iter().copied().collect()
    }

    /// Tells the session which step's state to send: the inspected one.
    fn sync_selection(&mut self, ctx: &egui::Context) {
        if !self.replay.is_loaded() {
            return;
        }
        let step = self.inspected.and_then(|n| self.snarl.get_node(n)).and_then(|n| match &n.body {
            crate::ui::editor::node::NodeBody::Step(step) if step.op.is_stateful() => Some(step.id.clone()),
            _ => None,
        });
        if step.is_some() && step != self.replay.selected_step {
            self.replay.selected_step = step.clone();
            self.replay.selected_key = None;
            self.replay.send(ctx, crate::session::Command::Select(step));
        }
    }

    /// Asks the workbench to do something, as if from its menus (tests, and `eddy open`).
    pub fn command(&mut self, command: UiCommand) {
        self.pending.push(command);
    }

    /// The folder the pipeline's relative paths start from.
    fn base_dir(&self) -> PathBuf {
        self.document
            .file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default()
    }

    /// Replaces the canvas with a document's (open, new, undo).
    fn load_canvas(&mut self, snarl: Snarl<EditorNode>) {
        self.snarl = snarl;
        self.inspected = None;
        self.inspector = InspectorState::default();
        self.node_rects.clear();
        self.refresh_current();
        self.check_due = CheckDue::Now;
    }

    /// Rebuilds the document from the canvas.
    fn refresh_current(&mut self) {
        let (doc, canvas_problems) = snarl_to_doc(&self.snarl, &self.document.base);
        if doc != self.current {
            self.check_due = CheckDue::AfterPause;
        }
        self.current = doc;
        self.canvas_problems = canvas_problems;
    }

    /// Starts over with a new document (history cleared).
    fn reset_document(&mut self, document: Document, doc: &PipelineDoc) {
        let snarl = doc_to_snarl(doc);
        self.document = document;
        self.document.base = doc.clone();
        self.load_canvas(snarl);
        // The automatic layout of a file without positions is not an unsaved change.
        self.document.saved = self.current.clone();
        self.history = History::new(Checkpoint { snarl: self.snarl.clone(), doc: self.current.clone() });
        self.fit_pending = true;
        self.checked = None;
        // A replay of the previous pipeline has nothing to show for this one, nor a comparison.
        self.replay = Replay::new();
        self.compare = None;
    }

    /// Runs the checks `eddy check` runs, once typing has paused.
    fn check_if_due(&mut self, now: f64) {
        match self.check_due {
            CheckDue::Idle => return,
            CheckDue::AfterPause => {
                self.check_due = CheckDue::At(now + CHECK_DELAY_SECONDS);
                return;
            }
            CheckDue::At(due) if now < due => return,
            CheckDue::At(_) | CheckDue::Now => {}
        }
        self.check_due = CheckDue::Idle;
        if self.checked.as_ref() == Some(&self.current) {
            return;
        }
        let mut problems = self.document.read_problems.clone();
        for problem in &self.canvas_problems {
            if !problems.contains(problem) {
                problems.push(problem.clone());
            }
        }
        match crate::engine::check(&self.current, &self.base_dir()) {
            Ok(graph) => self.valid = Some((self.current.clone(), graph)),
            Err(errors) => {
                for error in errors.0 {
                    if !problems.contains(&error) {
                        problems.push(error);
                    }
                }
            }
        }
        // What `eddy check` adds with the file in hand: no output over the pipeline file.
        let file = self.document.file.as_deref();
        for collision in crate::graph::path_collisions(&self.current, &self.base_dir(), file, None) {
            if !problems.contains(&collision) {
                problems.push(collision);
            }
        }
        self.problems = problems;
        self.checked = Some(self.current.clone());
    }

    fn show_toast(&mut self, text: impl Into<String>, is_error: bool, now: f64) {
        self.show_toast_for(text, is_error, if is_error { 6.0 } else { 3.0 }, now);
    }

    /// A toast that stays `seconds` (a notice with a command to copy needs longer).
    fn show_toast_for(&mut self, text: impl Into<String>, is_error: bool, seconds: f64, now: f64) {
        self.toast = Some(Toast { text: text.into(), is_error, until: now + seconds });
    }

    fn title(&self) -> String {
        let name = self
            .document
            .file
            .as_deref()
            .and_then(Path::file_name)
            .map_or_else(|| "untitled".to_owned(), |n| n.to_string_lossy().into_owned());
        let marker = if self.is_dirty() { " •" } else { "" };
        format!("{name}{marker} — Eddy")
    }
}

/// A new, empty pipeline document.
fn empty_doc() -> PipelineDoc {
    PipelineDoc { format_version: crate::graph::FORMAT_VERSION, ..PipelineDoc::default() }
}

impl eframe::App for Workbench {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
            // egui's fonts lack symbols the workbench shows (→, ⊡, ✓): see `theme::fonts`.
            ctx.set_fonts(crate::ui::theme::fonts());
            // Scroll bars that take their own room: egui's floating ones cover the last column
            // (the snapshot list's A/B buttons, a table's right edge).
            ctx.all_styles_mut(|style| style.spacing.scroll = egui::style::ScrollStyle::solid());
        }
        self.replay.poll();
        self.poll_run(ctx);
        self.poll_compare(ctx);
        self.poll_save_test(ctx, ctx.input(|i| i.time));
        let now = ctx.input(|i| i.time);
        for notice in std::mem::take(&mut self.replay.notices) {
            let is_error = notice.level != crate::session::NoticeLevel::Info;
            self.show_toast(notice.message, is_error, now);
        }
        for command in std::mem::take(&mut self.pending) {
            self.apply(command, now);
        }
        self.check_if_due(now);
        if self.check_due != CheckDue::Idle {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        self.sync_selection(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = std::time::Instant::now();
        self.frame_ui(ui);
        if self.replay.is_moving() {
            self.replay.record_frame(started.elapsed().as_secs_f32());
        }
        let title = self.title();
        if title != self.last_title {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.last_title = title;
        }
    }
}
