//! Per-key state checkpoints of a test folder (`checkpoints.jsonl`): a key's state at a step
//! after a given number of source events, as the replay held it when the folder was saved.
//! One JSON line each: `{"event":N,"step":"ID","key":"KEY","state":JSON}` (`null`: the key held
//! no state there).

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use super::RegressionError;

/// A key's state to check: at step `step`, after `event` source events (before end of input).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateCheckpoint {
    /// Source events processed (the workbench's replay position).
    pub event: u64,
    /// The stateful step's id.
    pub step: String,
    /// The key, as the state table shows it.
    pub key: String,
}

impl fmt::Display for StateCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}` of step `{}` after event {}", self.key, self.step, self.event)
    }
}

/// The line of `checkpoints.jsonl` for `checkpoint` whose state is `state` (JSON text).
pub fn checkpoint_line(checkpoint: &StateCheckpoint, state: &str) -> String {
    let state: Value = serde_json::from_str(state).unwrap_or(Value::Null);
    let mut line = Map::new();
    line.insert("event".into(), Value::from(checkpoint.event));
    line.insert("step".into(), Value::from(checkpoint.step.clone()));
    line.insert("key".into(), Value::from(checkpoint.key.clone()));
    line.insert("state".into(), state);
    Value::Object(line).to_string()
}

/// Reads `checkpoints.jsonl`'s text: each checkpoint with its expected state (JSON text); an
/// error names the file and the line.
pub fn parse_checkpoints(text: &str, path: &Path) -> Result<Vec<(StateCheckpoint, String)>, RegressionError> {
    let mut checkpoints = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            RegressionError::folder(
                path,
                format!(
                    "line {}: {why} (each line is {{\"event\":N,\"step\":\"ID\",\"key\":\"KEY\",\"state\":JSON}})",
                    index + 1
                ),
            )
        };
        let value: Value = serde_json::from_str(line).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let event = value.get("event").and_then(Value::as_u64).ok_or_else(|| bad("no event number"))?;
        let step = value.get("step").and_then(Value::as_str).ok_or_else(|| bad("no step id"))?;
        let key = value.get("key").and_then(Value::as_str).ok_or_else(|| bad("no key"))?;
        let state = value.get("state").ok_or_else(|| bad("no state"))?;
        checkpoints
            .push((StateCheckpoint { event, step: step.to_owned(), key: key.to_owned() }, state.to_string()));
    }
    Ok(checkpoints)
}
