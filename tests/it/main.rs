//! Eddy's integration tests: one test binary, one module per concern.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test, with its message")]

mod architecture;
mod background_run;
mod cli;
#[cfg(feature = "gui")]
mod compare_ui;
mod compile_once;
mod compressed;
mod conformance;
mod data_safety;
#[cfg(feature = "gui")]
mod debugger_ui;
mod diff;
#[cfg(feature = "gui")]
mod dropped_ui;
mod end_of_input;
mod errors;
mod examples;
mod fast_path;
mod fast_play;
mod file_format_docs;
#[cfg(feature = "gui")]
mod files_ui;
#[cfg(feature = "gui")]
mod inspector_ui;
mod join_sharing;
mod join_written;
mod ledger;
mod limits;
mod live;
#[cfg(feature = "gui")]
mod markers_ui;
#[cfg(feature = "gui")]
mod panels_ui;
mod prefetch;
mod prints;
mod recording;
#[cfg(feature = "gui")]
mod recording_ui;
#[cfg(feature = "gui")]
mod replay_ui;
#[cfg(feature = "gui")]
mod run_ui;
#[cfg(feature = "gui")]
mod save_test_ui;
mod session;
mod snapshots;
#[cfg(feature = "gui")]
mod stepping_ui;
mod test_folders;
mod timer_queue;
#[cfg(feature = "gui")]
mod times_ui;
#[cfg(feature = "gui")]
mod ui_util;
mod util;
mod wall_clock;
#[cfg(feature = "gui")]
mod workbench;
#[cfg(feature = "gui")]
mod workbench_layout_ui;
mod workers;
mod workers_chunks;
mod workers_random;
mod workers_resume_clock;
