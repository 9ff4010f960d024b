//! Shared strategies and instruction lists for the integration tests.
#![allow(dead_code)]

use asm::insn::op;
use asm::{AluOp, AtomicOp, Endian, Helper, Insn, JmpOp, Reg, Size};
use proptest::prelude::*;

pub fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::from_num(n).unwrap())
}

/// Registers an instruction may write: all but the frame pointer.
pub fn wreg() -> impl Strategy<Value = Reg> {
    (0u8..=9).prop_map(|n| Reg::from_num(n).unwrap())
}

pub fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

pub fn small_size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)]
}

pub fn alu_op() -> impl Strategy<Value = AluOp> {
    use AluOp::*;
    prop::sample::select(vec![
        Add, Sub, Mul, Div, SDiv, Or, And, Lsh, Rsh, Mod, SMod, Xor, Mov, Arsh,
    ])
}

pub fn jmp_op() -> impl Strategy<Value = JmpOp> {
    use JmpOp::*;
    prop::sample::select(vec![Eq, Gt, Ge, Set, Ne, SGt, SGe, Lt, Le, SLt, SLe])
}

pub fn operand() -> impl Strategy<Value = asm::Operand> {
    prop_oneof![
        any::<i32>().prop_map(asm::Operand::Imm),
        reg().prop_map(asm::Operand::Reg)
    ]
}

/// Every valid instruction, through the typed constructors: one slot or an `lddw` pair.
pub fn valid_insn() -> impl Strategy<Value = Vec<Insn>> {
    let one = |s: BoxedStrategy<Insn>| s.prop_map(|i| vec![i]).boxed();
    prop_oneof![
        one((alu_op(), wreg(), operand(), any::<bool>())
            .prop_map(|(o, d, s, w)| if w {
                Insn::alu64(o, d, s)
            } else {
                Insn::alu32(o, d, s)
            })
            .boxed()),
        one((wreg(), any::<bool>())
            .prop_map(|(d, w)| Insn::neg(d, w))
            .boxed()),
        one((wreg(), reg(), prop::sample::select(vec![8i16, 16, 32]))
            .prop_map(|(d, s, b)| Insn::movsx(d, s, b, true))
            .boxed()),
        one((wreg(), reg(), prop::sample::select(vec![8i16, 16]))
            .prop_map(|(d, s, b)| Insn::movsx(d, s, b, false))
            .boxed()),
        one((
            prop::sample::select(vec![Endian::Le, Endian::Be, Endian::Swap]),
            wreg(),
            prop::sample::select(vec![16, 32, 64])
        )
            .prop_map(|(k, d, b)| Insn::endian(k, d, b))
            .boxed()),
        one((jmp_op(), reg(), operand(), any::<i16>(), any::<bool>())
            .prop_map(|(c, d, s, off, w)| Insn::jmp(c, d, s, off, w))
            .boxed()),
        one(any::<i16>().prop_map(Insn::ja).boxed()),
        one(any::<i32>().prop_map(Insn::ja32).boxed()),
        one((0u32..=209)
            .prop_map(|id| Insn::call(Helper::from_id(id).unwrap()))
            .boxed()),
        one(any::<i32>().prop_map(Insn::call_id).boxed()),
        one(any::<i32>().prop_map(Insn::call_local).boxed()),
        one(any::<i32>().prop_map(Insn::call_kfunc).boxed()),
        one(Just(Insn::exit()).boxed()),
        one((size(), wreg(), reg(), any::<i16>())
            .prop_map(|(z, d, s, o)| Insn::ldx(z, d, s, o))
            .boxed()),
        one((small_size(), wreg(), reg(), any::<i16>())
            .prop_map(|(z, d, s, o)| Insn::ldxsx(z, d, s, o))
            .boxed()),
        one((size(), reg(), any::<i16>(), any::<i32>())
            .prop_map(|(z, d, o, i)| Insn::st(z, d, o, i))
            .boxed()),
        one((size(), reg(), any::<i16>(), reg())
            .prop_map(|(z, d, o, s)| Insn::stx(z, d, o, s))
            .boxed()),
        one((
            prop::sample::select(AtomicOp::ALL.to_vec()),
            prop_oneof![Just(Size::W), Just(Size::DW)],
            reg(),
            any::<i16>(),
            reg()
        )
            .prop_filter("fetching atomics write src", |(a, _, _, _, s)| {
                *s != Reg::R10
                    || matches!(
                        a,
                        AtomicOp::Add
                            | AtomicOp::Or
                            | AtomicOp::And
                            | AtomicOp::Xor
                            | AtomicOp::Cmpxchg
                    )
            })
            .prop_map(|(a, z, d, o, s)| Insn::atomic(a, z, d, o, s))
            .boxed()),
        (wreg(), any::<u64>())
            .prop_map(|(d, v)| Insn::lddw(d, v).to_vec())
            .boxed(),
        (wreg(), 0u8..=6, any::<i32>(), any::<i32>())
            .prop_map(|(d, src, a, b)| {
                let b = if src == op::PSEUDO_MAP_FD || src == op::PSEUDO_MAP_IDX {
                    0
                } else {
                    b
                };
                Insn::lddw_pseudo(d, src, a, b).to_vec()
            })
            .boxed(),
        one((small_size(), any::<i32>())
            .prop_map(|(z, i)| Insn::ld_abs(z, i))
            .boxed()),
        one((small_size(), reg(), any::<i32>())
            .prop_map(|(z, s, i)| Insn::ld_ind(z, s, i))
            .boxed()),
    ]
}

/// A deterministic list covering every constructor and every operation, with a few operand
/// shapes each (one or two slots per entry).
pub fn all_valid() -> Vec<Vec<Insn>> {
    use Reg::*;
    let mut v: Vec<Vec<Insn>> = Vec::new();
    let alu = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];
    for o in alu {
        for (d, s) in [(R1, 8), (R9, -8), (R0, i32::MIN)] {
            v.push(vec![Insn::alu64(o, d, s)]);
            v.push(vec![Insn::alu32(o, d, s)]);
        }
        for (d, s) in [(R1, R2), (R0, R10), (R9, R0)] {
            v.push(vec![Insn::alu64(o, d, s)]);
            v.push(vec![Insn::alu32(o, d, s)]);
        }
    }
    for w in [true, false] {
        v.push(vec![Insn::neg(R3, w)]);
    }
    for b in [8, 16, 32] {
        v.push(vec![Insn::movsx(R1, R2, b, true)]);
    }
    for b in [8, 16] {
        v.push(vec![Insn::movsx(R1, R2, b, false)]);
    }
    for k in [Endian::Le, Endian::Be, Endian::Swap] {
        for b in [16, 32, 64] {
            v.push(vec![Insn::endian(k, R4, b)]);
        }
    }
    let conds = [
        JmpOp::Eq,
        JmpOp::Gt,
        JmpOp::Ge,
        JmpOp::Set,
        JmpOp::Ne,
        JmpOp::SGt,
        JmpOp::SGe,
        JmpOp::Lt,
        JmpOp::Le,
        JmpOp::SLt,
        JmpOp::SLe,
    ];
    for c in conds {
        for w in [true, false] {
            v.push(vec![Insn::jmp(c, R1, 8, 3, w)]);
            v.push(vec![Insn::jmp(c, R1, -1, -3, w)]);
            v.push(vec![Insn::jmp(c, R1, R2, 3, w)]);
            v.push(vec![Insn::jmp(c, R10, R9, -1, w)]);
        }
    }
    v.push(vec![Insn::ja(5)]);
    v.push(vec![Insn::ja(-5)]);
    v.push(vec![Insn::ja32(70_000)]);
    v.push(vec![Insn::call(Helper::SockHashUpdate)]);
    v.push(vec![Insn::call(Helper::MapLookupElem)]);
    v.push(vec![Insn::call_id(100_000)]);
    v.push(vec![Insn::call_local(4)]);
    v.push(vec![Insn::call_kfunc(1234)]);
    v.push(vec![Insn::exit()]);
    for z in [Size::B, Size::H, Size::W, Size::DW] {
        v.push(vec![Insn::ldx(z, R1, R6, 4)]);
        v.push(vec![Insn::ldx(z, R2, R10, -8)]);
        v.push(vec![Insn::st(z, R10, -8, 7)]);
        v.push(vec![Insn::st(z, R1, 2, -7)]);
        v.push(vec![Insn::stx(z, R10, -8, R1)]);
        v.push(vec![Insn::stx(z, R1, 16, R10)]);
    }
    for z in [Size::B, Size::H, Size::W] {
        v.push(vec![Insn::ldxsx(z, R1, R2, 6)]);
        v.push(vec![Insn::ld_abs(z, 12)]);
        v.push(vec![Insn::ld_ind(z, R3, 4)]);
    }
    for a in AtomicOp::ALL {
        for z in [Size::W, Size::DW] {
            v.push(vec![Insn::atomic(a, z, R1, 8, R2)]);
        }
    }
    v.push(Insn::lddw(R1, 0x1122_3344_5566_7788).to_vec());
    v.push(Insn::lddw(R0, u64::MAX).to_vec());
    for src in 1..=6u8 {
        let second = if src == op::PSEUDO_MAP_FD || src == op::PSEUDO_MAP_IDX {
            0
        } else {
            8
        };
        v.push(Insn::lddw_pseudo(R2, src, 5, second).to_vec());
    }
    v
}
