//! End of input in parts (docs/architecture.md#end-of-input-in-parts): a runner takes a final
//! step's outputs a few thousand at a time, delivering each part before the next is made. The
//! sinks must see what one part would give: every key in key order, and a step downstream
//! that ends after them sees all of them.

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::{Lcg, eddy, read_lines, text};

const PIPELINE: &str = r#"format_version = 1

[[sources]]
id = "events"
path = "events.csv"
time_field = "ts"

[[steps]]
id = "counts"
op = "count_final"
inputs = ["events"]
field = "user"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["events"]
field = "user"

[[steps]]
id = "totals"
op = "fold_final"
inputs = ["by_user"]
script = '''
fn builder() { 0 }
fn folder(acc, e) { acc + e.n }
'''

[[steps]]
id = "values"
op = "map_value"
inputs = ["by_user"]
field = "n"

[[steps]]
id = "lists"
op = "collect"
inputs = ["values"]
max_size = 1000

[[steps]]
id = "keys_counted"
op = "count_final"
inputs = ["counts"]
script = 'fn key(x) { "all" }'

[[sinks]]
id = "counts_out"
inputs = ["counts", "keys_counted"]
format = "jsonl"
path = "out/counts.jsonl"

[[sinks]]
id = "totals_out"
inputs = ["totals"]
format = "jsonl"
path = "out/totals.jsonl"

[[sinks]]
id = "lists_out"
inputs = ["lists"]
format = "jsonl"
path = "out/lists.jsonl"
"#;

/// Per user, in the order of the file: (count, total of `n`, the `n`s).
type Expected = BTreeMap<String, (u64, u64, Vec<u64>)>;

/// 30,000 events over 9,000 users (more keys than one part holds), and what each sink must
/// hold, worked out here rather than by the engine.
fn workspace(dir: &Path) -> Expected {
    std::fs::write(dir.join("pipeline.toml"), PIPELINE).unwrap();
    let mut random = Lcg(11);
    let mut csv = String::from("ts,user,n\n");
    let mut expected = Expected::new();
    for i in 0..30_000u64 {
        let (user, n) = (format!("u{}", random.below(9000)), random.below(100));
        csv.push_str(&format!("2024-01-01T00:{:02}:{:02}Z,{user},{n}\n", i / 600 % 60, i / 10 % 60));
        let entry = expected.entry(user).or_default();
        entry.0 += 1;
        entry.1 += n;
        entry.2.push(n);
    }
    std::fs::write(dir.join("events.csv"), csv).unwrap();
    expected
}

#[test]
fn a_final_step_over_many_keys_ends_in_key_order_and_everything_downstream_sees_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let expected = workspace(dir.path());
    assert!(expected.len() > 8192, "the test needs more keys than two parts hold");
    let run = eddy(&["run", "pipeline.toml"], dir.path());
    assert!(run.status.success(), "{}", text(&run.stderr));

    let mut counts: Vec<String> =
        expected.iter().map(|(user, (count, ..))| format!("[\"{user}\",{count}]")).collect();
    counts.push(format!("[\"all\",{}]", expected.len()));
    assert!(read_lines(&dir.path().join("out/counts.jsonl")) == counts, "out/counts.jsonl differs");
    let totals: Vec<String> =
        expected.iter().map(|(user, (_, total, _))| format!("[\"{user}\",{total}]")).collect();
    assert!(read_lines(&dir.path().join("out/totals.jsonl")) == totals, "out/totals.jsonl differs");
    let lists: Vec<String> = expected
        .iter()
        .map(|(user, (.., ns))| {
            let ns: Vec<String> = ns.iter().map(u64::to_string).collect();
            format!("[\"{user}\",[{}]]", ns.join(","))
        })
        .collect();
    assert!(read_lines(&dir.path().join("out/lists.jsonl")) == lists, "out/lists.jsonl differs");
}

#[test]
fn a_final_step_over_many_keys_writes_the_same_bytes_on_two_workers() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let one = eddy(&["run", "pipeline.toml"], dir.path());
    assert!(one.status.success(), "{}", text(&one.stderr));
    let files = ["counts", "totals", "lists"];
    let read = |name: &str| std::fs::read(dir.path().join(format!("out/{name}.jsonl"))).unwrap();
    let on_one: Vec<Vec<u8>> = files.iter().map(|name| read(name)).collect();
    let two = eddy(&["run", "pipeline.toml", "--workers", "2"], dir.path());
    assert!(two.status.success(), "{}", text(&two.stderr));
    for (name, bytes) in files.iter().zip(on_one) {
        assert!(read(name) == bytes, "out/{name}.jsonl differs on two workers");
    }
}
