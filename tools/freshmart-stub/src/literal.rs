//! Literal values: the syntax checks behind `invalid_literal` (as the API's Python validator
//! applies them) and the casts the read views apply (as PostgreSQL's `::INT`, `::DECIMAL(10,2)`
//! and `::BOOLEAN` do).

/// Python's `int(value)`: surrounding whitespace, an optional sign, ASCII digits with single
/// underscores between them.
pub fn is_int(value: &str) -> bool {
    let s = value.trim();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    is_digit_part(s)
}

/// Python's `float(value)`: decimal or scientific notation (with `_` between digits), or
/// `inf`/`infinity`/`nan` in any case, with an optional sign and surrounding whitespace.
pub fn is_float(value: &str) -> bool {
    let s = value.trim();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return true;
    }
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || is_digit_part(int))
                && (frac.is_empty() || is_digit_part(frac))
                && !(int.is_empty() && frac.is_empty())
        }
        None => is_digit_part(mantissa),
    };
    let exponent_ok =
        exponent.is_none_or(|e| is_digit_part(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// The API's boolean check: `true` or `false` in any case.
pub fn is_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
}

/// An ISO 8601 date, `YYYY-MM-DD`.
pub fn is_date(value: &str) -> bool {
    parse_date(value.trim()).is_some_and(|rest| rest.is_empty())
}

/// An ISO 8601 timestamp: a date, optionally followed by `T` (or a space) and `HH:MM`,
/// optional `:SS`, an optional fraction and an optional offset (`Z`, `±HH`, `±HH:MM`, `±HHMM`).
pub fn is_timestamp(value: &str) -> bool {
    let Some(rest) = parse_date(value.trim()) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest.strip_prefix(['T', 't', ' ']) else {
        return false;
    };
    let Some(rest) = parse_time(rest) else {
        return false;
    };
    rest.is_empty() || is_offset(rest)
}

/// Parses `YYYY-MM-DD` at the start of `s` and returns what follows it.
fn parse_date(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(s.get(0..4)?)?;
    let month = digits(s.get(5..7)?)?;
    let day = digits(s.get(8..10)?)?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year >= 1 && (1..=days_in_month).contains(&day) {
        s.get(10..)
    } else {
        None
    }
}

/// Parses `HH:MM[:SS[.fraction]]` at the start of `s` and returns what follows it.
fn parse_time(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    if digits(s.get(0..2)?)? > 23 || digits(s.get(3..5)?)? > 59 {
        return None;
    }
    let mut rest = s.get(5..)?;
    if let Some(after) = rest.strip_prefix(':') {
        if after.len() < 2 || digits(after.get(0..2)?)? > 59 {
            return None;
        }
        rest = &after[2..];
        if let Some(fraction) = rest.strip_prefix(['.', ',']) {
            let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            rest = &fraction[n..];
        }
    }
    Some(rest)
}

fn is_offset(s: &str) -> bool {
    if s.eq_ignore_ascii_case("z") {
        return true;
    }
    let Some(hm) = s.strip_prefix(['+', '-']) else {
        return false;
    };
    let (hours, minutes) = match hm.len() {
        2 => (Some(hm), Some("00")),
        4 => (hm.get(0..2), hm.get(2..4)),
        5 if hm.as_bytes()[2] == b':' => (hm.get(0..2), hm.get(3..5)),
        _ => return false,
    };
    matches!(
        (hours.and_then(digits), minutes.and_then(digits)),
        (Some(h), Some(m)) if h <= 23 && m <= 59
    )
}

/// A fixed-width run of ASCII digits as a number.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// ASCII digits, with single underscores allowed between two digits.
fn is_digit_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.bytes().all(|c| c.is_ascii_digit() || c == b'_')
}

/// PostgreSQL's `::INT` (a 32-bit integer); `None` where PostgreSQL would fail.
pub fn cast_int(value: &str) -> Option<i64> {
    value.trim().parse::<i32>().ok().map(i64::from)
}

/// PostgreSQL's `::BOOLEAN`; `None` where PostgreSQL would fail.
pub fn cast_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Largest magnitude in cents of a `DECIMAL(10,2)`.
const MAX_CENTS: u128 = 10_000_000_000;

/// PostgreSQL's `::DECIMAL(10,2)` as a number of cents: rounds half away from zero;
/// `None` where PostgreSQL would fail (not a number, or 10^8 or more).
pub fn cast_cents(value: &str) -> Option<i64> {
    let s = value.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let all: String = int.chars().chain(frac.chars()).collect();
    let all = all.trim_start_matches('0');
    // value = all × 10^shift; cents = value × 100.
    let frac_len = i32::try_from(frac.len()).ok()?;
    let shift = exponent.checked_sub(frac_len)?.checked_add(2)?;
    let magnitude: u128 = if all.is_empty() {
        0
    } else if shift >= 0 {
        if all.len() + shift as usize > 11 {
            return None;
        }
        all.parse::<u128>().ok()? * 10u128.pow(shift as u32)
    } else {
        let dropped = shift.unsigned_abs() as usize;
        if dropped > all.len() {
            0
        } else {
            let kept = &all[..all.len() - dropped];
            if kept.len() > 11 {
                return None;
            }
            let kept: u128 = if kept.is_empty() {
                0
            } else {
                kept.parse().ok()?
            };
            let round_up = all.as_bytes()[all.len() - dropped] >= b'5';
            kept + u128::from(round_up)
        }
    };
    if magnitude >= MAX_CENTS {
        return None;
    }
    let cents = i64::try_from(magnitude).ok()?;
    Some(if negative { -cents } else { cents })
}

/// Cents as PostgreSQL prints a `DECIMAL(10,2)`: `"3.19"`, `"-0.50"`, `"12.00"`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let magnitude = cents.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

/// `value::DECIMAL(10,2)` as the JSON string the API answers with.
pub fn cast_decimal2(value: &str) -> Option<String> {
    cast_cents(value).map(format_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_follow_python() {
        for ok in ["3", " 42 ", "-7", "+0", "1_000"] {
            assert!(is_int(ok), "{ok}");
        }
        for bad in ["", "3.0", "abc", "1__0", "_1", "1_", "0x10", "--1"] {
            assert!(!is_int(bad), "{bad}");
        }
    }

    #[test]
    fn floats_follow_python() {
        for ok in [
            "5.99",
            "3",
            ".5",
            "5.",
            "-1e3",
            "2.5E-2",
            "inf",
            "-Infinity",
            "NaN",
            " 1_0.5 ",
        ] {
            assert!(is_float(ok), "{ok}");
        }
        for bad in ["", ".", "abc", "1.2.3", "e5", "1e", "5,99", "1_.0"] {
            assert!(!is_float(bad), "{bad}");
        }
    }

    #[test]
    fn bools_are_true_or_false_in_any_case() {
        assert!(is_bool("true") && is_bool("FALSE") && is_bool("True"));
        assert!(!is_bool("yes") && !is_bool("1") && !is_bool(" true"));
    }

    #[test]
    fn timestamps_and_dates() {
        for ok in [
            "2026-11-27T18:30:00",
            "2026-11-27T18:30:00.123456",
            "2026-11-27T18:30:00Z",
            "2026-11-27T18:30:00+01:00",
            "2026-11-27T18:30:00.5-0500",
            "2026-11-27 18:30",
            "2026-11-27",
            "2024-02-29T00:00:00",
        ] {
            assert!(is_timestamp(ok), "{ok}");
        }
        for bad in [
            "",
            "now",
            "2026-13-01T00:00:00",
            "2026-11-31T00:00:00",
            "2025-02-29T00:00:00",
            "2026-11-27T24:00:00",
            "2026-11-27T18:30:00+25:00",
            "2026-11-27X18:30:00",
            "27/11/2026",
            "2026-11-27T18:30:00.",
        ] {
            assert!(!is_timestamp(bad), "{bad}");
        }
        assert!(is_date("2026-11-27"));
        assert!(!is_date("2026-11-27T00:00:00") && !is_date("2026-1-5"));
    }

    #[test]
    fn decimal_casts_round_half_away_from_zero() {
        assert_eq!(cast_decimal2("3.19").as_deref(), Some("3.19"));
        assert_eq!(cast_decimal2("3").as_deref(), Some("3.00"));
        assert_eq!(
            cast_decimal2("53.519999999999996").as_deref(),
            Some("53.52")
        );
        assert_eq!(cast_decimal2("1.005").as_deref(), Some("1.01"));
        assert_eq!(cast_decimal2("-1.005").as_deref(), Some("-1.01"));
        assert_eq!(cast_decimal2("-0.004").as_deref(), Some("0.00"));
        assert_eq!(cast_decimal2("1.5e1").as_deref(), Some("15.00"));
        assert_eq!(cast_decimal2(".5").as_deref(), Some("0.50"));
        assert_eq!(cast_decimal2("99999999.99").as_deref(), Some("99999999.99"));
        assert_eq!(cast_decimal2("100000000"), None);
        assert_eq!(cast_decimal2("abc"), None);
        assert_eq!(cast_decimal2("1e999999999999"), None);
    }

    #[test]
    fn int_and_bool_casts() {
        assert_eq!(cast_int(" 12 "), Some(12));
        assert_eq!(cast_int("1.5"), None);
        assert_eq!(cast_int("99999999999"), None);
        assert_eq!(cast_bool("TRUE"), Some(true));
        assert_eq!(cast_bool("off"), Some(false));
        assert_eq!(cast_bool("maybe"), None);
    }
}
