//! sk_lookup programs on a network namespace through a netns link (Linux 5.9): the program
//! picks the listening socket for each incoming connection or datagram of the namespace.
//! Several programs may be attached; the link detaches when its last fd closes.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

use crate::attach::check_type;
use crate::attach::raw::{link_create, LinkExtra, LinkTarget};
use crate::error::{Error, Result};
use crate::features::{self, Feature};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramType};

/// Attaches the sk_lookup program `prog` (loaded with expected attach type
/// [`AttachType::SkLookup`]) to the network namespace `netns` (an fd of `/proc/<pid>/ns/net`
/// or of a bind mount under `/run/netns`). Linux 5.9 ([`Feature::NetnsLink`]).
pub fn attach(prog: &Program, netns: BorrowedFd<'_>) -> Result<Link> {
    check_type(prog, ProgramType::SkLookup, "a netns sk_lookup link")?;
    features::require(Feature::NetnsLink)?;
    link_create(
        prog,
        LinkTarget::Fd(netns),
        AttachType::SkLookup,
        0,
        LinkExtra::None,
    )
}

/// [`attach`] to the calling thread's network namespace (`/proc/thread-self/ns/net`).
pub fn attach_current(prog: &Program) -> Result<Link> {
    let path = "/proc/thread-self/ns/net";
    let ns = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    attach(prog, ns.as_fd())
}
