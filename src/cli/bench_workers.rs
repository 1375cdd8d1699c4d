//! `eddy bench --workers N`: the same pipelines on one worker (the single-threaded runner) and
//! on N (docs/workers.md), alternated round by round on one generated file, with the ratio of
//! each round and a check that both wrote the same bytes.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::bench::{Spread, run_case, timed, worker_cases};
use crate::engine::{Engine, EngineOptions, load_and_check};

/// Times each of [`worker_cases`] on 1 and on `workers` workers for `rounds` rounds in `dir`
/// (its data already generated); the table as text.
pub fn bench_workers(dir: &Path, workers: usize, rounds: u32, only: Option<&str>) -> Result<String> {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{rounds} rounds, 1 worker and {workers} alternated; rates are medians with the rounds' min–max\n"
    );
    let _ = writeln!(
        table,
        "{:<52} {:>22} {:>22} {:>22}",
        "case",
        "1 worker",
        format!("{workers} workers"),
        "ratio"
    );
    for (index, (name, text)) in worker_cases().into_iter().enumerate() {
        if only.is_some_and(|only| !name.contains(only)) {
            continue;
        }
        let file = dir.join(format!("workers-{}.toml", index + 1));
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        let out = dir.join("out.jsonl");
        let (mut one, mut many, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds.max(1) {
            // Alternate which goes first, so that neither always runs on a warmer machine.
            let mut pair = [None, None];
            for turn in 0..2 {
                let on_many = (turn + round as usize) % 2 == 1;
                let (events, timing) = if on_many {
                    timed(|| run_on_workers(&file, workers))?
                } else {
                    timed(|| run_case(&file, false))?
                };
                let bytes = std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?;
                pair[usize::from(on_many)] = Some((events as f64 / timing.wall.max(1e-9), timing, bytes));
            }
            let [Some((rate_one, _, bytes_one)), Some((rate_many, _, bytes_many))] = pair else { continue };
            if bytes_one != bytes_many {
                bail!("{name}: {workers} workers wrote other bytes than 1 worker ({})", out.display());
            }
            crate::eprintln_lossy!(
                "round {}/{rounds}: {name:<52} 1 worker {:>6.2} M ev/s, {workers} workers {:>6.2} M ev/s, ×{:.2}",
                round + 1,
                rate_one / 1e6,
                rate_many / 1e6,
                rate_many / rate_one
            );
            one.push(rate_one);
            many.push(rate_many);
            ratios.push(rate_many / rate_one);
        }
        let rate = |rates: &[f64]| {
            let s = Spread::of(rates);
            format!("{:.2} M ({:.2}–{:.2})", s.median / 1e6, s.min / 1e6, s.max / 1e6)
        };
        let r = Spread::of(&ratios);
        let _ = writeln!(
            table,
            "{name:<52} {:>22} {:>22} {:>22}",
            rate(&one),
            rate(&many),
            format!("×{:.2} ({:.2}–{:.2})", r.median, r.min, r.max)
        );
    }
    let _ = writeln!(table, "\nevery round's outputs were byte-identical on 1 and {workers} workers");
    Ok(table)
}

/// Runs a pipeline on `workers` workers as `eddy run --workers` does; the events it read.
fn run_on_workers(file: &Path, workers: usize) -> Result<u64> {
    let graph = load_and_check(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options =
        EngineOptions { feed: Some(super::Prefetched::wrap), prune_fields: true, ..EngineOptions::default() };
    let engine = Engine::new(graph, &options).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (engine, result) = crate::workers::run_on_workers(
        engine,
        &options,
        workers,
        crate::workers::Recovery::default(),
        Arc::new(|| false),
    );
    result.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(engine.map_or(0, |engine| engine.stats().events_in))
}
