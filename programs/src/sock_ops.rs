//! The `sock_ops` program: puts eligible established sockets in the sockhash, pairs each
//! server socket with its waiting client, and forgets both when they close.
//!
//! Attached to a cgroup, it sees every TCP socket of the cgroup's processes:
//!
//! - `ACTIVE_ESTABLISHED` (a client): if the remote address is in PREFIXES, neither port is
//!   excluded and loopback is allowed (cookies available), insert the socket under its own
//!   `ConnKey` and register it in ACTIVE under its local endpoint.
//! - `PASSIVE_ESTABLISHED` (a server): if a client registered the endpoint the server sees as
//!   remote, insert the socket, then *claim* the client: `PEERS[client] = own key` with
//!   `BPF_NOEXIST`. If that fails with `-EEXIST` the client's `sk_msg` got there first and
//!   wrote TAINT (it sent bytes through TCP): no pair, count `TcpFirst`. Otherwise link the
//!   other direction, `PEERS[own] = client key`. Either way the client stops waiting in ACTIVE.
//! - `STATE_CB` to `TCP_CLOSE`: delete the socket's PEERS and ACTIVE entries (and its
//!   `tb_backlog` count when built with the receive-queue bound).
//!
//! It always returns 1.

use asm::{Helper, Program, Reg::*, Size};

use crate::counters::Counter;
use crate::emit::{conn, stack, CtxFields, Emitter, LOCAL_LOOPBACK, REMOTE_LOOPBACK};
use crate::maps::names;
use crate::uapi::{self, sock_ops as ctx};
use crate::Config;

const FIELDS: CtxFields = CtxFields {
    family: ctx::FAMILY,
    local_ip4: ctx::LOCAL_IP4,
    remote_ip4: ctx::REMOTE_IP4,
    local_ip6: ctx::LOCAL_IP6,
    remote_ip6: ctx::REMOTE_IP6,
    local_port: ctx::LOCAL_PORT,
    remote_port: ctx::REMOTE_PORT,
    remote_port_upper: true,
};

const OWN_LOCAL: i16 = stack::OWN + conn::LOCAL;
const OWN_REMOTE: i16 = stack::OWN + conn::REMOTE;
const OWN_LOCAL_PORT: i16 = stack::OWN + conn::LOCAL_PORT;
const OWN_REMOTE_PORT: i16 = stack::OWN + conn::REMOTE_PORT;

/// The checks both ends of a connection pass before anything is inserted: a loopback address
/// only with netns cookies (r9 holds the loopback bits), and neither port excluded. Jumps to
/// `out` otherwise.
fn ends_allowed(e: &mut Emitter, cfg: &Config) {
    if !cfg.netns_cookie {
        e.b.jne(R9, 0, "out")
            .comment("loopback needs netns cookies");
    }
    e.port_excluded(OWN_LOCAL_PORT, "out");
    e.port_excluded(OWN_REMOTE_PORT, "out");
}

/// Assembles the `sock_ops` program (`BPF_PROG_TYPE_SOCK_OPS`).
pub fn sock_ops(cfg: &Config) -> Result<Program, asm::AsmError> {
    let mut e = Emitter::new(cfg.netns_cookie);

    // Which callback?
    e.b.mov64(R6, R1)
        .comment("r6 = ctx (struct bpf_sock_ops *)")
        .ldx(Size::W, R8, R6, ctx::OP)
        .comment("r8 = op")
        .jeq32(R8, uapi::BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, "key")
        .jeq32(R8, uapi::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, "key")
        .jne32(R8, uapi::BPF_SOCK_OPS_STATE_CB, "out")
        .ldx(Size::W, R2, R6, ctx::ARGS1)
        .comment("args[1]: the new state")
        .jne32(R2, uapi::BPF_TCP_CLOSE, "out");

    // The socket's own key, and which of its addresses are loopback.
    e.b.label("key").mov64(R9, 0).comment("r9 = loopback bits");
    e.conn_key(&FIELDS, stack::OWN, "out");
    e.loopback_bit("key.local", OWN_LOCAL, LOCAL_LOOPBACK);
    e.loopback_bit("key.remote", OWN_REMOTE, REMOTE_LOOPBACK);
    e.b.jeq32(R8, uapi::BPF_SOCK_OPS_STATE_CB, "close").jeq32(
        R8,
        uapi::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB,
        "passive",
    );

    // ACTIVE_ESTABLISHED: the client.
    e.b.label("active").comment("client (active open)");
    ends_allowed(&mut e, cfg);
    e.prefix_allowed(OWN_REMOTE, "out");
    e.b.mov64(R1, R6).ld_map(R2, names::SOCK_HASH);
    e.stack_ptr(R3, stack::OWN);
    e.b.mov64(R4, uapi::BPF_NOEXIST)
        .call(Helper::SockHashUpdate)
        .comment("sockhash[own key] = this socket");
    e.check_insert("out");
    e.endpoint(OWN_LOCAL, OWN_LOCAL_PORT, LOCAL_LOOPBACK);
    e.map_update(names::ACTIVE, stack::EP, stack::OWN, uapi::BPF_ANY)
        .comment("active[own local endpoint] = own key");
    e.check_insert("inserted");
    e.b.ja("inserted");

    // PASSIVE_ESTABLISHED: the server.
    e.b.label("passive").comment("server (passive open)");
    ends_allowed(&mut e, cfg);
    e.endpoint(OWN_REMOTE, OWN_REMOTE_PORT, REMOTE_LOOPBACK);
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapLookupElem)
        .comment("a client waiting with our remote endpoint?")
        .jeq(R0, 0, "out");
    e.copy(Size::DW, R0, 0, stack::PEER, 48);
    e.b.comment("peer key = the client's key");
    // In the sockhash BEFORE the client can see the pairing: a client redirect that found
    // no server socket would go through TCP and a later one would not.
    e.b.mov64(R1, R6).ld_map(R2, names::SOCK_HASH);
    e.stack_ptr(R3, stack::OWN);
    e.b.mov64(R4, uapi::BPF_NOEXIST)
        .call(Helper::SockHashUpdate)
        .comment("sockhash[own key] = this socket");
    e.check_insert("out");
    // The claim: one atomic decision per client key. Either we create peers[peer key] here,
    // or the client's sk_msg already wrote TAINT there (it sent through TCP first).
    e.map_update(names::PEERS, stack::PEER, stack::OWN, uapi::BPF_NOEXIST)
        .comment("claim the client: peers[peer key] = own key, if it has no entry yet")
        .jeq(R0, 0, "claimed")
        .jne32(R0, -uapi::EEXIST, "claim_failed")
        .comment("-EEXIST means TAINT: the client sent through TCP first");
    e.count(Counter::TcpFirst, None);
    e.b.ja("unpaired");
    e.b.label("claim_failed");
    e.count_failure();
    e.b.label("unpaired").ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapDeleteElem)
        .comment("no pair: the client is no longer waiting")
        .ja("inserted")
        .comment("in the sockhash, unpaired: its sk_msg taints it on its first send");
    e.b.label("claimed");
    e.map_update(names::PEERS, stack::OWN, stack::PEER, uapi::BPF_ANY)
        .comment("peers[own key] = peer key")
        .jeq(R0, 0, "paired");
    e.b.comment("failed: client -> server only (order-safe)");
    e.count_failure();
    e.b.label("paired").ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapDeleteElem)
        .comment("the client is no longer waiting");
    e.count(Counter::Paired, None);
    e.b.ja("inserted");

    // Both sides: ask for the close callback, count.
    e.b.label("inserted")
        .ldx(Size::W, R2, R6, ctx::CB_FLAGS)
        .comment("keep the flags already set")
        .or32(R2, uapi::BPF_SOCK_OPS_STATE_CB_FLAG)
        .mov64(R1, R6)
        .call(Helper::SockOpsCbFlagsSet)
        .comment("call us again on state changes");
    let flags_ok = "flags_set";
    e.b.jeq(R0, 0, flags_ok);
    e.count(Counter::Errors, None);
    e.b.label(flags_ok);
    e.count(Counter::Inserted, None);
    e.b.ja("out");

    // STATE_CB to TCP_CLOSE: forget the socket (the kernel drops it from the sockhash).
    e.b.label("close").ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapDeleteElem)
        .comment("delete peers[own key]");
    e.endpoint(OWN_LOCAL, OWN_LOCAL_PORT, LOCAL_LOOPBACK);
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapDeleteElem)
        .comment("delete active[own local endpoint]");
    if cfg.rcvq_guard.is_some() {
        e.b.ld_map(R1, names::BACKLOG);
        e.stack_ptr(R2, stack::OWN);
        e.b.call(Helper::MapDeleteElem)
            .comment("delete backlog[own key] (the receive-queue bound's count)");
    }

    e.b.label("out").mov64(R0, 1).exit();
    e.b.build()
}
