//! The trace file: a versioned, checksummed, streaming container of simulation events, plus
//! what is computed from it without sending anything (`summary`, `export`).
//!
//! Layout (all integers little-endian unless varint):
//! ```text
//! offset 0   magic      8 bytes  "LGTRACE\0"
//!        8   version    u16      FORMAT_VERSION (2)
//!        10  hdr_len    u32      length of the header
//!        14  header     postcard(WireHeader): generator, seed, profile, world, start,
//!                                duration_ms (0: open-ended, the footer says where it ended);
//!                                the world is `Builtin { name, sha256 }` for the built-in
//!                                world, `Embedded(World)` for any other
//!            hdr_crc    u32      CRC-32 of the header bytes
//!            records    repeated: varint len (> 0), then len bytes:
//!                                varint delta_ms (time since the previous record), postcard(Action)
//!            end        varint 0
//!            count      u64      number of records
//!            duration   u64      span the trace covers: every event lies before it
//!            crc        u32      CRC-32 of every record byte (length prefixes included), then
//!                                of the duration's 8 bytes
//!            end magic  8 bytes  "LGTREND\0"
//! ```
//! Varints are LEB128 (postcard's). Readers never trust a length: records are capped at
//! `MAX_RECORD_LEN` and the header at `MAX_HEADER_LEN`.

mod encode;
pub mod export;
pub mod format;
pub mod input;
pub mod reader;
mod record_block;
pub mod summary;
pub mod summary_text;
pub mod writer;

pub use format::{TraceError, TraceHeader, FORMAT_VERSION};
pub use reader::TraceReader;
pub use writer::TraceWriter;
