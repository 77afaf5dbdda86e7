//! The contract's strings written straight onto the end of a `String`, with no intermediate
//! `String` and no `format!`: numbers (zero-padded as `{:06}` pads), JSON string escaping
//! byte for byte as serde_json escapes, and timestamps as chrono's `%Y-%m-%dT%H:%M:%S`.
//! Request bodies are built from these (a stress hour's bodies spent half their time in
//! `format` and `malloc` before).

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

/// `n` in decimal.
pub fn push_uint(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// `n` in decimal, zero-padded to at least `width` digits: `format!("{n:0width$}")`.
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// Two digits of `n < 100`.
fn two_digits(n: u32) -> [u8; 2] {
    [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]
}

/// The local time of `instant` to the second, without an offset:
/// `instant.format("%Y-%m-%dT%H:%M:%S")`.
pub fn push_local_timestamp(out: &mut String, instant: &DateTime<FixedOffset>) {
    let local = instant.naive_local();
    let year = local.year();
    // chrono signs a year outside 0..=9999 and writes a leap second as :60; both are left
    // to chrono itself (no trace gets there, but the bytes must be chrono's if one does).
    if !(0..=9999).contains(&year) || local.nanosecond() >= 1_000_000_000 {
        use std::fmt::Write;
        // Writing into a String cannot fail, nor can a format string without errors.
        let _ = write!(out, "{}", instant.format("%Y-%m-%dT%H:%M:%S"));
        return;
    }
    let year = year as u32;
    let [y1, y2] = two_digits(year / 100);
    let [y3, y4] = two_digits(year % 100);
    let [mo1, mo2] = two_digits(local.month());
    let [d1, d2] = two_digits(local.day());
    let [h1, h2] = two_digits(local.hour());
    let [mi1, mi2] = two_digits(local.minute());
    let [s1, s2] = two_digits(local.second());
    let text = [
        y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2,
    ];
    // Every byte is an ASCII digit or separator.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// What serde_json writes for a byte of a string: 0 = the byte itself, else the letter
/// after the backslash (`u` for `\u00XX`). The same table as serde_json's `ESCAPE`.
pub(crate) const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// True when `text` needs no escaping in a JSON string (the common case: ids and names).
pub fn is_json_plain(text: &str) -> bool {
    text.bytes().all(|b| ESCAPE[b as usize] == 0)
}

/// The contents of a JSON string (without its quotes), escaped as `serde_json` escapes.
pub fn push_json_str_contents(out: &mut String, text: &str) {
    // Nearly every string the contract sends has nothing to escape: one scan, one copy.
    let Some(first) = text.bytes().position(|b| ESCAPE[b as usize] != 0) else {
        out.push_str(text);
        return;
    };
    out.push_str(&text[..first]);
    let text = &text[first..];
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = ESCAPE[byte as usize];
        if escape == 0 {
            continue;
        }
        // Escaped bytes are ASCII, so `at` is a char boundary.
        out.push_str(&text[plain_from..at]);
        plain_from = at + 1;
        out.push('\\');
        out.push(escape as char);
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
    }
    out.push_str(&text[plain_from..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `text` as a JSON string, quotes included: what `serde_json::to_string(text)` must be.
    fn push_json_str(out: &mut String, text: &str) {
        out.push('"');
        push_json_str_contents(out, text);
        out.push('"');
    }

    fn rendered(f: impl FnOnce(&mut String)) -> String {
        // Appends: what is already there stays.
        let mut out = String::from("x");
        f(&mut out);
        assert_eq!(out.remove(0), 'x');
        out
    }

    #[test]
    fn numbers_as_format_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            42,
            99_999,
            999_999,
            1_000_000,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(rendered(|o| push_uint(o, n)), n.to_string());
            for width in [0, 1, 2, 5, 6] {
                assert_eq!(
                    rendered(|o| push_padded(o, n, width)),
                    format!("{n:0width$}")
                );
            }
        }
    }

    #[test]
    fn escaping_covers_every_special_byte() {
        let all_ascii: String = (0u8..128).map(char::from).collect();
        let text = format!("{all_ascii}é€😀\u{7f}\u{2028}");
        assert_eq!(
            rendered(|o| push_json_str(o, &text)),
            serde_json::to_string(&text).unwrap()
        );
        assert!(is_json_plain("order:LG-r1-000007 Ünïcode/'<>"));
        assert!(!is_json_plain("a\"b"));
        assert!(!is_json_plain("a\\b"));
        assert!(!is_json_plain("a\nb"));
    }

    #[test]
    fn timestamps_outside_four_digit_years_are_chronos() {
        let offset = FixedOffset::east_opt(-5 * 3600).unwrap();
        let utc = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&offset)
        };
        for instant in [
            utc("2026-01-05T09:00:00Z"),
            utc("0000-01-01T09:00:00Z"),
            utc("0000-01-01T01:00:00Z"), // local year -1
            utc("9999-12-31T23:59:59Z"),
            utc("1998-12-31T23:59:60Z"), // a leap second
            utc("9999-12-31T23:59:59Z") + chrono::Duration::days(1), // year 10000 in UTC
        ] {
            assert_eq!(
                rendered(|o| push_local_timestamp(o, &instant)),
                instant.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "{instant:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_string_escapes_as_serde_json_does(text in any::<String>()) {
            prop_assert_eq!(
                rendered(|o| push_json_str(o, &text)),
                serde_json::to_string(&text).unwrap()
            );
            prop_assert_eq!(is_json_plain(&text), serde_json::to_string(&text).unwrap() == format!("\"{text}\""));
        }

        #[test]
        fn any_instant_renders_as_chrono_formats_it(
            secs in -70_000_000_000i64..260_000_000_000,
            nanos in 0u32..2_000_000_000,
            offset in -86_399i32..86_400,
        ) {
            let offset = FixedOffset::east_opt(offset).unwrap();
            if let Some(utc) = DateTime::from_timestamp(secs, nanos) {
                let instant = utc.with_timezone(&offset);
                prop_assert_eq!(
                    rendered(|o| push_local_timestamp(o, &instant)),
                    instant.format("%Y-%m-%dT%H:%M:%S").to_string()
                );
            }
        }

        #[test]
        fn any_number_pads_as_format_does(n in any::<u64>(), width in 0usize..25) {
            prop_assert_eq!(rendered(|o| push_padded(o, n, width)), format!("{n:0width$}"));
        }
    }
}
