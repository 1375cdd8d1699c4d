//! One side of a comparison: a pipeline replayed on a thread of its own, its emitted items
//! hashed in place as they leave each step and its touched keys traced (no item is copied),
//! its events digested and sent in batches, so that the two sides run at once.

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::engine::{Engine, EngineOptions, OutputHash, Prefetched, RunError, StepOutcome, TraceEvent};
use crate::graph::ValidGraph;

use super::digest::{At, Batch, Digester, item_hasher};

/// Events per batch sent from a side's thread.
const BATCH: usize = 512;

/// What a side's thread sends.
pub(super) enum Message {
    /// The next events, in order.
    Events(Batch),
    /// The replay failed (after the events sent before).
    Failed(RunError),
}

/// How a side's engine is set up: nothing written (sinks only checked, no snapshot, no
/// recording), sources read ahead when `prefetch`, records pruned when `prune` (only when both
/// versions prune alike: a pass-through step's outputs carry the pruned records).
pub(super) fn engine_options(prefetch: bool, prune: bool) -> EngineOptions {
    EngineOptions {
        check_sinks: true,
        feed: if prefetch { Some(Prefetched::wrap) } else { None },
        prune_fields: prune,
        ..EngineOptions::default()
    }
}

/// The engines of both sides, their records pruned as `eddy run` prunes them when both prune
/// every source alike (unread fields left out, the same on both sides), else whole. An error
/// names the side (0 for `a`, 1 for `b`).
pub(super) fn engines(a: &ValidGraph, b: &ValidGraph) -> Result<(Engine, Engine), (usize, RunError)> {
    let build = |graph: &ValidGraph, side: usize, prune: bool| {
        Engine::new(graph.clone(), &engine_options(true, prune)).map_err(|error| (side, error))
    };
    let pruned = (build(a, 0, true)?, build(b, 1, true)?);
    if prune_alike(&pruned.0, &pruned.1) {
        return Ok(pruned);
    }
    drop(pruned);
    Ok((build(a, 0, false)?, build(b, 1, false)?))
}

/// Whether two engines of the same sources keep the same fields of each source's records and
/// read the same key (by step id) in the source.
fn prune_alike(a: &Engine, b: &Engine) -> bool {
    fn key_step(engine: &Engine, step: Option<usize>) -> Option<&str> {
        step.and_then(|step| engine.graph().doc.steps.get(step)).map(|s| s.id.as_str())
    }
    (0..a.graph().doc.sources.len()).all(|source| {
        let ((fields_a, key_a), (fields_b, key_b)) = (a.source_pruning(source), b.source_pruning(source));
        fields_a == fields_b && key_step(a, key_a) == key_step(b, key_b)
    })
}

/// Starts replaying with `engine` on a thread (`name` names it); its events come out of the
/// receiver, in batches, until end of input (included) or `max_events` source events.
pub(super) fn spawn(
    engine: Engine,
    max_events: Option<u64>,
    name: &str,
) -> std::io::Result<Receiver<Message>> {
    let (sender, receiver) = bounded(4);
    std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(crate::script::ENGINE_STACK_SIZE)
        .spawn(move || replay(engine, max_events, &sender))?;
    Ok(receiver)
}

fn replay(mut engine: Engine, max_events: Option<u64>, sender: &Sender<Message>) {
    crate::script::capture_script_output(true);
    let mut digester = Digester::new(engine.graph());
    watch(&mut engine);
    let mut trace: Vec<TraceEvent> = Vec::new();
    let mut outputs: Vec<OutputHash> = Vec::new();
    let mut batch = Batch::default();
    let mut events = 0_u64;
    loop {
        if max_events.is_some_and(|max| events >= max) {
            break;
        }
        let at = match engine.step() {
            Ok(StepOutcome::Event { source, line }) => At::Event { source, line },
            Ok(StepOutcome::Ended) => At::End,
            Ok(StepOutcome::Finished) => break,
            Err(error) => {
                let _ = sender.send(Message::Events(batch));
                let _ = sender.send(Message::Failed(error));
                return;
            }
        };
        events += 1;
        engine.take_trace_into(&mut trace);
        engine.take_output_hashes_into(&mut outputs);
        digester.digest(&engine, at, &trace, &outputs, &mut batch);
        if at == At::End {
            break;
        }
        if batch.len() >= BATCH {
            let full = std::mem::take(&mut batch);
            if sender.send(Message::Events(full)).is_err() {
                return; // nobody listens any more
            }
        }
    }
    let _ = sender.send(Message::Events(batch));
}

/// Sets `engine` up for digesting: each emitted item hashed in place ([`item_hasher`]), the
/// trace on for the touched keys (and what scripts print) but recording no item.
fn watch(engine: &mut Engine) {
    engine.set_tracing(true);
    engine.set_trace_items(false);
    engine.set_output_hasher(Some(item_hasher()));
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::compare::fingerprint::Fingerprinter;
    use crate::engine::{TraceKind, load_and_check};

    fn pipelines() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut pipelines: Vec<PathBuf> = std::fs::read_dir(root.join("assets"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        pipelines.extend(
            std::fs::read_dir(root.join("tests").join("conformance"))
                .unwrap()
                .map(|e| e.unwrap().path().join("pipeline.toml")),
        );
        pipelines.sort();
        pipelines
    }

    /// The items hashed in place are those the trace copies, fingerprinted, in the same order:
    /// on every example and conformance scenario, event by event, end of input included.
    #[test]
    fn hashed_outputs_are_the_traced_items_fingerprinted_in_order() {
        let pipelines = pipelines();
        assert!(pipelines.len() >= 24, "examples or scenarios missing");
        for pipeline in &pipelines {
            let graph = crate::compare::inputs::without_dead_letters(load_and_check(pipeline).unwrap());
            let mut engine = Engine::new(graph, &engine_options(false, false)).unwrap();
            engine.set_tracing(true);
            engine.set_output_hasher(Some(item_hasher()));
            let (mut trace, mut hashes) = (Vec::new(), Vec::new());
            let mut fingerprints = Fingerprinter::default();
            let mut events = 0;
            loop {
                let outcome = engine.step().unwrap();
                engine.take_trace_into(&mut trace);
                engine.take_output_hashes_into(&mut hashes);
                let traced: Vec<OutputHash> = trace
                    .iter()
                    .filter_map(|event| match &event.kind {
                        TraceKind::ItemOut { port, key, value } => Some(OutputHash {
                            step: event.step,
                            port: *port,
                            hash: fingerprints.item(*port, key.as_ref(), value),
                        }),
                        _ => None,
                    })
                    .collect();
                assert_eq!(hashes, traced, "{}: event {events}", pipeline.display());
                events += 1;
                if matches!(outcome, StepOutcome::Ended | StepOutcome::Finished) {
                    break;
                }
            }
        }
    }

    /// Without item tracing the trace still says which keys each event touched, as with it.
    #[test]
    fn touched_keys_are_traced_without_items() {
        let touched = |pipeline: &Path, items: bool| {
            let graph = crate::compare::inputs::without_dead_letters(load_and_check(pipeline).unwrap());
            let mut engine = Engine::new(graph, &engine_options(false, false)).unwrap();
            engine.set_tracing(true);
            engine.set_trace_items(items);
            let mut all = Vec::new();
            let mut trace = Vec::new();
            loop {
                let outcome = engine.step().unwrap();
                engine.take_trace_into(&mut trace);
                all.push(
                    trace
                        .iter()
                        .filter_map(|event| match &event.kind {
                            TraceKind::StateChanged { key } => Some((event.step, key.clone())),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                );
                if matches!(outcome, StepOutcome::Ended | StepOutcome::Finished) {
                    return all;
                }
            }
        };
        for pipeline in &pipelines() {
            assert_eq!(touched(pipeline, false), touched(pipeline, true), "{}", pipeline.display());
        }
    }
}
