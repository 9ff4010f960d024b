//! The kernel UAPI numbers the programs use, in the types the programs need (`i32` for an
//! instruction's immediate, `i16` for its offset, `u32` for map definitions). They are views
//! of the `uapi` crate, which owns every number and checks it against the vendored kernel
//! headers (context offsets against the structs' layout in `linux/bpf.h`); none is written
//! here. The only numbers this module owns are the two of the kernel-internal
//! `include/net/sock.h`, which no UAPI header has.

use ::uapi::{bpf, errno, socket};

/// `AF_INET`: an IPv4 socket.
pub const AF_INET: i32 = socket::AF_INET;
/// `AF_INET6`: an IPv6 (possibly dual-stack) socket.
pub const AF_INET6: i32 = socket::AF_INET6;

/// `E2BIG`: a map insert failed because the map is full.
pub const E2BIG: i32 = errno::E2BIG;
/// `EEXIST`: a `BPF_NOEXIST` insert found the key already there.
pub const EEXIST: i32 = errno::EEXIST;
/// `ENOENT`: a delete found no such key.
pub const ENOENT: i32 = errno::ENOENT;

/// `BPF_ANY`: create or update.
pub const BPF_ANY: i32 = bpf::BPF_ANY as i32;
/// `BPF_NOEXIST`: create a new element only if it did not exist.
pub const BPF_NOEXIST: i32 = bpf::BPF_NOEXIST as i32;
/// `BPF_EXIST`: update only an element that exists.
pub const BPF_EXIST: i32 = bpf::BPF_EXIST as i32;

/// `BPF_F_INGRESS`: for `bpf_msg_redirect_hash`, queue the message on the target socket's
/// receive side (as if the peer had received it).
pub const BPF_F_INGRESS: i32 = bpf::BPF_F_INGRESS as i32;

/// `BPF_F_NO_PREALLOC` (map creation flag): required for `BPF_MAP_TYPE_LPM_TRIE`.
pub const BPF_F_NO_PREALLOC: u32 = bpf::BPF_F_NO_PREALLOC;

/// `SK_PASS` (`enum sk_action`): let the message continue (or: the redirect was set up).
pub const SK_PASS: i32 = bpf::SK_PASS as i32;
/// `SK_DROP` (`enum sk_action`): drop the message (or: the redirect target was not found).
pub const SK_DROP: i32 = bpf::SK_DROP as i32;
/// `SOCK_RCVBUF_LOCK` in `sk_userlocks` (kernel-internal `include/net/sock.h`, not UAPI): the
/// application set `SO_RCVBUF`, so TCP does not grow the receive buffer on its own.
pub const SOCK_RCVBUF_LOCK: i32 = 2;
/// The flag bits kept in the low bits of `sk_user_data` (`SK_USER_DATA_NOCOPY | _BPFLOCK |
/// _PSOCK`, kernel-internal `include/net/sock.h`): masked off to get the `struct sk_psock *`.
pub const SK_USER_DATA_FLAGS: i32 = 7;

/// `BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB`: a connection this host initiated is established
/// (the client, on the SYN-ACK).
pub const BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: i32 = bpf::BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB as i32;
/// `BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB`: a connection this host accepted is established
/// (the server, on the ACK that concludes the handshake).
pub const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: i32 =
    bpf::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB as i32;
/// `BPF_SOCK_OPS_STATE_CB`: the TCP state changed; `args[0]` is the old state, `args[1]` the
/// new one. Only called for sockets with [`BPF_SOCK_OPS_STATE_CB_FLAG`] set.
pub const BPF_SOCK_OPS_STATE_CB: i32 = bpf::BPF_SOCK_OPS_STATE_CB as i32;

/// `BPF_SOCK_OPS_STATE_CB_FLAG`: the flag for `bpf_sock_ops_cb_flags_set` that enables
/// [`BPF_SOCK_OPS_STATE_CB`] callbacks for a socket.
pub const BPF_SOCK_OPS_STATE_CB_FLAG: i32 = bpf::BPF_SOCK_OPS_STATE_CB_FLAG as i32;

/// `BPF_TCP_CLOSE`: the socket is closed.
pub const BPF_TCP_CLOSE: i32 = bpf::BPF_TCP_CLOSE as i32;

pub use ::uapi::bpf::{
    BPF_CGROUP_SETSOCKOPT, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LPM_TRIE, BPF_MAP_TYPE_LRU_HASH,
    BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_SOCKHASH, BPF_PROG_TYPE_CGROUP_SOCKOPT,
    BPF_PROG_TYPE_SK_MSG, BPF_PROG_TYPE_SOCK_OPS,
};
pub use ::uapi::socket::{
    SOL_SOCKET, SOL_TCP, SO_OOBINLINE, SO_PEEK_OFF, SO_RCVLOWAT, TCP_CORK, TCP_INQ, TCP_ULP,
};

/// Field offsets of `struct bpf_sock_ops`, the `sock_ops` program's context.
pub mod sock_ops {
    use ::uapi::ctx::bpf_sock_ops::ARGS;
    pub use ::uapi::ctx::bpf_sock_ops::{
        CB_FLAGS, FAMILY, LOCAL_IP4, LOCAL_IP6, LOCAL_PORT, OP, RCV_NXT, REMOTE_IP4, REMOTE_IP6,
        REMOTE_PORT, SND_NXT,
    };

    /// `args[0]` of `__u32 args[4]`.
    pub const ARGS0: i16 = ARGS;
    /// `args[1]` (the next `__u32`): for `BPF_SOCK_OPS_STATE_CB`, the new TCP state.
    pub const ARGS1: i16 = ARGS + 4;
}

/// Field offsets of `struct sk_msg_md`, the `sk_msg` program's context.
pub mod sk_msg {
    pub use ::uapi::ctx::sk_msg_md::{
        FAMILY, LOCAL_IP4, LOCAL_IP6, LOCAL_PORT, REMOTE_IP4, REMOTE_IP6, REMOTE_PORT, SIZE, SK,
    };
}

/// Field offsets of `struct bpf_sockopt`, the `cgroup/setsockopt` program's context.
pub mod sockopt {
    pub use ::uapi::ctx::bpf_sockopt::{LEVEL, OPTNAME, SK};
}

/// Field offsets of `struct bpf_sock` (what `bpf_sockopt.sk` points to).
pub mod bpf_sock {
    pub use ::uapi::ctx::bpf_sock::{
        DST_IP4, DST_IP6, DST_PORT, FAMILY, SRC_IP4, SRC_IP6, SRC_PORT,
    };
}
