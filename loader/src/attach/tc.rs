//! Classic tc: a `sched_cls` program as a direct-action `cls_bpf` filter under a device's
//! `clsact` qdisc, set up over rtnetlink (clsact: Linux 4.5). This is how tc programs attach
//! on kernels without tcx ([`crate::attach::tcx`], 6.6); [`crate::attach::tcx::attach_any`]
//! picks one or the other.
//!
//! [`attach`] adds the clsact qdisc when the device has none (and leaves it: other filters may
//! use it by then), then the filter at the given priority and handle. The returned
//! [`ClassicFilter`] deletes exactly that filter when dropped.

use std::os::fd::{AsFd, AsRawFd};

use crate::attach::check_type;
use crate::attach::tcx::Direction;
use crate::error::{Error, Result};
use crate::program::{Program, ProgramType};
use crate::sys::netlink::{self as nl, Rtnl};

/// A cls_bpf filter this process added. Dropping it deletes the filter, unless
/// [`keep`](ClassicFilter::keep) was called.
#[derive(Debug)]
pub struct ClassicFilter {
    ifindex: u32,
    parent: u32,
    priority: u16,
    handle: u32,
    armed: bool,
}

fn parent(direction: Direction) -> u32 {
    nl::tc_h_make(
        nl::TC_H_CLSACT,
        match direction {
            Direction::Ingress => nl::TC_H_MIN_INGRESS,
            Direction::Egress => nl::TC_H_MIN_EGRESS,
        },
    )
}

/// `tcm_info` of a filter: the priority in the upper half, the protocol (`ETH_P_ALL`, network
/// order) in the lower.
fn info(priority: u16) -> u32 {
    (u32::from(priority) << 16) | u32::from(nl::ETH_P_ALL.to_be())
}

/// Attaches the `sched_cls` program `prog` to device `ifindex` (in the calling thread's
/// network namespace) at `direction` as a direct-action cls_bpf filter with `priority`
/// (1-65535) and `handle` (non-zero). EEXIST when a filter has that priority and handle.
pub fn attach(
    prog: &Program,
    ifindex: u32,
    direction: Direction,
    priority: u16,
    handle: u32,
) -> Result<ClassicFilter> {
    check_type(prog, ProgramType::SchedCls, "a cls_bpf filter")?;
    if priority == 0 || handle == 0 {
        return Err(Error::InvalidArgument(
            "a tc filter needs a non-zero priority and handle".into(),
        ));
    }
    let mut rtnl = Rtnl::open()?;
    // The clsact qdisc, unless there is one.
    let mut q = nl::tcmsg(
        ifindex,
        nl::tc_h_make(nl::TC_H_CLSACT, 0),
        nl::TC_H_CLSACT,
        0,
    );
    nl::put_attr(&mut q, nl::TCA_KIND, b"clsact\0");
    match rtnl.request(
        "RTM_NEWQDISC(clsact)",
        nl::RTM_NEWQDISC,
        nl::NLM_F_CREATE | nl::NLM_F_EXCL,
        &q,
    ) {
        Ok(()) => {}
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let parent = parent(direction);
    let mut f = nl::tcmsg(ifindex, handle, parent, info(priority));
    nl::put_attr(&mut f, nl::TCA_KIND, b"bpf\0");
    let name = format!("{}\0", prog.name());
    nl::put_nested(&mut f, nl::TCA_OPTIONS, |b| {
        nl::put_attr(
            b,
            nl::TCA_BPF_FD,
            &(prog.as_fd().as_raw_fd() as u32).to_ne_bytes(),
        );
        nl::put_attr(b, nl::TCA_BPF_NAME, name.as_bytes());
        nl::put_attr(
            b,
            nl::TCA_BPF_FLAGS,
            &nl::TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes(),
        );
    });
    rtnl.request(
        "RTM_NEWTFILTER(bpf)",
        nl::RTM_NEWTFILTER,
        nl::NLM_F_CREATE | nl::NLM_F_EXCL,
        &f,
    )?;
    Ok(ClassicFilter {
        ifindex,
        parent,
        priority,
        handle,
        armed: true,
    })
}

impl ClassicFilter {
    /// The filter's priority.
    pub fn priority(&self) -> u16 {
        self.priority
    }

    /// The filter's handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    fn delete(&self) -> Result<()> {
        let mut f = nl::tcmsg(self.ifindex, self.handle, self.parent, info(self.priority));
        nl::put_attr(&mut f, nl::TCA_KIND, b"bpf\0");
        Rtnl::open()?.request("RTM_DELTFILTER(bpf)", nl::RTM_DELTFILTER, 0, &f)?;
        Ok(())
    }

    /// Deletes the filter now.
    pub fn detach(mut self) -> Result<()> {
        self.armed = false;
        self.delete()
    }

    /// Leaves the filter in place after this value is gone.
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for ClassicFilter {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.delete();
        }
    }
}
