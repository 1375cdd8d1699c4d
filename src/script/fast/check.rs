//! Checking Rhai's AST: a body inside the subset becomes the checked tree ([`Expr`], [`Stmt`]);
//! anything outside it gives `None`, and the function runs in Rhai.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use rhai::{
    ASTFlags, BinaryExpr, Dynamic, Expr as AstExpr, FnCallExpr, ImmutableString, Stmt as AstStmt, Token,
};

use super::scan::THIS;
use super::tree::{
    Assign, BinOp, Builtin, Chain, ChainStep, ChainStepKind, Expr, ForLoop, LoopBody, MutMethod, Mutate,
    Root, StepArg, Stmt, TargetStep, Var,
};
use super::value::unshared;

/// How many operations Rhai may count per node of the checked tree, at most (it counts one per
/// statement, expression, index step and call): a loop-free stretch of `n` nodes counts at most
/// `n * OPS_PER_NODE + OPS_SLACK`.
pub(super) const OPS_PER_NODE: u64 = 8;
/// See [`OPS_PER_NODE`].
pub(super) const OPS_SLACK: u64 = 16;

/// The bound on the operations Rhai counts running `nodes` nodes once.
pub(super) fn ops_bound(nodes: usize) -> u64 {
    (nodes as u64).saturating_mul(OPS_PER_NODE).saturating_add(OPS_SLACK)
}

/// Checks a function body against the subset while building the checked tree: it resolves
/// names to [`Var`]s (scoping `let`s by block), pools the constants read, and counts the nodes
/// (an upper bound on the operations a call runs).
pub(super) struct Checker<'a> {
    /// Visible names, innermost last: `(name, where, is constant)`.
    pub(super) scope: Vec<(ImmutableString, Var, bool)>,
    pub(super) n_locals: usize,
    pub(super) constants: &'a [(String, Dynamic)],
    pub(super) consts: Vec<Dynamic>,
    pub(super) const_slots: BTreeMap<String, usize>,
    pub(super) script_fns: &'a BTreeSet<String>,
    pub(super) nodes: usize,
    /// In a method: the script's functions by (name, arity), as entries of its table, which
    /// `this.f(…)` may call.
    pub(super) methods: Option<&'a BTreeMap<(String, usize), usize>>,
    /// The table entries the body calls.
    pub(super) calls: BTreeSet<usize>,
}

impl Checker<'_> {
    pub(super) fn new_slot(&mut self) -> usize {
        self.n_locals += 1;
        self.n_locals - 1
    }

    pub(super) fn block(&mut self, stmts: &[AstStmt]) -> Option<Vec<Stmt>> {
        let mark = self.scope.len();
        let out = stmts.iter().map(|s| self.stmt(s)).collect::<Option<Vec<_>>>();
        self.scope.truncate(mark);
        out
    }

    pub(super) fn stmt(&mut self, stmt: &AstStmt) -> Option<Stmt> {
        self.nodes += 1;
        Some(match stmt {
            AstStmt::Noop(..) => Stmt::Noop,
            AstStmt::Expr(e) => Stmt::Expr(self.expr(e)?),
            AstStmt::FnCall(x, ..) => Stmt::Expr(self.call(x)?),
            AstStmt::Block(b) => Stmt::Block(self.block(b.statements())?),
            AstStmt::Var(x, flags, ..) => {
                if flags.contains(ASTFlags::EXPORTED) {
                    return None;
                }
                // A `const` local is read-only in Rhai's scope, but every read clones it, and
                // cloning makes a value read-write (recursively): so it behaves as a `let` here,
                // except that it cannot be assigned to.
                let constant = flags.contains(ASTFlags::CONSTANT);
                let expr = self.expr(&x.1)?;
                let slot = self.new_slot();
                self.scope.push((x.0.name.clone(), Var::Local(slot), constant));
                Stmt::Let { slot, expr }
            }
            AstStmt::Assignment(x) => {
                let (op_info, BinaryExpr { lhs, rhs }) = &**x;
                let op = match op_info.get_op_assignment_info() {
                    None => None,
                    Some((.., op, _)) => Some(BinOp::from_token(op)?),
                };
                if op.is_some_and(BinOp::is_comparison) {
                    return None;
                }
                let rhs = self.expr(rhs)?;
                let (root, steps, exprs) = self.assignment_target(lhs)?;
                let slot = match self.resolve(root)? {
                    (Var::Local(slot), false) => slot,
                    _ => return None,
                };
                Stmt::Assign(Box::new(Assign { slot, steps, exprs, op, rhs }))
            }
            AstStmt::If(x, ..) => {
                let cond = self.expr(&x.expr)?;
                let body = self.block(x.body.statements())?;
                let branch = self.block(x.branch.statements())?;
                Stmt::If(Box::new((cond, body, branch)))
            }
            AstStmt::While(x, ..) => {
                let before = self.nodes;
                let cond = match &x.expr {
                    AstExpr::Unit(..) | AstExpr::BoolConstant(true, ..) => None,
                    e => Some(self.expr(e)?),
                };
                let body = self.block(x.body.statements())?;
                Stmt::While(Box::new((cond, self.loop_body(body, before))))
            }
            AstStmt::For(x, ..) => {
                let (var, counter, flow) = &**x;
                let before = self.nodes;
                let iterable = self.expr(&flow.expr)?;
                let mark = self.scope.len();
                let counter = counter.as_ref().map(|c| {
                    let slot = self.new_slot();
                    self.scope.push((c.name.clone(), Var::Local(slot), false));
                    slot
                });
                let slot = self.new_slot();
                self.scope.push((var.name.clone(), Var::Local(slot), false));
                let body = self.block(flow.body.statements());
                self.scope.truncate(mark);
                let body = self.loop_body(body?, before);
                Stmt::For(Box::new(ForLoop { var: slot, counter, iterable, body }))
            }
            AstStmt::BreakLoop(expr, flags, ..) => {
                let value = match expr {
                    Some(e) => Some(self.expr(e)?),
                    None => None,
                };
                if flags.contains(ASTFlags::BREAK) {
                    Stmt::Break(Some(value))
                } else if value.is_none() {
                    Stmt::Break(None)
                } else {
                    return None;
                }
            }
            AstStmt::Return(expr, flags, ..) => {
                if flags.contains(ASTFlags::BREAK) {
                    // `throw`
                    Stmt::Fail
                } else {
                    Stmt::Return(match expr {
                        Some(e) => Some(self.expr(e)?),
                        None => None,
                    })
                }
            }
            _ => return None,
        })
    }

    /// A loop's body, checked from node count `before` (its condition or iterable included).
    fn loop_body(&self, body: Vec<Stmt>, before: usize) -> LoopBody {
        LoopBody { body, ops_per_round: ops_bound(self.nodes - before) }
    }

    /// `this.f(args)` for a function `f` of the script, in a method.
    fn call_this(&mut self, m: &FnCallExpr) -> Option<Expr> {
        if !m.namespace.is_empty() || m.capture_parent_scope || m.op_token.is_some() {
            return None;
        }
        let index = *self.methods?.get(&(m.name.to_string(), m.args.len()))?;
        let this = self.resolve(THIS)?.0;
        let args = self.exprs(&m.args)?;
        self.calls.insert(index);
        self.nodes += 1;
        Some(Expr::CallThis { index, this, args })
    }

    /// A chain whose last step changes an array (`push`, `pop`, `shift`): only on a place
    /// rooted at a local (or a method's `this`, held in a local), through properties and indices.
    fn mutate(
        &mut self,
        root: Root,
        read_only_root: bool,
        steps: Vec<ChainStep>,
        exprs: Vec<Expr>,
    ) -> Option<Expr> {
        let Root::Var(Var::Local(slot)) = root else { return None };
        if read_only_root {
            return None;
        }
        let mut steps = steps;
        let last = steps.pop()?;
        let ChainStepKind::Mutate(method, mut args) = last.kind else { return None };
        if last.nullish {
            return None;
        }
        let steps = target_steps(steps)?;
        let arg = args.pop();
        if !args.is_empty() {
            return None;
        }
        Some(Expr::Mutate(Box::new(Mutate { slot, steps, exprs, method, arg })))
    }

    /// The root variable's name, the steps and the step arguments of an assignment's target.
    pub(super) fn assignment_target<'e>(
        &mut self,
        lhs: &'e AstExpr,
    ) -> Option<(&'e str, Vec<TargetStep>, Vec<Expr>)> {
        match lhs {
            AstExpr::Variable(x, ..) => {
                if !x.2.is_empty() {
                    return None;
                }
                Some((x.1.as_str(), Vec::new(), Vec::new()))
            }
            AstExpr::ThisPtr(..) => Some((THIS, Vec::new(), Vec::new())),
            AstExpr::Dot(x, flags, ..) | AstExpr::Index(x, flags, ..) => {
                let root = match &x.lhs {
                    AstExpr::Variable(v, ..) if v.2.is_empty() => v.1.as_str(),
                    AstExpr::ThisPtr(..) => THIS,
                    _ => return None,
                };
                let mut steps = Vec::new();
                let mut exprs = Vec::new();
                let is_dot = matches!(lhs, AstExpr::Dot(..));
                self.flatten(is_dot, *flags, &x.rhs, &mut steps, &mut exprs)?;
                Some((root, target_steps(steps)?, exprs))
            }
            _ => None,
        }
    }

    /// Resolves a variable name: `(where, is constant)`.
    pub(super) fn resolve(&mut self, name: &str) -> Option<(Var, bool)> {
        if let Some((_, var, constant)) = self.scope.iter().rev().find(|(n, ..)| n.as_str() == name) {
            return Some((*var, *constant));
        }
        if let Some(&k) = self.const_slots.get(name) {
            return Some((Var::Const(k), true));
        }
        let (_, value) = self.constants.iter().find(|(n, _)| n == name)?;
        // A shared constant (a closure's captured variable) leaves the function to Rhai: so no
        // value a call holds is shared (its arguments and `this` are walked or vouched for as it
        // starts, and everything else is built from them, constants and literals), which lets
        // a nested call trust the `this` it is lent.
        if !unshared(value) {
            return None;
        }
        let k = self.consts.len();
        self.consts.push(value.clone());
        self.const_slots.insert(name.to_string(), k);
        Some((Var::Const(k), true))
    }

    pub(super) fn exprs(&mut self, exprs: &[AstExpr]) -> Option<Vec<Expr>> {
        exprs.iter().map(|e| self.expr(e)).collect()
    }

    pub(super) fn expr(&mut self, expr: &AstExpr) -> Option<Expr> {
        self.nodes += 1;
        Some(match expr {
            AstExpr::DynamicConstant(..)
            | AstExpr::BoolConstant(..)
            | AstExpr::IntegerConstant(..)
            | AstExpr::FloatConstant(..)
            | AstExpr::CharConstant(..)
            | AstExpr::StringConstant(..)
            | AstExpr::Unit(..) => {
                // No value the fast path holds is shared (see `Checker::resolve`).
                let value = expr.get_literal_value(None).filter(unshared)?;
                Expr::literal(value)
            }
            AstExpr::InterpolatedString(x, ..) => Expr::Interp(self.exprs(x)?),
            AstExpr::Array(x, ..) => Expr::Array(self.exprs(x)?),
            AstExpr::Map(x, ..) => {
                let template = x.1.clone();
                let entries =
                    x.0.iter()
                        .map(|(k, v)| {
                            if !template.contains_key(k.name.as_str()) {
                                return None;
                            }
                            Some((k.name.clone(), self.expr(v)?))
                        })
                        .collect::<Option<Vec<_>>>()?;
                Expr::Map(Box::new(template), entries)
            }
            AstExpr::Variable(x, short, ..) => {
                if !x.2.is_empty() {
                    return None;
                }
                let var = self.resolve(x.1.as_str())?.0;
                // The parser found a local: so must the scope here.
                if (short.is_some() || x.0.is_some()) && matches!(var, Var::Const(_)) {
                    return None;
                }
                Expr::Var(var)
            }
            // Only a method has `this` in its scope.
            AstExpr::ThisPtr(..) => Expr::Var(self.resolve(THIS)?.0),
            AstExpr::Stmt(block) => Expr::Block(self.block(block.statements())?),
            AstExpr::FnCall(x, ..) => self.call(x)?,
            AstExpr::Dot(x, flags, ..) | AstExpr::Index(x, flags, ..) => {
                let is_dot = matches!(expr, AstExpr::Dot(..));
                if is_dot
                    && !flags.contains(ASTFlags::NEGATED)
                    && matches!(x.lhs, AstExpr::ThisPtr(..))
                    && let AstExpr::MethodCall(m, ..) = &x.rhs
                    && self.script_fns.contains(m.name.as_str())
                {
                    return self.call_this(m);
                }
                let mut read_only_root = false;
                let root = match &x.lhs {
                    AstExpr::Variable(v, ..) => {
                        if !v.2.is_empty() {
                            return None;
                        }
                        let (var, constant) = self.resolve(v.1.as_str())?;
                        read_only_root = constant;
                        Root::Var(var)
                    }
                    AstExpr::ThisPtr(..) => Root::Var(self.resolve(THIS)?.0),
                    AstExpr::Property(..) | AstExpr::MethodCall(..) => return None,
                    other => Root::Expr(self.expr(other)?),
                };
                let mut steps = Vec::new();
                let mut exprs = Vec::new();
                self.flatten(is_dot, *flags, &x.rhs, &mut steps, &mut exprs)?;
                if steps.iter().any(|s| matches!(s.kind, ChainStepKind::Mutate(..))) {
                    return self.mutate(root, read_only_root, steps, exprs);
                }
                // A constant is read-only in Rhai's scope, and so is everything inside it: a method
                // that is not pure (the array `get`) fails on it there.
                if read_only_root
                    && steps.iter().any(|s| matches!(s.kind, ChainStepKind::Method(Builtin::Get, _)))
                {
                    return None;
                }
                Expr::Chain(Box::new(Chain { root, steps, exprs }))
            }
            AstExpr::And(x, ..) => Expr::And(self.exprs(x)?),
            AstExpr::Or(x, ..) => Expr::Or(self.exprs(x)?),
            AstExpr::Coalesce(x, ..) => Expr::Coalesce(self.exprs(x)?),
            _ => return None,
        })
    }

    pub(super) fn operand(&mut self, expr: &AstExpr, exprs: &mut Vec<Expr>) -> Option<StepArg> {
        Some(match self.expr(expr)? {
            Expr::Lit(value) => StepArg::Lit(value),
            Expr::Int(i) => StepArg::Lit(Dynamic::from_int(i)),
            Expr::Float(f) => StepArg::Lit(Dynamic::from_float(f)),
            Expr::Bool(b) => StepArg::Lit(Dynamic::from_bool(b)),
            Expr::Unit => StepArg::Lit(Dynamic::UNIT),
            other => {
                exprs.push(other);
                StepArg::Computed(exprs.len() - 1)
            }
        })
    }

    /// Flattens the right-hand side of a `.` (`is_dot`) or `[]` node into steps, the way Rhai's
    /// `eval_dot_index_chain_raw` walks it.
    pub(super) fn flatten(
        &mut self,
        is_dot: bool,
        flags: ASTFlags,
        rhs: &AstExpr,
        steps: &mut Vec<ChainStep>,
        exprs: &mut Vec<Expr>,
    ) -> Option<()> {
        self.nodes += 2;
        let nullish = flags.contains(ASTFlags::NEGATED);
        let chained = match rhs {
            AstExpr::Dot(y, f, ..) => Some((true, y, *f)),
            AstExpr::Index(y, f, ..) => Some((false, y, *f)),
            _ => None,
        };
        if is_dot {
            match (rhs, chained) {
                (AstExpr::Property(p, ..), _) => {
                    steps.push(ChainStep { kind: ChainStepKind::Prop(p.2.clone()), nullish });
                    Some(())
                }
                (AstExpr::MethodCall(m, ..), _) => {
                    let kind = self.method(m, exprs)?;
                    steps.push(ChainStep { kind, nullish });
                    Some(())
                }
                (_, Some((next_dot, y, f))) if !flags.contains(ASTFlags::BREAK) => {
                    let kind = match &y.lhs {
                        AstExpr::Property(p, ..) => ChainStepKind::Prop(p.2.clone()),
                        AstExpr::MethodCall(m, ..) => self.method(m, exprs)?,
                        _ => return None,
                    };
                    steps.push(ChainStep { kind, nullish });
                    self.flatten(next_dot, f, &y.rhs, steps, exprs)
                }
                _ => None,
            }
        } else {
            match chained {
                Some((next_dot, y, f)) if !flags.contains(ASTFlags::BREAK) => {
                    let idx = self.operand(&y.lhs, exprs)?;
                    steps.push(ChainStep { kind: ChainStepKind::Index(idx), nullish });
                    self.flatten(next_dot, f, &y.rhs, steps, exprs)
                }
                _ => {
                    let idx = self.operand(rhs, exprs)?;
                    steps.push(ChainStep { kind: ChainStepKind::Index(idx), nullish });
                    Some(())
                }
            }
        }
    }

    pub(super) fn method(&mut self, m: &FnCallExpr, exprs: &mut Vec<Expr>) -> Option<ChainStepKind> {
        if !m.namespace.is_empty() || m.capture_parent_scope || self.script_fns.contains(m.name.as_str()) {
            return None;
        }
        if let Some(method) = MutMethod::lookup(m.name.as_str(), m.args.len()) {
            let args = m.args.iter().map(|a| self.operand(a, exprs)).collect::<Option<Vec<_>>>()?;
            return Some(ChainStepKind::Mutate(method, args));
        }
        let builtin = Builtin::lookup(m.name.as_str(), m.args.len() + 1)?;
        let args = m.args.iter().map(|a| self.operand(a, exprs)).collect::<Option<Vec<_>>>()?;
        Some(ChainStepKind::Method(builtin, args))
    }

    pub(super) fn call(&mut self, x: &FnCallExpr) -> Option<Expr> {
        self.nodes += 1;
        if !x.namespace.is_empty() || x.capture_parent_scope {
            return None;
        }
        if let Some(token) = &x.op_token {
            return match (x.args.as_slice(), token) {
                // `a !in b` is `!contains(b, a)`, with the `!in` token on the `contains` call.
                ([a, b], Token::NotIn | Token::In) if x.name.as_str() == "contains" => {
                    if self.script_fns.contains("contains") {
                        return None;
                    }
                    Some(Expr::Call(Builtin::Contains, vec![self.expr(a)?, self.expr(b)?]))
                }
                ([a], Token::Bang) => Some(Expr::Not(Box::new(self.expr(a)?))),
                ([a], Token::Minus | Token::UnaryMinus) => Some(Expr::Neg(Box::new(self.expr(a)?))),
                ([a, b], token) => {
                    let op = BinOp::from_token(token)?;
                    let a = self.expr(a)?;
                    let b = self.expr(b)?;
                    Some(Expr::Bin(op, Box::new((a, b))))
                }
                _ => None,
            };
        }
        if self.script_fns.contains(x.name.as_str()) {
            return None;
        }
        if x.name.as_str() == "now" && x.args.is_empty() {
            return Some(Expr::Now);
        }
        let builtin = Builtin::lookup(x.name.as_str(), x.args.len())?;
        Some(Expr::Call(builtin, self.exprs(&x.args)?))
    }
}

/// A chain's steps as the steps to a place that can be written: properties and indices, none
/// nullish (`None` otherwise).
fn target_steps(steps: Vec<ChainStep>) -> Option<Vec<TargetStep>> {
    steps
        .into_iter()
        .map(|s| match (s.nullish, s.kind) {
            (false, ChainStepKind::Prop(p)) => Some(TargetStep::Prop(p)),
            (false, ChainStepKind::Index(o)) => Some(TargetStep::Index(o)),
            _ => None,
        })
        .collect()
}
