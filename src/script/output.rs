//! Where a script's `print` and `debug` go: with the step, the key and the event they came
//! from. By default to stderr, prefixed with those (stdout carries only what stdout sinks
//! write); a thread that captures them (the workbench's replay) takes them as
//! [`ScriptOutput`]s for its Log instead.
//!
//! The engine says which step, key and event a call belongs to ([`set_print_context`]) only
//! for steps whose script can print at all, so the others pay nothing.

use std::cell::RefCell;
use std::sync::Arc;

use rhai::ImmutableString;

/// One `print` or `debug` of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutput {
    /// The step whose script printed.
    pub step: String,
    /// The key it was called for, if keyed.
    pub key: Option<String>,
    /// The event being processed (source events processed once it is done).
    pub event: u64,
    /// The script line of a `debug` (Rhai gives none for `print`).
    pub line: Option<usize>,
    /// `debug` rather than `print`.
    pub debug: bool,
    /// What was printed.
    pub text: String,
}

impl std::fmt::Display for ScriptOutput {
    /// `[script] step `tag`, key "u1", event 12: text` (`[script debug] …, line 3: text`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.debug { "script debug" } else { "script" };
        write!(f, "[{kind}] step `{}`", self.step)?;
        if let Some(key) = &self.key {
            write!(f, ", key {key:?}")?;
        }
        write!(f, ", event {}", self.event)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        write!(f, ": {}", self.text)
    }
}

#[derive(Default)]
struct PrintContext {
    step: Option<Arc<str>>,
    key: Option<ImmutableString>,
    event: u64,
}

thread_local! {
    static CONTEXT: RefCell<PrintContext> = RefCell::new(PrintContext::default());
    /// `Some`: this thread's script output is kept here instead of written to stderr.
    static CAPTURED: RefCell<Option<Vec<ScriptOutput>>> = const { RefCell::new(None) };
}

/// Says which step, key and event the script calls that follow on this thread belong to.
pub fn set_print_context(step: &Arc<str>, key: Option<&ImmutableString>, event: u64) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.step.as_ref().is_none_or(|s| !Arc::ptr_eq(s, step)) {
            c.step = Some(Arc::clone(step));
        }
        c.key = key.cloned();
        c.event = event;
    });
}

/// Keeps this thread's script output for [`take_script_output`] (`true`) or writes it to
/// stderr (`false`, the default).
pub fn capture_script_output(on: bool) {
    CAPTURED.with(|c| {
        let mut c = c.borrow_mut();
        match (on, c.is_some()) {
            (true, false) => *c = Some(Vec::new()),
            (false, true) => *c = None,
            _ => {}
        }
    });
}

/// The script output captured on this thread since the last call.
pub fn take_script_output() -> Vec<ScriptOutput> {
    CAPTURED.with(|c| c.borrow_mut().as_mut().map(std::mem::take).unwrap_or_default())
}

/// Whether this thread holds captured output not taken yet (cheap: no allocation).
pub fn has_script_output() -> bool {
    CAPTURED.with(|c| c.borrow().as_ref().is_some_and(|v| !v.is_empty()))
}

/// A script printed: capture it, or write it to stderr with where it came from.
pub(super) fn emit(text: &str, debug: bool, line: Option<usize>) {
    let output = CONTEXT.with(|c| {
        let c = c.borrow();
        ScriptOutput {
            step: c.step.as_deref().unwrap_or("?").to_owned(),
            key: c.key.as_ref().map(ToString::to_string),
            event: c.event,
            line,
            debug,
            text: text.to_owned(),
        }
    });
    let leftover = CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(buffer) => {
            buffer.push(output);
            None
        }
        None => Some(output),
    });
    if let Some(output) = leftover {
        crate::eprintln_lossy!("{output}");
    }
}
