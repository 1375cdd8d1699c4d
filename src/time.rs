//! Time values as Eddy uses them: INT microseconds since 1970-01-01T00:00:00Z,
//! RFC 3339 text, and durations with a unit (`"10s"`). A leaf module: imports nothing
//! from the crate, so every layer may use it.

use chrono::{DateTime, SecondsFormat, Utc};

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Parses RFC 3339 (`Z` or an offset, optional fraction) into microseconds since the epoch.
pub fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    let parsed = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    let secs = parsed.timestamp();
    let micros = i64::from(parsed.timestamp_subsec_micros());
    secs.checked_mul(MICROS_PER_SEC)?.checked_add(micros)
}

/// Formats microseconds since the epoch as RFC 3339 in UTC (`2024-01-01T00:00:00Z`,
/// with a fraction only when there is one).
pub fn format_rfc3339_micros(micros: i64) -> Option<String> {
    let time = DateTime::<Utc>::from_timestamp_micros(micros)?;
    Some(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Parses a duration written with a unit: `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"2d"`,
/// `"100us"`; a fraction is allowed (`"1.5s"`). Returns microseconds.
pub fn parse_duration_micros(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration {text:?} has no unit (write e.g. \"10s\", \"250ms\", \"1h\")"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 =
        number.parse().map_err(|_| format!("duration {text:?} does not start with a number"))?;
    let unit_micros: f64 = match unit.trim() {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        "h" => 3600e6,
        "d" => 86_400e6,
        other => {
            return Err(format!(
                "duration {text:?} has an unknown unit {other:?} (use us, ms, s, m, h or d)"
            ));
        }
    };
    let micros = (number * unit_micros).round();
    if !micros.is_finite() || micros < 0.0 || micros > i64::MAX as f64 {
        return Err(format!("duration {text:?} is out of range"));
    }
    Ok(micros as i64)
}

/// Formats a duration in microseconds with the largest unit that divides it.
pub fn format_duration_micros(micros: i64) -> String {
    const UNITS: [(i64, &str); 5] =
        [(86_400_000_000, "d"), (3_600_000_000, "h"), (60_000_000, "m"), (1_000_000, "s"), (1_000, "ms")];
    for (size, unit) in UNITS {
        if micros != 0 && micros % size == 0 {
            return format!("{}{unit}", micros / size);
        }
    }
    format!("{micros}us")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339_micros("2024-01-01T00:00:01.5Z").unwrap();
        assert_eq!(t, 1_704_067_201_500_000);
        assert_eq!(format_rfc3339_micros(t).unwrap(), "2024-01-01T00:00:01.500Z");
        assert_eq!(
            parse_rfc3339_micros("2024-01-01T01:00:00+01:00"),
            parse_rfc3339_micros("2024-01-01T00:00:00Z")
        );
        assert_eq!(parse_rfc3339_micros("yesterday"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_micros("10s"), Ok(10_000_000));
        assert_eq!(parse_duration_micros("250ms"), Ok(250_000));
        assert_eq!(parse_duration_micros("1.5h"), Ok(5_400_000_000));
        assert!(parse_duration_micros("10").is_err());
        assert!(parse_duration_micros("10 parsecs").is_err());
        assert_eq!(format_duration_micros(30_000_000), "30s");
        assert_eq!(format_duration_micros(3_600_000_000), "1h");
        assert_eq!(format_duration_micros(1_500), "1500us");
    }
}
