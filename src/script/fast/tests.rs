//! Differential tests against Rhai (the larger suites live with the scratch crate the fast
//! path was developed in: random programs, operators, limits).

use super::*;
use rhai::{AST, Dynamic, FLOAT, INT, Map};
use rhai::{CallFnOptions, Engine, Scope};
use std::collections::BTreeSet;

/// The engine Eddy's `ScriptHost` builds with the default limits.
fn engine() -> Engine {
    crate::script::ScriptHost::configured_engine(crate::script::ScriptLimits::default())
}

/// A script compiled as Eddy's `Script::compile` does it, and the constants its functions see.
struct Script {
    engine: Engine,
    ast: AST,
    scope: Scope<'static>,
}

impl Script {
    fn new(source: &str) -> Script {
        let engine = engine();
        let mut scope = Scope::new();
        scope.push_constant("RETAIN", false);
        scope.push_constant("DISCARD", true);
        let first = engine.compile_with_scope(&scope, source).expect("compiles");
        engine.run_ast_with_scope(&mut scope, &first).expect("runs");
        let ast = engine.compile_with_scope(&scope, source).expect("compiles");
        Script { engine, ast, scope }
    }

    fn constants(&self) -> Vec<(String, Dynamic)> {
        let mut seen = BTreeSet::new();
        let entries: Vec<_> = self.scope.iter().map(|(n, c, v)| (n.to_string(), c, v)).collect();
        entries
            .into_iter()
            .rev()
            .filter(|(n, ..)| seen.insert(n.clone()))
            .filter(|(_, c, _)| *c)
            .map(|(n, _, v)| (n, v))
            .collect()
    }

    fn fast(&self, name: &str, arity: usize) -> FastFn {
        FastFn::compile(&self.ast, name, arity, &self.constants()).expect("in the fast path's subset")
    }

    fn rhai(&mut self, name: &str, args: &[Dynamic]) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        self.engine.call_fn_with_options(options, &mut self.scope, &self.ast, name, args.to_vec())
    }

    /// Runs a call both ways; `true` when the fast path answered.
    fn check(&mut self, fast: &FastFn, name: &str, args: &[Dynamic]) -> bool {
        let got = fast.call(args);
        let want = self.rhai(name, args);
        match (got, want) {
            (Ok(v), Ok(w)) => {
                assert!(same(&v, &w), "{name}{args:?}: fast {v:?}, Rhai {w:?}");
                true
            }
            (Ok(v), Err(e)) => panic!("{name}{args:?}: fast {v:?}, Rhai failed: {e}"),
            (Err(()), _) => false,
        }
    }
}

/// Same type, value, tag and read-only flag, recursively (`INT` and `FLOAT` never equal).
fn same(a: &Dynamic, b: &Dynamic) -> bool {
    if a.tag() != b.tag() || a.is_read_only() != b.is_read_only() || a.type_name() != b.type_name() {
        return false;
    }
    if let (Ok(x), Ok(y)) = (a.as_float(), b.as_float()) {
        return x.to_bits() == y.to_bits();
    }
    if let (Ok(x), Ok(y)) = (a.as_array_ref(), b.as_array_ref()) {
        return x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q));
    }
    if let (Ok(x), Ok(y)) = (a.as_map_ref(), b.as_map_ref()) {
        return x.len() == y.len() && x.iter().zip(y.iter()).all(|((k, p), (l, q))| k == l && same(p, q));
    }
    format!("{a:?}") == format!("{b:?}")
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn scalar(&mut self) -> Dynamic {
        match self.below(9) {
            0 => Dynamic::from_int([INT::MAX, INT::MIN, INT::MAX - 1, -1, 0][self.below(5) as usize]),
            1 | 2 => Dynamic::from_int(self.below(30) as INT - 5),
            3 => Dynamic::from_float([0.1 + 0.2, 0.3, 1.0, -0.0, FLOAT::NAN, 1e300][self.below(6) as usize]),
            4 | 5 => Dynamic::from(["click", "view", "", "é"][self.below(4) as usize]),
            6 => Dynamic::from_bool(self.below(2) == 0),
            7 => Dynamic::from_char('x'),
            _ => Dynamic::UNIT,
        }
    }

    fn value(&mut self) -> Dynamic {
        match self.below(6) {
            0 | 1 => {
                let mut m = Map::new();
                for key in ["value", "kind", "user", "total"] {
                    if self.below(4) != 0 {
                        m.insert(key.into(), self.scalar());
                    }
                }
                Dynamic::from_map(m)
            }
            2 => Dynamic::from_array(vec![self.scalar(), self.scalar()]),
            _ => self.scalar(),
        }
    }
}

const SHAPES: &str = r#"
    const LIMIT = 10;
    fn mapper(state, v) { let n = (state ?? 0) + 1; [n, n] }
    fn folder(acc, e) { acc + e.value }
    fn key(e) { e.user }
    fn predicate(e) { e.value > LIMIT && e.kind == "click" }
    fn mapper2(state, e) { let total = (state ?? 0) + e.value; [total, #{total: total, value: e.value}] }
    fn classify(e) { if e.value > 100 { "big" } else if e.value > 10 { "medium" } else { "small" } }
    fn early(e) { if e.kind == "skip" { return; } let v = e.value * 2; if v > 50 { return v - 50; } v }
    fn build(s, e) {
        let m = s ?? #{count: 0};
        m.count += 1;
        m["last"] = e.kind;
        if "total" in m { m.total += e.value; } else { m.total = e.value; }
        [m, `${e.user}: ${m.count}`]
    }
    fn ops(a, b) { [a + b, a - b, a * b, a / b, a % b, a == b, a < b, a >= b, -a, a ?? b] }
    fn strings(a, b) { [a + b, a.len(), a.to_string(), type_of(b), a.contains(b)] }
"#;

#[test]
fn benchmark_shapes_on_typical_events() {
    let mut script = Script::new(SHAPES);
    let fns: Vec<(&str, usize)> =
        vec![("mapper", 2), ("folder", 2), ("key", 1), ("predicate", 1), ("mapper2", 2)];
    let mut answered = 0;
    for (name, arity) in fns {
        let fast = script.fast(name, arity);
        for i in 0..200 {
            let mut e = Map::new();
            e.insert("value".into(), Dynamic::from_int(i % 37));
            e.insert("kind".into(), Dynamic::from(if i % 3 == 0 { "click" } else { "view" }));
            e.insert("user".into(), Dynamic::from(format!("u{}", i % 5)));
            // `()` as the first state, except for `folder` (`() + INT` is an error).
            let state = if i % 10 == 0 && name != "folder" { Dynamic::UNIT } else { Dynamic::from_int(i) };
            let args = match arity {
                1 => vec![Dynamic::from_map(e)],
                _ => vec![state, Dynamic::from_map(e)],
            };
            answered += usize::from(script.check(&fast, name, &args));
        }
    }
    assert_eq!(answered, 1000, "every typical call runs in the fast path");
}

/// StatefulLogic methods: `this` read and assigned, `now()`.
const METHODS: &str = r#"
    const GAP = 30000000;
    fn on_item(value) {
        if this.count == 0 { this.start = now(); }
        this.last = now();
        this.count += 1;
        this.total += value;
        [[], RETAIN]
    }
    fn on_notify() { [[#{ start: this.start, end: this.last, count: this.count, total: this.total }], DISCARD] }
    fn notify_at() { this.last + GAP }
    fn window_due() { if this.items.len() == 0 { () } else { this.items[0][0] + GAP } }
    fn replace(v) { this = v; this }
    fn whole() { this }
    fn set_index(v) { this[0] = v; this.len() }
    fn nested(v) { this.a.b += v; this.a }
    fn clock() { now() }
"#;

impl Script {
    fn fast_method(&self, name: &str, arity: usize) -> FastFn {
        FastFn::compile_method_with_limits(&self.ast, name, arity, &self.constants(), ScriptLimits::default())
            .expect("in the fast path's subset")
    }

    /// Runs a method call both ways on copies of `this`; `true` when the fast path answered.
    fn check_method(&mut self, fast: &FastFn, name: &str, this: &Dynamic, args: &[Dynamic]) -> bool {
        let mut fast_this = this.clone();
        let got = fast.call_this(&mut fast_this, args.to_vec());
        let mut rhai_this = this.clone();
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true).bind_this_ptr(&mut rhai_this);
        let want = self.engine.call_fn_with_options(options, &mut self.scope, &self.ast, name, args.to_vec());
        match (got, want) {
            (Ok(v), Ok(w)) => {
                assert!(same(&v, &w), "{name}{args:?} on {this:?}: fast {v:?}, Rhai {w:?}");
                assert!(
                    same(&fast_this, &rhai_this),
                    "{name}{args:?} on {this:?}: fast left {fast_this:?}, Rhai {rhai_this:?}"
                );
                true
            }
            (Ok(v), Err(e)) => panic!("{name}{args:?} on {this:?}: fast {v:?}, Rhai failed: {e}"),
            (Err(back), _) => {
                assert_eq!(format!("{back:?}"), format!("{args:?}"), "the arguments come back as given");
                assert!(same(&fast_this, this), "{name}: a fallback leaves `this` as it was");
                false
            }
        }
    }
}

#[test]
fn methods_read_and_assign_this_and_read_the_clock_as_rhai_does() {
    let mut script = Script::new(METHODS);
    let state = |count: INT, last: INT| {
        let mut m = Map::new();
        for (k, v) in [("start", 5), ("last", last), ("count", count), ("total", 7)] {
            m.insert(k.into(), Dynamic::from_int(v));
        }
        Dynamic::from_map(m)
    };
    let mut answered = 0;
    for clock in [None, Some(0), Some(1_725_000_000_000_000), Some(INT::MAX)] {
        crate::script::host::set_script_clock(clock);
        for (name, arity) in [("on_item", 1), ("on_notify", 0), ("notify_at", 0), ("clock", 0)] {
            let fast = script.fast_method(name, arity);
            for (count, last) in [(0, 0), (3, 1_725_000_000_000_000), (1, INT::MAX)] {
                let args: Vec<Dynamic> = (0..arity).map(|_| Dynamic::from_int(count + 2)).collect();
                answered += usize::from(script.check_method(&fast, name, &state(count, last), &args));
            }
        }
    }
    crate::script::host::set_script_clock(None);
    // Every call answers but the overflowing ones (`this.last + GAP` at INT::MAX).
    assert!(answered >= 40, "{answered} of 48 calls ran in the fast path");
}

#[test]
fn methods_on_random_states() {
    let mut script = Script::new(METHODS);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    crate::script::host::set_script_clock(Some(1_000_000));
    let functions: Vec<(String, usize)> =
        script.ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
    for (name, arity) in functions {
        let fast = script.fast_method(&name, arity);
        let mut answered = 0;
        for i in 0..2000 {
            let this = if i % 7 == 0 {
                let mut inner = Map::new();
                inner.insert("b".into(), rng.scalar());
                let mut m = Map::new();
                m.insert("a".into(), Dynamic::from_map(inner));
                Dynamic::from_map(m)
            } else {
                rng.value()
            };
            let args: Vec<Dynamic> = (0..arity).map(|_| rng.value()).collect();
            answered += usize::from(script.check_method(&fast, &name, &this, &args));
        }
        // (The session-window methods need fields random values rarely have: the test
        // above drives them; here they must only agree.)
        if ["replace", "whole", "clock", "nested", "set_index"].contains(&name.as_str()) {
            assert!(answered > 0, "`{name}` answered some calls");
        }
    }
    crate::script::host::set_script_clock(None);
}

#[test]
fn a_plain_function_never_reads_this_and_a_method_is_not_called_plainly() {
    let script = Script::new(METHODS);
    assert!(FastFn::compile(&script.ast, "notify_at", 0, &script.constants()).is_none());
    let method = script.fast_method("clock", 0);
    assert!(method.call(&[]).is_err());
}

#[test]
fn random_arguments() {
    let mut script = Script::new(SHAPES);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let functions: Vec<(String, usize)> =
        script.ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
    for (name, arity) in functions {
        let fast = script.fast(&name, arity);
        let mut answered = 0;
        for _ in 0..2000 {
            let args: Vec<Dynamic> = (0..arity).map(|_| rng.value()).collect();
            let before = format!("{args:?}");
            answered += usize::from(script.check(&fast, &name, &args));
            assert_eq!(before, format!("{args:?}"), "the fast path left the arguments alone");
        }
        assert!(answered > 0, "`{name}` answered some calls");
    }
}

#[test]
fn overflow_and_missing_fields_fall_back() {
    let script = Script::new(SHAPES);
    let mapper = script.fast("mapper", 2);
    assert!(mapper.call(&[Dynamic::from_int(INT::MAX), Dynamic::UNIT]).is_err());
    let folder = script.fast("folder", 2);
    assert!(folder.call(&[Dynamic::from_int(1), Dynamic::from_map(Map::new())]).is_err());
    let mut e = Map::new();
    e.insert("value".into(), Dynamic::from_float(0.5));
    let sum = folder.call(&[Dynamic::from_int(1), Dynamic::from_map(e)]).expect("INT + FLOAT");
    assert_eq!(sum.as_float(), Ok(1.5));
}

/// One function per construct the fast path reads out of Rhai's AST (its `internals`
/// types: `Expr`, `Stmt`, `FnCallExpr`, the flags and tokens). Rhai is pinned exactly in
/// `Cargo.toml` because these are not a stable API: if an upgrade changes a shape, the
/// construct silently falls back to the interpreter (correct, slow); this test says which.
const AST_SHAPES: &str = r#"
    const LIMIT = 10;
    fn literals() { [1, 2.5, true, "s", 'c', (), #{a: 1, "b c": 2}, `x${1}`] }
    fn variables(a) { let x = a; const y = 2; x + y + LIMIT }
    fn assignments(a) { let m = #{n: 0, l: [0]}; m.n += a; m.l[0] = a; m["k"] = a; a -= 1; [m, a] }
    fn reads(e) { [e.value, e?.missing, e["kind"], e.list[0], e.list[-1]] }
    fn operators(a, b) { [a + b, a - b, a * b, a / b, a % b, a ** 2, -a, !(a == b), a != b, a < b, a <= b, a > b, a >= b, a & b, a | b, a ^ b, a << 1, a >> 1] }
    fn logic(a, b) { (a && b) || !a }
    fn nullish(a) { a ?? 0 }
    fn membership(a, m) { ["x" in m, "y" !in m] }
    fn branches(a) { if a > 1 { 1 } else if a < 0 { -1 } else { 0 } }
    fn blocks(a) { let r = { let t = a; t + 1 }; r }
    fn returns(a) { if a { return 1; } 2 }
    fn builtins(a) { [a.len(), len(a), a.is_empty(), a.contains(1), a.get(0), abs(-1), type_of(a), 1.to_string()] }
    fn clock() { now() }
"#;

#[test]
fn every_ast_shape_the_fast_path_reads_still_compiles() {
    let script = Script::new(AST_SHAPES);
    let constants = script.constants();
    for f in script.ast.iter_functions() {
        assert!(
            FastFn::compile(&script.ast, f.name, f.params.len(), &constants).is_some(),
            "`{}` no longer compiles to the fast path: Rhai's AST changed shape (was Rhai \
             upgraded?); adapt src/script/fast.rs to it before moving the pin in Cargo.toml",
            f.name
        );
    }
    let methods = Script::new(
        "fn on_item(v) { this.n += v; this.l[0] = now(); [[this.n], false] }\nfn whole() { this = 1; this }",
    );
    for f in methods.ast.iter_functions() {
        assert!(
            FastFn::compile_method_with_limits(
                &methods.ast,
                f.name,
                f.params.len(),
                &[],
                ScriptLimits::default()
            )
            .is_some(),
            "method `{}` no longer compiles to the fast path: Rhai's AST changed shape",
            f.name
        );
    }
}

#[test]
fn fast_fn_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<FastFn>();
}

/// Methods that write to `this` and may then fall back (an overflow, a type Rhai rejects, a
/// `throw`): `this` is written in place, and a fallback must hand it back as it came in.
const WRITES_THEN_FAILS: &str = r#"
    fn partial(v) { this.n += 1; this.fresh = v; this.s += v; this.n *= v; this }
    fn swap(v) { this.n = 5; this = #{n: v}; this.n += 1; this.n *= v; this }
    fn deep(v) { this.a.b += v; this.a.c = v; this.a.b *= v; this }
    fn keyed(v) { this["n"] += 1; this.n *= v; this }
    fn thrower(v) { this.n = v; this.gone = (); if v == 3 { throw "three" } this.n }
    fn list(v) { this.items += v; this.items[0] = v; this.n -= v; this.items }
"#;

#[test]
fn a_method_that_falls_back_after_writing_this_hands_it_back_as_it_came_in() {
    let mut script = Script::new(WRITES_THEN_FAILS);
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let state = |rng: &mut Rng, i: u64| {
        let mut inner = Map::new();
        inner.insert("b".into(), if i.is_multiple_of(3) { rng.scalar() } else { Dynamic::from_int(2) });
        let mut m = Map::new();
        m.insert("n".into(), if i.is_multiple_of(4) { rng.scalar() } else { Dynamic::from_int(i as INT) });
        m.insert("s".into(), if i.is_multiple_of(5) { rng.scalar() } else { Dynamic::from("s") });
        m.insert("a".into(), Dynamic::from_map(inner));
        m.insert("items".into(), Dynamic::from_array(vec![Dynamic::from_int(1)]));
        if i.is_multiple_of(6) {
            m.insert("gone".into(), rng.value());
        }
        let mut this = Dynamic::from_map(m);
        if i.is_multiple_of(11) {
            this.set_tag(7);
        }
        this
    };
    for (name, arity) in [("partial", 1), ("swap", 1), ("deep", 1), ("keyed", 1), ("thrower", 1), ("list", 1)]
    {
        let fast = script.fast_method(name, arity);
        let (mut answered, mut fell_back) = (0, 0);
        for i in 0..600 {
            let this = if i % 50 == 49 { rng.value() } else { state(&mut rng, i) };
            let v = match i % 4 {
                0 => Dynamic::from_int(INT::MAX),
                1 => Dynamic::from_int(3),
                _ => rng.scalar(),
            };
            if script.check_method(&fast, name, &this, &[v]) {
                answered += 1;
            } else {
                fell_back += 1;
            }
        }
        assert!(answered > 0 && fell_back > 0, "`{name}`: {answered} answered, {fell_back} fell back");
    }
}

/// The sliding-window example's logic (`assets/sliding_window.toml`, the bench's case): loops,
/// `push`/`shift`, calls of the script's own functions as methods of `this`.
const SLIDING: &str = r#"
    const WINDOW = 60000000;
    fn builder(resume) { if resume == () { #{ items: [] } } else { resume } }
    fn on_item(value) { this.items.push([now(), value]); this.expire(); [[this.total()], RETAIN] }
    fn on_notify() { if this.expire() { [[this.total()], RETAIN] } else { [[], RETAIN] } }
    fn notify_at() { if this.items.len() == 0 { () } else { this.items[0][0] + WINDOW } }
    fn expire() {
        let cutoff = now() - WINDOW;
        let dropped = false;
        while this.items.len() > 0 && this.items[0][0] <= cutoff { this.items.shift(); dropped = true; }
        dropped
    }
    fn total() { let sum = 0; for item in this.items { sum += item[1]; } sum }
"#;

/// Loops, `break`/`continue`, `for` with a counter, `pop`, recursion through `this.f()`, and
/// changes through methods that then fail.
const LOOPS: &str = r#"
    fn count_to(n) { let i = 0; let s = 0; while i < n { i += 1; if i % 3 == 0 { continue; } s += i; } s }
    fn first_big(list) { let found = (); for (x, i) in list { if x > 10 { found = i; break; } } found }
    fn loop_break(n) { let i = 0; loop { i += 1; if i >= n { break; } } i }
    fn break_value(n) { let i = 0; let r = loop { i += 1; if i >= n { break i * 2; } }; r }
    fn forever() { while true {} }
    fn spin() { let i = 0; loop { i += 1; } }
    fn grow(n) { let i = 0; while i < n { this.items.push(i); i += 1; } this.items.len() }
    fn grow_local(n) { let a = []; let i = 0; while i < n { a.push(i); i += 1; } a.len() }
    fn drain() { let s = 0; while this.items.len() > 0 { s += this.items.pop(); } s }
    fn depth(n) { if n <= 0 { this.d } else { this.d += 1; this.depth(n - 1) } }
    fn sum_twice() { this.items.push(1); this.drain() + this.drain() }
    fn push_then_fail(v) { this.items.push(v); this.items.shift(); this.n += 1; this.n * v }
    fn nested_push(v) { this.a.list.push(v); this.a.list[0] += v; this.a }
    fn reads_only() { this.total() * 2 }
    fn total() { let sum = 0; for item in this.items { sum += item; } sum }
"#;

impl Script {
    fn fast_methods(&self) -> Vec<(String, usize, FastFn)> {
        FastFn::compile_methods(&self.ast, &self.constants(), ScriptLimits::default())
    }
}

fn sliding_state(rng: &mut Rng, clock: INT) -> Dynamic {
    let n = rng.below(9);
    let mut t = clock - 90_000_000 + rng.below(20_000_000) as INT;
    let items: Vec<Dynamic> = (0..n)
        .map(|_| {
            t += rng.below(10_000_000) as INT;
            let v = if rng.below(20) == 0 { rng.scalar() } else { Dynamic::from_int(rng.below(50) as INT) };
            Dynamic::from_array(vec![Dynamic::from_int(t), v])
        })
        .collect();
    let mut m = Map::new();
    m.insert("items".into(), Dynamic::from_array(items));
    if rng.below(15) == 0 {
        return rng.value();
    }
    Dynamic::from_map(m)
}

#[test]
fn the_sliding_window_runs_on_the_fast_path_as_rhai_runs_it() {
    let mut script = Script::new(SLIDING);
    let fns = script.fast_methods();
    let names: Vec<&str> = fns.iter().map(|(n, ..)| n.as_str()).collect();
    for name in ["on_item", "on_notify", "notify_at", "expire", "total"] {
        assert!(names.contains(&name), "`{name}` compiles as a method: {names:?}");
    }
    let mut rng = Rng(0x5EED_0000_1111_2222);
    let mut answered = 0;
    let mut calls = 0;
    for i in 0..3000 {
        let clock = 1_725_000_000_000_000 + i * 1_000_000;
        crate::script::host::set_script_clock(if i % 97 == 0 { None } else { Some(clock) });
        let this = sliding_state(&mut rng, clock);
        for (name, arity, fast) in &fns {
            let args: Vec<Dynamic> =
                (0..*arity)
                    .map(|_| {
                        if rng.below(10) == 0 {
                            rng.scalar()
                        } else {
                            Dynamic::from_int(rng.below(100) as INT)
                        }
                    })
                    .collect();
            calls += 1;
            answered += usize::from(script.check_method(fast, name, &this, &args));
        }
    }
    crate::script::host::set_script_clock(None);
    assert!(answered * 10 > calls * 8, "{answered} of {calls} calls ran on the fast path");
}

#[test]
fn loops_and_calls_of_the_scripts_own_methods_agree_with_rhai() {
    let mut script = Script::new(LOOPS);
    let fns = script.fast_methods();
    let names: Vec<&str> = fns.iter().map(|(n, ..)| n.as_str()).collect();
    for name in ["count_to", "first_big", "loop_break", "break_value", "grow", "drain", "depth", "sum_twice"]
    {
        assert!(names.contains(&name), "`{name}` compiles as a method: {names:?}");
    }
    let mut rng = Rng(0xABCD_EF01_2345_6789);
    for (name, arity, fast) in &fns {
        if ["forever", "spin"].contains(&name.as_str()) {
            continue;
        }
        let mut answered = 0;
        for i in 0..300 {
            let mut m = Map::new();
            let items: Vec<Dynamic> = (0..rng.below(6))
                .map(|_| if i % 9 == 0 { rng.scalar() } else { Dynamic::from_int(rng.below(30) as INT) })
                .collect();
            m.insert("items".into(), Dynamic::from_array(items));
            m.insert("d".into(), if i % 13 == 0 { rng.scalar() } else { Dynamic::from_int(0) });
            m.insert("n".into(), if i % 5 == 0 { Dynamic::from_int(INT::MAX) } else { Dynamic::from_int(1) });
            let mut a = Map::new();
            a.insert("list".into(), Dynamic::from_array(vec![Dynamic::from_int(1)]));
            m.insert("a".into(), Dynamic::from_map(a));
            let this = if i % 31 == 0 { rng.value() } else { Dynamic::from_map(m) };
            let args: Vec<Dynamic> = (0..*arity)
                .map(|_| match i % 4 {
                    // (Only where a list is read: a count that is a list never ends a loop, and
                    // each would run Rhai to its operations limit.)
                    0 if name == "first_big" => {
                        Dynamic::from_array((0..rng.below(8)).map(|_| rng.scalar()).collect())
                    }
                    // (No huge counts: each would run Rhai to its operations limit.)
                    1 => match rng.scalar() {
                        n if n.as_int().is_ok_and(|n| !(-1000..=1000).contains(&n)) => Dynamic::from_int(-3),
                        n if n.as_float().is_ok_and(|n| !(-1000.0..=1000.0).contains(&n)) => {
                            Dynamic::from_float(2.5)
                        }
                        n if !n.is_int()
                            && !n.is_float()
                            && ["loop_break", "break_value"].contains(&name.as_str()) =>
                        {
                            Dynamic::from_int(2)
                        }
                        other => other,
                    },
                    _ => Dynamic::from_int(rng.below(12) as INT),
                })
                .collect();
            answered += usize::from(script.check_method(fast, name, &this, &args));
        }
        assert!(answered > 0, "`{name}` answered some calls");
    }
}

/// Runs a method call in Rhai with the script's engine (its limits) on a copy of `this`.
/// Runs method `name` on `this` with `args` on the fast path and in Rhai under `engine`'s
/// limits: when the fast path answers, the same value and the same `this` left behind; when it
/// hands the call back, the arguments and `this` untouched, and for a call far from every limit
/// (`small`) only where Rhai fails.
fn check_limited_method(
    engine: &Engine,
    script: &mut Script,
    fast: &FastFn,
    name: &str,
    this: &Dynamic,
    args: Vec<Dynamic>,
    small: bool,
) {
    let (want, rhai_this) = rhai_method(engine, script, name, this, &args);
    let mut fast_this = this.clone();
    match (fast.call_this(&mut fast_this, args.clone()), want) {
        (Ok(v), Ok(w)) => {
            assert!(same(&v, &w), "{name}: fast {v:?}, Rhai {w:?}");
            assert!(same(&fast_this, &rhai_this), "{name}: fast left {fast_this:?}, Rhai {rhai_this:?}");
        }
        (Ok(v), Err(e)) => panic!("{name}{args:?}: fast {v:?}, Rhai failed: {e}"),
        (Err(back), want) => {
            assert_eq!(format!("{back:?}"), format!("{args:?}"), "{name}: the arguments come back");
            assert!(same(&fast_this, this), "{name}: a fallback leaves `this` as it was");
            assert!(!small || want.is_err(), "{name}{args:?}: a call far from every limit runs fast");
        }
    }
}

fn rhai_method(
    engine: &Engine,
    script: &mut Script,
    name: &str,
    this: &Dynamic,
    args: &[Dynamic],
) -> (Result<Dynamic, Box<rhai::EvalAltResult>>, Dynamic) {
    let mut this = this.clone();
    let options = CallFnOptions::new().eval_ast(false).rewind_scope(true).bind_this_ptr(&mut this);
    let result = engine.call_fn_with_options(options, &mut script.scope, &script.ast, name, args.to_vec());
    (result, this)
}

#[test]
fn limits_are_hit_where_rhai_hits_them() {
    let limits = ScriptLimits {
        max_operations: 5_000,
        max_array_size: 50,
        max_call_levels: 8,
        ..ScriptLimits::default()
    };
    let engine = crate::script::ScriptHost::configured_engine(limits);
    let mut script = Script::new(LOOPS);
    let fns = FastFn::compile_methods(&script.ast, &script.constants(), limits);
    let fast = |name: &str| fns.iter().find(|(n, ..)| n == name).map(|(.., f)| f.clone()).expect(name);
    let state = |items: INT| {
        let mut m = Map::new();
        m.insert("items".into(), Dynamic::from_array((0..items).map(Dynamic::from_int).collect()));
        m.insert("d".into(), Dynamic::from_int(0));
        Dynamic::from_map(m)
    };
    // (function, argument, whether Rhai fails): the fast path answers exactly when Rhai
    // succeeds far enough from a limit, and otherwise hands the call back untouched.
    let cases: Vec<(&str, Vec<Dynamic>, INT)> = vec![
        ("forever", vec![], 0),
        ("spin", vec![], 0),
        ("count_to", vec![Dynamic::from_int(10)], 0),
        ("count_to", vec![Dynamic::from_int(100_000)], 0),
        ("grow", vec![Dynamic::from_int(10)], 5),
        ("grow", vec![Dynamic::from_int(60)], 5),
        ("grow_local", vec![Dynamic::from_int(51)], 0),
        ("depth", vec![Dynamic::from_int(3)], 0),
        ("depth", vec![Dynamic::from_int(20)], 0),
    ];
    for (name, args, items) in cases {
        let small = ["count_to", "grow", "depth"].contains(&name) && args[0].as_int().is_ok_and(|n| n <= 10);
        check_limited_method(&engine, &mut script, &fast(name), name, &state(items), args, small);
    }
    let (forever, _) = rhai_method(&engine, &mut script, "forever", &state(0), &[]);
    assert!(matches!(*forever.unwrap_err(), rhai::EvalAltResult::ErrorTooManyOperations(_)));
}

#[test]
fn a_script_function_outside_the_subset_keeps_its_callers_out_too() {
    let script = Script::new(
        "fn outside() { switch this { 1 => 2, _ => 3 } }\nfn caller() { this.outside() + 1 }\nfn fine() { this.n }",
    );
    let names: Vec<String> = script.fast_methods().into_iter().map(|(n, ..)| n).collect();
    assert_eq!(names, vec!["fine".to_string()]);
}

#[test]
fn a_fold_changes_its_accumulator_in_place_and_gives_it_back_on_a_fallback() {
    let script = Script::new(
        "fn folder(acc, e) { acc.sum += e.value; acc.count += 1; acc }
         fn late(acc, e) { acc.sum += e.value; acc.count += 1; acc.big = acc.sum * 4611686018427387904; acc }",
    );
    let acc = || {
        let mut m = Map::new();
        m.insert("sum".into(), Dynamic::from_int(1));
        m.insert("count".into(), Dynamic::from_int(0));
        Dynamic::from_map(m)
    };
    let mut e = Map::new();
    e.insert("value".into(), Dynamic::from_int(2));
    let e = Dynamic::from_map(e);
    let address = |d: &Dynamic| d.as_map_ref().map(|m| &*m as *const Map as usize).unwrap_or_default();

    // The accumulator itself comes back, changed: not a copy.
    let mut args = [acc(), e.clone()];
    let before = address(&args[0]);
    let folded = script.fast("folder", 2).call_mut(&mut args).expect("runs on the fast path");
    assert_eq!(address(&folded), before);
    assert_eq!(format!("{folded:?}"), r#"#{"count": 1, "sum": 3}"#);
    assert!(args[0].is_unit() && same(&args[1], &e));

    // An overflow after two writes: the accumulator is handed back as it came in.
    let mut args = [acc(), e.clone()];
    assert!(script.fast("late", 2).call_mut(&mut args).is_err());
    assert!(same(&args[0], &acc()) && same(&args[1], &e));
}

/// Methods that push, pop, shift, read and rewrite a state's arrays, for the checked-state
/// tests: what a call may leave unmeasured in a state it was told is checked.
const CHECKED: &str = r#"
    fn add(v) { this.items.push([v, v]); this.n += 1; this.items.len() }
    fn drop_one() { this.items.shift(); this.items.len() }
    fn drop_last() { let x = this.items.pop(); x }
    fn drain_some(k) { while this.items.len() > k { this.items.shift(); } this.items.len() }
    fn nest(v) { this.deep = [[[[v]]]]; this.n }
    fn rewrite(v) { this.items[0] = [v, [v, v]]; this.n }
    fn swap(v) { this = #{ items: [v], n: 0 }; this.n }
    fn read() { this.items.len() + this.n }
    fn first() { this.items.get(0) }
    fn sum() { let s = 0; for p in this.items { s += p[0]; } s }
    fn both() { this.read() + this.sum() + this.items.len() }
    fn add_then_read(v) { this.items.push([v, v]); this.both() }
"#;

/// What "checked" promises, measured: read-write throughout, nested within `max_depth`, every
/// array within the data-size limits.
fn truly_checked(state: &Dynamic, limits: &ScriptLimits) -> bool {
    read_write(state)
        && !crate::script::nested_deeper_than(state, limits.max_depth)
        && arrays_within(state, limits)
}

fn checked_state(rng: &mut Rng) -> Dynamic {
    let mut m = Map::new();
    // Up to 6 pairs (18 elements): past the array limit (12) from 5 on, as a state restored
    // from a snapshot may be; now and then a read-only value inside.
    let items: Vec<Dynamic> = (0..rng.below(7))
        .map(|_| {
            let v = Dynamic::from_int(rng.below(9) as INT);
            let pair = Dynamic::from_array(vec![v.clone(), v]);
            if rng.below(25) == 0 { pair.into_read_only() } else { pair }
        })
        .collect();
    m.insert("items".into(), Dynamic::from_array(items));
    m.insert("n".into(), Dynamic::from_int(rng.below(5) as INT));
    if rng.below(10) == 0 {
        m.insert(
            "deep".into(),
            Dynamic::from_array(vec![Dynamic::from_array(vec![Dynamic::from_array(vec![])])]),
        );
    }
    Dynamic::from_map(m)
}

#[test]
fn a_checked_state_carried_from_call_to_call_runs_as_rhai_runs_it_and_stays_truly_checked() {
    let limits = ScriptLimits { max_array_size: 12, max_depth: 4, ..ScriptLimits::default() };
    let engine = crate::script::ScriptHost::configured_engine(limits);
    let mut script = Script::new(CHECKED);
    let fns = FastFn::compile_methods(&script.ast, &script.constants(), limits);
    assert_eq!(fns.len(), 12, "every method compiles");
    let mut rng = Rng(0x0C4E_C4ED_5747_E000);
    let (mut answered, mut trusted, mut calls) = (0, 0, 0);
    for _ in 0..400 {
        // As StatefulLogic keeps it: a state, and whether the calls' answers say it is checked.
        let mut state = checked_state(&mut rng);
        let mut checked = false;
        for _ in 0..12 {
            let (name, arity, fast) = &fns[rng.below(fns.len() as u64) as usize];
            let args: Vec<Dynamic> = (0..*arity).map(|_| Dynamic::from_int(rng.below(4) as INT)).collect();
            let (want, rhai_state) = rhai_method(&engine, &mut script, name, &state, &args);
            let before = state.clone();
            let was_read_write = read_write(&state);
            calls += 1;
            trusted += usize::from(checked);
            match fast.call_this_checked(&mut state, checked, args.clone()) {
                Ok((value, kept)) => {
                    let Ok(want) = want else {
                        panic!("{name}{args:?} on {before:?}: fast {value:?}, Rhai failed")
                    };
                    // (Rhai ran on a copy, read-write throughout: compared as printed.)
                    assert_eq!(format!("{value:?}"), format!("{want:?}"), "{name}{args:?} on {before:?}");
                    assert_eq!(format!("{state:?}"), format!("{rhai_state:?}"), "{name}{args:?}: left");
                    answered += 1;
                    // The caller measures the depth of a state it did not vouch for (Script).
                    let deep = crate::script::nested_deeper_than(&state, limits.max_depth);
                    if deep && (!checked || !kept) {
                        // The step fails on it: a new state.
                        state = checked_state(&mut rng);
                        checked = false;
                        continue;
                    }
                    checked = kept;
                }
                Err(back) => {
                    assert_eq!(format!("{back:?}"), format!("{args:?}"), "the arguments come back as given");
                    assert_eq!(
                        format!("{state:?}"),
                        format!("{before:?}"),
                        "{name}: a fallback leaves the state"
                    );
                    assert_eq!(read_write(&state), was_read_write, "{name}: and its read-only values");
                    state = rhai_state;
                    checked = false;
                    if want.is_err() {
                        state = checked_state(&mut rng);
                    }
                }
            }
            if checked {
                assert!(truly_checked(&state, &limits), "{name}{args:?} answered checked for {state:?}");
            }
        }
    }
    assert!(answered * 2 > calls && trusted * 4 > calls, "{answered} answered, {trusted} trusted of {calls}");
}

/// `for` loops over arrays reached from arguments, constants and locals borrowing them (run in
/// place, the loop variable borrowing each item), and over arrays the body may change (copied).
const FOR_LOOPS: &str = r#"
    const FIXED = [1, 2, 3];
    fn sum_items(list) { let s = 0; for x in list { s += x; } s }
    fn keep_last(list) { let last = (); for x in list { last = x; } last }
    fn write_var(list) { let out = []; for x in list { x += 1; out.push(x); } out }
    fn write_inside(list) { let out = []; for x in list { x[0] = 9; out.push(x); } [out, list] }
    fn deep(m) { let s = 0; for x in m.a.list { s += x; } s }
    fn indexed(m, i) { let s = []; for (x, j) in m.lists[i] { s.push([x, j]); } s }
    fn keyed(m, k) { let n = 0; for x in m[k] { n += 1; } n }
    fn returns(list) { for x in list { if x == 2 { return x; } } -1 }
    fn first_kept(list) { let first = (); for (x, i) in list { if i == 0 { first = x; } } [first, list] }
    fn over_const() { let s = 0; for x in FIXED { s += x; } s }
    fn param_then_push(list) { let s = 0; for x in list { s += x; } list.push(1); [s, list] }
    fn reassigned(list) { let y = list; for x in y { y = 5; } y }
    fn inner_loops(list) { let n = 0; for x in list { for y in list { n += 1; } } n }
    fn local_copy(list) { let c = list; c.push(1); let s = 0; for x in c { s += x; c.pop(); } [s, c] }
    fn total() { let s = 0; for x in this.items { s += x; } s }
    fn copy_into(list) { for x in list { this.items.push(x); } this.items.len() }
    fn totals(list) { let s = 0; for x in list { s += this.total(); } s }
    fn changes_own(v) { this.items.push(v); let s = 0; for x in this.items { this.items.shift(); s += x; } [s, this.items] }
"#;

/// A list of numbers, pairs, maps, tagged numbers and (with `read_only`) read-only values. (A
/// state's copies, made by the tests with `clone`, are read-write throughout: a state keeps
/// none.)
fn random_list(rng: &mut Rng, read_only: bool) -> Dynamic {
    let items: Vec<Dynamic> = (0..rng.below(7))
        .map(|_| match rng.below(8) {
            0 => rng.value(),
            1 => Dynamic::from_array(vec![rng.scalar(), Dynamic::from_int(1)]),
            2 => {
                let mut tagged = Dynamic::from_int(rng.below(5) as INT);
                tagged.set_tag(7);
                tagged
            }
            3 if read_only => Dynamic::from_int(2).into_read_only(),
            _ => Dynamic::from_int(rng.below(5) as INT),
        })
        .collect();
    let list = Dynamic::from_array(items);
    if read_only && rng.below(12) == 0 { list.into_read_only() } else { list }
}

#[test]
fn for_loops_over_arrays_in_place_agree_with_rhai() {
    let mut script = Script::new(FOR_LOOPS);
    let fns = script.fast_methods();
    assert_eq!(fns.len(), 18, "every function compiles");
    let mut rng = Rng(0xF0F0_1234_5678_9ABC);
    for (name, arity, fast) in &fns {
        let mut answered = 0;
        for i in 0..400 {
            let list = random_list(&mut rng, true);
            let mut lists = Map::new();
            lists.insert("list".into(), list.clone());
            let mut m = Map::new();
            m.insert("a".into(), Dynamic::from_map(lists));
            m.insert(
                "lists".into(),
                Dynamic::from_array(vec![random_list(&mut rng, true), list.clone(), rng.scalar()]),
            );
            m.insert("k".into(), list.clone());
            let m = Dynamic::from_map(m);
            let args: Vec<Dynamic> = match (name.as_str(), *arity) {
                ("deep" | "keyed" | "indexed", _) => {
                    let second = if name == "keyed" {
                        Dynamic::from(["k", "a", "lists"][rng.below(3) as usize])
                    } else {
                        Dynamic::from_int(rng.below(5) as INT - 2)
                    };
                    if *arity == 1 { vec![m] } else { vec![m, second] }
                }
                (_, 0) => vec![],
                ("copy_into" | "totals", _) => vec![if i % 5 == 0 { rng.value() } else { list }],
                ("changes_own", _) => vec![Dynamic::from_int(rng.below(4) as INT)],
                _ => vec![list],
            };
            let mut state = Map::new();
            state.insert("items".into(), random_list(&mut rng, false));
            let this = if i % 17 == 0 { rng.value() } else { Dynamic::from_map(state) };
            answered += usize::from(script.check_method(fast, name, &this, &args));
        }
        assert!(answered > 0, "`{name}` answered some calls");
    }
}

#[test]
fn a_for_loop_over_an_argument_hits_the_limits_where_rhai_does() {
    let limits = ScriptLimits { max_operations: 2_000, max_array_size: 20, ..ScriptLimits::default() };
    let engine = crate::script::ScriptHost::configured_engine(limits);
    let mut script = Script::new(FOR_LOOPS);
    let fns = FastFn::compile_methods(&script.ast, &script.constants(), limits);
    let fast = |name: &str| fns.iter().find(|(n, ..)| n == name).map(|(.., f)| f.clone()).expect(name);
    let list = |n: INT| Dynamic::from_array((0..n).map(Dynamic::from_int).collect());
    let state = |n: INT| {
        let mut m = Map::new();
        m.insert("items".into(), list(n));
        Dynamic::from_map(m)
    };
    // (function, argument, items in `this`)
    let cases: Vec<(&str, Dynamic, INT)> = vec![
        ("sum_items", list(10), 0),
        ("sum_items", list(5_000), 0),
        ("inner_loops", list(15), 0),
        ("inner_loops", list(100), 0),
        ("copy_into", list(5), 5),
        ("copy_into", list(16), 5),
        ("totals", list(3), 4),
        ("totals", list(400), 4),
    ];
    for (name, arg, items) in cases {
        let small = arg.as_array_ref().is_ok_and(|a| a.len() <= 10);
        check_limited_method(&engine, &mut script, &fast(name), name, &state(items), vec![arg], small);
    }
}

#[test]
fn a_shared_constant_keeps_the_functions_reading_it_out_of_the_subset() {
    let script = Script::new("fn reads() { SHARED + 1 }\nfn plain() { 1 }");
    let constants = vec![("SHARED".to_string(), Dynamic::from_int(1).into_shared())];
    let limits = ScriptLimits::default();
    assert!(FastFn::compile_with_limits(&script.ast, "reads", 0, &constants, limits).is_none());
    assert!(FastFn::compile_with_limits(&script.ast, "plain", 0, &constants, limits).is_some());
}

/// Methods that read one property of `this` and add or subtract a constant (`notify_at`'s
/// `this.last + GAP`), and near misses that are not such readers.
const READERS: &str = r#"
    const GAP = secs(30);
    const BIG = 9223372036854775807;
    const NAME = "x";
    fn plus() { this.last + GAP }
    fn plus_left() { GAP + this.last }
    fn minus() { this.last - 5 }
    fn literal() { this.last + 1000 }
    fn overflow() { this.last + BIG }
    fn under() { this.last - BIG }
    fn string_constant() { this.last + NAME }
    fn float() { this.last + 0.5 }
    fn nested() { this.a.b + 1 }
    fn times() { this.last * 2 }
    fn minus_left() { 5 - this.last }
    fn two_props() { this.last + this.start }
    fn written() { this.last += 1; this.last + 1 }
"#;

/// A `this` for a reader: mostly a map whose `last` is a number near the edges, else anything
/// (a missing `last`, a string, a float, a tagged value, `this` not a map). No shared value:
/// Rhai itself stops at one inside data it measures, and Eddy's states hold none.
fn reader_this(rng: &mut Rng) -> Dynamic {
    let last = match rng.below(10) {
        0..=2 => rng.scalar(),
        4 => {
            let mut v = Dynamic::from_int(rng.below(1000) as INT);
            v.set_tag(7);
            v
        }
        5..=6 => Dynamic::from_int(INT::MAX - rng.below(40) as INT),
        _ => Dynamic::from_int(rng.below(2_000_000_000_000) as INT - 1_000_000_000_000),
    };
    let mut m = Map::new();
    if rng.below(8) != 0 {
        m.insert("last".into(), last);
    }
    m.insert("start".into(), Dynamic::from_int(3));
    let mut inner = Map::new();
    inner.insert("b".into(), rng.scalar());
    m.insert("a".into(), Dynamic::from_map(inner));
    match rng.below(12) {
        0 => rng.value(),
        _ => Dynamic::from_map(m),
    }
}

#[test]
fn a_method_reading_one_property_plus_a_constant_answers_as_rhai_does() {
    let mut script = Script::new(READERS);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let readers = ["plus", "plus_left", "minus", "literal", "overflow", "under"];
    let functions: Vec<(String, usize)> =
        script.ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
    for (name, arity) in functions {
        let fast = script.fast_method(&name, arity);
        let is_reader = readers.contains(&name.as_str());
        assert_eq!(fast.inner().reader.is_some(), is_reader, "`{name}` is a reader: {is_reader}");
        let (mut answered, mut read) = (0, 0);
        for _ in 0..3000 {
            // (A copy, as every call here is given, is read-write throughout.)
            let this = reader_this(&mut rng).clone();
            read += usize::from(fast.inner().reader.as_ref().is_some_and(|r| r.read(&this).is_some()));
            answered += usize::from(script.check_method(&fast, &name, &this, &[]));
            // As StatefulLogic calls a method that only reads its state, known checked or not.
            let vouched = [false, truly_checked(&this, &ScriptLimits::default())];
            for checked in vouched.into_iter().filter(|_| !fast.assigns_this()) {
                let mut kept_this = this.clone();
                if let Ok((value, kept)) = fast.call_this_checked(&mut kept_this, checked, Vec::new()) {
                    assert!(same(&kept_this, &this), "`{name}` leaves `this` as it was");
                    assert_eq!(kept, checked, "`{name}` keeps `this` as checked as it came in");
                    let mut plain = this.clone();
                    let want = fast.call_this(&mut plain, Vec::new()).map_err(|_| ());
                    assert!(want.is_ok_and(|w| same(&w, &value)), "`{name}` answers the same checked or not");
                }
            }
        }
        if is_reader {
            assert!(read > 300, "`{name}` was answered by its reader ({read} of 3000)");
            assert!(answered >= read, "`{name}`: every read was an answer");
        }
        if ["plus", "minus", "literal"].contains(&name.as_str()) {
            assert!(answered > 1000, "`{name}` answered ({answered} of 3000)");
        }
    }
}

mod slots;
