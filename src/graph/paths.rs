//! The files a pipeline touches, and the rule that no two of them may be one file when one of
//! them is written: a sink over its own source would truncate the recording it reads, two
//! sinks on one file would interleave, a sink inside the snapshot folder could be pruned.
//!
//! Paths are compared in canonical form: symlinks resolved and `.`/`..` folded; a file that
//! does not exist yet is compared through its deepest existing ancestor (canonical) followed
//! by the rest of its path, folded. The rule is in README, "Values and files".

use std::path::{Component, Path, PathBuf};

use super::error::{GraphError, Place};
use super::model::PipelineDoc;

/// What a path is to the run: read, written, or the folder snapshots go to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// A source's file (read).
    Source(String),
    /// A file sink's file (written).
    Sink(String),
    /// A source's dead-letter file (written).
    DeadLetter(String),
    /// The pipeline file itself (read; the workbench writes it on save).
    Pipeline,
    /// The folder `eddy run` writes snapshots to (and prunes).
    SnapshotDir,
}

impl Role {
    fn writes(&self) -> bool {
        matches!(self, Role::Sink(_) | Role::DeadLetter(_))
    }

    fn place(&self, pipeline: Option<&Path>) -> Place {
        match self {
            Role::Source(id) | Role::DeadLetter(id) => Place::Source(id.clone()),
            Role::Sink(id) => Place::Sink(id.clone()),
            Role::Pipeline | Role::SnapshotDir => {
                Place::File(pipeline.map(Path::to_path_buf).unwrap_or_default())
            }
        }
    }

    fn field(&self) -> &'static str {
        match self {
            Role::DeadLetter(_) => "dead_letter_path",
            Role::SnapshotDir => "--snapshot-dir",
            _ => "path",
        }
    }

    /// Who uses the path, and how: "sink `out` writes", "the pipeline file is".
    fn subject(&self) -> String {
        match self {
            Role::Source(id) => format!("source `{id}` reads"),
            Role::Sink(id) => format!("sink `{id}` writes"),
            Role::DeadLetter(id) => format!("source `{id}` writes its bad rows to"),
            Role::Pipeline => "the pipeline file is".to_owned(),
            Role::SnapshotDir => "the snapshot folder is".to_owned(),
        }
    }

    /// The same, after "which": "source `events` reads", "the pipeline file is".
    fn relative(&self) -> String {
        match self {
            Role::Source(id) => format!("source `{id}` reads"),
            Role::Sink(id) => format!("sink `{id}` writes too"),
            Role::DeadLetter(id) => format!("source `{id}` writes its bad rows to"),
            Role::Pipeline => "is the pipeline file".to_owned(),
            Role::SnapshotDir => "is the snapshot folder".to_owned(),
        }
    }
}

/// One path of the run, as written and canonical.
#[derive(Debug)]
struct Entry {
    role: Role,
    canonical: PathBuf,
}

/// The file name without a final `.gz` (`events.csv.gz` → `events.csv`), which tells the
/// format of the text inside.
pub fn without_gz_suffix(path: &Path) -> &Path {
    match path.extension().and_then(|e| e.to_str()) {
        Some(extension) if extension.eq_ignore_ascii_case("gz") => path.file_stem().map_or(path, Path::new),
        _ => path,
    }
}

/// The canonical form of `path`: an existing path through [`std::fs::canonicalize`]; otherwise
/// its deepest existing ancestor, canonical, joined with the rest folded lexically.
pub fn canonical_path(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|dir| dir.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    let mut existing = absolute.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            let mut out = canonical;
            for part in rest.iter().rev() {
                push_folded(&mut out, Path::new(part));
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            // `..` as the last component, or the root: fold what is written.
            _ => return fold(&absolute),
        }
    }
}

/// Folds `.` and `..` of a path lexically (for the part of a path that does not exist yet).
fn fold(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    push_folded(&mut out, path);
    out
}

fn push_folded(out: &mut PathBuf, path: &Path) {
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
}

/// Every collision among the files the pipeline reads and writes: a written file (sink,
/// dead-letter file) that is also read (a source, the pipeline file) or also written by
/// another entry, and a written file inside the snapshot folder. `pipeline` is the pipeline
/// file when it has one, `snapshot_dir` the runner's `--snapshot-dir`. Each problem names both
/// entries and the path.
pub fn path_collisions(
    doc: &PipelineDoc,
    base_dir: &Path,
    pipeline: Option<&Path>,
    snapshot_dir: Option<&Path>,
) -> Vec<GraphError> {
    let mut entries = Vec::new();
    let mut add = |role: Role, path: &Path| {
        if !path.as_os_str().is_empty() {
            entries.push(Entry { role, canonical: canonical_path(&base_dir.join(path)) });
        }
    };
    if let Some(pipeline) = pipeline {
        add(Role::Pipeline, pipeline);
    }
    for source in &doc.sources {
        if !source.is_stdin() {
            add(Role::Source(source.id.clone()), &source.path);
        }
        if let Some(recording) = &source.recording {
            add(Role::Source(source.id.clone()), recording);
        }
        if let Some(dead) = &source.dead_letter_path {
            add(Role::DeadLetter(source.id.clone()), dead);
        }
    }
    for sink in &doc.sinks {
        if let Some(path) = &sink.path {
            add(Role::Sink(sink.id.clone()), path);
        }
    }
    let snapshot_dir = snapshot_dir.map(canonical_path);

    let mut problems = Vec::new();
    for (i, later) in entries.iter().enumerate() {
        for earlier in &entries[..i] {
            if later.canonical != earlier.canonical || !(later.role.writes() || earlier.role.writes()) {
                continue;
            }
            // Report at the entry that writes (the later one when both do).
            let (writer, other) = if later.role.writes() { (later, earlier) } else { (earlier, later) };
            let why = if other.role.writes() {
                "two outputs on one file would overwrite or interleave each other"
            } else {
                "writing it would destroy what is read"
            };
            problems.push(GraphError::at(
                writer.role.place(pipeline),
                writer.role.field(),
                format!(
                    "{} {}, which {}: {why}; give it another path",
                    writer.role.subject(),
                    writer.canonical.display(),
                    other.role.relative(),
                ),
            ));
        }
        if let Some(dir) = &snapshot_dir {
            if later.canonical.starts_with(dir) && (later.role.writes() || is_snapshot_name(&later.canonical))
            {
                problems.push(GraphError::at(
                    later.role.place(pipeline),
                    later.role.field(),
                    format!(
                        "{} {}, inside the snapshot folder {} (snapshots there are written and pruned): \
                         keep the snapshot folder for snapshots",
                        later.role.subject(),
                        later.canonical.display(),
                        dir.display()
                    ),
                ));
            } else if *dir == later.canonical {
                problems.push(GraphError::at(
                    Role::SnapshotDir.place(pipeline),
                    Role::SnapshotDir.field(),
                    format!(
                        "the snapshot folder {} {}: give --snapshot-dir a folder of its own",
                        dir.display(),
                        later.role.relative()
                    ),
                ));
            }
        }
    }
    problems
}

/// Why `eddy run --record FILE` cannot write `record` (relative to the working folder), if it
/// cannot: the file is one the run reads or writes (a source, a recording read back, the
/// pipeline file, a sink, a dead-letter file) or lies inside the snapshot folder.
pub fn record_path_problem(
    doc: &PipelineDoc,
    base_dir: &Path,
    pipeline: &Path,
    snapshot_dir: Option<&Path>,
    record: &Path,
) -> Option<String> {
    output_path_problem(doc, base_dir, pipeline, snapshot_dir, ("--record", "the recording"), record)
}

/// Why a file a run writes besides its sinks (`flag`: the option and what it names, as
/// `("--ledger", "the ledger")`) cannot be `path`: the same refusals as
/// [`record_path_problem`]'s.
pub fn output_path_problem(
    doc: &PipelineDoc,
    base_dir: &Path,
    pipeline: &Path,
    snapshot_dir: Option<&Path>,
    flag: (&str, &str),
    record: &Path,
) -> Option<String> {
    let (option, what) = flag;
    let canonical = canonical_path(record);
    let mut roles = vec![(Role::Pipeline, pipeline.to_path_buf())];
    for source in &doc.sources {
        if !source.is_stdin() {
            roles.push((Role::Source(source.id.clone()), base_dir.join(&source.path)));
        }
        if let Some(recording) = &source.recording {
            roles.push((Role::Source(source.id.clone()), base_dir.join(recording)));
        }
        if let Some(dead) = &source.dead_letter_path {
            roles.push((Role::DeadLetter(source.id.clone()), base_dir.join(dead)));
        }
    }
    for sink in &doc.sinks {
        if let Some(path) = &sink.path {
            roles.push((Role::Sink(sink.id.clone()), base_dir.join(path)));
        }
    }
    for (role, path) in roles {
        if canonical_path(&path) == canonical {
            return Some(format!(
                "{option} {}, which {}: {what} would destroy or mix with it; give it a path of its own",
                canonical.display(),
                role.relative()
            ));
        }
    }
    let dir = canonical_path(snapshot_dir?);
    canonical.starts_with(&dir).then(|| {
        format!(
            "{option} {} is inside the snapshot folder {} (snapshots there are written and pruned): \
             keep the snapshot folder for snapshots",
            canonical.display(),
            dir.display()
        )
    })
}

/// Whether a file name is one the snapshot folder's writer creates, prunes or removes as a
/// leftover (`snapshot-*`, `.snapshot-*.tmp`, `.tmp*`; the names `engine::SnapshotWriter` uses).
fn is_snapshot_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("snapshot-") || n.starts_with(".snapshot-") || n.starts_with(".tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_and_missing_paths_compare_by_their_canonical_parent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let a = canonical_path(&dir.path().join("out/../out/x.jsonl"));
        let b = canonical_path(&dir.path().join("./out/x.jsonl"));
        assert_eq!(a, b);
        assert!(is_snapshot_name(Path::new("snaps/.snapshot-Ab12Cd.tmp")));
        assert!(is_snapshot_name(Path::new("snaps/snapshot-000000000010.json")));
        assert!(!is_snapshot_name(Path::new("snaps/events.csv")));
        let deep = canonical_path(&dir.path().join("new/dir/../y.csv"));
        assert_eq!(deep, canonical_path(dir.path()).join("new/y.csv"));
    }

    #[test]
    fn the_gz_suffix_is_left_out_of_the_name() {
        assert_eq!(without_gz_suffix(Path::new("a/events.csv.gz")), Path::new("events.csv"));
        assert_eq!(without_gz_suffix(Path::new("events.CSV.GZ")), Path::new("events.CSV"));
        assert_eq!(without_gz_suffix(Path::new("events.csv")), Path::new("events.csv"));
    }
}
