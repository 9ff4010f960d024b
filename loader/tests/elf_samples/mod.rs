//! Sample objects for the ELF tests, written by our own writer from `asm` programs. The
//! committed files in `tests/data/` are these bytes (`elf.rs` checks they are still what the
//! writer produces; `TCPBYPASS_BLESS=1` rewrites them).

#![allow(dead_code)]

use asm::{Builder, Helper, Reg::*, Size};
use loader::elf::{MapFormat, Pinning, Writer};
use loader::{MapSpec, MapType};

/// The sock_ops example of docs/asm.md: a subprogram fills the key, a sockhash stores the
/// socket.
pub fn sockops_with_subprogram() -> asm::Program {
    const AF_INET: i32 = 2;
    let mut b = Builder::new();
    b.mov64(R6, R1)
        .ldx(Size::W, R2, R6, 0)
        .jeq32(R2, 4, "established")
        .jne32(R2, 5, "out")
        .label("established")
        .ldx(Size::W, R2, R6, 20)
        .jne32(R2, AF_INET, "out")
        .mov64(R1, R6)
        .mov64(R2, R10)
        .add64(R2, -16)
        .call_fn("store_key")
        .mov64(R1, R6)
        .ld_map(R2, "sock_hash")
        .mov64(R3, R10)
        .add64(R3, -16)
        .mov64(R4, 1)
        .call(Helper::SockHashUpdate)
        .label("out")
        .mov64(R0, 1)
        .exit();
    b.function("store_key")
        .ldx(Size::W, R3, R1, 28)
        .stx(Size::W, R2, 0, R3)
        .ldx(Size::W, R3, R1, 24)
        .stx(Size::W, R2, 4, R3)
        .ldx(Size::W, R3, R1, 68)
        .stx(Size::W, R2, 8, R3)
        .ldx(Size::W, R3, R1, 64)
        .stx(Size::W, R2, 12, R3)
        .mov64(R0, 0)
        .exit();
    b.build().unwrap()
}

/// An sk_msg program that counts messages in an array map and passes them.
pub fn sk_msg_counter() -> asm::Program {
    let mut b = Builder::new();
    b.st(Size::W, R10, -4, 0)
        .ld_map(R1, "msg_count")
        .mov64(R2, R10)
        .add64(R2, -4)
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, "out")
        .mov64(R1, 1)
        .atomic(asm::AtomicOp::Add, Size::DW, R0, 0, R1)
        .label("out")
        .mov64(R0, 1) // SK_PASS
        .exit();
    b.build().unwrap()
}

pub fn sock_hash() -> MapSpec {
    MapSpec::new("sock_hash", MapType::SockHash, 16, 8, 1024)
}

pub fn msg_count() -> MapSpec {
    MapSpec::new("msg_count", MapType::Array, 4, 8, 1)
}

/// Subprogram + sockhash, BTF maps.
pub fn sockops_object(format: MapFormat) -> Vec<u8> {
    Writer::new("GPL")
        .map_format(format)
        .map(&sock_hash())
        .program("sockops", "store_sock", &sockops_with_subprogram())
        .finish()
        .unwrap()
}

/// A socket filter using global data: reads a u32 from `.rodata` at offset 4, adds a `.data`
/// counter, clears a `.bss` word; two programs share one section and a `.text` subprogram.
pub fn data_program(first: bool) -> asm::Program {
    let mut b = Builder::new();
    b.ld_map_value(R1, ".rodata", 4)
        .ldx(Size::W, R6, R1, 0)
        .ld_map_value(R2, ".data", 0)
        .mov64(R3, 1)
        .atomic(asm::AtomicOp::Add, Size::DW, R2, 0, R3)
        .ld_map_value(R2, ".bss", 8)
        .st(Size::DW, R2, 0, 0)
        .mov64(R1, R6)
        .call_fn("clamp")
        .exit();
    b.function("clamp")
        .mov64(R0, R1)
        .jle(R0, if first { 64 } else { 128 }, "ok")
        .mov64(R0, 0)
        .label("ok")
        .exit();
    b.build().unwrap()
}

/// Global data, two programs in one section sharing nothing but a name for their subprogram
/// (different bodies: the writer renames the second), a pinned BTF map, and an sk_msg.
pub fn mixed_object() -> Vec<u8> {
    let mut rodata = vec![0u8; 16];
    rodata[4..8].copy_from_slice(&1500u32.to_le_bytes());
    Writer::new("Dual MIT/GPL")
        .pinned_map(&msg_count(), Pinning::ByName)
        .data(".rodata", &rodata)
        .data(".data", &[0u8; 8])
        .data(".bss", &[0u8; 16])
        .program("socket", "filter_a", &data_program(true))
        .program("socket", "filter_b", &data_program(false))
        .program("sk_msg", "count_msgs", &sk_msg_counter())
        .finish()
        .unwrap()
}

/// Every sample: (file name, bytes).
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("sockops_btf.o", sockops_object(MapFormat::Btf)),
        ("sockops_legacy.o", sockops_object(MapFormat::Legacy)),
        ("mixed.o", mixed_object()),
    ]
}

/// The committed copy of a sample.
pub fn committed(name: &str) -> Vec<u8> {
    let p = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
