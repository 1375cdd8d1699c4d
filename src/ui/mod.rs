//! The workbench (desktop app). Behind the default `gui` feature; nothing else imports it.
//!
//! This first cut opens a pipeline, shows its sources, steps and sinks with every problem
//! validation finds, and runs it on a background thread, showing each step's counts and the
//! first outputs of each sink. The node-graph editor and the live replay build on it.

mod app;

use std::path::Path;

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
        viewport: eframe::egui::ViewportBuilder::default().with_inner_size([1200.0, 760.0]),
        ..Default::default()
    };
    let file = file.to_path_buf();
    eframe::run_native("Eddy", options, Box::new(move |_cc| Ok(Box::new(app::Workbench::open(&file)))))
        .map_err(|e| anyhow::anyhow!("the workbench window could not open: {e}"))
}
