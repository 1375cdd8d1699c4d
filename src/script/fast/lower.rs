//! Lowering the checked tree to closures ([`EvalFn`]): atoms and pure chains are read in place,
//! everything else is computed by a closure.

use rhai::{Array, Dynamic, ImmutableString};

use super::access::{Access, Atom, Operand, Path, PathStep, PathStepKind, pure_binary, walk};
use super::assign::{AssignOperands, AssignStep, assign_var, assign_walk};
use super::builtins::builtin;
use super::limits::value_sizes;
use super::operators::{binary, scalar_to_string, string_value};
use super::run::{EvalFn, Exit, eval_fn};
use super::tree::{
    Assign, BinOp, Builtin, Chain, ChainStep, ChainStepKind, Expr, Root, StepArg, Stmt, TargetStep, Var,
};
use super::value::{Kind, Value, intern};

/// An operator as a closure.
pub(super) fn binary_eval_fn(op: BinOp, a: Access, b: Access) -> EvalFn {
    match (a.is_pure(), b.is_pure()) {
        (true, true) => eval_fn(move |env| pure_binary(op, &a, &b, env)),
        (true, false) => eval_fn(move |env| {
            // `a` is read in place: no side effects, so it may be read second.
            let y = b.value(env)?;
            a.with(env, |x| binary(env.limits, op, x, y.view()))
        }),
        (false, true) => eval_fn(move |env| {
            let x = a.value(env)?;
            b.with(env, |y| binary(env.limits, op, x.view(), y))
        }),
        (false, false) => eval_fn(move |env| {
            let x = a.value(env)?;
            let y = b.value(env)?;
            binary(env.limits, op, x.view(), y.view())
        }),
    }
}

/// Lowers the checked tree to closures, collecting the literals they read into one pool.
pub(super) struct Lowering {
    /// The constants-and-literals pool (the constants first, so `Var::Const(k)` is entry `k`).
    pub(super) lits: Vec<Dynamic>,
}

/// A statement or expression that yields `()`.
pub(super) fn unit() -> EvalFn {
    eval_fn(|_| Ok(Value::Unit))
}

impl Lowering {
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
                    Access::Eval(binary_eval_fn(op, a, b))
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
                    },
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some((steps, evals))
    }

    /// A chain: a `Path` when it is read in place, else a closure computing its value.
    pub(super) fn chain(&mut self, c: Chain) -> Option<Result<Path, EvalFn>> {
        let (steps, evals) = self.steps(c.steps, c.exprs)?;
        let root = match c.root {
            Root::Var(v) => Access::Atom(self.atom(Expr::Var(v)).ok()?),
            Root::Expr(e) => self.access(e)?,
        };
        Some(match (root, evals.is_empty()) {
            (Access::Atom(root), true) => Ok(Path { root, steps }),
            (root, _) => Err(eval_fn(move |env| {
                let mut vals = Vec::with_capacity(evals.len());
                for e in &evals {
                    vals.push(e(env)?.dynamic());
                }
                let base = root.value(env)?.dynamic();
                walk(&base, &steps, env, &vals, |v| Ok(v.to_owned()))
            })),
        })
    }

    pub(super) fn block(&mut self, stmts: Vec<Stmt>) -> Option<EvalFn> {
        let mut evs: Vec<EvalFn> = stmts.into_iter().map(|s| self.stmt(s)).collect::<Option<_>>()?;
        Some(match evs.len() {
            0 => unit(),
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

    pub(super) fn stmt(&mut self, s: Stmt) -> Option<EvalFn> {
        Some(match s {
            Stmt::Noop => unit(),
            Stmt::Expr(e) => self.expr(e)?,
            Stmt::Let { slot, expr } => {
                let e = self.expr(expr)?;
                eval_fn(move |env| {
                    let v = intern(e(env)?)?;
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
        })
    }

    pub(super) fn assign(&mut self, a: Assign) -> Option<EvalFn> {
        let Assign { slot, steps, exprs, op, rhs } = a;
        let rhs = self.expr(rhs)?;
        if steps.is_empty() {
            return Some(eval_fn(move |env| {
                let v = rhs(env)?;
                assign_var(env, slot, op, v)?;
                Ok(Value::Unit)
            }));
        }
        // Index operands: literals and arguments are read in place; anything else (a local
        // included, as the target local is borrowed mutably) is computed first.
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
        let steps: Vec<AssignStep> = steps
            .into_iter()
            .map(|s| {
                Some(match s {
                    TargetStep::Prop(p) => AssignStep::Prop(p),
                    TargetStep::Index(StepArg::Lit(d)) => AssignStep::Index(Operand::Atom(self.lit_atom(d)?)),
                    TargetStep::Index(StepArg::Computed(i)) => AssignStep::Index(*map.get(i)?),
                })
            })
            .collect::<Option<_>>()?;
        Some(eval_fn(move |env| {
            let v = intern(rhs(env)?)?.dynamic();
            let mut vals = Vec::with_capacity(evals.len());
            for e in &evals {
                vals.push(e(env)?.dynamic());
            }
            let limits = env.limits;
            let ops = AssignOperands { args: env.args, lits: env.lits, vals: &vals };
            let target = env.locals[slot].own()?;
            assign_walk(limits, target, &steps, &ops, op, v)?;
            Ok(Value::Unit)
        }))
    }

    pub(super) fn expr(&mut self, e: Expr) -> Option<EvalFn> {
        let e = match self.atom(e) {
            Ok(a) => {
                return Some(match a {
                    Atom::Unit => unit(),
                    Atom::Bool(b) => eval_fn(move |_| Ok(Value::Bool(b))),
                    Atom::Int(i) => eval_fn(move |_| Ok(Value::Int(i))),
                    Atom::Float(f) => eval_fn(move |_| Ok(Value::Float(f))),
                    Atom::Lit(k) => eval_fn(move |env| {
                        let lits = env.lits;
                        Ok(Value::Ref(&lits[k]))
                    }),
                    Atom::Arg(i) => eval_fn(move |env| {
                        let args = env.args;
                        Ok(Value::Ref(&args[i]))
                    }),
                    Atom::Local(i) => eval_fn(move |env| Ok(env.locals[i].copy())),
                });
            }
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
                binary_eval_fn(op, a, b)
            }
            Expr::Coalesce(items) => {
                let items = self.accesses(items)?;
                eval_fn(move |env| {
                    let mut value = Value::Unit;
                    for item in &items {
                        value = item.value(env)?;
                        if !value.view().is_unit() {
                            break;
                        }
                    }
                    Ok(value)
                })
            }
            Expr::And(items) => {
                let items = self.accesses(items)?;
                eval_fn(move |env| {
                    for item in &items {
                        if !item.get(env, |v| v.bool())? {
                            return Ok(Value::Bool(false));
                        }
                    }
                    Ok(Value::Bool(true))
                })
            }
            Expr::Or(items) => {
                let items = self.accesses(items)?;
                eval_fn(move |env| {
                    for item in &items {
                        if item.get(env, |v| v.bool())? {
                            return Ok(Value::Bool(true));
                        }
                    }
                    Ok(Value::Bool(false))
                })
            }
            Expr::Array(items) => {
                let items = self.accesses(items)?;
                eval_fn(move |env| {
                    let mut array = Array::with_capacity(items.len());
                    let mut sizes = (0, 0, 0);
                    let check = env.limits.has_data_limit();
                    for item in &items {
                        let v = item.value(env)?;
                        if check {
                            let s = value_sizes(&v)?;
                            sizes = (sizes.0 + 1 + s.0, sizes.1 + s.1, sizes.2 + s.2);
                        }
                        array.push(v.dynamic());
                    }
                    if check && !env.limits.within(sizes) {
                        return Err(Exit::Fail);
                    }
                    Ok(Value::Own(Dynamic::from_array(array)))
                })
            }
            Expr::Map(template, entries) => {
                let entries: Vec<(ImmutableString, Access)> =
                    entries.into_iter().map(|(k, e)| Some((k, self.access(e)?))).collect::<Option<_>>()?;
                eval_fn(move |env| {
                    let mut map = (*template).clone();
                    let mut sizes = (0, 0, 0);
                    let check = env.limits.has_data_limit();
                    for (key, item) in &entries {
                        let v = item.value(env)?;
                        if check {
                            let s = value_sizes(&v)?;
                            sizes = (sizes.0 + s.0, sizes.1 + 1 + s.1, sizes.2 + s.2);
                        }
                        *map.get_mut(key.as_str()).ok_or(Exit::Fail)? = v.dynamic();
                    }
                    if check && !env.limits.within(sizes) {
                        return Err(Exit::Fail);
                    }
                    Ok(Value::Own(Dynamic::from_map(map)))
                })
            }
            Expr::Neg(x) => {
                let x = self.access(*x)?;
                eval_fn(move |env| {
                    x.get(env, |v| match v.kind() {
                        Kind::Int => Ok(Value::Int(v.int()?.checked_neg().ok_or(Exit::Fail)?)),
                        Kind::Float => Ok(Value::Float(-v.float()?)),
                        _ => Err(Exit::Fail),
                    })
                })
            }
            Expr::Not(x) => {
                let x = self.access(*x)?;
                eval_fn(move |env| Ok(Value::Bool(!x.get(env, |v| v.bool())?)))
            }
            Expr::Block(stmts) => self.block(stmts)?,
            Expr::Call(f, args) => {
                let mut args = self.accesses(args)?;
                match (f, args.len()) {
                    (Builtin::Contains | Builtin::Get, 2) => {
                        let item = args.pop()?;
                        let container = args.pop()?;
                        eval_fn(move |env| {
                            let item = item.value(env)?;
                            container.get(env, |c| builtin(env.limits, f, c, Some(item.view())))
                        })
                    }
                    (_, 1) => {
                        let arg = args.pop()?;
                        eval_fn(move |env| arg.get(env, |a| builtin(env.limits, f, a, None)))
                    }
                    _ => return None,
                }
            }
            Expr::Interp(parts) => {
                let parts = self.accesses(parts)?;
                eval_fn(move |env| {
                    let mut s = String::new();
                    for part in &parts {
                        let piece = part.get(env, scalar_to_string)?;
                        s.push_str(piece.as_str());
                    }
                    env.limits.check_string(s.len())?;
                    Ok(string_value(s))
                })
            }
            // What `ScriptHost`'s `now` returns: the clock as an INT, or `()`.
            Expr::Now => eval_fn(|_| {
                Ok(match crate::script::script_clock() {
                    Some(t) => Value::Int(t),
                    None => Value::Unit,
                })
            }),
            // Atoms are handled above.
            Expr::Unit | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Lit(_) | Expr::Var(_) => {
                return None;
            }
        })
    }
}
