//! What a function's body assigns to (its parameters, `this`), before it is checked; the body
//! is read with [`crate::script::function_body`].

use std::collections::BTreeSet;

use rhai::{ASTNode, Expr, ImmutableString, Stmt};

use crate::script::function_body::assignment_root;

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
            true
        });
        path.clear();
    }
    names
}

/// The name `this` goes by in a method's scope (a keyword, so no variable can take it).
pub(super) const THIS: &str = "this";

/// Whether the body assigns to `this` or a part of it.
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
            true
        });
        path.clear();
    }
    found
}
