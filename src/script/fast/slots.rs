//! Slotted calls: a map's properties resolved when the function is compiled, not looked up by
//! name at every access.
//!
//! A function run on a map in place (a fold's accumulator with [`FastFn::call_mut`], a method's
//! `this` it writes) is lowered a second time, as a *slotted* body, when its only uses of that
//! local are reads `acc.p…` and writes `acc.p op= v` of its properties by name, and the local
//! itself as the body's last statement: each property `p` it names gets a slot `k`, and the
//! reads and writes of `acc.p` become reads and writes of slot `k` ([`Atom::Slot`]).
//!
//! A call runs slotted when the map holds every property the body names: one pass over the map
//! in its (sorted) order puts each such property's value in its slot (a number, `bool`,
//! character or `()` copied, anything else moved out), the body runs on the slots, and a second
//! pass puts them back (no name compared): one string comparison per property of the map per
//! call, instead of a look-up by name per access. A map lacking one of them, or any property
//! more, runs as before; so does everything else (snapshots, outputs, Rhai) see only the map.
//!
//! Exactness. A slotted write is only of a number, `bool`, character or `()` replacing one
//! (anything else gives up), so the map's sizes are those it came in with: it is measured once
//! before the body runs (when the body writes), and Rhai's check after each write would pass
//! exactly when that one does. Every other fallback reason is the unslotted body's. A slotted
//! call that gives up leaves the map as it came in (what was moved out goes back; what was
//! copied was never changed in the map) and the call runs unslotted, which gives its answer or
//! gives up to Rhai as it always did. A function whose slotted calls keep giving up (a
//! property holding a string written every call, say) stops trying after [`MAX_BAILOUTS`].
//!
//! [`FastFn::call_mut`]: super::FastFn::call_mut

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};

use rhai::{Dynamic, ImmutableString, Map};
use smallvec::SmallVec;

use super::assign::sizeless;
use super::limits::nested_sizes;
use super::lower::SlotLowering;
use super::run::{Answer, Budget, CompiledFn, Env, EvalFn, Exit, PairFn, props_within};
use super::value;
use super::value::Value;
use crate::script::ScriptLimits;

#[cfg(doc)]
use super::access::Atom;

/// Slotted calls that gave up after which a function stops trying them (its calls keep meeting a
/// write the slots do not take).
const MAX_BAILOUTS: u32 = 16;

/// The most properties a slotted body may name (a bit each in a mask).
const MAX_SLOTS: usize = 64;

/// Slots held in place before a call allocates.
const SLOTS_IN_PLACE: usize = 8;

/// A function's slotted body: what it names, and how to run it.
pub(super) struct SlotBody {
    /// The local the body's slots are properties of.
    local: usize,
    /// The properties the body names, sorted as the map holds them, each with its slot.
    sorted: Vec<(ImmutableString, usize)>,
    /// Whether the body writes a slot (the map is then measured before the call).
    writes: bool,
    /// Whether the body ends with the local itself (its value is then the map, put back).
    ends_with_local: bool,
    /// The slotted body's constants-and-literals pool.
    lits: Vec<Dynamic>,
    body: EvalFn,
    pair: Option<PairFn>,
    /// Slotted calls that gave up so far.
    bailouts: AtomicU32,
}

impl SlotBody {
    /// The slotted body lowered with `slots`, or `None` when it names no property (nothing to
    /// gain) or too many.
    pub(super) fn new(
        slots: SlotLowering,
        lits: Vec<Dynamic>,
        body: EvalFn,
        pair: Option<PairFn>,
    ) -> Option<SlotBody> {
        let SlotLowering { local, props, writes, ends_with_local } = slots;
        if props.is_empty() || props.len() > MAX_SLOTS {
            return None;
        }
        let mut sorted: Vec<(ImmutableString, usize)> = props.into_iter().zip(0..).collect();
        sorted.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Some(SlotBody {
            local,
            sorted,
            writes,
            ends_with_local,
            lits,
            body,
            pair,
            bailouts: AtomicU32::new(0),
        })
    }

    /// Whether a call on local `slot` may try to run slotted.
    #[inline]
    pub(super) fn applies(&self, slot: usize) -> bool {
        self.local == slot && self.bailouts.load(AtomicOrdering::Relaxed) < MAX_BAILOUTS
    }

    /// Runs `f` on `this` with a buffer of its locals: slotted when it can, else as
    /// [`CompiledFn::run_in_place`] runs it (see [`SlotBody::run`] for `words`).
    #[expect(clippy::too_many_arguments, reason = "a call's parts, and how its answer is wanted")]
    pub(super) fn run_in_place<'a>(
        slotted: Option<&'a SlotBody>,
        f: &'a CompiledFn,
        fns: &'a [CompiledFn],
        args: &'a [Dynamic],
        slot: usize,
        this: Dynamic,
        words: (bool, bool),
        pair: bool,
    ) -> Result<(Answer, Dynamic, bool), Dynamic> {
        with_locals(f.n_locals, |locals| {
            let this = match slotted {
                Some(slotted) if slotted.applies(slot) => {
                    match slotted.run(f, fns, args, &mut *locals, this, words, pair) {
                        Ok(done) => return Ok(done),
                        Err(this) => this,
                    }
                }
                _ => this,
            };
            f.run_in_place(fns, args, locals, slot, this, words.1, pair)
        })
    }

    /// Runs `f`'s call slotted on `this` (the map in local `slot`, moved in; see
    /// [`CompiledFn::run_in_place`] for the rest). `vouched`: the caller knows `this` is
    /// read-write throughout (else every value is walked here, as the slots are taken);
    /// `checked`: the caller's word that `this` is checked (see [`FastFn::call_this_checked`]).
    /// `Ok`: the answer, what is left in the local and whether `this` stays checked; `Err`:
    /// `this` as it came in, for the call to run unslotted (the locals reset).
    ///
    /// [`FastFn::call_this_checked`]: super::FastFn::call_this_checked
    #[expect(clippy::too_many_arguments, reason = "a call's parts, and how its answer is wanted")]
    pub(super) fn run<'a>(
        &'a self,
        f: &'a CompiledFn,
        fns: &'a [CompiledFn],
        args: &'a [Dynamic],
        locals: &mut [Value<'a>],
        mut this: Dynamic,
        (vouched, checked): (bool, bool),
        pair: bool,
    ) -> Result<(Answer, Dynamic, bool), Dynamic> {
        if !this.is_map() || this.is_shared() || (!vouched && this.is_read_only()) {
            return Err(this);
        }
        let n = self.sorted.len();
        let mut in_place = [const { Dynamic::UNIT }; SLOTS_IN_PLACE];
        let mut spilled: Vec<Dynamic> = Vec::new();
        let values: &mut [Dynamic] = if n <= SLOTS_IN_PLACE {
            &mut in_place[..n]
        } else {
            spilled.resize(n, Dynamic::UNIT);
            &mut spilled
        };
        let mut taken = Taken { positions: SmallVec::new(), moved: 0 };
        {
            let Ok(mut map) = this.as_map_mut() else { return Err(this) };
            // The map is measured as Rhai's check after a write measures it (see the module).
            let measure = self.writes && f.limits.has_data_limit();
            if !self.take_slots(&mut map, values, &mut taken, !vouched, measure.then_some(&f.limits)) {
                self.put_back(&mut map, values, &taken, false);
                drop(map);
                return Err(this);
            }
        }
        for &(param, copy) in &f.param_copies {
            if copy != self.local {
                locals[copy] = Value::Ref(&args[param]);
            }
        }
        let result = {
            let mut env = Env {
                args,
                lits: &self.lits,
                limits: &f.limits,
                locals: &mut *locals,
                journal: None,
                fns,
                budget: Budget::new(f.bound),
                sized: None,
                arg_within: None,
                slots: &mut *values,
            };
            match &self.pair {
                Some(parts) if pair => parts(&mut env).map(|(first, second)| Answer::Pair(first, second)),
                _ => (self.body)(&mut env).map(|v| Answer::Whole(v.dynamic())),
            }
        };
        let (answer, at_tail) = match result {
            Ok(answer) => (answer, true),
            Err(Exit::Return(v)) => (Answer::Whole(*v), false),
            Err(_) => {
                if let Ok(mut map) = this.as_map_mut() {
                    self.put_back(&mut map, values, &taken, false);
                }
                locals.iter_mut().for_each(|local| *local = Value::Unit);
                self.bailouts.fetch_add(1, AtomicOrdering::Relaxed);
                return Err(this);
            }
        };
        let kept = match this.as_map_mut() {
            Ok(mut map) => {
                self.put_back(&mut map, values, &taken, true);
                // As `Journal::kept_checked` answers for a map whose properties were written (a
                // method's `this` only: a plain function's caller keeps no such word). A slot
                // write puts in a read-write number, `bool`, character or `()`, so a `this` the
                // caller vouched for stays checked, a property having a level of room.
                let max_depth = f.limits.max_depth;
                f.method && (!self.writes || (checked && max_depth != 1) || props_within(&map, &f.limits))
            }
            Err(_) => false,
        };
        Ok(if self.ends_with_local && at_tail {
            (Answer::Whole(this), Dynamic::UNIT, kept)
        } else {
            (answer, this, kept)
        })
    }

    /// Puts each named property's value in its slot (copied when it is a number, `bool`,
    /// character or `()`, else moved out: its bit set in `taken.moved`), noting its place in the
    /// map's order, in one pass over the map that also checks, with `read_write`, that every
    /// value is read-write throughout, and with `limits`, that the map's sizes are within them.
    /// Whether the map holds every property named and passes the checks.
    fn take_slots(
        &self,
        map: &mut Map,
        values: &mut [Dynamic],
        taken: &mut Taken,
        read_write: bool,
        limits: Option<&ScriptLimits>,
    ) -> bool {
        let mut wanted = self.sorted.iter().enumerate().peekable();
        let mut sizes = (0, 0, 0);
        for (at, (key, value)) in map.iter_mut().enumerate() {
            if read_write && !value::read_write(value) {
                return false;
            }
            if limits.is_some() {
                let Ok(s) = nested_sizes(value) else { return false };
                sizes = (sizes.0 + s.0, sizes.1 + 1 + s.1, sizes.2 + s.2);
            }
            let Some(&(j, (prop, k))) = wanted.peek() else {
                if read_write || limits.is_some() {
                    continue;
                }
                break;
            };
            match key.as_str().cmp(prop.as_str()) {
                Ordering::Less => {}
                Ordering::Greater => return false,
                Ordering::Equal => {
                    values[*k] = if sizeless(value) {
                        value.clone()
                    } else {
                        taken.moved |= 1 << j;
                        std::mem::take(value)
                    };
                    taken.positions.push(at);
                    wanted.next();
                }
            }
        }
        wanted.peek().is_none() && limits.is_none_or(|limits| limits.within(sizes))
    }

    /// Puts the slots back in their places in the map: all of them (`all`), or only those
    /// moved out (the map still holds the others as they came in).
    fn put_back(&self, map: &mut Map, values: &mut [Dynamic], taken: &Taken, all: bool) {
        let mut j = 0;
        for (at, value) in map.values_mut().enumerate() {
            let (Some(&place), Some((_, k))) = (taken.positions.get(j), self.sorted.get(j)) else { break };
            if at == place {
                if all || taken.moved & (1 << j) != 0 {
                    *value = std::mem::take(&mut values[*k]);
                }
                j += 1;
            }
        }
    }
}

/// Where the slots were taken from: the map's places of the properties named (in their sorted
/// order), and which were moved out (bit `j` for the `j`-th).
struct Taken {
    positions: SmallVec<[usize; SLOTS_IN_PLACE]>,
    moved: u64,
}

/// Runs `f` with a buffer of `n` locals (held in place for up to 8).
pub(super) fn with_locals<'a, R>(n: usize, f: impl FnOnce(&mut [Value<'a>]) -> R) -> R {
    match n {
        0..=4 => {
            let mut buf = [const { Value::Unit }; 4];
            f(&mut buf[..n])
        }
        5..=8 => {
            let mut buf = [const { Value::Unit }; 8];
            f(&mut buf[..n])
        }
        _ => {
            let mut buf: Vec<Value<'a>> = (0..n).map(|_| Value::Unit).collect();
            f(&mut buf)
        }
    }
}
