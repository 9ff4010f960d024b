//! Our own `bpf()` layer: maps, programs, the verifier log, pins, cgroup and sockmap
//! attachments, feature probes, written by hand on `libc::syscall(SYS_bpf, …)`.
//!
//! Nothing here knows about any particular program: callers bring [`asm::Program`]s and
//! [`MapSpec`]s.
//!
//! - `sys` (private) owns `bpf()` and the only `unsafe`: `#[repr(C)]` attributes, fds.
//! - [`map`], [`program`], [`link`], [`cgroup`], [`sk_msg`]: typed objects, one file per kind.
//! - [`attach`]: every other attach kind, one file each: [`attach::raw`] (`BPF_PROG_ATTACH`
//!   and `BPF_LINK_CREATE` for any type), [`attach::xdp`], [`attach::tcx`], [`attach::tc`]
//!   (classic tc over rtnetlink), [`attach::socket_filter`], [`attach::sk_skb`], [`attach::sk_lookup`], [`attach::perf`]
//!   (kprobes, tracepoints) and [`attach::tracing`] (tp_btf, fentry/fexit, lsm).
//! - [`verifier`]: [`VerifierError`] (reason + instruction first, whole log with `{:#}`) and
//!   [`LoadStats`].
//! - [`btf`]: the running kernel's BTF (and modules'), far enough to find a kernel struct's
//!   fields and any type's id by name; [`btf_obj`]: BTF objects in the kernel.
//! - [`features`]: cached probes by trying; [`FeatureError::Missing`] names what is missing.
//! - [`env`](mod@env): cgroup v2 mount discovery, cgroup path checks, bpffs, pin dirs, memlock.
//! - [`lock`]: [`lock::PinDirLock`], one operation at a time on a pin directory (`flock(2)`).
//! - `testing` (cargo feature `testing`, for dev-dependencies): helpers for this workspace's
//!   kernel tests.
//! - [`core`]: CO-RE relocations of ELF objects, resolved against kernel BTF and applied to
//!   the instructions.
//! - [`elf`]: loading BPF ELF objects read by the `bpfobj` crate (which owns ELF).
//! - [`typed`]: [`typed::TypedMap`], [`typed::PerCpuMap`], [`typed::TypedQueue`]: maps viewed
//!   with [`Pod`] keys and values, size-checked once.
//! - [`ringbuf`]: [`ringbuf::RingBuf`], the reader of a `BPF_MAP_TYPE_RINGBUF` map (5.8).
//! - [`perf_buffer`]: [`perf_buffer::PerfBuffer`], the reader of a perf event array's
//!   per-CPU BPF output buffers.
//! - [`test_run`]: `BPF_PROG_TEST_RUN` ([`Program::test_run`]).
//!
//! # Example
//!
//! ```no_run
//! use asm::{Builder, Reg::*};
//! use loader::{cgroup, AttachMode, AttachType, Map, MapSpec, MapType, Program, ProgramSpec,
//!     ProgramType};
//!
//! let map = Map::create(&MapSpec::new("sock_map", MapType::SockHash, 8, 8, 1024))?;
//! let mut b = Builder::new();
//! b.ld_map(R2, "sock_map").mov64(R0, 1).exit();
//! let prog = Program::load(
//!     &ProgramSpec::new("sockops", ProgramType::SockOps),
//!     &b.build()?,
//!     &[&map],
//! )?;
//! let cg = loader::env::cgroup2_mount()?.join("my-service");
//! let att = cgroup::attach(&prog, &cg, AttachType::CgroupSockOps, AttachMode::Auto)?;
//! att.pin("/sys/fs/bpf/my-service/sockops_link")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod attach;
pub mod btf;
pub mod btf_obj;
pub mod cgroup;
pub mod core;
pub mod elf;
pub mod env;
mod error;
pub mod features;
mod gunzip;
pub mod kconfig;
mod legacy;
pub mod link;
pub mod lock;
pub mod map;
pub mod perf_buffer;
pub mod pin;
pub mod program;
pub mod ringbuf;
pub mod sk_msg;
pub mod stats;
mod sys;
pub mod test_run;
#[cfg(feature = "testing")]
pub mod testing;
pub mod typed;
pub mod verifier;

pub use attach::perf::PerfAttachment;
pub use attach::raw::{LinkExtra, LinkTarget};
pub use cgroup::{AttachMode, CgroupAttachment, QueryResult};
pub use error::{Error, Result, SyscallError};
pub use features::{Feature, FeatureError};
pub use legacy::ProgAttachment;
pub use link::{Link, LinkInfo, LinkType};
pub use map::{Map, MapInfo, MapSpec, MapType, UpdateFlags};
pub use program::{AttachType, FdSlot, ProgInfo, Program, ProgramSpec, ProgramType, SharedFd};
pub use typed::Pod;
pub use verifier::{LoadStats, VerifierError};

/// Map creation flags (`BPF_F_*`) a [`MapSpec`] may carry.
pub mod map_flags {
    /// `BPF_F_NO_PREALLOC` (required for LPM tries, added automatically for them).
    pub const NO_PREALLOC: u32 = crate::sys::consts::BPF_F_NO_PREALLOC;
    /// `BPF_F_RDONLY`: read-only for user space.
    pub const RDONLY: u32 = crate::sys::consts::BPF_F_RDONLY;
    /// `BPF_F_WRONLY`: write-only for user space.
    pub const WRONLY: u32 = crate::sys::consts::BPF_F_WRONLY;
}

/// The ids of every program, map or link loaded in the kernel, in id order.
pub mod ids {
    use crate::error::Result;
    use crate::sys::{self, IdKind};

    fn all(kind: IdKind) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut id = 0;
        while let Some(next) = sys::get_next_id(kind, id)? {
            if next <= id {
                break;
            }
            out.push(next);
            id = next;
        }
        Ok(out)
    }

    /// All program ids.
    pub fn programs() -> Result<Vec<u32>> {
        all(IdKind::Prog)
    }

    /// All map ids.
    pub fn maps() -> Result<Vec<u32>> {
        all(IdKind::Map)
    }

    /// All link ids.
    pub fn links() -> Result<Vec<u32>> {
        all(IdKind::Link)
    }
}
