//! BTF-typed tracing programs: tp_btf, fentry, fexit, fmod_ret (type `tracing`) and lsm.
//! They are loaded with the BTF id of their target (`attach_btf_id`), so attaching names no
//! target: `BPF_RAW_TRACEPOINT_OPEN` without a name (Linux 5.5; lsm 5.7), or, for a cookie,
//! `BPF_LINK_CREATE` with `tracing.cookie` (5.19). Raw tracepoints (type `raw_tracepoint`,
//! 4.17) attach by name through [`attach_raw_tracepoint`].
//!
//! The kernel refuses these trampoline programs under lockdown (EPERM at load time).

use std::ffi::CString;
use std::os::fd::AsFd;

use crate::attach::raw::{link_create, LinkExtra, LinkTarget};
use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramType};
use crate::sys;

/// Attaches a loaded tracing (tp_btf, fentry, fexit, fmod_ret) or lsm program to the target
/// it was loaded for. With a `cookie`, through `BPF_LINK_CREATE` (5.19) with
/// `expected_attach_type` given here (the one the program was loaded with); without, through
/// `BPF_RAW_TRACEPOINT_OPEN` (5.5).
pub fn attach(prog: &Program, attach_type: AttachType, cookie: Option<u64>) -> Result<Link> {
    match prog.prog_type() {
        ProgramType::Tracing | ProgramType::Lsm => {}
        other => {
            return Err(Error::InvalidArgument(format!(
                "program {} is a {other} program, not tracing or lsm",
                prog.name()
            )))
        }
    }
    match cookie {
        None => Ok(Link::from_owned(sys::raw_tracepoint_open(
            None,
            prog.as_fd(),
        )?)),
        Some(cookie) => link_create(
            prog,
            LinkTarget::None,
            attach_type,
            0,
            LinkExtra::Tracing {
                target_btf_id: 0,
                cookie,
            },
        ),
    }
}

/// Attaches a `raw_tracepoint` (or `raw_tracepoint_writable`) program to the raw tracepoint
/// `name` (e.g. `sys_enter`), Linux 4.17.
pub fn attach_raw_tracepoint(prog: &Program, name: &str) -> Result<Link> {
    match prog.prog_type() {
        ProgramType::RawTracepoint | ProgramType::RawTracepointWritable => {}
        other => {
            return Err(Error::InvalidArgument(format!(
                "program {} is a {other} program, not raw_tracepoint",
                prog.name()
            )))
        }
    }
    let name = CString::new(name)
        .map_err(|_| Error::InvalidArgument("tracepoint name contains a NUL byte".into()))?;
    Ok(Link::from_owned(sys::raw_tracepoint_open(
        Some(&name),
        prog.as_fd(),
    )?))
}
