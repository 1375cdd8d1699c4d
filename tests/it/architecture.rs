//! The layering rule of docs/architecture.md#layers, checked on the source: nothing below
//! `session` names the GUI or the command line, and `graph` imports nothing else of the crate
//! but the `time` leaf. And the rules live in the repository: nothing cites a specification
//! outside it, and every `docs/` page and section a comment cites exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ENGINE_SIDE: [&str; 8] = ["graph", "ops", "script", "io", "engine", "session", "compare", "regression"];
const FORBIDDEN: [&str; 8] =
    ["egui", "eframe", "egui_snarl", "egui_plot", "rfd", "crate::ui", "crate::cli", "clap::"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_engine_side_never_names_the_gui_or_the_command_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for folder in ENGINE_SIDE {
        let mut files = Vec::new();
        rust_files(&src.join(folder), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in FORBIDDEN {
                    if code.contains(word) {
                        offences.push(format!(
                            "{}:{}: names `{word}`: {}",
                            file.display(),
                            number + 1,
                            line.trim()
                        ));
                    }
                }
                if folder == "graph"
                    && code.contains("crate::")
                    && !code.contains("crate::time")
                    && !code.contains("crate::graph")
                {
                    offences.push(format!(
                        "{}:{}: graph imports the crate: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(offences.is_empty(), "layering broken:\n{}", offences.join("\n"));
}

/// The repository's top level holds the package and nothing else: sources, assets, examples,
/// tests, benchmarks, the docs, the README and CI (a build's `target/` and dot-files aside).
#[test]
fn the_top_level_holds_only_the_package() {
    const ALLOWED: [&str; 10] = [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "src",
        "assets",
        "examples",
        "tests",
        "benches",
        "docs",
        "target",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !ALLOWED.contains(&name.as_str()) {
            strays.push(name);
        }
    }
    assert!(strays.is_empty(), "not part of the package's layout at the top level: {strays:?}");
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every text file under `src/` and `tests/`, and the README, with its text.
fn citing_texts() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    all_files(&root.join("src"), &mut files);
    all_files(&root.join("tests"), &mut files);
    // Binary files (none today) cannot cite anything.
    files
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(&path).ok().map(|text| (path, text)))
        .collect()
}

#[test]
fn nothing_cites_a_specification_outside_the_repository() {
    // Built here, so that this file does not name them itself.
    let outside: Vec<String> = ["SEMANTICS", "DESIGN", "STYLE"]
        .iter()
        .map(|name| format!("{name}.md"))
        .chain([format!("..{}shared", '/')])
        .collect();
    let mut offences = Vec::new();
    for (path, text) in citing_texts() {
        for (number, line) in text.lines().enumerate() {
            for name in &outside {
                if line.contains(name.as_str()) {
                    offences.push(format!(
                        "{}:{}: cites `{name}`: {}",
                        path.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the rules live in docs/ (docs/README.md lists the pages); cite those:\n{}",
        offences.join("\n")
    );
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as `-`.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a docs page's headings (lines starting with `#` outside code blocks).
fn anchors(page: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in page.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(anchor_of(line.trim_start_matches('#')));
        }
    }
    out
}

/// The `NAME.md` or `NAME.md#anchor` that starts `text`, if it does.
fn page_reference(text: &str) -> Option<(&str, Option<&str>)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    let name_end = text.find(|c: char| !is_name(c)).unwrap_or(text.len());
    if name_end == 0 {
        return None;
    }
    let rest = text[name_end..].strip_prefix(".md")?;
    let page = &text[..name_end + 3];
    let anchor = rest.strip_prefix('#').map(|after| {
        let end = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
        &after[..end]
    });
    Some((page, anchor.filter(|a| !a.is_empty())))
}

#[test]
fn every_cited_docs_page_and_section_exists() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut pages = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&docs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            pages.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    // Citations from the code, the tests and the README (`docs/time.md#end-of-input`), and the
    // pages' links to each other (`](semantics.md#join)`).
    let mut citations = Vec::new();
    for (path, text) in citing_texts() {
        for (number, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices("docs/") {
                if let Some((page, anchor)) = page_reference(&line[at + 5..]) {
                    citations.push((
                        format!("{}:{}", path.display(), number + 1),
                        page.to_owned(),
                        anchor.map(str::to_owned),
                    ));
                }
            }
        }
    }
    for (name, text) in &pages {
        for (number, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices("](") {
                if let Some((page, anchor)) = page_reference(&line[at + 2..]) {
                    citations.push((
                        format!("docs/{name}:{}", number + 1),
                        page.to_owned(),
                        anchor.map(str::to_owned),
                    ));
                }
                if let Some(anchor) = line[at + 2..].strip_prefix('#') {
                    let end = anchor.find(')').unwrap_or(anchor.len());
                    citations.push((
                        format!("docs/{name}:{}", number + 1),
                        name.clone(),
                        Some(anchor[..end].to_owned()),
                    ));
                }
            }
        }
    }
    assert!(citations.len() > 20, "the citations were not found: {citations:?}");
    let mut broken = Vec::new();
    for (place, page, anchor) in &citations {
        match (pages.get(page), anchor) {
            (None, _) => broken.push(format!("{place}: cites docs/{page}, which does not exist")),
            (Some(text), Some(anchor)) if !anchors(text).contains(anchor) => {
                broken.push(format!("{place}: cites docs/{page}#{anchor}, a section that page lacks"))
            }
            _ => {}
        }
    }
    assert!(broken.is_empty(), "broken citations:\n{}", broken.join("\n"));
}
