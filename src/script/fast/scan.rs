//! Reading a function's body out of Rhai's AST, and what it assigns to, before it is checked
//! (also used by [`param_fields`](crate::script::param_fields)).

use std::collections::BTreeSet;

use rhai::{AST, ASTNode, Expr, ImmutableString, Stmt};

/// The statements of the body of `name/arity`.
///
/// The body's type is not exported by Rhai, so the statements are read by walking an AST that
/// holds only that function.
pub(in crate::script) fn body_statements(ast: &AST, name: &str, arity: usize) -> Vec<Stmt> {
    let mut only = ast.clone();
    only.clear_statements();
    only.retain_functions(|_, _, n, a| n == name && a == arity);
    let mut body = Vec::new();
    only.walk(&mut |path: &[ASTNode]| {
        if let [ASTNode::Stmt(stmt)] = path {
            body.push((*stmt).clone());
        }
        true
    });
    body
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

pub(in crate::script) fn assignment_root(lhs: &Expr) -> Option<&str> {
    match lhs {
        Expr::Variable(x, ..) => Some(x.1.as_str()),
        Expr::Dot(x, ..) | Expr::Index(x, ..) => assignment_root(&x.lhs),
        _ => None,
    }
}
