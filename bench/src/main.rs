//! `tcpbypass-bench`: the benchmark a user runs on their own host before turning the bypass
//! on. A binary of its own, outside the production image; it loads and unloads the bypass
//! through the `tcpbypass` library's typed operations ([`tcpbypass::load`],
//! [`tcpbypass::unload`]), and the library knows nothing of it.
//!
//! It owns everything the benchmark needs and nothing else: its command line ([`cli`]), the
//! plan (which sizes, tests, CPU placements and modes, interleaved over rounds: [`plan`]), the
//! temporary environment it creates and always removes (two child cgroups, the bypass loaded
//! on one of them with the same code as `tcpbypass load`, for `--scenario netns` two network
//! namespaces and a veth pair, and SIGINT/SIGTERM handling: [`setup`]), the worker processes
//! that are the two ends of each measurement (this executable again, as the hidden
//! `bench-worker` command: [`worker`], [`runner`]), the statistics ([`stats`]), the report
//! (table, JSON, SVG: [`report`]), the run itself ([`run`]) and the command that prints and
//! writes its results ([`command`]).
//!
//! Four modes are compared: plain TCP (workers in the `tcp` cgroup, which has no program),
//! TCP with the bypass (workers in the `bypass` cgroup), TCP with sock_ops only (workers in
//! the `sockhash` cgroup of a second load whose sk_msg is detached: sockets in the sockhash,
//! never redirected) and a Unix-domain socket pair (the floor). Three tests: latency, stream
//! and connection churn. After every TCP run the counters tell whether the bypass carried the
//! bytes (or, sockhash-only, whether sockets went into the sockhash unredirected), so a run
//! that silently measured something else is reported, never hidden; with the kernel's BPF
//! statistics on, each bypass and sockhash-only cell also gets its programs' ns per run.

mod cli;
mod command;
mod plan;
mod report;
mod run;
mod runner;
mod setup;
mod stats;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use tcpbypass::{exit, log};

fn main() -> ExitCode {
    tcpbypass::restore_default_sigpipe();
    let mut args = std::env::args_os();
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == cli::WORKER_COMMAND)
    {
        // `tcpbypass-bench bench-worker ...`: parsed with `bench-worker` as the program name.
        args.next();
        let w = cli::WorkerCli::parse_from(args);
        return exit::finish(worker::run(&w.worker));
    }
    let cli = cli::Cli::parse();
    log::init(cli.verbose, cli.quiet);
    exit::finish(command::run(&cli.bench))
}
