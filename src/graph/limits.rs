//! The `[limits]` table: bounds on every call of a user function (time, memory, value
//! nesting, operations, sizes). Absent keys keep the defaults; the engine turns the table into
//! the script host's limits.

use serde::Serialize;

/// The largest `max_depth` accepted: values this deep are still cloned, dropped, written
/// and read back without danger to the stack.
pub const MAX_DEPTH_CAP: i64 = 1000;

/// A size as written in the file: a text with a unit (`"256MiB"`) or a number of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ByteSize {
    /// A number of bytes.
    Bytes(i64),
    /// A size with a unit: `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`.
    Text(String),
}

impl ByteSize {
    /// The number of bytes, or what is wrong with the setting.
    pub fn bytes(&self) -> Result<u64, String> {
        match self {
            ByteSize::Bytes(n) => u64::try_from(*n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number of bytes, found {n}")),
            ByteSize::Text(text) => parse_byte_size(text),
        }
    }
}

/// Parses `"256MiB"`, `"1GiB"`, `"512KB"`, `"1000B"` or `"1000"` (bytes): binary units are
/// powers of 1024, decimal ones of 1000.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("size {text:?} does not start with a number (write e.g. \"256MiB\")"))?;
    let unit_bytes: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "size {text:?} has an unknown unit {other:?} (use B, KB, KiB, MB, MiB, GB or GiB)"
            ));
        }
    };
    match number.checked_mul(unit_bytes) {
        Some(0) => Err(format!("size {text:?} must be more than 0")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("size {text:?} is out of range")),
    }
}

/// The `[limits]` table as written; each key absent keeps its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LimitsSpec {
    /// Wall time of one call (`"2s"`, `"500ms"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_timeout: Option<String>,
    /// Memory one call may take (`"256MiB"` or bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_memory: Option<ByteSize>,
    /// Nesting of arrays and maps in a value a function returns or keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<i64>,
    /// Operations one call may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_operations: Option<i64>,
    /// Nesting of function calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_call_levels: Option<i64>,
    /// Bytes in one string (`"16MiB"` or bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_string_size: Option<ByteSize>,
    /// Elements in one array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_array_size: Option<i64>,
    /// Entries in one object map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_map_size: Option<i64>,
}

/// The keys of `[limits]`, in the order they are written.
pub const LIMITS_KEYS: [&str; 8] = [
    "call_timeout",
    "call_memory",
    "max_depth",
    "max_operations",
    "max_call_levels",
    "max_string_size",
    "max_array_size",
    "max_map_size",
];

impl LimitsSpec {
    /// Whether no key is set (the table is then not written).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `call_timeout` in microseconds, when set and valid.
    pub fn call_timeout_micros(&self) -> Option<Result<i64, String>> {
        self.call_timeout.as_deref().map(|text| match crate::time::parse_duration_micros(text) {
            Ok(0) => Err(format!("duration {text:?} must be more than 0")),
            other => other,
        })
    }

    /// A whole-number setting checked against its range: `max_depth` 1 to [`MAX_DEPTH_CAP`],
    /// the others at least 1.
    pub fn count(&self, key: &str) -> Option<Result<u64, String>> {
        let (value, max) = match key {
            "max_depth" => (self.max_depth?, MAX_DEPTH_CAP),
            "max_operations" => (self.max_operations?, i64::MAX),
            "max_call_levels" => (self.max_call_levels?, 10_000),
            "max_array_size" => (self.max_array_size?, i64::MAX),
            "max_map_size" => (self.max_map_size?, i64::MAX),
            _ => return None,
        };
        Some(if (1..=max).contains(&value) {
            Ok(value.unsigned_abs())
        } else if max == i64::MAX {
            Err(format!("expected a number of at least 1, found {value}"))
        } else {
            Err(format!("expected a number from 1 to {max}, found {value}"))
        })
    }

    /// Every problem with the settings, as (key, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(Err(e)) = self.call_timeout_micros() {
            problems.push(("call_timeout", e));
        }
        if let Some(Err(e)) = self.call_memory.as_ref().map(ByteSize::bytes) {
            problems.push(("call_memory", e));
        }
        if let Some(Err(e)) = self.max_string_size.as_ref().map(ByteSize::bytes) {
            problems.push(("max_string_size", e));
        }
        for key in ["max_depth", "max_operations", "max_call_levels", "max_array_size", "max_map_size"] {
            if let Some(Err(e)) = self.count(key) {
                problems.push((key, e));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_units() {
        assert_eq!(parse_byte_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_byte_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_byte_size("512KB"), Ok(512_000));
        assert_eq!(parse_byte_size("1000"), Ok(1000));
        assert!(parse_byte_size("0MiB").is_err());
        assert!(parse_byte_size("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_byte_size("MiB").is_err());
        assert!(ByteSize::Bytes(-1).bytes().is_err());
    }

    #[test]
    fn ranges_are_checked() {
        let spec = LimitsSpec {
            call_timeout: Some("0s".into()),
            max_depth: Some(5000),
            max_operations: Some(0),
            ..LimitsSpec::default()
        };
        let keys: Vec<&str> = spec.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["call_timeout", "max_depth", "max_operations"]);
    }
}
