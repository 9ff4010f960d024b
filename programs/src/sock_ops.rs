//! The `sock_ops` program: puts eligible established sockets in the sockhash, pairs each
//! server socket with its waiting client, and forgets both when they close.
//!
//! Attached to a cgroup, it sees every TCP socket of the cgroup's processes:
//!
//! - `ACTIVE_ESTABLISHED` (a client): if the remote address is in PREFIXES, neither port is
//!   excluded and loopback is allowed (cookies available), insert the socket under its own
//!   `ConnKey` and register it in ACTIVE under its local endpoint, with its handshake
//!   sequence numbers (a `Waiting` value). If another client with the same endpoint still
//!   waits there (the kernel shares an ephemeral port between connections to different
//!   destinations), count `SharedEndpoint` and take its place: that connection's server will
//!   find no match and stay on TCP. (Taking the place rather than giving way keeps a client
//!   whose server never comes — a remote backend behind a service address — from blocking
//!   its port for the bypass as long as it lives.)
//! - `PASSIVE_ESTABLISHED` (a server): if a client waits under the endpoint the server sees
//!   as remote *and* its sequence numbers are the server's (`rcv_nxt`, `snd_nxt`), so that it
//!   is this connection's client and not another one sharing the endpoint, insert the
//!   socket, then *claim* the client: `PEERS[client] = own key` with `BPF_NOEXIST`. If that
//!   fails with `-EEXIST` the client's `sk_msg` got there first and wrote TAINT (it sent
//!   bytes through TCP): no pair, count `TcpFirst`. Otherwise link the other direction,
//!   `PEERS[own] = client key`. Either way the client stops waiting in ACTIVE (if the entry
//!   is still its own).
//! - Both, once in the sockhash: delete any PEERS entry under the socket's own key, which only an earlier socket with the same key can have left behind
//!   (`StaleEntries`).
//! - `STATE_CB` to `TCP_CLOSE`: delete the socket's PEERS entry, its ACTIVE entry if it is
//!   its own (the endpoint may be another client's by then); a delete that fails other than
//!   with `-ENOENT` counts `Errors`.
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
/// Offsets in a `Waiting` value (see [`crate::key::Waiting`]).
const WAITING_CLIENT_SEQ: i16 = 48;
const WAITING_SERVER_SEQ: i16 = 52;
const WAIT_CLIENT_SEQ: i16 = stack::WAIT + WAITING_CLIENT_SEQ;
const WAIT_SERVER_SEQ: i16 = stack::WAIT + WAITING_SERVER_SEQ;

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

/// A socket that just got into the sockhash has no pairing state yet, so an entry under its
/// own key in PEERS is one an earlier socket with the same key left behind: delete it, and
/// count `StaleEntries` when there was one. Without this, such an entry would pair or taint
/// the new socket by mistake.
fn forget_stale(e: &mut Emitter) {
    let none = e.fresh("no_stale");
    e.b.ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapDeleteElem)
        .comment("an entry of an earlier socket with our key?")
        .jne(R0, 0, &none);
    e.count(Counter::StaleEntries, None);
    e.b.label(&none);
}

/// After a close-time `bpf_map_delete_elem`: anything but success or `-ENOENT` (the kernel's
/// hash maps can refuse a delete, e.g. when their bucket lock detects a deadlock) counts
/// `Errors`, so that an entry left behind by a closed socket is at least reported.
fn deleted_or_absent(e: &mut Emitter) {
    let ok = e.fresh("deleted");
    e.b.jeq(R0, 0, &ok)
        .jeq32(R0, -uapi::ENOENT, &ok)
        .comment("absent is fine");
    e.count(Counter::Errors, None);
    e.b.label(&ok);
}

/// Jumps to `other` unless the `Waiting` value r0 points to is this server's client: its
/// `snd_nxt` is our `rcv_nxt` and its `rcv_nxt` our `snd_nxt` (the two initial sequence
/// numbers + 1), not another client's that shares the endpoint. Keeps r0.
fn waiting_is_ours(e: &mut Emitter, other: &str) {
    e.b.ldx(Size::W, R1, R0, WAITING_CLIENT_SEQ)
        .ldx(Size::W, R2, R6, ctx::RCV_NXT)
        .jne(R1, R2, other)
        .comment("not our client: its ISN is not the one we received")
        .ldx(Size::W, R1, R0, WAITING_SERVER_SEQ)
        .ldx(Size::W, R2, R6, ctx::SND_NXT)
        .jne(R1, R2, other)
        .comment("not our client: it did not receive our ISN");
}

/// Deletes ACTIVE[r10 + EP] if it still holds this server's client (another client sharing
/// the endpoint may have taken the place since the lookup).
fn release_client(e: &mut Emitter, why: &str) {
    let done = e.fresh("released");
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapLookupElem).jeq(R0, 0, &done);
    waiting_is_ours(e, &done);
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapDeleteElem).comment(why).label(&done);
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
    forget_stale(&mut e);
    e.endpoint(OWN_LOCAL, OWN_LOCAL_PORT, LOCAL_LOOPBACK);
    e.copy(Size::DW, R10, stack::OWN, stack::WAIT, 48);
    e.b.comment("waiting.client = own key")
        .ldx(Size::W, R1, R6, ctx::SND_NXT)
        .stx(Size::W, R10, WAIT_CLIENT_SEQ, R1)
        .comment("waiting.client_seq = snd_nxt (our ISN + 1)")
        .ldx(Size::W, R1, R6, ctx::RCV_NXT)
        .stx(Size::W, R10, WAIT_SERVER_SEQ, R1)
        .comment("waiting.server_seq = rcv_nxt (the server's ISN + 1)");
    e.map_update(names::ACTIVE, stack::EP, stack::WAIT, uapi::BPF_NOEXIST)
        .comment("active[own local endpoint] = waiting, if no other client waits there")
        .jeq(R0, 0, "inserted")
        .jne32(R0, -uapi::EEXIST, "register_failed")
        .comment("-EEXIST: another client with our endpoint waits (a shared ephemeral port)");
    e.count(Counter::SharedEndpoint, None);
    e.map_update(names::ACTIVE, stack::EP, stack::WAIT, uapi::BPF_ANY)
        .comment("take its place: its server will not find it (that connection stays on TCP)")
        .jeq(R0, 0, "inserted");
    e.b.label("register_failed");
    e.count_failure();
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
    waiting_is_ours(&mut e, "out");
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
    forget_stale(&mut e);
    // The claim: one atomic decision per client key. Either we create peers[peer key] here,
    // or the client's sk_msg already wrote TAINT there (it sent through TCP first).
    e.peer_value(stack::OWN);
    e.map_update(names::PEERS, stack::PEER, stack::VALUE, uapi::BPF_NOEXIST)
        .comment("claim the client: peers[peer key] = own key, if it has no entry yet")
        .jeq(R0, 0, "claimed")
        .jne32(R0, -uapi::EEXIST, "claim_failed")
        .comment("-EEXIST means TAINT: the client sent through TCP first");
    e.count(Counter::TcpFirst, None);
    e.b.ja("unpaired");
    e.b.label("claim_failed");
    e.count_failure();
    e.b.label("unpaired");
    release_client(&mut e, "no pair: the client is no longer waiting");
    e.b.ja("inserted")
        .comment("in the sockhash, unpaired: its sk_msg taints it on its first send");
    e.b.label("claimed");
    e.peer_value(stack::PEER);
    e.map_update(names::PEERS, stack::OWN, stack::VALUE, uapi::BPF_ANY)
        .comment("peers[own key] = peer key")
        .jeq(R0, 0, "paired");
    e.b.comment("failed: client -> server only (order-safe)");
    e.count_failure();
    e.b.label("paired");
    release_client(&mut e, "the client is no longer waiting");
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
    deleted_or_absent(&mut e);
    e.endpoint(OWN_LOCAL, OWN_LOCAL_PORT, LOCAL_LOOPBACK);
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapLookupElem)
        .comment("waiting under our local endpoint?")
        .jeq(R0, 0, "close_active_done");
    for i in 0..6i16 {
        e.b.ldx(Size::DW, R1, R0, 8 * i)
            .ldx(Size::DW, R2, R10, stack::OWN + 8 * i)
            .jne(R1, R2, "close_active_done");
        if i == 0 {
            e.b.comment("another client's entry (a shared endpoint): keep it");
        }
    }
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapDeleteElem)
        .comment("delete active[own local endpoint]: our own");
    deleted_or_absent(&mut e);
    e.b.label("close_active_done");

    e.b.label("out").mov64(R0, 1).exit();
    e.b.build()
}
