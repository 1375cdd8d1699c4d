//! `eddy diff a.toml b.toml`: two versions of a pipeline replayed on `a`'s input, compared event
//! by event ([`crate::compare`]); the first divergence and a summary, as text or JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::compare::{
    CompareOptions, Comparison, Emitted, FirstDivergence, OnlyIn, Position, SideDetail, Spot, compare_files,
    quoted,
};

/// Outputs shown per side in the first divergence (the rest are counted).
const SHOWN_OUTPUTS: usize = 10;

/// Keys shown per step in the summary (the rest are counted; `--json` lists them all).
const SHOWN_KEYS: usize = 10;

/// Compares two pipeline files; prints the result on stdout. Exit code 0 identical, 1 they
/// differ, 2 an error (a file, a source, a script), printed on stderr.
pub fn diff_command(a: &Path, b: &Path, options: &CompareOptions, as_json: bool) -> u8 {
    match compare_files(a, b, options) {
        Ok(comparison) => {
            if as_json {
                crate::println_lossy!("{}", to_json(a, b, &comparison));
            } else {
                crate::println_lossy!("{}", to_text(a, b, &comparison).trim_end());
            }
            u8::from(comparison.differs())
        }
        Err(e) => {
            crate::eprintln_lossy!("error: {e}");
            2
        }
    }
}

/// The comparison as people read it.
pub fn to_text(a: &Path, b: &Path, comparison: &Comparison) -> String {
    let mut out = String::new();
    let s = &comparison.summary;
    let _ = writeln!(out, "a: {}\nb: {}", a.display(), b.display());
    let compared = match (s.end_of_input, s.events) {
        (true, n) => format!("{n} events and end of input compared"),
        (false, n) => format!("{n} events compared, not end of input (--max-events)"),
    };
    if comparison.differs() {
        let total = s.events + u64::from(s.end_of_input);
        let _ = writeln!(out, "they differ at {} of {total} events; {compared}", s.differing);
    } else {
        let _ = writeln!(out, "they agree: {compared}, nothing differs");
    }
    if let Some(first) = &comparison.first {
        out.push('\n');
        write_first(&mut out, first);
    }
    if !s.steps.is_empty() || !s.sinks.is_empty() {
        out.push_str("\nsummary:\n");
    }
    for step in &s.steps {
        let _ = write!(out, "  step `{}`: differs at {} events", step.step, step.events);
        if step.output_events > 0 {
            let _ = write!(out, " (its outputs at {})", step.output_events);
        }
        if !step.keys.is_empty() {
            let shown: Vec<String> =
                step.keys.iter().take(SHOWN_KEYS).map(|(k, n)| format!("{} at {n}", quoted(k))).collect();
            let _ = write!(out, "; keys whose state differs: {}", shown.join(", "));
            if step.keys.len() > SHOWN_KEYS {
                let _ = write!(out, ", and {} more", step.keys.len() - SHOWN_KEYS);
            }
        }
        out.push('\n');
    }
    for (sink, events) in &s.sinks {
        let _ = writeln!(out, "  sink `{sink}`: receives different items at {events} events");
    }
    write_only(&mut out, "a", &s.only_in_a);
    write_only(&mut out, "b", &s.only_in_b);
    out
}

fn write_only(out: &mut String, side: &str, only: &OnlyIn) {
    let names = only.names();
    if !names.is_empty() {
        let _ = writeln!(out, "only in {side}: {}", names.join(", "));
    }
}

fn write_first(out: &mut String, first: &FirstDivergence) {
    match &first.position {
        Position::Event { number, source, line, time } => {
            let _ = write!(out, "first divergence at event {number} (source `{source}`, line {line}");
            if let Some(time) = time.and_then(crate::time::format_rfc3339_micros) {
                let _ = write!(out, ", time {time}");
            }
            out.push_str(")\n");
        }
        Position::EndOfInput { after } => {
            let _ = writeln!(out, "first divergence at end of input (after {after} events)");
        }
    }
    match &first.spot {
        Spot::State { step, key } => {
            let _ = writeln!(out, "  step `{step}`, key {}", quoted(key));
            write_pair(out, "state before", &state(&first.a.before), &state(&first.b.before));
            write_pair(out, "state after", &state(&first.a.after), &state(&first.b.after));
            write_outputs(out, &first.a, &first.b);
        }
        Spot::Outputs { step } => {
            let _ = writeln!(out, "  step `{step}`: its outputs differ");
            write_outputs(out, &first.a, &first.b);
        }
        Spot::Sink { sink } => {
            let _ = writeln!(out, "  sink `{sink}`: it receives different items");
        }
    }
    if !first.also.is_empty() {
        let also: Vec<String> = first.also.iter().map(Spot::describe).collect();
        let _ = writeln!(out, "  also differing at this event: {}", also.join("; "));
    }
}

fn write_pair(out: &mut String, label: &str, a: &str, b: &str) {
    let _ = writeln!(out, "    {label:<13} a: {a}\n    {:<13} b: {b}", "");
}

fn write_outputs(out: &mut String, a: &SideDetail, b: &SideDetail) {
    for (side, detail) in [("a", a), ("b", b)] {
        let label = if side == "a" { "outputs" } else { "" };
        let lines: Vec<String> = detail.outputs.iter().take(SHOWN_OUTPUTS).map(emitted).collect();
        match lines.split_first() {
            None => {
                let _ = writeln!(out, "    {label:<13} {side}: (none)");
            }
            Some((head, rest)) => {
                let _ = writeln!(out, "    {label:<13} {side}: {head}");
                for line in rest {
                    let _ = writeln!(out, "    {:<13}    {line}", "");
                }
            }
        }
        if detail.outputs.len() > SHOWN_OUTPUTS {
            let _ = writeln!(out, "    {:<13}    … and {} more", "", detail.outputs.len() - SHOWN_OUTPUTS);
        }
    }
}

fn emitted(output: &Emitted) -> String {
    match output.port {
        0 => output.item.to_string(),
        _ => format!("(falses) {}", output.item),
    }
}

fn state(state: &Option<Value>) -> String {
    state.as_ref().map_or_else(|| "(no state)".to_owned(), Value::to_string)
}

/// The comparison as one JSON object (`--json`).
pub fn to_json(a: &Path, b: &Path, comparison: &Comparison) -> Value {
    let s = &comparison.summary;
    let only = |only: &OnlyIn| json!({ "steps": only.steps, "sinks": only.sinks });
    json!({
        "a": a.display().to_string(),
        "b": b.display().to_string(),
        "differ": comparison.differs(),
        "events": s.events,
        "end_of_input": s.end_of_input,
        "differing_events": s.differing,
        "first": comparison.first.as_ref().map(first_json),
        "steps": s.steps.iter().map(|step| json!({
            "step": step.step,
            "events": step.events,
            "output_events": step.output_events,
            "keys": step.keys.iter().map(|(key, n)| json!([key, n])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "sinks": s.sinks.iter().map(|(sink, n)| json!({ "sink": sink, "events": n })).collect::<Vec<_>>(),
        "only_in_a": only(&s.only_in_a),
        "only_in_b": only(&s.only_in_b),
    })
}

fn spot_json(spot: &Spot) -> Value {
    match spot {
        Spot::State { step, key } => json!({ "step": step, "key": key }),
        Spot::Outputs { step } => json!({ "step": step, "outputs": true }),
        Spot::Sink { sink } => json!({ "sink": sink }),
    }
}

fn side_json(side: &SideDetail) -> Value {
    let mut object = serde_json::Map::new();
    if let Some(before) = &side.before {
        object.insert("state_before".into(), before.clone());
    }
    if let Some(after) = &side.after {
        object.insert("state_after".into(), after.clone());
    }
    let outputs = side.outputs.iter().map(|o| json!({ "port": o.port, "item": o.item })).collect();
    object.insert("outputs".into(), Value::Array(outputs));
    Value::Object(object)
}

fn first_json(first: &FirstDivergence) -> Value {
    let position = match &first.position {
        Position::Event { number, source, line, time } => json!({
            "event": number,
            "source": source,
            "line": line,
            "time": time.and_then(crate::time::format_rfc3339_micros),
        }),
        Position::EndOfInput { after } => json!({ "end_of_input": true, "after": after }),
    };
    json!({
        "at": position,
        "spot": spot_json(&first.spot),
        "also": first.also.iter().map(spot_json).collect::<Vec<_>>(),
        "a": side_json(&first.a),
        "b": side_json(&first.b),
    })
}
