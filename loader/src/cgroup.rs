//! Cgroup attachments (sock_ops and the other cgroup program types): attach through
//! `BPF_LINK_CREATE` when the kernel has cgroup links, else through `BPF_PROG_ATTACH` with
//! `BPF_F_ALLOW_MULTI`; replace the program in place; query and detach exactly one program.
//!
//! Never attaches to anything but the cgroup v2 directory it is given (validated first).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::env;
use crate::error::{Error, Result};
use crate::features::{self, Feature};
use crate::legacy::{dup, ProgAttachment};
use crate::link::Link;
use crate::program::{AttachType, Program};
use crate::sys::{self, consts};

pub use crate::sys::QueryResult;

/// How to attach to a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachMode {
    /// A link when the kernel supports cgroup links, else `BPF_PROG_ATTACH`.
    #[default]
    Auto,
    /// Only a link (fails with a [`crate::FeatureError`] when unsupported).
    Link,
    /// Only `BPF_PROG_ATTACH` with `BPF_F_ALLOW_MULTI`.
    Legacy,
}

/// A program attached to a cgroup.
///
/// Dropping it detaches the program, unless the link was pinned or
/// [`keep`](CgroupAttachment::keep) was called.
#[derive(Debug)]
pub enum CgroupAttachment {
    /// Through a `bpf_link`.
    Link {
        /// The link.
        link: Link,
        /// The program currently attached (a duplicate fd).
        prog: OwnedFd,
        /// Its id.
        prog_id: u32,
    },
    /// Through `BPF_PROG_ATTACH`.
    Legacy(ProgAttachment),
}

/// Whether `t` is a cgroup hook: skb ingress/egress, sock (create, release, post_bind),
/// sock_addr (bind, connect, sendmsg, recvmsg, getpeername, getsockname), sockopt, sock_ops,
/// device, sysctl, and lsm_cgroup (6.0, a BTF-typed lsm program).
pub fn is_cgroup_attach_type(t: AttachType) -> bool {
    use AttachType::*;
    matches!(
        t,
        CgroupInetIngress
            | CgroupInetEgress
            | CgroupInetSockCreate
            | CgroupInetSockRelease
            | CgroupInet4PostBind
            | CgroupInet6PostBind
            | CgroupSockOps
            | CgroupDevice
            | CgroupInet4Bind
            | CgroupInet6Bind
            | CgroupInet4Connect
            | CgroupInet6Connect
            | CgroupUdp4Sendmsg
            | CgroupUdp6Sendmsg
            | CgroupUdp4Recvmsg
            | CgroupUdp6Recvmsg
            | CgroupInet4Getpeername
            | CgroupInet6Getpeername
            | CgroupInet4Getsockname
            | CgroupInet6Getsockname
            | CgroupSysctl
            | CgroupGetsockopt
            | CgroupSetsockopt
            | LsmCgroup
    )
}

/// Attaches `prog` to the cgroup v2 directory `cgroup` at `attach_type` (e.g.
/// [`AttachType::CgroupSockOps`]; any cgroup hook, see [`is_cgroup_attach_type`]). sock_addr,
/// sockopt and sock programs must have been loaded with the same `expected_attach_type`.
/// Links need Linux 5.7 ([`Feature::CgroupLink`]), `BPF_PROG_ATTACH` 4.10; each hook has its
/// own minimum (sock_addr 4.17, sockopt 5.3, sock release 5.9).
pub fn attach(
    prog: &Program,
    cgroup: &Path,
    attach_type: AttachType,
    mode: AttachMode,
) -> Result<CgroupAttachment> {
    if !is_cgroup_attach_type(attach_type) {
        return Err(Error::InvalidArgument(format!(
            "{attach_type:?} is not a cgroup attach type"
        )));
    }
    let cg = env::open_cgroup(cgroup)?;
    let use_link = match mode {
        AttachMode::Link => {
            features::require(Feature::CgroupLink)?;
            true
        }
        AttachMode::Legacy => false,
        AttachMode::Auto => features::probe(Feature::CgroupLink)?,
    };
    if use_link {
        let fd = sys::link_create(prog.as_fd(), cg.as_fd(), attach_type.raw(), 0)?;
        Ok(CgroupAttachment::Link {
            link: Link::from_owned(fd),
            prog: dup(prog, "program")?,
            prog_id: prog.id(),
        })
    } else {
        Ok(CgroupAttachment::Legacy(ProgAttachment::attach(
            &cg,
            prog,
            attach_type,
            consts::BPF_F_ALLOW_MULTI,
        )?))
    }
}

impl CgroupAttachment {
    /// Whether this is a link.
    pub fn is_link(&self) -> bool {
        matches!(self, CgroupAttachment::Link { .. })
    }

    /// The link, when this is one.
    pub fn link(&self) -> Option<&Link> {
        match self {
            CgroupAttachment::Link { link, .. } => Some(link),
            CgroupAttachment::Legacy(_) => None,
        }
    }

    /// The attached program's id.
    pub fn program_id(&self) -> u32 {
        match self {
            CgroupAttachment::Link { prog_id, .. } => *prog_id,
            CgroupAttachment::Legacy(a) => a.program_id(),
        }
    }

    /// Pins the link at `path` so the attachment outlives the process. Legacy attachments
    /// have nothing to pin (they stay until detached; see [`CgroupAttachment::keep`]).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            CgroupAttachment::Link { link, .. } => link.pin(path),
            CgroupAttachment::Legacy(_) => Err(Error::InvalidArgument(
                "a BPF_PROG_ATTACH attachment has no link to pin; keep() it instead".into(),
            )),
        }
    }

    /// Atomically replaces the attached program by `new`: `BPF_LINK_UPDATE` (with the
    /// current program as the expected one) for a link, `BPF_F_REPLACE` otherwise.
    pub fn replace_program(&mut self, new: &Program) -> Result<()> {
        match self {
            CgroupAttachment::Link {
                link,
                prog,
                prog_id,
            } => {
                sys::link_update(link.as_fd(), new.as_fd(), Some(prog.as_fd()))?;
                *prog = dup(new, "program")?;
                *prog_id = new.id();
                Ok(())
            }
            CgroupAttachment::Legacy(a) => a.replace_program(new),
        }
    }

    /// Detaches the program now (a pinned link is detached too; its pin stays, defunct).
    pub fn detach(self) -> Result<()> {
        match self {
            CgroupAttachment::Link { link, .. } => link.detach(),
            CgroupAttachment::Legacy(a) => a.detach(),
        }
    }

    /// Leaves the program attached: a legacy attachment stays until detached; a link stays
    /// while pinned or until this process exits.
    pub fn keep(self) {
        match self {
            CgroupAttachment::Link { link, .. } => std::mem::forget(link),
            CgroupAttachment::Legacy(a) => a.keep(),
        }
    }
}

/// The programs attached directly to `cgroup` at `attach_type` (not inherited ones).
pub fn query(cgroup: &Path, attach_type: AttachType) -> Result<QueryResult> {
    let cg = env::open_cgroup(cgroup)?;
    Ok(sys::prog_query(cg.as_fd(), attach_type.raw(), 0)?)
}

/// The programs that run for `cgroup` at `attach_type`, inherited ones included
/// (`BPF_F_QUERY_EFFECTIVE`).
pub fn query_effective(cgroup: &Path, attach_type: AttachType) -> Result<QueryResult> {
    let cg = env::open_cgroup(cgroup)?;
    Ok(sys::prog_query(
        cg.as_fd(),
        attach_type.raw(),
        consts::BPF_F_QUERY_EFFECTIVE,
    )?)
}

/// Detaches exactly `prog` from `cgroup` when it was attached with `BPF_PROG_ATTACH` (for
/// example by an earlier run). Link attachments are detached through their link
/// ([`Link::detach`]); for them this fails with ENOENT.
pub fn detach_program(cgroup: &Path, attach_type: AttachType, prog: &Program) -> Result<()> {
    let cg = env::open_cgroup(cgroup)?;
    Ok(sys::prog_detach(
        cg.as_fd(),
        Some(prog.as_fd()),
        attach_type.raw(),
    )?)
}

/// Atomically replaces `old` by `new` where `old` was attached to `cgroup` with
/// `BPF_PROG_ATTACH` and `BPF_F_ALLOW_MULTI` (for example by an earlier run):
/// `BPF_F_REPLACE` with `old` as `replace_bpf_fd`. Fails with ENOENT when `old` is not
/// attached there.
pub fn replace_attached(
    cgroup: &Path,
    attach_type: AttachType,
    old: &Program,
    new: &Program,
) -> Result<()> {
    let cg = env::open_cgroup(cgroup)?;
    Ok(sys::prog_attach(
        cg.as_fd(),
        new.as_fd(),
        attach_type.raw(),
        consts::BPF_F_ALLOW_MULTI,
        Some(old.as_fd()),
    )?)
}
