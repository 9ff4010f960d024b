//! The command layer: one module per subcommand, plus the checks they share (privileges,
//! cgroup, bpffs). Each command's `run` takes its clap options (`crate::cli`) and converts them
//! into the typed options (`crate::options`) of the operations it performs; the operations
//! ([`load()`], [`unload()`] and the checks below) never see command-line syntax.

mod connections;
mod dump;
mod export;
mod load;
mod probe;
mod run;
mod status;
mod unload;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use loader::lock::PinDirLock;

use crate::bypass::{PinState, Pins};
use crate::cli::Command;
use crate::exit::{self, Failure};
use crate::log;
use crate::options::PinOptions;

pub use load::{load, Outcome as LoadOutcome};
pub use unload::unload;

/// Runs one command.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Load(a) => load::run(&a),
        Command::Unload(a) => unload::run(&a),
        Command::Status(a) => status::run(&a),
        Command::Connections(a) => connections::run(&a),
        Command::Dump(a) => dump::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Probe(a) => probe::run(&a),
        Command::Run(a) => run::run(&a),
        Command::CompatCheck(a) => crate::compat::run_one(&a.name),
    }
}

/// Fails with a clear message unless `bpf()` is usable (root or the right capabilities).
pub fn require_bpf() -> Result<()> {
    loader::env::raise_memlock();
    loader::features::bpf_usable().map_err(|e| {
        let code = match e.errno() {
            Some(libc::EPERM) | Some(libc::EACCES) => exit::PERMISSION,
            Some(libc::ENOSYS) => exit::UNSUPPORTED,
            _ => exit::RUNTIME,
        };
        // An EPERM already names the missing capabilities.
        let f = Failure::new(code, format!("bpf() is not usable: {e}"));
        anyhow::Error::new(match code {
            exit::PERMISSION => f,
            _ => f.hint("this kernel may be built without CONFIG_BPF_SYSCALL"),
        })
    })
}

/// The cgroup to attach to: the given path (checked to be cgroup v2), or the cgroup v2 root.
pub fn resolve_cgroup(given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => loader::env::cgroup2_mount().map_err(|e| {
            Failure::new(exit::ENVIRONMENT, e.to_string())
                .hint("the bypass needs a cgroup v2 hierarchy; pass --cgroup DIR to choose one")
        })?,
    };
    if !path.is_dir() {
        return Err(Failure::new(
            exit::ENVIRONMENT,
            format!("cgroup directory {} does not exist", path.display()),
        )
        .hint("create it first (cgroup v2 directories are made with mkdir) or pass an existing one")
        .into());
    }
    loader::env::check_cgroup2(&path).map_err(|e| {
        Failure::new(exit::ENVIRONMENT, e.to_string())
            .hint("pass a directory of the cgroup v2 (cgroup2) hierarchy, see /proc/self/mountinfo")
    })?;
    Ok(path)
}

/// Makes sure the pin directory's file system is a bpffs, mounting `/sys/fs/bpf` when allowed.
pub fn ensure_bpffs(args: &PinOptions) -> Result<()> {
    let bpffs_root = Path::new("/sys/fs/bpf");
    // The nearest existing ancestor of the pin dir must be on bpffs.
    let mut probe = args.pin_dir.as_path();
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p,
            None => break,
        }
    }
    if loader::env::is_bpffs(probe).unwrap_or(false) {
        return Ok(());
    }
    let may_mount = args.mount_bpffs && args.pin_dir.starts_with(bpffs_root);
    if may_mount {
        let mounted = loader::env::ensure_bpffs(bpffs_root).map_err(|e| {
            Failure::new(
                exit::ENVIRONMENT,
                format!("bpffs is not mounted and mounting it failed: {e}"),
            )
            .hint("mount it with `mount -t bpf bpf /sys/fs/bpf`")
        })?;
        if mounted {
            log::info("mounted bpffs at /sys/fs/bpf");
        }
        return Ok(());
    }
    Err(Failure::new(
        exit::ENVIRONMENT,
        format!(
            "{} is not on a BPF file system (bpffs)",
            args.pin_dir.display()
        ),
    )
    .hint(if !args.mount_bpffs {
        "mount it with `mount -t bpf bpf /sys/fs/bpf`, or drop --no-mount-bpffs".to_string()
    } else {
        "choose a --pin-dir under a mounted bpffs (e.g. /sys/fs/bpf/tcpbypass)".to_string()
    })
    .into())
}

/// Takes the pin directory's lock ([`loader::lock::PinDirLock`]) for a command that may create
/// pins (`load`, `load --replace`, `run`), so concurrent commands on one pin directory act one
/// after the other and each gets the answer it would get alone. Says so when it has to wait.
pub fn lock_pins(pin_dir: &Path) -> Result<PinDirLock> {
    PinDirLock::acquire(pin_dir, |dir| waiting(pin_dir, dir))
        .map_err(|e| Failure::from_loader(&at(pin_dir, "locking the pin directory"), e))
}

/// [`lock_pins`] for a command that only removes pins (`unload`): creates nothing, and is
/// `None` when the pin directory's parent does not exist (so neither do the pins).
pub fn lock_pins_if_present(pin_dir: &Path) -> Result<Option<PinDirLock>> {
    PinDirLock::acquire_if_present(pin_dir, |dir| waiting(pin_dir, dir))
        .map_err(|e| Failure::from_loader(&at(pin_dir, "locking the pin directory"), e))
}

fn waiting(pin_dir: &Path, dir: &Path) {
    log::info(&format!(
        "waiting for another tcpbypass command on {} (lock on {})",
        pin_dir.display(),
        dir.display()
    ));
}

/// What `status` and `connections` print when nothing of ours is pinned at `pins`: a line, or
/// with `json` the object `{"schema": 1, "loaded": false, "pin_dir": …}`.
pub fn print_not_loaded(pins: &Pins, json: bool) {
    if json {
        println!(
            "{}",
            crate::json::Json::obj()
                .with("schema", 1u32)
                .with("loaded", false)
                .with("pin_dir", pins.dir.display().to_string())
                .render()
        );
    } else {
        println!(
            "tcpbypass: not loaded (no bypass pinned at {})",
            pins.dir.display()
        );
    }
}

/// The state of the pin directory, refusing one that holds something that is not ours.
pub fn pin_state(pins: &Pins) -> Result<PinState> {
    let state = pins.state()?;
    if state == PinState::Foreign {
        return Err(Failure::new(
            exit::ENVIRONMENT,
            format!(
                "{} exists but was not made by tcpbypass (no {} pin of ours)",
                pins.dir.display(),
                crate::bypass::META
            ),
        )
        .hint("choose another --pin-dir, or remove that directory if you know it is stale")
        .into());
    }
    Ok(state)
}

/// Whether an error is a kernel "no such entry" (already gone).
pub fn is_enoent(e: &loader::Error) -> bool {
    e.errno() == Some(libc::ENOENT)
}

/// Context for an operation on a path.
pub fn at(path: &Path, what: &str) -> String {
    format!("{what} {}", path.display())
}
