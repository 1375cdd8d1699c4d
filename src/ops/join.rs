//! join: N keyed sides per key, with insert_mode first/last/product and emit_mode
//! complete/final/running (docs/semantics.md#join).
//!
//! When the engine asks ([`Operator::share_outputs`]), the values an emission puts in more
//! than one row (a `product` side's, the other sides' of a cross product) are turned into
//! shared values, held so by the state from then on, and the rows share them instead of
//! copying them; a single row copies as before (measured: sharing pays only where a value
//! goes into many rows while at hand, docs/performance.md). The engine gives a step that
//! receives a row parts of its own first (docs/architecture.md#shared-parts).

use rhai::{Array, Dynamic};

use super::common::{KeyMap, StepError, drain_sorted, step_error, unkeyed};
use super::keyed_state::keyed_state_accessors;
use super::{DropReason, Item, Key, OpContext, Operator, Output};
use crate::graph::{EmitMode, InsertMode};

/// A join step.
pub struct Join {
    step: String,
    sides: usize,
    insert: InsertMode,
    emit: EmitMode,
    /// Per key, per side, the remembered values in arrival order (a value that went into
    /// several rows at once held shared, when `share` is on).
    state: KeyMap<Vec<Array>>,
    /// Whether rows may share values with the state ([`Operator::share_outputs`]); off,
    /// each row copies them.
    share: bool,
}

impl Join {
    /// A join over `sides` inputs.
    pub fn new(step: &str, sides: usize, insert: InsertMode, emit: EmitMode) -> Self {
        Self { step: step.to_owned(), sides, insert, emit, state: KeyMap::default(), share: false }
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

impl Operator for Join {
    fn share_outputs(&mut self) -> bool {
        self.share = true;
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
        let sides = self.state.get_or_insert_with(&key, || vec![Vec::new(); self.sides]);
        let Some(side) = sides.get_mut(input) else {
            return Err(step_error(&self.step, None, format!("no side {input}")));
        };
        match self.insert {
            InsertMode::First => {
                if side.is_empty() {
                    side.push(item.value);
                }
            }
            InsertMode::Last => {
                side.clear();
                side.push(item.value);
            }
            InsertMode::Product => side.push(item.value),
        }
        match self.emit {
            EmitMode::Complete => {
                if sides.iter().all(|s| !s.is_empty())
                    && let Some(sides) = self.state.remove(&key)
                {
                    emit_rows_owned(&key, sides, self.share, out);
                }
            }
            EmitMode::Running => emit_rows(&key, sides, self.share, out),
            EmitMode::Final => {}
        }
        Ok(())
    }

    fn on_eof(&mut self, ctx: &mut OpContext<'_>, out: &mut Vec<Output>) -> Result<(), StepError> {
        match self.emit {
            EmitMode::Final => {
                for (key, sides) in drain_sorted(&mut self.state) {
                    emit_rows_owned(&key, sides, self.share, out);
                }
            }
            // docs/ledger.md#reasons: a key still waiting for a side at end of input never
            // emits; its remembered sides are dropped, one entry per key, in key order.
            EmitMode::Complete => {
                for (key, sides) in drain_sorted(&mut self.state) {
                    // The ledger keeps what it records: values of its own (moved out of their cells).
                    let side =
                        |side: Array| Dynamic::from_array(side.into_iter().map(Dynamic::flatten).collect());
                    let sides = || Dynamic::from_array(sides.into_iter().map(side).collect());
                    ctx.drops.drop_item(DropReason::Unmatched, Some(&key), sides);
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
            self.state.insert(&key, sides);
        }
        Ok(())
    }
}
