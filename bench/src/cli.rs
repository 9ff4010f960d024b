//! The benchmark's command-line syntax: its options (the same as `tcpbypass bench` had before
//! the benchmark left the production binary) and the hidden `bench-worker` command the
//! benchmark starts for each end of a measurement. Parsing only.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use crate::worker::WorkerArgs;

/// Measure plain TCP, TCP with the bypass, TCP with its sockets in the sockhash but not
/// redirected, and a Unix socket pair on this host (latency, stream, connection churn), in
/// temporary cgroups that are removed afterwards (see docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(name = "tcpbypass-bench", version)]
pub struct Cli {
    /// More detail on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The benchmark's options.
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// The name of the hidden worker command: `tcpbypass-bench bench-worker ...` is one end of a
/// measurement (the benchmark starts its own executable so; see `crate::runner`).
pub const WORKER_COMMAND: &str = "bench-worker";

/// One end of a benchmark measurement (internal: started by `tcpbypass-bench` itself).
#[derive(Debug, Parser)]
#[command(name = "bench-worker", bin_name = "tcpbypass-bench bench-worker")]
pub struct WorkerCli {
    /// The worker's options.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Where `bench` runs its two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchScenario {
    /// Both ends in this network namespace, over loopback.
    Loopback,
    /// One end in each of two temporary network namespaces joined by a veth pair.
    Netns,
}

/// CPU placement of the two ends of a `bench` measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum BenchCpu {
    /// Both ends pinned to one CPU.
    Same,
    /// The ends pinned to two different CPUs.
    Split,
    /// Not pinned: the scheduler decides.
    Any,
}

/// What `bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum BenchTest {
    /// Ping-pong: one message each way, median and p99 latency.
    Latency,
    /// One-way stream of messages: throughput.
    Stream,
    /// Connection churn: connect, one request, one response, close; connections per second
    /// (TCP modes only, at --churn-size).
    Churn,
}

/// What carries the bytes (see `crate::plan::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum BenchMode {
    /// Plain TCP.
    Tcp,
    /// TCP with the bypass.
    Bypass,
    /// TCP with sock_ops loaded (sockets in the sockhash) but sk_msg not attached: nothing is
    /// redirected, what tainted and fallen-back connections pay.
    SockhashOnly,
    /// A Unix socket pair (latency and stream only).
    Unix,
}

/// Options of the benchmark.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Where the two ends run.
    #[arg(long, value_enum, default_value = "loopback")]
    pub scenario: BenchScenario,
    /// CPU placement of the two ends; a comma-separated list compares several in one run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "any")]
    pub cpu: Vec<BenchCpu>,
    /// Message sizes in bytes (suffix K for KiB), comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = crate::plan::parse_size,
          default_value = "1,64,512,1K,4K,16K,64K", value_name = "SIZES")]
    pub sizes: Vec<usize>,
    /// Which tests, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "latency,stream,churn"
    )]
    pub tests: Vec<BenchTest>,
    /// Which modes, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "tcp,bypass,sockhash-only,unix"
    )]
    pub modes: Vec<BenchMode>,
    /// Request and response size of the churn test (suffix K for KiB).
    #[arg(long, value_parser = crate::plan::parse_size, default_value = "64", value_name = "SIZE")]
    pub churn_size: usize,
    /// Also measure another implementation's sock_ops and sk_msg programs (the `compare` mode):
    /// one ELF object with both, or two; loaded through tcpbypass's own ELF reader, maps as the
    /// objects declare them, attached to a cgroup of their own.
    #[arg(long, num_args = 1..=2, value_name = "OBJECT")]
    pub compare_objects: Vec<PathBuf>,
    /// Leave the kernel's BPF run-time statistics off (by default they are on during the run,
    /// which costs the programs two clock reads per run, and ns/run is reported).
    #[arg(long)]
    pub no_bpf_stats: bool,
    /// A quick run: about 25 s, 3 rounds.
    #[arg(long)]
    pub quick: bool,
    /// Total measuring time in seconds (default 150, or 25 with --quick).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..))]
    pub time: Option<u32>,
    /// How many times each (size, test, mode) is measured, the modes interleaved
    /// (default 5, or 3 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: Option<u32>,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write an SVG chart to FILE.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Set TCP_NODELAY in the stream test too (the latency test always sets it).
    #[arg(long)]
    pub nodelay: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definitions_are_consistent() {
        Cli::command().debug_assert();
        WorkerCli::command().debug_assert();
    }
}
