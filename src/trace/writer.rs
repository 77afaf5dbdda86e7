//! Streaming trace writer: header first, then one record per event, then the footer. The
//! writer owns the trace's invariants (time order, every event inside the duration), so what it
//! finishes always reads back, and a live recording is written in one pass.

use std::io::Write;

use super::format::{push_varint, Footer, TraceError, TraceHeader, FORMAT_VERSION, MAGIC};
use super::record_block::RecordBlock;
use crate::event::Event;

pub struct TraceWriter<W: Write> {
    out: W,
    /// The records not yet written out and hashed, and the CRC of the ones before.
    block: RecordBlock,
    count: u64,
    last_at: u64,
    bytes: u64,
    /// The header's duration; 0 for an open-ended trace.
    duration_ms: u64,
    /// Events must lie before this (`limit_ms`), worked out once instead of at every event.
    limit_ms: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the preamble and header.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<TraceWriter<W>, TraceError> {
        let body = header.encode()?;
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
            block: RecordBlock::default(),
            count: 0,
            last_at: 0,
            bytes: 8 + 2 + 4 + body.len() as u64 + 4,
            duration_ms: header.duration_ms,
            limit_ms: match header.duration_ms {
                0 => super::format::MAX_DURATION_MS,
                planned => planned,
            },
        })
    }

    /// Appends one event; events must come in time order.
    #[inline]
    pub fn write(&mut self, event: &Event) -> Result<(), TraceError> {
        let at = event.at.as_ms();
        if at < self.last_at {
            return Err(TraceError::OutOfOrder {
                at,
                previous: self.last_at,
            });
        }
        if at >= self.limit_ms() {
            return Err(TraceError::PastDuration {
                at,
                duration_ms: self.limit_ms(),
            });
        }
        let record = self.block.push(at - self.last_at, &event.action);
        self.bytes += record.len() as u64;
        self.last_at = at;
        self.count += 1;
        if self.block.is_full() {
            self.write_block()?;
        }
        Ok(())
    }

    /// Writes out the records of the current block and starts the next.
    fn write_block(&mut self) -> Result<(), TraceError> {
        let records = self.block.filled();
        let offset = self.bytes - records.len() as u64;
        self.out
            .write_all(records)
            .map_err(|source| TraceError::Io { offset, source })?;
        self.block.next_block();
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Bytes of the trace so far (the last block's records are written out by `finish`).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes the footer and flushes; the trace covers the header's duration (an open-ended
    /// one ends just after its last event). Returns the footer, the file's size and the writer.
    pub fn finish(self) -> Result<(Footer, u64, W), TraceError> {
        let covered = match self.duration_ms {
            0 => self.end_of_events(),
            planned => planned,
        };
        self.finish_at(covered)
    }

    /// Events must lie before this: the header's duration, or the format's limit.
    fn limit_ms(&self) -> u64 {
        self.limit_ms
    }

    /// The least duration that covers every event written.
    pub fn end_of_events(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.last_at + 1
        }
    }

    /// Writes the footer of a trace that covers `duration_ms`: a run cut short covers less
    /// than its header's duration, never less than its events.
    pub fn finish_at(mut self, duration_ms: u64) -> Result<(Footer, u64, W), TraceError> {
        if duration_ms < self.end_of_events() {
            return Err(TraceError::PastDuration {
                at: self.last_at,
                duration_ms,
            });
        }
        if duration_ms > self.limit_ms() {
            return Err(TraceError::Encode(format!(
                "a trace limited to {} ms cannot cover {duration_ms} ms",
                self.limit_ms()
            )));
        }
        self.write_block()?;
        let mut crc = std::mem::take(&mut self.block);
        crc.update(&duration_ms.to_le_bytes());
        let footer = Footer {
            count: self.count,
            duration_ms,
            crc: crc.finalize(),
        };
        let mut tail = Vec::with_capacity(1 + super::format::FOOTER_LEN as usize);
        push_varint(&mut tail, 0);
        tail.extend_from_slice(&footer.encode());
        let offset = self.bytes;
        let io = |source| TraceError::Io { offset, source };
        self.out.write_all(&tail).map_err(io)?;
        self.out.flush().map_err(io)?;
        Ok((footer, offset + tail.len() as u64, self.out))
    }
}
