//! The connection simulator: sockets in network namespaces, driven through the callbacks in
//! the order the kernel runs them, with the bypass programs loaded in the harness.
//!
//! - `connect`: the client's `ACTIVE_ESTABLISHED` (the client handles the SYN-ACK first);
//! - `accept`: the server's `PASSIVE_ESTABLISHED` (its ACK creates the server socket);
//! - `send`: if the sending socket is in the sockhash, the `sk_msg` program runs (it is
//!   attached to the sockhash, so other sockets never see it) and the simulator records where
//!   the message went; otherwise plain TCP. A client may send between its `connect` and the
//!   server's `accept` (the race of a first write with the handshake's last ACK);
//! - `send_stale`: a `send` whose first PEERS lookup misses, as when the server's
//!   `PASSIVE_ESTABLISHED` lands on another CPU between the `sk_msg` program's lookup and its
//!   TAINT write (programs run atomically here; this injects that interleaving);
//! - `close`: the kernel unlinks the socket from every sockhash, then, if the program asked
//!   for it with `BPF_SOCK_OPS_STATE_CB_FLAG`, runs `STATE_CB` for each state change to
//!   `TCP_CLOSE`; the other end sees `ESTABLISHED → CLOSE_WAIT` (a `STATE_CB` that is not a
//!   close).
//! - `rcvq_fallback`: the effect of the receive-queue bound (`programs::RcvqGuard`) deciding
//!   "over" for the message a socket just redirected. The guarded program calls the
//!   `bpf_rdonly_cast` kfunc, which rbpf cannot run, so the worlds here load `sk_msg` without
//!   the guard and this event applies what the guard's `over` path does to the maps:
//!   `PEERS[own key] = TAINT` with `BPF_ANY` and `RcvqFallback += 1` on the CPU it runs on
//!   (the message itself stays redirected, the `redirected` counters were already counted by
//!   the run). The guard runs only after a successful `bpf_msg_redirect_hash`, so the event
//!   does nothing unless the socket's last message was redirected; and it applies at most
//!   once per message. Events of other sockets (the peer's sends, the peer's close) may come
//!   between the message and its fallback, as when the guard runs on one CPU while the peer
//!   closes on another.
//! - `setsockopt`: the application sets an option on an open socket: the real
//!   `cgroup/setsockopt` guard (`programs::setsockopt`, no kfunc, so rbpf runs it) runs on a
//!   `struct bpf_sockopt` whose `sk` points to a `struct bpf_sock` image of the socket, for
//!   every socket (in the sockhash or not), as the cgroup hook does. The kernel runs it under
//!   the socket's lock, as it runs the socket's `sk_msg`: a receive-queue fallback of the
//!   socket's last message can no longer come after it.

use std::net::SocketAddr;

use asm::Program;

use crate::ctx::{self, SockAddrs};
use crate::kernel::{self, Kernel, ProgKind, SockState};
use crate::maps::{MapSpec, SockId};
use crate::uapi;
use crate::vm::{self, HarnessError, Loaded};

/// The programs under test and their maps (the real ones, or mutants).
#[derive(Debug, Clone)]
pub struct Programs {
    /// The sock_ops program.
    pub sock_ops: Program,
    /// The sk_msg program.
    pub sk_msg: Program,
    /// The `cgroup/setsockopt` guard.
    pub setsockopt: Program,
    /// The maps both use.
    pub maps: Vec<MapSpec>,
    /// What [`World::rcvq_fallback`] does: the receive-queue guard's `over` path, emulated
    /// (rbpf cannot run the guarded program), or a deliberately wrong variant of it.
    pub rcvq_fallback: Fallback,
}

/// The emulated `over` path of the receive-queue guard (see [`World::rcvq_fallback`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// What `programs::sk_msg` does (`fn rcvq_guard`, label `over`): `PEERS[own key] = TAINT`
    /// with `BPF_ANY`, then `RcvqFallback += 1`.
    #[default]
    TaintOwn,
    /// Mutant: TAINT written over the *peer's* PEERS entry (under the key the sender's entry
    /// points to) instead of the sender's own.
    TaintPeer,
    /// Mutant: the sender deleted from the sockhash instead of tainted (its `sk_msg` stops
    /// running, so it sends through TCP, but its psock — and the messages the peer redirected
    /// into it and it has not read — goes with it).
    UnlinkOwn,
    /// Mutant: counts `RcvqFallback` but writes nothing.
    CountOnly,
}

/// The maps of `programs::maps()` as harness specs.
pub fn real_maps() -> Vec<MapSpec> {
    programs::maps()
        .iter()
        .map(|m| MapSpec {
            name: m.name.to_string(),
            map_type: m.kind.uapi_type(),
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            flags: m.flags,
        })
        .collect()
}

impl Programs {
    /// The real programs built for `cfg`.
    pub fn real(cfg: &programs::Config) -> Result<Programs, asm::AsmError> {
        Ok(Programs {
            sock_ops: programs::sock_ops(cfg)?,
            sk_msg: programs::sk_msg(cfg)?,
            setsockopt: programs::setsockopt(cfg)?,
            maps: real_maps(),
            rcvq_fallback: Fallback::TaintOwn,
        })
    }
}

/// The host configuration a world starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// PREFIXES entries: address and prefix length (IPv4 lengths are 0–32; stored mapped).
    pub prefixes: Vec<(std::net::IpAddr, u8)>,
    /// EXCLUDED_PORTS entries.
    pub excluded_ports: Vec<u16>,
    /// Number of CPUs for the per-CPU counters.
    pub ncpus: usize,
    /// Seed of the per-run CPU choice.
    pub seed: u64,
    /// If set, the capacity of SOCK_HASH, PEERS and ACTIVE (to exercise full maps).
    pub conn_capacity: Option<u32>,
}

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The socket that called `connect()`.
    Client,
    /// The socket `accept()` returned.
    Server,
}

/// What a connection looks like from both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnSpec {
    /// Client's namespace cookie.
    pub client_ns: u64,
    /// Server's namespace cookie.
    pub server_ns: u64,
    /// The client socket's family.
    pub client_family: u32,
    /// The server socket's family (AF_INET6 for a dual-stack server of an IPv4 client).
    pub server_family: u32,
    /// The client's local address and port.
    pub client: SocketAddr,
    /// What the client connected to (a virtual address under DNAT, the original
    /// destination under REDIRECT).
    pub dst: SocketAddr,
    /// The server socket's local address and port (where the packets really arrive).
    pub server: SocketAddr,
}

/// Where one message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Through the TCP stack.
    Tcp,
    /// Into a socket's queue: the target and whether `BPF_F_INGRESS` was set.
    Redirected {
        /// Target socket.
        to: SockId,
        /// `BPF_F_INGRESS`.
        ingress: bool,
    },
    /// The verdict was `SK_DROP`.
    Dropped,
}

#[derive(Debug, Clone)]
struct Socket {
    addrs: SockAddrs,
    /// `snd_nxt` and `rcv_nxt` at establishment: the two initial sequence numbers + 1.
    seq: (u32, u32),
    open: bool,
    /// Its last message was redirected and the guard has not yet acted on it.
    guard_pending: bool,
}

/// A simulated host. Installs the emulated kernel on this thread; dropping it removes it.
#[derive(Debug)]
pub struct World {
    sock_ops: Loaded,
    sk_msg: Loaded,
    setsockopt: Loaded,
    sockets: Vec<Socket>,
    conns: Vec<(ConnSpec, SockId, Option<SockId>)>,
    fallback: Fallback,
}

impl Drop for World {
    fn drop(&mut self) {
        kernel::uninstall();
    }
}

/// The initial sequence numbers (client's, server's) of connection `conn`: distinct per
/// connection, as the kernel's random ones are (a splitmix of the index).
fn isns(conn: usize) -> (u32, u32) {
    let mut z = (conn as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z as u32, (z >> 32) as u32)
}

fn sim_err(msg: String) -> HarnessError {
    HarnessError::Violation(vec![msg])
}

impl World {
    /// Loads `progs`, creates their maps and fills PREFIXES and EXCLUDED_PORTS.
    pub fn new(progs: &Programs, setup: &Setup) -> Result<World, HarnessError> {
        let mut maps = progs.maps.clone();
        if let Some(cap) = setup.conn_capacity {
            for m in &mut maps {
                if [
                    programs::names::SOCK_HASH,
                    programs::names::PEERS,
                    programs::names::ACTIVE,
                ]
                .contains(&m.name.as_str())
                {
                    m.max_entries = cap;
                }
            }
        }
        let sock_ops = vm::load(&progs.sock_ops, ProgKind::SockOps, &maps)?;
        let sk_msg = vm::load(&progs.sk_msg, ProgKind::SkMsg, &maps)?;
        let setsockopt = vm::load(&progs.setsockopt, ProgKind::Sockopt, &maps)?;
        kernel::install(Kernel::new(&maps, setup.ncpus, setup.seed));
        let w = World {
            sock_ops,
            sk_msg,
            setsockopt,
            sockets: Vec::new(),
            conns: Vec::new(),
            fallback: progs.rcvq_fallback,
        };
        kernel::with_kernel(|k| -> Result<(), HarnessError> {
            for (ip, len) in &setup.prefixes {
                let plen = match ip {
                    std::net::IpAddr::V4(_) => 96 + u32::from((*len).min(32)),
                    std::net::IpAddr::V6(_) => u32::from((*len).min(128)),
                };
                let mut key = plen.to_le_bytes().to_vec();
                key.extend_from_slice(&ctx::addr16(*ip));
                let m = k
                    .map_mut(programs::names::PREFIXES)
                    .ok_or_else(|| sim_err("no PREFIXES map".into()))?;
                let r = m.update(&key, &1u32.to_le_bytes(), uapi::BPF_ANY, 0);
                if r != 0 {
                    return Err(sim_err(format!("PREFIXES update: {r}")));
                }
            }
            for p in &setup.excluded_ports {
                let m = k
                    .map_mut(programs::names::EXCLUDED_PORTS)
                    .ok_or_else(|| sim_err("no EXCLUDED_PORTS map".into()))?;
                let r = m.update(
                    &u32::from(*p).to_le_bytes(),
                    &1u32.to_le_bytes(),
                    uapi::BPF_ANY,
                    0,
                );
                if r != 0 {
                    return Err(sim_err(format!("EXCLUDED_PORTS update: {r}")));
                }
            }
            Ok(())
        })?;
        Ok(w)
    }

    fn new_socket(&mut self, ns: u64, addrs: SockAddrs, seq: (u32, u32)) -> SockId {
        let id = self.sockets.len() as SockId + 1;
        self.sockets.push(Socket {
            addrs,
            seq,
            open: true,
            guard_pending: false,
        });
        kernel::with_kernel(|k| {
            k.sockets.insert(
                id,
                SockState {
                    netns_cookie: ns,
                    cb_flags: 0,
                },
            )
        });
        id
    }

    fn sock(&self, id: SockId) -> &Socket {
        &self.sockets[(id - 1) as usize]
    }

    fn run_sock_ops(
        &self,
        id: SockId,
        op: u32,
        args: [u32; 4],
        state: u32,
    ) -> Result<(), HarnessError> {
        let flags = kernel::with_kernel(|k| k.sockets.get(&id).map(|s| s.cb_flags).unwrap_or(0));
        let mut img = ctx::sock_ops_image(op, args, &self.sock(id).addrs, flags, state);
        let (snd_nxt, rcv_nxt) = self.sock(id).seq;
        ctx::set_seq(&mut img, snd_nxt, rcv_nxt);
        let r = self.sock_ops.run(id, op, &mut img, &[])?;
        if r.ret != 1 {
            return Err(sim_err(format!("sock_ops returned {} for op {op}", r.ret)));
        }
        Ok(())
    }

    /// The client connects: creates its socket and runs `ACTIVE_ESTABLISHED`. Returns the
    /// connection's index.
    pub fn connect(&mut self, spec: &ConnSpec) -> Result<usize, HarnessError> {
        let addrs = SockAddrs {
            family: spec.client_family,
            local: spec.client.ip(),
            local_port: spec.client.port(),
            remote: spec.dst.ip(),
            remote_port: spec.dst.port(),
        };
        let (client_isn, server_isn) = isns(self.conns.len());
        let id = self.new_socket(
            spec.client_ns,
            addrs,
            (client_isn.wrapping_add(1), server_isn.wrapping_add(1)),
        );
        self.conns.push((*spec, id, None));
        self.run_sock_ops(
            id,
            uapi::ACTIVE_ESTABLISHED_CB,
            [0; 4],
            uapi::TCP_ESTABLISHED,
        )?;
        Ok(self.conns.len() - 1)
    }

    /// The server side of connection `conn` is established: `PASSIVE_ESTABLISHED`.
    pub fn accept(&mut self, conn: usize) -> Result<(), HarnessError> {
        let spec = self.conns[conn].0;
        let addrs = SockAddrs {
            family: spec.server_family,
            local: spec.server.ip(),
            local_port: spec.server.port(),
            remote: spec.client.ip(),
            remote_port: spec.client.port(),
        };
        let (client_isn, server_isn) = isns(conn);
        let id = self.new_socket(
            spec.server_ns,
            addrs,
            (server_isn.wrapping_add(1), client_isn.wrapping_add(1)),
        );
        self.conns[conn].2 = Some(id);
        self.run_sock_ops(
            id,
            uapi::PASSIVE_ESTABLISHED_CB,
            [0; 4],
            uapi::TCP_ESTABLISHED,
        )
    }

    /// The socket of one side (`None` for a server not accepted yet).
    pub fn socket(&self, conn: usize, side: Side) -> Option<SockId> {
        match side {
            Side::Client => Some(self.conns[conn].1),
            Side::Server => self.conns[conn].2,
        }
    }

    /// Whether a socket is in the sockhash.
    pub fn in_sockhash(&self, id: SockId) -> bool {
        kernel::with_kernel(|k| {
            k.map(programs::names::SOCK_HASH)
                .map(|m| m.sockets().iter().any(|(_, s)| *s == id))
                .unwrap_or(false)
        })
    }

    /// One `sendmsg` of `size` bytes from `side` of `conn`.
    pub fn send(&mut self, conn: usize, side: Side, size: u32) -> Result<Delivery, HarnessError> {
        let id = self
            .socket(conn, side)
            .ok_or_else(|| sim_err(format!("send on conn {conn} before accept")))?;
        if !self.sock(id).open {
            return Err(sim_err(format!("send on closed socket {id}")));
        }
        self.sockets[(id - 1) as usize].guard_pending = false;
        if !self.in_sockhash(id) {
            return Ok(Delivery::Tcp);
        }
        let payload = vec![0x5au8; size.min(64) as usize];
        let start = payload.as_ptr() as u64;
        let mut img = ctx::sk_msg_image(
            &self.sock(id).addrs,
            size,
            start,
            start + payload.len() as u64,
        );
        let r = self.sk_msg.run(id, 0, &mut img, &payload)?;
        let d = match (r.ret, r.redirect) {
            (uapi::SK_PASS, Some((to, ingress))) => Delivery::Redirected { to, ingress },
            (uapi::SK_PASS, None) => Delivery::Tcp,
            _ => Delivery::Dropped,
        };
        self.sockets[(id - 1) as usize].guard_pending = matches!(d, Delivery::Redirected { .. });
        Ok(d)
    }

    /// The receive-queue guard finds the peer over its limit for the message `side` of `conn`
    /// just redirected (see the module doc), and applies its `over` path ([`Fallback`]).
    /// Returns `None` when the guard would not have run (the socket's last message was not
    /// redirected, or its guard already acted on it), else the return code of its PEERS
    /// write (the guard ignores it; 0 for `UnlinkOwn`/`CountOnly`).
    pub fn rcvq_fallback(&mut self, conn: usize, side: Side) -> Result<Option<i64>, HarnessError> {
        self.guard_fallback(conn, side, false)
    }

    /// [`World::rcvq_fallback`], or with `stream` the small-write policy's fallback
    /// (`programs::SmallWrites`): the same `over` path, counted in `StreamFallback`.
    pub fn guard_fallback(
        &mut self,
        conn: usize,
        side: Side,
        stream: bool,
    ) -> Result<Option<i64>, HarnessError> {
        let id = self
            .socket(conn, side)
            .ok_or_else(|| sim_err(format!("rcvq fallback on conn {conn} before accept")))?;
        if !self.sock(id).open {
            return Err(sim_err(format!("rcvq fallback on closed socket {id}")));
        }
        if !std::mem::take(&mut self.sockets[(id - 1) as usize].guard_pending) {
            return Ok(None);
        }
        // The guard runs in the sender's sk_msg, which runs only for sockets in the sockhash,
        // and the sender cannot have left it since (only its own close unlinks it).
        let own = self
            .sock_key(id)
            .ok_or_else(|| sim_err(format!("socket {id} redirected but is not in the sockhash")))?;
        let fallback = self.fallback;
        let rc = kernel::with_kernel(|k| -> Result<i64, HarnessError> {
            k.pick_cpu();
            let cpu = k.cpu;
            let peers = k
                .map_mut(programs::names::PEERS)
                .ok_or_else(|| sim_err("no PEERS map".into()))?;
            let rc = match fallback {
                Fallback::TaintOwn => {
                    peers.update(&own, &programs::key::TAINT_VALUE, uapi::BPF_ANY, cpu)
                }
                Fallback::TaintPeer => {
                    let peer = peers
                        .entries()
                        .into_iter()
                        .find(|(key, _)| *key == own)
                        .map(|(_, v)| v)
                        .ok_or_else(|| {
                            sim_err(format!("socket {id} redirected without a PEERS entry"))
                        })?;
                    peers.update(
                        &peer[..programs::key::CONN_KEY_LEN],
                        &programs::key::TAINT_VALUE,
                        uapi::BPF_ANY,
                        cpu,
                    )
                }
                Fallback::UnlinkOwn => {
                    let h = k
                        .map_mut(programs::names::SOCK_HASH)
                        .ok_or_else(|| sim_err("no SOCK_HASH map".into()))?;
                    h.delete(&own)
                }
                Fallback::CountOnly => 0,
            };
            let why = if stream {
                programs::Counter::StreamFallback
            } else {
                programs::Counter::RcvqFallback
            };
            let counted = k
                .map_mut(programs::names::COUNTERS)
                .is_some_and(|m| m.percpu_add_u64(why.index(), cpu, 1));
            if !counted {
                return Err(sim_err(format!("could not count {why}")));
            }
            for m in &mut k.maps {
                m.end_of_run();
            }
            Ok(rc)
        })?;
        Ok(Some(rc))
    }

    /// `setsockopt(level, optname)` on `side` of `conn`: runs the `cgroup/setsockopt` guard
    /// (see the module doc) and returns its run (return value and helper calls, e.g. the
    /// return codes of its PEERS writes). The option itself is not modelled: the guard
    /// returns 1 (the kernel applies it) or the run is an error.
    pub fn setsockopt(
        &mut self,
        conn: usize,
        side: Side,
        level: i32,
        optname: i32,
    ) -> Result<vm::RunResult, HarnessError> {
        let id = self
            .socket(conn, side)
            .ok_or_else(|| sim_err(format!("setsockopt on conn {conn} before accept")))?;
        if !self.sock(id).open {
            return Err(sim_err(format!("setsockopt on closed socket {id}")));
        }
        // The socket's lock orders this after its last sk_msg run, guard included.
        self.sockets[(id - 1) as usize].guard_pending = false;
        // The program may read the struct bpf_sock (data buffer: rbpf lets it access it)
        // and nothing of the option value.
        let mut data = ctx::bpf_sock_image(&self.sock(id).addrs);
        let sock_len = data.len() as u64;
        data.extend_from_slice(&1u32.to_le_bytes());
        let base = data.as_ptr() as u64;
        let end = base + data.len() as u64;
        let mut img = ctx::sockopt_image(level, optname, base, base + sock_len, end);
        let r = self.setsockopt.run(id, 0, &mut img, &data)?;
        if r.ret != 1 {
            return Err(sim_err(format!(
                "setsockopt({level}, {optname}) returned {}: the option would be refused",
                r.ret
            )));
        }
        Ok(r)
    }

    /// Every entry of a map (hash maps): (key, value), in no particular order.
    pub fn map_entries(&self, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        kernel::with_kernel(|k| k.map(name).map(|m| m.entries()).unwrap_or_default())
    }

    /// Like [`World::send`], but the program's first PEERS lookup returns NULL, as if it ran
    /// just before a concurrent update of the socket's entry (see the module doc).
    pub fn send_stale(
        &mut self,
        conn: usize,
        side: Side,
        size: u32,
    ) -> Result<Delivery, HarnessError> {
        kernel::with_kernel(|k| k.miss_next_lookup = Some(programs::names::PEERS.to_string()));
        let r = self.send(conn, side, size);
        kernel::with_kernel(|k| k.miss_next_lookup = None);
        r
    }

    /// The key a socket is stored under in the sockhash, if it is there.
    pub fn sock_key(&self, id: SockId) -> Option<Vec<u8>> {
        kernel::with_kernel(|k| {
            k.map(programs::names::SOCK_HASH)?
                .sockets()
                .into_iter()
                .find(|(_, s)| *s == id)
                .map(|(key, _)| key)
        })
    }

    /// The PEERS entry of a socket in the sockhash: `None` when it has none (or is not in the
    /// sockhash), else the key its value names (a peer's key, or `programs::key::TAINT`),
    /// without the backlog count that follows it.
    pub fn peers_entry(&self, id: SockId) -> Option<Vec<u8>> {
        let key = self.sock_key(id)?;
        kernel::with_kernel(|k| {
            k.map(programs::names::PEERS)?
                .entries()
                .into_iter()
                .find(|(kk, _)| *kk == key)
                .map(|(_, mut v)| {
                    v.truncate(programs::key::CONN_KEY_LEN);
                    v
                })
        })
    }

    /// Closes one side of `conn`.
    pub fn close(&mut self, conn: usize, side: Side) -> Result<(), HarnessError> {
        let id = self
            .socket(conn, side)
            .ok_or_else(|| sim_err(format!("close on conn {conn} before accept")))?;
        if !self.sock(id).open {
            return Err(sim_err(format!("socket {id} closed twice")));
        }
        self.sockets[(id - 1) as usize].open = false;
        let other = self.socket(
            conn,
            if side == Side::Client {
                Side::Server
            } else {
                Side::Client
            },
        );
        let peer_open = other.map(|o| self.sock(o).open).unwrap_or(false);
        kernel::with_kernel(|k| {
            for m in &mut k.maps {
                m.unlink_socket(id);
            }
        });
        let wants = |id: SockId| {
            kernel::with_kernel(|k| {
                k.sockets
                    .get(&id)
                    .map(|s| s.cb_flags & uapi::STATE_CB_FLAG != 0)
                    .unwrap_or(false)
            })
        };
        // The closing side: to FIN_WAIT1 (active close) or LAST_ACK (peer closed first), then
        // to CLOSE.
        let mid = if peer_open {
            uapi::TCP_FIN_WAIT1
        } else {
            uapi::TCP_LAST_ACK
        };
        let old = if peer_open {
            uapi::TCP_ESTABLISHED
        } else {
            uapi::TCP_CLOSE_WAIT
        };
        if wants(id) {
            self.run_sock_ops(id, uapi::STATE_CB, [old, mid, 0, 0], mid)?;
        }
        if wants(id) {
            self.run_sock_ops(
                id,
                uapi::STATE_CB,
                [mid, uapi::TCP_CLOSE, 0, 0],
                uapi::TCP_CLOSE,
            )?;
        }
        if let Some(o) = other.filter(|_| peer_open) {
            if wants(o) {
                self.run_sock_ops(
                    o,
                    uapi::STATE_CB,
                    [uapi::TCP_ESTABLISHED, uapi::TCP_CLOSE_WAIT, 0, 0],
                    uapi::TCP_CLOSE_WAIT,
                )?;
            }
        }
        Ok(())
    }

    /// A counter summed over CPUs.
    pub fn counter(&self, c: programs::Counter) -> u64 {
        kernel::with_kernel(|k| {
            k.map(programs::names::COUNTERS)
                .map(|m| m.percpu_sum_u64(c.index()))
                .unwrap_or(0)
        })
    }

    /// Number of entries in a map.
    pub fn map_len(&self, name: &str) -> usize {
        kernel::with_kernel(|k| k.map(name).map(|m| m.len()).unwrap_or(0))
    }
}
