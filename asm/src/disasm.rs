//! The disassembler: instructions as `bpftool prog dump xlated` prints them.
//!
//! (Placeholder bodies; the real text forms are being written.)

use crate::{Insn, Program};

/// One instruction as text, e.g. `r1 = *(u32 *)(r6 +4)`. `next` is the following slot, used
/// for the upper half of `lddw`.
pub fn format_insn(insn: &Insn, next: Option<&Insn>) -> String {
    let _ = next;
    format!("{insn:?}")
}

/// A listing of raw slots, one instruction a line, `N: (code) text`.
pub fn listing(insns: &[Insn]) -> String {
    let mut out = String::new();
    for (i, insn) in insns.iter().enumerate() {
        out.push_str(&format!(
            "{i:4}: ({:02x}) {}\n",
            insn.code,
            format_insn(insn, insns.get(i + 1))
        ));
    }
    out
}

/// A listing of an assembled program with its functions, labels and comments.
pub fn program_listing(prog: &Program) -> String {
    listing(prog.insns())
}
