//! Parsing of the human units the commands take: durations (`90m`, `24h`, `1h30m`, `500ms`),
//! replay speeds (`10x`, `0.5x`, `max`) and percentages (`1%`, `0.01`).

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    #[error(
        "invalid duration `{0}`: use a number with a unit, e.g. 90s, 30m, 2h, 1h30m, 7d, 250ms"
    )]
    Duration(String),
    #[error("invalid speed `{0}`: use a positive factor such as 1x, 10x, 0.5x, or `max`")]
    Speed(String),
    #[error("invalid rate `{0}`: use a percentage such as 1% or a fraction such as 0.01")]
    Rate(String),
}

/// Parses `90m`, `24h`, `1h30m`, `45s`, `250ms`, `7d`; a bare number means minutes, as the
/// Python tool's `--duration` did.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let err = || UnitError::Duration(text.to_string());
    let t = text.trim();
    if t.is_empty() {
        return Err(err());
    }
    if let Ok(minutes) = t.parse::<u64>() {
        return minutes
            .checked_mul(60_000)
            .map(Duration::from_millis)
            .ok_or_else(err);
    }
    let mut total_ms: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let value: f64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ms = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        let ms = value * unit_ms;
        if !ms.is_finite() || ms > 1e15 {
            return Err(err());
        }
        total_ms = total_ms.checked_add(ms.round() as u64).ok_or_else(err)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// How fast a trace is replayed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// Trace time divided by this factor.
    Factor(f64),
    /// No waiting: each event goes out as soon as ordering and concurrency allow.
    Max,
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Factor(x) => write!(f, "{x}x"),
            Speed::Max => f.write_str("max"),
        }
    }
}

pub fn parse_speed(text: &str) -> Result<Speed, UnitError> {
    let t = text.trim().to_ascii_lowercase();
    if t == "max" {
        return Ok(Speed::Max);
    }
    let number = t.strip_suffix('x').unwrap_or(&t);
    match number.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1e6 => Ok(Speed::Factor(x)),
        _ => Err(UnitError::Speed(text.to_string())),
    }
}

/// Parses `1%` or `0.01` into a fraction in [0, 1].
pub fn parse_fraction(text: &str) -> Result<f64, UnitError> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(UnitError::Rate(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table = [
            ("24h", 86_400_000),
            ("90m", 5_400_000),
            ("1h30m", 5_400_000),
            ("45s", 45_000),
            ("250ms", 250),
            ("7d", 604_800_000),
            ("30", 1_800_000),
            ("1.5h", 5_400_000),
        ];
        for (text, ms) in table {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "h", "10y", "-5m", "m5", "1.2.3h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("10x"), Ok(Speed::Factor(10.0)));
        assert_eq!(parse_speed("0.5x"), Ok(Speed::Factor(0.5)));
        assert_eq!(parse_speed("2"), Ok(Speed::Factor(2.0)));
        assert_eq!(parse_speed("MAX"), Ok(Speed::Max));
        for bad in ["0x", "-1x", "fast", "infx", "NaNx"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("1%"), Ok(0.01));
        assert_eq!(parse_fraction("0.9"), Ok(0.9));
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("x").is_err());
    }
}
