//! The complete example of docs/asm.md, kept compiling and checked here (keep both in sync).

use asm::{disasm, tag, Builder, Helper, Reg::*, Size};

// struct bpf_sock_ops offsets and constants from linux/bpf.h.
const OP: i16 = 0;
const FAMILY: i16 = 20;
const REMOTE_IP4: i16 = 24;
const LOCAL_IP4: i16 = 28;
const REMOTE_PORT: i16 = 64;
const LOCAL_PORT: i16 = 68;
const AF_INET: i32 = 2;
const ACTIVE_ESTABLISHED_CB: i32 = 4;
const PASSIVE_ESTABLISHED_CB: i32 = 5;
const BPF_NOEXIST: i32 = 1;

fn sock_ops() -> Result<asm::Program, asm::AsmError> {
    let mut b = Builder::new();
    b.mov64(R6, R1)
        .comment("r6 = struct bpf_sock_ops *")
        .ldx(Size::W, R2, R6, OP)
        .jeq32(R2, ACTIVE_ESTABLISHED_CB, "established")
        .jne32(R2, PASSIVE_ESTABLISHED_CB, "out")
        .label("established")
        .ldx(Size::W, R2, R6, FAMILY)
        .jne32(R2, AF_INET, "out")
        .comment("IPv4 only in this example")
        // key: 16 bytes at r10-16, filled by a subprogram
        .mov64(R1, R6)
        .mov64(R2, R10)
        .add64(R2, -16)
        .call_fn("store_key")
        // bpf_sock_hash_update(skops, &sock_hash, &key, BPF_NOEXIST)
        .mov64(R1, R6)
        .ld_map(R2, "sock_hash")
        .mov64(R3, R10)
        .add64(R3, -16)
        .mov64(R4, BPF_NOEXIST)
        .call(Helper::SockHashUpdate)
        .label("out")
        .mov64(R0, 1)
        .exit();
    // store_key(r1 = ctx, r2 = key): local ip, remote ip, local port, remote port.
    b.function("store_key")
        .ldx(Size::W, R3, R1, LOCAL_IP4)
        .stx(Size::W, R2, 0, R3)
        .ldx(Size::W, R3, R1, REMOTE_IP4)
        .stx(Size::W, R2, 4, R3)
        .ldx(Size::W, R3, R1, LOCAL_PORT)
        .stx(Size::W, R2, 8, R3)
        .ldx(Size::W, R3, R1, REMOTE_PORT)
        .stx(Size::W, R2, 12, R3)
        .mov64(R0, 0)
        .exit();
    b.build()
}

#[test]
fn the_documented_example_builds_and_lists_as_documented() {
    let prog = sock_ops().unwrap();
    assert_eq!(prog.len(), 29);
    assert_eq!(prog.map_names(), ["sock_hash"]);
    assert_eq!(
        prog.functions(),
        [("main".to_string(), 0), ("store_key".to_string(), 19)]
    );
    let bound = prog.resolve_maps(|_| Some(4)).unwrap();
    assert_eq!(bound[prog.map_refs()[0].insn].imm, 4);
    let listing = disasm::program_listing(&prog);
    let documented = include_str!("../../docs/asm.md");
    let block = documented
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/asm.md has the listing block");
    assert_eq!(listing, block);
    assert_eq!(tag::tag(&bound), tag::tag(prog.insns()));
    // Read from Linux 6.18 after loading these bytes as a sock_ops program (with a real
    // sockhash fd in slot 11): the verifier accepted it and reported this tag.
    assert_eq!(tag::tag_hex(&bound), "05c0dbb3c0aafb8b");
}

#[test]
fn example_bytes_decode() {
    let prog = sock_ops().unwrap();
    let bytes = prog.to_bytes();
    assert_eq!(asm::decode(&bytes).unwrap(), prog.insns());
}

/// The example writes its UAPI numbers out (it shows `asm` alone); they are the `uapi` crate's.
#[test]
fn example_numbers_are_the_uapi_numbers() {
    use uapi::ctx::bpf_sock_ops as ctx;
    assert_eq!(
        (OP, FAMILY, REMOTE_IP4, LOCAL_IP4, REMOTE_PORT, LOCAL_PORT),
        (
            ctx::OP,
            ctx::FAMILY,
            ctx::REMOTE_IP4,
            ctx::LOCAL_IP4,
            ctx::REMOTE_PORT,
            ctx::LOCAL_PORT
        )
    );
    assert_eq!(AF_INET, uapi::socket::AF_INET);
    assert_eq!(
        (ACTIVE_ESTABLISHED_CB, PASSIVE_ESTABLISHED_CB, BPF_NOEXIST),
        (
            uapi::bpf::BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB as i32,
            uapi::bpf::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB as i32,
            uapi::bpf::BPF_NOEXIST as i32
        )
    );
}
