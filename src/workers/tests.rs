//! A worker that panics (a bug in a step) ends the run with an error on every worker count,
//! instead of leaving the other workers waiting for it forever.

use std::sync::mpsc;
use std::time::Duration;

use crate::ops::Key;

/// The step id whose items panic when their key starts with `boom` (tests only).
const PANICKING_STEP: &str = "panics-in-tests";

/// Panics when a test pipeline asks this step to (see [`PANICKING_STEP`]).
pub(super) fn panic_if_asked(step: &str, key: Option<&Key>) {
    if step == PANICKING_STEP && key.is_some_and(|key| key.starts_with("boom")) {
        panic!("injected panic for key {:?}", key.map(|key| key.as_str()));
    }
}

/// A pipeline folder whose `boom` key (the only one of its name) is owned by `owner` of
/// `workers` workers.
fn workspace(name: &str, workers: u64, owner: u64) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-worker-panic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let boom = (0..100)
        .map(|n| Key::from(format!("boom{n}")))
        .find(|key| super::message::key_hash(key) % workers == owner)
        .unwrap_or_else(|| panic!("no key for worker {owner}"));
    let mut rows = String::from("user,n\n");
    for n in 0..20_000 {
        rows.push_str(&format!("u{},{n}\n", n % 97));
    }
    rows.push_str(&format!("{boom},1\n"));
    for n in 0..20_000 {
        rows.push_str(&format!("u{},{n}\n", n % 89));
    }
    let pipeline = format!(
        r#"format_version = 1
[[sources]]
id = "rows"
path = "rows.csv"
format = "csv"
[[steps]]
id = "by_user"
op = "key_on"
inputs = ["rows"]
field = "user"
[[steps]]
id = "{PANICKING_STEP}"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, v) {{
    let total = if state == () {{ 0 }} else {{ state }};
    [total + 1, total + 1]
}}
'''
[[sinks]]
id = "out"
inputs = ["{PANICKING_STEP}"]
path = "out.jsonl"
format = "jsonl"
"#
    );
    std::fs::write(dir.join("rows.csv"), rows).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("pipeline.toml"), pipeline).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// Runs the pipeline in `dir` on `workers` workers on a thread; its error, or a test failure
/// when the run does not end within a minute (the hang this guards against).
fn run_bounded(dir: &std::path::Path, workers: usize) -> String {
    let path = dir.join("pipeline.toml");
    let (done, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(super::run_captured_on_workers(&path, workers).map(|_| ()));
    });
    match ended.recv_timeout(Duration::from_secs(60)) {
        Ok(Err(error)) => error.to_string(),
        Ok(Ok(())) => panic!("the run succeeded although a worker panicked"),
        Err(_) => panic!("the run on {workers} workers hung after a worker panicked"),
    }
}

#[test]
fn a_panic_in_any_worker_ends_the_run_with_an_error_naming_it() {
    for (workers, owner) in [(2, 1), (2, 0), (3, 2)] {
        let dir = workspace(&format!("{workers}-{owner}"), workers, owner);
        let error = run_bounded(&dir, workers as usize);
        assert!(
            error.contains(&format!("worker {owner} failed: injected panic for key")),
            "{workers} workers, owner {owner}: {error}"
        );
        assert!(error.contains("the other workers stopped"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
