//! Reading a test folder: `pipeline.toml`, and `expected/<sink id>.jsonl` for each sink
//! (docs/file-format.md#test-folders). Only read: nothing is written into the folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::checkpoint::{StateCheckpoint, parse_checkpoints};
use super::{CHECKPOINTS_FILE, EXPECTED_DIR, EXPECTED_EXT, PIPELINE_FILE, RegressionError};

/// A test folder, read: where its pipeline is and what each expected file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFolder {
    /// The folder.
    pub folder: PathBuf,
    /// Its pipeline file (`FOLDER/pipeline.toml`).
    pub pipeline: PathBuf,
    /// Each expected file's lines, by the sink id its name gives.
    pub expected: BTreeMap<String, Vec<String>>,
    /// The per-key state checkpoints (`checkpoints.jsonl`, if any), each with its saved state
    /// (JSON text).
    pub checkpoints: Vec<(StateCheckpoint, String)>,
}

/// Reads the test folder `folder`; an error names the folder or the file at fault (no
/// pipeline, no `expected` folder, a file there that is not `<sink id>.jsonl`, text that is not
/// UTF-8).
pub fn load_folder(folder: &Path) -> Result<TestFolder, RegressionError> {
    if !folder.is_dir() {
        let reason = if folder.exists() { "not a folder" } else { "no such folder" };
        return Err(RegressionError::folder(
            folder,
            format!("{reason} (a test folder holds {PIPELINE_FILE})"),
        ));
    }
    let pipeline = folder.join(PIPELINE_FILE);
    if !pipeline.is_file() {
        return Err(RegressionError::folder(
            folder,
            format!(
                "not a test folder: it has no {PIPELINE_FILE} (make one with eddy test --save FOLDER PIPELINE)"
            ),
        ));
    }
    let expected_dir = folder.join(EXPECTED_DIR);
    if !expected_dir.is_dir() {
        return Err(RegressionError::folder(
            folder,
            format!("not a test folder: it has no {EXPECTED_DIR}/ folder of expected outputs"),
        ));
    }
    let expected = read_expected(&expected_dir)?;
    let checkpoints_file = folder.join(CHECKPOINTS_FILE);
    let checkpoints = if checkpoints_file.is_file() {
        let text = std::fs::read_to_string(&checkpoints_file)
            .map_err(|e| RegressionError::folder(&checkpoints_file, format!("cannot read: {e}")))?;
        parse_checkpoints(&text, &checkpoints_file)?
    } else {
        Vec::new()
    };
    Ok(TestFolder { folder: folder.to_owned(), pipeline, expected, checkpoints })
}

/// Every `<sink id>.jsonl` file of the `expected` folder, its lines by sink id.
fn read_expected(dir: &Path) -> Result<BTreeMap<String, Vec<String>>, RegressionError> {
    let list_error = |e: std::io::Error| RegressionError::folder(dir, format!("cannot list: {e}"));
    let mut expected = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let path = entry.map_err(list_error)?.path();
        let sink = sink_id_of(&path).ok_or_else(|| {
            RegressionError::folder(
                &path,
                format!(
                    "not an expected output: {EXPECTED_DIR}/ holds one <sink id>.{EXPECTED_EXT} file per sink"
                ),
            )
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| RegressionError::folder(&path, format!("cannot read: {e}")))?;
        expected.insert(sink, text.lines().map(str::to_owned).collect());
    }
    Ok(expected)
}

/// The sink id an expected file's name gives (`per_user.jsonl` → `per_user`), if it is one.
fn sink_id_of(path: &Path) -> Option<String> {
    if !path.is_file() || path.extension().is_none_or(|ext| ext != EXPECTED_EXT) {
        return None;
    }
    path.file_stem().and_then(|stem| stem.to_str()).filter(|stem| !stem.is_empty()).map(str::to_owned)
}
