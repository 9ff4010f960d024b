//! Program tags against values read from a kernel.
//!
//! The SHA-256 values were read with `BPF_OBJ_GET_INFO_BY_FD` from programs loaded into this
//! project's Linux 6.18 machine (socket filters); the SHA-1 values are what kernels up to 6.17
//! report (`a04f5eef06a7f555` for `r0 = 0; exit` appears in bpftool output all over the
//! web) and were cross-checked with an independent SHA-1 implementation (Python's hashlib).

use asm::insn::op;
use asm::tag::{self, TagAlgorithm};
use asm::{AluOp, Helper, Insn, JmpOp, Reg::*, Size};

fn unhex(s: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn ret0() -> Vec<Insn> {
    vec![Insn::alu64(AluOp::Mov, R0, 0), Insn::exit()]
}

/// `lddw r1, map_fd(fd)`, `lddw r2, map_value(fd, +8)`, `r0 = 0`, `exit`.
fn map_prog(fd: i32) -> Vec<Insn> {
    let mut v = Vec::new();
    v.extend(Insn::lddw_pseudo(R1, op::PSEUDO_MAP_FD, fd, 0));
    v.extend(Insn::lddw_pseudo(R2, op::PSEUDO_MAP_VALUE, fd, 8));
    v.extend(ret0());
    v
}

/// `n - 1` times `r0 = i`, then `exit`: lengths around the 64-byte block edge.
fn movs(n: usize) -> Vec<Insn> {
    let mut v: Vec<Insn> = (0..n as i32 - 1)
        .map(|i| Insn::alu64(AluOp::Mov, R0, i))
        .collect();
    v.push(Insn::exit());
    v
}

#[test]
fn return_zero_program() {
    let p = ret0();
    assert_eq!(tag::tag_hex(&p), "59f4a931744dcdc6");
    assert_eq!(
        tag::tag_hex_with(&p, TagAlgorithm::Sha1),
        "a04f5eef06a7f555"
    );
    assert_eq!(tag::tag(&p), unhex("59f4a931744dcdc6"));
}

#[test]
fn map_fds_and_value_offsets_do_not_count() {
    for fd in [3, 5, 1000] {
        let p = map_prog(fd);
        assert_eq!(tag::tag_hex(&p), "3aca366782600465", "fd {fd}");
        assert_eq!(
            tag::tag_hex_with(&p, TagAlgorithm::Sha1),
            "56d4579bcd99a885"
        );
    }
    // The value offset is blanked too (measured: keeping it gives another tag).
    let mut p = map_prog(3);
    p[3].imm = 0;
    assert_eq!(tag::tag_hex(&p), "3aca366782600465");
}

#[test]
fn lengths_around_the_block_edge() {
    for (n, want) in [
        (7, "c0cf7e739d56531e"),
        (8, "b52a94f4480ea044"),
        (9, "08b1958a5bc92d11"),
        (16, "18c7ca0869d0253d"),
        (17, "1b7bba03d0edccc7"),
    ] {
        assert_eq!(tag::tag_hex(&movs(n)), want, "{n} slots");
    }
}

#[test]
fn helper_calls_jumps_and_packet_loads_are_hashed_as_written() {
    let p = [
        Insn::alu64(AluOp::Mov, R6, R1),
        Insn::call(Helper::GetPrandomU32),
        Insn::jmp(JmpOp::Eq, R0, 0, 1, true),
        Insn::alu64(AluOp::Mov, R0, 1),
        Insn::ld_abs(Size::B, 12),
        Insn::exit(),
    ];
    assert_eq!(tag::tag_hex(&p), "010d3b3d1b78fb23");
    assert_eq!(
        tag::tag_hex_with(&p, TagAlgorithm::Sha1),
        "ba5aa13d99a2a357"
    );
}

#[test]
fn matching_algorithm_tells_which_kernel_hash_was_used() {
    let p = ret0();
    assert_eq!(
        tag::matching_algorithm(&p, &unhex("59f4a931744dcdc6")),
        Some(TagAlgorithm::Sha256)
    );
    assert_eq!(
        tag::matching_algorithm(&p, &unhex("a04f5eef06a7f555")),
        Some(TagAlgorithm::Sha1)
    );
    assert_eq!(tag::matching_algorithm(&p, &[0; 8]), None);
}

/// The zeroing rule by construction: which slots the kernel blanks.
#[test]
fn tag_input_follows_bpf_prog_calc_tag() {
    let raw = |v: &[Insn]| asm::encode(v);
    // Map fd and map value: both halves' imm blanked.
    let blanked = tag::tag_input(&map_prog(9));
    assert_eq!(
        blanked,
        raw(&map_prog(0)
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let mut x = *x;
                if i == 3 {
                    x.imm = 0;
                }
                x
            })
            .collect::<Vec<_>>())
    );
    // Other pseudo sources are hashed as they are.
    for src in [
        op::PSEUDO_IMM64,
        op::PSEUDO_BTF_ID,
        op::PSEUDO_FUNC,
        op::PSEUDO_MAP_IDX,
        op::PSEUDO_MAP_IDX_VALUE,
    ] {
        let v = Insn::lddw_pseudo(R1, src, 4, 8);
        assert_eq!(tag::tag_input(&v), raw(&v), "src {src}");
    }
    // A second half that is not one (nonzero code) keeps its imm, and resets the state.
    let v = [
        Insn::lddw_pseudo(R1, op::PSEUDO_MAP_FD, 4, 0)[0],
        Insn::alu64(AluOp::Mov, R0, 5),
        Insn::new(0, 0, 0, 0, 6),
    ];
    let t = tag::tag_input(&v);
    assert_eq!(&t[4..8], &[0, 0, 0, 0]);
    assert_eq!(&t[12..16], &[5, 0, 0, 0]);
    assert_eq!(&t[20..24], &[6, 0, 0, 0]);
    // Two map loads back to back.
    let mut v = Insn::lddw_pseudo(R1, op::PSEUDO_MAP_FD, 4, 0).to_vec();
    v.extend(Insn::lddw_pseudo(R2, op::PSEUDO_MAP_FD, 5, 0));
    assert!(tag::tag_input(&v).chunks(8).all(|c| c[4..] == [0, 0, 0, 0]));
    // The empty program hashes nothing.
    assert!(tag::tag_input(&[]).is_empty());
}

#[test]
fn builder_programs_tag_the_same_before_and_after_binding_maps() {
    let mut b = asm::Builder::new();
    b.ld_map(R1, "m")
        .ld_map_value(R2, "v", 16)
        .mov64(R0, 0)
        .exit();
    let prog = b.build().unwrap();
    let bound = prog
        .resolve_maps(|n| Some(if n == "m" { 11 } else { 12 }))
        .unwrap();
    assert_ne!(bound, prog.insns());
    assert_eq!(tag::tag(&bound), tag::tag(prog.insns()));
}
