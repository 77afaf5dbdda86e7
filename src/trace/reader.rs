//! Streaming trace reader: validates the preamble and header, yields events one at a time,
//! and checks the footer (count, checksum, end magic, nothing after it). Every failure carries
//! the byte offset where it was found; no input makes it panic or allocate without bound.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use super::format::{
    push_varint, take_varint, Footer, TraceError, TraceHeader, FOOTER_LEN, FORMAT_VERSION, MAGIC,
    MAX_DURATION_MS, MAX_HEADER_LEN, MAX_RECORD_LEN, PREAMBLE_LEN,
};
use crate::event::{Action, Event};
use crate::time::SimTime;

pub struct TraceReader<R: Read> {
    src: Source<R>,
    header: TraceHeader,
    /// Events lie before this: the header's duration, or the format's limit for an open-ended
    /// trace (whose footer says where it ended).
    bound_ms: u64,
    at_ms: u64,
    count: u64,
    crc: crc32fast::Hasher,
    buf: Vec<u8>,
    footer: Option<Footer>,
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file. A regular file's footer is peeked first, so that the header reports
    /// the span the trace covers before the events are read (a live recording's header does not
    /// know it); the footer is still checked in full when the reader gets there.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let mut file = File::open(path).map_err(|source| TraceError::Io { offset: 0, source })?;
        let covered = peek_footer(&mut file);
        let mut reader = TraceReader::new(BufReader::with_capacity(256 * 1024, file))?;
        if let Some(footer) = covered.filter(|f| f.duration_ms <= reader.bound_ms) {
            reader.header.duration_ms = footer.duration_ms;
        }
        Ok(reader)
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads and checks the preamble and header.
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut preamble = [0u8; PREAMBLE_LEN as usize];
        let got = read_up_to(&mut input, &mut preamble, 0)?;
        if got < MAGIC.len() || &preamble[..8] != MAGIC {
            // A short file that is a prefix of the magic is a truncated trace, not a foreign one.
            if got < MAGIC.len() && preamble[..got] == MAGIC[..got] {
                return Err(TraceError::Truncated {
                    offset: got as u64,
                    expected: "the magic bytes",
                });
            }
            return Err(TraceError::NotATrace {
                found: preamble[..got.min(8)].to_vec(),
            });
        }
        if got < 10 {
            return Err(TraceError::Truncated {
                offset: got as u64,
                expected: "the format version",
            });
        }
        let version = u16::from_le_bytes([preamble[8], preamble[9]]);
        if version != FORMAT_VERSION {
            return Err(TraceError::Version {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if got < PREAMBLE_LEN as usize {
            return Err(TraceError::Truncated {
                offset: got as u64,
                expected: "the header length",
            });
        }
        let header_len =
            u32::from_le_bytes([preamble[10], preamble[11], preamble[12], preamble[13]]);
        if header_len > MAX_HEADER_LEN {
            return Err(TraceError::Corrupt {
                offset: 10,
                reason: format!("header length {header_len} exceeds the limit of {MAX_HEADER_LEN}"),
            });
        }
        let mut src = Source {
            input,
            offset: PREAMBLE_LEN,
        };
        let body = src.read_exact_vec(header_len as usize, "the header")?;
        let crc = src.read_array::<4>("the header checksum")?;
        if crc32fast::hash(&body) != u32::from_le_bytes(crc) {
            return Err(TraceError::Corrupt {
                offset: PREAMBLE_LEN,
                reason: "header checksum mismatch".into(),
            });
        }
        let mut header = TraceHeader::decode(&body)?;
        header.start_instant()?;
        if header.duration_ms > MAX_DURATION_MS {
            return Err(TraceError::Corrupt {
                offset: PREAMBLE_LEN,
                reason: format!(
                    "duration of {} ms exceeds the limit of {MAX_DURATION_MS} ms",
                    header.duration_ms
                ),
            });
        }
        header.world.validate().map_err(|e| TraceError::Corrupt {
            offset: PREAMBLE_LEN,
            reason: e.to_string(),
        })?;
        let bound_ms = match header.duration_ms {
            0 => MAX_DURATION_MS,
            planned => planned,
        };
        // Until the footer is read, an open-ended trace reports the most it can cover.
        header.duration_ms = bound_ms;
        Ok(TraceReader {
            src,
            header,
            bound_ms,
            at_ms: 0,
            count: 0,
            crc: crc32fast::Hasher::new(),
            buf: Vec::new(),
            footer: None,
        })
    }

    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.src.offset
    }

    /// Events read so far.
    pub fn events_read(&self) -> u64 {
        self.count
    }

    /// The footer, once the last event has been read.
    pub fn footer(&self) -> Option<Footer> {
        self.footer
    }

    /// The next event; `Ok(None)` after a valid footer.
    pub fn next_event(&mut self) -> Result<Option<Event>, TraceError> {
        if self.footer.is_some() {
            return Ok(None);
        }
        let record_offset = self.src.offset;
        let len = self.read_varint("a record length or the end marker")?;
        if len == 0 {
            self.read_footer()?;
            return Ok(None);
        }
        if len > MAX_RECORD_LEN {
            return Err(TraceError::Corrupt {
                offset: record_offset,
                reason: format!("record length {len} exceeds the limit of {MAX_RECORD_LEN}"),
            });
        }
        // The checksum covers each record's length prefix too (not the end marker).
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        push_varint(&mut buf, len);
        self.crc.update(&buf);
        buf.resize(len as usize, 0);
        let payload_offset = self.src.offset;
        self.src.fill(&mut buf, "a record")?;
        self.crc.update(&buf);
        let decoded = decode_record(&buf, payload_offset);
        self.buf = buf;
        let (delta, action) = decoded?;
        // Every event lies inside the duration the header promises: readers size their
        // per-minute series and compute calendar times from it.
        self.at_ms = self
            .at_ms
            .checked_add(delta)
            .filter(|&at| at < self.bound_ms)
            .ok_or_else(|| TraceError::Corrupt {
                offset: payload_offset,
                reason: format!(
                    "event {} lies past the trace's duration of {} ms",
                    self.count, self.bound_ms
                ),
            })?;
        self.count += 1;
        Ok(Some(Event {
            at: SimTime(self.at_ms),
            action,
        }))
    }

    fn read_footer(&mut self) -> Result<(), TraceError> {
        let footer_offset = self.src.offset;
        let bytes = self
            .src
            .read_array::<{ FOOTER_LEN as usize }>("the footer")?;
        let (footer, magic_ok) = Footer::decode(&bytes);
        if !magic_ok {
            return Err(TraceError::Corrupt {
                offset: self.src.offset - 8,
                reason: "bad end magic".into(),
            });
        }
        if footer.count != self.count {
            return Err(TraceError::Corrupt {
                offset: footer_offset,
                reason: format!(
                    "footer counts {} events, the file holds {}",
                    footer.count, self.count
                ),
            });
        }
        let mut crc = self.crc.clone();
        crc.update(&footer.duration_ms.to_le_bytes());
        let computed = crc.finalize();
        if computed != footer.crc {
            return Err(TraceError::Checksum {
                offset: footer_offset + 16,
                computed,
                stored: footer.crc,
            });
        }
        let end_of_events = if self.count == 0 { 0 } else { self.at_ms + 1 };
        if footer.duration_ms < end_of_events || footer.duration_ms > self.bound_ms {
            return Err(TraceError::Corrupt {
                offset: footer_offset + 8,
                reason: format!(
                    "footer says the trace covers {} ms, but its events end at {} ms and its header allows {} ms",
                    footer.duration_ms, end_of_events, self.bound_ms
                ),
            });
        }
        let mut extra = [0u8; 1];
        if read_up_to(&mut self.src.input, &mut extra, self.src.offset)? != 0 {
            return Err(TraceError::Corrupt {
                offset: self.src.offset,
                reason: "data after the end of the trace".into(),
            });
        }
        self.header.duration_ms = footer.duration_ms;
        self.footer = Some(footer);
        Ok(())
    }

    fn read_varint(&mut self, expected: &'static str) -> Result<u64, TraceError> {
        let start = self.src.offset;
        let mut bytes = [0u8; 10];
        for i in 0..10 {
            let [b] = self.src.read_array::<1>(expected)?;
            bytes[i] = b;
            if b & 0x80 == 0 {
                return take_varint(&bytes[..=i])
                    .map(|(value, _)| value)
                    .ok_or_else(|| TraceError::Corrupt {
                        offset: start,
                        reason: "varint overflows 64 bits".into(),
                    });
            }
        }
        Err(TraceError::Corrupt {
            offset: start,
            reason: "varint longer than 10 bytes".into(),
        })
    }
}

/// The input and how far into it we are.
struct Source<R: Read> {
    input: R,
    offset: u64,
}

impl<R: Read> Source<R> {
    fn read_array<const N: usize>(
        &mut self,
        expected: &'static str,
    ) -> Result<[u8; N], TraceError> {
        let mut out = [0u8; N];
        self.fill(&mut out, expected)?;
        Ok(out)
    }

    fn read_exact_vec(
        &mut self,
        len: usize,
        expected: &'static str,
    ) -> Result<Vec<u8>, TraceError> {
        // Grow as data arrives rather than trusting `len` up front.
        let mut out = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        while out.len() < len {
            let want = (len - out.len()).min(chunk.len());
            self.fill(&mut chunk[..want], expected)?;
            out.extend_from_slice(&chunk[..want]);
        }
        Ok(out)
    }

    fn fill(&mut self, buf: &mut [u8], expected: &'static str) -> Result<(), TraceError> {
        let got = read_up_to(&mut self.input, buf, self.offset)?;
        self.offset += got as u64;
        if got < buf.len() {
            return Err(TraceError::Truncated {
                offset: self.offset,
                expected,
            });
        }
        Ok(())
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

/// The footer at the end of a regular file, if it has one that looks right; the stream is left
/// at its start. Anything odd yields `None`: the full read reports it with its offset.
fn peek_footer(file: &mut File) -> Option<Footer> {
    let len = file.metadata().ok().filter(|m| m.is_file())?.len();
    let min_len = PREAMBLE_LEN + 4 + 1 + FOOTER_LEN;
    let footer = if len >= min_len {
        let mut bytes = [0u8; FOOTER_LEN as usize];
        let read = file
            .seek(SeekFrom::Start(len - FOOTER_LEN))
            .and_then(|_| file.read_exact(&mut bytes));
        read.ok().and_then(|()| match Footer::decode(&bytes) {
            (footer, true) => Some(footer),
            _ => None,
        })
    } else {
        None
    };
    file.seek(SeekFrom::Start(0)).ok()?;
    footer
}

/// Splits a record payload into its time delta and action.
fn decode_record(payload: &[u8], offset: u64) -> Result<(u64, Action), TraceError> {
    let corrupt = |reason: String| TraceError::Corrupt { offset, reason };
    let (delta, used) =
        take_varint(payload).ok_or_else(|| corrupt("record time delta does not decode".into()))?;
    let (action, rest) = postcard::take_from_bytes::<Action>(&payload[used..])
        .map_err(|e| corrupt(format!("record does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} unused bytes in record", rest.len())));
    }
    Ok((delta, action))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to<R: Read>(input: &mut R, buf: &mut [u8], offset: u64) -> Result<usize, TraceError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(TraceError::Io {
                    offset: offset + got as u64,
                    source,
                })
            }
        }
    }
    Ok(got)
}
