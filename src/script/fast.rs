//! Placeholder for the fast path of simple script functions (being written); compiles nothing,
//! so every call goes through Rhai.

use rhai::{AST, Dynamic};

/// A script function compiled to the fast path.
#[derive(Debug, Clone)]
pub struct FastFn;

impl FastFn {
    /// Compiles `name/arity`, or `None` when unsupported.
    pub fn compile(
        _ast: &AST,
        _name: &str,
        _arity: usize,
        _constants: &[(String, Dynamic)],
    ) -> Option<FastFn> {
        None
    }

    /// Runs it; `Err(())` means "ask Rhai".
    pub fn call(&self, _args: &[Dynamic]) -> Result<Dynamic, ()> {
        Err(())
    }
}
