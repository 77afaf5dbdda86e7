//! Resumable replays: a checkpoint file (JSON: what was being replayed and how) written before
//! the first request, and beside it a completion log: the sequence number of every event that
//! succeeded (8 bytes, little-endian), appended in batches: the entries of the completions the
//! replayer's aggregator took at once go out in one write when it has taken them, before it
//! waits again (`session::segment`). A killed process loses the events in flight and those of
//! the batch being taken (completed, not yet written); both are sent again by the resume. What
//! each event measured goes, just before, to the measurement log of `replay::segments`, so a
//! logged completion always has its measurement on disk. `replay --resume` skips logged events
//! and sends the rest in trace order with the original run id and timestamp shift, so the
//! bodies are the ones the first run sent, and with the first run's settings (speed,
//! concurrency, retries, timeout, probe rate) unless flags override them. While a run uses a
//! checkpoint it holds an exclusive lock on the file, so two processes never run one
//! checkpoint at once.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::causal::Shard;

/// Version 2 added the run's settings, version 3 the shard and the start instant; earlier
/// checkpoints still load (without them). Version 4 marks the partition of the roots that
/// deals created customers out by number (`causal::Root::partition`, 2026-12-01): a shard's
/// checkpoint of an earlier version was of the hashed partition and is refused.
pub const CHECKPOINT_VERSION: u32 = 4;

/// The first version whose shard is of today's partition of the roots.
const DEALT_PARTITION_SINCE: u32 = 4;

/// The settings a resumed run continues with unless flags override them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// As `--speed` takes it: `10x`, `max`.
    pub speed: String,
    pub concurrency: usize,
    pub retries: u32,
    pub timeout_ms: u64,
    pub probe_reads: f64,
    pub probe_timeout_ms: u64,
    pub min_success: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub trace: PathBuf,
    /// Identify the trace: resuming against another file is refused.
    pub trace_events: u64,
    pub trace_crc: u32,
    pub run_id: String,
    /// Milliseconds added to every timestamp (0 with --keep-timestamps).
    pub shift_ms: i64,
    pub from_ms: u64,
    pub to_ms: u64,
    /// Absent in version 1 checkpoints.
    #[serde(default)]
    pub settings: Option<RunSettings>,
    /// Where the run's report goes; a resume without --report writes it there.
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// The shard this run sends (`--shard`); a resume of another shard is refused.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// `--start-at` (RFC 3339): the instant the window's start maps to, kept by a resume.
    #[serde(default)]
    pub start_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a loadgen checkpoint: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: the checkpoint is for {made_for} ({expected_events} events, checksum {expected_crc:08x}), but {trace} has {found_events} events with checksum {found_crc:08x}")]
    OtherTrace {
        path: PathBuf,
        made_for: PathBuf,
        trace: PathBuf,
        expected_events: u64,
        expected_crc: u32,
        found_events: u64,
        found_crc: u32,
    },
    #[error("{path}: another loadgen process is running this checkpoint (it holds the lock); wait for it to finish or stop it first")]
    Locked { path: PathBuf },
    #[error("{path}: the checkpoint is of {made_for}, and this process was given {given}: each shard resumes its own checkpoint")]
    OtherShard {
        path: PathBuf,
        made_for: String,
        given: String,
    },
    #[error("{path}: the checkpoint (version {version}) is of shard {shard} of an earlier partition of the roots, which this loadgen does not compute: resumed, it would send events another shard sent. Finish the run with the loadgen that started it, or replay every shard again with a new --run-id")]
    OtherPartition {
        path: PathBuf,
        version: u32,
        shard: Shard,
    },
}

/// For messages: `shard 1/4`, or the whole trace.
fn describe_shard(shard: Option<Shard>) -> String {
    match shard {
        Some(shard) => format!("shard {shard}"),
        None => "the whole trace (no shard)".into(),
    }
}

/// The exclusive lock on a checkpoint file, held while the run uses it; released on drop.
#[derive(Debug)]
pub struct CheckpointLock {
    _file: File,
}

/// Takes the lock on the checkpoint at `path`; with `create`, creates the file (empty) if it
/// does not exist (a new run), else the file must exist (a resume).
pub fn lock(path: &Path, create: bool) -> Result<CheckpointLock, CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(CheckpointLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(CheckpointError::Locked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

impl Checkpoint {
    /// The completion log that goes with a checkpoint file.
    pub fn log_path(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".log");
        PathBuf::from(name)
    }

    /// Writes the checkpoint (replacing any, in place: the file is what the lock is on) and
    /// opens its completion log for appending.
    pub fn create(&self, path: &Path) -> Result<CompletionLog, CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        std::fs::write(path, json).map_err(io)?;
        CompletionLog::open(&Self::log_path(path))
    }

    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let text = std::fs::read_to_string(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let checkpoint: Checkpoint =
            serde_json::from_str(&text).map_err(|e| CheckpointError::Format {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if !(1..=CHECKPOINT_VERSION).contains(&checkpoint.version) {
            return Err(CheckpointError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "version {}, this loadgen reads version {CHECKPOINT_VERSION}",
                    checkpoint.version
                ),
            });
        }
        Ok(checkpoint)
    }

    /// Refuses a trace other than the one the checkpoint (at `path`) was made for.
    pub fn check_trace(
        &self,
        path: &Path,
        trace: &Path,
        events: u64,
        crc: u32,
    ) -> Result<(), CheckpointError> {
        if events != self.trace_events || crc != self.trace_crc {
            return Err(CheckpointError::OtherTrace {
                path: path.to_path_buf(),
                made_for: self.trace.clone(),
                trace: trace.to_path_buf(),
                expected_events: self.trace_events,
                expected_crc: self.trace_crc,
                found_events: events,
                found_crc: crc,
            });
        }
        Ok(())
    }
}

/// Writes the checkpoint at `path` before the first request and opens its completion log. A
/// resume (which holds the lock already) appends to its log; a new run takes the lock
/// (creating the file) and removes what an earlier run left beside it (its log and the files
/// in `stale`).
pub fn begin(
    path: &Path,
    checkpoint: &Checkpoint,
    resumed: bool,
    stale: &[PathBuf],
) -> Result<(Option<CheckpointLock>, CompletionLog), CheckpointError> {
    if resumed {
        return Ok((None, checkpoint.create(path)?));
    }
    let held = lock(path, true)?;
    let _ = std::fs::remove_file(Checkpoint::log_path(path));
    for file in stale {
        let _ = std::fs::remove_file(file);
    }
    Ok((Some(held), checkpoint.create(path)?))
}

impl Checkpoint {
    /// The shard a resume of this checkpoint (at `path`) sends: its own; `given` (the
    /// resume's `--shard`) must be the same, and the checkpoint's partition this loadgen's
    /// (its completion log says which events of that partition's shard succeeded; this
    /// loadgen's shard of the same number holds other roots).
    pub fn check_shard(
        &self,
        path: &Path,
        given: Option<Shard>,
    ) -> Result<Option<Shard>, CheckpointError> {
        if let Some(shard) = self.shard {
            if self.version < DEALT_PARTITION_SINCE {
                return Err(CheckpointError::OtherPartition {
                    path: path.to_path_buf(),
                    version: self.version,
                    shard,
                });
            }
        }
        match given {
            Some(given) if self.shard != Some(given) => Err(CheckpointError::OtherShard {
                path: path.to_path_buf(),
                made_for: describe_shard(self.shard),
                given: describe_shard(Some(given)),
            }),
            _ => Ok(self.shard),
        }
    }
}

/// Append-only log of completed sequence numbers; `push` adds to the batch, `flush` writes it.
pub struct CompletionLog {
    file: File,
    path: PathBuf,
    /// The entries pushed since the last flush.
    pending: Vec<u8>,
}

impl CompletionLog {
    /// Opens the log for appending; an entry a kill cut short at its end is cut off first, so
    /// what this run appends stays aligned.
    pub fn open(path: &Path) -> Result<CompletionLog, CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len % 8 != 0 {
            file.set_len(len - len % 8).map_err(io)?;
        }
        Ok(CompletionLog {
            file,
            path: path.to_path_buf(),
            pending: Vec::with_capacity(8 * 256),
        })
    }

    /// Adds `seq` to the batch `flush` writes.
    pub fn push(&mut self, seq: u64) {
        self.pending.extend_from_slice(&seq.to_le_bytes());
    }

    /// Writes the batch with one write (after a kill the kernel still has it); the batch is
    /// emptied even if the write fails.
    pub fn flush(&mut self) -> Result<(), CheckpointError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        written.map_err(|source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Forgets the batch unwritten (its measurements could not be written).
    pub fn discard(&mut self) {
        self.pending.clear();
    }

    /// `seq` alone, written at once.
    #[cfg(test)]
    pub fn append(&mut self, seq: u64) -> Result<(), CheckpointError> {
        self.push(seq);
        self.flush()
    }

    /// The completed events, as a bit set over `0..events`. A torn last entry (a kill in the
    /// middle of a write) is ignored; entries out of range are an error.
    pub fn read(path: &Path, events: u64) -> Result<CompletedSet, CheckpointError> {
        let mut set = CompletedSet::new(events);
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)
                    .map_err(|source| CheckpointError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let seq = u64::from_le_bytes(chunk.try_into().unwrap_or([0xff; 8]));
            if seq >= events {
                return Err(CheckpointError::Format {
                    path: path.to_path_buf(),
                    message: format!(
                        "entry at byte {} names event {seq}, the trace has {events}",
                        i * 8
                    ),
                });
            }
            set.insert(seq);
        }
        Ok(set)
    }
}

/// A bit per trace event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedSet {
    bits: Vec<u64>,
    count: u64,
}

impl CompletedSet {
    pub fn new(events: u64) -> CompletedSet {
        CompletedSet {
            bits: vec![0; events.div_ceil(64) as usize],
            count: 0,
        }
    }

    pub fn insert(&mut self, seq: u64) {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if let Some(w) = self.bits.get_mut(word) {
            if *w & (1 << bit) == 0 {
                *w |= 1 << bit;
                self.count += 1;
            }
        }
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.bits
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    /// The events the set can hold (at least the `events` it was made for).
    pub fn capacity(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            trace: "day.trace".into(),
            trace_events: 100,
            trace_crc: 0xdead_beef,
            run_id: "r1".into(),
            shift_ms: -5,
            from_ms: 0,
            to_ms: 3_600_000,
            settings: Some(RunSettings {
                speed: "10x".into(),
                concurrency: 7,
                retries: 2,
                timeout_ms: 1_500,
                probe_reads: 0.25,
                probe_timeout_ms: 5_000,
                min_success: 0.5,
            }),
            report: Some("run.json".into()),
            shard: Some(Shard { index: 1, count: 4 }),
            start_at: Some("2026-12-01T10:00:00Z".into()),
        }
    }

    #[test]
    fn round_trip_and_completion_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json.checkpoint");
        let mut log = checkpoint().create(&path).unwrap();
        for seq in [3, 1, 64, 99, 3] {
            log.append(seq).unwrap();
        }
        drop(log);
        assert_eq!(Checkpoint::load(&path).unwrap(), checkpoint());
        let done = CompletionLog::read(&Checkpoint::log_path(&path), 100).unwrap();
        assert_eq!(done.len(), 4);
        assert!(done.contains(1) && done.contains(3) && done.contains(64) && done.contains(99));
        assert!(!done.contains(0) && !done.contains(2) && !done.contains(98));
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let missing = lock(&path, false).unwrap_err();
        assert!(matches!(missing, CheckpointError::Io { .. }), "{missing}");
        assert!(
            !path.exists(),
            "a resume of a missing checkpoint creates nothing"
        );
        let held = lock(&path, true).unwrap();
        let err = lock(&path, false).unwrap_err();
        assert!(matches!(err, CheckpointError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("another loadgen process"), "{err}");
        drop(held);
        lock(&path, false).unwrap();
    }

    #[test]
    fn a_version_1_checkpoint_loads_without_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        std::fs::write(
            &path,
            r#"{"version":1,"trace":"t","trace_events":3,"trace_crc":1,"run_id":"r","shift_ms":0,"from_ms":0,"to_ms":9}"#,
        )
        .unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap().settings, None);
    }

    #[test]
    fn torn_entry_is_ignored_and_out_of_range_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let mut bytes = 7u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&log, &bytes).unwrap();
        let done = CompletionLog::read(&log, 10).unwrap();
        assert_eq!(done.len(), 1);
        // A resume appends after the whole entries.
        let mut resumed = CompletionLog::open(&log).unwrap();
        resumed.append(9).unwrap();
        drop(resumed);
        let done = CompletionLog::read(&log, 10).unwrap();
        assert!(done.len() == 2 && done.contains(7) && done.contains(9));
        std::fs::write(&log, 50u64.to_le_bytes()).unwrap();
        let err = CompletionLog::read(&log, 10).unwrap_err().to_string();
        assert!(err.contains("event 50"), "{err}");
    }

    #[test]
    fn a_resume_keeps_its_shard_and_refuses_another() {
        let path = Path::new("c");
        let mine = Shard { index: 1, count: 4 };
        assert_eq!(checkpoint().check_shard(path, None).unwrap(), Some(mine));
        assert_eq!(
            checkpoint().check_shard(path, Some(mine)).unwrap(),
            Some(mine)
        );
        for other in [Shard { index: 2, count: 4 }, Shard { index: 1, count: 2 }] {
            let err = checkpoint().check_shard(path, Some(other)).unwrap_err();
            assert!(matches!(err, CheckpointError::OtherShard { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.contains("shard 1/4") && text.contains(&format!("shard {other}")),
                "{text}"
            );
        }
        let whole = Checkpoint {
            shard: None,
            ..checkpoint()
        };
        let err = whole.check_shard(path, Some(mine)).unwrap_err().to_string();
        assert!(err.contains("the whole trace"), "{err}");
    }

    /// A shard's checkpoint written before the partition dealt created customers out names
    /// events of other roots: resuming it would send some twice and some never.
    #[test]
    fn a_shard_of_the_earlier_partition_is_refused() {
        let path = Path::new("c");
        let old = Checkpoint {
            version: 3,
            ..checkpoint()
        };
        let mine = Shard { index: 1, count: 4 };
        for given in [None, Some(mine)] {
            let err = old.check_shard(path, given).unwrap_err();
            assert!(
                matches!(err, CheckpointError::OtherPartition { .. }),
                "{err}"
            );
            let text = err.to_string();
            assert!(
                text.contains("version 3") && text.contains("shard 1/4"),
                "{text}"
            );
        }
        let whole = Checkpoint {
            version: 3,
            shard: None,
            ..checkpoint()
        };
        assert_eq!(
            whole.check_shard(path, None).unwrap(),
            None,
            "no shard, no partition"
        );
    }

    #[test]
    fn another_trace_is_refused() {
        let err = checkpoint()
            .check_trace(Path::new("c"), Path::new("other.trace"), 100, 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("deadbeef") && err.contains("00000001"),
            "{err}"
        );
        assert!(
            err.contains("other.trace") && err.contains("day.trace"),
            "{err}"
        );
        checkpoint()
            .check_trace(Path::new("c"), Path::new("day.trace"), 100, 0xdead_beef)
            .unwrap();
    }
}
