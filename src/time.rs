//! Time values as Eddy uses them: INT microseconds since 1970-01-01T00:00:00Z,
//! RFC 3339 text, and durations with a unit (`"10s"`). A leaf module: imports nothing
//! from the crate, so every layer may use it.

use chrono::{DateTime, SecondsFormat, Utc};

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Parses RFC 3339 (`Z` or an offset, optional fraction) into microseconds since the epoch.
pub fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    if let Some(micros) = parse_common_utc(text.as_bytes()) {
        return Some(micros);
    }
    let parsed = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    let secs = parsed.timestamp();
    let micros = i64::from(parsed.timestamp_subsec_micros());
    secs.checked_mul(MICROS_PER_SEC)?.checked_add(micros)
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, read without a general parser (it is
/// on every event's path); anything else returns `None` and goes to the full parser, which
/// also decides what is invalid.
fn parse_common_utc(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if *b.last()? != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut n = 0i64;
        for &c in b.get(range)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let micros_fraction = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if !fraction.is_empty() && fraction.len() <= 9 => {
            let mut micros = 0i64;
            for (i, &c) in fraction.iter().enumerate() {
                if !c.is_ascii_digit() {
                    return None;
                }
                if i < 6 {
                    micros = micros * 10 + i64::from(c - b'0');
                }
            }
            for _ in fraction.len()..6 {
                micros *= 10;
            }
            micros
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * MICROS_PER_SEC + micros_fraction)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Formats microseconds since the epoch as RFC 3339 in UTC (`2024-01-01T00:00:00Z`,
/// with a fraction only when there is one).
pub fn format_rfc3339_micros(micros: i64) -> Option<String> {
    let time = DateTime::<Utc>::from_timestamp_micros(micros)?;
    Some(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Parses a duration written with units: `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"2d"`,
/// `"100us"`, a fraction (`"1.5s"`) or several parts largest first (`"1h30m"`, `"2m30.5s"`).
/// Returns microseconds.
pub fn parse_duration_micros(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the duration is empty (write e.g. \"30s\", \"250ms\", \"1h30m\")".into());
    }
    let mut rest = text;
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "duration {text:?} does not start with a number (write e.g. \"30s\", \"1h30m\")"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration {text:?}: {:?} is not a number", &rest[..digits]))?;
        let after = &rest[digits..];
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let unit = &after[..unit_len];
        let unit_micros: f64 = match unit.trim() {
            "" => {
                return Err(format!(
                    "duration {text:?} has no unit (write e.g. \"30s\", \"250ms\", \"1h30m\")"
                ));
            }
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
        total += number * unit_micros;
        rest = &after[unit_len..];
    }
    let micros = total.round();
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
    fn the_fast_path_agrees_with_the_full_parser() {
        let samples = [
            "1970-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            "2024-02-29T23:59:59.999999Z",
            "2023-02-29T00:00:00Z",
            "2000-12-31T12:34:56.5Z",
            "1969-12-31T23:59:59.123456789Z",
            "2100-03-01T00:00:00.000001Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
        ];
        for sample in samples {
            let full = DateTime::parse_from_rfc3339(sample)
                .ok()
                .map(|t| t.timestamp() * MICROS_PER_SEC + i64::from(t.timestamp_subsec_micros()));
            assert_eq!(parse_rfc3339_micros(sample), full, "{sample}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_micros("10s"), Ok(10_000_000));
        assert_eq!(parse_duration_micros("250ms"), Ok(250_000));
        assert_eq!(parse_duration_micros("1.5h"), Ok(5_400_000_000));
        assert!(parse_duration_micros("10").is_err());
        assert!(parse_duration_micros("10 parsecs").is_err());
        assert_eq!(parse_duration_micros("1h30m"), Ok(5_400_000_000));
        assert_eq!(parse_duration_micros("2m30.5s"), Ok(150_500_000));
        assert_eq!(parse_duration_micros("1m500ms"), Ok(60_500_000));
        assert!(parse_duration_micros("1h30").is_err());
        assert!(parse_duration_micros("").is_err());
        assert!(parse_duration_micros("h").is_err());
        assert_eq!(format_duration_micros(30_000_000), "30s");
        assert_eq!(format_duration_micros(3_600_000_000), "1h");
        assert_eq!(format_duration_micros(1_500), "1500us");
    }
}
