//! Breakpoints: pause when a node emits, when a key reaches it, or when a Rhai expression over
//! the item is true.

use eframe::egui::{self, RichText};

use crate::script::{ScriptHost, ScriptLimits};
use crate::session::{Breakpoint, BreakpointHit};
use crate::ui::theme;

/// What kind of breakpoint the form adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreakpointKind {
    /// Pause when the step emits.
    #[default]
    NodeEmits,
    /// Pause when a key reaches the step.
    KeyTouched,
    /// Pause when a Rhai expression over the item is true.
    Predicate,
}

/// The form that adds a breakpoint: what is typed, and why the last try was refused.
#[derive(Debug, Clone, Default)]
pub struct BreakpointForm {
    /// What kind of breakpoint.
    pub kind: BreakpointKind,
    /// The key or the expression.
    pub text: String,
    /// Why the text was refused (an expression that does not compile), shown under the field
    /// until the text changes.
    pub error: Option<String>,
}

/// Compiles a breakpoint expression as the replay will (same engine setup), so one that can
/// never fire is refused where it is typed. The error says where in the expression.
pub fn compile_predicate(script: &str) -> Result<(), String> {
    let engine = ScriptHost::configured_engine(ScriptLimits::default());
    engine.compile_expression(script).map(|_| ()).map_err(|e| format!("does not compile: {e}"))
}

/// The breakpoint list and the form that adds one for `step` (the inspected step). Returns
/// the new list when it changed. The hit is shown on the breakpoint it belongs to (compared
/// by value, so a list edited since never shows another's hit).
pub fn breakpoints_ui(
    ui: &mut egui::Ui,
    breakpoints: &[Breakpoint],
    hit: Option<&BreakpointHit>,
    step: Option<&str>,
    form: &mut BreakpointForm,
) -> Option<Vec<Breakpoint>> {
    let mut changed = None;
    let BreakpointForm { kind, text, error } = form;
    match step {
        Some(step) => {
            ui.horizontal(|ui| {
                ui.label(format!("On `{step}`, pause when"));
                ui.radio_value(kind, BreakpointKind::NodeEmits, "it emits");
                ui.radio_value(kind, BreakpointKind::KeyTouched, "this key reaches it");
                ui.radio_value(kind, BreakpointKind::Predicate, "this is true of an item");
            });
            ui.horizontal(|ui| {
                let hint = match kind {
                    BreakpointKind::NodeEmits => "",
                    BreakpointKind::KeyTouched => "key",
                    BreakpointKind::Predicate => "e.g. item.amount_cents > 10000 (also `key`)",
                };
                if *kind != BreakpointKind::NodeEmits {
                    let label = ui.label("breakpoint");
                    let field = ui
                        .add(egui::TextEdit::singleline(text).hint_text(hint).desired_width(320.0))
                        .labelled_by(label.id);
                    if field.changed() {
                        *error = None;
                    }
                }
                let ready = *kind == BreakpointKind::NodeEmits || !text.trim().is_empty();
                if ui.add_enabled(ready, egui::Button::new("Add breakpoint")).clicked() {
                    let new = match kind {
                        BreakpointKind::NodeEmits => Breakpoint::NodeEmits(step.to_owned()),
                        BreakpointKind::KeyTouched => {
                            Breakpoint::KeyTouched { step: step.to_owned(), key: text.trim().to_owned() }
                        }
                        BreakpointKind::Predicate => {
                            Breakpoint::Predicate { step: step.to_owned(), script: text.trim().to_owned() }
                        }
                    };
                    let refused = match &new {
                        Breakpoint::Predicate { script, .. } => compile_predicate(script).err(),
                        _ => None,
                    };
                    if let Some(why) = refused {
                        *error = Some(why);
                    } else {
                        let mut list = breakpoints.to_vec();
                        if !list.contains(&new) {
                            list.push(new);
                        }
                        text.clear();
                        *error = None;
                        changed = Some(list);
                    }
                }
            });
            if *kind == BreakpointKind::NodeEmits {
                *error = None;
            }
            if let Some(error) = error {
                ui.colored_label(theme::error(ui.visuals()), error.as_str());
            }
        }
        None => {
            ui.weak("Select a step on the canvas to add a breakpoint to it.");
        }
    }
    ui.separator();
    if breakpoints.is_empty() {
        ui.weak("No breakpoints.");
    }
    for (index, breakpoint) in breakpoints.iter().enumerate() {
        ui.horizontal(|ui| {
            let is_hit = hit.is_some_and(|h| h.index == index && h.breakpoint == *breakpoint);
            let text = RichText::new(breakpoint.to_string());
            ui.label(if is_hit { text.color(theme::selection(ui.visuals())).strong() } else { text });
            if let Some(hit) = hit.filter(|_| is_hit) {
                let key = hit.key.as_deref().map(|k| format!(", key {k:?}")).unwrap_or_default();
                ui.label(
                    RichText::new(format!("hit at event {}{key}", hit.position))
                        .color(theme::selection(ui.visuals())),
                );
            }
            if ui.small_button("Remove").clicked() {
                let mut list = breakpoints.to_vec();
                list.remove(index);
                changed = Some(list);
            }
        });
    }
    changed
}
