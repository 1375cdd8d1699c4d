//! One side of a comparison: a pipeline replayed on a thread of its own, traced, its events
//! digested and sent in batches, so that the two sides run at once.

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::engine::{Engine, EngineOptions, Prefetched, RunError, StepOutcome, TraceEvent};
use crate::graph::ValidGraph;

use super::digest::{At, Batch, Digester};

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
/// recording), script output kept off the terminal, records whole (pruning differs between
/// two versions, and a step's outputs must not).
pub(super) fn engine_options(prefetch: bool) -> EngineOptions {
    EngineOptions {
        check_sinks: true,
        feed: if prefetch { Some(Prefetched::wrap) } else { None },
        ..EngineOptions::default()
    }
}

/// Starts replaying `graph` on a thread (`name` names it); its events come out of the
/// receiver, in batches, until end of input (included) or `max_events` source events.
pub(super) fn spawn(
    graph: ValidGraph,
    max_events: Option<u64>,
    name: &str,
) -> std::io::Result<Receiver<Message>> {
    let (sender, receiver) = bounded(4);
    std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(crate::script::ENGINE_STACK_SIZE)
        .spawn(move || replay(graph, max_events, &sender))?;
    Ok(receiver)
}

fn replay(graph: ValidGraph, max_events: Option<u64>, sender: &Sender<Message>) {
    crate::script::capture_script_output(true);
    let mut digester = Digester::new(&graph);
    let mut engine = match Engine::new(graph, &engine_options(true)) {
        Ok(engine) => engine,
        Err(error) => {
            let _ = sender.send(Message::Failed(error));
            return;
        }
    };
    engine.set_tracing(true);
    let mut trace: Vec<TraceEvent> = Vec::new();
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
        digester.digest(&engine, at, &trace, &mut batch);
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
