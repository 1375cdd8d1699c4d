//! Methods that only read one property of `this` and add or subtract a constant
//! (`fn notify_at() { this.last + GAP }`), answered without running their body: one look-up and
//! one checked addition, where the body's closures cost a call's set-up, a walk and the
//! operator's dispatch. StatefulLogic reads such a `notify_at` after every item.
//!
//! Exact or it gives up, as the rest of the fast path: [`PropReader::read`] answers only when
//! `this` is a map (not shared) holding the property as an `INT` (not shared) and the arithmetic
//! does not overflow, which is where the body would give the same `INT` (Rhai's built-in `+` and
//! `-` on two `INT`s: a fresh, untagged `INT`). Anything else (no such property, another type, an
//! overflow) runs the body, which gives the answer, or falls back to Rhai for its exact error.
//! The limits cannot be reached: the body is one expression, whose operation bound was checked
//! against `max_operations` when it was compiled (a function past it is not compiled at all),
//! and an `INT` nests no deeper and grows no size.

use rhai::{Dynamic, INT, ImmutableString};

use super::tree::{BinOp, Chain, ChainStepKind, Expr, Root, Stmt, Var};

/// A method body `this.p + c`, `c + this.p` or `this.p - c` (`c` an `INT` literal or constant).
#[derive(Debug, Clone)]
pub(super) struct PropReader {
    prop: ImmutableString,
    /// The constant, and whether it is added or subtracted.
    op: ReaderOp,
}

/// How the constant meets the property.
#[derive(Debug, Clone, Copy)]
enum ReaderOp {
    /// `this.p + c` or `c + this.p`.
    Add(INT),
    /// `this.p - c`.
    Sub(INT),
}

impl PropReader {
    /// The reader a method's checked body is, if it is one: a single expression statement
    /// `this.p + c`, `c + this.p` or `this.p - c`, with `this` read in place as argument
    /// `this_arg` (the body never writes to it) and `c` an untagged `INT` literal or one of
    /// `consts` (the script's constants, by `Var::Const` index).
    pub(super) fn of(body: &[Stmt], this_arg: usize, consts: &[Dynamic]) -> Option<PropReader> {
        let [Stmt::Expr(Expr::Bin(op, operands))] = body else { return None };
        let (lhs, rhs) = &**operands;
        let int = |e: &Expr| match e {
            Expr::Int(i) => Some(*i),
            Expr::Var(Var::Const(k)) => {
                let c = consts.get(*k)?;
                (!c.is_shared() && c.is_int()).then(|| c.as_int().ok()).flatten()
            }
            _ => None,
        };
        let prop = |e: &Expr| match e {
            Expr::Chain(chain) => this_prop(chain, this_arg),
            _ => None,
        };
        let (prop, op) = match op {
            BinOp::Add => match (prop(lhs), prop(rhs)) {
                (Some(p), None) => (p, ReaderOp::Add(int(rhs)?)),
                (None, Some(p)) => (p, ReaderOp::Add(int(lhs)?)),
                _ => return None,
            },
            BinOp::Sub => (prop(lhs)?, ReaderOp::Sub(int(rhs)?)),
            _ => return None,
        };
        Some(PropReader { prop, op })
    }

    /// What the body gives on `this`, when that is an `INT` this reader computes exactly as the
    /// body would; `None` for anything else (the body then runs).
    #[inline]
    pub(super) fn read(&self, this: &Dynamic) -> Option<INT> {
        if this.is_shared() || !this.is_map() {
            return None;
        }
        let map = this.as_map_ref().ok()?;
        let value = map.get(self.prop.as_str())?;
        if value.is_shared() || !value.is_int() {
            return None;
        }
        let value = value.as_int().ok()?;
        match self.op {
            ReaderOp::Add(c) => value.checked_add(c),
            ReaderOp::Sub(c) => value.checked_sub(c),
        }
    }
}

/// `p` when `chain` is `this.p` (one plain property step from `this`, argument `this_arg`).
fn this_prop(chain: &Chain, this_arg: usize) -> Option<ImmutableString> {
    let Chain { root: Root::Var(Var::Arg(arg)), steps, exprs } = chain else { return None };
    if *arg != this_arg || !exprs.is_empty() {
        return None;
    }
    match steps.as_slice() {
        [step] if !step.nullish => match &step.kind {
            ChainStepKind::Prop(p) => Some(p.clone()),
            _ => None,
        },
        _ => None,
    }
}
