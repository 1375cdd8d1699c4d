//! A fast path for simple script functions: a function whose body uses only a small, loop-free
//! subset of Rhai is compiled once, from the optimized AST, into a tree of closures that runs
//! without Rhai's AST walker and its per-call set-up.
//!
//! The fast path is exact or it gives up: [`FastFn::compile`] returns `None` for a body that uses
//! anything outside the subset, and [`FastFn::call`] returns `Err(())` for any run-time case it
//! does not reproduce exactly (every error, an unsupported type, a value that Rhai would treat
//! specially). The caller then runs the same call through Rhai, which gives the exact result or
//! error. So a fast-path `Ok` is the value Rhai would return: same types (`INT` stays `INT`),
//! values, tags and read-only flags, nested values included.
//!
//! # The subset
//!
//! * literals (`INT`, `FLOAT`, `bool`, string, char, `()`), array literals `[a, b]`, object map
//!   literals `#{a: x, "b": y}`, interpolated strings of scalars;
//! * parameters, `let` and `const` locals (shadowing, block scoping), the script's top-level
//!   constants, assignment and op-assignment (`=`, `+=`, `-=`, `*=`, `/=`, `%=`, `**=`, `&=`,
//!   `|=`, `^=`, `<<=`, `>>=`) to locals and parameters, and to properties and indices of them
//!   (`m.total += v`, `a[0] = 1`, `m.a.b = x`, `m["k"] = x`, `list += item`);
//! * property reads `e.value`, `e.a.b`, `e?.a`; index reads `a[i]` (negative `i` counts from the
//!   end), `m["k"]`, `s[i]` (a character), `n[i]` (a bit);
//! * `+ - * / % **`, unary `-`, `!`, `== != < <= > >=`, `& | ^ << >>`, `&&`, `||`, `??`,
//!   `in` / `!in`, on the types and with the semantics of Rhai's built-in operators (checked `INT`
//!   arithmetic, `INT`/`FLOAT` mixing, float comparisons with Rhai's relative tolerance, string
//!   and character concatenation, a string plus a number or `bool`, comparisons between different
//!   types);
//! * `if` / `else if` / `else` as statements and expressions, blocks as expressions, `return`,
//!   `throw` (which always falls back);
//! * the built-in functions `len`, `is_empty`, `contains`, `get`, `abs`, `to_string` and
//!   `type_of`, in function-call or method-call form, and Eddy's `now()`, unless the script
//!   defines a function of that name;
//! * in a method (compiled with [`FastFn::compile_method_with_limits`], called with `this`
//!   bound, as StatefulLogic's `on_item`, `on_notify`, `notify_at`, … are): `this`, its
//!   properties and indices, read and assigned, as a parameter would be.
//!
//! A method whose body assigns to `this` runs on `this` itself, moved into its local, rather than
//! on a copy made at the first write (for a state map, a copy and a drop per call). Each write
//! first notes what it replaces (`run::Journal`: the old value of the one property a
//! `this.p… = v` changes, or `this` whole before any other kind of write), so that a fallback
//! hands `this` back as it came in for Rhai to run the call on. Only a `this` with no shared and
//! no read-only value inside is run so (the others are copied on the first write, as before).
//!
//! Loops, `switch`, `try`, closures, `this` outside a method, calls to script-defined or other
//! registered functions (`print`, `secs(…)`, …), `import`, namespaced names, variables that are
//! not parameters, locals or constants, and anything else make [`FastFn::compile`] return
//! `None`, so a compiled body always terminates.
//!
//! # What the engine must be like
//!
//! The fast path reproduces Rhai's standard packages and built-in operators. It assumes the
//! engine the script runs in (Eddy's `ScriptHost`) keeps Rhai's defaults for fast operators and
//! variable shadowing, registers no operator overloads and no functions named like the built-ins
//! above, and has the limits given to [`FastFn::compile_with_limits`].

mod access;
mod assign;
mod builtins;
mod check;
mod closures;
mod limits;
mod lower;
mod operators;
mod run;
mod scan;
#[cfg(test)]
mod tests;
mod tree;
mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rhai::{AST, Dynamic, ImmutableString};

use crate::script::ScriptLimits;
use crate::script::function_body::body_statements;
use check::Checker;
use lower::Lowering;
use run::CompiledFn;
use scan::{THIS, assigns_this, mutated_params};
use tree::Var;
use value::{Value, read_write, unshared};

/// A script function compiled to the fast path.
#[derive(Clone)]
pub struct FastFn {
    inner: Arc<CompiledFn>,
}

impl std::fmt::Debug for FastFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastFn")
            .field("arity", &self.inner.arity)
            .field("locals", &self.inner.n_locals)
            .finish_non_exhaustive()
    }
}

impl FastFn {
    /// Compiles `name` with `arity` params from the AST, or None when the body uses anything outside the subset
    /// (the caller then uses Rhai). `constants` are the script's top-level constants (name → value), which the
    /// body may read as variables (Rhai's optimizer usually inlines them already).
    ///
    /// Uses Eddy's default limits ([`ScriptLimits::default`]); see [`FastFn::compile_with_limits`].
    pub fn compile(ast: &AST, name: &str, arity: usize, constants: &[(String, Dynamic)]) -> Option<FastFn> {
        Self::compile_with_limits(ast, name, arity, constants, ScriptLimits::default())
    }

    /// Like [`FastFn::compile`], with the engine's limits.
    ///
    /// `constants` must be what a variable of that name would find in the `Scope` the function is
    /// called with: for each name, the scope's last entry of that name, and only when that entry
    /// is a constant (a non-constant variable can change between calls: leave its name out, so
    /// that a function reading it is not compiled).
    pub fn compile_with_limits(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: ScriptLimits,
    ) -> Option<FastFn> {
        Self::compile_inner(ast, name, arity, constants, limits, false)
    }

    /// Like [`FastFn::compile_with_limits`], for a function called with `this` bound to a value
    /// (a StatefulLogic method): the body may read `this`, its properties and indices, and
    /// assign to them. Run it with [`FastFn::call_this`].
    pub fn compile_method_with_limits(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: ScriptLimits,
    ) -> Option<FastFn> {
        Self::compile_inner(ast, name, arity, constants, limits, true)
    }

    fn compile_inner(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: ScriptLimits,
        method: bool,
    ) -> Option<FastFn> {
        let def = ast.iter_fn_def().find(|f| f.name == name && f.params.len() == arity)?;
        if def.this_type.is_some() {
            return None;
        }
        let params: Vec<ImmutableString> = def.params.iter().cloned().collect();
        let body = body_statements(ast, name, arity);
        let script_fns: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        let mutated = mutated_params(&body, &params);

        let mut compiler = Checker {
            scope: Vec::new(),
            n_locals: 0,
            constants,
            consts: Vec::new(),
            const_slots: BTreeMap::new(),
            script_fns: &script_fns,
            nodes: 0,
        };
        let mut param_copies = Vec::new();
        for (i, p) in params.iter().enumerate() {
            let var = if mutated.contains(p.as_str()) {
                let slot = compiler.new_slot();
                param_copies.push((i, slot));
                Var::Local(slot)
            } else {
                Var::Arg(i)
            };
            compiler.scope.push((p.clone(), var, false));
        }
        // `this` is one argument more, after the parameters (a keyword: no name can hide it).
        if method {
            let var = if assigns_this(&body) {
                let slot = compiler.new_slot();
                param_copies.push((arity, slot));
                Var::Local(slot)
            } else {
                Var::Arg(arity)
            };
            compiler.scope.push((THIS.into(), var, false));
        }
        let body = compiler.block(&body)?;

        // A loop-free body runs each node at most once; Rhai counts an operation per statement,
        // expression, index step and call, so this bound is generous.
        let bound = (compiler.nodes as u64).saturating_mul(8).saturating_add(16);
        if limits.max_operations != 0 && bound > limits.max_operations {
            return None;
        }

        let mut lower = Lowering { lits: compiler.consts };
        let body = lower.block(body)?;
        Some(FastFn {
            inner: Arc::new(CompiledFn {
                arity,
                method,
                n_locals: compiler.n_locals,
                param_copies,
                lits: lower.lits,
                limits,
                body,
            }),
        })
    }

    /// Runs it. Args are taken by reference (not consumed). Err(()) means "a runtime case the fast path does not
    /// reproduce exactly (any error, an unsupported type at run time, …)": the caller then re-runs the same call in
    /// Rhai with the same args to get Rhai's exact result or error message. So never return a wrong Ok: when in
    /// doubt, Err(()).
    #[expect(clippy::result_unit_err, reason = "Err(()) only means: run it in Rhai instead")]
    pub fn call(&self, args: &[Dynamic]) -> Result<Dynamic, ()> {
        if self.inner.method {
            return Err(());
        }
        self.call_args(args).map(|(value, _)| value)
    }

    /// Runs a function compiled with [`FastFn::compile_method_with_limits`], `this` bound to
    /// `this`. On `Ok`, `this` holds what the body left in it, as in Rhai; on `Err`, `this` is
    /// as it was and the arguments are handed back, for the caller to run the call in Rhai.
    pub fn call_this(&self, this: &mut Dynamic, mut args: Vec<Dynamic>) -> Result<Dynamic, Vec<Dynamic>> {
        if !self.inner.method {
            return Err(args);
        }
        if let Some(slot) = self.inner.this_slot()
            && read_write(this)
        {
            return self.call_in_place(this, args, slot);
        }
        args.push(std::mem::take(this));
        match self.call_args(&args) {
            Ok((value, left)) => {
                // The body assigned to `this` (or a part of it): its copy is the new value.
                let given = args.pop();
                *this = match left {
                    Some(left) => left,
                    None => given.unwrap_or(Dynamic::UNIT),
                };
                Ok(value)
            }
            Err(()) => {
                *this = args.pop().unwrap_or(Dynamic::UNIT);
                Err(args)
            }
        }
    }

    /// Whether the body may assign to `this` (or a part of it). A method that never does leaves
    /// `this` as it was on every call.
    pub fn assigns_this(&self) -> bool {
        self.inner.this_slot().is_some()
    }

    /// [`FastFn::call_this`] for a body that assigns to `this` (held in local `slot`), with `this`
    /// moved in and written in place instead of copied on its first write.
    fn call_in_place(
        &self,
        this: &mut Dynamic,
        mut args: Vec<Dynamic>,
        slot: usize,
    ) -> Result<Dynamic, Vec<Dynamic>> {
        let f = &*self.inner;
        if args.len() != f.arity || !args.iter().all(unshared) {
            return Err(args);
        }
        // The body reads `this` from its local: the argument in its place is never read.
        args.push(Dynamic::UNIT);
        let given = std::mem::take(this);
        let result = match f.n_locals {
            0..=4 => {
                let mut buf = [const { Value::Unit }; 4];
                f.run_in_place(&args, &mut buf[..f.n_locals], slot, given)
            }
            5..=8 => {
                let mut buf = [const { Value::Unit }; 8];
                f.run_in_place(&args, &mut buf[..f.n_locals], slot, given)
            }
            _ => {
                let mut buf: Vec<Value<'_>> = (0..f.n_locals).map(|_| Value::Unit).collect();
                f.run_in_place(&args, &mut buf, slot, given)
            }
        };
        args.pop();
        match result {
            Ok((value, left)) => {
                *this = left;
                Ok(value)
            }
            Err(given) => {
                *this = given;
                Err(args)
            }
        }
    }

    /// Runs the body over `args` (`this` last for a method): its value, and for a method whose
    /// body assigned to `this`, what it left there (`None`: `this` is the argument, unchanged).
    fn call_args(&self, args: &[Dynamic]) -> Result<(Dynamic, Option<Dynamic>), ()> {
        let f = &*self.inner;
        // Shared values (closure captures) are never reproduced.
        if args.len() != f.arity + usize::from(f.method) || !args.iter().all(unshared) {
            return Err(());
        }
        match f.n_locals {
            0 => f.run(args, &mut []),
            1 => f.run(args, &mut [Value::Unit]),
            2 => f.run(args, &mut [Value::Unit, Value::Unit]),
            3..=4 => {
                let mut buf = [const { Value::Unit }; 4];
                f.run(args, &mut buf[..f.n_locals])
            }
            5..=8 => {
                let mut buf = [const { Value::Unit }; 8];
                f.run(args, &mut buf[..f.n_locals])
            }
            _ => {
                let mut buf: Vec<Value<'_>> = (0..f.n_locals).map(|_| Value::Unit).collect();
                f.run(args, &mut buf)
            }
        }
    }
}
