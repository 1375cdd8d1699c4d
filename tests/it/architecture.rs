//! The layering rule of STYLE.md, checked on the source: nothing below `session` names the GUI
//! or the command line, and `graph` imports nothing else of the crate but the `time` leaf.

use std::path::{Path, PathBuf};

const ENGINE_SIDE: [&str; 6] = ["graph", "ops", "script", "io", "engine", "session"];
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
