//! Methods that read one property of `this` plus a constant (a session window's `notify_at`:
//! `this.last + GAP`), answered by the fast path without running their body, against plain
//! Rhai: the same script compiled with the fast path and without, called as StatefulLogic calls
//! it on random states under several limits, gives the same value, the same state and the same
//! error (overflow, a missing property, another type), limits hit at the same place.

use eddy::script::{Script, ScriptHost, ScriptLimits};
use rhai::{Dynamic, Map};

use super::common::{Rng, same};

const SCRIPT: &str = "
const GAP = secs(30);
fn builder(resume) { #{ start: 0, last: 0 } }
fn notify_at() { this.last + GAP }
fn due_left() { 1000 + this.last }
fn due_before() { this.last - GAP }
";

/// A state: a map whose `last` is mostly an INT (near the edges now and then), else another
/// value or missing; now and then not a map at all.
fn state(rng: &mut Rng) -> Dynamic {
    if rng.below(10) == 0 {
        return rng.value(2);
    }
    let mut m = Map::new();
    m.insert("start".into(), Dynamic::from_int(rng.int()));
    match rng.below(8) {
        0 => {}
        1 => {
            m.insert("last".into(), rng.value(2));
        }
        _ => {
            m.insert("last".into(), Dynamic::from_int(rng.int()));
        }
    }
    Dynamic::from_map(m)
}

#[test]
fn property_plus_constant_readers_agree_with_rhai() {
    let mut rng = Rng::new(31);
    let small_ops = |ops| ScriptLimits { max_operations: ops, ..ScriptLimits::default() };
    let limit_sets =
        [ScriptLimits::default(), small_ops(3), small_ops(6), small_ops(9), small_ops(12), small_ops(40)];
    let (mut answered, mut limit_hit) = (0, 0);
    for limits in limit_sets {
        let compile =
            |fast| Script::compile_with_methods(&ScriptHost::new(limits).with_fast_path(fast), "s", SCRIPT);
        let (mut fast, mut rhai) = match (compile(true), compile(false)) {
            (Ok(fast), Ok(rhai)) => (fast, rhai),
            // (Too few operations for the top-level statements: the same error both ways.)
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "{limits:?}");
                continue;
            }
            (a, b) => panic!("{limits:?}: fast {a:?}, Rhai {b:?}"),
        };
        for name in ["notify_at", "due_left", "due_before"] {
            for round in 0..400 {
                let given = state(&mut rng);
                let (mut fast_state, mut rhai_state) = (given.clone(), given.clone());
                // As StatefulLogic calls it: the state checked when an earlier call said so.
                let mut checked = round % 2 == 0 && given.is_map();
                let got = fast.call_this_checked(&mut fast_state, &mut checked, name, ());
                let want = rhai.call_this_checked(&mut rhai_state, &mut false, name, ());
                let what = format!("{name} under {limits:?} on {given:?}");
                match (got, want) {
                    (Ok(a), Ok(b)) => {
                        assert!(same(&a, &b), "{what}: fast {a:?}, Rhai {b:?}");
                        answered += 1;
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a.to_string(), b.to_string(), "{what}");
                        assert_eq!(a.position, b.position, "{what}");
                        limit_hit += usize::from(a.message.contains("operations"));
                    }
                    (a, b) => panic!("{what}: fast {a:?}, Rhai {b:?}"),
                }
                assert!(same(&fast_state, &rhai_state), "{what}: states {fast_state:?} and {rhai_state:?}");
            }
        }
    }
    assert!(answered > 1500, "most calls answered ({answered})");
    assert!(limit_hit > 0, "the operations limit was reached, at the same place both ways");
}
