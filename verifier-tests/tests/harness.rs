//! The harness itself, on small programs written here in the DSL: helpers' return codes as
//! the program sees them, map-value pointers usable under rbpf, and the static check
//! refusing what rbpf would run differently from the kernel.

use asm::{Builder, Helper, Reg::*, Size};
use verifier_tests::check::CheckError;
use verifier_tests::ctx::{self, SockAddrs};
use verifier_tests::kernel::{self, Kernel, ProgKind, SockState};
use verifier_tests::maps::MapSpec;
use verifier_tests::uapi::{self, errno};
use verifier_tests::vm::{self, HarnessError};

fn maps() -> Vec<MapSpec> {
    vec![
        MapSpec {
            name: "socks".into(),
            map_type: uapi::MAP_TYPE_SOCKHASH,
            key_size: 4,
            value_size: 8,
            max_entries: 2,
            flags: 0,
        },
        MapSpec {
            name: "h".into(),
            map_type: uapi::MAP_TYPE_HASH,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            flags: 0,
        },
        MapSpec {
            name: "cnt".into(),
            map_type: uapi::MAP_TYPE_PERCPU_ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            flags: 0,
        },
    ]
}

fn addrs(lport: u16) -> SockAddrs {
    SockAddrs {
        family: uapi::AF_INET,
        local: [10, 0, 0, 1].into(),
        local_port: lport,
        remote: [10, 0, 0, 2].into(),
        remote_port: 80,
    }
}

/// sock_ops: key = local_port; sock_hash_update(NOEXIST) → r7; h[key] = r7 (BPF_NOEXIST)
/// → r8; cnt[0] += 1 through the looked-up pointer; return 1. Helpers' results are stored
/// into h so the test reads what the program saw.
fn sock_ops_prog() -> asm::Program {
    let mut b = Builder::new();
    b.mov64(R6, R1)
        .ldx(Size::W, R2, R6, uapi::sock_ops::LOCAL_PORT as i16)
        .stx(Size::W, R10, -4, R2)
        .mov64(R1, R6)
        .ld_map(R2, "socks")
        .mov64(R3, R10)
        .add64(R3, -4)
        .mov64(R4, 1)
        .call(Helper::SockHashUpdate)
        .stx(Size::DW, R10, -16, R0)
        .comment("sock_hash_update's return")
        .ld_map(R1, "h")
        .mov64(R2, R10)
        .add64(R2, -4)
        .mov64(R3, R10)
        .add64(R3, -16)
        .mov64(R4, 1)
        .call(Helper::MapUpdateElem)
        .stx(Size::DW, R10, -16, R0)
        .st(Size::W, R10, -20, 0)
        .ld_map(R1, "cnt")
        .mov64(R2, R10)
        .add64(R2, -20)
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, "out")
        .ldx(Size::DW, R1, R0, 0)
        .ldx(Size::DW, R2, R10, -16)
        .add64(R1, R2)
        .add64(R1, 1)
        .stx(Size::DW, R0, 0, R1)
        .label("out")
        .mov64(R0, 1)
        .exit();
    b.build().unwrap()
}

fn setup() {
    kernel::install(Kernel::new(&maps(), 2, 7));
    kernel::with_kernel(|k| {
        k.sockets.insert(
            1,
            SockState {
                netns_cookie: 5,
                cb_flags: 0,
            },
        );
        k.sockets.insert(
            2,
            SockState {
                netns_cookie: 5,
                cb_flags: 0,
            },
        );
        k.sockets.insert(
            3,
            SockState {
                netns_cookie: 5,
                cb_flags: 0,
            },
        );
    });
}

#[test]
fn helpers_return_kernel_codes_and_map_values_are_writable() {
    setup();
    let p = vm::load(&sock_ops_prog(), ProgKind::SockOps, &maps()).unwrap();
    let mut c = ctx::sock_ops_image(uapi::ACTIVE_ESTABLISHED_CB, [0; 4], &addrs(1000), 0, 1);
    let r = p.run(1, uapi::ACTIVE_ESTABLISHED_CB, &mut c, &[]).unwrap();
    assert_eq!(r.ret, 1);
    assert_eq!(r.calls[0], (uapi::helper::SOCK_HASH_UPDATE, 0));
    // The same key again: BPF_NOEXIST gives -EEXIST, and the hash map (1 entry) -EEXIST too.
    let mut c = ctx::sock_ops_image(uapi::ACTIVE_ESTABLISHED_CB, [0; 4], &addrs(1000), 0, 1);
    let r = p.run(2, uapi::ACTIVE_ESTABLISHED_CB, &mut c, &[]).unwrap();
    assert_eq!(r.calls[0].1, (-errno::EEXIST) as u64);
    assert_eq!(r.calls[1].1, (-errno::EEXIST) as u64);
    // A new key: the sockhash has room (2), the hash map is full: -E2BIG.
    let mut c = ctx::sock_ops_image(uapi::ACTIVE_ESTABLISHED_CB, [0; 4], &addrs(1001), 0, 1);
    let r = p.run(3, uapi::ACTIVE_ESTABLISHED_CB, &mut c, &[]).unwrap();
    assert_eq!(r.calls[0].1, 0);
    assert_eq!(r.calls[1].1, (-errno::E2BIG) as u64);
    // Not from an established callback: -EOPNOTSUPP.
    let mut c = ctx::sock_ops_image(uapi::STATE_CB, [0; 4], &addrs(1002), 0, 1);
    let r = p.run(3, uapi::STATE_CB, &mut c, &[]).unwrap();
    assert_eq!(r.calls[0].1, (-errno::EOPNOTSUPP) as u64);
    // The counter went through the map-value pointer: 4 runs each added 1 (+ the stored
    // return value of update, wrapped), summed over the CPUs the runs landed on.
    let sum = kernel::with_kernel(|k| k.map("cnt").unwrap().percpu_sum_u64(0));
    let expect = [0i64, -errno::EEXIST, -errno::E2BIG, -errno::E2BIG]
        .iter()
        .fold(0u64, |a, e| a.wrapping_add(*e as u64).wrapping_add(1));
    assert_eq!(sum, expect);
    kernel::with_kernel(|k| {
        assert_eq!(k.map("socks").unwrap().sockets().len(), 2);
        k.map_mut("socks").unwrap().unlink_socket(1);
        assert_eq!(k.map("socks").unwrap().sockets().len(), 1);
    });
    kernel::uninstall();
}

fn sk_msg_prog(flags: i32) -> asm::Program {
    let mut b = Builder::new();
    b.mov64(R6, R1)
        .ldx(Size::W, R2, R6, uapi::sk_msg::LOCAL_PORT as i16)
        .stx(Size::W, R10, -4, R2)
        .mov64(R1, R6)
        .call(Helper::GetNetnsCookie)
        .mov64(R7, R0)
        .mov64(R1, R6)
        .ld_map(R2, "socks")
        .mov64(R3, R10)
        .add64(R3, -4)
        .mov64(R4, flags)
        .call(Helper::MsgRedirectHash)
        .mov64(R0, 1)
        .exit();
    b.build().unwrap()
}

#[test]
fn msg_redirect_hash_records_target_and_ingress() {
    setup();
    let so = vm::load(&sock_ops_prog(), ProgKind::SockOps, &maps()).unwrap();
    let mut c = ctx::sock_ops_image(uapi::PASSIVE_ESTABLISHED_CB, [0; 4], &addrs(2000), 0, 1);
    so.run(2, uapi::PASSIVE_ESTABLISHED_CB, &mut c, &[])
        .unwrap();
    let p = vm::load(&sk_msg_prog(1), ProgKind::SkMsg, &maps()).unwrap();
    let payload = [0u8; 3];
    let mut m = ctx::sk_msg_image(
        &addrs(2000),
        3,
        payload.as_ptr() as u64,
        payload.as_ptr() as u64 + 3,
    );
    let r = p.run(1, 0, &mut m, &payload).unwrap();
    assert_eq!(r.redirect, Some((2, true)));
    assert_eq!(r.calls[0], (uapi::helper::GET_NETNS_COOKIE, 5));
    assert_eq!(r.calls[1].1, uapi::SK_PASS);
    // Unknown flag bits: SK_DROP, no redirect.
    let p = vm::load(&sk_msg_prog(3), ProgKind::SkMsg, &maps()).unwrap();
    let mut m = ctx::sk_msg_image(&addrs(2000), 3, 0, 0);
    let r = p.run(1, 0, &mut m, &[]).unwrap();
    assert_eq!((r.redirect, r.calls[1].1), (None, uapi::SK_DROP));
    // No socket under the key: SK_DROP.
    let p = vm::load(&sk_msg_prog(0), ProgKind::SkMsg, &maps()).unwrap();
    let mut m = ctx::sk_msg_image(&addrs(2001), 3, 0, 0);
    let r = p.run(1, 0, &mut m, &[]).unwrap();
    assert_eq!((r.redirect, r.calls[1].1), (None, uapi::SK_DROP));
    kernel::uninstall();
}

fn check_err(b: &Builder, kind: ProgKind) -> CheckError {
    match vm::load(&b.build().unwrap(), kind, &maps()) {
        Err(HarnessError::Check(e)) => e,
        other => panic!("expected a check error, got {other:?}"),
    }
}

#[test]
fn static_check_refuses_what_rbpf_would_run_differently() {
    // A backward jump (rbpf would loop forever: no instruction budget).
    let mut b = Builder::new();
    b.mov64(R0, 1).label("top").jeq(R0, 0, "top").exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("backward jump"), "{e}");
    assert_eq!(e.insn, 1);

    // A 64-bit equality with a negative immediate.
    let mut b = Builder::new();
    b.mov64(R0, -7)
        .jeq(R0, -7, "x")
        .label("x")
        .mov64(R0, 1)
        .exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("negative immediate"), "{e}");
    // The 32-bit form is fine.
    let mut b = Builder::new();
    b.mov64(R0, -7)
        .jeq32(R0, -7, "x")
        .label("x")
        .mov64(R0, 1)
        .exit();
    vm::load(&b.build().unwrap(), ProgKind::SockOps, &maps()).unwrap();

    // A 16-bit load of remote_port.
    let mut b = Builder::new();
    b.ldx(Size::H, R2, R1, 66).mov64(R0, 1).exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(
        e.msg.contains("invalid bpf_context access off=66 size=2"),
        "{e}"
    );
    // Same in sk_msg.
    let mut b = Builder::new();
    b.ldx(Size::H, R2, R1, 62).mov64(R0, 1).exit();
    let e = check_err(&b, ProgKind::SkMsg);
    assert!(e.msg.contains("invalid bpf_context access"), "{e}");

    // A map value used before its NULL check.
    let mut b = Builder::new();
    b.st(Size::W, R10, -4, 0)
        .ld_map(R1, "cnt")
        .mov64(R2, R10)
        .add64(R2, -4)
        .call(Helper::MapLookupElem)
        .ldx(Size::DW, R1, R0, 0)
        .mov64(R0, 1)
        .exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("map_value_or_null"), "{e}");

    // A map value read past value_size.
    let mut b = Builder::new();
    b.st(Size::W, R10, -4, 0)
        .ld_map(R1, "cnt")
        .mov64(R2, R10)
        .add64(R2, -4)
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, "out")
        .ldx(Size::DW, R1, R0, 4)
        .label("out")
        .mov64(R0, 1)
        .exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("value_size=8"), "{e}");

    // A key with uninitialised stack bytes.
    let mut b = Builder::new();
    b.ld_map(R1, "cnt")
        .mov64(R2, R10)
        .add64(R2, -4)
        .call(Helper::MapLookupElem)
        .mov64(R0, 1)
        .exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("invalid indirect read from stack"), "{e}");

    // msg_redirect_hash from sock_ops: not allowed for the type.
    let mut b = Builder::new();
    b.call(Helper::MsgRedirectHash).mov64(R0, 1).exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("not emulated for SockOps"), "{e}");

    // An unknown return value.
    let mut b = Builder::new();
    b.ldx(Size::W, R0, R1, 0).exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("R0 must be a known 0 or 1"), "{e}");

    // Unreachable code.
    let mut b = Builder::new();
    b.mov64(R0, 1).exit().mov64(R0, 0).exit();
    let e = check_err(&b, ProgKind::SockOps);
    assert!(e.msg.contains("unreachable"), "{e}");
}
