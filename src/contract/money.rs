//! Money: amounts are integer cents in loadgen and dollar decimals in the API (`"53.52"`,
//! a `float` triple or a JSON string in a read); both ways, never through a float on the way
//! out.

use super::text::{push_padded, push_uint};

/// Dollars with exactly two decimals, from cents: `5352` → `"53.52"`.
pub fn dollars(cents: u64) -> String {
    let mut out = String::with_capacity(8);
    push_dollars(&mut out, cents);
    out
}

/// [`dollars`], written onto the end of `out`.
pub fn push_dollars(out: &mut String, cents: u64) {
    push_uint(out, cents / 100);
    out.push('.');
    push_padded(out, cents % 100, 2);
}

/// Parses a price such as `5.99` into cents without going through a float.
pub fn parse_cents(text: &str) -> Option<u32> {
    let text = text.trim();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 {
        return None;
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: u32 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u32>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// An amount as a read returns it: a JSON string (`"3.19"`, the real API) or a number
/// (rounded to the cent; negative amounts read as 0).
pub fn json_cents(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::String(s) => parse_cents(s).map(u64::from),
        serde_json::Value::Number(n) => n.as_f64().map(|f| (f * 100.0).round() as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dollars_have_two_decimals() {
        assert_eq!(dollars(5352), "53.52");
        assert_eq!(dollars(5), "0.05");
        assert_eq!(dollars(100), "1.00");
        assert_eq!(dollars(0), "0.00");
    }

    #[test]
    fn dollars_are_what_format_wrote() {
        for cents in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            599,
            5352,
            123_456,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(
                dollars(cents),
                format!("{}.{:02}", cents / 100, cents % 100)
            );
        }
    }

    #[test]
    fn prices_parse_without_floats() {
        assert_eq!(parse_cents("5.99"), Some(599));
        assert_eq!(parse_cents("12"), Some(1200));
        assert_eq!(parse_cents("0.5"), Some(50));
        assert_eq!(parse_cents(" 3.19 "), Some(319));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(parse_cents(""), None);
        assert_eq!(parse_cents("-1.00"), None);
    }

    #[test]
    fn dollars_round_trip() {
        for cents in [0u32, 1, 9, 10, 99, 100, 599, 5352, 123_456, u32::MAX] {
            assert_eq!(parse_cents(&dollars(u64::from(cents))), Some(cents));
        }
    }

    #[test]
    fn amounts_read_as_strings_or_numbers() {
        assert_eq!(json_cents(&json!("23.76")), Some(2376));
        assert_eq!(json_cents(&json!(23.76)), Some(2376));
        assert_eq!(json_cents(&json!(12)), Some(1200));
        assert_eq!(json_cents(&json!("12.3x")), None);
        assert_eq!(json_cents(&json!(null)), None);
        assert_eq!(json_cents(&json!(true)), None);
    }
}
