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
use crate::emit::{conn, stack, CtxFields, Emitter, BACKLOG, LOCAL_LOOPBACK, SMALL_RUN};
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
    e.taint(stack::VALUE);
    e.map_update(names::PEERS, stack::OWN, stack::VALUE, uapi::BPF_NOEXIST)
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
        .mov64(R9, R0)
        .comment("r9 = our PEERS value")
        .ldx(Size::DW, R1, R9, conn::LOCAL_PORT)
        .comment("both ports of the peer's key")
        .jeq(R1, 0, "no_peer")
        .comment("TAINT: sent through TCP before, stay there")
        .mov64(R1, R6)
        .ld_map(R2, names::SOCK_HASH)
        .mov64(R3, R9)
        .comment("the peer's key, straight from the map value")
        .mov64(R4, uapi::BPF_F_INGRESS)
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

/// The receive-queue bound (see [`RcvqGuard`]), right after a successful
/// `bpf_msg_redirect_hash` with r9 pointing at the sender's PEERS value; falls through (or
/// jumps) to `redirected`. Uses r7 (the peer's unread bytes) and r8 (the limit).
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
        .label("limit_set")
        .ldx(Size::W, R1, R9, BACKLOG)
        .comment("our messages the peer may not have read")
        .jne(R7, 0, "backlog_counted")
        .mov64(R1, 0)
        .comment("the peer's queue is empty: nothing of ours is unread")
        .label("backlog_counted")
        .add64(R1, 1)
        .comment("this one too")
        .stx(Size::W, R9, BACKLOG, R1)
        .comment("value.backlog = r1");
    if let Some(sw) = g.small_writes {
        e.b.ldx(Size::W, R2, R6, ctx::SIZE)
            .ldx(Size::H, R3, R9, SMALL_RUN)
            .comment("r3 = our messages under `below` in a row (u16, wraps)")
            .ldx(Size::H, R4, R9, SMALL_RUN + 2)
            .comment("r4 = our messages under `below_routed` in a row")
            .add64(R3, 1)
            .add64(R4, 1)
            .jlt(R2, sw.below as i32, "small")
            .mov64(R3, 0)
            .label("small")
            .jlt(R2, sw.below_routed as i32, "small_routed")
            .mov64(R4, 0)
            .label("small_routed")
            .stx(Size::H, R9, SMALL_RUN, R3)
            .stx(Size::H, R9, SMALL_RUN + 2, R4)
            .jlt(R1, sw.queued as i32, "bound")
            .comment("fewer of our messages unread: not a stream");
        e.unless_loopback("key.local", OWN_LOCAL, R5, "routed");
        e.b.mov64(R4, R3)
            .comment("loopback: its threshold is `below`")
            .label("routed")
            .jlt(R4, sw.queued as i32, "bound")
            .comment("not only small messages lately");
        e.taint_at(
            R9,
            0,
            "a stream of small writes: our PEERS value = TAINT, TCP from now on",
        );
        e.count(Counter::StreamFallback, None);
        e.b.ja("redirected").label("bound");
    }
    e.b.mul64(R1, g.msg_overhead as i32)
        .add64(R1, R7)
        .ldx(Size::W, R2, R6, ctx::SIZE)
        .add64(R1, R2)
        .comment("r1 = unread bytes + this message + per-message overhead")
        .jle(R1, R8, "redirected");

    // Over the bound: TCP for good, from the next message on.
    e.taint_at(
        R9,
        0,
        "our PEERS value = TAINT, in place: TCP's flow control from now on",
    );
    e.count(Counter::RcvqFallback, None);
}
