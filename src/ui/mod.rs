//! The workbench (desktop app). Behind the default `gui` feature; nothing else imports it.
//!
//! - [`Workbench`]: the app (document, canvas, history, panels); [`UiCommand`] drives it.
//! - `editor`: the node graph (egui-snarl): node payload, conversion, viewer, palette.
//! - `panels`: inspector and script editor.
//! - `theme`: every colour.

mod app;
pub mod editor;
pub mod panels;
pub mod theme;

use std::path::Path;

pub use app::{UiCommand, Workbench, WorkbenchOptions};

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
