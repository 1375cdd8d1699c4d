//! `eddy bench --session`: the workbench's session replaying the bench's file against
//! `eddy run` on the same file (play at *max*, the State tab open, peak memory, seeks), so a
//! regression of the replay shows as a ratio to the runner.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::bench::{key_on, pipeline, time_pipeline};
use crate::engine::load_and_check;

/// Measures every session figure on the bench's first case (`file`, int state) and on a map
/// state over the same `source`, and times seeks across the map-state replay.
pub(super) fn measure(dir: &Path, file: &Path, source: &str) -> Result<(SessionFigures, Vec<(String, f64)>)> {
    let map_file = dir.join("map_state.toml");
    std::fs::write(&map_file, map_state_pipeline(source))
        .with_context(|| format!("cannot write {}", map_file.display()))?;
    let mut figures = SessionFigures::default();
    // Each shape's runner and session figures are taken one after the other, so that a
    // busy machine weighs on both alike.
    for (shape, file) in [("int", file), ("map", map_file.as_path())] {
        let run = time_pipeline(shape, file)?.rate();
        let play = time_play(file, false)?;
        let state_view = time_play(file, true)?;
        crate::eprintln_lossy!(
            "{shape} state: eddy run {run:.0} events/s, session play {play:.0}, state view {state_view:.0}"
        );
        figures.shapes.push(ShapeFigures { shape: shape.into(), run, play, state_view });
    }
    figures.peak_mib = peak_memory_in_child(&map_file);
    let timings = time_session(&map_file)?;
    Ok((figures, timings))
}

/// The session's figures against the runner's, measured in one bench run on the same file.
#[derive(Debug, Clone, Default)]
pub struct SessionFigures {
    /// Per state shape (`int`, `map`): the runner's events/s, the session's at *max* with the
    /// canvas only, and with the State tab open on the measured step.
    pub shapes: Vec<ShapeFigures>,
    /// Peak resident memory of a map-state replay played to the end (MiB), when measured.
    pub peak_mib: Option<f64>,
}

/// One state shape's rates (events per second).
#[derive(Debug, Clone)]
pub struct ShapeFigures {
    /// `int` or `map`.
    pub shape: String,
    /// `eddy run`.
    pub run: f64,
    /// The session playing at *max*, canvas only.
    pub play: f64,
    /// The session playing at *max* with the State tab open.
    pub state_view: f64,
}

impl fmt::Display for SessionFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for shape in &self.shapes {
            writeln!(
                f,
                "{} state: eddy run {:.0} events/s, session play {:.0} ({:.1} %), state view {:.0} ({:.1} %)",
                shape.shape,
                shape.run,
                shape.play,
                100.0 * shape.play / shape.run.max(1e-9),
                shape.state_view,
                100.0 * shape.state_view / shape.run.max(1e-9)
            )?;
        }
        // The lower ratio of the two shapes is the one quoted: the targets hold for both.
        let worst = |rate: fn(&ShapeFigures) -> f64| {
            self.shapes.iter().min_by(|a, b| (rate(a) / a.run).total_cmp(&(rate(b) / b.run)))
        };
        if let Some(shape) = worst(|s| s.play) {
            writeln!(
                f,
                "session play: {:.0} events/s, {:.1} % of eddy run",
                shape.play,
                100.0 * shape.play / shape.run.max(1e-9)
            )?;
        }
        if let Some(shape) = worst(|s| s.state_view) {
            writeln!(
                f,
                "session state view: {:.0} events/s, {:.1} % of eddy run",
                shape.state_view,
                100.0 * shape.state_view / shape.run.max(1e-9)
            )?;
        }
        match self.peak_mib {
            Some(mib) => writeln!(f, "session peak memory: {mib:.0} MiB"),
            None => writeln!(f, "session peak memory: not measured (no /proc/self/status)"),
        }
    }
}

/// The seeks among the session's timings (those named `seek …`): how many, the median and
/// the worst, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SeekSummary {
    count: usize,
    median: f64,
    worst: f64,
}

impl SeekSummary {
    /// The summary of the seeks among `timings`; `None` when there is none.
    pub(super) fn of(timings: &[(String, f64)]) -> Option<SeekSummary> {
        let mut seconds: Vec<f64> =
            timings.iter().filter(|(what, _)| what.starts_with("seek ")).map(|(_, s)| *s).collect();
        seconds.sort_by(f64::total_cmp);
        let worst = *seconds.last()?;
        let middle = seconds.len() / 2;
        let median = if seconds.len() % 2 == 1 {
            seconds[middle]
        } else {
            f64::midpoint(seconds[middle - 1], seconds[middle])
        };
        Some(SeekSummary { count: seconds.len(), median, worst })
    }
}

impl fmt::Display for SeekSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seeks: worst {:.3} s, median {:.3} s ({} seeks)", self.worst, self.median, self.count)
    }
}

/// The usual shape of a state: a map per key (`#{ n, total }`).
fn map_state_pipeline(source: &str) -> String {
    pipeline(
        source,
        &format!(
            "{}[[steps]]\nid = \"measured\"\nop = \"stateful_map\"\ninputs = [\"by_user\"]\nscript = '''\nfn mapper(state, e) {{ let s = state ?? #{{ n: 0, total: 0 }}; s.n += 1; s.total += e.value; [s, s.n] }}\n'''\n",
            key_on("by_user", "events")
        ),
    )
}

/// Plays a pipeline at *max* to the end on a session thread, as the workbench does (views
/// drained as they come), with or without the last step's table; events per second, from
/// `Play` to the end (counting the events before is not timed).
pub(super) fn time_play(file: &Path, state_view: bool) -> Result<f64> {
    use crate::session::{Command, Event, GraphSource, RunView, Speed, Status};
    let graph = load_and_check(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let measured = graph.doc.steps.last().map(|s| s.id.clone());
    let handle = crate::session::spawn().context("bench: cannot start a session thread")?;
    let send = |command: Command| {
        handle.send(command).map_err(|e| anyhow::anyhow!("bench: cannot send a command to the session: {e}"))
    };
    // Waits for a view that satisfies `done` (a minute at most between two events).
    let wait = |done: &dyn Fn(&RunView) -> bool| -> Result<Arc<RunView>> {
        loop {
            match handle.recv_timeout(Duration::from_secs(60)) {
                Some(Event::View(view)) if done(&view) => return Ok(view),
                Some(Event::Invalid(problems)) => {
                    anyhow::bail!("bench: the session refused {}: {problems:?}", file.display())
                }
                Some(Event::Closed) | None => anyhow::bail!("bench: the session stopped answering"),
                Some(_) => {}
            }
        }
    };
    send(Command::SetSpeed(Speed::AsFastAsPossible))?;
    send(Command::Load(GraphSource::Valid(Box::new(graph))))?;
    if state_view {
        send(Command::Select(measured))?;
    }
    let loaded = wait(&|v| v.total.is_some() && v.status == Status::Paused)?;
    let started = Instant::now();
    send(Command::Play)?;
    let ended =
        wait(&|v| v.generation == loaded.generation && v.position > 0 && v.status != Status::Playing)?;
    let seconds = started.elapsed().as_secs_f64();
    handle.shutdown();
    if ended.status != Status::Ended {
        anyhow::bail!(
            "bench: the replay of {} stopped at event {} ({:?})",
            file.display(),
            ended.position,
            ended.status
        );
    }
    Ok(ended.position as f64 / seconds.max(1e-9))
}

/// The peak resident memory (MiB) of a map-state replay played to the end with its table
/// open, measured in a child `eddy bench --session-memory-of FILE` so that nothing else counts.
fn peak_memory_in_child(file: &Path) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let output = std::process::Command::new(exe)
        .arg("bench")
        .arg("--session-memory-of")
        .arg(file)
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("peak resident KiB: ")?.trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
}

/// `eddy bench --session-memory-of FILE`: plays the file to the end in a session with the
/// last step's table open, and says how fast and the process's peak resident memory (`VmHWM`).
pub(super) fn session_memory(file: &Path) -> Result<String> {
    let rate = time_play(file, true)?;
    let kib = super::bench_memory::peak_kib()?;
    Ok(format!("played at {rate:.0} events/s\npeak resident KiB: {kib}"))
}

/// Times the session's replay of a pipeline: counting, a traced replay to the end, seeks
/// back (nearest keyframe, then forward), a view carrying the whole key table, and single
/// steps (each with its view and table).
pub(super) fn time_session(file: &Path) -> Result<Vec<(String, f64)>> {
    use crate::session::{Command, GraphSource, Playback, Speed};
    let graph = load_and_check(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let measured = graph.doc.steps.last().map(|s| s.id.clone());
    let mut playback = Playback::new();
    let mut timings = Vec::new();
    let mut timed = |what: String, playback: &mut Playback, command: Command| {
        let started = Instant::now();
        playback.handle(command);
        playback.finish();
        let _view = playback.view();
        let seconds = started.elapsed().as_secs_f64();
        crate::eprintln_lossy!("session: {what:<58} {seconds:>8.3} s");
        timings.push((what, seconds));
    };
    timed(
        "load and count the events".into(),
        &mut playback,
        Command::Load(GraphSource::Valid(Box::new(graph))),
    );
    let total = playback.total().context("the session could not count the events")?;
    playback.handle(Command::SetSpeed(Speed::AsFastAsPossible));
    timed(
        format!("replay to {total} (a seek: items traced where a preview shows them)"),
        &mut playback,
        Command::Seek(total),
    );
    // The keyframes' spacing once the budget has thinned them: a seek replays up to this
    // many events from the nearest one.
    let (count, bytes, budget) = playback.keyframe_use();
    crate::eprintln_lossy!(
        "session: keyframes every {} events at the end: {count} holding {:.0} MiB of their {:.0} MiB budget",
        playback.keyframe_every(),
        bytes as f64 / 1048576.0,
        budget as f64 / 1048576.0
    );
    timed(
        "select the measured step (a view with its whole key table)".into(),
        &mut playback,
        Command::Select(measured),
    );
    // Each seek's view carries the selected step's whole table, as the workbench's would.
    for target in [
        total.saturating_sub(1),
        total / 8 * 7 + 123,
        total / 4 * 3 + 777,
        total / 2 + 1,
        total / 4 + 999,
        total / 8 + 5,
        10,
    ] {
        let from = playback.position();
        timed(format!("seek from {from} back to {target}"), &mut playback, Command::Seek(target));
    }
    timed(format!("seek from 10 forward to {}", total / 2 + 1), &mut playback, Command::Seek(total / 2 + 1));
    for _ in 0..3 {
        let from = playback.position();
        timed(format!("step one event from {from}"), &mut playback, Command::Step(1));
    }
    Ok(timings)
}
