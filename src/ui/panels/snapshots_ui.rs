//! Snapshots: the automatic keyframes and the manual ones (position, clock, keys, size); open
//! one to browse its state, diff two, or restore one to continue from there.

use eframe::egui::{self, RichText};

use super::state_ui::json_tree_ui;
use super::state_ui::times_in;
use super::timeline_ui::clock_text;
use crate::session::{Command, RunView, SnapshotContents, SnapshotDiff, SnapshotId, SnapshotKind};
use crate::ui::theme;

/// Widget state of the snapshots panel.
pub struct SnapshotPicks<'a> {
    /// The first snapshot of a diff.
    pub from: &'a mut Option<SnapshotId>,
    /// The second snapshot of a diff.
    pub to: &'a mut Option<SnapshotId>,
}

/// The snapshot list, with what was opened or compared last.
pub fn snapshots_ui(
    ui: &mut egui::Ui,
    view: &RunView,
    picks: SnapshotPicks<'_>,
    opened: Option<&SnapshotContents>,
    diff: Option<&SnapshotDiff>,
) -> Vec<Command> {
    let mut commands = Vec::new();
    let manual_only = ui.memory(|m| m.data.get_temp::<bool>(egui::Id::new("manual_only"))).unwrap_or(false);
    let mut show_manual_only = manual_only;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{} snapshots", view.snapshots.len())).strong());
        ui.checkbox(&mut show_manual_only, "manual only");
        let ready = picks.from.is_some() && picks.to.is_some() && picks.from != picks.to;
        if ui.add_enabled(ready, egui::Button::new("Diff A → B")).clicked()
            && let (Some(a), Some(b)) = (*picks.from, *picks.to)
        {
            commands.push(Command::DiffSnapshots(a, b));
        }
        // The automatic keyframes' memory against their budget (thinned beyond it).
        const MIB: u64 = 1024 * 1024;
        let use_ = view.keyframes;
        ui.separator();
        ui.label(format!(
            "keyframes: {} ({:.0} of {} MiB, every {} events)",
            use_.count,
            use_.bytes as f64 / MIB as f64,
            use_.budget / MIB,
            use_.every
        ))
        .on_hover_text(
            "Automatic keyframes hold the states changed since the one before; past the budget, \
             every other one is dropped. Also settable in the file: [editor] keyframe_budget_mib",
        );
        let mut mib = use_.budget.div_ceil(MIB);
        let budget = ui.add(egui::DragValue::new(&mut mib).range(16..=1_048_576).suffix(" MiB budget"));
        if budget.changed() {
            commands.push(Command::SetKeyframeBudget(mib * MIB));
        }
    });
    ui.memory_mut(|m| m.data.insert_temp(egui::Id::new("manual_only"), show_manual_only));
    ui.columns(2, |columns| {
        egui::ScrollArea::vertical().id_salt("snapshot_list").show(&mut columns[0], |ui| {
            egui::Grid::new("snapshots").striped(true).num_columns(7).show(ui, |ui| {
                for title in ["#", "kind", "event", "clock", "keys", "size", ""] {
                    ui.strong(title);
                }
                ui.end_row();
                for snapshot in view.snapshots.iter().rev() {
                    if show_manual_only && snapshot.kind != SnapshotKind::Manual {
                        continue;
                    }
                    ui.label(snapshot.id.to_string());
                    ui.label(match snapshot.kind {
                        SnapshotKind::Keyframe => "auto",
                        SnapshotKind::Manual => "manual",
                    });
                    ui.label(snapshot.position.to_string());
                    ui.label(clock_text(snapshot.clock_micros));
                    let keys: usize = snapshot.keys.iter().map(|(_, n)| n).sum();
                    ui.label(keys.to_string()).on_hover_text(
                        snapshot.keys.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join("\n"),
                    );
                    ui.label(format_bytes(snapshot.approx_bytes));
                    ui.horizontal(|ui| {
                        if ui.small_button("Open").clicked() {
                            commands.push(Command::OpenSnapshot(snapshot.id));
                        }
                        if ui.small_button("Restore").on_hover_text("Continue the replay from here").clicked()
                        {
                            commands.push(Command::RestoreSnapshot(snapshot.id));
                        }
                        if ui.selectable_label(*picks.from == Some(snapshot.id), "A").clicked() {
                            *picks.from = Some(snapshot.id);
                        }
                        if ui.selectable_label(*picks.to == Some(snapshot.id), "B").clicked() {
                            *picks.to = Some(snapshot.id);
                        }
                    });
                    ui.end_row();
                }
            });
        });
        egui::ScrollArea::vertical().id_salt("snapshot_detail").show(&mut columns[1], |ui| {
            if let Some(diff) = diff {
                diff_ui(ui, diff);
                ui.separator();
            }
            if let Some(opened) = opened {
                ui.label(
                    RichText::new(format!("Snapshot #{} at event {}", opened.info.id, opened.info.position))
                        .strong(),
                );
                for (step, rows) in &opened.steps {
                    egui::CollapsingHeader::new(format!("{step}: {} keys", rows.len()))
                        .id_salt(("opened", step))
                        .show(ui, |ui| {
                            for row in rows.iter().take(500) {
                                json_tree_ui(ui, &row.key, &row.state, 1);
                            }
                            if rows.len() > 500 {
                                ui.weak(format!("… and {} more", rows.len() - 500));
                            }
                        });
                }
                ui.label(format!("{} pending timers", opened.timers.len()));
            } else if diff.is_none() {
                ui.weak("Open a snapshot to browse its state, or pick A and B and diff them.");
            }
        });
    });
    commands
}

fn diff_ui(ui: &mut egui::Ui, diff: &SnapshotDiff) {
    ui.label(
        RichText::new(format!(
            "Diff #{} (event {}) → #{} (event {})",
            diff.from.id, diff.from.position, diff.to.id, diff.to.position
        ))
        .strong(),
    );
    if diff.steps.is_empty() {
        ui.label("No difference in any step's state.");
    }
    for step in &diff.steps {
        egui::CollapsingHeader::new(format!(
            "{}: {} added, {} removed, {} changed",
            step.step,
            step.added.len(),
            step.removed.len(),
            step.changed.len()
        ))
        .id_salt(("diff", &step.step))
        .default_open(true)
        .show(ui, |ui| {
            // Times inside a value are read on hover (RFC 3339).
            let with_times = |response: egui::Response, values: &[&serde_json::Value]| {
                let times: Vec<String> = values.iter().filter_map(|v| times_in(v)).collect();
                if times.is_empty() { response } else { response.on_hover_text(times.join("\n")) }
            };
            for (key, value) in &step.added {
                with_times(ui.label(RichText::new(format!("+ {key}: {value}")).monospace()), &[value]);
            }
            for (key, value) in &step.removed {
                let text =
                    RichText::new(format!("− {key}: {value}")).monospace().color(theme::error(ui.visuals()));
                with_times(ui.label(text), &[value]);
            }
            for change in &step.changed {
                let text =
                    RichText::new(format!("~ {}: {} → {}", change.key, change.old, change.new)).monospace();
                with_times(ui.label(text), &[&change.old, &change.new]);
            }
        });
    }
}

/// Bytes for people.
pub fn format_bytes(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
