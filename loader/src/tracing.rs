//! Attaching BTF-typed tracing programs, minimally: `BPF_RAW_TRACEPOINT_OPEN`, which attaches
//! a `tp_btf`, fentry, fexit, fmod_ret or LSM program to the target named at load
//! ([`ProgramSpec::tracing`](crate::ProgramSpec::tracing),
//! [`ProgramSpec::tp_btf`](crate::ProgramSpec::tp_btf),
//! [`ProgramSpec::lsm`](crate::ProgramSpec::lsm)), or a plain raw tracepoint program to a
//! tracepoint by name. Both return a [`Link`]: closing its last fd (or
//! [`Link::detach`]) detaches the program.

use std::ffi::CString;
use std::os::fd::AsFd;

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::Program;
use crate::sys;

/// Attaches a BTF-typed tracing program (`tp_btf`, fentry, fexit, fmod_ret, LSM) where its
/// load said (`BPF_RAW_TRACEPOINT_OPEN` with no name; Linux 5.5, 5.7 for LSM). fentry,
/// fexit, fmod_ret and LSM go through a BPF trampoline; `tp_btf` does not.
pub fn attach(prog: &Program) -> Result<Link> {
    Ok(Link::from_owned(sys::raw_tracepoint_open(
        prog.as_fd(),
        None,
    )?))
}

/// Attaches a `BPF_PROG_TYPE_RAW_TRACEPOINT` program to the tracepoint `name` (e.g.
/// `"sys_enter"`; `BPF_RAW_TRACEPOINT_OPEN`, Linux 4.17; a link since 5.7).
pub fn attach_raw_tracepoint(prog: &Program, name: &str) -> Result<Link> {
    let name = CString::new(name)
        .map_err(|_| Error::InvalidArgument("tracepoint name contains a NUL byte".into()))?;
    Ok(Link::from_owned(sys::raw_tracepoint_open(
        prog.as_fd(),
        Some(&name),
    )?))
}
