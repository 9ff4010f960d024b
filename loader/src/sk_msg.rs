//! sk_msg verdict programs on a sockmap or sockhash: `BPF_PROG_ATTACH` with
//! `BPF_SK_MSG_VERDICT` (every kernel with sk_msg), or a sockmap link (6.10+).
//!
//! Sockets already in the map keep the program after it is detached: empty the map too when
//! tearing down.

use std::os::fd::AsFd;

use crate::error::{Error, Result};
use crate::features::{self, Feature};
use crate::legacy::ProgAttachment;
use crate::link::Link;
use crate::map::{Map, MapType};
use crate::program::{AttachType, Program};
use crate::sys;

fn check_map(map: &Map) -> Result<()> {
    match map.map_type() {
        MapType::SockHash | MapType::SockMap => Ok(()),
        other => Err(Error::InvalidArgument(format!(
            "map {} is a {other}, sk_msg programs attach to a sockhash or sockmap",
            map.name()
        ))),
    }
}

/// Attaches `prog` as the sk_msg verdict program of `map` with `BPF_PROG_ATTACH`. The
/// attachment detaches on drop unless kept.
pub fn attach(prog: &Program, map: &Map) -> Result<ProgAttachment> {
    check_map(map)?;
    ProgAttachment::attach(map, prog, AttachType::SkMsgVerdict, 0)
}

/// Attaches `prog` to `map` through a sockmap link (kernel 6.10+).
pub fn attach_link(prog: &Program, map: &Map) -> Result<Link> {
    check_map(map)?;
    features::require(Feature::SockmapLink)?;
    let fd = sys::link_create(prog.as_fd(), map.as_fd(), AttachType::SkMsgVerdict.raw(), 0)?;
    Ok(Link::from_owned(fd))
}

/// Detaches exactly `prog` from `map` (a `BPF_PROG_ATTACH` attachment, for example one an
/// earlier run kept). Fails with ENOENT when `prog` is not the map's sk_msg program.
pub fn detach(prog: &Program, map: &Map) -> Result<()> {
    check_map(map)?;
    Ok(sys::prog_detach(
        map.as_fd(),
        Some(prog.as_fd()),
        AttachType::SkMsgVerdict.raw(),
    )?)
}
