//! The checked tree: a function body that is inside the fast path's subset, with every variable
//! resolved to where it lives at run time. [`Checker`](super::check::Checker) builds it from Rhai's
//! AST; [`Lowering`](super::lower::Lowering) turns it into closures.

use rhai::{Dynamic, FLOAT, INT, ImmutableString, Map, Token};

/// Where a variable lives at run time.
#[derive(Debug, Clone, Copy)]
pub(super) enum Var {
    /// A parameter the body never assigns to: read from the arguments.
    Arg(usize),
    /// A local (or a parameter copied into a local because the body assigns to it).
    Local(usize),
    /// A top-level constant.
    Const(usize),
}

/// A binary operator of Rhai's (comparisons included), as the fast path computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
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
    pub(super) fn from_token(token: &Token) -> Option<BinOp> {
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

    pub(super) fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

/// Built-in functions the fast path reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
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
    pub(super) fn lookup(name: &str, arity: usize) -> Option<Builtin> {
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

    pub(super) fn name(self) -> &'static str {
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
pub(super) enum StepArg {
    Lit(Dynamic),
    Computed(usize),
}

/// What one step of a checked chain does: a property, an index, or a built-in method call.
#[derive(Debug)]
pub(super) enum ChainStepKind {
    Prop(ImmutableString),
    Index(StepArg),
    Method(Builtin, Vec<StepArg>),
    /// `push`, `pop`, `shift`: only as the last step of a chain rooted at a local or `this`.
    Mutate(MutMethod, Vec<StepArg>),
}

/// One step of a checked chain `a.b[i].len()` (the steps after the root).
/// A property, index and method chain (`e.a.b`, `a[i]`, `m.get(k)`), flattened from Rhai's
/// nested `Dot`/`Index` nodes.
#[derive(Debug)]
pub(super) struct ChainStep {
    pub(super) kind: ChainStepKind,
    /// `?.` / `?[`: a `()` object makes the whole chain `()`.
    pub(super) nullish: bool,
}

/// What a chain starts from: a variable, or any other expression.
#[derive(Debug)]
pub(super) enum Root {
    Var(Var),
    Expr(Expr),
}

#[derive(Debug)]
pub(super) struct Chain {
    pub(super) root: Root,
    pub(super) steps: Vec<ChainStep>,
    /// Index and method arguments that are not literals, in the order the steps use them.
    pub(super) exprs: Vec<Expr>,
}

/// An expression of the checked tree: Rhai's expression, in the subset, with its variables
/// resolved.
#[derive(Debug)]
pub(super) enum Expr {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    /// Any other literal (a string, character, array or map).
    Lit(Dynamic),
    Var(Var),
    Array(Vec<Expr>),
    Map(Box<Map>, Vec<(ImmutableString, Expr)>),
    Chain(Box<Chain>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<(Expr, Expr)>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Coalesce(Vec<Expr>),
    Block(Vec<Stmt>),
    Call(Builtin, Vec<Expr>),
    Interp(Vec<Expr>),
    /// `now()`: the run's clock (Eddy's registered function), `()` when there is none.
    Now,
    /// `this.f(args)` in a method: the script's own function `f` (entry `index` of the
    /// script's table), called with `this` bound to the caller's `this` (held in `this`).
    CallThis {
        index: usize,
        this: Var,
        args: Vec<Expr>,
    },
    /// `push`, `pop` or `shift` on a local (or `this`), or on a place inside it.
    Mutate(Box<Mutate>),
}

/// An array method that changes the array it is called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MutMethod {
    /// `push(item)`: appends, returns `()`.
    Push,
    /// `pop()`: removes the last item and returns it (`()` for an empty array).
    Pop,
    /// `shift()`: removes the first item and returns it (`()` for an empty array).
    Shift,
}

impl MutMethod {
    /// The method `name` taking `arity` arguments besides the array.
    pub(super) fn lookup(name: &str, arity: usize) -> Option<MutMethod> {
        Some(match (name, arity) {
            ("push", 1) => MutMethod::Push,
            ("pop", 0) => MutMethod::Pop,
            ("shift", 0) => MutMethod::Shift,
            _ => return None,
        })
    }

    /// Whether `name` is one of these methods (of any arity).
    pub(super) fn is_named(name: &str) -> bool {
        matches!(name, "push" | "pop" | "shift")
    }
}

/// A call of an array method that changes its array, on a place rooted at local `slot`.
#[derive(Debug)]
pub(super) struct Mutate {
    pub(super) slot: usize,
    pub(super) steps: Vec<TargetStep>,
    /// Index operands that are not literals, and the method's argument (`arg`), if computed.
    pub(super) exprs: Vec<Expr>,
    pub(super) method: MutMethod,
    pub(super) arg: Option<StepArg>,
}

/// A loop's body and how many operations one round of it may count (Rhai counts at most so
/// many, nested loops and calls aside, which count their own).
#[derive(Debug)]
pub(super) struct LoopBody {
    pub(super) body: Vec<Stmt>,
    pub(super) ops_per_round: u64,
}

impl Expr {
    /// A literal as an expression: untagged scalars unboxed, anything else as it is.
    pub(super) fn literal(value: Dynamic) -> Expr {
        if value.tag() == 0 {
            if value.is_int() {
                if let Ok(i) = value.as_int() {
                    return Expr::Int(i);
                }
            } else if value.is_float() {
                if let Ok(f) = value.as_float() {
                    return Expr::Float(f);
                }
            } else if value.is_bool() {
                if let Ok(b) = value.as_bool() {
                    return Expr::Bool(b);
                }
            } else if value.is_unit() {
                return Expr::Unit;
            }
        }
        Expr::Lit(value)
    }
    pub(super) fn is_atom(&self) -> bool {
        matches!(
            self,
            Expr::Unit | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Lit(_) | Expr::Var(_)
        )
    }
}

/// A step from an assigned variable to the place assigned (`m.total`, `a[0]`): properties and
/// indices only.
#[derive(Debug)]
pub(super) enum TargetStep {
    Prop(ImmutableString),
    Index(StepArg),
}

/// An assignment or op-assignment to a local, or to a place inside it.
#[derive(Debug)]
pub(super) struct Assign {
    pub(super) slot: usize,
    pub(super) steps: Vec<TargetStep>,
    pub(super) exprs: Vec<Expr>,
    pub(super) op: Option<BinOp>,
    pub(super) rhs: Expr,
}

/// A statement of the checked tree.
#[derive(Debug)]
pub(super) enum Stmt {
    Noop,
    Expr(Expr),
    Let {
        slot: usize,
        expr: Expr,
    },
    Assign(Box<Assign>),
    If(Box<(Expr, Vec<Stmt>, Vec<Stmt>)>),
    Block(Vec<Stmt>),
    Return(Option<Expr>),
    /// `throw`: always falls back to Rhai.
    Fail,
    /// `while cond { … }`, or `loop { … }` (no condition).
    While(Box<(Option<Expr>, LoopBody)>),
    /// `for var in iterable { … }` / `for (var, counter) in …`, over an array.
    For(Box<ForLoop>),
    /// `break` (with its value) or `continue` (`None`).
    Break(Option<Option<Expr>>),
}

/// A `for` loop over an array: the loop variable's and the counter's local slots.
#[derive(Debug)]
pub(super) struct ForLoop {
    pub(super) var: usize,
    pub(super) counter: Option<usize>,
    pub(super) iterable: Expr,
    pub(super) body: LoopBody,
}
