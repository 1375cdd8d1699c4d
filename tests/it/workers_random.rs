//! Random pipeline shapes on several workers (docs/workers.md): every sink's whole output on
//! 2 and 3 workers equals one worker's, for pipelines drawn at random from every operator and
//! the ways they connect (keyed and unkeyed streams, a final step fed a keyed stream, a join of
//! any two keyed streams, merges, branches), on data with ties and long gaps. The fixed
//! pipelines of `workers.rs` missed a `count_final` fed a keyed stream; shapes drawn at random
//! find such gaps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::util::Lcg;

/// A stream a later step may read: its reference, whether it is keyed, and what its values are.
#[derive(Clone)]
struct Stream {
    name: String,
    keyed: bool,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A record with `ts`, `user`, `n`, `tag`.
    Record,
    /// An integer.
    Int,
    /// Anything else (lists, rows, maps).
    Other,
}

fn stream(name: &str, keyed: bool, kind: Kind) -> Stream {
    Stream { name: name.to_owned(), keyed, kind }
}

fn timestamp(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    format!("2024-01-{:02}T{:02}:{m:02}:{s:02}Z", 1 + h / 24, h % 24)
}

/// Two sources (one CSV, one JSON Lines, or both of one kind) with ties, gaps and few or many users.
fn write_sources(random: &mut Lcg, dir: &Path, text: &mut String) {
    for (name, rows) in [("a", 50 + random.below(500)), ("b", 20 + random.below(250))] {
        let users = [3, 20, 150][random.below(3) as usize];
        let csv = random.below(2) == 0;
        let mut t = 0;
        let mut data = if csv { String::from("ts,user,n,tag\n") } else { String::new() };
        for _ in 0..rows {
            t += [0, 0, 1, 2, 5, 40, 200][random.below(7) as usize];
            let (ts, user, n, tag) = (timestamp(t), random.below(users), random.below(100), random.below(7));
            if csv {
                writeln!(data, "{ts},u{user},{n},t{tag}").unwrap();
            } else {
                writeln!(data, r#"{{"ts":"{ts}","user":"u{user}","n":{n},"tag":"t{tag}"}}"#).unwrap();
            }
        }
        let path = format!("{name}.{}", if csv { "csv" } else { "jsonl" });
        std::fs::write(dir.join(&path), data).unwrap();
        write!(text, "\n[[sources]]\nid = \"{name}\"\npath = \"{path}\"\ntime_field = \"ts\"\n").unwrap();
    }
}

/// Every step `id` could be, reading one of `streams`: (op, inputs, settings, its streams).
fn candidates(random: &mut Lcg, streams: &[Stream], id: &str) -> Vec<(String, String, String, Vec<Stream>)> {
    let mut all = Vec::new();
    let mut add = |op: &str, input: &str, settings: String, outs: Vec<Stream>| {
        all.push((op.to_owned(), format!("\"{input}\""), settings, outs));
    };
    let one = |keyed, kind| vec![stream(id, keyed, kind)];
    for from in streams {
        let input = from.name.as_str();
        if !from.keyed && from.kind == Kind::Record {
            let field = ["user", "tag"][random.below(2) as usize];
            add("key_on", input, format!("field = \"{field}\""), one(true, Kind::Record));
            add(
                "key_on",
                input,
                "script = 'fn key(x) { x.user + \"-\" + (x.n % 3) }'".into(),
                one(true, Kind::Record),
            );
            add(
                "filter",
                input,
                "script = 'fn predicate(x) { x.n % 3 != 0 }'".into(),
                one(false, Kind::Record),
            );
            add(
                "map",
                input,
                "script = 'fn mapper(x) { x.n2 = x.n * 2; x }'".into(),
                one(false, Kind::Record),
            );
            let flat = "script = 'fn mapper(x) { if x.n % 5 == 0 { [x, x] } else if x.n % 7 == 0 { [] } else { [x] } }'";
            add("flat_map", input, flat.into(), one(false, Kind::Record));
            let outs = vec![
                stream(&format!("{id}.trues"), false, Kind::Record),
                stream(&format!("{id}.falses"), false, Kind::Record),
            ];
            add("branch", input, "script = 'fn predicate(x) { x.n % 2 == 0 }'".into(), outs);
            add("count_final", input, format!("field = \"{field}\""), one(true, Kind::Int));
            add("inspect", input, String::new(), one(false, Kind::Record));
        }
        if from.keyed {
            add("count_final", input, "script = 'fn key(x) { \"all\" }'".into(), one(true, Kind::Int));
            add("key_rm", input, String::new(), one(false, from.kind));
            add("stateful_map", input, "builtin = \"count\"".into(), one(true, Kind::Int));
            let limits = ["max_size = 3", "timeout = \"20s\"", "max_size = 4\ntimeout = \"90s\""];
            add("collect", input, limits[random.below(3) as usize].into(), one(true, Kind::Other));
            let gap = [1, 30, 300][random.below(3) as usize];
            let logic = format!(
                "script = '''\n\
                 fn builder(resume) {{ if resume == () {{ #{{ count: 0 }} }} else {{ resume }} }}\n\
                 fn on_item(v) {{ this.count += 1; if this.count >= 4 {{ [[#{{ closed: \"full\", count: this.count }}], DISCARD] }} else {{ [[], RETAIN] }} }}\n\
                 fn on_notify() {{ [[#{{ closed: \"timeout\", count: this.count }}], DISCARD] }}\n\
                 fn on_eof() {{ [[#{{ closed: \"end\", count: this.count }}], DISCARD] }}\n\
                 fn notify_at() {{ now() + secs({gap}) }}\n'''"
            );
            add("stateful", input, logic, one(true, Kind::Other));
            let flat = "script = 'fn mapper(s, v) { let n = (s ?? 0) + 1; if n % 3 == 0 { [(), [n, n]] } else { [n, [n]] } }'";
            add("stateful_flat_map", input, flat.into(), one(true, Kind::Int));
        }
        if from.keyed && from.kind == Kind::Record {
            add("map_value", input, "field = \"n\"".into(), one(true, Kind::Int));
            add(
                "filter_value",
                input,
                "script = 'fn predicate(v) { v.n % 3 != 1 }'".into(),
                one(true, Kind::Record),
            );
            let fold = "script = '''\nfn builder() { #{ n: 0, max: 0 } }\nfn folder(acc, v) { acc.n += 1; if v.n > acc.max { acc.max = v.n } acc }\n'''";
            add("fold_final", input, fold.into(), one(true, Kind::Other));
            add("max_final", input, "field = \"n\"".into(), one(true, Kind::Record));
            add("min_final", input, "field = \"n\"".into(), one(true, Kind::Record));
            let sum = "script = 'fn mapper(s, v) { let n = (s ?? 0) + v.n; [n, n] }'";
            add("stateful_map", input, sum.into(), one(true, Kind::Int));
        }
        if from.keyed && from.kind == Kind::Int {
            add("reduce_final", input, "builtin = \"sum\"".into(), one(true, Kind::Int));
            let builtin = ["count", "sum", "max", "min"][random.below(4) as usize];
            add("fold_final", input, format!("builtin = \"{builtin}\""), one(true, Kind::Int));
            add(
                "filter_value",
                input,
                "script = 'fn predicate(v) { v % 2 == 0 }'".into(),
                one(true, Kind::Int),
            );
            add("max_final", input, String::new(), one(true, Kind::Int));
            let flat = "script = 'fn mapper(v) { if v % 4 == 0 { [v, v + 1] } else { [v] } }'";
            add("flat_map_value", input, flat.into(), one(true, Kind::Int));
        }
    }
    let keyed: Vec<&Stream> = streams.iter().filter(|s| s.keyed).collect();
    if keyed.len() >= 2 {
        let first = random.below(keyed.len() as u64) as usize;
        let second = (first + 1 + random.below(keyed.len() as u64 - 1) as usize) % keyed.len();
        let insert = ["first", "last", "product"][random.below(3) as usize];
        let emit = ["complete", "final", "running"][random.below(3) as usize];
        all.push((
            "join".into(),
            format!("\"{}\", \"{}\"", keyed[first].name, keyed[second].name),
            format!("insert_mode = \"{insert}\"\nemit_mode = \"{emit}\""),
            vec![stream(id, true, Kind::Other)],
        ));
    }
    let first = &streams[random.below(streams.len() as u64) as usize];
    if let Some(second) = streams.iter().find(|s| s.name != first.name && s.keyed == first.keyed) {
        let kind = if first.kind == second.kind { first.kind } else { Kind::Other };
        all.push((
            "merge".into(),
            format!("\"{}\", \"{}\"", first.name, second.name),
            String::new(),
            vec![stream(id, first.keyed, kind)],
        ));
    }
    all
}

/// A random pipeline and its data in `dir`: 2 to 7 steps, every unread stream into one of up
/// to three sinks.
fn write_pipeline(random: &mut Lcg, dir: &Path) {
    let mut text = String::from("format_version = 1\n");
    write_sources(random, dir, &mut text);
    let mut streams = vec![stream("a", false, Kind::Record), stream("b", false, Kind::Record)];
    let mut read = std::collections::BTreeSet::new();
    for index in 0..2 + random.below(6) {
        let id = format!("s{index}");
        let mut all = candidates(random, &streams, &id);
        let (op, inputs, settings, outs) = all.swap_remove(random.below(all.len() as u64) as usize);
        read.extend(inputs.split(", ").map(|name| name.trim_matches('"').to_owned()));
        write!(text, "\n[[steps]]\nid = \"{id}\"\nop = \"{op}\"\ninputs = [{inputs}]\n{settings}\n").unwrap();
        streams.extend(outs);
    }
    let unread: Vec<&Stream> = streams.iter().filter(|s| !read.contains(&s.name)).collect();
    let sinks = 1 + random.below(unread.len().min(3) as u64) as usize;
    for sink in 0..sinks {
        let inputs: Vec<String> =
            unread.iter().skip(sink).step_by(sinks).map(|s| format!("\"{}\"", s.name)).collect();
        let inputs = inputs.join(", ");
        write!(text, "\n[[sinks]]\nid = \"out{sink}\"\ninputs = [{inputs}]\nformat = \"jsonl\"\npath = \"out{sink}.jsonl\"\n")
            .unwrap();
    }
    std::fs::write(dir.join("pipeline.toml"), text).unwrap();
}

/// What a run gives: every sink's lines, or the error.
fn outcome(
    result: Result<BTreeMap<String, Vec<String>>, eddy::engine::RunError>,
) -> Result<BTreeMap<String, Vec<String>>, String> {
    result.map_err(|error| error.to_string())
}

#[test]
fn random_pipelines_give_the_same_outputs_on_two_and_three_workers() {
    let mut random = Lcg(20_261_207);
    let mut checked = 0;
    for case in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        write_pipeline(&mut random, dir.path());
        let path = dir.path().join("pipeline.toml");
        // A drawn pipeline the validator refuses (a step reading a stream of the wrong kind)
        // is not a case.
        if eddy::engine::load_and_check(&path).is_err() {
            continue;
        }
        checked += 1;
        let expected = outcome(eddy::run_captured(&path));
        for workers in [2, 3] {
            let actual = outcome(eddy::workers::run_captured_on_workers(&path, workers));
            if actual != expected {
                let pipeline = std::fs::read_to_string(&path).unwrap();
                panic!(
                    "case {case} on {workers} workers differs from one worker:\n{pipeline}\none: {expected:?}\n{workers}: {actual:?}"
                );
            }
        }
    }
    assert!(checked >= 25, "only {checked} of 40 drawn pipelines were valid");
}
