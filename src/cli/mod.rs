//! The `eddy` command line: `run`, `check`, `diff`, `test`, `bench`, and (with the `gui` feature)
//! `open`.
//!
//! Exit codes: 0 ok, 1 the run failed, 2 the pipeline is invalid (or the command line is);
//! `diff`: 0 the two agree, 1 they differ, 2 an error; `test`: 0 every folder passes, 1 one
//! fails, 2 an error.

mod bench;
mod bench_memory;
mod bench_session;
mod bench_snapshots;
mod bench_workers;
mod check;
mod diff;
mod junit;
mod run;
mod run_workers;
mod test_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use crate::engine::Prefetched;
pub use bench::{BenchOptions, BenchReport, run_bench};

/// Eddy: draw, script, replay and run stateful stream pipelines.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without one, the workbench opens on an example.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A pipeline file to open in the workbench (`eddy FILE` is `eddy open FILE`).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a pipeline's sources through it and write its sinks (headless, fast).
    ///
    /// Progress and the summary go to stderr; stdout carries only what stdout sinks write.
    /// Exit code 0 ok, 1 the run failed, 2 the pipeline is invalid.
    Run {
        /// The pipeline file (TOML).
        file: PathBuf,
        /// No progress bar and no summary.
        #[arg(short, long)]
        quiet: bool,
        /// Snapshots and recovery.
        #[command(flatten)]
        recovery: RecoveryOptions,
        /// Record every line the live sources receive, with the clock it was taken at, into
        /// a new file (JSON Lines); a source with `recording = "FILE"` replays it with the
        /// same timing. An existing file is refused.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Replay a recording made by --record in place of the live sources (as if each had
        /// `recording = "FILE"`): the live run again, at the clock it took each line at.
        #[arg(long, value_name = "FILE", conflicts_with = "record")]
        replay: Option<PathBuf>,
        /// Write every item that leaves the pipeline without reaching a sink (filtered, an
        /// output nothing reads, a join never matched, a DISCARDed state, a bad row, a timer
        /// pending at the end) to FILE, one JSON line each:
        /// {"step":…,"reason":…,"key":…,"event":…,"item":…}. A file the run reads or writes is
        /// refused.
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
        /// Run on N worker threads (timely-dataflow): keys are spread over the workers by a
        /// hash, and every sink gets the same bytes as with one worker (docs/workers.md). A
        /// pipeline whose only source is a CSV or JSON Lines file has it read in chunks by
        /// every worker (bad rows skipped or dead-lettered in file order, as on one worker);
        /// otherwise worker 0 reads the sources.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: u16,
        /// Run as one process of several (timely's TCP networking): FILE lists every
        /// process's `host:port`, one per line; with --process, this one's index (0 reads the
        /// sources and writes the sinks). Each process runs --workers threads.
        #[arg(long, value_name = "FILE", requires = "process")]
        hosts: Option<PathBuf>,
        /// This process's index in --hosts (0 first).
        #[arg(long, value_name = "I", requires = "hosts")]
        process: Option<usize>,
    },
    /// Validate a pipeline (structure and scripts) and list every problem.
    ///
    /// Exit code 0 valid, 2 invalid.
    Check {
        /// The pipeline file (TOML).
        file: PathBuf,
    },
    /// Compare two versions of a pipeline on the same replay, event by event.
    ///
    /// Both files are replayed deterministically on A's input, in lockstep: B must read the
    /// same sources (same ids in the same order, same files and settings), else it is an error
    /// naming the source that differs; a live source (path = "-", follow = true) or
    /// `[clock] mode = "wall"` is refused, since two replays of it would not see the same.
    /// After every event (and end of input), every step the two have (matched by id) is compared: its outputs for the event, in order, and the state of
    /// each key it changed (parsed values); and the items each sink receives. Prints the first
    /// divergence (the event, its source, line and time; the step and key; the state before and
    /// after and the outputs on each side) and a summary: per step, the events and keys that
    /// differ; the sinks that receive different items; the steps and sinks in one version only.
    ///
    /// Nothing is written: no sink, no dead-letter file (bad rows are skipped as
    /// `dead_letter` would), no snapshot; `print`/`debug` output is not shown.
    /// Exit code 0 identical, 1 they differ, 2 an error (a bad file, a source, a script).
    Diff {
        /// The first version (its sources are the input of both).
        a: PathBuf,
        /// The second version.
        b: PathBuf,
        /// Compare the first N events only (no end of input).
        #[arg(long, value_name = "N")]
        max_events: Option<u64>,
        /// Print the result as one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay recorded test folders headless and compare each sink with its expected lines.
    ///
    /// A test folder holds `pipeline.toml`, the input files it reads (at the paths it names
    /// them) and `expected/<sink id>.jsonl`, each sink's lines in JSON Lines form. Each folder
    /// is replayed with its sinks in memory (nothing is written into the folder or beside it;
    /// `print`/`debug` output is not shown) and prints PASS, or FAIL with, per sink, the first
    /// differing line (its number, expected, got) and the lines that differ, are missing or
    /// extra; a sink with no expected file and an expected file with no sink fail too.
    /// `eddy test --save FOLDER PIPELINE` makes a folder from a pipeline (FOLDER must not exist,
    /// or be empty; a live source or an input file outside the pipeline's folder is refused).
    /// Exit code 0 every folder passes, 1 one fails, 2 an error (a bad folder, a script error).
    Test {
        /// The test folders to replay; with --save, the pipeline file to save.
        #[arg(required = true, value_name = "FOLDER")]
        folders: Vec<PathBuf>,
        /// Write a new test folder FOLDER from the pipeline given (its outputs as they are now).
        #[arg(long, value_name = "FOLDER", conflicts_with = "junit")]
        save: Option<PathBuf>,
        /// Also write a JUnit XML report (one testcase per folder) into FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// With --save: also save a key's state at a stateful step after a number of source
        /// events, checked by `eddy test` (`checkpoints.jsonl`): STEP:KEY@EVENTS, e.g.
        /// `stats:u03@40`. Repeatable.
        #[arg(long, value_name = "STEP:KEY@EVENTS", requires = "save")]
        checkpoint: Vec<String>,
    },
    /// Measure end-to-end throughput on a generated CSV (events/s), against a hand-written
    /// Rust floor.
    Bench(BenchOptions),
    /// Open a pipeline in the workbench.
    Open {
        /// The pipeline file (TOML); an example when not given.
        file: Option<PathBuf>,
    },
}

/// Snapshots and recovery of `eddy run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RecoveryOptions {
    /// Take a snapshot every N events, or (a live run) every time that much wall time has
    /// passed, idle or not: "30s", "5m", "1h30m" (into --snapshot-dir; 1000000 events when only
    /// the folder is given).
    #[arg(long, value_name = "N|DURATION", requires = "snapshot_dir", value_parser = parse_snapshot_every)]
    pub snapshot_every: Option<SnapshotEvery>,
    /// Where snapshots go (`snapshot-<events>.json`, written atomically).
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// How many snapshots to keep in --snapshot-dir (the latest ones).
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_snapshots: u64,
    /// Continue from a snapshot (a snapshot file, or a folder: its latest one); file sinks
    /// are cut back to where they were at the snapshot and appended to. The pipeline and the
    /// input read so far must be unchanged since the snapshot.
    #[arg(long, value_name = "DIR|FILE")]
    pub resume: Option<PathBuf>,
    /// Let a run without --resume replace the snapshots another run left in --snapshot-dir
    /// (without it such a folder is refused).
    #[arg(long, requires = "snapshot_dir")]
    pub overwrite_snapshots: bool,
    /// Stop after N events, as if killed (without end of input); for tests.
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after: Option<u64>,
}

/// How often `eddy run` takes a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotEvery {
    /// Every N events (between two events).
    Events(u64),
    /// Whenever this much wall time (µs) has passed since the last one: live runs only.
    WallMicros(i64),
}

/// Reads `--snapshot-every`: a count of events (`100000`) or a duration (`"30s"`).
fn parse_snapshot_every(text: &str) -> Result<SnapshotEvery, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(0) => Err("0 events: take a snapshot every 1 event or more".into()),
            Ok(n) => Ok(SnapshotEvery::Events(n)),
            Err(_) => Err(format!("{text} events does not fit in 64 bits")),
        };
    }
    match crate::time::parse_duration_micros(text) {
        Ok(micros) if micros > 0 => Ok(SnapshotEvery::WallMicros(micros)),
        Ok(_) => Err("a zero duration: take snapshots every \"1s\" or more".into()),
        Err(reason) => {
            Err(format!("expected a number of events (100000) or a duration (\"30s\", \"1h30m\"): {reason}"))
        }
    }
}

impl RecoveryOptions {
    /// The snapshot interval: `--snapshot-every`, or [`DEFAULT_SNAPSHOT_EVERY`] events when
    /// only `--snapshot-dir` is given; `None` without a folder.
    pub fn interval(&self) -> Option<SnapshotEvery> {
        self.snapshot_dir
            .as_ref()
            .map(|_| self.snapshot_every.unwrap_or(SnapshotEvery::Events(DEFAULT_SNAPSHOT_EVERY)))
    }
}

/// The snapshot interval (events) of a run given `--snapshot-dir` alone: a snapshot of 10 k
/// keys (state written, sinks and the snapshot fsynced) costs the running count about 4 % at
/// this interval in `eddy bench`, about 13 % at every 100 k events (README "Snapshots and
/// recovery" quotes the figures).
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 1_000_000;

/// Runs the command line; the binary's whole body.
pub fn main() -> Dispatch {
    crate::io::guard_standard_streams();
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Run { file, quiet, recovery, record, replay, ledger, workers, hosts, process }) => {
            let live = run::LiveOptions { record: record.as_deref(), replay: replay.as_deref() };
            if workers > 1 || hosts.is_some() {
                let layout =
                    run_workers::Layout { workers: workers.into(), hosts: hosts.as_deref(), process };
                run_workers::run_workers_command(&file, quiet, &recovery, live, ledger.as_deref(), &layout)
            } else {
                run::run_command(&file, quiet, &recovery, live, ledger.as_deref())
            }
        }
        Some(Command::Check { file }) => check::check_command(&file),
        Some(Command::Diff { a, b, max_events, json }) => {
            diff::diff_command(&a, &b, &crate::compare::CompareOptions { max_events }, json)
        }
        Some(Command::Test { folders, save: Some(folder), checkpoint, .. }) => match folders.as_slice() {
            [pipeline] => test_cmd::save_command(&folder, pipeline, &checkpoint),
            _ => {
                crate::eprintln_lossy!("error: eddy test --save FOLDER PIPELINE takes one pipeline file");
                2
            }
        },
        Some(Command::Test { folders, save: None, junit, .. }) => {
            test_cmd::test_command(&folders, junit.as_deref())
        }
        Some(Command::Bench(options)) => match run_bench(&options) {
            Ok(report) => {
                crate::println_lossy!("{report}");
                0
            }
            Err(e) => {
                crate::eprintln_lossy!("error: {e:#}");
                1
            }
        },
        Some(Command::Open { file }) => return Dispatch::OpenWorkbench(file.unwrap_or_else(default_example)),
        None => return Dispatch::OpenWorkbench(cli.file.unwrap_or_else(default_example)),
    };
    Dispatch::Exit(code)
}

/// What the binary does once the command line is handled: exit with a code, or open the
/// workbench (which lives in `ui`, a layer the command line does not import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// The command ran: exit with this code.
    Exit(u8),
    /// Open the workbench on this file.
    OpenWorkbench(PathBuf),
}

/// The example the workbench opens when no file is given.
pub fn default_example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets").join("sessions.toml")
}
