//! The kernel's program tag (placeholder; being written).

use crate::Insn;

/// The kernel's 8-byte program tag of an instruction vector (map fds zeroed as the kernel
/// does before hashing).
pub fn tag(insns: &[Insn]) -> [u8; 8] {
    let _ = insns;
    [0; 8]
}

/// The tag as bpftool prints it: 16 lowercase hex digits.
pub fn tag_hex(insns: &[Insn]) -> String {
    tag(insns).iter().map(|b| format!("{b:02x}")).collect()
}
