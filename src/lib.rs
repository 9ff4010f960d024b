//! The `tcpbypass` command line tool as a library: the commands wire `programs` (what to load)
//! to `loader` (how to load it). The `tcpbypass` binary (`main.rs`) is a thin main over it;
//! the benchmark, `tcpbypass-bench` (workspace member `bench/`), is a separate binary that
//! uses it to load and unload the bypass, so the production binary carries no benchmark code.
//!
//! Layers, each depending only on those below it:
//! - [`cli`]: the command-line syntax (clap), and its conversions into typed options;
//! - [`commands`]: one module per subcommand, the checks they share, and the operations
//!   [`load()`] and [`unload()`];
//! - [`options`]: the typed options of those operations ([`LoadOptions`], [`PinOptions`]);
//! - the pieces the commands are made of: [`bypass`] (the pinned layout, building and loading
//!   the programs), `compat` and `compat_cache` (the compatibility suite and its cached
//!   verdicts), `quirk` (the kernel self-test), `metrics` (Prometheus), `netns` (namespace
//!   names), [`json`] (the JSON writer), [`log`] (stderr at the chosen verbosity) and [`exit`]
//!   (exit codes and how a failure is shown).

pub mod bypass;
pub mod cli;
pub mod commands;
mod compat;
mod compat_cache;
pub mod exit;
pub mod json;
pub mod log;
mod metrics;
mod netns;
pub mod options;
mod quirk;

pub use commands::{load, unload, LoadOutcome};
pub use options::{LoadOptions, PinOptions, DEFAULT_PIN_DIR};

/// Restores the default SIGPIPE disposition, so output piped into a reader that stops early
/// (`tcpbypass dump | head`) ends the process quietly, as other command line tools do, instead
/// of a panic on EPIPE in `println!`. Call first in `main`, before any thread starts.
pub fn restore_default_sigpipe() {
    // SAFETY: restoring the default disposition of one signal; no handler is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
