//! `eddy run --workers N` (N ≥ 2): the pipeline on N worker threads (docs/workers.md), with
//! the same refusals, summary and exit codes as a run on one.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::RecoveryOptions;
use super::run::{LiveOptions, report_end, stop_on_signals};
use crate::engine::{Engine, EngineOptions, RunError, load_and_check_with};
use crate::workers::Part;

/// Where the workers of a run are: `--workers`, `--hosts`, `--process`.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// Worker threads (in each process).
    pub workers: usize,
    /// The processes' `host:port` list, for a run over several processes.
    pub hosts: Option<&'a Path>,
    /// This process's index in `hosts`.
    pub process: Option<usize>,
}

/// The processes of `--hosts FILE`: one `host:port` per non-empty line.
fn read_hosts(hosts: &Path, process: usize) -> Result<Vec<String>, RunError> {
    let text = std::fs::read_to_string(hosts)
        .map_err(|e| RunError::Usage(format!("--hosts {}: cannot read it: {e}", hosts.display())))?;
    let addresses: Vec<String> =
        text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
    if let Some((line, bad)) = addresses.iter().enumerate().find(|(_, a)| !a.contains(':')) {
        return Err(RunError::Usage(format!(
            "--hosts {}: line {}: expected host:port, found {bad:?}",
            hosts.display(),
            line + 1
        )));
    }
    if process >= addresses.len() {
        return Err(RunError::Usage(format!(
            "--process {process}: {} lists {} process(es), numbered from 0",
            hosts.display(),
            addresses.len()
        )));
    }
    // This process listens there: a wrong address or a port in use is said now, before any
    // output file is opened (timely would only find out after).
    if let Err(e) = std::net::TcpListener::bind(&addresses[process]) {
        return Err(RunError::Usage(format!(
            "--hosts {}: line {}: process {process} cannot listen on {}: {e}",
            hosts.display(),
            process + 1,
            addresses[process]
        )));
    }
    Ok(addresses)
}

/// Runs `file` on the workers `layout` says; returns the exit code.
pub fn run_workers_command(
    file: &Path,
    quiet: bool,
    recovery: &RecoveryOptions,
    live: LiveOptions<'_>,
    ledger: Option<&Path>,
    layout: &Layout<'_>,
) -> u8 {
    let workers = layout.workers;
    let started = Instant::now();
    let graph = match load_and_check_with(file, recovery.snapshot_dir.as_deref()) {
        Ok(graph) => graph,
        Err(e) => {
            crate::eprintln_lossy!("error: {}: {e}", file.display());
            return e.exit_code();
        }
    };
    // Everything that can refuse the run does so before any output file is opened.
    if let Some(what) = not_yet(live, ledger).or_else(|| crate::workers::unsupported(&graph)) {
        let error = RunError::Usage(format!(
            "--workers {workers}: {what}, which does not run on several workers yet; run it without --workers"
        ));
        crate::eprintln_lossy!("error: {}: {error}", file.display());
        return error.exit_code();
    }
    let options =
        EngineOptions { feed: Some(super::Prefetched::wrap), prune_fields: true, ..EngineOptions::default() };
    let cluster = match (layout.hosts, layout.process) {
        (Some(hosts), Some(process)) => match read_hosts(hosts, process) {
            Ok(addresses) => Some(crate::workers::Cluster { threads: workers, process, addresses }),
            Err(e) => {
                crate::eprintln_lossy!("error: {e}");
                return e.exit_code();
            }
        },
        _ => None,
    };
    // Only the first process reads the sources, writes the sinks and the snapshots, and
    // deals a resumed snapshot's states out.
    let first = cluster.as_ref().is_none_or(|cluster| cluster.process == 0);
    let (part, plan) = if first {
        match prepare_first(file, graph, recovery, quiet, &options) {
            Ok((engine, plan)) => (Part::Reader(Box::new(engine)), plan),
            Err(e) => {
                crate::eprintln_lossy!("error: {e}");
                return e.exit_code();
            }
        }
    } else {
        (Part::Keys(Box::new(graph)), crate::workers::Recovery::default())
    };
    let stop = stop_on_signals();
    let asked = stop.clone();
    let stop_check: crate::workers::StopCheck = Arc::new(move || asked.take());
    let (mut engine, result) = match (cluster, part) {
        (Some(cluster), part) => crate::workers::run_in_cluster(part, &options, cluster, plan, stop_check),
        (None, Part::Reader(engine)) => {
            crate::workers::run_on_workers(*engine, &options, workers, plan, stop_check)
        }
        // Without --hosts this process is the first: it has the engine.
        (None, Part::Keys(_)) => (None, Ok(())),
    };
    // The first process takes a snapshot after the batch a signal ended.
    let snapshot_written = first && recovery.snapshot_dir.is_some();
    report_end(engine.as_mut(), result, &stop, quiet, started, snapshot_written)
}

/// The first process's engine (fresh, or restored from `--resume`, its file sinks cut back)
/// and its snapshots: where they go, how often, and the one resumed from.
fn prepare_first(
    file: &Path,
    graph: crate::graph::ValidGraph,
    recovery: &RecoveryOptions,
    quiet: bool,
    options: &EngineOptions,
) -> Result<(Engine, crate::workers::Recovery), RunError> {
    let every = match recovery.interval() {
        Some(super::SnapshotEvery::WallMicros(_)) => {
            return Err(RunError::Usage(
                "--snapshot-every: a duration is for live runs; a replay takes its snapshots every N events \
                 (--snapshot-every 100000)"
                    .to_owned(),
            ));
        }
        Some(super::SnapshotEvery::Events(every)) => Some(every),
        None => None,
    };
    let (resume, writer) = super::run::prepare(file, &graph, recovery, quiet)?;
    let engine = match &resume {
        Some(point) => Engine::restore(graph, &point.snapshot, options)?,
        None => Engine::new(graph, options)?,
    };
    let snapshots = match (writer, every) {
        (Some(writer), Some(every)) => {
            Some(crate::workers::SnapshotPlan { writer, every, pipeline: file.to_path_buf() })
        }
        _ => None,
    };
    Ok((engine, crate::workers::Recovery { snapshots, resume: resume.map(|point| point.snapshot) }))
}

/// What a run on several workers cannot do yet, named as the option that asks for it.
fn not_yet(live: LiveOptions<'_>, ledger: Option<&Path>) -> Option<String> {
    if live.record.is_some() || live.replay.is_some() {
        Some("a live recording (--record, --replay)".to_owned())
    } else {
        ledger.map(|_| "the ledger (--ledger)".to_owned())
    }
}
