//! Test support for this workspace's kernel tests (loader, programs, CLI, end-to-end): not for
//! production use.
//!
//! - [`kernel_or_skip`]: whether `bpf()` is usable; prints `SKIP <test>: <reason>` when not,
//!   and panics instead when `TCPBYPASS_REQUIRE_KERNEL=1`.
//! - [`TempCgroup`]: a unique child cgroup under the cgroup v2 mount, removed on drop.
//! - [`TempPinDir`]: a unique directory on the bpffs at `/sys/fs/bpf`, removed with every pin
//!   in it on drop.
//! - [`runtime_path`]: a build path (`env!`) the kernel matrix can point elsewhere at run time.
//! - [`net`]: a thread in a network namespace of its own, a veth pair there, raw frames.
//! - [`with_tracefs`]: a thread that sees a tracefs (a private mount when the host has none).
//!
//! ```no_run
//! use loader::testing::{kernel_or_skip, TempCgroup, TempPinDir};
//!
//! if !kernel_or_skip("my_test") {
//!     return;
//! }
//! let cg = TempCgroup::new().unwrap();
//! let pins = TempPinDir::new().unwrap();
//! // … attach to cg.path(), pin under pins.path() …
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub mod net;

use crate::env;
use crate::error::{Error, Result};

/// A path a test bakes in at build time with `env!` (`CARGO_BIN_EXE_<name>`,
/// `CARGO_MANIFEST_DIR`), unless the variable of the same name is set, not empty, when the test
/// runs. The kernel matrix (`verifier-tests/vm`) runs test executables in a VM where the build
/// paths may not exist (a checkout under `/tmp` is hidden by the guest's tmpfs there): it stages
/// the files at fixed guest paths and names them through these variables. When cargo runs the
/// tests, the variables are unset or hold the built values.
///
/// ```no_run
/// let bin = loader::testing::runtime_path("CARGO_BIN_EXE_tcpbypass", "/build/tcpbypass");
/// let data = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"));
/// ```
pub fn runtime_path(var: &str, built: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(built),
    }
}

/// The environment variable that turns skips into failures.
pub const REQUIRE_KERNEL_ENV: &str = "TCPBYPASS_REQUIRE_KERNEL";

/// `true` when `bpf()` is usable here. Otherwise prints `SKIP <test_name>: <reason>` to
/// stderr and returns `false`, or panics when `TCPBYPASS_REQUIRE_KERNEL=1`.
pub fn kernel_or_skip(test_name: &str) -> bool {
    static STATE: OnceLock<Result<(), String>> = OnceLock::new();
    let state = STATE.get_or_init(|| {
        crate::features::bpf_usable().map_err(|e| format!("bpf() is not usable here: {e}"))
    });
    match state {
        Ok(()) => true,
        Err(reason) => {
            if std::env::var(REQUIRE_KERNEL_ENV).as_deref() == Ok("1") {
                panic!("{test_name}: {reason} (and {REQUIRE_KERNEL_ENV}=1 forbids skipping)");
            }
            eprintln!("SKIP {test_name}: {reason}");
            false
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    format!(
        "tcpbypass-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A child cgroup with a unique name (`tcpbypass-test-<pid>-<n>`) directly under the cgroup
/// v2 mount. On drop, its member processes (and those of any sub-cgroup) are moved back to
/// the mount's root cgroup and the directories are removed.
#[derive(Debug)]
pub struct TempCgroup {
    path: PathBuf,
    root: PathBuf,
}

impl TempCgroup {
    /// Creates the cgroup.
    pub fn new() -> Result<TempCgroup> {
        let root = env::cgroup2_mount()?;
        let path = root.join(unique_name());
        fs::create_dir(&path).map_err(|e| Error::io("creating cgroup", &path, e))?;
        let cg = TempCgroup { path, root };
        env::check_cgroup2(&cg.path)?;
        Ok(cg)
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves process `pid` (all its threads) into the cgroup.
    pub fn add_pid(&self, pid: u32) -> Result<()> {
        write_pid(&self.path, pid)
    }

    /// The processes in the cgroup.
    pub fn pids(&self) -> Result<Vec<u32>> {
        read_pids(&self.path)
    }
}

fn write_pid(cgroup: &Path, pid: u32) -> Result<()> {
    let procs = cgroup.join("cgroup.procs");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(&procs)
        .map_err(|e| Error::io("opening", &procs, e))?;
    f.write_all(format!("{pid}\n").as_bytes())
        .map_err(|e| Error::io("writing", &procs, e))
}

fn read_pids(cgroup: &Path) -> Result<Vec<u32>> {
    let procs = cgroup.join("cgroup.procs");
    let text = fs::read_to_string(&procs).map_err(|e| Error::io("reading", &procs, e))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Empties and removes `dir` and its sub-cgroups, moving processes to `root`.
fn remove_cgroup_tree(dir: &Path, root: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path(), root);
            }
        }
    }
    // Processes may be exiting (zombies still count until reaped): retry for a while.
    for attempt in 0..50 {
        for pid in read_pids(dir).unwrap_or_default() {
            let _ = write_pid(root, pid);
        }
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) if attempt < 49 => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => eprintln!(
                "warning: could not remove test cgroup {}: {e}",
                dir.display()
            ),
        }
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        remove_cgroup_tree(&self.path, &self.root);
    }
}

/// Where [`TempPinDir`] mounts or finds the bpffs.
pub const BPFFS_PATH: &str = "/sys/fs/bpf";

/// A unique directory (`tcpbypass-test-<pid>-<n>`, mode 0700) on the bpffs at `/sys/fs/bpf`,
/// which is mounted first if needed (and left mounted). Drop removes every pin below it and
/// the directory.
#[derive(Debug)]
pub struct TempPinDir {
    path: PathBuf,
}

impl TempPinDir {
    /// Creates the directory.
    pub fn new() -> Result<TempPinDir> {
        static MOUNT: Mutex<()> = Mutex::new(());
        {
            let _guard = MOUNT.lock().unwrap_or_else(|p| p.into_inner());
            env::ensure_bpffs(Path::new(BPFFS_PATH))?;
        }
        let path = Path::new(BPFFS_PATH).join(unique_name());
        env::create_pin_dir(&path)?;
        Ok(TempPinDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempPinDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!(
                    "warning: could not remove pin dir {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// Runs `f` in a thread that sees a tracefs: the process's own if mounted, else one mounted in
/// a private mount namespace of that thread (never visible to the host). `Err` with a reason
/// when neither works.
pub fn with_tracefs<R: Send>(f: impl FnOnce() -> R + Send) -> Result<R, String> {
    std::thread::scope(|s| {
        match s
            .spawn(|| {
                if crate::attach::perf::tracefs().is_err() {
                    use nix::mount::{mount, MsFlags};
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                        .map_err(|e| format!("unshare: {e}"))?;
                    mount(
                        None::<&str>,
                        "/",
                        None::<&str>,
                        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                        None::<&str>,
                    )
                    .map_err(|e| format!("making / private: {e}"))?;
                    mount(
                        Some("tracefs"),
                        "/sys/kernel/tracing",
                        Some("tracefs"),
                        MsFlags::empty(),
                        None::<&str>,
                    )
                    .map_err(|e| format!("mounting tracefs: {e}"))?;
                }
                Ok(f())
            })
            .join()
        {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}
