//! Random programs: generated function bodies over the supported subset (and a little beyond),
//! compared with Rhai on random arguments.

use super::common::{Rng, Script, same};
use eddy::script::{FastFn, ScriptLimits};
use rhai::Dynamic;

struct Gen {
    rng: Rng,
    locals: Vec<String>,
    next: usize,
}

const PROPS: &[&str] = &["value", "kind", "user", "a", "b", "x", "total"];
const OPS: &[&str] =
    &["+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "&", "|", "^", "<<", ">>"];
const OP_ASSIGN: &[&str] = &["=", "+=", "-=", "*=", "/=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>="];

impl Gen {
    fn pick(&mut self, items: &[&str]) -> String {
        self.rng.pick(items).to_string()
    }

    fn literal(&mut self) -> String {
        match self.rng.below(12) {
            0..=4 => format!("{}", self.rng.below(20) as i64 - 5),
            5 => self.pick(&["9223372036854775807", "-9223372036854775807", "4294967296", "63", "64"]),
            6 => self.pick(&["0.1", "0.2", "0.3", "1.5", "-2.0", "1e300", "0.0"]),
            7 => self.pick(&["\"click\"", "\"\"", "\"ab\"", "\"é\"", "\"value\""]),
            8 => self.pick(&["'a'", "'é'"]),
            9 => self.pick(&["true", "false"]),
            10 => "()".to_string(),
            _ => self.pick(&["[1, 2, 3]", "#{a: 1, b: \"x\"}", "[]", "#{}"]),
        }
    }

    fn var(&mut self) -> String {
        if !self.locals.is_empty() && self.rng.below(2) == 0 {
            let i = self.rng.below(self.locals.len() as u64) as usize;
            self.locals[i].clone()
        } else {
            self.pick(&["a", "b", "c"])
        }
    }

    fn expr(&mut self, depth: u32) -> String {
        if depth == 0 {
            return if self.rng.below(2) == 0 { self.literal() } else { self.var() };
        }
        let d = depth - 1;
        match self.rng.below(24) {
            0 | 1 => self.literal(),
            2..=4 => self.var(),
            23 if self.rng.below(2) == 0 => self.pick(&["K", "S", "M", "L", "RETAIN", "M.a", "L[1]"]),
            5..=8 => {
                let op = self.pick(OPS);
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            9 => format!("(-{})", self.expr(d)),
            10 => format!("(!{})", self.expr(d)),
            11 => {
                let op = self.pick(&["&&", "||", "??"]);
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            12 => {
                let p = self.pick(PROPS);
                let dot = self.pick(&[".", "?."]);
                format!("{}{dot}{p}", self.var())
            }
            13 => {
                let idx = match self.rng.below(3) {
                    0 => format!("{}", self.rng.below(6) as i64 - 3),
                    1 => format!("\"{}\"", self.pick(PROPS)),
                    _ => self.expr(d),
                };
                format!("{}[{idx}]", self.var())
            }
            14 => format!("[{}, {}]", self.expr(d), self.expr(d)),
            15 => {
                let p = self.pick(PROPS);
                format!("#{{{p}: {}, \"q r\": {}}}", self.expr(d), self.expr(d))
            }
            16 => {
                let f = self.pick(&["len", "is_empty", "abs", "to_string", "type_of"]);
                if self.rng.below(2) == 0 {
                    format!("{f}({})", self.expr(d))
                } else {
                    format!("{}.{f}()", self.var())
                }
            }
            17 => {
                let op = self.pick(&["in", "!in"]);
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            18 if self.rng.below(2) == 0 => format!("{}.get({})", self.var(), self.expr(d)),
            18 => format!("{}.contains({})", self.var(), self.expr(d)),
            19 => format!("if {} {{ {} }} else {{ {} }}", self.expr(d), self.expr(d), self.expr(d)),
            20 => {
                let name = self.fresh();
                let e = format!("{{ let {name} = {}; {name} + {} }}", self.expr(d), self.expr(d));
                e
            }
            21 => format!("`${{{}}}-${{{}}}`", self.expr(d), self.expr(d)),
            22 => {
                let p = self.pick(PROPS);
                format!("{}.{p}.{}", self.var(), self.pick(PROPS))
            }
            _ => format!("({} ?? {})", self.var(), self.literal()),
        }
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("v{}", self.next)
    }

    fn stmt(&mut self, depth: u32) -> String {
        match self.rng.below(14) {
            0..=3 => {
                let e = self.expr(depth);
                let name =
                    if !self.locals.is_empty() && self.rng.below(4) == 0 { self.var() } else { self.fresh() };
                let kw = if self.rng.below(5) == 0 { "const" } else { "let" };
                if kw == "let" && !self.locals.contains(&name) {
                    self.locals.push(name.clone());
                }
                format!("{kw} {name} = {e};")
            }
            4..=6 => {
                let target = match self.rng.below(3) {
                    0 => self.var(),
                    1 => format!("{}.{}", self.var(), self.pick(PROPS)),
                    _ => format!("{}[{}]", self.var(), self.pick(&["0", "-1", "\"x\"", "1"])),
                };
                let op = self.pick(OP_ASSIGN);
                format!("{target} {op} {};", self.expr(depth))
            }
            7 | 8 => {
                let mark = self.locals.len();
                let body = self.stmt(depth.saturating_sub(1));
                self.locals.truncate(mark);
                let other = self.stmt(depth.saturating_sub(1));
                self.locals.truncate(mark);
                format!("if {} {{ {body} }} else {{ {other} }}", self.expr(depth))
            }
            9 => format!("if {} {{ return {}; }}", self.expr(depth), self.expr(depth)),
            10 => format!("{};", self.expr(depth)),
            11 => format!("if {} {{ throw \"x\"; }}", self.expr(depth)),
            12 if self.rng.below(2) == 0 => {
                let p = self.pick(&["a", "b", "c"]);
                format!("let {p} = {};", self.expr(depth))
            }
            12 => {
                let target = format!("{}.{}.{}", self.var(), self.pick(PROPS), self.pick(PROPS));
                format!("{target} {} {};", self.pick(OP_ASSIGN), self.expr(depth))
            }
            _ => {
                let mark = self.locals.len();
                let s = format!(
                    "{{ {} {} }}",
                    self.stmt(depth.saturating_sub(1)),
                    self.stmt(depth.saturating_sub(1))
                );
                self.locals.truncate(mark);
                s
            }
        }
    }

    fn function(&mut self, name: &str) -> String {
        self.locals.clear();
        let n = self.rng.below(4);
        let mut body = String::new();
        for _ in 0..n {
            body += &self.stmt(2);
            body.push(' ');
        }
        body += &self.expr(3);
        let prelude =
            "const K = 5; const S = \"s\"; const M = #{a: 1, b: [1, 2]}; const L = [1, \"two\", 3.0];";
        format!("{prelude}\nfn {name}(a, b, c) {{ {body} }}\n")
    }
}

fn arg(rng: &mut Rng) -> Dynamic {
    match rng.below(6) {
        0 => Dynamic::from_int(rng.below(10) as i64),
        1 => rng.event(),
        2 => rng.scalar(),
        _ => rng.arg(),
    }
}

#[test]
fn random_programs_agree_with_rhai() {
    run(ScriptLimits::default(), 0);
}

#[test]
fn random_programs_agree_with_rhai_under_small_limits() {
    let limits = ScriptLimits {
        max_string_size: 6,
        max_array_size: 4,
        max_map_size: 3,
        max_operations: 10_000,
        ..ScriptLimits::default()
    };
    run(limits, 1000);
}

fn run(limits: ScriptLimits, seed_offset: u64) {
    let seed: u64 =
        std::env::var("FAST_RANDOM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(42) + seed_offset;
    let mut generator = Gen { rng: Rng::new(seed), locals: Vec::new(), next: 0 };
    let mut arg_rng = Rng::new(seed ^ 7);
    let (mut programs, mut compiled, mut fast_ok, mut calls, mut rhai_ok) = (0, 0, 0, 0, 0);
    let rounds: usize = std::env::var("FAST_RANDOM_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3000);
    for i in 0..rounds {
        let source = generator.function("f");
        let engine = super::common::engine_with(limits);
        if engine.compile(&source).is_err() {
            continue;
        }
        programs += 1;
        let mut script = Script::with_engine(engine, &source);
        let Some(fast) = FastFn::compile_with_limits(&script.ast, "f", 3, &script.constants(), limits) else {
            if std::env::var("FAST_RANDOM_SHOW").is_ok() {
                eprintln!("not compiled: {source}");
            }
            continue;
        };
        compiled += 1;
        for _ in 0..30 {
            let args = [arg(&mut arg_rng), arg(&mut arg_rng), arg(&mut arg_rng)];
            let before = format!("{args:?}");
            let got = fast.call(&args);
            assert_eq!(before, format!("{args:?}"), "arguments changed: {source}");
            let want = script.call("f", &args);
            super::common::check_call_mut(&fast, &args, &got, &format!("#{i} {source}"));
            calls += 1;
            if want.is_ok() {
                rhai_ok += 1;
            }
            match (got, want) {
                (Ok(v), Ok(w)) => {
                    assert!(
                        same(&v, &w),
                        "#{i} {source}\nargs {args:?}\nfast {v:?} (tag {})\nrhai {w:?} (tag {})",
                        v.tag(),
                        w.tag()
                    );
                    fast_ok += 1;
                }
                (Ok(v), Err(e)) => panic!("#{i} {source}\nargs {args:?}\nfast Ok({v:?}) but Rhai: {e}"),
                (Err(()), Ok(w)) => {
                    if std::env::var("FAST_RANDOM_SHOW").is_ok() {
                        eprintln!("missed: {}  args {args:?} -> {w:?}", source.replace('\n', " "));
                    }
                }
                (Err(()), Err(_)) => {}
            }
        }
    }
    eprintln!(
        "programs {programs}, compiled {compiled}, calls {calls}, rhai ok {rhai_ok}, fast ok {fast_ok}"
    );
    assert!(compiled * 2 > programs, "most generated programs are in the subset");
    assert!(fast_ok * 3 > rhai_ok, "the fast path handles most calls Rhai runs");
}

#[test]
fn generated_programs_parse() {
    let mut generator = Gen { rng: Rng::new(1), locals: Vec::new(), next: 0 };
    let engine = super::common::engine();
    let parsed = (0..200).filter(|_| engine.compile(generator.function("f")).is_ok()).count();
    assert!(parsed > 100, "{parsed} of 200 generated programs parse");
    let script = Script::new("fn f(a, b, c) { a }");
    assert!(FastFn::compile(&script.ast, "f", 3, &script.constants()).is_some());
}

/// The record a pruning source gives a step whose function reads only `fields`: `()` when it
/// reads none, the map with only those fields when it has them all, else the whole map
/// (a source does not prune for a field its records lack). `None`: not an event record.
fn projected(arg: &Dynamic, fields: &std::collections::BTreeSet<String>) -> Option<Dynamic> {
    if fields.is_empty() {
        return Some(Dynamic::UNIT);
    }
    if arg.tag() != 0 || arg.is_read_only() {
        return None;
    }
    let map = arg.read_lock::<rhai::Map>()?;
    if !fields.iter().all(|f| map.contains_key(f.as_str())) {
        return Some(arg.clone());
    }
    let kept: rhai::Map = map
        .iter()
        .filter(|(k, _)| fields.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(Dynamic::from_map(kept))
}

/// The field-use analysis (`eddy::script::param_fields`) against what functions really read:
/// a parameter said to be read only by some fields gives the same result (or the same error)
/// when its record keeps only those fields (or is `()` when none is read).
#[test]
fn field_use_analysis_agrees_with_what_functions_read() {
    let mut generator = Gen { rng: Rng::new(4242), locals: Vec::new(), next: 0 };
    let mut arg_rng = Rng::new(99);
    let (mut analysed, mut by_fields, mut compared) = (0, 0, 0);
    for i in 0..1000 {
        let source = generator.function("f");
        let engine = super::common::engine();
        if engine.compile(&source).is_err() {
            continue;
        }
        let mut script = Script::with_engine(engine, &source);
        for param in 0..3 {
            analysed += 1;
            let Some(fields) = eddy::script::param_fields(&script.ast, "f", 3, param) else { continue };
            by_fields += 1;
            for _ in 0..20 {
                let mut args = [arg(&mut arg_rng), arg(&mut arg_rng), arg(&mut arg_rng)];
                args[param] = arg_rng.event();
                let Some(pruned) = projected(&args[param], &fields) else { continue };
                let whole = script.call("f", &args);
                args[param] = pruned;
                let seen = script.call("f", &args);
                compared += 1;
                match (whole, seen) {
                    (Ok(w), Ok(s)) => assert!(
                        same(&w, &s),
                        "#{i} {source}\nparam {param} fields {fields:?}\nwhole {w:?}\npruned {s:?}"
                    ),
                    (Err(w), Err(s)) => assert_eq!(
                        w.to_string(),
                        s.to_string(),
                        "#{i} {source}\nparam {param} fields {fields:?}"
                    ),
                    (w, s) => {
                        panic!("#{i} {source}\nparam {param} fields {fields:?}\nwhole {w:?}\npruned {s:?}")
                    }
                }
            }
        }
    }
    eprintln!("parameters analysed {analysed}, read by fields {by_fields}, calls compared {compared}");
    assert!(by_fields * 10 > analysed, "the generator reaches field-only uses: {by_fields} of {analysed}");
}
