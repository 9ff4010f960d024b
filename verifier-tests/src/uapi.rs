//! Numbers and layouts from `/usr/include/linux/bpf.h` (6.1 UAPI), written down here
//! independently of the `programs` crate so that the harness checks the programs against the
//! header rather than against the programs' own constants.

/// `struct bpf_sock_ops` field offsets.
pub mod sock_ops {
    /// `__u32 op`.
    pub const OP: usize = 0;
    /// `__u32 args[4]` (union with `reply`).
    pub const ARGS: usize = 4;
    /// `__u32 reply` (writable).
    pub const REPLY: usize = 4;
    /// `__u32 family`.
    pub const FAMILY: usize = 20;
    /// `__u32 remote_ip4`, network byte order.
    pub const REMOTE_IP4: usize = 24;
    /// `__u32 local_ip4`, network byte order.
    pub const LOCAL_IP4: usize = 28;
    /// `__u32 remote_ip6[4]`, network byte order.
    pub const REMOTE_IP6: usize = 32;
    /// `__u32 local_ip6[4]`, network byte order.
    pub const LOCAL_IP6: usize = 48;
    /// `__u32 remote_port`, network byte order in the upper 16 bits (little-endian).
    pub const REMOTE_PORT: usize = 64;
    /// `__u32 local_port`, host byte order.
    pub const LOCAL_PORT: usize = 68;
    /// `__u32 is_fullsock`.
    pub const IS_FULLSOCK: usize = 72;
    /// `__u32 bpf_sock_ops_cb_flags`.
    pub const CB_FLAGS: usize = 84;
    /// `__u32 state`.
    pub const STATE: usize = 88;
    /// `__u32 sk_txhash` (writable).
    pub const SK_TXHASH: usize = 164;
    /// `__u64 bytes_received`.
    pub const BYTES_RECEIVED: usize = 168;
    /// `__u64 bytes_acked`.
    pub const BYTES_ACKED: usize = 176;
    /// `struct bpf_sock *sk` (`__bpf_md_ptr`, 8 bytes).
    pub const SK: usize = 184;
    /// `void *skb_data`.
    pub const SKB_DATA: usize = 192;
    /// `void *skb_data_end`.
    pub const SKB_DATA_END: usize = 200;
    /// `__u32 skb_len`.
    pub const SKB_LEN: usize = 208;
    /// `__u32 skb_tcp_flags`.
    pub const SKB_TCP_FLAGS: usize = 212;
    /// `sizeof(struct bpf_sock_ops)` in the 6.1 UAPI (no `skb_hwtstamp` yet).
    pub const SIZE: usize = 216;
}

/// `struct sk_msg_md` field offsets.
pub mod sk_msg {
    /// `void *data`.
    pub const DATA: usize = 0;
    /// `void *data_end`.
    pub const DATA_END: usize = 8;
    /// `__u32 family`.
    pub const FAMILY: usize = 16;
    /// `__u32 remote_ip4`.
    pub const REMOTE_IP4: usize = 20;
    /// `__u32 local_ip4`.
    pub const LOCAL_IP4: usize = 24;
    /// `__u32 remote_ip6[4]`.
    pub const REMOTE_IP6: usize = 28;
    /// `__u32 local_ip6[4]`.
    pub const LOCAL_IP6: usize = 44;
    /// `__u32 remote_port`, network byte order in the upper 16 bits (little-endian).
    pub const REMOTE_PORT: usize = 60;
    /// `__u32 local_port`, host byte order.
    pub const LOCAL_PORT: usize = 64;
    /// `__u32 size`.
    pub const SIZE_FIELD: usize = 68;
    /// `struct bpf_sock *sk`.
    pub const SK: usize = 72;
    /// `sizeof(struct sk_msg_md)`.
    pub const SIZE: usize = 80;
}

/// `struct bpf_sockopt` field offsets (the `cgroup/setsockopt` context).
pub mod sockopt {
    /// `struct bpf_sock *sk` (`__bpf_md_ptr`, 8 bytes).
    pub const SK: usize = 0;
    /// `void *optval`.
    pub const OPTVAL: usize = 8;
    /// `void *optval_end`.
    pub const OPTVAL_END: usize = 16;
    /// `__s32 level` (writable from `BPF_CGROUP_SETSOCKOPT`).
    pub const LEVEL: usize = 24;
    /// `__s32 optname` (writable from `BPF_CGROUP_SETSOCKOPT`).
    pub const OPTNAME: usize = 28;
    /// `__s32 optlen` (writable).
    pub const OPTLEN: usize = 32;
    /// `__s32 retval` (`BPF_CGROUP_GETSOCKOPT` only).
    pub const RETVAL: usize = 36;
    /// `sizeof(struct bpf_sockopt)`.
    pub const SIZE: usize = 40;
}

/// `struct bpf_sock` field offsets (what `bpf_sockopt.sk` points to; read-only).
pub mod bpf_sock {
    /// `__u32 family`.
    pub const FAMILY: usize = 4;
    /// `__u32 src_ip4`, network byte order.
    pub const SRC_IP4: usize = 24;
    /// `__u32 src_ip6[4]`, network byte order.
    pub const SRC_IP6: usize = 28;
    /// `__u32 src_port`, host byte order.
    pub const SRC_PORT: usize = 44;
    /// `__be16 dst_port` followed by `__u16 :16` of zero padding: a 32-bit load has the
    /// network-order port in its low half on little-endian.
    pub const DST_PORT: usize = 48;
    /// `__u32 dst_ip4`, network byte order.
    pub const DST_IP4: usize = 52;
    /// `__u32 dst_ip6[4]`, network byte order.
    pub const DST_IP6: usize = 56;
    /// `__u32 state`.
    pub const STATE: usize = 72;
    /// `sizeof(struct bpf_sock)` (up to `rx_queue_mapping`).
    pub const SIZE: usize = 80;
}

/// Socket option levels and names (`asm-generic/socket.h`, `linux/tcp.h`, `linux/in.h`,
/// `linux/in6.h`), for the setsockopt events of the simulator.
pub mod opt {
    /// `SOL_IP`.
    pub const SOL_IP: i32 = 0;
    /// `SOL_SOCKET`.
    pub const SOL_SOCKET: i32 = 1;
    /// `SOL_TCP` (`IPPROTO_TCP`).
    pub const SOL_TCP: i32 = 6;
    /// `SOL_IPV6` (`IPPROTO_IPV6`).
    pub const SOL_IPV6: i32 = 41;
    /// `SO_RCVBUF`.
    pub const SO_RCVBUF: i32 = 8;
    /// `SO_KEEPALIVE`.
    pub const SO_KEEPALIVE: i32 = 9;
    /// `SO_OOBINLINE`.
    pub const SO_OOBINLINE: i32 = 10;
    /// `SO_RCVLOWAT`.
    pub const SO_RCVLOWAT: i32 = 18;
    /// `SO_MARK`.
    pub const SO_MARK: i32 = 36;
    /// `SO_PEEK_OFF`.
    pub const SO_PEEK_OFF: i32 = 42;
    /// `TCP_NODELAY`.
    pub const TCP_NODELAY: i32 = 1;
    /// `TCP_CORK`.
    pub const TCP_CORK: i32 = 3;
    /// `TCP_WINDOW_CLAMP`.
    pub const TCP_WINDOW_CLAMP: i32 = 10;
    /// `TCP_USER_TIMEOUT`.
    pub const TCP_USER_TIMEOUT: i32 = 18;
    /// `TCP_ULP`.
    pub const TCP_ULP: i32 = 31;
    /// `TCP_INQ`.
    pub const TCP_INQ: i32 = 36;
    /// `IP_TOS`.
    pub const IP_TOS: i32 = 1;
    /// `IP_MTU_DISCOVER`.
    pub const IP_MTU_DISCOVER: i32 = 10;
    /// `IPV6_TCLASS`.
    pub const IPV6_TCLASS: i32 = 67;
}

/// `AF_INET`.
pub const AF_INET: u32 = 2;
/// `AF_INET6`.
pub const AF_INET6: u32 = 10;

/// `BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB`.
pub const ACTIVE_ESTABLISHED_CB: u32 = 4;
/// `BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB`.
pub const PASSIVE_ESTABLISHED_CB: u32 = 5;
/// `BPF_SOCK_OPS_STATE_CB`.
pub const STATE_CB: u32 = 10;
/// `BPF_SOCK_OPS_STATE_CB_FLAG`.
pub const STATE_CB_FLAG: u32 = 1 << 2;
/// `BPF_SOCK_OPS_ALL_CB_FLAGS` (every flag this UAPI defines).
pub const ALL_CB_FLAGS: u32 = 0x7f;

/// `BPF_TCP_ESTABLISHED`.
pub const TCP_ESTABLISHED: u32 = 1;
/// `BPF_TCP_FIN_WAIT1`.
pub const TCP_FIN_WAIT1: u32 = 4;
/// `BPF_TCP_CLOSE`.
pub const TCP_CLOSE: u32 = 7;
/// `BPF_TCP_CLOSE_WAIT`.
pub const TCP_CLOSE_WAIT: u32 = 8;
/// `BPF_TCP_LAST_ACK`.
pub const TCP_LAST_ACK: u32 = 9;

/// `BPF_ANY`.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_INGRESS`.
pub const BPF_F_INGRESS: u64 = 1;
/// `BPF_F_NO_PREALLOC` (map flag).
pub const BPF_F_NO_PREALLOC: u32 = 1;

/// `SK_DROP`.
pub const SK_DROP: u64 = 0;
/// `SK_PASS`.
pub const SK_PASS: u64 = 1;

/// `BPF_MAP_TYPE_HASH`.
pub const MAP_TYPE_HASH: u32 = 1;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`.
pub const MAP_TYPE_PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const MAP_TYPE_LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LPM_TRIE`.
pub const MAP_TYPE_LPM_TRIE: u32 = 11;
/// `BPF_MAP_TYPE_SOCKHASH`.
pub const MAP_TYPE_SOCKHASH: u32 = 18;

/// Errno values the helpers return (negated).
pub mod errno {
    /// `ENOENT`.
    pub const ENOENT: i64 = 2;
    /// `E2BIG`.
    pub const E2BIG: i64 = 7;
    /// `EEXIST`.
    pub const EEXIST: i64 = 17;
    /// `EINVAL`.
    pub const EINVAL: i64 = 22;
    /// `ENOSPC`.
    pub const ENOSPC: i64 = 28;
    /// `EOPNOTSUPP`.
    pub const EOPNOTSUPP: i64 = 95;
}

/// Helper ids used by the bypass programs.
pub mod helper {
    /// `bpf_map_lookup_elem`.
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    /// `bpf_map_update_elem`.
    pub const MAP_UPDATE_ELEM: u32 = 2;
    /// `bpf_map_delete_elem`.
    pub const MAP_DELETE_ELEM: u32 = 3;
    /// `bpf_sock_ops_cb_flags_set`.
    pub const SOCK_OPS_CB_FLAGS_SET: u32 = 59;
    /// `bpf_sock_hash_update`.
    pub const SOCK_HASH_UPDATE: u32 = 70;
    /// `bpf_msg_redirect_hash`.
    pub const MSG_REDIRECT_HASH: u32 = 71;
    /// `bpf_get_netns_cookie`.
    pub const GET_NETNS_COOKIE: u32 = 122;
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm::Helper;

    #[test]
    fn helper_ids_agree_with_the_assembler() {
        assert_eq!(Helper::MapLookupElem.id(), helper::MAP_LOOKUP_ELEM);
        assert_eq!(Helper::MapUpdateElem.id(), helper::MAP_UPDATE_ELEM);
        assert_eq!(Helper::MapDeleteElem.id(), helper::MAP_DELETE_ELEM);
        assert_eq!(
            Helper::SockOpsCbFlagsSet.id(),
            helper::SOCK_OPS_CB_FLAGS_SET
        );
        assert_eq!(Helper::SockHashUpdate.id(), helper::SOCK_HASH_UPDATE);
        assert_eq!(Helper::MsgRedirectHash.id(), helper::MSG_REDIRECT_HASH);
        assert_eq!(Helper::GetNetnsCookie.id(), helper::GET_NETNS_COOKIE);
    }
}
