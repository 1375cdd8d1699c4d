//! Per-key state of the selected stateful step: a virtualised, sortable, filterable table with
//! the keys changed since the table before highlighted, and the selected key's whole state (maps and
//! arrays expandable) with its history plotted when it is numeric.

use std::sync::Arc;

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use serde_json::Value;

use crate::session::{KeySeries, KeyTable};
use crate::ui::theme;

/// How the state table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// By key, ascending.
    #[default]
    KeyAscending,
    /// By key, descending.
    KeyDescending,
    /// By the state's one-line text, ascending.
    StateAscending,
    /// By the state's one-line text, descending.
    StateDescending,
}

/// The table's widget state.
pub struct StateTableState<'a> {
    /// Filter text (matches keys and states).
    pub filter: &'a mut String,
    /// Order.
    pub sort: &'a mut SortBy,
    /// The selected key.
    pub selected_key: &'a mut Option<String>,
    /// Cached row order for (table address, filter, order).
    pub cache: &'a mut Option<(usize, String, SortBy, Arc<Vec<usize>>)>,
}

/// What the highlighted keys changed against, in words: the last event, the events played since
/// the table before, or the position a seek came from. Nothing when nothing changed or there is
/// nothing to compare with.
pub fn changed_text(table: &KeyTable) -> Option<String> {
    let count = table.changed.len();
    let since = table.since?;
    if count == 0 {
        return None;
    }
    let keys = if count == 1 { "1 key".to_owned() } else { format!("{count} keys") };
    Some(match since {
        s if s + 1 == table.position => format!("{keys} changed by the last event"),
        s if s < table.position => format!("{keys} changed since event {s}"),
        s if s == table.position => format!("{keys} changed here"),
        s => format!("{keys} differ from event {s}"),
    })
}

/// Whether `key` is among the table's changed keys. `changed` is in key order: a row's key is
/// looked up there rather than all of them gathered into a set each frame (a play at *max* can
/// change tens of thousands of keys between two tables).
pub fn changed_in(table: &KeyTable, key: &str) -> bool {
    table.changed.binary_search_by(|k| k.as_bytes().cmp(key.as_bytes())).is_ok()
}

/// The state table. Returns a key the user clicked.
pub fn state_table_ui(ui: &mut egui::Ui, table: &KeyTable, state: StateTableState<'_>) -> Option<String> {
    let mut clicked = None;
    // Wrapped: a long "N keys changed since event P" goes to the next line rather than over the
    // key detail beside the table.
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!("`{}`: {} keys at event {}", table.step, table.rows.len(), table.position))
                .strong(),
        );
        let label = ui.label("filter");
        ui.add(egui::TextEdit::singleline(state.filter).desired_width(160.0).hint_text("key or state"))
            .labelled_by(label.id);
        if let Some(text) = changed_text(table) {
            ui.label(RichText::new(text).color(theme::selection(ui.visuals())));
        }
    });
    let address = std::ptr::from_ref(table) as usize;
    let order = match state.cache {
        Some((a, f, s, order)) if *a == address && f == state.filter && s == state.sort => Arc::clone(order),
        _ => {
            let order = Arc::new(row_order(table, state.filter, *state.sort));
            *state.cache = Some((address, state.filter.clone(), *state.sort, Arc::clone(&order)));
            order
        }
    };
    let highlight = theme::selection(ui.visuals());
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    TableBuilder::new(ui)
        .id_salt(("state_table", &table.step))
        .striped(true)
        .resizable(true)
        .column(Column::initial(180.0).at_least(60.0).clip(true))
        .column(Column::remainder().clip(true))
        .sense(egui::Sense::click())
        .header(20.0, |mut header| {
            header.col(|ui| {
                let arrow = match state.sort {
                    SortBy::KeyAscending => " ⏶",
                    SortBy::KeyDescending => " ⏷",
                    _ => "",
                };
                if ui.button(format!("key{arrow}")).clicked() {
                    *state.sort = if *state.sort == SortBy::KeyAscending {
                        SortBy::KeyDescending
                    } else {
                        SortBy::KeyAscending
                    };
                }
            });
            header.col(|ui| {
                let arrow = match state.sort {
                    SortBy::StateAscending => " ⏶",
                    SortBy::StateDescending => " ⏷",
                    _ => "",
                };
                if ui.button(format!("state{arrow}")).clicked() {
                    *state.sort = if *state.sort == SortBy::StateAscending {
                        SortBy::StateDescending
                    } else {
                        SortBy::StateAscending
                    };
                }
            });
        })
        .body(|body| {
            body.rows(row_height, order.len(), |mut row| {
                let Some(data) = order.get(row.index()).and_then(|i| table.rows.get(*i)) else { return };
                let is_selected = state.selected_key.as_deref() == Some(data.key.as_str());
                row.set_selected(is_selected);
                let is_changed = changed_in(table, data.key.as_str());
                let color = is_changed.then_some(highlight);
                let (_, key_response) = row.col(|ui| {
                    let mut text = RichText::new(&data.key).monospace();
                    if let Some(color) = color {
                        text = text.color(color);
                    }
                    ui.add(egui::Label::new(text).selectable(false).truncate());
                });
                let (_, state_response) = row.col(|ui| {
                    let mut text = RichText::new(&data.preview).monospace();
                    if let Some(color) = color {
                        text = text.color(color);
                    }
                    ui.add(egui::Label::new(text).selectable(false).truncate());
                });
                if key_response.clicked() || state_response.clicked() || row.response().clicked() {
                    clicked = Some(data.key.clone());
                }
                // Times in the state are read on hover (walked only then).
                if state_response.hovered()
                    && let Some(times) = times_in(&data.state)
                {
                    state_response.on_hover_text(times);
                }
            });
        });
    if let Some(key) = &clicked {
        *state.selected_key = Some(key.clone());
    }
    clicked
}

fn row_order(table: &KeyTable, filter: &str, sort: SortBy) -> Vec<usize> {
    let needle = filter.to_lowercase();
    let mut order: Vec<usize> = table
        .rows
        .iter()
        .enumerate()
        .filter(|(_, row)| {
            needle.is_empty()
                || row.key.to_lowercase().contains(&needle)
                || row.preview.to_lowercase().contains(&needle)
        })
        .map(|(i, _)| i)
        .collect();
    match sort {
        // Rows come in key order.
        SortBy::KeyAscending => {}
        SortBy::KeyDescending => order.reverse(),
        SortBy::StateAscending => order.sort_by(|a, b| table.rows[*a].preview.cmp(&table.rows[*b].preview)),
        SortBy::StateDescending => order.sort_by(|a, b| table.rows[*b].preview.cmp(&table.rows[*a].preview)),
    }
    order
}

/// The selected key's whole state, expandable, and its history.
pub fn key_detail_ui(ui: &mut egui::Ui, table: &KeyTable, key: &str, series: Option<&KeySeries>) {
    ui.label(RichText::new(format!("key {key:?}")).strong());
    match table.rows.iter().find(|row| row.key == key) {
        Some(row) => json_tree_ui(ui, "state", &row.state, 0),
        None => {
            ui.weak("No state at this position (the key has not appeared yet, or was discarded).");
        }
    }
    let Some(series) = series.filter(|s| s.step == table.step && s.key == key) else { return };
    ui.add_space(6.0);
    ui.label(
        RichText::new(format!(
            "History ({} change{})",
            series.points.len(),
            if series.points.len() == 1 { "" } else { "s" }
        ))
        .strong(),
    );
    key_history_plot_ui(ui, series);
}

/// A plot of a key's numeric state (or each numeric field of a map) against the position.
pub fn key_history_plot_ui(ui: &mut egui::Ui, series: &KeySeries) {
    let mut lines: Vec<(String, Vec<[f64; 2]>)> = Vec::new();
    for point in &series.points {
        let x = point.position as f64;
        if let Some(y) = point.number {
            push_point(&mut lines, "state", [x, y]);
        }
        for (name, y) in &point.fields {
            push_point(&mut lines, name, [x, *y]);
        }
    }
    if lines.is_empty() {
        ui.weak("The state is not numeric and has no numeric fields: nothing to plot.");
        return;
    }
    // Fields that hold times (microseconds since the epoch, as `now()` gives) would flatten
    // every count beside them to zero: they get a plot of their own, its axis read as times.
    let (times, numbers): (Vec<_>, Vec<_>) =
        lines.into_iter().partition(|(_, points)| points.iter().all(|[_, y]| time_text(*y as i64).is_some()));
    let height = if times.is_empty() || numbers.is_empty() { 160.0 } else { 110.0 };
    if !numbers.is_empty() {
        Plot::new(("key_history", &series.step, &series.key))
            .height(height)
            .legend(Legend::default())
            .x_axis_label("event")
            .y_axis_label("value")
            .show(ui, |plot| {
                for (name, points) in numbers {
                    plot.line(Line::new(name, PlotPoints::from(points)));
                }
            });
    }
    if !times.is_empty() {
        Plot::new(("key_history_times", &series.step, &series.key))
            .height(height)
            .legend(Legend::default())
            .x_axis_label("event")
            .y_axis_label("time (UTC)")
            .y_axis_formatter(|mark, _| {
                time_text(mark.value as i64)
                    .map_or_else(String::new, |t| t.get(11..19).unwrap_or(&t).to_owned())
            })
            .label_formatter(|hover| match hover {
                egui_plot::HoverPosition::NearDataPoint { plot_name, position, .. } => {
                    let time = time_text(position.y as i64).unwrap_or_default();
                    Some(format!("{plot_name}\nevent {}\n{time}", position.x as u64))
                }
                egui_plot::HoverPosition::Elsewhere { .. } => None,
            })
            .show(ui, |plot| {
                for (name, points) in times {
                    plot.line(Line::new(name, PlotPoints::from(points)));
                }
            });
    }
}

fn push_point(lines: &mut Vec<(String, Vec<[f64; 2]>)>, name: &str, point: [f64; 2]) {
    match lines.iter_mut().find(|(n, _)| n == name) {
        Some((_, points)) => points.push(point),
        None => lines.push((name.to_owned(), vec![point])),
    }
}

/// A JSON value as an expandable tree.
pub fn json_tree_ui(ui: &mut egui::Ui, name: &str, value: &Value, depth: usize) {
    match value {
        Value::Object(map) => {
            egui::CollapsingHeader::new(format!("{name}: {{…}} ({} fields)", map.len()))
                .id_salt((name, depth, ui.next_auto_id()))
                .default_open(depth < 2)
                .show(ui, |ui| {
                    for (key, inner) in map {
                        json_tree_ui(ui, key, inner, depth + 1);
                    }
                });
        }
        Value::Array(items) => {
            egui::CollapsingHeader::new(format!("{name}: [{}]", items.len()))
                .id_salt((name, depth, ui.next_auto_id()))
                .default_open(depth < 3 && items.len() <= 20)
                .show(ui, |ui| {
                    for (index, inner) in items.iter().enumerate() {
                        json_tree_ui(ui, &index.to_string(), inner, depth + 1);
                    }
                });
        }
        other => {
            match other.as_i64().and_then(time_text) {
                // A microsecond timestamp (what `now()` and `parse_time` give): shown as a time too.
                Some(time) => {
                    ui.horizontal(|ui| {
                        ui.monospace(format!("{name}: {other}"));
                        ui.label(
                            RichText::new(format!("= {time}"))
                                .color(crate::ui::theme::weak_text(ui.visuals())),
                        )
                        .on_hover_text("read as microseconds since 1970-01-01T00:00:00Z (the time model)");
                    });
                }
                None => {
                    ui.monospace(format!("{name}: {other}"));
                }
            }
        }
    }
}

/// Microseconds since the epoch between these (1990 and 2100) are taken for times: a count or
/// a sum in a state never gets that large by accident, and a time never leaves it.
const TIME_RANGE_MICROS: std::ops::Range<i64> = 631_152_000_000_000..4_102_444_800_000_000;

/// An INT that looks like a time of the time model (microseconds since the epoch), as RFC 3339.
pub fn time_text(micros: i64) -> Option<String> {
    TIME_RANGE_MICROS.contains(&micros).then(|| crate::time::format_rfc3339_micros(micros)).flatten()
}

/// Every value in `value` that looks like a time, with its RFC 3339 form: `1725… = 2024-…`, one
/// a line (for a hover on a value shown as JSON text).
pub fn times_in(value: &Value) -> Option<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            other => {
                if let Some((n, time)) = other.as_i64().and_then(|n| Some((n, time_text(n)?))) {
                    out.push(format!("{n} = {time}"));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out.dedup();
    (!out.is_empty()).then(|| out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_are_found_in_key_order_by_their_bytes() {
        let table = KeyTable {
            step: "s".into(),
            position: 3,
            since: Some(2),
            rows: Vec::new(),
            changed: ["B", "a", "a1", "é"].map(String::from).to_vec(),
        };
        for key in ["B", "a", "a1", "é"] {
            assert!(changed_in(&table, key), "{key}");
        }
        for key in ["", "A", "b", "a0", "e"] {
            assert!(!changed_in(&table, key), "{key}");
        }
    }
}
