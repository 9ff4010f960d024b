//! The instruction: registers, opcode fields, the raw [`Insn`] with its exact 8-byte encoding,
//! and typed constructors for every instruction of the eBPF ISA (RFC 9669).
//!
//! Constructors here build one instruction slot and never fail; whether the operands make a
//! valid instruction is checked by [`Insn::validate`] (the builder and the decoder call it).

use std::fmt;

/// Opcode field values from RFC 9669 and `linux/bpf.h`: the `uapi` crate's ISA numbers under
/// short names, and the accessors of the opcode's fields.
pub mod op {
    pub use uapi::isa::{
        BPF_ABS as ABS, BPF_ADD as ADD, BPF_ALU as ALU, BPF_ALU64 as ALU64, BPF_AND as AND,
        BPF_ARSH as ARSH, BPF_ATOMIC as ATOMIC, BPF_B as B, BPF_CALL as CALL, BPF_DIV as DIV,
        BPF_DW as DW, BPF_END as END, BPF_EXIT as EXIT, BPF_H as H, BPF_IMM as IMM, BPF_IND as IND,
        BPF_JA as JA, BPF_JEQ as JEQ, BPF_JGE as JGE, BPF_JGT as JGT, BPF_JLE as JLE,
        BPF_JLT as JLT, BPF_JMP as JMP, BPF_JMP32 as JMP32, BPF_JNE as JNE, BPF_JSET as JSET,
        BPF_JSGE as JSGE, BPF_JSGT as JSGT, BPF_JSLE as JSLE, BPF_JSLT as JSLT, BPF_K as K,
        BPF_LD as LD, BPF_LDX as LDX, BPF_LSH as LSH, BPF_MEM as MEM, BPF_MEMSX as MEMSX,
        BPF_MOD as MOD, BPF_MOV as MOV, BPF_MUL as MUL, BPF_NEG as NEG, BPF_OR as OR,
        BPF_PSEUDO_BTF_ID as PSEUDO_BTF_ID, BPF_PSEUDO_CALL as PSEUDO_CALL,
        BPF_PSEUDO_FUNC as PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL as PSEUDO_KFUNC_CALL,
        BPF_PSEUDO_MAP_FD as PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX as PSEUDO_MAP_IDX,
        BPF_PSEUDO_MAP_IDX_VALUE as PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE as PSEUDO_MAP_VALUE,
        BPF_RSH as RSH, BPF_ST as ST, BPF_STX as STX, BPF_SUB as SUB, BPF_TO_BE as TO_BE,
        BPF_TO_LE as TO_LE, BPF_W as W, BPF_X as X, BPF_XOR as XOR,
    };
    use uapi::isa::{CLASS_MASK, MODE_MASK, OP_MASK, SIZE_MASK, SRC_MASK};

    /// Atomic operation (in `imm`): add.
    pub const ATOMIC_ADD: i32 = ADD as i32;
    /// Atomic operation: or.
    pub const ATOMIC_OR: i32 = OR as i32;
    /// Atomic operation: and.
    pub const ATOMIC_AND: i32 = AND as i32;
    /// Atomic operation: xor.
    pub const ATOMIC_XOR: i32 = XOR as i32;
    pub use uapi::isa::{BPF_CMPXCHG as CMPXCHG, BPF_FETCH as FETCH, BPF_XCHG as XCHG};

    /// `call` source: a helper function by id (a zero `src`; the header has no name for it).
    pub const CALL_HELPER: u8 = 0;
    /// `lddw` source: a plain 64-bit immediate (a zero `src`).
    pub const PSEUDO_IMM64: u8 = 0;

    /// The opcode of `lddw` (`LD | IMM | DW`).
    pub const LDDW: u8 = LD | IMM | DW;

    /// The class field of an opcode (`BPF_CLASS`): [`LD`] .. [`ALU64`].
    pub const fn class(code: u8) -> u8 {
        code & CLASS_MASK
    }

    /// The size field of a load or store opcode (`BPF_SIZE`): [`W`], [`H`], [`B`], [`DW`].
    pub const fn size(code: u8) -> u8 {
        code & SIZE_MASK
    }

    /// The mode field of a load or store opcode (`BPF_MODE`): [`IMM`], [`MEM`], [`ATOMIC`], ...
    pub const fn mode(code: u8) -> u8 {
        code & MODE_MASK
    }

    /// The operation field of an ALU or jump opcode (`BPF_OP`): [`ADD`] .. [`END`] or
    /// [`JA`] .. [`JSLE`].
    pub const fn operation(code: u8) -> u8 {
        code & OP_MASK
    }

    /// The source field of an ALU or jump opcode (`BPF_SRC`): [`K`] or [`X`].
    pub const fn source(code: u8) -> u8 {
        code & SRC_MASK
    }

    /// Whether the opcode's source field is [`X`] (the operand is the source register; for
    /// [`END`] it is the byte-swap direction [`TO_BE`] instead).
    pub const fn is_x(code: u8) -> bool {
        source(code) == X
    }

    /// The operation field of the atomic operation in an atomic instruction's `imm`.
    pub const fn atomic_operation(imm: i32) -> u8 {
        (imm as u8) & OP_MASK
    }
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
        match op::size(code) {
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

    /// The operation of an opcode's operation bits and `off` (`None` for `neg`, `end` and
    /// undefined codes; a sign-extending `mov` is [`AluOp::Mov`]).
    pub const fn from_code_and_off(code: u8, off: i16) -> Option<AluOp> {
        Some(match (op::operation(code), off) {
            (op::ADD, _) => AluOp::Add,
            (op::SUB, _) => AluOp::Sub,
            (op::MUL, _) => AluOp::Mul,
            (op::DIV, 1) => AluOp::SDiv,
            (op::DIV, _) => AluOp::Div,
            (op::OR, _) => AluOp::Or,
            (op::AND, _) => AluOp::And,
            (op::LSH, _) => AluOp::Lsh,
            (op::RSH, _) => AluOp::Rsh,
            (op::MOD, 1) => AluOp::SMod,
            (op::MOD, _) => AluOp::Mod,
            (op::XOR, _) => AluOp::Xor,
            (op::MOV, _) => AluOp::Mov,
            (op::ARSH, _) => AluOp::Arsh,
            _ => return None,
        })
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
        Some(match op::operation(code) {
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

    /// The instruction class (`BPF_CLASS`, the low three bits of the opcode): [`op::LD`] ..
    /// [`op::ALU64`].
    pub const fn class(&self) -> u8 {
        op::class(self.code)
    }

    /// The size field of a load or store (`BPF_SIZE`): [`op::W`], [`op::H`], [`op::B`],
    /// [`op::DW`].
    pub const fn size_bits(&self) -> u8 {
        op::size(self.code)
    }

    /// The mode field of a load or store (`BPF_MODE`): [`op::IMM`], [`op::MEM`], ...
    pub const fn mode(&self) -> u8 {
        op::mode(self.code)
    }

    /// The operation field of an ALU or jump instruction (`BPF_OP`).
    pub const fn operation(&self) -> u8 {
        op::operation(self.code)
    }

    /// Whether the source field (`BPF_SRC`) is [`op::X`].
    pub const fn is_x(&self) -> bool {
        op::is_x(self.code)
    }

    /// The ALU operation of an `alu`/`alu64` instruction (`None` for `neg`, `end` or another
    /// class).
    pub fn alu_op(&self) -> Option<AluOp> {
        matches!(self.class(), op::ALU | op::ALU64)
            .then(|| AluOp::from_code_and_off(self.code, self.off))
            .flatten()
    }

    /// The condition of a conditional jump (`None` for `ja`, `call`, `exit` or another class).
    pub fn jmp_op(&self) -> Option<JmpOp> {
        matches!(self.class(), op::JMP | op::JMP32)
            .then(|| JmpOp::from_code(self.code))
            .flatten()
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
                let opn = op::operation(code);
                let is_x = op::is_x(code);
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
                let opn = op::operation(code);
                let is_x = op::is_x(code);
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
                let mode = op::mode(code);
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
                if op::mode(code) != op::MEM {
                    return Err(InsnError::UnknownOpcode(code));
                }
                reserved(self.src != 0, "src")?;
            }
            op::STX => {
                let size = Size::from_opcode(code);
                match op::mode(code) {
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
                let mode = op::mode(code);
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
        match self.operation() {
            op::CALL | op::EXIT => None,
            op::JA if class == op::JMP32 => Some(self.imm),
            _ => Some(self.off as i32),
        }
    }
}
