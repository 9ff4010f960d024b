//! The vendored kernel headers (`uapi/include/`, see `uapi/refresh.sh`), compiled in with
//! `include_str!` so that a missing header fails the build rather than skipping a check.

/// `linux/bpf.h`.
pub const BPF_H: &str = include_str!("../include/linux/bpf.h");
/// `linux/bpf_common.h`.
pub const BPF_COMMON_H: &str = include_str!("../include/linux/bpf_common.h");
/// `linux/btf.h`.
pub const BTF_H: &str = include_str!("../include/linux/btf.h");
/// `linux/tcp.h`.
pub const TCP_H: &str = include_str!("../include/linux/tcp.h");
/// `linux/in.h`.
pub const IN_H: &str = include_str!("../include/linux/in.h");
/// `linux/in6.h`.
pub const IN6_H: &str = include_str!("../include/linux/in6.h");
/// `linux/magic.h`.
pub const MAGIC_H: &str = include_str!("../include/linux/magic.h");
/// `asm-generic/socket.h`.
pub const SOCKET_H: &str = include_str!("../include/asm-generic/socket.h");
/// `asm-generic/errno-base.h`.
pub const ERRNO_BASE_H: &str = include_str!("../include/asm-generic/errno-base.h");
/// `asm-generic/errno.h`.
pub const ERRNO_H: &str = include_str!("../include/asm-generic/errno.h");
/// The package the headers were copied from (`include/VERSION`).
pub const VERSION: &str = include_str!("../include/VERSION");

/// Every vendored header as (path under `include/`, text).
pub const ALL: &[(&str, &str)] = &[
    ("linux/bpf.h", BPF_H),
    ("linux/bpf_common.h", BPF_COMMON_H),
    ("linux/btf.h", BTF_H),
    ("linux/tcp.h", TCP_H),
    ("linux/in.h", IN_H),
    ("linux/in6.h", IN6_H),
    ("linux/magic.h", MAGIC_H),
    ("asm-generic/socket.h", SOCKET_H),
    ("asm-generic/errno-base.h", ERRNO_BASE_H),
    ("asm-generic/errno.h", ERRNO_H),
];
