//! Script errors: they name the step, the function and the script line.

use std::fmt;

/// How [`ScriptError::builtin`] marks a built-in in `function`.
const BUILTIN_PREFIX: &str = "built-in ";

/// A script that failed to compile, lacks a function, or failed while running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    /// The step whose script it is.
    pub step: String,
    /// The function that failed (`mapper`, `on_item`), when one was running; for a
    /// built-in, its description (``built-in `sum` ``, see [`ScriptError::builtin`]).
    pub function: Option<String>,
    /// 1-based line and column in the step's script, when known.
    pub position: Option<(usize, usize)>,
    /// What went wrong.
    pub message: String,
    /// The key and item being processed (`key "a", item {"user":"a"}`), added by the engine.
    pub context: Option<String>,
}

impl ScriptError {
    /// An error with no position.
    pub fn new(step: &str, function: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            step: step.to_owned(),
            function: function.map(str::to_owned),
            position: None,
            message: message.into(),
            context: None,
        }
    }

    /// An error of a built-in (`builtin = "sum"`): it names the built-in, not a function the
    /// user would look for in a script.
    pub fn builtin(step: &str, name: &str, message: impl Into<String>) -> Self {
        Self::new(step, Some(&format!("{BUILTIN_PREFIX}`{name}`")), message)
    }

    /// Adds what the engine was processing when the error happened.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step `{}`", self.step)?;
        match &self.function {
            Some(builtin) if builtin.starts_with(BUILTIN_PREFIX) => write!(f, ", {builtin}")?,
            Some(function) => write!(f, ", function `{function}`")?,
            None => {}
        }
        if let Some((line, column)) = self.position {
            write!(f, ", script line {line}, column {column}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(context) = &self.context {
            write!(f, " (while processing {context})")?;
        }
        Ok(())
    }
}

/// The Result of script calls.
pub type ScriptResult<T> = Result<T, ScriptError>;
