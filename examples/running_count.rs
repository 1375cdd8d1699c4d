//! A pipeline built in code and run headless: a running count of clicks per user.
//!
//! `cargo run --example running_count` prints each output line; the same pipeline as a file is
//! what `eddy run` takes (see README.md).

use eddy::engine::{Engine, EngineOptions, check};
use eddy::graph::{Builtin, FORMAT_VERSION, OpKind, PipelineDoc, SinkFormat, SinkSpec, SourceSpec, StepSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("clicks.csv"),
        "ts,user\n2024-01-01T00:00:00Z,ann\n2024-01-01T00:00:01Z,bob\n2024-01-01T00:00:02Z,ann\n",
    )?;

    let mut by_user = StepSpec::new("by_user", OpKind::KeyOn, vec!["clicks".into()]);
    by_user.field = Some("user".into());
    let mut count = StepSpec::new("count", OpKind::StatefulMap, vec!["by_user".into()]);
    count.builtin = Some(Builtin::Count);
    let doc = PipelineDoc {
        format_version: FORMAT_VERSION,
        sources: vec![SourceSpec {
            id: "clicks".into(),
            path: "clicks.csv".into(),
            format: None,
            time_field: Some("ts".into()),
            time_format: Default::default(),
            on_bad_row: Default::default(),
            dead_letter_path: None,
            types: Default::default(),
            follow: false,
            recording: None,
        }],
        steps: vec![by_user, count],
        sinks: vec![SinkSpec {
            id: "out".into(),
            inputs: vec!["count".into()],
            format: SinkFormat::Stdout,
            path: None,
        }],
        ..PipelineDoc::default()
    };

    // The same checks `eddy check` makes, then a run with the sink captured in memory.
    let graph = check(&doc, dir.path())?;
    let mut engine = Engine::new(graph, &EngineOptions { capture_sinks: true, ..EngineOptions::default() })?;
    engine.run_to_end()?;
    for line in &engine.captured()["out"] {
        println!("{line}");
    }
    Ok(())
}
