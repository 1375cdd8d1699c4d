//! The workbench (desktop app). Behind the default `gui` feature; nothing else imports it.

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
    anyhow::bail!(
        "the workbench window is not built yet (it is the next milestone).\n\
         Run the pipeline headless instead:\n\n    eddy run {}\n",
        file.display()
    )
}
