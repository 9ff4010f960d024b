//! Golden encodings and disassembly for every instruction family.
//!
//! The expected bytes are written by hand from RFC 9669 and the opcode values of
//! `linux/bpf.h` (class | size/op | mode/source), not produced by this crate's encoder; the
//! expected text is the kernel's `print_bpf_insn` format as bpftool prints it.

use asm::insn::op;
use asm::{disasm, AluOp, AtomicOp, Endian, Helper, Insn, JmpOp, Reg::*, Size};

/// One golden row: slots from a typed constructor, their hand-written bytes, the text.
struct Row {
    insns: Vec<Insn>,
    bytes: &'static str,
    text: &'static str,
}

fn row(insn: Insn, bytes: &'static str, text: &'static str) -> Row {
    Row {
        insns: vec![insn],
        bytes,
        text,
    }
}

fn wide(insns: [Insn; 2], bytes: &'static str, text: &'static str) -> Row {
    Row {
        insns: insns.to_vec(),
        bytes,
        text,
    }
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .filter(|t| *t != "|")
        .map(|t| u8::from_str_radix(t, 16).expect("hex byte"))
        .collect()
}

fn alu_rows() -> Vec<Row> {
    use AluOp::*;
    vec![
        // ALU64, immediate (dst r1, imm 8) and register (dst r1, src r2 -> byte 0x21).
        row(
            Insn::alu64(Add, R1, 8),
            "07 01 00 00 08 00 00 00",
            "r1 += 8",
        ),
        row(
            Insn::alu64(Add, R1, R2),
            "0f 21 00 00 00 00 00 00",
            "r1 += r2",
        ),
        row(
            Insn::alu64(Sub, R1, 8),
            "17 01 00 00 08 00 00 00",
            "r1 -= 8",
        ),
        row(
            Insn::alu64(Sub, R1, R2),
            "1f 21 00 00 00 00 00 00",
            "r1 -= r2",
        ),
        row(
            Insn::alu64(Mul, R1, 8),
            "27 01 00 00 08 00 00 00",
            "r1 *= 8",
        ),
        row(
            Insn::alu64(Mul, R1, R2),
            "2f 21 00 00 00 00 00 00",
            "r1 *= r2",
        ),
        row(
            Insn::alu64(Div, R1, 8),
            "37 01 00 00 08 00 00 00",
            "r1 /= 8",
        ),
        row(
            Insn::alu64(Div, R1, R2),
            "3f 21 00 00 00 00 00 00",
            "r1 /= r2",
        ),
        row(
            Insn::alu64(SDiv, R1, 8),
            "37 01 01 00 08 00 00 00",
            "r1 s/= 8",
        ),
        row(
            Insn::alu64(SDiv, R1, R2),
            "3f 21 01 00 00 00 00 00",
            "r1 s/= r2",
        ),
        row(Insn::alu64(Or, R1, 8), "47 01 00 00 08 00 00 00", "r1 |= 8"),
        row(
            Insn::alu64(Or, R1, R2),
            "4f 21 00 00 00 00 00 00",
            "r1 |= r2",
        ),
        row(
            Insn::alu64(And, R1, 8),
            "57 01 00 00 08 00 00 00",
            "r1 &= 8",
        ),
        row(
            Insn::alu64(And, R1, R2),
            "5f 21 00 00 00 00 00 00",
            "r1 &= r2",
        ),
        row(
            Insn::alu64(Lsh, R1, 8),
            "67 01 00 00 08 00 00 00",
            "r1 <<= 8",
        ),
        row(
            Insn::alu64(Lsh, R1, R2),
            "6f 21 00 00 00 00 00 00",
            "r1 <<= r2",
        ),
        row(
            Insn::alu64(Rsh, R1, 8),
            "77 01 00 00 08 00 00 00",
            "r1 >>= 8",
        ),
        row(
            Insn::alu64(Rsh, R1, R2),
            "7f 21 00 00 00 00 00 00",
            "r1 >>= r2",
        ),
        row(
            Insn::alu64(Mod, R1, 8),
            "97 01 00 00 08 00 00 00",
            "r1 %= 8",
        ),
        row(
            Insn::alu64(Mod, R1, R2),
            "9f 21 00 00 00 00 00 00",
            "r1 %= r2",
        ),
        row(
            Insn::alu64(SMod, R1, 8),
            "97 01 01 00 08 00 00 00",
            "r1 s%= 8",
        ),
        row(
            Insn::alu64(SMod, R1, R2),
            "9f 21 01 00 00 00 00 00",
            "r1 s%= r2",
        ),
        row(
            Insn::alu64(Xor, R1, 8),
            "a7 01 00 00 08 00 00 00",
            "r1 ^= 8",
        ),
        row(
            Insn::alu64(Xor, R1, R2),
            "af 21 00 00 00 00 00 00",
            "r1 ^= r2",
        ),
        row(Insn::alu64(Mov, R1, 8), "b7 01 00 00 08 00 00 00", "r1 = 8"),
        row(
            Insn::alu64(Mov, R1, R2),
            "bf 21 00 00 00 00 00 00",
            "r1 = r2",
        ),
        row(
            Insn::alu64(Mov, R1, -1),
            "b7 01 00 00 ff ff ff ff",
            "r1 = -1",
        ),
        row(
            Insn::alu64(Arsh, R1, 8),
            "c7 01 00 00 08 00 00 00",
            "r1 s>>= 8",
        ),
        row(
            Insn::alu64(Arsh, R1, R2),
            "cf 21 00 00 00 00 00 00",
            "r1 s>>= r2",
        ),
        row(
            Insn::alu64(Add, R9, -8),
            "07 09 00 00 f8 ff ff ff",
            "r9 += -8",
        ),
        // ALU (32-bit).
        row(
            Insn::alu32(Add, R1, 8),
            "04 01 00 00 08 00 00 00",
            "w1 += 8",
        ),
        row(
            Insn::alu32(Add, R1, R2),
            "0c 21 00 00 00 00 00 00",
            "w1 += w2",
        ),
        row(
            Insn::alu32(Sub, R1, 8),
            "14 01 00 00 08 00 00 00",
            "w1 -= 8",
        ),
        row(
            Insn::alu32(Sub, R1, R2),
            "1c 21 00 00 00 00 00 00",
            "w1 -= w2",
        ),
        row(
            Insn::alu32(Mul, R1, 8),
            "24 01 00 00 08 00 00 00",
            "w1 *= 8",
        ),
        row(
            Insn::alu32(Mul, R1, R2),
            "2c 21 00 00 00 00 00 00",
            "w1 *= w2",
        ),
        row(
            Insn::alu32(Div, R1, 8),
            "34 01 00 00 08 00 00 00",
            "w1 /= 8",
        ),
        row(
            Insn::alu32(Div, R1, R2),
            "3c 21 00 00 00 00 00 00",
            "w1 /= w2",
        ),
        row(
            Insn::alu32(SDiv, R1, 8),
            "34 01 01 00 08 00 00 00",
            "w1 s/= 8",
        ),
        row(
            Insn::alu32(SDiv, R1, R2),
            "3c 21 01 00 00 00 00 00",
            "w1 s/= w2",
        ),
        row(Insn::alu32(Or, R1, 8), "44 01 00 00 08 00 00 00", "w1 |= 8"),
        row(
            Insn::alu32(Or, R1, R2),
            "4c 21 00 00 00 00 00 00",
            "w1 |= w2",
        ),
        row(
            Insn::alu32(And, R1, 8),
            "54 01 00 00 08 00 00 00",
            "w1 &= 8",
        ),
        row(
            Insn::alu32(And, R1, R2),
            "5c 21 00 00 00 00 00 00",
            "w1 &= w2",
        ),
        row(
            Insn::alu32(Lsh, R1, 8),
            "64 01 00 00 08 00 00 00",
            "w1 <<= 8",
        ),
        row(
            Insn::alu32(Lsh, R1, R2),
            "6c 21 00 00 00 00 00 00",
            "w1 <<= w2",
        ),
        row(
            Insn::alu32(Rsh, R1, 8),
            "74 01 00 00 08 00 00 00",
            "w1 >>= 8",
        ),
        row(
            Insn::alu32(Rsh, R1, R2),
            "7c 21 00 00 00 00 00 00",
            "w1 >>= w2",
        ),
        row(
            Insn::alu32(Mod, R1, 8),
            "94 01 00 00 08 00 00 00",
            "w1 %= 8",
        ),
        row(
            Insn::alu32(Mod, R1, R2),
            "9c 21 00 00 00 00 00 00",
            "w1 %= w2",
        ),
        row(
            Insn::alu32(SMod, R1, 8),
            "94 01 01 00 08 00 00 00",
            "w1 s%= 8",
        ),
        row(
            Insn::alu32(SMod, R1, R2),
            "9c 21 01 00 00 00 00 00",
            "w1 s%= w2",
        ),
        row(
            Insn::alu32(Xor, R1, 8),
            "a4 01 00 00 08 00 00 00",
            "w1 ^= 8",
        ),
        row(
            Insn::alu32(Xor, R1, R2),
            "ac 21 00 00 00 00 00 00",
            "w1 ^= w2",
        ),
        row(Insn::alu32(Mov, R1, 8), "b4 01 00 00 08 00 00 00", "w1 = 8"),
        row(
            Insn::alu32(Mov, R1, R2),
            "bc 21 00 00 00 00 00 00",
            "w1 = w2",
        ),
        row(
            Insn::alu32(Arsh, R1, 8),
            "c4 01 00 00 08 00 00 00",
            "w1 s>>= 8",
        ),
        row(
            Insn::alu32(Arsh, R1, R2),
            "cc 21 00 00 00 00 00 00",
            "w1 s>>= w2",
        ),
        // Negation.
        row(Insn::neg(R1, true), "87 01 00 00 00 00 00 00", "r1 = -r1"),
        row(Insn::neg(R1, false), "84 01 00 00 00 00 00 00", "w1 = -w1"),
        // Sign-extending moves: off = 8, 16, 32.
        row(
            Insn::movsx(R1, R2, 8, true),
            "bf 21 08 00 00 00 00 00",
            "r1 = (s8)r2",
        ),
        row(
            Insn::movsx(R1, R2, 16, true),
            "bf 21 10 00 00 00 00 00",
            "r1 = (s16)r2",
        ),
        row(
            Insn::movsx(R1, R2, 32, true),
            "bf 21 20 00 00 00 00 00",
            "r1 = (s32)r2",
        ),
        row(
            Insn::movsx(R1, R2, 8, false),
            "bc 21 08 00 00 00 00 00",
            "w1 = (s8)w2",
        ),
        row(
            Insn::movsx(R1, R2, 16, false),
            "bc 21 10 00 00 00 00 00",
            "w1 = (s16)w2",
        ),
        // Byte swaps: le (0xd4), be (0xdc), bswap (0xd7); width in imm.
        row(
            Insn::endian(Endian::Le, R1, 16),
            "d4 01 00 00 10 00 00 00",
            "r1 = le16 r1",
        ),
        row(
            Insn::endian(Endian::Le, R1, 32),
            "d4 01 00 00 20 00 00 00",
            "r1 = le32 r1",
        ),
        row(
            Insn::endian(Endian::Le, R1, 64),
            "d4 01 00 00 40 00 00 00",
            "r1 = le64 r1",
        ),
        row(
            Insn::endian(Endian::Be, R2, 16),
            "dc 02 00 00 10 00 00 00",
            "r2 = be16 r2",
        ),
        row(
            Insn::endian(Endian::Be, R2, 32),
            "dc 02 00 00 20 00 00 00",
            "r2 = be32 r2",
        ),
        row(
            Insn::endian(Endian::Be, R2, 64),
            "dc 02 00 00 40 00 00 00",
            "r2 = be64 r2",
        ),
        row(
            Insn::endian(Endian::Swap, R1, 16),
            "d7 01 00 00 10 00 00 00",
            "r1 = bswap16 r1",
        ),
        row(
            Insn::endian(Endian::Swap, R1, 32),
            "d7 01 00 00 20 00 00 00",
            "r1 = bswap32 r1",
        ),
        row(
            Insn::endian(Endian::Swap, R1, 64),
            "d7 01 00 00 40 00 00 00",
            "r1 = bswap64 r1",
        ),
    ]
}

fn jmp_rows() -> Vec<Row> {
    use JmpOp::*;
    let j = |c, s: i32| Insn::jmp(c, R1, s, 3, true);
    let jr = |c| Insn::jmp(c, R1, R2, 3, true);
    let w = |c, s: i32| Insn::jmp(c, R1, s, 3, false);
    let wr = |c| Insn::jmp(c, R1, R2, 3, false);
    vec![
        row(
            j(Eq, 8),
            "15 01 03 00 08 00 00 00",
            "if r1 == 0x8 goto pc+3",
        ),
        row(jr(Eq), "1d 21 03 00 00 00 00 00", "if r1 == r2 goto pc+3"),
        row(j(Gt, 8), "25 01 03 00 08 00 00 00", "if r1 > 0x8 goto pc+3"),
        row(jr(Gt), "2d 21 03 00 00 00 00 00", "if r1 > r2 goto pc+3"),
        row(
            j(Ge, 8),
            "35 01 03 00 08 00 00 00",
            "if r1 >= 0x8 goto pc+3",
        ),
        row(jr(Ge), "3d 21 03 00 00 00 00 00", "if r1 >= r2 goto pc+3"),
        row(
            j(Set, 8),
            "45 01 03 00 08 00 00 00",
            "if r1 & 0x8 goto pc+3",
        ),
        row(jr(Set), "4d 21 03 00 00 00 00 00", "if r1 & r2 goto pc+3"),
        row(
            j(Ne, 8),
            "55 01 03 00 08 00 00 00",
            "if r1 != 0x8 goto pc+3",
        ),
        row(jr(Ne), "5d 21 03 00 00 00 00 00", "if r1 != r2 goto pc+3"),
        row(
            j(SGt, -1),
            "65 01 03 00 ff ff ff ff",
            "if r1 s> 0xffffffff goto pc+3",
        ),
        row(jr(SGt), "6d 21 03 00 00 00 00 00", "if r1 s> r2 goto pc+3"),
        row(
            j(SGe, 8),
            "75 01 03 00 08 00 00 00",
            "if r1 s>= 0x8 goto pc+3",
        ),
        row(jr(SGe), "7d 21 03 00 00 00 00 00", "if r1 s>= r2 goto pc+3"),
        row(j(Lt, 8), "a5 01 03 00 08 00 00 00", "if r1 < 0x8 goto pc+3"),
        row(jr(Lt), "ad 21 03 00 00 00 00 00", "if r1 < r2 goto pc+3"),
        row(
            j(Le, 8),
            "b5 01 03 00 08 00 00 00",
            "if r1 <= 0x8 goto pc+3",
        ),
        row(jr(Le), "bd 21 03 00 00 00 00 00", "if r1 <= r2 goto pc+3"),
        row(
            j(SLt, 8),
            "c5 01 03 00 08 00 00 00",
            "if r1 s< 0x8 goto pc+3",
        ),
        row(jr(SLt), "cd 21 03 00 00 00 00 00", "if r1 s< r2 goto pc+3"),
        row(
            j(SLe, 8),
            "d5 01 03 00 08 00 00 00",
            "if r1 s<= 0x8 goto pc+3",
        ),
        row(jr(SLe), "dd 21 03 00 00 00 00 00", "if r1 s<= r2 goto pc+3"),
        row(
            Insn::jmp(Eq, R0, 0, -2, true),
            "15 00 fe ff 00 00 00 00",
            "if r0 == 0x0 goto pc-2",
        ),
        // JMP32: class 0x06, `w` registers.
        row(
            w(Eq, 8),
            "16 01 03 00 08 00 00 00",
            "if w1 == 0x8 goto pc+3",
        ),
        row(wr(Eq), "1e 21 03 00 00 00 00 00", "if w1 == w2 goto pc+3"),
        row(w(Gt, 8), "26 01 03 00 08 00 00 00", "if w1 > 0x8 goto pc+3"),
        row(wr(Gt), "2e 21 03 00 00 00 00 00", "if w1 > w2 goto pc+3"),
        row(
            w(Ge, 8),
            "36 01 03 00 08 00 00 00",
            "if w1 >= 0x8 goto pc+3",
        ),
        row(wr(Ge), "3e 21 03 00 00 00 00 00", "if w1 >= w2 goto pc+3"),
        row(
            w(Set, 8),
            "46 01 03 00 08 00 00 00",
            "if w1 & 0x8 goto pc+3",
        ),
        row(wr(Set), "4e 21 03 00 00 00 00 00", "if w1 & w2 goto pc+3"),
        row(
            w(Ne, 8),
            "56 01 03 00 08 00 00 00",
            "if w1 != 0x8 goto pc+3",
        ),
        row(wr(Ne), "5e 21 03 00 00 00 00 00", "if w1 != w2 goto pc+3"),
        row(
            w(SGt, 8),
            "66 01 03 00 08 00 00 00",
            "if w1 s> 0x8 goto pc+3",
        ),
        row(wr(SGt), "6e 21 03 00 00 00 00 00", "if w1 s> w2 goto pc+3"),
        row(
            w(SGe, 8),
            "76 01 03 00 08 00 00 00",
            "if w1 s>= 0x8 goto pc+3",
        ),
        row(wr(SGe), "7e 21 03 00 00 00 00 00", "if w1 s>= w2 goto pc+3"),
        row(w(Lt, 8), "a6 01 03 00 08 00 00 00", "if w1 < 0x8 goto pc+3"),
        row(wr(Lt), "ae 21 03 00 00 00 00 00", "if w1 < w2 goto pc+3"),
        row(
            w(Le, 8),
            "b6 01 03 00 08 00 00 00",
            "if w1 <= 0x8 goto pc+3",
        ),
        row(wr(Le), "be 21 03 00 00 00 00 00", "if w1 <= w2 goto pc+3"),
        row(
            w(SLt, 8),
            "c6 01 03 00 08 00 00 00",
            "if w1 s< 0x8 goto pc+3",
        ),
        row(wr(SLt), "ce 21 03 00 00 00 00 00", "if w1 s< w2 goto pc+3"),
        row(
            w(SLe, 8),
            "d6 01 03 00 08 00 00 00",
            "if w1 s<= 0x8 goto pc+3",
        ),
        row(wr(SLe), "de 21 03 00 00 00 00 00", "if w1 s<= w2 goto pc+3"),
        // Unconditional jumps: ja (off), gotol (JMP32 | JA, imm = 70000 = 0x11170).
        row(Insn::ja(-1), "05 00 ff ff 00 00 00 00", "goto pc-1"),
        row(Insn::ja(4), "05 00 04 00 00 00 00 00", "goto pc+4"),
        row(
            Insn::ja32(70000),
            "06 00 00 00 70 11 01 00",
            "gotol pc+70000",
        ),
        // Calls and exit.
        row(
            Insn::call(Helper::SockHashUpdate),
            "85 00 00 00 46 00 00 00",
            "call bpf_sock_hash_update#70",
        ),
        row(
            Insn::call(Helper::MapLookupElem),
            "85 00 00 00 01 00 00 00",
            "call bpf_map_lookup_elem#1",
        ),
        row(
            Insn::call(Helper::MsgRedirectHash),
            "85 00 00 00 47 00 00 00",
            "call bpf_msg_redirect_hash#71",
        ),
        row(
            Insn::call_id(100000),
            "85 00 00 00 a0 86 01 00",
            "call unknown#100000",
        ),
        row(Insn::call_local(5), "85 10 00 00 05 00 00 00", "call pc+5"),
        row(Insn::call_local(-3), "85 10 00 00 fd ff ff ff", "call pc-3"),
        row(
            Insn::call_kfunc(1234),
            "85 20 00 00 d2 04 00 00",
            "call kernel-function#1234",
        ),
        row(Insn::exit(), "95 00 00 00 00 00 00 00", "exit"),
    ]
}

fn mem_rows() -> Vec<Row> {
    use AtomicOp::*;
    vec![
        // LDX | MEM | size: W 0x61, H 0x69, B 0x71, DW 0x79.
        row(
            Insn::ldx(Size::W, R1, R6, 4),
            "61 61 04 00 00 00 00 00",
            "r1 = *(u32 *)(r6 +4)",
        ),
        row(
            Insn::ldx(Size::H, R1, R6, 4),
            "69 61 04 00 00 00 00 00",
            "r1 = *(u16 *)(r6 +4)",
        ),
        row(
            Insn::ldx(Size::B, R1, R6, 4),
            "71 61 04 00 00 00 00 00",
            "r1 = *(u8 *)(r6 +4)",
        ),
        row(
            Insn::ldx(Size::DW, R1, R10, -8),
            "79 a1 f8 ff 00 00 00 00",
            "r1 = *(u64 *)(r10 -8)",
        ),
        // LDX | MEMSX | size: W 0x81, H 0x89, B 0x91.
        row(
            Insn::ldxsx(Size::W, R1, R2, 0),
            "81 21 00 00 00 00 00 00",
            "r1 = *(s32 *)(r2 +0)",
        ),
        row(
            Insn::ldxsx(Size::H, R1, R2, 0),
            "89 21 00 00 00 00 00 00",
            "r1 = *(s16 *)(r2 +0)",
        ),
        row(
            Insn::ldxsx(Size::B, R1, R2, 0),
            "91 21 00 00 00 00 00 00",
            "r1 = *(s8 *)(r2 +0)",
        ),
        // ST | MEM | size: W 0x62, H 0x6a, B 0x72, DW 0x7a.
        row(
            Insn::st(Size::W, R10, -4, 7),
            "62 0a fc ff 07 00 00 00",
            "*(u32 *)(r10 -4) = 7",
        ),
        row(
            Insn::st(Size::H, R10, -4, 7),
            "6a 0a fc ff 07 00 00 00",
            "*(u16 *)(r10 -4) = 7",
        ),
        row(
            Insn::st(Size::B, R10, -4, 7),
            "72 0a fc ff 07 00 00 00",
            "*(u8 *)(r10 -4) = 7",
        ),
        row(
            Insn::st(Size::DW, R10, -8, -1),
            "7a 0a f8 ff ff ff ff ff",
            "*(u64 *)(r10 -8) = -1",
        ),
        // STX | MEM | size: W 0x63, H 0x6b, B 0x73, DW 0x7b.
        row(
            Insn::stx(Size::W, R10, -4, R1),
            "63 1a fc ff 00 00 00 00",
            "*(u32 *)(r10 -4) = r1",
        ),
        row(
            Insn::stx(Size::H, R10, -4, R1),
            "6b 1a fc ff 00 00 00 00",
            "*(u16 *)(r10 -4) = r1",
        ),
        row(
            Insn::stx(Size::B, R10, -4, R1),
            "73 1a fc ff 00 00 00 00",
            "*(u8 *)(r10 -4) = r1",
        ),
        row(
            Insn::stx(Size::DW, R10, -8, R1),
            "7b 1a f8 ff 00 00 00 00",
            "*(u64 *)(r10 -8) = r1",
        ),
        // STX | ATOMIC | W (0xc3): the operation is in imm.
        row(
            Insn::atomic(Add, Size::W, R1, 0, R2),
            "c3 21 00 00 00 00 00 00",
            "lock *(u32 *)(r1 +0) += r2",
        ),
        row(
            Insn::atomic(Or, Size::W, R1, 0, R2),
            "c3 21 00 00 40 00 00 00",
            "lock *(u32 *)(r1 +0) |= r2",
        ),
        row(
            Insn::atomic(And, Size::W, R1, 0, R2),
            "c3 21 00 00 50 00 00 00",
            "lock *(u32 *)(r1 +0) &= r2",
        ),
        row(
            Insn::atomic(Xor, Size::W, R1, 0, R2),
            "c3 21 00 00 a0 00 00 00",
            "lock *(u32 *)(r1 +0) ^= r2",
        ),
        row(
            Insn::atomic(FetchAdd, Size::W, R1, 0, R2),
            "c3 21 00 00 01 00 00 00",
            "r2 = atomic_fetch_add((u32 *)(r1 +0), r2)",
        ),
        row(
            Insn::atomic(FetchOr, Size::W, R1, 0, R2),
            "c3 21 00 00 41 00 00 00",
            "r2 = atomic_fetch_or((u32 *)(r1 +0), r2)",
        ),
        row(
            Insn::atomic(FetchAnd, Size::W, R1, 0, R2),
            "c3 21 00 00 51 00 00 00",
            "r2 = atomic_fetch_and((u32 *)(r1 +0), r2)",
        ),
        row(
            Insn::atomic(FetchXor, Size::W, R1, 0, R2),
            "c3 21 00 00 a1 00 00 00",
            "r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)",
        ),
        row(
            Insn::atomic(Xchg, Size::W, R1, 0, R2),
            "c3 21 00 00 e1 00 00 00",
            "r2 = atomic_xchg((u32 *)(r1 +0), r2)",
        ),
        row(
            Insn::atomic(Cmpxchg, Size::W, R1, 0, R2),
            "c3 21 00 00 f1 00 00 00",
            "r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)",
        ),
        // STX | ATOMIC | DW (0xdb).
        row(
            Insn::atomic(Add, Size::DW, R1, 8, R2),
            "db 21 08 00 00 00 00 00",
            "lock *(u64 *)(r1 +8) += r2",
        ),
        row(
            Insn::atomic(Or, Size::DW, R1, 8, R2),
            "db 21 08 00 40 00 00 00",
            "lock *(u64 *)(r1 +8) |= r2",
        ),
        row(
            Insn::atomic(And, Size::DW, R1, 8, R2),
            "db 21 08 00 50 00 00 00",
            "lock *(u64 *)(r1 +8) &= r2",
        ),
        row(
            Insn::atomic(Xor, Size::DW, R1, 8, R2),
            "db 21 08 00 a0 00 00 00",
            "lock *(u64 *)(r1 +8) ^= r2",
        ),
        row(
            Insn::atomic(FetchAdd, Size::DW, R1, 8, R2),
            "db 21 08 00 01 00 00 00",
            "r2 = atomic64_fetch_add((u64 *)(r1 +8), r2)",
        ),
        row(
            Insn::atomic(FetchOr, Size::DW, R1, 8, R2),
            "db 21 08 00 41 00 00 00",
            "r2 = atomic64_fetch_or((u64 *)(r1 +8), r2)",
        ),
        row(
            Insn::atomic(FetchAnd, Size::DW, R1, 8, R2),
            "db 21 08 00 51 00 00 00",
            "r2 = atomic64_fetch_and((u64 *)(r1 +8), r2)",
        ),
        row(
            Insn::atomic(FetchXor, Size::DW, R1, 8, R2),
            "db 21 08 00 a1 00 00 00",
            "r2 = atomic64_fetch_xor((u64 *)(r1 +8), r2)",
        ),
        row(
            Insn::atomic(Xchg, Size::DW, R1, 8, R2),
            "db 21 08 00 e1 00 00 00",
            "r2 = atomic64_xchg((u64 *)(r1 +8), r2)",
        ),
        row(
            Insn::atomic(Cmpxchg, Size::DW, R1, 8, R2),
            "db 21 08 00 f1 00 00 00",
            "r0 = atomic64_cmpxchg((u64 *)(r1 +8), r0, r2)",
        ),
        // LD | ABS | size: W 0x20, H 0x28, B 0x30; LD | IND | size: 0x40, 0x48, 0x50.
        row(
            Insn::ld_abs(Size::W, 12),
            "20 00 00 00 0c 00 00 00",
            "r0 = *(u32 *)skb[12]",
        ),
        row(
            Insn::ld_abs(Size::H, 12),
            "28 00 00 00 0c 00 00 00",
            "r0 = *(u16 *)skb[12]",
        ),
        row(
            Insn::ld_abs(Size::B, 12),
            "30 00 00 00 0c 00 00 00",
            "r0 = *(u8 *)skb[12]",
        ),
        row(
            Insn::ld_ind(Size::W, R2, 4),
            "40 20 00 00 04 00 00 00",
            "r0 = *(u32 *)skb[r2 + 4]",
        ),
        row(
            Insn::ld_ind(Size::H, R2, 4),
            "48 20 00 00 04 00 00 00",
            "r0 = *(u16 *)skb[r2 + 4]",
        ),
        row(
            Insn::ld_ind(Size::B, R2, 4),
            "50 20 00 00 04 00 00 00",
            "r0 = *(u8 *)skb[r2 + 4]",
        ),
    ]
}

fn lddw_rows() -> Vec<Row> {
    vec![
        wide(
            Insn::lddw(R1, 0x1122_3344_5566_7788),
            "18 01 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11",
            "r1 = 0x1122334455667788",
        ),
        wide(
            Insn::lddw(R0, 0),
            "18 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00",
            "r0 = 0x0",
        ),
        wide(
            Insn::lddw_pseudo(R1, op::PSEUDO_MAP_FD, 5, 0),
            "18 11 00 00 05 00 00 00 | 00 00 00 00 00 00 00 00",
            "r1 = map[id:5]",
        ),
        wide(
            Insn::lddw_pseudo(R1, op::PSEUDO_MAP_VALUE, 5, 8),
            "18 21 00 00 05 00 00 00 | 00 00 00 00 08 00 00 00",
            "r1 = map[id:5][0]+8",
        ),
        wide(
            Insn::lddw_pseudo(R1, op::PSEUDO_BTF_ID, 1234, 0),
            "18 31 00 00 d2 04 00 00 | 00 00 00 00 00 00 00 00",
            "r1 = 0x4d2",
        ),
        wide(
            Insn::lddw_pseudo(R1, op::PSEUDO_FUNC, 3, 0),
            "18 41 00 00 03 00 00 00 | 00 00 00 00 00 00 00 00",
            "r1 = subprog[+3]",
        ),
        wide(
            Insn::lddw_pseudo(R1, op::PSEUDO_MAP_IDX, 2, 0),
            "18 51 00 00 02 00 00 00 | 00 00 00 00 00 00 00 00",
            "r1 = 0x2",
        ),
        wide(
            Insn::lddw_pseudo(R1, op::PSEUDO_MAP_IDX_VALUE, 2, 16),
            "18 61 00 00 02 00 00 00 | 00 00 00 00 10 00 00 00",
            "r1 = map[idx:2]+16",
        ),
    ]
}

fn all_rows() -> Vec<Row> {
    let mut v = alu_rows();
    v.extend(jmp_rows());
    v.extend(mem_rows());
    v.extend(lddw_rows());
    v
}

#[test]
fn every_family_encodes_to_the_hand_written_bytes() {
    let rows = all_rows();
    assert!(rows.len() > 170, "{} rows", rows.len());
    for r in &rows {
        assert_eq!(asm::encode(&r.insns), hex(r.bytes), "{}", r.text);
    }
}

#[test]
fn every_family_decodes_back_and_is_valid() {
    let exits = asm::encode(&[Insn::exit(); 8]);
    for r in all_rows() {
        let bytes = hex(r.bytes);
        let slots: Vec<Insn> = bytes
            .chunks_exact(8)
            .map(|c| Insn::decode(c.try_into().unwrap()))
            .collect();
        assert_eq!(slots, r.insns, "{}", r.text);
        r.insns[0]
            .validate(r.insns.get(1))
            .unwrap_or_else(|e| panic!("{}: {e}", r.text));
        // The checked decoder, with room around the slot for its jump targets.
        let far = r.insns[0].jump_offset().is_some_and(|o| o.abs() > 8);
        if !far {
            let program = [exits.clone(), bytes.clone(), exits.clone()].concat();
            let decoded = asm::decode(&program).unwrap_or_else(|e| panic!("{}: {e}", r.text));
            assert_eq!(decoded[8..8 + r.insns.len()], r.insns[..], "{}", r.text);
        }
    }
}

#[test]
fn every_family_disassembles_like_bpftool() {
    for r in all_rows() {
        assert_eq!(
            disasm::format_insn(&r.insns[0], r.insns.get(1)),
            r.text,
            "bytes {}",
            r.bytes
        );
        let code = hex(r.bytes)[0];
        assert_eq!(
            disasm::listing(&r.insns),
            format!("   0: ({code:02x}) {}\n", r.text)
        );
    }
}

#[test]
fn listing_numbers_slots_like_bpftool() {
    let mut insns = Vec::new();
    insns.extend(Insn::lddw_pseudo(R1, op::PSEUDO_MAP_FD, 3, 0));
    for _ in 0..9 {
        insns.push(Insn::alu64(AluOp::Mov, R0, 0));
    }
    insns.push(Insn::exit());
    let text = disasm::listing(&insns);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "   0: (18) r1 = map[id:3]");
    assert_eq!(lines[1], "   2: (b7) r0 = 0");
    assert_eq!(lines[9], "  10: (b7) r0 = 0");
    assert_eq!(lines[10], "  11: (95) exit");
    assert_eq!(lines.len(), 11);
}

/// The builder's methods produce the same hand-written bytes (a `sock_ops`-style program).
#[test]
fn builder_program_bytes() {
    let mut b = asm::Builder::new();
    b.mov64(R6, R1)
        .ldx(Size::W, R2, R6, 0)
        .jne(R2, 4, "out")
        .ld_map(R1, "sock_map")
        .mov64(R2, R6)
        .call(Helper::SockHashUpdate)
        .label("out")
        .mov64(R0, 1)
        .exit();
    let prog = b.build().unwrap();
    let want = hex("bf 16 00 00 00 00 00 00 \
                    61 62 00 00 00 00 00 00 \
                    55 02 04 00 04 00 00 00 \
                    18 11 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 \
                    bf 62 00 00 00 00 00 00 \
                    85 00 00 00 46 00 00 00 \
                    b7 00 00 00 01 00 00 00 \
                    95 00 00 00 00 00 00 00");
    assert_eq!(prog.to_bytes(), want);
    let bound = prog.resolve_maps(|_| Some(9)).unwrap();
    assert_eq!(
        asm::encode(&bound)[24..32],
        hex("18 11 00 00 09 00 00 00")[..]
    );
    assert_eq!(
        disasm::program_listing(&prog),
        "main():\n\
         \x20  0: (bf) r6 = r1\n\
         \x20  1: (61) r2 = *(u32 *)(r6 +0)\n\
         \x20  2: (55) if r2 != 0x4 goto pc+4 <out>\n\
         \x20  3: (18) r1 = map[id:0] <sock_map>\n\
         \x20  5: (bf) r2 = r6\n\
         \x20  6: (85) call bpf_sock_hash_update#70\n\
         out:\n\
         \x20  7: (b7) r0 = 1\n\
         \x20  8: (95) exit\n"
    );
}

#[test]
fn program_listing_shows_functions_labels_comments() {
    let mut b = asm::Builder::new();
    b.mov64(R1, 1)
        .comment("argument")
        .call_fn("double")
        .ja32("end")
        .label("end")
        .exit()
        .function("double")
        .mov64(R0, R1)
        .lsh64(R0, 1)
        .exit();
    let prog = b.build().unwrap();
    assert_eq!(
        disasm::program_listing(&prog),
        "main():\n\
         ; argument\n\
         \x20  0: (b7) r1 = 1\n\
         \x20  1: (85) call pc+2 <double>\n\
         \x20  2: (06) gotol pc+0 <end>\n\
         end:\n\
         \x20  3: (95) exit\n\
         \n\
         double():\n\
         \x20  4: (bf) r0 = r1\n\
         \x20  5: (67) r0 <<= 1\n\
         \x20  6: (95) exit\n"
    );
}

/// Slots the kernel has no regular text for print its `BUG_…`/`(null)` forms, as bpftool
/// would show them.
#[test]
fn invalid_slots_print_kernel_fallbacks() {
    let t = |code: u8, imm: i32| disasm::listing(&[Insn::new(code, 1, 2, 0, imm)]);
    assert_eq!(t(0x22, 0), "   0: BUG_st_22\n"); // ST | ABS
    assert_eq!(t(0x21, 0), "   0: BUG_ldx_21\n"); // LDX | ABS
    assert_eq!(t(0x60, 0), "   0: BUG_ld_60\n"); // LD | MEM
    assert_eq!(t(0x23, 0), "   0: BUG_23\n"); // STX | ABS
    assert_eq!(t(0xc3, 0x99), "   0: BUG_c3\n"); // unknown atomic op
    assert_eq!(t(0xe7, 5), "   0: (e7) r1 (null) 5\n"); // ALU64 op 0xe0
    assert_eq!(t(0x97, 0), "   0: (97) r1 %= 0\n");
    // Linux 6.9+/6.15+ forms the 6.1 UAPI lacks are still printed like the kernel does.
    assert_eq!(
        t(0xe5, 0).trim_end(),
        "   0: (e5) if r1 (null) 0x0 goto pc+0"
    );
    assert_eq!(
        disasm::format_insn(&Insn::new(0xe5, 0, 0, 3, 0), None),
        "may_goto pc+3"
    );
    assert_eq!(
        disasm::format_insn(&Insn::new(0xdb, 1, 2, 0, 0x100), None),
        "r1 = load_acquire((u64 *)(r2 +0))"
    );
    assert_eq!(
        disasm::format_insn(&Insn::new(0xc3, 1, 2, 0, 0x110), None),
        "store_release((u32 *)(r1 +0), r2)"
    );
    assert_eq!(
        disasm::format_insn(&Insn::new(0xbf, 1, 2, 1, 0x0001_0000), None),
        "r1 = addr_space_cast(r2, 1, 0)"
    );
    assert_eq!(
        disasm::format_insn(&Insn::new(0x7a, 0, 0, 0, 0), None),
        "*(u64 *)(r0 +0) = 0"
    );
    assert_eq!(
        disasm::format_insn(&Insn::new(0xc2, 0, 0, 0, 0), None),
        "nospec"
    );
}
