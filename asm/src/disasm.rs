//! The disassembler: instructions as `bpftool prog dump xlated` prints them.
//!
//! The text forms are those of the kernel's `print_bpf_insn` (kernel/bpf/disasm.c), which both
//! the verifier log and bpftool use, with bpftool's callbacks for 64-bit immediates
//! (`map[id:N]`, `map[id:N][0]+OFF`, `map[idx:N]+OFF`, `subprog[+N]`). Helper calls print as
//! the kernel prints them for raw instructions, `call bpf_sock_hash_update#70`; an id the
//! helper table does not know prints `call unknown#N`, a kfunc `call kernel-function#N`, a
//! bpf-to-bpf call `call pc+N`. A 64-bit immediate has no `ll` suffix (that is LLVM's syntax,
//! not bpftool's).
//!
//! Every slot prints without panicking, valid or not: slots the kernel has no text for print
//! the kernel's `BUG_…` forms, and table holes print `(null)` as glibc does for the kernel's
//! NULL strings.
//!
//! ```
//! use asm::{disasm, Insn, Reg::*, Size};
//! assert_eq!(disasm::format_insn(&Insn::ldx(Size::W, R1, R6, 4), None), "r1 = *(u32 *)(r6 +4)");
//! assert_eq!(
//!     disasm::listing(&[Insn::alu64(asm::AluOp::Mov, R0, 0), Insn::exit()]),
//!     "   0: (b7) r0 = 0\n   1: (95) exit\n"
//! );
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::insn::op;
use crate::{Helper, Insn, Program};

// Newer than the 6.1 UAPI this crate targets: printed only.
use uapi::isa::{
    BPF_ADDR_SPACE_CAST as ADDR_SPACE_CAST, BPF_JCOND as JCOND, BPF_LOAD_ACQ as LOAD_ACQ,
    BPF_STORE_REL as STORE_REL,
};

/// The text of one slot and whether bpftool prefixes it with `(code) `: the kernel's `BUG_…`
/// lines have no prefix.
struct Text {
    prefixed: bool,
    text: String,
}

fn ok(text: String) -> Text {
    Text {
        prefixed: true,
        text,
    }
}

fn bug(text: String) -> Text {
    Text {
        prefixed: false,
        text,
    }
}

/// The kernel's `bpf_alu_string`; holes print as glibc prints a NULL `%s`.
fn alu_str(opn: u8) -> &'static str {
    match opn {
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::NEG => "neg",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        op::ARSH => "s>>=",
        op::END => "endian",
        _ => "(null)",
    }
}

/// The kernel's `bpf_jmp_string`.
fn jmp_str(opn: u8) -> &'static str {
    match opn {
        op::JA => "jmp",
        op::CALL => "call",
        op::EXIT => "exit",
        _ => match crate::JmpOp::from_code(opn) {
            Some(j) => j.symbol(),
            None => "(null)",
        },
    }
}

fn ldst_str(code: u8) -> &'static str {
    match op::size(code) {
        op::W => "u32",
        op::H => "u16",
        op::B => "u8",
        _ => "u64",
    }
}

fn ldsx_str(code: u8) -> &'static str {
    match op::size(code) {
        op::W => "s32",
        op::H => "s16",
        op::B => "s8",
        _ => "(null)",
    }
}

fn atomic_alu_str(imm: i32) -> &'static str {
    match op::atomic_operation(imm) {
        op::ADD => "add",
        op::AND => "and",
        op::OR => "or",
        op::XOR => "xor",
        _ => "(null)",
    }
}

fn text_of(insn: &Insn, next: Option<&Insn>) -> Text {
    let code = insn.code;
    let class = insn.class();
    let opn = op::operation(code);
    let is_x = op::is_x(code);
    let (d, s, off, imm) = (insn.dst, insn.src, insn.off, insn.imm);
    match class {
        op::ALU | op::ALU64 => {
            let r = if class == op::ALU { 'w' } else { 'r' };
            if opn == op::END {
                if class == op::ALU64 {
                    ok(format!("r{d} = bswap{imm} r{d}"))
                } else {
                    let dir = if is_x { "be" } else { "le" };
                    ok(format!("r{d} = {dir}{imm} r{d}"))
                }
            } else if opn == op::NEG {
                ok(format!("{r}{d} = -{r}{d}"))
            } else if code == op::ALU64 | op::MOV | op::X && off == ADDR_SPACE_CAST {
                ok(format!(
                    "r{d} = addr_space_cast(r{s}, {}, {})",
                    (imm as u32) >> 16,
                    imm as u32 as u16
                ))
            } else {
                let sdiv = (opn == op::DIV || opn == op::MOD) && off == 1;
                let sym = match (sdiv, opn) {
                    (true, op::DIV) => "s/=",
                    (true, _) => "s%=",
                    _ => alu_str(opn),
                };
                if is_x {
                    let sx = match (opn, off) {
                        (op::MOV, 8) => "(s8)",
                        (op::MOV, 16) => "(s16)",
                        (op::MOV, 32) => "(s32)",
                        _ => "",
                    };
                    ok(format!("{r}{d} {sym} {sx}{r}{s}"))
                } else {
                    ok(format!("{r}{d} {sym} {imm}"))
                }
            }
        }
        op::STX => {
            let sz = ldst_str(code);
            let mode = op::mode(code);
            let w64 = if op::size(code) == op::DW { "64" } else { "" };
            if mode == op::MEM {
                ok(format!("*({sz} *)(r{d} {off:+}) = r{s}"))
            } else if mode != op::ATOMIC {
                bug(format!("BUG_{code:02x}"))
            } else if matches!(
                imm,
                op::ATOMIC_ADD | op::ATOMIC_AND | op::ATOMIC_OR | op::ATOMIC_XOR
            ) {
                let sym = alu_str(op::atomic_operation(imm));
                ok(format!("lock *({sz} *)(r{d} {off:+}) {sym} r{s}"))
            } else if matches!(imm, 0x01 | 0x41 | 0x51 | 0xa1) {
                let name = atomic_alu_str(imm);
                ok(format!(
                    "r{s} = atomic{w64}_fetch_{name}(({sz} *)(r{d} {off:+}), r{s})"
                ))
            } else if imm == op::CMPXCHG {
                ok(format!(
                    "r0 = atomic{w64}_cmpxchg(({sz} *)(r{d} {off:+}), r0, r{s})"
                ))
            } else if imm == op::XCHG {
                ok(format!(
                    "r{s} = atomic{w64}_xchg(({sz} *)(r{d} {off:+}), r{s})"
                ))
            } else if imm == LOAD_ACQ {
                ok(format!("r{d} = load_acquire(({sz} *)(r{s} {off:+}))"))
            } else if imm == STORE_REL {
                ok(format!("store_release(({sz} *)(r{d} {off:+}), r{s})"))
            } else {
                bug(format!("BUG_{code:02x}"))
            }
        }
        op::ST => match op::mode(code) {
            op::MEM => ok(format!("*({} *)(r{d} {off:+}) = {imm}", ldst_str(code))),
            0xc0 => ok("nospec".to_string()),
            _ => bug(format!("BUG_st_{code:02x}")),
        },
        op::LDX => match op::mode(code) {
            op::MEM => ok(format!("r{d} = *({} *)(r{s} {off:+})", ldst_str(code))),
            op::MEMSX => ok(format!("r{d} = *({} *)(r{s} {off:+})", ldsx_str(code))),
            _ => bug(format!("BUG_ldx_{code:02x}")),
        },
        op::LD => match op::mode(code) {
            op::ABS => ok(format!("r0 = *({} *)skb[{imm}]", ldst_str(code))),
            op::IND => ok(format!("r0 = *({} *)skb[r{s} + {imm}]", ldst_str(code))),
            op::IMM if op::size(code) == op::DW => {
                let hi = next.map_or(0, |n| n.imm);
                let text = match s {
                    op::PSEUDO_MAP_FD => format!("map[id:{}]", imm as u32),
                    op::PSEUDO_MAP_VALUE => format!("map[id:{}][0]+{}", imm as u32, hi as u32),
                    op::PSEUDO_MAP_IDX_VALUE => {
                        format!("map[idx:{}]+{}", imm as u32, hi as u32)
                    }
                    op::PSEUDO_FUNC => format!("subprog[{imm:+}]"),
                    _ => format!("{:#x}", ((hi as u32 as u64) << 32) | imm as u32 as u64),
                };
                ok(format!("r{d} = {text}"))
            }
            _ => bug(format!("BUG_ld_{code:02x}")),
        },
        // JMP and JMP32
        _ => {
            let r = if class == op::JMP32 { 'w' } else { 'r' };
            if opn == op::CALL {
                if s == op::PSEUDO_CALL {
                    ok(format!("call pc{imm:+}"))
                } else {
                    let name = match s {
                        op::CALL_HELPER => u32::try_from(imm)
                            .ok()
                            .and_then(Helper::from_id)
                            .map_or("unknown", Helper::name),
                        op::PSEUDO_KFUNC_CALL => "kernel-function",
                        _ => "unknown",
                    };
                    ok(format!("call {name}#{imm}"))
                }
            } else if code == op::JMP | op::JA {
                ok(format!("goto pc{off:+}"))
            } else if code == op::JMP | JCOND && s == 0 {
                ok(format!("may_goto pc{off:+}"))
            } else if code == op::JMP32 | op::JA {
                ok(format!("gotol pc{imm:+}"))
            } else if code == op::JMP | op::EXIT {
                ok("exit".to_string())
            } else if is_x {
                ok(format!("if {r}{d} {} {r}{s} goto pc{off:+}", jmp_str(opn)))
            } else {
                ok(format!(
                    "if {r}{d} {} {:#x} goto pc{off:+}",
                    jmp_str(opn),
                    imm as u32
                ))
            }
        }
    }
}

/// One instruction as text, e.g. `r1 = *(u32 *)(r6 +4)`, without bpftool's `(code) ` prefix.
/// `next` is the following slot, used for the upper half of `lddw` (taken as zero when
/// missing). Never panics, whatever the fields hold.
pub fn format_insn(insn: &Insn, next: Option<&Insn>) -> String {
    text_of(insn, next).text
}

/// One instruction as bpftool prints it after the slot number: `(61) r1 = *(u32 *)(r6 +4)`
/// (the kernel's `BUG_…` lines have no code prefix).
pub fn format_insn_with_code(insn: &Insn, next: Option<&Insn>) -> String {
    let t = text_of(insn, next);
    if t.prefixed {
        format!("({:02x}) {}", insn.code, t.text)
    } else {
        t.text
    }
}

/// A listing of raw slots exactly like `bpftool prog dump xlated`: one instruction a line,
/// `% 4d: (code) text`; the second slot of an `lddw` is not printed (its number is skipped).
pub fn listing(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let insn = &insns[i];
        let _ = writeln!(
            out,
            "{i:4}: {}",
            format_insn_with_code(insn, insns.get(i + 1))
        );
        i += if insn.is_lddw() { 2 } else { 1 };
    }
    out
}

/// Where a slot's jump or call goes, if it is one.
fn target_of(insns: &[Insn], i: usize) -> Option<usize> {
    let insn = &insns[i];
    let rel = if let Some(off) = insn.jump_offset() {
        off as i64
    } else if (insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL)
        || (insn.is_lddw() && insn.src == op::PSEUDO_FUNC)
    {
        insn.imm as i64
    } else {
        return None;
    };
    let t = i as i64 + 1 + rel;
    (0..insns.len() as i64).contains(&t).then_some(t as usize)
}

/// A listing of an assembled program: the [`listing`] lines, plus
///
/// * a `name():` line where each function starts (a blank line before each but the first),
/// * a `label:` line before each labelled instruction,
/// * a `; comment` line before each commented instruction (where bpftool prints source
///   lines),
/// * ` <label>` (or ` <function>`) after a jump or call whose target is named, and ` <map>`
///   after an `lddw` that loads a named map.
///
/// ```
/// use asm::{disasm, Builder, Reg::*};
/// let mut b = Builder::new();
/// b.jeq(R1, 0, "out").comment("nothing to do").mov64(R0, 1).label("out").exit();
/// let text = disasm::program_listing(&b.build().unwrap());
/// assert_eq!(
///     text,
///     "main():\n; nothing to do\n   0: (15) if r1 == 0x0 goto pc+1 <out>\n   1: (b7) r0 = 1\nout:\n   2: (95) exit\n"
/// );
/// ```
pub fn program_listing(prog: &Program) -> String {
    let insns = prog.insns();
    let functions: BTreeMap<usize, &str> = prog
        .functions()
        .iter()
        .map(|(name, start)| (*start, name.as_str()))
        .collect();
    let maps: BTreeMap<usize, &str> = prog
        .map_refs()
        .iter()
        .map(|r| (r.insn, r.name.as_str()))
        .collect();
    let name_of = |slot: usize| -> Option<&str> {
        prog.labels()
            .get(&slot)
            .and_then(|l| l.first())
            .map(String::as_str)
            .or_else(|| functions.get(&slot).copied())
    };
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        if let Some(f) = functions.get(&i) {
            if i != 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "{f}():");
        }
        if let Some(labels) = prog.labels().get(&i) {
            for l in labels {
                let _ = writeln!(out, "{l}:");
            }
        }
        if let Some(c) = prog.comments().get(&i) {
            let _ = writeln!(out, "; {c}");
        }
        let insn = &insns[i];
        let _ = write!(
            out,
            "{i:4}: {}",
            format_insn_with_code(insn, insns.get(i + 1))
        );
        let suffix = if let Some(m) = maps.get(&i) {
            Some(*m)
        } else {
            target_of(insns, i).and_then(name_of)
        };
        if let Some(name) = suffix {
            let _ = write!(out, " <{name}>");
        }
        out.push('\n');
        i += if insn.is_lddw() { 2 } else { 1 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AluOp, AtomicOp, Endian, JmpOp, Reg::*, Size};

    #[test]
    fn brief_examples() {
        let cases: Vec<(Insn, &str)> = vec![
            (Insn::ldx(Size::W, R1, R6, 4), "r1 = *(u32 *)(r6 +4)"),
            (
                Insn::jmp(JmpOp::Ne, R0, 0, 3, true),
                "if r0 != 0x0 goto pc+3",
            ),
            (
                Insn::call(Helper::SockHashUpdate),
                "call bpf_sock_hash_update#70",
            ),
            (Insn::alu64(AluOp::Mov, R1, R6), "r1 = r6"),
            (Insn::alu32(AluOp::Add, R1, 5), "w1 += 5"),
            (Insn::endian(Endian::Be, R2, 16), "r2 = be16 r2"),
            (Insn::endian(Endian::Swap, R1, 32), "r1 = bswap32 r1"),
            (Insn::stx(Size::DW, R10, -8, R1), "*(u64 *)(r10 -8) = r1"),
            (
                Insn::atomic(AtomicOp::Add, Size::W, R1, 0, R2),
                "lock *(u32 *)(r1 +0) += r2",
            ),
            (
                Insn::atomic(AtomicOp::Cmpxchg, Size::DW, R1, 0, R2),
                "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)",
            ),
            (Insn::ja32(7), "gotol pc+7"),
            (Insn::call_local(-4), "call pc-4"),
            (Insn::alu64(AluOp::SDiv, R1, R2), "r1 s/= r2"),
            (Insn::movsx(R1, R2, 8, true), "r1 = (s8)r2"),
            (Insn::ldxsx(Size::B, R1, R2, 0), "r1 = *(s8 *)(r2 +0)"),
            (Insn::ld_abs(Size::H, 12), "r0 = *(u16 *)skb[12]"),
            (Insn::exit(), "exit"),
            (Insn::call_id(100_000), "call unknown#100000"),
        ];
        for (insn, want) in cases {
            assert_eq!(format_insn(&insn, None), want, "{insn:?}");
        }
        let [a, b] = Insn::lddw(R1, 0x1122_3344_5566_7788);
        assert_eq!(format_insn(&a, Some(&b)), "r1 = 0x1122334455667788");
    }

    #[test]
    fn listing_skips_lddw_second_slot() {
        let [a, b] = Insn::lddw(R1, 1);
        let text = listing(&[a, b, Insn::exit()]);
        assert_eq!(text, "   0: (18) r1 = 0x1\n   2: (95) exit\n");
    }

    #[test]
    fn bug_forms_have_no_code_prefix() {
        let insn = Insn::new(op::ST | op::ABS, 0, 0, 0, 0);
        assert_eq!(listing(&[insn]), "   0: BUG_st_22\n");
    }
}
