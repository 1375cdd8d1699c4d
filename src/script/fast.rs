//! A fast path for simple script functions: a function whose body uses only a small, loop-free
//! subset of Rhai is compiled once, from the optimized AST, into a tree of closures that runs
//! without Rhai's AST walker and its per-call set-up.
//!
//! The fast path is exact or it gives up: [`FastFn::compile`] returns `None` for a body that uses
//! anything outside the subset, and [`FastFn::call`] returns `Err(())` for any run-time case it
//! does not reproduce exactly (every error, an unsupported type, a value that Rhai would treat
//! specially). The caller then runs the same call through Rhai, which gives the exact result or
//! error. So a fast-path `Ok` is the value Rhai would return: same types (`INT` stays `INT`),
//! values, tags and read-only flags, nested values included.
//!
//! # The subset
//!
//! * literals (`INT`, `FLOAT`, `bool`, string, char, `()`), array literals `[a, b]`, object map
//!   literals `#{a: x, "b": y}`, interpolated strings of scalars;
//! * parameters, `let` and `const` locals (shadowing, block scoping), the script's top-level
//!   constants, assignment and op-assignment (`=`, `+=`, `-=`, `*=`, `/=`, `%=`, `**=`, `&=`,
//!   `|=`, `^=`, `<<=`, `>>=`) to locals and parameters, and to properties and indices of them
//!   (`m.total += v`, `a[0] = 1`, `m.a.b = x`, `m["k"] = x`, `list += item`);
//! * property reads `e.value`, `e.a.b`, `e?.a`; index reads `a[i]` (negative `i` counts from the
//!   end), `m["k"]`, `s[i]` (a character), `n[i]` (a bit);
//! * `+ - * / % **`, unary `-`, `!`, `== != < <= > >=`, `& | ^ << >>`, `&&`, `||`, `??`,
//!   `in` / `!in`, on the types and with the semantics of Rhai's built-in operators (checked `INT`
//!   arithmetic, `INT`/`FLOAT` mixing, float comparisons with Rhai's relative tolerance, string
//!   and character concatenation, a string plus a number or `bool`, comparisons between different
//!   types);
//! * `if` / `else if` / `else` as statements and expressions, blocks as expressions, `return`,
//!   `throw` (which always falls back);
//! * the built-in functions `len`, `is_empty`, `contains`, `get`, `abs`, `to_string` and
//!   `type_of`, in function-call or method-call form, and Eddy's `now()`, unless the script
//!   defines a function of that name;
//! * in a method (compiled with [`FastFn::compile_method_with_limits`], called with `this`
//!   bound, as StatefulLogic's `on_item`, `on_notify`, `notify_at`, … are): `this`, its
//!   properties and indices, read and assigned, as a parameter would be.
//!
//! Loops, `switch`, `try`, closures, `this` outside a method, calls to script-defined or other
//! registered functions (`print`, `secs(…)`, …), `import`, namespaced names, variables that are
//! not parameters, locals or constants, and anything else make [`FastFn::compile`] return
//! `None`, so a compiled body always terminates.
//!
//! # What the engine must be like
//!
//! The fast path reproduces Rhai's standard packages and built-in operators. It assumes the
//! engine the script runs in (Eddy's `ScriptHost`) keeps Rhai's defaults for fast operators and
//! variable shadowing, registers no operator overloads and no functions named like the built-ins
//! above, and has the limits given to [`FastFn::compile_with_limits`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rhai::{
    AST, ASTFlags, ASTNode, Array, BinaryExpr, Dynamic, Expr, FLOAT, FloatWrapper, FnCallExpr, INT,
    ImmutableString, Map, Stmt, Token,
};

/// The engine's data-size and operation limits, which the fast path must respect: a value that
/// would grow past a limit makes the call fall back to Rhai (which reports the error).
///
/// `0` means "no limit", as in Rhai.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastLimits {
    /// Bytes in one string (`Engine::set_max_string_size`).
    pub max_string_size: usize,
    /// Elements in one array, nested arrays included (`Engine::set_max_array_size`).
    pub max_array_size: usize,
    /// Entries in one object map, nested maps included (`Engine::set_max_map_size`).
    pub max_map_size: usize,
    /// Operations one call may run (`Engine::set_max_operations`).
    pub max_operations: u64,
}

impl Default for FastLimits {
    /// Eddy's default limits (`ScriptLimits::default()`).
    fn default() -> Self {
        Self {
            max_string_size: 16 * 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
            max_operations: 10_000_000,
        }
    }
}

impl FastLimits {
    fn has_data_limit(&self) -> bool {
        self.max_string_size != 0 || self.max_array_size != 0 || self.max_map_size != 0
    }

    /// Whether sizes `(array elements, map entries, string bytes)` are within the limits.
    fn within(&self, (arrays, maps, strings): Sizes) -> bool {
        !(exceeds(strings, self.max_string_size)
            || exceeds(arrays, self.max_array_size)
            || exceeds(maps, self.max_map_size))
    }
}

fn exceeds(size: usize, max: usize) -> bool {
    max != 0 && size > max
}

/// A script function compiled to the fast path.
#[derive(Clone)]
pub struct FastFn {
    inner: Arc<Compiled>,
}

impl std::fmt::Debug for FastFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastFn")
            .field("arity", &self.inner.arity)
            .field("locals", &self.inner.n_locals)
            .finish_non_exhaustive()
    }
}

impl FastFn {
    /// Compiles `name` with `arity` params from the AST, or None when the body uses anything outside the subset
    /// (the caller then uses Rhai). `constants` are the script's top-level constants (name → value), which the
    /// body may read as variables (Rhai's optimizer usually inlines them already).
    ///
    /// Uses Eddy's default limits ([`FastLimits::default`]); see [`FastFn::compile_with_limits`].
    pub fn compile(ast: &AST, name: &str, arity: usize, constants: &[(String, Dynamic)]) -> Option<FastFn> {
        Self::compile_with_limits(ast, name, arity, constants, FastLimits::default())
    }

    /// Like [`FastFn::compile`], with the engine's limits.
    ///
    /// `constants` must be what a variable of that name would find in the `Scope` the function is
    /// called with: for each name, the scope's last entry of that name, and only when that entry
    /// is a constant (a non-constant variable can change between calls: leave its name out, so
    /// that a function reading it is not compiled).
    pub fn compile_with_limits(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: FastLimits,
    ) -> Option<FastFn> {
        Self::compile_inner(ast, name, arity, constants, limits, false)
    }

    /// Like [`FastFn::compile_with_limits`], for a function called with `this` bound to a value
    /// (a StatefulLogic method): the body may read `this`, its properties and indices, and
    /// assign to them. Run it with [`FastFn::call_this`].
    pub fn compile_method_with_limits(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: FastLimits,
    ) -> Option<FastFn> {
        Self::compile_inner(ast, name, arity, constants, limits, true)
    }

    fn compile_inner(
        ast: &AST,
        name: &str,
        arity: usize,
        constants: &[(String, Dynamic)],
        limits: FastLimits,
        method: bool,
    ) -> Option<FastFn> {
        let def = ast.iter_fn_def().find(|f| f.name == name && f.params.len() == arity)?;
        if def.this_type.is_some() {
            return None;
        }
        let params: Vec<ImmutableString> = def.params.iter().cloned().collect();
        let body = body_statements(ast, name, arity);
        let script_fns: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        let mutated = mutated_params(&body, &params);

        let mut compiler = Compiler {
            scope: Vec::new(),
            n_locals: 0,
            constants,
            consts: Vec::new(),
            const_slots: BTreeMap::new(),
            script_fns: &script_fns,
            nodes: 0,
        };
        let mut param_copies = Vec::new();
        for (i, p) in params.iter().enumerate() {
            let var = if mutated.contains(p.as_str()) {
                let slot = compiler.new_slot();
                param_copies.push((i, slot));
                Var::Local(slot)
            } else {
                Var::Arg(i)
            };
            compiler.scope.push((p.clone(), var, false));
        }
        // `this` is one argument more, after the parameters (a keyword: no name can hide it).
        if method {
            let var = if assigns_this(&body) {
                let slot = compiler.new_slot();
                param_copies.push((arity, slot));
                Var::Local(slot)
            } else {
                Var::Arg(arity)
            };
            compiler.scope.push((THIS.into(), var, false));
        }
        let body = compiler.block(&body)?;

        // A loop-free body runs each node at most once; Rhai counts an operation per statement,
        // expression, index step and call, so this bound is generous.
        let bound = (compiler.nodes as u64).saturating_mul(8).saturating_add(16);
        if limits.max_operations != 0 && bound > limits.max_operations {
            return None;
        }

        let mut lower = Lower { lits: compiler.consts };
        let body = lower.block(body)?;
        Some(FastFn {
            inner: Arc::new(Compiled {
                arity,
                method,
                n_locals: compiler.n_locals,
                param_copies,
                lits: lower.lits,
                limits,
                body,
            }),
        })
    }

    /// Runs it. Args are taken by reference (not consumed). Err(()) means "a runtime case the fast path does not
    /// reproduce exactly (any error, an unsupported type at run time, …)": the caller then re-runs the same call in
    /// Rhai with the same args to get Rhai's exact result or error message. So never return a wrong Ok: when in
    /// doubt, Err(()).
    #[expect(clippy::result_unit_err, reason = "Err(()) only means: run it in Rhai instead")]
    pub fn call(&self, args: &[Dynamic]) -> Result<Dynamic, ()> {
        if self.inner.method {
            return Err(());
        }
        self.call_args(args).map(|(value, _)| value)
    }

    /// Runs a function compiled with [`FastFn::compile_method_with_limits`], `this` bound to
    /// `this`. On `Ok`, `this` holds what the body left in it, as in Rhai; on `Err`, `this` is
    /// as it was and the arguments are handed back, for the caller to run the call in Rhai.
    pub fn call_this(&self, this: &mut Dynamic, mut args: Vec<Dynamic>) -> Result<Dynamic, Vec<Dynamic>> {
        if !self.inner.method {
            return Err(args);
        }
        args.push(std::mem::take(this));
        match self.call_args(&args) {
            Ok((value, left)) => {
                // The body assigned to `this` (or a part of it): its copy is the new value.
                let given = args.pop();
                *this = match left {
                    Some(left) => left,
                    None => given.unwrap_or(Dynamic::UNIT),
                };
                Ok(value)
            }
            Err(()) => {
                *this = args.pop().unwrap_or(Dynamic::UNIT);
                Err(args)
            }
        }
    }

    /// Runs the body over `args` (`this` last for a method): its value, and for a method whose
    /// body assigned to `this`, what it left there (`None`: `this` is the argument, unchanged).
    fn call_args(&self, args: &[Dynamic]) -> Result<(Dynamic, Option<Dynamic>), ()> {
        let f = &*self.inner;
        // Shared values (closure captures) are never reproduced.
        if args.len() != f.arity + usize::from(f.method) || !args.iter().all(unshared) {
            return Err(());
        }
        match f.n_locals {
            0 => f.run(args, &mut []),
            1 => f.run(args, &mut [V::Unit]),
            2 => f.run(args, &mut [V::Unit, V::Unit]),
            3..=4 => {
                let mut buf = [const { V::Unit }; 4];
                f.run(args, &mut buf[..f.n_locals])
            }
            5..=8 => {
                let mut buf = [const { V::Unit }; 8];
                f.run(args, &mut buf[..f.n_locals])
            }
            _ => {
                let mut buf: Vec<V<'_>> = (0..f.n_locals).map(|_| V::Unit).collect();
                f.run(args, &mut buf)
            }
        }
    }
}

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

/// The names of parameters that the body assigns to (directly or through a property or index).
fn mutated_params(body: &[Stmt], params: &[ImmutableString]) -> BTreeSet<String> {
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
const THIS: &str = "this";

/// Whether the body assigns to `this` or a part of it.
fn assigns_this(body: &[Stmt]) -> bool {
    fn rooted_at_this(lhs: &Expr) -> bool {
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

pub(super) fn assignment_root(lhs: &Expr) -> Option<&str> {
    match lhs {
        Expr::Variable(x, ..) => Some(x.1.as_str()),
        Expr::Dot(x, ..) | Expr::Index(x, ..) => assignment_root(&x.lhs),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The checked tree: the body, checked to be in the subset, with variables resolved to slots
// (lowered to closures further down)

/// Where a variable lives at run time.
#[derive(Debug, Clone, Copy)]
enum Var {
    /// A parameter the body never assigns to: read from the arguments.
    Arg(usize),
    /// A local (or a parameter copied into a local because the body assigns to it).
    Local(usize),
    /// A top-level constant.
    Const(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinOp {
    fn from_token(token: &Token) -> Option<BinOp> {
        Some(match token {
            Token::Plus => BinOp::Add,
            Token::Minus => BinOp::Sub,
            Token::Multiply => BinOp::Mul,
            Token::Divide => BinOp::Div,
            Token::Modulo => BinOp::Rem,
            Token::PowerOf => BinOp::Pow,
            Token::EqualsTo => BinOp::Eq,
            Token::NotEqualsTo => BinOp::Ne,
            Token::LessThan => BinOp::Lt,
            Token::LessThanEqualsTo => BinOp::Le,
            Token::GreaterThan => BinOp::Gt,
            Token::GreaterThanEqualsTo => BinOp::Ge,
            Token::Ampersand => BinOp::BitAnd,
            Token::Pipe => BinOp::BitOr,
            Token::XOr => BinOp::BitXor,
            Token::LeftShift => BinOp::Shl,
            Token::RightShift => BinOp::Shr,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

/// Built-in functions the fast path reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Len,
    IsEmpty,
    Contains,
    Abs,
    ToString,
    TypeOf,
    Get,
}

impl Builtin {
    /// The built-in `name` taking `arity` arguments (the object of a method call included).
    fn lookup(name: &str, arity: usize) -> Option<Builtin> {
        Some(match (name, arity) {
            ("len", 1) => Builtin::Len,
            ("is_empty", 1) => Builtin::IsEmpty,
            ("contains", 2) => Builtin::Contains,
            ("abs", 1) => Builtin::Abs,
            ("to_string", 1) => Builtin::ToString,
            ("type_of", 1) => Builtin::TypeOf,
            ("get", 2) => Builtin::Get,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Builtin::Len => "len",
            Builtin::IsEmpty => "is_empty",
            Builtin::Contains => "contains",
            Builtin::Abs => "abs",
            Builtin::ToString => "to_string",
            Builtin::TypeOf => "type_of",
            Builtin::Get => "get",
        }
    }
}

/// An argument of an index or method step: a literal, or the n-th value computed before the
/// chain is walked.
#[derive(Debug)]
enum Operand {
    Lit(Dynamic),
    Val(usize),
}

#[derive(Debug)]
enum StepKind {
    Prop(ImmutableString),
    Index(Operand),
    Method(Builtin, Vec<Operand>),
}

#[derive(Debug)]
struct Step {
    kind: StepKind,
    /// `?.` / `?[`: a `()` object makes the whole chain `()`.
    nullish: bool,
}

#[derive(Debug)]
enum Root {
    Var(Var),
    Expr(E),
}

#[derive(Debug)]
struct Chain {
    root: Root,
    steps: Vec<Step>,
    /// Index and method arguments that are not literals, in the order the steps use them.
    exprs: Vec<E>,
}

/// An expression.
#[derive(Debug)]
enum E {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    /// Any other literal (a string, character, array or map).
    Lit(Dynamic),
    Var(Var),
    Array(Vec<E>),
    Map(Box<Map>, Vec<(ImmutableString, E)>),
    Chain(Box<Chain>),
    Neg(Box<E>),
    Not(Box<E>),
    Bin(BinOp, Box<(E, E)>),
    And(Vec<E>),
    Or(Vec<E>),
    Coalesce(Vec<E>),
    Block(Vec<S>),
    Call(Builtin, Vec<E>),
    Interp(Vec<E>),
    /// `now()`: the run's clock (Eddy's registered function), `()` when there is none.
    Now,
}

impl E {
    fn is_atom(&self) -> bool {
        matches!(self, E::Unit | E::Bool(_) | E::Int(_) | E::Float(_) | E::Lit(_) | E::Var(_))
    }
}

#[derive(Debug)]
enum PStep {
    Prop(ImmutableString),
    Index(Operand),
}

#[derive(Debug)]
struct Assign {
    slot: usize,
    steps: Vec<PStep>,
    exprs: Vec<E>,
    op: Option<BinOp>,
    rhs: E,
}

/// A statement.
#[derive(Debug)]
enum S {
    Noop,
    Expr(E),
    Let {
        slot: usize,
        expr: E,
    },
    Assign(Box<Assign>),
    If(Box<(E, Vec<S>, Vec<S>)>),
    Block(Vec<S>),
    Return(Option<E>),
    /// `throw`: always falls back to Rhai.
    Fail,
}

struct Compiled {
    arity: usize,
    n_locals: usize,
    /// Called with `this` bound: it is the argument after the parameters.
    method: bool,
    /// `(parameter, local slot)`: parameters the body assigns to, held in locals.
    param_copies: Vec<(usize, usize)>,
    /// Top-level constants and literals, read by index.
    lits: Vec<Dynamic>,
    limits: FastLimits,
    body: Ev,
}

// ---------------------------------------------------------------------------------------------
// Checking the AST (a body outside the subset gives `None`)

struct Compiler<'a> {
    /// Visible names, innermost last: `(name, where, is constant)`.
    scope: Vec<(ImmutableString, Var, bool)>,
    n_locals: usize,
    constants: &'a [(String, Dynamic)],
    consts: Vec<Dynamic>,
    const_slots: BTreeMap<String, usize>,
    script_fns: &'a BTreeSet<String>,
    nodes: usize,
}

impl Compiler<'_> {
    fn new_slot(&mut self) -> usize {
        self.n_locals += 1;
        self.n_locals - 1
    }

    fn block(&mut self, stmts: &[Stmt]) -> Option<Vec<S>> {
        let mark = self.scope.len();
        let out = stmts.iter().map(|s| self.stmt(s)).collect::<Option<Vec<_>>>();
        self.scope.truncate(mark);
        out
    }

    fn stmt(&mut self, stmt: &Stmt) -> Option<S> {
        self.nodes += 1;
        Some(match stmt {
            Stmt::Noop(..) => S::Noop,
            Stmt::Expr(e) => S::Expr(self.expr(e)?),
            Stmt::FnCall(x, ..) => S::Expr(self.call(x)?),
            Stmt::Block(b) => S::Block(self.block(b.statements())?),
            Stmt::Var(x, flags, ..) => {
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
                S::Let { slot, expr }
            }
            Stmt::Assignment(x) => {
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
                S::Assign(Box::new(Assign { slot, steps, exprs, op, rhs }))
            }
            Stmt::If(x, ..) => {
                let cond = self.expr(&x.expr)?;
                let body = self.block(x.body.statements())?;
                let branch = self.block(x.branch.statements())?;
                S::If(Box::new((cond, body, branch)))
            }
            Stmt::Return(expr, flags, ..) => {
                if flags.contains(ASTFlags::BREAK) {
                    // `throw`
                    S::Fail
                } else {
                    S::Return(match expr {
                        Some(e) => Some(self.expr(e)?),
                        None => None,
                    })
                }
            }
            _ => return None,
        })
    }

    /// The root variable's name, the steps and the step arguments of an assignment's target.
    fn assignment_target<'e>(&mut self, lhs: &'e Expr) -> Option<(&'e str, Vec<PStep>, Vec<E>)> {
        match lhs {
            Expr::Variable(x, ..) => {
                if !x.2.is_empty() {
                    return None;
                }
                Some((x.1.as_str(), Vec::new(), Vec::new()))
            }
            Expr::ThisPtr(..) => Some((THIS, Vec::new(), Vec::new())),
            Expr::Dot(x, flags, ..) | Expr::Index(x, flags, ..) => {
                let root = match &x.lhs {
                    Expr::Variable(v, ..) if v.2.is_empty() => v.1.as_str(),
                    Expr::ThisPtr(..) => THIS,
                    _ => return None,
                };
                let mut steps = Vec::new();
                let mut exprs = Vec::new();
                let is_dot = matches!(lhs, Expr::Dot(..));
                self.flatten(is_dot, *flags, &x.rhs, &mut steps, &mut exprs)?;
                let steps = steps
                    .into_iter()
                    .map(|s| match (s.nullish, s.kind) {
                        (false, StepKind::Prop(p)) => Some(PStep::Prop(p)),
                        (false, StepKind::Index(o)) => Some(PStep::Index(o)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some((root, steps, exprs))
            }
            _ => None,
        }
    }

    /// Resolves a variable name: `(where, is constant)`.
    fn resolve(&mut self, name: &str) -> Option<(Var, bool)> {
        if let Some((_, var, constant)) = self.scope.iter().rev().find(|(n, ..)| n.as_str() == name) {
            return Some((*var, *constant));
        }
        if let Some(&k) = self.const_slots.get(name) {
            return Some((Var::Const(k), true));
        }
        let (_, value) = self.constants.iter().find(|(n, _)| n == name)?;
        let k = self.consts.len();
        self.consts.push(value.clone());
        self.const_slots.insert(name.to_string(), k);
        Some((Var::Const(k), true))
    }

    fn exprs(&mut self, exprs: &[Expr]) -> Option<Vec<E>> {
        exprs.iter().map(|e| self.expr(e)).collect()
    }

    fn lit(value: Dynamic) -> E {
        if value.tag() == 0 {
            if value.is_int() {
                if let Ok(i) = value.as_int() {
                    return E::Int(i);
                }
            } else if value.is_float() {
                if let Ok(f) = value.as_float() {
                    return E::Float(f);
                }
            } else if value.is_bool() {
                if let Ok(b) = value.as_bool() {
                    return E::Bool(b);
                }
            } else if value.is_unit() {
                return E::Unit;
            }
        }
        E::Lit(value)
    }

    fn expr(&mut self, expr: &Expr) -> Option<E> {
        self.nodes += 1;
        Some(match expr {
            Expr::DynamicConstant(..)
            | Expr::BoolConstant(..)
            | Expr::IntegerConstant(..)
            | Expr::FloatConstant(..)
            | Expr::CharConstant(..)
            | Expr::StringConstant(..)
            | Expr::Unit(..) => Self::lit(expr.get_literal_value(None)?),
            Expr::InterpolatedString(x, ..) => E::Interp(self.exprs(x)?),
            Expr::Array(x, ..) => E::Array(self.exprs(x)?),
            Expr::Map(x, ..) => {
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
                E::Map(Box::new(template), entries)
            }
            Expr::Variable(x, short, ..) => {
                if !x.2.is_empty() {
                    return None;
                }
                let var = self.resolve(x.1.as_str())?.0;
                // The parser found a local: so must the scope here.
                if (short.is_some() || x.0.is_some()) && matches!(var, Var::Const(_)) {
                    return None;
                }
                E::Var(var)
            }
            // Only a method has `this` in its scope.
            Expr::ThisPtr(..) => E::Var(self.resolve(THIS)?.0),
            Expr::Stmt(block) => E::Block(self.block(block.statements())?),
            Expr::FnCall(x, ..) => self.call(x)?,
            Expr::Dot(x, flags, ..) | Expr::Index(x, flags, ..) => {
                let is_dot = matches!(expr, Expr::Dot(..));
                let mut read_only_root = false;
                let root = match &x.lhs {
                    Expr::Variable(v, ..) => {
                        if !v.2.is_empty() {
                            return None;
                        }
                        let (var, constant) = self.resolve(v.1.as_str())?;
                        read_only_root = constant;
                        Root::Var(var)
                    }
                    Expr::ThisPtr(..) => Root::Var(self.resolve(THIS)?.0),
                    Expr::Property(..) | Expr::MethodCall(..) => return None,
                    other => Root::Expr(self.expr(other)?),
                };
                let mut steps = Vec::new();
                let mut exprs = Vec::new();
                self.flatten(is_dot, *flags, &x.rhs, &mut steps, &mut exprs)?;
                // A constant is read-only in Rhai's scope, and so is everything inside it: a method
                // that is not pure (the array `get`) fails on it there.
                if read_only_root && steps.iter().any(|s| matches!(s.kind, StepKind::Method(Builtin::Get, _)))
                {
                    return None;
                }
                E::Chain(Box::new(Chain { root, steps, exprs }))
            }
            Expr::And(x, ..) => E::And(self.exprs(x)?),
            Expr::Or(x, ..) => E::Or(self.exprs(x)?),
            Expr::Coalesce(x, ..) => E::Coalesce(self.exprs(x)?),
            _ => return None,
        })
    }

    fn operand(&mut self, expr: &Expr, exprs: &mut Vec<E>) -> Option<Operand> {
        Some(match self.expr(expr)? {
            E::Lit(value) => Operand::Lit(value),
            E::Int(i) => Operand::Lit(Dynamic::from_int(i)),
            E::Float(f) => Operand::Lit(Dynamic::from_float(f)),
            E::Bool(b) => Operand::Lit(Dynamic::from_bool(b)),
            E::Unit => Operand::Lit(Dynamic::UNIT),
            other => {
                exprs.push(other);
                Operand::Val(exprs.len() - 1)
            }
        })
    }

    /// Flattens the right-hand side of a `.` (`is_dot`) or `[]` node into steps, the way Rhai's
    /// `eval_dot_index_chain_raw` walks it.
    fn flatten(
        &mut self,
        is_dot: bool,
        flags: ASTFlags,
        rhs: &Expr,
        steps: &mut Vec<Step>,
        exprs: &mut Vec<E>,
    ) -> Option<()> {
        self.nodes += 2;
        let nullish = flags.contains(ASTFlags::NEGATED);
        let chained = match rhs {
            Expr::Dot(y, f, ..) => Some((true, y, *f)),
            Expr::Index(y, f, ..) => Some((false, y, *f)),
            _ => None,
        };
        if is_dot {
            match (rhs, chained) {
                (Expr::Property(p, ..), _) => {
                    steps.push(Step { kind: StepKind::Prop(p.2.clone()), nullish });
                    Some(())
                }
                (Expr::MethodCall(m, ..), _) => {
                    let kind = self.method(m, exprs)?;
                    steps.push(Step { kind, nullish });
                    Some(())
                }
                (_, Some((next_dot, y, f))) if !flags.contains(ASTFlags::BREAK) => {
                    let kind = match &y.lhs {
                        Expr::Property(p, ..) => StepKind::Prop(p.2.clone()),
                        Expr::MethodCall(m, ..) => self.method(m, exprs)?,
                        _ => return None,
                    };
                    steps.push(Step { kind, nullish });
                    self.flatten(next_dot, f, &y.rhs, steps, exprs)
                }
                _ => None,
            }
        } else {
            match chained {
                Some((next_dot, y, f)) if !flags.contains(ASTFlags::BREAK) => {
                    let idx = self.operand(&y.lhs, exprs)?;
                    steps.push(Step { kind: StepKind::Index(idx), nullish });
                    self.flatten(next_dot, f, &y.rhs, steps, exprs)
                }
                _ => {
                    let idx = self.operand(rhs, exprs)?;
                    steps.push(Step { kind: StepKind::Index(idx), nullish });
                    Some(())
                }
            }
        }
    }

    fn method(&mut self, m: &FnCallExpr, exprs: &mut Vec<E>) -> Option<StepKind> {
        if !m.namespace.is_empty() || m.capture_parent_scope || self.script_fns.contains(m.name.as_str()) {
            return None;
        }
        let builtin = Builtin::lookup(m.name.as_str(), m.args.len() + 1)?;
        let args = m.args.iter().map(|a| self.operand(a, exprs)).collect::<Option<Vec<_>>>()?;
        Some(StepKind::Method(builtin, args))
    }

    fn call(&mut self, x: &FnCallExpr) -> Option<E> {
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
                    Some(E::Call(Builtin::Contains, vec![self.expr(a)?, self.expr(b)?]))
                }
                ([a], Token::Bang) => Some(E::Not(Box::new(self.expr(a)?))),
                ([a], Token::Minus | Token::UnaryMinus) => Some(E::Neg(Box::new(self.expr(a)?))),
                ([a, b], token) => {
                    let op = BinOp::from_token(token)?;
                    let a = self.expr(a)?;
                    let b = self.expr(b)?;
                    Some(E::Bin(op, Box::new((a, b))))
                }
                _ => None,
            };
        }
        if self.script_fns.contains(x.name.as_str()) {
            return None;
        }
        if x.name.as_str() == "now" && x.args.is_empty() {
            return Some(E::Now);
        }
        let builtin = Builtin::lookup(x.name.as_str(), x.args.len())?;
        Some(E::Call(builtin, self.exprs(&x.args)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Running
//
// The checked tree is lowered to closures. Two costs dominate a small function and are avoided:
// calls into `Dynamic` that are not inlined (`clone`, `drop`, a failed `as_*`, which formats the
// type's name), and store-forwarding stalls when a `Dynamic` written field by field is moved as a
// whole. So values travel as `V` (word-aligned; fresh numbers and booleans unboxed; arguments,
// constants and literals borrowed), operands are read through `Val` views without copies, and
// types are tested with the inlined `is_*` before any `as_*`.

/// Why evaluation stopped early.
enum Exit {
    /// `return` (boxed: keeps `R<V>` small and word-aligned).
    Return(Box<Dynamic>),
    /// Anything the fast path does not reproduce: run the call in Rhai.
    Fail,
}

type R<T> = Result<T, Exit>;

/// Shorthand for giving up.
fn fail<T, X>(_: X) -> R<T> {
    Err(Exit::Fail)
}

/// What a running body sees.
struct Env<'a, 'l> {
    args: &'a [Dynamic],
    /// Top-level constants and literals.
    lits: &'a [Dynamic],
    limits: &'a FastLimits,
    /// Local variables, held as `V`s: a local bound to an argument borrows it until the body
    /// assigns to it.
    locals: &'l mut [V<'a>],
}

/// A compiled expression or statement.
type Ev = Box<dyn for<'a, 'l> Fn(&mut Env<'a, 'l>) -> R<V<'a>> + Send + Sync>;

fn ev<F>(f: F) -> Ev
where
    F: for<'a, 'l> Fn(&mut Env<'a, 'l>) -> R<V<'a>> + Send + Sync + 'static,
{
    Box::new(f)
}

/// A value computed by an expression.
///
/// (`repr(u64)`: a whole-word tag, so that writing a `V` then moving it does not stall on store
/// forwarding, as a `Dynamic` written field by field does.)
#[repr(u64)]
enum V<'a> {
    /// Fresh values: no tag, read-write.
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    /// An argument, a constant or a literal, not copied yet.
    Ref(&'a Dynamic),
    Own(Dynamic),
}

impl<'a> V<'a> {
    /// A copy (Rhai's read of a variable: a clone).
    #[inline]
    fn copy(&self) -> V<'a> {
        match self {
            V::Unit => V::Unit,
            V::Bool(b) => V::Bool(*b),
            V::Int(i) => V::Int(*i),
            V::Float(f) => V::Float(*f),
            V::Ref(d) => V::Ref(d),
            V::Own(d) => V::Own(d.clone()),
        }
    }

    /// The value as Rhai would hold it (a borrowed value is cloned, which also makes it
    /// read-write, as Rhai's reads do).
    #[inline(always)]
    fn dynamic(self) -> Dynamic {
        match self {
            V::Unit => Dynamic::UNIT,
            V::Bool(b) => Dynamic::from_bool(b),
            V::Int(i) => Dynamic::from_int(i),
            V::Float(f) => Dynamic::from_float(f),
            V::Ref(d) => d.clone(),
            V::Own(d) => d,
        }
    }

    /// The stored value, to be modified in place.
    fn own(&mut self) -> R<&mut Dynamic> {
        if !matches!(self, V::Own(_)) {
            let v = std::mem::replace(self, V::Unit).dynamic();
            *self = V::Own(v);
        }
        match self {
            V::Own(d) => Ok(d),
            _ => Err(Exit::Fail),
        }
    }

    #[inline(always)]
    fn view(&self) -> Val<'_> {
        match self {
            V::Unit => Val::Unit,
            V::Bool(b) => Val::Bool(*b),
            V::Int(i) => Val::Int(*i),
            V::Float(f) => Val::Float(*f),
            V::Ref(d) => Val::Dyn(d),
            V::Own(d) => Val::Dyn(d),
        }
    }
}

/// A borrowed view of a value.
#[derive(Clone, Copy)]
enum Val<'x> {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    Dyn(&'x Dynamic),
}

impl Val<'_> {
    fn kind(self) -> K {
        match self {
            Val::Unit => K::Unit,
            Val::Bool(_) => K::Bool,
            Val::Int(_) => K::Int,
            Val::Float(_) => K::Float,
            Val::Dyn(d) => kind(d),
        }
    }

    /// The `INT`, if it is one.
    #[inline]
    fn as_int(self) -> Option<INT> {
        match self {
            Val::Int(i) => Some(i),
            Val::Dyn(d) if d.is_int() => d.as_int().ok(),
            _ => None,
        }
    }

    /// The `INT` (only after a kind check).
    fn int(self) -> R<INT> {
        self.as_int().ok_or(Exit::Fail)
    }

    /// The number as a `FLOAT` (only after a kind check: `INT` or `FLOAT`).
    fn float(self) -> R<FLOAT> {
        match self {
            Val::Int(i) => Ok(i as FLOAT),
            Val::Float(f) => Ok(f),
            Val::Dyn(d) if d.is_float() => d.as_float().or_else(fail),
            Val::Dyn(d) if d.is_int() => Ok(d.as_int().or_else(fail)? as FLOAT),
            _ => Err(Exit::Fail),
        }
    }

    /// The `bool`, or a failure for another type.
    #[inline]
    fn bool(self) -> R<bool> {
        match self {
            Val::Bool(b) => Ok(b),
            Val::Dyn(d) if d.is_bool() => d.as_bool().or_else(fail),
            _ => Err(Exit::Fail),
        }
    }

    /// The character (only after a kind check).
    fn char(self) -> R<char> {
        match self {
            Val::Dyn(d) if d.is_char() => d.as_char().or_else(fail),
            _ => Err(Exit::Fail),
        }
    }

    /// The string (only after a kind check).
    fn string(self) -> R<ImmutableString> {
        match self {
            Val::Dyn(d) if d.is_string() => Ok(d.as_immutable_string_ref().or_else(fail)?.clone()),
            _ => Err(Exit::Fail),
        }
    }

    #[inline]
    fn is_unit(self) -> bool {
        match self {
            Val::Unit => true,
            Val::Dyn(d) => d.is_unit(),
            _ => false,
        }
    }

    /// An owned copy (Rhai's read: a clone).
    fn to_owned(self) -> V<'static> {
        match self {
            Val::Unit => V::Unit,
            Val::Bool(b) => V::Bool(b),
            Val::Int(i) => V::Int(i),
            Val::Float(f) => V::Float(f),
            Val::Dyn(d) => read(d),
        }
    }
}

/// A stored value, read: untagged numbers and booleans are not cloned.
fn read(d: &Dynamic) -> V<'static> {
    if d.tag() == 0 {
        if d.is_int() {
            if let Ok(i) = d.as_int() {
                return V::Int(i);
            }
        } else if d.is_float() {
            if let Ok(f) = d.as_float() {
                return V::Float(f);
            }
        } else if d.is_bool() {
            if let Ok(b) = d.as_bool() {
                return V::Bool(b);
            }
        } else if d.is_unit() {
            return V::Unit;
        }
    }
    V::Own(d.clone())
}

/// `(array elements, map entries, string bytes)`, as Rhai's `calc_data_sizes` counts them.
type Sizes = (usize, usize, usize);

/// The coarse type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K {
    Unit,
    Bool,
    Str,
    Char,
    Int,
    Float,
    Array,
    Map,
    Other,
}

fn kind(d: &Dynamic) -> K {
    if d.is_int() {
        K::Int
    } else if d.is_string() {
        K::Str
    } else if d.is_float() {
        K::Float
    } else if d.is_unit() {
        K::Unit
    } else if d.is_bool() {
        K::Bool
    } else if d.is_map() {
        K::Map
    } else if d.is_array() {
        K::Array
    } else if d.is_char() {
        K::Char
    } else {
        K::Other
    }
}

/// No shared value (a closure's captured variable) anywhere inside.
#[inline]
fn unshared(d: &Dynamic) -> bool {
    if d.is_shared() {
        false
    } else if d.is_map() || d.is_array() {
        unshared_inside(d)
    } else {
        true
    }
}

#[inline(never)]
fn unshared_inside(d: &Dynamic) -> bool {
    if d.is_map() {
        d.as_map_ref().is_ok_and(|m| m.values().all(unshared))
    } else {
        d.as_array_ref().is_ok_and(|a| a.iter().all(unshared))
    }
}

/// Rhai's `calc_data_sizes(value, true)`.
fn data_sizes(v: &Dynamic) -> R<Sizes> {
    if v.is_blob() {
        return Ok((v.as_blob_ref().or_else(fail)?.len(), 0, 0));
    }
    nested_sizes(v)
}

/// The sizes a value adds when it is an element of an array or a map (besides the element itself).
fn nested_sizes(v: &Dynamic) -> R<Sizes> {
    match kind(v) {
        K::Unit | K::Bool | K::Char | K::Int | K::Float => Ok((0, 0, 0)),
        K::Str => Ok((0, 0, v.as_immutable_string_ref().or_else(fail)?.len())),
        K::Array => array_sizes(&*v.as_array_ref().or_else(fail)?),
        K::Map => map_sizes(&*v.as_map_ref().or_else(fail)?),
        K::Other if v.is_shared() => Err(Exit::Fail),
        K::Other if v.is_blob() => Ok((1 + v.as_blob_ref().or_else(fail)?.len(), 0, 0)),
        K::Other => Ok((0, 0, 0)),
    }
}

fn array_sizes(a: &Array) -> R<Sizes> {
    let mut total = (0, 0, 0);
    for v in a {
        let s = nested_sizes(v)?;
        total = (total.0 + 1 + s.0, total.1 + s.1, total.2 + s.2);
    }
    Ok(total)
}

fn map_sizes(m: &Map) -> R<Sizes> {
    let mut total = (0, 0, 0);
    for v in m.values() {
        let s = nested_sizes(v)?;
        total = (total.0 + s.0, total.1 + 1 + s.1, total.2 + s.2);
    }
    Ok(total)
}

/// The sizes of an evaluated value (Rhai's `calc_data_sizes(value, true)`, as array and map
/// literals count their items).
fn value_sizes(v: &V<'_>) -> R<Sizes> {
    match v {
        V::Ref(d) => data_sizes(d),
        V::Own(d) => data_sizes(d),
        _ => Ok((0, 0, 0)),
    }
}

impl FastLimits {
    fn check_string(&self, len: usize) -> R<()> {
        if exceeds(len, self.max_string_size) { Err(Exit::Fail) } else { Ok(()) }
    }

    /// Rhai's `check_data_size`.
    fn check_sizes(&self, v: &Dynamic) -> R<()> {
        if !self.has_data_limit() || self.within(data_sizes(v)?) { Ok(()) } else { Err(Exit::Fail) }
    }
}

/// Rhai's `calc_index(len, index, true)`: a negative index counts from the end.
fn calc_index(len: usize, index: INT) -> Option<usize> {
    if len == 0 {
        None
    } else if index < 0 {
        let abs = usize::try_from(index.unsigned_abs()).ok()?;
        (abs <= len).then(|| len - abs)
    } else {
        let i = usize::try_from(index).ok()?;
        (i < len).then_some(i)
    }
}

/// What Rhai's `to_string` gives for a scalar (the registered `to_string` / `print` functions).
fn scalar_to_string(v: Val<'_>) -> R<ImmutableString> {
    Ok(match v.kind() {
        K::Str => v.string()?,
        K::Int => v.int()?.to_string().into(),
        K::Float => format!("{}", FloatWrapper::new(v.float()?)).into(),
        K::Bool => (if v.bool()? { "true" } else { "false" }).into(),
        K::Char => v.char()?.to_string().into(),
        K::Unit => ImmutableString::new(),
        _ => return Err(Exit::Fail),
    })
}

/// Rhai interns a string bound by `let` or assigned into a property or index: a new value, with
/// no tag.
fn intern(v: V<'_>) -> R<V<'_>> {
    match v {
        V::Ref(d) if d.tag() != 0 && d.is_string() => {
            Ok(V::Own(Dynamic::from(d.as_immutable_string_ref().or_else(fail)?.clone())))
        }
        V::Own(d) if d.tag() != 0 && d.is_string() => {
            Ok(V::Own(Dynamic::from(d.as_immutable_string_ref().or_else(fail)?.clone())))
        }
        other => Ok(other),
    }
}

fn concat(x: &str, y: &str) -> ImmutableString {
    let mut s = String::with_capacity(x.len() + y.len());
    s.push_str(x);
    s.push_str(y);
    s.into()
}

fn string_value(s: String) -> V<'static> {
    V::Own(Dynamic::from(ImmutableString::from(s)))
}

fn compare(op: BinOp, ord: std::cmp::Ordering) -> R<V<'static>> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(V::Bool(match op {
        BinOp::Eq => ord == Equal,
        BinOp::Ne => ord != Equal,
        BinOp::Gt => ord == Greater,
        BinOp::Ge => ord != Less,
        BinOp::Lt => ord == Less,
        BinOp::Le => ord != Greater,
        _ => return Err(Exit::Fail),
    }))
}

/// `s[index]`, as Rhai indexes a string by characters.
fn string_char(s: &str, index: INT) -> R<char> {
    if index >= 0 {
        let offset = usize::try_from(index).or_else(fail)?;
        s.chars().nth(offset).ok_or(Exit::Fail)
    } else {
        let offset = usize::try_from(index.unsigned_abs()).or_else(fail)?;
        s.chars().rev().nth(offset - 1).ok_or(Exit::Fail)
    }
}

// ---------------------------------------------------------------------------------------------
// Operands and chains

/// An operand read without evaluation: a literal, an argument, a local, a constant.
#[derive(Debug, Clone, Copy)]
enum Atom {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    /// An entry of the constants-and-literals pool.
    Lit(usize),
    Arg(usize),
    Local(usize),
}

impl Atom {
    #[inline(always)]
    fn val<'s>(self, env: &'s Env<'_, '_>) -> Val<'s> {
        match self {
            Atom::Unit => Val::Unit,
            Atom::Bool(b) => Val::Bool(b),
            Atom::Int(i) => Val::Int(i),
            Atom::Float(f) => Val::Float(f),
            Atom::Lit(k) => Val::Dyn(&env.lits[k]),
            Atom::Arg(i) => Val::Dyn(&env.args[i]),
            Atom::Local(i) => env.locals[i].view(),
        }
    }

    #[inline(always)]
    fn value<'a>(self, env: &Env<'a, '_>) -> V<'a> {
        let (args, lits) = (env.args, env.lits);
        match self {
            Atom::Unit => V::Unit,
            Atom::Bool(b) => V::Bool(b),
            Atom::Int(i) => V::Int(i),
            Atom::Float(f) => V::Float(f),
            Atom::Lit(k) => V::Ref(&lits[k]),
            Atom::Arg(i) => V::Ref(&args[i]),
            Atom::Local(i) => env.locals[i].copy(),
        }
    }
}

/// An index or method argument of a chain step.
#[derive(Debug, Clone, Copy)]
enum Opnd {
    Atom(Atom),
    /// The n-th value computed before the chain is walked.
    Val(usize),
}

#[derive(Debug)]
enum RStep {
    Prop(ImmutableString),
    Index(Opnd),
    Method(Builtin, Vec<Opnd>),
}

#[derive(Debug)]
struct RunStep {
    kind: RStep,
    /// `?.` / `?[`: a `()` object makes the whole chain `()`.
    nullish: bool,
}

/// A chain whose root and operands are all atoms: read in place, with no evaluation.
struct Path {
    root: Atom,
    steps: Vec<RunStep>,
}

impl Path {
    #[inline]
    fn with<T, F: FnOnce(Val<'_>) -> R<T>>(&self, env: &Env<'_, '_>, f: F) -> R<T> {
        match self.root.val(env) {
            Val::Dyn(d) => walk(d, &self.steps, env, &[], f),
            scalar => walk(&scalar.to_owned().dynamic(), &self.steps, env, &[], f),
        }
    }
}

/// How an operand of an operator or a call is obtained.
enum Access {
    Atom(Atom),
    Path(Path),
    /// `a ?? b ?? …` of atoms.
    Coalesce(Vec<Atom>),
    /// An operator on two pure accesses: computed with no closure call.
    Bin(BinOp, Box<(Access, Access)>),
    /// Computed by a closure.
    Eval(Ev),
}

impl Access {
    /// Whether it can be read with a shared `Env` (no evaluation).
    fn is_pure(&self) -> bool {
        !matches!(self, Access::Eval(_))
    }

    /// Reads a pure access in place.
    #[inline(always)]
    fn with<T, F: FnOnce(Val<'_>) -> R<T>>(&self, env: &Env<'_, '_>, f: F) -> R<T> {
        match self {
            Access::Atom(a) => f(a.val(env)),
            Access::Path(p) => p.with(env, f),
            Access::Coalesce(atoms) => {
                let mut value = Val::Unit;
                for a in atoms {
                    value = a.val(env);
                    if !value.is_unit() {
                        break;
                    }
                }
                f(value)
            }
            Access::Bin(op, x) => {
                let v = pure_binary(*op, &x.0, &x.1, env)?;
                f(v.view())
            }
            Access::Eval(_) => Err(Exit::Fail),
        }
    }

    /// Reads any access: in place when pure, else by evaluating it.
    #[inline(always)]
    fn get<T, F: FnOnce(Val<'_>) -> R<T>>(&self, env: &mut Env<'_, '_>, f: F) -> R<T> {
        match self {
            Access::Eval(e) => {
                let v = e(env)?;
                f(v.view())
            }
            pure => pure.with(env, f),
        }
    }

    /// The value (a copy).
    #[inline(always)]
    fn value<'a>(&self, env: &mut Env<'a, '_>) -> R<V<'a>> {
        match self {
            Access::Atom(a) => Ok(a.value(env)),
            Access::Bin(op, x) => pure_binary(*op, &x.0, &x.1, env),
            Access::Coalesce(atoms) => {
                let mut value = V::Unit;
                for a in atoms {
                    value = a.value(env);
                    if !value.view().is_unit() {
                        break;
                    }
                }
                Ok(value)
            }
            Access::Path(p) => p.with(env, |v| Ok(v.to_owned())),
            Access::Eval(e) => e(env),
        }
    }
}

/// An operator on two pure accesses.
fn pure_binary(op: BinOp, a: &Access, b: &Access, env: &Env<'_, '_>) -> R<V<'static>> {
    a.with(env, |x| b.with(env, |y| binary(env.limits, op, x, y)))
}

fn opnd<'s>(o: Opnd, env: &'s Env<'_, '_>, vals: &'s [Dynamic]) -> Val<'s> {
    match o {
        Opnd::Atom(a) => a.val(env),
        Opnd::Val(i) => Val::Dyn(&vals[i]),
    }
}

/// Walks a chain from `cur`, as Rhai's `eval_dot_index_chain_raw` reads it.
fn walk<T, F: FnOnce(Val<'_>) -> R<T>>(
    cur: &Dynamic,
    steps: &[RunStep],
    env: &Env<'_, '_>,
    vals: &[Dynamic],
    f: F,
) -> R<T> {
    let Some((step, rest)) = steps.split_first() else {
        return f(Val::Dyn(cur));
    };
    if step.nullish && cur.is_unit() {
        return f(Val::Unit);
    }
    match &step.kind {
        RStep::Prop(key) => {
            if !cur.is_map() {
                // Rhai would call a property getter.
                return Err(Exit::Fail);
            }
            let map = cur.as_map_ref().or_else(fail)?;
            let child = map.get(key.as_str()).ok_or(Exit::Fail)?;
            walk(child, rest, env, vals, f)
        }
        RStep::Index(o) => {
            let idx = opnd(*o, env, vals);
            if cur.is_array() {
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let array = cur.as_array_ref().or_else(fail)?;
                let i = calc_index(array.len(), i).ok_or(Exit::Fail)?;
                walk(&array[i], rest, env, vals, f)
            } else if cur.is_map() {
                let Val::Dyn(key) = idx else { return Err(Exit::Fail) };
                if !key.is_string() {
                    return Err(Exit::Fail);
                }
                let key = key.as_immutable_string_ref().or_else(fail)?;
                let map = cur.as_map_ref().or_else(fail)?;
                let child = map.get(key.as_str()).ok_or(Exit::Fail)?;
                walk(child, rest, env, vals, f)
            } else if cur.is_int() {
                // A bit of an integer.
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let bit = calc_index(INT::BITS as usize, i).ok_or(Exit::Fail)?;
                let set = cur.as_int().or_else(fail)? & (1 << bit) != 0;
                walk(&Dynamic::from_bool(set), rest, env, vals, f)
            } else if cur.is_string() {
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let ch = string_char(&cur.as_immutable_string_ref().or_else(fail)?, i)?;
                walk(&Dynamic::from_char(ch), rest, env, vals, f)
            } else {
                Err(Exit::Fail)
            }
        }
        RStep::Method(b, args) => {
            // A map property holding a function pointer is called instead (OOP style).
            if cur.is_map()
                && let Ok(map) = cur.as_map_ref()
                && map.get(b.name()).is_some_and(Dynamic::is_fnptr)
            {
                return Err(Exit::Fail);
            }
            let result = match args.as_slice() {
                [] => builtin(env.limits, *b, Val::Dyn(cur), None)?,
                [a] => builtin(env.limits, *b, Val::Dyn(cur), Some(opnd(*a, env, vals)))?,
                _ => return Err(Exit::Fail),
            };
            walk(&result.dynamic(), rest, env, vals, f)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operators and built-in functions

/// Rhai's built-in `INT` operators (with the `arithmetic` package's checks).
#[inline]
fn int_op(op: BinOp, x: INT, y: INT) -> R<V<'static>> {
    let int = |v: Option<INT>| v.map(V::Int).ok_or(Exit::Fail);
    match op {
        BinOp::Add => int(x.checked_add(y)),
        BinOp::Sub => int(x.checked_sub(y)),
        BinOp::Mul => int(x.checked_mul(y)),
        BinOp::Div => {
            if y == 0 {
                Err(Exit::Fail)
            } else {
                int(x.checked_div(y))
            }
        }
        BinOp::Rem => int(x.checked_rem(y)),
        BinOp::Pow => {
            if y > INT::from(u32::MAX) || y < 0 {
                Err(Exit::Fail)
            } else {
                int(x.checked_pow(u32::try_from(y).or_else(fail)?))
            }
        }
        BinOp::Shl => Ok(V::Int(shift_left(x, y))),
        BinOp::Shr => Ok(V::Int(shift_right(x, y))),
        BinOp::BitAnd => Ok(V::Int(x & y)),
        BinOp::BitOr => Ok(V::Int(x | y)),
        BinOp::BitXor => Ok(V::Int(x ^ y)),
        BinOp::Eq => Ok(V::Bool(x == y)),
        BinOp::Ne => Ok(V::Bool(x != y)),
        BinOp::Lt => Ok(V::Bool(x < y)),
        BinOp::Le => Ok(V::Bool(x <= y)),
        BinOp::Gt => Ok(V::Bool(x > y)),
        BinOp::Ge => Ok(V::Bool(x >= y)),
    }
}

/// The `arithmetic` package's `<<`.
fn shift_left(x: INT, y: INT) -> INT {
    if y > INT::from(u32::MAX) {
        0
    } else if y < 0 {
        shift_right(x, y.checked_abs().unwrap_or(INT::MAX))
    } else {
        u32::try_from(y).ok().and_then(|y| x.checked_shl(y)).unwrap_or(0)
    }
}

/// The `arithmetic` package's `>>`.
fn shift_right(x: INT, y: INT) -> INT {
    if y > INT::from(u32::MAX) {
        x.wrapping_shr(u32::MAX)
    } else if y < 0 {
        shift_left(x, y.checked_abs().unwrap_or(INT::MAX))
    } else {
        u32::try_from(y).ok().and_then(|y| x.checked_shr(y)).unwrap_or_else(|| x.wrapping_shr(u32::MAX))
    }
}

/// Rhai's built-in `FLOAT` operators (also for `INT` mixed with `FLOAT`), including its
/// comparisons with a relative tolerance of `FLOAT::EPSILON`.
fn float_op(op: BinOp, x: FLOAT, y: FLOAT) -> R<V<'static>> {
    let max = || if x * y == 0.0 { 1.0 } else { x.abs().max(y.abs()) };
    Ok(match op {
        BinOp::Add => V::Float(x + y),
        BinOp::Sub => V::Float(x - y),
        BinOp::Mul => V::Float(x * y),
        BinOp::Div => V::Float(x / y),
        BinOp::Rem => V::Float(x % y),
        BinOp::Pow => V::Float(x.powf(y)),
        BinOp::Eq => {
            let m = max();
            V::Bool(m == 0.0 || (x - y).abs() / m <= FLOAT::EPSILON)
        }
        BinOp::Ne => {
            let m = max();
            V::Bool(m != 0.0 && (x - y).abs() / m > FLOAT::EPSILON)
        }
        BinOp::Gt => {
            let m = max();
            V::Bool(m != 0.0 && (x - y) / m > FLOAT::EPSILON)
        }
        BinOp::Ge => {
            let m = max();
            V::Bool(m == 0.0 || (x - y) / m > -FLOAT::EPSILON)
        }
        BinOp::Lt => {
            let m = max();
            V::Bool(m != 0.0 && (y - x) / m > FLOAT::EPSILON)
        }
        BinOp::Le => {
            let m = max();
            V::Bool(m == 0.0 || (y - x) / m > -FLOAT::EPSILON)
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => return Err(Exit::Fail),
    })
}

/// Rhai's binary operators: the built-in ones, and the registered `+` of a string and a scalar.
#[inline]
fn binary(limits: &FastLimits, op: BinOp, a: Val<'_>, b: Val<'_>) -> R<V<'static>> {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return int_op(op, x, y);
    }
    binary_other(limits, op, a, b)
}

fn binary_other(limits: &FastLimits, op: BinOp, a: Val<'_>, b: Val<'_>) -> R<V<'static>> {
    let (ka, kb) = (a.kind(), b.kind());
    match (ka, kb) {
        (K::Int | K::Float, K::Int | K::Float) => float_op(op, a.float()?, b.float()?),
        (K::Bool, K::Bool) => {
            let (x, y) = (a.bool()?, b.bool()?);
            match op {
                BinOp::BitAnd => Ok(V::Bool(x & y)),
                BinOp::BitOr => Ok(V::Bool(x | y)),
                BinOp::BitXor => Ok(V::Bool(x ^ y)),
                _ => compare(op, x.cmp(&y)),
            }
        }
        (K::Str, K::Str) => {
            let (Val::Dyn(a), Val::Dyn(b)) = (a, b) else { return Err(Exit::Fail) };
            let x = a.as_immutable_string_ref().or_else(fail)?;
            let y = b.as_immutable_string_ref().or_else(fail)?;
            if op == BinOp::Add {
                limits.check_string(x.len() + y.len())?;
                return Ok(V::Own(Dynamic::from(concat(x.as_str(), y.as_str()))));
            }
            compare(op, x.as_str().cmp(y.as_str()))
        }
        (K::Char, K::Char) => {
            let (x, y) = (a.char()?, b.char()?);
            if op == BinOp::Add {
                let mut s = String::with_capacity(8);
                s.push(x);
                s.push(y);
                limits.check_string(s.len())?;
                return Ok(string_value(s));
            }
            compare(op, x.cmp(&y))
        }
        (K::Unit, K::Unit) => match op {
            BinOp::Eq => Ok(V::Bool(true)),
            BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(V::Bool(false)),
            _ => Err(Exit::Fail),
        },
        (K::Char, K::Str) | (K::Str, K::Char) => {
            let (s1, s2) = if ka == K::Char {
                let x = a.char()?;
                let y = b.string()?;
                if op == BinOp::Add {
                    let mut s = String::with_capacity(y.len() + 4);
                    s.push(x);
                    s.push_str(y.as_str());
                    limits.check_string(s.len())?;
                    return Ok(string_value(s));
                }
                let mut it = y.chars();
                ([Some(x), None], [it.next(), it.next()])
            } else {
                let x = a.string()?;
                let y = b.char()?;
                if op == BinOp::Add {
                    let mut s = String::with_capacity(x.len() + 4);
                    s.push_str(x.as_str());
                    s.push(y);
                    limits.check_string(s.len())?;
                    return Ok(string_value(s));
                }
                let mut it = x.chars();
                ([it.next(), it.next()], [Some(y), None])
            };
            compare(op, s1.cmp(&s2))
        }
        (K::Unit, K::Str) | (K::Str, K::Unit) => match op {
            // The built-in `+` returns the string operand itself.
            BinOp::Add => Ok(if ka == K::Str { a.to_owned() } else { b.to_owned() }),
            BinOp::Ne => Ok(V::Bool(true)),
            BinOp::Eq | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(V::Bool(false)),
            _ => Err(Exit::Fail),
        },
        // Registered `+` (string, any) and (any, string): the other operand's `to_string`.
        (K::Str, K::Int | K::Float | K::Bool) if op == BinOp::Add => {
            let x = a.string()?;
            let y = scalar_to_string(b)?;
            limits.check_string(x.len() + y.len())?;
            Ok(V::Own(Dynamic::from(concat(x.as_str(), y.as_str()))))
        }
        (K::Int | K::Float | K::Bool, K::Str) if op == BinOp::Add => {
            let x = scalar_to_string(a)?;
            let y = b.string()?;
            limits.check_string(x.len() + y.len())?;
            Ok(V::Own(Dynamic::from(concat(x.as_str(), y.as_str()))))
        }
        // Different types, not both numbers: comparisons are constant.
        _ if ka != kb && ka != K::Other && kb != K::Other => match op {
            BinOp::Ne => Ok(V::Bool(true)),
            BinOp::Eq | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(V::Bool(false)),
            _ => Err(Exit::Fail),
        },
        _ => Err(Exit::Fail),
    }
}

/// A built-in function called on `this` (and one more argument for `contains`).
fn builtin(limits: &FastLimits, f: Builtin, this: Val<'_>, arg: Option<Val<'_>>) -> R<V<'static>> {
    let result = builtin_value(limits, f, this, arg)?;
    // After a native function call, Rhai checks the data size of the first argument when it is
    // passed by reference (a variable or a part of one). Checking it always is stricter, so safe.
    if f != Builtin::TypeOf
        && let Val::Dyn(d) = this
    {
        limits.check_sizes(d)?;
    }
    Ok(result)
}

fn builtin_value(limits: &FastLimits, f: Builtin, this: Val<'_>, arg: Option<Val<'_>>) -> R<V<'static>> {
    let k = this.kind();
    match (f, arg) {
        (Builtin::Len, None) => {
            let Val::Dyn(d) = this else { return Err(Exit::Fail) };
            let n = match k {
                K::Str => d.as_immutable_string_ref().or_else(fail)?.chars().count(),
                K::Array => d.as_array_ref().or_else(fail)?.len(),
                K::Map => d.as_map_ref().or_else(fail)?.len(),
                _ => return Err(Exit::Fail),
            };
            Ok(V::Int(INT::try_from(n).unwrap_or(INT::MAX)))
        }
        (Builtin::IsEmpty, None) => {
            let Val::Dyn(d) = this else { return Err(Exit::Fail) };
            let empty = match k {
                K::Str => d.as_immutable_string_ref().or_else(fail)?.is_empty(),
                K::Array => d.as_array_ref().or_else(fail)?.is_empty(),
                K::Map => d.as_map_ref().or_else(fail)?.is_empty(),
                _ => return Err(Exit::Fail),
            };
            Ok(V::Bool(empty))
        }
        (Builtin::Abs, None) => match k {
            K::Int => Ok(V::Int(this.int()?.checked_abs().ok_or(Exit::Fail)?)),
            K::Float => Ok(V::Float(this.float()?.abs())),
            _ => Err(Exit::Fail),
        },
        (Builtin::ToString, None) => {
            let s = scalar_to_string(this)?;
            limits.check_string(s.len())?;
            Ok(V::Own(Dynamic::from(s)))
        }
        (Builtin::TypeOf, None) => {
            let name = match this {
                Val::Dyn(d) if k != K::Other => d.type_name(),
                Val::Dyn(_) => return Err(Exit::Fail),
                scalar => scalar.to_owned().dynamic().type_name(),
            };
            Ok(V::Own(Dynamic::from(ImmutableString::from(name))))
        }
        (Builtin::Get, Some(key)) => {
            let Val::Dyn(d) = this else { return Err(Exit::Fail) };
            let value = match (k, key.kind()) {
                (K::Map, K::Str) => {
                    let map = d.as_map_ref().or_else(fail)?;
                    if map.is_empty() {
                        return Ok(V::Unit);
                    }
                    match map.get(key.string()?.as_str()) {
                        Some(v) => read(v),
                        None => return Ok(V::Unit),
                    }
                }
                (K::Array, K::Int) => {
                    let array = d.as_array_ref().or_else(fail)?;
                    // The array package's `calc_offset_len(len, index, 0)`.
                    let (len, index) = (array.len(), key.int()?);
                    let start = if index < 0 {
                        usize::try_from(index.unsigned_abs()).map_or(0, |x| len - x.min(len))
                    } else {
                        usize::try_from(index).unwrap_or(usize::MAX)
                    };
                    match array.get(start) {
                        Some(v) => read(v),
                        None => return Ok(V::Unit),
                    }
                }
                (K::Str, K::Int) => {
                    let s = d.as_immutable_string_ref().or_else(fail)?;
                    return Ok(string_char(&s, key.int()?).map_or(V::Unit, |c| V::Own(Dynamic::from_char(c))));
                }
                _ => return Err(Exit::Fail),
            };
            // The result of a native function: Rhai checks its data size.
            if let V::Own(d) = &value {
                limits.check_sizes(d)?;
            }
            Ok(value)
        }
        (Builtin::Contains, Some(item)) => {
            let Val::Dyn(d) = this else { return Err(Exit::Fail) };
            let found = match k {
                K::Map => {
                    if item.kind() != K::Str {
                        return Err(Exit::Fail);
                    }
                    d.as_map_ref().or_else(fail)?.contains_key(item.string()?.as_str())
                }
                K::Str => {
                    let s = d.as_immutable_string_ref().or_else(fail)?;
                    match item.kind() {
                        K::Str => s.contains(item.string()?.as_str()),
                        K::Char => s.contains(item.char()?),
                        _ => return Err(Exit::Fail),
                    }
                }
                K::Array => {
                    let array = d.as_array_ref().or_else(fail)?;
                    let mut found = false;
                    for x in array.iter() {
                        if element_equals(limits, Val::Dyn(x), item)? {
                            found = true;
                            break;
                        }
                    }
                    found
                }
                _ => return Err(Exit::Fail),
            };
            Ok(V::Bool(found))
        }
        _ => Err(Exit::Fail),
    }
}

/// `x == item` as the array `contains` does it: the `==` operator, with `false` for values of
/// different types that have no `==`.
fn element_equals(limits: &FastLimits, x: Val<'_>, item: Val<'_>) -> R<bool> {
    let (kx, ki) = (x.kind(), item.kind());
    if kx == K::Other || ki == K::Other {
        return Err(Exit::Fail);
    }
    if matches!(kx, K::Array | K::Map) || matches!(ki, K::Array | K::Map) {
        // Different types compare unequal; arrays and maps have registered `==`s.
        return if kx == ki { Err(Exit::Fail) } else { Ok(false) };
    }
    match binary(limits, BinOp::Eq, x, item)? {
        V::Bool(b) => Ok(b),
        _ => Ok(false),
    }
}

// ---------------------------------------------------------------------------------------------
// Assignments

/// `slot op= v` on a local variable.
fn assign_var<'a>(env: &mut Env<'a, '_>, slot: usize, op: Option<BinOp>, v: V<'a>) -> R<()> {
    let limits = env.limits;
    let target = &mut env.locals[slot];
    let Some(op) = op else {
        *target = v;
        return Ok(());
    };
    // Numbers held unboxed (so with no tag) stay unboxed.
    let r = match (&*target, v.view()) {
        (V::Int(x), y) if y.kind() == K::Int => Some(int_op(op, *x, y.int()?)?),
        (V::Int(x), y) if y.kind() == K::Float => Some(float_op(op, *x as FLOAT, y.float()?)?),
        (V::Float(x), y) if matches!(y.kind(), K::Int | K::Float) => Some(float_op(op, *x, y.float()?)?),
        _ => None,
    };
    if let Some(r) = r {
        *target = r;
        return Ok(());
    }
    apply(limits, target.own()?, Some(op), v.dynamic())
}

/// A step of an assignment's target.
#[derive(Debug)]
enum AStep {
    Prop(ImmutableString),
    /// An index: a literal or an argument, or the n-th value computed first.
    Index(Opnd),
}

/// The operands of an assignment's steps (no locals: the target local is borrowed mutably).
struct AOps<'s> {
    args: &'s [Dynamic],
    lits: &'s [Dynamic],
    vals: &'s [Dynamic],
}

impl AOps<'_> {
    fn get(&self, o: Opnd) -> R<Val<'_>> {
        Ok(match o {
            Opnd::Atom(Atom::Unit) => Val::Unit,
            Opnd::Atom(Atom::Bool(b)) => Val::Bool(b),
            Opnd::Atom(Atom::Int(i)) => Val::Int(i),
            Opnd::Atom(Atom::Float(f)) => Val::Float(f),
            Opnd::Atom(Atom::Lit(k)) => Val::Dyn(&self.lits[k]),
            Opnd::Atom(Atom::Arg(i)) => Val::Dyn(&self.args[i]),
            Opnd::Atom(Atom::Local(_)) => return Err(Exit::Fail),
            Opnd::Val(i) => Val::Dyn(&self.vals[i]),
        })
    }
}

fn assign_walk(
    limits: &FastLimits,
    cur: &mut Dynamic,
    steps: &[AStep],
    ops: &AOps<'_>,
    op: Option<BinOp>,
    v: Dynamic,
) -> R<()> {
    let Some((step, rest)) = steps.split_first() else {
        return Err(Exit::Fail);
    };
    let last = rest.is_empty();
    match step {
        AStep::Prop(key) => {
            if !cur.is_map() {
                // Rhai would call a property setter.
                return Err(Exit::Fail);
            }
            if last {
                {
                    let mut map = cur.as_map_mut().or_else(fail)?;
                    if map.is_empty() || !map.contains_key(key.as_str()) {
                        map.insert(key.as_str().into(), Dynamic::UNIT);
                    }
                    let item = map.get_mut(key.as_str()).ok_or(Exit::Fail)?;
                    apply(limits, item, op, v)?;
                }
                // Rhai checks the map holding the property.
                limits.check_sizes(cur)
            } else {
                let mut map = cur.as_map_mut().or_else(fail)?;
                let child = map.get_mut(key.as_str()).ok_or(Exit::Fail)?;
                assign_walk(limits, child, rest, ops, op, v)
            }
        }
        AStep::Index(o) => {
            let idx = ops.get(*o)?;
            if cur.is_array() {
                let i = idx.as_int().ok_or(Exit::Fail)?;
                let mut array = cur.as_array_mut().or_else(fail)?;
                let i = calc_index(array.len(), i).ok_or(Exit::Fail)?;
                let item = &mut array[i];
                if last {
                    apply(limits, item, op, v)?;
                    // Rhai checks the indexed item.
                    limits.check_sizes(item)
                } else {
                    assign_walk(limits, item, rest, ops, op, v)
                }
            } else if cur.is_map() {
                let Val::Dyn(key) = idx else { return Err(Exit::Fail) };
                if !key.is_string() {
                    return Err(Exit::Fail);
                }
                let key = key.as_immutable_string_ref().or_else(fail)?;
                let mut map = cur.as_map_mut().or_else(fail)?;
                if last && (map.is_empty() || !map.contains_key(key.as_str())) {
                    map.insert(key.as_str().into(), Dynamic::UNIT);
                }
                let item = map.get_mut(key.as_str()).ok_or(Exit::Fail)?;
                if last {
                    apply(limits, item, op, v)?;
                    limits.check_sizes(item)
                } else {
                    assign_walk(limits, item, rest, ops, op, v)
                }
            } else {
                Err(Exit::Fail)
            }
        }
    }
}

/// Rhai's `eval_op_assignment` on a target (which is never read-only here: locals hold copies,
/// and copies are read-write).
fn apply(limits: &FastLimits, target: &mut Dynamic, op: Option<BinOp>, v: Dynamic) -> R<()> {
    let Some(op) = op else {
        *target = v;
        return Ok(());
    };
    let tag = target.tag();
    let (kt, kv) = (kind(target), kind(&v));
    match (kt, kv) {
        (K::Int, K::Int) => {
            let r = int_op(op, target.as_int().or_else(fail)?, v.as_int().or_else(fail)?)?.dynamic();
            *target = r;
            // Built-in arithmetic op-assignments write the number in place (the tag stays);
            // the bitwise ones replace the value.
            if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow) {
                target.set_tag(tag);
            }
            Ok(())
        }
        (K::Float, K::Float | K::Int) => {
            let (x, y) = (target.as_float().or_else(fail)?, Val::Dyn(&v).float()?);
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Rem => x % y,
                BinOp::Pow => x.powf(y),
                _ => return Err(Exit::Fail),
            };
            *target = Dynamic::from_float(r);
            target.set_tag(tag);
            Ok(())
        }
        (K::Bool, K::Bool) => {
            let (x, y) = (target.as_bool().or_else(fail)?, v.as_bool().or_else(fail)?);
            let r = match op {
                BinOp::BitAnd => x && y,
                BinOp::BitOr => x || y,
                BinOp::BitXor => x ^ y,
                _ => return Err(Exit::Fail),
            };
            *target = Dynamic::from_bool(r);
            target.set_tag(tag);
            Ok(())
        }
        (K::Str, K::Str) if op == BinOp::Add => {
            let joined = {
                let x = target.as_immutable_string_ref().or_else(fail)?;
                let y = v.as_immutable_string_ref().or_else(fail)?;
                if !x.is_empty() && !y.is_empty() {
                    limits.check_string(x.len() + y.len())?;
                }
                concat(x.as_str(), y.as_str())
            };
            *target = Dynamic::from(joined);
            target.set_tag(tag);
            Ok(())
        }
        (K::Str, K::Char) if op == BinOp::Add => {
            let joined = {
                let x = target.as_immutable_string_ref().or_else(fail)?;
                let mut s = String::with_capacity(x.len() + 4);
                s.push_str(x.as_str());
                s.push(v.as_char().or_else(fail)?);
                limits.check_string(s.len())?;
                s
            };
            *target = Dynamic::from(ImmutableString::from(joined));
            target.set_tag(tag);
            Ok(())
        }
        // The registered `+=` (string, any): appends the item's `to_string`; then Rhai checks the
        // data size of the target.
        (K::Str, K::Int | K::Float | K::Bool | K::Unit) if op == BinOp::Add => {
            let joined = {
                let x = target.as_immutable_string_ref().or_else(fail)?;
                let y = scalar_to_string(Val::Dyn(&v))?;
                concat(x.as_str(), y.as_str())
            };
            limits.check_string(joined.len())?;
            *target = Dynamic::from(joined);
            target.set_tag(tag);
            Ok(())
        }
        (K::Char, K::Char) if op == BinOp::Add => {
            let mut s = String::with_capacity(8);
            s.push(target.as_char().or_else(fail)?);
            s.push(v.as_char().or_else(fail)?);
            *target = Dynamic::from(ImmutableString::from(s));
            Ok(())
        }
        (K::Char, K::Str) if op == BinOp::Add => {
            let joined = {
                let y = v.as_immutable_string_ref().or_else(fail)?;
                if y.is_empty() {
                    return Ok(());
                }
                let mut s = String::with_capacity(y.len() + 4);
                s.push(target.as_char().or_else(fail)?);
                s.push_str(y.as_str());
                limits.check_string(s.len())?;
                s
            };
            *target = Dynamic::from(ImmutableString::from(joined));
            Ok(())
        }
        (K::Array, K::Array) if op == BinOp::Add => {
            let items = v.into_array().or_else(fail)?;
            if items.is_empty() {
                return Ok(());
            }
            // Rhai checks the size before appending (when the target is not empty).
            if !target.as_array_ref().or_else(fail)?.is_empty() {
                limits.check_sizes(target)?;
            }
            let mut array = target.as_array_mut().or_else(fail)?;
            if array.is_empty() {
                *array = items;
            } else {
                array.extend(items);
            }
            Ok(())
        }
        (K::Array, K::Unit | K::Bool | K::Str | K::Char | K::Int | K::Float | K::Map) if op == BinOp::Add => {
            target.as_array_mut().or_else(fail)?.push(v);
            limits.check_sizes(target)
        }
        // No built-in or registered op-assignment: Rhai runs `target = target op v` (through the
        // registered operator if there is one), then checks the data size of the target.
        (K::Int, K::Float) | (K::Int | K::Float | K::Bool, K::Str) => {
            let r = binary(limits, op, Val::Dyn(target), Val::Dyn(&v))?.dynamic();
            *target = r;
            limits.check_sizes(target)
        }
        (K::Unit, K::Str) if op == BinOp::Add => {
            // The registered `+` ((), string) returns the string as a new value.
            let s = v.as_immutable_string_ref().or_else(fail)?.clone();
            *target = Dynamic::from(s);
            limits.check_sizes(target)
        }
        _ => Err(Exit::Fail),
    }
}

// ---------------------------------------------------------------------------------------------
// Lowering the checked tree to closures

/// An operator as a closure.
fn binary_ev(op: BinOp, a: Access, b: Access) -> Ev {
    match (a.is_pure(), b.is_pure()) {
        (true, true) => ev(move |env| pure_binary(op, &a, &b, env)),
        (true, false) => ev(move |env| {
            // `a` is read in place: no side effects, so it may be read second.
            let y = b.value(env)?;
            a.with(env, |x| binary(env.limits, op, x, y.view()))
        }),
        (false, true) => ev(move |env| {
            let x = a.value(env)?;
            b.with(env, |y| binary(env.limits, op, x.view(), y))
        }),
        (false, false) => ev(move |env| {
            let x = a.value(env)?;
            let y = b.value(env)?;
            binary(env.limits, op, x.view(), y.view())
        }),
    }
}

struct Lower {
    /// The constants-and-literals pool (the constants first, so `Var::Const(k)` is entry `k`).
    lits: Vec<Dynamic>,
}

/// A statement or expression that yields `()`.
fn unit() -> Ev {
    ev(|_| Ok(V::Unit))
}

impl Lower {
    fn lit(&mut self, d: Dynamic) -> usize {
        self.lits.push(d);
        self.lits.len() - 1
    }

    /// The expression as an atom, or the expression back.
    fn atom(&mut self, e: E) -> Result<Atom, E> {
        Ok(match e {
            E::Unit => Atom::Unit,
            E::Bool(b) => Atom::Bool(b),
            E::Int(i) => Atom::Int(i),
            E::Float(f) => Atom::Float(f),
            E::Lit(d) => Atom::Lit(self.lit(d)),
            E::Var(Var::Arg(i)) => Atom::Arg(i),
            E::Var(Var::Local(i)) => Atom::Local(i),
            E::Var(Var::Const(k)) => Atom::Lit(k),
            other => return Err(other),
        })
    }

    /// A literal operand as an atom.
    fn lit_atom(&mut self, d: Dynamic) -> Option<Atom> {
        match Compiler::lit(d) {
            E::Lit(d) => Some(Atom::Lit(self.lit(d))),
            scalar => self.atom(scalar).ok(),
        }
    }

    fn access(&mut self, e: E) -> Option<Access> {
        let e = match self.atom(e) {
            Ok(a) => return Some(Access::Atom(a)),
            Err(e) => e,
        };
        Some(match e {
            E::Chain(c) => match self.chain(*c)? {
                Ok(path) => Access::Path(path),
                Err(ev) => Access::Eval(ev),
            },
            E::Coalesce(items) if items.iter().all(E::is_atom) => {
                Access::Coalesce(items.into_iter().map(|e| self.atom(e).ok()).collect::<Option<_>>()?)
            }
            E::Bin(op, x) => {
                let (lhs, rhs) = *x;
                let (a, b) = (self.access(lhs)?, self.access(rhs)?);
                if a.is_pure() && b.is_pure() {
                    Access::Bin(op, Box::new((a, b)))
                } else {
                    Access::Eval(binary_ev(op, a, b))
                }
            }
            other => Access::Eval(self.ev(other)?),
        })
    }

    fn accesses(&mut self, es: Vec<E>) -> Option<Vec<Access>> {
        es.into_iter().map(|e| self.access(e)).collect()
    }

    /// The steps of a chain, and the expressions computed before walking it.
    fn steps(&mut self, steps: Vec<Step>, exprs: Vec<E>) -> Option<(Vec<RunStep>, Vec<Ev>)> {
        // Expressions that are atoms are read in place; the others are computed.
        let mut map = Vec::with_capacity(exprs.len());
        let mut evals = Vec::new();
        for e in exprs {
            match self.atom(e) {
                Ok(a) => map.push(Opnd::Atom(a)),
                Err(e) => {
                    evals.push(self.ev(e)?);
                    map.push(Opnd::Val(evals.len() - 1));
                }
            }
        }
        let opnd = |o: Operand, this: &mut Self| match o {
            Operand::Lit(d) => Some(Opnd::Atom(this.lit_atom(d)?)),
            Operand::Val(i) => map.get(i).copied(),
        };
        let steps = steps
            .into_iter()
            .map(|s| {
                Some(RunStep {
                    nullish: s.nullish,
                    kind: match s.kind {
                        StepKind::Prop(p) => RStep::Prop(p),
                        StepKind::Index(o) => RStep::Index(opnd(o, self)?),
                        StepKind::Method(b, args) => RStep::Method(
                            b,
                            args.into_iter().map(|o| opnd(o, self)).collect::<Option<Vec<_>>>()?,
                        ),
                    },
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some((steps, evals))
    }

    /// A chain: a `Path` when it is read in place, else a closure computing its value.
    fn chain(&mut self, c: Chain) -> Option<Result<Path, Ev>> {
        let (steps, evals) = self.steps(c.steps, c.exprs)?;
        let root = match c.root {
            Root::Var(v) => Access::Atom(self.atom(E::Var(v)).ok()?),
            Root::Expr(e) => self.access(e)?,
        };
        Some(match (root, evals.is_empty()) {
            (Access::Atom(root), true) => Ok(Path { root, steps }),
            (root, _) => Err(ev(move |env| {
                let mut vals = Vec::with_capacity(evals.len());
                for e in &evals {
                    vals.push(e(env)?.dynamic());
                }
                let base = root.value(env)?.dynamic();
                walk(&base, &steps, env, &vals, |v| Ok(v.to_owned()))
            })),
        })
    }

    fn block(&mut self, stmts: Vec<S>) -> Option<Ev> {
        let mut evs: Vec<Ev> = stmts.into_iter().map(|s| self.stmt(s)).collect::<Option<_>>()?;
        Some(match evs.len() {
            0 => unit(),
            1 => evs.pop()?,
            _ => ev(move |env| {
                let (last, init) = match evs.split_last() {
                    Some(x) => x,
                    None => return Ok(V::Unit),
                };
                for s in init {
                    s(env)?;
                }
                last(env)
            }),
        })
    }

    fn stmt(&mut self, s: S) -> Option<Ev> {
        Some(match s {
            S::Noop => unit(),
            S::Expr(e) => self.ev(e)?,
            S::Let { slot, expr } => {
                let e = self.ev(expr)?;
                ev(move |env| {
                    let v = intern(e(env)?)?;
                    env.locals[slot] = v;
                    Ok(V::Unit)
                })
            }
            S::Assign(a) => self.assign(*a)?,
            S::If(x) => {
                let (cond, body, branch) = *x;
                let (empty_body, empty_branch) = (body.is_empty(), branch.is_empty());
                let cond = self.access(cond)?;
                let body = self.block(body)?;
                let branch = self.block(branch)?;
                ev(move |env| {
                    let c = cond.get(env, |v| v.bool())?;
                    if c && !empty_body {
                        body(env)
                    } else if !c && !empty_branch {
                        branch(env)
                    } else {
                        Ok(V::Unit)
                    }
                })
            }
            S::Block(b) => self.block(b)?,
            S::Return(None) => ev(|_| Err(Exit::Return(Box::new(Dynamic::UNIT)))),
            S::Return(Some(e)) => {
                let e = self.ev(e)?;
                ev(move |env| {
                    let v = e(env)?.dynamic();
                    Err(Exit::Return(Box::new(v)))
                })
            }
            S::Fail => ev(|_| Err(Exit::Fail)),
        })
    }

    fn assign(&mut self, a: Assign) -> Option<Ev> {
        let Assign { slot, steps, exprs, op, rhs } = a;
        let rhs = self.ev(rhs)?;
        if steps.is_empty() {
            return Some(ev(move |env| {
                let v = rhs(env)?;
                assign_var(env, slot, op, v)?;
                Ok(V::Unit)
            }));
        }
        // Index operands: literals and arguments are read in place; anything else (a local
        // included, as the target local is borrowed mutably) is computed first.
        let mut map = Vec::with_capacity(exprs.len());
        let mut evals = Vec::new();
        for e in exprs {
            match self.atom(e) {
                Ok(Atom::Local(i)) => {
                    evals.push(ev(move |env| Ok(env.locals[i].copy())));
                    map.push(Opnd::Val(evals.len() - 1));
                }
                Ok(a) => map.push(Opnd::Atom(a)),
                Err(e) => {
                    evals.push(self.ev(e)?);
                    map.push(Opnd::Val(evals.len() - 1));
                }
            }
        }
        let steps: Vec<AStep> = steps
            .into_iter()
            .map(|s| {
                Some(match s {
                    PStep::Prop(p) => AStep::Prop(p),
                    PStep::Index(Operand::Lit(d)) => AStep::Index(Opnd::Atom(self.lit_atom(d)?)),
                    PStep::Index(Operand::Val(i)) => AStep::Index(*map.get(i)?),
                })
            })
            .collect::<Option<_>>()?;
        Some(ev(move |env| {
            let v = intern(rhs(env)?)?.dynamic();
            let mut vals = Vec::with_capacity(evals.len());
            for e in &evals {
                vals.push(e(env)?.dynamic());
            }
            let limits = env.limits;
            let ops = AOps { args: env.args, lits: env.lits, vals: &vals };
            let target = env.locals[slot].own()?;
            assign_walk(limits, target, &steps, &ops, op, v)?;
            Ok(V::Unit)
        }))
    }

    fn ev(&mut self, e: E) -> Option<Ev> {
        let e = match self.atom(e) {
            Ok(a) => {
                return Some(match a {
                    Atom::Unit => unit(),
                    Atom::Bool(b) => ev(move |_| Ok(V::Bool(b))),
                    Atom::Int(i) => ev(move |_| Ok(V::Int(i))),
                    Atom::Float(f) => ev(move |_| Ok(V::Float(f))),
                    Atom::Lit(k) => ev(move |env| {
                        let lits = env.lits;
                        Ok(V::Ref(&lits[k]))
                    }),
                    Atom::Arg(i) => ev(move |env| {
                        let args = env.args;
                        Ok(V::Ref(&args[i]))
                    }),
                    Atom::Local(i) => ev(move |env| Ok(env.locals[i].copy())),
                });
            }
            Err(e) => e,
        };
        Some(match e {
            E::Chain(c) => match self.chain(*c)? {
                Ok(path) => ev(move |env| path.with(env, |v| Ok(v.to_owned()))),
                Err(ev) => ev,
            },
            E::Bin(op, x) => {
                let (lhs, rhs) = *x;
                let (a, b) = (self.access(lhs)?, self.access(rhs)?);
                binary_ev(op, a, b)
            }
            E::Coalesce(items) => {
                let items = self.accesses(items)?;
                ev(move |env| {
                    let mut value = V::Unit;
                    for item in &items {
                        value = item.value(env)?;
                        if !value.view().is_unit() {
                            break;
                        }
                    }
                    Ok(value)
                })
            }
            E::And(items) => {
                let items = self.accesses(items)?;
                ev(move |env| {
                    for item in &items {
                        if !item.get(env, |v| v.bool())? {
                            return Ok(V::Bool(false));
                        }
                    }
                    Ok(V::Bool(true))
                })
            }
            E::Or(items) => {
                let items = self.accesses(items)?;
                ev(move |env| {
                    for item in &items {
                        if item.get(env, |v| v.bool())? {
                            return Ok(V::Bool(true));
                        }
                    }
                    Ok(V::Bool(false))
                })
            }
            E::Array(items) => {
                let items = self.accesses(items)?;
                ev(move |env| {
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
                    Ok(V::Own(Dynamic::from_array(array)))
                })
            }
            E::Map(template, entries) => {
                let entries: Vec<(ImmutableString, Access)> =
                    entries.into_iter().map(|(k, e)| Some((k, self.access(e)?))).collect::<Option<_>>()?;
                ev(move |env| {
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
                    Ok(V::Own(Dynamic::from_map(map)))
                })
            }
            E::Neg(x) => {
                let x = self.access(*x)?;
                ev(move |env| {
                    x.get(env, |v| match v.kind() {
                        K::Int => Ok(V::Int(v.int()?.checked_neg().ok_or(Exit::Fail)?)),
                        K::Float => Ok(V::Float(-v.float()?)),
                        _ => Err(Exit::Fail),
                    })
                })
            }
            E::Not(x) => {
                let x = self.access(*x)?;
                ev(move |env| Ok(V::Bool(!x.get(env, |v| v.bool())?)))
            }
            E::Block(stmts) => self.block(stmts)?,
            E::Call(f, args) => {
                let mut args = self.accesses(args)?;
                match (f, args.len()) {
                    (Builtin::Contains | Builtin::Get, 2) => {
                        let item = args.pop()?;
                        let container = args.pop()?;
                        ev(move |env| {
                            let item = item.value(env)?;
                            container.get(env, |c| builtin(env.limits, f, c, Some(item.view())))
                        })
                    }
                    (_, 1) => {
                        let arg = args.pop()?;
                        ev(move |env| arg.get(env, |a| builtin(env.limits, f, a, None)))
                    }
                    _ => return None,
                }
            }
            E::Interp(parts) => {
                let parts = self.accesses(parts)?;
                ev(move |env| {
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
            E::Now => ev(|_| {
                Ok(match super::host::script_clock() {
                    Some(t) => V::Int(t),
                    None => V::Unit,
                })
            }),
            // Atoms are handled above.
            E::Unit | E::Bool(_) | E::Int(_) | E::Float(_) | E::Lit(_) | E::Var(_) => return None,
        })
    }
}

impl Compiled {
    #[inline]
    fn run<'a>(
        &'a self,
        args: &'a [Dynamic],
        locals: &mut [V<'a>],
    ) -> Result<(Dynamic, Option<Dynamic>), ()> {
        for &(param, slot) in &self.param_copies {
            locals[slot] = V::Ref(&args[param]);
        }
        let mut env = Env { args, lits: &self.lits, limits: &self.limits, locals };
        let value = match (self.body)(&mut env) {
            Ok(v) => v.dynamic(),
            Err(Exit::Return(v)) => *v,
            Err(Exit::Fail) => return Err(()),
        };
        // A method's `this`, when the body may have assigned to it: still the argument itself
        // (never written), or its new value.
        let this = self.arity;
        let left = match self.param_copies.iter().find(|(param, _)| self.method && *param == this) {
            Some(&(_, slot)) => match std::mem::replace(&mut locals[slot], V::Unit) {
                V::Ref(given) if std::ptr::eq(given, &args[this]) => None,
                other => Some(other.dynamic()),
            },
            None => None,
        };
        Ok((value, left))
    }
}

#[cfg(test)]
mod tests {
    //! Differential tests against Rhai (the larger suites live with the scratch crate the fast
    //! path was developed in: random programs, operators, limits).

    use super::*;
    use rhai::{CallFnOptions, Engine, Scope};

    /// The engine Eddy's `ScriptHost` builds with the default limits.
    fn engine() -> Engine {
        crate::script::ScriptHost::configured_engine(crate::script::ScriptLimits::default())
    }

    /// A script compiled as Eddy's `Script::compile` does it, and the constants its functions see.
    struct Script {
        engine: Engine,
        ast: AST,
        scope: Scope<'static>,
    }

    impl Script {
        fn new(source: &str) -> Script {
            let engine = engine();
            let mut scope = Scope::new();
            scope.push_constant("RETAIN", false);
            scope.push_constant("DISCARD", true);
            let first = engine.compile_with_scope(&scope, source).expect("compiles");
            engine.run_ast_with_scope(&mut scope, &first).expect("runs");
            let ast = engine.compile_with_scope(&scope, source).expect("compiles");
            Script { engine, ast, scope }
        }

        fn constants(&self) -> Vec<(String, Dynamic)> {
            let mut seen = BTreeSet::new();
            let entries: Vec<_> = self.scope.iter().map(|(n, c, v)| (n.to_string(), c, v)).collect();
            entries
                .into_iter()
                .rev()
                .filter(|(n, ..)| seen.insert(n.clone()))
                .filter(|(_, c, _)| *c)
                .map(|(n, _, v)| (n, v))
                .collect()
        }

        fn fast(&self, name: &str, arity: usize) -> FastFn {
            FastFn::compile(&self.ast, name, arity, &self.constants()).expect("in the fast path's subset")
        }

        fn rhai(&mut self, name: &str, args: &[Dynamic]) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
            let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
            self.engine.call_fn_with_options(options, &mut self.scope, &self.ast, name, args.to_vec())
        }

        /// Runs a call both ways; `true` when the fast path answered.
        fn check(&mut self, fast: &FastFn, name: &str, args: &[Dynamic]) -> bool {
            let got = fast.call(args);
            let want = self.rhai(name, args);
            match (got, want) {
                (Ok(v), Ok(w)) => {
                    assert!(same(&v, &w), "{name}{args:?}: fast {v:?}, Rhai {w:?}");
                    true
                }
                (Ok(v), Err(e)) => panic!("{name}{args:?}: fast {v:?}, Rhai failed: {e}"),
                (Err(()), _) => false,
            }
        }
    }

    /// Same type, value, tag and read-only flag, recursively (`INT` and `FLOAT` never equal).
    fn same(a: &Dynamic, b: &Dynamic) -> bool {
        if a.tag() != b.tag() || a.is_read_only() != b.is_read_only() || a.type_name() != b.type_name() {
            return false;
        }
        if let (Ok(x), Ok(y)) = (a.as_float(), b.as_float()) {
            return x.to_bits() == y.to_bits();
        }
        if let (Ok(x), Ok(y)) = (a.as_array_ref(), b.as_array_ref()) {
            return x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q));
        }
        if let (Ok(x), Ok(y)) = (a.as_map_ref(), b.as_map_ref()) {
            return x.len() == y.len() && x.iter().zip(y.iter()).all(|((k, p), (l, q))| k == l && same(p, q));
        }
        format!("{a:?}") == format!("{b:?}")
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn scalar(&mut self) -> Dynamic {
            match self.below(9) {
                0 => Dynamic::from_int([INT::MAX, INT::MIN, INT::MAX - 1, -1, 0][self.below(5) as usize]),
                1 | 2 => Dynamic::from_int(self.below(30) as INT - 5),
                3 => Dynamic::from_float(
                    [0.1 + 0.2, 0.3, 1.0, -0.0, FLOAT::NAN, 1e300][self.below(6) as usize],
                ),
                4 | 5 => Dynamic::from(["click", "view", "", "é"][self.below(4) as usize]),
                6 => Dynamic::from_bool(self.below(2) == 0),
                7 => Dynamic::from_char('x'),
                _ => Dynamic::UNIT,
            }
        }

        fn value(&mut self) -> Dynamic {
            match self.below(6) {
                0 | 1 => {
                    let mut m = Map::new();
                    for key in ["value", "kind", "user", "total"] {
                        if self.below(4) != 0 {
                            m.insert(key.into(), self.scalar());
                        }
                    }
                    Dynamic::from_map(m)
                }
                2 => Dynamic::from_array(vec![self.scalar(), self.scalar()]),
                _ => self.scalar(),
            }
        }
    }

    const SHAPES: &str = r#"
        const LIMIT = 10;
        fn mapper(state, v) { let n = (state ?? 0) + 1; [n, n] }
        fn folder(acc, e) { acc + e.value }
        fn key(e) { e.user }
        fn predicate(e) { e.value > LIMIT && e.kind == "click" }
        fn mapper2(state, e) { let total = (state ?? 0) + e.value; [total, #{total: total, value: e.value}] }
        fn classify(e) { if e.value > 100 { "big" } else if e.value > 10 { "medium" } else { "small" } }
        fn early(e) { if e.kind == "skip" { return; } let v = e.value * 2; if v > 50 { return v - 50; } v }
        fn build(s, e) {
            let m = s ?? #{count: 0};
            m.count += 1;
            m["last"] = e.kind;
            if "total" in m { m.total += e.value; } else { m.total = e.value; }
            [m, `${e.user}: ${m.count}`]
        }
        fn ops(a, b) { [a + b, a - b, a * b, a / b, a % b, a == b, a < b, a >= b, -a, a ?? b] }
        fn strings(a, b) { [a + b, a.len(), a.to_string(), type_of(b), a.contains(b)] }
    "#;

    #[test]
    fn benchmark_shapes_on_typical_events() {
        let mut script = Script::new(SHAPES);
        let fns: Vec<(&str, usize)> =
            vec![("mapper", 2), ("folder", 2), ("key", 1), ("predicate", 1), ("mapper2", 2)];
        let mut answered = 0;
        for (name, arity) in fns {
            let fast = script.fast(name, arity);
            for i in 0..200 {
                let mut e = Map::new();
                e.insert("value".into(), Dynamic::from_int(i % 37));
                e.insert("kind".into(), Dynamic::from(if i % 3 == 0 { "click" } else { "view" }));
                e.insert("user".into(), Dynamic::from(format!("u{}", i % 5)));
                // `()` as the first state, except for `folder` (`() + INT` is an error).
                let state =
                    if i % 10 == 0 && name != "folder" { Dynamic::UNIT } else { Dynamic::from_int(i) };
                let args = match arity {
                    1 => vec![Dynamic::from_map(e)],
                    _ => vec![state, Dynamic::from_map(e)],
                };
                answered += usize::from(script.check(&fast, name, &args));
            }
        }
        assert_eq!(answered, 1000, "every typical call runs in the fast path");
    }

    /// StatefulLogic methods: `this` read and assigned, `now()`.
    const METHODS: &str = r#"
        const GAP = 30000000;
        fn on_item(value) {
            if this.count == 0 { this.start = now(); }
            this.last = now();
            this.count += 1;
            this.total += value;
            [[], RETAIN]
        }
        fn on_notify() { [[#{ start: this.start, end: this.last, count: this.count, total: this.total }], DISCARD] }
        fn notify_at() { this.last + GAP }
        fn window_due() { if this.items.len() == 0 { () } else { this.items[0][0] + GAP } }
        fn replace(v) { this = v; this }
        fn whole() { this }
        fn set_index(v) { this[0] = v; this.len() }
        fn nested(v) { this.a.b += v; this.a }
        fn clock() { now() }
    "#;

    impl Script {
        fn fast_method(&self, name: &str, arity: usize) -> FastFn {
            FastFn::compile_method_with_limits(
                &self.ast,
                name,
                arity,
                &self.constants(),
                FastLimits::default(),
            )
            .expect("in the fast path's subset")
        }

        /// Runs a method call both ways on copies of `this`; `true` when the fast path answered.
        fn check_method(&mut self, fast: &FastFn, name: &str, this: &Dynamic, args: &[Dynamic]) -> bool {
            let mut fast_this = this.clone();
            let got = fast.call_this(&mut fast_this, args.to_vec());
            let mut rhai_this = this.clone();
            let options =
                CallFnOptions::new().eval_ast(false).rewind_scope(true).bind_this_ptr(&mut rhai_this);
            let want =
                self.engine.call_fn_with_options(options, &mut self.scope, &self.ast, name, args.to_vec());
            match (got, want) {
                (Ok(v), Ok(w)) => {
                    assert!(same(&v, &w), "{name}{args:?} on {this:?}: fast {v:?}, Rhai {w:?}");
                    assert!(
                        same(&fast_this, &rhai_this),
                        "{name}{args:?} on {this:?}: fast left {fast_this:?}, Rhai {rhai_this:?}"
                    );
                    true
                }
                (Ok(v), Err(e)) => panic!("{name}{args:?} on {this:?}: fast {v:?}, Rhai failed: {e}"),
                (Err(back), _) => {
                    assert_eq!(format!("{back:?}"), format!("{args:?}"), "the arguments come back as given");
                    assert!(same(&fast_this, this), "{name}: a fallback leaves `this` as it was");
                    false
                }
            }
        }
    }

    #[test]
    fn methods_read_and_assign_this_and_read_the_clock_as_rhai_does() {
        let mut script = Script::new(METHODS);
        let state = |count: INT, last: INT| {
            let mut m = Map::new();
            for (k, v) in [("start", 5), ("last", last), ("count", count), ("total", 7)] {
                m.insert(k.into(), Dynamic::from_int(v));
            }
            Dynamic::from_map(m)
        };
        let mut answered = 0;
        for clock in [None, Some(0), Some(1_725_000_000_000_000), Some(INT::MAX)] {
            crate::script::host::set_script_clock(clock);
            for (name, arity) in [("on_item", 1), ("on_notify", 0), ("notify_at", 0), ("clock", 0)] {
                let fast = script.fast_method(name, arity);
                for (count, last) in [(0, 0), (3, 1_725_000_000_000_000), (1, INT::MAX)] {
                    let args: Vec<Dynamic> = (0..arity).map(|_| Dynamic::from_int(count + 2)).collect();
                    answered += usize::from(script.check_method(&fast, name, &state(count, last), &args));
                }
            }
        }
        crate::script::host::set_script_clock(None);
        // Every call answers but the overflowing ones (`this.last + GAP` at INT::MAX).
        assert!(answered >= 40, "{answered} of 48 calls ran in the fast path");
    }

    #[test]
    fn methods_on_random_states() {
        let mut script = Script::new(METHODS);
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        crate::script::host::set_script_clock(Some(1_000_000));
        let functions: Vec<(String, usize)> =
            script.ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
        for (name, arity) in functions {
            let fast = script.fast_method(&name, arity);
            let mut answered = 0;
            for i in 0..2000 {
                let this = if i % 7 == 0 {
                    let mut inner = Map::new();
                    inner.insert("b".into(), rng.scalar());
                    let mut m = Map::new();
                    m.insert("a".into(), Dynamic::from_map(inner));
                    Dynamic::from_map(m)
                } else {
                    rng.value()
                };
                let args: Vec<Dynamic> = (0..arity).map(|_| rng.value()).collect();
                answered += usize::from(script.check_method(&fast, &name, &this, &args));
            }
            // (The session-window methods need fields random values rarely have: the test
            // above drives them; here they must only agree.)
            if ["replace", "whole", "clock", "nested", "set_index"].contains(&name.as_str()) {
                assert!(answered > 0, "`{name}` answered some calls");
            }
        }
        crate::script::host::set_script_clock(None);
    }

    #[test]
    fn a_plain_function_never_reads_this_and_a_method_is_not_called_plainly() {
        let script = Script::new(METHODS);
        assert!(FastFn::compile(&script.ast, "notify_at", 0, &script.constants()).is_none());
        let method = script.fast_method("clock", 0);
        assert!(method.call(&[]).is_err());
    }

    #[test]
    fn random_arguments() {
        let mut script = Script::new(SHAPES);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let functions: Vec<(String, usize)> =
            script.ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
        for (name, arity) in functions {
            let fast = script.fast(&name, arity);
            let mut answered = 0;
            for _ in 0..2000 {
                let args: Vec<Dynamic> = (0..arity).map(|_| rng.value()).collect();
                let before = format!("{args:?}");
                answered += usize::from(script.check(&fast, &name, &args));
                assert_eq!(before, format!("{args:?}"), "the fast path left the arguments alone");
            }
            assert!(answered > 0, "`{name}` answered some calls");
        }
    }

    #[test]
    fn overflow_and_missing_fields_fall_back() {
        let script = Script::new(SHAPES);
        let mapper = script.fast("mapper", 2);
        assert!(mapper.call(&[Dynamic::from_int(INT::MAX), Dynamic::UNIT]).is_err());
        let folder = script.fast("folder", 2);
        assert!(folder.call(&[Dynamic::from_int(1), Dynamic::from_map(Map::new())]).is_err());
        let mut e = Map::new();
        e.insert("value".into(), Dynamic::from_float(0.5));
        let sum = folder.call(&[Dynamic::from_int(1), Dynamic::from_map(e)]).expect("INT + FLOAT");
        assert_eq!(sum.as_float(), Ok(1.5));
    }

    /// One function per construct the fast path reads out of Rhai's AST (its `internals`
    /// types: `Expr`, `Stmt`, `FnCallExpr`, the flags and tokens). Rhai is pinned exactly in
    /// `Cargo.toml` because these are not a stable API: if an upgrade changes a shape, the
    /// construct silently falls back to the interpreter (correct, slow); this test says which.
    const AST_SHAPES: &str = r#"
        const LIMIT = 10;
        fn literals() { [1, 2.5, true, "s", 'c', (), #{a: 1, "b c": 2}, `x${1}`] }
        fn variables(a) { let x = a; const y = 2; x + y + LIMIT }
        fn assignments(a) { let m = #{n: 0, l: [0]}; m.n += a; m.l[0] = a; m["k"] = a; a -= 1; [m, a] }
        fn reads(e) { [e.value, e?.missing, e["kind"], e.list[0], e.list[-1]] }
        fn operators(a, b) { [a + b, a - b, a * b, a / b, a % b, a ** 2, -a, !(a == b), a != b, a < b, a <= b, a > b, a >= b, a & b, a | b, a ^ b, a << 1, a >> 1] }
        fn logic(a, b) { (a && b) || !a }
        fn nullish(a) { a ?? 0 }
        fn membership(a, m) { ["x" in m, "y" !in m] }
        fn branches(a) { if a > 1 { 1 } else if a < 0 { -1 } else { 0 } }
        fn blocks(a) { let r = { let t = a; t + 1 }; r }
        fn returns(a) { if a { return 1; } 2 }
        fn builtins(a) { [a.len(), len(a), a.is_empty(), a.contains(1), a.get(0), abs(-1), type_of(a), 1.to_string()] }
        fn clock() { now() }
    "#;

    #[test]
    fn every_ast_shape_the_fast_path_reads_still_compiles() {
        let script = Script::new(AST_SHAPES);
        let constants = script.constants();
        for f in script.ast.iter_functions() {
            assert!(
                FastFn::compile(&script.ast, f.name, f.params.len(), &constants).is_some(),
                "`{}` no longer compiles to the fast path: Rhai's AST changed shape (was Rhai \
                 upgraded?); adapt src/script/fast.rs to it before moving the pin in Cargo.toml",
                f.name
            );
        }
        let methods = Script::new(
            "fn on_item(v) { this.n += v; this.l[0] = now(); [[this.n], false] }\nfn whole() { this = 1; this }",
        );
        for f in methods.ast.iter_functions() {
            assert!(
                FastFn::compile_method_with_limits(
                    &methods.ast,
                    f.name,
                    f.params.len(),
                    &[],
                    FastLimits::default()
                )
                .is_some(),
                "method `{}` no longer compiles to the fast path: Rhai's AST changed shape",
                f.name
            );
        }
    }

    #[test]
    fn unsupported_functions_are_not_compiled() {
        let script = Script::new(
            r#"
            fn looped(a) { let s = 0; for x in a { s += x; } s }
            fn whiled(a) { while a > 0 { a -= 1; } a }
            fn uses_this() { this.x }
            fn calls(a) { helper(a) }
            fn helper(a) { a }
            fn closure(a) { let f = |x| x + a; f.call(1) }
            fn switching(a) { switch a { 1 => 2, _ => 3 } }
            fn native(a) { print(a) }
            fn global_var(a) { counter + a }
            let counter = 1;
            "#,
        );
        for f in script.ast.iter_functions().filter(|f| f.name != "helper" && !f.name.starts_with("anon$")) {
            assert!(
                FastFn::compile(&script.ast, f.name, f.params.len(), &script.constants()).is_none(),
                "{}",
                f.name
            );
        }
        assert!(FastFn::compile(&script.ast, "helper", 2, &[]).is_none());
    }

    #[test]
    fn fast_fn_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<FastFn>();
    }
}
