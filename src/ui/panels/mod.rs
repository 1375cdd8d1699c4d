//! Panels of the workbench: each takes a narrow borrowed context and returns what it wants done.

pub mod breakpoints_ui;
pub mod compare_ui;
pub mod dropped_ui;
pub mod inspector_ui;
pub mod io_ui;
pub mod plots_ui;
pub mod run_ui;
pub mod script_ui;
pub mod snapshots_ui;
pub mod state_ui;
pub mod timeline_ui;
pub mod timers_ui;
