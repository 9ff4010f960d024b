//! The instruction: registers, opcode fields, the raw [`Insn`] with its exact 8-byte encoding,
//! and typed constructors for every instruction of the eBPF ISA (RFC 9669).
//!
//! Constructors here build one instruction slot and never fail; whether the operands make a
//! valid instruction is checked by [`Insn::validate`] (the builder and the decoder call it).

use std::fmt;

/// Opcode field values from RFC 9669 and `linux/bpf.h`.
pub mod op {
    /// Instruction class: non-standard load (`lddw`, legacy packet access).
    pub const LD: u8 = 0x00;
    /// Instruction class: load into a register.
    pub const LDX: u8 = 0x01;
    /// Instruction class: store an immediate.
    pub const ST: u8 = 0x02;
    /// Instruction class: store a register.
    pub const STX: u8 = 0x03;
    /// Instruction class: 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// Instruction class: 64-bit jumps, calls, exit.
    pub const JMP: u8 = 0x05;
    /// Instruction class: 32-bit jumps.
    pub const JMP32: u8 = 0x06;
    /// Instruction class: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;

    /// Source bit: the operand is the immediate.
    pub const K: u8 = 0x00;
    /// Source bit: the operand is the source register.
    pub const X: u8 = 0x08;

    /// Size field: 32 bits.
    pub const W: u8 = 0x00;
    /// Size field: 16 bits.
    pub const H: u8 = 0x08;
    /// Size field: 8 bits.
    pub const B: u8 = 0x10;
    /// Size field: 64 bits.
    pub const DW: u8 = 0x18;

    /// Mode field: 64-bit immediate (`lddw`).
    pub const IMM: u8 = 0x00;
    /// Mode field: legacy absolute packet load.
    pub const ABS: u8 = 0x20;
    /// Mode field: legacy indirect packet load.
    pub const IND: u8 = 0x40;
    /// Mode field: regular memory access.
    pub const MEM: u8 = 0x60;
    /// Mode field: sign-extending memory load.
    pub const MEMSX: u8 = 0x80;
    /// Mode field: atomic operation.
    pub const ATOMIC: u8 = 0xc0;

    /// ALU operation codes (upper four bits).
    pub const ADD: u8 = 0x00;
    /// Subtract.
    pub const SUB: u8 = 0x10;
    /// Multiply.
    pub const MUL: u8 = 0x20;
    /// Divide (signed when `off == 1`).
    pub const DIV: u8 = 0x30;
    /// Bitwise or.
    pub const OR: u8 = 0x40;
    /// Bitwise and.
    pub const AND: u8 = 0x50;
    /// Left shift.
    pub const LSH: u8 = 0x60;
    /// Logical right shift.
    pub const RSH: u8 = 0x70;
    /// Negate.
    pub const NEG: u8 = 0x80;
    /// Modulo (signed when `off == 1`).
    pub const MOD: u8 = 0x90;
    /// Bitwise exclusive or.
    pub const XOR: u8 = 0xa0;
    /// Move (sign-extending when `off` is 8, 16 or 32).
    pub const MOV: u8 = 0xb0;
    /// Arithmetic right shift.
    pub const ARSH: u8 = 0xc0;
    /// Byte swap.
    pub const END: u8 = 0xd0;
    /// Byte swap source bit: to little endian.
    pub const TO_LE: u8 = 0x00;
    /// Byte swap source bit: to big endian.
    pub const TO_BE: u8 = 0x08;

    /// Jump codes (upper four bits).
    pub const JA: u8 = 0x00;
    /// Jump if equal.
    pub const JEQ: u8 = 0x10;
    /// Jump if greater (unsigned).
    pub const JGT: u8 = 0x20;
    /// Jump if greater or equal (unsigned).
    pub const JGE: u8 = 0x30;
    /// Jump if `dst & src` is not zero.
    pub const JSET: u8 = 0x40;
    /// Jump if not equal.
    pub const JNE: u8 = 0x50;
    /// Jump if greater (signed).
    pub const JSGT: u8 = 0x60;
    /// Jump if greater or equal (signed).
    pub const JSGE: u8 = 0x70;
    /// Function call.
    pub const CALL: u8 = 0x80;
    /// Return from the program or function.
    pub const EXIT: u8 = 0x90;
    /// Jump if lower (unsigned).
    pub const JLT: u8 = 0xa0;
    /// Jump if lower or equal (unsigned).
    pub const JLE: u8 = 0xb0;
    /// Jump if lower (signed).
    pub const JSLT: u8 = 0xc0;
    /// Jump if lower or equal (signed).
    pub const JSLE: u8 = 0xd0;

    /// Atomic operation (in `imm`): add.
    pub const ATOMIC_ADD: i32 = 0x00;
    /// Atomic operation: or.
    pub const ATOMIC_OR: i32 = 0x40;
    /// Atomic operation: and.
    pub const ATOMIC_AND: i32 = 0x50;
    /// Atomic operation: xor.
    pub const ATOMIC_XOR: i32 = 0xa0;
    /// Atomic modifier: also fetch the old value into `src`.
    pub const FETCH: i32 = 0x01;
    /// Atomic exchange (always fetches).
    pub const XCHG: i32 = 0xe0 | FETCH;
    /// Atomic compare and exchange with `r0` (always fetches).
    pub const CMPXCHG: i32 = 0xf0 | FETCH;

    /// `call` source: a helper function by id.
    pub const CALL_HELPER: u8 = 0;
    /// `call` source (`BPF_PSEUDO_CALL`): a bpf-to-bpf call, `imm` is the relative offset.
    pub const PSEUDO_CALL: u8 = 1;
    /// `call` source (`BPF_PSEUDO_KFUNC_CALL`): a kernel function by BTF id.
    pub const PSEUDO_KFUNC_CALL: u8 = 2;

    /// `lddw` source: a plain 64-bit immediate.
    pub const PSEUDO_IMM64: u8 = 0;
    /// `lddw` source (`BPF_PSEUDO_MAP_FD`): `imm` is a map file descriptor.
    pub const PSEUDO_MAP_FD: u8 = 1;
    /// `lddw` source (`BPF_PSEUDO_MAP_VALUE`): a map fd and an offset into its value.
    pub const PSEUDO_MAP_VALUE: u8 = 2;
    /// `lddw` source (`BPF_PSEUDO_BTF_ID`): a kernel variable by BTF id.
    pub const PSEUDO_BTF_ID: u8 = 3;
    /// `lddw` source (`BPF_PSEUDO_FUNC`): the address of a bpf function.
    pub const PSEUDO_FUNC: u8 = 4;
    /// `lddw` source (`BPF_PSEUDO_MAP_IDX`): a map by index into `fd_array`.
    pub const PSEUDO_MAP_IDX: u8 = 5;
    /// `lddw` source (`BPF_PSEUDO_MAP_IDX_VALUE`): map index and value offset.
    pub const PSEUDO_MAP_IDX_VALUE: u8 = 6;

    /// The opcode of `lddw` (`LD | IMM | DW`).
    pub const LDDW: u8 = LD | IMM | DW;
}

/// A register. `R10` is the read-only frame pointer: it may be the base of a store but never a
/// destination otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Reg {
    R0 = 0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
}

impl Reg {
    /// Every register, `R0` to `R10`.
    pub const ALL: [Reg; 11] = [
        Reg::R0,
        Reg::R1,
        Reg::R2,
        Reg::R3,
        Reg::R4,
        Reg::R5,
        Reg::R6,
        Reg::R7,
        Reg::R8,
        Reg::R9,
        Reg::R10,
    ];

    /// The register's number, as encoded in an instruction.
    pub const fn num(self) -> u8 {
        self as u8
    }

    /// The register with a number, or `None` above 10.
    pub fn from_num(n: u8) -> Option<Reg> {
        Reg::ALL.get(n as usize).copied()
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.num())
    }
}

/// The width of a memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// 8 bits (`u8`).
    B,
    /// 16 bits (`u16`).
    H,
    /// 32 bits (`u32`).
    W,
    /// 64 bits (`u64`).
    DW,
}

impl Size {
    /// The size field bits of the opcode.
    pub const fn bits(self) -> u8 {
        match self {
            Size::B => op::B,
            Size::H => op::H,
            Size::W => op::W,
            Size::DW => op::DW,
        }
    }

    /// The size for the opcode's size field.
    pub const fn from_opcode(code: u8) -> Size {
        match code & 0x18 {
            op::B => Size::B,
            op::H => Size::H,
            op::W => Size::W,
            _ => Size::DW,
        }
    }

    /// The access width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The C type name bpftool prints (`u32`).
    pub const fn c_name(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
}

/// The second operand of an ALU or jump instruction: an immediate or a register.
///
/// Integers and registers convert into it, so builder calls read `add64(R1, 8)` and
/// `add64(R1, R2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A 32-bit immediate (sign-extended to 64 bits by 64-bit operations).
    Imm(i32),
    /// A register.
    Reg(Reg),
}

impl From<i32> for Operand {
    fn from(v: i32) -> Self {
        Operand::Imm(v)
    }
}

impl From<Reg> for Operand {
    fn from(r: Reg) -> Self {
        Operand::Reg(r)
    }
}

/// An ALU operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Signed division (`off = 1`).
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    Mod,
    /// Signed modulo (`off = 1`).
    SMod,
    Xor,
    Mov,
    Arsh,
}

impl AluOp {
    /// The opcode's operation bits and the `off` field that selects the signed variants.
    pub const fn code_and_off(self) -> (u8, i16) {
        match self {
            AluOp::Add => (op::ADD, 0),
            AluOp::Sub => (op::SUB, 0),
            AluOp::Mul => (op::MUL, 0),
            AluOp::Div => (op::DIV, 0),
            AluOp::SDiv => (op::DIV, 1),
            AluOp::Or => (op::OR, 0),
            AluOp::And => (op::AND, 0),
            AluOp::Lsh => (op::LSH, 0),
            AluOp::Rsh => (op::RSH, 0),
            AluOp::Mod => (op::MOD, 0),
            AluOp::SMod => (op::MOD, 1),
            AluOp::Xor => (op::XOR, 0),
            AluOp::Mov => (op::MOV, 0),
            AluOp::Arsh => (op::ARSH, 0),
        }
    }
}

/// A jump condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum JmpOp {
    Eq,
    Gt,
    Ge,
    Set,
    Ne,
    SGt,
    SGe,
    Lt,
    Le,
    SLt,
    SLe,
}

impl JmpOp {
    /// The opcode's operation bits.
    pub const fn code(self) -> u8 {
        match self {
            JmpOp::Eq => op::JEQ,
            JmpOp::Gt => op::JGT,
            JmpOp::Ge => op::JGE,
            JmpOp::Set => op::JSET,
            JmpOp::Ne => op::JNE,
            JmpOp::SGt => op::JSGT,
            JmpOp::SGe => op::JSGE,
            JmpOp::Lt => op::JLT,
            JmpOp::Le => op::JLE,
            JmpOp::SLt => op::JSLT,
            JmpOp::SLe => op::JSLE,
        }
    }

    /// The condition for opcode operation bits, if they name one.
    pub const fn from_code(code: u8) -> Option<JmpOp> {
        Some(match code & 0xf0 {
            op::JEQ => JmpOp::Eq,
            op::JGT => JmpOp::Gt,
            op::JGE => JmpOp::Ge,
            op::JSET => JmpOp::Set,
            op::JNE => JmpOp::Ne,
            op::JSGT => JmpOp::SGt,
            op::JSGE => JmpOp::SGe,
            op::JLT => JmpOp::Lt,
            op::JLE => JmpOp::Le,
            op::JSLT => JmpOp::SLt,
            op::JSLE => JmpOp::SLe,
            _ => return None,
        })
    }

    /// The comparison as the disassembler prints it (`!=`, `s>`, `&`).
    pub const fn symbol(self) -> &'static str {
        match self {
            JmpOp::Eq => "==",
            JmpOp::Gt => ">",
            JmpOp::Ge => ">=",
            JmpOp::Set => "&",
            JmpOp::Ne => "!=",
            JmpOp::SGt => "s>",
            JmpOp::SGe => "s>=",
            JmpOp::Lt => "<",
            JmpOp::Le => "<=",
            JmpOp::SLt => "s<",
            JmpOp::SLe => "s<=",
        }
    }
}

/// An atomic read-modify-write operation (`STX | ATOMIC`, 32 or 64 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    /// Exchange: `src = xchg(*(dst + off), src)`.
    Xchg,
    /// Compare and exchange: `r0 = cmpxchg(*(dst + off), r0, src)`.
    Cmpxchg,
}

impl AtomicOp {
    /// Every atomic operation.
    pub const ALL: [AtomicOp; 10] = [
        AtomicOp::Add,
        AtomicOp::Or,
        AtomicOp::And,
        AtomicOp::Xor,
        AtomicOp::FetchAdd,
        AtomicOp::FetchOr,
        AtomicOp::FetchAnd,
        AtomicOp::FetchXor,
        AtomicOp::Xchg,
        AtomicOp::Cmpxchg,
    ];

    /// The operation's `imm` field.
    pub const fn imm(self) -> i32 {
        match self {
            AtomicOp::Add => op::ATOMIC_ADD,
            AtomicOp::Or => op::ATOMIC_OR,
            AtomicOp::And => op::ATOMIC_AND,
            AtomicOp::Xor => op::ATOMIC_XOR,
            AtomicOp::FetchAdd => op::ATOMIC_ADD | op::FETCH,
            AtomicOp::FetchOr => op::ATOMIC_OR | op::FETCH,
            AtomicOp::FetchAnd => op::ATOMIC_AND | op::FETCH,
            AtomicOp::FetchXor => op::ATOMIC_XOR | op::FETCH,
            AtomicOp::Xchg => op::XCHG,
            AtomicOp::Cmpxchg => op::CMPXCHG,
        }
    }

    /// The operation an `imm` field names, if any.
    pub fn from_imm(imm: i32) -> Option<AtomicOp> {
        AtomicOp::ALL.iter().copied().find(|a| a.imm() == imm)
    }
}

/// Byte-swap kinds: conversions to little or big endian (`ALU | END`) and the unconditional
/// swap (`ALU64 | END`, RFC 9669 `bswap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `le16/32/64`: to little endian (a truncation on little-endian hosts).
    Le,
    /// `be16/32/64`: to big endian (network byte order).
    Be,
    /// `bswap16/32/64`: swap unconditionally.
    Swap,
}

/// One 8-byte instruction slot, exactly as the kernel reads it.
///
/// `lddw` takes two slots: the second has `code == 0` and carries the upper 32 bits of the
/// immediate in its `imm`.
///
/// ```
/// use asm::{Insn, Reg};
/// let i = Insn::alu64_imm(asm::AluOp::Add, Reg::R1, -8);
/// assert_eq!(i.encode(), [0x07, 0x01, 0x00, 0x00, 0xf8, 0xff, 0xff, 0xff]);
/// assert_eq!(Insn::decode(&i.encode()), i);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    /// The opcode.
    pub code: u8,
    /// Destination register number (low nibble of byte 1).
    pub dst: u8,
    /// Source register number (high nibble of byte 1).
    pub src: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Builds an instruction from raw fields (no checks; see [`Insn::validate`]).
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The little-endian 8-byte encoding.
    pub fn encode(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// Reads one slot from its 8-byte encoding. Every byte pattern is a slot; whether it is a
    /// valid instruction is [`Insn::validate`]'s question.
    pub fn decode(b: &[u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The instruction class (low three bits of the opcode).
    pub const fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// Whether this slot starts a 16-byte `lddw`.
    pub const fn is_lddw(&self) -> bool {
        self.code == op::LDDW
    }

    // ---- typed constructors --------------------------------------------------------------

    fn alu(class: u8, aop: AluOp, dst: Reg, src: Operand) -> Insn {
        let (code, off) = aop.code_and_off();
        match src {
            Operand::Imm(imm) => Insn::new(class | code | op::K, dst.num(), 0, off, imm),
            Operand::Reg(r) => Insn::new(class | code | op::X, dst.num(), r.num(), off, 0),
        }
    }

    /// A 64-bit ALU operation, `dst op= src`.
    pub fn alu64(aop: AluOp, dst: Reg, src: impl Into<Operand>) -> Insn {
        Insn::alu(op::ALU64, aop, dst, src.into())
    }

    /// A 32-bit ALU operation (`wN` registers; the upper half of `dst` is zeroed).
    pub fn alu32(aop: AluOp, dst: Reg, src: impl Into<Operand>) -> Insn {
        Insn::alu(op::ALU, aop, dst, src.into())
    }

    /// A 64-bit ALU operation with an immediate.
    pub fn alu64_imm(aop: AluOp, dst: Reg, imm: i32) -> Insn {
        Insn::alu64(aop, dst, imm)
    }

    /// Negation, `dst = -dst` (64 bits when `wide`, else 32).
    pub fn neg(dst: Reg, wide: bool) -> Insn {
        let class = if wide { op::ALU64 } else { op::ALU };
        Insn::new(class | op::NEG | op::K, dst.num(), 0, 0, 0)
    }

    /// Sign-extending move `dst = (sN) src` for `bits` 8, 16 or 32 (64-bit destination when
    /// `wide`, else 32-bit; the 32-bit form takes 8 or 16).
    pub fn movsx(dst: Reg, src: Reg, bits: i16, wide: bool) -> Insn {
        let class = if wide { op::ALU64 } else { op::ALU };
        Insn::new(class | op::MOV | op::X, dst.num(), src.num(), bits, 0)
    }

    /// A byte swap of the low `bits` (16, 32 or 64) of `dst`.
    pub fn endian(kind: Endian, dst: Reg, bits: i32) -> Insn {
        let code = match kind {
            Endian::Le => op::ALU | op::END | op::TO_LE,
            Endian::Be => op::ALU | op::END | op::TO_BE,
            Endian::Swap => op::ALU64 | op::END | op::TO_LE,
        };
        Insn::new(code, dst.num(), 0, 0, bits)
    }

    /// A conditional jump by `off` slots, comparing 64 bits (or 32 when not `wide`).
    pub fn jmp(cond: JmpOp, dst: Reg, src: impl Into<Operand>, off: i16, wide: bool) -> Insn {
        let class = if wide { op::JMP } else { op::JMP32 };
        match src.into() {
            Operand::Imm(imm) => Insn::new(class | cond.code() | op::K, dst.num(), 0, off, imm),
            Operand::Reg(r) => Insn::new(class | cond.code() | op::X, dst.num(), r.num(), off, 0),
        }
    }

    /// Unconditional jump by `off` slots (`goto pc+off`).
    pub fn ja(off: i16) -> Insn {
        Insn::new(op::JMP | op::JA, 0, 0, off, 0)
    }

    /// Long unconditional jump with a 32-bit offset in `imm` (`gotol`, `JMP32 | JA`).
    pub fn ja32(off: i32) -> Insn {
        Insn::new(op::JMP32 | op::JA, 0, 0, 0, off)
    }

    /// Call a helper function.
    pub fn call(helper: crate::Helper) -> Insn {
        Insn::new(
            op::JMP | op::CALL,
            0,
            op::CALL_HELPER,
            0,
            helper.id() as i32,
        )
    }

    /// Call a helper by raw id (for ids newer than this crate's list).
    pub fn call_id(id: i32) -> Insn {
        Insn::new(op::JMP | op::CALL, 0, op::CALL_HELPER, 0, id)
    }

    /// bpf-to-bpf call, `imm` slots relative to the next instruction.
    pub fn call_local(off: i32) -> Insn {
        Insn::new(op::JMP | op::CALL, 0, op::PSEUDO_CALL, 0, off)
    }

    /// Call a kernel function by BTF id.
    pub fn call_kfunc(btf_id: i32) -> Insn {
        Insn::new(op::JMP | op::CALL, 0, op::PSEUDO_KFUNC_CALL, 0, btf_id)
    }

    /// Return `r0`.
    pub fn exit() -> Insn {
        Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
    }

    /// Load `dst = *(size *)(src + off)`.
    pub fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(
            op::LDX | op::MEM | size.bits(),
            dst.num(),
            src.num(),
            off,
            0,
        )
    }

    /// Sign-extending load `dst = *(sN *)(src + off)` (B, H or W).
    pub fn ldxsx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(
            op::LDX | op::MEMSX | size.bits(),
            dst.num(),
            src.num(),
            off,
            0,
        )
    }

    /// Store an immediate, `*(size *)(dst + off) = imm`.
    pub fn st(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
        Insn::new(op::ST | op::MEM | size.bits(), dst.num(), 0, off, imm)
    }

    /// Store a register, `*(size *)(dst + off) = src`.
    pub fn stx(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
        Insn::new(
            op::STX | op::MEM | size.bits(),
            dst.num(),
            src.num(),
            off,
            0,
        )
    }

    /// An atomic operation on `*(size *)(dst + off)` with `src` (W or DW).
    pub fn atomic(aop: AtomicOp, size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
        Insn::new(
            op::STX | op::ATOMIC | size.bits(),
            dst.num(),
            src.num(),
            off,
            aop.imm(),
        )
    }

    /// The two slots of `lddw dst, imm64` with a pseudo source (`op::PSEUDO_*`).
    pub fn lddw_pseudo(dst: Reg, pseudo: u8, imm: i32, next_imm: i32) -> [Insn; 2] {
        [
            Insn::new(op::LDDW, dst.num(), pseudo, 0, imm),
            Insn::new(0, 0, 0, 0, next_imm),
        ]
    }

    /// The two slots of `dst = imm64`.
    pub fn lddw(dst: Reg, imm: u64) -> [Insn; 2] {
        Insn::lddw_pseudo(
            dst,
            op::PSEUDO_IMM64,
            imm as u32 as i32,
            (imm >> 32) as u32 as i32,
        )
    }

    /// Legacy packet load `r0 = *(size *)skb[imm]` (B, H or W).
    pub fn ld_abs(size: Size, imm: i32) -> Insn {
        Insn::new(op::LD | op::ABS | size.bits(), 0, 0, 0, imm)
    }

    /// Legacy packet load `r0 = *(size *)skb[src + imm]` (B, H or W).
    pub fn ld_ind(size: Size, src: Reg, imm: i32) -> Insn {
        Insn::new(op::LD | op::IND | size.bits(), 0, src.num(), 0, imm)
    }
}

/// Why a slot is not a valid instruction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsnError {
    /// The opcode names no instruction of the ISA.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A register number above 10.
    #[error("invalid register r{0}")]
    InvalidRegister(u8),
    /// `r10` written by an instruction other than a store.
    #[error("r10 is the read-only frame pointer and cannot be a destination")]
    FramePointerWrite,
    /// A field that must be zero for this opcode is not.
    #[error("reserved field `{0}` must be zero for this opcode")]
    ReservedField(&'static str),
    /// An operand value outside what the opcode allows (size, swap width, extension width).
    #[error("invalid operand: {0}")]
    InvalidOperand(&'static str),
    /// `lddw` without its second slot, or a second slot with a nonzero opcode.
    #[error("lddw needs a second slot with opcode 0")]
    BrokenLddw,
}

impl Insn {
    /// Checks that this slot is a valid instruction of RFC 9669 (and the kernel's pseudo
    /// sources). `next` is the following slot, needed for `lddw`.
    pub fn validate(&self, next: Option<&Insn>) -> Result<(), InsnError> {
        if self.dst > 10 {
            return Err(InsnError::InvalidRegister(self.dst));
        }
        if self.src > 10 {
            return Err(InsnError::InvalidRegister(self.src));
        }
        let code = self.code;
        let class = self.class();
        let reserved = |cond: bool, field: &'static str| {
            if cond {
                Err(InsnError::ReservedField(field))
            } else {
                Ok(())
            }
        };
        let no_r10_dst = |dst: u8| {
            if dst == 10 {
                Err(InsnError::FramePointerWrite)
            } else {
                Ok(())
            }
        };
        match class {
            op::ALU | op::ALU64 => {
                no_r10_dst(self.dst)?;
                let opn = code & 0xf0;
                let is_x = code & op::X != 0;
                match opn {
                    op::END => {
                        if class == op::ALU64 && is_x {
                            return Err(InsnError::UnknownOpcode(code));
                        }
                        reserved(self.src != 0, "src")?;
                        reserved(self.off != 0, "off")?;
                        if !matches!(self.imm, 16 | 32 | 64) {
                            return Err(InsnError::InvalidOperand(
                                "byte swap width must be 16, 32 or 64",
                            ));
                        }
                    }
                    op::NEG => {
                        if is_x {
                            return Err(InsnError::UnknownOpcode(code));
                        }
                        reserved(self.src != 0, "src")?;
                        reserved(self.off != 0, "off")?;
                        reserved(self.imm != 0, "imm")?;
                    }
                    0xe0 | 0xf0 => return Err(InsnError::UnknownOpcode(code)),
                    _ => {
                        match (opn, self.off) {
                            (_, 0) => {}
                            (op::DIV | op::MOD, 1) => {}
                            (op::MOV, 8 | 16) if is_x => {}
                            (op::MOV, 32) if is_x && class == op::ALU64 => {}
                            (op::MOV, _) => {
                                return Err(InsnError::InvalidOperand(
                                    "movsx extends from 8 or 16 bits (or 32 in 64-bit form)",
                                ))
                            }
                            _ => return Err(InsnError::ReservedField("off")),
                        }
                        if is_x {
                            reserved(self.imm != 0, "imm")?;
                        } else {
                            reserved(self.src != 0, "src")?;
                        }
                    }
                }
            }
            op::JMP | op::JMP32 => {
                let opn = code & 0xf0;
                let is_x = code & op::X != 0;
                match opn {
                    op::JA => {
                        if is_x {
                            return Err(InsnError::UnknownOpcode(code));
                        }
                        reserved(self.dst != 0, "dst")?;
                        reserved(self.src != 0, "src")?;
                        if class == op::JMP {
                            reserved(self.imm != 0, "imm")?;
                        } else {
                            reserved(self.off != 0, "off")?;
                        }
                    }
                    op::CALL => {
                        if class != op::JMP || is_x {
                            return Err(InsnError::UnknownOpcode(code));
                        }
                        reserved(self.dst != 0, "dst")?;
                        // A kfunc call's `off` selects the module BTF (an index into
                        // `fd_array`); every other call has `off == 0`.
                        reserved(self.off != 0 && self.src != op::PSEUDO_KFUNC_CALL, "off")?;
                        if self.src > op::PSEUDO_KFUNC_CALL {
                            return Err(InsnError::InvalidOperand("call source must be 0, 1 or 2"));
                        }
                    }
                    op::EXIT => {
                        if class != op::JMP || is_x {
                            return Err(InsnError::UnknownOpcode(code));
                        }
                        reserved(self.dst != 0, "dst")?;
                        reserved(self.src != 0, "src")?;
                        reserved(self.off != 0, "off")?;
                        reserved(self.imm != 0, "imm")?;
                    }
                    0xe0 | 0xf0 => return Err(InsnError::UnknownOpcode(code)),
                    _ => {
                        if is_x {
                            reserved(self.imm != 0, "imm")?;
                        } else {
                            reserved(self.src != 0, "src")?;
                        }
                    }
                }
            }
            op::LDX => {
                no_r10_dst(self.dst)?;
                let mode = code & 0xe0;
                let size = Size::from_opcode(code);
                match mode {
                    op::MEM => {}
                    op::MEMSX if size != Size::DW => {}
                    op::MEMSX => {
                        return Err(InsnError::InvalidOperand(
                            "sign-extending loads are 8, 16 or 32 bits (B, H or W)",
                        ))
                    }
                    _ => return Err(InsnError::UnknownOpcode(code)),
                }
                reserved(self.imm != 0, "imm")?;
            }
            op::ST => {
                if code & 0xe0 != op::MEM {
                    return Err(InsnError::UnknownOpcode(code));
                }
                reserved(self.src != 0, "src")?;
            }
            op::STX => {
                let size = Size::from_opcode(code);
                match code & 0xe0 {
                    op::MEM => reserved(self.imm != 0, "imm")?,
                    op::ATOMIC => {
                        if !matches!(size, Size::W | Size::DW) {
                            return Err(InsnError::InvalidOperand(
                                "atomic operations are 32 or 64 bits",
                            ));
                        }
                        match AtomicOp::from_imm(self.imm) {
                            None => {
                                return Err(InsnError::InvalidOperand("unknown atomic operation"))
                            }
                            // Fetching operations write the old value into `src`.
                            Some(a) if a != AtomicOp::Cmpxchg && self.imm & op::FETCH != 0 => {
                                no_r10_dst(self.src)?
                            }
                            Some(_) => {}
                        }
                    }
                    _ => return Err(InsnError::UnknownOpcode(code)),
                }
            }
            _ => {
                // op::LD
                let mode = code & 0xe0;
                let size = Size::from_opcode(code);
                match mode {
                    op::IMM if size == Size::DW => {
                        no_r10_dst(self.dst)?;
                        reserved(self.off != 0, "off")?;
                        if self.src > op::PSEUDO_MAP_IDX_VALUE {
                            return Err(InsnError::InvalidOperand("lddw source must be 0 to 6"));
                        }
                        match next {
                            Some(n) if n.code == 0 && n.dst == 0 && n.src == 0 && n.off == 0 => {
                                // The kernel rejects a map-fd or map-index load whose second
                                // half carries a value ("unrecognized bpf_ld_imm64 insn").
                                if matches!(self.src, op::PSEUDO_MAP_FD | op::PSEUDO_MAP_IDX)
                                    && n.imm != 0
                                {
                                    return Err(InsnError::ReservedField("imm of the second slot"));
                                }
                            }
                            _ => return Err(InsnError::BrokenLddw),
                        }
                    }
                    op::ABS | op::IND if size != Size::DW => {
                        reserved(self.dst != 0, "dst")?;
                        reserved(self.off != 0, "off")?;
                        if mode == op::ABS {
                            reserved(self.src != 0, "src")?;
                        }
                    }
                    _ => return Err(InsnError::UnknownOpcode(code)),
                }
            }
        }
        Ok(())
    }

    /// Whether this slot is a jump whose target is `off` (all conditional jumps and `ja`).
    pub fn jump_offset(&self) -> Option<i32> {
        let class = self.class();
        if class != op::JMP && class != op::JMP32 {
            return None;
        }
        match self.code & 0xf0 {
            op::CALL | op::EXIT => None,
            op::JA if class == op::JMP32 => Some(self.imm),
            _ => Some(self.off as i32),
        }
    }
}
