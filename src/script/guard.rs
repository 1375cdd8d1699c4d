//! Wall-time and memory bounds on one script call, checked from Rhai's progress callback.
//!
//! Rhai calls the progress callback on every operation with the call's operation count (it
//! starts from zero at each call). Every [`CHECK_EVERY`] operations the callback reads the
//! clock: the first check starts the call's watch, later ones stop the call past its time
//! limit. The memory measure is the process's resident memory (`VmRSS` of `/proc/self/status`),
//! read at most every [`MEMORY_EVERY`]: its growth since the call's first reading must stay
//! under the call's memory limit. The first reading is taken once the call has run
//! [`MEMORY_BASELINE_AFTER`] (a short call never pays for it), so what a call allocates in its
//! first millisecond is not counted: tens of MiB at most, within the limit's margin. Where the
//! measure cannot be read (no `/proc`), only Rhai's own size limits bound memory.
//!
//! A short call (under [`CHECK_EVERY`] operations) costs nothing but the callback itself.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::Dynamic;

/// Operations between two clock readings.
pub const CHECK_EVERY: u64 = 32;
/// How long a call runs before its memory baseline is taken.
pub const MEMORY_BASELINE_AFTER: Duration = Duration::from_millis(1);
/// Time between two memory readings of one call.
pub const MEMORY_EVERY: Duration = Duration::from_millis(5);

/// The token a call stopped past its time limit terminates with.
pub const TIME_TOKEN: &str = "eddy: call_timeout";
/// The token a call stopped past its memory limit terminates with.
pub const MEMORY_TOKEN: &str = "eddy: call_memory";

/// What one call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBounds {
    /// Wall time of one call.
    pub timeout: Duration,
    /// Growth of resident memory during one call, in bytes (`0`: not checked).
    pub memory: u64,
}

#[derive(Debug, Clone, Copy)]
struct Watch {
    started: Instant,
    baseline: Option<u64>,
    next_memory: Instant,
}

thread_local! {
    /// The watch of the call running on this thread (set by its first check).
    static WATCH: Cell<Option<Watch>> = const { Cell::new(None) };
}

/// The progress callback for an engine whose calls are bounded by `bounds`.
pub fn progress(bounds: CallBounds) -> impl Fn(u64) -> Option<Dynamic> + Send + Sync + 'static {
    move |operations| {
        if operations % CHECK_EVERY != 0 {
            return None;
        }
        check(operations, bounds)
    }
}

fn check(operations: u64, bounds: CallBounds) -> Option<Dynamic> {
    let now = Instant::now();
    WATCH.with(|cell| {
        let watch = match cell.get() {
            Some(watch) if operations > CHECK_EVERY => watch,
            _ => {
                // A new call (counts restart from zero at every call).
                let watch = Watch { started: now, baseline: None, next_memory: now + MEMORY_BASELINE_AFTER };
                cell.set(Some(watch));
                return None;
            }
        };
        if now.duration_since(watch.started) > bounds.timeout {
            return Some(Dynamic::from(TIME_TOKEN));
        }
        if bounds.memory == 0 || now < watch.next_memory {
            return None;
        }
        let resident = resident_bytes();
        let mut next = watch;
        next.next_memory = now + MEMORY_EVERY;
        match (watch.baseline, resident) {
            (None, Some(bytes)) => next.baseline = Some(bytes),
            (Some(baseline), Some(bytes)) if bytes.saturating_sub(baseline) > bounds.memory => {
                return Some(Dynamic::from(MEMORY_TOKEN));
            }
            _ => {}
        }
        cell.set(Some(next));
        None
    })
}

/// The process's resident memory in bytes, when the system says (Linux's `/proc`).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A time limit for messages: `2s`, `1500ms`.
pub fn duration_text(duration: Duration) -> String {
    match i64::try_from(duration.as_micros()) {
        Ok(micros) => crate::time::format_duration_micros(micros),
        Err(_) => format!("{duration:?}"),
    }
}

/// A memory limit for messages: `256MiB`, `1000 bytes`.
pub fn bytes_text(bytes: u64) -> String {
    for (size, unit) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if bytes != 0 && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// Whether a value nests arrays and object maps more than `max` deep (`[1]` is 1 deep, `1` is
/// 0). Looks no deeper than `max + 1` levels, so a value of any depth is checked safely.
pub fn nested_deeper_than(value: &Dynamic, max: usize) -> bool {
    fn deeper(value: &Dynamic, room: usize) -> bool {
        if value.is_shared() {
            return deeper(&value.flatten_clone(), room);
        }
        // `is_*` first: a failed `as_*_ref` formats the type's name, and most values are
        // neither (numbers and strings in a state map).
        if value.is_array()
            && let Ok(array) = value.as_array_ref()
        {
            return room == 0 || array.iter().any(|v| deeper(v, room - 1));
        }
        if value.is_map()
            && let Ok(map) = value.as_map_ref()
        {
            return room == 0 || map.values().any(|v| deeper(v, room - 1));
        }
        false
    }
    deeper(value, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nest(depth: usize) -> Dynamic {
        let mut value = Dynamic::from_int(1);
        for i in 0..depth {
            value = if i % 2 == 0 {
                Dynamic::from_array(vec![value])
            } else {
                let mut map = rhai::Map::new();
                map.insert("a".into(), value);
                Dynamic::from_map(map)
            };
        }
        value
    }

    #[test]
    fn depth_counts_arrays_and_maps() {
        assert!(!nested_deeper_than(&Dynamic::from_int(1), 0));
        assert!(!nested_deeper_than(&nest(3), 3));
        assert!(nested_deeper_than(&nest(4), 3));
        assert!(nested_deeper_than(&nest(1_000), 128));
        assert!(!nested_deeper_than(&nest(128), 128));
    }

    #[test]
    fn resident_memory_is_read() {
        if cfg!(target_os = "linux") {
            assert!(resident_bytes().is_some_and(|b| b > 0));
        }
    }
}
