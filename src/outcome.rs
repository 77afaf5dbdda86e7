//! Typed outcomes: the closed set of ways an event can fail (`FailureKind`), whose `Display`
//! is the key reports and the console use, and how each kind is counted (a failure, an unknown
//! outcome, an interruption, or an event blocked by an earlier failure).

use std::fmt;

/// Why an event (or one attempt of one of its requests) did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The API answered with an error status; `error_type` is the API's validation error
    /// type (`detail.errors[0].error_type`) when the body names one.
    Http {
        status: u16,
        error_type: Option<String>,
    },
    /// No answer within `--timeout`: the request may still have been applied by the server,
    /// so the outcome is unknown (`verify` tells what reached it).
    Timeout,
    /// No connection could be made (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake failed (untrusted or invalid certificate, protocol error).
    Tls,
    /// The connection broke after it was made (reset, closed mid-answer).
    Connection,
    /// An answer that could not be read (a broken or undecodable body).
    BadResponse,
    /// Still in flight when the drain after a stop ran out.
    Interrupted,
    /// Not sent because an earlier event it depends on failed: one of the same entity, or the
    /// creation of the customer whose order it is.
    Blocked,
}

/// How a failed event counts in the run's accounting (the classes are disjoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The server refused or the request never reached it.
    Failed,
    /// Sent, but no answer: it may or may not have been applied.
    UnknownOutcome,
    Interrupted,
    Blocked,
}

impl FailureKind {
    pub fn http(status: u16) -> FailureKind {
        FailureKind::Http {
            status,
            error_type: None,
        }
    }

    /// The kind of an HTTP error answer, naming the API's `error_type` when the body has one.
    pub fn of_status(status: u16, body: &str) -> FailureKind {
        let error_type = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.pointer("/detail/errors/0/error_type")
                    .and_then(|t| t.as_str())
                    .map(String::from)
            });
        FailureKind::Http { status, error_type }
    }

    pub fn class(&self) -> Class {
        match self {
            FailureKind::Timeout => Class::UnknownOutcome,
            FailureKind::Interrupted => Class::Interrupted,
            FailureKind::Blocked => Class::Blocked,
            _ => Class::Failed,
        }
    }

    /// Worth another attempt: timeouts, connection trouble and 5xx, never 4xx (a TLS failure
    /// is retried too: a handshake can fail transiently, and a bad certificate stays bad).
    pub fn is_transient(&self) -> bool {
        match self {
            FailureKind::Http { status, .. } => *status >= 500,
            FailureKind::Interrupted | FailureKind::Blocked => false,
            _ => true,
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Http {
                status,
                error_type: Some(t),
            } => write!(f, "http_{status}:{t}"),
            FailureKind::Http { status, .. } => write!(f, "http_{status}"),
            FailureKind::Timeout => f.write_str("timeout"),
            FailureKind::Connect => f.write_str("connect"),
            FailureKind::Tls => f.write_str("tls"),
            FailureKind::Connection => f.write_str("connection"),
            FailureKind::BadResponse => f.write_str("bad_response"),
            FailureKind::Interrupted => f.write_str("interrupted"),
            FailureKind::Blocked => f.write_str("blocked_by_earlier_failure"),
        }
    }
}

/// Reads a kind back from its report key (saved measurements of a resumed run).
impl std::str::FromStr for FailureKind {
    type Err = String;

    fn from_str(key: &str) -> Result<FailureKind, String> {
        Ok(match key {
            "timeout" => FailureKind::Timeout,
            "connect" => FailureKind::Connect,
            "tls" => FailureKind::Tls,
            "connection" => FailureKind::Connection,
            "bad_response" => FailureKind::BadResponse,
            "interrupted" => FailureKind::Interrupted,
            "blocked_by_earlier_failure" => FailureKind::Blocked,
            _ => {
                let http = key
                    .strip_prefix("http_")
                    .ok_or_else(|| format!("`{key}` is not a failure kind"))?;
                let (status, error_type) = match http.split_once(':') {
                    Some((status, t)) => (status, Some(t.to_string())),
                    None => (http, None),
                };
                let status = status
                    .parse()
                    .map_err(|_| format!("`{key}` is not a failure kind"))?;
                FailureKind::Http { status, error_type }
            }
        })
    }
}

impl serde::Serialize for FailureKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One retry and why it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryCause {
    pub kind: FailureKind,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_report_keys() {
        let body = r#"{"detail":{"message":"Triple validation failed","errors":[{"error_type":"unknown_predicate","message":"x","predicate":"foo"}]}}"#;
        assert_eq!(
            FailureKind::of_status(400, body).to_string(),
            "http_400:unknown_predicate"
        );
        assert_eq!(
            FailureKind::of_status(422, r#"{"detail":[{"loc":["body"]}]}"#),
            FailureKind::http(422)
        );
        assert_eq!(
            FailureKind::of_status(503, "not json").to_string(),
            "http_503"
        );
        let keys: Vec<String> = [
            FailureKind::Timeout,
            FailureKind::Connect,
            FailureKind::Tls,
            FailureKind::Connection,
            FailureKind::BadResponse,
            FailureKind::Interrupted,
            FailureKind::Blocked,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            keys,
            [
                "timeout",
                "connect",
                "tls",
                "connection",
                "bad_response",
                "interrupted",
                "blocked_by_earlier_failure"
            ]
        );
        assert_eq!(
            serde_json::to_string(&FailureKind::http(503)).unwrap(),
            "\"http_503\""
        );
        for key in keys
            .iter()
            .map(String::as_str)
            .chain(["http_503", "http_400:unknown_predicate"])
        {
            assert_eq!(key.parse::<FailureKind>().unwrap().to_string(), key);
        }
        assert!("http_x".parse::<FailureKind>().is_err());
        assert!("teapot".parse::<FailureKind>().is_err());
    }

    #[test]
    fn classes_and_retries() {
        assert_eq!(FailureKind::Timeout.class(), Class::UnknownOutcome);
        assert_eq!(FailureKind::http(500).class(), Class::Failed);
        assert_eq!(FailureKind::Blocked.class(), Class::Blocked);
        assert!(FailureKind::http(503).is_transient());
        assert!(!FailureKind::http(404).is_transient());
        assert!(FailureKind::Timeout.is_transient());
        assert!(!FailureKind::Interrupted.is_transient());
    }
}
