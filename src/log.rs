//! Messages to stderr at the verbosity chosen with `-v`/`-q`. Data (status, dump) goes to
//! stdout through `println!`, never through here.

use std::sync::atomic::{AtomicI8, Ordering};

static LEVEL: AtomicI8 = AtomicI8::new(0);

/// Sets the verbosity: -1 quiet, 0 normal, 1+ verbose.
pub fn init(verbose: u8, quiet: bool) {
    let level = if quiet { -1 } else { verbose.min(3) as i8 };
    LEVEL.store(level, Ordering::Relaxed);
}

/// The verbosity: -1 quiet, 0 normal, 1+ verbose.
pub fn verbosity() -> i8 {
    LEVEL.load(Ordering::Relaxed)
}

/// A progress or result message (hidden by `-q`).
pub fn info(msg: &str) {
    if verbosity() >= 0 {
        eprintln!("{msg}");
    }
}

/// A detail shown with `-v`.
pub fn debug(msg: &str) {
    if verbosity() >= 1 {
        eprintln!("{msg}");
    }
}

/// A warning (hidden by `-q`).
pub fn warn(msg: &str) {
    if verbosity() >= 0 {
        eprintln!("warning: {msg}");
    }
}

/// An error (always shown).
pub fn error(msg: &str) {
    eprintln!("error: {msg}");
}
