//! The `eddy` binary as a user runs it: exit codes, where output goes, byte-identical reruns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn eddy(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(args)
        .current_dir(dir)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// A copy of assets/ in a temporary folder, so runs write their outputs there.
fn assets_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(assets()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn run_writes_the_sinks_twice_byte_identical_with_stdout_clean() {
    let work = assets_copy();
    for example in ["sessions", "user_stats", "orders_join", "sliding_window"] {
        let file = format!("{example}.toml");
        let first = eddy(&["run", &file], work.path());
        assert_eq!(first.status.code(), Some(0), "{example}: {}", text(&first.stderr));
        assert!(first.stdout.is_empty(), "{example}: stdout must only carry stdout sinks");
        assert!(text(&first.stderr).contains("done:"), "{example}: summary missing: {}", text(&first.stderr));
        let outputs: Vec<PathBuf> = std::fs::read_dir(work.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(example))
            .collect();
        assert!(!outputs.is_empty(), "{example}: no output file");
        let before: Vec<Vec<u8>> = outputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let second = eddy(&["run", "--quiet", &file], work.path());
        assert_eq!(second.status.code(), Some(0));
        assert!(second.stderr.is_empty(), "--quiet prints nothing: {}", text(&second.stderr));
        let after: Vec<Vec<u8>> = outputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert_eq!(before, after, "{example}: two runs differ");
    }
}

#[test]
fn run_works_from_any_folder_and_stdout_sinks_print_json_lines() {
    let work = assets_copy();
    let text_toml = std::fs::read_to_string(work.path().join("sessions.toml")).unwrap();
    let stdout_toml =
        text_toml.replace("format = \"jsonl\"\npath = \"out/sessions.jsonl\"", "format = \"stdout\"");
    assert_ne!(stdout_toml, text_toml, "the sessions example's sink changed shape; update this test");
    std::fs::write(work.path().join("stdout.toml"), stdout_toml).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = work.path().join("stdout.toml");
    let first = eddy(&["run", file.to_str().unwrap()], elsewhere.path());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let second = eddy(&["run", file.to_str().unwrap()], elsewhere.path());
    assert_eq!(first.stdout, second.stdout);
    let lines = text(&first.stdout);
    assert_eq!(lines.lines().count(), 19);
    for line in lines.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(value.is_array(), "{line}");
    }
}

#[test]
fn check_exit_codes_and_problem_list() {
    let work = assets_copy();
    let ok = eddy(&["check", "sessions.toml"], work.path());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("valid"));

    std::fs::write(
        work.path().join("bad.toml"),
        "format_version = 1\n[[steps]]\nid = \"x\"\nop = \"mapp\"\n",
    )
    .unwrap();
    let bad = eddy(&["check", "bad.toml"], work.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown operator `mapp` (did you mean `map`?)"),
        "{}",
        text(&bad.stderr)
    );
    let run = eddy(&["run", "bad.toml"], work.path());
    assert_eq!(run.status.code(), Some(2));

    let missing = eddy(&["run", "nope.toml"], work.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("nope.toml: cannot read the pipeline file"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn a_failed_run_exits_1() {
    let work = assets_copy();
    let clicks = std::fs::read_to_string(work.path().join("clicks.csv")).unwrap();
    let mut lines: Vec<&str> = clicks.lines().collect();
    lines.insert(3, "not,a,valid,row,at,all,really");
    std::fs::write(work.path().join("clicks.csv"), lines.join("\n") + "\n").unwrap();
    let run = eddy(&["run", "sessions.toml"], work.path());
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("clicks.csv:4"), "{}", text(&run.stderr));
}

#[test]
fn every_command_has_help() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for command in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["check", "--help"],
        vec!["bench", "--help"],
        vec!["open", "--help"],
    ] {
        let out = eddy(&command, here);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{command:?}: {}", text(&out.stdout));
    }
}

#[test]
fn without_a_display_the_workbench_points_at_eddy_run() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = eddy(&[], here);
    assert_ne!(out.status.code(), Some(0));
    let message = text(&out.stderr);
    assert!(message.contains("eddy run"), "{message}");
    assert!(message.contains("display") || message.contains("workbench"), "{message}");
}
