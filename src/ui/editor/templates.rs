//! What a node holds when it is created from the palette: a template script that runs as is
//! and shows the function(s) its operator calls, and sensible settings.

use crate::graph::{
    BadRowPolicy, Builtin, EmitMode, InsertMode, OpKind, SinkFormat, SinkSpec, SourceFormat, SourceSpec,
    StepSetting, StepSpec, TimeFormat, op_settings,
};

/// A template script for an operator, or `None` when it takes no script.
pub fn template_script(op: OpKind) -> Option<&'static str> {
    Some(match op {
        OpKind::Map => "fn mapper(x) {\n    x\n}\n",
        OpKind::MapValue => "fn mapper(v) {\n    v\n}\n",
        OpKind::Filter => "fn predicate(x) {\n    true\n}\n",
        OpKind::FilterValue => "fn predicate(v) {\n    true\n}\n",
        OpKind::Branch => "// `true` goes to `trues`, `false` to `falses`.\nfn predicate(x) {\n    true\n}\n",
        OpKind::FilterMap => "// Return () to drop the item.\nfn mapper(x) {\n    x\n}\n",
        OpKind::FlatMap => "fn mapper(x) {\n    [x]\n}\n",
        OpKind::FlatMapValue => "fn mapper(v) {\n    [v]\n}\n",
        OpKind::Inspect => "fn inspector(x) {\n    print(x);\n}\n",
        OpKind::KeyOn => "// The key must be a string.\nfn key(x) {\n    x.user\n}\n",
        OpKind::CountFinal => {
            "// Counts items per key; the key must be a string.\nfn key(x) {\n    x.user\n}\n"
        }
        OpKind::StatefulMap => {
            "// state is () the first time a key is seen.\n// Return [new_state, output]; a new_state of () discards the key.\nfn mapper(state, v) {\n    let n = if state == () { 1 } else { state + 1 };\n    [n, n]\n}\n"
        }
        OpKind::StatefulFlatMap => {
            "// Return [new_state, [outputs…]]; a new_state of () discards the key.\nfn mapper(state, v) {\n    let n = if state == () { 1 } else { state + 1 };\n    [n, [n]]\n}\n"
        }
        OpKind::ReduceFinal => "// Emitted per key at end of input.\nfn reducer(acc, v) {\n    acc + v\n}\n",
        OpKind::FoldFinal => {
            "// Emitted per key at end of input.\nfn builder() {\n    0\n}\n\nfn folder(acc, v) {\n    acc + 1\n}\n"
        }
        OpKind::MaxFinal | OpKind::MinFinal => "// The value compared.\nfn by(v) {\n    v\n}\n",
        OpKind::Stateful => {
            "// One logic per key; `this` is its state.\nfn builder(resume) {\n    resume ?? #{ count: 0 }\n}\n\n// Return [outputs, RETAIN or DISCARD].\nfn on_item(value) {\n    this.count += 1;\n    [[this.count], RETAIN]\n}\n\nfn on_eof() {\n    [[], DISCARD]\n}\n\nfn snapshot() {\n    this\n}\n"
        }
        OpKind::StatefulBatch => {
            "// One logic per key; `this` is its state.\nfn builder(resume) {\n    resume ?? #{ count: 0 }\n}\n\n// Return [outputs, RETAIN or DISCARD].\nfn on_batch(values) {\n    this.count += values.len();\n    [[this.count], RETAIN]\n}\n\nfn snapshot() {\n    this\n}\n"
        }
        OpKind::KeyRm | OpKind::Merge | OpKind::Collect | OpKind::Join => return None,
    })
}

/// A new step of `op` with its template script and settings.
pub fn new_step(id: String, op: OpKind) -> StepSpec {
    let mut step = StepSpec::new(id, op, Vec::new());
    step.script = template_script(op).map(str::to_owned);
    for &setting in op_settings(op) {
        match setting {
            // A list leaves at ten values or after ten seconds without one.
            StepSetting::MaxSize => step.max_size = Some(10),
            StepSetting::Timeout => step.timeout = Some("10s".into()),
            // The modes are shown, and written, at their defaults.
            StepSetting::InsertMode => step.insert_mode = Some(InsertMode::default()),
            StepSetting::EmitMode => step.emit_mode = Some(EmitMode::default()),
            StepSetting::Script | StepSetting::Builtin | StepSetting::Field => {}
        }
    }
    step
}

/// A step using a built-in function instead of a script (the palette's "count" entries).
pub fn new_builtin_step(id: String, op: OpKind, builtin: Builtin) -> StepSpec {
    let mut step = StepSpec::new(id, op, Vec::new());
    step.builtin = Some(builtin);
    step
}

/// A new source reading a file of `format`.
pub fn new_source(id: String, format: SourceFormat) -> SourceSpec {
    SourceSpec {
        follow: false,
        recording: None,
        path: format!("{id}.{}", format.as_str()).into(),
        id,
        format: Some(format),
        time_field: None,
        time_format: TimeFormat::default(),
        on_bad_row: BadRowPolicy::default(),
        dead_letter_path: None,
        types: Default::default(),
    }
}

/// A new sink writing `format`.
pub fn new_sink(id: String, format: SinkFormat) -> SinkSpec {
    let path = match format {
        SinkFormat::Stdout => None,
        SinkFormat::Jsonl | SinkFormat::Csv => Some(format!("out/{id}.{}", format.as_str()).into()),
    };
    SinkSpec { id, inputs: Vec::new(), format, path }
}
