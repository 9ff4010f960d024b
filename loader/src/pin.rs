//! Pins on a bpffs: pinning any bpf object fd, opening a pin, and telling which kind of object
//! an fd is (map, program or link: from its `/proc/self/fd` link, `anon_inode:bpf-map` …).
//! Also the one way [`crate::Map`], [`crate::Program`] and [`crate::Link`] open an object by
//! pin or by id (`open_fd`). A pin that exists already, or does not exist, is a matchable
//! [`Error::PinExists`] / [`Error::PinNotFound`].

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::env;
use crate::error::{Error, Result};
use crate::sys;

/// The kind of a bpf object fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A map.
    Map,
    /// A program.
    Program,
    /// A link.
    Link,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::Program => "program",
            Kind::Link => "link",
        }
    }
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("path {} contains a NUL byte", path.display())))
}

/// Pins `fd` at `path`. The parent directory must be on a bpffs (checked first, so the error
/// says so instead of the kernel's EPERM).
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    env::require_bpffs(parent)?;
    let c = cpath(path)?;
    sys::obj_pin(fd, &c).map_err(|e| {
        if e.errno() == Some(libc::EEXIST) {
            Error::PinExists {
                path: path.to_path_buf(),
            }
        } else {
            e.into()
        }
    })
}

/// Opens the object pinned at `path` ([`Error::PinNotFound`] when nothing is pinned there).
pub fn open(path: &Path) -> Result<OwnedFd> {
    let c = cpath(path)?;
    sys::obj_get(&c, 0).map_err(|e| {
        if e.errno() == Some(libc::ENOENT) {
            Error::PinNotFound {
                path: path.to_path_buf(),
            }
        } else {
            e.into()
        }
    })
}

/// Where an object to open is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'p> {
    /// Pinned at a path on a bpffs.
    Pinned(&'p Path),
    /// The kernel-wide id.
    Id(u32),
}

/// Opens the `kind` object at `source`: a new fd, checked to be a `kind` (an
/// [`Error::WrongObject`] naming the pin otherwise). The pattern behind every `open_pinned`
/// and `from_id`.
pub(crate) fn open_fd(kind: Kind, source: Source<'_>) -> Result<OwnedFd> {
    let (fd, what) = match source {
        Source::Pinned(path) => (open(path)?, path.display().to_string()),
        Source::Id(id) => {
            let id_kind = match kind {
                Kind::Map => sys::IdKind::Map,
                Kind::Program => sys::IdKind::Prog,
                Kind::Link => sys::IdKind::Link,
            };
            (
                sys::get_fd_by_id(id_kind, id)?,
                "file descriptor".to_string(),
            )
        }
    };
    expect_kind(std::os::fd::AsFd::as_fd(&fd), kind, &what)?;
    Ok(fd)
}

/// The kind of the bpf object behind `fd`, `None` for anything else.
pub fn kind_of(fd: BorrowedFd<'_>) -> Option<Kind> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    match link.as_os_str().as_bytes() {
        b"anon_inode:bpf-map" => Some(Kind::Map),
        b"anon_inode:bpf-prog" => Some(Kind::Program),
        b"anon_inode:bpf_link" | b"anon_inode:bpf-link" => Some(Kind::Link),
        _ => None,
    }
}

/// Fails with [`Error::WrongObject`] unless `fd` is a `kind`. When the kind cannot be told
/// (no /proc), the fd is accepted.
pub fn expect_kind(fd: BorrowedFd<'_>, kind: Kind, what: &str) -> Result<()> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let Ok(link) = link else { return Ok(()) };
    match kind_of(fd) {
        Some(k) if k == kind => Ok(()),
        Some(k) => Err(Error::WrongObject {
            what: what.to_string(),
            expected: kind.name(),
            found: k.name().to_string(),
        }),
        None => Err(Error::WrongObject {
            what: what.to_string(),
            expected: kind.name(),
            found: link.display().to_string(),
        }),
    }
}
