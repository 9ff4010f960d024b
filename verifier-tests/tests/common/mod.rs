//! Shared by the property and mutation tests: random scenarios (hosts with namespaces,
//! connections of every kind, random interleavings), an independent model of what the
//! design says must happen, and the check that runs a scenario through the simulator and
//! compares every step with the model.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use programs::key::TAINT;
use programs::{names, Counter};
use proptest::prelude::*;
use verifier_tests::ctx::addr16;
use verifier_tests::sim::{ConnSpec, Delivery, Programs, Setup, Side, World};
use verifier_tests::uapi::opt::*;
use verifier_tests::uapi::{AF_INET, AF_INET6};

/// How a connection is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// IPv4 between two addresses of the host, server reached directly.
    Plain,
    /// Pod to pod over veth (namespaces may differ), IPv4.
    PodToPod,
    /// Client connects to a service VIP, DNAT'd to a pod.
    Dnat,
    /// Client's connection REDIRECTed to a sidecar on 127.0.0.1:15001 in its own namespace.
    Sidecar,
    /// 127.0.0.1 → 127.0.0.1 inside one namespace.
    Loopback4,
    /// ::1 → ::1 inside one namespace.
    Loopback6,
    /// IPv4 client, dual-stack AF_INET6 server (sees ::ffff:a.b.c.d).
    V4ToDualStack,
    /// IPv6 pod to pod.
    V6,
}

const KINDS: [Kind; 8] = [
    Kind::Plain,
    Kind::PodToPod,
    Kind::Dnat,
    Kind::Sidecar,
    Kind::Loopback4,
    Kind::Loopback6,
    Kind::V4ToDualStack,
    Kind::V6,
];

/// Candidate PREFIXES entries.
pub const PREFIXES: [(&str, u8); 7] = [
    ("10.0.0.0", 16),
    ("10.0.1.0", 24),
    ("10.96.0.0", 12),
    ("127.0.0.0", 8),
    ("::1", 128),
    ("fd00::", 64),
    ("fd00::2", 128),
];
/// Candidate EXCLUDED_PORTS entries (service ports and ephemeral ones).
pub const EXCLUDABLE: [u16; 5] = [22, 8080, 15001, 40001, 40004];
const SERVER_PORTS: [u16; 4] = [80, 22, 8080, 443];

/// The options the generated applications set: (level, optname, name, guarded by the
/// design). The first six are the guarded ones (docs/compatibility.md); the others include
/// options of other levels that share a guarded option's number (`SO_MARK` = `TCP_INQ` = 36,
/// `TCP_USER_TIMEOUT` = `SO_RCVLOWAT` = 18, `TCP_WINDOW_CLAMP` = `IP_MTU_DISCOVER` =
/// `SO_OOBINLINE` = 10) and an IPv6-level one.
pub const SOCKOPTS: [(i32, i32, &str, bool); 14] = [
    (SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", true),
    (SOL_SOCKET, SO_PEEK_OFF, "SO_PEEK_OFF", true),
    (SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE", true),
    (SOL_TCP, TCP_INQ, "TCP_INQ", true),
    (SOL_TCP, TCP_ULP, "TCP_ULP", true),
    (SOL_TCP, TCP_CORK, "TCP_CORK", true),
    (SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", false),
    (SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", false),
    (SOL_SOCKET, SO_MARK, "SO_MARK", false),
    (SOL_TCP, TCP_NODELAY, "TCP_NODELAY", false),
    (SOL_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", false),
    (SOL_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP", false),
    (SOL_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER", false),
    (SOL_IPV6, IPV6_TCLASS, "IPV6_TCLASS", false),
];
/// How many of [`SOCKOPTS`] (the first ones) are guarded.
pub const GUARDED: usize = 6;

/// One connection of a scenario, in a compact form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub kind: Kind,
    pub client_ns: u64,
    pub server_ns: u64,
    pub port: u16,
    /// The client reuses the ephemeral port of an earlier client of its namespace, as the
    /// kernel does for connections to different destinations (when the 4-tuples stay
    /// unique; else it gets a fresh port).
    pub share: bool,
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} ns{}->ns{} :{}{}",
            self.kind,
            self.client_ns,
            self.server_ns,
            self.port,
            if self.share { " (shared port)" } else { "" }
        )
    }
}

/// A step of a scenario.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    Connect(usize),
    Accept(usize),
    Send(usize, Side, u32),
    /// A client send whose PEERS lookup saw the moment before (`World::send_stale`): when it
    /// follows the server's claim, the interleaving claim-between-lookup-and-taint.
    SendStale(usize, u32),
    /// The receive-queue guard of this side finds the peer over its limit for the message
    /// the side just redirected (`World::rcvq_fallback`; nothing happens if that message was
    /// not redirected). The generator puts it right after one of the side's sends, sometimes
    /// moved past the peer's next events (its sends, reads, its close): the guard running on
    /// one CPU while the peer acts on another. Never past an event of the side itself.
    /// `true`: the small-write policy's fallback (`StreamFallback`), else the bound's
    /// (`RcvqFallback`); both write the same TAINT.
    Fallback(usize, Side, bool),
    /// The application on this side reads everything queued for it: its redirect queue
    /// first, then the bytes that came through TCP (as `tcp_bpf_recvmsg` does).
    Read(usize, Side),
    /// Closes this side; its application first reads everything queued for it (as `Read`).
    Close(usize, Side),
    /// The application on this side sets option `SOCKOPTS[k]` (`World::setsockopt`: the real
    /// `cgroup/setsockopt` guard runs). Generated before the server is established (client),
    /// after sends of either side (sometimes moved past the peer's next events: its sends,
    /// reads, fallbacks, its close), and on the survivor after the peer closed.
    Setsockopt(usize, Side, usize),
}

impl fmt::Debug for Ev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |s: &Side| if *s == Side::Client { "c" } else { "s" };
        match self {
            Ev::Connect(i) => write!(f, "connect{i}"),
            Ev::Accept(i) => write!(f, "accept{i}"),
            Ev::Send(i, side, n) => write!(f, "send{i}{}({n})", s(side)),
            Ev::SendStale(i, n) => write!(f, "send{i}c~({n})"),
            Ev::Fallback(i, side, stream) => {
                let why = if *stream { "stream" } else { "" };
                write!(f, "fallback{why}{i}{}", s(side))
            }
            Ev::Read(i, side) => write!(f, "read{i}{}", s(side)),
            Ev::Close(i, side) => write!(f, "close{i}{}", s(side)),
            Ev::Setsockopt(i, side, k) => write!(f, "opt{i}{}({})", s(side), SOCKOPTS[*k].2),
        }
    }
}

/// A whole scenario: configuration, connections, and the order things happen in.
#[derive(Clone)]
pub struct Scenario {
    pub cookie: bool,
    pub prefixes: Vec<usize>,
    pub excluded: Vec<u16>,
    pub ncpus: usize,
    pub seed: u64,
    pub capacity: Option<u32>,
    pub plans: Vec<Plan>,
    pub events: Vec<Ev>,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p: Vec<_> = self
            .prefixes
            .iter()
            .map(|i| format!("{}/{}", PREFIXES[*i].0, PREFIXES[*i].1))
            .collect();
        writeln!(
            f,
            "Scenario {{ cookie: {}, prefixes: {p:?}, excluded: {:?}, cpus: {}, capacity: {:?}",
            self.cookie, self.excluded, self.ncpus, self.capacity
        )?;
        for (i, c) in self.specs().iter().enumerate() {
            writeln!(f, "  conn{i}: {:?} = {}", self.plans[i], show(c))?;
        }
        write!(f, "  events: {:?} }}", self.events)
    }
}

fn show(c: &ConnSpec) -> String {
    let fam = |f: u32| if f == AF_INET { "inet" } else { "inet6" };
    format!(
        "{}({}) {} -> {}  | server {}({}) {}",
        fam(c.client_family),
        c.client_ns,
        c.client,
        c.dst,
        fam(c.server_family),
        c.server_ns,
        c.server
    )
}

fn pod4(ns: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, ns as u8, 1))
}
fn pod6(ns: u64) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, ns as u16))
}

impl Scenario {
    /// The connection specs: client ports come from a per-namespace counter starting at
    /// 40000, so namespaces reuse the same loopback 4-tuples; a plan with `share` takes the
    /// most recent port of its namespace that keeps both 4-tuples unique.
    pub fn specs(&self) -> Vec<ConnSpec> {
        let mut next: HashMap<u64, u16> = HashMap::new();
        let mut out: Vec<ConnSpec> = Vec::new();
        for p in &self.plans {
            let reused = if p.share {
                out.iter()
                    .rev()
                    .filter(|o| o.client_ns == p.client_ns)
                    .map(|o| Self::spec(p, o.client.port()))
                    .find(|c| {
                        !out.iter().any(|o| {
                            (o.client_ns == c.client_ns && o.client == c.client && o.dst == c.dst)
                                || (o.server_ns == c.server_ns
                                    && o.server == c.server
                                    && o.client == c.client)
                        })
                    })
            } else {
                None
            };
            let spec = reused.unwrap_or_else(|| {
                let port = next.entry(p.client_ns).or_insert(40000);
                let cport = *port;
                *port += 1;
                Self::spec(p, cport)
            });
            out.push(spec);
        }
        out
    }

    /// The spec of plan `p` with client port `cport`.
    fn spec(p: &Plan, cport: u16) -> ConnSpec {
        let (a, b) = (p.client_ns, p.server_ns);
        let s = |ip: IpAddr, port: u16| SocketAddr::new(ip, port);
        let (cf, sf, client, dst, server, sns) = match p.kind {
            Kind::Plain => (
                AF_INET,
                AF_INET,
                s(pod4(a), cport),
                s(pod4(a), p.port),
                s(pod4(a), p.port),
                a,
            ),
            Kind::PodToPod => (
                AF_INET,
                AF_INET,
                s(pod4(a), cport),
                s(pod4(b), p.port),
                s(pod4(b), p.port),
                b,
            ),
            Kind::Dnat => {
                let vip = IpAddr::V4(Ipv4Addr::new(10, 96, 0, b as u8));
                (
                    AF_INET,
                    AF_INET,
                    s(pod4(a), cport),
                    s(vip, 80),
                    s(pod4(b), p.port),
                    b,
                )
            }
            Kind::Sidecar => (
                AF_INET,
                AF_INET,
                s(pod4(a), cport),
                s(pod4(b), p.port),
                s(IpAddr::V4(Ipv4Addr::LOCALHOST), 15001),
                a,
            ),
            Kind::Loopback4 => {
                let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
                (
                    AF_INET,
                    AF_INET,
                    s(lo, cport),
                    s(lo, p.port),
                    s(lo, p.port),
                    a,
                )
            }
            Kind::Loopback6 => {
                let lo = IpAddr::V6(Ipv6Addr::LOCALHOST);
                (
                    AF_INET6,
                    AF_INET6,
                    s(lo, cport),
                    s(lo, p.port),
                    s(lo, p.port),
                    a,
                )
            }
            Kind::V4ToDualStack => (
                AF_INET,
                AF_INET6,
                s(pod4(a), cport),
                s(pod4(b), p.port),
                s(pod4(b), p.port),
                b,
            ),
            Kind::V6 => (
                AF_INET6,
                AF_INET6,
                s(pod6(a), cport),
                s(pod6(b), p.port),
                s(pod6(b), p.port),
                b,
            ),
        };
        ConnSpec {
            client_ns: a,
            server_ns: sns,
            client_family: cf,
            server_family: sf,
            client,
            dst,
            server,
        }
    }

    pub fn setup(&self) -> Setup {
        Setup {
            prefixes: self
                .prefixes
                .iter()
                .map(|i| (PREFIXES[*i].0.parse().unwrap(), PREFIXES[*i].1))
                .collect(),
            excluded_ports: self.excluded.clone(),
            ncpus: self.ncpus,
            seed: self.seed,
            conn_capacity: self.capacity,
        }
    }
}

// ---- The model: what the design says, computed without the programs. ----

fn in_prefix(addr: IpAddr, (p, len): (&str, u8)) -> bool {
    let pa: IpAddr = p.parse().unwrap();
    let plen = if pa.is_ipv4() {
        96 + u32::from(len)
    } else {
        u32::from(len)
    };
    let (a, b) = (addr16(addr), addr16(pa));
    (0..plen).all(|bit| {
        let (i, m) = ((bit / 8) as usize, 0x80u8 >> (bit % 8));
        a[i] & m == b[i] & m
    })
}

fn is_loopback(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_loopback(),
        IpAddr::V6(v) => v.is_loopback() || v.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// The ACTIVE key of a client: the netns cookie for a loopback address (with cookies), its
/// address and port.
fn endpoint(sc: &Scenario, c: &ConnSpec) -> (u64, [u8; 16], u16) {
    let cookie = if sc.cookie && is_loopback(c.client.ip()) {
        c.client_ns
    } else {
        0
    };
    (cookie, addr16(c.client.ip()), c.client.port())
}

/// The client may be bypassed (design: ACTIVE_ESTABLISHED).
pub fn client_eligible(sc: &Scenario, c: &ConnSpec) -> bool {
    sc.prefixes
        .iter()
        .any(|i| in_prefix(c.dst.ip(), PREFIXES[*i]))
        && !sc.excluded.contains(&c.client.port())
        && !sc.excluded.contains(&c.dst.port())
        && (sc.cookie || !(is_loopback(c.client.ip()) || is_loopback(c.dst.ip())))
}

/// The server may be bypassed (design: PASSIVE_ESTABLISHED).
pub fn server_eligible(sc: &Scenario, c: &ConnSpec) -> bool {
    !sc.excluded.contains(&c.server.port())
        && !sc.excluded.contains(&c.client.port())
        && (sc.cookie || !(is_loopback(c.server.ip()) || is_loopback(c.client.ip())))
}

/// What one run of a scenario did, for coverage statistics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub conns: usize,
    pub paired: usize,
    pub messages: usize,
    pub redirected: usize,
    /// Connections whose client sent before the server's `PASSIVE_ESTABLISHED`.
    pub raced: usize,
    /// Servers that found their client tainted (`tcp_first`).
    pub tcp_first: usize,
    /// Clients that took the ACTIVE place of another client waiting under their endpoint
    /// (`shared_endpoint`).
    pub shared: usize,
    /// Stale client sends that found the server's claim (the `-EEXIST` path of `sk_msg`).
    pub claimed_late: usize,
    /// Receive-queue fallbacks that applied (the guard ran: the message was redirected).
    pub fallbacks: usize,
    /// ... of which the peer had closed between the redirect and the fallback.
    pub fallbacks_peer_closed: usize,
    /// Connections with a fallback on both ends.
    pub fallbacks_both_ends: usize,
    /// Fallback events that did nothing: the message was not redirected (its peer gone,
    /// unpaired, tainted, or already fallen back).
    pub fallbacks_skipped: usize,
    /// Messages read by a receiver (every one checked against what was sent to it).
    pub delivered: usize,
    /// setsockopt events (guard runs).
    pub sockopts: usize,
    /// ... of which the guard fired (a guarded option on a socket whose PEERS entry held its
    /// peer's key): counted in `compat_fallback`.
    pub guard_fired: usize,
    /// ... of which the peer had closed (its entry must not come back).
    pub guard_peer_closed: usize,
    /// Guarded options set by a client before its server was established (nothing to do).
    pub guard_before_pairing: usize,
    /// Guarded options on a connection the guard had already moved to TCP (nothing to do).
    pub guard_already_tainted: usize,
    /// Guarded options on a paired socket whose own direction had fallen back (receive-queue
    /// bound): its entry is TAINT, so the guard does nothing and the peer's direction stays
    /// redirected (what the program does; see `docs/verification.md`).
    pub guard_after_fallback: usize,
    /// Unguarded options on a paired, untainted socket (nothing must change).
    pub unguarded_on_paired: usize,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.conns += o.conns;
        self.paired += o.paired;
        self.messages += o.messages;
        self.redirected += o.redirected;
        self.raced += o.raced;
        self.tcp_first += o.tcp_first;
        self.shared += o.shared;
        self.claimed_late += o.claimed_late;
        self.fallbacks += o.fallbacks;
        self.fallbacks_peer_closed += o.fallbacks_peer_closed;
        self.fallbacks_both_ends += o.fallbacks_both_ends;
        self.fallbacks_skipped += o.fallbacks_skipped;
        self.delivered += o.delivered;
        self.sockopts += o.sockopts;
        self.guard_fired += o.guard_fired;
        self.guard_peer_closed += o.guard_peer_closed;
        self.guard_before_pairing += o.guard_before_pairing;
        self.guard_already_tainted += o.guard_already_tainted;
        self.guard_after_fallback += o.guard_after_fallback;
        self.unguarded_on_paired += o.unguarded_on_paired;
    }
}

/// Runs `sc` through `progs` and checks every property; the error names the first broken
/// one.
pub fn check(progs: &Programs, sc: &Scenario) -> Result<Stats, String> {
    run(progs, sc, true, true)
}

/// Like [`check`] without comparing PEERS before and after each setsockopt: only what the
/// sockets see (where messages go, what receivers read), the counters and the final drain.
/// The mutation tests use it to show that a wrong guard is visible from outside too.
pub fn check_behaviour(progs: &Programs, sc: &Scenario) -> Result<Stats, String> {
    run(progs, sc, true, false)
}

/// Runs `sc` and checks only the ordering and delivery properties (nothing is dropped; no
/// redirect after TCP in a direction; every receiver reads exactly the messages sent to it
/// while it was open, each once, in order): no model, no counters. The mutation tests use it
/// to show that these properties alone catch a broken taint rule or a fallback that loses
/// queued bytes.
pub fn check_ordering(progs: &Programs, sc: &Scenario) -> Result<Stats, String> {
    run(progs, sc, false, false)
}

const C2S: usize = 0;
const S2C: usize = 1;

/// The direction `side` receives.
fn dir_to(side: Side) -> usize {
    if side == Side::Server {
        C2S
    } else {
        S2C
    }
}

fn side_name(dir: usize) -> &'static str {
    if dir == C2S {
        "client -> server"
    } else {
        "server -> client"
    }
}

/// What the receivers get, computed from where each message went: per connection and
/// direction, the receiver's redirect queue and its TCP queue, what it read, and what was
/// sent to it while it was open.
#[derive(Default)]
struct Streams {
    next: u64,
    sent: HashMap<(usize, usize), Vec<u64>>,
    redirect_q: HashMap<(usize, usize), VecDeque<u64>>,
    tcp_q: HashMap<(usize, usize), VecDeque<u64>>,
    read: HashMap<(usize, usize), Vec<u64>>,
    /// Redirected messages that were queued at a receiver when it left the sockhash while
    /// open (its psock, and the messages queued in it, are freed).
    lost: HashMap<(usize, usize), usize>,
}

impl Streams {
    /// The receiver of `(conn, dir)` reads everything queued: redirect queue first.
    fn read_all(&mut self, at: (usize, usize)) -> usize {
        let mut n = 0;
        let r = self.read.entry(at).or_default();
        for q in [&mut self.redirect_q, &mut self.tcp_q] {
            if let Some(q) = q.get_mut(&at) {
                n += q.len();
                r.extend(q.drain(..));
            }
        }
        n
    }
}

fn run(progs: &Programs, sc: &Scenario, model: bool, peers_diff: bool) -> Result<Stats, String> {
    let specs = sc.specs();
    let mut w = World::new(progs, &sc.setup()).map_err(|e| format!("load: {e}"))?;
    let full = sc.capacity.is_some();
    // Exact predictions of the model need roomy maps; with tiny maps only the safety
    // properties (no misdirection, ordering, drain, counters as observed) are checked.
    let strict = model && !full;
    let n = specs.len();
    let mut idx: Vec<usize> = vec![usize::MAX; n];
    let mut paired = vec![false; n];
    let mut open = vec![[false, false]; n];
    let mut accepted = vec![false; n];
    // The client sent before its server's PASSIVE_ESTABLISHED (the race).
    let mut raced = vec![false; n];
    // Model: the client waits in ACTIVE for its server (and no other client took its place).
    let mut waiting = vec![false; n];
    // Model: the client's sk_msg wrote TAINT (it sent through TCP while unpaired).
    let mut tainted = vec![false; n];
    // Ordering: a message of this connection and direction went through TCP.
    let mut via_tcp = vec![[false, false]; n];
    // Model: the receive-queue guard moved this direction's sender to TCP.
    let mut fell_back = vec![[false, false]; n];
    // Observed: the last message of this side was redirected (the guard may act on it).
    let mut last_redirected = vec![[false, false]; n];
    // Model: the setsockopt guard moved both directions of this connection to TCP.
    let mut guarded = vec![false; n];
    let mut exp_compat = 0u64;
    let mut closed = vec![[false, false]; n];
    let mut streams = Streams::default();
    let mut st = Stats {
        conns: n,
        ..Stats::default()
    };
    let mut exp_stream = 0u64;
    let (mut exp_inserted, mut exp_bytes, mut exp_nopeer, mut exp_tcp_first, mut exp_fallback) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for ev in &sc.events {
        match *ev {
            Ev::Connect(i) => {
                let shared_before = w.counter(Counter::SharedEndpoint);
                idx[i] = w.connect(&specs[i]).map_err(|e| format!("{ev:?}: {e}"))?;
                open[i][0] = true;
                let inserted = w.in_sockhash(w.socket(idx[i], Side::Client).unwrap());
                if strict && inserted != client_eligible(sc, &specs[i]) {
                    return Err(format!(
                        "{ev:?}: client in sockhash = {inserted}, but eligible = {}",
                        client_eligible(sc, &specs[i])
                    ));
                }
                exp_inserted += inserted as u64;
                // Model: a client waits in ACTIVE under its endpoint; if another client with
                // the same endpoint still waits there, it takes its place (counting
                // `shared_endpoint`), and that one's server will not pair.
                let got = w.counter(Counter::SharedEndpoint) > shared_before;
                let ep = endpoint(sc, &specs[i]);
                let displaced: Vec<usize> = (0..n)
                    .filter(|j| {
                        inserted && *j != i && waiting[*j] && endpoint(sc, &specs[*j]) == ep
                    })
                    .collect();
                let want = !displaced.is_empty();
                if strict && got != want {
                    return Err(format!(
                        "{ev:?}: shared_endpoint counted = {got}, but another client waits under the same endpoint = {want} ({displaced:?})"
                    ));
                }
                for j in displaced {
                    waiting[j] = false;
                }
                waiting[i] = inserted;
                st.shared += got as usize;
            }
            Ev::Accept(i) => {
                let client = w.socket(idx[i], Side::Client).unwrap();
                let before = w.peers_entry(client);
                w.accept(idx[i]).map_err(|e| format!("{ev:?}: {e}"))?;
                open[i][1] = true;
                accepted[i] = true;
                let server = w.socket(idx[i], Side::Server).unwrap();
                let inserted = w.in_sockhash(server);
                let want =
                    client_eligible(sc, &specs[i]) && server_eligible(sc, &specs[i]) && waiting[i];
                if strict && inserted != want {
                    return Err(format!(
                        "{ev:?}: server in sockhash = {inserted}, but both ends eligible and its client still waiting in ACTIVE = {want}"
                    ));
                }
                if inserted {
                    // It found its own client and took it out of ACTIVE (paired or not).
                    waiting[i] = false;
                }
                // Observed: the server claimed its client (PEERS[client] = server's key), or
                // found it tainted.
                let server_key = w.sock_key(server);
                let claimed = server_key.is_some() && w.peers_entry(client) == server_key;
                let lost = inserted && before.as_deref() == Some(&TAINT[..]);
                if strict && claimed != (want && !tainted[i]) {
                    return Err(format!(
                        "{ev:?}: paired = {claimed}, but both ends eligible and waiting = {want} and client tainted = {}",
                        tainted[i]
                    ));
                }
                if strict && lost != (want && tainted[i]) {
                    return Err(format!(
                        "{ev:?}: server found its client tainted = {lost}, model says {}",
                        want && tainted[i]
                    ));
                }
                paired[i] = claimed;
                exp_inserted += inserted as u64;
                exp_tcp_first += lost as u64;
                st.paired += claimed as usize;
                st.tcp_first += lost as usize;
            }
            Ev::Send(..) | Ev::SendStale(..) => {
                let (i, side, bytes, stale) = match *ev {
                    Ev::Send(i, side, bytes) => (i, side, bytes, false),
                    Ev::SendStale(i, bytes) => (i, Side::Client, bytes, true),
                    _ => unreachable!(),
                };
                let (me_i, peer_i, dir) = if side == Side::Client {
                    (0, 1, C2S)
                } else {
                    (1, 0, S2C)
                };
                if side == Side::Client && !accepted[i] && !raced[i] {
                    raced[i] = true;
                    st.raced += 1;
                }
                let me = w.socket(idx[i], side).unwrap();
                let other_side = if side == Side::Client {
                    Side::Server
                } else {
                    Side::Client
                };
                let peer = w.socket(idx[i], other_side);
                let runs = w.in_sockhash(me);
                let before = w.peers_entry(me);
                let d = if stale {
                    w.send_stale(idx[i], side, bytes)
                } else {
                    w.send(idx[i], side, bytes)
                }
                .map_err(|e| format!("{ev:?}: {e}"))?;
                debug_assert!(open[i][me_i]);
                st.messages += 1;
                let peer_open = open[i][peer_i];
                let redirected = matches!(d, Delivery::Redirected { .. });
                last_redirected[i][me_i] = redirected;
                if d == Delivery::Dropped {
                    return Err(format!("{ev:?}: message dropped"));
                }
                // Where the message lands: a redirect in the target's redirect queue (whoever
                // the target is), TCP in the peer's TCP queue unless the peer has closed.
                let id = streams.next;
                streams.next += 1;
                if !closed[i][peer_i] {
                    streams.sent.entry((i, dir)).or_default().push(id);
                }
                match d {
                    Delivery::Redirected { to, .. } => {
                        let at = (0..n)
                            .flat_map(|j| [(j, Side::Client), (j, Side::Server)])
                            .find(|(j, s)| {
                                idx[*j] != usize::MAX && w.socket(idx[*j], *s) == Some(to)
                            })
                            .map(|(j, s)| (j, dir_to(s)))
                            .ok_or_else(|| format!("{ev:?}: redirected to unknown socket {to}"))?;
                        streams.redirect_q.entry(at).or_default().push_back(id);
                    }
                    _ if !closed[i][peer_i] => {
                        streams.tcp_q.entry((i, dir)).or_default().push_back(id)
                    }
                    _ => {}
                }
                // The ordering property: within one connection and direction, once a message
                // went through TCP no later message is redirected (the receiver reads its
                // redirect queue before its TCP queue, so it would read them out of order).
                if redirected && via_tcp[i][dir] {
                    return Err(format!(
                        "{ev:?}: ordering: redirected after an earlier message of this direction went through TCP"
                    ));
                }
                if d == Delivery::Tcp {
                    via_tcp[i][dir] = true;
                }
                if !model {
                    continue;
                }
                if let Delivery::Redirected { to, ingress } = d {
                    if Some(to) != peer {
                        let who = (0..n)
                            .flat_map(|j| [(j, Side::Client), (j, Side::Server)])
                            .find(|(j, s)| {
                                idx[*j] != usize::MAX && w.socket(idx[*j], *s) == Some(to)
                            });
                        return Err(format!("{ev:?}: redirected to socket {to} ({who:?}), not to the other end of its own connection ({peer:?})"));
                    }
                    if !ingress {
                        return Err(format!("{ev:?}: redirected without BPF_F_INGRESS"));
                    }
                    if !sc.cookie
                        && (is_loopback(specs[i].client.ip())
                            || is_loopback(specs[i].server.ip())
                            || is_loopback(specs[i].dst.ip()))
                    {
                        return Err(format!("{ev:?}: loopback bypassed without netns cookies"));
                    }
                    if side == Side::Client && raced[i] {
                        return Err(format!(
                            "{ev:?}: the client sent before the server's PASSIVE_ESTABLISHED, yet this message was redirected"
                        ));
                    }
                    st.redirected += 1;
                    exp_bytes += u64::from(bytes);
                    if stale && before.as_deref().is_some_and(|v| v != &TAINT[..]) {
                        st.claimed_late += 1;
                    }
                } else if runs {
                    exp_nopeer += 1;
                }
                // Model: an unpaired client in the sockhash taints itself on its first send.
                if side == Side::Client && runs && !paired[i] {
                    tainted[i] = true;
                }
                // Model: the receive-queue fallback moves only its own direction to TCP; the
                // setsockopt guard both.
                let want = paired[i] && peer_open && !fell_back[i][dir] && !guarded[i];
                if strict && redirected != want {
                    return Err(format!(
                        "{ev:?}: redirected = {redirected}, but paired and peer open = {}, this direction fell back to TCP = {} and the connection is guarded = {}",
                        paired[i] && peer_open,
                        fell_back[i][dir],
                        guarded[i]
                    ));
                }
            }
            Ev::Fallback(i, side, stream) => {
                let (me_i, peer_i, dir) = if side == Side::Client {
                    (0, 1, C2S)
                } else {
                    (1, 0, S2C)
                };
                let r = w
                    .guard_fallback(idx[i], side, stream)
                    .map_err(|e| format!("{ev:?}: {e}"))?;
                // The guard runs after a redirect, once per message.
                let runs = std::mem::take(&mut last_redirected[i][me_i]);
                if r.is_some() != runs {
                    return Err(format!(
                        "{ev:?}: the guard acted = {}, but the socket's last message was redirected = {runs}",
                        r.is_some()
                    ));
                }
                match r {
                    Some(rc) => {
                        // A redirect means PEERS[own key] held the peer's key, so the BPF_ANY
                        // TAINT write replaces an entry: it cannot fail, even in a full map.
                        if model && rc != 0 {
                            return Err(format!("{ev:?}: the fallback's write failed: {rc}"));
                        }
                        fell_back[i][dir] = true;
                        if stream {
                            exp_stream += 1;
                        } else {
                            exp_fallback += 1;
                        }
                        st.fallbacks += 1;
                        st.fallbacks_peer_closed += !open[i][peer_i] as usize;
                    }
                    None => st.fallbacks_skipped += 1,
                }
            }
            Ev::Read(i, side) => {
                st.delivered += streams.read_all((i, dir_to(side)));
            }
            Ev::Setsockopt(i, side, k) => {
                let (level, optname, name, is_guarded) = SOCKOPTS[k];
                let (me_i, peer_i, dir) = if side == Side::Client {
                    (0, 1, C2S)
                } else {
                    (1, 0, S2C)
                };
                let me = w.socket(idx[i], side).unwrap();
                let before: HashMap<Vec<u8>, Vec<u8>> = peers_named(&w);
                let own_key = w.sock_key(me);
                let own_before = own_key.as_ref().and_then(|k| before.get(k)).cloned();
                // Observed: the guard acts iff the option is guarded and the socket's own
                // PEERS entry holds a peer's key.
                let fires = is_guarded && own_before.as_deref().is_some_and(|v| v != &TAINT[..]);
                w.setsockopt(idx[i], side, level, optname)
                    .map_err(|e| format!("{ev:?}: {e}"))?;
                // The socket lock orders this after the side's last sk_msg run, guard included.
                last_redirected[i][me_i] = false;
                st.sockopts += 1;
                if model {
                    // PEERS changes only where the guard writes: TAINT over its own entry and
                    // over its peer's, if that entry still exists.
                    let mut want = before.clone();
                    if fires {
                        let own = own_key.clone().unwrap();
                        let peer = own_before.clone().unwrap();
                        want.insert(own, TAINT.to_vec());
                        if let Some(v) = want.get_mut(&peer) {
                            *v = TAINT.to_vec();
                        }
                        exp_compat += 1;
                    }
                    let after: HashMap<Vec<u8>, Vec<u8>> = peers_named(&w);
                    if peers_diff && after != want {
                        let added = after.keys().filter(|k| !want.contains_key(*k)).count();
                        let removed = want.keys().filter(|k| !after.contains_key(*k)).count();
                        let changed = after
                            .iter()
                            .filter(|(k, v)| want.get(*k).is_some_and(|x| x != *v))
                            .count();
                        return Err(format!(
                            "{ev:?}: setsockopt({level}, {optname}) = {name}, the guard should write = {fires}: PEERS is not what it should be ({added} entries added, {removed} removed, {changed} changed)"
                        ));
                    }
                }
                // Model: a guarded option on a paired socket whose own direction is still
                // redirected moves both directions to TCP; nothing else changes anything.
                let pred = is_guarded && paired[i] && !fell_back[i][dir] && !guarded[i];
                if strict && pred != fires {
                    return Err(format!(
                        "{ev:?}: the guard acted = {fires}, but guarded option = {is_guarded}, paired = {}, this direction fell back = {}, connection guarded = {}",
                        paired[i], fell_back[i][dir], guarded[i]
                    ));
                }
                if fires {
                    guarded[i] = true;
                    st.guard_fired += 1;
                    st.guard_peer_closed += !open[i][peer_i] as usize;
                } else if is_guarded && !accepted[i] {
                    st.guard_before_pairing += 1;
                } else if is_guarded && paired[i] && guarded[i] {
                    st.guard_already_tainted += 1;
                } else if is_guarded && paired[i] && fell_back[i][dir] {
                    st.guard_after_fallback += 1;
                } else if !is_guarded && paired[i] && !fell_back[i][dir] && !guarded[i] {
                    st.unguarded_on_paired += 1;
                }
            }
            Ev::Close(i, side) => {
                // The application reads what is queued for it, then closes: from then on it
                // has read everything it will ever read.
                let at = (i, dir_to(side));
                st.delivered += streams.read_all(at);
                w.close(idx[i], side).map_err(|e| format!("{ev:?}: {e}"))?;
                if side == Side::Client {
                    // Its close takes its own ACTIVE entry out, and no other client's.
                    waiting[i] = false;
                }
                open[i][if side == Side::Client { 0 } else { 1 }] = false;
                closed[i][if side == Side::Client { 0 } else { 1 }] = true;
                // Delivery: every message sent to this side while it was open, once, in order.
                let read = streams.read.remove(&at).unwrap_or_default();
                let sent = streams.sent.remove(&at).unwrap_or_default();
                if read != sent {
                    let lost = streams.lost.get(&at).copied().unwrap_or(0);
                    return Err(format!(
                        "{ev:?}: delivery: conn{i} {}: the receiver read messages {read:?}, but was sent {sent:?} ({lost} redirected messages were queued when it left the sockhash while open)",
                        side_name(at.1)
                    ));
                }
            }
        }
        // A receiver that leaves the sockhash while open loses the messages queued in its
        // psock (the kernel frees them with the psock). The real programs never remove an
        // open socket; this makes a fallback that does it visible as lost messages.
        for (&(j, d), q) in streams.redirect_q.iter_mut() {
            let side = if d == C2S { Side::Server } else { Side::Client };
            let s = if side == Side::Server { 1 } else { 0 };
            if q.is_empty() || !open[j][s] {
                continue;
            }
            if let Some(r) = w.socket(idx[j], side) {
                if !w.in_sockhash(r) {
                    *streams.lost.entry((j, d)).or_default() += q.len();
                    q.clear();
                }
            }
        }
    }
    st.fallbacks_both_ends = (0..n)
        .filter(|i| fell_back[*i][C2S] && fell_back[*i][S2C])
        .count();
    if !model {
        return Ok(st);
    }
    // Every socket closed: no pairing state left.
    for (name, n) in [
        (names::PEERS, w.map_len(names::PEERS)),
        (names::ACTIVE, w.map_len(names::ACTIVE)),
        (names::SOCK_HASH, w.map_len(names::SOCK_HASH)),
    ] {
        if n != 0 {
            return Err(format!(
                "after every socket closed, {name} still has {n} entries"
            ));
        }
    }
    // Counters add up to what happened.
    let c = |k| w.counter(k);
    let got = [
        c(Counter::Inserted),
        c(Counter::Paired),
        c(Counter::Redirected),
        c(Counter::RedirectedBytes),
        c(Counter::NoPeer),
        c(Counter::TcpFirst),
        c(Counter::RcvqFallback),
        c(Counter::StreamFallback),
        c(Counter::CompatFallback),
    ];
    let want = [
        exp_inserted,
        st.paired as u64,
        st.redirected as u64,
        exp_bytes,
        exp_nopeer,
        exp_tcp_first,
        exp_fallback,
        exp_stream,
        exp_compat,
    ];
    if got != want {
        return Err(format!(
            "counters [inserted, paired, redirected, bytes, no_peer, tcp_first, rcvq_fallback, stream_fallback, compat_fallback] = {got:?}, expected {want:?}"
        ));
    }
    if c(Counter::StaleEntries) != 0 {
        return Err(format!(
            "stale_entries = {}: a socket found an entry an earlier socket left behind",
            c(Counter::StaleEntries)
        ));
    }
    if !full && (c(Counter::Errors), c(Counter::MapFull)) != (0, 0) {
        return Err(format!(
            "errors = {}, map_full = {} with roomy maps",
            c(Counter::Errors),
            c(Counter::MapFull)
        ));
    }
    Ok(st)
}

// ---- Strategies ----

fn plan() -> impl Strategy<Value = Plan> {
    (
        0..KINDS.len(),
        1..=3u64,
        1..=3u64,
        0..SERVER_PORTS.len(),
        prop::bool::weighted(0.5),
    )
        .prop_map(|(k, a, b, p, share)| Plan {
            kind: KINDS[k],
            client_ns: a,
            server_ns: b,
            port: SERVER_PORTS[p],
            share,
        })
}

/// One send while both ends are open.
#[derive(Debug, Clone)]
struct Step {
    client: bool,
    size: u32,
    /// A stale PEERS lookup (client sends only).
    stale: bool,
    /// The receive-queue guard finds the peer over its limit after this message.
    over: bool,
    /// ...by the small-write policy's test (`StreamFallback`) rather than the bound's.
    stream: bool,
    /// How many of the peer's following events the fallback may be moved past.
    delay: usize,
    /// The receiver reads everything queued after this message.
    read: bool,
    /// Then an option is set: by the receiver (else the sender), which one, and how many of
    /// the peer's following events it may be moved past.
    opt: Option<(bool, usize, usize)>,
}

/// An index into [`SOCKOPTS`]: a guarded option three times in five.
fn sockopt() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0..GUARDED, 2 => GUARDED..SOCKOPTS.len()]
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<bool>(),
        1..5000u32,
        proptest::bool::weighted(0.25),
        proptest::bool::weighted(0.2),
        any::<bool>(),
        0..3usize,
        proptest::bool::weighted(0.2),
        proptest::option::weighted(0.15, (any::<bool>(), sockopt(), 0..4usize)),
    )
        .prop_map(
            |(client, size, stale, over, stream, delay, read, opt)| Step {
                client,
                size,
                stale,
                over,
                stream,
                delay,
                read,
                opt,
            },
        )
}

/// Per connection: client sends before the server's `PASSIVE_ESTABLISHED` (the race),
/// sends while both are open, who closes first, sends from the survivor (size, over the
/// receive-queue limit?).
#[derive(Debug, Clone)]
struct Life {
    early: Vec<u32>,
    /// The client sets an option before its server is established.
    early_opt: Option<usize>,
    sends: Vec<Step>,
    client_first: bool,
    /// The survivor's sends: size, over the receive-queue limit, an option set after it.
    after: Vec<(u32, bool, Option<usize>)>,
}

/// `race` out of 4 connections (on average) have early client sends.
fn life(race: u32) -> impl Strategy<Value = Life> {
    let early = prop_oneof![
        4 - race => Just(Vec::new()),
        race => proptest::collection::vec(1..5000u32, 1..3),
    ];
    (
        early,
        proptest::option::weighted(0.1, sockopt()),
        proptest::collection::vec(step(), 0..5),
        any::<bool>(),
        proptest::collection::vec(
            (
                1..5000u32,
                proptest::bool::weighted(0.2),
                proptest::option::weighted(0.2, sockopt()),
            ),
            0..2,
        ),
    )
        .prop_map(|(early, early_opt, sends, client_first, after)| Life {
            early,
            early_opt,
            sends,
            client_first,
            after,
        })
}

/// Whether `ev` is something `side` of connection `i` does itself (its socket lock orders it
/// with that side's `sk_msg` run, so a fallback is never moved past it).
fn own_event(ev: &Ev, i: usize, side: Side) -> bool {
    match *ev {
        Ev::Send(j, s, _)
        | Ev::Fallback(j, s, _)
        | Ev::Read(j, s)
        | Ev::Close(j, s)
        | Ev::Setsockopt(j, s, _) => j == i && s == side,
        Ev::SendStale(j, _) => j == i && side == Side::Client,
        Ev::Connect(j) => j == i && side == Side::Client,
        Ev::Accept(j) => j == i,
    }
}

/// The events of one connection, in order.
fn life_events(i: usize, l: &Life) -> Vec<Ev> {
    let other = |s: Side| {
        if s == Side::Client {
            Side::Server
        } else {
            Side::Client
        }
    };
    // (event, how far a fallback may move past the peer's events)
    let mut q: Vec<(Ev, usize)> = vec![(Ev::Connect(i), 0)];
    q.extend(l.early.iter().map(|n| (Ev::Send(i, Side::Client, *n), 0)));
    if let Some(k) = l.early_opt {
        q.push((Ev::Setsockopt(i, Side::Client, k), 0));
    }
    q.push((Ev::Accept(i), 0));
    for st in &l.sends {
        let side = if st.client {
            Side::Client
        } else {
            Side::Server
        };
        q.push((
            match (st.client, st.stale) {
                (true, true) => Ev::SendStale(i, st.size),
                (true, false) => Ev::Send(i, Side::Client, st.size),
                (false, _) => Ev::Send(i, Side::Server, st.size),
            },
            0,
        ));
        if st.over {
            q.push((Ev::Fallback(i, side, st.stream), st.delay));
        }
        if st.read {
            q.push((Ev::Read(i, other(side)), 0));
        }
        if let Some((receiver, k, delay)) = st.opt {
            let who = if receiver { other(side) } else { side };
            q.push((Ev::Setsockopt(i, who, k), delay));
        }
    }
    let (first, second) = if l.client_first {
        (Side::Client, Side::Server)
    } else {
        (Side::Server, Side::Client)
    };
    q.push((Ev::Close(i, first), 0));
    for (n, over, opt) in &l.after {
        q.push((Ev::Send(i, second, *n), 0));
        if *over {
            q.push((Ev::Fallback(i, second, false), 0));
        }
        if let Some(k) = opt {
            q.push((Ev::Setsockopt(i, second, *k), 0));
        }
    }
    q.push((Ev::Close(i, second), 0));
    // Fallbacks and setsockopt calls racing the peer: moved past up to `delay` of the peer's
    // events (from the end, so a moved event is not moved again).
    for p in (0..q.len()).rev() {
        let (Ev::Fallback(_, side, _) | Ev::Setsockopt(_, side, _), delay) = q[p] else {
            continue;
        };
        let mut at = p;
        while at + 1 < q.len() && at - p < delay && !own_event(&q[at + 1].0, i, side) {
            q.swap(at, at + 1);
            at += 1;
        }
    }
    q.into_iter().map(|(e, _)| e).collect()
}

fn interleave(lives: &[Life], picks: &[u16]) -> Vec<Ev> {
    let mut queues: Vec<Vec<Ev>> = lives
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut q = life_events(i, l);
            q.reverse();
            q
        })
        .collect();
    let mut out = Vec::new();
    let mut k = 0;
    loop {
        let live: Vec<usize> = (0..queues.len())
            .filter(|i| !queues[*i].is_empty())
            .collect();
        if live.is_empty() {
            return out;
        }
        let pick = picks.get(k).copied().unwrap_or(0) as usize;
        k += 1;
        let q = live[pick % live.len()];
        out.push(queues[q].pop().unwrap());
    }
}

/// Scenarios with `conns` connections; `cookie` fixed or random; about one connection in
/// four races its handshake (the client sends before the server is established).
pub fn scenario(
    conns: std::ops::RangeInclusive<usize>,
    cookie: Option<bool>,
    capacity: Option<std::ops::RangeInclusive<u32>>,
) -> impl Strategy<Value = Scenario> {
    scenario_with(conns, cookie, capacity, 1)
}

/// Like [`scenario`], but three connections in four race their handshake.
pub fn racy_scenario(
    conns: std::ops::RangeInclusive<usize>,
    cookie: Option<bool>,
    capacity: Option<std::ops::RangeInclusive<u32>>,
) -> impl Strategy<Value = Scenario> {
    scenario_with(conns, cookie, capacity, 3)
}

fn scenario_with(
    conns: std::ops::RangeInclusive<usize>,
    cookie: Option<bool>,
    capacity: Option<std::ops::RangeInclusive<u32>>,
    race: u32,
) -> impl Strategy<Value = Scenario> {
    let cookie = match cookie {
        Some(c) => Just(c).boxed(),
        None => any::<bool>().boxed(),
    };
    let cap = match capacity {
        Some(r) => r.prop_map(Some).boxed(),
        None => Just(None).boxed(),
    };
    (
        cookie,
        proptest::sample::subsequence((0..PREFIXES.len()).collect::<Vec<_>>(), 0..=PREFIXES.len()),
        proptest::sample::subsequence(EXCLUDABLE.to_vec(), 0..=2),
        1..=4usize,
        any::<u64>(),
        cap,
        proptest::collection::vec((plan(), life(race)), conns),
        proptest::collection::vec(any::<u16>(), 0..64),
    )
        .prop_map(
            |(cookie, prefixes, excluded, ncpus, seed, capacity, conns, picks)| {
                let (plans, lives): (Vec<Plan>, Vec<Life>) = conns.into_iter().unzip();
                let events = interleave(&lives, &picks);
                Scenario {
                    cookie,
                    prefixes,
                    excluded,
                    ncpus,
                    seed,
                    capacity,
                    plans,
                    events,
                }
            },
        )
}

/// The real programs for both cookie settings.
pub fn real() -> [Programs; 2] {
    [
        Programs::real(&programs::Config {
            netns_cookie: false,
            rcvq_guard: None,
        })
        .unwrap(),
        Programs::real(&programs::Config {
            netns_cookie: true,
            ..Default::default()
        })
        .unwrap(),
    ]
}

/// PEERS as the keys its values name (a peer's key, or TAINT), without the backlog counts.
fn peers_named(w: &World) -> HashMap<Vec<u8>, Vec<u8>> {
    w.map_entries(names::PEERS)
        .into_iter()
        .map(|(k, mut v)| {
            v.truncate(programs::key::CONN_KEY_LEN);
            (k, v)
        })
        .collect()
}
