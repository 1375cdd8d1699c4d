//! Breakpoints: pause when a node emits, when a key reaches it, or when a Rhai expression over
//! the item is true.

use eframe::egui::{self, RichText};

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

/// The breakpoint list and the form that adds one for `step` (the inspected step). Returns
/// the new list when it changed.
pub fn breakpoints_ui(
    ui: &mut egui::Ui,
    breakpoints: &[Breakpoint],
    hit: Option<&BreakpointHit>,
    step: Option<&str>,
    kind: &mut BreakpointKind,
    text: &mut String,
) -> Option<Vec<Breakpoint>> {
    let mut changed = None;
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
                    ui.add(egui::TextEdit::singleline(text).hint_text(hint).desired_width(320.0))
                        .labelled_by(label.id);
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
                    let mut list = breakpoints.to_vec();
                    if !list.contains(&new) {
                        list.push(new);
                    }
                    text.clear();
                    changed = Some(list);
                }
            });
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
            let is_hit = hit.is_some_and(|h| h.index == index);
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
