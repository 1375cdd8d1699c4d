//! Shared parts: a value held in two places at once (Rhai's shared `Dynamic`, reference
//! counted) instead of copied. A join shares each record it remembers with the rows it emits
//! (docs/architecture.md#shared-parts); whatever may change or keep an item gets parts of
//! its own first ([`unshare_parts`]), so that no write through one holder reaches another.

use rhai::Dynamic;

use super::written::WrittenRow;

/// Gives `value` parts of its own where a join row shares them: the value itself when
/// shared, and each shared element of an array (a row's records). A shared part nothing else
/// holds is moved out; one still held elsewhere (the join's state, another row) is copied.
/// Deeper parts are left as they are: a join shares only its rows' elements, and the values
/// it remembers entered it unshared (docs/architecture.md#shared-parts). A row of written
/// records ([`super::WrittenRow`]) becomes the ordinary row, its records copied.
pub fn unshare_parts(value: &mut Dynamic) {
    // A row of written records (docs/architecture.md#written-rows): the ordinary row, copies.
    if value.is::<WrittenRow>()
        && let Some(row) = value.read_lock::<WrittenRow>().map(|row| row.to_row())
    {
        *value = row;
        return;
    }
    if value.is_shared() {
        *value = std::mem::take(value).flatten();
    }
    // `is_array` first: a failed `as_array_mut` computes the type's name for its error.
    if value.is_array()
        && let Ok(mut row) = value.as_array_mut()
    {
        for part in row.iter_mut().filter(|part| part.is_shared()) {
            *part = std::mem::take(part).flatten();
        }
    }
}

/// Whether `value` or one of its array elements is shared, or `value` is a row of written
/// records: what [`unshare_parts`] undoes.
pub fn has_shared_parts(value: &Dynamic) -> bool {
    value.is_shared()
        || value.is::<WrittenRow>()
        || (value.is_array() && value.as_array_ref().is_ok_and(|row| row.iter().any(Dynamic::is_shared)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Array, Map};

    fn record(x: i64) -> Dynamic {
        let mut map = Map::new();
        map.insert("x".into(), Dynamic::from_int(x));
        Dynamic::from_map(map)
    }

    fn x_of(value: &Dynamic) -> i64 {
        value.as_map_ref().ok().and_then(|map| map.get("x").and_then(|x| x.as_int().ok())).unwrap_or(-1)
    }

    #[test]
    fn a_row_unshared_is_written_without_touching_the_held_record() {
        let held = record(1).into_shared();
        let mut row = Dynamic::from_array(vec![held.clone(), Dynamic::UNIT]);
        assert!(has_shared_parts(&row));
        unshare_parts(&mut row);
        assert!(!has_shared_parts(&row));
        // A write into the row's copy, as a script's `row[0].x = 99` does.
        if let Ok(mut parts) = row.as_array_mut()
            && let Some(part) = parts.get_mut(0)
            && let Ok(mut map) = part.as_map_mut()
        {
            map.insert("x".into(), Dynamic::from_int(99));
        }
        let row: Array = row.into_array().unwrap();
        assert_eq!(x_of(&row[0]), 99);
        assert_eq!(x_of(&held), 1, "the held record is unchanged");
    }

    #[test]
    fn a_part_nothing_else_holds_is_moved_out_and_plain_values_stay() {
        let mut row = Dynamic::from_array(vec![record(5).into_shared()]);
        unshare_parts(&mut row);
        assert!(!has_shared_parts(&row));
        assert_eq!(x_of(&row.into_array().unwrap()[0]), 5);
        let mut shared = record(7).into_shared();
        unshare_parts(&mut shared);
        assert!(!shared.is_shared());
        assert_eq!(x_of(&shared), 7);
        let mut plain = Dynamic::from_int(3);
        assert!(!has_shared_parts(&plain));
        unshare_parts(&mut plain);
        assert_eq!(plain.as_int(), Ok(3));
    }
}
