//! sk_skb programs on a sockmap or sockhash: the stream parser and stream verdict (Linux
//! 4.14) and the skb verdict (5.15), attached with `BPF_PROG_ATTACH` to the map's fd. Like
//! [`crate::sk_msg`], sockets already in the map keep the programs after a detach.

use std::os::fd::AsFd;

use crate::attach::check_type;
use crate::error::{Error, Result};
use crate::legacy::ProgAttachment;
use crate::map::{Map, MapType};
use crate::program::{AttachType, Program, ProgramType};
use crate::sys;

/// Which sk_skb hook of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkSkbKind {
    /// `BPF_SK_SKB_STREAM_PARSER` (4.14): returns the length of the next message.
    StreamParser,
    /// `BPF_SK_SKB_STREAM_VERDICT` (4.14): redirects or passes each parsed message.
    StreamVerdict,
    /// `BPF_SK_SKB_VERDICT` (5.15): a verdict on each skb, without a parser.
    Verdict,
}

impl SkSkbKind {
    /// The attach type.
    pub fn attach_type(self) -> AttachType {
        match self {
            SkSkbKind::StreamParser => AttachType::SkSkbStreamParser,
            SkSkbKind::StreamVerdict => AttachType::SkSkbStreamVerdict,
            SkSkbKind::Verdict => AttachType::SkSkbVerdict,
        }
    }
}

fn check_map(map: &Map) -> Result<()> {
    match map.map_type() {
        MapType::SockHash | MapType::SockMap => Ok(()),
        other => Err(Error::InvalidArgument(format!(
            "map {} is a {other}, sk_skb programs attach to a sockhash or sockmap",
            map.name()
        ))),
    }
}

/// Attaches the sk_skb program `prog` to `map` at `kind`. The attachment detaches exactly
/// this program on drop unless [kept](ProgAttachment::keep). The kernel replaces a program
/// already at that hook.
pub fn attach(prog: &Program, map: &Map, kind: SkSkbKind) -> Result<ProgAttachment> {
    check_type(prog, ProgramType::SkSkb, "a sockmap's sk_skb hook")?;
    check_map(map)?;
    ProgAttachment::attach(map, prog, kind.attach_type(), 0)
}

/// Detaches exactly `prog` from `map` at `kind` (ENOENT when it is not the one there).
pub fn detach(prog: &Program, map: &Map, kind: SkSkbKind) -> Result<()> {
    check_map(map)?;
    Ok(sys::prog_detach(
        map.as_fd(),
        Some(prog.as_fd()),
        kind.attach_type().raw(),
    )?)
}
