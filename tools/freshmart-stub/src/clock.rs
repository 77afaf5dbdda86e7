//! Wall-clock timestamps in microseconds, serialised as the API prints them
//! (`2026-11-27T18:30:00.123456Z`).

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat};
use serde::{Serialize, Serializer};

/// Microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Timestamp(micros)
    }

    /// RFC 3339 in UTC with microseconds.
    pub fn to_rfc3339(self) -> String {
        DateTime::from_timestamp_micros(self.0)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
            .unwrap_or_default()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_utc_with_microseconds() {
        assert_eq!(
            Timestamp(1_795_804_200_123_456).to_rfc3339(),
            "2026-11-27T18:30:00.123456Z"
        );
    }
}
