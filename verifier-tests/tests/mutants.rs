//! Mutation evidence: each deliberately wrong variant of the real programs (built by
//! surgery in `verifier_tests::mutants`) must be caught by at least one property. The
//! property checks run in-process with proptest's runner and must fail; the caught failure
//! (shrunk) is printed.

mod common;

use programs::names;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use verifier_tests::kernel::ProgKind;
use verifier_tests::mutants;
use verifier_tests::sim::{Fallback, Programs};

/// Runs `check` on 1000 scenarios of `strategy` and returns the (shrunk) failure it found,
/// if any.
fn first_failure<S: Strategy, T>(
    strategy: S,
    check: impl Fn(&S::Value) -> Result<T, String>,
) -> Option<String> {
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    match runner.run(&strategy, |sc| {
        check(&sc).map(|_| ()).map_err(TestCaseError::fail)
    }) {
        Ok(()) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// Runs the concurrent-connections property on `progs` (for scenarios with `cookie`) and
/// returns the failure it found, if any.
fn caught(progs: &Programs, cookie: bool) -> Option<String> {
    first_failure(common::scenario(1..=8, Some(cookie), None), |sc| {
        common::check(progs, sc)
    })
}

/// Runs the model's behaviour checks without the per-event PEERS comparison
/// (`common::check_behaviour`) and returns the failure it found, if any.
fn caught_by_behaviour(progs: &Programs) -> Option<String> {
    first_failure(common::scenario(1..=8, Some(true), None), |sc| {
        common::check_behaviour(progs, sc)
    })
}

/// Runs the ordering and delivery properties alone (no model, no counters) over racy
/// scenarios on `progs` and returns the failure it found, if any.
fn caught_by_ordering(progs: &Programs) -> Option<String> {
    first_failure(common::racy_scenario(1..=8, Some(true), None), |sc| {
        common::check_ordering(progs, sc)
    })
}

fn real(cookie: bool) -> Programs {
    Programs::real(&programs::Config {
        netns_cookie: cookie,
        rcvq_guard: None,
    })
    .unwrap()
}

fn assert_caught(name: &str, progs: &Programs, cookie: bool) {
    match caught(progs, cookie) {
        Some(why) => eprintln!("mutant `{name}` caught:\n{why}\n"),
        None => panic!("mutant `{name}` survived 1000 scenarios: the properties cannot see it"),
    }
}

#[test]
fn the_real_programs_pass_the_same_check() {
    // The control: the runner used below finds nothing wrong with the real programs.
    assert_eq!(caught(&real(true), true), None);
}

#[test]
fn the_real_programs_keep_the_order() {
    // The control for the ordering-only runner below.
    assert_eq!(caught_by_ordering(&real(true)), None);
}

fn assert_ordering_catches(name: &str, progs: &Programs) {
    match caught_by_ordering(progs) {
        Some(why) => {
            assert!(why.contains("ordering"), "{name}: {why}");
            eprintln!("mutant `{name}` caught by the ordering property:\n{why}\n");
        }
        None => panic!("mutant `{name}` survived 1000 racy scenarios of the ordering property"),
    }
}

#[test]
fn a_missing_taint_write_breaks_the_order() {
    let mut p = real(true);
    p.sk_msg = mutants::no_taint_write(&p.sk_msg, &p.maps).unwrap();
    assert_ordering_catches("no TAINT write in sk_msg", &p);
    // The full check sees it too.
    assert_caught("no TAINT write in sk_msg", &p, true);
}

#[test]
fn a_claim_with_bpf_any_breaks_the_order() {
    let mut p = real(true);
    p.sock_ops = mutants::claim_with_any(&p.sock_ops, &p.maps).unwrap();
    assert_ordering_catches("server claim with BPF_ANY", &p);
}

#[test]
fn a_server_that_skips_the_sequence_check_is_caught() {
    // Without it a server pairs with another connection's client that shares its ephemeral
    // port (the scale test's blocking churn met one in 10^5 connections on a real kernel).
    let mut p = real(true);
    p.sock_ops = mutants::no_seq_check(&p.sock_ops, &p.maps).unwrap();
    assert_caught("server skips the sequence number check", &p, true);
    let mut p = real(false);
    p.sock_ops = mutants::no_seq_check(&p.sock_ops, &p.maps).unwrap();
    assert_caught(
        "server skips the sequence number check (no cookies)",
        &p,
        false,
    );
}

#[test]
fn swapped_ports_are_caught() {
    let mut p = real(true);
    p.sk_msg = mutants::swapped_ports(&p.sk_msg, ProgKind::SkMsg, &p.maps).unwrap();
    assert_caught("swapped ports in sk_msg", &p, true);
    let mut p = real(true);
    p.sock_ops = mutants::swapped_ports(&p.sock_ops, ProgKind::SockOps, &p.maps).unwrap();
    assert_caught("swapped ports in sock_ops", &p, true);
}

#[test]
fn missing_remote_port_byte_swap_is_caught() {
    // In both programs at once: keys stay consistent between them, so only the pairing of
    // the two ends (and the excluded-port test) can show it.
    let mut p = real(true);
    p.sock_ops = mutants::no_remote_port_swap(&p.sock_ops, ProgKind::SockOps, &p.maps).unwrap();
    p.sk_msg = mutants::no_remote_port_swap(&p.sk_msg, ProgKind::SkMsg, &p.maps).unwrap();
    assert_caught("missing byte swap on remote_port", &p, true);
}

#[test]
fn missing_netns_cookie_is_caught() {
    let mut p = real(true);
    p.sock_ops = mutants::no_netns_cookie(&p.sock_ops, ProgKind::SockOps, &p.maps).unwrap();
    p.sk_msg = mutants::no_netns_cookie(&p.sk_msg, ProgKind::SkMsg, &p.maps).unwrap();
    assert_caught("missing netns cookie", &p, true);
}

#[test]
fn inverted_eligibility_is_caught() {
    let mut p = real(true);
    p.sock_ops = mutants::inverted_eligibility(&p.sock_ops, names::PREFIXES).unwrap();
    assert_caught("inverted eligibility", &p, true);
}

#[test]
fn narrow_port_load_is_refused_offline() {
    let p = real(true);
    for (prog, kind) in [
        (&p.sock_ops, ProgKind::SockOps),
        (&p.sk_msg, ProgKind::SkMsg),
    ] {
        let (m, at) = mutants::narrow_port_load(prog, kind, &p.maps).unwrap();
        let e = verifier_tests::vm::load(&m, kind, &p.maps).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("invalid bpf_context access") && s.contains(&format!("insn {at}")),
            "{s}"
        );
    }
}

fn with_fallback(f: Fallback) -> Programs {
    let mut p = real(true);
    p.rcvq_fallback = f;
    p
}

#[test]
fn a_fallback_that_unlinks_the_sender_loses_queued_bytes() {
    // Deleting the sender from the sockhash also moves it to TCP, and keeps its own
    // direction in order; but its psock goes, with the messages its peer redirected into it
    // and it has not read yet. The delivery property alone sees the loss.
    let p = with_fallback(Fallback::UnlinkOwn);
    match caught_by_ordering(&p) {
        Some(why) => {
            assert!(why.contains("delivery"), "{why}");
            eprintln!(
                "mutant `fallback unlinks the sender` caught by the delivery property:\n{why}\n"
            );
        }
        None => panic!("mutant `fallback unlinks the sender` survived 1000 racy scenarios"),
    }
    assert_caught("fallback unlinks the sender", &p, true);
}

#[test]
fn a_fallback_that_taints_the_peer_is_caught() {
    // TAINT over the peer's entry: the sender keeps redirecting past the limit, the peer's
    // direction moves to TCP instead, and a peer that already closed gets its entry back.
    assert_caught(
        "fallback taints the peer's entry",
        &with_fallback(Fallback::TaintPeer),
        true,
    );
}

#[test]
fn a_fallback_that_only_counts_is_caught() {
    assert_caught(
        "fallback counts but writes nothing",
        &with_fallback(Fallback::CountOnly),
        true,
    );
}

fn with_guard(f: fn(&Programs) -> asm::Program) -> Programs {
    let mut p = real(true);
    p.setsockopt = f(&p);
    p
}

/// Caught by the full check (the PEERS comparison at the setsockopt usually sees it first)
/// and, without that comparison, by one of the symptoms in `what` (texts of which the failure
/// must contain one: the scenarios are random, and a mutant may show more than one symptom).
fn assert_guard_caught(name: &str, p: &Programs, what: &[&str]) {
    assert_caught(name, p, true);
    match caught_by_behaviour(p) {
        Some(why) => {
            assert!(
                what.iter().any(|w| why.contains(w)),
                "{name}: expected one of {what:?}: {why}"
            );
            eprintln!("mutant `{name}` caught without the PEERS comparison:\n{why}\n");
        }
        None => panic!("mutant `{name}` survived 1000 scenarios without the PEERS comparison"),
    }
}

#[test]
fn the_real_guard_passes_the_behaviour_check() {
    assert_eq!(caught_by_behaviour(&real(true)), None);
}

#[test]
fn a_guard_that_taints_only_its_own_entry_is_caught() {
    // The peer keeps redirecting into the socket whose application set the option, or (when
    // the first socket closed before its peer sent again) the peer's own guarded setsockopt
    // finds its entry still paired and the guard acts a second time on one connection.
    let p = with_guard(|p| mutants::guard_taints_own_only(&p.setsockopt, &p.maps).unwrap());
    assert_guard_caught(
        "setsockopt guard taints only its own entry",
        &p,
        &["redirected = true", "the guard acted = true"],
    );
}

#[test]
fn a_guard_that_writes_the_peers_entry_with_bpf_any_is_caught() {
    // A peer that already closed gets a TAINT entry back, which nothing deletes.
    let p = with_guard(|p| mutants::guard_peer_with_any(&p.setsockopt, &p.maps).unwrap());
    assert_guard_caught(
        "setsockopt guard writes the peer's entry with BPF_ANY",
        &p,
        &["after every socket closed, tb_peers still has"],
    );
}

#[test]
fn a_guard_reading_dst_port_from_the_upper_half_is_caught() {
    // Remote port 0 in its key: the guard never finds the socket's PEERS entry.
    let p = with_guard(|p| mutants::guard_dst_port_upper(&p.setsockopt, &p.maps).unwrap());
    assert_guard_caught(
        "setsockopt guard reads dst_port from the upper half",
        &p,
        &[""],
    );
}

#[test]
fn a_guard_that_ignores_the_level_is_caught() {
    // SO_MARK (36, SOL_SOCKET) taken for TCP_INQ (36, SOL_TCP), and the like.
    let p = with_guard(|p| mutants::guard_ignores_level(&p.setsockopt).unwrap());
    assert_guard_caught("setsockopt guard ignores the level", &p, &[""]);
}
