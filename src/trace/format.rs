//! The byte layout shared by the writer and the reader: constants, the header, varints and
//! the errors a damaged file produces (each with its byte offset).

use serde::{Deserialize, Serialize};

use crate::profile::LoadProfile;
use crate::world::World;

pub const MAGIC: &[u8; 8] = b"LGTRACE\0";
pub const END_MAGIC: &[u8; 8] = b"LGTREND\0";
/// Bumped whenever the bytes a given seed produces change meaning (see the golden test).
pub const FORMAT_VERSION: u16 = 1;
pub const MAX_RECORD_LEN: u64 = 64 * 1024;
/// Ten years: far beyond any load test, small enough for calendar arithmetic and per-minute
/// series to stay sane.
pub const MAX_DURATION_MS: u64 = 10 * 366 * 24 * 3_600_000;
pub const MAX_HEADER_LEN: u32 = 256 * 1024 * 1024;
/// Bytes before the header: magic, version, header length.
pub const PREAMBLE_LEN: u64 = 14;

/// What a trace says about itself; enough to replay it anywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// `loadgen <version>` of the writer.
    pub generator: String,
    pub seed: u64,
    pub profile: LoadProfile,
    pub world: World,
    /// RFC 3339 instant of offset 0; its UTC offset fixes the time of day for peak hours.
    pub start: String,
    pub duration_ms: u64,
}

impl TraceHeader {
    pub fn start_instant(&self) -> Result<chrono::DateTime<chrono::FixedOffset>, TraceError> {
        chrono::DateTime::parse_from_rfc3339(&self.start).map_err(|e| TraceError::Corrupt {
            offset: PREAMBLE_LEN,
            reason: format!("header start `{}` is not RFC 3339: {e}", self.start),
        })
    }
}

/// Totals the footer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub count: u64,
    pub crc: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("I/O error at byte {offset}")]
    Io { offset: u64, source: std::io::Error },
    #[error("not a loadgen trace: bad magic bytes at offset 0 (found {found:02x?})")]
    NotATrace { found: Vec<u8> },
    #[error("trace format version {found} at byte 8, but this loadgen reads version {supported}")]
    Version { found: u16, supported: u16 },
    #[error("trace truncated at byte {offset}: expected {expected}")]
    Truncated { offset: u64, expected: &'static str },
    #[error("corrupt trace at byte {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error("trace checksum mismatch at byte {offset}: the records hash to {computed:08x}, the footer says {stored:08x}")]
    Checksum {
        offset: u64,
        computed: u32,
        stored: u32,
    },
    #[error("events must be written in time order: {at} ms after {previous} ms")]
    OutOfOrder { at: u64, previous: u64 },
    #[error("cannot encode the trace header: {0}")]
    Encode(String),
}

impl TraceError {
    /// The byte offset the error points at, where there is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            TraceError::Io { offset, .. }
            | TraceError::Truncated { offset, .. }
            | TraceError::Corrupt { offset, .. }
            | TraceError::Checksum { offset, .. } => Some(*offset),
            TraceError::NotATrace { .. } => Some(0),
            TraceError::Version { .. } => Some(8),
            TraceError::OutOfOrder { .. } | TraceError::Encode(_) => None,
        }
    }
}

/// Appends `value` as a LEB128 varint.
pub fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint from the front of `bytes`; returns it and the bytes it used.
pub fn take_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None; // more than 64 bits
        }
        value |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            push_varint(&mut buf, v);
            assert_eq!(take_varint(&buf), Some((v, buf.len())), "{v}");
        }
        assert_eq!(take_varint(&[0x80, 0x80]), None, "unterminated");
        assert_eq!(take_varint(&[0xff; 10]), None, "over 64 bits");
    }
}
