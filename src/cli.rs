//! Command-line syntax: every subcommand, option and help text, and the conversions of the
//! clap structs into the library's typed options (`crate::options`). Parsing only; the
//! commands themselves live in `commands/`. Nothing below the command layer takes these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::options::DEFAULT_PIN_DIR;
use crate::options::{LoadOptions, PinOptions};

const AFTER_HELP: &str = "\
Examples:
  tcpbypass probe                      can the bypass work on this host?
  tcpbypass load                       bypass every same-host connection on this host
  tcpbypass load --cgroup /sys/fs/cgroup/kubepods.slice --local-prefix 10.244.0.0/16
  tcpbypass status --json              what is loaded, counters, socket count
  tcpbypass connections                the bypassed connections, like ss
  tcpbypass run --metrics-addr [::]:9464   load, serve Prometheus metrics, unload on SIGTERM
  tcpbypass unload                     back to plain TCP, nothing left behind
  tcpbypass dump sk_msg                the program this binary builds, disassembled

Exit codes:
  0  success (also: load when already loaded, unload when nothing is loaded)
  1  runtime failure (a syscall failed; the message names it)
  2  usage error (bad option or value)
  3  permission: not root, or a capability is missing
  4  this kernel lacks something the bypass needs (see `tcpbypass probe`)
  5  the kernel verifier rejected a program
  6  environment: no cgroup v2, a cgroup v1 path, bpffs missing, a foreign pin directory
  7  load --strict refused: this kernel has a quirk applications would notice (see probe)
  8  an object (verify/dump --object) cannot be loaded as written: not a BPF object,
     malformed, no programs, or a feature this loader does not support (the message says
     which); no program of it reached the verifier";

/// Same-host TCP acceleration with eBPF sockmap: no LLVM, no clang, no libbpf.
#[derive(Debug, Parser)]
#[command(name = "tcpbypass", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// More detail on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the bypass: create maps, load and attach both programs, pin everything.
    ///
    /// Safe to run twice: when the bypass is already loaded it says so and changes nothing,
    /// unless --replace swaps in this binary's programs without detaching first.
    Load(LoadCmdArgs),
    /// Unload: detach exactly our programs, return sockets to plain TCP, remove the pins.
    Unload(PinArgs),
    /// Show whether the bypass is loaded, its programs, sockets and counters.
    Status(StatusArgs),
    /// List the connections the bypass holds, like `ss`: both ends, namespaces, states.
    ///
    /// States of each socket (a connection shows its end furthest from a full bypass):
    ///   paired    its tb_peers entry names its peer: what it sends is redirected
    ///   waiting   a client in tb_active: its server has not been accepted yet
    ///   tcp       tainted: it sent through TCP before it was paired, or the setsockopt
    ///             guard moved both ends to TCP; never redirected again
    ///   fallback  tainted while its peer still redirects to it: the receive-queue bound
    ///             moved this direction to TCP
    ///   unpaired  in the sockhash with no live peer (no tb_peers entry and not waiting,
    ///             or its peer has closed)
    /// Namespaces: host, a name of /run/netns, or the first pid in it; else the cookie.
    /// See docs/operations.md, "Connections".
    #[command(verbatim_doc_comment)]
    Connections(ConnectionsArgs),
    /// Disassemble the programs this binary builds (no kernel needed).
    Dump(DumpArgs),
    /// Run both programs through the kernel verifier without attaching anything.
    Verify(VerifyArgs),
    /// Write both programs as BPF ELF objects (libbpf sections, BTF maps) for bpftool/libbpf.
    Export(ExportArgs),
    /// Report what this kernel offers the bypass; non-zero exit when it cannot work here.
    Probe(ProbeArgs),
    /// Load, stay in the foreground until SIGTERM/SIGINT, then unload (for DaemonSets/systemd).
    Run(RunArgs),
    /// Runs one check of the compatibility suite on a loopback pair this process makes, and
    /// prints what the application observed (run inside a bypassed cgroup, it tests the
    /// installed bypass; see docs/compatibility.md).
    #[command(name = "compat-check", hide = true)]
    CompatCheck(CompatCheckArgs),
}

/// Options of the hidden `compat-check`.
#[derive(Debug, Args)]
pub struct CompatCheckArgs {
    /// The behaviour's name, as in `probe --json`'s `compat` object.
    pub name: String,
}

/// Where the pins live.
#[derive(Debug, Args, Clone)]
pub struct PinArgs {
    /// Pin directory on bpffs.
    #[arg(long, default_value = DEFAULT_PIN_DIR, value_name = "DIR")]
    pub pin_dir: PathBuf,
    /// Mount bpffs at /sys/fs/bpf when it is not mounted (default when running as root).
    #[arg(long)]
    pub mount_bpffs: bool,
    /// Never mount bpffs; fail instead when it is missing.
    #[arg(long, conflicts_with = "mount_bpffs")]
    pub no_mount_bpffs: bool,
}

/// Options of `load` (and `run`).
#[derive(Debug, Args, Clone)]
pub struct LoadArgs {
    /// The cgroup v2 directory whose sockets are bypassed (default: the cgroup v2 root).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    #[command(flatten)]
    pub pins: PinArgs,
    /// An address range whose connections may be bypassed (repeatable). The host's own
    /// addresses and loopback are always included unless --no-local-addresses.
    #[arg(long = "local-prefix", value_name = "CIDR")]
    pub local_prefixes: Vec<String>,
    /// Do not add this host's interface addresses and loopback to the prefix set.
    #[arg(long)]
    pub no_local_addresses: bool,
    /// A TCP port never bypassed, on either end of a connection (repeatable).
    #[arg(long = "exclude-port", value_name = "PORT")]
    pub exclude_ports: Vec<u16>,
    /// The most a bypassed socket may hold unread (bytes, plus a per-message overhead) before
    /// its sender moves to plain TCP, where TCP's flow control makes send() block. Default:
    /// net.ipv4.tcp_rmem[2], the largest receive buffer TCP would grow to; 0 keeps to the
    /// peer's own receive buffer (SO_RCVBUF, 128 KiB unset), the bound closest to TCP for
    /// a reader that stops, at the cost of more connections leaving the bypass.
    #[arg(long, value_name = "BYTES")]
    pub rcvq_limit: Option<u32>,
    /// How many connections the bypass can hold at once (two sockets each): sizes the sockhash
    /// and every per-socket map, preallocated (docs/operations.md, "Capacity", gives the
    /// memory per connection). A connection that finds a map full stays on plain TCP and is
    /// counted in map_full. Default 32768 on a fresh load; --replace keeps the loaded capacity
    /// unless this is given, and a different one needs `unload` then `load`.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=programs::MAX_MAX_CONNS as i64))]
    pub max_conns: Option<u32>,
    /// When already loaded, swap in this binary's programs without detaching first.
    #[arg(long)]
    pub replace: bool,
    /// Attach through PROG_ATTACH even when the kernel has bpf_link for cgroups.
    #[arg(long, hide = true)]
    pub legacy_attach: bool,
    /// Run the compatibility suite again (seconds) instead of using the verdicts this boot
    /// already found (kept in /run/tcpbypass/compat by `probe` and the first `load`).
    #[arg(long)]
    pub recheck: bool,
}

/// Options of `load`: those shared with `run`, and `--strict`.
#[derive(Debug, Args, Clone)]
pub struct LoadCmdArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Refuse to load (exit 7) when the kernel self-test finds a quirk applications would
    /// notice (a blocking recv() failing with EAGAIN; see `tcpbypass probe`).
    #[arg(long)]
    pub strict: bool,
}

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub pins: PinArgs,
    /// Machine-readable output (schema in docs/operations.md).
    #[arg(long)]
    pub json: bool,
}

/// Options of `connections`.
#[derive(Debug, Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    pub pins: PinArgs,
    /// Machine-readable output (schema in docs/operations.md).
    #[arg(long)]
    pub json: bool,
}

/// Which program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// The sock_ops program (inserts and pairs sockets).
    #[value(name = "sock_ops")]
    SockOps,
    /// The sk_msg program (redirects messages).
    #[value(name = "sk_msg")]
    SkMsg,
    /// The cgroup/setsockopt guard (keeps connections on TCP when an application sets an
    /// option the bypass cannot honour).
    #[value(name = "setsockopt")]
    Setsockopt,
}

/// Options of `dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Only this program (default: both).
    pub program: Option<Which>,
    /// Build the variant for a kernel without bpf_get_netns_cookie (loopback not bypassed).
    #[arg(long)]
    pub no_netns_cookie: bool,
    /// Raw slots only: no labels or comments.
    #[arg(long)]
    pub raw: bool,
    /// Disassemble the programs of a compiled BPF ELF object instead.
    #[arg(long, value_name = "FILE.o", conflicts_with_all = ["program", "no_netns_cookie"])]
    pub object: Option<PathBuf>,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this program (default: both).
    pub program: Option<Which>,
    /// Print the verifier's full log.
    #[arg(long)]
    pub log: bool,
    /// Verify the programs of a compiled BPF ELF object instead (its maps are created
    /// temporarily).
    #[arg(long, value_name = "FILE.o", conflicts_with = "program")]
    pub object: Option<PathBuf>,
}

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write sock_ops.o, sk_msg.o and tcpbypass.o into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Options of `probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Leave the bypass in place on exit.
    #[arg(long)]
    pub keep: bool,
    /// Refuse to load on a kernel with a quirk applications would notice (exit 7).
    #[arg(long)]
    pub strict: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics while running (127.0.0.1:9464,
    /// [::]:9464); bound before loading, so a busy port fails `run` with nothing loaded.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl From<&PinArgs> for PinOptions {
    fn from(a: &PinArgs) -> PinOptions {
        PinOptions {
            pin_dir: a.pin_dir.clone(),
            // --mount-bpffs is the default spelled out; only --no-mount-bpffs changes it.
            mount_bpffs: !a.no_mount_bpffs,
        }
    }
}

/// The options `load` and `run` share; `replace` and `strict` come from the command.
fn load_options(
    a: &LoadArgs,
    replace: bool,
    strict: bool,
    keep_loaded_capacity: bool,
) -> LoadOptions {
    LoadOptions {
        cgroup: a.cgroup.clone(),
        pins: PinOptions::from(&a.pins),
        local_prefixes: a.local_prefixes.clone(),
        no_local_addresses: a.no_local_addresses,
        exclude_ports: a.exclude_ports.clone(),
        rcvq_limit: a.rcvq_limit,
        max_conns: a.max_conns,
        keep_loaded_capacity,
        replace,
        legacy_attach: a.legacy_attach,
        recheck: a.recheck,
        strict,
    }
}

impl From<&LoadCmdArgs> for LoadOptions {
    /// `load`: replaces only with `--replace`.
    fn from(a: &LoadCmdArgs) -> LoadOptions {
        load_options(&a.load, a.load.replace, a.strict, false)
    }
}

impl From<&RunArgs> for LoadOptions {
    /// `run`: always replaces in place when already loaded (an upgrade of the DaemonSet), and
    /// keeps the loaded capacity when `--max-conns` differs (a restart must not fail on it).
    fn from(a: &RunArgs) -> LoadOptions {
        load_options(&a.load, true, a.strict, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn load_options_parse() {
        let cli = Cli::try_parse_from([
            "tcpbypass",
            "load",
            "--cgroup",
            "/sys/fs/cgroup/x",
            "--local-prefix",
            "10.0.0.0/8",
            "--local-prefix",
            "fd00::/8",
            "--exclude-port",
            "22",
            "--replace",
        ])
        .unwrap();
        let Command::Load(cmd) = cli.command else {
            panic!("not load")
        };
        assert!(!cmd.strict);
        let a = cmd.load;
        assert_eq!(
            a.cgroup.as_deref(),
            Some(std::path::Path::new("/sys/fs/cgroup/x"))
        );
        assert_eq!(a.local_prefixes, ["10.0.0.0/8", "fd00::/8"]);
        assert_eq!(a.exclude_ports, [22]);
        assert!(a.replace);
        assert_eq!(a.pins.pin_dir, std::path::Path::new(DEFAULT_PIN_DIR));
    }

    #[test]
    fn bad_port_is_a_usage_error() {
        let e = Cli::try_parse_from(["tcpbypass", "load", "--exclude-port", "70000"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn dump_takes_a_program_name() {
        let cli = Cli::try_parse_from(["tcpbypass", "dump", "sk_msg"]).unwrap();
        let Command::Dump(d) = cli.command else {
            panic!("not dump")
        };
        assert_eq!(d.program, Some(Which::SkMsg));
        assert!(Cli::try_parse_from(["tcpbypass", "dump", "xdp"]).is_err());
    }

    #[test]
    fn options_convert() {
        let cli =
            Cli::try_parse_from(["tcpbypass", "load", "--no-mount-bpffs", "--strict"]).unwrap();
        let Command::Load(cmd) = cli.command else {
            panic!("not load")
        };
        let o = LoadOptions::from(&cmd);
        assert!(o.strict && !o.replace && !o.pins.mount_bpffs);
        assert_eq!(o.pins.pin_dir, std::path::Path::new(DEFAULT_PIN_DIR));
        let cli = Cli::try_parse_from(["tcpbypass", "run", "--max-conns", "7"]).unwrap();
        let Command::Run(cmd) = cli.command else {
            panic!("not run")
        };
        let o = LoadOptions::from(&cmd);
        assert!(o.replace && !o.strict && o.pins.mount_bpffs);
        assert_eq!(o.max_conns, Some(7));
    }

    #[test]
    fn no_bench_subcommand() {
        for name in ["bench", "bench-worker"] {
            let e = Cli::try_parse_from(["tcpbypass", name]).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::InvalidSubcommand,
                "{name}"
            );
        }
    }

    #[test]
    fn verbose_and_quiet_conflict() {
        assert!(Cli::try_parse_from(["tcpbypass", "-v", "-q", "status"]).is_err());
    }
}
