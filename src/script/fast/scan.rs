//! What a function's body assigns to (its parameters, `this`), before it is checked; the body
//! is read with [`crate::script::function_body`].

use std::collections::BTreeSet;

use rhai::{ASTNode, Expr, ImmutableString, Stmt};

use crate::script::function_body::assignment_root;

use super::tree::MutMethod;

/// Whether a chain's steps (the right-hand side of a `.` or `[]`) call a method that changes
/// the array it is called on (`push`, `pop`, `shift`).
fn calls_mutation(rhs: &Expr) -> bool {
    match rhs {
        Expr::MethodCall(m, ..) => MutMethod::is_named(m.name.as_str()),
        Expr::Dot(y, ..) | Expr::Index(y, ..) => calls_mutation(&y.lhs) || calls_mutation(&y.rhs),
        _ => false,
    }
}

/// The root of a chain that changes an array in place (`list.push(x)`, `this.items.shift()`):
/// the chain's left-hand side.
fn mutated_root<'n>(node: &ASTNode<'n>) -> Option<&'n Expr> {
    match node {
        ASTNode::Expr(Expr::Dot(x, ..) | Expr::Index(x, ..)) if calls_mutation(&x.rhs) => Some(&x.lhs),
        _ => None,
    }
}

/// The script functions a body calls as methods of `this` (`this.f(…)`), by (name, arity).
pub(super) fn this_calls(body: &[Stmt]) -> BTreeSet<(String, usize)> {
    let mut calls = BTreeSet::new();
    let mut path = Vec::new();
    for stmt in body {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            if let Some(ASTNode::Expr(Expr::Dot(x, ..))) = nodes.last()
                && matches!(x.lhs, Expr::ThisPtr(..))
                && let Expr::MethodCall(m, ..) = &x.rhs
            {
                calls.insert((m.name.to_string(), m.args.len()));
            }
            true
        });
        path.clear();
    }
    calls
}

/// The names of parameters that the body assigns to (directly or through a property or index).
pub(super) fn mutated_params(body: &[Stmt], params: &[ImmutableString]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut path = Vec::new();
    for stmt in body {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            if let Some(ASTNode::Stmt(Stmt::Assignment(x))) = nodes.last()
                && let Some(root) = assignment_root(&x.1.lhs)
                && params.iter().any(|p| p.as_str() == root)
            {
                names.insert(root.to_string());
            }
            if let Some(Expr::Variable(v, ..)) = nodes.last().and_then(mutated_root)
                && params.iter().any(|p| p.as_str() == v.1.as_str())
            {
                names.insert(v.1.to_string());
            }
            true
        });
        path.clear();
    }
    names
}

/// The name `this` goes by in a method's scope (a keyword, so no variable can take it).
pub(super) const THIS: &str = "this";

/// Whether the body assigns to `this` or a part of it, or changes an array in it (`push`, …).
/// (Calls of the script's functions that do are not seen here.)
pub(super) fn assigns_this(body: &[Stmt]) -> bool {
    pub(super) fn rooted_at_this(lhs: &Expr) -> bool {
        match lhs {
            Expr::ThisPtr(..) => true,
            Expr::Dot(x, ..) | Expr::Index(x, ..) => rooted_at_this(&x.lhs),
            _ => false,
        }
    }
    let mut found = false;
    let mut path = Vec::new();
    for stmt in body {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            if let Some(ASTNode::Stmt(Stmt::Assignment(x))) = nodes.last()
                && rooted_at_this(&x.1.lhs)
            {
                found = true;
            }
            if let Some(Expr::ThisPtr(..)) = nodes.last().and_then(mutated_root) {
                found = true;
            }
            true
        });
        path.clear();
    }
    found
}
