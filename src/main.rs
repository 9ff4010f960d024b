//! The `tcpbypass` command line tool: parses the command line, runs one command, and maps
//! failures to documented exit codes. The commands wire `programs` (what to load) to
//! `loader` (how to load it).

mod bench;
mod bypass;
mod cli;
mod commands;
mod compat;
mod compat_cache;
mod exit;
mod json;
mod log;
mod metrics;
mod netns;
mod quirk;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Output piped into a reader that stops early (`tcpbypass dump | head`): end quietly, as
    // other command line tools do, instead of panicking on EPIPE in println!.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = cli::Cli::parse();
    log::init(cli.verbose, cli.quiet);
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            let code = exit::code_for(&err);
            log::error(&exit::render(&err, log::verbosity() > 0));
            ExitCode::from(code)
        }
    }
}
