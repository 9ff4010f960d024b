//! The `tcpbypass` binary: parses the command line, runs one command of the `tcpbypass`
//! library, and maps a failure to its documented exit code.

use std::process::ExitCode;

use clap::Parser;
use tcpbypass::{cli::Cli, commands, exit, log};

fn main() -> ExitCode {
    tcpbypass::restore_default_sigpipe();
    let cli = Cli::parse();
    log::init(cli.verbose, cli.quiet);
    exit::finish(commands::run(cli.command))
}
