//! The first divergence in full: both versions replayed again (deterministically) up to the
//! event before it, the key's state read, the event stepped with tracing on, the step's
//! outputs and the key's state after read.

use rhai::Dynamic;
use serde_json::Value;

use crate::engine::{Engine, RunError, StepOutcome, TraceKind};
use crate::graph::ValidGraph;
use crate::ops::Key;
use crate::value::display_json;

use super::digest::At;
use super::lockstep::{FirstAt, RawSpot};
use super::{Emitted, FirstDivergence, Position, SideDetail, Spot};

/// Reads the first divergence on both sides; an error names the side (0 for `a`, 1 for `b`).
pub(super) fn read(
    a: &ValidGraph,
    b: &ValidGraph,
    first: FirstAt,
) -> Result<FirstDivergence, (usize, RunError)> {
    let mut spots = first.spots.into_iter();
    let Some((raw, spot)) = spots.next() else {
        return Err((0, RunError::Usage("a divergence with nothing that differs".into())));
    };
    // The shown step's outputs are shown with its key.
    let shown_outputs = match &spot {
        Spot::State { step, .. } => Some(Spot::Outputs { step: step.clone() }),
        _ => None,
    };
    let also: Vec<Spot> =
        spots.map(|(_, spot)| spot).filter(|spot| Some(spot) != shown_outputs.as_ref()).collect();
    let (step_id, key) = match (&raw, &spot) {
        (RawSpot::State(_, key), Spot::State { step, .. }) => (Some(step.as_str()), Some(key.clone())),
        (_, Spot::Outputs { step }) => (Some(step.as_str()), None),
        _ => (None, None),
    };
    let (side_a, time) = replay_side(a, first.number, step_id, key.as_ref()).map_err(|e| (0, e))?;
    let (side_b, _) = replay_side(b, first.number, step_id, key.as_ref()).map_err(|e| (1, e))?;
    let position = match first.at {
        At::Event { source, line } => Position::Event {
            number: first.number,
            source: a.doc.sources.get(source).map(|s| s.id.clone()).unwrap_or_default(),
            line,
            time,
        },
        At::End => Position::EndOfInput { after: first.number - 1 },
    };
    Ok(FirstDivergence { position, spot, also, a: side_a, b: side_b })
}

/// One side replayed through event `number` (from 1; end of input counts as one): the key's
/// state before and after it at step `step_id`, the step's outputs for it, and the event's time.
fn replay_side(
    graph: &ValidGraph,
    number: u64,
    step_id: Option<&str>,
    key: Option<&Key>,
) -> Result<(SideDetail, Option<i64>), RunError> {
    crate::script::capture_script_output(true);
    let step = step_id.and_then(|id| graph.doc.steps.iter().position(|s| s.id == id));
    let mut engine = Engine::new(graph.clone(), &super::side::engine_options(false, false))?;
    // Tracing on throughout, so that what scripts print is taken with each trace, not kept.
    engine.set_tracing(true);
    let mut trace = Vec::new();
    for _ in 1..number {
        if matches!(engine.step()?, StepOutcome::Ended | StepOutcome::Finished) {
            break;
        }
        engine.take_trace_into(&mut trace);
    }
    let state = |engine: &Engine| match (step, key) {
        (Some(step), Some(key)) => engine.with_step_state(step, key, display_json),
        _ => None,
    };
    let before = state(&engine);
    let time = engine.next_event_time();
    engine.step()?;
    engine.take_trace_into(&mut trace);
    let outputs = trace
        .iter()
        .filter(|event| Some(event.step) == step)
        .filter_map(|event| match &event.kind {
            TraceKind::ItemOut { port, key, value } => {
                Some(Emitted { port: *port, item: as_written(key.as_ref(), value) })
            }
            _ => None,
        })
        .collect();
    let after = state(&engine);
    crate::script::capture_script_output(false);
    Ok((SideDetail { before, after, outputs }, time))
}

/// An item as a sink writes it: `[key, value]` on a keyed stream.
fn as_written(key: Option<&Key>, value: &Dynamic) -> Value {
    match key {
        Some(key) => Value::Array(vec![Value::String(key.to_string()), display_json(value)]),
        None => display_json(value),
    }
}
