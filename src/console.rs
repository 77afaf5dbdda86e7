//! Console output that survives a closed standard output: `loadgen replay … | grep -m1 Replaying`
//! must not panic (as `crate::outln!` does) or stop the run. Once stdout is a closed pipe, further
//! output is dropped; the run carries on, writes its report and checkpoint, and its exit code
//! says how the run went. Every command prints through `out!`/`outln!` (the lint
//! `clippy::print_stdout` keeps it that way).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// True once a write found standard output closed.
pub fn stdout_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Writes to standard output; a closed pipe (or any other write error: there is no better
/// place to report it) silences standard output for the rest of the process.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    if stdout_closed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `print!` that never panics: see the module.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!($($arg)*))
    };
}

/// `crate::outln!` that never panics: see the module.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
