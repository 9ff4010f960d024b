//! Links (`bpf_link`): an attachment that is itself a kernel object. Closing the last fd of an
//! unpinned link detaches its program; a pinned link stays until its pin is removed and every
//! fd is closed, or until [`Link::detach`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::Result;
use crate::pin;
use crate::program::{AttachType, Program};
use crate::sys::{self, attr, consts};

/// The kind of a link (`enum bpf_link_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkType {
    /// `BPF_LINK_TYPE_CGROUP`.
    Cgroup,
    /// `BPF_LINK_TYPE_SOCKMAP` (6.10).
    Sockmap,
    /// `BPF_LINK_TYPE_RAW_TRACEPOINT` (raw tracepoints and tp_btf through
    /// `BPF_RAW_TRACEPOINT_OPEN`, 5.8).
    RawTracepoint,
    /// `BPF_LINK_TYPE_TRACING` (fentry, fexit, fmod_ret, lsm, 5.8).
    Tracing,
    /// `BPF_LINK_TYPE_NETNS` (flow dissector 5.8, sk_lookup 5.9).
    Netns,
    /// `BPF_LINK_TYPE_XDP` (5.9).
    Xdp,
    /// `BPF_LINK_TYPE_PERF_EVENT` (kprobe, tracepoint, perf event programs, 5.15).
    PerfEvent,
    /// `BPF_LINK_TYPE_TCX` (6.6).
    Tcx,
    /// Any other type, by number.
    Other(u32),
}

impl LinkType {
    /// The type of a UAPI number.
    pub fn from_raw(n: u32) -> LinkType {
        match n {
            consts::BPF_LINK_TYPE_CGROUP => LinkType::Cgroup,
            consts::BPF_LINK_TYPE_SOCKMAP => LinkType::Sockmap,
            consts::BPF_LINK_TYPE_RAW_TRACEPOINT => LinkType::RawTracepoint,
            consts::BPF_LINK_TYPE_TRACING => LinkType::Tracing,
            consts::BPF_LINK_TYPE_NETNS => LinkType::Netns,
            consts::BPF_LINK_TYPE_XDP => LinkType::Xdp,
            consts::BPF_LINK_TYPE_PERF_EVENT => LinkType::PerfEvent,
            consts::BPF_LINK_TYPE_TCX => LinkType::Tcx,
            n => LinkType::Other(n),
        }
    }
}

/// What the kernel says about a link (`struct bpf_link_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Kernel-wide id.
    pub id: u32,
    /// The kind.
    pub link_type: LinkType,
    /// The id of the attached program (0 once detached).
    pub prog_id: u32,
    /// Where the program is attached, for cgroup, sockmap, netns and tcx links.
    pub attach_type: Option<AttachType>,
    /// The cgroup's id (its inode number), for cgroup links.
    pub cgroup_id: Option<u64>,
    /// The map's id, for sockmap links.
    pub map_id: Option<u32>,
}

impl LinkInfo {
    pub(crate) fn from_raw(r: &attr::LinkInfoRaw) -> LinkInfo {
        let link_type = LinkType::from_raw(r.link_type);
        let (attach_type, cgroup_id, map_id) = match link_type {
            LinkType::Cgroup => (
                Some(AttachType::from_raw(r.union[1] as u32)),
                Some(r.union[0]),
                None,
            ),
            LinkType::Sockmap => (
                Some(AttachType::from_raw((r.union[0] >> 32) as u32)),
                None,
                Some(r.union[0] as u32),
            ),
            // netns: netns_ino (u32 at 16), attach_type (u32 at 20); tcx: ifindex (u32 at 16),
            // attach_type (u32 at 20).
            LinkType::Netns | LinkType::Tcx => (
                Some(AttachType::from_raw((r.union[0] >> 32) as u32)),
                None,
                None,
            ),
            _ => (None, None, None),
        };
        LinkInfo {
            id: r.id,
            link_type,
            prog_id: r.prog_id,
            attach_type,
            cgroup_id,
            map_id,
        }
    }

    /// Reads the info of a link fd.
    pub fn of(fd: BorrowedFd<'_>) -> Result<LinkInfo> {
        Ok(LinkInfo::from_raw(&sys::obj_info::<attr::LinkInfoRaw>(fd)?))
    }
}

/// A link the process holds a file descriptor of.
#[derive(Debug)]
pub struct Link {
    fd: OwnedFd,
}

impl Link {
    pub(crate) fn from_owned(fd: OwnedFd) -> Link {
        Link { fd }
    }

    /// Wraps a link fd.
    pub fn from_fd(fd: OwnedFd) -> Result<Link> {
        pin::expect_kind(fd.as_fd(), pin::Kind::Link, "file descriptor")?;
        Ok(Link { fd })
    }

    /// Opens the link pinned at `path`.
    pub fn open_pinned(path: impl AsRef<Path>) -> Result<Link> {
        Link::from_fd(pin::open_fd(
            pin::Kind::Link,
            pin::Source::Pinned(path.as_ref()),
        )?)
    }

    /// Opens the link with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Link> {
        Link::from_fd(pin::open_fd(pin::Kind::Link, pin::Source::Id(id))?)
    }

    /// The kernel's info.
    pub fn info(&self) -> Result<LinkInfo> {
        LinkInfo::of(self.fd.as_fd())
    }

    /// Pins the link at `path` (on a bpffs): it then outlives this process.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        pin::pin(self.fd.as_fd(), path.as_ref())
    }

    /// Replaces the link's program by `new`, atomically. With `expected_old`, only if that is
    /// still the link's program (`BPF_F_REPLACE`; EPERM otherwise).
    pub fn update_program(&self, new: &Program, expected_old: Option<&Program>) -> Result<()> {
        Ok(sys::link_update(
            self.fd.as_fd(),
            new.as_fd(),
            expected_old.map(|p| p.as_fd()),
        )?)
    }

    /// Detaches the program now, even when the link is pinned (the pin stays, defunct, until
    /// removed). Kernels have `BPF_LINK_DETACH` (5.9) for cgroup, netns, XDP, tcx and sockmap
    /// links; for the others (raw tracepoint, tracing, perf event) it fails with EOPNOTSUPP
    /// and closing the link's last fd (dropping it, removing its pins) is how to detach.
    pub fn detach(self) -> Result<()> {
        Ok(sys::link_detach(self.fd.as_fd())?)
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
