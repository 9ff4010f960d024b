//! Properties: encode/decode identity for every valid instruction, no panic on any bytes,
//! label resolution equal to hand-computed offsets.

use asm::insn::op;
use asm::{disasm, AluOp, Builder, Insn, JmpOp, Program, Reg};
use proptest::prelude::*;

mod common;
use common::{jmp_op, valid_insn};

fn is_branch(i: &Insn) -> bool {
    i.jump_offset().is_some() || (i.code == op::JMP | op::CALL && i.src == op::PSEUDO_CALL)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_is_identity(slots in valid_insn()) {
        prop_assert!(slots[0].validate(slots.get(1)).is_ok(), "{:?}", slots);
        let bytes = asm::encode(&slots);
        prop_assert_eq!(bytes.len(), 8 * slots.len());
        let back: Vec<Insn> = bytes
            .chunks_exact(8)
            .map(|c| Insn::decode(c.try_into().unwrap()))
            .collect();
        prop_assert_eq!(&back, &slots);
        let text = disasm::format_insn(&slots[0], slots.get(1));
        prop_assert!(!text.is_empty() && !text.contains("BUG") && !text.contains("(null)"), "{}", text);
    }

    #[test]
    fn decode_and_disassembly_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = asm::decode(&bytes);
        let slots: Vec<Insn> = bytes
            .chunks_exact(8)
            .map(|c| Insn::decode(c.try_into().unwrap()))
            .collect();
        for (i, s) in slots.iter().enumerate() {
            let _ = s.validate(slots.get(i + 1));
            let _ = disasm::format_insn(s, slots.get(i + 1));
            let _ = disasm::format_insn(s, None);
        }
        let _ = disasm::listing(&slots);
        let _ = disasm::program_listing(&Program::from_insns(slots.clone()));
        let _ = asm::tag::tag(&slots);
    }

    /// Slots whose fields are random but whose opcode is one of the kernel's, so every
    /// branch of the validator and disassembler is reached.
    #[test]
    fn every_opcode_with_random_fields_never_panics(
        fields in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<i16>(), any::<i32>()), 1..16)
    ) {
        // Register fields beyond 4 bits too: `Insn`'s fields are public.
        let slots: Vec<Insn> = fields
            .iter()
            .map(|&(code, dst, src, off, imm)| Insn::new(code, dst, src, off, imm))
            .collect();
        let listing = disasm::listing(&slots);
        prop_assert!(listing.lines().count() <= slots.len());
        let _ = disasm::program_listing(&Program::from_insns(slots.clone()));
        for (i, s) in slots.iter().enumerate() {
            let _ = s.validate(slots.get(i + 1));
        }
        let _ = asm::decode(&asm::encode(&slots));
        let _ = asm::tag::tag_input(&slots);
    }
}

proptest! {
    // Sequences are slower to generate: fewer cases.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn checked_decode_of_straight_line_code_is_identity(
        items in prop::collection::vec(valid_insn(), 1..40)
    ) {
        let slots: Vec<Insn> = items.into_iter().filter(|s| !is_branch(&s[0])).flatten().collect();
        prop_assume!(!slots.is_empty());
        let bytes = asm::encode(&slots);
        prop_assert_eq!(asm::decode(&bytes).unwrap(), slots);
    }
}

/// A random program item: a plain instruction, an `lddw`, or a jump to item `target`.
#[derive(Debug, Clone)]
enum Item {
    Mov(i32),
    Lddw(u64),
    Ja(usize),
    Cond {
        target: usize,
        cond: JmpOp,
        wide: bool,
        by_reg: bool,
    },
    Long(usize),
}

fn program_items() -> impl Strategy<Value = Vec<Item>> {
    (2usize..120).prop_flat_map(|n| {
        prop::collection::vec(
            prop_oneof![
                3 => any::<i32>().prop_map(Item::Mov),
                2 => any::<u64>().prop_map(Item::Lddw),
                1 => (0..n).prop_map(Item::Ja),
                3 => (0..n, jmp_op(), any::<bool>(), any::<bool>())
                    .prop_map(|(target, cond, wide, by_reg)| Item::Cond { target, cond, wide, by_reg }),
                1 => (0..n).prop_map(Item::Long),
            ],
            n,
        )
    })
}

/// The builder's named conditional jump for a condition.
fn cond_jump(b: &mut Builder, c: JmpOp, wide: bool, src: asm::Operand, l: &str) {
    use JmpOp::*;
    let d = Reg::R1;
    match (c, wide) {
        (Eq, true) => b.jeq(d, src, l),
        (Eq, false) => b.jeq32(d, src, l),
        (Ne, true) => b.jne(d, src, l),
        (Ne, false) => b.jne32(d, src, l),
        (Gt, true) => b.jgt(d, src, l),
        (Gt, false) => b.jgt32(d, src, l),
        (Ge, true) => b.jge(d, src, l),
        (Ge, false) => b.jge32(d, src, l),
        (Lt, true) => b.jlt(d, src, l),
        (Lt, false) => b.jlt32(d, src, l),
        (Le, true) => b.jle(d, src, l),
        (Le, false) => b.jle32(d, src, l),
        (SGt, true) => b.jsgt(d, src, l),
        (SGt, false) => b.jsgt32(d, src, l),
        (SGe, true) => b.jsge(d, src, l),
        (SGe, false) => b.jsge32(d, src, l),
        (SLt, true) => b.jslt(d, src, l),
        (SLt, false) => b.jslt32(d, src, l),
        (SLe, true) => b.jsle(d, src, l),
        (SLe, false) => b.jsle32(d, src, l),
        (Set, true) => b.jset(d, src, l),
        (Set, false) => b.jset32(d, src, l),
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn labels_resolve_to_hand_computed_offsets(items in program_items()) {
        // Slot of each item: an lddw takes two.
        let mut slot = Vec::with_capacity(items.len());
        let mut n = 0usize;
        for it in &items {
            slot.push(n);
            n += if matches!(it, Item::Lddw(_)) { 2 } else { 1 };
        }
        let mut b = Builder::new();
        let mut want: Vec<Insn> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            b.label(&format!("L{i}"));
            let off_to = |t: usize| slot[t] as i64 - (slot[i] as i64 + 1);
            match *it {
                Item::Mov(v) => {
                    b.mov64(Reg::R0, v);
                    want.push(Insn::alu64(AluOp::Mov, Reg::R0, v));
                }
                Item::Lddw(v) => {
                    b.lddw(Reg::R3, v);
                    want.extend(Insn::lddw(Reg::R3, v));
                }
                Item::Ja(t) => {
                    b.ja(&format!("L{t}"));
                    want.push(Insn::ja(off_to(t) as i16));
                }
                Item::Cond { target, cond, wide, by_reg } => {
                    let src = if by_reg { asm::Operand::Reg(Reg::R2) } else { asm::Operand::Imm(7) };
                    cond_jump(&mut b, cond, wide, src, &format!("L{target}"));
                    want.push(Insn::jmp(cond, Reg::R1, src, off_to(target) as i16, wide));
                }
                Item::Long(t) => {
                    b.ja32(&format!("L{t}"));
                    want.push(Insn::ja32(off_to(t) as i32));
                }
            }
        }
        b.exit();
        want.push(Insn::exit());
        let prog = b.build().unwrap();
        prop_assert_eq!(prog.insns(), &want[..]);
        // The checked decoder accepts what the builder produced, and the listing names every
        // jump's target.
        prop_assert_eq!(asm::decode(&prog.to_bytes()).unwrap(), want);
        let text = disasm::program_listing(&prog);
        let jumps = items.iter().filter(|i| !matches!(i, Item::Mov(_) | Item::Lddw(_))).count();
        prop_assert_eq!(text.matches(" <L").count(), jumps);
    }
}
