//! Answers by parts (`Script::call_pair`, `Script::call_this_checked_pair`) against plain Rhai:
//! the same script compiled with the fast path and without, called on random states and values
//! under several limits, gives the same pair (or whole value), the same state and the same
//! error, limits hit at the same place.

use eddy::script::{Answer, Script, ScriptError, ScriptHost, ScriptLimits};
use rhai::Dynamic;

use super::common::{Rng, same};

/// Mappers as stateful_map calls them: `[new_state, output]` literals (computed, constant,
/// nested), a `return`, other shapes, and bodies whose sizes or depth can pass the limits.
const MAPPERS: &[&str] = &[
    "fn mapper(state, value) { let n = (state ?? 0) + 1; [n, n] }",
    "fn mapper(state, value) { [value, [value]] }",
    "fn mapper(state, value) { let s = state ?? []; s.push(value); [s, value] }",
    "fn mapper(state, value) { if value == () { return [state, 0]; } [state, value] }",
    "fn mapper(state, value) { [1, 2] }",
    "fn mapper(state, value) { [[], RETAIN] }",
    "fn mapper(state, value) { [[[1]], #{a: [2]}] }",
    "fn mapper(state, value) { [state] }",
    "fn mapper(state, value) { [state, value, 1] }",
    "fn mapper(state, value) { let t = `${value}`; [t + t, t] }",
    "fn mapper(state, value) { [(state ?? 0) + value, value * 2] }",
];

/// StatefulLogic methods: the state written in place or not, `[[outputs…], RETAIN]` literals
/// (constant or computed), other tails.
const LOGICS: &[&str] = &[
    "fn on_item(value) { this.count += 1; this.total += value; [[], RETAIN] }",
    "fn on_item(value) { this.items.push(value); [[this.items.len()], RETAIN] }",
    "fn on_item(value) { this.count += 1; [[value, this.items], this.count > 3] }",
    "fn on_item(value) { if value == 0 { [[this.total], DISCARD] } else { [[], RETAIN] } }",
    "fn on_item(value) { [[value], RETAIN] }",
    "fn on_item(value) { this.items = [this.items]; [[this.items], RETAIN] }",
    "fn on_item(value) { [value, this] }",
    "fn on_item(value) { this.total = value; [this.total] }",
];

/// The limits each script is tried under: Eddy's defaults, and small ones that random values
/// reach (depth, array and string sizes).
fn limit_sets() -> Vec<ScriptLimits> {
    let small = |depth, array, string| ScriptLimits {
        max_depth: depth,
        max_array_size: array,
        max_string_size: string,
        ..ScriptLimits::default()
    };
    vec![ScriptLimits::default(), small(2, 0, 0), small(3, 4, 0), small(4, 3, 12), small(0, 2, 6)]
}

/// An answer split as the operators split it; a whole answer stays whole (the caller's `as_pair`
/// then judges its shape, the same for both ways).
fn parts(answer: Answer) -> Result<(Dynamic, Dynamic), Dynamic> {
    match answer {
        Answer::Pair(first, second) => Ok((first, second)),
        Answer::Whole(value) => match value.clone().into_array() {
            Ok(mut items) if items.len() == 2 => {
                let second = items.pop().unwrap_or_default();
                let first = items.pop().unwrap_or_default();
                Ok((first, second))
            }
            _ => Err(value),
        },
    }
}

/// Two outcomes agree: the same pair (or the same whole value), or the same error.
fn agree(fast: Result<Answer, ScriptError>, rhai: Result<Answer, ScriptError>, what: &str) -> bool {
    let by_parts = matches!(fast, Ok(Answer::Pair(..)));
    match (fast, rhai) {
        (Ok(fast), Ok(rhai)) => match (parts(fast), parts(rhai)) {
            (Ok((a, b)), Ok((c, d))) => {
                assert!(same(&a, &c) && same(&b, &d), "{what}: fast [{a:?}, {b:?}], Rhai [{c:?}, {d:?}]");
            }
            (Err(v), Err(w)) => assert!(same(&v, &w), "{what}: fast {v:?}, Rhai {w:?}"),
            (fast, rhai) => panic!("{what}: fast {fast:?}, Rhai {rhai:?}"),
        },
        (Err(fast), Err(rhai)) => {
            assert_eq!(fast.to_string(), rhai.to_string(), "{what}");
            assert_eq!(fast.position, rhai.position, "{what}");
        }
        (fast, rhai) => panic!("{what}: fast {fast:?}, Rhai {rhai:?}"),
    }
    by_parts
}

fn compile(source: &str, limits: ScriptLimits, fast: bool, methods: bool) -> Result<Script, ScriptError> {
    let host = ScriptHost::new(limits).with_fast_path(fast);
    if methods {
        Script::compile_with_methods(&host, "s", source)
    } else {
        Script::compile(&host, "s", source)
    }
}

/// The script compiled with the fast path and without, or `None` when the limits refuse it
/// (a literal past the array size): both ways alike.
fn both(source: &str, limits: ScriptLimits, methods: bool) -> Option<(Script, Script)> {
    match (compile(source, limits, true, methods), compile(source, limits, false, methods)) {
        (Ok(fast), Ok(rhai)) => Some((fast, rhai)),
        (Err(fast), Err(rhai)) => {
            assert_eq!(fast.to_string(), rhai.to_string(), "{source}");
            None
        }
        (fast, rhai) => panic!("{source} under {limits:?}: {fast:?} but {rhai:?}"),
    }
}

/// A state or value: numbers mostly, and nested arrays, maps and strings of random depth.
fn random_value(rng: &mut Rng) -> Dynamic {
    match rng.below(4) {
        0 => Dynamic::UNIT,
        1 => rng.value(3),
        _ => Dynamic::from_int(rng.int() % 1000),
    }
}

#[test]
fn mapper_pairs_agree_with_rhai() {
    let mut rng = Rng::new(11);
    let (mut by_parts, mut too_deep) = (0, 0);
    for source in MAPPERS {
        for limits in limit_sets() {
            let Some((mut fast, mut rhai)) = both(source, limits, false) else { continue };
            assert!(fast.is_fast("mapper", 2), "{source}: on the fast path");
            let mut state = Dynamic::UNIT;
            for round in 0..300 {
                // Now and then a fresh random state; else the state the last call left.
                if round % 7 == 0 {
                    state = random_value(&mut rng);
                }
                let args = [state.clone(), random_value(&mut rng)];
                let what = format!("{source} under {limits:?}, args {args:?}");
                let got = fast.call_pair("mapper", &args);
                let want = rhai.call_pair("mapper", &args);
                too_deep += usize::from(want.as_ref().is_err_and(|e| e.message.contains("`max_depth`")));
                if let Ok(answer) = &want {
                    assert!(matches!(answer, Answer::Whole(_)), "Rhai answers whole");
                }
                if let Ok(Answer::Pair(next, _)) = &got {
                    state = next.clone();
                }
                by_parts += usize::from(agree(got, want, &what));
            }
        }
    }
    assert!(by_parts > 1000, "the pairs came by parts ({by_parts})");
    assert!(too_deep > 10, "the depth limit was reached ({too_deep})");
}

#[test]
fn logic_pairs_and_states_agree_with_rhai() {
    let mut rng = Rng::new(12);
    let mut by_parts = 0;
    for body in LOGICS {
        let source = format!("fn builder(resume) {{ #{{ count: 0, total: 0, items: [] }} }}\n{body}\n");
        for limits in limit_sets() {
            let Some((mut fast, mut rhai)) = both(&source, limits, true) else { continue };
            let fresh = || {
                Dynamic::from_map(
                    [
                        ("count".into(), Dynamic::from_int(0)),
                        ("total".into(), Dynamic::from_int(0)),
                        ("items".into(), Dynamic::from_array(Vec::new())),
                    ]
                    .into_iter()
                    .collect(),
                )
            };
            let (mut fast_state, mut rhai_state) = (fresh(), fresh());
            let mut checked = false;
            for round in 0..200 {
                let value =
                    if round % 5 == 0 { random_value(&mut rng) } else { Dynamic::from_int(rng.int() % 10) };
                let what =
                    format!("{body} under {limits:?}, round {round}, value {value:?}, state {rhai_state:?}");
                let got =
                    fast.call_this_checked_pair(&mut fast_state, &mut checked, "on_item", (value.clone(),));
                let want = rhai.call_this_checked_pair(&mut rhai_state, &mut false, "on_item", (value,));
                let failed = got.is_err();
                by_parts += usize::from(agree(got, want, &what));
                assert!(same(&fast_state, &rhai_state), "{what}: states {fast_state:?} and {rhai_state:?}");
                // As StatefulLogic does: a failed call drops the key's logic.
                if failed {
                    (fast_state, rhai_state, checked) = (fresh(), fresh(), false);
                }
            }
        }
    }
    assert!(by_parts > 1000, "the pairs came by parts ({by_parts})");
}

/// Which answers come by parts: a body's closing two-item literal (computed or constant) does;
/// a `return`, another length, or a literal inside an `if` comes whole, as before.
#[test]
fn only_a_closing_two_item_literal_comes_by_parts() {
    let cases = [
        ("fn mapper(state, value) { let n = (state ?? 0) + 1; [n, n] }", true),
        ("fn mapper(state, value) { [[], RETAIN] }", true),
        // (A closing `return x;` is `x` to Rhai's optimizer: by parts.)
        ("fn mapper(state, value) { return [state, value]; }", true),
        ("fn mapper(state, value) { if value == 2 { return [state, value]; } [0, 0] }", false),
        ("fn mapper(state, value) { [state] }", false),
        ("fn mapper(state, value) { if value > 0 { [1, 2] } else { [3, 4] } }", false),
    ];
    for (source, by_parts) in cases {
        let Some((mut fast, _)) = both(source, ScriptLimits::default(), false) else { continue };
        let answer = fast.call_pair("mapper", &[Dynamic::from_int(1), Dynamic::from_int(2)]);
        assert_eq!(matches!(answer, Ok(Answer::Pair(..))), by_parts, "{source}: {answer:?}");
    }
}
