//! The end-of-run report `eddy run` prints and the workbench's *Run* shows: one text, so both
//! say the same.

use std::time::Duration;

use super::Engine;

/// The end-of-run report: events per source, items in/out per step, what each step dropped
/// per reason, items per sink, bad rows, timers fired, elapsed time.
pub fn run_summary(engine: &Engine, elapsed: Duration) -> String {
    use std::fmt::Write;
    let stats = engine.stats();
    let doc = &engine.graph().doc;
    let secs = elapsed.as_secs_f64();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} events in {:.3} s ({:.0} events/s), {} timers fired",
        if engine.is_ended() { "done:" } else { "stopped:" },
        stats.events_in,
        secs,
        stats.events_in as f64 / secs.max(1e-9),
        stats.timers_fired
    );
    let bad_rows = engine.bad_rows();
    for (i, source) in doc.sources.iter().enumerate() {
        let bad = bad_rows.get(i).map_or(0, |(_, n)| *n);
        let bad_text =
            if bad > 0 { format!(", {bad} bad rows {}", verb(source.on_bad_row)) } else { String::new() };
        let _ = writeln!(out, "  source {:<20} {:>10} events{bad_text}", source.id, stats.per_source[i]);
    }
    for (i, step) in doc.steps.iter().enumerate() {
        let s = stats.steps[i];
        let _ = writeln!(
            out,
            "  step   {:<20} {:>10} in {:>10} out   ({})",
            step.id, s.items_in, s.items_out, step.op
        );
    }
    // docs/ledger.md: what each step dropped, per reason (bad rows are on the source lines).
    let drops = engine.drops();
    for (i, step) in doc.steps.iter().enumerate() {
        let counts: Vec<String> = crate::ops::DropReason::ALL
            .iter()
            .filter(|&&reason| reason != crate::ops::DropReason::BadRow)
            .filter_map(|&reason| match drops.count(i, reason) {
                0 => None,
                n => Some(format!("{n} {}", reason.name())),
            })
            .collect();
        if !counts.is_empty() {
            let _ = writeln!(out, "  drops  {:<20} {}", step.id, counts.join(", "));
        }
    }
    for (i, sink) in doc.sinks.iter().enumerate() {
        let target = match &sink.path {
            Some(path) => engine.graph().resolve(path).display().to_string(),
            None => "stdout".into(),
        };
        let _ = writeln!(out, "  sink   {:<20} {:>10} items → {target}", sink.id, stats.sink_items[i]);
    }
    for sample in engine.bad_row_samples() {
        let _ = writeln!(out, "  bad row: {sample}");
    }
    out
}

fn verb(policy: crate::graph::BadRowPolicy) -> &'static str {
    match policy {
        crate::graph::BadRowPolicy::DeadLetter => "dead-lettered",
        _ => "skipped",
    }
}
