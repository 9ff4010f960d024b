//! Attaching programs to their hooks, one file per attach kind (the layout of cilium/ebpf's
//! `link` package). Cgroup and sk_msg attachments live in [`crate::cgroup`] and
//! [`crate::sk_msg`], which predate this module.
//!
//! - [`raw`]: `BPF_PROG_ATTACH`/`BPF_PROG_DETACH` and `BPF_LINK_CREATE` for any attach type.
//! - [`xdp`]: XDP links on a network device (5.9).
//! - [`tcx`]: tcx links on a device's ingress or egress (6.6), and [`tcx::attach_any`], which
//!   falls back to [`tc`]: classic tc (a clsact qdisc and a cls_bpf filter over rtnetlink, 4.5).
//! - [`socket_filter`]: `SO_ATTACH_BPF` on a socket (3.19).
//! - [`sk_skb`]: stream parser and verdict programs on a sockmap (4.14).
//! - [`sk_lookup`]: sk_lookup programs on a network namespace (5.9).
//! - [`perf`]: kprobes, kretprobes and tracepoints through `perf_event_open` (4.1/4.7), with
//!   a perf-event link (5.15) or `PERF_EVENT_IOC_SET_BPF`.
//! - [`tracing`]: tp_btf, fentry, fexit, fmod_ret and lsm programs (5.5; 5.7 for lsm).

pub mod perf;
pub mod raw;
pub mod sk_lookup;
pub mod sk_skb;
pub mod socket_filter;
pub mod tc;
pub mod tcx;
pub mod tracing;
pub mod xdp;

use crate::error::{Error, Result};
use crate::program::{Program, ProgramType};

/// `Err(InvalidArgument)` unless `prog` is of type `want` (checked before the kernel is
/// asked, so the error names the mistake).
pub(crate) fn check_type(prog: &Program, want: ProgramType, what: &str) -> Result<()> {
    if prog.prog_type() == want {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "program {} is a {} program; {what} takes {want} programs",
            prog.name(),
            prog.prog_type()
        )))
    }
}
