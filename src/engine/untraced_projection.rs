//! Records projected while the trace leaves items out: the workbench's session reads records
//! whole (its previews show them), but over a fast play's untraced stretch nobody sees them,
//! so each source record there keeps only the fields the pipeline can read, as `eddy run`'s
//! records do ([`EngineOptions::prune_fields`](super::EngineOptions::prune_fields)). The
//! record read whole goes back to its feed ([`EventFeed::dispose`]), which frees it where it
//! was made (a read-ahead thread). Outputs, states and errors are the same either way (what
//! a step reads is all it sees); the one place a record itself is kept, the dropped-items
//! ledger, is why a source whose records a step might record as dropped is never projected.
//! The rule is written in docs/architecture.md, "Previews of a fast play".

use std::collections::BTreeSet;

use super::{Target, needed_fields};
use crate::graph::OpKind;
use crate::ops::{Operator, ValueUse};

/// The fields a source's records keep in an untraced stretch (`None`: kept whole), from the
/// steps its records reach (`targets`: the source's, or its fused `key_on`'s).
pub(super) fn untraced_fields(
    ops: &[Box<dyn Operator>],
    kinds: &[OpKind],
    step_targets: &[[Vec<Target>; 2]],
    targets: &[Target],
) -> Option<BTreeSet<String>> {
    if may_drop_record(ops, kinds, step_targets, targets) {
        return None;
    }
    needed_fields(ops, step_targets, targets)
}

/// Whether an item carrying the record itself may be recorded as dropped
/// (docs/ledger.md#reasons): a step that drops what it receives (`filtered`), or an output
/// nothing reads that the record is passed on to (`no_sink`).
fn may_drop_record(
    ops: &[Box<dyn Operator>],
    kinds: &[OpKind],
    step_targets: &[[Vec<Target>; 2]],
    targets: &[Target],
) -> bool {
    targets.iter().any(|target| match *target {
        Target::Unread => true,
        Target::Sink(_) => false,
        Target::Step { step, .. } => {
            let drops_input = matches!(
                kinds.get(step),
                Some(
                    OpKind::Filter
                        | OpKind::FilterMap
                        | OpKind::FlatMap
                        | OpKind::FilterValue
                        | OpKind::FlatMapValue
                ) | None
            );
            drops_input
                || matches!(ops.get(step).map(|op| op.value_use()), Some(ValueUse::Forwards(_)))
                    && step_targets.get(step).is_some_and(|ports| {
                        ports.iter().any(|port| may_drop_record(ops, kinds, step_targets, port))
                    })
        }
    })
}
