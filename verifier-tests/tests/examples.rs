//! The loader's examples proven under rbpf before they reach a kernel: the same program the
//! example loads, run by the harness on context images with emulated maps (what
//! `docs/library.md` shows users doing with their own programs).

use verifier_tests::kernel::{self, Kernel, ProgKind};
use verifier_tests::maps::MapSpec;
use verifier_tests::uapi::{self, sk_buff};
use verifier_tests::vm::{self, HarnessError};

#[path = "../../loader/examples/cgroup_egress_bytes.rs"]
#[allow(dead_code)]
mod cgroup_egress_bytes;

fn egress_maps() -> Vec<MapSpec> {
    vec![MapSpec {
        name: "egress_bytes".into(),
        map_type: uapi::MAP_TYPE_PERCPU_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        flags: 0,
    }]
}

/// A `struct __sk_buff` image with `len` set.
fn skb(len: u32) -> Vec<u8> {
    let mut c = vec![0u8; sk_buff::SIZE];
    c[sk_buff::LEN..sk_buff::LEN + 4].copy_from_slice(&len.to_ne_bytes());
    c
}

#[test]
fn cgroup_egress_bytes_adds_every_length_and_passes_every_packet() {
    let maps = egress_maps();
    kernel::install(Kernel::new(&maps, 2, 11));
    let prog = cgroup_egress_bytes::program().unwrap();
    let p = vm::load(&prog, ProgKind::CgroupSkb, &maps).unwrap();
    let lens = [60u32, 1500, 65_483, 0, 1];
    for len in lens {
        let r = p.run(1, 0, &mut skb(len), &[]).unwrap();
        assert_eq!(r.ret, 1, "a counter must never drop a packet");
    }
    let total: u64 = lens.iter().map(|&l| u64::from(l)).sum();
    let counted = kernel::with_kernel(|k| k.map("egress_bytes").unwrap().percpu_sum_u64(0));
    assert_eq!(counted, total);
    kernel::uninstall();
}

#[test]
fn the_harness_refuses_what_a_cgroup_skb_program_may_not_do() {
    use asm::{Builder, Reg::*, Size};
    let maps = egress_maps();
    let refused = |b: &mut Builder| {
        let prog = b.mov64(R0, 1).exit().build().unwrap();
        vm::load(&prog, ProgKind::CgroupSkb, &maps)
    };
    // Writing len (read-only), reading packet pointers (not modelled), reading past the end.
    assert!(matches!(
        refused(Builder::new().st(Size::W, R1, sk_buff::LEN as i16, 0)),
        Err(HarnessError::Check(_))
    ));
    assert!(matches!(
        refused(Builder::new().ldx(Size::W, R2, R1, sk_buff::DATA as i16)),
        Err(HarnessError::Check(_))
    ));
    assert!(matches!(
        refused(Builder::new().ldx(Size::W, R2, R1, sk_buff::SIZE as i16)),
        Err(HarnessError::Check(_))
    ));
    // Writing mark is allowed from a register, not as an immediate (BPF_ST), as in the kernel.
    assert!(matches!(
        refused(Builder::new().st(Size::W, R1, sk_buff::MARK as i16, 7)),
        Err(HarnessError::Check(_))
    ));
    assert!(refused(
        Builder::new()
            .mov64(R2, 7)
            .stx(Size::W, R1, sk_buff::MARK as i16, R2)
    )
    .is_ok());
}
