//! `eddy bench`: end-to-end throughput (read, parse, process, write) on a generated CSV of
//! N events over K keys, for the pipeline shapes that matter, against a hand-written floor
//! (csv crate + HashMap) doing the running count on the same file.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::engine::{Engine, EngineOptions, load_and_check};

/// Options of `eddy bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Events in the generated file.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Distinct keys.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Distinct keys of the many-keys cases (a second generated file).
    #[arg(long, default_value_t = 1_000_000)]
    pub many_keys: u64,
    /// Folder for the generated data and outputs (a temporary folder when not given).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Rounds: each round runs every case once (in an order rotated from round to round), and
    /// each figure is the median over the rounds with their min–max.
    #[arg(long, alias = "repeat", default_value_t = 3)]
    pub rounds: u32,
    /// Only the cases whose name contains this text (the floor always runs).
    #[arg(long)]
    pub only: Option<String>,
    /// Also time the workbench's session against `eddy run` on the same file, with an int
    /// state and a map state: play at *max* with the canvas only and with the State tab open
    /// (ratios to the runner), the peak memory of a map-state replay played to the end, and
    /// seeks back across it.
    #[arg(long)]
    pub session: bool,
    /// Time script-heavy pipelines and the running counts on one worker and on N
    /// (`eddy run --workers N`, docs/workers.md), alternated, with each round's ratio, and
    /// check that both write the same bytes; nothing else is timed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=256))]
    pub workers: Option<u16>,
    /// Internal: replays this pipeline in a session to the end with its last step's table
    /// open and prints the process's peak resident memory (`--session` runs it as a child
    /// process, so that the figure is the replay's alone).
    #[arg(long, hide = true)]
    pub session_memory_of: Option<PathBuf>,
    /// Times the session's load, replay to the end, seeks and steps over this pipeline only
    /// (what `--session` times after its ratios), to look at seeks without the rest.
    #[arg(long, hide = true)]
    pub session_seeks_of: Option<PathBuf>,
    /// Times the session playing this pipeline at *max* (canvas only) and nothing else, to
    /// profile the play loop alone.
    #[arg(long, hide = true)]
    pub session_play_of: Option<PathBuf>,
    /// Internal: runs this pipeline as `eddy run` does and prints the process's peak resident
    /// memory (the memory-per-key figures run it as a child process).
    #[arg(long, hide = true)]
    pub run_memory_of: Option<PathBuf>,
}

/// One timed run of a case.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Wall time in seconds.
    pub wall: f64,
    /// CPU time of the whole process (every thread: the runner reads ahead on a second one)
    /// in seconds, to the kernel's tick (10 ms); `None` without `/proc/self/stat`.
    pub cpu: Option<f64>,
}

/// One measured case: every round's timing.
#[derive(Debug, Clone)]
pub struct BenchCase {
    /// What ran.
    pub name: String,
    /// Source events processed per run.
    pub events: u64,
    /// One timing per round, in round order.
    pub runs: Vec<Timing>,
}

impl BenchCase {
    /// Events per second of each round.
    pub fn rates(&self) -> Vec<f64> {
        self.runs.iter().map(|run| self.events as f64 / run.wall.max(1e-9)).collect()
    }

    /// The median rate over the rounds.
    pub fn rate(&self) -> f64 {
        Spread::of(&self.rates()).median
    }
}

/// The median of some figures and their min–max: every figure the bench quotes is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest figure.
    pub min: f64,
    /// The largest figure.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (all zero when there are none).
    pub fn of(values: &[f64]) -> Self {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return Self { median: 0.0, min: 0.0, max: 0.0 };
        }
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Self { median, min: sorted[0], max: sorted[n - 1] }
    }
}

/// The results of a bench run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Each case, the floor last.
    pub cases: Vec<BenchCase>,
    /// With `--session`: what was timed in the session, and its wall time in seconds.
    pub session: Vec<(String, f64)>,
    /// With `--session`: the ratios the workbench's targets are stated in.
    pub session_figures: Option<super::bench_session::SessionFigures>,
    /// With `--session-memory-of`, `--session-play-of` or `--workers`: the whole answer (nothing else
    /// was run).
    pub memory_probe: Option<String>,
    /// The first case with and without snapshots at the default interval.
    pub snapshot_cost: Option<super::bench_snapshots::SnapshotCost>,
    /// Distinct keys of the usual cases and of the many-keys cases.
    pub keys: (u64, u64),
    /// What one more key costs the running count and `count_final` (when both files ran).
    pub key_memory: Vec<super::bench_memory::KeyMemory>,
}

impl BenchReport {
    /// The case named `name`.
    fn case(&self, name: &str) -> Option<&BenchCase> {
        self.cases.iter().find(|c| c.name == name)
    }

    /// `a`'s rate over `b`'s, round by round (both ran in each round), as a spread.
    fn ratio(&self, a: &str, b: &str) -> Option<Spread> {
        let (a, b) = (self.case(a)?, self.case(b)?);
        let ratios: Vec<f64> = a.rates().iter().zip(b.rates()).map(|(a, b)| a / b.max(1e-9)).collect();
        Some(Spread::of(&ratios))
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(probe) = &self.memory_probe {
            return writeln!(f, "{probe}");
        }
        let rounds = self.cases.first().map_or(0, |c| c.runs.len());
        writeln!(f, "{rounds} rounds; each figure is the median with the rounds' min–max\n")?;
        writeln!(
            f,
            "{:<58} {:>10} {:>26} {:>8} {:>8} {:>18}",
            "case", "events", "rate", "wall s", "cpu s", "of the floor"
        )?;
        let floor = self.case(FLOOR);
        for case in &self.cases {
            let rate = Spread::of(&case.rates());
            let wall = Spread::of(&case.runs.iter().map(|r| r.wall).collect::<Vec<_>>());
            let cpu: Vec<f64> = case.runs.iter().filter_map(|r| r.cpu).collect();
            let cpu = if cpu.is_empty() { "-".to_owned() } else { format!("{:.2}", Spread::of(&cpu).median) };
            let of_floor = match floor {
                Some(floor) if !std::ptr::eq(floor, case) => {
                    self.ratio(&case.name, FLOOR).map_or_else(String::new, |r| {
                        format!("{:.0} % ({:.0}–{:.0})", 100.0 * r.median, 100.0 * r.min, 100.0 * r.max)
                    })
                }
                _ => String::new(),
            };
            writeln!(
                f,
                "{:<58} {:>10} {:>26} {:>8.3} {:>8} {:>18}",
                case.name,
                case.events,
                format!("{:.2} M ev/s ({:.2}–{:.2})", rate.median / 1e6, rate.min / 1e6, rate.max / 1e6),
                wall.median,
                cpu,
                of_floor
            )?;
        }
        if !self.session.is_empty() {
            writeln!(f, "\nsession (workbench replay of the map-state case)")?;
            for (what, seconds) in &self.session {
                writeln!(f, "  {what:<58} {seconds:>8.3} s")?;
            }
            if let Some(seeks) = super::bench_session::SeekSummary::of(&self.session) {
                writeln!(f, "  {seeks}")?;
            }
        }
        if let Some(cost) = &self.snapshot_cost {
            write!(f, "\n{cost}")?;
        }
        if let Some(figures) = &self.session_figures {
            write!(f, "\n{figures}")?;
        }
        writeln!(f, "\ntargets (issue 11), ratios taken within each round:")?;
        let mut target = |what: &str, spread: Option<Spread>, unit: &str, goal: &str| -> fmt::Result {
            match spread {
                Some(s) if unit == "%" => writeln!(
                    f,
                    "  {what:<52} {:.1} % ({:.1}–{:.1}), target {goal}",
                    100.0 * s.median,
                    100.0 * s.min,
                    100.0 * s.max
                ),
                Some(s) => writeln!(
                    f,
                    "  {what:<52} {:.2}{unit} ({:.2}–{:.2}), target {goal}",
                    s.median, s.min, s.max
                ),
                None => Ok(()),
            }
        };
        let rate = |prefix: &str| {
            self.case(prefix).map(|c| {
                let rates: Vec<f64> = c.rates().iter().map(|r| r / 1e6).collect();
                Spread::of(&rates)
            })
        };
        target("built-in running count / floor", self.ratio(BUILTIN_COUNT, FLOOR), "%", "≥ 70 %")?;
        target(
            "scripted running count / built-in",
            self.ratio(SCRIPTED_COUNT, BUILTIN_COUNT),
            "%",
            "≥ 80 %",
        )?;
        target(
            "fast path gain: scripted / Rhai only",
            self.ratio(SCRIPTED_COUNT, RHAI_ONLY_COUNT),
            "×",
            "-",
        )?;
        target("fold_final, map accumulator", rate(MAP_FOLD), " M ev/s", "≥ 1.50")?;
        target("join running", rate(JOIN), " M rows/s", "≥ 1.00")?;
        target("stateful sliding window with timers", rate(SLIDING), " M ev/s", "≥ 1.00")?;
        target("stateful session window with timers", rate(SESSION_WINDOW), " M ev/s", "≥ 1.00")?;
        target(
            "running count: many keys / 10 k keys",
            self.ratio(MANY_KEYS_COUNT, SCRIPTED_COUNT),
            "×",
            "≥ 0.70",
        )?;
        target(
            "count_final: many keys / 10 k keys",
            self.ratio(MANY_KEYS_COUNT_FINAL, COUNT_FINAL),
            "×",
            "≥ 0.70",
        )?;
        for measured in &self.key_memory {
            writeln!(f, "{measured}")?;
        }
        Ok(())
    }
}

/// The cases' names; the targets find them by these.
const SCRIPTED_COUNT: &str = "running count, Rhai stateful_map";
const RHAI_ONLY_COUNT: &str = "running count, Rhai stateful_map, Rhai only";
const BUILTIN_COUNT: &str = "running count, built-in";
const COUNT_FINAL: &str = "count_final";
const FOLD_SUM: &str = "fold_final, sum (Rhai)";
const MAP_FOLD: &str = "fold_final, map {sum, count, min, max} (Rhai)";
const JOIN: &str = "join of two sources (last, running)";
const SLIDING: &str = "stateful sliding window 60 s, timers (Rhai)";
const SESSION_WINDOW: &str = "stateful session window 30 s gap, timers (Rhai)";
const MANY_KEYS_COUNT: &str = "running count, Rhai stateful_map, many keys";
const MANY_KEYS_COUNT_FINAL: &str = "count_final, many keys";
/// The folder, under the bench's, of the many-keys file and its cases.
const MANY_KEYS_DIR: &str = "many_keys";
const FLOOR: &str = "floor: hand-written Rust running count";

const HEADER: &str = "format_version = 1\n";

pub(super) fn pipeline(source: &str, steps: &str) -> String {
    format!(
        "{HEADER}\n{source}\n{steps}\n[[sinks]]\nid = \"out\"\ninputs = [\"measured\"]\nformat = \"jsonl\"\npath = \"out.jsonl\"\n"
    )
}

fn csv_source(id: &str, path: &str) -> String {
    format!("[[sources]]\nid = \"{id}\"\npath = \"{path}\"\ntime_field = \"ts\"\n")
}

pub(super) fn key_on(id: &str, input: &str) -> String {
    format!("[[steps]]\nid = \"{id}\"\nop = \"key_on\"\ninputs = [\"{input}\"]\nfield = \"user\"\n")
}

/// One case to time: a pipeline file and how the engine runs it.
struct CaseSpec {
    name: &'static str,
    file: PathBuf,
    rhai_only: bool,
}

/// The `stateful` logic of the sliding-window example (`assets/sliding_window.toml`): the
/// values of the last 60 s per key, their sum after each item and when the oldest expires.
const SLIDING_WINDOW_SCRIPT: &str = "
const WINDOW = secs(60);
fn builder(resume) { if resume == () { #{ items: [] } } else { resume } }
fn on_item(value) { this.items.push([now(), value]); this.expire(); [[this.total()], RETAIN] }
fn on_notify() { if this.expire() { [[this.total()], RETAIN] } else { [[], RETAIN] } }
fn notify_at() { if this.items.len() == 0 { () } else { this.items[0][0] + WINDOW } }
fn expire() {
    let cutoff = now() - WINDOW;
    let dropped = false;
    while this.items.len() > 0 && this.items[0][0] <= cutoff { this.items.shift(); dropped = true; }
    dropped
}
fn total() { let sum = 0; for item in this.items { sum += item[1]; } sum }
";

/// A session window in `stateful`: a key's session closes 30 s after its last item (a timer),
/// emitting its start, end, count and total.
const SESSION_WINDOW_SCRIPT: &str = "
const GAP = secs(30);
fn builder(resume) { if resume == () { #{ start: 0, last: 0, count: 0, total: 0 } } else { resume } }
fn on_item(value) {
    if this.count == 0 { this.start = now(); }
    this.last = now();
    this.count += 1;
    this.total += value;
    [[], RETAIN]
}
fn on_notify() { [[#{ start: this.start, end: this.last, count: this.count, total: this.total }], DISCARD] }
fn notify_at() { this.last + GAP }
";

/// A step reading `input` with `settings` (TOML lines) and, when given, a script.
fn step(id: &str, op: &str, input: &str, settings: &str, script: Option<&str>) -> String {
    let script = script.map_or_else(String::new, |s| format!("script = '''\n{s}\n'''\n"));
    format!("[[steps]]\nid = \"{id}\"\nop = \"{op}\"\ninputs = [\"{input}\"]\n{settings}{script}")
}

/// The cases' pipelines over `events.csv` (and its halves) in the folder they are written to.
fn case_texts() -> Vec<(&'static str, String)> {
    let source = csv_source("events", "events.csv");
    let keyed = |op: &str, settings: &str, script: Option<&str>| {
        pipeline(
            &source,
            &format!("{}{}", key_on("by_user", "events"), step("measured", op, "by_user", settings, script)),
        )
    };
    let stateful = |script: &str| {
        pipeline(
            &source,
            &format!(
                "{}{}{}",
                key_on("by_user", "events"),
                step("values", "map_value", "by_user", "field = \"value\"\n", None),
                step("measured", "stateful", "values", "", Some(script))
            ),
        )
    };
    let map_folder = "fn builder() { #{ sum: 0, count: 0, min: (), max: () } }
fn folder(acc, e) {
    acc.sum += e.value;
    acc.count += 1;
    if acc.min == () || e.value < acc.min { acc.min = e.value; }
    if acc.max == () || e.value > acc.max { acc.max = e.value; }
    acc
}";
    vec![
        (
            SCRIPTED_COUNT,
            keyed("stateful_map", "", Some("fn mapper(state, value) { let n = (state ?? 0) + 1; [n, n] }")),
        ),
        (BUILTIN_COUNT, keyed("stateful_map", "builtin = \"count\"\n", None)),
        (
            COUNT_FINAL,
            pipeline(&source, &step("measured", "count_final", "events", "field = \"user\"\n", None)),
        ),
        (FOLD_SUM, keyed("fold_final", "", Some("fn builder() { 0 }\nfn folder(acc, e) { acc + e.value }"))),
        (MAP_FOLD, keyed("fold_final", "", Some(map_folder))),
        (
            JOIN,
            pipeline(
                &format!("{}{}", csv_source("left", "left.csv"), csv_source("right", "right.csv")),
                &format!(
                    "{}{}[[steps]]\nid = \"measured\"\nop = \"join\"\ninputs = [\"left_by_user\", \"right_by_user\"]\nemit_mode = \"running\"\n",
                    key_on("left_by_user", "left"),
                    key_on("right_by_user", "right")
                ),
            ),
        ),
        (SLIDING, stateful(SLIDING_WINDOW_SCRIPT)),
        (SESSION_WINDOW, stateful(SESSION_WINDOW_SCRIPT)),
    ]
}

/// A fold whose function does real work per event (50 rounds of arithmetic): what several
/// workers are for.
const HEAVY_FOLD: &str = "fold_final, 50 rounds of arithmetic per event (Rhai)";

/// The cases `eddy bench --workers` times on 1 and N workers: script-heavy ones (what more
/// workers should speed up) and the running counts (which they should not slow down).
pub(super) fn worker_cases() -> Vec<(&'static str, String)> {
    let source = csv_source("events", "events.csv");
    let heavy = "fn builder() { 0 }
fn folder(acc, e) { let x = e.value; for i in 0..50 { x = (x * 31 + i) % 1000003; } acc + x }";
    let heavy_fold = pipeline(
        &source,
        &format!(
            "{}{}",
            key_on("by_user", "events"),
            step("measured", "fold_final", "by_user", "", Some(heavy))
        ),
    );
    let mut cases = vec![(HEAVY_FOLD, heavy_fold)];
    let wanted = [SLIDING, SCRIPTED_COUNT, BUILTIN_COUNT];
    cases.extend(case_texts().into_iter().filter(|(name, _)| wanted.contains(name)));
    cases
}

/// Process CPU time (user + system, every thread) in seconds, from `/proc/self/stat` at the
/// kernel's usual 100 ticks per second.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis,
    // where field 3 (the state) comes first; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some((ticks(14)? + ticks(15)?) as f64 / 100.0)
}

/// Times `work`, wall and process CPU.
pub(super) fn timed<T>(work: impl FnOnce() -> Result<T>) -> Result<(T, Timing)> {
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let value = work()?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(process_cpu_seconds()).map(|(before, after)| after - before);
    Ok((value, Timing { wall, cpu }))
}

/// Runs the benchmark and returns its report.
pub fn run_bench(options: &BenchOptions) -> Result<BenchReport> {
    let mut report = BenchReport {
        cases: Vec::new(),
        session: Vec::new(),
        session_figures: None,
        memory_probe: None,
        snapshot_cost: None,
        keys: (options.keys, options.many_keys),
        key_memory: Vec::new(),
    };
    if let Some(file) = &options.run_memory_of {
        report.memory_probe = Some(super::bench_memory::run_memory(file)?);
        return Ok(report);
    }
    if let Some(file) = &options.session_memory_of {
        report.memory_probe = Some(super::bench_session::session_memory(file)?);
        return Ok(report);
    }
    if let Some(file) = &options.session_seeks_of {
        report.session = super::bench_session::time_session(file)?;
        return Ok(report);
    }
    if let Some(file) = &options.session_play_of {
        let rate = super::bench_session::time_play(file, false)?;
        report.memory_probe = Some(format!("session play: {rate:.0} events/s (at max, canvas only)"));
        return Ok(report);
    }
    let temp;
    let dir = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary folder")?;
            temp.path().to_path_buf()
        }
    };
    let wanted = |name: &str| options.only.as_deref().is_none_or(|only| name.contains(only));
    crate::eprintln_lossy!(
        "generating {} events over {} keys in {} …",
        options.events,
        options.keys,
        dir.display()
    );
    generate(&dir, options.events, options.keys)?;
    if let Some(workers) = options.workers {
        let table = super::bench_workers::bench_workers(
            &dir,
            options.events,
            workers.into(),
            options.rounds,
            options.only.as_deref(),
        )?;
        report.memory_probe = Some(table);
        return Ok(report);
    }
    let mut specs = Vec::new();
    let mut scripted_file = None;
    // Per many-keys case: the case it scales, the usual file's pipeline and its own.
    let mut key_pairs = Vec::new();
    for (index, (name, text)) in case_texts().into_iter().enumerate() {
        let file = dir.join(format!("case-{}.toml", index + 1));
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        specs.push(CaseSpec { name, file: file.clone(), rhai_only: false });
        if name == SCRIPTED_COUNT {
            // The same file with the fast path off: the fast path's gain as a ratio.
            specs.push(CaseSpec { name: RHAI_ONLY_COUNT, file: file.clone(), rhai_only: true });
            scripted_file = Some(file);
        }
    }
    if wanted(MANY_KEYS_COUNT) || wanted(MANY_KEYS_COUNT_FINAL) {
        let many = dir.join(MANY_KEYS_DIR);
        std::fs::create_dir_all(&many).with_context(|| format!("cannot create {}", many.display()))?;
        crate::eprintln_lossy!(
            "generating {} events over {} keys in {} …",
            options.events,
            options.many_keys,
            many.display()
        );
        generate(&many, options.events, options.many_keys)?;
        for (index, (name, of)) in
            [(MANY_KEYS_COUNT, SCRIPTED_COUNT), (MANY_KEYS_COUNT_FINAL, COUNT_FINAL)].into_iter().enumerate()
        {
            let text =
                case_texts().into_iter().find(|(n, _)| *n == of).map(|(_, text)| text).unwrap_or_default();
            let file = many.join(format!("case-{}.toml", index + 1));
            std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
            if let Some(few) = specs.iter().find(|spec| spec.name == of) {
                key_pairs.push((name, of, few.file.clone(), file.clone()));
            }
            specs.push(CaseSpec { name, file, rhai_only: false });
        }
    }
    specs.retain(|spec| wanted(spec.name));
    // One untimed pass over the file first: the freshly written file is then read from the page
    // cache like in every later case, and its write-back no longer lands in the first case timed.
    floor(&dir)?;

    // Every round runs every case once, the floor among them, starting one case later each
    // round, so that no case always runs first or after the same neighbour.
    let count = specs.len() + 1;
    let mut cases: Vec<BenchCase> = specs
        .iter()
        .map(|spec| spec.name)
        .chain(std::iter::once(FLOOR))
        .map(|name| BenchCase { name: name.to_owned(), events: 0, runs: Vec::new() })
        .collect();
    let rounds = options.rounds.max(1);
    for round in 0..rounds as usize {
        for turn in 0..count {
            let index = (round + turn) % count;
            let (events, timing) = match specs.get(index) {
                Some(spec) => timed(|| run_case(&spec.file, spec.rhai_only))?,
                None => timed(|| floor(&dir))?,
            };
            let case = &mut cases[index];
            case.events = events;
            case.runs.push(timing);
            crate::eprintln_lossy!(
                "round {}/{rounds}: {:<58} {:>6.2} M ev/s",
                round + 1,
                case.name,
                events as f64 / timing.wall.max(1e-9) / 1e6
            );
        }
    }
    report.cases = cases;
    key_pairs.retain(|(name, ..)| wanted(name));
    if !key_pairs.is_empty() {
        let keys = (
            super::bench_memory::distinct_users(&dir.join("events.csv"))?,
            super::bench_memory::distinct_users(&dir.join(MANY_KEYS_DIR).join("events.csv"))?,
        );
        if keys.1 <= keys.0 {
            crate::eprintln_lossy!(
                "memory per key: not measured, the many-keys file has {} distinct keys and the usual one {} \
                 (--many-keys must be above --keys)",
                keys.1,
                keys.0
            );
        } else {
            for (_, of, few, many) in &key_pairs {
                let measured = super::bench_memory::KeyMemory::measure(of, few, many, keys)?;
                crate::eprintln_lossy!("{measured}");
                report.key_memory.push(measured);
            }
        }
    }
    if options.only.is_none()
        && let Some(file) = &scripted_file
    {
        let cost = super::bench_snapshots::SnapshotCost::measure(
            file,
            &dir.join("snapshots"),
            options.rounds.max(3),
        )?;
        crate::eprint_lossy!("{cost}");
        report.snapshot_cost = Some(cost);
    }
    if options.session
        && let Some(file) = scripted_file
    {
        let source = csv_source("events", "events.csv");
        let (figures, timings) = super::bench_session::measure(&dir, &file, &source)?;
        report.session_figures = Some(figures);
        report.session = timings;
    }
    Ok(report)
}

/// Runs one pipeline to the end as `eddy run` does (read ahead, unread fields pruned); the
/// source events it processed.
pub(super) fn run_case(file: &Path, rhai_only: bool) -> Result<u64> {
    let graph = load_and_check(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = EngineOptions {
        feed: Some(super::Prefetched::wrap),
        prune_fields: true,
        rhai_only,
        ..EngineOptions::default()
    };
    let mut engine = Engine::new(graph, &options).map_err(|e| anyhow::anyhow!("{e}"))?;
    engine.run_to_end().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(engine.stats().events_in)
}

/// One timed run of a pipeline as `eddy run` runs it.
pub(super) fn time_pipeline(name: &str, file: &Path) -> Result<BenchCase> {
    let (events, timing) = timed(|| run_case(file, false))?;
    Ok(BenchCase { name: name.to_owned(), events, runs: vec![timing] })
}

/// The floor: the running count by hand (csv crate + HashMap), writing the same JSON lines;
/// the events it read.
fn floor(dir: &Path) -> Result<u64> {
    let mut reader =
        csv::Reader::from_path(dir.join("events.csv")).context("floor: cannot open events.csv")?;
    let file = std::fs::File::create(dir.join("floor.jsonl")).context("floor: cannot create floor.jsonl")?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let mut events = 0u64;
    let mut number = itoa::Buffer::new();
    while reader.read_byte_record(&mut record)? {
        let user = record.get(1).unwrap_or_default();
        let count = match counts.get_mut(user) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                counts.insert(user.to_vec(), 1);
                1
            }
        };
        out.write_all(b"[\"")?;
        out.write_all(user)?;
        out.write_all(b"\",")?;
        out.write_all(number.format(count).as_bytes())?;
        out.write_all(b"]\n")?;
        events += 1;
    }
    out.flush()?;
    Ok(events)
}

/// Writes `events.csv` (ts,user,value) and its halves `left.csv` / `right.csv`, seeded.
fn generate(dir: &Path, events: u64, keys: u64) -> Result<()> {
    let create = |name: &str| -> Result<std::io::BufWriter<std::fs::File>> {
        let path = dir.join(name);
        let file =
            std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(std::io::BufWriter::with_capacity(1 << 16, file))
    };
    let (mut all, mut left, mut right) = (create("events.csv")?, create("left.csv")?, create("right.csv")?);
    for out in [&mut all, &mut left, &mut right] {
        out.write_all(b"ts,user,value\n")?;
    }
    let start = crate::time::parse_rfc3339_micros("2024-01-01T00:00:00Z").unwrap_or(0);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..events {
        // xorshift64*: deterministic, no dependency.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let random = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let user = random % keys.max(1);
        let value = (random >> 32) % 100;
        let ts = crate::time::format_rfc3339_micros(start + i as i64 * 1_000).unwrap_or_default();
        let line = format!("{ts},u{user},{value}\n");
        all.write_all(line.as_bytes())?;
        if i % 2 == 0 { left.write_all(line.as_bytes())? } else { right.write_all(line.as_bytes())? }
    }
    for out in [&mut all, &mut left, &mut right] {
        out.flush()?;
    }
    Ok(())
}
