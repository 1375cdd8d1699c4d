//! The editor's layout: where each node sits on the canvas, kept in the file's `[editor]`
//! section (which the runner ignores). Plain floats, so the model needs no GUI types.

use std::collections::{BTreeMap, BTreeSet};

use super::model::PipelineDoc;

/// Horizontal distance between layers of an automatic layout.
const COLUMN_WIDTH: f32 = 230.0;
/// Vertical distance between nodes of one layer of an automatic layout.
const ROW_HEIGHT: f32 = 130.0;

/// Node positions by source, step or sink id (canvas coordinates, top-left corner).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditorLayout {
    /// Position of each node, by id.
    pub positions: BTreeMap<String, [f32; 2]>,
}

impl EditorLayout {
    /// The layout stored in a document's `[editor.positions]` table (entries that are not a pair
    /// of numbers are ignored).
    pub fn from_doc(doc: &PipelineDoc) -> Self {
        let mut positions = BTreeMap::new();
        let table = doc.editor.as_ref().and_then(|e| e.get("positions")).and_then(toml::Value::as_table);
        for (id, value) in table.into_iter().flatten() {
            let Some([x, y]) =
                value.as_array().map(Vec::as_slice).and_then(|a| <&[toml::Value; 2]>::try_from(a).ok())
            else {
                continue;
            };
            let number = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            if let (Some(x), Some(y)) = (number(x), number(y)) {
                positions.insert(id.clone(), [x as f32, y as f32]);
            }
        }
        Self { positions }
    }

    /// Stores the layout in `doc.editor.positions` (whole pixels), keeping any other editor keys.
    pub fn write_into(&self, doc: &mut PipelineDoc) {
        let mut positions = toml::Table::new();
        for (id, [x, y]) in &self.positions {
            let pixel = |v: f32| toml::Value::Float(f64::from(v.round()));
            positions.insert(id.clone(), toml::Value::Array(vec![pixel(*x), pixel(*y)]));
        }
        let editor = doc.editor.get_or_insert_with(toml::Table::new);
        editor.insert("positions".into(), toml::Value::Table(positions));
    }

    /// A layered layout: sources on the left, each step one column right of its furthest input,
    /// sinks after the last step they read; nodes in file order within a column. Ids that
    /// already have a position keep it.
    pub fn fill_missing(&mut self, doc: &PipelineDoc) {
        let mut column: BTreeMap<&str, usize> = BTreeMap::new();
        for source in &doc.sources {
            column.insert(&source.id, 0);
        }
        // Longest path from a source; a cycle or unknown input just stops growing.
        for _ in 0..=doc.steps.len() {
            let mut changed = false;
            for step in &doc.steps {
                let from = step
                    .inputs
                    .iter()
                    .filter_map(|i| column.get(i.split('.').next().unwrap_or(i)).copied())
                    .max()
                    .map_or(1, |c| c + 1);
                let at = from.min(doc.steps.len() + 1);
                if column.get(step.id.as_str()) != Some(&at) {
                    column.insert(&step.id, at);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let last_step =
            doc.steps.iter().filter_map(|s| column.get(s.id.as_str())).max().copied().unwrap_or(0);
        for sink in &doc.sinks {
            column.insert(&sink.id, last_step + 1);
        }
        let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
        let ids = doc
            .sources
            .iter()
            .map(|s| s.id.as_str())
            .chain(doc.steps.iter().map(|s| s.id.as_str()))
            .chain(doc.sinks.iter().map(|s| s.id.as_str()));
        let mut seen = BTreeSet::new();
        for id in ids {
            if !seen.insert(id) {
                continue;
            }
            let col = column.get(id).copied().unwrap_or(0);
            let row = rows.entry(col).or_insert(0);
            if !self.positions.contains_key(id) {
                self.positions.insert(id.to_owned(), [col as f32 * COLUMN_WIDTH, *row as f32 * ROW_HEIGHT]);
            }
            *row += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::graph::parse_str;

    #[test]
    fn positions_round_trip_through_the_editor_section() {
        let mut doc = parse_str("format_version = 1\n", Path::new("t.toml")).unwrap();
        let layout = EditorLayout { positions: BTreeMap::from([("a".to_owned(), [10.4, -3.6])]) };
        layout.write_into(&mut doc);
        let back = EditorLayout::from_doc(&doc);
        assert_eq!(back.positions, BTreeMap::from([("a".to_owned(), [10.0, -4.0])]));
    }

    #[test]
    fn automatic_layout_puts_each_step_right_of_its_inputs() {
        let text = r#"
format_version = 1
[[sources]]
id = "s"
path = "s.csv"
[[steps]]
id = "k"
op = "key_on"
inputs = ["s"]
field = "u"
[[steps]]
id = "f"
op = "filter"
inputs = ["s"]
script = "fn predicate(x) { true }"
[[sinks]]
id = "o"
inputs = ["k"]
format = "stdout"
"#;
        let doc = parse_str(text, Path::new("t.toml")).unwrap();
        let mut layout = EditorLayout::default();
        layout.fill_missing(&doc);
        let at = |id: &str| layout.positions[id];
        assert_eq!(at("s"), [0.0, 0.0]);
        assert_eq!(at("k"), [COLUMN_WIDTH, 0.0]);
        assert_eq!(at("f"), [COLUMN_WIDTH, ROW_HEIGHT]);
        assert_eq!(at("o"), [2.0 * COLUMN_WIDTH, 0.0]);
    }
}
