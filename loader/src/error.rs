//! The crate's [`Error`], which every public operation returns, and [`FeatureError`] (a
//! missing kernel feature; `features` probes, and re-exports it). A failed system call is a
//! [`SyscallError`] (owned by `sys`, where calls are made) wrapped in [`Error::Syscall`]. This
//! module depends only on `sys`, `verifier` and `btf` (for [`BtfError`]), so every other
//! module may use it.

use std::io;
use std::path::PathBuf;

use crate::btf::BtfError;
pub use crate::sys::SyscallError;
use crate::verifier::VerifierError;

/// A feature is missing, or could not be probed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// The kernel lacks the feature.
    #[error("this kernel lacks {feature}")]
    Missing {
        /// What is missing, e.g. "bpf_link for cgroup programs (Linux 5.7)".
        feature: String,
    },
    /// The probe itself failed (usually missing privileges).
    #[error("could not probe {feature}: {source}")]
    Probe {
        /// What was probed.
        feature: String,
        /// Why the probe failed.
        source: SyscallError,
    },
}

/// Why a loader operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `bpf()` or other system call failed.
    #[error(transparent)]
    Syscall(#[from] SyscallError),
    /// The verifier rejected a program.
    #[error(transparent)]
    Verifier(#[from] Box<VerifierError>),
    /// The kernel lacks a feature this operation needs.
    #[error(transparent)]
    Feature(#[from] FeatureError),
    /// Kernel BTF could not be read, or has no type of the name asked for.
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// A program's map references could not be bound.
    #[error("binding maps: {0}")]
    Asm(#[from] asm::AsmError),
    /// An argument is not acceptable (wrong key size, bad name, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "reading".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// An operation on one named object (a map, a program of an object) failed.
    #[error("{object}: {source}")]
    Object {
        /// What was being done to which object, e.g. "creating map events".
        object: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// CO-RE relocations of an object could not be applied.
    #[error(transparent)]
    Core(#[from] crate::core::CoreError),
    /// What is asked for is valid but not something this loader does (a program that needs
    /// a BTF attach target, a section name whose program type is unknown, …): nothing was
    /// given to the kernel.
    #[error("not supported by this loader: {0}")]
    Unsupported(String),
    /// A path is not a cgroup v2 directory.
    #[error("{}: {reason}", path.display())]
    NotCgroup2 {
        /// The path.
        path: PathBuf,
        /// Why it is not acceptable.
        reason: String,
    },
    /// No cgroup v2 hierarchy is mounted.
    #[error("no cgroup v2 (cgroup2) file system is mounted (see /proc/self/mountinfo); mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`")]
    NoCgroup2Mount,
    /// A path that must be on a bpffs is not.
    #[error("{} is not on a BPF file system (statfs type {fs_type:#x}); mount one with `mount -t bpf bpf {}`", path.display(), path.display())]
    NotBpffs {
        /// The path.
        path: PathBuf,
        /// The file system magic found.
        fs_type: i64,
    },
    /// Another program is already attached where attaching would replace it.
    #[error("{target} already has program(s) {prog_ids:?} attached; attaching would replace them: detach them first")]
    AlreadyAttached {
        /// The attach point, e.g. "sk_msg verdict of map sock_map".
        target: String,
        /// The ids of the programs there.
        prog_ids: Vec<u32>,
    },
    /// Pinning failed: something is pinned at the path already (`EEXIST`).
    #[error("pin {} already exists", path.display())]
    PinExists {
        /// The path.
        path: PathBuf,
    },
    /// Opening a pin failed: nothing is pinned at the path (`ENOENT`).
    #[error("nothing is pinned at {}", path.display())]
    PinNotFound {
        /// The path.
        path: PathBuf,
    },
    /// An object opened from a pin or an id is not of the expected kind.
    #[error("{what} is a {found}, not a {expected}")]
    WrongObject {
        /// The pin path or id.
        what: String,
        /// What was expected ("map", "program", "link").
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

impl Error {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Syscall(e) => e.errno(),
            Error::Verifier(v) => Some(v.errno()),
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Object { source, .. } => source.errno(),
            Error::PinExists { .. } => Some(libc::EEXIST),
            Error::PinNotFound { .. } => Some(libc::ENOENT),
            _ => None,
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
