//! Lowering the checked tree to closures ([`EvalFn`]): atoms and pure chains are read in place,
//! everything else is computed by a closure.

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString};

use super::access::{Access, Atom, Operand, Path, PathStep, PathStepKind, walk};
use super::assign::{
    AssignOperands, AssignStep, apply, assign_prop, assign_var, assign_walk, mutate_array, place_walk,
    sizeless,
};
use super::closures;
use super::run::{Env, EvalFn, Exit, PairFn, Undo, eval_fn};
use super::tree::{
    Assign, BinOp, Chain, ChainStep, ChainStepKind, Expr, LoopBody, MutMethod, Mutate, Root, StepArg, Stmt,
    TargetStep, Var,
};
use super::value::{Value, intern, owned};

/// What a loop that ends with `break value` gives.
pub(super) fn break_value(value: Option<Box<Dynamic>>) -> Value<'static> {
    match value {
        Some(v) => owned(*v),
        None => Value::Unit,
    }
}

/// Lowers the checked tree to closures, collecting the literals they read into one pool.
pub(super) struct Lowering {
    /// The constants-and-literals pool (the constants first, so `Var::Const(k)` is entry `k`).
    pub(super) lits: Vec<Dynamic>,
    /// Lowering a slotted body (see `slots`): the local whose properties are slots, and the
    /// properties met so far.
    pub(super) slotted: Option<SlotLowering>,
}

/// What lowering a slotted body learns: which local's properties are slots, their names (slot
/// `k` is `props[k]`), whether any is written, and whether the body ends with the local.
pub(super) struct SlotLowering {
    pub(super) local: usize,
    pub(super) props: Vec<ImmutableString>,
    pub(super) writes: bool,
    pub(super) ends_with_local: bool,
}

impl SlotLowering {
    /// The slot of property `p`, given one the first time it is met.
    fn slot_of(&mut self, p: &ImmutableString) -> usize {
        match self.props.iter().position(|q| q == p) {
            Some(k) => k,
            None => {
                self.props.push(p.clone());
                self.props.len() - 1
            }
        }
    }
}

impl Lowering {
    /// Whether local `slot` is the slotted local (whose only uses may be `local.p` reads and
    /// writes, and the body's last statement).
    fn is_slotted(&self, slot: usize) -> bool {
        self.slotted.as_ref().is_some_and(|s| s.local == slot)
    }

    pub(super) fn lit(&mut self, d: Dynamic) -> usize {
        self.lits.push(d);
        self.lits.len() - 1
    }

    /// The expression as an atom, or the expression back.
    pub(super) fn atom(&mut self, e: Expr) -> Result<Atom, Expr> {
        Ok(match e {
            Expr::Unit => Atom::Unit,
            Expr::Bool(b) => Atom::Bool(b),
            Expr::Int(i) => Atom::Int(i),
            Expr::Float(f) => Atom::Float(f),
            Expr::Lit(d) => Atom::Lit(self.lit(d)),
            Expr::Var(Var::Arg(i)) => Atom::Arg(i),
            // The slotted local is never read whole (its properties are in the slots).
            Expr::Var(Var::Local(i)) if self.is_slotted(i) => return Err(e),
            Expr::Var(Var::Local(i)) => Atom::Local(i),
            Expr::Var(Var::Const(k)) => Atom::Lit(k),
            other => return Err(other),
        })
    }

    /// A literal operand as an atom.
    pub(super) fn lit_atom(&mut self, d: Dynamic) -> Option<Atom> {
        match Expr::literal(d) {
            Expr::Lit(d) => Some(Atom::Lit(self.lit(d))),
            scalar => self.atom(scalar).ok(),
        }
    }

    pub(super) fn access(&mut self, e: Expr) -> Option<Access> {
        let e = match self.atom(e) {
            Ok(a) => return Some(Access::Atom(a)),
            Err(e) => e,
        };
        Some(match e {
            Expr::Chain(c) => match self.chain(*c)? {
                Ok(path) => Access::Path(path),
                Err(ev) => Access::Eval(ev),
            },
            Expr::Coalesce(items) if items.iter().all(Expr::is_atom) => {
                Access::Coalesce(items.into_iter().map(|e| self.atom(e).ok()).collect::<Option<_>>()?)
            }
            Expr::Bin(op, x) => {
                let (lhs, rhs) = *x;
                let (a, b) = (self.access(lhs)?, self.access(rhs)?);
                if a.is_pure() && b.is_pure() {
                    Access::Bin(op, Box::new((a, b)))
                } else {
                    Access::Eval(closures::binary(op, a, b))
                }
            }
            other => Access::Eval(self.expr(other)?),
        })
    }

    pub(super) fn accesses(&mut self, es: Vec<Expr>) -> Option<Vec<Access>> {
        es.into_iter().map(|e| self.access(e)).collect()
    }

    /// The steps of a chain, and the expressions computed before walking it.
    pub(super) fn steps(
        &mut self,
        steps: Vec<ChainStep>,
        exprs: Vec<Expr>,
    ) -> Option<(Vec<PathStep>, Vec<EvalFn>)> {
        // Expressions that are atoms are read in place; the others are computed.
        let mut map = Vec::with_capacity(exprs.len());
        let mut evals = Vec::new();
        for e in exprs {
            match self.atom(e) {
                Ok(a) => map.push(Operand::Atom(a)),
                Err(e) => {
                    evals.push(self.expr(e)?);
                    map.push(Operand::Computed(evals.len() - 1));
                }
            }
        }
        let step_operand = |o: StepArg, this: &mut Self| match o {
            StepArg::Lit(d) => Some(Operand::Atom(this.lit_atom(d)?)),
            StepArg::Computed(i) => map.get(i).copied(),
        };
        let steps = steps
            .into_iter()
            .map(|s| {
                Some(PathStep {
                    nullish: s.nullish,
                    kind: match s.kind {
                        ChainStepKind::Prop(p) => PathStepKind::Prop(p),
                        ChainStepKind::Index(o) => PathStepKind::Index(step_operand(o, self)?),
                        ChainStepKind::Method(b, args) => PathStepKind::Method(
                            b,
                            args.into_iter().map(|o| step_operand(o, self)).collect::<Option<Vec<_>>>()?,
                        ),
                        // Only the checker's `Expr::Mutate` holds these.
                        ChainStepKind::Mutate(..) => return None,
                    },
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some((steps, evals))
    }

    /// A chain: a `Path` when it is read in place, else a closure computing its value.
    pub(super) fn chain(&mut self, mut c: Chain) -> Option<Result<Path, EvalFn>> {
        // `local.p…` of the slotted local starts at slot `p` (`?.` on a map is `.`).
        let mut slot_root = None;
        if let Root::Var(Var::Local(i)) = c.root
            && let Some(slotted) = &mut self.slotted
            && slotted.local == i
        {
            let Some(ChainStep { kind: ChainStepKind::Prop(p), .. }) = c.steps.first() else { return None };
            slot_root = Some(Atom::Slot(slotted.slot_of(p)));
            c.steps.remove(0);
        }
        let (steps, evals) = self.steps(c.steps, c.exprs)?;
        let root = match (slot_root, c.root) {
            (Some(root), _) => Access::Atom(root),
            (None, Root::Var(v)) => Access::Atom(self.atom(Expr::Var(v)).ok()?),
            (None, Root::Expr(e)) => self.access(e)?,
        };
        Some(match (root, evals.is_empty()) {
            (Access::Atom(root), true) => Ok(Path { root, steps }),
            (root, _) => Err(eval_fn(move |env| {
                let mut vals = Vec::with_capacity(evals.len());
                for e in &evals {
                    vals.push(e(env)?.dynamic());
                }
                let base = root.value(env)?.dynamic();
                walk(&base, &steps, env, &vals, false, |v| Ok(v.to_owned()))
            })),
        })
    }

    pub(super) fn block(&mut self, stmts: Vec<Stmt>) -> Option<EvalFn> {
        let mut evs: Vec<EvalFn> = stmts.into_iter().map(|s| self.stmt(s)).collect::<Option<_>>()?;
        Some(match evs.len() {
            0 => closures::unit(),
            1 => evs.pop()?,
            _ => eval_fn(move |env| {
                let (last, init) = match evs.split_last() {
                    Some(x) => x,
                    None => return Ok(Value::Unit),
                };
                for s in init {
                    s(env)?;
                }
                last(env)
            }),
        })
    }

    /// A function's body: as [`Lowering::block`], except that a body ending with a local
    /// variable other than `this` (`this_slot`, which the caller reads after the body) gives the
    /// local's value itself rather than a copy (`fn folder(acc, e) { acc.n += 1; acc }`): nothing
    /// reads the local after it. (A local's own value is read-write all through, as a copy is:
    /// a copy would be the same value.)
    pub(super) fn body(&mut self, mut stmts: Vec<Stmt>, this_slot: Option<usize>) -> Option<EvalFn> {
        let tail = match stmts.last() {
            Some(Stmt::Expr(Expr::Var(Var::Local(slot)))) if Some(*slot) != this_slot => *slot,
            _ => return self.block(stmts),
        };
        stmts.pop();
        if let Some(slotted) = &mut self.slotted
            && slotted.local == tail
        {
            // The caller gives the local, its slots put back, as the value.
            slotted.ends_with_local = true;
            let init = self.block(stmts)?;
            return Some(eval_fn(move |env| {
                init(env)?;
                Ok(Value::Unit)
            }));
        }
        let init = self.block(stmts)?;
        Some(eval_fn(move |env| {
            init(env)?;
            Ok(std::mem::replace(&mut env.locals[tail], Value::Unit))
        }))
    }

    /// A function's body ([`Lowering::body`]), and for a body that ends with a two-item array
    /// literal (`[n, n]`, or a constant one such as `[[], RETAIN]`), the same body giving the two
    /// items without building the array ([`Answer::Pair`](super::run::Answer::Pair)). The two
    /// share the statements before the literal and its items' closures.
    pub(super) fn body_and_pair(
        &mut self,
        mut stmts: Vec<Stmt>,
        this_slot: Option<usize>,
    ) -> Option<(EvalFn, Option<PairFn>)> {
        let ends_with_pair = match stmts.last() {
            Some(Stmt::Expr(Expr::Array(items))) => items.len() == 2,
            Some(Stmt::Expr(Expr::Lit(d))) => d.is_array() && d.as_array_ref().is_ok_and(|a| a.len() == 2),
            _ => false,
        };
        if !ends_with_pair {
            return Some((self.body(stmts, this_slot)?, None));
        }
        let Some(Stmt::Expr(tail)) = stmts.pop() else { return None };
        let init: Option<Arc<EvalFn>> =
            if stmts.is_empty() { None } else { Some(Arc::new(self.block(stmts)?)) };
        let run_init = |init: &Option<Arc<EvalFn>>, env: &mut Env<'_, '_>| match init {
            Some(init) => init(env).map(drop),
            None => Ok(()),
        };
        let (whole, pair): (EvalFn, PairFn) = match tail {
            Expr::Array(items) => {
                let items: [Access; 2] = self.accesses(items)?.try_into().ok()?;
                let items = Arc::new(items);
                let (init2, items2) = (init.clone(), items.clone());
                (
                    eval_fn(move |env| {
                        run_init(&init, env)?;
                        let (first, second) = closures::pair_items(env, &items)?;
                        Ok(Value::Own(Dynamic::from_array(vec![first, second])))
                    }),
                    Box::new(move |env| {
                        run_init(&init2, env)?;
                        closures::pair_items(env, &items2)
                    }),
                )
            }
            Expr::Lit(d) => {
                let k = self.lit(d);
                let init2 = init.clone();
                (
                    eval_fn(move |env| {
                        run_init(&init, env)?;
                        let lits = env.lits;
                        Ok(Value::Ref(&lits[k]))
                    }),
                    Box::new(move |env| {
                        run_init(&init2, env)?;
                        let lits = env.lits;
                        match lits[k].as_array_ref().as_deref().map(Vec::as_slice) {
                            Ok([first, second]) => Ok((first.clone(), second.clone())),
                            _ => Err(Exit::Fail),
                        }
                    }),
                )
            }
            _ => return None,
        };
        Some((whole, Some(pair)))
    }

    pub(super) fn stmt(&mut self, s: Stmt) -> Option<EvalFn> {
        Some(match s {
            Stmt::Noop => closures::unit(),
            // A change whose result is dropped need not copy the item it removes.
            Stmt::Expr(Expr::Mutate(m)) => self.mutate(*m, true)?,
            Stmt::Expr(e) => self.expr(e)?,
            Stmt::Let { slot, expr } => {
                let e = self.expr(expr)?;
                eval_fn(move |env| {
                    let v = intern(e(env)?)?;
                    env.forget_sized();
                    env.locals[slot] = v;
                    Ok(Value::Unit)
                })
            }
            Stmt::Assign(a) => self.assign(*a)?,
            Stmt::If(x) => {
                let (cond, body, branch) = *x;
                let (empty_body, empty_branch) = (body.is_empty(), branch.is_empty());
                let cond = self.access(cond)?;
                let body = self.block(body)?;
                let branch = self.block(branch)?;
                eval_fn(move |env| {
                    let c = cond.get(env, |v| v.bool())?;
                    if c && !empty_body {
                        body(env)
                    } else if !c && !empty_branch {
                        branch(env)
                    } else {
                        Ok(Value::Unit)
                    }
                })
            }
            Stmt::Block(b) => self.block(b)?,
            Stmt::Return(None) => eval_fn(|_| Err(Exit::Return(Box::new(Dynamic::UNIT)))),
            Stmt::Return(Some(e)) => {
                let e = self.expr(e)?;
                eval_fn(move |env| {
                    let v = e(env)?.dynamic();
                    Err(Exit::Return(Box::new(v)))
                })
            }
            Stmt::Fail => eval_fn(|_| Err(Exit::Fail)),
            Stmt::While(x) => {
                let (cond, LoopBody { body, ops_per_round }) = *x;
                let cond = match cond {
                    Some(c) => Some(self.access(c)?),
                    None => None,
                };
                let body = self.block(body)?;
                eval_fn(move |env| {
                    loop {
                        env.round(ops_per_round)?;
                        if let Some(c) = &cond
                            && !c.get(env, |v| v.bool())?
                        {
                            return Ok(Value::Unit);
                        }
                        match body(env) {
                            Ok(_) | Err(Exit::Continue) => {}
                            Err(Exit::Break(value)) => return Ok(break_value(value)),
                            Err(other) => return Err(other),
                        }
                    }
                })
            }
            Stmt::For(f) => super::for_loop::lower(self, *f)?,
            Stmt::Break(None) => eval_fn(|_| Err(Exit::Continue)),
            Stmt::Break(Some(None)) => eval_fn(|_| Err(Exit::Break(None))),
            Stmt::Break(Some(Some(e))) => {
                let e = self.expr(e)?;
                eval_fn(move |env| {
                    let v = e(env)?.dynamic();
                    Err(Exit::Break(Some(Box::new(v))))
                })
            }
        })
    }

    /// `push`, `pop` or `shift` on a place in a local (or `this`); `discard`: the statement drops
    /// the result.
    pub(super) fn mutate(&mut self, m: Mutate, discard: bool) -> Option<EvalFn> {
        let Mutate { slot, steps, exprs, method, arg } = m;
        if self.is_slotted(slot) {
            return None;
        }
        let (map, evals) = self.place_operands(exprs)?;
        let steps = self.place_steps(steps, &map)?;
        let arg = match arg {
            None => None,
            Some(StepArg::Lit(d)) => Some(Operand::Atom(self.lit_atom(d)?)),
            Some(StepArg::Computed(i)) => Some(*map.get(i)?),
        };
        // A change to a property of `this` is journaled as the change itself (undone by its
        // inverse); any other place in `this` saves what it may change first.
        let simple = match steps.as_slice() {
            [AssignStep::Prop(p)] => Some(p.clone()),
            _ => None,
        };
        let first = match steps.first() {
            Some(AssignStep::Prop(p)) => Some(p.clone()),
            _ => None,
        };
        Some(eval_fn(move |env| {
            let mut vals = Vec::with_capacity(evals.len());
            for e in &evals {
                vals.push(e(env)?.dynamic());
            }
            let item = match arg {
                None => None,
                Some(Operand::Computed(i)) => Some(std::mem::take(vals.get_mut(i).ok_or(Exit::Fail)?)),
                Some(Operand::Atom(a)) => Some(a.value(env).dynamic()),
            };
            env.forget_sized();
            let journaled = env.journaled(slot);
            // A pop or shift on a property's array known within the limits leaves it within.
            let shrinks_within = journaled
                && simple.is_some()
                && matches!(method, MutMethod::Pop | MutMethod::Shift)
                && env.arrays_within(slot);
            if journaled && simple.is_none() {
                env.before_write(slot, first.as_ref())?;
            }
            let limits = env.limits;
            let ops = AssignOperands { args: env.args, lits: env.lits, vals: &vals };
            let target = env.locals[slot].own()?;
            let (removed, within) = place_walk(target, &steps, &ops, |array| {
                mutate_array(limits, array, method, item, shrinks_within)
            })?;
            let mut value = Value::Unit;
            match (&simple, journaled, method, removed) {
                (Some(p), true, MutMethod::Push, _) => env.note(Undo::Pushed(p.clone())),
                (Some(p), true, MutMethod::Pop | MutMethod::Shift, Some(removed)) => {
                    let kept = if discard {
                        removed
                    } else {
                        value = owned(removed.clone());
                        removed
                    };
                    env.note(if method == MutMethod::Pop {
                        Undo::Popped(p.clone(), kept)
                    } else {
                        Undo::Shifted(p.clone(), kept)
                    });
                }
                (_, _, _, Some(removed)) => value = owned(removed),
                _ => {}
            }
            if !within {
                return Err(Exit::Fail);
            }
            Ok(value)
        }))
    }

    /// An assignment's or change's index operands: literals and arguments are read in place;
    /// anything else (a local included, as the target local is borrowed mutably) is computed
    /// first.
    fn place_operands(&mut self, exprs: Vec<Expr>) -> Option<(Vec<Operand>, Vec<EvalFn>)> {
        let mut map = Vec::with_capacity(exprs.len());
        let mut evals = Vec::new();
        for e in exprs {
            match self.atom(e) {
                Ok(Atom::Local(i)) => {
                    evals.push(eval_fn(move |env| Ok(env.locals[i].copy())));
                    map.push(Operand::Computed(evals.len() - 1));
                }
                Ok(a) => map.push(Operand::Atom(a)),
                Err(e) => {
                    evals.push(self.expr(e)?);
                    map.push(Operand::Computed(evals.len() - 1));
                }
            }
        }
        Some((map, evals))
    }

    fn place_steps(&mut self, steps: Vec<TargetStep>, map: &[Operand]) -> Option<Vec<AssignStep>> {
        steps
            .into_iter()
            .map(|s| {
                Some(match s {
                    TargetStep::Prop(p) => AssignStep::Prop(p),
                    TargetStep::Index(StepArg::Lit(d)) => AssignStep::Index(Operand::Atom(self.lit_atom(d)?)),
                    TargetStep::Index(StepArg::Computed(i)) => AssignStep::Index(*map.get(i)?),
                })
            })
            .collect()
    }

    pub(super) fn assign(&mut self, a: Assign) -> Option<EvalFn> {
        let Assign { slot, steps, exprs, op, rhs } = a;
        if let Some(slotted) = &mut self.slotted
            && slotted.local == slot
        {
            let [TargetStep::Prop(p)] = steps.as_slice() else { return None };
            let k = slotted.slot_of(p);
            slotted.writes = true;
            return Some(assign_slot(k, op, self.expr(rhs)?));
        }
        let rhs = self.expr(rhs)?;
        if steps.is_empty() {
            return Some(eval_fn(move |env| {
                let v = rhs(env)?;
                assign_var(env, slot, op, v)?;
                Ok(Value::Unit)
            }));
        }
        if let [TargetStep::Prop(key)] = steps.as_slice() {
            return Some(Self::assign_prop(slot, key.clone(), op, rhs));
        }
        let (map, evals) = self.place_operands(exprs)?;
        let steps = self.place_steps(steps, &map)?;
        // A write that starts at a property changes that property only.
        let prop = match steps.first() {
            Some(AssignStep::Prop(p)) => Some(p.clone()),
            _ => None,
        };
        Some(eval_fn(move |env| {
            let v = intern(rhs(env)?)?.dynamic();
            let mut vals = Vec::with_capacity(evals.len());
            for e in &evals {
                vals.push(e(env)?.dynamic());
            }
            env.before_write(slot, prop.as_ref())?;
            env.forget_sized();
            let limits = env.limits;
            let ops = AssignOperands { args: env.args, lits: env.lits, vals: &vals };
            let target = env.locals[slot].own()?;
            assign_walk(limits, target, &steps, &ops, op, v)?;
            Ok(Value::Unit)
        }))
    }

    /// `local.key op= rhs`: as [`assign_walk`] does it, measuring the map afterwards only when
    /// its sizes may have changed since this call last measured it ([`Env::sized`]).
    fn assign_prop(slot: usize, key: ImmutableString, op: Option<BinOp>, rhs: EvalFn) -> EvalFn {
        eval_fn(move |env| {
            let v = intern(rhs(env)?)?.dynamic();
            let measured = env.sized == Some(slot);
            // A journaled `this` (or first argument) notes what the property held, from the
            // write's own look-up, as `Env::before_write` would.
            let journaled = env.journaled(slot);
            let mut held = None;
            let limits = env.limits;
            let target = env.locals[slot].own()?;
            let done = assign_prop(limits, target, &key, op, v, measured, |old| {
                if journaled {
                    held = Some(old.cloned());
                }
            });
            if let Some(old) = held {
                env.note(Undo::Prop(key.clone(), old));
            }
            done?;
            env.sized = Some(slot);
            Ok(Value::Unit)
        })
    }

    /// An expression as a closure computing its value.
    pub(super) fn expr(&mut self, e: Expr) -> Option<EvalFn> {
        let e = match self.atom(e) {
            Ok(a) => return Some(closures::atom(a)),
            Err(e) => e,
        };
        Some(match e {
            Expr::Chain(c) => match self.chain(*c)? {
                Ok(path) => eval_fn(move |env| path.with(env, |v| Ok(v.to_owned()))),
                Err(ev) => ev,
            },
            Expr::Bin(op, x) => {
                let (lhs, rhs) = *x;
                let (a, b) = (self.access(lhs)?, self.access(rhs)?);
                closures::binary(op, a, b)
            }
            Expr::Coalesce(items) => closures::coalesce(self.accesses(items)?),
            Expr::And(items) => closures::and(self.accesses(items)?),
            Expr::Or(items) => closures::or(self.accesses(items)?),
            Expr::Array(items) => closures::array(self.accesses(items)?),
            Expr::Map(template, entries) => {
                let entries: Vec<(ImmutableString, Access)> =
                    entries.into_iter().map(|(k, e)| Some((k, self.access(e)?))).collect::<Option<_>>()?;
                closures::map(template, entries)
            }
            Expr::Neg(x) => closures::neg(self.access(*x)?),
            Expr::Not(x) => closures::not(self.access(*x)?),
            Expr::Block(stmts) => self.block(stmts)?,
            Expr::Call(f, args) => closures::call(f, self.accesses(args)?)?,
            Expr::Interp(parts) => closures::interpolation(self.accesses(parts)?),
            Expr::Now => closures::now(),
            Expr::Mutate(m) => self.mutate(*m, false)?,
            Expr::CallThis { this: Var::Local(slot), .. } if self.is_slotted(slot) => return None,
            Expr::CallThis { index, this, args } => {
                let args = self.accesses(args)?;
                eval_fn(move |env| {
                    let mut values = Vec::with_capacity(args.len() + 1);
                    for a in &args {
                        values.push(a.value(env)?.dynamic());
                    }
                    env.call_method(index, this, values)
                })
            }
            // Atoms are handled above.
            Expr::Unit | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Lit(_) | Expr::Var(_) => {
                return None;
            }
        })
    }
}

/// `local.p op= rhs` on the slotted local, `p` in slot `k`: as [`assign_prop`] does it, for a
/// slot holding a number, `bool`, character or `()` that gets one (the map holding it was
/// measured within the size limits before the call, and such a write leaves its sizes as they
/// were, so Rhai's check after the write would pass), and is left read-write. Any other write
/// gives up, and the call runs unslotted (see `slots`).
fn assign_slot(k: usize, op: Option<BinOp>, rhs: EvalFn) -> EvalFn {
    eval_fn(move |env| {
        let v = intern(rhs(env)?)?.dynamic();
        let limits = env.limits;
        let item = env.slots.get_mut(k).ok_or(Exit::Fail)?;
        if !sizeless(item) {
            return Err(Exit::Fail);
        }
        apply(limits, item, op, v)?;
        if sizeless(item) && !item.is_read_only() { Ok(Value::Unit) } else { Err(Exit::Fail) }
    })
}
