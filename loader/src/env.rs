//! The host environment bpf objects live in: the cgroup v2 mount (from `/proc/self/mountinfo`),
//! cgroup path validation, bpffs detection and mounting, pin directories, capabilities (for
//! EPERM messages), `RLIMIT_MEMLOCK`, and the number of possible CPUs.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::sys::consts::{BPF_FS_MAGIC, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC};

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The directory inside the mounted file system that is mounted (field 4).
    pub root: String,
    /// Where it is mounted (field 5, escapes decoded).
    pub mount_point: PathBuf,
    /// The file system type (first field after ` - `), e.g. `cgroup2`.
    pub fs_type: String,
    /// The mount source (second field after ` - `).
    pub source: String,
}

/// Decodes the octal escapes (`\040` for space, …) of a mountinfo field.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the text of a mountinfo file; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            if pre.len() < 6 {
                return None;
            }
            let mut post = post.split(' ');
            let fs_type = post.next()?.to_string();
            let source = post.next().unwrap_or("").to_string();
            Some(MountEntry {
                root: unescape(pre[3]),
                mount_point: PathBuf::from(unescape(pre[4])),
                fs_type,
                source: unescape(&source),
            })
        })
        .collect()
}

/// The first cgroup v2 mount point among `entries`.
pub fn find_cgroup2(entries: &[MountEntry]) -> Option<PathBuf> {
    entries
        .iter()
        .find(|e| e.fs_type == "cgroup2")
        .map(|e| e.mount_point.clone())
}

/// Where cgroup v2 is mounted in this process's mount namespace (e.g. `/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on hybrid hosts).
pub fn cgroup2_mount() -> Result<PathBuf> {
    let path = "/proc/self/mountinfo";
    let text = fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    find_cgroup2(&parse_mountinfo(&text)).ok_or(Error::NoCgroup2Mount)
}

/// The statfs file system magic of `path`.
pub fn fs_type(path: &Path) -> Result<i64> {
    let st = nix::sys::statfs::statfs(path)
        .map_err(|e| Error::io("statfs", path, std::io::Error::from(e)))?;
    #[allow(clippy::unnecessary_cast)]
    Ok(st.filesystem_type().0 as i64)
}

/// Checks that `path` is a cgroup v2 directory, with an explanation when it is not (a cgroup
/// v1 hierarchy, the tmpfs holding v1 hierarchies, or something else).
pub fn check_cgroup2(path: &Path) -> Result<()> {
    let magic = fs_type(path)?;
    let hint = || match cgroup2_mount() {
        Ok(m) => format!("use a directory under the cgroup v2 mount {}", m.display()),
        Err(_) => "no cgroup v2 hierarchy is mounted on this host".to_string(),
    };
    let reason = match magic {
        CGROUP2_SUPER_MAGIC => {
            if !path.is_dir() {
                format!("not a directory (cgroups are directories); {}", hint())
            } else {
                return Ok(());
            }
        }
        CGROUP_SUPER_MAGIC => format!(
            "is on a cgroup v1 hierarchy (statfs type {CGROUP_SUPER_MAGIC:#x}, expected cgroup2 {CGROUP2_SUPER_MAGIC:#x}); BPF cgroup programs attach only to cgroup v2: {}",
            hint()
        ),
        TMPFS_MAGIC => format!(
            "is a tmpfs (statfs type {TMPFS_MAGIC:#x}), such as the directory holding cgroup v1 hierarchies, not a cgroup v2 directory; {}",
            hint()
        ),
        other => format!(
            "is not a cgroup v2 directory (statfs type {other:#x}, expected {CGROUP2_SUPER_MAGIC:#x}); {}",
            hint()
        ),
    };
    Err(Error::NotCgroup2 {
        path: path.to_path_buf(),
        reason,
    })
}

/// Opens a cgroup v2 directory (read-only, close-on-exec) after [`check_cgroup2`].
pub fn open_cgroup(path: &Path) -> Result<OwnedFd> {
    check_cgroup2(path)?;
    open_dir(path)
}

pub(crate) fn open_dir(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("opening", path, std::io::Error::from(e)))
    // nix 0.29 returns a RawFd nobody owns yet; take ownership right away.
    .and_then(|raw| Ok(crate::sys::own_fd(i64::from(raw), "open")?))
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> Result<bool> {
    Ok(fs_type(path)? == BPF_FS_MAGIC)
}

/// Fails with [`Error::NotBpffs`] unless `path` is on a bpffs.
pub fn require_bpffs(path: &Path) -> Result<()> {
    let t = fs_type(path)?;
    if t != BPF_FS_MAGIC {
        return Err(Error::NotBpffs {
            path: path.to_path_buf(),
            fs_type: t,
        });
    }
    Ok(())
}

/// Mounts a bpffs at `path` (`mount -t bpf bpf PATH`), creating the directory if needed.
pub fn mount_bpffs(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("creating", path, e))?;
    nix::mount::mount(
        Some("bpf"),
        path,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| Error::io("mounting bpffs at", path, std::io::Error::from(e)))
}

/// Makes sure `path` is a bpffs, mounting one there if it is not; returns whether it mounted.
///
/// Concurrent callers mount once: two processes that both found no bpffs would otherwise stack
/// two mounts, the second hiding whatever the first pinned. The mount is made under an
/// exclusive `flock(2)` on the mount point directory, and whether a bpffs is there is looked at
/// again under that lock (a caller that opens the directory after the mount locks the bpffs
/// root instead, and finds the bpffs).
pub fn ensure_bpffs(path: &Path) -> Result<bool> {
    if path.exists() && is_bpffs(path)? {
        return Ok(false);
    }
    fs::create_dir_all(path).map_err(|e| Error::io("creating", path, e))?;
    let mount_point = open_dir(path)?;
    crate::sys::flock(std::os::fd::AsFd::as_fd(&mount_point), libc::LOCK_EX)?;
    if is_bpffs(path)? {
        return Ok(false);
    }
    mount_bpffs(path)?;
    require_bpffs(path)?;
    Ok(true)
}

/// Creates the pin directory `path` (and missing parents) with mode 0700, and checks it is on
/// a bpffs.
pub fn create_pin_dir(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io("creating pin directory", path, e))?;
    require_bpffs(path)
}

/// The effective capability set of this process (`CapEff` of `/proc/self/status`).
pub fn effective_caps() -> Option<u64> {
    crate::sys::caps::effective_caps()
}

/// Explains an EPERM from `bpf()` by the capabilities the process lacks (reads
/// `/proc/self/status`; a [`crate::SyscallError`] carries this from when it was made).
pub fn permission_hint() -> String {
    crate::sys::caps::permission_hint_for(effective_caps())
}

/// Raises `RLIMIT_MEMLOCK` to infinity, once per process, for kernels before 5.11 that
/// charge BPF memory to it. Failure is ignored (newer kernels charge the memory cgroup and
/// do not need it); returns whether the limit is now infinite.
pub fn raise_memlock() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
        setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_ok()
    })
}

/// Parses a CPU list such as `0-3,8,10-11` into the number of CPUs it names.
pub fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                n += b - a + 1;
            }
            None => {
                part.parse::<usize>().ok()?;
                n += 1;
            }
        }
    }
    (n > 0).then_some(n)
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`), which sizes per-CPU map
/// values.
pub fn possible_cpus() -> Result<usize> {
    static CPUS: OnceLock<usize> = OnceLock::new();
    if let Some(n) = CPUS.get() {
        return Ok(*n);
    }
    let path = "/sys/devices/system/cpu/possible";
    let text = fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    let n = parse_cpu_list(&text).ok_or_else(|| {
        Error::io(
            "parsing",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, text.trim().to_string()),
        )
    })?;
    Ok(*CPUS.get_or_init(|| n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_ONLY: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
31 23 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:10 - bpf bpf rw,mode=700
";

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:4 master:1 - cgroup2 cgroup2 rw
";

    const V1_ONLY: &str = "\
31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";

    #[test]
    fn mountinfo_v2_only() {
        let e = parse_mountinfo(V2_ONLY);
        assert_eq!(e.len(), 4);
        assert_eq!(e[2].fs_type, "cgroup2");
        assert_eq!(find_cgroup2(&e), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(e[3].fs_type, "bpf");
    }

    #[test]
    fn mountinfo_hybrid_with_optional_fields() {
        let e = parse_mountinfo(HYBRID);
        assert_eq!(e.len(), 4);
        // "shared:4 master:1" are optional fields before " - ": fstype still found.
        assert_eq!(
            find_cgroup2(&e),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(e[1].fs_type, "cgroup");
    }

    #[test]
    fn mountinfo_v1_only_has_no_cgroup2() {
        let e = parse_mountinfo(V1_ONLY);
        assert_eq!(e.len(), 3);
        assert_eq!(find_cgroup2(&e), None);
    }

    #[test]
    fn mountinfo_escapes_and_garbage() {
        let text = "1 2 0:1 / /mnt/with\\040space rw - cgroup2 none rw\nnot a line\n1 2 3 - x\n";
        let e = parse_mountinfo(text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].mount_point, PathBuf::from("/mnt/with space"));
        // A mount point that merely contains "cgroup2" is not a cgroup2 mount.
        let e = parse_mountinfo("1 2 0:1 / /cgroup2 rw - ext4 /dev/x rw\n");
        assert_eq!(find_cgroup2(&e), None);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn v1_and_tmpfs_paths_are_rejected_with_reasons() {
        // Only meaningful where such mounts exist; the hybrid test host has both.
        let mounts = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap());
        if let Some(v1) = mounts.iter().find(|m| m.fs_type == "cgroup") {
            let err = check_cgroup2(&v1.mount_point).unwrap_err().to_string();
            assert!(err.contains("cgroup v1"), "{err}");
        }
        let err = check_cgroup2(Path::new("/proc")).unwrap_err().to_string();
        assert!(err.contains("not a cgroup v2 directory"), "{err}");
        if let Ok(m) = cgroup2_mount() {
            check_cgroup2(&m).unwrap();
        }
    }
}
