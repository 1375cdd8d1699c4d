//! One step's compiled script: its functions, its top-level constants, and calls into it.

use std::collections::BTreeSet;

use rhai::{AST, CallFnOptions, Dynamic, EvalAltResult, FuncArgs, ParseError, Position, Scope};

use super::error::{ScriptError, ScriptResult};
use super::fast::{Answer, FastFn};
use super::guard::{MEMORY_TOKEN, TIME_TOKEN, nested_deeper_than};
use super::host::ScriptHost;

/// The value a StatefulLogic returns to keep its state (`false`).
pub const RETAIN: bool = false;
/// The value a StatefulLogic returns to drop its state (`true`).
pub const DISCARD: bool = true;

/// A step's script, compiled once; its top-level statements have run.
#[derive(Clone)]
pub struct Script {
    host: ScriptHost,
    step: String,
    ast: AST,
    scope: Scope<'static>,
    functions: BTreeSet<(String, usize)>,
    source: String,
    /// Functions the fast path compiled, by (name, arity).
    fast: Vec<(String, usize, FastFn)>,
    /// The same, compiled to be called with `this` bound (StatefulLogic methods).
    fast_methods: Vec<(String, usize, FastFn)>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("step", &self.step).field("functions", &self.functions).finish()
    }
}

fn position(pos: Position) -> Option<(usize, usize)> {
    Some((pos.line()?, pos.position().unwrap_or(1)))
}

/// Peels the "error in function call" wrappers down to the error that happened.
fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost(inner),
        other => other,
    }
}

fn describe(err: &EvalAltResult, host: &ScriptHost) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "stopped: more than {} operations in one call (an endless loop?)",
            host.limits().max_operations
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "stopped: calls nested more than {} deep (endless recursion?)",
            host.limits().max_call_levels
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == TIME_TOKEN => format!(
            "stopped: the call ran longer than {} (`call_timeout` in [limits]; an endless loop, or a value \
             copied over and over?)",
            super::guard::duration_text(host.limits().call_timeout)
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == MEMORY_TOKEN => format!(
            "stopped: the call took more than {} of memory (`call_memory` in [limits]; a value that never \
             stops growing?)",
            super::guard::bytes_text(host.limits().call_memory)
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("stopped: {what} grew past its limit (a string, array or map that never stops growing?)")
        }
        other => {
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(cut) if !other.position().is_none() => text[..cut].to_owned(),
                _ => text,
            }
        }
    }
}

impl Script {
    /// Compiles a step's script and runs its top-level statements (e.g. `const WINDOW = secs(10);`),
    /// whose constants are then visible in every function. Its functions are called plainly
    /// ([`Script::call`]); see [`Script::compile_with_methods`] for a StatefulLogic's.
    pub fn compile(host: &ScriptHost, step: &str, source: &str) -> ScriptResult<Script> {
        Self::compile_for(host, step, source, false)
    }

    /// Like [`Script::compile`], for a script whose functions are also called as methods, with
    /// `this` bound ([`Script::call_this`]: a StatefulLogic's): the fast path compiles each
    /// function in that form too. Only these scripts pay for it.
    pub fn compile_with_methods(host: &ScriptHost, step: &str, source: &str) -> ScriptResult<Script> {
        Self::compile_for(host, step, source, true)
    }

    fn compile_for(host: &ScriptHost, step: &str, source: &str, methods: bool) -> ScriptResult<Script> {
        let engine = host.engine();
        let mut scope = Scope::new();
        scope.push_constant("RETAIN", super::compiled::RETAIN);
        scope.push_constant("DISCARD", super::compiled::DISCARD);
        let parse_error = |e: ParseError| ScriptError {
            step: step.to_owned(),
            function: None,
            position: position(e.position()),
            message: format!("does not compile: {}", e.err_type()),
            context: None,
        };
        let first = engine.compile_with_scope(&scope, source).map_err(parse_error)?;
        engine.run_ast_with_scope(&mut scope, &first).map_err(|e| {
            let inner = innermost(&e);
            ScriptError {
                step: step.to_owned(),
                function: None,
                position: position(inner.position()),
                message: format!("top-level statements failed: {}", describe(inner, host)),
                context: None,
            }
        })?;
        // Compile again with the top-level constants known, so that functions see them, and
        // with strict variables, so that a name nothing defines is an error at its line now.
        let ast = host.strict_engine().compile_with_scope(&scope, source).map_err(parse_error)?;
        let functions: BTreeSet<(String, usize)> =
            ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
        // Only constants: a function may assign a top-level `let`, so its value at compile
        // time is no value to build in. A name's last scope entry is the one a function sees.
        let mut seen = BTreeSet::new();
        let entries: Vec<(&str, bool, Dynamic)> = scope.iter().collect();
        let constants: Vec<(String, Dynamic)> = entries
            .into_iter()
            .rev()
            .filter(|(name, ..)| seen.insert(name.to_string()))
            .filter(|(_, is_constant, _)| *is_constant)
            .map(|(name, _, value)| (name.to_owned(), value))
            .collect();
        let limits = host.limits();
        // Each function to be called plainly, and for a script with methods, also as a method
        // with `this` bound (those compiled together, as they may call each other).
        let fast: Vec<(String, usize, FastFn)> = functions
            .iter()
            .filter(|_| host.fast_path())
            .filter_map(|(name, arity)| {
                FastFn::compile_with_limits(&ast, name, *arity, &constants, limits)
                    .map(|f| (name.clone(), *arity, f))
            })
            .collect();
        let fast_methods = if methods && host.fast_path() {
            FastFn::compile_methods(&ast, &constants, limits)
        } else {
            Vec::new()
        };
        Ok(Script {
            host: host.clone(),
            step: step.to_owned(),
            ast,
            scope,
            functions,
            source: source.to_owned(),
            fast,
            fast_methods,
        })
    }

    /// The step this script belongs to.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// Whether the script defines `name` with `arity` parameters.
    pub fn has(&self, name: &str, arity: usize) -> bool {
        self.functions.iter().any(|(n, a)| n == name && *a == arity)
    }

    /// An error unless the script defines `name(params…)`.
    pub fn require(&self, name: &str, params: &[&str]) -> ScriptResult<()> {
        if self.has(name, params.len()) {
            return Ok(());
        }
        let wanted = format!("fn {name}({})", params.join(", "));
        let message = match self.functions.iter().find(|(n, _)| n == name) {
            Some((_, arity)) => format!(
                "`{name}` takes {} parameter{} here, but this operator calls `{wanted}`",
                arity,
                if *arity == 1 { "" } else { "s" }
            ),
            None => {
                let names = self.functions.iter().map(|(n, _)| n.as_str());
                let defined: Vec<String> = self
                    .functions
                    .iter()
                    .map(|(n, arity)| {
                        format!("`{n}` ({arity} parameter{})", if *arity == 1 { "" } else { "s" })
                    })
                    .collect();
                let defined = if defined.is_empty() {
                    "the script defines no function".to_owned()
                } else {
                    format!("the script defines {}", defined.join(", "))
                };
                format!(
                    "missing function: this operator calls `{wanted}`{}; {defined}",
                    crate::graph::hint(name, names)
                )
            }
        };
        Err(ScriptError::new(&self.step, Some(name), message))
    }

    /// Calls a function of the script; the arguments are left as they were (for error
    /// context). Simple functions run on the fast path; anything else, and any call the fast
    /// path cannot finish exactly, runs in Rhai.
    pub fn call(&mut self, name: &str, args: &[Dynamic]) -> ScriptResult<Dynamic> {
        self.call_answer(name, args, false).map(Answer::into_dynamic)
    }

    /// [`Script::call`] for a caller that takes a two-item array answer apart at once
    /// (stateful_map's `[new_state, output]`): on the fast path, a body ending with a two-item
    /// array literal gives its items ([`Answer::Pair`]) without building the array; every other
    /// answer, and every call Rhai runs, comes whole ([`Answer::Whole`]), for the caller to split
    /// as before. The depth limit applies to the items as it would to their array: the same
    /// inputs fail with the same message.
    pub fn call_pair(&mut self, name: &str, args: &[Dynamic]) -> ScriptResult<Answer> {
        self.call_answer(name, args, true)
    }

    /// [`Script::call`], its answer by parts when `pair` (see [`Script::call_pair`]).
    fn call_answer(&mut self, name: &str, args: &[Dynamic], pair: bool) -> ScriptResult<Answer> {
        if let Some((_, _, fast)) = self.fast.iter().find(|(n, a, _)| n == name && *a == args.len()) {
            let answer = if pair { fast.call_pair(args) } else { fast.call(args).map(Answer::Whole) };
            if let Ok(answer) = answer {
                self.check_answer_depth(name, &answer)?;
                return Ok(answer);
            }
        }
        self.call_rhai(name, args.to_vec()).map(Answer::Whole)
    }

    /// Like [`Script::call`] for a function that may change its first argument (a fold's
    /// accumulator): the fast path may run on `args[0]` itself instead of a copy, and take it
    /// (left `()`), whatever the outcome; the other arguments are left as they were (for error
    /// context). Rhai, when it runs the call, runs it on the arguments as given.
    pub fn call_mut(&mut self, name: &str, args: &mut [Dynamic]) -> ScriptResult<Dynamic> {
        if let Some((_, _, fast)) = self.fast.iter().find(|(n, a, _)| n == name && *a == args.len())
            && let Ok(value) = fast.call_mut(args)
        {
            self.check_depth(name, "the value it returned", &value)?;
            return Ok(value);
        }
        self.call_rhai(name, args.to_vec())
    }

    /// Calls a function of the script in Rhai, consuming the arguments.
    pub fn call_rhai(&mut self, name: &str, args: impl FuncArgs) -> ScriptResult<Dynamic> {
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let result = self.host.engine().call_fn_with_options(options, &mut self.scope, &self.ast, name, args);
        let value = result.map_err(|e| self.error(name, &e))?;
        self.check_depth(name, "the value it returned", &value)?;
        Ok(value)
    }

    /// An error unless `value` (what `function` returned, or left in its state) nests no
    /// deeper than the `max_depth` limit: whatever is stored can be snapshotted and restored.
    fn check_depth(&self, function: &str, what: &str, value: &Dynamic) -> ScriptResult<()> {
        let max = self.host.limits().max_depth;
        if max == 0 || !nested_deeper_than(value, max) {
            return Ok(());
        }
        Err(self.too_deep(function, what, max))
    }

    /// [`Script::check_depth`] of what `function` returned, given by parts or whole. The two
    /// items of a pair are measured as their array would be (an array `[a, b]` nests deeper
    /// than `max` when `a` or `b` nests deeper than `max - 1`), with the same message.
    fn check_answer_depth(&self, function: &str, answer: &Answer) -> ScriptResult<()> {
        let what = "the value it returned";
        let (first, second) = match answer {
            Answer::Whole(value) => return self.check_depth(function, what, value),
            Answer::Pair(first, second) => (first, second),
        };
        let max = self.host.limits().max_depth;
        if max == 0 || !(nested_deeper_than(first, max - 1) || nested_deeper_than(second, max - 1)) {
            return Ok(());
        }
        Err(self.too_deep(function, what, max))
    }

    /// The error of a value nested deeper than `max_depth`.
    fn too_deep(&self, function: &str, what: &str, max: usize) -> ScriptError {
        let message = format!(
            "{what} nests arrays and maps more than {max} deep (`max_depth` in [limits]): what a step \
             keeps or sends on must be nested no deeper, so that snapshots of it can be read back"
        );
        self.locate(ScriptError::new(&self.step, Some(function), message))
    }

    /// Gives an error of this script's `function` that has no script line (a result of the
    /// wrong shape, say) the line where the function starts.
    pub fn locate(&self, mut error: ScriptError) -> ScriptError {
        if error.position.is_none()
            && let Some(function) = error.function.clone()
            && let Some(line) = self.definition_line(&function)
        {
            error.position = Some((line, 1));
            error.message.push_str(&format!(" (the line is where `{function}` starts)"));
        }
        error
    }

    /// The fields of parameter `index` of `name/arity` that the function can read, or `None`
    /// when it may read the whole value (see [`param_fields`](super::param_fields)).
    pub fn param_fields(&self, name: &str, arity: usize, index: usize) -> Option<BTreeSet<String>> {
        super::fields::param_fields(&self.ast, name, arity, index)
    }

    /// Whether `name/arity` runs on the fast path.
    pub fn is_fast(&self, name: &str, arity: usize) -> bool {
        self.fast.iter().any(|(n, a, _)| n == name && *a == arity)
    }

    /// Calls a function of the script with `this` bound to `state` (a StatefulLogic method).
    pub fn call_this(
        &mut self,
        state: &mut Dynamic,
        name: &str,
        args: impl FuncArgs,
    ) -> ScriptResult<Dynamic> {
        self.call_this_checked(state, &mut false, name, args)
    }

    /// [`Script::call_this`] for a caller that keeps, beside each state, whether it is
    /// *checked*: read-write throughout (no shared, no read-only value inside), nested no
    /// deeper than `max_depth`, every array in it within the data-size limits. `checked` is the caller's word for `state` as it comes in (`false`
    /// for a state built, restored or changed by anything but these calls) and this call's
    /// answer for what it leaves. A checked state is not walked before a fast-path call, and
    /// not measured after one whose writes the fast path shows kept it checked (see
    /// [`FastFn::call_this_checked`]); every other state is walked and measured as before.
    pub fn call_this_checked(
        &mut self,
        state: &mut Dynamic,
        checked: &mut bool,
        name: &str,
        args: impl FuncArgs,
    ) -> ScriptResult<Dynamic> {
        self.call_this_answer(state, checked, name, args, false).map(Answer::into_dynamic)
    }

    /// [`Script::call_this_checked`] for a caller that takes a two-item array answer apart at
    /// once (a StatefulLogic's `[outputs, RETAIN]`): by parts when the fast path can give them,
    /// as [`Script::call_pair`] does.
    pub fn call_this_checked_pair(
        &mut self,
        state: &mut Dynamic,
        checked: &mut bool,
        name: &str,
        args: impl FuncArgs,
    ) -> ScriptResult<Answer> {
        self.call_this_answer(state, checked, name, args, true)
    }

    fn call_this_answer(
        &mut self,
        state: &mut Dynamic,
        checked: &mut bool,
        name: &str,
        args: impl FuncArgs,
        pair: bool,
    ) -> ScriptResult<Answer> {
        let was_checked = std::mem::replace(checked, false);
        let mut values = Vec::new();
        args.parse(&mut values);
        let values = match self.fast_methods.iter().find(|(n, a, _)| n == name && *a == values.len()) {
            Some((_, _, fast)) => match fast.call_this_answer(state, was_checked, values, pair) {
                Ok((value, kept)) => {
                    // A body that never assigns to `this` leaves it as it was, checked when stored.
                    if fast.assigns_this() && !(was_checked && kept) {
                        self.check_depth(name, "the state it left in `this`", state)?;
                    }
                    self.check_answer_depth(name, &value)?;
                    *checked = kept;
                    return Ok(value);
                }
                Err(values) => values,
            },
            None => values,
        };
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true).bind_this_ptr(state);
        let result =
            self.host.engine().call_fn_with_options(options, &mut self.scope, &self.ast, name, values);
        let value = result.map_err(|e| self.error(name, &e))?;
        self.check_depth(name, "the state it left in `this`", state)?;
        self.check_depth(name, "the value it returned", &value)?;
        Ok(Answer::Whole(value))
    }

    fn error(&self, function: &str, err: &EvalAltResult) -> ScriptError {
        let inner = innermost(err);
        // Some limits (operations, call depth) do not say which line was running: `locate`
        // points at the line where the function starts.
        self.locate(ScriptError {
            step: self.step.clone(),
            function: Some(function.to_owned()),
            position: position(inner.position()),
            message: describe(inner, &self.host),
            context: None,
        })
    }

    /// The 1-based line where `fn name(` is defined in the script.
    fn definition_line(&self, name: &str) -> Option<usize> {
        self.source
            .lines()
            .position(|line| {
                let line = line.trim_start();
                line.strip_prefix("fn ").or_else(|| line.strip_prefix("private fn ")).is_some_and(|rest| {
                    rest.trim_start().strip_prefix(name).is_some_and(|r| r.trim_start().starts_with('('))
                })
            })
            .map(|index| index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_constants_are_built_into_fast_functions() {
        let host = ScriptHost::default();
        let script = Script::compile(
            &host,
            "s",
            "const BASE = 5;\nlet count = 0;\nfn g(x) { x + BASE }\nfn f(x) { x + count }\n",
        )
        .unwrap();
        assert!(script.is_fast("g", 1));
        assert!(!script.is_fast("f", 1), "a top-level `let` may change: never built in");
    }

    #[test]
    fn only_a_script_with_methods_compiles_its_functions_as_methods() {
        let host = ScriptHost::default();
        let source = "fn builder(s) { #{n: 0} }\nfn on_item(x) { this.n += x; }\n";
        let plain = Script::compile(&host, "s", source).unwrap();
        assert!(plain.fast_methods.is_empty());
        assert!(plain.is_fast("builder", 1));
        let stateful = Script::compile_with_methods(&host, "s", source).unwrap();
        let methods: Vec<(&str, usize)> =
            stateful.fast_methods.iter().map(|(n, a, _)| (n.as_str(), *a)).collect();
        assert_eq!(methods, vec![("builder", 1), ("on_item", 1)]);
    }
}

#[cfg(test)]
mod limit_tests {
    use std::time::Duration;

    use super::*;
    use crate::script::ScriptLimits;

    #[test]
    fn a_call_past_its_time_names_the_line_where_its_function_starts() {
        let limits = ScriptLimits { call_timeout: Duration::from_millis(50), ..ScriptLimits::default() };
        let host = ScriptHost::new(limits);
        let mut script =
            Script::compile(&host, "s", "fn f(x) {\n    let n = 0;\n    loop {\n        n += 1;\n    }\n}\n")
                .unwrap();
        let error = script.call("f", &[Dynamic::from_int(1)]).unwrap_err();
        // Rhai gives a stopped call the position of the call itself (none).
        assert_eq!(error.position, Some((1, 1)), "{error}");
        assert!(error.message.contains("longer than 50ms"), "{error}");
    }

    /// A method whose loop never ends runs on the fast path until its bound on Rhai's operations
    /// could reach the limit (or its time budget is spent); Rhai then runs it and stops it with
    /// the usual error.
    #[test]
    fn an_endless_loop_in_a_fast_method_ends_with_rhais_error() {
        let source = "fn on_item(v) { this.n += v; while true {} }\nfn spin() { let i = 0; loop { i += 1; this.n = i; } }\n";
        let limits = ScriptLimits { max_operations: 100_000, ..ScriptLimits::default() };
        let mut script = Script::compile_with_methods(&ScriptHost::new(limits), "s", source).unwrap();
        assert!(script.fast_methods.iter().any(|(n, ..)| n == "on_item"), "the loop is on the fast path");
        let mut state = Dynamic::from_map([("n".into(), Dynamic::from_int(1))].into_iter().collect());
        let error = script.call_this(&mut state, "on_item", (Dynamic::from_int(2),)).unwrap_err();
        assert!(error.message.contains("more than 100000 operations"), "{error}");
        assert_eq!(error.position, Some((1, 1)), "{error}");

        let limits = ScriptLimits {
            max_operations: 0,
            call_timeout: Duration::from_millis(50),
            ..ScriptLimits::default()
        };
        let mut script = Script::compile_with_methods(&ScriptHost::new(limits), "s", source).unwrap();
        let error = script.call_this(&mut state, "spin", ()).unwrap_err();
        assert!(error.message.contains("longer than 50ms"), "{error}");
    }
}
