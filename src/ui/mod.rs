//! The workbench (desktop app). Behind the default `gui` feature; nothing else imports it.
//!
//! - [`Workbench`]: the app (document, canvas, history, panels); [`UiCommand`] drives it.
//! - `editor`: the node graph (egui-snarl): node payload, conversion, viewer, palette, templates.
//! - `panels`: one panel a module: the inspector, the script editor, the replay bar
//!   (`timeline_ui`), the State table, the timers and log, the Data tab (`io_ui`), the
//!   snapshots, the breakpoints, the plots and the background run (`run_ui`).
//! - `theme`: every colour, and the fonts.

mod app;
pub mod editor;
pub mod panels;
pub mod theme;

use std::path::Path;

pub use app::{CompareRun, UiCommand, Workbench, WorkbenchOptions};

/// A count with thin spaces between thousands (`1 000 000`), as the canvas shows counters.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(digit);
    }
    out
}

/// Whether this machine has a display a window could open on.
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Opens the workbench on a pipeline file.
pub fn run_workbench(file: &Path) -> anyhow::Result<()> {
    if !display_available() {
        anyhow::bail!(
            "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the workbench cannot open.\n\
             Run the pipeline headless instead:\n\n    eddy run {}\n",
            file.display()
        );
    }
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_title("Eddy"),
        ..Default::default()
    };
    let file = file.to_path_buf();
    eframe::run_native(
        "Eddy",
        options,
        Box::new(move |_cc| {
            Ok(Box::new(Workbench::new(WorkbenchOptions { file: Some(file), config_dir: None })))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the workbench window could not open: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        let shown: Vec<String> =
            [0, 999, 1_000, 65_536, 1_000_000].into_iter().map(super::thousands).collect();
        assert_eq!(shown, ["0", "999", "1\u{2009}000", "65\u{2009}536", "1\u{2009}000\u{2009}000"]);
    }
}
