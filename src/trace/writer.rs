//! Streaming trace writer: header first, then one record per event, then the footer.

use std::io::Write;

use super::format::{
    push_varint, Footer, TraceError, TraceHeader, END_MAGIC, FORMAT_VERSION, MAGIC,
};
use super::record_block::RecordBlock;
use crate::event::Event;

pub struct TraceWriter<W: Write> {
    out: W,
    /// The records not yet hashed, and the CRC of the ones before.
    crc: RecordBlock,
    count: u64,
    last_at: u64,
    bytes: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the preamble and header.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<TraceWriter<W>, TraceError> {
        let body = postcard::to_stdvec(header).map_err(|e| TraceError::Encode(e.to_string()))?;
        let io = |source| TraceError::Io { offset: 0, source };
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
        out.write_all(&(body.len() as u32).to_le_bytes())
            .map_err(io)?;
        out.write_all(&body).map_err(io)?;
        out.write_all(&crc32fast::hash(&body).to_le_bytes())
            .map_err(io)?;
        Ok(TraceWriter {
            out,
            crc: RecordBlock::default(),
            count: 0,
            last_at: 0,
            bytes: 8 + 2 + 4 + body.len() as u64 + 4,
        })
    }

    /// Appends one event; events must come in time order.
    pub fn write(&mut self, event: &Event) -> Result<(), TraceError> {
        let at = event.at.as_ms();
        if at < self.last_at {
            return Err(TraceError::OutOfOrder {
                at,
                previous: self.last_at,
            });
        }
        let record = self.crc.push(at - self.last_at, &event.action);
        self.out
            .write_all(record)
            .map_err(|source| TraceError::Io {
                offset: self.bytes,
                source,
            })?;
        self.bytes += record.len() as u64;
        self.last_at = at;
        self.count += 1;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes the footer and flushes; returns the footer, the file's total size and the writer.
    pub fn finish(mut self) -> Result<(Footer, u64, W), TraceError> {
        let footer = Footer {
            count: self.count,
            crc: self.crc.clone().finalize(),
        };
        let mut tail = Vec::with_capacity(21);
        push_varint(&mut tail, 0);
        tail.extend_from_slice(&footer.count.to_le_bytes());
        tail.extend_from_slice(&footer.crc.to_le_bytes());
        tail.extend_from_slice(END_MAGIC);
        let offset = self.bytes;
        let io = |source| TraceError::Io { offset, source };
        self.out.write_all(&tail).map_err(io)?;
        self.out.flush().map_err(io)?;
        Ok((footer, offset + tail.len() as u64, self.out))
    }
}
