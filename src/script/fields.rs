//! Which fields of a parameter a script function can read: what lets a source leave out of
//! its records the fields no step reads (`EngineOptions::prune_fields`) when the steps are
//! scripted.
//!
//! The analysis is conservative. A parameter is read *by fields* only when every use of it in
//! the function's body is the root of a property read `p.field` (or `p?.field`, and whatever
//! follows, `p.field.x[0]`) or of an index read with a string literal `p["field"]`. Any other
//! use — the bare variable (`return p`, `f(p)`, `"x" in p`, `${p}`), a method call on it
//! (`p.len()`, `p.get("x")`), an index that is not a string literal, an assignment to it or to
//! a part of it, a local or loop variable of the same name, a call that shares the caller's
//! scope (`f!()`), a closure capturing it — makes the answer "the whole value".

use std::collections::BTreeSet;

use rhai::{AST, ASTFlags, ASTNode, Expr, Stmt};

use super::function_body::{assignment_root, body_statements};

/// The fields of parameter `index` of `name/arity` that the function can read, or `None`
/// when it may read the whole value (or the function is not found). An empty set means the
/// parameter is never used.
pub fn param_fields(ast: &AST, name: &str, arity: usize, index: usize) -> Option<BTreeSet<String>> {
    let def = ast.iter_fn_def().find(|f| f.name == name && f.params.len() == arity)?;
    let param = def.params.get(index)?.clone();
    let body = body_statements(ast, name, arity);
    let mut fields = BTreeSet::new();
    let mut whole = false;
    let mut path = Vec::new();
    for stmt in &body {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            match nodes.last() {
                Some(ASTNode::Stmt(stmt)) if stmt_hides_or_changes(stmt, param.as_str()) => whole = true,
                Some(ASTNode::Expr(expr)) => match expr {
                    Expr::Variable(x, ..) if x.2.is_empty() && x.1.as_str() == param.as_str() => {
                        let parent = nodes.len().checked_sub(2).and_then(|i| nodes.get(i));
                        match parent.and_then(|p| field_read(p, expr)) {
                            Some(field) => {
                                fields.insert(field);
                            }
                            None => whole = true,
                        }
                    }
                    Expr::FnCall(x, ..) if x.capture_parent_scope => whole = true,
                    _ => {}
                },
                _ => {}
            }
            !whole
        });
        path.clear();
        if whole {
            return None;
        }
    }
    Some(fields)
}

/// Whether a statement declares a variable named `param` (hiding the parameter), assigns to
/// the parameter or a part of it, calls a function with the caller's scope (`f!()`), or
/// shares or exports variables (closures, modules).
fn stmt_hides_or_changes(stmt: &Stmt, param: &str) -> bool {
    match stmt {
        Stmt::Var(x, ..) => x.0.name.as_str() == param,
        Stmt::For(x, ..) => {
            x.0.name.as_str() == param || x.1.as_ref().is_some_and(|c| c.name.as_str() == param)
        }
        Stmt::TryCatch(x, ..) => match &x.expr {
            Expr::Variable(v, ..) => v.1.as_str() == param,
            _ => false,
        },
        Stmt::Assignment(x) => assignment_root(&x.1.lhs).is_none_or(|root| root == param),
        Stmt::FnCall(x, ..) => x.capture_parent_scope,
        Stmt::Share(..) | Stmt::Import(..) | Stmt::Export(..) => true,
        _ => false,
    }
}

/// The field read when `var` is the object of `parent`, a property read or an index read
/// with a string literal; `None` for any other use.
fn field_read(parent: &ASTNode, var: &Expr) -> Option<String> {
    let ASTNode::Expr(parent) = parent else { return None };
    match parent {
        Expr::Dot(x, flags, ..) if std::ptr::eq(&x.lhs, var) => {
            let first = match &x.rhs {
                Expr::Dot(y, ..) | Expr::Index(y, ..) if !flags.contains(ASTFlags::BREAK) => &y.lhs,
                other => other,
            };
            match first {
                Expr::Property(p, ..) => Some(p.2.to_string()),
                _ => None,
            }
        }
        Expr::Index(x, flags, ..) if std::ptr::eq(&x.lhs, var) => {
            let first = match &x.rhs {
                Expr::Dot(y, ..) | Expr::Index(y, ..) if !flags.contains(ASTFlags::BREAK) => &y.lhs,
                other => other,
            };
            match first {
                Expr::StringConstant(s, ..) => Some(s.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(source: &str, index: usize) -> Option<Vec<String>> {
        let host = crate::script::ScriptHost::default();
        let ast = host.engine().compile(source).unwrap();
        let def = ast.iter_fn_def().find(|f| f.name == "f" || f.name == "mapper").unwrap();
        let (name, arity) = (def.name.to_string(), def.params.len());
        param_fields(&ast, &name, arity, index).map(|s| s.into_iter().collect())
    }

    fn set(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn field_reads_are_found() {
        assert_eq!(fields("fn mapper(s, v) { let n = (s ?? 0) + 1; [n, n] }", 1), set(&[]));
        assert_eq!(fields("fn mapper(s, v) { let n = (s ?? 0) + 1; [n, n] }", 0), None);
        assert_eq!(fields("fn f(acc, e) { acc + e.value }", 1), set(&["value"]));
        assert_eq!(
            fields("fn f(e) { e.a.b + e[\"c\"] + e?.d + e.f[0] + e[\"g\"].h }", 0),
            set(&["a", "c", "d", "f", "g"])
        );
        assert_eq!(
            fields("fn f(e) { if e.kind == \"x\" { e.value } else { 0 } }", 0),
            set(&["kind", "value"])
        );
    }

    #[test]
    fn any_other_use_is_whole() {
        for source in [
            "fn f(e) { e }",
            "fn f(e) { e.len() }",
            "fn f(e) { e.get(\"x\") }",
            "fn f(e) { \"x\" in e }",
            "fn f(e) { `${e}` }",
            "fn f(e) { let k = \"a\"; e[k] }",
            "fn f(e) { e[0] }",
            "fn f(e) { e.a = 1; e.a }",
            "fn f(e) { e.a += 1; 0 }",
            "fn f(e) { e = #{}; e.a }",
            "fn f(e) { let e = #{a: 1}; e.a }",
            "fn f(e) { for e in [1, 2] { print(e.a) } 0 }",
            "fn f(e) { try { throw e.a } catch (e) { e } }",
            "fn f(e) { g(e) } fn g(x) { x }",
            "fn f(e) { g!() } fn g() { e }",
            "fn f(e) { let c = || e.a; c.call() }",
            "fn f(e) { print(e); 0 }",
            "fn f(e) { e.a.b.len() + e.len() }",
        ] {
            assert_eq!(fields(source, 0), None, "{source}");
        }
    }
}
