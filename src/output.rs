//! Files loadgen writes: an output is refused when it is one of the command's inputs (or another
//! of its outputs), and every output is written atomically, through a temporary file beside the
//! target that is renamed over it once complete, so a failed or interrupted command leaves the
//! previous file intact. No error, SIGINT or SIGTERM leaves the temporary file behind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where a path came from, for messages: `--report`, `-o`, `the trace`, ….
pub type Role = &'static str;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{output_role} {} is the same file as {input_role} {}: refusing to overwrite an input", output.display(), input.display())]
    OutputIsInput {
        output_role: Role,
        output: PathBuf,
        input_role: Role,
        input: PathBuf,
    },
    #[error("{first_role} {} and {second_role} {} are the same file: give each output its own path", first.display(), second.display())]
    SameOutput {
        first_role: Role,
        first: PathBuf,
        second_role: Role,
        second: PathBuf,
    },
    #[error("cannot create a temporary file beside {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move the temporary file {} to {}: {source}", temp.display(), path.display())]
    Persist {
        temp: PathBuf,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The path `-` means standard input or output.
pub fn is_std_stream(path: &Path) -> bool {
    path == Path::new("-")
}

/// Device and inode of what `path` names (symlinks followed), for regular files only: a FIFO
/// or a device (`/dev/null`) is not a file an output could destroy.
fn regular_file_id(path: &Path) -> Option<(u64, u64)> {
    if is_std_stream(path) {
        return None;
    }
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino()))
}

/// How an output that does not exist yet is named once created: its directory resolved
/// (symlinks and `..` gone) and its file name, so `a/../x` and `x` compare equal.
fn future_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

/// Refuses, before anything is opened for writing, an output that is the same file as an input
/// (compared by device and inode, so symlinks and hard links are caught) and two outputs that
/// are the same file. `-` (standard input/output) and paths that are not regular files are
/// never in conflict.
pub fn check_paths(inputs: &[(Role, &Path)], outputs: &[(Role, &Path)]) -> Result<(), OutputError> {
    for &(output_role, output) in outputs {
        let Some(out_id) = regular_file_id(output) else {
            continue;
        };
        for &(input_role, input) in inputs {
            if regular_file_id(input) == Some(out_id) {
                return Err(OutputError::OutputIsInput {
                    output_role,
                    output: output.to_path_buf(),
                    input_role,
                    input: input.to_path_buf(),
                });
            }
        }
    }
    for (i, &(first_role, first)) in outputs.iter().enumerate() {
        for &(second_role, second) in &outputs[i + 1..] {
            let same = match (regular_file_id(first), regular_file_id(second)) {
                (Some(a), Some(b)) => a == b,
                // A file that does not exist yet: compare where each would be created.
                _ if !path_exists(first) && !path_exists(second) => {
                    future_path(first).is_some() && future_path(first) == future_path(second)
                }
                _ => false,
            };
            if same {
                return Err(OutputError::SameOutput {
                    first_role,
                    first: first.to_path_buf(),
                    second_role,
                    second: second.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

fn path_exists(path: &Path) -> bool {
    !is_std_stream(path) && std::fs::symlink_metadata(path).is_ok()
}

/// Temporary files not yet renamed into place or removed; the signal handler removes them.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves the list itself intact.
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every temporary file still pending and keeps the list locked (returned), so no
/// other thread starts or renames one before the process exits.
pub fn remove_pending_temp_files() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    let mut list = pending();
    for path in list.drain(..) {
        let _ = std::fs::remove_file(path);
    }
    list
}

/// For commands without a graceful shutdown of their own (`simulate`, `export`, `world`):
/// on SIGINT or SIGTERM remove the temporary files and exit with 130 or 143, as the default
/// action's status would be. Installed once; later calls do nothing.
pub fn clean_up_on_signal() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(runtime) => runtime,
            Err(_) => return,
        };
        // Register in this thread, so the handlers are in place before the command writes.
        let signals = runtime.block_on(async {
            Some((
                signal(SignalKind::interrupt()).ok()?,
                signal(SignalKind::terminate()).ok()?,
            ))
        });
        let Some((mut interrupt, mut terminate)) = signals else {
            return;
        };
        std::thread::spawn(move || {
            let code = runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => 130,
                    _ = terminate.recv() => 143,
                }
            });
            let _held = remove_pending_temp_files();
            std::process::exit(code);
        });
    });
}

/// An output file being written: a temporary file beside the target until `commit`, or the
/// target itself when it exists and is not a regular file (a FIFO, `/dev/null`: renaming over
/// it would replace the device). Dropped without `commit`, the temporary file is removed.
pub struct AtomicFile {
    target: PathBuf,
    out: BufWriter<File>,
    temp: Option<tempfile::TempPath>,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile, OutputError> {
        if std::fs::metadata(target).is_ok_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(|source| OutputError::Open {
                    path: target.to_path_buf(),
                    source,
                })?;
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                out: BufWriter::with_capacity(1 << 18, file),
                temp: None,
            });
        }
        let create = |source| OutputError::Create {
            path: target.to_path_buf(),
            source,
        };
        let name = target.file_name().ok_or_else(|| {
            create(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file name",
            ))
        })?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut list = pending();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".partial")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(create)?;
        let (file, path) = temp.into_parts();
        list.push(path.to_path_buf());
        Ok(AtomicFile {
            target: target.to_path_buf(),
            out: BufWriter::with_capacity(1 << 18, file),
            temp: Some(path),
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes the file to disk and renames it over the target.
    pub fn commit(mut self) -> Result<(), OutputError> {
        let write = |source| OutputError::Write {
            path: self.target.clone(),
            source,
        };
        self.out.flush().map_err(write)?;
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        self.out.get_ref().sync_all().map_err(write)?;
        let mut list = pending();
        let temp_path = temp.to_path_buf();
        list.retain(|p| *p != temp_path);
        temp.persist(&self.target)
            .map_err(|e| OutputError::Persist {
                temp: temp_path,
                path: self.target.clone(),
                source: e.error,
            })
        // On failure the returned TempPath was dropped inside the error: the file is removed.
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            // Under the lock, so a signal arriving now cannot miss the file.
            let mut list = pending();
            let path = temp.to_path_buf();
            let _ = temp.close();
            list.retain(|p| *p != path);
        }
    }
}

/// Writes `target` atomically with `write`; on an error the temporary file is removed and the
/// previous target is untouched.
pub fn write_atomically<T, E: From<OutputError>>(
    target: &Path,
    write: impl FnOnce(&mut AtomicFile) -> Result<T, E>,
) -> Result<T, E> {
    let mut file = AtomicFile::create(target)?;
    let value = write(&mut file)?;
    file.commit()?;
    Ok(value)
}

/// `bytes` as the whole content of `target`, atomically.
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_atomically(target, |file| {
        file.write_all(bytes).map_err(|source| OutputError::Write {
            path: target.to_path_buf(),
            source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_are_inputs_are_refused_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.trace");
        std::fs::write(&trace, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&trace, &link).unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&trace, &hard).unwrap();
        for out in [&trace, &link, &hard] {
            let err = check_paths(&[("the trace", &trace)], &[("--report", out)]).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&*out.to_string_lossy()) && text.contains(&*trace.to_string_lossy()),
                "{text}"
            );
        }
        let other = dir.path().join("report.json");
        check_paths(&[("the trace", &trace)], &[("--report", &other)]).unwrap();
        check_paths(&[("the trace", &trace)], &[("-o", Path::new("-"))]).unwrap();
    }

    #[test]
    fn two_outputs_may_not_be_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let same = dir.path().join("sub/../a.json");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let err = check_paths(&[], &[("--report", &a), ("--checkpoint", &same)]).unwrap_err();
        assert!(matches!(err, OutputError::SameOutput { .. }), "{err}");
        std::fs::write(&a, b"{}").unwrap();
        let err = check_paths(&[], &[("--report", &a), ("--checkpoint", &same)]).unwrap_err();
        assert!(matches!(err, OutputError::SameOutput { .. }), "{err}");
        let b = dir.path().join("b.json");
        check_paths(&[], &[("--report", &a), ("--checkpoint", &b)]).unwrap();
        let null = Path::new("/dev/null");
        check_paths(&[], &[("--report", null), ("--checkpoint", null)]).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        std::fs::write(&target, b"old").unwrap();
        let result: Result<(), anyhow::Error> = write_atomically(&target, |f| {
            f.write_all(b"half")?;
            anyhow::bail!("failed midway")
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
        assert!(pending().is_empty());
        write_file(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
