//! Test support: an engine configured like Eddy's `ScriptHost`, scripts compiled like Eddy's
//! `Script`, and structural comparison of values.

#![expect(clippy::expect_used, reason = "test support")]

use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};

/// An engine configured like `ScriptHost::new(ScriptLimits::default())`.
pub fn engine() -> Engine {
    engine_with(eddy::script::ScriptLimits::default())
}

/// The engine `ScriptHost::new` builds, with these limits.
pub fn engine_with(limits: eddy::script::ScriptLimits) -> Engine {
    eddy::script::ScriptHost::configured_engine(limits)
}

/// A compiled script, as `Script::compile` does it.
pub struct Script {
    pub engine: Engine,
    pub ast: AST,
    pub scope: Scope<'static>,
}

impl Script {
    pub fn new(source: &str) -> Script {
        Script::with_engine(engine(), source)
    }

    pub fn with_engine(engine: Engine, source: &str) -> Script {
        let mut scope = Scope::new();
        scope.push_constant("RETAIN", false);
        scope.push_constant("DISCARD", true);
        let first = engine.compile_with_scope(&scope, source).expect("compiles");
        engine.run_ast_with_scope(&mut scope, &first).expect("top level runs");
        let ast = engine.compile_with_scope(&scope, source).expect("compiles");
        Script { engine, ast, scope }
    }

    /// The constants a function would see: for each name, the last scope entry, if constant.
    pub fn constants(&self) -> Vec<(String, Dynamic)> {
        let mut seen = std::collections::BTreeSet::new();
        let entries: Vec<(String, bool, Dynamic)> =
            self.scope.iter().map(|(n, c, v)| (n.to_string(), c, v)).collect();
        let mut out = Vec::new();
        for (name, constant, value) in entries.into_iter().rev() {
            if seen.insert(name.clone()) && constant {
                out.push((name, value));
            }
        }
        out
    }

    pub fn call(&mut self, name: &str, args: &[Dynamic]) -> Result<Dynamic, Box<EvalAltResult>> {
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        self.engine.call_fn_with_options(options, &mut self.scope, &self.ast, name, args.to_vec())
    }
}

/// `FastFn::call_mut` (which may run on the first argument itself, moved in) against
/// `FastFn::call` (`got`, already checked against Rhai) on the same arguments: the same outcome,
/// the same value, and on a fallback every argument handed back as it was given.
pub fn check_call_mut(fast: &eddy::script::FastFn, args: &[Dynamic], got: &Result<Dynamic, ()>, what: &str) {
    // What `call_mut` is given (a copy of the arguments: read-write) is what it must hand back.
    let given = args.to_vec();
    let mut moved = given.clone();
    let got_mut = fast.call_mut(&mut moved);
    match (got, &got_mut) {
        (Ok(v), Ok(m)) => assert!(same(v, m), "{what}\nargs {args:?}\ncall {v:?}\ncall_mut {m:?}"),
        (Err(()), Err(())) => {
            let restored = moved.len() == given.len() && moved.iter().zip(&given).all(|(m, a)| same(m, a));
            assert!(restored, "{what}\ncall_mut fell back but changed its arguments: {args:?} -> {moved:?}");
        }
        _ => panic!("{what}\nargs {args:?}\ncall {got:?} but call_mut {got_mut:?}"),
    }
    if got_mut.is_ok() {
        let others_kept = moved.iter().zip(&given).skip(1).all(|(m, a)| same(m, a));
        assert!(others_kept, "{what}\ncall_mut changed an argument after the first: {args:?} -> {moved:?}");
    }
}

/// Structural identity: same type, value, tag and read-only flag, recursively.
pub fn same(a: &Dynamic, b: &Dynamic) -> bool {
    if a.tag() != b.tag() || a.is_read_only() != b.is_read_only() || a.is_shared() != b.is_shared() {
        return false;
    }
    if a.type_name() != b.type_name() {
        return false;
    }
    if a.is_unit() {
        return b.is_unit();
    }
    if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_float(), b.as_float()) {
        return x.to_bits() == y.to_bits();
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_char(), b.as_char()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_immutable_string_ref(), b.as_immutable_string_ref()) {
        return x.as_str() == y.as_str();
    }
    if let (Ok(x), Ok(y)) = (a.as_array_ref(), b.as_array_ref()) {
        return x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q));
    }
    if let (Ok(x), Ok(y)) = (a.as_map_ref(), b.as_map_ref()) {
        return x.len() == y.len()
            && x.iter().zip(y.iter()).all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2));
    }
    format!("{a:?}") == format!("{b:?}")
}

/// A small deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn int(&mut self) -> i64 {
        match self.below(10) {
            0 => *self.pick(&[i64::MAX, i64::MAX - 1, i64::MIN, i64::MIN + 1, -1, 0, 1]),
            1 => i64::MAX - self.below(5) as i64,
            2 => i64::MIN + self.below(5) as i64,
            3 => self.next() as i64,
            4 => *self.pick(&[2, 3, 10, 11, 63, 64, 65, -64, 100, 4_294_967_296]),
            _ => self.below(40) as i64 - 10,
        }
    }

    pub fn float(&mut self) -> f64 {
        match self.below(8) {
            0 => *self.pick(&[0.1, 0.2, 0.3, 0.1 + 0.2, 1.0, -1.0, 0.0, -0.0, 10.0, 11.0, 100.0]),
            1 => *self.pick(&[
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                f64::MIN_POSITIVE,
                1e300,
                1e-300,
            ]),
            2 => f64::from_bits(self.next()),
            3 => (self.below(2000) as f64 - 1000.0) / 8.0,
            4 => 1.0 + f64::EPSILON * self.below(3) as f64,
            _ => self.below(30) as f64 - 5.0,
        }
    }

    pub fn string(&mut self) -> String {
        self.pick(&[
            "", "click", "view", "a", "b", "ab", "é", "日本", "skip", "value", "kind", "x", "1", "true",
        ])
        .to_string()
    }

    pub fn scalar(&mut self) -> Dynamic {
        let mut v = match self.below(10) {
            9 if self.below(3) == 0 => Dynamic::from_blob(vec![1, 2, 3]),
            9 => Dynamic::from(rhai::FnPtr::new("f").expect("a valid name")),
            0 | 1 => Dynamic::from_int(self.int()),
            2 => Dynamic::from_float(self.float()),
            3 | 4 => Dynamic::from(self.string()),
            5 => Dynamic::from_bool(self.below(2) == 0),
            6 => Dynamic::from_char(*self.pick(&['a', 'b', 'é', '1', ' '])),
            _ => Dynamic::UNIT,
        };
        if self.below(12) == 0 {
            v.set_tag(self.below(4) as i32 + 1);
        }
        v
    }

    pub fn value(&mut self, depth: u32) -> Dynamic {
        let mut v = match self.below(if depth == 0 { 1 } else { 10 }) {
            0..=5 => return self.scalar(),
            6 | 7 => {
                let mut m = rhai::Map::new();
                for key in ["value", "kind", "user", "a", "b", "total", "x", "y", "count"] {
                    if self.below(3) != 0 {
                        m.insert(key.into(), self.value(depth - 1));
                    }
                }
                Dynamic::from_map(m)
            }
            _ => {
                let n = self.below(4);
                Dynamic::from_array((0..n).map(|_| self.value(depth - 1)).collect())
            }
        };
        if self.below(12) == 0 {
            v.set_tag(self.below(4) as i32 + 1);
        }
        if self.below(40) == 0 {
            v = v.into_read_only();
        }
        v
    }

    /// An event-like map with the usual fields, some missing or of another type.
    pub fn event(&mut self) -> Dynamic {
        let mut m = rhai::Map::new();
        if self.below(8) != 0 {
            let v = if self.below(4) == 0 { self.scalar() } else { Dynamic::from_int(self.int()) };
            m.insert("value".into(), v);
        }
        if self.below(8) != 0 {
            let k = if self.below(5) == 0 { self.scalar() } else { Dynamic::from(self.string()) };
            m.insert("kind".into(), k);
        }
        if self.below(6) != 0 {
            m.insert("user".into(), self.value(1));
        }
        if self.below(3) == 0 {
            m.insert("a".into(), self.value(2));
        }
        Dynamic::from_map(m)
    }

    pub fn arg(&mut self) -> Dynamic {
        match self.below(4) {
            0 => self.event(),
            1 => self.scalar(),
            _ => self.value(2),
        }
    }
}
