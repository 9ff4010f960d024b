//! The `tcpbypass` command line tool.
use clap::Parser;

/// Same-host TCP acceleration with eBPF sockmap.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
