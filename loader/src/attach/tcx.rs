//! tc programs (`sched_cls`) on a device's ingress or egress through tcx links (Linux 6.6):
//! several programs per hook, ordered with `BPF_F_BEFORE`/`BPF_F_AFTER`.
//!
//! Older kernels need classic tc (a clsact qdisc and a cls_bpf direct-action filter, set up
//! over rtnetlink: [`crate::attach::tc`]): there [`attach`] fails with a
//! [`crate::FeatureError::Missing`] naming tcx, and [`attach_any`] uses classic tc instead.

use std::os::fd::{AsFd, AsRawFd};

use crate::attach::check_type;
use crate::attach::raw::{link_create, LinkExtra, LinkTarget};
use crate::attach::tc::{self, ClassicFilter};
use crate::error::Result;
use crate::features::{self, Feature};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramType};
use crate::sys::consts;

/// Which hook of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `BPF_TCX_INGRESS`.
    Ingress,
    /// `BPF_TCX_EGRESS`.
    Egress,
}

impl Direction {
    /// The attach type.
    pub fn attach_type(self) -> AttachType {
        match self {
            Direction::Ingress => AttachType::TcxIngress,
            Direction::Egress => AttachType::TcxEgress,
        }
    }
}

/// Where in the hook's program list a new program goes.
#[derive(Debug, Clone, Copy, Default)]
pub enum Anchor<'a> {
    /// At the end (no flags).
    #[default]
    Last,
    /// First (`BPF_F_BEFORE` with no relative object).
    First,
    /// Right before this program (`BPF_F_BEFORE`, by fd).
    Before(&'a Program),
    /// Right after this program (`BPF_F_AFTER`, by fd).
    After(&'a Program),
}

/// Attaches the `sched_cls` program `prog` to the device `ifindex` (in the calling thread's
/// network namespace) at `direction`, after the programs already there. Linux 6.6
/// ([`Feature::TcxLink`]).
pub fn attach(prog: &Program, ifindex: u32, direction: Direction) -> Result<Link> {
    attach_with(prog, ifindex, direction, Anchor::Last, 0)
}

/// [`attach`] at a chosen place, failing with ESTALE unless the hook is at
/// `expected_revision` (0: any revision).
pub fn attach_with(
    prog: &Program,
    ifindex: u32,
    direction: Direction,
    anchor: Anchor<'_>,
    expected_revision: u64,
) -> Result<Link> {
    check_type(prog, ProgramType::SchedCls, "a tcx link")?;
    features::require(Feature::TcxLink)?;
    let (flags, relative_fd) = match anchor {
        Anchor::Last => (0, 0),
        Anchor::First => (consts::BPF_F_BEFORE, 0),
        Anchor::Before(p) => (consts::BPF_F_BEFORE, p.as_fd().as_raw_fd() as u32),
        Anchor::After(p) => (consts::BPF_F_AFTER, p.as_fd().as_raw_fd() as u32),
    };
    link_create(
        prog,
        LinkTarget::Ifindex(ifindex),
        direction.attach_type(),
        flags,
        LinkExtra::Tcx {
            relative_fd,
            expected_revision,
        },
    )
}

/// A tc program attached by [`attach_any`]. Dropping it detaches the program.
#[derive(Debug)]
pub enum TcAttachment {
    /// Through a tcx link (6.6).
    Tcx(Link),
    /// Through a classic cls_bpf filter (older kernels).
    Classic(ClassicFilter),
}

impl TcAttachment {
    /// Detaches now.
    pub fn detach(self) -> Result<()> {
        match self {
            TcAttachment::Tcx(l) => l.detach(),
            TcAttachment::Classic(f) => f.detach(),
        }
    }
}

/// The priority [`attach_any`] gives a classic filter.
pub const CLASSIC_PRIORITY: u16 = 1;

/// Attaches `prog` at `direction` of device `ifindex`: a tcx link when the kernel has them
/// (6.6, [`Feature::TcxLink`]), else a classic direct-action cls_bpf filter (4.5) with
/// priority [`CLASSIC_PRIORITY`] and `handle` (non-zero; EEXIST when taken).
pub fn attach_any(
    prog: &Program,
    ifindex: u32,
    direction: Direction,
    handle: u32,
) -> Result<TcAttachment> {
    if features::probe(Feature::TcxLink)? {
        attach(prog, ifindex, direction).map(TcAttachment::Tcx)
    } else {
        tc::attach(prog, ifindex, direction, CLASSIC_PRIORITY, handle).map(TcAttachment::Classic)
    }
}
