//! Memory per key (issue 11's "≤ 100 B per key"): each keyed case is run to the end in a child
//! process (`eddy bench --run-memory-of FILE`, which prints its own peak resident memory) on
//! the usual file and on the many-keys file; the difference of the two peaks over the
//! difference of their distinct keys is what one more key costs, with the reading, the
//! program and the buffers, alike in both, taken out.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// What one more key costs a case.
#[derive(Debug, Clone)]
pub struct KeyMemory {
    /// The case.
    pub case: String,
    /// Peak resident memory (KiB) on the usual file and on the many-keys file.
    pub peaks_kib: (u64, u64),
    /// Distinct keys in each file.
    pub keys: (u64, u64),
}

impl KeyMemory {
    /// Bytes per key: the peaks' difference over the keys' difference.
    pub fn bytes_per_key(&self) -> f64 {
        let bytes = (self.peaks_kib.1 as f64 - self.peaks_kib.0 as f64) * 1024.0;
        bytes / (self.keys.1 as f64 - self.keys.0 as f64).max(1.0)
    }

    /// Measures `case` on `few` (the usual file's pipeline) and `many` (the many-keys one),
    /// alternated, three times each (the read-ahead's buffers make a peak vary by a few MiB
    /// from run to run): the median peaks; `keys` the distinct keys of their two files.
    pub fn measure(case: &str, few: &Path, many: &Path, keys: (u64, u64)) -> Result<Self> {
        let (mut peaks_few, mut peaks_many) = (Vec::new(), Vec::new());
        for _ in 0..PROBES {
            peaks_few.push(peak_in_child(few)?);
            peaks_many.push(peak_in_child(many)?);
        }
        Ok(KeyMemory { case: case.to_owned(), peaks_kib: (median(peaks_few), median(peaks_many)), keys })
    }
}

impl fmt::Display for KeyMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "  {:<52} {:.0} B (median peaks of {PROBES}: {} KiB at {} keys, {} KiB at {} keys), target ≤ 100 B",
            format!("memory per key, {}", self.case),
            self.bytes_per_key(),
            self.peaks_kib.0,
            self.keys.0,
            self.peaks_kib.1,
            self.keys.1
        )
    }
}

/// Runs per file of the memory probe.
const PROBES: usize = 3;

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The distinct values of the `user` column of a generated `events.csv`.
pub fn distinct_users(file: &Path) -> Result<u64> {
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("cannot open {}", file.display()))?;
    let column = reader
        .headers()
        .with_context(|| format!("cannot read {}", file.display()))?
        .iter()
        .position(|name| name == "user")
        .with_context(|| format!("{} has no user column", file.display()))?;
    let mut users = HashSet::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("cannot read {}", file.display()))?;
        if let Some(user) = record.get(column) {
            users.insert(user.to_owned());
        }
    }
    Ok(users.len() as u64)
}

/// `eddy bench --run-memory-of FILE`: runs the pipeline as `eddy run` does and says the
/// process's peak resident memory (`VmHWM`).
pub fn run_memory(file: &Path) -> Result<String> {
    let events = super::bench::run_case(file, false)?;
    Ok(format!("events: {events}\npeak resident KiB: {}", peak_kib()?))
}

/// This process's peak resident memory in KiB.
pub(super) fn peak_kib() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("bench: cannot read /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("bench: /proc/self/status has no VmHWM line")
}

/// Runs `eddy bench --run-memory-of FILE` and reads its peak.
fn peak_in_child(file: &Path) -> Result<u64> {
    let exe: PathBuf = std::env::current_exe().context("bench: cannot find its own executable")?;
    let output = std::process::Command::new(exe)
        .arg("bench")
        .arg("--run-memory-of")
        .arg(file)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("bench: cannot run the memory probe of {}", file.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("peak resident KiB: ")?.trim().parse::<u64>().ok())
        .with_context(|| format!("bench: the memory probe of {} said no peak: {text}", file.display()))
}
