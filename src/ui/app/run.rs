//! A whole run of the pipeline on a background thread, with each step's counts and the first
//! outputs of each sink. (The live replay of the session module builds on this.)

use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Instant;

use eframe::egui;

use crate::engine::{Engine, EngineOptions};
use crate::graph::ValidGraph;
use crate::ui::theme;

/// Lines of each sink's output shown after a run.
const SHOWN_LINES: usize = 200;

/// What a finished run reports.
pub struct RunReport {
    /// `Err` holds the error that stopped the run.
    pub outcome: Result<(), String>,
    /// `step id, operator, items in, items out`.
    pub steps: Vec<(String, String, u64, u64)>,
    /// `sink id, items written, first lines`.
    pub sinks: Vec<(String, u64, Vec<String>)>,
    /// Source events read.
    pub events: u64,
    /// Timers fired.
    pub timers_fired: u64,
    /// Wall time of the run.
    pub seconds: f64,
}

/// The run panel's state.
#[derive(Default)]
pub enum RunPanel {
    /// Nothing run yet.
    #[default]
    Idle,
    /// Running in the background.
    Running(Receiver<RunReport>),
    /// The last run's report.
    Done(RunReport),
}

impl RunPanel {
    /// Starts a run of a checked pipeline.
    pub fn start(&mut self, graph: ValidGraph) {
        let (sender, receiver) = channel();
        let spawned = std::thread::Builder::new().name("eddy-run".into()).spawn(move || {
            let _ignored = sender.send(run_to_report(graph));
        });
        *self = match spawned {
            Ok(_) => Self::Running(receiver),
            Err(e) => Self::Done(failed(format!("could not start the run: {e}"))),
        };
    }

    /// Takes the report when the run has finished.
    pub fn poll(&mut self) {
        if let Self::Running(receiver) = self {
            match receiver.try_recv() {
                Ok(report) => *self = Self::Done(report),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    *self = Self::Done(failed("the run stopped unexpectedly".into()))
                }
            }
        }
    }

    /// Whether a run is going on.
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Running(_))
    }

    /// The panel.
    pub fn run_ui(&self, ui: &mut egui::Ui) {
        match self {
            Self::Idle => {
                ui.weak("Press ▶ Run to replay the sources through the pipeline.");
            }
            Self::Running(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Running…");
                });
            }
            Self::Done(report) => report_ui(ui, report),
        }
    }
}

fn report_ui(ui: &mut egui::Ui, report: &RunReport) {
    match &report.outcome {
        Ok(()) => ui.label(format!(
            "Done: {} events in {:.3} s, {} timers fired.",
            report.events, report.seconds, report.timers_fired
        )),
        Err(e) => ui.colored_label(theme::error(ui.visuals()), format!("The run stopped: {e}")),
    };
    ui.horizontal_top(|ui| {
        egui::Grid::new("step_counts").striped(true).show(ui, |ui| {
            ui.strong("step");
            ui.strong("operator");
            ui.strong("in");
            ui.strong("out");
            ui.end_row();
            for (id, op, items_in, items_out) in &report.steps {
                ui.label(id);
                ui.label(op);
                ui.label(items_in.to_string());
                ui.label(items_out.to_string());
                ui.end_row();
            }
        });
        ui.separator();
        ui.vertical(|ui| {
            for (id, count, lines) in &report.sinks {
                ui.strong(format!("sink {id}: {count} items"));
                for line in lines {
                    ui.monospace(line);
                }
                if *count as usize > lines.len() {
                    ui.weak(format!("… and {} more", *count as usize - lines.len()));
                }
            }
        });
    });
}

fn failed(message: String) -> RunReport {
    RunReport {
        outcome: Err(message),
        steps: Vec::new(),
        sinks: Vec::new(),
        events: 0,
        timers_fired: 0,
        seconds: 0.0,
    }
}

fn run_to_report(graph: ValidGraph) -> RunReport {
    let started = Instant::now();
    let options = EngineOptions { capture_sinks: true, ..EngineOptions::default() };
    let mut engine = match Engine::new(graph, &options) {
        Ok(engine) => engine,
        Err(e) => return failed(e.to_string()),
    };
    let outcome = engine.run_to_end().map_err(|e| e.to_string());
    let doc = &engine.graph().doc;
    let stats = engine.stats();
    let steps = doc
        .steps
        .iter()
        .zip(&stats.steps)
        .map(|(s, c)| (s.id.clone(), s.op.to_string(), c.items_in, c.items_out))
        .collect();
    let captured = engine.captured();
    let sinks = doc
        .sinks
        .iter()
        .zip(&stats.sink_items)
        .map(|(s, n)| {
            let lines = captured
                .get(&s.id)
                .map(|l| l.iter().take(SHOWN_LINES).cloned().collect())
                .unwrap_or_default();
            (s.id.clone(), *n, lines)
        })
        .collect();
    RunReport {
        outcome,
        steps,
        sinks,
        events: stats.events_in,
        timers_fired: stats.timers_fired,
        seconds: started.elapsed().as_secs_f64(),
    }
}
