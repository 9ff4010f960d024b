//! `perf_event_open(2)` and the perf event ioctls, for the BPF output events of a perf event
//! array ([`crate::perf_buffer`]). The numbers and `struct perf_event_attr`'s layout are from
//! `linux/perf_event.h` (asserted against the system header in this module's tests where it
//! is installed).

#![allow(missing_docs)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::attr::{bytes_of_mut, Pod};
use super::{own_fd, SyscallError};

/// `enum perf_type_id`: software events.
pub const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_TYPE_TRACEPOINT`: `config` is a tracepoint id from tracefs.
pub const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `enum perf_sw_ids`: the event `bpf_perf_event_output` writes to.
pub const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `enum perf_event_sample_format`: the raw data of a sample.
pub const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `enum perf_event_type`: records were lost.
pub const PERF_RECORD_LOST: u32 = 2;
/// `enum perf_event_type`: a sample.
pub const PERF_RECORD_SAMPLE: u32 = 9;
/// `perf_event_open` flag: close-on-exec.
pub const PERF_FLAG_FD_CLOEXEC: u64 = 1 << 3;
/// `PERF_EVENT_IOC_ENABLE`, `_IO('$', 0)` (the generic ioctl encoding, as on x86 and arm64).
pub const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;
/// `PERF_EVENT_IOC_DISABLE`, `_IO('$', 1)`.
pub const PERF_EVENT_IOC_DISABLE: u64 = 0x2401;
/// `PERF_EVENT_IOC_SET_BPF` = `_IOW('$', 8, __u32)` (the generic ioctl encoding of x86 and
/// arm64: direction bits 30-31, size bits 16-29).
pub const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;
/// `PERF_ATTR_SIZE_VER7`: the size of [`PerfEventAttr`].
pub const PERF_ATTR_SIZE_VER7: u32 = 128;
/// Offset of `data_head` in `struct perf_event_mmap_page`.
pub const MMAP_PAGE_DATA_HEAD: usize = 1024;
/// Offset of `data_tail` in `struct perf_event_mmap_page`.
pub const MMAP_PAGE_DATA_TAIL: usize = 1032;

/// `struct perf_event_attr` (through `sig_data`, `PERF_ATTR_SIZE_VER7`). The bitfield word
/// (`disabled`, `inherit`, …) is `flags`; bit 0 is `disabled`, bit 15 `watermark`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerfEventAttr {
    pub type_: u32,
    pub size: u32,
    pub config: u64,
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    pub flags: u64,
    pub wakeup_events: u32,
    pub bp_type: u32,
    pub config1: u64,
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub _reserved_2: u16,
    pub aux_sample_size: u32,
    pub _reserved_3: u32,
    pub sig_data: u64,
}

// SAFETY: repr(C), integers only, no implicit padding (size asserted below).
unsafe impl Pod for PerfEventAttr {}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER7 as usize);

/// `perf_event_open(attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC)`.
pub fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    group_fd: Option<BorrowedFd<'_>>,
    flags: u64,
) -> Result<OwnedFd, SyscallError> {
    let mut a = *attr;
    let group: RawFd = group_fd.map_or(-1, |f| f.as_raw_fd());
    let bytes = bytes_of_mut(&mut a);
    // SAFETY: `bytes` is a live, initialised perf_event_attr whose `size` field the caller
    // set to at most its length; the kernel only reads it (and may write back `size` on E2BIG).
    let r = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            bytes.as_mut_ptr(),
            pid as libc::pid_t,
            cpu as libc::c_int,
            group as libc::c_int,
            (flags | PERF_FLAG_FD_CLOEXEC) as libc::c_ulong,
        )
    };
    if r < 0 {
        return Err(SyscallError::new(
            "perf_event_open",
            io::Error::last_os_error(),
        ));
    }
    own_fd(r as i64, "perf_event_open")
}

/// `ioctl(fd, PERF_EVENT_IOC_ENABLE or _DISABLE, 0)`.
pub fn perf_event_enable(fd: BorrowedFd<'_>, enable: bool) -> Result<(), SyscallError> {
    let req = if enable {
        PERF_EVENT_IOC_ENABLE
    } else {
        PERF_EVENT_IOC_DISABLE
    };
    // SAFETY: an argument-less ioctl on an fd the caller keeps open; no memory is passed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, 0) };
    if r < 0 {
        let call = if enable {
            "ioctl(PERF_EVENT_IOC_ENABLE)"
        } else {
            "ioctl(PERF_EVENT_IOC_DISABLE)"
        };
        return Err(SyscallError::new(call, io::Error::last_os_error()));
    }
    Ok(())
}

/// `ioctl(PERF_EVENT_IOC_SET_BPF)`: runs `prog` for the (kprobe or tracepoint) perf event.
pub fn perf_event_set_bpf(event: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), SyscallError> {
    // SAFETY: an ioctl on an fd the caller keeps open, whose argument is an integer (the fd).
    let r = unsafe {
        libc::ioctl(
            event.as_raw_fd(),
            PERF_EVENT_IOC_SET_BPF as _,
            prog.as_raw_fd() as libc::c_int,
        )
    };
    if r < 0 {
        return Err(SyscallError::new(
            "ioctl(PERF_EVENT_IOC_SET_BPF)",
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}
