//! The UAPI numbers and layouts the simulator uses, in the simulator's types (`usize` offsets,
//! `u64` register values): views of the `uapi` crate, which owns them and checks every one
//! against the vendored kernel headers, so the harness checks the programs against the
//! header rather than against the programs' own constants. No number is written here.

/// `struct bpf_sock_ops` field offsets.
pub mod sock_ops {
    /// `__u32 op`.
    pub const OP: usize = ::uapi::ctx::bpf_sock_ops::OP as usize;
    /// `__u32 args[4]` (union with `reply`).
    pub const ARGS: usize = ::uapi::ctx::bpf_sock_ops::ARGS as usize;
    /// `__u32 reply` (writable).
    pub const REPLY: usize = ::uapi::ctx::bpf_sock_ops::REPLY as usize;
    /// `__u32 family`.
    pub const FAMILY: usize = ::uapi::ctx::bpf_sock_ops::FAMILY as usize;
    /// `__u32 remote_ip4`, network byte order.
    pub const REMOTE_IP4: usize = ::uapi::ctx::bpf_sock_ops::REMOTE_IP4 as usize;
    /// `__u32 local_ip4`, network byte order.
    pub const LOCAL_IP4: usize = ::uapi::ctx::bpf_sock_ops::LOCAL_IP4 as usize;
    /// `__u32 remote_ip6[4]`, network byte order.
    pub const REMOTE_IP6: usize = ::uapi::ctx::bpf_sock_ops::REMOTE_IP6 as usize;
    /// `__u32 local_ip6[4]`, network byte order.
    pub const LOCAL_IP6: usize = ::uapi::ctx::bpf_sock_ops::LOCAL_IP6 as usize;
    /// `__u32 remote_port`, network byte order in the upper 16 bits (little-endian).
    pub const REMOTE_PORT: usize = ::uapi::ctx::bpf_sock_ops::REMOTE_PORT as usize;
    /// `__u32 local_port`, host byte order.
    pub const LOCAL_PORT: usize = ::uapi::ctx::bpf_sock_ops::LOCAL_PORT as usize;
    /// `__u32 is_fullsock`.
    pub const IS_FULLSOCK: usize = ::uapi::ctx::bpf_sock_ops::IS_FULLSOCK as usize;
    /// `__u32 bpf_sock_ops_cb_flags`.
    pub const CB_FLAGS: usize = ::uapi::ctx::bpf_sock_ops::CB_FLAGS as usize;
    /// `__u32 state`.
    pub const STATE: usize = ::uapi::ctx::bpf_sock_ops::STATE as usize;
    /// `__u32 rcv_nxt`.
    pub const RCV_NXT: usize = ::uapi::ctx::bpf_sock_ops::RCV_NXT as usize;
    /// `__u32 snd_nxt`.
    pub const SND_NXT: usize = ::uapi::ctx::bpf_sock_ops::SND_NXT as usize;
    /// `__u32 sk_txhash` (writable).
    pub const SK_TXHASH: usize = ::uapi::ctx::bpf_sock_ops::SK_TXHASH as usize;
    /// `__u64 bytes_received`.
    pub const BYTES_RECEIVED: usize = ::uapi::ctx::bpf_sock_ops::BYTES_RECEIVED as usize;
    /// `__u64 bytes_acked`.
    pub const BYTES_ACKED: usize = ::uapi::ctx::bpf_sock_ops::BYTES_ACKED as usize;
    /// `struct bpf_sock *sk` (`__bpf_md_ptr`, 8 bytes).
    pub const SK: usize = ::uapi::ctx::bpf_sock_ops::SK as usize;
    /// `void *skb_data`.
    pub const SKB_DATA: usize = ::uapi::ctx::bpf_sock_ops::SKB_DATA as usize;
    /// `void *skb_data_end`.
    pub const SKB_DATA_END: usize = ::uapi::ctx::bpf_sock_ops::SKB_DATA_END as usize;
    /// `__u32 skb_len`.
    pub const SKB_LEN: usize = ::uapi::ctx::bpf_sock_ops::SKB_LEN as usize;
    /// `__u32 skb_tcp_flags`.
    pub const SKB_TCP_FLAGS: usize = ::uapi::ctx::bpf_sock_ops::SKB_TCP_FLAGS as usize;
    /// `sizeof(struct bpf_sock_ops)` in the 6.1 UAPI (no `skb_hwtstamp` yet).
    pub const SIZE: usize = ::uapi::ctx::bpf_sock_ops::SIZEOF as usize;
}

/// `struct sk_msg_md` field offsets.
pub mod sk_msg {
    /// `void *data`.
    pub const DATA: usize = ::uapi::ctx::sk_msg_md::DATA as usize;
    /// `void *data_end`.
    pub const DATA_END: usize = ::uapi::ctx::sk_msg_md::DATA_END as usize;
    /// `__u32 family`.
    pub const FAMILY: usize = ::uapi::ctx::sk_msg_md::FAMILY as usize;
    /// `__u32 remote_ip4`.
    pub const REMOTE_IP4: usize = ::uapi::ctx::sk_msg_md::REMOTE_IP4 as usize;
    /// `__u32 local_ip4`.
    pub const LOCAL_IP4: usize = ::uapi::ctx::sk_msg_md::LOCAL_IP4 as usize;
    /// `__u32 remote_ip6[4]`.
    pub const REMOTE_IP6: usize = ::uapi::ctx::sk_msg_md::REMOTE_IP6 as usize;
    /// `__u32 local_ip6[4]`.
    pub const LOCAL_IP6: usize = ::uapi::ctx::sk_msg_md::LOCAL_IP6 as usize;
    /// `__u32 remote_port`, network byte order in the upper 16 bits (little-endian).
    pub const REMOTE_PORT: usize = ::uapi::ctx::sk_msg_md::REMOTE_PORT as usize;
    /// `__u32 local_port`, host byte order.
    pub const LOCAL_PORT: usize = ::uapi::ctx::sk_msg_md::LOCAL_PORT as usize;
    /// `__u32 size`.
    pub const SIZE_FIELD: usize = ::uapi::ctx::sk_msg_md::SIZE as usize;
    /// `struct bpf_sock *sk`.
    pub const SK: usize = ::uapi::ctx::sk_msg_md::SK as usize;
    /// `sizeof(struct sk_msg_md)`.
    pub const SIZE: usize = ::uapi::ctx::sk_msg_md::SIZEOF as usize;
}

/// `struct bpf_sockopt` field offsets (the `cgroup/setsockopt` context).
pub mod sockopt {
    /// `struct bpf_sock *sk` (`__bpf_md_ptr`, 8 bytes).
    pub const SK: usize = ::uapi::ctx::bpf_sockopt::SK as usize;
    /// `void *optval`.
    pub const OPTVAL: usize = ::uapi::ctx::bpf_sockopt::OPTVAL as usize;
    /// `void *optval_end`.
    pub const OPTVAL_END: usize = ::uapi::ctx::bpf_sockopt::OPTVAL_END as usize;
    /// `__s32 level` (writable from `BPF_CGROUP_SETSOCKOPT`).
    pub const LEVEL: usize = ::uapi::ctx::bpf_sockopt::LEVEL as usize;
    /// `__s32 optname` (writable from `BPF_CGROUP_SETSOCKOPT`).
    pub const OPTNAME: usize = ::uapi::ctx::bpf_sockopt::OPTNAME as usize;
    /// `__s32 optlen` (writable).
    pub const OPTLEN: usize = ::uapi::ctx::bpf_sockopt::OPTLEN as usize;
    /// `__s32 retval` (`BPF_CGROUP_GETSOCKOPT` only).
    pub const RETVAL: usize = ::uapi::ctx::bpf_sockopt::RETVAL as usize;
    /// `sizeof(struct bpf_sockopt)`.
    pub const SIZE: usize = ::uapi::ctx::bpf_sockopt::SIZEOF as usize;
}

/// `struct __sk_buff` field offsets (the `cgroup_skb` context; more program types share it).
pub mod sk_buff {
    /// `__u32 len`.
    pub const LEN: usize = ::uapi::ctx::__sk_buff::LEN as usize;
    /// `__u32 mark` (writable from cgroup_skb).
    pub const MARK: usize = ::uapi::ctx::__sk_buff::MARK as usize;
    /// `__u32 priority` (writable from cgroup_skb).
    pub const PRIORITY: usize = ::uapi::ctx::__sk_buff::PRIORITY as usize;
    /// `__u32 cb[5]` (writable from cgroup_skb).
    pub const CB: usize = ::uapi::ctx::__sk_buff::CB as usize;
    /// `__u32 data`: a packet pointer (not modelled by the harness).
    pub const DATA: usize = ::uapi::ctx::__sk_buff::DATA as usize;
    /// `__u32 data_end`: a packet pointer (not modelled by the harness).
    pub const DATA_END: usize = ::uapi::ctx::__sk_buff::DATA_END as usize;
    /// `__u32 family`: the first of the socket fields.
    pub const FAMILY: usize = ::uapi::ctx::__sk_buff::FAMILY as usize;
    /// `__u32 local_port`: the last of the socket fields.
    pub const LOCAL_PORT: usize = ::uapi::ctx::__sk_buff::LOCAL_PORT as usize;
    /// `sizeof(struct __sk_buff)`.
    pub const SIZE: usize = ::uapi::ctx::__sk_buff::SIZEOF as usize;
}

/// `struct bpf_sock` field offsets (what `bpf_sockopt.sk` points to; read-only).
pub mod bpf_sock {
    /// `__u32 family`.
    pub const FAMILY: usize = ::uapi::ctx::bpf_sock::FAMILY as usize;
    /// `__u32 src_ip4`, network byte order.
    pub const SRC_IP4: usize = ::uapi::ctx::bpf_sock::SRC_IP4 as usize;
    /// `__u32 src_ip6[4]`, network byte order.
    pub const SRC_IP6: usize = ::uapi::ctx::bpf_sock::SRC_IP6 as usize;
    /// `__u32 src_port`, host byte order.
    pub const SRC_PORT: usize = ::uapi::ctx::bpf_sock::SRC_PORT as usize;
    /// `__be16 dst_port` followed by `__u16 :16` of zero padding: a 32-bit load has the
    /// network-order port in its low half on little-endian.
    pub const DST_PORT: usize = ::uapi::ctx::bpf_sock::DST_PORT as usize;
    /// `__u32 dst_ip4`, network byte order.
    pub const DST_IP4: usize = ::uapi::ctx::bpf_sock::DST_IP4 as usize;
    /// `__u32 dst_ip6[4]`, network byte order.
    pub const DST_IP6: usize = ::uapi::ctx::bpf_sock::DST_IP6 as usize;
    /// `__u32 state`.
    pub const STATE: usize = ::uapi::ctx::bpf_sock::STATE as usize;
    /// `sizeof(struct bpf_sock)` (up to `rx_queue_mapping`).
    pub const SIZE: usize = ::uapi::ctx::bpf_sock::SIZEOF as usize;
}

/// Socket option levels and names (`asm-generic/socket.h`, `linux/tcp.h`, `linux/in.h`,
/// `linux/in6.h`), for the setsockopt events of the simulator.
pub mod opt {
    /// `SOL_IP`.
    pub const SOL_IP: i32 = ::uapi::socket::SOL_IP;
    /// `SOL_SOCKET`.
    pub const SOL_SOCKET: i32 = ::uapi::socket::SOL_SOCKET;
    /// `SOL_TCP` (`IPPROTO_TCP`).
    pub const SOL_TCP: i32 = ::uapi::socket::SOL_TCP;
    /// `SOL_IPV6` (`IPPROTO_IPV6`).
    pub const SOL_IPV6: i32 = ::uapi::socket::SOL_IPV6;
    /// `SO_RCVBUF`.
    pub const SO_RCVBUF: i32 = ::uapi::socket::SO_RCVBUF;
    /// `SO_KEEPALIVE`.
    pub const SO_KEEPALIVE: i32 = ::uapi::socket::SO_KEEPALIVE;
    /// `SO_OOBINLINE`.
    pub const SO_OOBINLINE: i32 = ::uapi::socket::SO_OOBINLINE;
    /// `SO_RCVLOWAT`.
    pub const SO_RCVLOWAT: i32 = ::uapi::socket::SO_RCVLOWAT;
    /// `SO_MARK`.
    pub const SO_MARK: i32 = ::uapi::socket::SO_MARK;
    /// `SO_PEEK_OFF`.
    pub const SO_PEEK_OFF: i32 = ::uapi::socket::SO_PEEK_OFF;
    /// `TCP_NODELAY`.
    pub const TCP_NODELAY: i32 = ::uapi::socket::TCP_NODELAY;
    /// `TCP_CORK`.
    pub const TCP_CORK: i32 = ::uapi::socket::TCP_CORK;
    /// `TCP_WINDOW_CLAMP`.
    pub const TCP_WINDOW_CLAMP: i32 = ::uapi::socket::TCP_WINDOW_CLAMP;
    /// `TCP_USER_TIMEOUT`.
    pub const TCP_USER_TIMEOUT: i32 = ::uapi::socket::TCP_USER_TIMEOUT;
    /// `TCP_ULP`.
    pub const TCP_ULP: i32 = ::uapi::socket::TCP_ULP;
    /// `TCP_INQ`.
    pub const TCP_INQ: i32 = ::uapi::socket::TCP_INQ;
    /// `IP_TOS`.
    pub const IP_TOS: i32 = ::uapi::socket::IP_TOS;
    /// `IP_MTU_DISCOVER`.
    pub const IP_MTU_DISCOVER: i32 = ::uapi::socket::IP_MTU_DISCOVER;
    /// `IPV6_TCLASS`.
    pub const IPV6_TCLASS: i32 = ::uapi::socket::IPV6_TCLASS;
}

/// `AF_INET`.
pub const AF_INET: u32 = ::uapi::socket::AF_INET as u32;
/// `AF_INET6`.
pub const AF_INET6: u32 = ::uapi::socket::AF_INET6 as u32;

/// `BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB`.
pub const ACTIVE_ESTABLISHED_CB: u32 = ::uapi::bpf::BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB;
/// `BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB`.
pub const PASSIVE_ESTABLISHED_CB: u32 = ::uapi::bpf::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB;
/// `BPF_SOCK_OPS_STATE_CB`.
pub const STATE_CB: u32 = ::uapi::bpf::BPF_SOCK_OPS_STATE_CB;
/// `BPF_SOCK_OPS_STATE_CB_FLAG`.
pub const STATE_CB_FLAG: u32 = ::uapi::bpf::BPF_SOCK_OPS_STATE_CB_FLAG;
/// `BPF_SOCK_OPS_ALL_CB_FLAGS` (every flag this UAPI defines).
pub const ALL_CB_FLAGS: u32 = ::uapi::bpf::BPF_SOCK_OPS_ALL_CB_FLAGS;

/// `BPF_TCP_ESTABLISHED`.
pub const TCP_ESTABLISHED: u32 = ::uapi::bpf::BPF_TCP_ESTABLISHED;
/// `BPF_TCP_FIN_WAIT1`.
pub const TCP_FIN_WAIT1: u32 = ::uapi::bpf::BPF_TCP_FIN_WAIT1;
/// `BPF_TCP_CLOSE`.
pub const TCP_CLOSE: u32 = ::uapi::bpf::BPF_TCP_CLOSE;
/// `BPF_TCP_CLOSE_WAIT`.
pub const TCP_CLOSE_WAIT: u32 = ::uapi::bpf::BPF_TCP_CLOSE_WAIT;
/// `BPF_TCP_LAST_ACK`.
pub const TCP_LAST_ACK: u32 = ::uapi::bpf::BPF_TCP_LAST_ACK;

/// `BPF_ANY`.
pub const BPF_ANY: u64 = ::uapi::bpf::BPF_ANY;
/// `BPF_NOEXIST`.
pub const BPF_NOEXIST: u64 = ::uapi::bpf::BPF_NOEXIST;
/// `BPF_EXIST`.
pub const BPF_EXIST: u64 = ::uapi::bpf::BPF_EXIST;
/// `BPF_F_INGRESS`.
pub const BPF_F_INGRESS: u64 = ::uapi::bpf::BPF_F_INGRESS;
/// `BPF_F_NO_PREALLOC` (map flag).
pub const BPF_F_NO_PREALLOC: u32 = ::uapi::bpf::BPF_F_NO_PREALLOC;

/// `SK_DROP`.
pub const SK_DROP: u64 = ::uapi::bpf::SK_DROP as u64;
/// `SK_PASS`.
pub const SK_PASS: u64 = ::uapi::bpf::SK_PASS as u64;

/// `BPF_MAP_TYPE_HASH`.
pub const MAP_TYPE_HASH: u32 = ::uapi::bpf::BPF_MAP_TYPE_HASH;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`.
pub const MAP_TYPE_PERCPU_ARRAY: u32 = ::uapi::bpf::BPF_MAP_TYPE_PERCPU_ARRAY;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const MAP_TYPE_LRU_HASH: u32 = ::uapi::bpf::BPF_MAP_TYPE_LRU_HASH;
/// `BPF_MAP_TYPE_LPM_TRIE`.
pub const MAP_TYPE_LPM_TRIE: u32 = ::uapi::bpf::BPF_MAP_TYPE_LPM_TRIE;
/// `BPF_MAP_TYPE_SOCKHASH`.
pub const MAP_TYPE_SOCKHASH: u32 = ::uapi::bpf::BPF_MAP_TYPE_SOCKHASH;

/// Errno values the helpers return (negated).
pub mod errno {
    /// `ENOENT`.
    pub const ENOENT: i64 = ::uapi::errno::ENOENT as i64;
    /// `E2BIG`.
    pub const E2BIG: i64 = ::uapi::errno::E2BIG as i64;
    /// `EEXIST`.
    pub const EEXIST: i64 = ::uapi::errno::EEXIST as i64;
    /// `EINVAL`.
    pub const EINVAL: i64 = ::uapi::errno::EINVAL as i64;
    /// `ENOSPC`.
    pub const ENOSPC: i64 = ::uapi::errno::ENOSPC as i64;
    /// `EOPNOTSUPP`.
    pub const EOPNOTSUPP: i64 = ::uapi::errno::EOPNOTSUPP as i64;
}

/// Helper ids used by the bypass programs.
pub mod helper {
    /// `bpf_map_lookup_elem`.
    pub const MAP_LOOKUP_ELEM: u32 = asm::Helper::MapLookupElem.id();
    /// `bpf_map_update_elem`.
    pub const MAP_UPDATE_ELEM: u32 = asm::Helper::MapUpdateElem.id();
    /// `bpf_map_delete_elem`.
    pub const MAP_DELETE_ELEM: u32 = asm::Helper::MapDeleteElem.id();
    /// `bpf_sock_ops_cb_flags_set`.
    pub const SOCK_OPS_CB_FLAGS_SET: u32 = asm::Helper::SockOpsCbFlagsSet.id();
    /// `bpf_sock_hash_update`.
    pub const SOCK_HASH_UPDATE: u32 = asm::Helper::SockHashUpdate.id();
    /// `bpf_msg_redirect_hash`.
    pub const MSG_REDIRECT_HASH: u32 = asm::Helper::MsgRedirectHash.id();
    /// `bpf_get_netns_cookie`.
    pub const GET_NETNS_COOKIE: u32 = asm::Helper::GetNetnsCookie.id();
}
