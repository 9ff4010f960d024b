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
//! A message that is not redirected counts `NoPeer`. It always returns `SK_PASS`.

use asm::{Helper, Program, Reg::*, Size};

use crate::counters::Counter;
use crate::emit::{conn, stack, CtxFields, Emitter, LOCAL_LOOPBACK};
use crate::maps::names;
use crate::uapi::{self, sk_msg as ctx};
use crate::Config;

const FIELDS: CtxFields = CtxFields {
    family: ctx::FAMILY,
    local_ip4: ctx::LOCAL_IP4,
    remote_ip4: ctx::REMOTE_IP4,
    local_ip6: ctx::LOCAL_IP6,
    remote_ip6: ctx::REMOTE_IP6,
    local_port: ctx::LOCAL_PORT,
    remote_port: ctx::REMOTE_PORT,
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
    e.b.ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.stack_ptr(R3, stack::PEER);
    e.b.mov64(R4, uapi::BPF_NOEXIST)
        .call(Helper::MapUpdateElem)
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
