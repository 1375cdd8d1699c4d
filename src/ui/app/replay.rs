//! The live replay's side of the app: the session handle, the last view it sent, and the
//! replay panels' widget state. Commands go out through a small queue that is retried on the
//! next frame when the session is busy, so the UI never blocks.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use eframe::egui;

use crate::graph::PipelineDoc;
use crate::session::{
    Breakpoint, Command, Event, GraphSource, Notice, Problem, RunView, SendError, SessionHandle,
    SnapshotContents, SnapshotDiff, SnapshotId, Speed,
};
use crate::ui::panels::breakpoints_ui::BreakpointForm;
use crate::ui::panels::state_ui::SortBy;
use crate::ui::panels::timers_ui::LogFilter;

/// Time spent draining the session's events per frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(10);

/// The replay: session, last view, and widget state of its panels.
#[derive(Default)]
pub struct Replay {
    handle: Option<SessionHandle>,
    outbox: VecDeque<Command>,
    /// The last view the session sent.
    pub view: Option<Arc<RunView>>,
    /// The document the session is running (`None`: nothing loaded yet).
    pub loaded: Option<PipelineDoc>,
    /// Problems of the last load that failed.
    pub invalid: Option<Arc<Vec<Problem>>>,
    /// Notices not shown yet.
    pub notices: Vec<Notice>,
    /// The last snapshot opened.
    pub opened: Option<Arc<SnapshotContents>>,
    /// The last diff asked for.
    pub diff: Option<Arc<SnapshotDiff>>,
    /// The breakpoints, as last sent.
    pub breakpoints: Vec<Breakpoint>,
    /// The form that adds a breakpoint.
    pub form: BreakpointForm,
    /// Speed of Play.
    pub speed: Speed,
    /// Events per "Step N".
    pub step_n: u64,
    /// The state table's filter.
    pub filter: String,
    /// The state table's order.
    pub sort: SortBy,
    /// The key whose state is shown in full (and watched).
    pub selected_key: Option<String>,
    /// The step whose table the session sends.
    pub selected_step: Option<String>,
    /// Snapshots picked for a diff.
    pub diff_from: Option<SnapshotId>,
    /// Snapshots picked for a diff.
    pub diff_to: Option<SnapshotId>,
    /// Filtered, sorted row indices of the current table, cached by (table, filter, order).
    pub rows_cache: Option<(usize, String, SortBy, Arc<Vec<usize>>)>,
    /// What the Log shows.
    pub log_filter: LogFilter,
    /// Recent frame times (seconds), to show how responsive the window is while playing.
    pub frame_times: VecDeque<f32>,
}

impl Replay {
    /// Nothing loaded yet.
    pub fn new() -> Self {
        Self { step_n: 10, ..Self::default() }
    }

    /// Queues a command; the session is started on first use.
    pub fn send(&mut self, ctx: &egui::Context, command: Command) {
        if self.handle.is_none() {
            match crate::session::spawn() {
                Ok(handle) => {
                    let ctx = ctx.clone();
                    handle.set_waker(Box::new(move || ctx.request_repaint()));
                    self.handle = Some(handle);
                }
                Err(e) => {
                    self.notices.push(Notice {
                        level: crate::session::NoticeLevel::Error,
                        message: format!("could not start the replay thread: {e}"),
                    });
                    return;
                }
            }
        }
        // A drag along the timeline asks for many seeks: only the last one still matters.
        if matches!(command, Command::Seek(_)) && matches!(self.outbox.back(), Some(Command::Seek(_))) {
            self.outbox.pop_back();
        }
        self.outbox.push_back(command);
        self.flush();
    }

    /// Loads a checked pipeline into the session (which does not check it again).
    pub fn load(&mut self, ctx: &egui::Context, graph: crate::graph::ValidGraph, restart: bool) {
        let doc = graph.doc.clone();
        let source = GraphSource::Valid(Box::new(graph));
        let command = match (&self.loaded, restart) {
            (Some(_), true) => Command::ReplaceGraph { source, mode: crate::session::ReplaceMode::Restart },
            (Some(_), false) => Command::ReplaceGraph { source, mode: crate::session::ReplaceMode::Continue },
            (None, _) => Command::Load(source),
        };
        self.loaded = Some(doc);
        self.invalid = None;
        self.send(ctx, command);
        if !self.breakpoints.is_empty() {
            let breakpoints = self.breakpoints.clone();
            self.send(ctx, Command::SetBreakpoints(breakpoints));
        }
        self.send(ctx, Command::SetSpeed(self.speed));
        if let Some(step) = self.selected_step.clone() {
            self.send(ctx, Command::Select(Some(step)));
        }
    }

    fn flush(&mut self) {
        let Some(handle) = &self.handle else { return };
        while let Some(command) = self.outbox.pop_front() {
            match handle.send(command) {
                Ok(()) => {}
                Err(SendError::Full(command)) => {
                    self.outbox.push_front(command);
                    break;
                }
                Err(SendError::Closed(_)) => {
                    self.handle = None;
                    self.outbox.clear();
                    break;
                }
            }
        }
    }

    /// Takes what the session sent since the last frame (within the frame's budget).
    pub fn poll(&mut self) {
        self.flush();
        let Some(handle) = &self.handle else { return };
        for event in handle.drain(DRAIN_BUDGET) {
            match event {
                Event::View(view) => self.view = Some(view),
                Event::Invalid(problems) => {
                    self.invalid = Some(problems);
                    self.loaded = None;
                }
                Event::Notice(notice) => self.notices.push(notice),
                Event::SnapshotOpened(contents) => self.opened = Some(contents),
                Event::SnapshotDiff(diff) => self.diff = Some(diff),
                Event::Closed => {}
            }
        }
    }

    /// Whether the replay is moving (the window keeps repainting).
    pub fn is_moving(&self) -> bool {
        self.view.as_ref().is_some_and(|v| {
            matches!(v.status, crate::session::Status::Playing | crate::session::Status::Seeking)
        }) || !self.outbox.is_empty()
    }

    /// Whether a pipeline is loaded in the session.
    pub fn is_loaded(&self) -> bool {
        self.loaded.is_some() && self.view.as_ref().is_some_and(|v| v.pipeline.is_some())
    }

    /// Records a frame's duration.
    pub fn record_frame(&mut self, seconds: f32) {
        if self.frame_times.len() >= 240 {
            self.frame_times.pop_front();
        }
        self.frame_times.push_back(seconds);
    }
}
