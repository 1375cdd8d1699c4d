//! A fast path for simple script functions: a function whose body uses only a small subset of
//! Rhai is compiled once, from the optimized AST, into a tree of closures that runs without
//! Rhai's AST walker and its per-call set-up.
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
//! * the array methods `push(x)`, `pop()` and `shift()` on a local (or `this`) or a place inside
//!   it reached through properties and indices (`list.push(x)`, `this.items.shift()`), unless
//!   the script defines a function of that name;
//! * loops: `while cond { … }`, `loop { … }`, `for x in array { … }` and `for (x, i) in array`
//!   (over an array only: anything else falls back at run time), `break`, `break value`,
//!   `continue`. A `for` over an array reached from an argument, a constant or a literal (a
//!   read-only method's `this` included) runs over the array in place, the loop variable
//!   borrowing each item, instead of over a copy: nothing in the call can change it (see
//!   `for_loop`);
//! * in a method (compiled with [`FastFn::compile_method_with_limits`], called with `this`
//!   bound, as StatefulLogic's `on_item`, `on_notify`, `notify_at`, … are): `this`, its
//!   properties and indices, read and assigned, as a parameter would be; and calls of the
//!   script's own functions as methods of `this` (`this.expire()`), which run on the fast path
//!   with `this` bound to the caller's `this`, as in Rhai (a callee that writes to `this` writes
//!   to the caller's). [`FastFn::compile_methods`] compiles a script's functions together for
//!   this; a function is left out when its body leaves the subset or it calls one that does.
//!
//! # Limits
//!
//! Every limit of [`ScriptLimits`] holds exactly as in Rhai, because the fast path gives up
//! (and Rhai runs the call, giving its exact error at the same place) wherever a limit could
//! be reached:
//!
//! * operations: a body's loop-free part counts at most `8 × nodes + 16` operations in Rhai
//!   (one per statement, expression, index step and call); the call keeps a running bound: the
//!   body's, plus as much for every loop round (its condition or iterable and body), plus the
//!   body's bound of every function it calls. It gives up when the bound reaches
//!   `max_operations`; a loop that never ends (`while true {}`) reaches it, then Rhai stops it
//!   with its usual error;
//! * time and memory: a call whose loops have run longer than 1 ms (or a quarter of
//!   `call_timeout`), checked every 1,024 loop rounds, gives up, and Rhai, whose progress
//!   guard applies `call_timeout` and `call_memory`, runs it;
//! * call depth: a call of the script's own function gives up two levels before
//!   `max_call_levels` (deep recursion then fails in Rhai, with Rhai's error);
//! * sizes: every value built or changed (array and map literals, strings, `push` and the
//!   others, assignments) is measured as Rhai measures it, and a value past a size limit makes
//!   the call give up.
//!
//! A method whose body assigns to `this` runs on `this` itself, moved into its local, rather than
//! on a copy made at the first write (for a state map, a copy and a drop per call). Each write
//! first notes what it replaces (`run::Journal`: the old value of the one property a
//! `this.p… = v` changes, or `this` whole before any other kind of write), so that a fallback
//! hands `this` back as it came in for Rhai to run the call on. Only a `this` with no shared and
//! no read-only value inside is run so (the others are copied on the first write, as before).
//!
//! A change to a property of a `this` run in place through `push`, `pop` or `shift` is
//! journaled as the change itself (undone by its inverse: no copy of the array).
//!
//! A plain function whose body assigns to its first parameter (a fold's accumulator:
//! `acc.sum += e.value; acc`) runs the same way on that argument when called with
//! [`FastFn::call_mut`]: moved in, written in place and journaled, handed back as it came in on a
//! fallback. A body that ends with a local (other than `this`) gives the local's value itself,
//! not a copy of it, so such a fold makes no copy of its accumulator at all.
//!
//! Rhai measures the map holding a property after each assignment to it. A call measures it too,
//! except when that map was measured within the limits earlier in the same call and has changed
//! since only by a number, `bool`, character or `()` replacing one in an existing property (of
//! that local, the last of its writes: `run::Env::sized`; every other write to any local
//! forgets it): its sizes are then those measured, so the check would pass again. Nothing
//! measured before the call (a state restored from a snapshot, say) is trusted, except as
//! follows.
//!
//! A caller that keeps its states between calls (StatefulLogic) may keep, beside each, whether
//! it is *checked* ([`FastFn::call_this_checked`]): read-write throughout, nested no deeper than
//! `max_depth`, every array in it within the data-size limits. Only a call's answer makes a state
//! checked: a method run on `this` in place answers yes when `this` was checked as it came in
//! (or, when the caller did not say so, was walked and measured here and by the caller) and
//! every journaled write kept it so (each property written is walked and measured, each push
//! measured its array, pops and shifts only shrink one; a write of any other kind, or a fallback
//! to Rhai, answers no). A checked `this` is not walked before the call, its depth is not
//! measured after it, and while the call has written it only by pushes, pops and shifts on its
//! properties' arrays (`run::Journal`'s `arrays_within`), a `pop` or `shift` on such an array
//! does not measure the array (it only shrank), nor does a built-in method (`len`, `get`, …)
//! called on an array in it (it changes nothing): Rhai's checks after them would pass. A state built, restored from a snapshot, set by the workbench or left by Rhai is
//! not checked, and is walked and measured as before.
//!
//! A method that only reads `this` reads it as its argument. Called by the caller with a
//! checked `this`, or as `this.f()` by a method whose in-place `this` has kept its arrays within
//! the limits (or by such a reader), its built-in method calls on arrays in `this` are not
//! measured either (`run::Env`'s `arg_within`). No value a call holds is shared (its arguments
//! and `this` are walked or vouched for as it starts, a shared constant or literal keeps the
//! function out of the subset, and everything else is built from these), so the `this` lent to
//! `this.f()` is not walked for shared values again.
//!
//! # Slots
//!
//! A function run on a map in place ([`FastFn::call_mut`]'s first argument, a method's `this`
//! it writes) whose only uses of that local are property reads `acc.p…`, property writes
//! `acc.p op= v` and the local as the body's last statement is also compiled *slotted*: each
//! property it names resolved to a slot when it is compiled, its reads and writes no look-ups
//! by name. A call on a map holding every such property runs slotted: one pass over the map
//! takes their values into the slots (and walks the map for read-only and shared values and
//! measures it, when the call needs that), the body runs on the slots, a second pass puts them
//! back. A slotted write takes only a number, `bool`, character or `()` replacing one (the map
//! keeps the sizes it was measured with, so Rhai's checks after the writes pass exactly when
//! that measure does); anything else gives up, the map is as it came in, and the call runs
//! unslotted as described above (see `slots`).
//!
//! # Answers by parts
//!
//! A caller that takes a two-item array answer apart at once (stateful_map's
//! `[new_state, output]`, a StatefulLogic's `[outputs, RETAIN]`) may ask for it by parts
//! ([`FastFn::call_pair`], [`FastFn::call_this_answer`]): a body whose last statement is a
//! two-item array literal (`[n, n]`, or a constant one such as `[[], RETAIN]`) then gives the two
//! items ([`Answer::Pair`]) without building the array, computed and measured against the size
//! limits exactly as the literal's items are (a fallback happens exactly where it would). Any
//! other answer (a `return`, a body ending otherwise) comes whole ([`Answer::Whole`]), for the
//! caller to split as before.
//!
//! # Readers
//!
//! A method whose body is only `this.p + c`, `c + this.p` or `this.p - c` (`c` an `INT` literal or
//! constant; a session window's `notify_at`, which StatefulLogic reads after every item) is
//! answered without running its body when `this` is a map holding `p` as an `INT` and the result
//! does not overflow: one look-up and one checked operation (`reader`). Anything else runs the
//! body as before. A method that only reads `this` and takes no argument is run on `this` where it
//! is, as its only argument, without moving it into an argument list.
//!
//! `do … while`, ranges (`0..n`), `switch`, `try`, closures, `this` outside a method, calls of
//! script-defined functions other than `this.f(…)` in a method, other registered functions
//! (`print`, `secs(…)`, …), `import`, namespaced names, variables that are not parameters,
//! locals or constants, and anything else make [`FastFn::compile`] return `None`.
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
mod for_loop;
mod limits;
mod lower;
mod operators;
mod reader;
mod run;
mod scan;
mod slots;
#[cfg(test)]
mod tests;
mod tree;
mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rhai::{AST, Dynamic, ImmutableString};

use crate::script::ScriptLimits;
use crate::script::function_body::body_statements;
use check::{Checker, ops_bound};
use limits::arrays_within;
use lower::{Lowering, SlotLowering};
use reader::PropReader;
pub use run::Answer;
use run::CompiledFn;
use scan::{THIS, assigns_this, mutated_params, this_calls};
use slots::{SlotBody, with_locals};
use tree::Var;
use value::{Value, read_write, unshared};

/// A script function compiled to the fast path: an entry of its script's table (the functions a
/// method may call as `this.f(…)` are its neighbours there).
#[derive(Clone)]
pub struct FastFn {
    table: Arc<Vec<CompiledFn>>,
    index: usize,
}

impl std::fmt::Debug for FastFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner();
        f.debug_struct("FastFn")
            .field("name", &inner.name)
            .field("arity", &inner.arity)
            .field("locals", &inner.n_locals)
            .finish_non_exhaustive()
    }
}

/// A function definition of the script, as the fast path sees it before compiling it.
struct Def {
    name: String,
    arity: usize,
    params: Vec<ImmutableString>,
    body: Vec<rhai::Stmt>,
    /// Defined for a `this` type (`fn int.f()`): never compiled.
    typed: bool,
}

impl Def {
    fn all(ast: &AST) -> Vec<Def> {
        let mut defs: Vec<Def> = ast
            .iter_fn_def()
            .map(|f| Def {
                name: f.name.to_string(),
                arity: f.params.len(),
                params: f.params.iter().cloned().collect(),
                body: body_statements(ast, &f.name, f.params.len()),
                typed: f.this_type.is_some(),
            })
            .collect();
        // Rhai keeps a script's functions in a hash table: sorted, the compiled list is the
        // same on every run.
        defs.sort_by(|a, b| (&a.name, a.arity).cmp(&(&b.name, b.arity)));
        defs
    }
}

impl FastFn {
    fn inner(&self) -> &CompiledFn {
        &self.table[self.index]
    }

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
        let def = Def::all(ast).into_iter().find(|d| d.name == name && d.arity == arity)?;
        let script_fns: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        let (compiled, _) = compile_def(&def, &script_fns, None, false, constants, limits)?;
        Some(FastFn { table: Arc::new(vec![compiled]), index: 0 })
    }

    /// Like [`FastFn::compile_with_limits`], for a function called with `this` bound to a value
    /// (a StatefulLogic method): the body may read `this`, its properties and indices, and
    /// assign to them, and call the script's other functions as methods (`this.f(…)`). Run it
    /// with [`FastFn::call_this`]. (Compiles the whole script's functions: see
    /// [`FastFn::compile_methods`].)
    pub fn compile_method_with_limits(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: ScriptLimits,
    ) -> Option<FastFn> {
        Self::compile_methods(ast, constants, limits)
            .into_iter()
            .find(|(n, a, _)| n == name && *a == arity)
            .map(|(.., f)| f)
    }

    /// Compiles every function of the script to be called with `this` bound (StatefulLogic
    /// methods), into one table, so that `this.f(…)` calls the script's `f` on the fast path.
    /// Gives the functions that compiled, by (name, arity): a function is left out when its body
    /// is outside the subset or it calls one that is.
    pub fn compile_methods(
        ast: &AST,
        constants: &[(String, Dynamic)],
        limits: ScriptLimits,
    ) -> Vec<(String, usize, FastFn)> {
        let defs = Def::all(ast);
        let script_fns: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        let index: BTreeMap<(String, usize), usize> =
            defs.iter().enumerate().map(|(i, d)| ((d.name.clone(), d.arity), i)).collect();
        // A function writes to `this` when its body does, or when it calls one that does.
        let callees: Vec<Vec<usize>> = defs
            .iter()
            .map(|d| this_calls(&d.body).iter().filter_map(|k| index.get(k).copied()).collect())
            .collect();
        let mut writes: Vec<bool> = defs.iter().map(|d| assigns_this(&d.body)).collect();
        loop {
            let mut changed = false;
            for (i, calls) in callees.iter().enumerate() {
                if !writes[i] && calls.iter().any(|&j| writes[j]) {
                    writes[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut compiled: Vec<Option<(CompiledFn, BTreeSet<usize>)>> = defs
            .iter()
            .zip(&writes)
            .map(|(d, &w)| compile_def(d, &script_fns, Some(&index), w, constants, limits))
            .collect();
        // A function that calls one outside the subset is outside it too.
        loop {
            let invalid: Vec<usize> = compiled
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.as_ref().is_some_and(|(_, calls)| {
                        calls.iter().any(|&j| compiled.get(j).is_none_or(Option::is_none))
                    })
                })
                .map(|(i, _)| i)
                .collect();
            if invalid.is_empty() {
                break;
            }
            for i in invalid {
                compiled[i] = None;
            }
        }
        let valid: Vec<bool> = compiled.iter().map(Option::is_some).collect();
        let table: Vec<CompiledFn> = compiled
            .into_iter()
            .zip(&defs)
            .map(|(c, d)| match c {
                Some((f, _)) => f,
                None => CompiledFn::outside_the_subset(&d.name, d.arity, limits),
            })
            .collect();
        let table = Arc::new(table);
        defs.iter()
            .zip(valid)
            .enumerate()
            .filter(|(_, (_, valid))| *valid)
            .map(|(i, (d, _))| (d.name.clone(), d.arity, FastFn { table: table.clone(), index: i }))
            .collect()
    }

    /// Runs it. Args are taken by reference (not consumed). Err(()) means "a runtime case the fast path does not
    /// reproduce exactly (any error, an unsupported type at run time, …)": the caller then re-runs the same call in
    /// Rhai with the same args to get Rhai's exact result or error message. So never return a wrong Ok: when in
    /// doubt, Err(()).
    #[expect(clippy::result_unit_err, reason = "Err(()) only means: run it in Rhai instead")]
    pub fn call(&self, args: &[Dynamic]) -> Result<Dynamic, ()> {
        if self.inner().method {
            return Err(());
        }
        self.call_args(args, false, false).map(|(value, _)| value.into_dynamic())
    }

    /// Like [`FastFn::call`], for a caller that takes a two-item array answer apart at once
    /// (stateful_map's `[new_state, output]`): when the body ends with a two-item array literal,
    /// the items ([`Answer::Pair`]), the array not built; for any other answer (a `return`, a
    /// body ending otherwise), the value ([`Answer::Whole`]). The items are what the array's
    /// would be, and a fallback happens exactly where building the array would give one.
    #[expect(clippy::result_unit_err, reason = "Err(()) only means: run it in Rhai instead")]
    pub fn call_pair(&self, args: &[Dynamic]) -> Result<Answer, ()> {
        if self.inner().method {
            return Err(());
        }
        self.call_args(args, false, true).map(|(value, _)| value)
    }

    /// Like [`FastFn::call`], but a body that assigns to its first parameter (a fold's
    /// accumulator: `acc.sum += e.value; acc`) runs on the first argument itself, moved in,
    /// rather than on a copy made at its first write (for a map, a copy and a drop per call).
    /// On `Ok`, `args[0]` may have been taken (left `()`), the others are as given; on `Err`, every
    /// argument is as given (each write to the first is journaled and undone, as for a method's
    /// `this`: see [`FastFn::call_this`]), for the caller to run the call in Rhai.
    ///
    /// Only a first argument with no shared and no read-only value inside is moved in (a copy,
    /// which Rhai makes read-write, would differ from it); others are copied as by `call`.
    #[expect(clippy::result_unit_err, reason = "Err(()) only means: run it in Rhai instead")]
    pub fn call_mut(&self, args: &mut [Dynamic]) -> Result<Dynamic, ()> {
        let f = self.inner();
        if f.method {
            return Err(());
        }
        let first = f.param_copies.iter().find(|(param, _)| *param == 0).map(|&(_, slot)| slot);
        let Some(slot) = first else { return self.call(args) };
        if args.len() != f.arity || !args.iter().skip(1).all(unshared) {
            return self.call(args);
        }
        let fns = self.table.as_slice();
        // Slotted (see `slots`), the accumulator is walked for read-only and shared values as its
        // slots are taken: no walk of its own first.
        if let Some(slotted) = f.slotted.as_ref().filter(|slotted| slotted.applies(slot)) {
            let given = args.first_mut().map(std::mem::take).unwrap_or_default();
            let shared: &[Dynamic] = args;
            let result = with_locals(f.n_locals, |locals| {
                slotted.run(f, fns, shared, locals, given, (false, false), false)
            });
            match result {
                Ok((value, ..)) => return Ok(value.into_dynamic()),
                Err(given) => {
                    if let Some(first) = args.first_mut() {
                        *first = given;
                    }
                }
            }
        }
        if !args.first().is_some_and(read_write) {
            return self.call(args);
        }
        let given = args.first_mut().map(std::mem::take).unwrap_or_default();
        let shared: &[Dynamic] = args;
        let result =
            with_locals(f.n_locals, |locals| f.run_in_place(fns, shared, locals, slot, given, false, false));
        match result {
            Ok((value, ..)) => Ok(value.into_dynamic()),
            Err(given) => {
                if let Some(first) = args.first_mut() {
                    *first = given;
                }
                Err(())
            }
        }
    }

    /// Runs a function compiled with [`FastFn::compile_method_with_limits`], `this` bound to
    /// `this`. On `Ok`, `this` holds what the body left in it, as in Rhai; on `Err`, `this` is
    /// as it was and the arguments are handed back, for the caller to run the call in Rhai.
    pub fn call_this(&self, this: &mut Dynamic, args: Vec<Dynamic>) -> Result<Dynamic, Vec<Dynamic>> {
        self.call_this_checked(this, false, args).map(|(value, _)| value)
    }

    /// [`FastFn::call_this`] for a caller that remembers whether `this` is *checked*: read-write
    /// throughout (no shared and no read-only value inside), nested no deeper than the limits'
    /// `max_depth`, and every array in it within the data-size limits. With `checked` true (the
    /// caller's word, from an earlier call's answer, for a `this` nothing else has changed
    /// since), the call does not walk `this` to see whether it may run on it in place, nor
    /// whether it is unshared, and a `pop` or `shift` on an array in a property of `this`, not
    /// written otherwise by the call so far, does not measure the array (it only shrinks).
    ///
    /// On `Ok`, also whether the call kept `this` as checked as it came in. A method that does
    /// not write to `this` answers `checked`; one that writes to a copy answers `false`; one that
    /// runs on `this` in place (read-write, by the caller's word or by the walk here) answers
    /// whether its journaled writes put nothing in `this` that is not read-write, nests too
    /// deep or holds an array past the limits (`run::Journal::kept_checked`; for a `this` the
    /// caller did not vouch for, its arrays are then measured here). So with `checked` false, `this` is checked after the
    /// call only if the answer is `true` and the caller measures the depth of the whole of it.
    /// A `this` restored from a snapshot or left by Rhai is not checked: pass `false` for it.
    pub fn call_this_checked(
        &self,
        this: &mut Dynamic,
        checked: bool,
        args: Vec<Dynamic>,
    ) -> Result<(Dynamic, bool), Vec<Dynamic>> {
        self.call_this_answer(this, checked, args, false).map(|(value, kept)| (value.into_dynamic(), kept))
    }

    /// [`FastFn::call_this_checked`], its answer by parts when `pair` (see [`FastFn::call_pair`]).
    pub(in crate::script) fn call_this_answer(
        &self,
        this: &mut Dynamic,
        checked: bool,
        mut args: Vec<Dynamic>,
        pair: bool,
    ) -> Result<(Answer, bool), Vec<Dynamic>> {
        if !self.inner().method {
            return Err(args);
        }
        // `this.last + GAP`: one look-up and an addition (see `reader`).
        if let Some(reader) = &self.inner().reader
            && let Some(value) = reader.read(this)
        {
            return Ok((Answer::Whole(Dynamic::from_int(value)), checked));
        }
        if let Some(slot) = self.inner().this_slot()
            && (checked || read_write(this))
        {
            let (value, kept) = self.call_in_place(this, args, slot, checked, pair)?;
            // Read-write as it came in (the caller's word or the walk), and kept so; its arrays
            // are measured here unless the caller vouched for them.
            let kept = kept && (checked || arrays_within(this, &self.inner().limits));
            return Ok((value, kept));
        }
        let writes = self.inner().this_slot().is_some();
        if !writes && args.is_empty() {
            // Read in place: `this` alone is the argument list, nothing moved or allocated.
            return match self.call_args(std::slice::from_ref(this), checked, pair) {
                Ok((value, _)) => Ok((value, checked)),
                Err(()) => Err(args),
            };
        }
        args.push(std::mem::take(this));
        match self.call_args(&args, checked && !writes, pair) {
            Ok((value, left)) => {
                // The body assigned to `this` (or a part of it): its copy is the new value.
                let given = args.pop();
                *this = match left {
                    Some(left) => left,
                    None => given.unwrap_or(Dynamic::UNIT),
                };
                // Unwritten, `this` is as checked as it came in; a copy written is not known.
                Ok((value, checked && !writes))
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
        self.inner().this_slot().is_some()
    }

    /// [`FastFn::call_this`] for a body that assigns to `this` (held in local `slot`), with `this`
    /// moved in and written in place instead of copied on its first write.
    fn call_in_place(
        &self,
        this: &mut Dynamic,
        mut args: Vec<Dynamic>,
        slot: usize,
        checked: bool,
        pair: bool,
    ) -> Result<(Answer, bool), Vec<Dynamic>> {
        let f = self.inner();
        let fns = self.table.as_slice();
        if args.len() != f.arity || !args.iter().all(unshared) {
            return Err(args);
        }
        // The body reads `this` from its local: the argument in its place is never read.
        args.push(Dynamic::UNIT);
        let given = std::mem::take(this);
        // Read-write as it came in (the caller's word or its walk): slotted when it can be.
        let result =
            SlotBody::run_in_place(f.slotted.as_ref(), f, fns, &args, slot, given, (true, checked), pair);
        args.pop();
        match result {
            Ok((value, left, kept)) => {
                *this = left;
                Ok((value, kept))
            }
            Err(given) => {
                *this = given;
                Err(args)
            }
        }
    }

    /// Runs the body over `args` (`this` last for a method): its value, and for a method whose
    /// body assigned to `this`, what it left there (`None`: `this` is the argument, unchanged).
    /// `this_checked`: a method's `this` is known to hold no shared value (it is not walked).
    /// `pair`: the answer by parts when it can be (see [`FastFn::call_pair`]).
    fn call_args(
        &self,
        args: &[Dynamic],
        this_checked: bool,
        pair: bool,
    ) -> Result<(Answer, Option<Dynamic>), ()> {
        let f = self.inner();
        let fns = self.table.as_slice();
        // Shared values (closure captures) are never reproduced.
        if args.len() != f.arity + usize::from(f.method) {
            return Err(());
        }
        let walked = if this_checked && f.method { &args[..f.arity] } else { args };
        if !walked.iter().all(unshared) {
            return Err(());
        }
        match f.n_locals {
            0 => f.run(fns, args, &mut [], this_checked, pair),
            1 => f.run(fns, args, &mut [Value::Unit], this_checked, pair),
            2 => f.run(fns, args, &mut [Value::Unit, Value::Unit], this_checked, pair),
            3..=4 => {
                let mut buf = [const { Value::Unit }; 4];
                f.run(fns, args, &mut buf[..f.n_locals], this_checked, pair)
            }
            5..=8 => {
                let mut buf = [const { Value::Unit }; 8];
                f.run(fns, args, &mut buf[..f.n_locals], this_checked, pair)
            }
            _ => {
                let mut buf: Vec<Value<'_>> = (0..f.n_locals).map(|_| Value::Unit).collect();
                f.run(fns, args, &mut buf, this_checked, pair)
            }
        }
    }
}

/// Compiles one function: plainly, or as a method (`methods`: the script's table of functions,
/// which `this.f(…)` may call; `writes_this`: the body, or a function it calls, writes to
/// `this`). Gives the compiled function and the table entries it calls.
fn compile_def(
    def: &Def,
    script_fns: &BTreeSet<String>,
    methods: Option<&BTreeMap<(String, usize), usize>>,
    writes_this: bool,
    constants: &[(String, Dynamic)],
    limits: ScriptLimits,
) -> Option<(CompiledFn, BTreeSet<usize>)> {
    if def.typed {
        return None;
    }
    let method = methods.is_some();
    let arity = def.arity;
    let (mut compiler, param_copies) = checker_for(def, script_fns, methods, writes_this, constants);
    let body = compiler.block(&def.body)?;
    let reader = if method && !writes_this { PropReader::of(&body, arity, &compiler.consts) } else { None };

    // Run once, the body (its loops' rounds and its calls aside, which count as they run)
    // counts at most this many operations in Rhai.
    let bound = ops_bound(compiler.nodes);
    if limits.max_operations != 0 && bound >= limits.max_operations {
        return None;
    }
    let calls = compiler.calls;
    let mut lower = Lowering { lits: compiler.consts, slotted: None };
    // A method's `this`, held in a local when the body writes to it, is read after the body.
    let this_slot = param_copies.iter().find(|(param, _)| method && *param == arity).map(|&(_, slot)| slot);
    let (body, pair) = lower.body_and_pair(body, this_slot)?;
    // The map run in place (`FastFn::call_mut`'s first argument, a method's `this` it writes):
    // its properties as slots, when the body's uses of it allow (see `slots`).
    let in_place =
        if method { this_slot } else { param_copies.iter().find(|(p, _)| *p == 0).map(|&(_, s)| s) };
    let slotted = in_place.and_then(|local| {
        let (mut checker, _) = checker_for(def, script_fns, methods, writes_this, constants);
        let body = checker.block(&def.body)?;
        let slots = SlotLowering { local, props: Vec::new(), writes: false, ends_with_local: false };
        let mut lower = Lowering { lits: checker.consts, slotted: Some(slots) };
        let (body, pair) = lower.body_and_pair(body, this_slot)?;
        SlotBody::new(lower.slotted?, lower.lits, body, pair)
    });
    Some((
        CompiledFn {
            name: def.name.clone(),
            arity,
            bound,
            method,
            n_locals: compiler.n_locals,
            param_copies,
            lits: lower.lits,
            limits,
            body,
            pair,
            reader,
            slotted,
        },
        calls,
    ))
}

/// A checker for `def`'s body, its parameters in scope (those the body assigns to held in
/// locals, and a method's `this` after them), with the `(parameter, local)` pairs.
fn checker_for<'c>(
    def: &Def,
    script_fns: &'c BTreeSet<String>,
    methods: Option<&'c BTreeMap<(String, usize), usize>>,
    writes_this: bool,
    constants: &'c [(String, Dynamic)],
) -> (Checker<'c>, Vec<(usize, usize)>) {
    let mutated = mutated_params(&def.body, &def.params);
    let mut compiler = Checker {
        scope: Vec::new(),
        n_locals: 0,
        constants,
        consts: Vec::new(),
        const_slots: BTreeMap::new(),
        script_fns,
        nodes: 0,
        methods,
        calls: BTreeSet::new(),
    };
    let mut param_copies = Vec::new();
    for (i, p) in def.params.iter().enumerate() {
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
    if methods.is_some() {
        let var = if writes_this {
            let slot = compiler.new_slot();
            param_copies.push((def.arity, slot));
            Var::Local(slot)
        } else {
            Var::Arg(def.arity)
        };
        compiler.scope.push((THIS.into(), var, false));
    }
    (compiler, param_copies)
}
