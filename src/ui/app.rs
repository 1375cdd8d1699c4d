//! The workbench window: the pipeline outline, its problems, and a run's results.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Instant;

use eframe::egui;

use crate::engine::{Engine, EngineOptions, RunError, load_and_check};
use crate::graph::{PipelineDoc, ValidGraph};

/// Lines of each sink's output shown after a run.
const SHOWN_LINES: usize = 200;

/// What a finished run reports back to the window.
struct RunReport {
    /// `Err` holds the error that stopped the run.
    outcome: Result<(), String>,
    /// `step id, operator, items in, items out`.
    steps: Vec<(String, String, u64, u64)>,
    /// `sink id, items written, first lines`.
    sinks: Vec<(String, u64, Vec<String>)>,
    events: u64,
    timers_fired: u64,
    seconds: f64,
}

enum RunState {
    Idle,
    Running(Receiver<RunReport>),
    Done(RunReport),
}

/// The workbench's state: the open file, what loading it found, and the last run.
pub struct Workbench {
    file: PathBuf,
    doc: Option<PipelineDoc>,
    graph: Option<ValidGraph>,
    problems: Vec<String>,
    run: RunState,
}

impl Workbench {
    /// Opens a pipeline file (problems are shown, never fatal).
    pub fn open(file: &Path) -> Self {
        let mut workbench = Self {
            file: file.to_path_buf(),
            doc: None,
            graph: None,
            problems: Vec::new(),
            run: RunState::Idle,
        };
        workbench.reload();
        workbench
    }

    fn reload(&mut self) {
        self.doc = crate::graph::load_file(&self.file).ok();
        match load_and_check(&self.file) {
            Ok(graph) => {
                self.doc = Some(graph.doc.clone());
                self.graph = Some(graph);
                self.problems.clear();
            }
            Err(RunError::Invalid(problems)) => {
                self.graph = None;
                self.problems = problems.0.iter().map(ToString::to_string).collect();
            }
            Err(other) => {
                self.graph = None;
                self.problems = vec![other.to_string()];
            }
        }
    }

    fn start_run(&mut self, ctx: &egui::Context) {
        let Some(graph) = self.graph.clone() else { return };
        let (sender, receiver) = channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("eddy-run".into()).spawn(move || {
            let report = run_to_report(graph);
            let _ignored = sender.send(report);
            ctx.request_repaint();
        });
        self.run = match spawned {
            Ok(_) => RunState::Running(receiver),
            Err(e) => RunState::Done(RunReport {
                outcome: Err(format!("could not start the run: {e}")),
                steps: Vec::new(),
                sinks: Vec::new(),
                events: 0,
                timers_fired: 0,
                seconds: 0.0,
            }),
        };
    }

    fn outline_ui(&self, ui: &mut egui::Ui) {
        let Some(doc) = &self.doc else {
            ui.label("The file could not be read.");
            return;
        };
        ui.heading("Sources");
        for source in &doc.sources {
            let time =
                source.time_field.as_deref().map(|t| format!(", time field `{t}`")).unwrap_or_default();
            ui.label(format!("{}  ·  {}{time}", source.id, source.path.display()));
        }
        ui.separator();
        ui.heading("Steps");
        for step in &doc.steps {
            ui.label(egui::RichText::new(format!("{}  ·  {}", step.id, step.op)).strong());
            let mut detail = format!("    from {}", step.inputs.join(", "));
            if let Some(builtin) = step.builtin {
                detail.push_str(&format!("   builtin {}", builtin.as_str()));
            }
            if let Some(field) = &step.field {
                detail.push_str(&format!("   field `{field}`"));
            }
            if step.script.is_some() {
                detail.push_str("   (script)");
            }
            ui.label(detail);
        }
        ui.separator();
        ui.heading("Sinks");
        for sink in &doc.sinks {
            let target = sink.path.as_ref().map_or("stdout".to_owned(), |p| p.display().to_string());
            ui.label(format!(
                "{}  ·  {} to {target}, from {}",
                sink.id,
                sink.format.as_str(),
                sink.inputs.join(", ")
            ));
        }
    }

    fn results_ui(&self, ui: &mut egui::Ui) {
        match &self.run {
            RunState::Idle => {
                ui.label("Press Run to replay the sources through the pipeline.");
            }
            RunState::Running(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Running…");
                });
            }
            RunState::Done(report) => {
                match &report.outcome {
                    Ok(()) => ui.label(format!(
                        "Done: {} events in {:.3} s, {} timers fired.",
                        report.events, report.seconds, report.timers_fired
                    )),
                    Err(e) => ui.colored_label(ui.visuals().error_fg_color, format!("The run stopped: {e}")),
                };
                ui.separator();
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
                for (id, count, lines) in &report.sinks {
                    ui.separator();
                    ui.strong(format!("sink {id}: {count} items"));
                    for line in lines {
                        ui.monospace(line);
                    }
                    if *count as usize > lines.len() {
                        ui.label(format!("… and {} more", *count as usize - lines.len()));
                    }
                }
            }
        }
    }
}

fn run_to_report(graph: ValidGraph) -> RunReport {
    let started = Instant::now();
    let options = EngineOptions { capture_sinks: true, ..EngineOptions::default() };
    let mut engine = match Engine::new(graph, &options) {
        Ok(engine) => engine,
        Err(e) => {
            return RunReport {
                outcome: Err(e.to_string()),
                steps: Vec::new(),
                sinks: Vec::new(),
                events: 0,
                timers_fired: 0,
                seconds: 0.0,
            };
        }
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

impl eframe::App for Workbench {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if let RunState::Running(receiver) = &self.run {
            match receiver.try_recv() {
                Ok(report) => self.run = RunState::Done(report),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.run = RunState::Idle,
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let title = format!("Eddy — {}", self.file.display());
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Title(title));
        egui::Panel::top("toolbar").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Eddy");
                ui.label(self.file.display().to_string());
                let can_run = self.graph.is_some() && !matches!(self.run, RunState::Running(_));
                if ui.add_enabled(can_run, egui::Button::new("▶ Run")).clicked() {
                    let ctx = ui.ctx().clone();
                    self.start_run(&ctx);
                }
                if ui.button("⟳ Reload").clicked() {
                    self.reload();
                }
            });
        });
        if !self.problems.is_empty() {
            egui::Panel::bottom("problems").show(ui, |ui| {
                ui.strong(format!("{} problem(s)", self.problems.len()));
                for problem in &self.problems {
                    ui.colored_label(ui.visuals().error_fg_color, problem);
                }
            });
        }
        egui::Panel::left("outline").resizable(true).default_size(420.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.outline_ui(ui));
        });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.results_ui(ui));
        });
    }
}
