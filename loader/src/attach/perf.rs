//! kprobes, kretprobes and tracepoints: a perf event opened with `perf_event_open(2)`, with
//! the program attached through a perf-event link (`BPF_LINK_CREATE` with
//! `BPF_PERF_EVENT`, Linux 5.15) or, on older kernels, `PERF_EVENT_IOC_SET_BPF` and
//! `PERF_EVENT_IOC_ENABLE` (tracepoints 4.7, kprobes through the `kprobe` PMU 4.17).
//!
//! Tracepoint ids come from tracefs (`events/<category>/<name>/id`), found in the calling
//! thread's `/proc/thread-self/mountinfo` (a `tracefs` mount, or `tracing` under a `debugfs`
//! mount). kprobes use the `kprobe` PMU (`/sys/bus/event_source/devices/kprobe/type`, with
//! the retprobe bit from `.../format/retprobe`): kernels built without kprobes lack it.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use crate::attach::raw::{link_create, LinkExtra, LinkTarget};
use crate::env::parse_mountinfo;
use crate::error::{Error, FeatureError, Result};
use crate::features::{self, Feature};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramType};
use crate::sys;
use crate::sys::perf::{self as sysperf, PerfEventAttr};

/// Where the kprobe PMU describes itself.
pub const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe";

/// A program attached to a perf event. Dropping it detaches the program (closing the link,
/// if any, and the event).
#[derive(Debug)]
pub struct PerfAttachment {
    link: Option<Link>,
    event: OwnedFd,
}

impl PerfAttachment {
    /// The perf-event link, when the kernel has them (5.15).
    pub fn link(&self) -> Option<&Link> {
        self.link.as_ref()
    }

    /// The perf event's fd.
    pub fn event(&self) -> BorrowedFd<'_> {
        self.event.as_fd()
    }

    /// Detaches now, even when the link is pinned: `BPF_LINK_DETACH` where the kernel
    /// supports it for perf-event links, else the event is disabled (so the program no longer
    /// runs) and closed.
    pub fn detach(self) -> Result<()> {
        if let Some(l) = &self.link {
            match sys::link_detach(l.as_fd()) {
                Ok(()) => return Ok(()),
                Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sysperf::perf_event_enable(self.event.as_fd(), false)?)
    }
}

/// The tracefs directory of the calling thread's mount namespace.
pub fn tracefs() -> Result<PathBuf> {
    let path = "/proc/thread-self/mountinfo";
    let text = fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    let mounts = parse_mountinfo(&text);
    if let Some(m) = mounts.iter().find(|m| m.fs_type == "tracefs") {
        return Ok(m.mount_point.clone());
    }
    if let Some(m) = mounts.iter().find(|m| m.fs_type == "debugfs") {
        let p = m.mount_point.join("tracing");
        if p.join("events").is_dir() {
            return Ok(p);
        }
    }
    Err(Error::Unsupported(
        "no tracefs is mounted (see /proc/thread-self/mountinfo); mount one, e.g. \
         `mount -t tracefs tracefs /sys/kernel/tracing`"
            .into(),
    ))
}

fn check_part(what: &str, s: &str) -> Result<()> {
    if s.is_empty()
        || s.starts_with('.')
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(Error::InvalidArgument(format!("tracepoint {what} {s:?}")));
    }
    Ok(())
}

fn read_number(path: PathBuf) -> Result<u64> {
    let text = fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    text.trim().parse().map_err(|_| {
        Error::io(
            "parsing",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not a number"),
        )
    })
}

/// The id of tracepoint `category:name` (e.g. `syscalls`, `sys_enter_getpid`), from tracefs.
pub fn tracepoint_id(category: &str, name: &str) -> Result<u64> {
    check_part("category", category)?;
    check_part("name", name)?;
    read_number(
        tracefs()?
            .join("events")
            .join(category)
            .join(name)
            .join("id"),
    )
}

/// The kprobe PMU's type and the bit of `config` that makes a kretprobe.
pub fn kprobe_pmu() -> Result<(u32, u32)> {
    let dir = PathBuf::from(KPROBE_PMU);
    if !dir.is_dir() {
        return Err(FeatureError::Missing {
            feature: format!(
                "the kprobe PMU ({KPROBE_PMU}; kernels built without kprobes lack it)"
            ),
        }
        .into());
    }
    let ty = read_number(dir.join("type"))? as u32;
    let path = dir.join("format/retprobe");
    let text = fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    // "config:0"
    let bit = text
        .trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse::<u32>().ok())
        .filter(|&b| b < 64)
        .ok_or_else(|| {
            Error::io(
                "parsing",
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, "expected config:<bit>"),
            )
        })?;
    Ok((ty, bit))
}

/// Opens the perf event of tracepoint `category:name` (all processes, CPU 0: the program of a
/// tracepoint event runs on every CPU).
pub fn open_tracepoint(category: &str, name: &str) -> Result<OwnedFd> {
    let attr = PerfEventAttr {
        type_: sysperf::PERF_TYPE_TRACEPOINT,
        size: sysperf::PERF_ATTR_SIZE_VER7,
        config: tracepoint_id(category, name)?,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    Ok(sysperf::perf_event_open(&attr, -1, 0, None, 0)?)
}

/// Opens a kprobe perf event on kernel function `function` (at byte `offset` into it), or,
/// with `retprobe`, on its return, through the kprobe PMU (4.17).
pub fn open_kprobe(function: &str, offset: u64, retprobe: bool) -> Result<OwnedFd> {
    let func = CString::new(function)
        .map_err(|_| Error::InvalidArgument("function name contains a NUL byte".into()))?;
    let (ty, bit) = kprobe_pmu()?;
    let attr = PerfEventAttr {
        type_: ty,
        size: sysperf::PERF_ATTR_SIZE_VER7,
        config: if retprobe { 1 << bit } else { 0 },
        config1: func.as_ptr() as usize as u64,
        config2: offset,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    // `func` lives until here: the kernel copies the name during the call.
    Ok(sysperf::perf_event_open(&attr, -1, 0, None, 0)?)
}

/// Attaches the tracepoint program `prog` to tracepoint `category:name`, on every CPU and
/// for every process ([`open_tracepoint`], then [`attach_perf_event`]).
pub fn attach_tracepoint(prog: &Program, category: &str, name: &str) -> Result<PerfAttachment> {
    super::check_type(prog, ProgramType::Tracepoint, "a tracepoint")?;
    attach_perf_event(prog, open_tracepoint(category, name)?, None)
}

/// Attaches the kprobe program `prog` to kernel function `function` (at byte `offset` into
/// it), or, with `retprobe`, to its return ([`open_kprobe`], then [`attach_perf_event`]).
pub fn attach_kprobe(
    prog: &Program,
    function: &str,
    offset: u64,
    retprobe: bool,
) -> Result<PerfAttachment> {
    super::check_type(prog, ProgramType::Kprobe, "a kprobe")?;
    attach_perf_event(prog, open_kprobe(function, offset, retprobe)?, None)
}

/// Attaches `prog` to the perf event `event` (a kprobe, tracepoint or perf event opened by
/// the caller): through a perf-event link when the kernel has them (5.15,
/// [`Feature::PerfEventLink`]), else `PERF_EVENT_IOC_SET_BPF` and `PERF_EVENT_IOC_ENABLE`.
/// A `cookie` (for `bpf_get_attach_cookie`) needs the link.
pub fn attach_perf_event(
    prog: &Program,
    event: OwnedFd,
    cookie: Option<u64>,
) -> Result<PerfAttachment> {
    if features::probe(Feature::PerfEventLink)? {
        let link = link_create(
            prog,
            LinkTarget::Fd(event.as_fd()),
            AttachType::PerfEvent,
            0,
            cookie.map_or(LinkExtra::None, LinkExtra::PerfEventCookie),
        )?;
        return Ok(PerfAttachment {
            link: Some(link),
            event,
        });
    }
    if cookie.is_some() {
        return Err(FeatureError::Missing {
            feature: Feature::PerfEventLink.to_string() + " (needed for a cookie)",
        }
        .into());
    }
    attach_perf_event_ioctl(prog, event)
}

/// Attaches `prog` to the perf event `event` the pre-link way (what [`attach_perf_event`]
/// does on kernels before 5.15): `PERF_EVENT_IOC_SET_BPF`, then `PERF_EVENT_IOC_ENABLE`.
/// Closing the event detaches the program.
pub fn attach_perf_event_ioctl(prog: &Program, event: OwnedFd) -> Result<PerfAttachment> {
    sysperf::perf_event_set_bpf(event.as_fd(), prog.as_fd())?;
    sysperf::perf_event_enable(event.as_fd(), true)?;
    Ok(PerfAttachment { link: None, event })
}
