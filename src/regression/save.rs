//! `eddy test --save FOLDER PIPELINE`: a new test folder from a pipeline. The pipeline is
//! replayed with its sinks in memory first (an invalid pipeline, a failing script, a live source
//! or a file it cannot copy is refused before anything is written); then the pipeline, the
//! files its sources read and each sink's lines are written into a hidden folder beside FOLDER,
//! renamed to FOLDER at the end. FOLDER may not exist yet, or be an empty folder: nothing is
//! ever overwritten.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::engine::load_and_check;

use super::checkpoint::{StateCheckpoint, checkpoint_line};
use super::replay::{refuse_unrepeatable, replay_with_states};
use super::{CHECKPOINTS_FILE, EXPECTED_DIR, EXPECTED_EXT, PIPELINE_FILE, RegressionError};

/// What `--save` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The new test folder.
    pub folder: PathBuf,
    /// The input files copied, as the pipeline names them (relative to its folder).
    pub inputs: Vec<PathBuf>,
    /// Each sink and the number of lines expected of it.
    pub sinks: Vec<(String, usize)>,
    /// Per-key state checkpoints written (`checkpoints.jsonl`; none: no file).
    pub checkpoints: usize,
}

/// Writes the test folder `folder` from the pipeline file `pipeline`; refuses (naming it) a
/// `folder` that exists and is not an empty folder, a live source, an input file that is missing
/// or outside the pipeline's folder.
pub fn save_folder(folder: &Path, pipeline: &Path) -> Result<Saved, RegressionError> {
    save_folder_with(folder, pipeline, &[])
}

/// [`save_folder`], with the state of each of `checkpoints` as the replay holds it saved in
/// `checkpoints.jsonl` (checked by `eddy test` too); a checkpoint naming no step, or an event
/// past the input's last, is refused.
pub fn save_folder_with(
    folder: &Path,
    pipeline: &Path,
    checkpoints: &[StateCheckpoint],
) -> Result<Saved, RegressionError> {
    refuse_existing(folder)?;
    let graph =
        load_and_check(pipeline).map_err(|error| RegressionError::Run { file: pipeline.into(), error })?;
    refuse_unrepeatable(&graph, pipeline)?;
    let mut inputs = BTreeSet::new();
    for source in &graph.doc.sources {
        let relative = input_path(&source.path).map_err(|why| {
            RegressionError::refused(
                pipeline,
                format!(
                    "source `{}` reads {}, {why}: a test folder holds the input files at the paths the \
                     pipeline names them, so each must be a relative path inside the pipeline's folder",
                    source.id,
                    source.path.display()
                ),
            )
        })?;
        if !graph.resolve(&source.path).is_file() {
            return Err(RegressionError::refused(
                pipeline,
                format!(
                    "source `{}` reads {}, which is missing",
                    source.id,
                    graph.resolve(&source.path).display()
                ),
            ));
        }
        inputs.insert(relative);
    }
    if let Some(sink) = graph.doc.sinks.iter().find(|s| s.id.contains(['/', '\\'])) {
        return Err(RegressionError::refused(
            pipeline,
            format!("sink `{}`: an id with a slash cannot name its expected file", sink.id),
        ));
    }
    let (outputs, states) = replay_with_states(pipeline, checkpoints)?;
    let staging = staging_folder(folder)?;
    let written = (|| {
        copy(pipeline, &staging.join(PIPELINE_FILE))?;
        for input in &inputs {
            copy(&graph.resolve(input), &staging.join(input))?;
        }
        let expected_dir = staging.join(EXPECTED_DIR);
        create_dir(&expected_dir)?;
        for (sink, lines) in &outputs {
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            let path = expected_dir.join(format!("{sink}.{EXPECTED_EXT}"));
            std::fs::write(&path, text)
                .map_err(|e| RegressionError::folder(&path, format!("cannot write: {e}")))?;
        }
        if !checkpoints.is_empty() {
            let text: String = checkpoints
                .iter()
                .zip(&states)
                .map(|(checkpoint, state)| format!("{}\n", checkpoint_line(checkpoint, state)))
                .collect();
            let path = staging.join(CHECKPOINTS_FILE);
            std::fs::write(&path, text)
                .map_err(|e| RegressionError::folder(&path, format!("cannot write: {e}")))?;
        }
        // Renaming over an empty folder replaces it; over anything else it fails.
        std::fs::rename(&staging, folder)
            .map_err(|e| RegressionError::refused(folder, format!("cannot be made the test folder: {e}")))
    })();
    if let Err(error) = written {
        let _ignored = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    Ok(Saved {
        folder: folder.to_owned(),
        inputs: inputs.into_iter().collect(),
        sinks: outputs.into_iter().map(|(sink, lines)| (sink, lines.len())).collect(),
        checkpoints: checkpoints.len(),
    })
}

/// Refuses a `folder` that exists and is not an empty folder.
fn refuse_existing(folder: &Path) -> Result<(), RegressionError> {
    let Ok(meta) = std::fs::symlink_metadata(folder) else { return Ok(()) };
    let refuse = |what: &str| {
        Err(RegressionError::refused(
            folder,
            format!("{what}: eddy test --save writes a new folder (or fills an empty one), never over files"),
        ))
    };
    if !meta.is_dir() {
        return refuse("exists and is not a folder");
    }
    match std::fs::read_dir(folder).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => refuse("exists and is not empty"),
        Err(e) => refuse(&format!("cannot be listed ({e})")),
    }
}

/// The path of an input file inside the test folder: the source's path, which must be relative
/// and stay inside the pipeline's folder (`.` parts left out); else why not.
fn input_path(path: &Path) -> Result<PathBuf, &'static str> {
    let mut inside = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => inside.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err("a path that leaves the pipeline's folder"),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path"),
        }
    }
    let first = inside.components().next().map(|c| c.as_os_str().to_owned());
    if inside == Path::new(PIPELINE_FILE)
        || inside == Path::new(CHECKPOINTS_FILE)
        || first.as_deref() == Some(EXPECTED_DIR.as_ref())
    {
        return Err(
            "a path the test folder keeps for its own files (pipeline.toml, checkpoints.jsonl, expected/)",
        );
    }
    if inside.as_os_str().is_empty() {
        return Err("an empty path");
    }
    Ok(inside)
}

/// A new hidden folder beside `folder` (`.NAME.eddy-save-PID`) where the test folder is written
/// before it is renamed into place; the folders above are created.
fn staging_folder(folder: &Path) -> Result<PathBuf, RegressionError> {
    let parent = folder.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| RegressionError::folder(parent, format!("cannot create the folder: {e}")))?;
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "test".into());
    let staging = parent.join(format!(".{name}.eddy-save-{}", std::process::id()));
    create_dir(&staging)?;
    Ok(staging)
}

fn create_dir(path: &Path) -> Result<(), RegressionError> {
    std::fs::create_dir(path)
        .map_err(|e| RegressionError::folder(path, format!("cannot create the folder: {e}")))
}

/// Copies the file `from` to `to`, creating `to`'s folders.
fn copy(from: &Path, to: &Path) -> Result<(), RegressionError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| RegressionError::folder(parent, format!("cannot create the folder: {e}")))?;
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| RegressionError::folder(from, format!("cannot copy it into the test folder: {e}")))
}
