//! The frame's layout: menu and toolbar, canvas, inspector, problems and run panels, dialogs,
//! and keyboard shortcuts. Panels return commands; they are applied after the frame.

use std::collections::BTreeMap;

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers, RichText};
use egui_snarl::OutPinId;

use crate::session::{Command, RunView};
use crate::ui::panels::breakpoints_ui::breakpoints_ui;
use crate::ui::panels::io_ui::{io_ui, sink_ui};
use crate::ui::panels::plots_ui::plots_ui;
use crate::ui::panels::run_ui::{RunAction, run_row_ui, run_summary_ui};
use crate::ui::panels::snapshots_ui::{SnapshotPicks, snapshots_ui};
use crate::ui::panels::state_ui::{StateTableState, key_detail_ui, state_table_ui};
use crate::ui::panels::timeline_ui::timeline_ui;
use crate::ui::panels::timers_ui::{log_ui, timers_ui};
use egui_snarl::ui::{SnarlStyle, SnarlWidget};

use super::files::FileDialogMode;
use super::{UiCommand, Workbench};
use crate::graph::Place;
use crate::ui::editor::palette::palette_ui;
use crate::ui::editor::viewer::{EditorAction, EditorViewer};
use crate::ui::panels::inspector_ui::{InspectorAction, InspectorContext, inspector_ui};
use crate::ui::panels::script_ui::ScriptProblem;
use crate::ui::theme;

/// Which tab the bottom panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BottomTab {
    /// Validation problems.
    #[default]
    Problems,
    /// Per-key state of the selected step.
    State,
    /// Pending timers.
    Timers,
    /// The replay's log.
    Log,
    /// Snapshots.
    Snapshots,
    /// Items into and out of the selected step.
    Data,
    /// Items that left the pipeline without reaching a sink (docs/ledger.md).
    Dropped,
    /// Breakpoints.
    Breakpoints,
    /// Plots.
    Plots,
    /// The last run's summary.
    Run,
    /// The pipeline on screen against another version of it.
    Compare,
}

impl Workbench {
    /// Lays out one frame.
    pub(super) fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let visuals = if self.dark_mode { egui::Visuals::dark() } else { egui::Visuals::light() };
        if ui.visuals().dark_mode != self.dark_mode {
            ui.ctx().set_visuals(visuals.clone());
        }
        let now = ui.input(|i| i.time);
        self.poll_path_pick();
        self.shortcuts(ui);

        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::top("replay").show(ui, |ui| self.replay_bar_ui(ui));
        egui::Panel::bottom("bottom")
            .resizable(true)
            .min_size(200.0)
            .default_size(260.0)
            .show(ui, |ui| self.bottom_ui(ui));
        if self.inspected.is_some() && self.inspected != self.inspector_seen {
            self.inspector_open = true;
        }
        self.inspector_seen = self.inspected;
        if self.inspector_open {
            // 318 px by default: with it, every shipped example of up to five columns fits the
            // canvas at 1280 px at a zoom that keeps node text whole (drag the edge for more).
            egui::Panel::right("inspector").resizable(true).min_size(300.0).default_size(318.0).show(
                ui,
                |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| self.inspector_panel_ui(ui));
                },
            );
        }
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| self.canvas_ui(ui, visuals, now));
        self.dialogs_ui(ui);

        // Catch every edit for undo, once the user pauses.
        self.refresh_current();
        let busy = ui.input(|i| i.pointer.any_down()) || ui.ctx().egui_wants_keyboard_input();
        self.history.observe(&self.snarl, &self.current, now, busy);
        if self.toast.as_ref().is_some_and(|t| t.until < now) {
            self.toast = None;
        }
        if self.toast.is_some() {
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(250));
        }
        if self.history.is_pending(&self.current) {
            // Come back once the edit has settled, to commit it.
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(200));
        }
    }

    fn shortcuts(&mut self, ui: &mut egui::Ui) {
        let typing = ui.ctx().egui_wants_keyboard_input();
        let shortcut = |m: Modifiers, k: Key| KeyboardShortcut::new(m, k);
        let shift_command = Modifiers::COMMAND | Modifiers::SHIFT;
        let mut commands = Vec::new();
        ui.input_mut(|i| {
            if i.consume_shortcut(&shortcut(shift_command, Key::S)) {
                commands.push(UiCommand::SaveAsDialog);
            }
            if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::S)) {
                commands.push(UiCommand::Save);
            }
            if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::O)) {
                commands.push(UiCommand::OpenDialog);
            }
            if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::N)) {
                commands.push(UiCommand::New);
            }
            if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Enter)) {
                commands.push(UiCommand::Run);
            }
            // While typing, the text field has its own undo and clipboard.
            if !typing {
                if i.consume_shortcut(&shortcut(shift_command, Key::Z))
                    || i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Y))
                {
                    commands.push(UiCommand::Redo);
                }
                if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Z)) {
                    commands.push(UiCommand::Undo);
                }
                if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::D)) {
                    commands.extend(self.inspected.map(UiCommand::Duplicate));
                }
                if i.events.iter().any(|e| matches!(e, egui::Event::Copy)) {
                    commands.push(UiCommand::Copy);
                }
                if i.events.iter().any(|e| matches!(e, egui::Event::Paste(_))) {
                    commands.push(UiCommand::Paste);
                }
                if i.consume_key(Modifiers::NONE, Key::Delete)
                    || i.consume_key(Modifiers::NONE, Key::Backspace)
                {
                    commands.extend(self.inspected.map(|n| UiCommand::Delete(vec![n])));
                }
                // Stepping, as a debugger steps: back and forth one event, or timer to timer.
                for (modifiers, key, command) in [
                    (shift_command, Key::ArrowLeft, Command::PreviousTimer),
                    (shift_command, Key::ArrowRight, Command::RunToNextTimer),
                    (Modifiers::COMMAND, Key::ArrowLeft, Command::StepBack),
                    (Modifiers::COMMAND, Key::ArrowRight, Command::Step(1)),
                ] {
                    if i.consume_shortcut(&shortcut(modifiers, key)) {
                        commands.push(UiCommand::Replay(command));
                    }
                }
                if i.consume_key(Modifiers::NONE, Key::Home) {
                    commands.push(UiCommand::FitView);
                }
                if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::I)) {
                    commands.push(UiCommand::ToggleInspector);
                }
                if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Plus))
                    || i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Equals))
                {
                    commands.push(UiCommand::Zoom(1.25));
                }
                if i.consume_shortcut(&shortcut(Modifiers::COMMAND, Key::Minus)) {
                    commands.push(UiCommand::Zoom(0.8));
                }
            }
        });
        self.pending.extend(commands);
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        let mut commands = Vec::new();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.add(egui::Button::new("New").shortcut_text("Ctrl+N")).clicked() {
                    commands.push(UiCommand::New);
                }
                if ui.add(egui::Button::new("Open…").shortcut_text("Ctrl+O")).clicked() {
                    commands.push(UiCommand::OpenDialog);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.recent.paths.is_empty() {
                        ui.weak("No recent files");
                    }
                    for path in &self.recent.paths {
                        if ui.button(path.display().to_string()).clicked() {
                            commands.push(UiCommand::Open(path.clone()));
                        }
                    }
                });
                ui.separator();
                if ui.add(egui::Button::new("Save").shortcut_text("Ctrl+S")).clicked() {
                    commands.push(UiCommand::Save);
                }
                if ui.add(egui::Button::new("Save As…").shortcut_text("Ctrl+Shift+S")).clicked() {
                    commands.push(UiCommand::SaveAsDialog);
                }
                if ui.button("Export runnable pipeline…").clicked() {
                    commands.push(UiCommand::ExportDialog);
                }
                if ui.button("Save as test…").clicked() {
                    commands.push(UiCommand::SaveTestDialog);
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(
                        self.history.can_undo(&self.current),
                        egui::Button::new("Undo").shortcut_text("Ctrl+Z"),
                    )
                    .clicked()
                {
                    commands.push(UiCommand::Undo);
                }
                if ui
                    .add_enabled(
                        self.history.can_redo(),
                        egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z"),
                    )
                    .clicked()
                {
                    commands.push(UiCommand::Redo);
                }
                ui.separator();
                let inspected = self.inspected;
                if ui
                    .add_enabled(inspected.is_some(), egui::Button::new("Duplicate").shortcut_text("Ctrl+D"))
                    .clicked()
                {
                    commands.extend(inspected.map(UiCommand::Duplicate));
                }
                if ui.add_enabled(inspected.is_some(), egui::Button::new("Copy")).clicked() {
                    commands.push(UiCommand::Copy);
                }
                if ui.add_enabled(!self.clipboard.is_empty(), egui::Button::new("Paste")).clicked() {
                    commands.push(UiCommand::Paste);
                }
                if ui
                    .add_enabled(inspected.is_some(), egui::Button::new("Delete").shortcut_text("Del"))
                    .clicked()
                {
                    commands.extend(inspected.map(|n| UiCommand::Delete(vec![n])));
                }
            });
            ui.menu_button("View", |ui| {
                if ui.add(egui::Button::new("Fit to view").shortcut_text("Home")).clicked() {
                    commands.push(UiCommand::FitView);
                }
                let inspector = if self.inspector_open { "Hide inspector" } else { "Show inspector" };
                if ui.add(egui::Button::new(inspector).shortcut_text("Ctrl+I")).clicked() {
                    commands.push(UiCommand::ToggleInspector);
                }
                if ui.add(egui::Button::new("Zoom in").shortcut_text("Ctrl++")).clicked() {
                    commands.push(UiCommand::Zoom(1.25));
                }
                if ui.add(egui::Button::new("Zoom out").shortcut_text("Ctrl+-")).clicked() {
                    commands.push(UiCommand::Zoom(0.8));
                }
                let theme = if self.dark_mode { "Light theme" } else { "Dark theme" };
                if ui.button(theme).clicked() {
                    commands.push(UiCommand::ToggleTheme);
                }
                ui.checkbox(&mut self.developer_overlay, "Developer overlay (frame times)");
            });
            ui.menu_button("Run", |ui| {
                let idle = self.run.is_none();
                let run = egui::Button::new("Run the pipeline (write the sinks)").shortcut_text("Ctrl+Enter");
                if ui.add_enabled(idle, run).clicked() {
                    commands.push(UiCommand::Run);
                }
                if ui.add_enabled(!idle, egui::Button::new("Cancel the run")).clicked() {
                    commands.push(UiCommand::CancelRun);
                }
                ui.separator();
                let has_file = self.document.file.is_some();
                if ui.add_enabled(has_file, egui::Button::new("Compare with saved version")).clicked() {
                    commands.push(UiCommand::CompareWithSaved);
                }
                if ui.button("Compare with file…").clicked() {
                    commands.push(UiCommand::CompareDialog);
                }
            });
            ui.separator();
            ui.menu_button("➕ Add node", |ui| {
                if let Some(kind) = palette_ui(ui, &mut self.toolbar_search) {
                    commands.push(UiCommand::Add(kind));
                    self.toolbar_search.clear();
                    ui.close();
                }
            });
            if ui
                .add_enabled(self.history.can_undo(&self.current), egui::Button::new("⟲ Undo"))
                .on_hover_text("Ctrl+Z")
                .clicked()
            {
                commands.push(UiCommand::Undo);
            }
            if ui
                .add_enabled(self.history.can_redo(), egui::Button::new("⟳ Redo"))
                .on_hover_text("Ctrl+Shift+Z")
                .clicked()
            {
                commands.push(UiCommand::Redo);
            }
            if ui.button("⊡ Fit").on_hover_text("Show every node (Home)").clicked() {
                commands.push(UiCommand::FitView);
            }
            let inspector_hint = if self.fit_too_wide && self.inspector_open {
                "The graph is too wide to fit beside the inspector at a readable zoom: hide it \
                 (Ctrl+I) to fit the graph; selecting a node shows it again"
            } else {
                "Show or hide the inspector panel (Ctrl+I); selecting a node shows it"
            };
            if ui.selectable_label(self.inspector_open, "Inspector").on_hover_text(inspector_hint).clicked() {
                commands.push(UiCommand::ToggleInspector);
            }
            if ui
                .add_enabled(self.run.is_none(), egui::Button::new("Run to files"))
                .on_hover_text(
                    "Run the pipeline for real, as `eddy run` does: writes every sink (Ctrl+Enter)",
                )
                .clicked()
            {
                commands.push(UiCommand::Run);
            }
            ui.separator();
            let name = self.document.file.as_ref().map_or("untitled".to_owned(), |p| p.display().to_string());
            let marker = if self.is_dirty() { " •" } else { "" };
            ui.label(RichText::new(format!("{name}{marker}")).color(theme::weak_text(ui.visuals())));
        });
        self.pending.extend(commands);
    }

    fn canvas_ui(&mut self, ui: &mut egui::Ui, visuals: egui::Visuals, now: f64) {
        let mut problem_counts: BTreeMap<String, usize> = BTreeMap::new();
        for problem in &self.problems {
            let id = match &problem.place {
                Place::Source(id) | Place::Step(id) | Place::Sink(id) => id.clone(),
                Place::File(_) | Place::Clock | Place::Limits => continue,
            };
            *problem_counts.entry(id).or_default() += 1;
        }
        // The panel's rectangle (the canvas widget's own can be NaN while the graph is empty).
        let canvas_rect = ui.max_rect();
        self.canvas_rect = Some(canvas_rect);
        if self.fit_pending && (!self.node_rects.is_empty() || self.snarl.nodes().count() == 0) {
            self.fit_now();
            self.fit_pending = false;
        }
        let base_dir = self.base_dir();
        let view = self.replay.view.clone().filter(|v| v.pipeline.is_some());
        let mut activity = BTreeMap::new();
        if let Some(view) = &view {
            for counts in view.steps.iter() {
                let mut keys = counts
                    .keys
                    .map(|k| format!(" · {} keys", crate::ui::thousands(k as u64)))
                    .unwrap_or_default();
                if counts.dropped > 0 {
                    keys.push_str(&format!(" · {} dropped", crate::ui::thousands(counts.dropped)));
                }
                activity.insert(
                    counts.step.clone(),
                    format!(
                        "in {} · out {}{keys}",
                        crate::ui::thousands(counts.items_in),
                        crate::ui::thousands(counts.items_out)
                    ),
                );
            }
            for sink in view.sinks.iter() {
                activity.insert(sink.sink.clone(), format!("{} captured", sink.items));
            }
            let sources = view.pipeline.as_ref().map(|p| p.sources.as_slice()).unwrap_or_default();
            for (source, &bad) in sources.iter().zip(&view.dropped.per_source) {
                if bad > 0 {
                    activity
                        .insert(source.clone(), format!("{} bad rows dropped", crate::ui::thousands(bad)));
                }
            }
        }
        let failed = view.as_ref().and_then(|v| v.error.as_ref()).and_then(|e| e.step.clone());
        let hit = view.as_ref().and_then(|v| v.breakpoint_hit.clone());
        let paused_at = hit.as_ref().map(|h| (h.breakpoint.step(), h.key.as_deref()));
        let mut viewer = EditorViewer {
            base: &self.document.base,
            base_dir: &base_dir,
            problems: &problem_counts,
            inspected: self.inspected,
            search: &mut self.palette_search,
            actions: Vec::new(),
            node_rects: &mut self.node_rects,
            transform: self.transform.take(),
            seen_transform: None,
            visuals,
            activity: &activity,
            failed: failed.as_deref(),
            paused_at,
        };
        let style = SnarlStyle { collapsible: Some(false), ..SnarlStyle::new() };
        SnarlWidget::new().id_salt("canvas").style(style).show(&mut self.snarl, &mut viewer, ui);
        let actions = std::mem::take(&mut viewer.actions);
        self.seen_transform = viewer.seen_transform;
        for action in actions {
            self.pending.push(match action {
                EditorAction::Inspect(node) => UiCommand::Inspect(node),
                EditorAction::Add { kind, pos, from } => UiCommand::AddAt(kind, pos, from),
                EditorAction::Delete(node) => UiCommand::Delete(vec![node]),
                EditorAction::Duplicate(node) => UiCommand::Duplicate(node),
                EditorAction::AddInput(node) => UiCommand::AddInput(node),
                EditorAction::RemoveInput(node) => UiCommand::RemoveInput(node),
                EditorAction::Refused(reason) => UiCommand::Refused(reason),
            });
        }
        if self.snarl.nodes().count() == 0 {
            ui.put(
                egui::Rect::from_center_size(canvas_rect.center(), egui::vec2(420.0, 60.0)),
                egui::Label::new(
                    RichText::new(
                        "Empty pipeline: right-click the canvas or use ➕ Add node to add a source.",
                    )
                    .color(theme::weak_text(ui.visuals())),
                ),
            );
        }
        if let Some(toast) = &self.toast {
            let color = if toast.is_error { theme::error(ui.visuals()) } else { ui.visuals().text_color() };
            egui::Area::new(egui::Id::new("toast"))
                .fixed_pos(canvas_rect.left_top() + egui::vec2(12.0, 12.0))
                .show(ui.ctx(), |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(560.0);
                        ui.label(RichText::new(&toast.text).color(color));
                    });
                });
            let _ = now;
        }
    }

    fn inspector_panel_ui(&mut self, ui: &mut egui::Ui) {
        let Some(id) = self.inspected.filter(|n| self.snarl.get_node(*n).is_some()) else {
            ui.heading("Inspector");
            ui.weak("Click a node to see and edit its settings and script.");
            ui.add_space(12.0);
            self.pipeline_settings_ui(ui);
            return;
        };
        let streams: Vec<(String, OutPinId)> = self
            .snarl
            .node_ids()
            .filter(|(other, _)| *other != id)
            .flat_map(|(other, node)| {
                (0..node.output_count())
                    .map(move |output| (node.stream_name(output), OutPinId { node: other, output }))
            })
            .collect();
        let inputs = self.node_inputs(id);
        let node_id = self.snarl.get_node(id).map(|n| n.id().to_owned()).unwrap_or_default();
        let problems: Vec<_> = self
            .problems
            .iter()
            .filter(
                |p| matches!(&p.place, Place::Source(x) | Place::Step(x) | Place::Sink(x) if *x == node_id),
            )
            .cloned()
            .collect();
        let ids: Vec<String> =
            self.snarl.node_ids().filter(|(other, _)| *other != id).map(|(_, n)| n.id().to_owned()).collect();
        let taken = |candidate: &str| ids.iter().any(|i| i == candidate);
        // The replay's error in this step, at its script line (the editor marks the line).
        let run_error = self
            .replay
            .view
            .as_ref()
            .and_then(|v| v.error.as_ref())
            .filter(|e| e.step.as_deref() == Some(node_id.as_str()) && e.script_line.is_some())
            .map(|e| ScriptProblem {
                line: e.script_line,
                column: None,
                message: format!("the replay stopped here at event {}: {}", e.position + 1, e.message),
            });
        let context = InspectorContext {
            streams: &streams,
            inputs: &inputs,
            problems: &problems,
            taken: &taken,
            run_error,
        };
        let Some(node) = self.snarl.get_node_mut(id) else { return };
        let actions = inspector_ui(ui, id, node, &mut self.inspector, &context);
        for action in actions {
            self.pending.push(match action {
                InspectorAction::Rename(node, new_id) => UiCommand::Rename(node, new_id),
                InspectorAction::Connect(pin, from) => UiCommand::Connect(pin, from),
                InspectorAction::AddInput(node) => UiCommand::AddInput(node),
                InspectorAction::RemoveInput(node) => UiCommand::RemoveInput(node),
                InspectorAction::Browse(node, field) => UiCommand::Browse(node, field),
                InspectorAction::Delete(node) => UiCommand::Delete(vec![node]),
            });
        }
    }

    fn pipeline_settings_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Pipeline").strong());
        ui.horizontal(|ui| {
            ui.label("clock");
            let mut mode = self.document.base.clock.mode;
            ui.radio_value(&mut mode, crate::graph::ClockMode::Replay, "replay (event time)");
            ui.radio_value(&mut mode, crate::graph::ClockMode::Wall, "wall");
            self.document.base.clock.mode = mode;
        });
        let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        ui.weak(format!(
            "{} · {} · {}",
            count(self.current.sources.len(), "source", "sources"),
            count(self.current.steps.len(), "step", "steps"),
            count(self.current.sinks.len(), "sink", "sinks")
        ));
    }

    /// The bottom panel: exactly the height it was given (the user's, dragged on its border),
    /// whatever the tab shows. Contents taller than that are clipped or scroll inside; they
    /// never grow the panel, so its tab strip stays under the pointer from tab to tab.
    fn bottom_ui(&mut self, ui: &mut egui::Ui) {
        let rect = ui.max_rect();
        let mut inner = ui.new_child(
            egui::UiBuilder::new().max_rect(rect).layout(egui::Layout::top_down(egui::Align::Min)),
        );
        inner.set_clip_rect(rect.intersect(ui.clip_rect()));
        self.bottom_contents(&mut inner);
        ui.advance_cursor_after_rect(rect);
    }

    fn bottom_contents(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = if self.problems.is_empty() {
                "✔ No problems".to_owned()
            } else {
                format!("⚠ Problems ({})", self.problems.len())
            };
            ui.selectable_value(&mut self.bottom_tab, BottomTab::Problems, label);
            for (tab, name) in [
                (BottomTab::State, "State"),
                (BottomTab::Timers, "Timers"),
                (BottomTab::Log, "Log"),
                (BottomTab::Snapshots, "Snapshots"),
                (BottomTab::Data, "Data"),
                (BottomTab::Dropped, "Dropped"),
                (BottomTab::Breakpoints, "Breakpoints"),
                (BottomTab::Plots, "Plots"),
                (BottomTab::Run, "Run"),
                (BottomTab::Compare, "Compare"),
            ] {
                ui.selectable_value(&mut self.bottom_tab, tab, name);
            }
        });
        ui.separator();
        if self.bottom_tab == BottomTab::Problems {
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| self.problems_ui(ui));
            return;
        }
        if self.bottom_tab == BottomTab::Run {
            run_summary_ui(ui, self.run_report.as_ref());
            return;
        }
        if self.bottom_tab == BottomTab::Compare {
            let shown = self.compare_shown();
            let asked = crate::ui::panels::compare_ui::compare_ui(ui, shown, self.document.file.is_some());
            if let Some(action) = asked {
                self.compare_action(action);
            }
            return;
        }
        let Some(view) = self.replay.view.clone().filter(|v| v.pipeline.is_some()) else {
            ui.weak("Press ▶ Play, Step or ⏭ To end above to replay the sources through the pipeline.");
            return;
        };
        let mut commands = Vec::new();
        match self.bottom_tab {
            BottomTab::Problems | BottomTab::Run | BottomTab::Compare => {}
            BottomTab::State => commands.extend(self.state_tab_ui(ui, &view)),
            BottomTab::Timers => timers_ui(ui, &view),
            BottomTab::Log => log_ui(ui, &view, &mut self.replay.log_filter),
            BottomTab::Snapshots => {
                let picks = SnapshotPicks { from: &mut self.replay.diff_from, to: &mut self.replay.diff_to };
                let opened = self.replay.opened.clone();
                let diff = self.replay.diff.clone();
                commands.extend(snapshots_ui(ui, &view, picks, opened.as_deref(), diff.as_deref()));
            }
            BottomTab::Data => {
                let step = self.inspected_step_id();
                let sink =
                    self.inspected_sink_id().and_then(|id| self.current.sinks.iter().find(|s| s.id == id));
                match (step.and_then(|id| view.previews.iter().find(|p| p.step == id)), sink) {
                    (Some(preview), _) => io_ui(ui, preview),
                    (None, Some(sink)) => sink_ui(ui, &view.previews, sink),
                    (None, None) => {
                        ui.weak(
                            "Select a step on the canvas to see the last items into and out of it, or a sink \
                             for the last items it received.",
                        );
                    }
                }
            }
            BottomTab::Dropped => crate::ui::panels::dropped_ui::dropped_ui(ui, &view),
            BottomTab::Breakpoints => {
                let step = self.inspected_step_id();
                let breakpoints = self.replay.breakpoints.clone();
                let form = &mut self.replay.form;
                egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                    let hit = view.breakpoint_hit.as_ref();
                    if let Some(list) = breakpoints_ui(ui, &breakpoints, hit, step.as_deref(), form) {
                        commands.push(Command::SetBreakpoints(list));
                    }
                });
            }
            BottomTab::Plots => {
                egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| plots_ui(ui, &view));
            }
        }
        self.pending.extend(commands.into_iter().map(UiCommand::Replay));
    }

    fn inspected_sink_id(&self) -> Option<String> {
        self.inspected.and_then(|n| self.snarl.get_node(n)).and_then(|n| match &n.body {
            crate::ui::editor::node::NodeBody::Sink(sink) => Some(sink.id.clone()),
            _ => None,
        })
    }

    fn inspected_step_id(&self) -> Option<String> {
        self.inspected.and_then(|n| self.snarl.get_node(n)).and_then(|n| match &n.body {
            crate::ui::editor::node::NodeBody::Step(step) => Some(step.id.clone()),
            _ => None,
        })
    }

    fn state_tab_ui(&mut self, ui: &mut egui::Ui, view: &RunView) -> Vec<Command> {
        let mut commands = Vec::new();
        let Some(table) = view.selected.clone() else {
            ui.weak("Select a stateful step on the canvas to see each key's state.");
            return commands;
        };
        ui.columns(2, |columns| {
            let state = StateTableState {
                filter: &mut self.replay.filter,
                sort: &mut self.replay.sort,
                selected_key: &mut self.replay.selected_key,
                cache: &mut self.replay.rows_cache,
            };
            if let Some(key) = state_table_ui(&mut columns[0], &table, state) {
                commands.push(Command::WatchKey { step: table.step.clone(), key });
            }
            egui::ScrollArea::vertical().id_salt("key_detail").show(&mut columns[1], |ui| {
                match self.replay.selected_key.clone() {
                    Some(key) => key_detail_ui(ui, &table, &key, view.watch.as_deref()),
                    None => {
                        ui.weak("Click a key to see its whole state and its history.");
                    }
                }
            });
        });
        commands
    }

    fn problems_ui(&mut self, ui: &mut egui::Ui) {
        if self.problems.is_empty() {
            ui.weak("The pipeline passes every check `eddy check` makes.");
        }
        let mut clicked = None;
        for problem in &self.problems {
            let text = RichText::new(problem.to_string()).color(theme::error(ui.visuals()));
            let response = ui.add(egui::Label::new(text).sense(egui::Sense::click()));
            if let Place::Source(id) | Place::Step(id) | Place::Sink(id) = &problem.place
                && response.on_hover_text("Click to select the node").clicked()
            {
                clicked = Some(id.clone());
            }
        }
        if let Some(invalid) = &self.replay.invalid {
            ui.separator();
            ui.label(RichText::new("The replay could not load the pipeline:").strong());
            for problem in invalid.iter() {
                ui.colored_label(theme::error(ui.visuals()), &problem.message);
            }
        }
        if let Some(id) = clicked {
            self.pending.push(UiCommand::InspectId(id));
        }
    }

    fn replay_bar_ui(&mut self, ui: &mut egui::Ui) {
        let view = self.replay.view.clone().filter(|v| v.pipeline.is_some());
        let commands = timeline_ui(ui, view.as_deref(), &mut self.replay.speed, &mut self.replay.step_n);
        self.pending.extend(commands.into_iter().map(UiCommand::Replay));
        let progress = self.run.as_ref().map(crate::engine::BackgroundRun::progress);
        match run_row_ui(ui, progress, self.run_report.as_ref()) {
            Some(RunAction::Cancel) => self.pending.push(UiCommand::CancelRun),
            Some(RunAction::ShowSummary) => self.bottom_tab = BottomTab::Run,
            Some(RunAction::Dismiss) => self.run_report = None,
            None => {}
        }
        // The graph on screen is not the one replaying: offer to reload it.
        let changed =
            self.replay.loaded.as_ref().is_some_and(|loaded| !loaded.same_but_layout(&self.current));
        if changed && view.is_some() {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new("The pipeline changed since the replay started.")
                        .color(theme::selection(ui.visuals())),
                );
                if ui.button("Restart with the changes").clicked() {
                    self.pending.push(UiCommand::ReloadReplay { restart: true });
                }
                if ui
                    .button("Continue from here with the changes")
                    .on_hover_text("Keeps each key's state")
                    .clicked()
                {
                    self.pending.push(UiCommand::ReloadReplay { restart: false });
                }
            });
        }
        if let Some(hit) = view.as_ref().and_then(|v| v.breakpoint_hit.clone()) {
            ui.horizontal_wrapped(|ui| {
                let step = hit.breakpoint.step().to_owned();
                if ui.button("Show the step").clicked() {
                    self.pending.push(UiCommand::InspectId(step));
                }
                let key = hit.key.as_deref().map(|k| format!(", key {k:?}")).unwrap_or_default();
                ui.colored_label(
                    theme::selection(ui.visuals()),
                    format!(
                        "⏸ Paused by breakpoint {} ({}) at event {}{key}",
                        hit.index + 1,
                        hit.breakpoint,
                        hit.position
                    ),
                );
            });
        }
        if let Some(error) = view.as_ref().and_then(|v| v.error.clone()) {
            ui.horizontal_wrapped(|ui| {
                // The button first: the message can be long.
                if let Some(step) = error.step.clone()
                    && ui.button("Show the step").clicked()
                {
                    self.pending.push(UiCommand::InspectId(step));
                }
                let place = error.step.as_deref().map(|s| format!(" in `{s}`")).unwrap_or_default();
                ui.colored_label(
                    theme::error(ui.visuals()),
                    format!("Stopped at event {}{place}: {}", error.position + 1, error.message),
                );
            });
        }
        if self.developer_overlay && !self.replay.frame_times.is_empty() {
            let times = &self.replay.frame_times;
            let mean = times.iter().sum::<f32>() / times.len() as f32;
            let worst = times.iter().copied().fold(0.0_f32, f32::max);
            ui.weak(format!(
                "frame {:.1} ms mean, {:.1} ms worst while playing",
                mean * 1000.0,
                worst * 1000.0
            ));
        }
    }

    fn dialogs_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(command) = self.confirm_discard.clone() {
            let mut close = false;
            egui::Modal::new(egui::Id::new("discard")).show(&ctx, |ui| {
                ui.heading("Unsaved changes");
                ui.label("The pipeline has changes that are not saved.");
                ui.horizontal(|ui| {
                    let save = if self.document.file.is_some() { "Save" } else { "Save As…" };
                    if ui.button(save).clicked() {
                        self.pending.push(UiCommand::SaveThen(Box::new(command.clone())));
                        close = true;
                    }
                    if ui.button("Discard changes").clicked() {
                        self.pending.push(UiCommand::Discard(Box::new(command.clone())));
                        close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        close = true;
                    }
                });
            });
            if close {
                self.confirm_discard = None;
            }
        }
        let unsaved = self.is_dirty().then(|| self.document.file.clone()).flatten();
        let checkpoints = super::save_test::checkpoints_note(&self.test_checkpoints());
        let saving = self.saving_test.as_ref().map(|saving| saving.folder.clone());
        let Some(dialog) = &mut self.file_dialog else { return };
        if let Some(path) = dialog.poll() {
            match dialog.mode {
                FileDialogMode::Open => self.pending.push(UiCommand::Open(path)),
                FileDialogMode::SaveAs => self.pending.push(UiCommand::SaveAs(path)),
                FileDialogMode::Export => {
                    self.pending.push(UiCommand::Export { path, include_layout: dialog.include_layout });
                }
                FileDialogMode::SaveTest => self.pending.push(save_test_command(path, unsaved.is_some())),
                FileDialogMode::Compare => self.pending.push(UiCommand::CompareWith(path)),
            }
        }
        let title = match dialog.mode {
            FileDialogMode::Open => "Open pipeline",
            FileDialogMode::SaveAs => "Save pipeline as",
            FileDialogMode::Export => "Export runnable pipeline",
            FileDialogMode::SaveTest => "Save as test",
            FileDialogMode::Compare => "Compare with pipeline",
        };
        let (field, hint) = match dialog.mode {
            FileDialogMode::SaveTest => ("Test folder", "path/to/new/test-folder"),
            _ => ("File path", "path/to/pipeline.toml"),
        };

        let mut open = true;
        let mut submit = false;
        egui::Window::new(title).collapsible(false).open(&mut open).show(&ctx, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label(field);
                let response = ui
                    .add(egui::TextEdit::singleline(&mut dialog.path).desired_width(360.0).hint_text(hint))
                    .labelled_by(label.id);
                if response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                    submit = true;
                }
                if ui.add_enabled(dialog.native.is_none(), egui::Button::new("Browse…")).clicked() {
                    dialog.browse();
                }
            });
            if dialog.mode == FileDialogMode::Export {
                ui.checkbox(&mut dialog.include_layout, "Include the editor's layout (node positions)");
                ui.weak("The runner ignores the layout either way.");
            }
            if dialog.mode == FileDialogMode::SaveTest {
                ui.weak(
                    "A new folder (or an empty one) gets the pipeline file as saved, the files its \
                     sources read and each sink's expected lines; nothing is overwritten. \
                     Run it with: eddy test FOLDER",
                );
                ui.label(&checkpoints);
                if let Some(file) = &unsaved {
                    ui.strong(format!(
                        "{} has unsaved edits: the test is made from the file, so they are saved first.",
                        file.display()
                    ));
                }
            }
            if let Some(error) = &dialog.error {
                ui.colored_label(theme::error(ui.visuals()), error);
            }
            ui.horizontal(|ui| {
                let action = match dialog.mode {
                    FileDialogMode::Open => "Open",
                    FileDialogMode::SaveAs => "Save",
                    FileDialogMode::Export => "Export",
                    FileDialogMode::SaveTest if unsaved.is_some() => "Save and make the test",
                    FileDialogMode::SaveTest => "Make the test",
                    FileDialogMode::Compare => "Compare",
                };
                if ui.add_enabled(saving.is_none(), egui::Button::new(action)).clicked() {
                    submit = true;
                }
                if let Some(folder) = &saving {
                    ui.spinner();
                    ui.label(format!("Replaying the pipeline to write {}…", folder.display()));
                }
            });
        });
        if submit {
            let path = std::path::PathBuf::from(dialog.path.trim());
            if dialog.path.trim().is_empty() {
                dialog.error = Some(format!("type a {} first", field.to_lowercase()));
            } else {
                match dialog.mode {
                    FileDialogMode::Open => self.pending.push(UiCommand::Open(path)),
                    FileDialogMode::SaveAs => self.pending.push(UiCommand::SaveAs(path)),
                    FileDialogMode::Export => {
                        self.pending.push(UiCommand::Export { path, include_layout: dialog.include_layout });
                    }
                    FileDialogMode::SaveTest => self.pending.push(save_test_command(path, unsaved.is_some())),
                    FileDialogMode::Compare => self.pending.push(UiCommand::CompareWith(path)),
                }
            }
        }
        if !open {
            self.file_dialog = None;
            self.after_save = None;
        }
    }
}

/// Save as test into `folder`, the edits saved first when there are any (a test is made from the
/// pipeline file).
fn save_test_command(folder: std::path::PathBuf, unsaved: bool) -> UiCommand {
    let save_test = UiCommand::SaveTest(folder);
    if unsaved { UiCommand::SaveThen(Box::new(save_test)) } else { save_test }
}
