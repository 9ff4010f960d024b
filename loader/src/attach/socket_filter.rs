//! Socket filters: a `socket_filter` program on one socket with `SO_ATTACH_BPF` (Linux 3.19).
//! The program sees each packet queued to the socket and returns how many bytes to keep (0
//! drops it). The socket holds the program until [`detach`] or until it is closed.

use std::os::fd::{AsFd, BorrowedFd};

use crate::attach::check_type;
use crate::error::Result;
use crate::program::{Program, ProgramType};
use crate::sys;

/// Attaches `prog` to the socket `sock` (`SO_ATTACH_BPF`), replacing any filter it had.
pub fn attach(sock: BorrowedFd<'_>, prog: &Program) -> Result<()> {
    check_type(prog, ProgramType::SocketFilter, "SO_ATTACH_BPF")?;
    Ok(sys::socket_bpf(sock, Some(prog.as_fd()))?)
}

/// Removes the socket's filter (`SO_DETACH_BPF`); ENOENT when it has none.
pub fn detach(sock: BorrowedFd<'_>) -> Result<()> {
    Ok(sys::socket_bpf(sock, None)?)
}
