//! The byte layout shared by the writer and the reader: constants, the header, varints and
//! the errors a damaged file produces (each with its byte offset).

use serde::{Deserialize, Serialize};

use crate::profile::LoadProfile;
use crate::world::World;

pub const MAGIC: &[u8; 8] = b"LGTRACE\0";
pub const END_MAGIC: &[u8; 8] = b"LGTREND\0";
/// Bumped whenever the bytes a given seed produces change meaning (see the golden test).
/// Version 2: the built-in world is referenced by its hash, and the footer carries the span
/// the trace covers (so a recording of an open-ended run is written in one pass).
pub const FORMAT_VERSION: u16 = 2;
pub const MAX_RECORD_LEN: u64 = 64 * 1024;
/// Ten years: far beyond any load test, small enough for calendar arithmetic and per-minute
/// series to stay sane.
pub const MAX_DURATION_MS: u64 = 10 * 366 * 24 * 3_600_000;
pub const MAX_HEADER_LEN: u32 = 256 * 1024 * 1024;
/// Bytes before the header: magic, version, header length.
pub const PREAMBLE_LEN: u64 = 14;
/// Bytes after the end marker: count, duration, checksum, end magic.
pub const FOOTER_LEN: u64 = 8 + 8 + 4 + 8;

/// What a trace says about itself; enough to replay it anywhere.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceHeader {
    /// `loadgen <version>` of the writer.
    pub generator: String,
    pub seed: u64,
    pub profile: LoadProfile,
    pub world: World,
    /// RFC 3339 instant of offset 0; its UTC offset fixes the time of day for peak hours.
    pub start: String,
    /// The span the trace covers: every event lies before it. 0 when writing means open-ended
    /// (a live recording): the footer then says how far the run got. A reader reports the
    /// footer's span where it can see it (a regular file), else an upper bound until the
    /// footer has been read.
    pub duration_ms: u64,
}

/// How a header carries its world: the built-in one by name and content hash (it is 220 KB),
/// any other embedded whole.
#[derive(Serialize, Deserialize)]
enum WorldOnWire {
    Builtin { name: String, sha256: [u8; 32] },
    Embedded(World),
}

/// The header as encoded.
#[derive(Serialize, Deserialize)]
struct WireHeader {
    generator: String,
    seed: u64,
    profile: LoadProfile,
    world: WorldOnWire,
    start: String,
    duration_ms: u64,
}

impl TraceHeader {
    pub fn start_instant(&self) -> Result<chrono::DateTime<chrono::FixedOffset>, TraceError> {
        chrono::DateTime::parse_from_rfc3339(&self.start).map_err(|e| TraceError::Corrupt {
            offset: PREAMBLE_LEN,
            reason: format!("header start `{}` is not RFC 3339: {e}", self.start),
        })
    }

    /// The header's bytes: the built-in world becomes a reference.
    pub fn encode(&self) -> Result<Vec<u8>, TraceError> {
        let world = if self.world == *crate::world::builtin_world_ref() {
            WorldOnWire::Builtin {
                name: self.world.name.clone(),
                sha256: crate::world::builtin_world_sha256(),
            }
        } else {
            WorldOnWire::Embedded(self.world.clone())
        };
        let wire = WireHeader {
            generator: self.generator.clone(),
            seed: self.seed,
            profile: self.profile.clone(),
            world,
            start: self.start.clone(),
            duration_ms: self.duration_ms,
        };
        postcard::to_stdvec(&wire).map_err(|e| TraceError::Encode(e.to_string()))
    }

    /// Decodes a header's bytes, resolving a reference to the built-in world.
    pub fn decode(bytes: &[u8]) -> Result<TraceHeader, TraceError> {
        let corrupt = |reason: String| TraceError::Corrupt {
            offset: PREAMBLE_LEN,
            reason,
        };
        let wire: WireHeader = postcard::from_bytes(bytes)
            .map_err(|e| corrupt(format!("header does not decode: {e}")))?;
        let world = match wire.world {
            WorldOnWire::Embedded(world) => world,
            WorldOnWire::Builtin { name, sha256 } => {
                let ours = crate::world::builtin_world_sha256();
                if name != crate::world::BUILTIN_WORLD_NAME || sha256 != ours {
                    return Err(TraceError::UnknownWorld {
                        name,
                        theirs: hex(&sha256),
                        ours: hex(&ours),
                    });
                }
                crate::world::builtin_world()
            }
        };
        Ok(TraceHeader {
            generator: wire.generator,
            seed: wire.seed,
            profile: wire.profile,
            world,
            start: wire.start,
            duration_ms: wire.duration_ms,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Totals the footer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub count: u64,
    /// The span the trace covers: the header's duration, or less for a run cut short.
    pub duration_ms: u64,
    /// CRC-32 of every record byte, then of the duration's 8 bytes.
    pub crc: u32,
}

impl Footer {
    /// The footer's bytes after the end marker.
    pub fn encode(&self) -> [u8; FOOTER_LEN as usize] {
        let mut out = [0u8; FOOTER_LEN as usize];
        out[..8].copy_from_slice(&self.count.to_le_bytes());
        out[8..16].copy_from_slice(&self.duration_ms.to_le_bytes());
        out[16..20].copy_from_slice(&self.crc.to_le_bytes());
        out[20..].copy_from_slice(END_MAGIC);
        out
    }

    /// Splits footer bytes into the footer and whether the end magic is right.
    pub fn decode(bytes: &[u8; FOOTER_LEN as usize]) -> (Footer, bool) {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let footer = Footer {
            count: u64_at(0),
            duration_ms: u64_at(8),
            crc: u32::from_le_bytes(bytes[16..20].try_into().unwrap_or([0; 4])),
        };
        (footer, &bytes[20..] == END_MAGIC)
    }
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
    #[error("event at {at} ms lies past the trace's duration of {duration_ms} ms")]
    PastDuration { at: u64, duration_ms: u64 },
    #[error("the trace names built-in world `{name}` with SHA-256 {theirs}, but this loadgen's built-in world is {ours}: replay it with the loadgen version that wrote it, or simulate it again with --world")]
    UnknownWorld {
        name: String,
        theirs: String,
        ours: String,
    },
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
            TraceError::UnknownWorld { .. } => Some(PREAMBLE_LEN),
            TraceError::OutOfOrder { .. }
            | TraceError::Encode(_)
            | TraceError::PastDuration { .. } => None,
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
