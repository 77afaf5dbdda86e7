//! Parsing of the human units the commands take: durations (`90m`, `24h`, `1h30m`, `500ms`),
//! replay speeds (`10x`, `0.5x`, `max`), percentages (`1%`, `0.01`), API base URLs and the
//! bounded counts (`--concurrency`); and the redaction of credentials in a URL. Each error says
//! why the value is refused and what is allowed (clap shows it and exits 2).

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    #[error(
        "invalid duration `{0}`: use a number with a unit, e.g. 90s, 30m, 2h, 1h30m, 7d, 250ms"
    )]
    Duration(String),
    #[error("invalid speed `{0}`: {1}")]
    Speed(String, &'static str),
    #[error("invalid rate `{0}`: use a percentage such as 1% or a fraction such as 0.01")]
    Rate(String),
    #[error("invalid duration `{0}`: {1}")]
    OutOfRange(String, String),
    #[error("invalid API URL `{0}`: {1}")]
    Url(String, String),
    #[error("invalid count `{0}`: {1}")]
    Count(String, String),
}

/// Longest run or simulation: ten years (the trace format's bound).
pub const MAX_RUN: Duration = Duration::from_millis(crate::trace::format::MAX_DURATION_MS);
/// Longest per-request timeout: a day (a longer one is a typo, and reqwest needs an instant it
/// can add it to).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Most events in flight at once (`--concurrency`, a profile's `concurrent_workflows`) and
/// reads in flight (`verify --parallel`): far above what one client machine can keep open.
pub const MAX_CONCURRENCY: usize = 100_000;

/// A run or simulation length: a duration of at most ten years (0 allowed: `start --duration
/// 0` runs until interrupted; `simulate` refuses it itself).
pub fn parse_run_duration(text: &str) -> Result<Duration, UnitError> {
    let d = parse_duration(text)?;
    if d > MAX_RUN {
        return Err(UnitError::OutOfRange(
            text.to_string(),
            "at most 10 years (3660d)".into(),
        ));
    }
    Ok(d)
}

/// A timeout: more than 0, at most a day.
pub fn parse_timeout(text: &str) -> Result<Duration, UnitError> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(UnitError::OutOfRange(
            text.to_string(),
            "a timeout must be more than 0 (e.g. 30s, 500ms)".into(),
        ));
    }
    if d > MAX_TIMEOUT {
        return Err(UnitError::OutOfRange(
            text.to_string(),
            "a timeout is at most 24h".into(),
        ));
    }
    Ok(d)
}

/// A count of things in flight: 1 to `MAX_CONCURRENCY`.
pub fn parse_concurrency(text: &str) -> Result<usize, UnitError> {
    let err = |why: String| UnitError::Count(text.to_string(), why);
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| err("use a whole number such as 10".into()))?;
    if n == 0 {
        return Err(err("at least 1 is needed to send anything".into()));
    }
    if n > MAX_CONCURRENCY {
        return Err(err(format!("at most {MAX_CONCURRENCY}")));
    }
    Ok(n)
}

/// An API base URL: `http://` or `https://`, a host, a valid port; user credentials allowed
/// (they are sent as basic auth and never shown: see `redact_url`). Returned as given, less a
/// trailing `/`.
pub fn parse_api_url(text: &str) -> Result<String, UnitError> {
    let shown = redact_url(text);
    let err = |why: String| UnitError::Url(shown.clone(), why);
    let url = reqwest::Url::parse(text.trim()).map_err(|e| match e {
        url_error
            if url_error
                .to_string()
                .contains("relative URL without a base") =>
        {
            err("give the scheme, e.g. http://localhost:8080".into())
        }
        other => err(other.to_string()),
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(err(format!(
                "the scheme is `{other}`; use http:// or https:// (e.g. http://localhost:8080)"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("a base URL has no query or fragment".into()));
    }
    Ok(text.trim().trim_end_matches('/').to_string())
}

/// `url` with the password of its user info (and a user name that is a token) replaced, for
/// every place a URL is printed, stored or put in an error: `http://[redacted]@host`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://[redacted]@{host}{path}"),
        None => url.to_string(),
    }
}

/// The credentials in `url`'s user info (user name and password, as written and decoded), for
/// the list of secrets that are redacted from anything printed.
pub fn url_credentials(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in userinfo.split(':').filter(|p| !p.is_empty()) {
        out.push(part.to_string());
        let decoded = percent_decode(part);
        if decoded != part {
            out.push(decoded);
        }
    }
    out.push(userinfo.to_string());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
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

/// `%40` → `@`; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// Fastest factor: beyond it, pacing is meaningless (a day in under 0.1 s).
pub const MAX_SPEED: f64 = 1e6;

pub fn parse_speed(text: &str) -> Result<Speed, UnitError> {
    let t = text.trim().to_ascii_lowercase();
    if t == "max" {
        return Ok(Speed::Max);
    }
    let number = t.strip_suffix('x').unwrap_or(&t);
    let err = |why| Err(UnitError::Speed(text.to_string(), why));
    match number.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= MAX_SPEED => Ok(Speed::Factor(x)),
        Ok(x) if x > MAX_SPEED => err("faster than 1000000x; use `max` to send without waiting"),
        Ok(x) if x.is_nan() => err("not a number; use a factor such as 1x, 10x, 0.5x, or `max`"),
        Ok(_) => err("a speed is more than 0x; use a factor such as 1x, 10x, 0.5x, or `max`"),
        Err(_) => {
            err("use a factor such as 1x, 10x, 0.5x (more than 0, at most 1000000x), or `max`")
        }
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
    fn speeds_say_why_they_are_refused() {
        let why = |t| parse_speed(t).unwrap_err().to_string();
        assert!(
            why("1e9x").contains("faster than 1000000x"),
            "{}",
            why("1e9x")
        );
        assert!(why("1e9x").contains("`max`"));
        assert!(why("0x").contains("more than 0x"), "{}", why("0x"));
        assert!(why("fast").contains("at most 1000000x"), "{}", why("fast"));
    }

    #[test]
    fn api_urls() {
        for good in [
            "http://localhost:8080",
            "https://api.example.com/",
            "http://u:p@h:1",
        ] {
            assert!(parse_api_url(good).is_ok(), "{good}");
        }
        assert_eq!(parse_api_url("http://h:1/").unwrap(), "http://h:1");
        for (bad, why) in [
            ("localhost:8080", "use http:// or https://"),
            ("api.example.com", "give the scheme"),
            ("ftp://h", "the scheme is `ftp`"),
            ("http://h:99999", "invalid port"),
            ("http://", "empty host"),
        ] {
            let err = parse_api_url(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = parse_api_url("ftp://me:hunter2@h").unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn credentials_are_redacted_from_urls() {
        assert_eq!(
            redact_url("http://user:s3cret@host:80/x"),
            "http://[redacted]@host:80/x"
        );
        assert_eq!(redact_url("http://host:80/a@b"), "http://host:80/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
        let secrets = url_credentials("http://user:p%40ss@host");
        assert!(secrets.contains(&"p%40ss".to_string()), "{secrets:?}");
        assert!(secrets.contains(&"p@ss".to_string()), "{secrets:?}");
        assert!(url_credentials("http://host/x").is_empty());
    }

    #[test]
    fn bounded_values() {
        assert_eq!(parse_concurrency("10"), Ok(10));
        assert!(parse_concurrency("0")
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        assert!(parse_concurrency("100001")
            .unwrap_err()
            .to_string()
            .contains("at most 100000"));
        assert!(parse_timeout("0")
            .unwrap_err()
            .to_string()
            .contains("more than 0"));
        assert!(parse_timeout("0s").is_err());
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_run_duration("99999d")
            .unwrap_err()
            .to_string()
            .contains("10 years"));
        assert_eq!(parse_run_duration("0"), Ok(Duration::ZERO));
        assert!(parse_run_duration("3650d").is_ok());
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("1%"), Ok(0.01));
        assert_eq!(parse_fraction("0.9"), Ok(0.9));
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("x").is_err());
    }
}
