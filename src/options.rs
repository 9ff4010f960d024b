//! Typed options of the operations below the command layer: what loading the bypass
//! ([`crate::load`]) and finding its pins need, as plain structs with no command-line syntax.
//! The command line (`crate::cli`) converts its clap structs into these; other programs (the
//! benchmark, `tcpbypass-bench`) build them directly.

use std::path::PathBuf;

/// Default pin directory on bpffs.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/tcpbypass";

/// Where the pins live, and whether bpffs may be mounted for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinOptions {
    /// The pin directory on bpffs.
    pub pin_dir: PathBuf,
    /// Mount bpffs at /sys/fs/bpf when the pin directory is under it and no bpffs is mounted
    /// there (`false`: fail instead, as `--no-mount-bpffs`).
    pub mount_bpffs: bool,
}

impl Default for PinOptions {
    /// [`DEFAULT_PIN_DIR`], mounting bpffs when it is missing (the command line's default).
    fn default() -> PinOptions {
        PinOptions {
            pin_dir: PathBuf::from(DEFAULT_PIN_DIR),
            mount_bpffs: true,
        }
    }
}

/// How to load the bypass (`tcpbypass load` and `run`; see `--help` of `load` for each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The cgroup v2 directory whose sockets are bypassed (`None`: the cgroup v2 root).
    pub cgroup: Option<PathBuf>,
    /// Where the pins go.
    pub pins: PinOptions,
    /// Address ranges (CIDR text, checked by the load) whose connections may be bypassed.
    pub local_prefixes: Vec<String>,
    /// Leave this host's interface addresses and loopback out of the prefix set.
    pub no_local_addresses: bool,
    /// TCP ports never bypassed, on either end of a connection.
    pub exclude_ports: Vec<u16>,
    /// The receive-queue bound in bytes (`None`: net.ipv4.tcp_rmem[2]; 0: the peer's
    /// SO_RCVBUF).
    pub rcvq_limit: Option<u32>,
    /// How many connections the maps hold, 1 to `programs::MAX_MAX_CONNS` (`None`: the
    /// default on a fresh load, the loaded capacity on a replace).
    pub max_conns: Option<u32>,
    /// On a replace, a `max_conns` other than the loaded capacity keeps the loaded one with a
    /// warning (`run`: a daemon that restarts must not fail on it) instead of refusing with
    /// exit code 2 (`load --replace`).
    pub keep_loaded_capacity: bool,
    /// When already loaded, swap in this binary's programs without detaching first
    /// (otherwise an existing load is left as it is).
    pub replace: bool,
    /// Attach through PROG_ATTACH even when the kernel has bpf_link for cgroups.
    pub legacy_attach: bool,
    /// Run the compatibility suite again instead of using this boot's cached verdicts.
    pub recheck: bool,
    /// Refuse to load (exit code 7) when the kernel self-test finds a quirk applications
    /// would notice; otherwise it is a warning.
    pub strict: bool,
}
