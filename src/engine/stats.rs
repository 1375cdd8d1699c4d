//! Counters of a run: events in, items in and out per step, items per sink, timers fired.

use crate::graph::ValidGraph;

/// One step's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepStats {
    /// Items received.
    pub items_in: u64,
    /// Items emitted.
    pub items_out: u64,
}

/// A run's counters, indexed like the document's sources, steps and sinks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Source events processed.
    pub events_in: u64,
    /// Events processed per source.
    pub per_source: Vec<u64>,
    /// Per step.
    pub steps: Vec<StepStats>,
    /// Items written per sink.
    pub sink_items: Vec<u64>,
    /// Timers that fired.
    pub timers_fired: u64,
}

impl RunStats {
    /// Zeroed counters shaped like the graph.
    pub fn new(graph: &ValidGraph) -> Self {
        Self {
            events_in: 0,
            per_source: vec![0; graph.doc.sources.len()],
            steps: vec![StepStats::default(); graph.doc.steps.len()],
            sink_items: vec![0; graph.doc.sinks.len()],
            timers_fired: 0,
        }
    }
}
