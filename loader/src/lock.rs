//! One operation at a time on a pin directory: [`PinDirLock`], an exclusive `flock(2)` on the
//! directory that holds the pin directory (its parent), taken before looking at the pins and
//! held until the operation has finished changing them.
//!
//! Why `flock(2)` on the parent directory:
//!
//! - A killed holder cannot leave it held: the kernel drops the lock when the last descriptor
//!   of its open file description closes, which process exit (even by `SIGKILL`) does. The
//!   descriptor is close-on-exec, so no child inherits it. Nothing is left on disk to go stale
//!   (unlike a PID file).
//! - It works before the pin directory exists and after it is gone: the parent is created if
//!   missing (mode 0700, as pin directories are) and never removed by the unloader. A lock on
//!   the pin directory itself would fail: `unload` removes that directory, and a caller
//!   waiting on the removed one would go on while a newcomer locks a fresh directory of the
//!   same name.
//! - It is shared exactly by the processes that share the pins. bpffs holds no regular files,
//!   so there can be no lock file beside the pins; a lock file elsewhere (say under `/run`)
//!   would not be shared across a container boundary: the DaemonSet's pods mount the host's
//!   bpffs but each has its own `/run`, so a pod and the host's systemd unit would take two
//!   different locks for the same pins. A flock belongs to the inode, so every spelling of the
//!   path (relative, `..`, symlinks, bind mounts of the same bpffs) takes the same lock.
//!
//! The price: operations on sibling pin directories (same parent) wait for each other too.
//! A caller holds the lock for as long as its operation takes, and others wait that long.
//!
//! ```no_run
//! use std::path::Path;
//! use loader::lock::PinDirLock;
//!
//! let pins = Path::new("/sys/fs/bpf/my-service");
//! let _lock = PinDirLock::acquire(pins, |dir| {
//!     eprintln!("waiting for another operation on {}", dir.display())
//! })?;
//! // … inspect, create or remove the pins: nobody else is doing so until _lock drops …
//! # Ok::<(), loader::Error>(())
//! ```

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::env;
use crate::error::{Error, Result};
use crate::sys;

/// An exclusive lock on the directory holding a pin directory; released on drop (or when the
/// process dies).
#[derive(Debug)]
pub struct PinDirLock {
    // Closing it releases the lock: it is never duplicated, and is close-on-exec.
    _fd: OwnedFd,
    dir: PathBuf,
    waited: bool,
}

/// The directory whose lock guards `pin_dir`: its parent (`.` for a bare relative name, `/`
/// for `/` itself).
pub fn lock_dir(pin_dir: &Path) -> PathBuf {
    match pin_dir.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => pin_dir.to_path_buf(),
    }
}

impl PinDirLock {
    /// Locks `pin_dir`'s parent directory, creating it (and missing ancestors, mode 0700) when
    /// missing; for operations that may create the pin directory. Blocks while another process
    /// (or another [`PinDirLock`] in this one) holds the lock, calling `on_wait` with the
    /// directory once before it starts waiting.
    pub fn acquire(pin_dir: &Path, on_wait: impl FnOnce(&Path)) -> Result<PinDirLock> {
        let dir = lock_dir(pin_dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io("creating", &dir, e))?;
        match lock_at(dir, on_wait)? {
            Some(lock) => Ok(lock),
            // Removed between creating and opening it: someone is tearing the tree down.
            None => Err(Error::io(
                "locking",
                lock_dir(pin_dir),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )),
        }
    }

    /// Like [`PinDirLock::acquire`], but creates nothing: `None` when the parent directory does
    /// not exist (then neither does the pin directory); for operations that only remove pins.
    pub fn acquire_if_present(
        pin_dir: &Path,
        on_wait: impl FnOnce(&Path),
    ) -> Result<Option<PinDirLock>> {
        lock_at(lock_dir(pin_dir), on_wait)
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether another holder made this lock wait.
    pub fn waited(&self) -> bool {
        self.waited
    }
}

/// Locks `dir`; `None` when it does not exist.
fn lock_at(dir: PathBuf, on_wait: impl FnOnce(&Path)) -> Result<Option<PinDirLock>> {
    let mut on_wait = Some(on_wait);
    let mut waited = false;
    loop {
        let fd = match env::open_dir(&dir) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        match sys::flock(fd.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EWOULDBLOCK) => {
                if let Some(f) = on_wait.take() {
                    f(&dir);
                }
                waited = true;
                sys::flock(fd.as_fd(), libc::LOCK_EX)?;
            }
            Err(e) => return Err(e.into()),
        }
        // The directory may have been removed (or replaced) while we waited: then the lock
        // guards nothing anyone else will look at. Look again at what the path names now.
        let locked = fs::File::from(fd);
        let held = locked
            .metadata()
            .map_err(|e| Error::io("inspecting", &dir, e))?;
        match fs::metadata(&dir) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                return Ok(Some(PinDirLock {
                    _fd: locked.into(),
                    dir,
                    waited,
                }));
            }
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("inspecting", &dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A unique scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let p = std::env::temp_dir()
                .join(format!("tcpbypass-lock-test-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn lock_dir_is_the_parent() {
        assert_eq!(
            lock_dir(Path::new("/sys/fs/bpf/tcpbypass")),
            Path::new("/sys/fs/bpf")
        );
        assert_eq!(lock_dir(Path::new("tb")), Path::new("."));
        assert_eq!(lock_dir(Path::new("/")), Path::new("/"));
        assert_eq!(lock_dir(Path::new("a/b/")), Path::new("a"));
    }

    #[test]
    fn acquire_creates_parents_and_if_present_creates_nothing() {
        let s = Scratch::new("create");
        let absent = s.0.join("x/y/pins");
        assert!(PinDirLock::acquire_if_present(&absent, |_| {})
            .unwrap()
            .is_none());
        assert!(!s.0.join("x").exists());
        let lock = PinDirLock::acquire(&absent, |_| panic!("nobody holds it")).unwrap();
        assert_eq!(lock.dir(), s.0.join("x/y"));
        assert!(!lock.waited());
        assert!(!absent.exists(), "the pin dir itself is not created");
        let mode = fs::metadata(s.0.join("x/y")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn second_holder_waits_for_the_first() {
        let s = Scratch::new("wait");
        let pins = s.0.join("pins");
        let first = PinDirLock::acquire(&pins, |_| {}).unwrap();
        let (tx, rx) = mpsc::channel();
        let p2 = pins.clone();
        let t = std::thread::spawn(move || {
            let tx2 = tx.clone();
            let second = PinDirLock::acquire(&p2, move |_| tx2.send("waiting").unwrap()).unwrap();
            tx.send("locked").unwrap();
            second.waited()
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("waiting"));
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second lock must wait while the first is held"
        );
        drop(first);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("locked"));
        assert!(t.join().unwrap(), "second.waited()");
    }

    #[test]
    fn a_lock_held_by_a_killed_process_is_released() {
        if let Some(dir) = std::env::var_os(CHILD_ENV) {
            // The child: take the lock, say so, and wait to be killed.
            let _lock = PinDirLock::acquire(&PathBuf::from(dir).join("pins"), |_| {}).unwrap();
            println!("locked");
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        let s = Scratch::new("killed");
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "lock::tests::a_lock_held_by_a_killed_process_is_released",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &s.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let saw = BufReader::new(out)
            .lines()
            .map_while(|l| l.ok())
            .any(|l| l.contains("locked"));
        assert!(saw, "the child did not take the lock");
        let pins = s.0.join("pins");
        let (tx, rx) = mpsc::channel();
        let p2 = pins.clone();
        std::thread::spawn(move || {
            let l = PinDirLock::acquire(&p2, |_| {}).unwrap();
            tx.send(l.waited()).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the child holds the lock"
        );
        child.kill().unwrap(); // SIGKILL: no destructor runs in the child
        child.wait().unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(true),
            "the lock must be free once its holder is killed"
        );
    }

    const CHILD_ENV: &str = "TCPBYPASS_LOCK_TEST_CHILD_DIR";

    #[test]
    fn a_removed_and_recreated_directory_is_not_trusted() {
        let s = Scratch::new("recreate");
        let pins = s.0.join("d/pins");
        let first = PinDirLock::acquire(&pins, |_| {}).unwrap();
        let (tx, rx) = mpsc::channel();
        let p2 = pins.clone();
        let t = std::thread::spawn(move || {
            let tx2 = tx.clone();
            let l = PinDirLock::acquire(&p2, move |_| tx2.send("waiting").unwrap()).unwrap();
            tx.send("locked").unwrap();
            l
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("waiting"));
        // The waiter holds an fd of the old directory: replace the directory, then release.
        fs::remove_dir(s.0.join("d")).unwrap();
        fs::create_dir(s.0.join("d")).unwrap();
        drop(first);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("locked"));
        let second = t.join().unwrap();
        let locked = fs::File::from(second._fd.try_clone().unwrap())
            .metadata()
            .unwrap();
        let now = fs::metadata(s.0.join("d")).unwrap();
        assert_eq!(
            (locked.dev(), locked.ino()),
            (now.dev(), now.ino()),
            "the waiter must lock the directory the path names now"
        );
    }
}
