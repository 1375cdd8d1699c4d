//! collect: per-key lists, emitted when full (`max_size`), after `timeout` without a new item
//! (an inactivity deadline, re-armed by every item), or at end of input.

use rhai::{Array, Dynamic};

use super::common::{InKeyOrder, KeyMap, StepError, step_error, take_in_key_order, unkeyed};
use super::keyed_state::keyed_state_accessors;
use super::{Item, Key, OpContext, Operator, Output};

/// A collect step.
pub struct Collect {
    step: String,
    max_size: Option<usize>,
    timeout_micros: Option<i64>,
    lists: KeyMap<Array>,
    /// At end of input, the lists not emitted yet, in key order (emitted in parts).
    ending: Option<InKeyOrder<Array>>,
}

impl Collect {
    /// A collect with its limits (validation ensured at least one is set).
    pub fn new(step: &str, max_size: Option<i64>, timeout_micros: Option<i64>) -> Self {
        let max_size = max_size.and_then(|n| usize::try_from(n).ok());
        Self { step: step.to_owned(), max_size, timeout_micros, lists: KeyMap::default(), ending: None }
    }
}

impl Operator for Collect {
    fn on_item(
        &mut self,
        ctx: &mut OpContext<'_>,
        _input: usize,
        item: Item,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        let key = item.key.ok_or_else(|| unkeyed(&self.step))?;
        let list = self.lists.get_or_insert_with(&key, Array::new);
        list.push(item.value);
        if self.max_size.is_some_and(|max| list.len() >= max) {
            let full = self.lists.remove(&key).unwrap_or_default();
            ctx.timers.cancel(&key);
            out.push(Output { port: 0, item: Item::keyed(key, Dynamic::from_array(full)) });
        } else if let (Some(timeout), Some(now)) = (self.timeout_micros, ctx.now) {
            ctx.timers.arm(&key, now.saturating_add(timeout));
        }
        Ok(())
    }

    fn on_notify(
        &mut self,
        _ctx: &mut OpContext<'_>,
        key: &Key,
        out: &mut Vec<Output>,
    ) -> Result<(), StepError> {
        if let Some(list) = self.lists.remove(key) {
            out.push(Output { port: 0, item: Item::keyed(key.clone(), Dynamic::from_array(list)) });
        }
        Ok(())
    }

    fn on_eof(&mut self, ctx: &mut OpContext<'_>, out: &mut Vec<Output>) -> Result<(), StepError> {
        while self.on_eof_part(ctx, out, usize::MAX)? {}
        Ok(())
    }

    fn on_eof_part(
        &mut self,
        ctx: &mut OpContext<'_>,
        out: &mut Vec<Output>,
        limit: usize,
    ) -> Result<bool, StepError> {
        let more = take_in_key_order(&mut self.lists, &mut self.ending, limit, |key, list| {
            ctx.timers.cancel(&key);
            if !list.is_empty() {
                out.push(Output { port: 0, item: Item::keyed(key, Dynamic::from_array(list)) });
            }
        });
        Ok(more)
    }

    keyed_state_accessors!(lists);

    fn set_states(&mut self, states: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
        self.lists.clear();
        for (key, list) in states {
            let list = list.into_array().map_err(|t| {
                step_error(&self.step, None, format!("restored state of {key:?} is {t}, not a list"))
            })?;
            self.lists.insert(&key, list);
        }
        Ok(())
    }
}
