//! Attachments made with `BPF_PROG_ATTACH` (no link object): they are held by the target (a
//! cgroup or a map), not by an fd, so this type detaches exactly its own program on drop
//! unless told to [`keep`](ProgAttachment::keep) it.

use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Error, Result};
use crate::program::{AttachType, Program};
use crate::sys;

/// A program attached to a cgroup or map with `BPF_PROG_ATTACH`.
///
/// Dropping it detaches the program (by its fd, so never another program on the same
/// target); [`keep`](ProgAttachment::keep) leaves it attached for good.
#[derive(Debug)]
pub struct ProgAttachment {
    target: OwnedFd,
    prog: OwnedFd,
    prog_id: u32,
    attach_type: AttachType,
    flags: u32,
    armed: bool,
}

impl ProgAttachment {
    /// Attaches `prog` to `target` (whose fd is duplicated and kept).
    pub(crate) fn attach(
        target: &impl AsFd,
        prog: &Program,
        attach_type: AttachType,
        flags: u32,
    ) -> Result<ProgAttachment> {
        let target = dup(target, "target")?;
        let prog_fd = dup(prog, "program")?;
        sys::prog_attach(
            target.as_fd(),
            prog_fd.as_fd(),
            attach_type.raw(),
            flags,
            None,
        )?;
        Ok(ProgAttachment {
            target,
            prog: prog_fd,
            prog_id: prog.id(),
            attach_type,
            flags,
            armed: true,
        })
    }

    /// The attached program's id.
    pub fn program_id(&self) -> u32 {
        self.prog_id
    }

    /// Where it is attached.
    pub fn attach_type(&self) -> AttachType {
        self.attach_type
    }

    /// The attach flags used.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Atomically replaces the attached program by `new` (`BPF_F_REPLACE` with this
    /// attachment's program as `replace_bpf_fd`; cgroups with `BPF_F_ALLOW_MULTI` only).
    pub fn replace_program(&mut self, new: &Program) -> Result<()> {
        let new_fd = dup(new, "program")?;
        sys::prog_attach(
            self.target.as_fd(),
            new_fd.as_fd(),
            self.attach_type.raw(),
            self.flags,
            Some(self.prog.as_fd()),
        )?;
        self.prog = new_fd;
        self.prog_id = new.id();
        Ok(())
    }

    /// Detaches the program now.
    pub fn detach(mut self) -> Result<()> {
        self.armed = false;
        Ok(sys::prog_detach(
            self.target.as_fd(),
            Some(self.prog.as_fd()),
            self.attach_type.raw(),
        )?)
    }

    /// Leaves the program attached after this value is gone (until someone detaches it).
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for ProgAttachment {
    fn drop(&mut self) {
        if self.armed {
            let _ = sys::prog_detach(
                self.target.as_fd(),
                Some(self.prog.as_fd()),
                self.attach_type.raw(),
            );
        }
    }
}

pub(crate) fn dup(fd: &impl AsFd, what: &'static str) -> Result<OwnedFd> {
    fd.as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io("duplicating fd of", what, e))
}
