//! Writing to the terminal without ever panicking.
//!
//! `println!` panics when stdout is a closed pipe (`chipmarket graph | head -1`), and
//! `eprintln!` when stderr is closed. The runner uses these macros instead (clippy's
//! `print_stdout` and `print_stderr` lints keep it that way):
//!
//! - [`outln!`] / [`out!`] write to stdout and return the `io::Result`; callers pass it on with `?`.
//!   A closed stdout (`BrokenPipe`) ends the command quietly with exit code 0, as a reader
//!   that stopped reading is not an error (the usual convention of command-line tools);
//!   any other write error is reported with exit code 1.
//! - [`errln!`] writes to stderr and ignores failure: with stderr closed there is nowhere to
//!   report it, and the exit code still tells what happened.

use std::fmt;
use std::io::{self, Write};

/// Write formatted text to stdout.
pub fn write_out(args: fmt::Arguments<'_>) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_fmt(args)?;
    stdout.flush()
}

/// Write formatted text to stderr, ignoring failure.
pub fn write_err(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// True if `err` (or an error it wraps) is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// `print!` that returns an `io::Result` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => { $crate::console::write_out(format_args!($($arg)*)) };
}

/// `println!` that returns an `io::Result` instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::console::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics (a failed write to stderr is ignored).
macro_rules! errln {
    ($($arg:tt)*) => { $crate::console::write_err(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {errln, out, outln};
