//! Differential test against rbpf 0.4's decoder and disassembler.
//!
//! For every instruction rbpf knows, `rbpf::ebpf::get_insn` and
//! `rbpf::disassembler::to_insn_vec` must read our bytes as the same opcode, registers, offset
//! and immediate, and rbpf's mnemonic, applied to those fields, must mean what our text says.
//!
//! What rbpf 0.4 cannot check (each asserted below, so a new rbpf that learns them shows up):
//! * it has no text for `bswap16/32/64` (ALU64 | END), `gotol` (JMP32 | JA), sign-extending
//!   loads (LDX | MEMSX) or kfunc calls (`call` with src 2): its disassembler panics;
//! * it reads signed division and modulo (`off = 1`) as unsigned `div`/`mod`, `movsx`
//!   (`off` 8/16/32) as a plain `mov`, every atomic except plain add as `xadd`, a bpf-to-bpf
//!   call (src 1) as `callx`, and `lddw` with a pseudo source as a plain 64-bit immediate:
//!   the fields match, the meaning does not, so only the fields are compared.

use std::cell::Cell;
use std::panic;
use std::sync::Once;

use asm::insn::op;
use asm::{disasm, Insn};
use proptest::prelude::*;

mod common;
use common::{all_valid, valid_insn};

/// How rbpf 0.4 handles one of our instructions.
#[derive(Debug, PartialEq, Eq)]
enum Rbpf {
    /// Same fields, same meaning.
    Same,
    /// Same fields, a different (older or non-kernel) meaning.
    Misreads(&'static str),
    /// Its disassembler rejects the opcode.
    Lacks(&'static str),
}

fn expectation(i: &Insn) -> Rbpf {
    let opn = i.operation();
    match i.class() {
        op::ALU64 if opn == op::END => Rbpf::Lacks("bswap"),
        op::ALU | op::ALU64 if (opn == op::DIV || opn == op::MOD) && i.off == 1 => {
            Rbpf::Misreads("sdiv/smod read as div/mod")
        }
        op::ALU | op::ALU64 if opn == op::MOV && i.off != 0 => Rbpf::Misreads("movsx read as mov"),
        op::JMP32 if opn == op::JA => Rbpf::Lacks("gotol"),
        op::JMP if opn == op::CALL && i.src == op::PSEUDO_KFUNC_CALL => Rbpf::Lacks("kfunc call"),
        op::JMP if opn == op::CALL && i.src == op::PSEUDO_CALL => {
            Rbpf::Misreads("bpf-to-bpf call read as callx")
        }
        op::LDX if i.mode() == op::MEMSX => Rbpf::Lacks("ldxsx"),
        op::STX if i.mode() == op::ATOMIC && i.imm != 0 => Rbpf::Misreads("atomic op read as xadd"),
        op::LD if i.is_lddw() && i.src != 0 => Rbpf::Misreads("pseudo lddw read as imm64"),
        _ => Rbpf::Same,
    }
}

fn size_name(s: &str) -> &'static str {
    match s {
        "b" => "u8",
        "h" => "u16",
        "w" => "u32",
        _ => "u64",
    }
}

/// Our text for rbpf's reading (mnemonic + fields), in the kernel's syntax.
fn meaning(name: &str, hl: &rbpf::disassembler::HLInsn) -> Option<String> {
    let (d, s, off, imm) = (hl.dst, hl.src, hl.off, hl.imm);
    let alu = |base: &str| -> Option<&'static str> {
        Some(match base {
            "add" => "+=",
            "sub" => "-=",
            "mul" => "*=",
            "div" => "/=",
            "or" => "|=",
            "and" => "&=",
            "lsh" => "<<=",
            "rsh" => ">>=",
            "mod" => "%=",
            "xor" => "^=",
            "mov" => "=",
            "arsh" => "s>>=",
            _ => return None,
        })
    };
    let jmp = |base: &str| -> Option<&'static str> {
        Some(match base {
            "jeq" => "==",
            "jgt" => ">",
            "jge" => ">=",
            "jlt" => "<",
            "jle" => "<=",
            "jset" => "&",
            "jne" => "!=",
            "jsgt" => "s>",
            "jsge" => "s>=",
            "jslt" => "s<",
            "jsle" => "s<=",
            _ => return None,
        })
    };
    let is_x = op::is_x(hl.opc);
    if let Some(base) = name.strip_suffix("64").or_else(|| name.strip_suffix("32")) {
        let r = if name.ends_with("64") { 'r' } else { 'w' };
        if base == "neg" {
            return Some(format!("{r}{d} = -{r}{d}"));
        }
        if let Some(sym) = alu(base) {
            return Some(if is_x {
                format!("{r}{d} {sym} {r}{s}")
            } else {
                format!("{r}{d} {sym} {imm}")
            });
        }
        if let Some(sym) = jmp(base) {
            return Some(if is_x {
                format!("if {r}{d} {sym} {r}{s} goto pc{off:+}")
            } else {
                format!("if {r}{d} {sym} {:#x} goto pc{off:+}", imm as u32)
            });
        }
    }
    if let Some(sym) = jmp(name) {
        return Some(if is_x {
            format!("if r{d} {sym} r{s} goto pc{off:+}")
        } else {
            format!("if r{d} {sym} {:#x} goto pc{off:+}", imm as u32)
        });
    }
    Some(match name {
        "le" | "be" => format!("r{d} = {name}{imm} r{d}"),
        "ja" => format!("goto pc{off:+}"),
        "exit" => "exit".into(),
        "lddw" => format!("r{d} = {:#x}", imm as u64),
        "call" => return None, // checked separately: the helper name is ours only
        "stxxaddw" => format!("lock *(u32 *)(r{d} {off:+}) += r{s}"),
        "stxxadddw" => format!("lock *(u64 *)(r{d} {off:+}) += r{s}"),
        _ => {
            if let Some(z) = name.strip_prefix("ldabs") {
                format!("r0 = *({} *)skb[{imm}]", size_name(z))
            } else if let Some(z) = name.strip_prefix("ldind") {
                format!("r0 = *({} *)skb[r{s} + {imm}]", size_name(z))
            } else if let Some(z) = name.strip_prefix("ldx") {
                format!("r{d} = *({} *)(r{s} {off:+})", size_name(z))
            } else if let Some(z) = name.strip_prefix("stx") {
                format!("*({} *)(r{d} {off:+}) = r{s}", size_name(z))
            } else if let Some(z) = name.strip_prefix("st") {
                format!("*({} *)(r{d} {off:+}) = {imm}", size_name(z))
            } else {
                return None;
            }
        }
    })
}

thread_local! {
    static IN_RBPF: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic without printing it (rbpf reports unknown opcodes by
/// panicking). The process-wide hook is installed once and stays silent only on the thread
/// and during the call that asked for it.
fn quietly<T>(f: impl FnOnce() -> T + panic::UnwindSafe) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_RBPF.with(Cell::get) {
                default(info);
            }
        }));
    });
    IN_RBPF.with(|c| c.set(true));
    let r = panic::catch_unwind(f);
    IN_RBPF.with(|c| c.set(false));
    r
}

/// Checks one instruction against rbpf; returns what rbpf did.
fn check(slots: &[Insn]) -> Rbpf {
    let bytes = asm::encode(slots);
    let want = expectation(&slots[0]);
    let read = quietly(|| rbpf::disassembler::to_insn_vec(&bytes));
    let hl = match read {
        Err(_) => {
            assert!(
                matches!(want, Rbpf::Lacks(_)),
                "rbpf rejects {slots:?}, expected {want:?}"
            );
            return want;
        }
        Ok(v) => v,
    };
    assert!(
        !matches!(want, Rbpf::Lacks(_)),
        "rbpf now reads {slots:?}: {hl:?}"
    );
    assert_eq!(hl.len(), 1, "{slots:?}");
    let h = &hl[0];
    let i = &slots[0];
    assert_eq!(
        (h.opc, h.dst, h.src, h.off),
        (i.code, i.dst, i.src, i.off),
        "{slots:?}"
    );
    let imm = if i.is_lddw() {
        ((slots[1].imm as u32 as u64) << 32 | i.imm as u32 as u64) as i64
    } else {
        i.imm as i64
    };
    assert_eq!(h.imm, imm, "{slots:?}");
    for (k, s) in slots.iter().enumerate() {
        let g = rbpf::ebpf::get_insn(&bytes, k);
        assert_eq!(
            (g.opc, g.dst, g.src, g.off, g.imm),
            (s.code, s.dst, s.src, s.off, s.imm)
        );
    }
    let ours = disasm::format_insn(i, slots.get(1));
    match want {
        Rbpf::Same => {
            if h.name == "call" {
                assert!(
                    ours.starts_with("call ") && ours.ends_with(&format!("#{}", i.imm)),
                    "{ours}"
                );
            } else {
                let m = meaning(&h.name, h).unwrap_or_else(|| panic!("no meaning for {h:?}"));
                assert_eq!(m, ours, "rbpf {:?}", h.desc);
            }
        }
        // bpftool prints BTF-id and map-index loads as plain hex too, so only the other
        // misreadings must differ in text.
        Rbpf::Misreads(_) if !i.is_lddw() => {
            if let Some(m) = meaning(&h.name, h) {
                assert_ne!(m, ours, "rbpf {:?} now means what we print", h.desc);
            }
        }
        Rbpf::Misreads(_) => {}
        Rbpf::Lacks(_) => unreachable!(),
    }
    want
}

#[test]
fn every_constructor_against_rbpf() {
    let mut lacks = std::collections::BTreeSet::new();
    let mut misreads = std::collections::BTreeSet::new();
    let mut same = 0;
    for slots in all_valid() {
        match check(&slots) {
            Rbpf::Same => same += 1,
            Rbpf::Misreads(w) => {
                misreads.insert(w);
            }
            Rbpf::Lacks(w) => {
                lacks.insert(w);
            }
        }
    }
    assert!(same > 250, "{same} instructions compared");
    assert_eq!(
        lacks.into_iter().collect::<Vec<_>>(),
        ["bswap", "gotol", "kfunc call", "ldxsx"]
    );
    assert_eq!(
        misreads.into_iter().collect::<Vec<_>>(),
        [
            "atomic op read as xadd",
            "bpf-to-bpf call read as callx",
            "movsx read as mov",
            "pseudo lddw read as imm64",
            "sdiv/smod read as div/mod",
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_instructions_against_rbpf(slots in valid_insn()) {
        check(&slots);
    }
}
