//! Files: opening (a broken file is refused with all its problems, and what is on screen stays),
//! saving over the file's own text so comments survive, exporting a runnable copy, the recent
//! files list, and file dialogs: native ones through rfd on a helper thread, with an in-app path
//! field that always works (machines without a desktop portal cannot show native dialogs).

use crossbeam_channel::{Receiver, TryRecvError, unbounded};
use std::path::{Path, PathBuf};

use egui_snarl::{NodeId, Snarl};

use super::{Document, Workbench};
use crate::graph::{
    OpKind, PipelineDoc, Rebased, parse_lenient, read_text, rebase_paths, to_canonical_toml, to_toml_over,
    write_text_atomically,
};
use crate::ui::editor::convert::renamed_ids;
use crate::ui::editor::node::{EditorNode, NodeBody};
use crate::ui::panels::inspector_ui::PathField;

/// Most files in the recent list.
const RECENT_MAX: usize = 10;

/// What a file dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDialogMode {
    /// Open a pipeline.
    Open,
    /// Save the pipeline under a new name.
    SaveAs,
    /// Write a runnable copy.
    Export,
    /// Write a regression test folder (a folder, not a file).
    SaveTest,
    /// Pick a pipeline to compare the one on screen with.
    Compare,
}

/// The in-app file dialog.
pub struct FileDialog {
    /// What it is for.
    pub mode: FileDialogMode,
    /// The path typed or picked.
    pub path: String,
    /// Export: keep the editor's layout in the copy.
    pub include_layout: bool,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// A native dialog running on a helper thread.
    pub native: Option<Receiver<Option<PathBuf>>>,
}

impl FileDialog {
    /// A dialog starting at `path`.
    pub fn new(mode: FileDialogMode, path: String) -> Self {
        Self { mode, path, include_layout: false, error: None, native: None }
    }

    /// Starts the native dialog on a helper thread (never blocks the window).
    pub fn browse(&mut self) {
        let (sender, receiver) = unbounded();
        let mode = self.mode;
        let start = PathBuf::from(&self.path);
        let spawned = std::thread::Builder::new().name("eddy-file-dialog".into()).spawn(move || {
            let mut dialog = rfd::FileDialog::new();
            if mode != FileDialogMode::SaveTest {
                dialog = dialog.add_filter("Eddy pipeline", &["toml"]);
            }
            if let Some(folder) = start.parent().filter(|p| p.is_dir()) {
                dialog = dialog.set_directory(folder);
            }
            let picked = match mode {
                FileDialogMode::Open | FileDialogMode::Compare => dialog.pick_file(),
                FileDialogMode::SaveAs | FileDialogMode::Export => dialog.save_file(),
                FileDialogMode::SaveTest => dialog.pick_folder(),
            };
            let _ignored = sender.send(picked);
        });
        match spawned {
            Ok(_) => self.native = Some(receiver),
            Err(e) => self.error = Some(format!("no file dialog ({e}): type the path instead")),
        }
    }

    /// Takes the native dialog's answer, if it has come. `Some(path)` when a file was picked.
    pub fn poll(&mut self) -> Option<PathBuf> {
        let receiver = self.native.as_ref()?;
        match receiver.try_recv() {
            Ok(Some(path)) => {
                self.native = None;
                self.path = path.display().to_string();
                Some(path)
            }
            Ok(None) => {
                self.native = None;
                self.error = Some("no file chosen (if no dialog appeared, this machine has no file-dialog portal: type the path instead)".into());
                None
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.native = None;
                None
            }
        }
    }
}

/// A native dialog choosing a file for a node's path setting.
pub struct PathPick {
    node: NodeId,
    field: PathField,
    receiver: Receiver<Option<PathBuf>>,
}

/// The recently opened or saved files, kept in the config folder.
pub struct RecentFiles {
    file: Option<PathBuf>,
    /// Newest first.
    pub paths: Vec<PathBuf>,
}

impl RecentFiles {
    /// Reads the list (a missing or unreadable list is just empty).
    pub fn load(config_dir: Option<PathBuf>) -> Self {
        let dir = config_dir.or_else(|| {
            std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                .map(|d| d.join("eddy"))
        });
        let file = dir.map(|d| d.join("recent.txt"));
        let paths = file
            .as_deref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|text| text.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default();
        Self { file, paths }
    }

    /// Puts a file at the top of the list and writes the list (failures to write are ignored:
    /// the list is a convenience).
    pub fn add(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| *p != path);
        self.paths.insert(0, path);
        self.paths.truncate(RECENT_MAX);
        if let Some(file) = &self.file {
            if let Some(dir) = file.parent() {
                let _ignored = std::fs::create_dir_all(dir);
            }
            let text: String = self.paths.iter().map(|p| format!("{}\n", p.display())).collect();
            let _ignored = std::fs::write(file, text);
        }
    }
}

impl Workbench {
    /// Opens a pipeline file. A file that is TOML opens even with problems (unknown keys, an
    /// operator's name misspelt): they are listed in the Problems panel and on their nodes, so
    /// the canvas is where they are fixed. Only text that is not TOML, or an entry that cannot
    /// be put on the canvas, is refused (with every problem found, and the line for bad TOML);
    /// then the current pipeline stays as it is.
    pub(super) fn open_file(&mut self, path: &Path) -> Result<(), String> {
        let text = read_text(path).map_err(|e| e.to_string())?;
        let partial = parse_lenient(&text, path).map_err(|e| format!("cannot open {e}"))?;
        let opened = open_anyway(&text, path, partial)?;
        let doc = opened.doc;
        let document = Document {
            file: Some(path.to_path_buf()),
            original_text: Some(text),
            base: doc.clone(),
            saved: doc.clone(),
            read_problems: Vec::new(),
        };
        self.reset_document(document, &doc);
        self.document.read_problems = opened.problems;
        if let Some(as_read) = opened.as_read {
            // A repaired operator is a change the file does not have yet.
            self.document.saved = as_read;
        }
        self.recent.add(path);
        Ok(())
    }

    /// Saves the pipeline to `path`, over the open file's text when there is one (comments,
    /// blank lines and string styles are kept), and makes `path` the open file. Saved into
    /// another folder, every relative path is rewritten to name the same file from there
    /// (the canvas too); what was rewritten is returned.
    pub(super) fn save_to(&mut self, path: &Path) -> Result<Vec<Rebased>, String> {
        let mut doc = self.current.clone();
        let folders = self.rebase_folders(path);
        let rebased = folders.as_ref().map_or_else(Vec::new, |(from, to)| rebase_paths(&mut doc, from, to));
        let text = match &self.document.original_text {
            Some(original) => to_toml_over(&doc, original, &renamed_ids(&self.snarl)),
            None => to_canonical_toml(&doc),
        };
        write_text_atomically(path, &text).map_err(|e| e.to_string())?;
        if !rebased.is_empty() {
            apply_paths(&mut self.snarl, &doc);
            self.refresh_current();
        }
        if let Some((from, to)) = folders.filter(|(from, to)| from != to) {
            // Every state undo and redo can bring back names its files from the new folder
            // too: an undo after a Save As elsewhere must not bring back paths that now point
            // nowhere.
            self.history.rebase(|checkpoint| {
                if !rebase_paths(&mut checkpoint.doc, &from, &to).is_empty() {
                    apply_paths(&mut checkpoint.snarl, &checkpoint.doc);
                }
            });
        }
        let moved = self.document.file.as_deref() != Some(path);
        self.document.file = Some(path.to_path_buf());
        self.document.original_text = Some(text);
        self.document.saved = self.current.clone();
        for node in self.snarl.nodes_mut() {
            node.origin = Some(node.id().to_owned());
        }
        self.recent.add(path);
        if moved || !self.document.read_problems.is_empty() {
            // Check again: relative paths now start from the new folder, and of the file's own
            // problems only those still in the text are left (an unknown key is kept as written).
            let written = self.document.original_text.as_deref().unwrap_or_default();
            self.document.read_problems =
                parse_lenient(written, path).map(|p| p.problems).unwrap_or_default();
            self.checked = None;
            self.check_due = super::CheckDue::Now;
        }
        Ok(rebased)
    }

    /// Writes a runnable copy of the pipeline, its relative paths rewritten to name the same
    /// files from the copy's folder; the open file stays the open file. Returns what was
    /// rewritten.
    pub(super) fn export(&self, path: &Path, include_layout: bool) -> Result<Vec<Rebased>, String> {
        let mut doc: PipelineDoc = self.current.clone();
        if !include_layout {
            doc.editor = None;
        }
        let rebased = self.rebase(&mut doc, path);
        let text = match &self.document.original_text {
            Some(original) => to_toml_over(&doc, original, &renamed_ids(&self.snarl)),
            None => to_canonical_toml(&doc),
        };
        write_text_atomically(path, &text).map_err(|e| e.to_string())?;
        Ok(rebased)
    }

    /// Rewrites `doc`'s relative paths for a file at `path`. An untitled pipeline's paths are
    /// taken as written for the folder it is first saved to, so they are left as they are.
    fn rebase(&self, doc: &mut PipelineDoc, path: &Path) -> Vec<Rebased> {
        match self.rebase_folders(path) {
            Some((from, to)) => rebase_paths(doc, &from, &to),
            None => Vec::new(),
        }
    }

    /// The folders a file written to `path` rebases its relative paths between (from the open
    /// file's, to `path`'s); `None` for an untitled pipeline, whose paths are taken as written.
    fn rebase_folders(&self, path: &Path) -> Option<(PathBuf, PathBuf)> {
        self.document.file.is_some().then(|| (absolute(&self.base_dir()), absolute(&folder_of(path))))
    }

    /// A name for an export that is not the open file: `NAME-export.toml` beside it (or in the
    /// working folder for an untitled pipeline).
    pub(super) fn export_start(&self) -> String {
        let file = self.document.file.clone().unwrap_or_else(|| PathBuf::from("untitled.toml"));
        let stem =
            file.file_stem().map_or_else(|| "pipeline".to_owned(), |s| s.to_string_lossy().into_owned());
        let candidate = first_free(&self.base_dir(), |n| match n {
            None => format!("{stem}-export.toml"),
            Some(n) => format!("{stem}-export-{n}.toml"),
        });
        candidate.display().to_string()
    }

    /// Starts a native dialog for a node's path setting.
    pub(super) fn browse(&mut self, node: NodeId, field: PathField) {
        let (sender, receiver) = unbounded();
        let start = self.base_dir();
        let spawned = std::thread::Builder::new().name("eddy-file-dialog".into()).spawn(move || {
            let dialog = rfd::FileDialog::new().set_directory(start);
            let picked = match field {
                PathField::SourcePath | PathField::Recording => dialog.pick_file(),
                PathField::DeadLetter | PathField::SinkPath => dialog.save_file(),
            };
            let _ignored = sender.send(picked);
        });
        if spawned.is_ok() {
            self.path_pick = Some(PathPick { node, field, receiver });
        }
    }

    /// Fills a node's path setting from a native dialog's answer, relative to the pipeline's
    /// folder when the file is inside it.
    pub(super) fn poll_path_pick(&mut self) {
        let Some(pick) = &self.path_pick else { return };
        let picked = match pick.receiver.try_recv() {
            Ok(picked) => picked,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => None,
        };
        let (node, field) = (pick.node, pick.field);
        self.path_pick = None;
        let Some(picked) = picked else { return };
        let base = self.base_dir();
        let path = picked.strip_prefix(&base).map(Path::to_path_buf).unwrap_or(picked);
        if let Some(n) = self.snarl.get_node_mut(node) {
            match (&mut n.body, field) {
                (NodeBody::Source(s), PathField::SourcePath) => s.path = path,
                (NodeBody::Source(s), PathField::DeadLetter) => s.dead_letter_path = Some(path),
                (NodeBody::Source(s), PathField::Recording) => s.recording = Some(path),
                (NodeBody::Sink(s), PathField::SinkPath) => s.path = Some(path),
                _ => {}
            }
        }
        self.refresh_current();
    }
}

/// The folder a file is in ("." for a bare name).
/// The first of `name(None)`, `name(Some(2))`, `name(Some(3))`, … that does not exist in
/// `folder` (the 999th is given if all do): a name proposed for a new file or folder.
pub(super) fn first_free(folder: &Path, name: impl Fn(Option<u32>) -> String) -> PathBuf {
    let mut candidate = folder.join(name(None));
    let mut n = 2;
    while candidate.exists() && n < 1000 {
        candidate = folder.join(name(Some(n)));
        n += 1;
    }
    candidate
}

fn folder_of(path: &Path) -> PathBuf {
    path.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `path` made absolute against the working folder (as text: nothing needs to exist).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The status line after a save or export that rewrote paths: "3 paths rebased to /x/y".
pub(super) fn rebased_note(rebased: &[Rebased], path: &Path) -> String {
    match rebased.len() {
        0 => String::new(),
        n => {
            let noun = if n == 1 { "path" } else { "paths" };
            format!("; {n} {noun} rebased to {}", folder_of(path).display())
        }
    }
}

/// A file read for the canvas despite its problems.
struct Opened {
    /// What goes on the canvas.
    doc: PipelineDoc,
    /// The file's problems as read.
    problems: Vec<crate::graph::GraphError>,
    /// The document as the file has it, when a step's operator was repaired to get `doc`.
    as_read: Option<PipelineDoc>,
}

/// Puts a file with problems on the canvas when nothing would be lost: a step whose operator
/// is misspelt (`statefull`) takes the operator it is closest to, and its problem stays listed.
/// An entry that still cannot be read (an operator like no other, a source or sink that is
/// not a table) refuses the open, listing every problem.
fn open_anyway(text: &str, path: &Path, partial: crate::graph::PartialDoc) -> Result<Opened, String> {
    let refuse = |problems: &[crate::graph::GraphError]| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!(
            "cannot open {} (an entry cannot be shown on the canvas):\n{}",
            path.display(),
            list.join("\n")
        )
    };
    if partial.unreadable.is_empty() {
        return Ok(Opened { doc: partial.doc, problems: partial.problems, as_read: None });
    }
    let Ok(mut table) = text.parse::<toml::Table>() else { return Err(refuse(&partial.problems)) };
    let steps = table.get_mut("steps").and_then(toml::Value::as_array_mut);
    for step in steps.into_iter().flatten() {
        let Some(op) = step.get("op").and_then(toml::Value::as_str) else { continue };
        if OpKind::parse(op).is_some() {
            continue;
        }
        let names = OpKind::ALL.iter().map(|o| o.as_str());
        if let Some(closest) = crate::graph::did_you_mean(op, names) {
            let closest = closest.to_owned();
            if let Some(entry) = step.as_table_mut() {
                entry.insert("op".into(), toml::Value::String(closest));
            }
        }
    }
    let repaired = toml::to_string(&table).ok().and_then(|t| parse_lenient(&t, path).ok());
    match repaired {
        Some(repaired) if repaired.unreadable.is_empty() => {
            let mut problems = partial.problems;
            for problem in repaired.problems {
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
            Ok(Opened { doc: repaired.doc, problems, as_read: Some(partial.doc) })
        }
        _ => Err(refuse(&partial.problems)),
    }
}

/// Puts `doc`'s source, dead-letter and sink paths on the canvas's nodes (after a rebase).
fn apply_paths(snarl: &mut Snarl<EditorNode>, doc: &PipelineDoc) {
    for node in snarl.nodes_mut() {
        match &mut node.body {
            NodeBody::Source(s) => {
                if let Some(new) = doc.sources.iter().find(|n| n.id == s.id) {
                    s.path.clone_from(&new.path);
                    s.dead_letter_path.clone_from(&new.dead_letter_path);
                }
            }
            NodeBody::Sink(s) => {
                if let Some(new) = doc.sinks.iter().find(|n| n.id == s.id) {
                    s.path.clone_from(&new.path);
                }
            }
            NodeBody::Step(_) => {}
        }
    }
}
