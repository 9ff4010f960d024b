//! [`SyscallError`]: a failed `bpf()` (or other) system call, with the explanation an EPERM
//! gets decided when the error is made, so that formatting it never does I/O.

use std::fmt;
use std::io;

use super::caps;

/// A system call failed: which one, and the kernel's errno.
///
/// For an EPERM from `bpf()` the message says which capabilities the process lacks; that is
/// worked out once, when the error is created (see [`SyscallError::new`]).
#[derive(Debug)]
pub struct SyscallError {
    /// The call, e.g. `"BPF_MAP_CREATE"`.
    pub call: &'static str,
    /// The error the kernel returned.
    pub io_error: io::Error,
    /// Why the kernel may have refused, for an EPERM from a `BPF_*` command.
    hint: Option<String>,
}

impl SyscallError {
    /// The error of `call` failing with `io_error`. For an EPERM from a `BPF_*` command this
    /// reads the process's effective capabilities (`/proc/self/status`) once, here, to say
    /// which are missing.
    pub fn new(call: &'static str, io_error: io::Error) -> SyscallError {
        let hint = (io_error.raw_os_error() == Some(libc::EPERM) && call.starts_with("BPF_"))
            .then(|| hint_for(call, caps::effective_caps()));
        SyscallError {
            call,
            io_error,
            hint,
        }
    }

    /// The errno, when the error came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        self.io_error.raw_os_error()
    }

    /// The explanation appended to the message (an EPERM from `bpf()` only).
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

/// The explanation of an EPERM from `call`, given the effective capabilities (`None` when
/// they could not be read).
fn hint_for(call: &str, caps: Option<u64>) -> String {
    let mut hint = caps::permission_hint_for(caps);
    if call == "BPF_PROG_ATTACH" {
        hint.push_str(
            "; for a cgroup, also when a program is already attached there without \
             BPF_F_ALLOW_MULTI",
        );
    }
    hint
}

impl fmt::Display for SyscallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.call, self.io_error)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SyscallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_eperm_from_bpf_gets_a_hint() {
        let eperm = || io::Error::from_raw_os_error(libc::EPERM);
        assert!(SyscallError::new("BPF_MAP_CREATE", eperm())
            .hint()
            .is_some());
        assert!(SyscallError::new("flock", eperm()).hint().is_none());
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        assert!(SyscallError::new("BPF_MAP_CREATE", einval).hint().is_none());
    }

    #[test]
    fn the_message_carries_the_hint_made_at_creation() {
        let e = SyscallError::new("BPF_PROG_ATTACH", io::Error::from_raw_os_error(libc::EPERM));
        let msg = e.to_string();
        assert!(msg.starts_with("BPF_PROG_ATTACH failed: "), "{msg}");
        assert!(msg.contains("BPF_F_ALLOW_MULTI"), "{msg}");
        assert!(msg.contains(e.hint().unwrap()), "{msg}");
        let h = hint_for("BPF_MAP_CREATE", Some(0));
        assert!(h.contains("lacks CAP_BPF"), "{h}");
        assert!(!h.contains("ALLOW_MULTI"), "{h}");
    }
}
