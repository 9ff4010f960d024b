//! The `cgroup/setsockopt` guard: keeps a connection on TCP, in both directions, from the
//! moment an application sets a socket option whose behaviour the redirect path cannot honour
//! ([`GUARDED_SOCKOPTS`]: `SO_RCVLOWAT`, `SO_PEEK_OFF`, `SO_OOBINLINE`, `TCP_INQ`, `TCP_ULP`,
//! `TCP_CORK`).
//!
//! It rebuilds the socket's own `ConnKey` from `bpf_sockopt.sk` (a `struct bpf_sock`) and its
//! netns cookie, and looks up PEERS. When the socket is paired, it writes TAINT over its own
//! entry and over its peer's (`BPF_EXIST`: a peer that is gone is not recreated), so that both
//! `sk_msg` programs send through TCP from then on; each receiver reads what was already
//! redirected before the TCP bytes, so the order holds. Counted in `CompatFallback`. A socket
//! that is not paired (not connected yet, excluded, already tainted) is left alone. It always
//! returns 1: the kernel then applies the option as usual.
//!
//! Not covered: options set on a listening socket and inherited by the sockets it accepts
//! (the accepted socket is paired without a setsockopt call), and options set before
//! `connect()` (the socket has no 4-tuple yet). docs/compatibility.md says so.

use asm::{Helper, Program, Reg::*, Size};

use crate::counters::Counter;
use crate::emit::{conn, stack, CtxFields, Emitter};
use crate::maps::names;
use crate::uapi::{self, bpf_sock, sockopt};
use crate::Config;

/// Every `(level, optname, name)` the guard reacts to.
pub const GUARDED_SOCKOPTS: [(i32, i32, &str); 6] = [
    (uapi::SOL_SOCKET, uapi::SO_RCVLOWAT, "SO_RCVLOWAT"),
    (uapi::SOL_SOCKET, uapi::SO_PEEK_OFF, "SO_PEEK_OFF"),
    (uapi::SOL_SOCKET, uapi::SO_OOBINLINE, "SO_OOBINLINE"),
    (uapi::SOL_TCP, uapi::TCP_INQ, "TCP_INQ"),
    (uapi::SOL_TCP, uapi::TCP_ULP, "TCP_ULP"),
    (uapi::SOL_TCP, uapi::TCP_CORK, "TCP_CORK"),
];

const FIELDS: CtxFields = CtxFields {
    family: bpf_sock::FAMILY,
    local_ip4: bpf_sock::SRC_IP4,
    remote_ip4: bpf_sock::DST_IP4,
    local_ip6: bpf_sock::SRC_IP6,
    remote_ip6: bpf_sock::DST_IP6,
    local_port: bpf_sock::SRC_PORT,
    remote_port: bpf_sock::DST_PORT,
    remote_port_upper: false,
};

/// Where the TAINT value is built (a PEERS value, right below the counters' slot).
const TAINT_VALUE: i16 = stack::CTR - crate::key::PEER_VALUE_LEN as i16;

/// Assembles the guard (`BPF_PROG_TYPE_CGROUP_SOCKOPT`, attach type `BPF_CGROUP_SETSOCKOPT`).
pub fn setsockopt(cfg: &Config) -> Result<Program, asm::AsmError> {
    let mut e = Emitter::new(cfg.netns_cookie);
    e.b.mov64(R6, R1)
        .comment("r6 = ctx (struct bpf_sockopt *)")
        .ldx(Size::W, R2, R6, sockopt::LEVEL)
        .comment("level")
        .ldx(Size::W, R3, R6, sockopt::OPTNAME)
        .comment("optname");
    for (level, opt, name) in GUARDED_SOCKOPTS {
        let next = e.fresh("not");
        e.b.jne32(R2, level, &next)
            .jeq32(R3, opt, "guard")
            .comment(name)
            .label(&next);
    }
    e.b.ja("out")
        .label("guard")
        .ldx(Size::DW, R8, R6, sockopt::SK)
        .comment("r8 = ctx->sk (struct bpf_sock *)")
        .jeq(R8, 0, "out");
    e.conn_key_from(&FIELDS, R8, R6, stack::OWN, "out");
    e.b.ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapLookupElem)
        .comment("peers[own key]: paired?")
        .jeq(R0, 0, "out")
        .comment("not paired: nothing to keep off the bypass")
        .ldx(Size::DW, R1, R0, conn::LOCAL_PORT)
        .jeq(R1, 0, "out")
        .comment("TAINT already: on TCP");
    e.copy(Size::DW, R0, 0, stack::PEER, 48);
    e.b.comment("peer key");
    e.taint(TAINT_VALUE);
    e.map_update(names::PEERS, stack::OWN, TAINT_VALUE, uapi::BPF_ANY)
        .comment("peers[own key] = TAINT: our sends go through TCP");
    e.map_update(names::PEERS, stack::PEER, TAINT_VALUE, uapi::BPF_EXIST)
        .comment("peers[peer key] = TAINT: so do the peer's");
    e.count(Counter::CompatFallback, None);
    e.b.label("out")
        .mov64(R0, 1)
        .comment("1: let the kernel apply the option")
        .exit();
    e.b.build()
}
