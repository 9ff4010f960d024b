//! The `sk_msg` program: redirects each message a bypassed socket sends straight into its
//! peer socket's receive queue, but never after the socket has sent anything through TCP.
//!
//! It rebuilds the sending socket's own `ConnKey` from `struct sk_msg_md` (and its netns
//! cookie) and looks up PEERS:
//!
//! - a peer's key: `bpf_msg_redirect_hash` with `BPF_F_INGRESS` (if the peer is gone from
//!   the sockhash, the message goes through TCP; going back from redirects to TCP keeps the
//!   order, because the receiver reads its redirect queue first);
//! - TAINT (both ports 0): the socket already sent through TCP: TCP again;
//! - nothing: the socket is about to send through TCP, so it first writes TAINT with
//!   `BPF_NOEXIST` — from then on no server can pair with it (the server's claim on the same
//!   key fails). If the write fails with `-EEXIST`, its server claimed it in between: look
//!   the peer up again and redirect. Any other failure (a full map) deletes the socket's
//!   ACTIVE entry instead, so that no server pairs with it later.
//!
//! With a [`RcvqGuard`] it then bounds the peer's receive queue: when the peer holds more
//! unread than TCP would let it (bytes plus a per-message overhead, see [`RcvqGuard`]), the
//! sender writes TAINT over its own PEERS entry and goes to TCP for good from its next message
//! (counted in `RcvqFallback`); TCP's flow control then makes its `send()` block, and the peer
//! reads its redirect queue before the TCP bytes, so the order holds.
//!
//! A message that is not redirected counts `NoPeer`. It always returns `SK_PASS`.

use asm::{Helper, Program, Reg::*, Size};

use crate::counters::Counter;
use crate::emit::{conn, stack, CtxFields, Emitter, LOCAL_LOOPBACK};
use crate::maps::names;
use crate::uapi::{self, sk_msg as ctx};
use crate::{Config, RcvqGuard};

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
const OWN_LOCAL_PORT: i16 = stack::OWN + conn::LOCAL_PORT;

/// Assembles the `sk_msg` program (`BPF_PROG_TYPE_SK_MSG`).
pub fn sk_msg(cfg: &Config) -> Result<Program, asm::AsmError> {
    let mut e = Emitter::new(cfg.netns_cookie);
    e.b.mov64(R6, R1).comment("r6 = ctx (struct sk_msg_md *)");
    e.conn_key(&FIELDS, stack::OWN, "out");
    e.b.ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapLookupElem)
        .comment("peers[own key]: a peer's key or TAINT")
        .jne(R0, 0, "found");

    // No entry: this message would be the socket's first through TCP. Taint it first.
    e.taint(stack::PEER);
    e.map_update(names::PEERS, stack::OWN, stack::PEER, uapi::BPF_NOEXIST)
        .comment("peers[own key] = TAINT, unless a server claimed us meanwhile")
        .jeq(R0, 0, "no_peer")
        .comment("tainted: never redirected from now on")
        .jeq32(R0, -uapi::EEXIST, "claimed")
        .comment("-EEXIST: the server just paired us");
    e.count_failure();
    e.b.label("untainted")
        .mov64(R9, 0)
        .comment("could not taint (map full): leave ACTIVE; r9 = loopback bits");
    e.loopback_bit("key.local", OWN_LOCAL, LOCAL_LOOPBACK);
    e.endpoint(OWN_LOCAL, OWN_LOCAL_PORT, LOCAL_LOOPBACK);
    e.b.ld_map(R1, names::ACTIVE);
    e.stack_ptr(R2, stack::EP);
    e.b.call(Helper::MapDeleteElem)
        .comment("untainted: stop waiting, so no server pairs with us later")
        .ja("no_peer");

    e.b.label("claimed").ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapLookupElem)
        .comment("peers[own key] again: the server's key")
        .jeq(R0, 0, "no_peer");

    e.b.label("found")
        .ldx(Size::DW, R1, R0, conn::LOCAL_PORT)
        .comment("both ports of the value")
        .jeq(R1, 0, "no_peer")
        .comment("TAINT: sent through TCP before, stay there");
    e.copy(Size::DW, R0, 0, stack::PEER, 48);
    e.b.comment("peer key");
    e.b.mov64(R1, R6).ld_map(R2, names::SOCK_HASH);
    e.stack_ptr(R3, stack::PEER);
    e.b.mov64(R4, uapi::BPF_F_INGRESS)
        .call(Helper::MsgRedirectHash)
        .comment("into the peer's receive queue")
        .jne(R0, uapi::SK_PASS, "no_peer")
        .comment("the peer socket is gone");
    if let Some(g) = cfg.rcvq_guard {
        rcvq_guard(&mut e, &g);
    }
    e.b.label("redirected");
    e.count(Counter::Redirected, None);
    e.b.ldx(Size::W, R8, R6, ctx::SIZE)
        .comment("r8 = msg->size");
    e.count(Counter::RedirectedBytes, Some(R8));
    e.b.ja("out");
    e.b.label("no_peer");
    e.count(Counter::NoPeer, None);
    e.b.label("out").mov64(R0, uapi::SK_PASS).exit();
    e.b.build()
}

/// Where the guard keeps a pointer to the sender's BACKLOG value (0 when it has none).
const SPILL: i16 = stack::CTR - 8;
/// The new BACKLOG value, when it has to be inserted.
const PENDING: i16 = stack::CTR - 16;

/// The receive-queue bound (see [`RcvqGuard`]), right after a successful
/// `bpf_msg_redirect_hash`; falls through (or jumps) to `redirected`.
/// Uses r7 (the peer's unread bytes), r8 (the limit) and r9.
fn rcvq_guard(e: &mut Emitter, g: &RcvqGuard) {
    e.b.mov64(R1, R6)
        .mov64(R2, g.msg_id as i32)
        .call_kfunc(g.rdonly_cast as i32)
        .comment("bpf_rdonly_cast(ctx, struct sk_msg)")
        .ldx(Size::DW, R1, R0, g.sk_redir)
        .comment("msg->sk_redir: the peer socket just chosen")
        .jeq(R1, 0, "redirected")
        .ldx(Size::W, R7, R1, g.rmem_alloc)
        .comment("r7 = peer sk_rmem_alloc: its unread redirected bytes")
        .ldx(Size::W, R8, R1, g.rcvbuf)
        .comment("r8 = peer sk_rcvbuf")
        .ldx(Size::B, R2, R1, g.userlocks)
        .comment("peer sk_userlocks")
        .and64(R2, uapi::SOCK_RCVBUF_LOCK)
        .jne(R2, 0, "limit_set")
        .comment("SO_RCVBUF set: TCP would not grow it, neither do we")
        .mov64(R2, g.rcvbuf_floor as i32)
        .jge(R8, R2, "limit_set")
        .mov64(R8, R2)
        .comment("r8 = what TCP autotuning may grow the buffer to")
        .label("limit_set");

    e.b.ld_map(R1, names::BACKLOG);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapLookupElem)
        .comment("backlog[own key]: messages the peer may not have read")
        .stx(Size::DW, R10, SPILL, R0)
        .mov64(R9, 0)
        .jeq(R0, 0, "backlog_read")
        .ldx(Size::DW, R9, R0, 0)
        .label("backlog_read")
        .jne(R7, 0, "backlog_counted")
        .mov64(R9, 0)
        .comment("the peer's queue is empty: nothing of ours is unread")
        .label("backlog_counted")
        .add64(R9, 1)
        .comment("r9 = our messages possibly queued, this one included")
        .mov64(R1, R9)
        .mul64(R1, g.msg_overhead as i32)
        .add64(R1, R7)
        .ldx(Size::W, R2, R6, ctx::SIZE)
        .add64(R1, R2)
        .comment("r1 = unread bytes + this message + per-message overhead")
        .jgt(R1, R8, "over")
        .ldx(Size::DW, R1, R10, SPILL)
        .jeq(R1, 0, "backlog_insert")
        .stx(Size::DW, R1, 0, R9)
        .comment("backlog[own key] = r9")
        .ja("redirected")
        .label("backlog_insert")
        .stx(Size::DW, R10, PENDING, R9);
    e.map_update(names::BACKLOG, stack::OWN, PENDING, uapi::BPF_ANY)
        .comment("backlog[own key] = r9 (a full LRU map evicts the oldest)")
        .ja("redirected");

    // Over the bound: TCP for good, from the next message on.
    e.b.label("over");
    e.taint(stack::PEER);
    e.map_update(names::PEERS, stack::OWN, stack::PEER, uapi::BPF_ANY)
        .comment("peers[own key] = TAINT: TCP's flow control from now on");
    e.count(Counter::RcvqFallback, None);
}
