//! The replay's breakpoints: the list the UI set, armed against the current graph (step ids
//! resolved, predicates compiled once), checked against each traced item, and the last hit.

use rhai::{AST, Dynamic, Scope};

use super::command::Breakpoint;
use super::event::BreakpointHit;
use crate::graph::ValidGraph;
use crate::ops::Key;
use crate::script::ScriptHost;

/// What stops the replay at one step.
enum Armed {
    NodeEmits,
    KeyTouched(Key),
    Predicate(Box<AST>),
}

/// A breakpoint resolved against the current graph.
struct ArmedBreakpoint {
    /// Its place in the list the UI set.
    index: usize,
    step: usize,
    armed: Armed,
    /// A predicate that failed at run time (reported once).
    failed: bool,
}

/// A breakpoint that triggered: its place in the list and the item's key.
pub(super) type Trigger = (usize, Option<String>);

/// The breakpoints set, armed, and the last one hit.
#[derive(Default)]
pub(super) struct Breakpoints {
    list: Vec<Breakpoint>,
    armed: Vec<ArmedBreakpoint>,
    /// The breakpoint the replay paused on, until it moves again.
    pub hit: Option<BreakpointHit>,
}

impl Breakpoints {
    /// Replaces the list (arm it next with [`Breakpoints::arm`]).
    pub fn set(&mut self, list: Vec<Breakpoint>) {
        self.list = list;
    }

    /// Resolves the list against `graph` (none armed without one); the problems found, one
    /// message each (an unknown step, a predicate that does not compile).
    pub fn arm(&mut self, graph: Option<&ValidGraph>, host: &ScriptHost) -> Vec<String> {
        self.armed.clear();
        let Some(graph) = graph else { return Vec::new() };
        let mut problems = Vec::new();
        for (index, breakpoint) in self.list.iter().enumerate() {
            let Some(step) = graph.doc.steps.iter().position(|s| s.id == breakpoint.step()) else {
                problems.push(format!(
                    "breakpoint {}: the pipeline has no step `{}`",
                    index + 1,
                    breakpoint.step()
                ));
                continue;
            };
            let armed = match breakpoint {
                Breakpoint::NodeEmits(_) => Armed::NodeEmits,
                Breakpoint::KeyTouched { key, .. } => Armed::KeyTouched(Key::from(key.as_str())),
                Breakpoint::Predicate { script, .. } => match host.engine().compile_expression(script) {
                    Ok(ast) => Armed::Predicate(Box::new(ast)),
                    Err(e) => {
                        problems
                            .push(format!("breakpoint {} ({breakpoint}) does not compile: {e}", index + 1));
                        continue;
                    }
                },
            };
            self.armed.push(ArmedBreakpoint { index, step, armed, failed: false });
        }
        problems
    }

    /// The first breakpoint an item into `step` triggers, and a predicate's failure to report
    /// (that predicate is off from then on).
    pub fn check_item_in(
        &mut self,
        step: usize,
        key: Option<&Key>,
        value: &Dynamic,
        host: &ScriptHost,
    ) -> (Option<Trigger>, Option<String>) {
        let mut failure = None;
        for armed in self.armed.iter_mut().filter(|b| b.step == step) {
            let hit = match &armed.armed {
                Armed::NodeEmits => false,
                Armed::KeyTouched(wanted) => key == Some(wanted),
                Armed::Predicate(ast) if !armed.failed => {
                    let mut scope = Scope::new();
                    scope.push("item", value.clone());
                    scope.push("key", key.map_or(Dynamic::UNIT, |k| Dynamic::from(k.clone())));
                    match host.engine().eval_ast_with_scope::<Dynamic>(&mut scope, ast) {
                        Ok(result) => result.as_bool().unwrap_or(false),
                        Err(e) => {
                            armed.failed = true;
                            failure = Some(format!(
                                "breakpoint {} failed and is off until set again: {e}",
                                armed.index + 1
                            ));
                            false
                        }
                    }
                }
                Armed::Predicate(_) => false,
            };
            if hit {
                return (Some((armed.index, key.map(|k| k.to_string()))), failure);
            }
        }
        (None, failure)
    }

    /// The breakpoint an item out of `step` triggers (a "node emits" one).
    pub fn check_item_out(&self, step: usize, key: Option<&Key>) -> Option<Trigger> {
        self.armed
            .iter()
            .find(|b| b.step == step && matches!(b.armed, Armed::NodeEmits))
            .map(|b| (b.index, key.map(|k| k.to_string())))
    }

    /// Whether any breakpoint is armed: items must then be traced to be checked.
    pub fn any_armed(&self) -> bool {
        !self.armed.is_empty()
    }

    /// The breakpoint at `index` in the list, if it is still there.
    pub fn get(&self, index: usize) -> Option<&Breakpoint> {
        self.list.get(index)
    }
}
