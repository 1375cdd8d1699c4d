//! The inspector's part for a step: a widget for each setting its operator takes (as
//! `graph::op_settings` says), then its script.

use eframe::egui::{self, RichText};
use egui_snarl::NodeId;

use super::InspectorContext;
use super::widgets::{choice_combo, choice_radios, optional_text, setting_label};
use crate::graph::{Builtin, OpKind, StepSetting, StepSpec, op_takes};
use crate::ui::editor::templates::template_script;
use crate::ui::panels::script_ui::{ScriptProblem, script_editor_ui};
use crate::ui::theme;

/// The step's settings, then its script when it runs one.
pub(super) fn step_ui(ui: &mut egui::Ui, id: NodeId, step: &mut StepSpec, context: &InspectorContext<'_>) {
    let takes = |setting| op_takes(step.op, setting);
    let has_builtin = takes(StepSetting::Builtin);
    let field_used =
        takes(StepSetting::Field) && !(has_builtin && matches!(step.builtin, None | Some(Builtin::Count)));
    let (max_size, timeout) = (takes(StepSetting::MaxSize), takes(StepSetting::Timeout));
    let (insert_mode, emit_mode) = (takes(StepSetting::InsertMode), takes(StepSetting::EmitMode));
    let script_used = takes(StepSetting::Script) && !(has_builtin && step.builtin.is_some());
    egui::Grid::new("inspector_step").num_columns(2).spacing([8.0, 6.0]).show(ui, |ui| {
        if has_builtin {
            builtin_row(ui, step);
        }
        if field_used {
            field_row(ui, step, has_builtin);
        }
        if max_size {
            max_size_row(ui, step);
        }
        if timeout {
            timeout_row(ui, step);
        }
        if insert_mode {
            setting_label(ui, about(StepSetting::InsertMode));
            let mut mode = step.insert_mode.unwrap_or_default();
            choice_radios(ui, &mut mode);
            step.insert_mode = Some(mode);
            ui.end_row();
        }
        if emit_mode {
            setting_label(ui, about(StepSetting::EmitMode));
            let mut mode = step.emit_mode.unwrap_or_default();
            choice_radios(ui, &mut mode);
            step.emit_mode = Some(mode);
            ui.end_row();
        }
    });
    if script_used {
        script_section(ui, id, step, context);
    }
}

/// A step setting's label and doc.
fn about(setting: StepSetting) -> (&'static str, &'static str) {
    let described = setting.setting();
    (described.label, described.doc)
}

/// The built-in in place of the script: choosing one drops the script, going back to the
/// script drops the operand and brings the operator's template.
fn builtin_row(ui: &mut egui::Ui, step: &mut StepSpec) {
    setting_label(ui, about(StepSetting::Builtin));
    let builtin = choice_combo(ui, "builtin", step.builtin, Some("script"));
    if builtin != step.builtin {
        step.builtin = builtin;
        if builtin.is_some() {
            step.script = None;
        } else {
            step.field = None;
            step.script = template_script(step.op).map(str::to_owned);
        }
    }
    ui.end_row();
}

/// The field read in place of a function, or the built-in's operand.
fn field_row(ui: &mut egui::Ui, step: &mut StepSpec, has_builtin: bool) {
    let label = setting_label(ui, about(StepSetting::Field));
    let hint = match step.op {
        OpKind::KeyOn | OpKind::CountFinal => "key by this field instead of a script",
        OpKind::Map | OpKind::MapValue => "take this field instead of a script",
        OpKind::MaxFinal | OpKind::MinFinal => "compare this field instead of by()",
        _ => "the built-in's operand (empty: the whole value)",
    };
    let had = step.field.is_some();
    optional_text(ui, &mut step.field, hint).labelled_by(label.id);
    // A field replaces the script for operators that take either.
    if !had && step.field.is_some() && !has_builtin {
        step.script = None;
    }
    ui.end_row();
}

/// collect's size: a checkbox to set it and its value.
fn max_size_row(ui: &mut egui::Ui, step: &mut StepSpec) {
    setting_label(ui, about(StepSetting::MaxSize));
    let mut on = step.max_size.is_some();
    ui.horizontal(|ui| {
        ui.checkbox(&mut on, "");
        let mut size = step.max_size.unwrap_or(10);
        ui.add_enabled(on, egui::DragValue::new(&mut size).range(1..=1_000_000));
        step.max_size = on.then_some(size);
    });
    ui.end_row();
}

/// collect's timeout, with the duration it reads as or what is wrong with it.
fn timeout_row(ui: &mut egui::Ui, step: &mut StepSpec) {
    let label = setting_label(ui, about(StepSetting::Timeout));
    ui.vertical(|ui| {
        optional_text(ui, &mut step.timeout, "e.g. 10s, 250ms, 1h; none: no timeout").labelled_by(label.id);
        if let Some(text) = &step.timeout {
            match crate::time::parse_duration_micros(text) {
                Ok(micros) => {
                    ui.weak(format!("= {}", crate::time::format_duration_micros(micros)));
                }
                Err(reason) => {
                    ui.colored_label(theme::error(ui.visuals()), reason);
                }
            }
        }
    });
    ui.end_row();
}

/// The script editor (with the template button and the script's problem at its line), or a
/// button to add a script.
fn script_section(ui: &mut egui::Ui, id: NodeId, step: &mut StepSpec, context: &InspectorContext<'_>) {
    ui.add_space(6.0);
    let script_label = ui
        .horizontal(|ui| {
            let label = ui.label(RichText::new("Script (Rhai)").strong());
            if let Some(template) = template_script(step.op)
                && ui
                    .small_button("Template")
                    .on_hover_text("Replace the script with the operator's template")
                    .clicked()
            {
                step.script = Some(template.to_owned());
            }
            label.id
        })
        .inner;
    let problem =
        context.problems.iter().find(|p| p.field.as_deref() == Some("script")).map(|p| ScriptProblem {
            line: p.script_position.map(|(l, _)| l),
            column: p.script_position.map(|(_, c)| c),
            message: p.message.clone(),
        });
    let problem = problem.or_else(|| context.run_error.clone());
    match &mut step.script {
        Some(script) => {
            script_editor_ui(ui, egui::Id::new(("script", id)), script_label, script, problem.as_ref());
        }
        None => {
            ui.horizontal(|ui| {
                ui.weak("No script.");
                if ui.button("Add a script").clicked() {
                    step.script = Some(template_script(step.op).unwrap_or("").to_owned());
                    step.field = None;
                }
            });
        }
    }
}
