//! Reading a script function's body out of Rhai's AST: the one place, besides the fast path's
//! lowering, that knows how a body and an assignment's target look there. The fast path
//! ([`super::fast`]) and the field-use analysis ([`super::param_fields`]) both read bodies
//! through it.

use rhai::{AST, ASTNode, Expr, Stmt};

/// The statements of the body of `name/arity`.
///
/// The body's type is not exported by Rhai, so the statements are read by walking an AST that
/// holds only that function.
pub(super) fn body_statements(ast: &AST, name: &str, arity: usize) -> Vec<Stmt> {
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

/// The variable an assignment's target is rooted at: `x` for `x = …`, `x.a[0] = …`; `None`
/// when it is rooted elsewhere (`this`, a call's result).
pub(super) fn assignment_root(lhs: &Expr) -> Option<&str> {
    match lhs {
        Expr::Variable(x, ..) => Some(x.1.as_str()),
        Expr::Dot(x, ..) | Expr::Index(x, ..) => assignment_root(&x.lhs),
        _ => None,
    }
}
