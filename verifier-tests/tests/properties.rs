//! Properties of the real programs over random connections and random sets of concurrent
//! connections (see `common` for the generator, the model and the checks):
//!
//! - a message is redirected iff both ends are eligible (and the peer is still open);
//! - it goes to the other end of its own connection, with `BPF_F_INGRESS`, never to another
//!   socket, also when namespaces share loopback 4-tuples and when clients share an ephemeral
//!   port (connections to different destinations, as the kernel allows): a client takes the
//!   ACTIVE place of another waiting under its endpoint (counting `shared_endpoint`; that
//!   connection stays on TCP), and a server pairs only with the client whose handshake
//!   sequence numbers are its own;
//! - IPv4 and IPv4-mapped ends pair (dual-stack servers, generated kind `V4ToDualStack`);
//! - after every socket closed, PEERS, ACTIVE and the sockhash are empty;
//! - the counters add up to what happened;
//! - without netns cookies loopback is never bypassed;
//! - with tiny maps (full maps), no message ever goes to a wrong socket, state still drains;
//! - ordering: within one connection and direction, no message redirected after one that
//!   went through TCP — including when the client sends before its server's
//!   `PASSIVE_ESTABLISHED` (then that connection never redirects client → server), and when
//!   the server's claim lands between `sk_msg`'s lookup and its TAINT write;
//! - the setsockopt guard (the real `cgroup/setsockopt` program, on random guarded and
//!   unguarded options of several levels): after a guarded option on a paired socket whose
//!   own direction is still redirected, both directions go through TCP from their next
//!   message and `compat_fallback` counts it once; otherwise PEERS does not change (a peer
//!   that already closed does not get its entry back); receivers still read every message
//!   once, in order.
//!
//! Case counts are chosen so the file runs in a few seconds in `--release`; set
//! `PROPTEST_CASES` to run more.

mod common;

use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases(n: u32) -> Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

thread_local! {
    static REAL: [verifier_tests::sim::Programs; 2] = common::real();
}

fn check(sc: &common::Scenario) -> Result<common::Stats, TestCaseError> {
    REAL.with(|r| common::check(&r[sc.cookie as usize], sc))
        .map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(cases(5000))]
    #[test]
    fn single_connections(sc in common::scenario(1..=1, None, None)) {
        check(&sc)?;
    }
}

proptest! {
    #![proptest_config(cases(3000))]
    #[test]
    fn concurrent_connections_interleaved(sc in common::scenario(2..=8, None, None)) {
        check(&sc)?;
    }
}

proptest! {
    #![proptest_config(cases(1000))]
    #[test]
    fn without_cookies_loopback_is_never_bypassed(sc in common::scenario(1..=6, Some(false), None)) {
        check(&sc)?;
    }
}

proptest! {
    #![proptest_config(cases(1000))]
    /// The ordering property (checked at every send of every scenario, see `common::run`)
    /// with three connections in four racing their handshake, roomy and tiny maps: within a
    /// connection and direction, no redirected message ever follows one that went through
    /// TCP; a client that sent before its server was established never redirects.
    #[test]
    fn tcp_then_redirect_never_happens_even_when_racing_the_handshake(
        sc in prop_oneof![
            common::racy_scenario(1..=8, None, None),
            common::racy_scenario(2..=8, Some(true), Some(1..=4)),
        ]
    ) {
        check(&sc)?;
    }
}

proptest! {
    #![proptest_config(cases(1000))]
    #[test]
    fn full_maps_never_misdirect_and_drain(sc in common::scenario(2..=8, Some(true), Some(1..=4))) {
        check(&sc)?;
    }
}

/// The generator reaches what the properties talk about: paired connections, redirected
/// messages, concurrent connections, clients that send before their server is established
/// (and the servers that then find them tainted), and sends that take `sk_msg`'s `-EEXIST`
/// path. Prints the totals of 500 concurrent scenarios.
#[test]
fn generated_scenarios_cover_pairing_and_redirects() {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = common::scenario(2..=8, None, None);
    let mut total = common::Stats::default();
    for _ in 0..500 {
        let sc = strategy.new_tree(&mut runner).unwrap().current();
        total += check(&sc).unwrap();
    }
    eprintln!("500 scenarios: {total:?}");
    assert!(
        total.paired * 10 > total.conns,
        "too few paired connections: {total:?}"
    );
    assert!(
        total.redirected * 10 > total.messages,
        "too few redirects: {total:?}"
    );
    assert!(
        total.raced * 10 > total.conns,
        "too few clients sending before their server is established: {total:?}"
    );
    assert!(
        total.shared * 100 > total.conns,
        "too few clients taking the place of another waiting under their endpoint: {total:?}"
    );
    assert!(
        total.tcp_first * 20 > total.conns,
        "too few servers finding their client tainted: {total:?}"
    );
    assert!(
        total.claimed_late * 60 > total.messages,
        "too few sends taking sk_msg's -EEXIST path: {total:?}"
    );
    assert!(
        total.fallbacks * 10 > total.redirected,
        "too few receive-queue fallbacks: {total:?}"
    );
    assert!(
        total.fallbacks_peer_closed * 20 > total.fallbacks,
        "too few fallbacks racing the peer's close: {total:?}"
    );
    assert!(
        total.fallbacks_both_ends * 50 > total.paired,
        "too few connections falling back on both ends: {total:?}"
    );
    assert!(
        total.fallbacks_skipped * 10 > total.fallbacks,
        "too few fallback events after a message that was not redirected: {total:?}"
    );
    assert!(
        total.delivered * 10 > total.messages * 7,
        "too few messages read and checked by their receiver: {total:?}"
    );
    assert!(
        total.guard_fired * 10 > total.paired,
        "too few connections moved to TCP by the setsockopt guard: {total:?}"
    );
    assert!(
        total.guard_peer_closed * 10 > total.guard_fired,
        "too few guard runs after the peer closed: {total:?}"
    );
    assert!(
        total.guard_before_pairing * 50 > total.conns,
        "too few guarded options before the server is established: {total:?}"
    );
    assert!(
        total.guard_already_tainted * 50 > total.guard_fired,
        "too few guarded options on a connection already guarded: {total:?}"
    );
    assert!(
        total.guard_after_fallback * 10 > total.guard_fired,
        "too few guarded options after the socket's own receive-queue fallback: {total:?}"
    );
    assert!(
        total.unguarded_on_paired * 20 > total.paired,
        "too few unguarded options on paired sockets: {total:?}"
    );
}
