//! The cost of snapshots in `eddy bench`: the same pipeline run without snapshots and with a
//! snapshot every [`DEFAULT_SNAPSHOT_EVERY`] events (state written, sinks and the snapshot
//! file fsynced, as `eddy run --snapshot-dir` does), interleaved round by round so that a
//! drifting machine weighs on both alike.

use std::fmt;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow};

use super::DEFAULT_SNAPSHOT_EVERY;
use crate::engine::{Engine, EngineOptions, SnapshotWriter, StepOutcome, load_and_check};

/// One round: the run without snapshots and the run with them, in seconds, and the time the
/// snapshots took within the second.
#[derive(Debug, Clone, Copy)]
struct Round {
    plain: f64,
    with_snapshots: f64,
    /// Taking the state and syncing the sinks (`Engine::snapshot`).
    in_taking: f64,
    /// Writing and syncing the snapshot file (`SnapshotWriter::write`).
    in_writing: f64,
}

/// What the snapshot rounds measured.
#[derive(Debug, Clone)]
pub struct SnapshotCost {
    /// Events per run.
    events: u64,
    /// Snapshots taken per run.
    snapshots: u64,
    /// Every round, in the order run.
    rounds: Vec<Round>,
}

impl SnapshotCost {
    /// Times `pipeline` `rounds` times each way, alternating, writing snapshots into
    /// `dir` (replaced each round).
    pub fn measure(pipeline: &Path, dir: &Path, rounds: u32) -> Result<SnapshotCost> {
        let mut cost = SnapshotCost { events: 0, snapshots: 0, rounds: Vec::new() };
        for _ in 0..rounds.max(1) {
            let plain = time_run(pipeline, None)?;
            let with = time_run(pipeline, Some(dir))?;
            cost.events = with.events;
            cost.snapshots = with.snapshots;
            cost.rounds.push(Round {
                plain: plain.seconds,
                with_snapshots: with.seconds,
                in_taking: with.in_taking,
                in_writing: with.in_writing,
            });
        }
        Ok(cost)
    }
}

/// One timed run.
struct Run {
    /// Wall seconds, loading included.
    seconds: f64,
    /// Seconds taking snapshots (`Engine::snapshot`: state, sinks synced).
    in_taking: f64,
    /// Seconds writing them (`SnapshotWriter::write`: file written and synced).
    in_writing: f64,
    /// Snapshots taken.
    snapshots: u64,
    /// Source events read.
    events: u64,
}

/// Runs the pipeline to the end; with a folder, snapshots every [`DEFAULT_SNAPSHOT_EVERY`]
/// events into it.
fn time_run(pipeline: &Path, snapshots: Option<&Path>) -> Result<Run> {
    let started = Instant::now();
    let graph = load_and_check(pipeline).map_err(|e| anyhow!("{e}"))?;
    let mut writer = match snapshots {
        Some(dir) => Some(SnapshotWriter::open(dir, 3, &graph, None, true).map_err(|e| anyhow!("{e}"))?.0),
        None => None,
    };
    let options =
        EngineOptions { feed: Some(super::Prefetched::wrap), prune_fields: true, ..EngineOptions::default() };
    let mut engine = Engine::new(graph, &options).map_err(|e| anyhow!("{e}"))?;
    let mut run = Run { seconds: 0.0, in_taking: 0.0, in_writing: 0.0, snapshots: 0, events: 0 };
    loop {
        match engine.step().map_err(|e| anyhow!("{e}"))? {
            StepOutcome::Ended | StepOutcome::Finished => break,
            StepOutcome::Event { .. } => {
                if let Some(writer) = writer.as_mut()
                    && engine.stats().events_in.is_multiple_of(DEFAULT_SNAPSHOT_EVERY)
                {
                    let at = Instant::now();
                    let snapshot = engine.snapshot().map_err(|e| anyhow!("{e}"))?;
                    let taken_at = Instant::now();
                    writer.write(&snapshot, engine.graph(), pipeline).map_err(|e| anyhow!("{e}"))?;
                    run.in_taking += (taken_at - at).as_secs_f64();
                    run.in_writing += taken_at.elapsed().as_secs_f64();
                    run.snapshots += 1;
                }
            }
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.events = engine.stats().events_in;
    Ok(run)
}

/// The median and the range of some figures.
fn median_min_max(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let (min, max) = (values.first().copied().unwrap_or(0.0), values.last().copied().unwrap_or(0.0));
    (values.get(values.len() / 2).copied().unwrap_or(0.0), min, max)
}

impl fmt::Display for SnapshotCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = |seconds: f64| self.events as f64 / seconds.max(1e-9) / 1e6;
        let (plain, plain_min, plain_max) =
            median_min_max(self.rounds.iter().map(|r| rate(r.plain)).collect());
        let (with, with_min, with_max) =
            median_min_max(self.rounds.iter().map(|r| rate(r.with_snapshots)).collect());
        // Ratios of the same round only.
        let (ratio, ratio_min, ratio_max) =
            median_min_max(self.rounds.iter().map(|r| r.plain / r.with_snapshots.max(1e-9)).collect());
        let per_snapshot = |seconds: fn(&Round) -> f64| {
            median_min_max(
                self.rounds.iter().map(|r| 1e3 * seconds(r) / (self.snapshots.max(1) as f64)).collect(),
            )
        };
        let (take, take_min, take_max) = per_snapshot(|r| r.in_taking);
        let (write, write_min, write_max) = per_snapshot(|r| r.in_writing);
        writeln!(
            f,
            "snapshots every {DEFAULT_SNAPSHOT_EVERY} events ({} per run, {} rounds): each {take:.1} ms \
             ({take_min:.1}–{take_max:.1}) taking the state and syncing the sinks, {write:.1} ms \
             ({write_min:.1}–{write_max:.1}) writing and syncing the file",
            self.snapshots,
            self.rounds.len()
        )?;
        writeln!(
            f,
            "  without: {plain:.2} M ev/s ({plain_min:.2}–{plain_max:.2}); with: {with:.2} M ev/s \
             ({with_min:.2}–{with_max:.2}); with/without: {ratio:.2} ({ratio_min:.2}–{ratio_max:.2})"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::median_min_max;

    #[test]
    fn median_and_range() {
        assert_eq!(median_min_max(vec![3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(median_min_max(vec![]), (0.0, 0.0, 0.0));
    }
}
