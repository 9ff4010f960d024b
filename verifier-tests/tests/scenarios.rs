//! Hand-written connections through the real programs: one test per kind the properties
//! generate, so a failure here reads as a story.

use std::net::{IpAddr, SocketAddr};

use programs::{names, Config, Counter};
use verifier_tests::sim::{ConnSpec, Delivery, Programs, Setup, Side, World};
use verifier_tests::uapi::{AF_INET, AF_INET6};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn setup(prefixes: &[(&str, u8)], excluded: &[u16]) -> Setup {
    Setup {
        prefixes: prefixes
            .iter()
            .map(|(a, l)| (a.parse::<IpAddr>().unwrap(), *l))
            .collect(),
        excluded_ports: excluded.to_vec(),
        ncpus: 2,
        seed: 1,
        conn_capacity: None,
    }
}

fn spec(ns: (u64, u64), fam: (u32, u32), client: &str, dst: &str, server: &str) -> ConnSpec {
    ConnSpec {
        client_ns: ns.0,
        server_ns: ns.1,
        client_family: fam.0,
        server_family: fam.1,
        client: sa(client),
        dst: sa(dst),
        server: sa(server),
    }
}

fn world(cfg: Config, s: &Setup) -> World {
    World::new(&Programs::real(&cfg).unwrap(), s).unwrap()
}

/// Opens, exchanges one message each way, closes; returns the two deliveries.
fn exchange(w: &mut World, c: &ConnSpec) -> (Delivery, Delivery, usize) {
    let i = w.connect(c).unwrap();
    w.accept(i).unwrap();
    let a = w.send(i, Side::Client, 100).unwrap();
    let b = w.send(i, Side::Server, 7).unwrap();
    (a, b, i)
}

fn redirected_to(w: &World, i: usize, side: Side) -> Delivery {
    Delivery::Redirected {
        to: w.socket(i, side).unwrap(),
        ingress: true,
    }
}

#[test]
fn ipv4_same_namespace_is_bypassed_both_ways_and_cleaned_up() {
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let (a, b, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    assert_eq!(b, redirected_to(&w, i, Side::Client));
    assert_eq!(w.counter(Counter::Paired), 1);
    assert_eq!(w.counter(Counter::Inserted), 2);
    assert_eq!(w.counter(Counter::Redirected), 2);
    assert_eq!(w.counter(Counter::RedirectedBytes), 107);
    w.close(i, Side::Client).unwrap();
    // The server's peer is gone: its message goes through TCP.
    assert_eq!(w.send(i, Side::Server, 1).unwrap(), Delivery::Tcp);
    assert_eq!(w.counter(Counter::NoPeer), 1);
    w.close(i, Side::Server).unwrap();
    assert_eq!(w.map_len(names::PEERS), 0);
    assert_eq!(w.map_len(names::ACTIVE), 0);
    assert_eq!(w.map_len(names::SOCK_HASH), 0);
}

#[test]
fn ipv4_client_pairs_with_dual_stack_server() {
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET6),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let (a, b, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    assert_eq!(b, redirected_to(&w, i, Side::Client));
}

#[test]
fn ipv6_loopback_is_bypassed_with_cookies_only() {
    let s = setup(&[("::1", 128)], &[]);
    let c = spec(
        (1, 1),
        (AF_INET6, AF_INET6),
        "[::1]:40000",
        "[::1]:80",
        "[::1]:80",
    );
    let mut w = world(Config::default(), &s);
    let (a, _, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    drop(w);
    let mut w = world(
        Config {
            netns_cookie: false,
            rcvq_guard: None,
        },
        &s,
    );
    let (a, b, _) = exchange(&mut w, &c);
    assert_eq!((a, b), (Delivery::Tcp, Delivery::Tcp));
    assert_eq!(w.counter(Counter::Inserted), 0);
}

#[test]
fn same_loopback_tuple_in_two_namespaces_stays_apart() {
    let mut w = world(Config::default(), &setup(&[("127.0.0.0", 8)], &[]));
    let c1 = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "127.0.0.1:40000",
        "127.0.0.1:80",
        "127.0.0.1:80",
    );
    let c2 = ConnSpec {
        client_ns: 2,
        server_ns: 2,
        ..c1
    };
    let i1 = w.connect(&c1).unwrap();
    let i2 = w.connect(&c2).unwrap();
    w.accept(i2).unwrap();
    w.accept(i1).unwrap();
    assert_eq!(
        w.send(i1, Side::Client, 1).unwrap(),
        redirected_to(&w, i1, Side::Server)
    );
    assert_eq!(
        w.send(i2, Side::Client, 1).unwrap(),
        redirected_to(&w, i2, Side::Server)
    );
    assert_eq!(
        w.send(i2, Side::Server, 1).unwrap(),
        redirected_to(&w, i2, Side::Client)
    );
}

#[test]
fn dnat_and_redirect_to_sidecar_pair() {
    let mut w = world(
        Config::default(),
        &setup(&[("10.96.0.0", 12), ("10.1.0.0", 16)], &[]),
    );
    // DNAT: the client connected to a service VIP, the server is a pod in another netns.
    let c = spec(
        (1, 2),
        (AF_INET, AF_INET),
        "10.1.0.5:41000",
        "10.96.0.10:80",
        "10.1.0.9:8080",
    );
    let (a, b, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    assert_eq!(b, redirected_to(&w, i, Side::Client));
    // REDIRECT to a sidecar on 127.0.0.1:15001 in the client's own namespace.
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.1.0.5:41001",
        "10.1.0.9:8080",
        "127.0.0.1:15001",
    );
    let (a, _, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
}

#[test]
fn excluded_ports_and_foreign_prefixes_stay_on_tcp() {
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[22]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:22",
        "10.0.0.2:22",
    );
    assert_eq!(exchange(&mut w, &c).0, Delivery::Tcp);
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40001",
        "192.168.0.2:80",
        "192.168.0.2:80",
    );
    assert_eq!(exchange(&mut w, &c).0, Delivery::Tcp);
    assert_eq!(w.counter(Counter::Inserted), 0);
}

#[test]
fn real_programs_pass_the_static_check_for_both_configs() {
    // Every jump forward, no 64-bit unsigned/equality jump with a negative immediate, 32-bit
    // port loads, bounded stack and map-value accesses, no unreachable instruction.
    for cookie in [false, true] {
        let p = Programs::real(&Config {
            netns_cookie: cookie,
            rcvq_guard: None,
        })
        .unwrap();
        for (prog, kind) in [
            (&p.sock_ops, verifier_tests::kernel::ProgKind::SockOps),
            (&p.sk_msg, verifier_tests::kernel::ProgKind::SkMsg),
        ] {
            let l = verifier_tests::vm::load(prog, kind, &p.maps)
                .unwrap_or_else(|e| panic!("{kind:?} cookie={cookie}: {e}"));
            let lddw = prog.insns().iter().filter(|i| i.is_lddw()).count();
            assert_eq!(
                l.report.visited + lddw,
                prog.len(),
                "{kind:?}: every instruction is reachable"
            );
            assert!(
                l.report.ctx_loads.iter().all(|(_, _, size)| *size == 4),
                "{kind:?}: only 32-bit context loads"
            );
        }
    }
}

#[test]
fn a_client_write_before_the_server_is_established_stays_on_tcp_for_good() {
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let i = w.connect(&c).unwrap();
    let client = w.socket(i, Side::Client).unwrap();
    // The handshake's last ACK is late: the client writes first, through TCP, and taints
    // itself.
    assert_eq!(w.send(i, Side::Client, 5).unwrap(), Delivery::Tcp);
    assert_eq!(
        w.peers_entry(client).as_deref(),
        Some(&programs::key::TAINT[..])
    );
    // The server is established: in the sockhash, but its claim finds the taint.
    w.accept(i).unwrap();
    let server = w.socket(i, Side::Server).unwrap();
    assert!(w.in_sockhash(server));
    assert_eq!(w.counter(Counter::TcpFirst), 1);
    assert_eq!(w.counter(Counter::Paired), 0);
    assert_eq!(w.map_len(names::ACTIVE), 0, "the client stopped waiting");
    // Neither direction is ever redirected: the client is tainted, the server unpaired (and
    // taints itself on its first send).
    for _ in 0..3 {
        assert_eq!(w.send(i, Side::Client, 100).unwrap(), Delivery::Tcp);
        assert_eq!(w.send(i, Side::Server, 7).unwrap(), Delivery::Tcp);
    }
    assert_eq!(
        w.peers_entry(server).as_deref(),
        Some(&programs::key::TAINT[..])
    );
    assert_eq!(w.counter(Counter::Redirected), 0);
    assert_eq!(w.counter(Counter::NoPeer), 7);
    assert_eq!(
        w.counter(Counter::TcpFirst),
        1,
        "counted once per connection"
    );
    assert_eq!(
        (w.counter(Counter::Errors), w.counter(Counter::MapFull)),
        (0, 0)
    );
    w.close(i, Side::Server).unwrap();
    w.close(i, Side::Client).unwrap();
    assert_eq!(w.map_len(names::PEERS), 0, "TAINT entries go on close");
    assert_eq!(w.map_len(names::SOCK_HASH), 0);
}

#[test]
fn a_server_claim_between_lookup_and_taint_write_still_redirects() {
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let i = w.connect(&c).unwrap();
    w.accept(i).unwrap();
    // The client's lookup ran before the claim, its TAINT write after: -EEXIST, look again,
    // redirect.
    assert_eq!(
        w.send_stale(i, Side::Client, 10).unwrap(),
        redirected_to(&w, i, Side::Server)
    );
    let server = w.socket(i, Side::Server).unwrap();
    assert_eq!(
        w.peers_entry(w.socket(i, Side::Client).unwrap()),
        w.sock_key(server),
        "the server's claim stands"
    );
    assert_eq!(w.counter(Counter::Redirected), 1);
    assert_eq!(w.counter(Counter::TcpFirst), 0);
}

#[test]
fn a_taint_write_on_a_full_peers_map_unregisters_the_client() {
    let mut s = setup(&[("10.0.0.0", 8)], &[]);
    s.conn_capacity = Some(3);
    let mut w = world(Config::default(), &s);
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let i = w.connect(&c).unwrap();
    // Fill PEERS to capacity behind the programs' back.
    verifier_tests::kernel::with_kernel(|k| {
        let peers = k.map_mut(names::PEERS).unwrap();
        for n in 1..=3u8 {
            assert_eq!(peers.update(&[n; 48], &[n; 56], 0, 0), 0);
        }
    });
    assert_eq!(w.send(i, Side::Client, 5).unwrap(), Delivery::Tcp);
    assert_eq!(w.counter(Counter::MapFull), 1);
    assert_eq!(w.map_len(names::ACTIVE), 0, "no server can find the client");
    // Room again: the server comes, finds no client waiting, stays out of the bypass.
    verifier_tests::kernel::with_kernel(|k| {
        assert_eq!(k.map_mut(names::PEERS).unwrap().delete(&[1; 48]), 0);
    });
    w.accept(i).unwrap();
    assert!(!w.in_sockhash(w.socket(i, Side::Server).unwrap()));
    assert_eq!(w.send(i, Side::Client, 5).unwrap(), Delivery::Tcp);
    assert_eq!(w.counter(Counter::Redirected), 0);
}

#[test]
fn a_sender_over_the_receive_queue_limit_moves_to_tcp_and_the_receiver_reads_in_order() {
    // The receive-queue guard cannot run under rbpf (kfunc); `rcvq_fallback` applies its
    // `over` path after the message that crossed the limit.
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let i = w.connect(&c).unwrap();
    w.accept(i).unwrap();
    let (client, server) = (
        w.socket(i, Side::Client).unwrap(),
        w.socket(i, Side::Server).unwrap(),
    );
    // What the server's application reads: its redirect queue before its TCP bytes.
    let (mut redirect_q, mut tcp_q) = (Vec::new(), Vec::new());
    let mut send = |w: &mut World, n: u32| {
        let d = w.send(i, Side::Client, n).unwrap();
        match d {
            Delivery::Redirected { to, ingress: true } if to == server => redirect_q.push(n),
            Delivery::Tcp => tcp_q.push(n),
            other => panic!("message {n}: {other:?}"),
        }
        d
    };
    // Messages 1..=3 are redirected; the peer is over its limit after the third.
    for n in 1..=3 {
        assert_eq!(send(&mut w, n), redirected_to(&w, i, Side::Server));
    }
    assert_eq!(w.rcvq_fallback(i, Side::Client).unwrap(), Some(0));
    assert_eq!(
        w.peers_entry(client).as_deref(),
        Some(&programs::key::TAINT[..]),
        "the sender tainted its own entry"
    );
    assert_eq!(
        w.peers_entry(server),
        w.sock_key(client),
        "the peer's entry is untouched"
    );
    // From the next message on, TCP (its flow control makes send() block).
    for n in 4..=6 {
        assert_eq!(send(&mut w, n), Delivery::Tcp);
    }
    // The guard runs only after a redirect: nothing happens after a TCP message.
    assert_eq!(w.rcvq_fallback(i, Side::Client).unwrap(), None);
    // The reverse direction stays redirected.
    assert_eq!(
        w.send(i, Side::Server, 7).unwrap(),
        redirected_to(&w, i, Side::Client)
    );
    let read: Vec<u32> = redirect_q.iter().chain(&tcp_q).copied().collect();
    assert_eq!(read, vec![1, 2, 3, 4, 5, 6], "every message once, in order");
    // The counters `tcpbypass status` shows.
    assert_eq!(Counter::RcvqFallback.name(), "rcvq_fallback");
    assert_eq!(w.counter(Counter::RcvqFallback), 1);
    assert_eq!(w.counter(Counter::Redirected), 4);
    assert_eq!(w.counter(Counter::RedirectedBytes), 1 + 2 + 3 + 7);
    assert_eq!(w.counter(Counter::NoPeer), 3);
    assert_eq!(
        (w.counter(Counter::Errors), w.counter(Counter::MapFull)),
        (0, 0)
    );
    w.close(i, Side::Client).unwrap();
    w.close(i, Side::Server).unwrap();
    assert_eq!(w.map_len(names::PEERS), 0, "the TAINT entry goes on close");
    assert_eq!(w.map_len(names::SOCK_HASH), 0);
}

/// The return codes of a guard run's `bpf_map_update_elem` calls, in order.
fn guard_writes(r: &verifier_tests::vm::RunResult) -> Vec<i64> {
    r.calls
        .iter()
        .filter(|(id, _)| *id == verifier_tests::uapi::helper::MAP_UPDATE_ELEM)
        .map(|(_, rc)| *rc as i64)
        .collect()
}

#[test]
fn the_setsockopt_guard_passes_the_static_check_for_both_configs() {
    use verifier_tests::uapi::{bpf_sock, sockopt};
    for cookie in [false, true] {
        let p = Programs::real(&Config {
            netns_cookie: cookie,
            rcvq_guard: None,
        })
        .unwrap();
        let kind = verifier_tests::kernel::ProgKind::Sockopt;
        let l = verifier_tests::vm::load(&p.setsockopt, kind, &p.maps)
            .unwrap_or_else(|e| panic!("cookie={cookie}: {e}"));
        let lddw = p.setsockopt.insns().iter().filter(|i| i.is_lddw()).count();
        assert_eq!(l.report.visited + lddw, p.setsockopt.len());
        // The context: level and optname (32-bit), sk (the pointer, 64-bit); nothing else.
        let mut ctx: Vec<_> = l
            .report
            .ctx_loads
            .iter()
            .map(|(_, o, s)| (*o, *s))
            .collect();
        ctx.sort();
        ctx.dedup();
        assert_eq!(
            ctx,
            vec![
                (sockopt::SK as i64, 8),
                (sockopt::LEVEL as i64, 4),
                (sockopt::OPTNAME as i64, 4)
            ]
        );
        // The socket: 32-bit loads only, the port fields included.
        assert!(l.report.sock_loads.iter().all(|(_, _, s)| *s == 4));
        for f in [bpf_sock::FAMILY, bpf_sock::SRC_PORT, bpf_sock::DST_PORT] {
            assert!(l.report.sock_loads.iter().any(|(_, o, _)| *o == f as i64));
        }
    }
}

#[test]
fn a_receiver_setting_so_rcvlowat_moves_both_directions_to_tcp_and_reads_in_order() {
    use verifier_tests::uapi::opt::*;
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let i = w.connect(&c).unwrap();
    w.accept(i).unwrap();
    let (client, server) = (
        w.socket(i, Side::Client).unwrap(),
        w.socket(i, Side::Server).unwrap(),
    );
    // What each application reads: its redirect queue before its TCP bytes.
    let mut to_server = (Vec::new(), Vec::new());
    let mut to_client = (Vec::new(), Vec::new());
    let mut send = |w: &mut World, side: Side, n: u32| {
        let (q, peer) = match side {
            Side::Client => (&mut to_server, server),
            Side::Server => (&mut to_client, client),
        };
        let d = w.send(i, side, n).unwrap();
        match d {
            Delivery::Redirected { to, ingress: true } if to == peer => q.0.push(n),
            Delivery::Tcp => q.1.push(n),
            other => panic!("message {n}: {other:?}"),
        }
        d
    };
    for n in 1..=3 {
        assert_eq!(
            send(&mut w, Side::Client, n),
            redirected_to(&w, i, Side::Server)
        );
    }
    // Options the guard leaves alone, one of them at another level with TCP_INQ's number.
    for (level, opt) in [
        (SOL_TCP, TCP_NODELAY),
        (SOL_SOCKET, SO_MARK),
        (SOL_IP, IP_TOS),
    ] {
        let r = w.setsockopt(i, Side::Server, level, opt).unwrap();
        assert_eq!(guard_writes(&r), Vec::<i64>::new(), "({level}, {opt})");
    }
    assert_eq!(w.counter(Counter::CompatFallback), 0);
    assert_eq!(
        send(&mut w, Side::Client, 4),
        redirected_to(&w, i, Side::Server)
    );
    assert_eq!(
        send(&mut w, Side::Server, 100),
        redirected_to(&w, i, Side::Client)
    );
    // The server's application sets SO_RCVLOWAT: TAINT over both entries.
    let r = w
        .setsockopt(i, Side::Server, SOL_SOCKET, SO_RCVLOWAT)
        .unwrap();
    assert_eq!(
        guard_writes(&r),
        vec![0, 0],
        "own entry (BPF_ANY), peer's (BPF_EXIST)"
    );
    let taint = Some(programs::key::TAINT.to_vec());
    assert_eq!(w.peers_entry(server), taint);
    assert_eq!(w.peers_entry(client), taint);
    assert_eq!(Counter::CompatFallback.name(), "compat_fallback");
    assert_eq!(w.counter(Counter::CompatFallback), 1);
    // Both directions through TCP from their next message.
    for n in 5..=7 {
        assert_eq!(send(&mut w, Side::Client, n), Delivery::Tcp);
    }
    assert_eq!(send(&mut w, Side::Server, 200), Delivery::Tcp);
    // Setting it again, or another guarded option on either end, changes nothing.
    for (side, level, opt) in [
        (Side::Server, SOL_SOCKET, SO_RCVLOWAT),
        (Side::Client, SOL_TCP, TCP_CORK),
    ] {
        let r = w.setsockopt(i, side, level, opt).unwrap();
        assert_eq!(guard_writes(&r), Vec::<i64>::new());
    }
    assert_eq!(w.counter(Counter::CompatFallback), 1, "once per connection");
    // The receivers read everything once, in order: redirected bytes first.
    let read = |q: &(Vec<u32>, Vec<u32>)| q.0.iter().chain(&q.1).copied().collect::<Vec<_>>();
    assert_eq!(read(&to_server), (1..=7).collect::<Vec<_>>());
    assert_eq!(read(&to_client), vec![100, 200]);
    assert_eq!(w.counter(Counter::Redirected), 5);
    assert_eq!(w.counter(Counter::RedirectedBytes), 1 + 2 + 3 + 4 + 100);
    assert_eq!(w.counter(Counter::NoPeer), 4);
    assert_eq!(
        (w.counter(Counter::Errors), w.counter(Counter::MapFull)),
        (0, 0)
    );
    w.close(i, Side::Server).unwrap();
    w.close(i, Side::Client).unwrap();
    assert_eq!(w.map_len(names::PEERS), 0, "both TAINT entries go on close");
    assert_eq!(w.map_len(names::SOCK_HASH), 0);
}

#[test]
fn the_setsockopt_guard_after_the_peer_closed_does_not_recreate_its_entry() {
    use verifier_tests::uapi::opt::*;
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let (a, _, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    w.close(i, Side::Client).unwrap();
    // The server's entry still names the client: the guard acts, its BPF_EXIST write over
    // the client's (deleted) entry fails with -ENOENT.
    let r = w.setsockopt(i, Side::Server, SOL_TCP, TCP_INQ).unwrap();
    assert_eq!(guard_writes(&r), vec![0, -2]);
    assert_eq!(w.counter(Counter::CompatFallback), 1);
    assert_eq!(w.map_len(names::PEERS), 1, "only the server's own TAINT");
    assert_eq!(w.send(i, Side::Server, 1).unwrap(), Delivery::Tcp);
    w.close(i, Side::Server).unwrap();
    assert_eq!(w.map_len(names::PEERS), 0);
}

#[test]
fn a_guarded_option_set_before_the_server_is_established_is_not_seen() {
    // What the program does today (docs/compatibility.md names options set before
    // connect(), not this window): the client has no PEERS entry until its server's
    // PASSIVE_ESTABLISHED, so the guard finds nothing to taint, and the server pairs later.
    use verifier_tests::uapi::opt::*;
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let i = w.connect(&c).unwrap();
    let r = w
        .setsockopt(i, Side::Client, SOL_SOCKET, SO_RCVLOWAT)
        .unwrap();
    assert_eq!(guard_writes(&r), Vec::<i64>::new());
    w.accept(i).unwrap();
    assert_eq!(w.counter(Counter::Paired), 1);
    assert_eq!(
        w.send(i, Side::Server, 10).unwrap(),
        redirected_to(&w, i, Side::Client),
        "redirected into the client that set SO_RCVLOWAT"
    );
    assert_eq!(w.counter(Counter::CompatFallback), 0);
}

#[test]
fn a_guarded_option_after_the_sockets_own_rcvq_fallback_leaves_the_peer_redirecting() {
    // What the program does today: the receive-queue bound wrote TAINT over the sender's
    // own entry, so the guard (which looks at that entry only) finds it "already on TCP" and
    // leaves the peer's entry alone: the peer keeps redirecting into the socket whose
    // application just set SO_RCVLOWAT.
    use verifier_tests::uapi::opt::*;
    let mut w = world(Config::default(), &setup(&[("10.0.0.0", 8)], &[]));
    let c = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.0.1:40000",
        "10.0.0.2:80",
        "10.0.0.2:80",
    );
    let (a, _, i) = exchange(&mut w, &c);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    assert_eq!(w.rcvq_fallback(i, Side::Client).unwrap(), Some(0));
    let r = w
        .setsockopt(i, Side::Client, SOL_SOCKET, SO_RCVLOWAT)
        .unwrap();
    assert_eq!(guard_writes(&r), Vec::<i64>::new());
    assert_eq!(w.counter(Counter::CompatFallback), 0);
    assert_eq!(
        w.send(i, Side::Server, 10).unwrap(),
        redirected_to(&w, i, Side::Client)
    );
}

/// Two connections from one pod share the ephemeral port 10.0.1.1:40001 (the kernel allows it
/// for different destinations), both clients established before either server: the second
/// client takes the ACTIVE place (`shared_endpoint`), its server pairs with it and only with
/// it, the first connection's server finds another client's handshake there and stays on
/// TCP, and the first client's close leaves the second's entry alone.
/// A world and two connections from 10.0.1.1:40001 (one ephemeral port) to two different
/// servers, both clients connected (waiting for their servers): (world, first, second).
fn two_clients_on_one_port() -> (World, usize, usize) {
    let s = setup(&[("10.0.0.0", 8)], &[]);
    let mut w = world(Config::default(), &s);
    let a = spec(
        (1, 1),
        (AF_INET, AF_INET),
        "10.0.1.1:40001",
        "10.0.1.1:80",
        "10.0.1.1:80",
    );
    let b = spec(
        (1, 2),
        (AF_INET, AF_INET),
        "10.0.1.1:40001",
        "10.0.2.1:80",
        "10.0.2.1:80",
    );
    let ia = w.connect(&a).unwrap();
    let ib = w.connect(&b).unwrap();
    (w, ia, ib)
}

#[test]
fn clients_sharing_an_ephemeral_port_never_pair_with_the_wrong_server() {
    let (mut w, ia, ib) = two_clients_on_one_port();
    assert_eq!(w.counter(Counter::SharedEndpoint), 1);
    // The first connection's server: the client waiting under 10.0.1.1:40001 is not its own.
    w.accept(ia).unwrap();
    let sa_ = w.socket(ia, Side::Server).unwrap();
    assert!(
        !w.in_sockhash(sa_),
        "the first server paired with a client it does not own"
    );
    assert_eq!(w.map_len(names::ACTIVE), 1, "the second client still waits");
    // The second connection pairs with its own server, both ways.
    w.accept(ib).unwrap();
    assert_eq!(w.counter(Counter::Paired), 1);
    assert_eq!(
        w.send(ib, Side::Client, 10).unwrap(),
        redirected_to(&w, ib, Side::Server)
    );
    assert_eq!(
        w.send(ib, Side::Server, 10).unwrap(),
        redirected_to(&w, ib, Side::Client)
    );
    // The first connection stays on TCP: its client taints itself on its first send.
    assert_eq!(w.send(ia, Side::Client, 10).unwrap(), Delivery::Tcp);
    assert_eq!(w.send(ia, Side::Server, 10).unwrap(), Delivery::Tcp);
    for i in [ia, ib] {
        w.close(i, Side::Client).unwrap();
        w.close(i, Side::Server).unwrap();
    }
    for m in [names::PEERS, names::ACTIVE, names::SOCK_HASH] {
        assert_eq!(w.map_len(m), 0, "{m} not empty");
    }
}

/// The first client's close must not take the second client's ACTIVE entry with it: the
/// second connection (same endpoint, its server not established yet) still pairs.
#[test]
fn a_closing_client_leaves_another_clients_entry_alone() {
    let (mut w, ia, ib) = two_clients_on_one_port();
    w.close(ia, Side::Client).unwrap();
    assert_eq!(w.map_len(names::ACTIVE), 1);
    w.accept(ib).unwrap();
    assert_eq!(w.counter(Counter::Paired), 1);
    assert_eq!(
        w.send(ib, Side::Client, 10).unwrap(),
        redirected_to(&w, ib, Side::Server)
    );
}

/// An entry an earlier socket with the same key left behind (its close did not delete it)
/// must not pair or taint the new socket: both ends delete what they find under their own
/// key when they enter the sockhash, count `stale_entries`, and pair as usual.
#[test]
fn entries_left_by_an_earlier_socket_with_the_same_key_are_forgotten() {
    use programs::key::{peer_value, ConnKey, TAINT_VALUE};
    let s = setup(&[("10.0.0.0", 8)], &[]);
    let mut w = world(Config::default(), &s);
    let c = spec(
        (1, 2),
        (AF_INET, AF_INET),
        "10.0.1.1:40001",
        "10.0.2.1:80",
        "10.0.2.1:80",
    );
    // Stale entries: the client's key tainted, the server's key naming some old socket.
    let ck = ConnKey::new(1, sa("10.0.1.1:40001"), sa("10.0.2.1:80")).to_bytes();
    let sk = ConnKey::new(2, sa("10.0.2.1:80"), sa("10.0.1.1:40001")).to_bytes();
    let old = peer_value(&ConnKey::new(9, sa("10.0.9.9:1"), sa("10.0.9.9:2")));
    verifier_tests::kernel::with_kernel(|k| {
        let peers = k.map_mut(names::PEERS).unwrap();
        assert_eq!(peers.update(&ck, &TAINT_VALUE, 0, 0), 0);
        assert_eq!(peers.update(&sk, &old, 0, 0), 0);
    });
    let (a, b, i) = exchange(&mut w, &c);
    assert_eq!(w.counter(Counter::StaleEntries), 2);
    assert_eq!(w.counter(Counter::Paired), 1);
    assert_eq!(a, redirected_to(&w, i, Side::Server));
    assert_eq!(b, redirected_to(&w, i, Side::Client));
}
