//! Writing the pipeline file: a canonical form for new files, and a form-preserving update of
//! an existing file's text, so that saving from the workbench keeps the comments, blank lines and
//! string styles a person wrote, and saving an unchanged pipeline gives back the same bytes.

use std::collections::BTreeMap;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::limits::{ByteSize, LimitsSpec};
use super::model::{ClockMode, PipelineDoc, SinkSpec, SourceSpec, StepSpec};
use super::settings::{
    CLOCK_SETTINGS, SINK_SETTINGS, SOURCE_SETTINGS, STEP_COMMON_SETTINGS, STEP_SETTINGS, StepSetting,
};

/// The canonical text of a pipeline: fixed key order, scripts as multi-line literal strings,
/// one blank line between entries, the editor section last.
pub fn to_canonical_toml(doc: &PipelineDoc) -> String {
    let mut out = format!("format_version = {}\n", doc.format_version);
    if doc.clock.mode != ClockMode::Replay {
        out.push_str("\n[clock]\nmode = \"wall\"\n");
    }
    if !doc.limits.is_empty() {
        out.push_str("\n[limits]\n");
        for (key, value) in limits_entries(&doc.limits) {
            push_key_value(&mut out, key, &value);
        }
    }
    for source in &doc.sources {
        out.push_str("\n[[sources]]\n");
        for (key, value) in source_entries(source) {
            push_key_value(&mut out, key, &value);
        }
    }
    for step in &doc.steps {
        out.push_str("\n[[steps]]\n");
        for (key, value) in step_entries(step) {
            push_key_value(&mut out, key, &value);
        }
    }
    for sink in &doc.sinks {
        out.push_str("\n[[sinks]]\n");
        for (key, value) in sink_entries(sink) {
            push_key_value(&mut out, key, &value);
        }
    }
    if let Some(editor) = &doc.editor {
        out.push_str(&editor_text(editor));
    }
    out
}

/// The text of `doc` written over `original` (the file's current text): entries are matched by
/// id (`renamed` maps a new id to the id it had in `original`), unchanged values keep their
/// text and comments, changed ones are rewritten, new entries are added in canonical form, and
/// the entries are put in the document's order. Falls back to the canonical form when
/// `original` is not TOML.
pub fn to_toml_over(doc: &PipelineDoc, original: &str, renamed: &BTreeMap<String, String>) -> String {
    let Ok(mut old) = original.parse::<DocumentMut>() else { return to_canonical_toml(doc) };
    let Ok(fresh) = to_canonical_toml(doc).parse::<DocumentMut>() else { return to_canonical_toml(doc) };

    patch_value(old.as_table_mut(), "format_version", fresh.get("format_version"));
    match fresh.get("clock") {
        Some(clock) => patch_table(old.as_table_mut(), "clock", clock),
        // An explicit `[clock]` that says what the default says stays as written.
        None => clear_table(old.as_table_mut(), "clock"),
    }
    match fresh.get("limits") {
        Some(limits) => patch_table(old.as_table_mut(), "limits", limits),
        None => clear_table(old.as_table_mut(), "limits"),
    }
    for section in ["sources", "steps", "sinks"] {
        patch_section(&mut old, &fresh, section, renamed);
    }
    match fresh.get("editor") {
        Some(editor) => {
            old.insert("editor", editor.clone());
        }
        None => {
            old.remove("editor");
        }
    }
    renumber_tables(&mut old);
    old.to_string()
}

fn limits_entries(limits: &LimitsSpec) -> Vec<(&'static str, toml::Value)> {
    let size = |size: &ByteSize| match size {
        ByteSize::Bytes(n) => toml::Value::Integer(*n),
        ByteSize::Text(text) => string(text),
    };
    let mut entries = Vec::new();
    if let Some(timeout) = &limits.call_timeout {
        entries.push(("call_timeout", string(timeout)));
    }
    if let Some(memory) = &limits.call_memory {
        entries.push(("call_memory", size(memory)));
    }
    let counts = [
        ("max_depth", limits.max_depth),
        ("max_operations", limits.max_operations),
        ("max_call_levels", limits.max_call_levels),
    ];
    for (key, value) in counts {
        if let Some(n) = value {
            entries.push((key, toml::Value::Integer(n)));
        }
    }
    if let Some(bytes) = &limits.max_string_size {
        entries.push(("max_string_size", size(bytes)));
    }
    for (key, value) in [("max_array_size", limits.max_array_size), ("max_map_size", limits.max_map_size)] {
        if let Some(n) = value {
            entries.push((key, toml::Value::Integer(n)));
        }
    }
    entries
}

fn source_entries(source: &SourceSpec) -> Vec<(&'static str, toml::Value)> {
    let mut entries = vec![("id", string(&source.id)), ("path", string(&source.path.to_string_lossy()))];
    if let Some(format) = source.format {
        entries.push(("format", string(format.as_str())));
    }
    if let Some(field) = &source.time_field {
        entries.push(("time_field", string(field)));
    }
    if source.time_format != Default::default() {
        entries.push(("time_format", string(source.time_format.as_str())));
    }
    if source.on_bad_row != Default::default() {
        entries.push(("on_bad_row", string(source.on_bad_row.as_str())));
    }
    if let Some(path) = &source.dead_letter_path {
        entries.push(("dead_letter_path", string(&path.to_string_lossy())));
    }
    if !source.types.is_empty() {
        let types = source.types.iter().map(|(k, v)| (k.clone(), string(v.as_str()))).collect();
        entries.push(("types", toml::Value::Table(types)));
    }
    if source.follow {
        entries.push(("follow", toml::Value::Boolean(true)));
    }
    if let Some(path) = &source.recording {
        entries.push(("recording", string(&path.to_string_lossy())));
    }
    entries
}

fn step_entries(step: &StepSpec) -> Vec<(&'static str, toml::Value)> {
    let mut entries = vec![
        ("id", string(&step.id)),
        ("op", string(step.op.as_str())),
        ("inputs", toml::Value::Array(step.inputs.iter().map(|i| string(i)).collect())),
    ];
    // The settings in their described order, the script (the longest) last.
    let settings = StepSetting::ALL.into_iter().filter(|s| *s != StepSetting::Script);
    for setting in settings.chain([StepSetting::Script]) {
        if let Some(value) = step_value(step, setting) {
            entries.push((setting.key(), value));
        }
    }
    entries
}

/// The value `step` holds for `setting`, if it sets it.
fn step_value(step: &StepSpec, setting: StepSetting) -> Option<toml::Value> {
    match setting {
        StepSetting::Script => step.script.as_deref().map(string),
        StepSetting::Builtin => step.builtin.map(|b| string(b.as_str())),
        StepSetting::Field => step.field.as_deref().map(string),
        StepSetting::MaxSize => step.max_size.map(toml::Value::Integer),
        StepSetting::Timeout => step.timeout.as_deref().map(string),
        StepSetting::InsertMode => step.insert_mode.map(|m| string(m.as_str())),
        StepSetting::EmitMode => step.emit_mode.map(|m| string(m.as_str())),
    }
}

fn sink_entries(sink: &SinkSpec) -> Vec<(&'static str, toml::Value)> {
    let mut entries = vec![
        ("id", string(&sink.id)),
        ("inputs", toml::Value::Array(sink.inputs.iter().map(|i| string(i)).collect())),
        ("format", string(sink.format.as_str())),
    ];
    if let Some(path) = &sink.path {
        entries.push(("path", string(&path.to_string_lossy())));
    }
    entries
}

fn string(text: &str) -> toml::Value {
    toml::Value::String(text.to_owned())
}

fn push_key_value(out: &mut String, key: &str, value: &toml::Value) {
    out.push_str(&encode_key(key));
    out.push_str(" = ");
    out.push_str(&encode_value(value));
    out.push('\n');
}

fn encode_key(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_owned() } else { toml_edit::Value::from(key).to_string().trim().to_owned() }
}

/// A value as TOML text; strings with line breaks become multi-line literal strings when they
/// can be written that way exactly.
fn encode_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) if text.contains('\n') && fits_multiline_literal(text) => {
            format!("'''\n{text}'''")
        }
        toml::Value::String(text) => toml_edit::Value::from(text.as_str()).to_string().trim().to_owned(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => toml_edit::Value::from(*x).to_string().trim().to_owned(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(encode_value).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::Table(table) => {
            let items: Vec<String> =
                table.iter().map(|(k, v)| format!("{} = {}", encode_key(k), encode_value(v))).collect();
            if items.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", items.join(", ")) }
        }
    }
}

/// Whether a multi-line literal string (`'''…'''`) holds `text` exactly: no `'''` inside, no
/// quote at the end (it would merge with the closing delimiter) and no control characters
/// other than tab and line feed.
fn fits_multiline_literal(text: &str) -> bool {
    !text.contains("'''")
        && !text.ends_with('\'')
        && !text.starts_with('\n')
        && text.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
}

fn editor_text(editor: &toml::Table) -> String {
    let mut out = String::new();
    let (plain, tables): (Vec<_>, Vec<_>) = editor.iter().partition(|(_, v)| !v.is_table());
    if !plain.is_empty() {
        out.push_str("\n[editor]\n");
    }
    for (key, value) in plain {
        push_key_value(&mut out, key, value);
    }
    for (key, value) in tables {
        let Some(table) = value.as_table() else { continue };
        out.push_str(&format!("\n[editor.{}]\n", encode_key(key)));
        for (inner, value) in table {
            push_key_value(&mut out, inner, value);
        }
    }
    out
}

/// Sets `key` of `table` to `fresh` unless it already holds an equal value (kept as written).
fn patch_value(table: &mut Table, key: &str, fresh: Option<&Item>) {
    let Some(fresh) = fresh else {
        table.remove(key);
        return;
    };
    let same = table.get(key).is_some_and(|old| item_to_toml(old) == item_to_toml(fresh));
    if same {
        return;
    }
    match table.get_mut(key) {
        // Replace the value but keep the decor (comments) around the old one.
        Some(Item::Value(old)) => {
            if let Item::Value(new) = fresh {
                let decor = old.decor().clone();
                *old = new.clone();
                *old.decor_mut() = decor;
            } else {
                table.insert(key, fresh.clone());
            }
        }
        _ => {
            table.insert(key, fresh.clone());
        }
    }
}

fn patch_table(parent: &mut Table, key: &str, fresh: &Item) {
    match (parent.get_mut(key).and_then(Item::as_table_mut), fresh.as_table()) {
        (Some(old), Some(fresh)) => patch_entry(old, fresh, key),
        _ => {
            parent.insert(key, fresh.clone());
        }
    }
}

/// Removes from the table `key` of `parent` every setting the model holds that is not a
/// default, and the table itself when nothing is left (keys the model does not know stay).
fn clear_table(parent: &mut Table, key: &str) {
    let Some(table) = parent.get_mut(key).and_then(Item::as_table_mut) else {
        parent.remove(key);
        return;
    };
    let set: Vec<String> = table
        .iter()
        .filter(|(k, v)| super::file::is_model_key(key, k) && !is_default_setting(key, k, v))
        .map(|(k, _)| k.to_owned())
        .collect();
    for name in set {
        table.remove(&name);
    }
    if table.is_empty() {
        parent.remove(key);
    }
}

/// Makes `old` (an entry of `section`) hold `fresh`'s keys and values, keeping what is
/// unchanged as written. Keys the model does not know (a typo like `feild`, which the Problems
/// panel lists) are the user's text and stay: saving never drops what it cannot show.
fn patch_entry(old: &mut Table, fresh: &Table, section: &str) {
    // Keys the canonical form leaves out because they say the default are kept as written.
    let stale: Vec<String> = old
        .iter()
        .filter(|(k, v)| {
            !fresh.contains_key(k)
                && !is_default_setting(section, k, v)
                && super::file::is_model_key(section, k)
        })
        .map(|(k, _)| k.to_owned())
        .collect();
    for key in stale {
        old.remove(&key);
    }
    for (key, value) in fresh.iter() {
        patch_value(old, key, Some(value));
    }
}

fn patch_section(
    old: &mut DocumentMut,
    fresh: &DocumentMut,
    section: &str,
    renamed: &BTreeMap<String, String>,
) {
    let fresh_tables: Vec<Table> = fresh
        .get(section)
        .and_then(Item::as_array_of_tables)
        .map(|aot| aot.iter().cloned().collect())
        .unwrap_or_default();
    let mut old_tables: Vec<Option<Table>> = old
        .get(section)
        .and_then(Item::as_array_of_tables)
        .map(|aot| aot.iter().cloned().map(Some).collect())
        .unwrap_or_default();
    if fresh_tables.is_empty() {
        old.remove(section);
        return;
    }
    let mut result = ArrayOfTables::new();
    for fresh_table in fresh_tables {
        let id = fresh_table.get("id").and_then(Item::as_str).unwrap_or_default().to_owned();
        let old_id = renamed.get(&id).cloned().unwrap_or(id);
        let matched = old_tables.iter_mut().find(|slot| {
            slot.as_ref().and_then(|t| t.get("id")).and_then(Item::as_str) == Some(old_id.as_str())
        });
        match matched.and_then(Option::take) {
            Some(mut table) => {
                patch_entry(&mut table, &fresh_table, section);
                result.push(table);
            }
            None => result.push(fresh_table),
        }
    }
    old.insert(section, Item::ArrayOfTables(result));
}

/// Whether a key written in an entry of `section` says what leaving it out says (its described
/// default).
fn is_default_setting(section: &str, key: &str, value: &Item) -> bool {
    let settings: &[super::Setting] = match section {
        "clock" => &CLOCK_SETTINGS,
        "sources" => &SOURCE_SETTINGS,
        "sinks" => &SINK_SETTINGS,
        "steps" => &STEP_SETTINGS,
        _ => &[],
    };
    let setting = settings.iter().chain(&STEP_COMMON_SETTINGS).find(|s| s.key == key);
    setting.zip(item_to_toml(value)).is_some_and(|(setting, value)| setting.is_default(&value))
}

/// Gives every table a position in the order the document lists them, so that the text comes
/// out in the document's order (toml_edit sorts tables by their recorded position).
fn renumber_tables(doc: &mut DocumentMut) {
    let mut next = 1_isize;
    let keys: Vec<String> = doc.iter().map(|(k, _)| k.to_owned()).collect();
    let order = ["clock", "limits", "sources", "steps", "sinks", "editor"];
    let mut ordered: Vec<String> =
        order.iter().filter(|k| keys.iter().any(|x| x == *k)).map(|k| (*k).to_owned()).collect();
    ordered.extend(keys.into_iter().filter(|k| !order.contains(&k.as_str())));
    for key in ordered {
        match doc.get_mut(&key) {
            Some(Item::Table(table)) => renumber_nested(table, &mut next),
            Some(Item::ArrayOfTables(aot)) => {
                for table in aot.iter_mut() {
                    renumber_nested(table, &mut next);
                }
            }
            _ => {}
        }
    }
}

fn renumber_nested(table: &mut Table, next: &mut isize) {
    if !table.is_dotted() {
        table.set_position(Some(*next));
        *next += 1;
    }
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(inner) => renumber_nested(inner, next),
            Item::ArrayOfTables(aot) => {
                for inner in aot.iter_mut() {
                    renumber_nested(inner, next);
                }
            }
            _ => {}
        }
    }
}

/// An item's value, without its formatting, for comparing.
fn item_to_toml(item: &Item) -> Option<toml::Value> {
    match item {
        Item::None => None,
        Item::Value(value) => Some(value_to_toml(value)),
        Item::Table(table) => Some(toml::Value::Table(
            table.iter().filter_map(|(k, v)| Some((k.to_owned(), item_to_toml(v)?))).collect(),
        )),
        Item::ArrayOfTables(aot) => Some(toml::Value::Array(
            aot.iter()
                .map(|t| {
                    toml::Value::Table(
                        t.iter().filter_map(|(k, v)| Some((k.to_owned(), item_to_toml(v)?))).collect(),
                    )
                })
                .collect(),
        )),
    }
}

fn value_to_toml(value: &toml_edit::Value) -> toml::Value {
    match value {
        toml_edit::Value::String(s) => toml::Value::String(s.value().clone()),
        toml_edit::Value::Integer(n) => toml::Value::Integer(*n.value()),
        toml_edit::Value::Float(x) => toml::Value::Float(*x.value()),
        toml_edit::Value::Boolean(b) => toml::Value::Boolean(*b.value()),
        toml_edit::Value::Datetime(d) => toml::Value::String(d.value().to_string()),
        toml_edit::Value::Array(items) => toml::Value::Array(items.iter().map(value_to_toml).collect()),
        toml_edit::Value::InlineTable(table) => {
            toml::Value::Table(table.iter().map(|(k, v)| (k.to_owned(), value_to_toml(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::graph::{OpKind, parse_str};

    const FILE: &str = r#"# A header comment.
format_version = 1

[[sources]]
id = "clicks"     # where clicks come from
path = "clicks.csv"
time_field = "ts"

# Key by user.
[[steps]]
id = "by_user"
op = "key_on"
inputs = ["clicks"]
field = "user"

[[steps]]
id = "count"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, v) {
    let n = if state == () { 1 } else { state + 1 };
    [n, n]
}
'''

[[sinks]]
id = "out"
inputs = ["count"]
format = "jsonl"
path = "out.jsonl"
"#;

    #[test]
    fn every_described_key_is_written_in_the_described_order_and_read_back() {
        use crate::graph::{
            BadRowPolicy, ColumnType, EmitMode, InsertMode, SinkFormat, SourceFormat, TimeFormat, keys,
        };
        let source = SourceSpec {
            id: "in".into(),
            path: "-".into(),
            format: Some(SourceFormat::Jsonl),
            time_field: Some("ts".into()),
            time_format: TimeFormat::UnixMs,
            on_bad_row: BadRowPolicy::DeadLetter,
            dead_letter_path: Some("bad.jsonl".into()),
            types: BTreeMap::from([("n".to_owned(), ColumnType::Int)]),
            follow: true,
            recording: Some("rec.jsonl".into()),
        };
        let written: Vec<&str> = source_entries(&source).into_iter().map(|(k, _)| k).collect();
        assert_eq!(written, keys(&SOURCE_SETTINGS));
        let sink = SinkSpec {
            id: "out".into(),
            inputs: vec!["in".into()],
            format: SinkFormat::Csv,
            path: Some("out.csv".into()),
        };
        let written: Vec<&str> = sink_entries(&sink).into_iter().map(|(k, _)| k).collect();
        assert_eq!(written, keys(&SINK_SETTINGS));
        let mut step = StepSpec::new("s", OpKind::Join, vec!["in".into()]);
        step.script = Some("fn f() {}\n".into());
        step.builtin = Some(crate::graph::Builtin::Sum);
        step.field = Some("x".into());
        step.max_size = Some(3);
        step.timeout = Some("1s".into());
        step.insert_mode = Some(InsertMode::Product);
        step.emit_mode = Some(EmitMode::Running);
        let written: Vec<&str> = step_entries(&step).into_iter().map(|(k, _)| k).collect();
        let expected = ["id", "op", "inputs", "builtin", "field", "max_size", "timeout", "insert_mode"];
        assert_eq!(written, [&expected[..], &["emit_mode", "script"]].concat());
        // What the join takes reads back the same.
        step.script = None;
        step.builtin = None;
        step.field = None;
        step.max_size = None;
        step.timeout = None;
        let doc = PipelineDoc {
            format_version: 1,
            sources: vec![source],
            steps: vec![step],
            sinks: vec![sink],
            ..PipelineDoc::default()
        };
        assert_eq!(parse_str(&to_canonical_toml(&doc), Path::new("t.toml")).unwrap(), doc);
    }

    #[test]
    fn the_limits_table_is_written_back_as_read() {
        let with_limits = FILE.replace(
            "format_version = 1\n",
            "format_version = 1\n\n[limits]\ncall_timeout = \"5s\"   # slow machine\ncall_memory = 1048576\nmax_depth = 64\n",
        );
        let mut doc = parse_str(&with_limits, Path::new("t.toml")).unwrap();
        assert_eq!(doc.limits.max_depth, Some(64));
        assert_eq!(doc.limits.call_memory, Some(crate::graph::ByteSize::Bytes(1_048_576)));
        assert_eq!(to_toml_over(&doc, &with_limits, &BTreeMap::new()), with_limits);
        let back = parse_str(&to_canonical_toml(&doc), Path::new("t.toml")).unwrap();
        assert_eq!(back, doc);
        // Changed: the comment stays; removed: the table goes.
        doc.limits.call_memory = Some(crate::graph::ByteSize::Text("1GiB".into()));
        let text = to_toml_over(&doc, &with_limits, &BTreeMap::new());
        assert!(text.contains("call_timeout = \"5s\"   # slow machine\ncall_memory = \"1GiB\"\n"), "{text}");
        doc.limits = crate::graph::LimitsSpec::default();
        assert_eq!(to_toml_over(&doc, &with_limits, &BTreeMap::new()), FILE);
    }

    #[test]
    fn an_unchanged_document_gives_back_the_same_text() {
        let doc = parse_str(FILE, Path::new("t.toml")).unwrap();
        assert_eq!(to_toml_over(&doc, FILE, &BTreeMap::new()), FILE);
    }

    #[test]
    fn canonical_text_reads_back_to_the_same_document() {
        let mut doc = parse_str(FILE, Path::new("t.toml")).unwrap();
        doc.steps[1].timeout = Some("10s".into());
        doc.sources[0].types.insert("user id".into(), crate::graph::ColumnType::String);
        let text = to_canonical_toml(&doc);
        assert!(text.contains("script = '''\nfn mapper"), "{text}");
        let back = parse_str(&text, Path::new("t.toml"));
        // `timeout` is not a setting of stateful_map, so the reader refuses it: strip it and compare.
        assert!(back.is_err());
        doc.steps[1].timeout = None;
        let back = parse_str(&to_canonical_toml(&doc), Path::new("t.toml")).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn edits_keep_comments_and_follow_the_document_order() {
        let mut doc = parse_str(FILE, Path::new("t.toml")).unwrap();
        // Rename a step, change a field, add a step and reorder.
        doc.steps[0].id = "per_user".into();
        doc.steps[0].field = Some("user_id".into());
        doc.steps[1].inputs = vec!["per_user".into()];
        let mut extra = StepSpec::new("seen", OpKind::Inspect, vec!["count".into()]);
        extra.script = Some("fn inspector(x) { }\n".into());
        doc.steps.insert(0, extra);
        doc.steps.swap(0, 1);
        let renamed = BTreeMap::from([("per_user".to_owned(), "by_user".to_owned())]);
        let text = to_toml_over(&doc, FILE, &renamed);
        assert!(text.starts_with("# A header comment.\n"), "{text}");
        assert!(text.contains("id = \"clicks\"     # where clicks come from"), "{text}");
        assert!(text.contains("# Key by user.\n[[steps]]\nid = \"per_user\""), "{text}");
        assert!(text.contains("field = \"user_id\""), "{text}");
        let back = parse_str(&text, Path::new("t.toml")).unwrap();
        assert_eq!(back, doc);
        let positions: Vec<usize> = ["id = \"per_user\"", "id = \"seen\"", "id = \"count\"", "[[sinks]]"]
            .iter()
            .map(|s| text.find(s).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn keys_the_model_does_not_know_are_kept_when_writing_over_a_file() {
        // A typo in a step, a source and the clock: the reader lists them as problems; saving
        // after an edit keeps them as written (and drops a known key the edit cleared).
        let typos = FILE
            .replace("field = \"user\"\n", "field = \"user\"\nfeild = \"user_id\"   # typo\n")
            .replace("format_version = 1\n", "format_version = 1\n\n[clock]\nmode = \"wall\"\nmood = \"x\"\n")
            .replace("path = \"clicks.csv\"", "path = \"clicks.csv\"\ntime_feild = \"ts\"");
        let partial = crate::graph::parse_lenient(&typos, Path::new("t.toml")).unwrap();
        assert_eq!(partial.problems.len(), 3, "{:?}", partial.problems);
        let mut doc = partial.doc;
        assert_eq!(to_toml_over(&doc, &typos, &BTreeMap::new()), typos);
        doc.steps[0].field = None;
        doc.steps[1].script = Some("fn mapper(s, v) { [s, v] }\n".into());
        let text = to_toml_over(&doc, &typos, &BTreeMap::new());
        for kept in ["feild = \"user_id\"   # typo", "mood = \"x\"", "time_feild = \"ts\""] {
            assert!(text.contains(kept), "`{kept}` dropped:\n{text}");
        }
        assert!(!text.contains("field = \"user\"\n"), "a cleared setting stays:\n{text}");
        // Back to the default clock: `mode` goes, the unknown key stays.
        doc.clock = Default::default();
        let text = to_toml_over(&doc, &typos, &BTreeMap::new());
        assert!(text.contains("[clock]\nmood = \"x\"\n") && !text.contains("wall"), "{text}");
    }

    #[test]
    fn scripts_that_cannot_be_literal_strings_are_escaped() {
        let mut doc = parse_str(FILE, Path::new("t.toml")).unwrap();
        doc.steps[1].script = Some("fn mapper(s, v) { [s, \"'''\"] }\n".into());
        let back = parse_str(&to_canonical_toml(&doc), Path::new("t.toml")).unwrap();
        assert_eq!(back, doc);
    }
}
