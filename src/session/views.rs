//! What the replay shows besides its position: the selected step's State table (brought up to
//! date from the keys the run touched), the node previews, the counters, the log, the
//! snapshot list, the metrics and the watched key's history. Each costly view is a
//! [`Throttled`] cache: rebuilt when stale and due, handed out as an `Arc`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::Dynamic;
use rustc_hash::FxHashSet;
use serde_json::Value;

use super::event::{
    KeyRow, KeySeries, KeyTable, LOG_CAPACITY, LogEntry, LogKind, Metrics, NodePreview, PREVIEW_ITEMS,
    PositionSample, PreviewItem, SeriesPoint, SinkCounts, SnapshotInfo, StateSample, StepCounts, WallSample,
};
use super::throttled::Throttled;
use crate::engine::{Engine, TracedValue};
use crate::graph::ValidGraph;
use crate::ops::Key;
use crate::value::display_json;

/// Changed keys tracked one by one (repeats counted); past this, the table is compared whole.
const CHANGED_CAP: usize = 1_000_000;
/// Throughput samples kept.
const WALL_SAMPLES_CAP: usize = 2000;
/// Metrics are rebuilt, and throughput sampled, at most this often while playing.
pub(super) const METRICS_INTERVAL: Duration = Duration::from_millis(250);
/// Position samples are this far apart while the total is unknown.
pub(super) const UNKNOWN_TOTAL_BUCKET: u64 = 64;

/// An item kept for a node preview, rendered to JSON only when a view is built.
#[derive(Debug, Clone)]
pub(super) struct RawItem {
    pub(super) key: Option<Key>,
    /// Shared with the engine's trace (and the item's other records): never copied here.
    pub(super) value: TracedValue,
    pub(super) port: usize,
    pub(super) clock: Option<i64>,
    pub(super) position: u64,
}

/// The last items into and out of a step.
#[derive(Debug, Clone, Default)]
pub(super) struct StepPreview {
    pub(super) items_in: VecDeque<RawItem>,
    pub(super) items_out: VecDeque<RawItem>,
    /// Items came in untraced (a fast play, see `fast_play`): only the last this many of
    /// `items_in` are the step's last items. `None`: all are.
    pub(super) gap_in: Option<usize>,
    /// The same for `items_out`.
    pub(super) gap_out: Option<usize>,
}

impl StepPreview {
    /// Keeps an item into the step.
    pub(super) fn push_in(&mut self, item: RawItem) {
        push_bounded(&mut self.items_in, item);
        close_gap(&mut self.gap_in);
    }

    /// Keeps an item out of the step.
    pub(super) fn push_out(&mut self, item: RawItem) {
        push_bounded(&mut self.items_out, item);
        close_gap(&mut self.gap_out);
    }
}

/// One more traced item after a gap: once a ring is full of them, it has no gap.
fn close_gap(gap: &mut Option<usize>) {
    if let Some(traced) = gap {
        *traced += 1;
        if *traced >= PREVIEW_ITEMS {
            *gap = None;
        }
    }
}

/// Keeps the last [`PREVIEW_ITEMS`] items of a ring.
fn push_bounded(ring: &mut VecDeque<RawItem>, item: RawItem) {
    if ring.len() == PREVIEW_ITEMS {
        ring.pop_front();
    }
    ring.push_back(item);
}

/// A watched key and its history (a point each time its state changed).
pub(super) struct Watch {
    pub(super) step: String,
    pub(super) key: Key,
    pub(super) points: Vec<SeriesPoint>,
    /// Its state may have changed since the last point.
    pub(super) touched: bool,
    pub(super) view: Option<Arc<KeySeries>>,
}

/// The samples behind the metrics view.
#[derive(Default)]
pub(super) struct MetricsState {
    pub(super) bucket: u64,
    pub(super) by_position: Vec<PositionSample>,
    pub(super) by_wall: Vec<WallSample>,
    pub(super) state: BTreeMap<u64, StateSample>,
    /// The start of the current throughput stretch: when, position, items in per step.
    pub(super) wall_mark: Option<(Instant, u64, Vec<u64>)>,
    pub(super) state_at: Option<Instant>,
}

/// How the State table goes on after the run moved other than forward.
pub(super) enum TableReset {
    /// No table to compare with: the next one is built whole, nothing marked changed
    /// (another graph, or the start again).
    Drop,
    /// Compared whole with the last one (the changes are not known key by key).
    Compare,
    /// Brought up to date from these keys, which may differ from what it shows.
    Keys(FxHashSet<Key>),
}

/// The views of a replay and what they are built from.
pub(super) struct Views {
    /// The selected step's table.
    pub table: Throttled<Option<Arc<KeyTable>>>,
    /// How long the last table took to build: a big one is rebuilt less often while playing.
    pub table_cost: Duration,
    /// Keys of the selected step the run touched since the last table, as they came (a key
    /// may repeat: appending is cheaper than a set; the table sorts them anyway).
    pub changed: Vec<Key>,
    /// The changes are not known key by key: compare the next table with the last one.
    pub changed_all: bool,
    /// The last items into and out of each step.
    pub previews: Vec<StepPreview>,
    /// The previews rendered to JSON.
    pub previews_view: Throttled<Arc<Vec<NodePreview>>>,
    /// Counters per step and per sink.
    pub counts: (Arc<Vec<StepCounts>>, Arc<Vec<SinkCounts>>),
    /// The log, the oldest dropped past [`LOG_CAPACITY`].
    pub log: VecDeque<LogEntry>,
    /// The log as shown.
    pub log_view: Throttled<Arc<Vec<LogEntry>>>,
    /// The keyframes' and manual snapshots' list.
    pub snapshots: Throttled<Arc<Vec<SnapshotInfo>>>,
    /// The samples behind the plots.
    pub metrics: MetricsState,
    /// The plots as shown.
    pub metrics_view: Throttled<Arc<Metrics>>,
    /// When the pipeline was loaded (throughput samples are timed from it).
    pub loaded_at: Instant,
    /// The watched key, if any.
    pub watch: Option<Watch>,
}

impl Default for Views {
    fn default() -> Self {
        Views {
            table: Throttled::new(None),
            table_cost: Duration::ZERO,
            changed: Vec::new(),
            changed_all: false,
            previews: Vec::new(),
            previews_view: Throttled::default(),
            counts: (Arc::default(), Arc::default()),
            log: VecDeque::new(),
            log_view: Throttled::default(),
            snapshots: Throttled::default(),
            metrics: MetricsState::default(),
            metrics_view: Throttled::default(),
            loaded_at: Instant::now(),
            watch: None,
        }
    }
}

impl Views {
    /// A new pipeline of `steps` steps: no previews, table or metrics yet (the log, the watch
    /// and the throughput's clock go on).
    pub fn load(&mut self, steps: usize) {
        self.metrics = MetricsState { bucket: UNKNOWN_TOTAL_BUCKET, ..MetricsState::default() };
        self.metrics_view.mark_dirty();
        self.loaded_at = Instant::now();
        self.snapshots.mark_dirty();
        self.previews = vec![StepPreview::default(); steps];
        self.previews_view.mark_dirty();
    }

    /// The run stands at `position` with these previews, having got there other than by
    /// going forward: what was recorded past it is dropped, the table goes on as `table` says.
    pub fn moved(&mut self, position: u64, previews: Vec<StepPreview>, table: TableReset) {
        self.previews = previews;
        self.previews_view.mark_dirty();
        self.truncate_history(position);
        self.reset_table(table);
    }

    /// How the next table is built (see [`TableReset`]).
    pub fn reset_table(&mut self, how: TableReset) {
        match how {
            TableReset::Drop => {
                self.table = Throttled::new(None);
                self.changed.clear();
                self.changed_all = false;
            }
            TableReset::Compare => self.changed_all = true,
            TableReset::Keys(keys) => self.changed.extend(keys),
        }
        self.table.mark_dirty();
    }

    /// A key of the selected step changed.
    pub fn touched(&mut self, key: &Key) {
        if self.changed.len() < CHANGED_CAP {
            self.changed.push(key.clone());
        } else {
            self.changed_all = true;
        }
        self.table.mark_dirty();
    }

    /// Drops what was recorded past `position` (watched key, plots): a replay forward
    /// records it again, the same.
    pub fn truncate_history(&mut self, position: u64) {
        if let Some(watch) = &mut self.watch {
            watch.points.retain(|p| p.position <= position);
            watch.view = None;
        }
        self.metrics.by_position.retain(|s| s.position <= position);
        self.metrics.state.retain(|&p, _| p <= position);
        self.metrics_view.mark_dirty();
    }

    /// Adds an entry to the log (the oldest goes past [`LOG_CAPACITY`]).
    pub fn log_entry(&mut self, position: u64, clock_micros: Option<i64>, kind: LogKind) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry { position, clock_micros, kind });
        self.log_view.mark_dirty();
    }

    /// The watched key's history gets a point at `position` if its state changed.
    pub fn record_watch(&mut self, graph: Option<&ValidGraph>, engine: Option<&Engine>, position: u64) {
        let Some(watch) = &mut self.watch else { return };
        if !watch.touched {
            return;
        }
        watch.touched = false;
        let Some(graph) = graph else { return };
        let Some(index) = graph.doc.steps.iter().position(|s| s.id == watch.step) else { return };
        let Some(engine) = engine else { return };
        let state = engine.step_state(index, &watch.key);
        if push_point(&mut watch.points, position, engine.clock(), state.as_ref()) {
            watch.view = None;
        }
    }

    /// The watched key's history as shown.
    pub fn watch_view(&mut self) -> Option<Arc<KeySeries>> {
        self.watch.as_mut().map(|watch| {
            let view = watch.view.get_or_insert_with(|| {
                Arc::new(KeySeries {
                    step: watch.step.clone(),
                    key: watch.key.to_string(),
                    points: watch.points.clone(),
                })
            });
            Arc::clone(view)
        })
    }

    /// The previews rendered to JSON.
    pub fn render_previews(&self, graph: &ValidGraph) -> Arc<Vec<NodePreview>> {
        // A gapped ring shows only what came after its gap: the step's last items, if fewer.
        let render = |ring: &VecDeque<RawItem>, gap: Option<usize>| {
            ring.iter()
                .skip(gap.map_or(0, |traced| ring.len().saturating_sub(traced)))
                .map(|item| PreviewItem {
                    key: item.key.as_ref().map(|k| k.to_string()),
                    value: display_json(&item.value),
                    port: item.port,
                    clock_micros: item.clock,
                    position: item.position,
                })
                .collect()
        };
        let previews = graph
            .doc
            .steps
            .iter()
            .zip(&self.previews)
            .map(|(spec, p)| NodePreview {
                step: spec.id.clone(),
                items_in: render(&p.items_in, p.gap_in),
                items_out: render(&p.items_out, p.gap_out),
            })
            .collect();
        Arc::new(previews)
    }

    /// The metrics as shown.
    pub fn render_metrics(&self) -> Arc<Metrics> {
        Arc::new(Metrics {
            bucket_events: self.metrics.bucket,
            by_position: self.metrics.by_position.clone(),
            by_wall: self.metrics.by_wall.clone(),
            state: self.metrics.state.values().cloned().collect(),
        })
    }

    /// Throughput since the last sample (every so often, or at once when `closing`).
    pub fn sample_throughput(&mut self, engine: Option<&Engine>, position: u64, closing: bool) {
        let Some(engine) = engine else { return };
        let now = Instant::now();
        let items_in: Vec<u64> = engine.stats().steps.iter().map(|s| s.items_in).collect();
        let Some((since, from, before)) = &self.metrics.wall_mark else {
            self.metrics.wall_mark = Some((now, position, items_in));
            return;
        };
        let elapsed = now.duration_since(*since);
        if elapsed < METRICS_INTERVAL && !(closing && elapsed > Duration::from_millis(20)) {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let sample = WallSample {
            secs: now.duration_since(self.loaded_at).as_secs_f64(),
            events_per_sec: position.saturating_sub(*from) as f64 / secs,
            items_in_per_sec: items_in
                .iter()
                .zip(before)
                .map(|(a, b)| a.saturating_sub(*b) as f64 / secs)
                .collect(),
        };
        if self.metrics.by_wall.len() == WALL_SAMPLES_CAP {
            self.metrics.by_wall.remove(0);
        }
        self.metrics.by_wall.push(sample);
        self.metrics.wall_mark = if closing { None } else { Some((now, position, items_in)) };
        self.metrics_view.mark_dirty();
    }

    /// Rebuilds the table of `selected` (index, id) at `position`: from the keys touched since
    /// the last one when known, else whole. No table without a selected step; none rebuilt
    /// without an engine.
    pub fn rebuild_table(
        &mut self,
        selected: Option<(usize, String)>,
        engine: Option<&Engine>,
        position: u64,
    ) {
        let Some((step, id)) = selected else {
            self.table.replace(None);
            return;
        };
        let Some(engine) = engine else { return };
        let previous = self.table.view().as_ref().filter(|t| t.step == id);
        let since = previous.map(|t| t.position);
        // In key order, as the table lists them (sorted on their first bytes, which are read
        // once, and compared whole only when those are equal).
        let mut touched: Vec<(u64, &Key)> =
            self.changed.iter().map(|k| (key_prefix(k.as_bytes()), k)).collect();
        touched.sort_unstable_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| a.as_bytes().cmp(b.as_bytes())));
        touched.dedup_by(|(pa, a), (pb, b)| pa == pb && a.as_bytes() == b.as_bytes());
        let (rows, changed) = match previous {
            // The keys the run touched since the last table, and only them.
            Some(previous) if !self.changed_all => {
                // One merge of the old rows with the touched keys, both in key order: the runs
                // of old rows between two touched keys are found by a galloping search (few
                // rows read when the touched keys are many or few) and copied.
                let mut rows = Vec::with_capacity(previous.rows.len() + touched.len());
                let mut changed = Vec::with_capacity(touched.len());
                let old = &previous.rows;
                let mut next = 0;
                for &(_, key) in &touched {
                    let skip = rows_before(&old[next..], key.as_bytes());
                    rows.extend_from_slice(&old[next..next + skip]);
                    next += skip;
                    // The key's old row, if any, gives way to its state now (none if it went);
                    // a state that came back the same keeps its row and is not reported.
                    let old_row = old.get(next).filter(|r| r.key.as_bytes() == key.as_bytes());
                    next += usize::from(old_row.is_some());
                    let row = engine.with_step_state(step, key, |state| row_of(key, state));
                    match (old_row, row) {
                        (Some(old_row), Some(row)) if old_row.state == row.state => {
                            rows.push(Arc::clone(old_row));
                        }
                        (None, None) => {}
                        (_, row) => {
                            rows.extend(row.map(Arc::new));
                            changed.push(key.to_string());
                        }
                    }
                }
                rows.extend_from_slice(&old[next..]);
                (rows, changed)
            }
            // Changes not known key by key: the whole table, compared with the last one (a
            // row whose state shows the same is kept, not rendered again).
            Some(previous) => compared_rows(&previous.rows, &engine.step_states(step)),
            None => {
                let rows = rows_of(&engine.step_states(step));
                let changed = if self.changed_all {
                    rows.iter().map(|r| r.key.clone()).collect()
                } else {
                    touched.iter().map(|(_, k)| k.to_string()).collect()
                };
                (rows, changed)
            }
        };
        self.table.replace(Some(Arc::new(KeyTable { step: id, position, since, rows, changed })));
        self.changed.clear();
        self.changed_all = false;
    }
}

/// Adds a point when the state differs from the last one; true if added.
pub(super) fn push_point(
    points: &mut Vec<SeriesPoint>,
    position: u64,
    clock: Option<i64>,
    state: Option<&Dynamic>,
) -> bool {
    let json = state.map(display_json);
    if points.last().is_some_and(|p| p.state == json) {
        return false;
    }
    if points.last().is_some_and(|p| p.position == position) {
        points.pop();
    }
    let number = state.and_then(as_number);
    let fields = state
        .and_then(|s| {
            s.read_lock::<rhai::Map>()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.to_string(), as_number(v)?))).collect())
        })
        .unwrap_or_default();
    points.push(SeriesPoint { position, clock_micros: clock, state: json, number, fields });
    true
}

fn as_number(v: &Dynamic) -> Option<f64> {
    v.as_int().map(|i| i as f64).ok().or_else(|| v.as_float().ok())
}

/// The table of `states` (in key order) after `old`, and the keys whose row differs: one
/// merge of the two, an old row kept where its state shows the same.
fn compared_rows(old: &[Arc<KeyRow>], states: &[(Key, Dynamic)]) -> (Vec<Arc<KeyRow>>, Vec<String>) {
    use std::cmp::Ordering;
    let (mut old, mut new) = (old.iter().peekable(), states.iter().peekable());
    let mut rows = Vec::with_capacity(states.len());
    let mut changed = Vec::new();
    loop {
        let order = match (old.peek(), new.peek()) {
            (Some(row), Some((key, _))) => row.key.as_bytes().cmp(key.as_bytes()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => return (rows, changed),
        };
        match order {
            Ordering::Less => changed.extend(old.next().map(|row| row.key.clone())),
            Ordering::Greater => {
                if let Some((key, state)) = new.next() {
                    rows.push(Arc::new(row_of(key, state)));
                    changed.push(key.to_string());
                }
            }
            Ordering::Equal => {
                if let (Some(row), Some((key, state))) = (old.next(), new.next()) {
                    if shows_as(state, &row.state) {
                        rows.push(Arc::clone(row));
                    } else {
                        rows.push(Arc::new(row_of(key, state)));
                        changed.push(key.to_string());
                    }
                }
            }
        }
    }
}

/// Whether `value` shows as `json` (what [`display_json`] makes of it), without rendering its
/// containers.
fn shows_as(value: &Dynamic, json: &Value) -> bool {
    if let Some(array) = value.read_lock::<rhai::Array>() {
        return matches!(json, Value::Array(items) if items.len() == array.len()
            && array.iter().zip(items).all(|(v, j)| shows_as(v, j)));
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        return matches!(json, Value::Object(fields) if fields.len() == map.len()
            && map.iter().all(|(k, v)| fields.get(k.as_str()).is_some_and(|j| shows_as(v, j))));
    }
    display_json(value) == *json
}

/// How many of `rows` (in key order) come before `key`: a galloping search from the start.
fn rows_before(rows: &[Arc<KeyRow>], key: &[u8]) -> usize {
    let before = |i: usize| rows.get(i).is_some_and(|r| r.key.as_bytes() < key);
    let mut end = 1;
    while end <= rows.len() && before(end - 1) {
        end *= 2;
    }
    let start = end / 2;
    let end = end.min(rows.len());
    start + rows[start..end].partition_point(|r| r.key.as_bytes() < key)
}

/// A key's first eight bytes as a number that orders keys as their bytes do (ties: compare
/// the whole keys).
fn key_prefix(bytes: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    let n = bytes.len().min(8);
    first[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(first)
}

/// A table's rows for these states (in the order given).
pub(super) fn rows_of(states: &[(Key, Dynamic)]) -> Vec<Arc<KeyRow>> {
    states.iter().map(|(key, state)| Arc::new(row_of(key, state))).collect()
}

fn row_of(key: &Key, state: &Dynamic) -> KeyRow {
    KeyRow { key: key.to_string(), state: display_json(state), preview: crate::value::preview(state) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_before_a_key_are_counted_as_a_linear_scan_would() {
        let row =
            |key: &str| Arc::new(KeyRow { key: key.into(), state: Value::Null, preview: String::new() });
        for n in 0..40 {
            let mut keys: Vec<String> = (0..n).map(|i| format!("k{:03}", i * 2)).collect();
            keys.sort();
            let rows: Vec<_> = keys.iter().map(|k| row(k)).collect();
            for probe in 0..(2 * n + 2) {
                let key = format!("k{probe:03}");
                let linear = rows.iter().filter(|r| r.key.as_str() < key.as_str()).count();
                assert_eq!(rows_before(&rows, key.as_bytes()), linear, "{n} rows, {key}");
            }
        }
        let mut keys = ["", "a", "a\0", "ab", "abcdefgh", "abcdefghi", "abcdefgi", "b"].map(Key::from);
        keys.reverse();
        keys.sort_by(|a, b| key_prefix(a.as_bytes()).cmp(&key_prefix(b.as_bytes())).then(a.cmp(b)));
        assert!(keys.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()), "{keys:?}");
    }

    #[test]
    fn the_rows_that_changed_are_found_by_one_merge_and_the_others_kept() {
        let state = |n: i64| {
            let mut map = rhai::Map::new();
            map.insert("n".into(), Dynamic::from_int(n));
            map.insert("x".into(), Dynamic::from_float(f64::NAN));
            Dynamic::from_map(map)
        };
        let states = |pairs: &[(&str, i64)]| -> Vec<(Key, Dynamic)> {
            pairs.iter().map(|&(k, n)| (Key::from(k), state(n))).collect()
        };
        let old = rows_of(&states(&[("a", 1), ("b", 2), ("d", 4), ("e", 5)]));
        let (rows, changed) = compared_rows(&old, &states(&[("b", 2), ("c", 3), ("d", 40), ("f", 6)]));
        assert_eq!(changed, ["a", "c", "d", "e", "f"]);
        assert_eq!(rows, rows_of(&states(&[("b", 2), ("c", 3), ("d", 40), ("f", 6)])));
        assert!(Arc::ptr_eq(&rows[0], &old[1]), "an unchanged row is kept");
        let (same, changed) = compared_rows(&old, &states(&[("a", 1), ("b", 2), ("d", 4), ("e", 5)]));
        assert!(changed.is_empty() && same.iter().zip(&old).all(|(a, b)| Arc::ptr_eq(a, b)));
        assert!(!shows_as(&Dynamic::from_int(1), &Value::from(1.5)));
        assert!(shows_as(&Dynamic::from_array(vec![Dynamic::UNIT]), &serde_json::json!([null])));
    }

    #[test]
    fn a_point_is_added_only_when_the_state_changes() {
        let mut points = Vec::new();
        let one = Dynamic::from_int(1);
        assert!(push_point(&mut points, 1, None, Some(&one)));
        assert!(!push_point(&mut points, 2, None, Some(&one)));
        assert!(push_point(&mut points, 3, None, None));
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].number, Some(1.0));
        assert_eq!(points[1].state, None);
    }
}
