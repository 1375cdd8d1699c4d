//! Differential tests: the fast path against Rhai on the same calls.

use super::common::{Rng, Script, same};
use eddy::script::FastFn;
use rhai::Dynamic;

#[derive(Default, Debug)]
struct Stats {
    fast_ok: usize,
    fallback: usize,
    rhai_err: usize,
    /// Calls that fell back although Rhai succeeded (a sample).
    missed: std::collections::BTreeMap<String, usize>,
}

/// Runs one call both ways and checks the fast path's contract.
fn check(script: &mut Script, fast: &FastFn, name: &str, args: &[Dynamic], stats: &mut Stats) {
    let before: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    let got = fast.call(args);
    let after: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    assert_eq!(before, after, "fast path changed its arguments: {name}{args:?}");
    let want = script.call(name, args);
    super::common::check_call_mut(fast, args, &got, name);
    if want.is_err() {
        stats.rhai_err += 1;
    }
    match (&got, &want) {
        (Ok(v), Ok(w)) => {
            assert!(
                same(v, w),
                "{name}{args:?}: fast {v:?} (tag {}, ro {}) but Rhai {w:?} (tag {}, ro {})",
                v.tag(),
                v.is_read_only(),
                w.tag(),
                w.is_read_only()
            );
            stats.fast_ok += 1;
        }
        (Ok(v), Err(e)) => panic!("{name}{args:?}: fast Ok({v:?}) but Rhai failed: {e}"),
        (Err(()), _) => {
            stats.fallback += 1;
            if want.is_ok() {
                let types: Vec<&str> = args.iter().map(|a| a.type_name()).collect();
                *stats.missed.entry(format!("{name}{types:?}")).or_default() += 1;
            }
        }
    }
}

fn compile(script: &Script, name: &str, arity: usize) -> FastFn {
    FastFn::compile(&script.ast, name, arity, &script.constants())
        .unwrap_or_else(|| panic!("`{name}/{arity}` should compile to the fast path"))
}

/// Every function of every script, with random arguments.
fn fuzz(
    source: &str,
    rounds: usize,
    seed: u64,
    gen_arg: &mut dyn FnMut(&mut Rng, usize) -> Dynamic,
) -> Stats {
    let mut script = Script::new(source);
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let functions: Vec<(String, usize)> =
        script.ast.iter_functions().map(|f| (f.name.to_string(), f.params.len())).collect();
    for (name, arity) in functions {
        let fast = compile(&script, &name, arity);
        for _ in 0..rounds {
            let args: Vec<Dynamic> = (0..arity).map(|i| gen_arg(&mut rng, i)).collect();
            check(&mut script, &fast, &name, &args, &mut stats);
        }
    }
    stats
}

fn any_arg(rng: &mut Rng, _: usize) -> Dynamic {
    rng.arg()
}

const SHAPES: &str = r#"
    fn mapper(state, v) { let n = (state ?? 0) + 1; [n, n] }
    fn folder(acc, e) { acc + e.value }
    fn key(e) { e.user }
    fn predicate(e) { e.value > 10 && e.kind == "click" }
    fn mapper2(state, e) { let total = (state ?? 0) + e.value; [total, #{total: total, value: e.value}] }
"#;

#[test]
fn benchmark_shapes_on_typical_inputs() {
    let mut script = Script::new(SHAPES);
    let mut rng = Rng::new(1);
    let mapper = compile(&script, "mapper", 2);
    let folder = compile(&script, "folder", 2);
    let key = compile(&script, "key", 1);
    let predicate = compile(&script, "predicate", 1);
    let mapper2 = compile(&script, "mapper2", 2);
    let mut stats = Stats::default();
    for i in 0..2000_i64 {
        let state = if i % 7 == 0 { Dynamic::UNIT } else { Dynamic::from_int(rng.int()) };
        let mut e = rhai::Map::new();
        e.insert("value".into(), Dynamic::from_int(rng.below(100) as i64));
        e.insert("kind".into(), Dynamic::from(if i % 3 == 0 { "click" } else { "view" }));
        e.insert("user".into(), Dynamic::from(format!("u{}", i % 10)));
        let e = Dynamic::from_map(e);
        check(&mut script, &mapper, "mapper", &[state.clone(), Dynamic::from_int(i)], &mut stats);
        check(&mut script, &folder, "folder", &[state.clone(), e.clone()], &mut stats);
        check(&mut script, &key, "key", std::slice::from_ref(&e), &mut stats);
        check(&mut script, &predicate, "predicate", std::slice::from_ref(&e), &mut stats);
        check(&mut script, &mapper2, "mapper2", &[state, e], &mut stats);
    }
    // Only the overflow cases (state near INT::MAX) may fall back.
    assert!(stats.fast_ok > 9000, "{stats:?}");
    assert_eq!(stats.fallback, stats.rhai_err, "{stats:?}");
}

#[test]
fn benchmark_shapes_on_random_inputs() {
    let stats = fuzz(SHAPES, 3000, 2, &mut any_arg);
    assert!(stats.fast_ok > 1000, "{stats:?}");
    assert!(stats.rhai_err > 100, "{stats:?}");
}

#[test]
fn mapper_overflow_falls_back() -> Result<(), &'static str> {
    let mut script = Script::new(SHAPES);
    let mapper = compile(&script, "mapper", 2);
    let args = [Dynamic::from_int(i64::MAX), Dynamic::from_int(0)];
    assert!(mapper.call(&args).is_err());
    assert!(script.call("mapper", &args).is_err());
    let folder = compile(&script, "folder", 2);
    let mut e = rhai::Map::new();
    e.insert("value".into(), Dynamic::from_float(0.5));
    let args = [Dynamic::from_int(1), Dynamic::from_map(e)];
    let v = folder.call(&args).map_err(|()| "fell back")?;
    assert_eq!(v.as_float(), Ok(1.5));
    let mut stats = Stats::default();
    check(&mut script, &folder, "folder", &args, &mut stats);
    Ok(())
}

/// One function per binary operator, and per op-assignment.
fn operator_script() -> String {
    let ops = [
        ("add", "+"),
        ("sub", "-"),
        ("mul", "*"),
        ("div", "/"),
        ("rem", "%"),
        ("pow", "**"),
        ("eq", "=="),
        ("ne", "!="),
        ("lt", "<"),
        ("le", "<="),
        ("gt", ">"),
        ("ge", ">="),
        ("band", "&"),
        ("bor", "|"),
        ("bxor", "^"),
        ("shl", "<<"),
        ("shr", ">>"),
    ];
    let mut s = String::new();
    for (name, op) in ops {
        s += &format!("fn {name}(a, b) {{ a {op} b }}\n");
        if !matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=") {
            s += &format!("fn {name}_assign(a, b) {{ a {op}= b; a }}\n");
            s += &format!("fn {name}_prop(m, b) {{ m.x {op}= b; m }}\n");
            s += &format!("fn {name}_index(m, b) {{ m[0] {op}= b; m }}\n");
        }
    }
    s += "fn neg(a) { -a }\nfn not(a) { !a }\n";
    s += "fn and(a, b) { a && b }\nfn or(a, b) { a || b }\nfn and3(a, b, c) { a && b || c }\n";
    s += "fn coalesce(a, b) { a ?? b }\nfn coalesce3(a, b, c) { a ?? b ?? c }\n";
    s += "fn within(a, b) { a in b }\nfn without(a, b) { a !in b }\n";
    s
}

fn scalar_pair(rng: &mut Rng, _: usize) -> Dynamic {
    match rng.below(6) {
        0 => rng.value(1),
        1 => Dynamic::from_int(rng.int()),
        _ => rng.scalar(),
    }
}

#[test]
fn operators() {
    let stats = fuzz(&operator_script(), 1500, 3, &mut scalar_pair);
    eprintln!("{stats:#?}");
    assert!(stats.fast_ok > 15_000, "{stats:?}");
}

#[test]
fn float_comparisons_with_tolerance() {
    let mut script = Script::new("fn eq(a, b) { a == b } fn lt(a, b) { a < b } fn ge(a, b) { a >= b }");
    let mut stats = Stats::default();
    for name in ["eq", "lt", "ge"] {
        let fast = compile(&script, name, 2);
        for (a, b) in
            [(0.1 + 0.2, 0.3), (1.0, 1.0 + f64::EPSILON), (0.0, -0.0), (f64::NAN, 1.0), (1e-300, 0.0)]
        {
            check(&mut script, &fast, name, &[Dynamic::from_float(a), Dynamic::from_float(b)], &mut stats);
            check(&mut script, &fast, name, &[Dynamic::from_float(b), Dynamic::from_float(a)], &mut stats);
        }
        check(&mut script, &fast, name, &[Dynamic::from_int(3), Dynamic::from_float(3.0)], &mut stats);
    }
    assert_eq!(stats.fallback, 0, "{stats:?}");
    let eq = compile(&script, "eq", 2);
    assert_eq!(
        eq.call(&[Dynamic::from_float(0.1 + 0.2), Dynamic::from_float(0.3)]).map(|v| v.as_bool()),
        Ok(Ok(true))
    );
}

const MISC: &str = r#"
    const LIMIT = 10;
    const NAMES = ["a", "b"];
    const M = #{a: 1, b: [1, 2]};
    let counter = 5;
    fn classify(e) {
        if e.value > 100 { "big" } else if e.value > 10 { "medium" } else if e.value == 0 { "zero" } else { "small" }
    }
    fn early(e) {
        if e.kind == "skip" { return; }
        let v = e.value * 2;
        if v > 50 { return v - 50; }
        v
    }
    fn build(e) { let m = #{}; m.total = e.value; m.count = 1; m["kind"] = e.kind; m.total += 5; m }
    fn nested(e) { e.a.b }
    fn nested_index(e) { e.a[0] }
    fn elvis(e) { e?.a?.b }
    fn elvis_default(e) { e?.value ?? 0 }
    fn index(a, i) { a[i] }
    fn last(a) { a[-1] }
    fn by_key(m, k) { m[k] }
    fn by_literal(m) { m["value"] }
    fn lens(a) { len(a) }
    fn lens2(a) { a.len() }
    fn empty(a) { a.is_empty() }
    fn abs1(a) { abs(a) }
    fn abs2(a) { a.abs() }
    fn str1(a) { a.to_string() }
    fn str2(a) { to_string(a) }
    fn typ1(a) { type_of(a) }
    fn typ2(a) { a.type_of() }
    fn has(a, b) { a.contains(b) }
    fn has2(a, b) { contains(a, b) }
    fn chained(e) { e.user.len() }
    fn interp(a, b) { `${a}-${b}!` }
    fn limit(a) { a > LIMIT }
    fn names(a) { a in NAMES }
    fn whole_map(a) { M }
    fn map_copy(a) { let m = M; m.c = a; m }
    fn map_field(a) { M.b }
    fn constant_local(a) { const c = a; [c, c] }
    fn constant_local2(a) { const c = [a, 1]; let d = c; [c, d] }
    fn constant_then_assign(a) { const c = a; let d = (); d = c; [d] }
    fn shadow(a) { let x = a; { let x = 5; x += 1; } let y = { let z = 2; z + 1 }; [x, y] }
    fn shadow2(a) { let a = a + 1; let a = a * 2; a }
    fn empty_body(a) { }
    fn bare_return(a) { return; }
    fn if_expr(a) { let x = if a > 0 { "pos" } else { "neg" }; x }
    fn if_no_else(a) { if a > 0 { "pos" } }
    fn throws(a) { if a > 5 { throw "big"; } a }
    fn param_assign(a) { a = a * 2; a }
    fn param_prop(e) { e.value = 0; e }
    fn param_prop_add(e, v) { e.value += v; e }
    fn deep_assign(e, v) { e.a.b = v; e }
    fn index_assign(a, v) { a[0] = v; a[-1] += v; a }
    fn key_assign(m, k, v) { m[k] = v; m }
    fn push(a, v) { a += v; a }
    fn append(a, b) { a += b; a }
    fn str_append(s, v) { s += v; s }
    fn mixed(state, e) {
        let s = state ?? #{count: 0, sum: 0};
        s.count += 1;
        s.sum += e.value;
        if e.kind == "click" { s.clicks = (s.clicks ?? 0) + 1; }
        [s, s.sum / s.count]
    }
    fn array_of(a, b) { [a, b, [a], #{a: a, "b c": b}] }
    fn dyn_const(a) { [1, 2, 3] }
    fn not_in(a, b) { !(a in b) }
    fn char_index(s, i) { s[i] }
    fn retain(a) { if a { RETAIN } else { DISCARD } }
    fn blocky(a) { { let b = a; b } }
    fn fn_ptr(a) { Fn("blocky") }
    fn get_key(m, k) { m.get(k) }
    fn get_value(m) { get(m, "value") ?? 0 }
    fn get_index(a, i) { a.get(i) }
    fn get_const(a) { const c = [a, 1]; get(c, 0) }
    fn const_method(a) { const c = [a, "x"]; [c.len(), c.contains(a), c[1].len()] }
    fn tagged(a) { let s = a; let t = [a, s]; t += a; t }
"#;

#[test]
fn misc_functions() {
    let stats = fuzz(MISC, 600, 4, &mut any_arg);
    eprintln!("{stats:#?}");
    assert!(stats.fast_ok > 5000, "{stats:?}");
}

#[test]
fn misc_functions_on_events() {
    let stats =
        fuzz(MISC, 600, 5, &mut |rng, i| if i == 0 && rng.below(2) == 0 { rng.event() } else { rng.arg() });
    assert!(stats.fast_ok > 5000, "{stats:?}");
}

#[test]
fn read_only_and_tagged_arguments() {
    // Rhai's reads clone, and a clone is read-write: read-only parts of the arguments never show.
    let mut script = Script::new(SHAPES);
    let mut stats = Stats::default();
    let key = compile(&script, "key", 1);
    let mut e = rhai::Map::new();
    let mut user = Dynamic::from("u");
    user.set_tag(7);
    e.insert("user".into(), user.into_read_only());
    check(&mut script, &key, "key", &[Dynamic::from_map(e).into_read_only()], &mut stats);
    assert_eq!(stats.fast_ok, 1, "{stats:?}");
}

#[test]
fn data_size_limits() {
    let mut script = Script::new(
        "fn cat(a, b) { a + b } fn pair(a, b) { [a, b] } fn rec(a, b) { #{a: a, b: b} } \
         fn app(a, b) { a += b; a } fn put(m, v) { m.x = v; m }",
    );
    let mut stats = Stats::default();
    let big = Dynamic::from("x".repeat(9 * 1024 * 1024));
    let small = Dynamic::from("y");
    let long = Dynamic::from_array(vec![Dynamic::from_int(1); 600_000]);
    let mut wide = rhai::Map::new();
    for i in 0..60_000 {
        wide.insert(format!("k{i}").into(), Dynamic::UNIT);
    }
    let wide = Dynamic::from_map(wide);
    for name in ["cat", "pair", "rec", "app", "put"] {
        let fast = compile(&script, name, 2);
        for (a, b) in
            [(&big, &big), (&big, &small), (&long, &long), (&long, &small), (&wide, &wide), (&wide, &big)]
        {
            check(&mut script, &fast, name, &[a.clone(), b.clone()], &mut stats);
        }
    }
    assert!(stats.rhai_err >= 8, "{stats:?}");
}

#[test]
fn unsupported_functions_are_not_compiled() {
    let script = Script::new(
        r#"
        fn doing(a) { do { a -= 1; } while a > 0; a }
        fn ranged(a) { let s = 0; for x in 0..a { s += x; } s }
        fn uses_this() { this.x }
        fn uses_this2(a) { this + a }
        fn calls(a) { helper(a) }
        fn helper(a) { a }
        fn closure(a) { let f = |x| x + a; f.call(1) }
        fn switching(a) { switch a { 1 => 2, _ => 3 } }
        fn trying(a) { try { a.x } catch { 0 } }
        fn native(a) { print(a) }
        fn len(x) { 0 }
        fn shadowed_builtin(a) { len(a) }
        fn shadowed_method(a) { a.len() }
        fn other_builtin(a) { a.sub_string(1) }
        fn global_var(a) { counter + a }
        fn get_on_const(a) { const c = [a]; c.get(0) }
        let counter = 1;
        "#,
    );
    let constants = script.constants();
    for f in script.ast.iter_functions() {
        if f.name == "helper" || f.name == "len" || f.name.starts_with("anon$") {
            continue;
        }
        assert!(
            FastFn::compile(&script.ast, f.name, f.params.len(), &constants).is_none(),
            "`{}` should not compile",
            f.name
        );
    }
    // Wrong name or arity.
    assert!(FastFn::compile(&script.ast, "helper", 2, &constants).is_none());
    assert!(FastFn::compile(&script.ast, "missing", 1, &constants).is_none());
    assert!(FastFn::compile(&script.ast, "helper", 1, &constants).is_some());
}

/// Loops (`while`, `loop`, `for` over an array, `break`, `continue`) and `push`/`pop`/`shift` on
/// locals, in plain functions, with random arguments: same values, same errors.
#[test]
fn loops_and_array_changes_agree_with_rhai() {
    let source = r#"
        fn looped(a) { let s = 0; for x in a { s += x; } s }
        fn counted(a) { let r = []; for (x, i) in a { if i % 2 == 0 { continue; } r.push([i, x]); } r }
        fn whiled(a, b) { let n = 0; while a > 0 && n < 20 { a -= 1; n += 1; } [a, n, b] }
        fn looping(a, b) { let i = 0; loop { i += 1; if i > 5 { break; } } i + a }
        fn found(a, b) { let r = loop { break b; }; for x in a { if x == b { return true; } } r }
        fn queue(a, b) { let q = [a, b]; q.push(b); let first = q.shift(); let last = q.pop(); [first, last, q] }
        fn drained(a) { let s = []; while a.len() > 0 { s.push(a.pop()); } s }
    "#;
    let stats = fuzz(source, 1500, 0x7777_1234_ABCD_0001, &mut |rng, i| {
        if i == 0 && rng.below(3) != 0 {
            let n = rng.below(6);
            Dynamic::from_array((0..n).map(|_| rng.arg()).collect())
        } else {
            rng.arg()
        }
    });
    assert!(stats.fast_ok > 3000, "{stats:?}");
}

/// Folds whose accumulator is a map changed in place (`FastFn::call_mut` moves it in): the bench's
/// `{sum, count, min, max}`, a string that grows the map's sizes, new keys, a whole reassignment
/// and an array pushed to, folded event after event under small size limits, against Rhai; a
/// fallback hands the accumulator back as it came in.
#[test]
fn map_folds_changed_in_place_agree_with_rhai() {
    const FOLDS: &str = r#"
        fn stats(acc, e) {
            acc.sum += e.value;
            acc.count += 1;
            if acc.min == () || e.value < acc.min { acc.min = e.value; }
            if acc.max == () || e.value > acc.max { acc.max = e.value; }
            acc
        }
        fn named(acc, e) { acc.count += 1; acc.last = e.kind; acc.n = acc.count; acc }
        fn grow(acc, e) { acc.count += 1; acc[e.kind] = e.value; acc.total = e.value; acc }
        fn reset(acc, e) { acc.count += 1; acc = #{count: acc.count}; acc.x = e.value; acc }
        fn items(acc, e) { acc.n += 1; acc.items.push(e.value); acc.n = acc.items.len(); acc }
        fn late(acc, e) { acc.sum += e.value; acc.count += 1; acc.big = acc.sum * 4611686018427387904; acc }
    "#;
    let limits = eddy::script::ScriptLimits {
        max_string_size: 4,
        max_array_size: 3,
        max_map_size: 4,
        ..eddy::script::ScriptLimits::default()
    };
    let mut script = Script::with_engine(super::common::engine_with(limits), FOLDS);
    let mut rng = Rng::new(11);
    let start = |rng: &mut Rng| -> Dynamic {
        match rng.below(6) {
            0 => rng.value(2),
            1 => Dynamic::from_map(rhai::Map::new()),
            _ => {
                let mut m = rhai::Map::new();
                for key in ["sum", "count", "min", "max", "n", "total"] {
                    if rng.below(5) != 0 {
                        m.insert(key.into(), Dynamic::from_int(rng.below(5) as i64));
                    }
                }
                m.insert("min".into(), Dynamic::UNIT);
                if rng.below(2) == 0 {
                    m.insert("items".into(), Dynamic::from_array(Vec::new()));
                }
                Dynamic::from_map(m)
            }
        }
    };
    let (mut fast_ok, mut rhai_ok) = (0, 0);
    for name in ["stats", "named", "grow", "reset", "items", "late"] {
        let fast = FastFn::compile_with_limits(&script.ast, name, 2, &script.constants(), limits)
            .unwrap_or_else(|| panic!("`{name}` should compile to the fast path"));
        for _ in 0..200 {
            let mut acc = start(&mut rng);
            for _ in 0..8 {
                let e = if rng.below(5) == 0 { rng.event() } else { event(&mut rng) };
                let args = [acc.clone(), e];
                let got = fast.call(&args);
                super::common::check_call_mut(&fast, &args, &got, name);
                let want = script.call(name, &args);
                match (&got, &want) {
                    (Ok(v), Ok(w)) => assert!(same(v, w), "{name}{args:?}: fast {v:?}, Rhai {w:?}"),
                    (Ok(v), Err(e)) => panic!("{name}{args:?}: fast {v:?}, Rhai failed: {e}"),
                    (Err(()), _) => {}
                }
                fast_ok += usize::from(got.is_ok());
                match want {
                    Ok(next) => {
                        rhai_ok += 1;
                        acc = next;
                    }
                    Err(_) => break,
                }
            }
        }
    }
    assert!(fast_ok * 10 > rhai_ok * 9, "the fast path answers most folds: {fast_ok} of {rhai_ok}");
}

/// A typical event for the folds: an `INT` value (sometimes a float) and a short or long kind.
fn event(rng: &mut Rng) -> Dynamic {
    let mut e = rhai::Map::new();
    let value = if rng.below(8) == 0 {
        Dynamic::from_float(rng.float())
    } else {
        Dynamic::from_int(rng.below(100) as i64 - 20)
    };
    e.insert("value".into(), value);
    e.insert("kind".into(), Dynamic::from(*rng.pick(&["a", "b", "ab", "click", "x"])));
    Dynamic::from_map(e)
}
