//! End-to-end tests of the bypass: the real `tcpbypass` binary loads the real programs into a
//! temporary cgroup (pins in a unique directory), child processes that joined that cgroup (and
//! network namespaces made by the test) move real bytes over real sockets, and each test checks
//! that every byte arrived exactly (position by position and by hash, both directions), that
//! the bypass carried them (sockhash entries, redirect counters, and the namespace's
//! `TcpOutSegs` far below what the data needs over TCP), and that nothing is left behind.
//!
//! Needs root and bpf(); skips with a printed reason otherwise (fails under
//! `TCPBYPASS_REQUIRE_KERNEL=1`). The tests run one at a time (they count segments and move
//! data on a small machine); every wait has a deadline. Children are this test binary
//! re-executed with `TB_E2E_ROLE` set (see `e2e/child.rs`); the runner never joins a cgroup.

#[path = "e2e/child.rs"]
mod child;
#[path = "e2e/support.rs"]
mod support;


use support::*;

/// Not a test: the entry point of the child roles (returns at once in the test runner).
#[test]
fn e2e_child_role() {
    child::run_if_child();
}

const MIB: u64 = 1 << 20;
/// Segments a connection pair needs without payload: handshake, FINs and their ACKs, slack.
const SEGS_PER_CONN: u64 = 30;

fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// One bulk transfer of `n` connections × `bytes` each way; returns (totals, TcpOutSegs delta
/// of the namespace, counter deltas).
fn bulk(
    bp: &Bypass,
    ns: &Netns,
    listen: &str,
    connect: &str,
    bind: Option<&str>,
    n: u32,
    bytes: u64,
) -> (Totals, u64, std::collections::HashMap<String, u64>) {
    let run = run_id();
    let before = ns.out_segs();
    let st0 = if bp.loaded { Some(bp.status()) } else { None };
    let server = format!("role=server;run={run};addr={listen};conns={n}");
    let mut client = format!(
        "role=client;run={run};addr={connect};conns={n};max_bytes={bytes};fixed=1;max_write=262144"
    );
    if let Some(b) = bind {
        client.push_str(&format!(";bind={b}"));
    }
    let t = transfer(bp, ns, ns, &server, &client, n as usize);
    let segs = ns.out_segs() - before;
    let d = match st0 {
        Some(s0) => bp.status().delta(&s0),
        None => Default::default(),
    };
    (t, segs, d)
}

/// Asserts that a transfer went through the bypass: pairs made, bytes redirected, and far
/// fewer segments than the payload needs (`mss` bytes per segment at best).
fn assert_bypassed(what: &str, t: &Totals, segs: u64, d: &std::collections::HashMap<String, u64>, n: u64, mss: u64) {
    let min_tcp = t.bytes / mss;
    eprintln!(
        "{what}: {} conns, {} bytes, TcpOutSegs +{segs} (TCP would need ≥ {min_tcp}), counters {d:?}",
        t.conns, t.bytes
    );
    assert_eq!(d["paired"], n, "{what}: every connection pairs");
    assert_eq!(d["inserted"], 2 * n, "{what}: both ends inserted");
    assert!(
        d["redirected_bytes"] >= t.bytes,
        "{what}: redirected {} < {} bytes",
        d["redirected_bytes"],
        t.bytes
    );
    assert_eq!(d["no_peer"], 0, "{what}: nothing went through TCP");
    assert_eq!(d["errors"] + d["map_full"], 0, "{what}: no insert failures");
    assert!(
        segs <= SEGS_PER_CONN * n && segs * 10 < min_tcp,
        "{what}: {segs} segments for {} bytes: not bypassed",
        t.bytes
    );
}

#[test]
fn loopback_ipv4_ipv6_and_dual_stack() {
    let Some(_g) = start("loopback_ipv4_ipv6_and_dual_stack") else {
        return;
    };
    let mut bp = Bypass::new();
    // Baseline: the same cgroup, nothing loaded: plain TCP.
    let ns0 = Netns::new();
    let (t, plain, _) = bulk(&bp, &ns0, "127.0.0.1:7000", "127.0.0.1:7000", None, 2, 8 * MIB);
    eprintln!("plain TCP: {} bytes, TcpOutSegs +{plain}", t.bytes);
    assert!(plain >= t.bytes / 65483, "the segment count measures TCP");
    ns0.close();

    bp.load(&[]);
    let s = bp.status();
    assert!(s.loaded && s.attached, "{s:?}");
    let ns = Netns::new();
    let cases = [
        ("127.0.0.1 → 127.0.0.1", "127.0.0.1:7001", "127.0.0.1:7001", None, 65483),
        ("127.0.0.2 → 127.0.0.1", "127.0.0.1:7002", "127.0.0.1:7002", Some("127.0.0.2:0"), 65483),
        ("::1 → ::1", "[::1]:7003", "[::1]:7003", None, 65476),
        ("IPv4 → dual-stack [::]", "[::]:7004", "127.0.0.1:7004", None, 65483),
    ];
    for (what, l, c, b, mss) in cases {
        let (t, segs, d) = bulk(&bp, &ns, l, c, b, 2, 8 * MIB);
        assert_bypassed(what, &t, segs, &d, 2, mss);
    }
    // All connections closed: the sockhash is empty again.
    assert_eq!(bp.status().sockets, 0);
    ns.close();
    bp.finish(&[s.so_id, s.sm_id]);
}
