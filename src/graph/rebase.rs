//! Moving a pipeline file to another folder: its relative paths (sources, dead-letter files,
//! sinks) start from the file's folder, so a copy written elsewhere must have them rewritten to
//! name the same files from the new place, or the copy reads and writes the wrong files.
//!
//! Pure: paths are joined and folded (`.` and `..`) as text, the file system is never asked.
//! Absolute paths are left as they are.

use std::path::{Component, Path, PathBuf};

use super::model::PipelineDoc;

/// One path rewritten by [`rebase_paths`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebased {
    /// Who owns the path and which setting: "source `clicks` path".
    pub setting: String,
    /// The path as it was.
    pub from: PathBuf,
    /// The path that names the same file from the new folder.
    pub to: PathBuf,
}

/// Rewrites every relative path of `doc` written for a file in folder `from_dir` so that it
/// names the same file for a file in folder `to_dir`; returns what changed. Both folders should
/// be absolute (a relative one is taken as it is written, which works only if both are relative
/// to the same folder).
pub fn rebase_paths(doc: &mut PipelineDoc, from_dir: &Path, to_dir: &Path) -> Vec<Rebased> {
    let mut changes = Vec::new();
    let from_dir = fold(from_dir);
    let to_dir = fold(to_dir);
    let mut rebase = |setting: String, path: &mut PathBuf| {
        if let Some(new) = rebase_one(path, &from_dir, &to_dir)
            && new != *path
        {
            changes.push(Rebased { setting, from: path.clone(), to: new.clone() });
            *path = new;
        }
    };
    for source in &mut doc.sources {
        if !source.is_stdin() {
            rebase(format!("source `{}` path", source.id), &mut source.path);
        }
        if let Some(path) = &mut source.dead_letter_path {
            rebase(format!("source `{}` dead_letter_path", source.id), path);
        }
        if let Some(path) = &mut source.recording {
            rebase(format!("source `{}` recording", source.id), path);
        }
    }
    for sink in &mut doc.sinks {
        if let Some(path) = &mut sink.path {
            rebase(format!("sink `{}` path", sink.id), path);
        }
    }
    changes
}

/// The path naming `path` (relative to `from_dir`) from `to_dir`; `None` for an absolute or
/// empty path, which needs no rebasing.
fn rebase_one(path: &Path, from_dir: &Path, to_dir: &Path) -> Option<PathBuf> {
    if path.as_os_str().is_empty() || path.has_root() || path.is_absolute() {
        return None;
    }
    let target = fold(&from_dir.join(path));
    Some(relative_to(&target, to_dir))
}

/// `target` as a path relative to `dir` (both folded); absolute when they share no root.
fn relative_to(target: &Path, dir: &Path) -> PathBuf {
    let target_parts: Vec<Component<'_>> = target.components().collect();
    let dir_parts: Vec<Component<'_>> = dir.components().collect();
    let common = target_parts.iter().zip(&dir_parts).take_while(|(a, b)| a == b).count();
    let shares_root = match (target_parts.first(), dir_parts.first()) {
        (Some(a @ (Component::Prefix(_) | Component::RootDir)), Some(b)) => a == b,
        _ => true,
    };
    if !shares_root || dir_parts[common..].iter().any(|c| matches!(c, Component::ParentDir)) {
        return target.to_path_buf();
    }
    let mut relative = PathBuf::new();
    for _ in common..dir_parts.len() {
        relative.push("..");
    }
    for part in &target_parts[common..] {
        relative.push(part.as_os_str());
    }
    if relative.as_os_str().is_empty() { PathBuf::from(".") } else { relative }
}

/// Folds `.` and `a/..` away as text; a leading `..` of a relative path stays.
fn fold(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    parts.iter().map(|c| c.as_os_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::parse_str;

    fn doc() -> PipelineDoc {
        let text = r#"
format_version = 1
[[sources]]
id = "clicks"
path = "data/clicks.csv"
on_bad_row = "dead_letter"
dead_letter_path = "bad.jsonl"
[[sources]]
id = "abs"
path = "/var/data/abs.jsonl"
[[sinks]]
id = "out"
inputs = ["clicks"]
format = "jsonl"
path = "out/sessions.jsonl"
[[sinks]]
id = "screen"
inputs = ["abs"]
format = "stdout"
"#;
        parse_str(text, Path::new("p.toml")).unwrap()
    }

    fn paths(doc: &PipelineDoc) -> Vec<String> {
        let mut all = Vec::new();
        for s in &doc.sources {
            all.push(s.path.display().to_string());
            all.extend(s.dead_letter_path.iter().map(|p| p.display().to_string()));
        }
        all.extend(doc.sinks.iter().filter_map(|s| s.path.as_ref()).map(|p| p.display().to_string()));
        all
    }

    #[test]
    fn into_a_sibling_folder_every_relative_path_goes_up_and_back_down() {
        let mut d = doc();
        let changes = rebase_paths(&mut d, Path::new("/home/u/proj"), Path::new("/home/u/export"));
        assert_eq!(
            paths(&d),
            [
                "../proj/data/clicks.csv",
                "../proj/bad.jsonl",
                "/var/data/abs.jsonl",
                "../proj/out/sessions.jsonl"
            ]
        );
        let settings: Vec<&str> = changes.iter().map(|c| c.setting.as_str()).collect();
        assert_eq!(settings, ["source `clicks` path", "source `clicks` dead_letter_path", "sink `out` path"]);
        assert_eq!(changes[0].from, Path::new("data/clicks.csv"));
    }

    #[test]
    fn into_a_subfolder_and_back_gives_the_same_paths() {
        let original = doc();
        let mut d = original.clone();
        rebase_paths(&mut d, Path::new("/p"), Path::new("/p/a/b"));
        assert_eq!(paths(&d)[0], "../../data/clicks.csv");
        rebase_paths(&mut d, Path::new("/p/a/b"), Path::new("/p"));
        assert_eq!(d, original);
    }

    #[test]
    fn into_the_data_folder_itself_and_the_same_folder() {
        let mut d = doc();
        assert!(rebase_paths(&mut d, Path::new("/p/./x/.."), Path::new("/p")).is_empty());
        rebase_paths(&mut d, Path::new("/p"), Path::new("/p/data"));
        assert_eq!(paths(&d)[0], "clicks.csv");
        assert_eq!(paths(&d)[1], "../bad.jsonl");
    }

    #[test]
    fn dot_and_dot_dot_in_a_path_are_folded() {
        let mut d = doc();
        d.sources[0].path = PathBuf::from("./data/../data/clicks.csv");
        rebase_paths(&mut d, Path::new("/p/q"), Path::new("/p"));
        assert_eq!(paths(&d)[0], "q/data/clicks.csv");
    }

    #[test]
    fn an_empty_path_is_left_for_the_checks_to_report() {
        let mut d = doc();
        d.sources[0].path = PathBuf::new();
        let changes = rebase_paths(&mut d, Path::new("/p"), Path::new("/q"));
        assert_eq!(d.sources[0].path, PathBuf::new());
        assert_eq!(changes.len(), 2);
    }
}
