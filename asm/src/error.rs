//! The assembler's errors. Each names the instruction (slot index) it concerns.

use crate::InsnError;

/// Why a program could not be built or bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsmError {
    /// The program has no instructions.
    #[error("empty program: a program needs at least one instruction and a final exit")]
    Empty,
    /// A subprogram has no instructions.
    #[error("function `{name}` has no instructions")]
    EmptyFunction {
        /// The function's name.
        name: String,
    },
    /// Two functions share a name.
    #[error("function `{name}` is defined twice")]
    DuplicateFunction {
        /// The function's name.
        name: String,
    },
    /// A jump names a label that no instruction carries.
    #[error("instruction {insn}: jump to undefined label `{label}`")]
    UndefinedLabel {
        /// The label.
        label: String,
        /// Slot of the jump.
        insn: usize,
    },
    /// Two instructions carry the same label.
    #[error("instruction {insn}: label `{label}` is defined twice")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// Slot of the second definition.
        insn: usize,
    },
    /// A label was placed after the last instruction of a function.
    #[error("label `{label}` names no instruction (it follows the last one)")]
    LabelAtEnd {
        /// The label.
        label: String,
    },
    /// A jump's distance does not fit the 16-bit offset.
    #[error("instruction {insn}: jump to `{label}` is {offset} slots away, beyond the 16-bit range of a jump; use the long jump `ja32` (gotol) or move the code")]
    JumpOutOfRange {
        /// The label.
        label: String,
        /// Slot of the jump.
        insn: usize,
        /// The distance that did not fit.
        offset: i64,
    },
    /// A jump leaves its function (the kernel rejects this).
    #[error("instruction {insn}: jump to `{label}` leaves the function it is in")]
    JumpAcrossFunctions {
        /// The label.
        label: String,
        /// Slot of the jump.
        insn: usize,
    },
    /// A call names a function that was never started.
    #[error("instruction {insn}: call to undefined function `{name}`")]
    UndefinedFunction {
        /// The function's name.
        name: String,
        /// Slot of the call.
        insn: usize,
    },
    /// A map reference has no file descriptor at load time.
    #[error("instruction {insn}: map `{name}` is not defined")]
    UnresolvedMap {
        /// The map's name.
        name: String,
        /// Slot of the `lddw`.
        insn: usize,
    },
    /// An instruction is not valid (register, operand size, reserved field).
    #[error("instruction {insn}: {source}")]
    InvalidInsn {
        /// Slot of the instruction.
        insn: usize,
        /// What is wrong with it.
        source: InsnError,
    },
    /// A function does not end in `exit` or an unconditional jump.
    #[error("instruction {insn}: function `{function}` does not end with exit (control would fall off its end)")]
    MissingExit {
        /// The function's name.
        function: String,
        /// Its last slot.
        insn: usize,
    },
    /// More slots than the kernel accepts.
    #[error("program has {len} instructions, more than the kernel's limit of 1000000")]
    TooLong {
        /// Number of slots.
        len: usize,
    },
}

/// Why bytes could not be decoded into instructions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length is not a multiple of 8.
    #[error("{len} bytes is not a whole number of 8-byte instructions")]
    TrailingBytes {
        /// Length in bytes.
        len: usize,
    },
    /// A slot is not a valid instruction.
    #[error("instruction {insn}: {source}")]
    InvalidInsn {
        /// Slot index.
        insn: usize,
        /// What is wrong with it.
        source: InsnError,
    },
    /// A jump or call lands outside the program or inside an `lddw`.
    #[error("instruction {insn}: jump target {target} is outside the program or inside an lddw")]
    BadJumpTarget {
        /// Slot index.
        insn: usize,
        /// The target slot.
        target: i64,
    },
}
