//! Artificial service latency: none, fixed, uniform over a range or exponential around a mean,
//! written `0`, `5ms`, `fixed:5ms`, `uniform:1ms..20ms`, `exp:10ms`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long the stub waits before answering a request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Latency {
    /// Answer at once.
    #[default]
    None,
    /// Always this long.
    Fixed(Duration),
    /// Uniformly distributed between the two bounds (inclusive).
    Uniform(Duration, Duration),
    /// Exponentially distributed with this mean.
    Exp(Duration),
}

impl Latency {
    /// The delay for a uniform draw `u` in `[0, 1)`; `None` when there is nothing to wait.
    pub fn sample(&self, u: f64) -> Option<Duration> {
        let delay = match *self {
            Latency::None => return None,
            Latency::Fixed(d) => d,
            Latency::Uniform(low, high) => low + (high - low).mul_f64(u.clamp(0.0, 1.0)),
            Latency::Exp(mean) => {
                let factor = -(1.0 - u.clamp(0.0, 1.0)).max(f64::MIN_POSITIVE).ln();
                let factor = if factor > 0.0 { factor.min(1e6) } else { 0.0 };
                Duration::try_from_secs_f64(mean.as_secs_f64() * factor).unwrap_or(Duration::MAX)
            }
        };
        (!delay.is_zero()).then_some(delay)
    }

    /// Whether requests are answered without an added delay.
    pub fn is_none(&self) -> bool {
        match *self {
            Latency::None => true,
            Latency::Fixed(d) | Latency::Exp(d) => d.is_zero(),
            Latency::Uniform(low, high) => low.is_zero() && high.is_zero(),
        }
    }
}

/// A latency that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLatencyError(String);

impl fmt::Display for ParseLatencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid latency {:?}: expected 0, none, 5ms, fixed:5ms, uniform:1ms..20ms or exp:10ms",
            self.0
        )
    }
}

impl std::error::Error for ParseLatencyError {}

impl FromStr for Latency {
    type Err = ParseLatencyError;

    fn from_str(s: &str) -> Result<Latency, ParseLatencyError> {
        let error = || ParseLatencyError(s.to_owned());
        let text = s.trim();
        if text.is_empty() || text == "0" || text.eq_ignore_ascii_case("none") {
            return Ok(Latency::None);
        }
        let (kind, spec) = text.split_once(':').unwrap_or(("fixed", text));
        match kind.to_ascii_lowercase().as_str() {
            "fixed" => parse_duration(spec).map(Latency::Fixed).ok_or_else(error),
            "exp" => parse_duration(spec).map(Latency::Exp).ok_or_else(error),
            "uniform" => {
                let (low, high) = spec.split_once("..").ok_or_else(error)?;
                let (low, high) = (
                    parse_duration(low).ok_or_else(error)?,
                    parse_duration(high).ok_or_else(error)?,
                );
                if low > high {
                    return Err(error());
                }
                Ok(Latency::Uniform(low, high))
            }
            _ => Err(error()),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::None => f.write_str("none"),
            Latency::Fixed(d) => write!(f, "fixed:{}", format_duration(*d)),
            Latency::Uniform(low, high) => {
                write!(
                    f,
                    "uniform:{}..{}",
                    format_duration(*low),
                    format_duration(*high)
                )
            }
            Latency::Exp(d) => write!(f, "exp:{}", format_duration(*d)),
        }
    }
}

/// `250us`, `5ms`, `1.5s`, `0`: a number and a unit (`us`, `ms`, `s`); a bare `0` is zero.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let split = text.find(|c: char| c.is_ascii_alphabetic() || c == 'µ')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let seconds = match unit {
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        _ => return None,
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

fn format_duration(d: Duration) -> String {
    let whole_millis = u64::try_from(d.as_millis())
        .ok()
        .filter(|ms| Duration::from_millis(*ms) == d);
    if let Some(ms) = whole_millis {
        format!("{ms}ms")
    } else {
        format!("{}us", d.as_micros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_every_form() {
        assert_eq!("0".parse(), Ok(Latency::None));
        assert_eq!("none".parse(), Ok(Latency::None));
        assert_eq!("5ms".parse(), Ok(Latency::Fixed(ms(5))));
        assert_eq!("fixed:5ms".parse(), Ok(Latency::Fixed(ms(5))));
        assert_eq!(
            "uniform:1ms..20ms".parse(),
            Ok(Latency::Uniform(ms(1), ms(20)))
        );
        assert_eq!("exp:10ms".parse(), Ok(Latency::Exp(ms(10))));
        assert_eq!(
            "250us".parse(),
            Ok(Latency::Fixed(Duration::from_micros(250)))
        );
        assert_eq!("1.5s".parse(), Ok(Latency::Fixed(ms(1500))));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "5",
            "5 parsecs",
            "fixed:",
            "uniform:5ms",
            "uniform:20ms..1ms",
            "exp:-1ms",
            "gauss:5ms",
        ] {
            assert!(bad.parse::<Latency>().is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "none",
            "fixed:5ms",
            "uniform:1ms..20ms",
            "exp:10ms",
            "fixed:250us",
        ] {
            let latency: Latency = text.parse().unwrap();
            assert_eq!(latency.to_string(), text);
        }
    }

    #[test]
    fn samples_stay_in_range() {
        let uniform = Latency::Uniform(ms(1), ms(20));
        assert_eq!(uniform.sample(0.0), Some(ms(1)));
        assert_eq!(uniform.sample(1.0), Some(ms(20)));
        let exp = Latency::Exp(ms(10));
        assert_eq!(exp.sample(0.0), None);
        let median = exp.sample(0.5).unwrap();
        assert!(median > ms(6) && median < ms(7), "{median:?}");
        assert_eq!(Latency::None.sample(0.3), None);
        assert_eq!(Latency::Fixed(ms(3)).sample(0.9), Some(ms(3)));
    }
}
