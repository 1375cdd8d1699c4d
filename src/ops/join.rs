//! join: N keyed sides per key, with insert_mode first/last/product and emit_mode
//! complete/final/running (docs/semantics.md#join).
//!
//! When the engine asks ([`Operator::share_outputs`]), the values an emission puts in more
//! than one row (a `product` side's, the other sides' of a cross product) are turned into
//! shared values, held so by the state from then on, and the rows share them instead of
//! copying them; a single row copies as before (measured: sharing pays only where a value
//! goes into many rows while at hand, docs/performance.md). The engine gives a step that
//! receives a row parts of its own first (docs/architecture.md#shared-parts).
//!
//! When the engine asks ([`Operator::write_outputs`]: the rows go only to JSON sinks), each
//! value is remembered as a [`WrittenRecord`], its JSON text made once (by the source that read
//! it, when the join's `key_on` is done by the source, else here as it arrives), and the rows
//! are [`WrittenRow`]s of those: no value is copied or dropped per row, and a sink writes a row
//! by splicing the texts (docs/architecture.md#written-rows).

use rhai::{Array, Dynamic};
use smallvec::SmallVec;

use super::common::{KeyMap, StepError, drain_sorted, sorted_keys, step_error, unkeyed};
use super::keyed_state::{StateValue, keyed_state_accessors};
use super::{DropReason, Item, Key, OpContext, Operator, Output};
use crate::graph::{EmitMode, InsertMode};
use crate::value::{WrittenRecord, WrittenRow, into_plain};

/// A join step.
pub struct Join {
    step: String,
    sides: usize,
    insert: InsertMode,
    emit: EmitMode,
    /// Per key, per side, the remembered values in arrival order (a value that went into
    /// several rows at once held shared, when `share` is on; each held written, when `write`
    /// is).
    state: KeyMap<Sides>,
    /// Whether rows may share values with the state ([`Operator::share_outputs`]); off,
    /// each row copies them.
    share: bool,
    /// Whether rows are emitted written ([`Operator::write_outputs`]): each value remembered
    /// as a [`WrittenRecord`], each row a [`WrittenRow`]. Takes precedence over `share`.
    write: bool,
    /// The buffer records are written through (reused).
    scratch: Vec<u8>,
}

/// One key's remembered values, per side, in arrival order: values (a join that emits
/// ordinary rows, or a restored state), or written records (a join that writes its rows,
/// docs/architecture.md#written-rows).
#[derive(Debug)]
enum Sides {
    /// Values, as received (or shared, docs/architecture.md#shared-parts).
    Values(Vec<Array>),
    /// Records with their JSON text.
    Written(Vec<Vec<WrittenRecord>>),
}

impl Sides {
    /// No value on any of `count` sides, held as a join that `write`s its rows holds them.
    fn empty(count: usize, write: bool) -> Self {
        if write { Sides::Written(vec![Vec::new(); count]) } else { Sides::Values(vec![Vec::new(); count]) }
    }

    /// The sides' values as ordinary values of their own (moved out of their cells and
    /// written records): what the ledger keeps.
    fn into_value(self) -> Dynamic {
        let sides: Vec<Dynamic> = match self {
            Sides::Values(sides) => sides
                .into_iter()
                .map(|side| side.into_iter().map(Dynamic::flatten).collect())
                .map(Dynamic::from_array)
                .collect(),
            Sides::Written(sides) => sides
                .into_iter()
                .map(|side| side.into_iter().map(WrittenRecord::into_value).collect())
                .map(Dynamic::from_array)
                .collect(),
        };
        Dynamic::from_array(sides)
    }

    /// The sides as written records (values are written here, once: a restored state's).
    fn into_written(self, scratch: &mut Vec<u8>) -> Self {
        match self {
            Sides::Values(sides) => {
                let mut write = |value: Dynamic| WrittenRecord::new(into_plain(value), scratch);
                let written =
                    sides.into_iter().map(|side| side.into_iter().map(&mut write).collect()).collect();
                Sides::Written(written)
            }
            written @ Sides::Written(_) => written,
        }
    }
}

/// A join's sides as the workbench, a keyframe or a snapshot sees them: a list of lists, of
/// values of their own (copies no write reaches the state through).
impl StateValue for Sides {
    fn to_value(&self) -> Dynamic {
        match self {
            Sides::Values(sides) => sides.to_value(),
            Sides::Written(sides) => {
                let side = |side: &Vec<WrittenRecord>| {
                    Dynamic::from_array(side.iter().map(WrittenRecord::value).collect())
                };
                Dynamic::from_array(sides.iter().map(side).collect())
            }
        }
    }
}

impl Join {
    /// A join over `sides` inputs.
    pub fn new(step: &str, sides: usize, insert: InsertMode, emit: EmitMode) -> Self {
        Self {
            step: step.to_owned(),
            sides,
            insert,
            emit,
            state: KeyMap::default(),
            share: false,
            write: false,
            scratch: Vec::new(),
        }
    }

    /// Emits the rows of a key's sides that are dropped afterwards (complete, final).
    fn emit_owned(&self, key: &Key, sides: Sides, out: &mut Vec<Output>) {
        match sides {
            Sides::Written(sides) => emit_written_rows(key, &sides, out),
            Sides::Values(sides) => emit_rows_owned(key, sides, self.share, out),
        }
    }
}

/// Keeps `value` on a side as `insert` says (made by `make`, only when kept).
fn remember<T>(side: &mut Vec<T>, insert: InsertMode, make: impl FnOnce() -> T) {
    match insert {
        InsertMode::First => {
            if side.is_empty() {
                side.push(make());
            }
        }
        InsertMode::Last => {
            side.clear();
            side.push(make());
        }
        InsertMode::Product => side.push(make()),
    }
}

/// The cross product of the sides' values, in side order (the last side varying fastest),
/// each side's values in arrival order; a side with none gives one `()`. Each value is
/// cloned into every row it is in: a shared value (docs/architecture.md#shared-parts) is
/// only counted once more, a plain one copied. With `share`, an emission of more than one
/// row first turns every value into a shared one (which the sides keep).
fn emit_rows(key: &Key, sides: &mut [Array], share: bool, out: &mut Vec<Output>) {
    let counts: Vec<usize> = sides.iter().map(|side| side.len().max(1)).collect();
    let total = counts.iter().fold(1usize, |total, &n| total.saturating_mul(n));
    if share && total > 1 {
        // `into_shared` keeps a value that is shared already as it is.
        for value in sides.iter_mut().flatten() {
            *value = std::mem::take(value).into_shared();
        }
    }
    for row_index in 0..total {
        let mut row: Array = vec![Dynamic::UNIT; sides.len()];
        let mut rest = row_index;
        for (i, side) in sides.iter().enumerate().rev() {
            if let Some(value) = side.get(rest % counts[i]) {
                row[i] = value.clone();
            }
            rest /= counts[i];
        }
        out.push(Output { port: 0, item: Item::keyed(key.clone(), Dynamic::from_array(row)) });
    }
}

/// Like [`emit_rows`], for sides that are dropped afterwards: a single row (at most one
/// value per side) takes the values without copying them (a shared value, held by nothing
/// else, moved out of its cell).
fn emit_rows_owned(key: &Key, mut sides: Vec<Array>, share: bool, out: &mut Vec<Output>) {
    if sides.iter().all(|side| side.len() <= 1) {
        let row: Array = sides
            .into_iter()
            .map(|side| side.into_iter().next().map_or(Dynamic::UNIT, Dynamic::flatten))
            .collect();
        out.push(Output { port: 0, item: Item::keyed(key.clone(), Dynamic::from_array(row)) });
    } else {
        emit_rows(key, &mut sides, share, out);
    }
}

/// Like [`emit_rows`], for a join that writes its rows: each row a [`WrittenRow`] of the
/// sides' records (the same records, counted once more, not copied).
fn emit_written_rows(key: &Key, sides: &[Vec<WrittenRecord>], out: &mut Vec<Output>) {
    let counts: SmallVec<[usize; 2]> = sides.iter().map(|side| side.len().max(1)).collect();
    let total = counts.iter().fold(1usize, |total, &n| total.saturating_mul(n));
    for row_index in 0..total {
        let mut parts: SmallVec<[Option<WrittenRecord>; 2]> = SmallVec::from_elem(None, sides.len());
        let mut rest = row_index;
        for (i, side) in sides.iter().enumerate().rev() {
            parts[i] = side.get(rest % counts[i]).cloned();
            rest /= counts[i];
        }
        let row = Dynamic::from(WrittenRow::new(parts));
        out.push(Output { port: 0, item: Item::keyed(key.clone(), row) });
    }
}

impl Operator for Join {
    fn share_outputs(&mut self) -> bool {
        self.share = true;
        true
    }

    fn write_outputs(&mut self) -> bool {
        self.write = true;
        // A state held already (none, when asked as the engine asks: before any item) is
        // written now, so that every key's rows are written alike.
        if self.state.len() > 0 {
            let keys = sorted_keys(&self.state);
            for key in keys {
                if let Some(sides) = self.state.remove(&key) {
                    self.state.insert(&key, sides.into_written(&mut self.scratch));
                }
            }
        }
        true
    }

    fn on_item(
        &mut self,
        _ctx: &mut OpContext<'_>,
        input: usize,
        item: Item,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        let key = item.key.ok_or_else(|| unkeyed(&self.step))?;
        let (write, insert, count) = (self.write, self.insert, self.sides);
        let no_side = || step_error(&self.step, None, format!("no side {input}"));
        let running = self.emit == EmitMode::Running;
        let complete = match self.state.get_or_insert_with(&key, || Sides::empty(count, write)) {
            Sides::Written(sides) => {
                let side = sides.get_mut(input).ok_or_else(no_side)?;
                // Written once, while the record is at hand: here, or by the source that read
                // it (docs/architecture.md#written-rows).
                let scratch = &mut self.scratch;
                remember(side, insert, || WrittenRecord::of(item.value, scratch));
                if running {
                    emit_written_rows(&key, sides, out);
                }
                sides.iter().all(|side| !side.is_empty())
            }
            Sides::Values(sides) => {
                let side = sides.get_mut(input).ok_or_else(no_side)?;
                remember(side, insert, || item.value);
                if running {
                    emit_rows(&key, sides, self.share, out);
                }
                sides.iter().all(|side| !side.is_empty())
            }
        };
        if self.emit == EmitMode::Complete
            && complete
            && let Some(sides) = self.state.remove(&key)
        {
            self.emit_owned(&key, sides, out);
        }
        Ok(())
    }

    fn on_eof(&mut self, ctx: &mut OpContext<'_>, out: &mut Vec<Output>) -> Result<(), StepError> {
        match self.emit {
            EmitMode::Final => {
                for (key, sides) in drain_sorted(&mut self.state) {
                    self.emit_owned(&key, sides, out);
                }
            }
            // docs/ledger.md#reasons: a key still waiting for a side at end of input never
            // emits; its remembered sides are dropped, one entry per key, in key order.
            EmitMode::Complete => {
                for (key, sides) in drain_sorted(&mut self.state) {
                    // The ledger keeps what it records: values of its own.
                    ctx.drops.drop_item(DropReason::Unmatched, Some(&key), || sides.into_value());
                }
            }
            // Every item emitted its rows already.
            EmitMode::Running => {}
        }
        Ok(())
    }

    keyed_state_accessors!(state);

    fn set_states(&mut self, states: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
        self.state.clear();
        for (key, sides) in states {
            let bad =
                || step_error(&self.step, None, format!("restored state of {key:?} is not a list of sides"));
            let sides: Vec<Array> = sides
                .into_array()
                .map_err(|_| bad())?
                .into_iter()
                .map(|side| side.into_array().map_err(|_| bad()))
                .collect::<Result<_, _>>()?;
            if sides.len() != self.sides {
                return Err(bad());
            }
            let sides = Sides::Values(sides);
            let sides = if self.write { sides.into_written(&mut self.scratch) } else { sides };
            self.state.insert(&key, sides);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The written rows against the ordinary ones (docs/architecture.md#written-rows): the same
    //! joins fed the same random records, one writing its rows and one not, give the same
    //! text (or the same refusal) for every row, the same rows once made ordinary, and the
    //! same states.
    use super::*;
    use crate::ops::{DropLedger, Timers};
    use crate::value::{to_tagged_json, unshare_parts, write_json};
    use rhai::Map;

    /// Deterministic pseudo-random numbers (a 64-bit LCG).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    const TEXTS: [&str; 8] =
        ["", "plain", "quote \" here", "back\\slash", "a\nb\tc", "\u{1}\u{1f}", "héllo ✓ 😀", "/"];
    const FLOATS: [f64; 8] = [0.0, -0.0, 3.0, 0.1, 1e20, 1.5e-7, -2.5, f64::MAX];

    /// A random value: scalars of every kind JSON writes (and a char, which it writes as a
    /// string), arrays and maps nested a few levels, now and then a non-finite float (no JSON
    /// form), a shared cell or a value nested past what is kept as text alone.
    fn value(rng: &mut Lcg, depth: usize) -> Dynamic {
        let pick = rng.below(if depth < 3 { 14 } else { 9 });
        match pick {
            0 => Dynamic::UNIT,
            1 => Dynamic::from_bool(rng.below(2) == 0),
            2 => Dynamic::from_int([0, -42, i64::MIN, i64::MAX][rng.below(4) as usize]),
            3 => Dynamic::from_float(FLOATS[rng.below(FLOATS.len() as u64) as usize]),
            4 | 5 => Dynamic::from(TEXTS[rng.below(TEXTS.len() as u64) as usize]),
            6 => Dynamic::from_char(['x', '"', '\n'][rng.below(3) as usize]),
            7 => match rng.below(40) {
                0 => Dynamic::from_float(f64::NAN),
                1 => Dynamic::from_int(7).into_shared(),
                2 => (0..120).fold(Dynamic::from_int(1), |inner, _| Dynamic::from_array(vec![inner])),
                _ => Dynamic::from_int(i64::from(rng.below(1000) as u16)),
            },
            8 => Dynamic::from_int(rng.below(100) as i64),
            9 | 10 => Dynamic::from_array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
            _ => record(rng, depth + 1),
        }
    }

    fn record(rng: &mut Lcg, depth: usize) -> Dynamic {
        let mut map = Map::new();
        for _ in 0..rng.below(5) {
            let name = TEXTS[rng.below(TEXTS.len() as u64) as usize];
            map.insert(name.into(), value(rng, depth));
        }
        Dynamic::from_map(map)
    }

    /// What a JSON sink makes of an output: its text, or its refusal.
    fn written(output: &Output) -> Result<String, String> {
        let mut out = Vec::new();
        write_json(&mut out, &output.item.value)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// An output as an ordinary value, typed exactly (a char is not a string, 3.0 not 3).
    fn ordinary(output: &Output) -> String {
        let mut value = output.item.value.clone();
        unshare_parts(&mut value);
        format!("{:?} {:?}", output.item.key, to_tagged_json(&value))
    }

    fn states(join: &Join) -> Vec<String> {
        join.states().iter().map(|(key, state)| format!("{key} {:?}", to_tagged_json(state))).collect()
    }

    struct NoTimers;

    impl Timers for NoTimers {
        fn arm(&mut self, _key: &Key, _due: i64) {}
        fn cancel(&mut self, _key: &Key) {}
    }

    /// Feeds both joins the same items and compares everything they emit.
    fn compare(seed: u64, insert: InsertMode, emit: EmitMode) {
        let mut plain = Join::new("j", 2, insert, emit);
        let mut writer = Join::new("j", 2, insert, emit);
        assert!(plain.share_outputs());
        assert!(writer.share_outputs() && writer.write_outputs());
        let mut rng = Lcg(seed);
        let (mut ledger_plain, mut ledger_writer) = (DropLedger::new(1, 0), DropLedger::new(1, 0));
        ledger_plain.record_items(usize::MAX);
        ledger_writer.record_items(usize::MAX);
        let case = format!("seed {seed}, {insert:?} × {emit:?}");
        let mut rows = 0;
        for index in 0..150 {
            let key = Key::from(format!("k{}", rng.below(6)));
            let input = rng.below(2) as usize;
            let value = record(&mut rng, 0);
            let (mut out_plain, mut out_writer) = (Vec::new(), Vec::new());
            let mut timers = NoTimers;
            let mut ctx = OpContext { now: None, timers: &mut timers, drops: &mut ledger_plain };
            plain.on_item(&mut ctx, input, Item::keyed(key.clone(), value.clone()), &mut out_plain).unwrap();
            let mut ctx = OpContext { now: None, timers: &mut timers, drops: &mut ledger_writer };
            writer.on_item(&mut ctx, input, Item::keyed(key, value), &mut out_writer).unwrap();
            assert_eq!(out_plain.len(), out_writer.len(), "{case}: item {index}");
            for (a, b) in out_plain.iter().zip(&out_writer) {
                assert!(b.item.value.is::<WrittenRow>(), "{case}: a written row");
                assert_eq!(written(a), written(b), "{case}: item {index}'s text");
                assert_eq!(ordinary(a), ordinary(b), "{case}: item {index}'s row");
            }
            rows += out_plain.len();
            if index % 50 == 0 {
                assert_eq!(states(&plain), states(&writer), "{case}: states after item {index}");
            }
        }
        let (mut out_plain, mut out_writer) = (Vec::new(), Vec::new());
        let mut timers = NoTimers;
        let mut ctx = OpContext { now: None, timers: &mut timers, drops: &mut ledger_plain };
        plain.on_eof(&mut ctx, &mut out_plain).unwrap();
        let mut ctx = OpContext { now: None, timers: &mut timers, drops: &mut ledger_writer };
        writer.on_eof(&mut ctx, &mut out_writer).unwrap();
        assert_eq!(out_plain.len(), out_writer.len(), "{case}: at the end");
        for (a, b) in out_plain.iter().zip(&out_writer) {
            assert_eq!(written(a), written(b), "{case}: a row at the end");
            assert_eq!(ordinary(a), ordinary(b), "{case}: a row at the end");
        }
        let dropped = |ledger: &mut DropLedger| {
            ledger
                .take_items()
                .into_iter()
                .map(|d| format!("{:?}", to_tagged_json(&d.item)))
                .collect::<Vec<_>>()
        };
        assert_eq!(dropped(&mut ledger_plain), dropped(&mut ledger_writer), "{case}: the ledger");
        assert!(rows + out_plain.len() > 0, "{case}: some rows");
    }

    #[test]
    fn written_rows_are_the_ordinary_rows_in_every_mode() {
        for insert in [InsertMode::First, InsertMode::Last, InsertMode::Product] {
            for emit in [EmitMode::Complete, EmitMode::Final, EmitMode::Running] {
                for seed in 1..=3 {
                    compare(seed, insert, emit);
                }
            }
        }
    }

    #[test]
    fn a_restored_state_is_written_when_the_join_writes() {
        let mut plain = Join::new("j", 2, InsertMode::Last, EmitMode::Running);
        let mut rng = Lcg(9);
        let states: Vec<(Key, Dynamic)> = (0..5)
            .map(|k| {
                let side = |rng: &mut Lcg| Dynamic::from_array(vec![record(rng, 0)]);
                (Key::from(format!("k{k}")), Dynamic::from_array(vec![side(&mut rng), side(&mut rng)]))
            })
            .collect();
        plain.set_states(states.clone()).unwrap();
        let mut writer = Join::new("j", 2, InsertMode::Last, EmitMode::Running);
        assert!(writer.write_outputs());
        writer.set_states(states).unwrap();
        assert!(matches!(writer.state.get("k0"), Some(Sides::Written(_))));
        assert_eq!(super::tests::states(&plain), super::tests::states(&writer));
    }
}
