//! Where a trace is read from: a file, `-` for standard input, a FIFO or a process
//! substitution (`<(loadgen simulate -o - …)`). Each is opened once. A regular file can be
//! read a second time through the same open file (same inode, memory stays flat); anything
//! else cannot be read twice, so the first pass keeps the bytes it read (the trace's own
//! compact encoding) for the second.

use std::fs::File;
use std::io::{BufReader, Cursor, IsTerminal, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::format::TraceError;
use super::reader::TraceReader;

/// A trace reader over whichever input it came from.
pub type InputReader = TraceReader<Box<dyn Read + Send>>;

const BUFFER: usize = 256 * 1024;

/// An opened trace input.
pub struct TraceInput {
    path: PathBuf,
    file: File,
    /// Regular files: where the trace starts (0, unless stdin was redirected mid-file).
    seekable_from: Option<u64>,
}

impl TraceInput {
    /// Opens `path`; `-` is standard input.
    pub fn open(path: &Path) -> Result<TraceInput, TraceError> {
        let io = |source| TraceError::Io { offset: 0, source };
        let mut file = if crate::output::is_std_stream(path) {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                // Waiting for a binary trace to be typed in helps nobody.
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "standard input is a terminal: pipe or redirect a trace into it",
                )));
            }
            File::from(stdin.as_fd().try_clone_to_owned().map_err(io)?)
        } else {
            File::open(path).map_err(io)?
        };
        let regular = file.metadata().map_err(io)?.is_file();
        let seekable_from = if regular {
            Some(file.stream_position().map_err(io)?)
        } else {
            None
        };
        Ok(TraceInput {
            path: path.to_path_buf(),
            file,
            seekable_from,
        })
    }

    /// The path as given (`-` for standard input).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True for a regular file: it can be read again, by this process or a later one.
    pub fn is_regular_file(&self) -> bool {
        self.seekable_from.is_some()
    }

    /// For messages: the path, or "standard input".
    pub fn name(&self) -> String {
        if crate::output::is_std_stream(&self.path) {
            "standard input".into()
        } else {
            self.path.display().to_string()
        }
    }

    /// A reader for commands that read the trace once.
    pub fn read_once(self) -> Result<InputReader, TraceError> {
        TraceReader::new(Box::new(BufReader::with_capacity(BUFFER, self.file)))
    }

    /// A reader for a first pass, and what gives the second pass once the first is done.
    pub fn read_twice(self) -> Result<(InputReader, SecondPass), TraceError> {
        match self.seekable_from {
            Some(from) => {
                let again = self
                    .file
                    .try_clone()
                    .map_err(|source| TraceError::Io { offset: 0, source })?;
                let first = TraceReader::new(boxed(BufReader::with_capacity(BUFFER, self.file)))?;
                Ok((first, SecondPass::File { file: again, from }))
            }
            None => {
                let kept = Arc::new(Mutex::new(Vec::new()));
                let tee = Tee {
                    input: self.file,
                    kept: kept.clone(),
                };
                let first = TraceReader::new(boxed(BufReader::with_capacity(BUFFER, tee)))?;
                Ok((first, SecondPass::Kept(kept)))
            }
        }
    }
}

fn boxed(input: impl Read + Send + 'static) -> Box<dyn Read + Send> {
    Box::new(input)
}

/// The second reading of a trace.
pub enum SecondPass {
    File { file: File, from: u64 },
    Kept(Arc<Mutex<Vec<u8>>>),
}

impl SecondPass {
    /// A reader from the beginning again. Call after the first pass has read to the end.
    pub fn reader(self) -> Result<InputReader, TraceError> {
        match self {
            SecondPass::File { mut file, from } => {
                // A clone of the first pass's file: the same inode, whatever happened to the
                // path since; it shares the offset, so rewind.
                file.seek(SeekFrom::Start(from))
                    .map_err(|source| TraceError::Io { offset: 0, source })?;
                TraceReader::new(Box::new(BufReader::with_capacity(BUFFER, file)))
            }
            SecondPass::Kept(kept) => {
                let bytes = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
                TraceReader::new(Box::new(Cursor::new(bytes)))
            }
        }
    }
}

/// Passes reads through, keeping a copy of every byte.
struct Tee {
    input: File,
    kept: Arc<Mutex<Vec<u8>>>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(&buf[..n]);
        Ok(n)
    }
}
