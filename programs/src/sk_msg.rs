//! The `sk_msg` program: redirects each message a bypassed socket sends straight into its
//! peer socket's receive queue.
//!
//! It rebuilds the sending socket's own `ConnKey` from `struct sk_msg_md` (and its netns
//! cookie), looks up the peer's key in PEERS and calls `bpf_msg_redirect_hash` with
//! `BPF_F_INGRESS`. Without a peer (or if the peer is gone from the sockhash) the message goes
//! through TCP as usual. It always returns `SK_PASS`.

use asm::{Helper, Program, Reg::*, Size};

use crate::counters::Counter;
use crate::emit::{stack, CtxFields, Emitter};
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

/// Assembles the `sk_msg` program (`BPF_PROG_TYPE_SK_MSG`).
pub fn sk_msg(cfg: &Config) -> Result<Program, asm::AsmError> {
    let mut e = Emitter::new(cfg.netns_cookie);
    e.b.mov64(R6, R1).comment("r6 = ctx (struct sk_msg_md *)");
    e.conn_key(&FIELDS, stack::OWN, "out");
    e.b.ld_map(R1, names::PEERS);
    e.stack_ptr(R2, stack::OWN);
    e.b.call(Helper::MapLookupElem)
        .comment("peers[own key]")
        .jeq(R0, 0, "no_peer");
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
