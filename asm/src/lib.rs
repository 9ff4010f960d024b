//! A Rust-hosted eBPF assembler.
//!
//! Programs are built by Rust code, not parsed from text: [`Builder`] methods append typed
//! instructions ([`Insn`]) of the eBPF ISA (RFC 9669), with labels for jumps, named map
//! references bound at load time, named bpf-to-bpf subprograms and comments. [`decode`] turns
//! bytes back into checked instructions, [`disasm`] prints them the way `bpftool prog dump
//! xlated` does, and [`tag`] computes the kernel's program tag.
//!
//! The crate knows nothing of the kernel beyond the instruction format: loading is the
//! `loader` crate's job.
//!
//! # Example: a `sock_ops`-style program
//!
//! ```
//! use asm::{Builder, Helper, Reg::*, Size};
//!
//! const OP: i16 = 0; // offsetof(struct bpf_sock_ops, op)
//! const ACTIVE_ESTABLISHED: i32 = 4; // BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB
//! const PASSIVE_ESTABLISHED: i32 = 5;
//!
//! let mut b = Builder::new();
//! b.mov64(R6, R1).comment("r6 = ctx")
//!     .ldx(Size::W, R2, R6, OP)
//!     .jeq(R2, ACTIVE_ESTABLISHED, "established")
//!     .jeq(R2, PASSIVE_ESTABLISHED, "established")
//!     .ja("out")
//!     .label("established")
//!     // key: a u64 on the stack, here just the local port
//!     .ldx(Size::W, R3, R6, 0x44).comment("local_port (host order)")
//!     .stx(Size::DW, R10, -8, R3)
//!     .mov64(R1, R6)
//!     .ld_map(R2, "sock_map")
//!     .mov64(R3, R10)
//!     .add64(R3, -8)
//!     .mov64(R4, 0) // BPF_ANY
//!     .call(Helper::SockHashUpdate)
//!     .label("out")
//!     .mov64(R0, 1)
//!     .exit();
//! let prog = b.build()?;
//! assert_eq!(prog.map_names(), ["sock_map"]);
//!
//! // At load time the loader binds map names to file descriptors.
//! let insns = prog.resolve_maps(|name| (name == "sock_map").then_some(7))?;
//! assert_eq!(insns[prog.map_refs()[0].insn].imm, 7);
//! # Ok::<(), asm::AsmError>(())
//! ```

#![warn(missing_docs)]

pub mod disasm;
mod error;
pub mod helper;
pub mod insn;
mod program;
pub mod tag;

pub use error::{AsmError, DecodeError};
pub use helper::Helper;
pub use insn::{AluOp, AtomicOp, Endian, Insn, InsnError, JmpOp, Operand, Reg, Size};
pub use program::{Builder, MapRef, MapRefKind, Program, MAX_INSNS};

/// The little-endian bytes of instruction slots.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

/// Decodes bytes into checked instruction slots: the length must be a multiple of 8, every
/// slot a valid instruction, every `lddw` complete, and every jump and call must land on an
/// instruction inside the program. Never panics.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if bytes.len() % 8 != 0 {
        return Err(DecodeError::TrailingBytes { len: bytes.len() });
    }
    let insns: Vec<Insn> = bytes
        .chunks_exact(8)
        .map(|c| Insn::decode(c.try_into().expect("chunks_exact gives 8 bytes")))
        .collect();
    // Which slots start an instruction (not the second half of an lddw).
    let mut starts = vec![true; insns.len()];
    let mut i = 0;
    while i < insns.len() {
        let next = insns.get(i + 1);
        insns[i]
            .validate(next)
            .map_err(|source| DecodeError::InvalidInsn { insn: i, source })?;
        if insns[i].is_lddw() {
            starts[i + 1] = false;
            i += 2;
        } else {
            i += 1;
        }
    }
    for (i, insn) in insns.iter().enumerate() {
        if !starts[i] {
            continue;
        }
        let rel = if let Some(off) = insn.jump_offset() {
            Some(off as i64)
        } else if insn.code == insn::op::JMP | insn::op::CALL && insn.src == insn::op::PSEUDO_CALL {
            Some(insn.imm as i64)
        } else {
            None
        };
        if let Some(rel) = rel {
            let target = i as i64 + 1 + rel;
            if target < 0 || target >= insns.len() as i64 || !starts[target as usize] {
                return Err(DecodeError::BadJumpTarget { insn: i, target });
            }
        }
    }
    Ok(insns)
}
