//! `tcpbypass connections`: what the bypass maps hold, like `ss`: every socket in the
//! sockhash, grouped with its peer into connections, each end with its state (see [`State`])
//! and its network namespace named ([`crate::netns`]).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use loader::Map;
use programs::key::{denormalize, ConnKey, CONN_KEY_LEN};
use programs::names;

use crate::bypass::{Installed, PinState, Pins};
use crate::cli::ConnectionsArgs;
use crate::commands::{pin_state, require_bpf};
use crate::json::Json;

/// The state of one socket of the sockhash, from its own PEERS entry, its peer's, and ACTIVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Its PEERS entry names its peer, which is in the sockhash: what it sends is redirected.
    /// Normally the peer's entry names it back; when the peer is in `Fallback`, only this
    /// direction is still redirected.
    Paired,
    /// A client waiting in ACTIVE for its server (no PEERS entry yet).
    Waiting,
    /// Its PEERS entry is TAINT and no peer entry names it: it sent through TCP before it was
    /// paired (`tcp_first`, or a server whose client did), or the setsockopt guard moved both
    /// ends to TCP (`compat_fallback`). Never redirected again.
    Tcp,
    /// Its PEERS entry is TAINT while its peer's entry still names it: its own direction moved
    /// to TCP (the receive-queue bound, `rcvq_fallback`); the peer's is still redirected.
    Fallback,
    /// In the sockhash without a live peer: no PEERS entry and not in ACTIVE (a server whose
    /// client was tainted, a socket not yet linked), or its PEERS entry names a socket that
    /// has closed. What it sends goes through TCP.
    Unpaired,
}

impl State {
    /// The name in listings and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            State::Paired => "paired",
            State::Waiting => "waiting",
            State::Tcp => "tcp",
            State::Fallback => "fallback",
            State::Unpaired => "unpaired",
        }
    }

    /// Which end's state a connection shows: the one furthest from a full bypass.
    fn weight(self) -> u8 {
        match self {
            State::Paired => 0,
            State::Unpaired => 1,
            State::Waiting => 2,
            State::Fallback => 3,
            State::Tcp => 4,
        }
    }

    /// Every state, in summary order.
    pub const ALL: [State; 5] = [
        State::Paired,
        State::Waiting,
        State::Tcp,
        State::Fallback,
        State::Unpaired,
    ];
}

/// One socket of the sockhash and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// Its key (its own view: local and remote).
    pub key: ConnKey,
    /// Its state.
    pub state: State,
}

/// One connection: one or two sockets of the sockhash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// Its sockets (the peer second, when it is in the sockhash).
    pub ends: Vec<End>,
}

impl Conn {
    /// The connection's state: its ends' state furthest from a full bypass.
    pub fn state(&self) -> State {
        self.ends
            .iter()
            .map(|e| e.state)
            .max_by_key(|s| s.weight())
            .unwrap_or(State::Unpaired)
    }
}

/// What the three connection maps hold.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Keys of the sockhash.
    pub socks: Vec<ConnKey>,
    /// PEERS: own key → the peer's key, or TAINT.
    pub peers: HashMap<ConnKey, ConnKey>,
    /// The clients waiting in ACTIVE (its values).
    pub waiting: HashSet<ConnKey>,
}

fn conn_keys(map: &Map) -> Result<Vec<ConnKey>> {
    crate::bypass::distinct_keys(map)?
        .iter()
        .map(|k| Ok(ConnKey::from_bytes(k)?))
        .collect()
}

/// Key → value of a map whose values start with a `ConnKey` (PEERS: the key; ACTIVE: a
/// `Waiting`, whose first 48 bytes are the client's key); entries deleted meanwhile are
/// skipped.
fn conn_values(map: &Map) -> Result<Vec<(Vec<u8>, ConnKey)>> {
    let mut out = Vec::new();
    for k in map.keys() {
        let k = k.with_context(|| format!("listing {}", map.name()))?;
        if let Some(v) = map
            .get(&k)
            .with_context(|| format!("reading {}", map.name()))?
        {
            let key = v.get(..CONN_KEY_LEN).unwrap_or(&v);
            out.push((k, ConnKey::from_bytes(key)?));
        }
    }
    Ok(out)
}

impl Snapshot {
    /// Reads the maps of an installed bypass (a missing map reads as empty).
    pub fn read(inst: &Installed) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        if let Some(m) = inst.map(names::SOCK_HASH) {
            s.socks = conn_keys(m)?;
        }
        if let Some(m) = inst.map(names::PEERS) {
            for (k, v) in conn_values(m)? {
                s.peers.insert(ConnKey::from_bytes(&k)?, v);
            }
        }
        if let Some(m) = inst.map(names::ACTIVE) {
            s.waiting = conn_values(m)?.into_iter().map(|(_, v)| v).collect();
        }
        Ok(s)
    }

    /// The state of the socket `k` (see [`State`]).
    fn state(&self, k: &ConnKey, socks: &HashSet<ConnKey>, named_by: &HashSet<ConnKey>) -> State {
        match self.peers.get(k) {
            Some(v) if v.is_taint() => {
                if named_by.contains(k) {
                    State::Fallback
                } else {
                    State::Tcp
                }
            }
            Some(v) if socks.contains(v) => State::Paired,
            Some(_) => State::Unpaired,
            None if self.waiting.contains(k) => State::Waiting,
            None => State::Unpaired,
        }
    }

    /// Groups the sockets into connections: by PEERS when an entry names a socket of the
    /// sockhash, else by the mirrored 4-tuple (a server kept on TCP has no PEERS link to its
    /// client). Sorted by the first end's key.
    pub fn connections(&self) -> Vec<Conn> {
        let socks: HashSet<ConnKey> = self.socks.iter().copied().collect();
        // Sockets a live (non-TAINT) PEERS entry of another socket names.
        let named_by: HashSet<ConnKey> = self
            .peers
            .values()
            .filter(|v| !v.is_taint())
            .copied()
            .collect();
        type Tuple = (std::net::Ipv6Addr, u32, std::net::Ipv6Addr, u32);
        let mut by_tuple: HashMap<Tuple, Vec<ConnKey>> = HashMap::new();
        for k in &self.socks {
            by_tuple
                .entry((k.local, k.local_port, k.remote, k.remote_port))
                .or_default()
                .push(*k);
        }
        let mut sorted = self.socks.clone();
        sorted.sort_by_key(sort_key);
        let mut done: HashSet<ConnKey> = HashSet::new();
        let mut out = Vec::new();
        for k in sorted {
            if !done.insert(k) {
                continue;
            }
            let linked = self
                .peers
                .get(&k)
                .filter(|p| !p.is_taint() && socks.contains(p) && !done.contains(p))
                .copied();
            let mirrored = || {
                let c = by_tuple.get(&(k.remote, k.remote_port, k.local, k.local_port))?;
                let free = |p: &&ConnKey| !done.contains(*p) && **p != k;
                c.iter()
                    .filter(free)
                    .find(|p| p.netns_cookie == k.netns_cookie)
                    .or_else(|| c.iter().find(free))
                    .copied()
            };
            let mut ends = vec![End {
                key: k,
                state: self.state(&k, &socks, &named_by),
            }];
            if let Some(p) = linked.or_else(mirrored) {
                done.insert(p);
                ends.push(End {
                    key: p,
                    state: self.state(&p, &socks, &named_by),
                });
            }
            out.push(Conn { ends });
        }
        out
    }
}

/// Listing order: namespace, the server's end (the lower port), the client's port; within a
/// connection the client's end (the higher, ephemeral port) first, as `ss` shows a client.
fn sort_key(k: &ConnKey) -> (u64, std::net::Ipv6Addr, u32, u32, bool) {
    let is_server = k.local_port < k.remote_port;
    let (srv, srv_port) = if is_server {
        (k.local, k.local_port)
    } else {
        (k.remote, k.remote_port)
    };
    (
        k.netns_cookie,
        srv,
        srv_port,
        k.local_port.max(k.remote_port),
        is_server,
    )
}

fn addr(ip: std::net::Ipv6Addr, port: u32) -> String {
    SocketAddr::new(denormalize(ip), u16::try_from(port).unwrap_or(0)).to_string()
}

/// The namespace of a key as shown: its label, else the cookie; `-` without cookies.
fn netns_text(cookie: u64, with_cookies: bool, names: &HashMap<u64, String>) -> String {
    if !with_cookies {
        return "-".into();
    }
    names
        .get(&cookie)
        .cloned()
        .unwrap_or_else(|| cookie.to_string())
}

fn end_json(e: &End, with_cookies: bool, names: &HashMap<u64, String>) -> Json {
    Json::obj()
        .with("local", addr(e.key.local, e.key.local_port))
        .with("remote", addr(e.key.remote, e.key.remote_port))
        .with("netns_cookie", with_cookies.then_some(e.key.netns_cookie))
        .with(
            "netns",
            if with_cookies {
                names.get(&e.key.netns_cookie).cloned()
            } else {
                None
            },
        )
        .with("state", e.state.name())
}

/// How many connections are in each state, as `paired 2, waiting 0, …`.
pub fn summary(conns: &[Conn]) -> Vec<(State, usize)> {
    State::ALL
        .iter()
        .map(|s| (*s, conns.iter().filter(|c| c.state() == *s).count()))
        .collect()
}

/// `tcpbypass connections`.
pub fn run(args: &ConnectionsArgs) -> Result<ExitCode> {
    require_bpf()?;
    let pins = Pins::new(&args.pins.pin_dir);
    if pin_state(&pins)? != PinState::Ours {
        super::print_not_loaded(&pins, args.json);
        return Ok(ExitCode::SUCCESS);
    }
    let inst = Installed::open(&pins)?;
    let snap = Snapshot::read(&inst)?;
    let conns = snap.connections();
    let with_cookies = inst.meta.netns_cookie;
    let names = if with_cookies && !conns.is_empty() {
        crate::netns::resolve()
    } else {
        HashMap::new()
    };
    let counts = summary(&conns);
    if args.json {
        let mut sj = Json::obj().with("connections", conns.len());
        for (s, n) in &counts {
            sj = sj.with(s.name(), *n);
        }
        let list: Vec<Json> = conns
            .iter()
            .map(|c| {
                Json::obj().with("state", c.state().name()).with(
                    "ends",
                    c.ends
                        .iter()
                        .map(|e| end_json(e, with_cookies, &names))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let j = Json::obj()
            .with("schema", 1u32)
            .with("loaded", true)
            .with("pin_dir", pins.dir.display().to_string())
            .with("netns_cookie", with_cookies)
            .with("sockets", snap.socks.len())
            .with("summary", sj)
            .with("connections", list);
        println!("{}", j.render());
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "STATE".to_string(),
        "LOCAL".into(),
        "NETNS".into(),
        "PEER".into(),
        "NETNS".into(),
        "ENDS".into(),
    ]];
    for c in &conns {
        let Some(a) = c.ends.first() else { continue };
        let (peer_ns, peer_state) = match c.ends.get(1) {
            Some(b) => (
                netns_text(b.key.netns_cookie, with_cookies, &names),
                b.state.name(),
            ),
            None => ("-".to_string(), "-"),
        };
        rows.push([
            c.state().name().to_string(),
            addr(a.key.local, a.key.local_port),
            netns_text(a.key.netns_cookie, with_cookies, &names),
            addr(a.key.remote, a.key.remote_port),
            peer_ns,
            format!("{}/{}", a.state.name(), peer_state),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    println!(
        "{} sockets in {} connections: {}",
        snap.socks.len(),
        conns.len(),
        parts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use programs::key::TAINT;

    fn key(cookie: u64, local: &str, remote: &str) -> ConnKey {
        ConnKey::new(cookie, local.parse().unwrap(), remote.parse().unwrap())
    }

    fn taint() -> ConnKey {
        ConnKey::from_bytes(&TAINT).unwrap()
    }

    fn states(s: &Snapshot) -> Vec<(State, Vec<State>)> {
        s.connections()
            .iter()
            .map(|c| (c.state(), c.ends.iter().map(|e| e.state).collect()))
            .collect()
    }

    #[test]
    fn each_state_follows_the_maps() {
        let c = key(7, "127.0.0.1:40000", "127.0.0.1:5000");
        let s = key(7, "127.0.0.1:5000", "127.0.0.1:40000");
        let mut snap = Snapshot {
            socks: vec![s, c],
            ..Snapshot::default()
        };
        // Both linked: paired, one connection, the client (higher port) first.
        snap.peers.insert(c, s);
        snap.peers.insert(s, c);
        let conns = snap.connections();
        assert_eq!(conns.len(), 1);
        assert_eq!(conns[0].ends[0].key, c);
        assert_eq!(states(&snap), [(State::Paired, vec![State::Paired; 2])]);
        // The receive-queue bound: the client's own entry tainted, the server's still names it.
        snap.peers.insert(c, taint());
        assert_eq!(
            states(&snap),
            [(State::Fallback, vec![State::Fallback, State::Paired])]
        );
        // The guard: both tainted.
        snap.peers.insert(s, taint());
        assert_eq!(states(&snap), [(State::Tcp, vec![State::Tcp; 2])]);
        // A client that wrote first: tainted, its server unlinked; grouped by the 4-tuple.
        snap.peers.remove(&s);
        assert_eq!(
            states(&snap),
            [(State::Tcp, vec![State::Tcp, State::Unpaired])]
        );
        // A client waiting for its server, alone in the sockhash.
        let lone = Snapshot {
            socks: vec![c],
            waiting: [c].into_iter().collect(),
            ..Snapshot::default()
        };
        assert_eq!(states(&lone), [(State::Waiting, vec![State::Waiting])]);
        // Its peer closed: the entry names a socket no longer in the sockhash.
        let gone = Snapshot {
            socks: vec![c],
            peers: [(c, s)].into_iter().collect(),
            ..Snapshot::default()
        };
        assert_eq!(states(&gone), [(State::Unpaired, vec![State::Unpaired])]);
    }

    #[test]
    fn namespaces_keep_connections_apart() {
        // The same 4-tuple in two namespaces: two connections, each paired within its own.
        let mk = |n| {
            (
                key(n, "127.0.0.1:40000", "127.0.0.1:5000"),
                key(n, "127.0.0.1:5000", "127.0.0.1:40000"),
            )
        };
        let (c1, s1) = mk(1);
        let (c2, s2) = mk(2);
        let snap = Snapshot {
            socks: vec![c1, s2, c2, s1],
            peers: [(c1, s1), (s1, c1)].into_iter().collect(),
            ..Snapshot::default()
        };
        let conns = snap.connections();
        assert_eq!(conns.len(), 2);
        for c in &conns {
            assert_eq!(c.ends.len(), 2);
            assert_eq!(c.ends[0].key.netns_cookie, c.ends[1].key.netns_cookie);
        }
        let counts = summary(&conns);
        assert_eq!(counts[0], (State::Paired, 1));
        assert_eq!(counts[4], (State::Unpaired, 1));
    }
}
