//! Slotted calls (`slots`) against Rhai: folds and methods on random map states, some holding
//! every property the body names (run slotted), some not (run unslotted), with writes the slots
//! do not take (they give up and run unslotted), under size limits met at the first write.

use super::*;

/// Folds whose accumulator runs slotted, and functions that use it otherwise (never slotted).
const FOLDS: &str = r#"
    fn builder() { #{ sum: 0, count: 0, min: (), max: () } }
    fn folder(acc, e) {
        acc.sum += e.value;
        acc.count += 1;
        if acc.min == () || e.value < acc.min { acc.min = e.value; }
        if acc.max == () || e.value > acc.max { acc.max = e.value; }
        acc
    }
    fn labels(acc, e) { acc.last = e.kind; acc.n += 1; acc }
    fn early(acc, e) { acc.n += 1; if e.value == 3 { return acc.n; } acc.total = acc.n * e.value; acc }
    fn fresh(acc, e) { acc.n += e.value; #{ n: acc.n, twice: acc.n * 2 } }
    fn deep(acc, e) { acc.n += acc.inner.k + e.value; acc.inner.len() + acc.n }
    fn whole(acc, e) { acc.n += 1; let copy = acc; copy }
    fn indexed(acc, e) { acc["n"] += 1; acc }
    fn grows(acc, e) { acc.n += 1; acc.extra = e.value; acc }
"#;

impl Script {
    /// `name(args)` both ways under `limits` (the fast side through `call_mut`, on copies):
    /// `true` when the fast path answered. On a fallback the arguments come back as given.
    fn check_fold(&mut self, engine: &Engine, fast: &FastFn, name: &str, args: &[Dynamic]) -> bool {
        let mut fast_args = args.to_vec();
        let got = fast.call_mut(&mut fast_args);
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let want =
            engine.call_fn_with_options::<Dynamic>(options, &mut self.scope, &self.ast, name, args.to_vec());
        match (got, want) {
            (Ok(v), Ok(w)) => {
                assert!(same(&v, &w), "{name}{args:?}: fast {v:?}, Rhai {w:?}");
                true
            }
            (Ok(v), Err(e)) => panic!("{name}{args:?}: fast {v:?}, Rhai failed: {e}"),
            (Err(()), _) => {
                for (given, back) in args.iter().zip(&fast_args) {
                    assert!(same(given, back), "{name}: a fallback hands {given:?} back, not {back:?}");
                }
                false
            }
        }
    }
}

/// An accumulator: now and then lacking a property or holding one more, its values mostly
/// numbers, now and then a string, an array or a map.
fn accumulator(rng: &mut Rng) -> Dynamic {
    let mut m = Map::new();
    for key in ["sum", "count", "min", "max", "n", "total", "last"] {
        if rng.below(12) != 0 {
            let v = match rng.below(10) {
                0 => rng.value(),
                1 => Dynamic::UNIT,
                _ => Dynamic::from_int(rng.below(40) as INT - 10),
            };
            m.insert(key.into(), v);
        }
    }
    if rng.below(3) != 0 {
        let mut inner = Map::new();
        inner.insert("k".into(), if rng.below(8) == 0 { rng.scalar() } else { Dynamic::from_int(2) });
        m.insert("inner".into(), Dynamic::from_map(inner));
    }
    if rng.below(6) == 0 {
        m.insert("zz".into(), Dynamic::from_array(vec![rng.scalar()]));
    }
    Dynamic::from_map(m)
}

fn event(rng: &mut Rng) -> Dynamic {
    let mut e = Map::new();
    let value = if rng.below(10) == 0 { rng.scalar() } else { Dynamic::from_int(rng.below(20) as INT) };
    e.insert("value".into(), value);
    e.insert("kind".into(), if rng.below(5) == 0 { rng.scalar() } else { Dynamic::from("click") });
    Dynamic::from_map(e)
}

#[test]
fn which_bodies_are_slotted() {
    let script = Script::new(FOLDS);
    let slotted: Vec<&str> = ["folder", "labels", "early", "fresh", "deep", "whole", "indexed", "grows"]
        .into_iter()
        .filter(|name| script.fast(name, 2).inner().slotted.is_some())
        .collect();
    assert_eq!(slotted, ["folder", "labels", "early", "fresh", "deep", "grows"]);
    let methods = script.fast_methods();
    assert!(methods.iter().all(|(.., f)| f.inner().slotted.is_none()), "no method writes `this` here");
    let session = Script::new(METHODS);
    let on_item = session.fast_method("on_item", 1);
    assert!(on_item.inner().slotted.is_some(), "the session window's `on_item` is slotted");
    for (name, arity) in [("replace", 1), ("set_index", 1), ("nested", 1)] {
        assert!(session.fast_method(name, arity).inner().slotted.is_none(), "`{name}` is not");
    }
}

#[test]
fn folds_on_random_accumulators_agree_with_rhai() {
    let mut script = Script::new(FOLDS);
    let engine = engine();
    let mut rng = Rng(0x5107_5EED_0FF0_1D00);
    for name in ["folder", "labels", "early", "fresh", "deep", "whole", "indexed", "grows"] {
        let fast = script.fast(name, 2);
        let mut answered = 0;
        for i in 0..3000 {
            let args = [accumulator(&mut rng), event(&mut rng)];
            answered += usize::from(script.check_fold(&engine, &fast, name, &args));
            // The same accumulator carried from call to call, as fold_final carries it.
            if i % 50 == 0 {
                let mut acc = accumulator(&mut rng);
                for _ in 0..20 {
                    let args = [acc.clone(), event(&mut rng)];
                    let mut fast_args = args.to_vec();
                    match fast.call_mut(&mut fast_args) {
                        Ok(next) => {
                            assert!(script.check_fold(&engine, &fast, name, &args));
                            acc = next;
                        }
                        Err(()) => match script.rhai(name, &args) {
                            Ok(next) => acc = next,
                            Err(_) => break,
                        },
                    }
                }
            }
        }
        assert!(answered > 300, "`{name}` answered {answered} calls");
    }
}

#[test]
fn a_slotted_fold_meets_the_size_limits_where_rhai_does() {
    let mut rng = Rng(0x0005_1075_11A1_7500);
    for limits in [
        ScriptLimits { max_map_size: 4, ..ScriptLimits::default() },
        ScriptLimits { max_map_size: 6, ..ScriptLimits::default() },
        ScriptLimits { max_string_size: 3, ..ScriptLimits::default() },
        ScriptLimits { max_array_size: 1, ..ScriptLimits::default() },
        ScriptLimits { max_operations: 40, ..ScriptLimits::default() },
    ] {
        let engine = crate::script::ScriptHost::configured_engine(limits);
        let mut script = Script::new(FOLDS);
        let constants = script.constants();
        for name in ["folder", "labels", "early", "grows"] {
            let Some(fast) = FastFn::compile_with_limits(&script.ast, name, 2, &constants, limits) else {
                continue;
            };
            for _ in 0..1500 {
                let args = [accumulator(&mut rng), event(&mut rng)];
                script.check_fold(&engine, &fast, name, &args);
            }
        }
    }
}

#[test]
fn a_fold_whose_slotted_calls_keep_giving_up_still_answers_as_rhai() {
    // `labels` writes a string into a property every call: never taken by the slots.
    let mut script = Script::new(FOLDS);
    let engine = engine();
    let fast = script.fast("labels", 2);
    let mut acc = {
        let mut m = Map::new();
        m.insert("last".into(), Dynamic::from_int(0));
        m.insert("n".into(), Dynamic::from_int(0));
        Dynamic::from_map(m)
    };
    let mut e = Map::new();
    e.insert("kind".into(), Dynamic::from("click"));
    e.insert("value".into(), Dynamic::from_int(1));
    let e = Dynamic::from_map(e);
    for _ in 0..100 {
        let args = [acc.clone(), e.clone()];
        assert!(script.check_fold(&engine, &fast, "labels", &args), "answered unslotted");
        let mut fast_args = args.to_vec();
        acc = fast.call_mut(&mut fast_args).expect("answers");
    }
    assert_eq!(format!("{acc:?}"), r#"#{"last": "click", "n": 100}"#);
}

#[test]
fn the_session_window_carried_from_call_to_call_runs_as_rhai_runs_it_and_stays_truly_checked() {
    let limits = ScriptLimits { max_map_size: 5, ..ScriptLimits::default() };
    let mut rng = Rng(0x5E55_1011_0000_0001);
    for limits in [ScriptLimits::default(), limits] {
        let engine = crate::script::ScriptHost::configured_engine(limits);
        let mut script = Script::new(METHODS);
        let fns = FastFn::compile_methods(&script.ast, &script.constants(), limits);
        let on_item = fns.iter().find(|(n, ..)| n == "on_item").map(|(.., f)| f.clone()).expect("compiles");
        let (mut answered, mut calls) = (0, 0);
        for round in 0..300 {
            crate::script::host::set_script_clock(Some(1_000_000 + round));
            let mut m = Map::new();
            for key in ["start", "last", "count", "total", "extra"] {
                if rng.below(10) != 0 {
                    let v =
                        if rng.below(8) == 0 { rng.value() } else { Dynamic::from_int(rng.below(3) as INT) };
                    m.insert(key.into(), v);
                }
            }
            let mut state = Dynamic::from_map(m);
            let mut checked = false;
            for _ in 0..10 {
                let args = vec![if rng.below(10) == 0 {
                    rng.scalar()
                } else {
                    Dynamic::from_int(rng.below(9) as INT)
                }];
                let (want, rhai_state) = rhai_method(&engine, &mut script, "on_item", &state, &args);
                let before = state.clone();
                calls += 1;
                match on_item.call_this_checked(&mut state, checked, args.clone()) {
                    Ok((value, kept)) => {
                        let Ok(want) = want else {
                            panic!("on_item{args:?} on {before:?}: fast {value:?}, Rhai failed")
                        };
                        assert!(
                            same(&value, &want),
                            "on_item{args:?} on {before:?}: {value:?}, Rhai {want:?}"
                        );
                        assert!(
                            same(&state, &rhai_state),
                            "on_item{args:?}: left {state:?}, Rhai {rhai_state:?}"
                        );
                        answered += 1;
                        checked = kept && !crate::script::nested_deeper_than(&state, limits.max_depth);
                        if checked {
                            assert!(super::truly_checked(&state, &limits), "answered checked for {state:?}");
                        }
                    }
                    Err(back) => {
                        assert_eq!(
                            format!("{back:?}"),
                            format!("{args:?}"),
                            "the arguments come back as given"
                        );
                        assert!(same(&state, &before), "a fallback leaves the state as it came in");
                        if want.is_err() {
                            break;
                        }
                        state = rhai_state;
                        checked = false;
                    }
                }
            }
        }
        crate::script::host::set_script_clock(None);
        assert!(answered * 3 > calls, "{answered} answered of {calls}");
    }
}
