//! What the earlier segments of a resumed run measured, so the report of the segment that
//! finishes covers the whole run exactly, however the earlier ones ended (Ctrl+C, SIGTERM,
//! SIGKILL, a crash). Two files beside the checkpoint:
//!
//! * `CHECKPOINT.measures`, the measurement log: each event that succeeded is appended with
//!   what the report takes from it (its times, requests, retries and their causes), and each
//!   segment appends a marker when it begins. Events are appended in batches (what the
//!   replayer's aggregator took at once, one write), each batch just before the same events'
//!   sequence numbers go to the completion log (one write), in the same order: after a kill
//!   between the two, or in the middle of the second, the events measured and not completed
//!   are the last records of the log, and the resume cuts them off. A resume rebuilds the
//!   earlier segments' histograms, counts and time series from it, value for value.
//! * `CHECKPOINT.metrics.json`, the summaries of the segments that ended normally (start,
//!   duration, counts); a killed segment's summary is rebuilt from the measurement log.
//!
//! Each event is counted once, as its last attempt ended: an event that failed, was cut off or
//! was in flight at a kill is not in the logs, is sent again by the resume, and counts as that
//! attempt ends (the attempts a resume superseded are in neither the counts nor the timings).

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{Activity, Entity};
use crate::metrics::{EventRecord, EventResult, Metrics};
use crate::outcome::{FailureKind, RetryCause};
use crate::replay::checkpoint::CompletedSet;

/// The summaries of the segments that ended normally (`CHECKPOINT.metrics.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Segments {
    /// One entry per segment, in order. (Files of an earlier loadgen also hold `measured`,
    /// the merged measurements; they are ignored: the measurement log is the one source.)
    pub segments: Vec<SegmentSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SegmentSummary {
    pub started_at: String,
    pub duration_s: f64,
    pub received: u64,
    pub succeeded: u64,
    pub not_sent: u64,
    pub stopped_early: bool,
    /// Killed (SIGKILL, a crash) before it could save this summary: rebuilt from the
    /// measurement log, it runs to its last logged completion and counts only the events it
    /// completed (received = succeeded, not_sent 0: the events it left were sent later).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub killed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not the measurements of a loadgen run: {message}")]
    Format { path: PathBuf, message: String },
}

impl Segments {
    /// Where the summaries of the run behind `checkpoint` are kept.
    pub fn path(checkpoint: &Path) -> PathBuf {
        beside(checkpoint, ".metrics.json")
    }

    /// The saved summaries; none for a first segment.
    pub fn load(path: &Path) -> Result<Option<Segments>, SegmentsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SegmentsError::Io {
                    path: path.into(),
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SegmentsError::Format {
                path: path.into(),
                message: e.to_string(),
            })
    }

    /// Writes them atomically (a temporary file beside, renamed).
    pub fn save(&self, path: &Path) -> Result<(), SegmentsError> {
        let io = |source| SegmentsError::Io {
            path: path.into(),
            source,
        };
        let json = serde_json::to_vec(self).map_err(|e| SegmentsError::Format {
            path: path.into(),
            message: e.to_string(),
        })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Total wall time of the segments.
    pub fn elapsed(&self) -> Duration {
        Duration::from_secs_f64(self.segments.iter().map(|s| s.duration_s).sum())
    }
}

fn beside(checkpoint: &Path, suffix: &str) -> PathBuf {
    let mut name = checkpoint.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What the earlier segments of a resumed run did, rebuilt from the logs.
#[derive(Clone, Debug, Default)]
pub struct Earlier {
    /// Their summaries, in order (a killed one rebuilt, `killed: true`).
    pub segments: Segments,
    /// The measurements of the events they completed, the time series laid end to end.
    pub metrics: Metrics,
    /// How many of the completed events have a measurement (all of them, unless the
    /// checkpoint was made by a loadgen without the measurement log).
    pub measured: u64,
}

impl Earlier {
    /// Adds what the earlier segments measured (not their successes: the caller counts those
    /// from the completion log) to `m`, the metrics of the segment now running, whose time
    /// series comes after theirs.
    ///
    /// Copies no histograms (each set of metrics is megabytes of them): a first run, with
    /// nothing earlier, leaves `m` as it is; a resume swaps the two, so that afterwards
    /// `self.metrics` holds what `m` held.
    pub fn add_to(&mut self, m: &mut Metrics) {
        if self.segments.segments.is_empty() && self.metrics.total() == 0 {
            return;
        }
        let offset = self.segments.elapsed().as_secs();
        for b in &mut m.series {
            b.second += offset;
        }
        std::mem::swap(&mut self.metrics, m);
        m.successes = [0; 6];
        m.merge(&self.metrics);
    }
}

/// `LGMEAS` and the format's version.
const MAGIC: &[u8; 6] = b"LGMEAS";
pub const MEASURE_LOG_VERSION: u16 = 1;
const HEADER_LEN: u64 = 8;
const TAG_SEGMENT: u8 = 1;
const TAG_SUCCESS: u8 = 2;
/// Longer retry details are cut (on a character boundary) to fit their 16-bit length.
const MAX_TEXT: usize = u16::MAX as usize;

/// The measurement log, open for appending. Each record is framed as a little-endian `u32`
/// length, the payload, and its CRC-32; `push` frames one into the batch, `flush` writes the
/// batch with one `write`. A record cut by a kill (short, or with a bad checksum at the end of
/// the file) is ignored, and cut off before a resume appends. Payloads: a segment marker (tag 1, the segment's start as RFC 3339 text) or an
/// event that succeeded (tag 2: seq, trace offset, activity, entity, the instant it finished
/// within its segment, lateness, service time and latency in µs, requests, retries, and each
/// retry's cause as kind and detail).
pub struct MeasureLog {
    file: File,
    path: PathBuf,
    /// The framed records pushed since the last flush.
    pending: Vec<u8>,
    /// A fresh checksum, cloned per record (`crc32fast::hash` detects the CPU's features on
    /// every call).
    crc: crc32fast::Hasher,
}

/// One record of the measurement log.
#[derive(Clone, Debug)]
pub enum Logged {
    Segment { started_at: String },
    Success(EventRecord),
}

impl MeasureLog {
    /// The measurement log of the run behind `checkpoint`.
    pub fn path(checkpoint: &Path) -> PathBuf {
        beside(checkpoint, ".measures")
    }

    /// Starts a new log (replacing any) with the first segment's marker.
    pub fn create(path: &Path, started_at: &str) -> Result<MeasureLog, SegmentsError> {
        let file = File::create(path).map_err(|source| SegmentsError::Io {
            path: path.into(),
            source,
        })?;
        let mut log = MeasureLog::over(file, path);
        log.pending.extend_from_slice(MAGIC);
        log.pending
            .extend_from_slice(&MEASURE_LOG_VERSION.to_le_bytes());
        log.segment(started_at)?;
        Ok(log)
    }

    /// Reads the log of a resumed run (`done`: the completion log's events), cuts off what a
    /// kill left unfinished at its end, and opens it for this segment (marker `started_at`).
    /// `saved` are the summaries of the segments that ended. A checkpoint of an earlier
    /// loadgen has no measurement log: one is started, and nothing earlier is measured.
    pub fn resume(
        path: &Path,
        started_at: &str,
        done: &CompletedSet,
        saved: Segments,
    ) -> Result<(MeasureLog, Earlier), SegmentsError> {
        let io = |source| SegmentsError::Io {
            path: path.into(),
            source,
        };
        let file = match File::open(path) {
            // Shorter than its header: the first segment was killed as it began the log.
            Ok(f) if f.metadata().map_err(io)?.len() < HEADER_LEN => None,
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(io(source)),
        };
        let file = match file {
            Some(f) => f,
            None => {
                let earlier = Earlier {
                    segments: saved,
                    ..Earlier::default()
                };
                return Ok((MeasureLog::create(path, started_at)?, earlier));
            }
        };
        let mut rebuild = Rebuild::new(saved, done);
        let kept = read_records(path, file, |at, record| rebuild.take(at, record))?;
        // The batch being logged when the process was killed may have its measurements and
        // not (all) its completions: those events were sent again, and their records here are
        // not the ones that count. They are the log's last records (a batch's measurements
        // are written before its completions, in the same order).
        let kept = rebuild.orphans_from.take().unwrap_or(kept);
        let earlier = rebuild.finish();
        let file = OpenOptions::new().append(true).open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() > kept {
            file.set_len(kept).map_err(io)?;
        }
        let mut log = MeasureLog::over(file, path);
        log.segment(started_at)?;
        Ok((log, earlier))
    }

    /// A log over `file` (at `path`, for messages), appending after what it holds.
    pub(crate) fn over(file: File, path: &Path) -> MeasureLog {
        MeasureLog {
            file,
            path: path.into(),
            pending: Vec::with_capacity(64 * 256),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// The segment's marker, written at once.
    fn segment(&mut self, started_at: &str) -> Result<(), SegmentsError> {
        self.record(|out| {
            out.push(TAG_SEGMENT);
            put_text(out, started_at);
        });
        self.flush()
    }

    /// Adds an event that succeeded to the batch `flush` writes.
    pub fn push(&mut self, r: &EventRecord) {
        self.record(|out| encode_success(out, r))
    }

    /// An event that succeeded, alone, written at once.
    #[cfg(test)]
    pub fn append(&mut self, r: &EventRecord) -> Result<(), SegmentsError> {
        self.push(r);
        self.flush()
    }

    /// Frames the payload `encode` writes (length, payload, CRC-32) at the end of the batch.
    fn record(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let out = &mut self.pending;
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode(out);
        let len = out.len() - at - 4;
        out[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
        let mut crc = self.crc.clone();
        crc.update(&out[at + 4..]);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
    }

    /// Writes the batch with one write (after a kill the kernel still has it); the batch is
    /// emptied even if the write fails.
    pub fn flush(&mut self) -> Result<(), SegmentsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        written.map_err(|source| SegmentsError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Every whole record of the log at `path`, in order (a cut last record is left out).
    pub fn read(path: &Path) -> Result<Vec<Logged>, SegmentsError> {
        let file = File::open(path).map_err(|source| SegmentsError::Io {
            path: path.into(),
            source,
        })?;
        let mut all = Vec::new();
        read_records(path, file, |_, record| all.push(record))?;
        Ok(all)
    }
}

/// Rebuilds the earlier segments from the records of the measurement log, in order.
struct Rebuild<'a> {
    saved: Segments,
    done: &'a CompletedSet,
    taken: CompletedSet,
    segments: Segments,
    metrics: Metrics,
    measured: u64,
    /// The segment being read: its marker, its last completion, its events, and where its
    /// time series starts.
    current: Option<(String, Duration, u64)>,
    offset_s: u64,
    /// Where the records read last begin, if they are all of events the completion log does
    /// not have.
    orphans_from: Option<u64>,
}

impl<'a> Rebuild<'a> {
    fn new(saved: Segments, done: &'a CompletedSet) -> Rebuild<'a> {
        Rebuild {
            saved,
            done,
            taken: CompletedSet::new(done.capacity()),
            segments: Segments::default(),
            metrics: Metrics::default(),
            measured: 0,
            current: None,
            offset_s: 0,
            orphans_from: None,
        }
    }

    /// `at` is the record's byte offset.
    fn take(&mut self, at: u64, record: Logged) {
        match record {
            Logged::Segment { started_at } => {
                self.orphans_from = None;
                self.end_segment();
                self.current = Some((started_at, Duration::ZERO, 0));
            }
            Logged::Success(mut r) => {
                if !self.done.contains(r.seq) {
                    self.orphans_from.get_or_insert(at);
                    return;
                }
                self.orphans_from = None;
                if self.taken.contains(r.seq) {
                    return;
                }
                self.taken.insert(r.seq);
                self.measured += 1;
                if let Some((_, last, events)) = &mut self.current {
                    *last = (*last).max(r.finished_at);
                    *events += 1;
                }
                r.finished_at += Duration::from_secs(self.offset_s);
                self.metrics.add(&r);
            }
        }
    }

    /// The segment read so far ends: its summary as saved, or rebuilt if it was killed.
    fn end_segment(&mut self) {
        let Some((started_at, last, events)) = self.current.take() else {
            return;
        };
        let summary = match self
            .saved
            .segments
            .iter()
            .find(|s| s.started_at == started_at)
        {
            Some(saved) => saved.clone(),
            None => SegmentSummary {
                started_at,
                duration_s: last.as_secs_f64(),
                received: events,
                succeeded: events,
                not_sent: 0,
                stopped_early: true,
                killed: true,
            },
        };
        self.segments.segments.push(summary);
        self.offset_s = self.segments.elapsed().as_secs();
    }

    fn finish(mut self) -> Earlier {
        self.end_segment();
        Earlier {
            segments: self.segments,
            metrics: self.metrics,
            measured: self.measured,
        }
    }
}

/// Calls `each` with every whole record of the log and its byte offset; returns the length of
/// the whole records (a cut last record is not an error: it is what a kill leaves).
fn read_records(
    path: &Path,
    file: File,
    mut each: impl FnMut(u64, Logged),
) -> Result<u64, SegmentsError> {
    let format = |at: u64, message: String| SegmentsError::Format {
        path: path.into(),
        message: format!("at byte {at}: {message}"),
    };
    let io = |source| SegmentsError::Io {
        path: path.into(),
        source,
    };
    let mut input = BufReader::with_capacity(1 << 16, file);
    let mut header = [0u8; HEADER_LEN as usize];
    match fill(&mut input, &mut header).map_err(io)? {
        0 => return Err(format(0, "empty (no header)".into())),
        n if n < header.len() || &header[..6] != MAGIC => {
            return Err(format(0, "no measurement log header".into()))
        }
        _ => {}
    }
    let version = u16::from_le_bytes([header[6], header[7]]);
    if version != MEASURE_LOG_VERSION {
        return Err(format(
            6,
            format!("version {version}, this loadgen reads version {MEASURE_LOG_VERSION}"),
        ));
    }
    let mut at = HEADER_LEN;
    let mut payload = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if fill(&mut input, &mut len).map_err(io)? < 4 {
            return Ok(at);
        }
        let len = u32::from_le_bytes(len) as usize;
        payload.resize(len + 4, 0);
        if fill(&mut input, &mut payload).map_err(io)? < len + 4 {
            return Ok(at);
        }
        let crc = u32::from_le_bytes(payload[len..].try_into().unwrap_or_default());
        if crc32fast::hash(&payload[..len]) != crc {
            // Cut by a kill only if nothing follows it.
            let mut next = [0u8; 1];
            if fill(&mut input, &mut next).map_err(io)? == 0 {
                return Ok(at);
            }
            return Err(format(at, "a record with a bad checksum".into()));
        }
        let record = decode(&payload[..len]).map_err(|m| format(at, m))?;
        each(at, record);
        at += len as u64 + 8;
    }
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..end]);
}

/// The fixed fields of a success's payload: tag, seq, offset, activity, entity kind and id,
/// four times, requests, retries and the number of retry causes.
const SUCCESS_FIXED: usize = 1 + 8 + 8 + 1 + 1 + 4 + 4 * 8 + 4 + 4 + 2;

fn encode_success(out: &mut Vec<u8>, r: &EventRecord) {
    // Laid out on the stack and appended at once: one capacity check per record, not one per
    // field (this runs for every success of a run that keeps a checkpoint).
    let mut fixed = [0u8; SUCCESS_FIXED];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        fixed[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&[TAG_SUCCESS]);
    put(&r.seq.to_le_bytes());
    put(&r.offset_ms.to_le_bytes());
    let (kind, id) = match r.entity {
        Entity::Order(n) => (0u8, n),
        Entity::NewCustomer(n) => (1, n),
        Entity::Inventory(n) => (2, n),
    };
    put(&[r.activity.index() as u8, kind]);
    put(&id.to_le_bytes());
    for d in [r.finished_at, r.lateness, r.service, r.latency] {
        put(&micros(d).to_le_bytes());
    }
    put(&r.requests.to_le_bytes());
    put(&r.retries.to_le_bytes());
    let causes = r.retry_causes.len().min(u16::MAX as usize);
    put(&(causes as u16).to_le_bytes());
    out.extend_from_slice(&fixed);
    for cause in &r.retry_causes[..causes] {
        put_text(out, &cause.kind.to_string());
        put_text(out, &cause.detail);
    }
}

/// Reads a payload's fields in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a record shorter than its fields".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.bytes(2)?.try_into().unwrap_or_default(),
        ))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().unwrap_or_default(),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().unwrap_or_default(),
        ))
    }

    fn micros(&mut self) -> Result<Duration, String> {
        Ok(Duration::from_micros(self.u64()?))
    }

    fn text(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.bytes(n)?.to_vec()).map_err(|_| "text that is not UTF-8".into())
    }
}

fn decode(payload: &[u8]) -> Result<Logged, String> {
    let mut f = Fields(payload);
    let logged = match f.u8()? {
        TAG_SEGMENT => Logged::Segment {
            started_at: f.text()?,
        },
        TAG_SUCCESS => {
            let seq = f.u64()?;
            let offset_ms = f.u64()?;
            let activity = *Activity::ALL
                .get(f.u8()? as usize)
                .ok_or("an unknown activity")?;
            let entity = match (f.u8()?, f.u32()?) {
                (0, n) => Entity::Order(n),
                (1, n) => Entity::NewCustomer(n),
                (2, n) => Entity::Inventory(n),
                (k, _) => return Err(format!("an unknown entity kind {k}")),
            };
            let (finished_at, lateness, service, latency) =
                (f.micros()?, f.micros()?, f.micros()?, f.micros()?);
            let (requests, retries) = (f.u32()?, f.u32()?);
            let mut retry_causes = Vec::new();
            for _ in 0..f.u16()? {
                let kind: FailureKind = f.text()?.parse()?;
                retry_causes.push(RetryCause {
                    kind,
                    detail: f.text()?,
                });
            }
            Logged::Success(EventRecord {
                seq,
                entity,
                offset_ms,
                activity,
                finished_at,
                lateness,
                service,
                latency,
                requests,
                retries,
                retry_causes,
                result: EventResult::Success,
            })
        }
        tag => return Err(format!("an unknown record type {tag}")),
    };
    if !f.0.is_empty() {
        return Err("a record longer than its fields".into());
    }
    Ok(logged)
}

/// Seqs of the records, for messages and tests.
pub fn seqs(records: &[Logged]) -> BTreeSet<u64> {
    records
        .iter()
        .filter_map(|r| match r {
            Logged::Success(r) => Some(r.seq),
            Logged::Segment { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, ms: u64, at_s: u64, retried: bool) -> EventRecord {
        EventRecord {
            seq,
            entity: Entity::NewCustomer(seq as u32 * 3),
            offset_ms: seq * 10,
            activity: Activity::ALL[seq as usize % 6],
            finished_at: Duration::from_micros(at_s * 1_000_000 + seq),
            lateness: Duration::from_micros(1_000 + seq),
            service: Duration::from_micros(ms * 1_000 + 7),
            latency: Duration::from_micros(ms * 1_000 + 1_007 + seq),
            requests: 1 + u32::from(retried),
            retries: u32::from(retried),
            retry_causes: if retried {
                vec![RetryCause {
                    kind: FailureKind::http(503),
                    detail: format!("503 Service Unavailable ({seq}) é"),
                }]
            } else {
                Vec::new()
            },
            result: EventResult::Success,
        }
    }

    fn same(a: &EventRecord, b: &EventRecord) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    fn done(seqs: impl IntoIterator<Item = u64>) -> CompletedSet {
        let mut set = CompletedSet::new(100);
        for s in seqs {
            set.insert(s);
        }
        set
    }

    #[test]
    fn records_round_trip_value_for_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.measures");
        let records: Vec<EventRecord> = (0..12).map(|i| rec(i, i * 7, i / 4, i % 3 == 0)).collect();
        let mut log = MeasureLog::create(&path, "t0").unwrap();
        for r in &records {
            log.append(r).unwrap();
        }
        drop(log);
        let read = MeasureLog::read(&path).unwrap();
        assert!(matches!(&read[0], Logged::Segment { started_at } if started_at == "t0"));
        assert_eq!(read.len(), records.len() + 1);
        for (got, want) in read[1..].iter().zip(&records) {
            match got {
                Logged::Success(got) => same(got, want),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_cut_last_record_is_ignored_and_cut_off_before_the_resume_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.measures");
        let mut log = MeasureLog::create(&path, "t0").unwrap();
        for i in 0..5 {
            log.append(&rec(i, 3, 0, i == 4)).unwrap();
        }
        drop(log);
        let full = std::fs::read(&path).unwrap();
        let mut last = HEADER_LEN as usize;
        while last + 4 < full.len() {
            let len = u32::from_le_bytes(full[last..last + 4].try_into().unwrap()) as usize;
            if last + len + 8 == full.len() {
                break;
            }
            last += len + 8;
        }
        let record = full.len() - last;
        // Cut by the kill in its length, its payload, its checksum; or whole but garbled.
        let mut garbled = full.clone();
        garbled[last + 20] ^= 0x55;
        let mut cases: Vec<Vec<u8>> = [1, 3, 4, 30, record - 4, record - 1]
            .iter()
            .map(|cut| full[..last + cut].to_vec())
            .collect();
        cases.push(garbled);
        for (i, bytes) in cases.iter().enumerate() {
            let torn = dir.path().join(format!("torn{i}.measures"));
            std::fs::write(&torn, bytes).unwrap();
            let read = MeasureLog::read(&torn).unwrap();
            assert_eq!(seqs(&read), (0..4).collect(), "case {i}");
            // Event 4 was cut: the completion log does not have it, the resume sends it again.
            let (mut log, earlier) =
                MeasureLog::resume(&torn, "t1", &done(0..4), Segments::default()).unwrap();
            assert_eq!(earlier.measured, 4, "case {i}");
            log.append(&rec(4, 5, 1, true)).unwrap();
            drop(log);
            let read = MeasureLog::read(&torn).unwrap();
            assert_eq!(read.len(), 7, "case {i}: the cut record is gone");
            assert!(matches!(&read[5], Logged::Segment { started_at } if started_at == "t1"));
            match &read[6] {
                Logged::Success(r) => same(r, &rec(4, 5, 1, true)),
                other => panic!("{other:?}"),
            }
        }
        // A bad checksum with records after it is damage, not a kill: refused, with where.
        let mut damaged = full.clone();
        damaged[HEADER_LEN as usize + 6] ^= 0xff;
        std::fs::write(&path, &damaged).unwrap();
        let err = MeasureLog::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("c.measures") && err.contains("at byte 8"),
            "{err}"
        );
    }

    #[test]
    fn another_version_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.measures");
        std::fs::write(&path, b"LGMEAS\x09\x00").unwrap();
        let err = MeasureLog::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("c.measures") && err.contains("version 9"),
            "{err}"
        );
        std::fs::write(&path, 7u64.to_le_bytes()).unwrap();
        let err = MeasureLog::read(&path).unwrap_err().to_string();
        assert!(err.contains("no measurement log header"), "{err}");
    }

    #[test]
    fn a_resume_rebuilds_the_earlier_segments_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.measures");
        let mut whole = Metrics::default();
        // Segment 1 ends normally after 12.5 s; segment 2 is killed at 3 s (its last logged
        // completion), with event 29 measured and not completed (the orphan of the kill).
        let mut log = MeasureLog::create(&path, "t0").unwrap();
        for i in 0..20 {
            let r = rec(i, i * 7 + 1, i / 4, i % 5 == 0);
            log.append(&r).unwrap();
            whole.add(&r);
        }
        drop(log);
        let saved = Segments {
            segments: vec![SegmentSummary {
                started_at: "t0".into(),
                duration_s: 12.5,
                received: 22,
                succeeded: 20,
                not_sent: 30,
                stopped_early: true,
                killed: false,
            }],
        };
        let (mut log, earlier) =
            MeasureLog::resume(&path, "t1", &done(0..20), saved.clone()).unwrap();
        assert_eq!(earlier.measured, 20);
        for i in 20..30 {
            let r = rec(i, i * 11 + 3, i / 10, i % 3 == 0);
            log.append(&r).unwrap();
            if i < 29 {
                let mut late = r.clone();
                late.finished_at += Duration::from_secs(12);
                whole.add(&late);
            }
        }
        drop(log);
        let (_log, mut earlier) = MeasureLog::resume(&path, "t2", &done(0..29), saved).unwrap();
        assert_eq!(earlier.measured, 29);
        let m = &earlier.metrics;
        assert_eq!(m.service, whole.service);
        assert_eq!(m.latency, whole.latency);
        assert_eq!(m.lateness, whole.lateness);
        assert_eq!(m.by_activity, whole.by_activity);
        assert_eq!(m.requests, whole.requests);
        assert_eq!(m.retries, whole.retries);
        assert_eq!(m.retry_reasons, whole.retry_reasons);
        assert_eq!(m.retry_examples, whole.retry_examples);
        assert_eq!(m.series, whole.series);
        assert_eq!(m.successes, whole.successes);
        let killed = &earlier.segments.segments[1];
        assert!(killed.killed && killed.started_at == "t1");
        assert_eq!((killed.succeeded, killed.received), (9, 9));
        // Its last logged completion: event 28, 2 s and 28 µs into the segment.
        assert!((killed.duration_s - 2.000_028).abs() < 1e-9, "{killed:?}");
        // The orphan was cut off; the next segment's marker follows event 28.
        let read = MeasureLog::read(&path).unwrap();
        assert_eq!(seqs(&read), (0..29).collect());
        assert!(matches!(read.last(), Some(Logged::Segment { started_at }) if started_at == "t2"));

        // Added to the segment now running, the measurements merge and its series follows.
        let mut now = Metrics::default();
        let last = rec(29, 4, 0, false);
        now.add(&last);
        earlier.add_to(&mut now);
        let mut all = whole.clone();
        let mut later = last.clone();
        later.finished_at += Duration::from_secs(14);
        all.add(&later);
        assert_eq!(now.latency, all.latency);
        assert_eq!(now.series, all.series);
        // Successes stay the caller's to count.
        assert_eq!(now.succeeded(), 1);
    }

    /// A kill between a batch's two writes (or in the middle of the completions' write)
    /// leaves several events measured and not completed at the end of the log: all are cut
    /// off, so once the resume completes them, a later resume counts the resume's attempts,
    /// not the killed segment's.
    #[test]
    fn a_batch_measured_and_not_completed_is_cut_off_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.measures");
        let mut log = MeasureLog::create(&path, "t0").unwrap();
        for i in 0..10 {
            log.push(&rec(i, 3, 0, false));
        }
        log.flush().unwrap();
        // The killed batch: 10..16 measured; the completions of 10 and 11 made it to disk.
        for i in 10..16 {
            log.push(&rec(i, 900, 1, false));
        }
        log.flush().unwrap();
        drop(log);
        let (mut log, earlier) =
            MeasureLog::resume(&path, "t1", &done(0..12), Segments::default()).unwrap();
        assert_eq!(earlier.measured, 12);
        let read = MeasureLog::read(&path).unwrap();
        assert_eq!(seqs(&read), (0..12).collect(), "12..16 are cut off");
        assert!(matches!(read.last(), Some(Logged::Segment { started_at }) if started_at == "t1"));
        // The resume sends 12..16 again, and they succeed in 5 ms.
        for i in 12..16 {
            log.push(&rec(i, 5, 0, false));
        }
        log.flush().unwrap();
        drop(log);
        let (_log, earlier) =
            MeasureLog::resume(&path, "t2", &done(0..16), Segments::default()).unwrap();
        assert_eq!(earlier.measured, 16);
        let mut want = Metrics::default();
        for i in 0..16 {
            let ms = match i {
                0..10 => 3,
                10..12 => 900,
                _ => 5,
            };
            want.add(&rec(i, ms, 0, false));
        }
        assert_eq!(earlier.metrics.service, want.service);
    }

    #[test]
    fn a_checkpoint_without_a_measurement_log_measures_nothing_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.measures");
        let (_log, earlier) =
            MeasureLog::resume(&path, "t1", &done(0..5), Segments::default()).unwrap();
        assert_eq!(earlier.measured, 0);
        assert!(matches!(
            &MeasureLog::read(&path).unwrap()[..],
            [Logged::Segment { .. }]
        ));
    }
}
