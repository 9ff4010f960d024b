//! The bypass programs, written in the `asm` DSL: a `sock_ops` program that puts established
//! same-host TCP sockets in a SOCKHASH and pairs each client with its server, and an `sk_msg`
//! program that redirects every `sendmsg` of a paired socket into its peer's receive queue.
//!
//! This crate owns the programs ([`sock_ops()`], [`sk_msg()`]), the maps they use
//! ([`maps()`], [`names`]), their statistics ([`Counter`]), the user-space construction of
//! every key ([`key`]) and the kernel UAPI numbers they rely on ([`uapi`]). It knows nothing of
//! system calls: the `loader` crate creates the maps and loads the programs.
//!
//! ```
//! let cfg = programs::Config::default();
//! let sock_ops = programs::sock_ops(&cfg)?;
//! let sk_msg = programs::sk_msg(&cfg)?;
//! // Every map a program references is defined in `maps()`.
//! for name in sock_ops.map_names().into_iter().chain(sk_msg.map_names()) {
//!     assert!(programs::maps().iter().any(|m| m.name == name));
//! }
//! # Ok::<(), asm::AsmError>(())
//! ```

#![warn(missing_docs)]

mod counters;
mod emit;
pub mod key;
mod maps;
mod setsockopt;
mod sk_msg;
mod sock_ops;
pub mod uapi;

pub use counters::Counter;
pub use key::KeyError;
pub use maps::{
    conns_for, map, maps, maps_for, names, sockets_for, MapDef, MapKind, DEFAULT_MAX_CONNS,
    MAX_CONFIG_ENTRIES, MAX_CONNS, MAX_MAX_CONNS,
};
pub use setsockopt::{setsockopt, GUARDED_SOCKOPTS};
pub use sk_msg::sk_msg;
pub use sock_ops::sock_ops;

/// How to build the programs for the running kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Config {
    /// Whether `bpf_get_netns_cookie` may be called from `sock_ops` and `sk_msg` (the loader
    /// probes it). With cookies, keys carry the socket's network namespace, so loopback
    /// connections in different namespaces cannot be confused and loopback is bypassed;
    /// without, every cookie is 0 and connections with a loopback address are left alone.
    pub netns_cookie: bool,
    /// The receive-queue bound of `sk_msg` (see [`RcvqGuard`]), or `None` to redirect without
    /// one (kernels without BTF, or without the helpers it needs).
    pub rcvq_guard: Option<RcvqGuard>,
}

impl Default for Config {
    /// Cookies on (every kernel since 5.15 allows them in both program types), no
    /// receive-queue bound (it needs the running kernel's struct offsets).
    fn default() -> Self {
        Config {
            netns_cookie: true,
            rcvq_guard: None,
        }
    }
}

/// The receive-queue bound: before each redirect, `sk_msg` looks at the peer socket and, when
/// the peer would hold more unread than TCP would let it, moves the sender to TCP for good,
/// where TCP's flow control makes `send()` block. Without it a sender to a peer that never
/// reads queues without limit (the redirect path charges only the host-wide `tcp_mem`).
///
/// The check runs right after `bpf_msg_redirect_hash` chose the peer: the kernel's
/// `struct sk_msg` behind the context then holds the peer in `sk_redir`, read through
/// `bpf_rdonly_cast` (a kfunc, Linux 6.2+) as a BTF pointer (no reference is taken: `sk_msg`
/// programs cannot call `bpf_sk_release`). A redirect cannot be taken back, so the message
/// that crosses the limit is still redirected and the sender goes to TCP from the next one:
/// the queue is bounded by the limit plus one message (at most a send buffer). The cost of the
/// peer's queue is its unread bytes (`sk_rmem_alloc`, which the redirect path charges) plus
/// `msg_overhead` for each message that may still be queued (an upper bound kept in the
/// sender's own PEERS value, see [`key::PEER_VALUE_BACKLOG`]), so a stream of one-byte
/// messages is bounded too. The limit is the peer's
/// `sk_rcvbuf` when the application set `SO_RCVBUF`, else the larger of `sk_rcvbuf` and
/// `rcvbuf_floor` (what TCP's receive-buffer autotuning may grow to: `net.ipv4.tcp_rmem[2]`).
///
/// Offsets and ids come from the running kernel's BTF; this crate does not read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RcvqGuard {
    /// BTF id of the kfunc `bpf_rdonly_cast`.
    pub rdonly_cast: u32,
    /// BTF id of `struct sk_msg` (the kernel object behind `struct sk_msg_md`).
    pub msg_id: u32,
    /// Offset of `sk_redir` (`struct sock *`) in `struct sk_msg`.
    pub sk_redir: i16,
    /// Offset of `sk_backlog.rmem_alloc` (`sk_rmem_alloc`, an `int`) in `struct sock`.
    pub rmem_alloc: i16,
    /// Offset of `sk_rcvbuf` (`int`) in `struct sock`.
    pub rcvbuf: i16,
    /// Offset of `sk_userlocks` (`u8`) in `struct sock`.
    pub userlocks: i16,
    /// The limit when the application did not set `SO_RCVBUF`, in bytes (at least
    /// `sk_rcvbuf`).
    pub rcvbuf_floor: u32,
    /// The kernel memory one queued message costs beyond its bytes (`struct sk_msg`).
    pub msg_overhead: u32,
    /// The small-write policy, or `None` to redirect small writes however fast they come.
    pub small_writes: Option<SmallWrites>,
}

/// The small-write policy, part of the receive-queue bound: a sender whose last `queued`
/// redirected messages (at least) were all under `below` bytes, while its peer holds at least
/// `queued` of its messages unread (the bound's backlog count, this message included), goes
/// to TCP for good from its next message (counted in `StreamFallback`), the way the bound
/// sends it there.
///
/// Why: the redirect path coalesces nothing. Each small `send()` becomes one queued message
/// and one wakeup of the reader, where TCP merges a stream of small writes into few segments,
/// so a one-way stream of small writes is several times slower through the bypass than over
/// TCP (docs/benchmarks.md). Request/response traffic is not affected: each side reads what
/// the other sent before the next message, so the peer's queue is empty when it sends and
/// the count starts again at one. A stream with large writes among the small ones is not
/// affected either (each large one starts the run again): there the bypass is faster. Going
/// to TCP keeps the order for the same reason the bound does: the reader drains its redirect
/// queue before its TCP bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SmallWrites {
    /// How many of the sender's messages, this one included, must be small in a row and
    /// unread by the peer.
    pub queued: u32,
    /// A message of fewer bytes than this is small on a loopback connection.
    pub below: u32,
    /// A message of fewer bytes than this is small on any other connection (between network
    /// namespaces, over a veth pair), where TCP's own per-segment cost is higher and the
    /// redirect wins from much smaller writes on.
    pub below_routed: u32,
}

impl Default for SmallWrites {
    /// 64 messages; below 4 KiB on loopback, below 64 bytes otherwise. 64 small ones in a row
    /// are a stream: with write sizes log-uniform up to 256 KiB (as the end-to-end tests
    /// write), 64 under 4 KiB in a row come about once in 10^12 messages. A sender moved to
    /// TCP this way is still in the sockhash, so each `send()` still runs `sk_msg` and the
    /// kernel's sockmap send path, which streams at about 0.6× of plain TCP. On loopback that
    /// beats the redirect below 4 KiB (0.2–0.5× of TCP) and loses to it from 4 KiB up; over a
    /// veth pair TCP itself is slower per segment and the redirect beats it from 64 bytes up
    /// (1.8–5× at 64 B–1 KiB), so only smaller writes count there. docs/benchmarks.md has the
    /// numbers.
    fn default() -> Self {
        SmallWrites {
            queued: 64,
            below: 4096,
            below_routed: 64,
        }
    }
}
