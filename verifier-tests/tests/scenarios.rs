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
