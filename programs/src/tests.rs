//! Structural checks of both programs, for both configurations: what the kernel verifier and
//! the rbpf harness rely on, checked without either.

use asm::insn::op;
use asm::{Helper, Insn, Program, Reg};

use crate::uapi;
use crate::{maps, names, sk_msg, sock_ops, Config};

fn configs() -> [Config; 2] {
    [
        Config { netns_cookie: true, ..Default::default() },
        Config {
            netns_cookie: false,
            rcvq_guard: None,
        },
    ]
}

fn programs() -> Vec<(String, Program, Config)> {
    let mut out = Vec::new();
    for cfg in configs() {
        out.push((format!("sock_ops {cfg:?}"), sock_ops(&cfg).unwrap(), cfg));
        out.push((format!("sk_msg {cfg:?}"), sk_msg(&cfg).unwrap(), cfg));
    }
    out
}

/// Slots that start an instruction (not the second half of an lddw), with their index.
fn insns(p: &Program) -> Vec<(usize, Insn)> {
    let mut out = Vec::new();
    let mut i = 0;
    let s = p.insns();
    while i < s.len() {
        out.push((i, s[i]));
        i += if s[i].is_lddw() { 2 } else { 1 };
    }
    out
}

fn helpers_called(p: &Program) -> Vec<Helper> {
    insns(p)
        .into_iter()
        .filter(|(_, i)| i.code == op::JMP | op::CALL)
        .map(|(_, i)| {
            assert_eq!(i.src, op::CALL_HELPER, "only helper calls");
            Helper::from_id(i.imm as u32).expect("a known helper")
        })
        .collect()
}

#[test]
fn both_programs_build_for_both_configs() {
    for (name, p, _) in programs() {
        assert!(p.len() > 20, "{name}: {} slots", p.len());
        assert!(p.len() < 4096, "{name}: {} slots", p.len());
        assert_eq!(p.functions().len(), 1, "{name}: no subprograms");
        // The bytes decode back to the same checked instructions.
        assert_eq!(asm::decode(&p.to_bytes()).unwrap(), p.insns(), "{name}");
    }
}

#[test]
fn every_jump_goes_forward() {
    for (name, p, _) in programs() {
        let mut jumps = 0;
        for (at, i) in insns(&p) {
            if let Some(off) = i.jump_offset() {
                jumps += 1;
                assert!(off >= 0, "{name}: backward jump at {at}: {i:?}");
                assert!(
                    (at as i64 + 1 + off as i64) < p.len() as i64,
                    "{name}: {at}"
                );
            }
        }
        assert!(jumps > 5, "{name}: {jumps} jumps");
    }
}

#[test]
fn no_64_bit_jump_with_a_negative_immediate() {
    // rbpf zero-extends the immediate where the kernel sign-extends it.
    for (name, p, _) in programs() {
        for (at, i) in insns(&p) {
            let cond = i.jump_offset().is_some() && i.operation() != op::JA;
            if i.class() == op::JMP && cond && !i.is_x() {
                assert!(i.imm >= 0, "{name}: insn {at} compares with {}", i.imm);
            }
        }
    }
}

#[test]
fn context_is_read_with_32_bit_loads_at_known_fields() {
    let sock_ops_fields = [
        uapi::sock_ops::OP,
        uapi::sock_ops::ARGS1,
        uapi::sock_ops::FAMILY,
        uapi::sock_ops::REMOTE_IP4,
        uapi::sock_ops::LOCAL_IP4,
        uapi::sock_ops::REMOTE_PORT,
        uapi::sock_ops::LOCAL_PORT,
        uapi::sock_ops::CB_FLAGS,
    ];
    let sk_msg_fields = [
        uapi::sk_msg::FAMILY,
        uapi::sk_msg::REMOTE_IP4,
        uapi::sk_msg::LOCAL_IP4,
        uapi::sk_msg::REMOTE_PORT,
        uapi::sk_msg::LOCAL_PORT,
        uapi::sk_msg::SIZE,
    ];
    for (name, p, _) in programs() {
        let (fields, ip6) = if name.starts_with("sock_ops") {
            (
                &sock_ops_fields[..],
                [uapi::sock_ops::REMOTE_IP6, uapi::sock_ops::LOCAL_IP6],
            )
        } else {
            (
                &sk_msg_fields[..],
                [uapi::sk_msg::REMOTE_IP6, uapi::sk_msg::LOCAL_IP6],
            )
        };
        let mut ports = 0;
        for (at, i) in insns(&p) {
            // r6 holds the context from the first instruction on and is never written again.
            if i.class() != op::LDX || i.src != Reg::R6.num() {
                continue;
            }
            assert_eq!(
                i.code,
                op::LDX | op::MEM | op::W,
                "{name}: insn {at} is not a u32 load"
            );
            let known = fields.contains(&i.off)
                || ip6
                    .iter()
                    .any(|b| (*b..*b + 16).contains(&i.off) && (i.off - b) % 4 == 0);
            assert!(known, "{name}: insn {at} reads ctx offset {}", i.off);
            if i.off == fields[fields.len() - 3] || i.off == fields[fields.len() - 2] {
                ports += 1;
            }
        }
        assert!(ports >= 2, "{name}: both ports are read");
    }
}

#[test]
fn ports_are_read_with_32_bit_loads() {
    for (name, p, _) in programs() {
        let (lp, rp) = if name.starts_with("sock_ops") {
            (uapi::sock_ops::LOCAL_PORT, uapi::sock_ops::REMOTE_PORT)
        } else {
            (uapi::sk_msg::LOCAL_PORT, uapi::sk_msg::REMOTE_PORT)
        };
        let port_loads: Vec<Insn> = insns(&p)
            .into_iter()
            .map(|(_, i)| i)
            .filter(|i| i.class() == op::LDX && i.src == Reg::R6.num())
            .filter(|i| (lp..lp + 4).contains(&i.off) || (rp..rp + 4).contains(&i.off))
            .collect();
        assert_eq!(port_loads.len(), 2, "{name}");
        for i in port_loads {
            assert_eq!(i.code, op::LDX | op::MEM | op::W, "{name}");
            assert!(i.off == lp || i.off == rp, "{name}: unaligned port read");
        }
    }
}

#[test]
fn r6_keeps_the_context() {
    for (name, p, _) in programs() {
        let all = insns(&p);
        assert_eq!(
            all[0].1,
            Insn::alu64(asm::AluOp::Mov, Reg::R6, Reg::R1),
            "{name}"
        );
        for (at, i) in &all[1..] {
            let writes_r6 = matches!(i.class(), op::ALU | op::ALU64 | op::LDX | op::LD)
                && i.dst == Reg::R6.num();
            assert!(!writes_r6, "{name}: insn {at} overwrites r6");
        }
    }
}

#[test]
fn stack_accesses_stay_in_the_frame_and_are_aligned() {
    for (name, p, _) in programs() {
        for (at, i) in insns(&p) {
            let (base, size) = match i.class() {
                op::LDX => (i.src, asm::Size::from_opcode(i.code)),
                op::ST | op::STX => (i.dst, asm::Size::from_opcode(i.code)),
                _ => continue,
            };
            if base != Reg::R10.num() {
                continue;
            }
            let off = i.off as i32;
            let len = size.bytes() as i32;
            assert!((-512..0).contains(&off), "{name}: insn {at} at fp{off}");
            assert!(off + len <= 0, "{name}: insn {at} beyond the frame");
            assert_eq!(
                off.rem_euclid(len),
                0,
                "{name}: insn {at} unaligned fp{off}"
            );
        }
    }
}

#[test]
fn only_the_expected_helpers_are_called() {
    for (name, p, cfg) in programs() {
        let called = helpers_called(&p);
        let allowed: &[Helper] = if name.starts_with("sock_ops") {
            &[
                Helper::MapLookupElem,
                Helper::MapUpdateElem,
                Helper::MapDeleteElem,
                Helper::SockHashUpdate,
                Helper::SockOpsCbFlagsSet,
                Helper::GetNetnsCookie,
            ]
        } else {
            &[
                Helper::MapLookupElem,
                Helper::MapUpdateElem,
                Helper::MapDeleteElem,
                Helper::MsgRedirectHash,
                Helper::GetNetnsCookie,
            ]
        };
        for h in &called {
            assert!(allowed.contains(h), "{name}: calls {h}");
        }
        let cookie = called.contains(&Helper::GetNetnsCookie);
        assert_eq!(cookie, cfg.netns_cookie, "{name}");
        if name.starts_with("sk_msg") {
            assert!(called.contains(&Helper::MsgRedirectHash));
        } else {
            assert_eq!(
                called
                    .iter()
                    .filter(|h| **h == Helper::SockHashUpdate)
                    .count(),
                2
            );
        }
    }
}

#[test]
fn referenced_maps_are_defined() {
    for (name, p, _) in programs() {
        for m in p.map_names() {
            assert!(maps().iter().any(|d| d.name == m), "{name}: map {m}");
        }
    }
    let so = sock_ops(&Config::default()).unwrap();
    let mut used = so.map_names();
    used.sort();
    let mut all: Vec<&str> = maps().iter().map(|m| m.name).collect();
    all.sort();
    assert_eq!(used, all, "sock_ops uses every map");
    let msg_prog = sk_msg(&Config::default()).unwrap();
    let mut msg = msg_prog.map_names();
    msg.sort();
    assert_eq!(
        msg,
        [
            names::ACTIVE,
            names::COUNTERS,
            names::PEERS,
            names::SOCK_HASH
        ]
    );
}

#[test]
fn every_exit_returns_one() {
    for (name, p, _) in programs() {
        let all = insns(&p);
        let exits: Vec<usize> = (0..all.len())
            .filter(|&k| all[k].1 == Insn::exit())
            .collect();
        assert_eq!(exits.len(), 1, "{name}: one exit");
        let k = exits[0];
        assert_eq!(k, all.len() - 1, "{name}: exit is last");
        assert_eq!(
            all[k - 1].1,
            Insn::alu64(asm::AluOp::Mov, Reg::R0, 1),
            "{name}"
        );
    }
}

#[test]
fn programs_are_deterministic() {
    for cfg in configs() {
        assert_eq!(sock_ops(&cfg).unwrap(), sock_ops(&cfg).unwrap());
        assert_eq!(sk_msg(&cfg).unwrap(), sk_msg(&cfg).unwrap());
    }
    assert_ne!(
        sock_ops(&configs()[0]).unwrap().insns(),
        sock_ops(&configs()[1]).unwrap().insns()
    );
}
