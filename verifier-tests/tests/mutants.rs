//! Mutation evidence: each deliberately wrong variant of the real programs (built by
//! surgery in `verifier_tests::mutants`) must be caught by at least one property. The
//! property checks run in-process with proptest's runner and must fail; the caught failure
//! (shrunk) is printed.

mod common;

use programs::names;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use verifier_tests::kernel::ProgKind;
use verifier_tests::mutants;
use verifier_tests::sim::Programs;

/// Runs the concurrent-connections property on `progs` (for scenarios with `cookie`) and
/// returns the failure it found, if any.
fn caught(progs: &Programs, cookie: bool) -> Option<String> {
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = common::scenario(1..=8, Some(cookie), None);
    match runner.run(&strategy, |sc| {
        common::check(progs, &sc)
            .map(|_| ())
            .map_err(TestCaseError::fail)
    }) {
        Ok(()) => None,
        Err(e) => Some(e.to_string()),
    }
}

fn real(cookie: bool) -> Programs {
    Programs::real(&programs::Config {
        netns_cookie: cookie,
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
