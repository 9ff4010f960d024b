//! Names an operator recognises for network namespace cookies (the u64 the programs put at the
//! start of every key): `host` for the initial namespace (kthreadd's, when it is in sight), the names of `/run/netns/*`
//! (`ip netns`), else the first process in the namespace (`pid 1234 (nginx)`).
//!
//! The kernel offers no lookup from a cookie to a namespace, so this goes the other way: it
//! lists the namespaces it can see (`/proc/{2,1}/ns/net`, `/run/netns/*`, `/proc/<pid>/ns/net`),
//! keeps one path per namespace (by the device and inode of its nsfs file), and reads each
//! one's cookie from a socket made inside it (`SO_NETNS_COOKIE`, Linux 5.14+) in a short-lived
//! thread that `setns()`s into one namespace after another and then ends, so no other thread
//! ever changes namespace. A cookie that matches none of them stays a number.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One namespace found on this host, before its cookie is known.
#[derive(Debug, Default)]
struct Found {
    /// A path that opens it.
    path: PathBuf,
    /// It is the initial namespace (kthreadd's).
    host: bool,
    /// Its names under /run/netns.
    names: Vec<String>,
    /// The lowest pid in it, and that process's command name.
    pid: Option<(u32, String)>,
}

impl Found {
    fn label(&self) -> Option<String> {
        if self.host {
            Some("host".to_string())
        } else if !self.names.is_empty() {
            Some(self.names.join(","))
        } else {
            self.pid
                .as_ref()
                .map(|(pid, comm)| format!("pid {pid} ({comm})"))
        }
    }
}

/// Adds the namespace at `path` (a /proc or /run/netns file) to `found`, keyed by its nsfs
/// device and inode; a path that cannot be read (a process that just exited) is skipped.
fn note(found: &mut BTreeMap<(u64, u64), Found>, path: &Path, what: impl FnOnce(&mut Found)) {
    if let Ok(m) = std::fs::metadata(path) {
        let f = found.entry((m.dev(), m.ino())).or_insert_with(|| Found {
            path: path.to_path_buf(),
            ..Found::default()
        });
        what(f);
    }
}

fn pids() -> Vec<u32> {
    let mut v: Vec<u32> = match std::fs::read_dir("/proc") {
        Ok(d) => d
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort_unstable();
    v
}

/// Every network namespace this process can see, deduplicated.
fn namespaces() -> Vec<Found> {
    let mut found = BTreeMap::new();
    // The initial namespace: kernel threads (kthreadd, pid 2) always run in it. Without
    // kthreadd in sight (a container's own pid namespace) nothing is called "host": pid 1 may
    // run in a namespace of its own (a host's init, the container's), and is named as a pid.
    if std::fs::read_to_string("/proc/2/comm").is_ok_and(|c| c.trim_end() == "kthreadd") {
        note(&mut found, Path::new("/proc/2/ns/net"), |f| f.host = true);
    }
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        let mut names: Vec<(String, PathBuf)> = dir
            .filter_map(|e| {
                let e = e.ok()?;
                Some((e.file_name().to_str()?.to_string(), e.path()))
            })
            .collect();
        names.sort();
        for (name, path) in names {
            note(&mut found, &path, |f| f.names.push(name));
        }
    }
    for pid in pids() {
        let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        note(&mut found, &path, |f| {
            if f.pid.is_none() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|c| c.trim_end().to_string())
                    .unwrap_or_else(|_| "?".to_string());
                f.pid = Some((pid, comm));
            }
        });
    }
    found.into_values().collect()
}

/// The cookie of the namespace `ns` refers to, read from a socket made inside it. Changes the
/// calling thread's namespace: only for the throwaway thread of [`resolve`].
fn cookie_inside(ns: &File) -> Option<u64> {
    // SAFETY: setns with a namespace fd this process owns, on the calling thread only.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return None;
    }
    // SAFETY: socket() has no memory arguments; a non-negative result is a new fd we own.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    crate::compat::netns_cookie(sock.as_raw_fd()).ok()
}

/// Labels for the namespaces this host has, by cookie. Empty when none can be resolved
/// (no `SO_NETNS_COOKIE` before Linux 5.14, or no right to enter namespaces).
pub fn resolve() -> HashMap<u64, String> {
    let found = namespaces();
    // Open the files here: a process may exit meanwhile, an open fd keeps its namespace.
    let opened: Vec<(File, String)> = found
        .iter()
        .filter_map(|f| Some((File::open(&f.path).ok()?, f.label()?)))
        .collect();
    let worker = std::thread::Builder::new()
        .name("netns-cookies".into())
        .spawn(move || {
            opened
                .iter()
                .filter_map(|(file, label)| Some((cookie_inside(file)?, label.clone())))
                .collect::<HashMap<u64, String>>()
        });
    match worker {
        Ok(h) => h.join().unwrap_or_default(),
        Err(_) => HashMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_prefer_host_then_names_then_a_pid() {
        let mut f = Found {
            pid: Some((42, "nginx".into())),
            ..Found::default()
        };
        assert_eq!(f.label().as_deref(), Some("pid 42 (nginx)"));
        f.names = vec!["blue".into(), "red".into()];
        assert_eq!(f.label().as_deref(), Some("blue,red"));
        f.host = true;
        assert_eq!(f.label().as_deref(), Some("host"));
        assert_eq!(Found::default().label(), None);
    }
}
