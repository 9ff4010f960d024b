//! Numbers from the kernel's UAPI header `linux/bpf.h` (and `errno.h`, `socket.h`) that the
//! programs and their maps use: context field offsets, `sock_ops` op codes, flags, map types.
//!
//! Each constant names the header item it comes from. Offsets are `offsetof()` of the named
//! field; they are part of the stable UAPI and the same on every architecture (the structs are
//! made of `__u32` fields and 64-bit-aligned pointer slots).

/// `AF_INET` (`linux/socket.h`): an IPv4 socket.
pub const AF_INET: i32 = 2;
/// `AF_INET6` (`linux/socket.h`): an IPv6 (possibly dual-stack) socket.
pub const AF_INET6: i32 = 10;

/// `E2BIG` (`asm-generic/errno-base.h`): a map insert failed because the map is full.
pub const E2BIG: i32 = 7;
/// `EEXIST` (`asm-generic/errno-base.h`): a `BPF_NOEXIST` insert found the key already there.
pub const EEXIST: i32 = 17;

/// `BPF_ANY` (`enum { BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK }`): create or update.
pub const BPF_ANY: i32 = 0;
/// `BPF_NOEXIST`: create a new element only if it did not exist.
pub const BPF_NOEXIST: i32 = 1;
/// `BPF_EXIST`: update only an element that exists.
pub const BPF_EXIST: i32 = 2;

/// `BPF_F_INGRESS` (`enum { BPF_F_INGRESS = (1ULL << 0) }`): for `bpf_msg_redirect_hash`,
/// queue the message on the target socket's receive side (as if the peer had received it).
pub const BPF_F_INGRESS: i32 = 1;

/// `BPF_F_NO_PREALLOC` (map creation flag, `1U << 0`): required for `BPF_MAP_TYPE_LPM_TRIE`.
pub const BPF_F_NO_PREALLOC: u32 = 1;

/// `SK_PASS` (`enum sk_action`): let the message continue (or: the redirect was set up).
pub const SK_PASS: i32 = 1;
/// `SK_DROP` (`enum sk_action`): drop the message (or: the redirect target was not found).
pub const SK_DROP: i32 = 0;
/// `SOCK_RCVBUF_LOCK` in `sk_userlocks` (`include/net/sock.h`): the application set
/// `SO_RCVBUF`, so TCP does not grow the receive buffer on its own.
pub const SOCK_RCVBUF_LOCK: i32 = 2;
/// The flag bits kept in the low bits of `sk_user_data` (`SK_USER_DATA_NOCOPY | _BPFLOCK |
/// _PSOCK`, `include/net/sock.h`): masked off to get the `struct sk_psock *`.
pub const SK_USER_DATA_FLAGS: i32 = 7;

/// `BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB`: a connection this host initiated is established
/// (the client, on the SYN-ACK).
pub const BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: i32 = 4;
/// `BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB`: a connection this host accepted is established
/// (the server, on the ACK that concludes the handshake).
pub const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: i32 = 5;
/// `BPF_SOCK_OPS_STATE_CB`: the TCP state changed; `args[0]` is the old state, `args[1]` the
/// new one. Only called for sockets with [`BPF_SOCK_OPS_STATE_CB_FLAG`] set.
pub const BPF_SOCK_OPS_STATE_CB: i32 = 10;

/// `BPF_SOCK_OPS_STATE_CB_FLAG` (`1 << 2`): the flag for `bpf_sock_ops_cb_flags_set` that
/// enables [`BPF_SOCK_OPS_STATE_CB`] callbacks for a socket.
pub const BPF_SOCK_OPS_STATE_CB_FLAG: i32 = 1 << 2;

/// `BPF_TCP_CLOSE` (`enum { BPF_TCP_ESTABLISHED = 1, ... }`): the socket is closed.
pub const BPF_TCP_CLOSE: i32 = 7;

/// `BPF_MAP_TYPE_HASH` (`enum bpf_map_type`).
pub const BPF_MAP_TYPE_HASH: u32 = 1;
/// `BPF_MAP_TYPE_PERCPU_ARRAY` (`enum bpf_map_type`).
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LPM_TRIE` (`enum bpf_map_type`).
pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
/// `BPF_MAP_TYPE_SOCKHASH` (`enum bpf_map_type`).
pub const BPF_MAP_TYPE_SOCKHASH: u32 = 18;

/// `BPF_PROG_TYPE_SOCK_OPS` (`enum bpf_prog_type`): the type of [`crate::sock_ops`].
pub const BPF_PROG_TYPE_SOCK_OPS: u32 = 13;
/// `BPF_PROG_TYPE_SK_MSG` (`enum bpf_prog_type`): the type of [`crate::sk_msg`].
pub const BPF_PROG_TYPE_SK_MSG: u32 = 16;

/// Field offsets of `struct bpf_sock_ops`, the `sock_ops` program's context.
pub mod sock_ops {
    /// `__u32 op`: which callback this is (`BPF_SOCK_OPS_*`).
    pub const OP: i16 = 0;
    /// `__u32 args[4]` (in a union with `reply`): `args[0]`.
    pub const ARGS0: i16 = 4;
    /// `args[1]`: for `BPF_SOCK_OPS_STATE_CB`, the new TCP state.
    pub const ARGS1: i16 = 8;
    /// `__u32 family`: `AF_INET` or `AF_INET6`.
    pub const FAMILY: i16 = 20;
    /// `__u32 remote_ip4`: network byte order.
    pub const REMOTE_IP4: i16 = 24;
    /// `__u32 local_ip4`: network byte order.
    pub const LOCAL_IP4: i16 = 28;
    /// `__u32 remote_ip6[4]`: network byte order.
    pub const REMOTE_IP6: i16 = 32;
    /// `__u32 local_ip6[4]`: network byte order.
    pub const LOCAL_IP6: i16 = 48;
    /// `__u32 remote_port`: network byte order, in the upper 16 bits on little-endian hosts.
    /// Read it with a 32-bit load only.
    pub const REMOTE_PORT: i16 = 64;
    /// `__u32 local_port`: host byte order. Read it with a 32-bit load only.
    pub const LOCAL_PORT: i16 = 68;
    /// `__u32 bpf_sock_ops_cb_flags`: the callback flags currently set on the socket.
    pub const CB_FLAGS: i16 = 84;
}

/// Field offsets of `struct sk_msg_md`, the `sk_msg` program's context.
pub mod sk_msg {
    /// `__u32 family` (after the `data` and `data_end` pointer slots).
    pub const FAMILY: i16 = 16;
    /// `__u32 remote_ip4`: network byte order.
    pub const REMOTE_IP4: i16 = 20;
    /// `__u32 local_ip4`: network byte order.
    pub const LOCAL_IP4: i16 = 24;
    /// `__u32 remote_ip6[4]`: network byte order.
    pub const REMOTE_IP6: i16 = 28;
    /// `__u32 local_ip6[4]`: network byte order.
    pub const LOCAL_IP6: i16 = 44;
    /// `__u32 remote_port`: network byte order, in the upper 16 bits on little-endian hosts.
    /// Read it with a 32-bit load only.
    pub const REMOTE_PORT: i16 = 60;
    /// `__u32 local_port`: host byte order. Read it with a 32-bit load only.
    pub const LOCAL_PORT: i16 = 64;
    /// `__u32 size`: the total size of the message in bytes.
    pub const SIZE: i16 = 68;
    /// `sk`: the sending socket (`struct bpf_sock *`).
    pub const SK: i16 = 72;
}

/// `BPF_PROG_TYPE_CGROUP_SOCKOPT`.
pub const BPF_PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;
/// `BPF_CGROUP_SETSOCKOPT` (`enum bpf_attach_type`).
pub const BPF_CGROUP_SETSOCKOPT: u32 = 22;
/// `SOL_SOCKET` (`asm-generic/socket.h`).
pub const SOL_SOCKET: i32 = 1;
/// `SOL_TCP` (`IPPROTO_TCP`).
pub const SOL_TCP: i32 = 6;
/// `SO_OOBINLINE` (`asm-generic/socket.h`).
pub const SO_OOBINLINE: i32 = 10;
/// `SO_RCVLOWAT` (`asm-generic/socket.h`).
pub const SO_RCVLOWAT: i32 = 18;
/// `SO_PEEK_OFF` (`asm-generic/socket.h`).
pub const SO_PEEK_OFF: i32 = 42;
/// `TCP_CORK` (`linux/tcp.h`).
pub const TCP_CORK: i32 = 3;
/// `TCP_ULP` (`linux/tcp.h`).
pub const TCP_ULP: i32 = 31;
/// `TCP_INQ` (`linux/tcp.h`).
pub const TCP_INQ: i32 = 36;

/// Field offsets of `struct bpf_sockopt`, the `cgroup/setsockopt` program's context.
pub mod sockopt {
    /// `struct bpf_sock *sk`.
    pub const SK: i16 = 0;
    /// `__s32 level` (after the `sk`, `optval` and `optval_end` pointer slots).
    pub const LEVEL: i16 = 24;
    /// `__s32 optname`.
    pub const OPTNAME: i16 = 28;
}

/// Field offsets of `struct bpf_sock` (what `bpf_sockopt.sk` points to).
pub mod bpf_sock {
    /// `__u32 family`.
    pub const FAMILY: i16 = 4;
    /// `__u32 src_ip4`: network byte order.
    pub const SRC_IP4: i16 = 24;
    /// `__u32 src_ip6[4]`: network byte order.
    pub const SRC_IP6: i16 = 28;
    /// `__u32 src_port`: host byte order.
    pub const SRC_PORT: i16 = 44;
    /// `__be16 dst_port` and 16 bits of zero padding: network byte order, in the low
    /// 16 bits of a 32-bit load on little-endian.
    pub const DST_PORT: i16 = 48;
    /// `__u32 dst_ip4`: network byte order.
    pub const DST_IP4: i16 = 52;
    /// `__u32 dst_ip6[4]`: network byte order.
    pub const DST_IP6: i16 = 56;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sock_ops_offsets_follow_the_struct() {
        // op, args[4], family, remote_ip4, local_ip4, remote_ip6[4], local_ip6[4], ...
        assert_eq!(sock_ops::ARGS0, sock_ops::OP + 4);
        assert_eq!(sock_ops::FAMILY, sock_ops::ARGS0 + 4 * 4);
        assert_eq!(sock_ops::REMOTE_IP6, sock_ops::LOCAL_IP4 + 4);
        assert_eq!(sock_ops::LOCAL_IP6, sock_ops::REMOTE_IP6 + 16);
        assert_eq!(sock_ops::REMOTE_PORT, sock_ops::LOCAL_IP6 + 16);
        assert_eq!(sock_ops::LOCAL_PORT, sock_ops::REMOTE_PORT + 4);
        // local_port, is_fullsock, snd_cwnd, srtt_us, bpf_sock_ops_cb_flags
        assert_eq!(sock_ops::CB_FLAGS, sock_ops::LOCAL_PORT + 4 * 4);
    }

    #[test]
    fn bpf_sock_offsets_follow_the_struct() {
        // bound_dev_if, family, type, protocol, mark, priority, src_ip4, src_ip6[4], ...
        assert_eq!(bpf_sock::SRC_IP4, bpf_sock::FAMILY + 5 * 4);
        assert_eq!(bpf_sock::SRC_IP6, bpf_sock::SRC_IP4 + 4);
        assert_eq!(bpf_sock::SRC_PORT, bpf_sock::SRC_IP6 + 16);
        assert_eq!(bpf_sock::DST_PORT, bpf_sock::SRC_PORT + 4);
        assert_eq!(bpf_sock::DST_IP4, bpf_sock::DST_PORT + 4);
        assert_eq!(bpf_sock::DST_IP6, bpf_sock::DST_IP4 + 4);
        // three pointer slots, then level, optname
        assert_eq!(sockopt::LEVEL, 3 * 8);
        assert_eq!(sockopt::OPTNAME, sockopt::LEVEL + 4);
    }

    #[test]
    fn sk_msg_offsets_follow_the_struct() {
        assert_eq!(sk_msg::REMOTE_IP6, sk_msg::LOCAL_IP4 + 4);
        assert_eq!(sk_msg::LOCAL_IP6, sk_msg::REMOTE_IP6 + 16);
        assert_eq!(sk_msg::REMOTE_PORT, sk_msg::LOCAL_IP6 + 16);
        assert_eq!(sk_msg::SIZE, sk_msg::LOCAL_PORT + 4);
    }
}
