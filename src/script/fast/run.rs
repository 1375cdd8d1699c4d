//! Running a lowered function: the compiled function ([`CompiledFn`]), what its closures see
//! ([`Env`]), and how evaluation stops early ([`Exit`]).
//!
//! The checked tree is lowered to closures. Two costs dominate a small function and are avoided:
//! calls into `Dynamic` that are not inlined (`clone`, `drop`, a failed `as_*`, which formats the
//! type's name), and store-forwarding stalls when a `Dynamic` written field by field is moved as a
//! whole. So values travel as [`Value`] (word-aligned; fresh numbers and booleans unboxed; arguments,
//! constants and literals borrowed), operands are read through [`ValueRef`] views without copies,
//! and types are tested with the inlined `is_*` before any `as_*`.

use std::time::{Duration, Instant};

use rhai::{Dynamic, ImmutableString};

use super::limits::arrays_within;
use super::reader::PropReader;
use super::slots::SlotBody;
use super::tree::Var;
use super::value::{Value, ValueRef, owned, read_write};
use crate::script::ScriptLimits;
use crate::script::nested_deeper_than;

/// Why evaluation stopped early.
pub(super) enum Exit {
    /// `return` (boxed: keeps `EvalResult<Value>` small and word-aligned).
    Return(Box<Dynamic>),
    /// Anything the fast path does not reproduce: run the call in Rhai.
    Fail,
    /// `break`, with its value (`None`: `()`).
    Break(Option<Box<Dynamic>>),
    /// `continue`.
    Continue,
}

/// A journal's entries held in place before it allocates (a call writing a state's few numbers
/// notes one entry per write).
const JOURNAL_IN_PLACE: usize = 4;

/// Loop rounds between two readings of the clock.
const ROUNDS_PER_CLOCK_CHECK: u32 = 1024;
/// The longest a fast call runs before it gives up and Rhai runs it (whose guard then applies
/// the call's time and memory limits exactly as for any call): at most this, and at most a
/// quarter of `call_timeout`.
const TIME_BUDGET: Duration = Duration::from_millis(1);

/// What a call (with the calls it makes) has used of its limits, counted as it runs: a bound on
/// the operations Rhai would count, the depth of calls, the loop rounds run and when the first
/// clock check was made.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    pub(super) ops: u64,
    pub(super) depth: usize,
    rounds: u32,
    started: Option<Instant>,
}

impl Budget {
    /// The budget of a call whose body counts at most `ops` operations besides its loops and calls.
    pub(super) fn new(ops: u64) -> Budget {
        Budget { ops, depth: 1, rounds: 0, started: None }
    }
}

/// What evaluating a node gives: a value, or an early [`Exit`].
pub(super) type EvalResult<T> = Result<T, Exit>;

/// Shorthand for giving up.
pub(super) fn fail<T, X>(_: X) -> EvalResult<T> {
    Err(Exit::Fail)
}

/// What a running body sees.
pub(super) struct Env<'a, 'l> {
    pub(super) args: &'a [Dynamic],
    /// Top-level constants and literals.
    pub(super) lits: &'a [Dynamic],
    pub(super) limits: &'a ScriptLimits,
    /// Local variables, held as `Value`s: a local bound to an argument borrows it until the body
    /// assigns to it.
    pub(super) locals: &'l mut [Value<'a>],
    /// A method's `this`, when it is written in place: how to put it back on a fallback.
    pub(super) journal: Option<Journal>,
    /// The script's functions a method may call as `this.f(…)` (its table; empty otherwise).
    pub(super) fns: &'a [CompiledFn],
    pub(super) budget: Budget,
    /// A local holding a map that this call measured within the size limits, and that has
    /// changed since only by writes that leave its sizes as they were (a number, `bool`,
    /// character or `()` replacing one in an existing property): measuring it again would give
    /// the same sizes. Any other write to any local clears it ([`Env::forget_sized`]).
    pub(super) sized: Option<usize>,
    /// The argument that is a method's `this` read in place (the body does not write it), when
    /// every array in it is known within the data-size limits: a checked `this` (the caller's
    /// word), or the in-place `this` of a calling method whose journal says so
    /// ([`Env::arrays_within`]). A built-in method called on an array in it is not measured.
    pub(super) arg_within: Option<usize>,
    /// The properties of a slotted local (see `slots`), each at the index its reads and writes
    /// were lowered to; empty when the call runs unslotted.
    pub(super) slots: &'l mut [Dynamic],
}

/// What one write to a method's `this` replaced, to be put back if the call falls back.
pub(super) enum Undo {
    /// `this` was a map whose property held this value (`None`: it had no such property), and
    /// the write changed that property only.
    Prop(ImmutableString, Option<Dynamic>),
    /// `this` as a whole, before a write of another kind.
    Whole(Dynamic),
    /// An item was pushed onto the array in this property of `this` (a map).
    Pushed(ImmutableString),
    /// This item was popped off the end of the array in this property of `this` (a map).
    Popped(ImmutableString, Dynamic),
    /// This item was shifted off the front of the array in this property of `this` (a map).
    Shifted(ImmutableString, Dynamic),
}

/// The writes to a method's `this` while the body runs.
///
/// `this` is moved into its local rather than copied on its first write (a whole state map copied
/// and dropped on every call, for a call that changes a few numbers in it). The first write of any
/// other kind than "one property of the map" saves `this` whole, after which nothing more need be
/// saved. On a fallback the entries, undone last first, give back `this` as it came in, for Rhai to
/// run the call on.
pub(super) struct Journal {
    /// The local holding `this`.
    slot: usize,
    /// The entries, first written first (the first few held in place: no allocation per call).
    undo: smallvec::SmallVec<[Undo; JOURNAL_IN_PLACE]>,
    /// `this` was saved whole: later writes need no entry.
    whole: bool,
    /// Every array in `this` is within the data-size limits (as Rhai measures an array after a
    /// `push`, `pop` or `shift` on it): the caller's word for `this` as it came in, kept while
    /// the writes are pushes (each measures its array), pops and shifts (which only shrink one)
    /// on a property's array; any other write to `this` forgets it. While it holds, a `pop` or
    /// `shift` on a property's array leaves it within the limits, and so does the item it gives,
    /// without measuring them.
    arrays_within: bool,
}

impl<'a> Env<'a, '_> {
    /// Counts `ops` more operations; gives up when the bound could reach the operations limit.
    #[inline]
    pub(super) fn charge(&mut self, ops: u64) -> EvalResult<()> {
        self.budget.ops = self.budget.ops.saturating_add(ops);
        let max = self.limits.max_operations;
        if max != 0 && self.budget.ops >= max { Err(Exit::Fail) } else { Ok(()) }
    }

    /// Starts a loop's round that counts at most `ops` operations: gives up when the bound could
    /// reach the operations limit, or when the call has run longer than its time budget.
    #[inline]
    pub(super) fn round(&mut self, ops: u64) -> EvalResult<()> {
        self.charge(ops)?;
        self.budget.rounds = self.budget.rounds.wrapping_add(1);
        if self.budget.rounds.is_multiple_of(ROUNDS_PER_CLOCK_CHECK) { self.check_clock() } else { Ok(()) }
    }

    #[inline(never)]
    fn check_clock(&mut self) -> EvalResult<()> {
        let now = Instant::now();
        let Some(started) = self.budget.started else {
            self.budget.started = Some(now);
            return Ok(());
        };
        let budget = TIME_BUDGET.min(self.limits.call_timeout / 4);
        if now.duration_since(started) > budget { Err(Exit::Fail) } else { Ok(()) }
    }

    /// Whether local `slot` is a method's `this` written in place (with a journal to undo it).
    #[inline]
    pub(super) fn journaled(&self, slot: usize) -> bool {
        self.journal.as_ref().is_some_and(|j| j.slot == slot && !j.whole)
    }

    /// Notes a change to `this` (journaled) that `undo` reverses.
    pub(super) fn note(&mut self, undo: Undo) {
        if let Some(journal) = &mut self.journal {
            if matches!(undo, Undo::Prop(..) | Undo::Whole(_)) {
                journal.arrays_within = false;
            }
            journal.undo.push(undo);
        }
    }

    /// Whether every array in local `slot`, the journaled `this`, is known within the data-size
    /// limits ([`Journal`]'s `arrays_within`).
    #[inline]
    pub(super) fn arrays_within(&self, slot: usize) -> bool {
        self.journal.as_ref().is_some_and(|j| j.slot == slot && !j.whole && j.arrays_within)
    }

    /// `this.f(args)`: calls the script's function at entry `index` of the table with `this`
    /// bound to the caller's `this` (held in `this`), as Rhai binds it: a function that writes
    /// to `this` writes to the caller's.
    pub(super) fn call_method(
        &mut self,
        index: usize,
        this: Var,
        mut args: Vec<Dynamic>,
    ) -> EvalResult<Value<'a>> {
        // The callee may write to `this`, one of the caller's locals.
        self.forget_sized();
        let fns = self.fns;
        let callee = fns.get(index).ok_or(Exit::Fail)?;
        if !callee.method || args.len() != callee.arity {
            return Err(Exit::Fail);
        }
        // Rhai counts call levels from its own start: give up well before the limit.
        let max_levels = self.limits.max_call_levels;
        if self.budget.depth + 2 > max_levels {
            return Err(Exit::Fail);
        }
        self.charge(callee.bound)?;
        // A map property named like the function that holds a function pointer is called
        // instead (OOP style).
        let this_ref = match this {
            Var::Arg(i) => ValueRef::Dyn(self.args.get(i).ok_or(Exit::Fail)?),
            Var::Local(slot) => self.locals[slot].view(),
            Var::Const(_) => return Err(Exit::Fail),
        };
        if let ValueRef::Dyn(d) = this_ref
            && d.is_map()
            && d.as_map_ref().is_ok_and(|m| m.get(callee.name.as_str()).is_some_and(Dynamic::is_fnptr))
        {
            return Err(Exit::Fail);
        }
        let mut budget = self.budget;
        budget.depth += 1;
        let result = match (callee.this_slot(), this) {
            // The callee only reads `this`: it is its last argument, lent for the call.
            (None, Var::Local(slot)) => match std::mem::replace(&mut self.locals[slot], Value::Unit) {
                Value::Own(d) => {
                    let within = self.arrays_within(slot).then_some(callee.arity);
                    args.push(d);
                    let (result, _, _, used) = callee.run_nested(fns, &args, None, None, budget, within);
                    self.locals[slot] = Value::Own(args.pop().unwrap_or(Dynamic::UNIT));
                    budget = used;
                    result
                }
                other => {
                    args.push(other.copy().dynamic());
                    self.locals[slot] = other;
                    let (result, _, _, used) = callee.run_nested(fns, &args, None, None, budget, None);
                    budget = used;
                    result
                }
            },
            (None, Var::Arg(i)) => {
                args.push(self.args.get(i).ok_or(Exit::Fail)?.clone());
                let within = (self.arg_within == Some(i)).then_some(callee.arity);
                let (result, _, _, used) = callee.run_nested(fns, &args, None, None, budget, within);
                budget = used;
                result
            }
            // The callee writes to `this`: the caller's `this`, written in place (journaled), is
            // moved into the callee's local and back, with the journal.
            (Some(callee_slot), Var::Local(slot)) if self.journal_slot() == Some(slot) => {
                let Value::Own(given) = std::mem::replace(&mut self.locals[slot], Value::Unit) else {
                    return Err(Exit::Fail);
                };
                let mut journal = self.journal.take();
                if let Some(j) = &mut journal {
                    j.slot = callee_slot;
                }
                args.push(Dynamic::UNIT);
                let (result, left, journal, used) =
                    callee.run_nested(fns, &args, Some((callee_slot, given)), journal, budget, None);
                self.locals[slot] = Value::Own(left.unwrap_or(Dynamic::UNIT));
                self.journal = journal.map(|mut j| {
                    j.slot = slot;
                    j
                });
                budget = used;
                result
            }
            _ => return Err(Exit::Fail),
        };
        self.budget.ops = budget.ops;
        self.budget.rounds = budget.rounds;
        self.budget.started = budget.started;
        Ok(owned(result?))
    }

    /// Forgets which local was measured within the size limits: called by every write to a
    /// local other than one that keeps its sizes.
    #[inline]
    pub(super) fn forget_sized(&mut self) {
        self.sized = None;
    }

    fn journal_slot(&self) -> Option<usize> {
        self.journal.as_ref().map(|j| j.slot)
    }

    /// Called before a write to local `slot` that changes only property `prop` of it (`Some`), or
    /// anything in it (`None`): when the local is the journaled `this`, saves what the write may
    /// change.
    #[inline]
    pub(super) fn before_write(&mut self, slot: usize, prop: Option<&ImmutableString>) -> EvalResult<()> {
        let Some(journal) = &mut self.journal else { return Ok(()) };
        if journal.slot != slot || journal.whole {
            return Ok(());
        }
        journal.arrays_within = false;
        let target = &self.locals[slot];
        if let (Some(prop), Value::Own(d)) = (prop, target)
            && d.is_map()
        {
            let old = d.as_map_ref().or_else(fail)?.get(prop.as_str()).cloned();
            journal.undo.push(Undo::Prop(prop.clone(), old));
        } else {
            journal.undo.push(Undo::Whole(target.copy().dynamic()));
            journal.whole = true;
        }
        Ok(())
    }
}

impl Journal {
    /// Whether `this` (what the body left in it), *checked* when the call began (read-write
    /// throughout, nested no deeper than `max_depth`, every array in it within the data-size
    /// limits), still is: every part the journaled writes put in it is measured, and nothing
    /// else was written. (A push measured its array, which holds the item pushed.) With a
    /// property written, every property is measured. A property's entry measures that
    /// property's value; a push onto a property's array measures as many items at its end as
    /// were pushed (pushes go on the end, and pops and shifts only take items off, so every
    /// pushed item still there is among them). `false` whenever that cannot be shown: `this`
    /// saved whole (a write of another kind), or anything not shaped as the entries say.
    fn kept_checked(&self, this: &Dynamic, limits: &ScriptLimits) -> bool {
        let max_depth = limits.max_depth;
        if self.whole {
            return false;
        }
        if self.undo.is_empty() {
            return true;
        }
        let Ok(map) = this.as_map_ref() else { return false };
        let within = |value: &Dynamic, levels: usize| within_at(value, levels, limits);
        // A property written: the map's values are measured in one pass (a few look-ups by
        // name cost more than a walk of a small map, and a property may be written many times).
        if self.undo.iter().any(|undo| matches!(undo, Undo::Prop(..))) {
            return props_within(&map, limits);
        }
        let mut pushed: Vec<(&ImmutableString, usize)> = Vec::new();
        for undo in &self.undo {
            match undo {
                Undo::Whole(_) => return false,
                Undo::Pushed(prop) => match pushed.iter_mut().find(|(p, _)| *p == prop) {
                    Some((_, count)) => *count += 1,
                    None => pushed.push((prop, 1)),
                },
                Undo::Prop(..) | Undo::Popped(..) | Undo::Shifted(..) => {}
            }
        }
        pushed.into_iter().all(|(prop, count)| {
            let Some(value) = map.get(prop.as_str()) else { return true };
            // (An array in a property fits `max_depth` 1 only if it was put there by a write of
            // the property, measured above and failed.)
            max_depth != 1
                && value.is_array()
                && !value.is_read_only()
                && value
                    .as_array_ref()
                    .is_ok_and(|array| array.iter().rev().take(count).all(|item| within(item, 2)))
        })
    }

    /// `this` as it came in: `now` (what the body left in it) with the writes undone, last first.
    fn undo(self, mut now: Dynamic) -> Dynamic {
        for undo in self.undo.into_iter().rev() {
            match undo {
                Undo::Whole(before) => now = before,
                Undo::Pushed(prop) => with_array_in(&mut now, &prop, |array| {
                    array.pop();
                }),
                Undo::Popped(prop, item) => with_array_in(&mut now, &prop, |array| array.push(item)),
                Undo::Shifted(prop, item) => with_array_in(&mut now, &prop, |array| array.insert(0, item)),
                Undo::Prop(prop, old) => {
                    // A property entry is only made while `this` is a map, and every write after it
                    // either kept it a map or was preceded by a whole entry (undone first).
                    debug_assert!(now.is_map(), "a journaled `this` is a map");
                    if let Ok(mut map) = now.as_map_mut() {
                        match old {
                            Some(value) => {
                                map.insert(prop.as_str().into(), value);
                            }
                            None => {
                                map.remove(prop.as_str());
                            }
                        }
                    }
                }
            }
        }
        now
    }
}

/// Whether `value`, `levels` below a checked map's top, keeps it checked: read-write, its
/// arrays within the data-size limits, and nested within `max_depth`
/// (`nested_deeper_than(this, max)` gives a property `max - 1` levels of room and an item of a
/// property's array `max - 2`; `max_depth` 0: no limit).
fn within_at(value: &Dynamic, levels: usize, limits: &ScriptLimits) -> bool {
    let max_depth = limits.max_depth;
    arrays_within(value, limits)
        && read_write(value)
        && (max_depth == 0 || (max_depth > levels && !nested_deeper_than(value, max_depth - levels)))
}

/// Whether every property of a checked map whose properties were written keeps it checked (see
/// [`Journal::kept_checked`]).
pub(super) fn props_within(map: &rhai::Map, limits: &ScriptLimits) -> bool {
    map.values().all(|value| within_at(value, 1, limits))
}

/// Changes the array in property `prop` of map `this` (nothing when there is none).
fn with_array_in(this: &mut Dynamic, prop: &str, f: impl FnOnce(&mut rhai::Array)) {
    if let Ok(mut map) = this.as_map_mut()
        && let Some(item) = map.get_mut(prop)
        && let Ok(mut array) = item.as_array_mut()
    {
        f(&mut array);
    }
}

/// What a nested call runs with besides its arguments: the callee's `this` local (its slot and
/// value) when it writes to it, the caller's journal, the budget so far, and which argument is a
/// `this` whose arrays are known within the limits (see [`Env`]).
type NestedRun = (Option<(usize, Dynamic)>, Option<Journal>, Budget, Option<usize>);

/// What a call gives: its value, or, for a caller that asked for its answer by parts
/// ([`FastFn::call_pair`](super::FastFn::call_pair)) of a body that ends with a two-item array
/// literal, the two items, the array not built.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The value the function returned.
    Whole(Dynamic),
    /// The two items of the `[a, b]` the function ended with.
    Pair(Dynamic, Dynamic),
}

impl Answer {
    /// The value the function returned, the pair built into its array if it came by parts.
    pub fn into_dynamic(self) -> Dynamic {
        match self {
            Answer::Whole(value) => value,
            Answer::Pair(first, second) => Dynamic::from_array(vec![first, second]),
        }
    }
}

/// A body that ends with a two-item array literal, giving the items (see [`Answer::Pair`]).
pub(super) type PairFn =
    Box<dyn for<'a, 'l> Fn(&mut Env<'a, 'l>) -> EvalResult<(Dynamic, Dynamic)> + Send + Sync>;

/// A compiled expression or statement.
pub(super) type EvalFn = Box<dyn for<'a, 'l> Fn(&mut Env<'a, 'l>) -> EvalResult<Value<'a>> + Send + Sync>;

pub(super) fn eval_fn<F>(f: F) -> EvalFn
where
    F: for<'a, 'l> Fn(&mut Env<'a, 'l>) -> EvalResult<Value<'a>> + Send + Sync + 'static,
{
    Box::new(f)
}

/// A function lowered to closures, with what a call needs to set up its locals.
pub(super) struct CompiledFn {
    /// The function's name (a method's, to see whether a map property of that name would be
    /// called instead).
    pub(super) name: String,
    pub(super) arity: usize,
    /// A bound on the operations Rhai counts running the body once, its loops' rounds and the
    /// calls it makes aside (those are counted as they run).
    pub(super) bound: u64,
    pub(super) n_locals: usize,
    /// Called with `this` bound: it is the argument after the parameters.
    pub(super) method: bool,
    /// `(parameter, local slot)`: parameters the body assigns to, held in locals.
    pub(super) param_copies: Vec<(usize, usize)>,
    /// Top-level constants and literals, read by index.
    pub(super) lits: Vec<Dynamic>,
    pub(super) limits: ScriptLimits,
    pub(super) body: EvalFn,
    /// The body again, for a body that ends with a two-item array literal, giving the items
    /// without building the array (see [`Answer::Pair`]).
    pub(super) pair: Option<PairFn>,
    /// A method whose body only reads one property of `this` and adds or subtracts a constant:
    /// how to answer it without running the body when it can (see `reader`).
    pub(super) reader: Option<PropReader>,
    /// The body lowered to run on its in-place map's properties as slots, when it can be (see
    /// `slots`).
    pub(super) slotted: Option<SlotBody>,
}

impl CompiledFn {
    /// A table entry for a function outside the subset: never called (a function calling it is
    /// not compiled either), and giving up if it were.
    pub(super) fn outside_the_subset(name: &str, arity: usize, limits: ScriptLimits) -> CompiledFn {
        CompiledFn {
            name: name.to_owned(),
            arity,
            bound: 0,
            n_locals: 0,
            method: true,
            param_copies: Vec::new(),
            lits: Vec::new(),
            limits,
            body: eval_fn(|_| Err(Exit::Fail)),
            pair: None,
            reader: None,
            slotted: None,
        }
    }

    /// Runs the body: its value, or with `pair` and a body that ends with `[a, b]`, its two
    /// items (the array not built); `Err` on a fallback.
    #[inline]
    fn answer(&self, env: &mut Env<'_, '_>, pair: bool) -> Result<Answer, ()> {
        let result = match &self.pair {
            Some(parts) if pair => parts(env).map(|(first, second)| Answer::Pair(first, second)),
            _ => (self.body)(env).map(|v| Answer::Whole(v.dynamic())),
        };
        match result {
            Ok(answer) => Ok(answer),
            Err(Exit::Return(v)) => Ok(Answer::Whole(*v)),
            Err(_) => Err(()),
        }
    }

    /// The local slot of a method's `this` when the body assigns to it (else `this` is read in
    /// place, as an argument).
    pub(super) fn this_slot(&self) -> Option<usize> {
        let this = self.arity;
        self.param_copies.iter().find(|(param, _)| self.method && *param == this).map(|&(_, slot)| slot)
    }

    /// Runs the body with `this` (a method's, whose body assigns to it) moved into its local and
    /// written in place. `Ok`: the value (by parts with `pair`: see [`CompiledFn::answer`]),
    /// what the body left in `this`, and whether the writes
    /// kept it read-write and within `max_depth` if it was so when the call began
    /// ([`Journal::kept_checked`]); `Err`: `this` as it came in.
    #[expect(clippy::too_many_arguments, reason = "a call's parts, and how its answer is wanted")]
    pub(super) fn run_in_place<'a>(
        &'a self,
        fns: &'a [CompiledFn],
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
        slot: usize,
        this: Dynamic,
        arrays_within: bool,
        pair: bool,
    ) -> Result<(Answer, Dynamic, bool), Dynamic> {
        for &(param, copy) in &self.param_copies {
            if copy != slot {
                locals[copy] = Value::Ref(&args[param]);
            }
        }
        locals[slot] = Value::Own(this);
        let journal = Journal { slot, undo: smallvec::SmallVec::new(), whole: false, arrays_within };
        let mut env = Env {
            args,
            lits: &self.lits,
            limits: &self.limits,
            locals,
            journal: Some(journal),
            fns,
            budget: Budget::new(self.bound),
            sized: None,
            arg_within: None,
            slots: &mut [],
        };
        let value = self.answer(&mut env, pair);
        let left = std::mem::replace(&mut env.locals[slot], Value::Unit).dynamic();
        match value {
            Ok(value) => {
                let kept = env.journal.as_ref().is_some_and(|j| j.kept_checked(&left, &self.limits));
                Ok((value, left, kept))
            }
            Err(()) => Err(match env.journal.take() {
                Some(journal) => journal.undo(left),
                None => left,
            }),
        }
    }

    /// Runs the body as called by another body (`this.f(…)`): `this_local` is the callee's
    /// `this` (its local slot, and the value moved in) when the callee writes to it, with the
    /// caller's journal. Gives back the result, what the body left in `this`, the journal and
    /// the budget used so far. `arg_within`: see [`Env`]'s field.
    ///
    /// The callee's `this` (the last argument) is the caller's, which holds no shared value:
    /// every value a call holds is unshared (its arguments and `this` are walked or vouched for
    /// as it starts, constants and literals are refused at compile time when shared, and
    /// everything else is built from those), so it is not walked again; the other arguments
    /// are.
    pub(super) fn run_nested(
        &self,
        fns: &[CompiledFn],
        args: &[Dynamic],
        this_local: Option<(usize, Dynamic)>,
        journal: Option<Journal>,
        budget: Budget,
        arg_within: Option<usize>,
    ) -> (EvalResult<Dynamic>, Option<Dynamic>, Option<Journal>, Budget) {
        let walked = if self.method { args.get(..self.arity).unwrap_or(args) } else { args };
        if !walked.iter().all(super::value::unshared) {
            return (Err(Exit::Fail), this_local.map(|(_, d)| d), journal, budget);
        }
        let run = (this_local, journal, budget, arg_within);
        match self.n_locals {
            0..=4 => {
                let mut buf = [const { Value::Unit }; 4];
                self.run_with(fns, args, &mut buf[..self.n_locals], run)
            }
            5..=8 => {
                let mut buf = [const { Value::Unit }; 8];
                self.run_with(fns, args, &mut buf[..self.n_locals], run)
            }
            _ => {
                let mut buf: Vec<Value<'_>> = (0..self.n_locals).map(|_| Value::Unit).collect();
                self.run_with(fns, args, &mut buf, run)
            }
        }
    }

    fn run_with<'a>(
        &'a self,
        fns: &'a [CompiledFn],
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
        (this_local, journal, budget, arg_within): NestedRun,
    ) -> (EvalResult<Dynamic>, Option<Dynamic>, Option<Journal>, Budget) {
        let this_slot = this_local.as_ref().map(|(slot, _)| *slot);
        for &(param, copy) in &self.param_copies {
            if Some(copy) != this_slot {
                locals[copy] = Value::Ref(&args[param]);
            }
        }
        if let Some((slot, this)) = this_local {
            locals[slot] = Value::Own(this);
        }
        let mut env = Env {
            args,
            lits: &self.lits,
            limits: &self.limits,
            locals,
            journal,
            fns,
            budget,
            sized: None,
            arg_within,
            slots: &mut [],
        };
        let result = match (self.body)(&mut env) {
            Ok(v) => Ok(v.dynamic()),
            Err(Exit::Return(v)) => Ok(*v),
            Err(_) => Err(Exit::Fail),
        };
        let left = this_slot.map(|slot| std::mem::replace(&mut env.locals[slot], Value::Unit).dynamic());
        (result, left, env.journal, env.budget)
    }

    /// Runs the body on `args` (`this` last for a method). `this_checked`: a method's `this`,
    /// read in place, is checked (the caller's word): its arrays are within the limits. `pair`:
    /// the value by parts when it can be (see [`CompiledFn::answer`]).
    #[inline]
    pub(super) fn run<'a>(
        &'a self,
        fns: &'a [CompiledFn],
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
        this_checked: bool,
        pair: bool,
    ) -> Result<(Answer, Option<Dynamic>), ()> {
        for &(param, slot) in &self.param_copies {
            locals[slot] = Value::Ref(&args[param]);
        }
        let mut env = Env {
            args,
            lits: &self.lits,
            limits: &self.limits,
            locals,
            journal: None,
            fns,
            budget: Budget::new(self.bound),
            sized: None,
            arg_within: (this_checked && self.method).then_some(self.arity),
            slots: &mut [],
        };
        let value = self.answer(&mut env, pair)?;
        // A method's `this`, when the body may have assigned to it: still the argument itself
        // (never written), or its new value.
        let this = self.arity;
        let left = match self.param_copies.iter().find(|(param, _)| self.method && *param == this) {
            Some(&(_, slot)) => match std::mem::replace(&mut locals[slot], Value::Unit) {
                Value::Ref(given) if std::ptr::eq(given, &args[this]) => None,
                other => Some(other.dynamic()),
            },
            None => None,
        };
        Ok((value, left))
    }
}
