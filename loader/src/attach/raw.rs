//! Raw attachment: `BPF_PROG_ATTACH`, `BPF_PROG_DETACH` and `BPF_LINK_CREATE` for any attach
//! type, with nothing checked beforehand. The typed modules next to this one build on these.
//!
//! `BPF_PROG_ATTACH` needs Linux 4.10 (cgroups; other targets later), `BPF_LINK_CREATE` 5.7
//! (cgroups; each link kind names its own minimum).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::error::Result;
use crate::link::Link;
use crate::program::{AttachType, Program};
use crate::sys;

pub use crate::sys::LinkExtra;

/// What a link is created on.
#[derive(Debug, Clone, Copy)]
pub enum LinkTarget<'a> {
    /// An fd: a cgroup, a map, a network namespace, a perf event; for tracing programs, the
    /// target program of an freplace (or 0 through [`LinkTarget::None`]).
    Fd(BorrowedFd<'a>),
    /// A network device, by index (XDP, tcx).
    Ifindex(u32),
    /// No target (`target_fd` 0: tracing programs attach to what they were loaded for).
    None,
}

impl LinkTarget<'_> {
    fn raw(self) -> u32 {
        match self {
            LinkTarget::Fd(fd) => fd.as_raw_fd() as u32,
            LinkTarget::Ifindex(i) => i,
            LinkTarget::None => 0,
        }
    }
}

/// `BPF_PROG_ATTACH` of `prog` to `target` at `attach_type` with `flags`; with `replace`, the
/// kernel swaps that program for `prog` atomically (`BPF_F_REPLACE` is added). The attachment
/// belongs to the target: it stays until [`prog_detach`].
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: &Program,
    attach_type: AttachType,
    flags: u32,
    replace: Option<&Program>,
) -> Result<()> {
    Ok(sys::prog_attach(
        target,
        prog.as_fd(),
        attach_type.raw(),
        flags,
        replace.map(|p| p.as_fd()),
    )?)
}

/// `BPF_PROG_DETACH` of `prog` (or, with `None`, of whatever single program is attached, for
/// targets that have one) from `target` at `attach_type`.
pub fn prog_detach(
    target: BorrowedFd<'_>,
    prog: Option<&Program>,
    attach_type: AttachType,
) -> Result<()> {
    Ok(sys::prog_detach(
        target,
        prog.map(|p| p.as_fd()),
        attach_type.raw(),
    )?)
}

/// `BPF_LINK_CREATE` of `prog` on `target` at `attach_type`, with `flags` and the
/// per-attach-type `extra` part. The link detaches when its last fd closes (unless pinned).
pub fn link_create(
    prog: &Program,
    target: LinkTarget<'_>,
    attach_type: AttachType,
    flags: u32,
    extra: LinkExtra,
) -> Result<Link> {
    let fd = sys::link_create_ext(
        prog.as_fd().as_raw_fd() as u32,
        target.raw(),
        attach_type.raw(),
        flags,
        extra,
    )?;
    Ok(Link::from_owned(fd))
}
