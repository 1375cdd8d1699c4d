//! The per-key state accessors every keyed operator has, written once: an operator that
//! keeps its state in a [`KeyMap`] says how one key's state shows as a value
//! ([`StateValue`]) and [`keyed_state_accessors!`] writes its `key_count`, `states`,
//! `states_unsorted`, `visit_states`, `state_of` and `visit_state` (and, for a map of values held as is,
//! `set_states`).

use rhai::{Array, Dynamic};

use super::common::{Key, KeyMap, sorted_keys};

/// How one key's state shows as a value, for the workbench and keyframes.
pub trait StateValue {
    /// The state as a value (a copy).
    fn to_value(&self) -> Dynamic;

    /// Shows the state to `visit`, without copying it where it is held as a value.
    fn visit(&self, visit: &mut dyn FnMut(&Dynamic)) {
        visit(&self.to_value());
    }
}

impl StateValue for Dynamic {
    fn to_value(&self) -> Dynamic {
        self.clone()
    }

    fn visit(&self, visit: &mut dyn FnMut(&Dynamic)) {
        visit(self);
    }
}

/// A collect's list.
impl StateValue for Array {
    fn to_value(&self) -> Dynamic {
        Dynamic::from_array(self.clone())
    }
}

/// A join's sides: a list of lists, of values of their own. The join may hold values shared
/// with the rows it emitted (docs/architecture.md#shared-parts) or records with their JSON
/// text (docs/architecture.md#written-rows): what the workbench, a keyframe or a snapshot is
/// given is an ordinary copy no write reaches the state through.
impl StateValue for Vec<Array> {
    fn to_value(&self) -> Dynamic {
        let side = |side: &Array| Dynamic::from_array(side.iter().map(crate::value::plain_clone).collect());
        Dynamic::from_array(self.iter().map(side).collect())
    }
}

/// Each key's state as a value, in key order.
pub fn states<V: StateValue>(map: &KeyMap<V>) -> Vec<(Key, Dynamic)> {
    sorted_keys(map).into_iter().filter_map(|k| map.get(&k).map(|v| (k.clone(), v.to_value()))).collect()
}

/// Each key's state as a value, in hash order (one copy each: a state held other than as a
/// value is made one once).
pub fn states_unsorted<V: StateValue>(map: &KeyMap<V>) -> Vec<(Key, Dynamic)> {
    map.iter().map(|(k, v)| (k, v.to_value())).collect()
}

/// Shows each key's state to `visit`, in hash order.
pub fn visit_states<V: StateValue>(map: &KeyMap<V>, visit: &mut dyn FnMut(&Key, &Dynamic)) {
    // In hash order, as documented: the callers pack or sum, and sort what they show.
    map.iter().for_each(|(key, state)| state.visit(&mut |state| visit(&key, state)));
}

/// One key's state as a value, if the key is live.
pub fn state_of<V: StateValue>(map: &KeyMap<V>, key: &Key) -> Option<Dynamic> {
    map.get(key).map(StateValue::to_value)
}

/// Shows one key's state to `visit`, if the key is live.
pub fn visit_state<V: StateValue>(map: &KeyMap<V>, key: &Key, visit: &mut dyn FnMut(&Dynamic)) {
    if let Some(state) = map.get(key) {
        state.visit(visit);
    }
}

/// Writes an [`super::Operator`]'s per-key state accessors over its [`KeyMap`] field:
/// `keyed_state_accessors!(field)` the five readers; `keyed_state_accessors!(field, set_states)`
/// also `set_states`, for a `KeyMap<Dynamic>` that holds each state as is.
macro_rules! keyed_state_accessors {
    ($field:ident) => {
        fn key_count(&self) -> usize {
            self.$field.len()
        }

        fn states(&self) -> Vec<(Key, Dynamic)> {
            super::keyed_state::states(&self.$field)
        }

        fn states_unsorted(&self) -> Vec<(Key, Dynamic)> {
            super::keyed_state::states_unsorted(&self.$field)
        }

        fn visit_states(&self, visit: &mut dyn FnMut(&Key, &Dynamic)) {
            super::keyed_state::visit_states(&self.$field, visit)
        }

        fn state_of(&self, key: &Key) -> Option<Dynamic> {
            super::keyed_state::state_of(&self.$field, key)
        }

        fn visit_state(&self, key: &Key, visit: &mut dyn FnMut(&Dynamic)) {
            super::keyed_state::visit_state(&self.$field, key, visit)
        }
    };
    ($field:ident, set_states) => {
        super::keyed_state::keyed_state_accessors!($field);

        fn set_states(&mut self, states: Vec<(Key, Dynamic)>) -> Result<(), StepError> {
            self.$field = states.into_iter().collect();
            Ok(())
        }
    };
}

pub(crate) use keyed_state_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key::from(text)
    }

    #[test]
    fn states_come_in_key_order_as_values() {
        let mut lists: KeyMap<Array> = KeyMap::default();
        lists.insert(&key("b"), vec![Dynamic::from_int(2)]);
        lists.insert(&key("a"), vec![Dynamic::from_int(1), Dynamic::from_int(3)]);
        let shown: Vec<(String, String)> =
            states(&lists).into_iter().map(|(k, v)| (k.to_string(), format!("{v:?}"))).collect();
        assert_eq!(shown, [("a".to_owned(), "[1, 3]".to_owned()), ("b".to_owned(), "[2]".to_owned())]);
        let mut unsorted = states_unsorted(&lists);
        unsorted.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(format!("{unsorted:?}"), format!("{:?}", states(&lists)));
        let mut visited = Vec::new();
        visit_states(&lists, &mut |key, state| visited.push((key.clone(), state.clone())));
        visited.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(format!("{visited:?}"), format!("{:?}", states(&lists)));
        assert_eq!(format!("{:?}", state_of(&lists, &key("b"))), "Some([2])");
        assert!(state_of(&lists, &key("c")).is_none());
    }

    #[test]
    fn a_join_state_shows_as_a_list_of_sides() {
        let mut sides: KeyMap<Vec<Array>> = KeyMap::default();
        sides.insert(&key("k"), vec![vec![Dynamic::from_int(1)], Vec::new()]);
        let mut seen = Vec::new();
        visit_state(&sides, &key("k"), &mut |v| seen.push(format!("{v:?}")));
        visit_state(&sides, &key("missing"), &mut |v| seen.push(format!("{v:?}")));
        assert_eq!(seen, ["[[1], []]"]);
    }
}
