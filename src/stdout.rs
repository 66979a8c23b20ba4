//! Everything the command prints to standard output goes through [`outln!`].
//!
//! `println!` panics when stdout is a closed pipe (`depickle catalog | head -1`). Like ripgrep,
//! depickle treats a closed pipe as the reader having seen enough: it stops quietly with exit
//! status 0. Any other write error (disk full behind a redirection) is an I/O failure, exit 3.

use std::io::{ErrorKind, Write};

/// Write one line to stdout; on failure end the process as described in the module docs.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}").and_then(|()| out.flush()) {
        end_on_write_error(&e);
    }
}

/// Exit the process for a failed write to stdout: 0 for a closed pipe, 3 (I/O) otherwise.
pub fn end_on_write_error(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(
        std::io::stderr(),
        "depickle: cannot write to standard output: {e}"
    );
    std::process::exit(3);
}

/// `println!` for stdout that never panics (see the module docs).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
