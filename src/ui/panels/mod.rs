//! Panels of the workbench: each takes a narrow borrowed context and returns what it wants done.

pub mod inspector_ui;
pub mod script_ui;
