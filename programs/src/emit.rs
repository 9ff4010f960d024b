//! Code fragments shared by both programs: the stack layout, building a `ConnKey` from a
//! context, the loopback test, endpoints, map checks and counter increments.
//!
//! Each fragment is straight-line code with forward jumps only, to labels made unique by
//! [`Emitter::fresh`]. Register conventions of both programs:
//!
//! | register | holds                                                                  |
//! |----------|------------------------------------------------------------------------|
//! | r6       | the context pointer (kept for helper calls)                            |
//! | r7       | the socket's netns cookie (0 without cookies)                          |
//! | r8       | `sock_ops`: the op; `sk_msg`: the message size                         |
//! | r9       | loopback bits (1: local address, 2: remote address); `sk_msg` computes |
//! |          | them only on the path that needs the local endpoint                    |
//! | r1–r5    | scratch and helper arguments (clobbered by every call)                 |

use asm::{Builder, Helper, Reg, Reg::*, Size};

use crate::counters::Counter;
use crate::key::{CONN_KEY_LEN, PEER_VALUE_BACKLOG, PEER_VALUE_LEN, PEER_VALUE_SMALL_RUN};
use crate::maps::names;
use crate::uapi;

/// Stack offsets (from r10) of the program's local variables. Every byte a helper reads is
/// written first.
pub(crate) mod stack {
    /// The socket's own `ConnKey` (48 bytes).
    pub const OWN: i16 = -48;
    /// An `Endpoint` (32 bytes).
    pub const EP: i16 = -80;
    /// The peer's `ConnKey` (48 bytes), copied out of a map value; in `sk_msg` also the
    /// `TAINT` value written to PEERS.
    pub const PEER: i16 = -128;
    /// A PREFIXES key (20 bytes: u32 prefix length, 16 address bytes).
    pub const PREFIX: i16 = -152;
    /// An EXCLUDED_PORTS key (u32).
    pub const PORT: i16 = -156;
    /// A COUNTERS key (u32).
    pub const CTR: i16 = -160;
    /// `sock_ops` only: the `Waiting` value a client registers in ACTIVE (56 bytes: its
    /// `ConnKey`, then its `snd_nxt` and `rcv_nxt`).
    pub const WAIT: i16 = -216;
    /// A PEERS value being written (56 bytes: the peer's `ConnKey`, then the backlog count and
    /// the small-message runs; all zero for TAINT).
    pub const VALUE: i16 = -272;
}

/// Field offsets inside a `ConnKey` (see [`crate::key`]).
pub(crate) mod conn {
    pub const COOKIE: i16 = 0;
    pub const LOCAL: i16 = 8;
    pub const REMOTE: i16 = 24;
    pub const LOCAL_PORT: i16 = 40;
    pub const REMOTE_PORT: i16 = 44;
}

/// Offset of the backlog count in a PEERS value.
pub(crate) const BACKLOG: i16 = PEER_VALUE_BACKLOG as i16;
/// Offset of the small-message run in a PEERS value.
pub(crate) const SMALL_RUN: i16 = PEER_VALUE_SMALL_RUN as i16;

/// Loopback bit in r9 for the local address.
pub(crate) const LOCAL_LOOPBACK: i32 = 1;
/// Loopback bit in r9 for the remote address.
pub(crate) const REMOTE_LOOPBACK: i32 = 2;

/// `::ffff:` as the third 32-bit word of an address, as a 32-bit store or compare sees it.
const MAPPED_WORD: i32 = i32::from_ne_bytes([0, 0, 0xff, 0xff]);
/// The last word of `::1`.
const ONE_WORD: i32 = i32::from_ne_bytes([0, 0, 0, 1]);

/// The context fields a `ConnKey` is built from (same meaning, different offsets in
/// `struct bpf_sock_ops` and `struct sk_msg_md`).
pub(crate) struct CtxFields {
    pub family: i16,
    pub local_ip4: i16,
    pub remote_ip4: i16,
    pub local_ip6: i16,
    pub remote_ip6: i16,
    pub local_port: i16,
    pub remote_port: i16,
    /// Whether a 32-bit load of `remote_port` has the network-order port in its upper half
    /// on little-endian (`bpf_sock_ops`, `sk_msg_md`) rather than its lower half
    /// (`bpf_sock.dst_port`).
    pub remote_port_upper: bool,
}

/// A [`Builder`] plus a counter for unique labels.
pub(crate) struct Emitter {
    pub b: Builder,
    next: usize,
    netns_cookie: bool,
}

impl Emitter {
    pub fn new(netns_cookie: bool) -> Emitter {
        Emitter {
            b: Builder::new(),
            next: 0,
            netns_cookie,
        }
    }

    /// A label name no other fragment uses.
    pub fn fresh(&mut self, base: &str) -> String {
        self.next += 1;
        format!("{base}_{}", self.next)
    }

    /// `dst = r10 + off`: a pointer to a stack variable.
    pub fn stack_ptr(&mut self, dst: Reg, off: i16) -> &mut Self {
        self.b.mov64(dst, R10).add64(dst, i32::from(off));
        self
    }

    /// `r0 = bpf_map_update_elem(map, r10 + key, r10 + value, flags)`. Returns the builder, so
    /// that the caller comments the call and branches on r0.
    pub fn map_update(&mut self, map: &str, key: i16, value: i16, flags: i32) -> &mut Builder {
        self.b.ld_map(R1, map);
        self.stack_ptr(R2, key);
        self.stack_ptr(R3, value);
        self.b.mov64(R4, flags).call(Helper::MapUpdateElem)
    }

    /// Copies `len` bytes (a multiple of `size`) from `src + src_off` to `r10 + dst_off`
    /// through r1.
    pub fn copy(&mut self, size: Size, src: Reg, src_off: i16, dst_off: i16, len: i16) {
        let step = size.bytes() as i16;
        let mut i = 0;
        while i < len {
            self.b
                .ldx(size, R1, src, src_off + i)
                .stx(size, R10, dst_off + i, R1);
            i += step;
        }
    }

    /// Builds the socket's own `ConnKey` at `r10 + key` from the context in r6, and puts the
    /// netns cookie (or 0) in r7. Jumps to `bail` for a family other than AF_INET/AF_INET6.
    pub fn conn_key(&mut self, f: &CtxFields, key: i16, bail: &str) {
        self.conn_key_from(f, R6, R6, key, bail)
    }

    /// [`Emitter::conn_key`] with the fields read from `base` (r6–r9) and the netns cookie
    /// asked of the context in `ctx` (r6–r9).
    pub fn conn_key_from(&mut self, f: &CtxFields, base: Reg, ctx: Reg, key: i16, bail: &str) {
        let v4 = self.fresh("ipv4");
        let ports = self.fresh("ports");
        self.b
            .ldx(Size::W, R2, base, f.family)
            .comment("family")
            .jeq32(R2, uapi::AF_INET, &v4)
            .jne32(R2, uapi::AF_INET6, bail)
            .comment("not TCP over IPv4/IPv6: leave it alone");
        // AF_INET6: both addresses as they are (already ::ffff:a.b.c.d for IPv4 peers of a
        // dual-stack socket).
        for (what, ctx_off, key_off) in [
            ("key.local = local_ip6", f.local_ip6, conn::LOCAL),
            ("key.remote = remote_ip6", f.remote_ip6, conn::REMOTE),
        ] {
            for i in 0..4 {
                self.b.ldx(Size::W, R2, base, ctx_off + 4 * i);
                if i == 0 {
                    self.b.comment(what);
                }
                self.b.stx(Size::W, R10, key + key_off + 4 * i, R2);
            }
        }
        self.b.ja(&ports);
        // AF_INET: ::ffff:a.b.c.d
        self.b
            .label(&v4)
            .st(Size::DW, R10, key + conn::LOCAL, 0)
            .comment("key.local = ::ffff:local_ip4")
            .st(Size::W, R10, key + conn::LOCAL + 8, MAPPED_WORD)
            .ldx(Size::W, R2, base, f.local_ip4)
            .stx(Size::W, R10, key + conn::LOCAL + 12, R2)
            .st(Size::DW, R10, key + conn::REMOTE, 0)
            .comment("key.remote = ::ffff:remote_ip4")
            .st(Size::W, R10, key + conn::REMOTE + 8, MAPPED_WORD)
            .ldx(Size::W, R2, base, f.remote_ip4)
            .stx(Size::W, R10, key + conn::REMOTE + 12, R2);
        // Ports as host-order u32 values, read with 32-bit loads only.
        self.b
            .label(&ports)
            .ldx(Size::W, R2, base, f.local_port)
            .comment("local_port (host order)")
            .stx(Size::W, R10, key + conn::LOCAL_PORT, R2)
            .ldx(Size::W, R2, base, f.remote_port)
            .comment("remote_port (network order)");
        if f.remote_port_upper && cfg!(target_endian = "little") {
            self.b
                .rsh32(R2, 16)
                .comment("the port is in the upper half");
        }
        self.b
            .be(R2, 16)
            .comment("to host order")
            .stx(Size::W, R10, key + conn::REMOTE_PORT, R2);
        if self.netns_cookie {
            self.b
                .mov64(R1, ctx)
                .call(Helper::GetNetnsCookie)
                .comment("key.cookie = r7 = netns cookie")
                .mov64(R7, R0)
                .stx(Size::DW, R10, key + conn::COOKIE, R7);
        } else {
            self.b.mov64(R7, 0).comment("no netns cookies").st(
                Size::DW,
                R10,
                key + conn::COOKIE,
                0,
            );
        }
    }

    /// Sets `bit` in r9 if the 16-byte address at `r10 + addr` (called `what` in comments) is
    /// loopback (`::ffff:127.x` or `::1`).
    pub fn loopback_bit(&mut self, what: &str, addr: i16, bit: i32) {
        let no = self.fresh("lo_no");
        self.unless_loopback(what, addr, R1, &no);
        self.b
            .or64(R9, bit)
            .comment(&format!("{what} is loopback"))
            .label(&no);
    }

    /// Falls through if the 16-byte address at `r10 + addr` (called `what` in comments) is
    /// loopback (`::ffff:127.x` or `::1`), else jumps to `no`. Uses `scratch`.
    pub fn unless_loopback(&mut self, what: &str, addr: i16, scratch: Reg, no: &str) {
        let v4 = self.fresh("lo_v4");
        let yes = self.fresh("lo_yes");
        let r = scratch;
        self.b
            .ldx(Size::W, r, R10, addr)
            .comment(&format!("is {what} loopback?"))
            .jne32(r, 0, no)
            .ldx(Size::W, r, R10, addr + 4)
            .jne32(r, 0, no)
            .ldx(Size::W, r, R10, addr + 8)
            .jeq32(r, MAPPED_WORD, &v4)
            .comment("::ffff:a.b.c.d")
            .jne32(r, 0, no)
            .ldx(Size::W, r, R10, addr + 12)
            .jne32(r, ONE_WORD, no)
            .comment("::1")
            .ja(&yes)
            .label(&v4)
            .ldx(Size::B, r, R10, addr + 12)
            .jne32(r, 127, no)
            .comment("127.0.0.0/8")
            .label(&yes);
    }

    /// Builds an `Endpoint` at `r10 + stack::EP` from the address at `r10 + addr` and the
    /// u32 port at `r10 + port`; its cookie is r7 when r9 has `bit` set, else 0.
    pub fn endpoint(&mut self, addr: i16, port: i16, bit: i32) {
        let ep = stack::EP;
        if self.netns_cookie {
            let keep = self.fresh("ep_cookie");
            self.b
                .mov64(R1, 0)
                .mov64(R2, R9)
                .and64(R2, bit)
                .jeq(R2, 0, &keep)
                .comment("cookie only for loopback addresses")
                .mov64(R1, R7)
                .label(&keep)
                .stx(Size::DW, R10, ep, R1);
        } else {
            self.b.st(Size::DW, R10, ep, 0);
        }
        self.b.comment("endpoint.cookie");
        self.copy(Size::DW, R10, addr, ep + 8, 16);
        self.b
            .ldx(Size::W, R1, R10, port)
            .stx(Size::W, R10, ep + 24, R1)
            .comment("endpoint.port")
            .st(Size::W, R10, ep + 28, 0)
            .comment("endpoint padding");
    }

    /// Jumps to `yes` if the u32 port at `r10 + port` is in EXCLUDED_PORTS.
    pub fn port_excluded(&mut self, port: i16, yes: &str) {
        self.b
            .ldx(Size::W, R1, R10, port)
            .comment("is this port excluded?")
            .stx(Size::W, R10, stack::PORT, R1)
            .ld_map(R1, names::EXCLUDED_PORTS);
        self.stack_ptr(R2, stack::PORT);
        self.b
            .call(Helper::MapLookupElem)
            .jne(R0, 0, yes)
            .comment("excluded port");
    }

    /// Jumps to `no` unless the address at `r10 + addr` is in PREFIXES.
    pub fn prefix_allowed(&mut self, addr: i16, no: &str) {
        self.b
            .st(Size::W, R10, stack::PREFIX, 128)
            .comment("prefix key: /128 of the remote address");
        self.copy(Size::W, R10, addr, stack::PREFIX + 4, 16);
        self.b.ld_map(R1, names::PREFIXES);
        self.stack_ptr(R2, stack::PREFIX);
        self.b
            .call(Helper::MapLookupElem)
            .jeq(R0, 0, no)
            .comment("destination not in a bypassed prefix");
    }

    /// Adds 1 (or the register `by`, which must survive a call: r6–r9) to a counter.
    pub fn count(&mut self, counter: Counter, by: Option<Reg>) {
        let skip = self.fresh("counted");
        self.b
            .st(Size::W, R10, stack::CTR, counter.index() as i32)
            .comment(&format!("count {}", counter.name()))
            .ld_map(R1, names::COUNTERS);
        self.stack_ptr(R2, stack::CTR);
        self.b
            .call(Helper::MapLookupElem)
            .jeq(R0, 0, &skip)
            .ldx(Size::DW, R1, R0, 0);
        match by {
            Some(r) => self.b.add64(R1, r),
            None => self.b.add64(R1, 1),
        };
        self.b.stx(Size::DW, R0, 0, R1).label(&skip);
    }

    /// After a map insert (result in r0): on failure count `MapFull` for `-E2BIG`, else
    /// `Errors`, and jump to `fail`; on success fall through.
    pub fn check_insert(&mut self, fail: &str) {
        let ok = self.fresh("inserted");
        self.b.jeq(R0, 0, &ok);
        self.count_failure();
        self.b.ja(fail).label(&ok);
    }

    /// After a failed map insert (negative errno in r0): counts `MapFull` for `-E2BIG`, else
    /// `Errors`, then falls through.
    pub fn count_failure(&mut self) {
        let full = self.fresh("full");
        let done = self.fresh("failure_counted");
        self.b
            .jeq32(R0, -uapi::E2BIG, &full)
            .comment("-E2BIG: the map is full");
        self.count(Counter::Errors, None);
        self.b.ja(&done).label(&full);
        self.count(Counter::MapFull, None);
        self.b.label(&done);
    }

    /// Writes the `TAINT` value of PEERS (56 zero bytes: a `ConnKey` with both ports 0, which
    /// no real key has, and zero counts) at `r10 + off`.
    pub fn taint(&mut self, off: i16) {
        self.taint_at(R10, off, "TAINT: a PEERS value of zero bytes");
    }

    /// [`Emitter::taint`] at `base + off` (the stack, or a map value in place), the first
    /// store commented `why`.
    pub fn taint_at(&mut self, base: Reg, off: i16, why: &str) {
        for i in 0..(PEER_VALUE_LEN as i16 / 8) {
            self.b.st(Size::DW, base, off + 8 * i, 0);
            if i == 0 {
                self.b.comment(why);
            }
        }
    }

    /// Builds the PEERS value naming the `ConnKey` at `r10 + key` at [`stack::VALUE`]: the
    /// key, then zero counts.
    pub fn peer_value(&mut self, key: i16) {
        self.copy(Size::DW, R10, key, stack::VALUE, CONN_KEY_LEN as i16);
        self.b
            .st(Size::DW, R10, stack::VALUE + BACKLOG, 0)
            .comment("backlog count and small-message run 0");
    }
}
