//! `eddy bench --workers N`: the same pipelines on one worker (the single-threaded runner) and
//! on N (docs/workers.md), alternated round by round on one generated file, with the ratio of
//! each round and a check that both wrote the same bytes. Each run is `eddy run` in a child
//! process of its own, as a user runs it: runs in one long-lived process were not independent
//! (docs/performance.md, "Several workers", 2026-12-07 21:00 UTC: one worker's rates fell from
//! 3.6 to 2.1 M ev/s once several-worker runs had run before them in the same process).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::bench::{Spread, timed, worker_cases};

/// Times each of [`worker_cases`] on 1 and on `workers` workers for `rounds` rounds in `dir`
/// (its data already generated, `events` events read by every case); the table as text.
pub fn bench_workers(
    dir: &Path,
    events: u64,
    workers: usize,
    rounds: u32,
    only: Option<&str>,
) -> Result<String> {
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
                let ((), timing) = timed(|| run_in_child(&file, on_many.then_some(workers)))?;
                let bytes = std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?;
                // The wall time only: the CPU `timed` reads is this process's, not the child's.
                pair[usize::from(on_many)] = Some((events as f64 / timing.wall.max(1e-9), bytes));
            }
            let [Some((rate_one, bytes_one)), Some((rate_many, bytes_many))] = pair else { continue };
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

/// Runs `eddy run FILE --quiet` (with `--workers N` when given) in a child process, from
/// `file`'s folder, where the case's output goes.
fn run_in_child(file: &Path, workers: Option<usize>) -> Result<()> {
    let exe = std::env::current_exe().context("bench: cannot find its own executable")?;
    let mut command = std::process::Command::new(exe);
    command.arg("run").arg(file).arg("--quiet");
    if let Some(workers) = workers {
        command.arg("--workers").arg(workers.to_string());
    }
    let output = command.output().with_context(|| format!("bench: cannot run {}", file.display()))?;
    if !output.status.success() {
        bail!(
            "bench: `eddy run {}` failed ({}): {}",
            file.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
