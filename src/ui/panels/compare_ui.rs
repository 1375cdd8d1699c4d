//! *Compare*: the pipeline on screen against its saved version or another file, replayed on the
//! same input (`eddy diff` in the workbench): whether they agree, the first event where they
//! differ shown from both sides (state before and after, outputs, the script lines that
//! differ), and every step, key and sink that differed, with counts. README, "Comparing two
//! versions".

use std::collections::BTreeMap;

use eframe::egui::{self, RichText};
use serde_json::Value;

use crate::compare::{Comparison, Emitted, FirstDivergence, Position, SideDetail, Spot, quoted};
use crate::engine::thousands;
use crate::ui::theme;

/// Keys listed per step before "and N more".
const SHOWN_KEYS: usize = 10;

/// What the Compare tab asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareAction {
    /// Stop the comparison going on (or forget the one shown).
    Cancel,
    /// Compare the pipeline on screen with its file as saved.
    WithSaved,
    /// Pick another pipeline file to compare with.
    WithFile,
    /// Take the replay of the pipeline on screen to `events` source events and show `step`
    /// (and `key` in its state table).
    GoTo {
        /// Source events processed (`None`: stay where the replay is).
        events: Option<u64>,
        /// The step to show.
        step: Option<String>,
        /// The key to select.
        key: Option<String>,
    },
}

impl CompareAction {
    /// Going to the first divergence: just after its event, its step and key shown.
    pub fn go_to_first(first: &FirstDivergence) -> Self {
        let (step, key) = match &first.spot {
            Spot::State { step, key } => (Some(step.clone()), Some(key.clone())),
            Spot::Outputs { step } => (Some(step.clone()), None),
            Spot::Sink { .. } => (None, None),
        };
        CompareAction::GoTo { events: Some(events_at(&first.position)), step, key }
    }
}

/// A comparison as the tab shows it.
pub struct CompareShown<'a> {
    /// The other version's name (`a`).
    pub a_name: &'a str,
    /// The version on screen's name (`b`).
    pub b_name: &'a str,
    /// Each version's scripts by step id.
    pub scripts: (&'a BTreeMap<String, String>, &'a BTreeMap<String, String>),
    /// Source events compared so far.
    pub events: u64,
    /// Source events in the replay, when known.
    pub total: Option<u64>,
    /// The result, once there is one.
    pub result: Option<&'a Result<Comparison, String>>,
    /// The pipeline on screen changed since: B is no longer what is on screen.
    pub changed: bool,
}

/// The Compare tab; `has_file`: the pipeline has a saved version to compare with.
pub fn compare_ui(
    ui: &mut egui::Ui,
    shown: Option<CompareShown<'_>>,
    has_file: bool,
) -> Option<CompareAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        let saved = egui::Button::new("Compare with saved version");
        let hover = if has_file {
            "Replay the file as saved and the pipeline on screen on the same input, event by event"
        } else {
            "Save the pipeline first: an untitled pipeline has no saved version"
        };
        if ui.add_enabled(has_file, saved).on_hover_text(hover).on_disabled_hover_text(hover).clicked() {
            action = Some(CompareAction::WithSaved);
        }
        if ui.button("Compare with file…").clicked() {
            action = Some(CompareAction::WithFile);
        }
    });
    let Some(shown) = shown else {
        ui.weak(
            "Did my change change anything? Compare replays two versions of the pipeline on the same \
             input in lockstep and finds the first event where any step's outputs, any key's state or \
             any sink's items differ (as `eddy diff` does).",
        );
        return action;
    };
    ui.label(format!("A: {}", shown.a_name));
    ui.label(format!("B: {}", shown.b_name));
    if shown.changed {
        ui.colored_label(
            theme::selection(ui.visuals()),
            "The pipeline on screen changed since this comparison: compare again to see the changes \
             (Go to replays the pipeline as it is now).",
        );
    }
    ui.separator();
    match shown.result {
        None => {
            ui.horizontal(|ui| {
                if ui.button("Cancel comparison").clicked() {
                    action = Some(CompareAction::Cancel);
                }
                let text = match shown.total {
                    Some(total) => {
                        format!("Comparing: {} / {} events", thousands(shown.events), thousands(total))
                    }
                    None => format!("Comparing: {} events", thousands(shown.events)),
                };
                let fraction = shown.total.filter(|&t| t > 0).map_or(0.0, |t| shown.events as f32 / t as f32);
                ui.add(egui::ProgressBar::new(fraction.clamp(0.0, 1.0)).text(text).animate(true));
            });
        }
        Some(Err(message)) => {
            ui.colored_label(theme::error(ui.visuals()), format!("Could not compare: {message}"));
        }
        Some(Ok(comparison)) => {
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                if let Some(asked) = comparison_ui(ui, comparison, &shown) {
                    action = Some(asked);
                }
            });
        }
    }
    action
}

fn comparison_ui(
    ui: &mut egui::Ui,
    comparison: &Comparison,
    shown: &CompareShown<'_>,
) -> Option<CompareAction> {
    let mut action = None;
    let s = &comparison.summary;
    let compared =
        format!("{} events{}", thousands(s.events), if s.end_of_input { " and end of input" } else { "" });
    if !comparison.differs() {
        ui.label(RichText::new(format!("✔ The two versions agree: {compared} compared")).strong());
        ui.weak("Every step both have emitted the same items and kept the same state per key; every sink received the same items.");
    } else {
        let text = format!("✖ The two versions differ at {} of {compared}", thousands(s.differing));
        ui.label(RichText::new(text).strong().color(theme::error(ui.visuals())));
    }
    if let Some(first) = &comparison.first {
        ui.add_space(4.0);
        action = first_ui(ui, first, shown);
    }
    ui.add_space(6.0);
    if !s.steps.is_empty() || !s.sinks.is_empty() {
        ui.label(RichText::new("Where they differ").strong());
        egui::Grid::new("compare_steps").striped(true).num_columns(4).show(ui, |ui| {
            ui.strong("step or sink");
            ui.strong("events that differ");
            ui.strong("of which outputs");
            ui.strong("keys whose state differs (events)");
            ui.end_row();
            for step in &s.steps {
                ui.label(format!("step `{}`", step.step));
                ui.label(thousands(step.events));
                ui.label(thousands(step.output_events));
                ui.horizontal_wrapped(|ui| {
                    for (key, events) in step.keys.iter().take(SHOWN_KEYS) {
                        let link = ui.link(format!("{} ×{}", quoted(key), thousands(*events)));
                        if link.on_hover_text("Show this key in the step's state table").clicked() {
                            action = Some(CompareAction::GoTo {
                                events: None,
                                step: Some(step.step.clone()),
                                key: Some(key.clone()),
                            });
                        }
                    }
                    if step.keys.len() > SHOWN_KEYS {
                        ui.weak(format!("and {} more", step.keys.len() - SHOWN_KEYS));
                    }
                });
                ui.end_row();
            }
            for (sink, events) in &s.sinks {
                ui.label(format!("sink `{sink}`"));
                ui.label(thousands(*events));
                ui.label("");
                ui.label("");
                ui.end_row();
            }
        });
    }
    for (side, only) in [("A", &s.only_in_a), ("B", &s.only_in_b)] {
        let names = only.names();
        if !names.is_empty() {
            ui.label(format!("Only in {side}: {}", names.join(", ")));
        }
    }
    action
}

/// Source events processed at `position` (what a seek there takes).
fn events_at(position: &Position) -> u64 {
    match position {
        Position::Event { number, .. } => *number,
        Position::EndOfInput { after } => *after,
    }
}

fn first_ui(ui: &mut egui::Ui, first: &FirstDivergence, shown: &CompareShown<'_>) -> Option<CompareAction> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        let at = match &first.position {
            Position::Event { number, source, line, time } => {
                let time = time
                    .and_then(crate::time::format_rfc3339_micros)
                    .map(|t| format!(", time {t}"))
                    .unwrap_or_default();
                format!(
                    "First difference: event {} (source `{source}`, line {line}{time})",
                    thousands(*number)
                )
            }
            Position::EndOfInput { after } => {
                format!("First difference: at end of input (after {} events)", thousands(*after))
            }
        };
        ui.label(RichText::new(at).strong());
        let (label, hover) = match &first.position {
            Position::Event { number, .. } => (
                format!("Go to event {}", thousands(*number)),
                "Replay the pipeline on screen to just after this event, and show the step and key",
            ),
            Position::EndOfInput { .. } => (
                "Go to the last event".to_owned(),
                "Replay the pipeline on screen to its last event; ⏭ To end then runs end of input",
            ),
        };
        if ui.button(label).on_hover_text(hover).clicked() {
            action = Some(CompareAction::go_to_first(first));
        }
    });
    let what = match &first.spot {
        Spot::State { step, key } => format!("step `{step}`, key {}: its state differs", quoted(key)),
        Spot::Outputs { step } => format!("step `{step}`: its outputs differ"),
        Spot::Sink { sink } => format!("sink `{sink}`: it receives different items"),
    };
    ui.label(what);
    if !matches!(first.spot, Spot::Sink { .. }) {
        sides_ui(ui, &first.a, &first.b, &first.spot, shown);
    }
    if !first.also.is_empty() {
        let also: Vec<String> = first.also.iter().map(Spot::describe).collect();
        ui.label(format!("Also differing at this event: {}", also.join("; ")));
    }
    if let Spot::State { step, .. } | Spot::Outputs { step } = &first.spot {
        script_lines_ui(ui, step, shown);
    }
    action
}

/// Both sides of the first difference, in two columns.
fn sides_ui(ui: &mut egui::Ui, a: &SideDetail, b: &SideDetail, spot: &Spot, shown: &CompareShown<'_>) {
    let column = ((ui.available_width() - 120.0) / 2.0).clamp(120.0, 520.0);
    egui::Grid::new("compare_sides").striped(true).num_columns(3).min_col_width(column).show(ui, |ui| {
        ui.label("");
        ui.strong("A").on_hover_text(shown.a_name);
        ui.strong("B").on_hover_text(shown.b_name);
        ui.end_row();
        if matches!(spot, Spot::State { .. }) {
            for (label, left, right) in
                [("state before", &a.before, &b.before), ("state after", &a.after, &b.after)]
            {
                ui.label(label);
                value_cell(ui, left.as_ref(), left != right);
                value_cell(ui, right.as_ref(), left != right);
                ui.end_row();
            }
        }
        ui.label("outputs");
        outputs_cell(ui, &a.outputs, a.outputs != b.outputs);
        outputs_cell(ui, &b.outputs, a.outputs != b.outputs);
        ui.end_row();
    });
}

fn value_cell(ui: &mut egui::Ui, value: Option<&Value>, differs: bool) {
    let text = value.map_or_else(|| "(no state)".to_owned(), Value::to_string);
    ui.add(egui::Label::new(marked(ui, text, differs)).wrap());
}

fn outputs_cell(ui: &mut egui::Ui, outputs: &[Emitted], differs: bool) {
    let text = if outputs.is_empty() {
        "(none)".to_owned()
    } else {
        outputs
            .iter()
            .map(|o| if o.port == 0 { o.item.to_string() } else { format!("(falses) {}", o.item) })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ui.add(egui::Label::new(marked(ui, text, differs)).wrap());
}

fn marked(ui: &egui::Ui, text: String, differs: bool) -> RichText {
    let text = RichText::new(text).monospace();
    if differs { text.color(theme::selection(ui.visuals())) } else { text }
}

/// The lines of `step`'s script that differ between the two versions, numbered as in each.
fn script_lines_ui(ui: &mut egui::Ui, step: &str, shown: &CompareShown<'_>) {
    let (Some(a), Some(b)) = (shown.scripts.0.get(step), shown.scripts.1.get(step)) else { return };
    if a == b {
        ui.weak(format!(
            "Step `{step}` has the same script in both versions: what differs comes from upstream."
        ));
        return;
    }
    ui.label(RichText::new(format!("Script lines of step `{step}` that differ")).strong());
    let changes = changed_lines(a, b);
    let column = ((ui.available_width() - 20.0) / 2.0).clamp(200.0, 640.0);
    egui::Grid::new("compare_script").striped(true).num_columns(2).min_col_width(column).show(ui, |ui| {
        ui.strong("line in A");
        ui.strong("line in B");
        ui.end_row();
        for change in changes {
            let side = |ui: &mut egui::Ui, line: Option<(usize, &str)>| match line {
                Some((number, text)) => {
                    ui.label(RichText::new(format!("{number:>4}  {text}")).monospace());
                }
                None => {
                    ui.label("");
                }
            };
            side(ui, change.a);
            side(ui, change.b);
            ui.end_row();
        }
    });
}

/// A row of a two-column script diff: a line only in A, only in B, or changed (both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange<'a> {
    /// The line in A (1-based number, text), when A has one here.
    pub a: Option<(usize, &'a str)>,
    /// The line in B.
    pub b: Option<(usize, &'a str)>,
}

/// The lines that differ between two scripts (a longest-common-subsequence line diff), each
/// run of removed lines paired with the run of added lines that replaced it.
pub fn changed_lines<'a>(a: &'a str, b: &'a str) -> Vec<LineChange<'a>> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Scripts far larger than any a person writes are shown whole rather than diffed slowly.
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return pair(a.iter().copied().enumerate().collect(), b.iter().copied().enumerate().collect());
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let mut changes = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            changes.extend(pair(std::mem::take(&mut removed), std::mem::take(&mut added)));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            added.push((j, b[j]));
            j += 1;
        } else {
            removed.push((i, a[i]));
            i += 1;
        }
    }
    changes.extend(pair(removed, added));
    changes
}

/// Removed and added lines side by side (0-based indexes in, 1-based numbers out).
fn pair<'a>(removed: Vec<(usize, &'a str)>, added: Vec<(usize, &'a str)>) -> Vec<LineChange<'a>> {
    let rows = removed.len().max(added.len());
    (0..rows)
        .map(|row| LineChange {
            a: removed.get(row).map(|&(n, text)| (n + 1, text)),
            b: added.get(row).map(|&(n, text)| (n + 1, text)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{LineChange, changed_lines};

    #[test]
    fn a_changed_line_is_paired_and_added_or_removed_lines_stand_alone() {
        let a = "fn f(x) {\n    x + 1\n}\n";
        let b = "fn f(x) {\n    x + 2\n}\n// note\n";
        assert_eq!(
            changed_lines(a, b),
            vec![
                LineChange { a: Some((2, "    x + 1")), b: Some((2, "    x + 2")) },
                LineChange { a: None, b: Some((4, "// note")) },
            ]
        );
        assert_eq!(changed_lines(a, a), vec![]);
        assert_eq!(changed_lines("one\ntwo\n", "two\n"), vec![LineChange { a: Some((1, "one")), b: None }]);
    }
}
