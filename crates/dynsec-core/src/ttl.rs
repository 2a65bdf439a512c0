//! Durations as users write them: `"60m"`, `"1h"`, `"900s"`, `"2d"`, `"3600"`.

use crate::ValidationError;

/// Longest TTL accepted anywhere (366 days, in seconds). Far beyond any useful
/// credential lifetime, and small enough that `now + ttl` can never overflow
/// a timestamp.
pub const MAX_TTL_SECS: u64 = 366 * 86_400;

/// Parses a TTL into seconds. A bare number means seconds; the units `s`, `m`,
/// `h` and `d` may be combined (`"1h30m"`). Zero and more than
/// [`MAX_TTL_SECS`] are refused.
pub fn parse_ttl(field: &str, raw: &str) -> Result<u64, ValidationError> {
    let text = raw.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let bad = || {
        ValidationError::new(
            field,
            format!("'{raw}' is not a duration (use e.g. 900s, 60m, 12h, 1d)"),
        )
    };
    if text.chars().all(|c| c.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| bad())?;
        return positive(field, secs);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    positive(field, total)
}

fn positive(field: &str, secs: u64) -> Result<u64, ValidationError> {
    if secs == 0 {
        Err(ValidationError::new(field, "must be greater than zero"))
    } else {
        at_most_max(field, secs)
    }
}

/// Refuses a TTL (in seconds) longer than [`MAX_TTL_SECS`].
pub fn at_most_max(field: &str, secs: u64) -> Result<u64, ValidationError> {
    if secs > MAX_TTL_SECS {
        Err(ValidationError::new(
            field,
            format!("must be at most 366 days ({MAX_TTL_SECS} seconds); got {secs} seconds"),
        ))
    } else {
        Ok(secs)
    }
}

/// Formats seconds the way Akeyless clients write a user TTL (`"60m"`, `"90s"`).
pub fn format_ttl(secs: u64) -> String {
    if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_ttl("t", "60m").unwrap(), 3600);
        assert_eq!(parse_ttl("t", "1h30m").unwrap(), 5400);
        assert_eq!(parse_ttl("t", "900").unwrap(), 900);
        assert_eq!(parse_ttl("t", " 2D ").unwrap(), 172_800);
        assert_eq!(format_ttl(3600), "60m");
        assert_eq!(format_ttl(5400), "90m");
        assert_eq!(format_ttl(61), "61s");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "m", "10x", "0", "0m", "10m5", "-5m"] {
            assert_eq!(parse_ttl("user-ttl", bad).unwrap_err().field, "user-ttl");
        }
    }

    #[test]
    fn caps_at_366_days() {
        assert_eq!(parse_ttl("user-ttl", "366d").unwrap(), MAX_TTL_SECS);
        assert_eq!(parse_ttl("user-ttl", "31622400").unwrap(), MAX_TTL_SECS);
        // Values that used to overflow the expiry timestamp (and panic).
        for big in [
            "367d",
            "31622401",
            "9223372036854775807",
            "18446744073709551615",
            "106751991167300d",
            "99999999999999h",
        ] {
            let err = parse_ttl("user-ttl", big).unwrap_err();
            assert_eq!(err.field, "user-ttl", "{big}");
        }
    }
}
