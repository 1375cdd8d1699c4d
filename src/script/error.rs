//! Script errors: they name the step, the function and the script line.

use std::fmt;

/// A script that failed to compile, lacks a function, or failed while running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    /// The step whose script it is.
    pub step: String,
    /// The function that failed (`mapper`, `on_item`), when one was running.
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

    /// Adds what the engine was processing when the error happened.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step `{}`", self.step)?;
        if let Some(function) = &self.function {
            write!(f, ", function `{function}`")?;
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
