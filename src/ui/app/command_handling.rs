//! Applying what the menus, shortcuts, canvas and inspector asked for, after the frame.

use std::path::PathBuf;

use eframe::egui::{Pos2, Rect, emath::TSTransform, pos2, vec2};
use egui_snarl::{InPinId, NodeId, OutPinId};

use super::Workbench;
use super::files::{FileDialog, FileDialogMode};
use crate::graph::{OpKind, unique_id};
use crate::ui::editor::convert::{inputs_of, refused_wiring};
use crate::ui::editor::node::{EditorNode, NodeBody};
use crate::ui::editor::palette::PaletteKind;
use crate::ui::editor::templates::{new_builtin_step, new_sink, new_source, new_step};
use crate::ui::editor::viewer::{WireEnd, fit_transform};
use crate::ui::panels::inspector_ui::PathField;

/// Something the user asked the workbench to do.
#[derive(Debug, Clone)]
pub enum UiCommand {
    /// Start a new, empty pipeline.
    New,
    /// Open a pipeline file.
    Open(PathBuf),
    /// Show the open dialog.
    OpenDialog,
    /// Save to the open file (or ask where, when untitled).
    Save,
    /// Save to a new file and keep editing that one.
    SaveAs(PathBuf),
    /// Show the save-as dialog.
    SaveAsDialog,
    /// Write a runnable copy, with or without the editor's layout; the open file stays.
    Export {
        /// Where.
        path: PathBuf,
        /// Keep the `[editor]` section.
        include_layout: bool,
    },
    /// Show the export dialog.
    ExportDialog,
    /// Write a regression test folder from the open pipeline file, as `eddy test --save
    /// FOLDER PIPELINE` does (refused with unsaved edits: see [`UiCommand::SaveThen`]).
    SaveTest(PathBuf),
    /// Show the save-as-test dialog.
    SaveTestDialog,
    /// Undo the last edit.
    Undo,
    /// Redo the last undone edit.
    Redo,
    /// Add a node from the palette next to the others.
    Add(PaletteKind),
    /// Add a node at a canvas position, wired to the pins a wire was dropped from.
    AddAt(PaletteKind, Pos2, Option<WireEnd>),
    /// Delete nodes.
    Delete(Vec<NodeId>),
    /// Duplicate a node.
    Duplicate(NodeId),
    /// Copy the inspected node.
    Copy,
    /// Paste copied nodes.
    Paste,
    /// Show a node in the inspector.
    Inspect(NodeId),
    /// Show the node with this id in the inspector and bring it into view.
    InspectId(String),
    /// Rename a node (kept unique).
    Rename(NodeId, String),
    /// Wire an input pin from a stream, or cut it.
    Connect(InPinId, Option<OutPinId>),
    /// Add an input pin.
    AddInput(NodeId),
    /// Remove the last input pin.
    RemoveInput(NodeId),
    /// Show all nodes.
    FitView,
    /// Hide or show the inspector panel (hiding it gives the canvas its width: a graph too
    /// wide to fit beside it is fitted again).
    ToggleInspector,
    /// Zoom in (> 1) or out (< 1) around the middle of the canvas.
    Zoom(f32),
    /// Switch between the dark and the light theme.
    ToggleTheme,
    /// A replay command; the pipeline on screen is loaded first when nothing is.
    Replay(crate::session::Command),
    /// Load the pipeline on screen into the replay again: from the first event, or continuing
    /// from the current position with the state carried over.
    ReloadReplay {
        /// Start from the first event.
        restart: bool,
    },
    /// Run the pipeline on screen for real, as `eddy run` does, writing its sinks (on a
    /// background thread).
    Run,
    /// Stop the run after the event it is on.
    CancelRun,
    /// Compare the pipeline on screen with its file as saved (the Compare tab).
    CompareWithSaved,
    /// Compare the pipeline on screen with another pipeline file.
    CompareWith(PathBuf),
    /// Show the dialog that picks the file to compare with.
    CompareDialog,
    /// Select a key in a step's state table and follow it.
    SelectKey {
        /// The step id.
        step: String,
        /// The key.
        key: String,
    },
    /// Pick a file for a path setting with the native dialog.
    Browse(NodeId, PathField),
    /// A wire was refused: say why.
    Refused(String),
    /// The user confirmed that unsaved changes may be lost: go on with this.
    Discard(Box<UiCommand>),
    /// Save the changes first (asking where, when untitled); go on with this only once they
    /// are saved.
    SaveThen(Box<UiCommand>),
}

impl Workbench {
    /// Applies one command.
    pub(super) fn apply(&mut self, command: UiCommand, now: f64) {
        match command {
            UiCommand::New | UiCommand::Open(_) if self.is_dirty() => {
                self.confirm_discard = Some(command);
            }
            UiCommand::Discard(inner) => match *inner {
                UiCommand::New => self.new_document(),
                UiCommand::Open(path) => self.open_or_report(&path, now),
                other => self.apply(other, now),
            },
            UiCommand::New => self.new_document(),
            UiCommand::Open(path) => self.open_or_report(&path, now),
            UiCommand::OpenDialog => {
                self.file_dialog = Some(FileDialog::new(FileDialogMode::Open, self.dialog_start()))
            }
            UiCommand::Save => match self.document.file.clone() {
                Some(path) => self.save_or_report(&path, now),
                None => {
                    self.file_dialog = Some(FileDialog::new(FileDialogMode::SaveAs, self.dialog_start()));
                }
            },
            UiCommand::SaveAs(path) => {
                self.save_or_report(&path, now);
                // A "Save" chosen in the unsaved-changes dialog of an untitled pipeline.
                if !self.is_dirty()
                    && let Some(next) = self.after_save.take()
                {
                    self.apply(next, now);
                }
            }
            UiCommand::SaveThen(next) => match self.document.file.clone() {
                Some(path) => {
                    self.save_or_report(&path, now);
                    // A failed save has said why; the changes and the command wait.
                    if !self.is_dirty() {
                        self.apply(*next, now);
                    }
                }
                None => {
                    self.after_save = Some(*next);
                    self.file_dialog = Some(FileDialog::new(FileDialogMode::SaveAs, self.dialog_start()));
                }
            },
            UiCommand::SaveAsDialog => {
                self.file_dialog = Some(FileDialog::new(FileDialogMode::SaveAs, self.dialog_start()));
            }
            UiCommand::Export { path, include_layout } => match self.export(&path, include_layout) {
                Ok(rebased) => {
                    let note = super::files::rebased_note(&rebased, &path);
                    self.file_dialog = None;
                    self.show_toast(format!("Exported {}{note}", path.display()), false, now);
                }
                Err(message) => self.report_error(message, now),
            },
            UiCommand::ExportDialog => {
                self.file_dialog = Some(FileDialog::new(FileDialogMode::Export, self.export_start()));
            }
            UiCommand::SaveTest(folder) => {
                if let Err(message) = self.start_save_test(&folder) {
                    self.report_error(message, now);
                } else if let Some(dialog) = &mut self.file_dialog {
                    dialog.error = None;
                }
            }
            UiCommand::SaveTestDialog => {
                self.file_dialog = Some(FileDialog::new(FileDialogMode::SaveTest, self.save_test_start()));
            }
            UiCommand::Undo => {
                if let Some(checkpoint) = self.history.undo(&self.snarl, &self.current) {
                    let inspected = self.inspected_id();
                    self.load_canvas(checkpoint.snarl);
                    self.reinspect(inspected);
                }
            }
            UiCommand::Redo => {
                if let Some(checkpoint) = self.history.redo(&self.snarl, &self.current) {
                    let inspected = self.inspected_id();
                    self.load_canvas(checkpoint.snarl);
                    self.reinspect(inspected);
                }
            }
            UiCommand::Add(kind) => {
                let pos = self.free_position();
                self.add_node(kind, pos, None);
            }
            UiCommand::AddAt(kind, pos, from) => self.add_node(kind, pos, from),
            UiCommand::Delete(nodes) => {
                for node in nodes {
                    if self.snarl.get_node(node).is_some() {
                        self.snarl.remove_node(node);
                        self.node_rects.remove(&node);
                        if self.inspected == Some(node) {
                            self.inspected = None;
                        }
                    }
                }
            }
            UiCommand::Duplicate(node) => {
                if let Some(copy) = self.snarl.get_node(node).cloned() {
                    let pos =
                        self.snarl.get_node_info(node).map_or(pos2(0.0, 0.0), |n| n.pos + vec2(40.0, 40.0));
                    let id = self.paste_node(copy, pos);
                    self.inspected = Some(id);
                }
            }
            UiCommand::Copy => {
                if let Some(node) = self.inspected.and_then(|n| self.snarl.get_node(n)) {
                    self.clipboard = vec![node.clone()];
                    self.show_toast(format!("Copied `{}`", node.id()), false, now);
                }
            }
            UiCommand::Paste => {
                let mut pos = self.free_position();
                for node in self.clipboard.clone() {
                    let id = self.paste_node(node, pos);
                    self.inspected = Some(id);
                    pos += vec2(40.0, 40.0);
                }
            }
            UiCommand::Inspect(node) => self.inspected = Some(node),
            UiCommand::InspectId(id) => {
                let found = self.snarl.node_ids().find(|(_, n)| n.id() == id).map(|(node, _)| node);
                if let Some(node) = found {
                    self.inspected = Some(node);
                    self.center_on(node);
                }
            }
            UiCommand::Rename(node, id) => {
                let taken = self.snarl.node_ids().any(|(other, n)| other != node && n.id() == id);
                if taken || crate::graph::id_problem(&id).is_some() {
                    self.show_toast(
                        format!("cannot rename to `{id}`: the id is taken or not valid"),
                        true,
                        now,
                    );
                } else if let Some(n) = self.snarl.get_node_mut(node) {
                    n.set_id(id);
                }
            }
            UiCommand::Connect(pin, from) => self.connect_from_inspector(pin, from, now),
            UiCommand::AddInput(node) => {
                if let Some(n) = self.snarl.get_node_mut(node) {
                    n.input_slots += 1;
                }
            }
            UiCommand::RemoveInput(node) => self.remove_input(node),
            UiCommand::FitView => self.fit_pending = true,
            UiCommand::ToggleInspector => {
                self.inspector_open = !self.inspector_open;
                // The canvas changes width next frame: a graph that did not fit is fitted to it.
                self.fit_pending |= self.fit_too_wide;
            }
            UiCommand::Zoom(factor) => {
                if let (Some(view), Some(current)) = (self.canvas_rect, self.last_transform()) {
                    let center = view.center();
                    let zoom = TSTransform::from_translation(center.to_vec2())
                        * TSTransform::from_scaling(factor)
                        * TSTransform::from_translation(-center.to_vec2());
                    self.transform = Some(zoom * current);
                }
            }
            UiCommand::ToggleTheme => self.dark_mode = !self.dark_mode,
            UiCommand::Replay(command) => self.replay_command(command, now),
            UiCommand::ReloadReplay { restart } => self.reload_replay(restart, now),
            UiCommand::Run => self.start_run(now),
            UiCommand::CancelRun => {
                if let Some(run) = &self.run {
                    run.cancel();
                }
            }
            UiCommand::CompareWithSaved => self.compare_with_saved(now),
            UiCommand::CompareWith(path) => self.compare_with_file(&path, "that file", now),
            UiCommand::CompareDialog => {
                self.file_dialog = Some(FileDialog::new(FileDialogMode::Compare, self.dialog_start()));
            }
            UiCommand::SelectKey { step, key } => self.select_key(step, key),
            UiCommand::Browse(node, field) => self.browse(node, field),
            UiCommand::Refused(reason) => self.show_toast(format!("Wire refused: {reason}"), true, now),
        }
        self.refresh_current();
    }

    fn replay_command(&mut self, command: crate::session::Command, now: f64) {
        let Some(ctx) = self.ctx.clone() else { return };
        if !self.replay.is_loaded() && self.replay.loaded.is_none() {
            let Some(graph) = self.graph_for_replay(now) else { return };
            self.replay.load(&ctx, graph, true);
            self.replay.selected_step = None;
        }
        if let crate::session::Command::SetBreakpoints(list) = &command {
            self.replay.breakpoints = list.clone();
        }
        self.replay.send(&ctx, command);
    }

    /// Starts *Run*: refused while one goes, when the file has problems the canvas dropped,
    /// or when the checks of `eddy run` fail (then the Problems panel opens).
    fn start_run(&mut self, now: f64) {
        if self.run.is_some() {
            self.show_toast("a run is going on already: cancel it first", true, now);
            return;
        }
        if !self.document.read_problems.is_empty() {
            self.show_toast(
                format!(
                    "cannot run: the file has {} problem(s) (see the Problems panel); save it from the canvas first",
                    self.document.read_problems.len()
                ),
                true,
                now,
            );
            self.bottom_tab = super::ui::BottomTab::Problems;
            return;
        }
        let file = self.document.file.clone();
        match crate::engine::BackgroundRun::start(&self.current, &self.base_dir(), file.as_deref()) {
            Ok(run) => {
                self.run = Some(run);
                self.run_report = None;
            }
            Err(crate::engine::RunError::Invalid(errors)) => {
                let first = errors.0.first().map(|e| format!(": {e}")).unwrap_or_default();
                self.show_toast(format!("cannot run: {} problem(s){first}", errors.0.len()), true, now);
                self.bottom_tab = super::ui::BottomTab::Problems;
            }
            Err(e) => self.show_toast(format!("cannot run: {e}"), true, now),
        }
    }

    fn reload_replay(&mut self, restart: bool, now: f64) {
        let Some(ctx) = self.ctx.clone() else { return };
        let Some(graph) = self.graph_for_replay(now) else { return };
        self.replay.load(&ctx, graph, restart);
    }

    /// The pipeline on screen, checked, for the replay: the last check's graph when it checked
    /// this very document (validated once: the session takes it as it is), else a check now.
    /// `None`, with a toast and the Problems panel, when it has problems.
    pub(super) fn graph_for_replay(&mut self, now: f64) -> Option<crate::graph::ValidGraph> {
        if let Some((doc, graph)) = &self.valid
            && *doc == self.current
            && graph.base_dir == self.base_dir()
        {
            return Some(graph.clone());
        }
        match crate::engine::check(&self.current, &self.base_dir()) {
            Ok(graph) => {
                self.valid = Some((self.current.clone(), graph.clone()));
                Some(graph)
            }
            Err(errors) => {
                self.show_toast(
                    format!("cannot replay: {} problem(s), see the Problems panel", errors.0.len()),
                    true,
                    now,
                );
                self.bottom_tab = super::ui::BottomTab::Problems;
                None
            }
        }
    }

    fn inspected_id(&self) -> Option<String> {
        self.inspected.and_then(|n| self.snarl.get_node(n)).map(|n| n.id().to_owned())
    }

    fn reinspect(&mut self, id: Option<String>) {
        self.inspected =
            id.and_then(|id| self.snarl.node_ids().find(|(_, n)| n.id() == id).map(|(node, _)| node));
    }

    fn new_document(&mut self) {
        let doc = super::empty_doc();
        self.reset_document(
            super::Document {
                file: None,
                original_text: None,
                base: doc.clone(),
                saved: doc.clone(),
                read_problems: Vec::new(),
            },
            &doc,
        );
    }

    fn open_or_report(&mut self, path: &std::path::Path, now: f64) {
        let result = self.open_file(path);
        self.report_file_result(result, format!("Opened {}", path.display()), now);
    }

    fn save_or_report(&mut self, path: &std::path::Path, now: f64) {
        self.history.commit(&self.snarl, &self.current);
        match self.save_to(path) {
            Ok(rebased) => {
                let done = format!("Saved {}{}", path.display(), super::files::rebased_note(&rebased, path));
                self.report_file_result(Ok(()), done, now);
            }
            Err(message) => self.report_file_result(Err(message), String::new(), now),
        }
    }

    /// Closes the file dialog on success; shows why not in the dialog (or a toast) on failure.
    fn report_file_result(&mut self, result: Result<(), String>, done: String, now: f64) {
        match result {
            Ok(()) => {
                self.file_dialog = None;
                self.show_toast(done, false, now);
            }
            Err(message) => self.report_error(message, now),
        }
    }

    /// Says why what a file dialog asked for failed: in the dialog while it is open (it stays
    /// open to try again), else in a toast.
    pub(super) fn report_error(&mut self, message: String, now: f64) {
        match &mut self.file_dialog {
            Some(dialog) => dialog.error = Some(message),
            None => self.show_toast(message, true, now),
        }
    }

    fn dialog_start(&self) -> String {
        self.document.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
    }

    /// A fresh id for a new node, unique among the canvas's.
    fn fresh_id(&self, base: &str) -> String {
        unique_id(base, |id| self.snarl.nodes().any(|n| n.id() == id))
    }

    fn add_node(&mut self, kind: PaletteKind, pos: Pos2, from: Option<WireEnd>) {
        let (body, slots) = match kind {
            PaletteKind::Source(format) => (NodeBody::Source(new_source(self.fresh_id("events"), format)), 0),
            PaletteKind::Step(op) => {
                let slots = if op == OpKind::Join { 2 } else { 1 };
                (NodeBody::Step(new_step(self.fresh_id(op.as_str()), op)), slots)
            }
            PaletteKind::Builtin(op, builtin) => {
                (NodeBody::Step(new_builtin_step(self.fresh_id(builtin.as_str()), op, builtin)), 1)
            }
            PaletteKind::Sink(format) => (NodeBody::Sink(new_sink(self.fresh_id("output"), format)), 1),
        };
        let node = EditorNode {
            body,
            rank: self.next_rank(),
            origin: None,
            input_slots: slots,
            unresolved: Default::default(),
        };
        let id = self.snarl.insert_node(pos, node);
        self.inspected = Some(id);
        // Dropped from a wire: connect the new node's first matching pin, if the wire is allowed.
        if let Some(from) = from {
            let mut trial = self.snarl.clone();
            match from {
                WireEnd::Out(pins) => {
                    for pin in pins {
                        if trial.get_node(id).is_some_and(|n| n.input_slots > 0) {
                            trial.connect(pin, InPinId { node: id, input: 0 });
                        }
                    }
                }
                WireEnd::In(pins) => {
                    if trial.get_node(id).is_some_and(|n| n.output_count() > 0) {
                        for pin in pins {
                            trial.drop_inputs(pin);
                            trial.connect(OutPinId { node: id, output: 0 }, pin);
                        }
                    }
                }
            }
            match refused_wiring(&self.snarl, &trial, &self.document.base, &self.base_dir()) {
                None => self.snarl = trial,
                Some(reason) => self.pending.push(UiCommand::Refused(reason)),
            }
        }
    }

    fn paste_node(&mut self, mut node: EditorNode, pos: Pos2) -> NodeId {
        node.set_id(self.fresh_id(node.id()));
        node.origin = None;
        node.rank = self.next_rank();
        node.unresolved.clear();
        self.snarl.insert_node(pos, node)
    }

    fn next_rank(&self) -> u64 {
        self.snarl.nodes().map(|n| n.rank + 1).max().unwrap_or(0)
    }

    /// A place for a new node: right of everything on the canvas, level with the top.
    fn free_position(&self) -> Pos2 {
        let mut right = f32::NEG_INFINITY;
        let mut top = f32::INFINITY;
        for (id, info, _) in self.snarl.nodes_pos_ids() {
            let width = self.node_rects.get(&id).map_or(200.0, Rect::width);
            right = right.max(info.x + width);
            top = top.min(info.y);
        }
        if right.is_finite() { pos2(right + 60.0, top) } else { pos2(0.0, 0.0) }
    }

    fn connect_from_inspector(&mut self, pin: InPinId, from: Option<OutPinId>, now: f64) {
        let mut trial = self.snarl.clone();
        trial.drop_inputs(pin);
        if let Some(node) = trial.get_node_mut(pin.node) {
            node.unresolved.remove(&pin.input);
        }
        if let Some(from) = from {
            if from.node == pin.node {
                self.show_toast("Wire refused: a node cannot feed itself", true, now);
                return;
            }
            trial.connect(from, pin);
            if let Some(reason) = refused_wiring(&self.snarl, &trial, &self.document.base, &self.base_dir()) {
                self.show_toast(format!("Wire refused: {reason}"), true, now);
                return;
            }
        }
        self.snarl = trial;
    }

    fn remove_input(&mut self, node: NodeId) {
        let Some(n) = self.snarl.get_node(node) else { return };
        if n.input_slots <= n.min_input_slots() {
            return;
        }
        let last = n.input_slots - 1;
        self.snarl.drop_inputs(InPinId { node, input: last });
        if let Some(n) = self.snarl.get_node_mut(node) {
            n.unresolved.remove(&last);
            n.input_slots = last;
        }
    }

    /// Each input pin's stream, for the inspector.
    pub(super) fn node_inputs(&self, node: NodeId) -> Vec<Option<String>> {
        self.snarl.get_node(node).map(|n| inputs_of(&self.snarl, node, n)).unwrap_or_default()
    }

    fn last_transform(&self) -> Option<TSTransform> {
        self.transform.or(self.seen_transform)
    }

    fn center_on(&mut self, node: NodeId) {
        let (Some(view), Some(rect)) = (self.canvas_rect, self.node_rects.get(&node).copied()) else {
            return;
        };
        let scale = self.last_transform().map_or(1.0, |t| t.scaling);
        let translation = view.center().to_vec2() - rect.center().to_vec2() * scale;
        self.transform = Some(TSTransform::new(translation, scale));
    }

    /// The transform that shows every node, once their sizes are known.
    pub(super) fn fit_now(&mut self) {
        let Some(view) = self.canvas_rect else { return };
        let mut content: Option<Rect> = None;
        for (id, pos, _) in self.snarl.nodes_pos_ids() {
            let rect = self
                .node_rects
                .get(&id)
                .copied()
                .unwrap_or_else(|| Rect::from_min_size(pos, vec2(200.0, 90.0)));
            content = Some(content.map_or(rect, |c| c.union(rect)));
        }
        let fitted = match content {
            Some(content) => fit_transform(content, view),
            None => TSTransform::from_translation(view.min.to_vec2() + vec2(40.0, 40.0)),
        };
        self.fit_too_wide = content.is_some_and(|c| !view.contains_rect(fitted.mul_rect(c)));
        self.transform = Some(fitted);
    }
}
