//! Assignments and op-assignments to a local, and to properties and indices inside it, as Rhai's
//! `eval_op_assignment` does them.

use rhai::{Dynamic, FLOAT, ImmutableString};

use super::access::{Atom, Operand, calc_index};
use super::operators::{binary, concat, float_op, int_op, scalar_to_string};
use super::run::{Env, EvalResult, Exit, fail};
use super::tree::{BinOp, MutMethod};
use super::value::{Kind, Value, ValueRef, kind};
use crate::script::ScriptLimits;

/// `slot op= v` on a local variable.
pub(super) fn assign_var<'a>(
    env: &mut Env<'a, '_>,
    slot: usize,
    op: Option<BinOp>,
    v: Value<'a>,
) -> EvalResult<()> {
    env.before_write(slot, None)?;
    env.forget_sized();
    let limits = env.limits;
    let target = &mut env.locals[slot];
    let Some(op) = op else {
        *target = v;
        return Ok(());
    };
    // Numbers held unboxed (so with no tag) stay unboxed.
    let r = match (&*target, v.view()) {
        (Value::Int(x), y) if y.kind() == Kind::Int => Some(int_op(op, *x, y.int()?)?),
        (Value::Int(x), y) if y.kind() == Kind::Float => Some(float_op(op, *x as FLOAT, y.float()?)?),
        (Value::Float(x), y) if matches!(y.kind(), Kind::Int | Kind::Float) => {
            Some(float_op(op, *x, y.float()?)?)
        }
        _ => None,
    };
    if let Some(r) = r {
        *target = r;
        return Ok(());
    }
    apply(limits, target.own()?, Some(op), v.dynamic())
}

/// `cur.key op= v` (`cur` a local's value): as [`assign_walk`] does it for a target of one
/// property. `measured`: the map was measured within the size limits in this call and has not
/// changed since but by writes that keep its sizes; then a number, `bool`, character or `()`
/// replacing one in an existing property leaves its sizes as they were, and the map need not be
/// measured again (Rhai's check after the assignment would pass as the last one did).
/// `before` is shown what the property held (`None`: nothing) before anything is changed, in
/// the same look-up (for a journal to put it back).
pub(super) fn assign_prop(
    limits: &ScriptLimits,
    cur: &mut Dynamic,
    key: &ImmutableString,
    op: Option<BinOp>,
    v: Dynamic,
    measured: bool,
    before: impl FnOnce(Option<&Dynamic>),
) -> EvalResult<()> {
    if !cur.is_map() {
        // Rhai would call a property setter.
        return Err(Exit::Fail);
    }
    let same_sizes = {
        let mut map = cur.as_map_mut().or_else(fail)?;
        match map.get_mut(key.as_str()) {
            Some(item) => {
                before(Some(item));
                let was_sizeless = sizeless(item);
                apply(limits, item, op, v)?;
                was_sizeless && sizeless(item)
            }
            None => {
                before(None);
                let item = map.entry(key.as_str().into()).or_insert(Dynamic::UNIT);
                apply(limits, item, op, v)?;
                false
            }
        }
    };
    // Rhai checks the map holding the property.
    if measured && same_sizes { Ok(()) } else { limits.check_sizes(cur) }
}

/// A value that adds nothing to its map's sizes but the entry itself (no string, array, map or
/// blob).
pub(super) fn sizeless(v: &Dynamic) -> bool {
    matches!(kind(v), Kind::Unit | Kind::Bool | Kind::Char | Kind::Int | Kind::Float)
}

/// A step of an assignment's target.
#[derive(Debug)]
pub(super) enum AssignStep {
    Prop(ImmutableString),
    /// An index: a literal or an argument, or the n-th value computed first.
    Index(Operand),
}

/// The operands of an assignment's steps (no locals: the target local is borrowed mutably).
pub(super) struct AssignOperands<'s> {
    pub(super) args: &'s [Dynamic],
    pub(super) lits: &'s [Dynamic],
    pub(super) vals: &'s [Dynamic],
}

impl AssignOperands<'_> {
    pub(super) fn get(&self, o: Operand) -> EvalResult<ValueRef<'_>> {
        Ok(match o {
            Operand::Atom(Atom::Unit) => ValueRef::Unit,
            Operand::Atom(Atom::Bool(b)) => ValueRef::Bool(b),
            Operand::Atom(Atom::Int(i)) => ValueRef::Int(i),
            Operand::Atom(Atom::Float(f)) => ValueRef::Float(f),
            Operand::Atom(Atom::Lit(k)) => ValueRef::Dyn(&self.lits[k]),
            Operand::Atom(Atom::Arg(i)) => ValueRef::Dyn(&self.args[i]),
            Operand::Atom(Atom::Local(_) | Atom::Slot(_)) => return Err(Exit::Fail),
            Operand::Computed(i) => ValueRef::Dyn(&self.vals[i]),
        })
    }
}

pub(super) fn assign_walk(
    limits: &ScriptLimits,
    cur: &mut Dynamic,
    steps: &[AssignStep],
    ops: &AssignOperands<'_>,
    op: Option<BinOp>,
    v: Dynamic,
) -> EvalResult<()> {
    let Some((step, rest)) = steps.split_first() else {
        return Err(Exit::Fail);
    };
    let last = rest.is_empty();
    match step {
        AssignStep::Prop(key) => {
            if !cur.is_map() {
                // Rhai would call a property setter.
                return Err(Exit::Fail);
            }
            if last {
                {
                    let mut map = cur.as_map_mut().or_else(fail)?;
                    if map.is_empty() || !map.contains_key(key.as_str()) {
                        map.insert(key.as_str().into(), Dynamic::UNIT);
                    }
                    let item = map.get_mut(key.as_str()).ok_or(Exit::Fail)?;
                    apply(limits, item, op, v)?;
                }
                // Rhai checks the map holding the property.
                limits.check_sizes(cur)
            } else {
                let mut map = cur.as_map_mut().or_else(fail)?;
                let child = map.get_mut(key.as_str()).ok_or(Exit::Fail)?;
                assign_walk(limits, child, rest, ops, op, v)
            }
        }
        AssignStep::Index(o) => with_indexed(cur, ops.get(*o)?, last, |item| {
            if last {
                apply(limits, item, op, v)?;
                // Rhai checks the indexed item.
                limits.check_sizes(item)
            } else {
                assign_walk(limits, item, rest, ops, op, v)
            }
        }),
    }
}

/// Runs `f` on the item of `cur` at `idx`: an array's (a negative index counts from the end)
/// or a map's under a string key; with `create` (an assignment's last step), a key the map
/// lacks is added as `()` first. Anything else is for Rhai.
fn with_indexed<R>(
    cur: &mut Dynamic,
    idx: ValueRef<'_>,
    create: bool,
    f: impl FnOnce(&mut Dynamic) -> EvalResult<R>,
) -> EvalResult<R> {
    if cur.is_array() {
        let i = idx.as_int().ok_or(Exit::Fail)?;
        let mut array = cur.as_array_mut().or_else(fail)?;
        let i = calc_index(array.len(), i).ok_or(Exit::Fail)?;
        f(&mut array[i])
    } else if cur.is_map() {
        let ValueRef::Dyn(key) = idx else { return Err(Exit::Fail) };
        if !key.is_string() {
            return Err(Exit::Fail);
        }
        let key = key.as_immutable_string_ref().or_else(fail)?;
        let mut map = cur.as_map_mut().or_else(fail)?;
        if create && (map.is_empty() || !map.contains_key(key.as_str())) {
            map.insert(key.as_str().into(), Dynamic::UNIT);
        }
        f(map.get_mut(key.as_str()).ok_or(Exit::Fail)?)
    } else {
        Err(Exit::Fail)
    }
}

/// Rhai's `eval_op_assignment` on a target (which is never read-only here: locals hold copies,
/// and copies are read-write).
pub(super) fn apply(
    limits: &ScriptLimits,
    target: &mut Dynamic,
    op: Option<BinOp>,
    v: Dynamic,
) -> EvalResult<()> {
    let Some(op) = op else {
        *target = v;
        return Ok(());
    };
    let (kt, kv) = (kind(target), kind(&v));
    let add = op == BinOp::Add;
    match (kt, kv) {
        (Kind::Int, Kind::Int) => apply_int(target, op, &v),
        (Kind::Float, Kind::Float | Kind::Int) => apply_float(target, op, &v),
        (Kind::Bool, Kind::Bool) => apply_bool(target, op, &v),
        (Kind::Str, Kind::Str | Kind::Char | Kind::Int | Kind::Float | Kind::Bool | Kind::Unit) if add => {
            append_to_string(limits, target, kv, &v)
        }
        (Kind::Char, Kind::Char | Kind::Str) if add => append_to_char(limits, target, kv, &v),
        (Kind::Array, Kind::Array) if add => append_array(limits, target, v),
        (
            Kind::Array,
            Kind::Unit | Kind::Bool | Kind::Str | Kind::Char | Kind::Int | Kind::Float | Kind::Map,
        ) if add => {
            target.as_array_mut().or_else(fail)?.push(v);
            limits.check_sizes(target)
        }
        // No built-in or registered op-assignment: Rhai runs `target = target op v` (through the
        // registered operator if there is one), then checks the data size of the target.
        (Kind::Int, Kind::Float) | (Kind::Int | Kind::Float | Kind::Bool, Kind::Str) => {
            let r = binary(limits, op, ValueRef::Dyn(target), ValueRef::Dyn(&v))?.dynamic();
            *target = r;
            limits.check_sizes(target)
        }
        (Kind::Unit, Kind::Str) if add => {
            // The registered `+` ((), string) returns the string as a new value.
            let s = v.as_immutable_string_ref().or_else(fail)?.clone();
            *target = Dynamic::from(s);
            limits.check_sizes(target)
        }
        _ => Err(Exit::Fail),
    }
}

/// `INT op= INT`.
fn apply_int(target: &mut Dynamic, op: BinOp, v: &Dynamic) -> EvalResult<()> {
    let tag = target.tag();
    let r = int_op(op, target.as_int().or_else(fail)?, v.as_int().or_else(fail)?)?.dynamic();
    *target = r;
    // Built-in arithmetic op-assignments write the number in place (the tag stays);
    // the bitwise ones replace the value.
    if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow) {
        target.set_tag(tag);
    }
    Ok(())
}

/// `FLOAT op= FLOAT` or `FLOAT op= INT`: arithmetic only, written in place (the tag stays).
fn apply_float(target: &mut Dynamic, op: BinOp, v: &Dynamic) -> EvalResult<()> {
    let tag = target.tag();
    let (x, y) = (target.as_float().or_else(fail)?, ValueRef::Dyn(v).float()?);
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Rem => x % y,
        BinOp::Pow => x.powf(y),
        _ => return Err(Exit::Fail),
    };
    *target = Dynamic::from_float(r);
    target.set_tag(tag);
    Ok(())
}

/// `bool &= bool`, `|=`, `^=`, written in place (the tag stays).
fn apply_bool(target: &mut Dynamic, op: BinOp, v: &Dynamic) -> EvalResult<()> {
    let tag = target.tag();
    let (x, y) = (target.as_bool().or_else(fail)?, v.as_bool().or_else(fail)?);
    let r = match op {
        BinOp::BitAnd => x && y,
        BinOp::BitOr => x || y,
        BinOp::BitXor => x ^ y,
        _ => return Err(Exit::Fail),
    };
    *target = Dynamic::from_bool(r);
    target.set_tag(tag);
    Ok(())
}

/// `string += v` for a string, a character or a scalar (the tag stays).
fn append_to_string(limits: &ScriptLimits, target: &mut Dynamic, kv: Kind, v: &Dynamic) -> EvalResult<()> {
    let tag = target.tag();
    let joined: ImmutableString = {
        let x = target.as_immutable_string_ref().or_else(fail)?;
        match kv {
            Kind::Str => {
                let y = v.as_immutable_string_ref().or_else(fail)?;
                if !x.is_empty() && !y.is_empty() {
                    limits.check_string(x.len() + y.len())?;
                }
                concat(x.as_str(), y.as_str())
            }
            Kind::Char => {
                let mut s = String::with_capacity(x.len() + 4);
                s.push_str(x.as_str());
                s.push(v.as_char().or_else(fail)?);
                limits.check_string(s.len())?;
                s.into()
            }
            // The registered `+=` (string, any): appends the item's `to_string`; then Rhai
            // checks the data size of the target.
            _ => {
                let y = scalar_to_string(ValueRef::Dyn(v))?;
                let joined = concat(x.as_str(), y.as_str());
                limits.check_string(joined.len())?;
                joined
            }
        }
    };
    *target = Dynamic::from(joined);
    target.set_tag(tag);
    Ok(())
}

/// `char += char` or `char += string`: the target becomes a new string (no tag).
fn append_to_char(limits: &ScriptLimits, target: &mut Dynamic, kv: Kind, v: &Dynamic) -> EvalResult<()> {
    let joined = if kv == Kind::Char {
        let mut s = String::with_capacity(8);
        s.push(target.as_char().or_else(fail)?);
        s.push(v.as_char().or_else(fail)?);
        s
    } else {
        let y = v.as_immutable_string_ref().or_else(fail)?;
        if y.is_empty() {
            return Ok(());
        }
        let mut s = String::with_capacity(y.len() + 4);
        s.push(target.as_char().or_else(fail)?);
        s.push_str(y.as_str());
        limits.check_string(s.len())?;
        s
    };
    *target = Dynamic::from(ImmutableString::from(joined));
    Ok(())
}

/// `array += array`: appends the items.
fn append_array(limits: &ScriptLimits, target: &mut Dynamic, v: Dynamic) -> EvalResult<()> {
    let items = v.into_array().or_else(fail)?;
    if items.is_empty() {
        return Ok(());
    }
    // Rhai checks the size before appending (when the target is not empty).
    if !target.as_array_ref().or_else(fail)?.is_empty() {
        limits.check_sizes(target)?;
    }
    let mut array = target.as_array_mut().or_else(fail)?;
    if array.is_empty() {
        *array = items;
    } else {
        array.extend(items);
    }
    Ok(())
}

/// Walks an existing place inside `cur` (properties and indices, none created) and runs `f` on
/// it: where `push`, `pop` and `shift` find their array.
pub(super) fn place_walk<R>(
    cur: &mut Dynamic,
    steps: &[AssignStep],
    ops: &AssignOperands<'_>,
    f: impl FnOnce(&mut Dynamic) -> EvalResult<R>,
) -> EvalResult<R> {
    let Some((step, rest)) = steps.split_first() else {
        return f(cur);
    };
    match step {
        AssignStep::Prop(key) => {
            if !cur.is_map() {
                return Err(Exit::Fail);
            }
            let mut map = cur.as_map_mut().or_else(fail)?;
            let child = map.get_mut(key.as_str()).ok_or(Exit::Fail)?;
            place_walk(child, rest, ops, f)
        }
        AssignStep::Index(o) => with_indexed(cur, ops.get(*o)?, false, |item| place_walk(item, rest, ops, f)),
    }
}

/// `push(item)`, `pop()` or `shift()` on an array, as Rhai's array package does them: the item
/// removed (if any), and whether the array is still within the data-size limits (Rhai checks
/// the array, its first argument, after the call, and the item it gives). `known_within`: the
/// array is known within the limits before the call, and the call is a `pop` or `shift`, which
/// leaves it, and the item it gives, no bigger: neither is measured.
pub(super) fn mutate_array(
    limits: &ScriptLimits,
    target: &mut Dynamic,
    method: MutMethod,
    item: Option<Dynamic>,
    known_within: bool,
) -> EvalResult<(Option<Dynamic>, bool)> {
    if !target.is_array() {
        return Err(Exit::Fail);
    }
    let removed = {
        let mut array = target.as_array_mut().or_else(fail)?;
        match method {
            MutMethod::Push => {
                array.push(item.ok_or(Exit::Fail)?);
                None
            }
            MutMethod::Pop => array.pop(),
            MutMethod::Shift => {
                if array.is_empty() {
                    None
                } else {
                    Some(array.remove(0))
                }
            }
        }
    };
    // Rhai checks the array (its first argument) and the value returned.
    let shrunk = known_within && method != MutMethod::Push;
    let within = shrunk
        || (limits.check_sizes(target).is_ok()
            && removed.as_ref().is_none_or(|r| limits.check_sizes(r).is_ok()));
    Ok((removed, within))
}
