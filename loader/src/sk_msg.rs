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
///
/// The kernel silently replaces a map's existing sk_msg program on `BPF_PROG_ATTACH`; to never
/// replace someone else's, this first asks `BPF_PROG_QUERY` and fails with
/// [`Error::AlreadyAttached`] when another program is there (kernels without sockmap queries
/// skip the check).
pub fn attach(prog: &Program, map: &Map) -> Result<ProgAttachment> {
    check_map(map)?;
    let others: Vec<u32> = match attached(map) {
        Ok(ids) => ids.into_iter().filter(|&id| id != prog.id()).collect(),
        Err(_) => Vec::new(),
    };
    if !others.is_empty() {
        return Err(Error::AlreadyAttached {
            target: format!("sk_msg verdict of map {}", map.name()),
            prog_ids: others,
        });
    }
    ProgAttachment::attach(map, prog, AttachType::SkMsgVerdict, 0)
}

/// The ids of the sk_msg programs attached to `map` (`BPF_PROG_QUERY` on a sockmap, 5.19+).
pub fn attached(map: &Map) -> Result<Vec<u32>> {
    check_map(map)?;
    Ok(sys::prog_query(map.as_fd(), AttachType::SkMsgVerdict.raw(), 0)?.prog_ids)
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

/// Replaces `old` by `new` as the sk_msg verdict program of `map`: checks that `old` is the
/// program attached there (when the kernel can be asked), then attaches `new`, which the
/// kernel swaps in for `old`. Sockets already in the map keep running `old` until they leave
/// it; new sockets get `new`.
pub fn replace(old: &Program, new: &Program, map: &Map) -> Result<()> {
    check_map(map)?;
    if let Ok(ids) = attached(map) {
        let others: Vec<u32> = ids.into_iter().filter(|&id| id != old.id()).collect();
        if !others.is_empty() {
            return Err(Error::AlreadyAttached {
                target: format!("sk_msg verdict of map {}", map.name()),
                prog_ids: others,
            });
        }
    }
    ProgAttachment::attach(map, new, AttachType::SkMsgVerdict, 0)?.keep();
    Ok(())
}
