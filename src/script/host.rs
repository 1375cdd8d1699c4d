//! The Rhai engine Eddy's scripts run in: limits, helpers, and no way out of the sandbox.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, ImmutableString};

/// Limits on what one script call may do, so a runaway script stops with an error: an
/// ordinary run error naming the step, the function and the script line, never an abort or a
/// hang. A pipeline file's `[limits]` table sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Wall time of one call (a loop copying a growing value takes long in few operations).
    pub call_timeout: Duration,
    /// Growth of the process's resident memory during one call, in bytes (`0`: unchecked).
    pub call_memory: u64,
    /// Nesting of arrays and maps in a value a call returns or leaves in state: what can be
    /// stored can be written to a snapshot and read back.
    pub max_depth: usize,
    /// Operations one call may run (an endless loop hits this in well under a second).
    pub max_operations: u64,
    /// Nesting of function calls (deep recursion).
    pub max_call_levels: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array.
    pub max_array_size: usize,
    /// Entries in one object map.
    pub max_map_size: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(2),
            call_memory: 256 * 1024 * 1024,
            max_depth: 128,
            max_operations: 10_000_000,
            max_call_levels: 64,
            max_string_size: 16 * 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
        }
    }
}

thread_local! {
    /// The run's clock as scripts see it through `now()`; set by the engine on its own thread.
    static SCRIPT_CLOCK: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Sets what `now()` returns to scripts running on this thread (`None`: the clock is unset).
pub fn set_script_clock(clock: Option<i64>) {
    SCRIPT_CLOCK.with(|c| c.set(clock));
}

/// What `now()` returns on this thread.
pub fn script_clock() -> Option<i64> {
    SCRIPT_CLOCK.with(Cell::get)
}

/// A configured Rhai engine, shared by every script of a run.
#[derive(Clone)]
pub struct ScriptHost {
    engine: Arc<Engine>,
    /// The same engine with strict variables, for the final compile of a script: a variable
    /// that is neither a parameter, a local nor a top-level constant is a compile error at
    /// its line, found by `eddy check` before any run (README "Scripts").
    strict: Arc<Engine>,
    /// Shared: every compiled script holds a host, and keeps small.
    limits: Arc<ScriptLimits>,
    /// Whether simple functions may run on the fast path (`false`: every call goes through
    /// the Rhai interpreter; `eddy bench` measures the fast path's gain with it).
    fast_path: bool,
}

impl std::fmt::Debug for ScriptHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptHost").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Default for ScriptHost {
    fn default() -> Self {
        Self::new(ScriptLimits::default())
    }
}

fn duration(unit_micros: i64) -> impl Fn(i64) -> Result<i64, Box<rhai::EvalAltResult>> {
    move |n: i64| {
        n.checked_mul(unit_micros)
            .ok_or_else(|| format!("duration overflow: {n} × {unit_micros} µs does not fit in an INT").into())
    }
}

fn duration_float(unit_micros: i64) -> impl Fn(f64) -> Result<i64, Box<rhai::EvalAltResult>> {
    move |n: f64| {
        let micros = (n * unit_micros as f64).round();
        if micros.is_finite() && micros.abs() < i64::MAX as f64 {
            Ok(micros as i64)
        } else {
            Err(format!("duration out of range: {n}").into())
        }
    }
}

impl ScriptHost {
    /// An engine with the given limits and Eddy's helpers registered.
    pub fn new(limits: ScriptLimits) -> Self {
        let mut strict = Self::configured_engine(limits);
        strict.set_strict_variables(true);
        Self {
            engine: Arc::new(Self::configured_engine(limits)),
            strict: Arc::new(strict),
            limits: Arc::new(limits),
            fast_path: true,
        }
    }

    /// The same host with the fast path switched on or off for the scripts compiled with it.
    pub fn with_fast_path(mut self, on: bool) -> Self {
        self.fast_path = on;
        self
    }

    /// Whether scripts compiled with this host may run simple functions on the fast path.
    pub fn fast_path(&self) -> bool {
        self.fast_path
    }

    /// A Rhai engine configured exactly as a host's is (limits, sandbox, helpers), owned by the
    /// caller: the differential tests compare the fast path against it.
    pub fn configured_engine(limits: ScriptLimits) -> Engine {
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(128, 64)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_fail_on_invalid_map_property(true)
            // No string interner: it sits behind a lock that Rhai, finding it taken, waits for
            // by sleeping 10 ms at a time, so workers sharing compiled scripts slept a third of
            // a run (docs/performance.md, several workers).
            .set_max_strings_interned(0)
            .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        // Wall time and memory of each call (see `guard`).
        engine.on_progress(super::guard::progress(super::guard::CallBounds {
            timeout: limits.call_timeout,
            memory: limits.call_memory,
        }));
        // No reaching outside: no eval of generated code, no imports (the resolver above).
        engine.disable_symbol("eval");
        // print/debug go to stderr with their step, key and event (stdout carries only what
        // stdout sinks write), or to the workbench's Log (see `output`).
        engine.on_print(|text| super::output::emit(text, false, None));
        engine.on_debug(|text, _source, pos| super::output::emit(text, true, pos.line()));

        engine.register_fn("now", || -> Dynamic {
            match script_clock() {
                Some(t) => Dynamic::from_int(t),
                None => Dynamic::UNIT,
            }
        });
        engine.register_fn("parse_time", |text: ImmutableString| -> Result<i64, Box<rhai::EvalAltResult>> {
            crate::time::parse_rfc3339_micros(&text)
                .ok_or_else(|| format!("parse_time: {text:?} is not an RFC 3339 time").into())
        });
        engine.register_fn("format_time", |t: i64| -> Result<String, Box<rhai::EvalAltResult>> {
            crate::time::format_rfc3339_micros(t)
                .ok_or_else(|| format!("format_time: {t} is out of range").into())
        });
        for (name, unit) in [
            ("micros", 1),
            ("millis", 1_000),
            ("secs", 1_000_000),
            ("mins", 60_000_000),
            ("hours", 3_600_000_000),
            ("days", 86_400_000_000),
        ] {
            engine.register_fn(name, duration(unit));
            engine.register_fn(name, duration_float(unit));
        }
        engine
    }

    /// The Rhai engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine with strict variables (see the field): it compiles, it does not run.
    pub fn strict_engine(&self) -> &Engine {
        &self.strict
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> ScriptLimits {
        *self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::{ScriptHost, ScriptLimits};

    /// Rhai's string interner is shared by every thread that runs a host's scripts and, when
    /// its lock is taken, Rhai sleeps 10 ms before trying again: with it, two workers slept a
    /// third of a script-heavy run (docs/performance.md, several workers). It stays off.
    #[test]
    fn the_engine_interns_no_strings() {
        assert_eq!(ScriptHost::configured_engine(ScriptLimits::default()).max_strings_interned(), 0);
    }
}
