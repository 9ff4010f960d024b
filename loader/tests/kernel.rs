//! Kernel tests: real `bpf()` calls (root). Each test skips with a printed reason when bpf()
//! is unusable, and fails instead when TCPBYPASS_REQUIRE_KERNEL=1. Every object is cleaned up
//! by drop guards (temporary cgroups and pin directories, attachments that detach on drop),
//! also when an assertion fails.

use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use asm::{Builder, Reg::*, Size};
use loader::testing::{kernel_or_skip, TempCgroup, TempPinDir};
use loader::{
    cgroup, features, sk_msg, AttachMode, AttachType, Error, Feature, FeatureError, Link, LinkType,
    Map, MapSpec, MapType, Program, ProgramSpec, ProgramType, UpdateFlags,
};

macro_rules! require_kernel {
    ($name:expr) => {
        if !kernel_or_skip($name) {
            return;
        }
    };
}

/// `r0 = ret; exit`, optionally referencing `map` (so the program holds it).
fn trivial(ret: i32, map: Option<&str>) -> asm::Program {
    let mut b = Builder::new();
    if let Some(m) = map {
        b.ld_map(R2, m);
    }
    b.mov64(R0, ret).exit();
    b.build().unwrap()
}

fn sock_ops(name: &str, ret: i32) -> Program {
    Program::load(
        &ProgramSpec::new(name, ProgramType::SockOps),
        &trivial(ret, None),
        &[],
    )
    .unwrap()
}

fn sk_msg_prog(name: &str) -> Program {
    Program::load(
        &ProgramSpec::new(name, ProgramType::SkMsg),
        &trivial(1, None),
        &[],
    )
    .unwrap()
}

/// The hash the running kernel uses for program tags, from its version (SHA-256 from 6.18).
fn kernel_tag_algorithm() -> asm::tag::TagAlgorithm {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(['.', '-', '+']);
    let major: u32 = parts.next().unwrap().parse().unwrap();
    let minor: u32 = parts.next().unwrap().parse().unwrap();
    if (major, minor) >= (6, 18) {
        asm::tag::TagAlgorithm::Sha256
    } else {
        asm::tag::TagAlgorithm::Sha1
    }
}

fn is_cloexec(fd: &impl AsFd) -> bool {
    let flags = nix::fcntl::fcntl(fd.as_fd().as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    flags & libc::FD_CLOEXEC != 0
}

#[test]
fn maps_of_every_type() {
    require_kernel!("maps_of_every_type");
    // Hash-like and array maps: put, get, iterate, delete.
    for t in [MapType::Hash, MapType::LruHash, MapType::Array] {
        let m = Map::create(&MapSpec::new("t_map", t, 4, 8, 4)).unwrap();
        assert!(m.as_fd().as_raw_fd() > 2);
        assert!(is_cloexec(&m), "bpf fds are close-on-exec");
        let info = m.info().unwrap();
        assert_eq!(info.map_type, t);
        assert_eq!(info.name, "t_map");
        assert_eq!(
            (info.key_size, info.value_size, info.max_entries),
            (4, 8, 4)
        );
        assert_eq!(info.id, m.id());
        let k = 2u32.to_le_bytes();
        m.put(&k, &77u64.to_le_bytes(), UpdateFlags::Any).unwrap();
        assert_eq!(m.get(&k).unwrap().unwrap(), 77u64.to_le_bytes());
        let keys: Vec<Vec<u8>> = m.keys().map(Result::unwrap).collect();
        if t == MapType::Array {
            assert_eq!(keys.len(), 4, "arrays have every index");
            assert!(m.delete(&k).is_err(), "array elements cannot be deleted");
        } else {
            assert_eq!(keys, vec![k.to_vec()]);
            assert!(m.delete(&k).unwrap());
            assert!(!m.delete(&k).unwrap());
            assert_eq!(m.get(&k).unwrap(), None);
            // NoExist/Exist semantics.
            m.put(&k, &1u64.to_le_bytes(), UpdateFlags::NoExist)
                .unwrap();
            let e = m
                .put(&k, &1u64.to_le_bytes(), UpdateFlags::NoExist)
                .unwrap_err();
            assert_eq!(e.errno(), Some(libc::EEXIST));
        }
    }

    // Per-CPU array: one value per possible CPU.
    let m = Map::create(&MapSpec::new("pcpu", MapType::PerCpuArray, 4, 4, 2)).unwrap();
    let cpus = loader::env::possible_cpus().unwrap();
    let vals: Vec<Vec<u8>> = (0..cpus)
        .map(|c| (c as u32 + 5).to_le_bytes().to_vec())
        .collect();
    m.put_per_cpu(&1u32.to_le_bytes(), &vals, UpdateFlags::Any)
        .unwrap();
    assert_eq!(m.get_per_cpu(&1u32.to_le_bytes()).unwrap().unwrap(), vals);

    // LPM trie: key = prefix length + address.
    let m = Map::create(&MapSpec::new("lpm", MapType::LpmTrie, 8, 4, 8)).unwrap();
    let key = |len: u32, a: [u8; 4]| -> Vec<u8> {
        let mut k = len.to_le_bytes().to_vec();
        k.extend_from_slice(&a);
        k
    };
    m.put(
        &key(8, [127, 0, 0, 0]),
        &1u32.to_le_bytes(),
        UpdateFlags::Any,
    )
    .unwrap();
    assert_eq!(
        m.get(&key(32, [127, 1, 2, 3])).unwrap().unwrap(),
        1u32.to_le_bytes(),
        "longest prefix match"
    );
    assert_eq!(m.get(&key(32, [10, 1, 2, 3])).unwrap(), None);
    assert_eq!(m.keys().count(), 1);

    // Sockhash and sockmap: the value is a socket fd; lookup gives its cookie (8-byte values).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd() as u64;
    let h = Map::create(&MapSpec::new("sock_hash", MapType::SockHash, 8, 8, 4)).unwrap();
    h.put(&9u64.to_le_bytes(), &fd.to_le_bytes(), UpdateFlags::Any)
        .unwrap();
    let cookie = u64::from_le_bytes(
        h.get(&9u64.to_le_bytes())
            .unwrap()
            .unwrap()
            .try_into()
            .unwrap(),
    );
    assert_ne!(cookie, 0);
    assert_eq!(h.keys().count(), 1);
    assert!(h.delete(&9u64.to_le_bytes()).unwrap());
    let sm = Map::create(&MapSpec::new("sock_map", MapType::SockMap, 4, 8, 4)).unwrap();
    sm.put(&0u32.to_le_bytes(), &fd.to_le_bytes(), UpdateFlags::Any)
        .unwrap();
    assert_eq!(
        sm.get(&0u32.to_le_bytes()).unwrap().unwrap(),
        cookie.to_le_bytes(),
        "same socket, same cookie"
    );
    assert!(sm.delete(&0u32.to_le_bytes()).unwrap());
}

#[test]
fn programs_load_pin_reopen_and_match_the_asm_tag() {
    require_kernel!("programs_load_pin_reopen_and_match_the_asm_tag");
    let pins = TempPinDir::new().unwrap();
    let map = Map::create(&MapSpec::new("sock_map", MapType::SockHash, 8, 8, 16)).unwrap();
    let src = trivial(1, Some("sock_map"));
    let so = Program::load(
        &ProgramSpec::new("t_sockops", ProgramType::SockOps).with_stats(),
        &src,
        &[&map],
    )
    .unwrap();
    assert!(is_cloexec(&so));
    let info = so.info().unwrap();
    assert_eq!(info.prog_type, ProgramType::SockOps);
    assert_eq!(info.name, "t_sockops");
    assert_eq!(info.map_ids, vec![map.id()], "the map is bound by name");
    assert!(info.verified_insns > 0);
    assert!(info.xlated_prog_len > 0);
    assert!(info.gpl_compatible);
    assert_eq!(so.stats().verified_insns, Some(info.verified_insns));
    assert!(so.stats().total_states.is_some(), "{:?}", so.stats());
    // The kernel's tag equals the assembler's (map fds are zeroed before hashing), computed
    // with this kernel's hash: SHA-1 up to 6.17, SHA-256 from 6.18.
    let alg = kernel_tag_algorithm();
    assert_eq!(
        info.tag,
        asm::tag::tag_with(src.insns(), alg),
        "kernel tag {} vs asm {} ({alg:?})",
        info.tag_hex(),
        asm::tag::tag_hex_with(src.insns(), alg)
    );

    let sm = Program::load(
        &ProgramSpec::new("t_skmsg", ProgramType::SkMsg),
        &trivial(1, None),
        &[],
    )
    .unwrap();
    assert_eq!(sm.prog_type(), ProgramType::SkMsg);
    assert_eq!(sm.tag(), asm::tag::tag_with(trivial(1, None).insns(), alg));

    // Pin and reopen: same id and tag.
    so.pin(pins.join("sockops")).unwrap();
    sm.pin(pins.join("skmsg")).unwrap();
    map.pin(pins.join("sock_map")).unwrap();
    let so2 = Program::open_pinned(pins.join("sockops")).unwrap();
    assert!(is_cloexec(&so2), "fds from BPF_OBJ_GET are close-on-exec");
    assert_eq!((so2.id(), so2.tag()), (so.id(), so.tag()));
    assert_eq!(so2.prog_type(), ProgramType::SockOps);
    let sm2 = Program::open_pinned(pins.join("skmsg")).unwrap();
    assert_eq!((sm2.id(), sm2.tag()), (sm.id(), sm.tag()));
    let map2 = Map::open_pinned(pins.join("sock_map")).unwrap();
    assert_eq!(map2.id(), map.id());
    assert_eq!(map2.map_type(), MapType::SockHash);
    assert_eq!(map2.name(), "sock_map");
    // Opening a pin as the wrong kind says what it is.
    match Map::open_pinned(pins.join("sockops")) {
        Err(Error::WrongObject {
            expected, found, ..
        }) => {
            assert_eq!(expected, "map");
            assert_eq!(found, "program");
        }
        other => panic!("{other:?}"),
    }
    // Pinning twice at one path fails clearly.
    let e = so.pin(pins.join("sockops")).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert!(
        matches!(&e, Error::PinExists { path } if *path == pins.join("sockops")),
        "{e:?}"
    );
    assert_eq!(e.errno(), Some(libc::EEXIST));
    // Opening a pin that is not there is just as matchable.
    match Program::open_pinned(pins.join("nothing_here")) {
        Err(e @ Error::PinNotFound { .. }) => assert_eq!(e.errno(), Some(libc::ENOENT)),
        other => panic!("{other:?}"),
    }
    // Pinning outside a bpffs is refused before the kernel's EPERM.
    let e = so.pin("/tmp/not-bpffs-pin").unwrap_err();
    assert!(matches!(e, Error::NotBpffs { .. }), "{e}");

    // By id.
    assert!(loader::ids::programs().unwrap().contains(&so.id()));
    assert!(loader::ids::maps().unwrap().contains(&map.id()));
    assert_eq!(Program::from_id(so.id()).unwrap().tag(), so.tag());
    assert_eq!(Map::from_id(map.id()).unwrap().id(), map.id());
}

#[test]
fn verifier_error_names_reason_and_instruction() {
    require_kernel!("verifier_error_names_reason_and_instruction");
    // A 16-bit load of bpf_sock_ops.local_port (offset 68): only 32-bit loads are allowed.
    let mut b = Builder::new();
    b.mov64(R6, R1)
        .label("read_port")
        .ldx(Size::H, R2, R6, 68)
        .mov64(R0, 1)
        .exit();
    let src = b.build().unwrap();
    let e = Program::load(
        &ProgramSpec::new("bad_port", ProgramType::SockOps),
        &src,
        &[],
    )
    .unwrap_err();
    let Error::Verifier(v) = e else {
        panic!("expected a verifier error, got {e:?}")
    };
    assert!(v.reason().contains("invalid bpf_context access"), "{v}");
    assert!(v.reason().contains("off=68"), "{v}");
    assert_eq!(v.insn(), Some(1));
    assert_eq!(v.label(), Some("read_port"));
    assert_eq!(v.errno(), libc::EACCES);
    let text = v.insn_text().unwrap();
    assert!(text.contains("68"), "instruction text: {text}");
    let short = v.to_string();
    assert!(
        short.contains("bad_port") && short.contains("at instruction 1"),
        "{short}"
    );
    assert!(!short.contains("processed"), "{short}");
    let long = format!("{v:#}");
    eprintln!("{long}");
    assert!(
        long.contains("verifier log:") && long.contains(v.log().trim()),
        "{long}"
    );

    // Reading the context out of bounds.
    let mut b = Builder::new();
    b.ldx(Size::W, R2, R1, 4096).mov64(R0, 1).exit();
    let e = Program::load(
        &ProgramSpec::new("oob", ProgramType::SkMsg),
        &b.build().unwrap(),
        &[],
    )
    .unwrap_err();
    let Error::Verifier(v) = e else {
        panic!("{e:?}")
    };
    assert!(v.reason().contains("invalid bpf_context access"), "{v}");
    assert_eq!(v.insn(), Some(0));
}

#[test]
fn sock_ops_link_attach_query_replace_detach() {
    require_kernel!("sock_ops_link_attach_query_replace_detach");
    let cg = TempCgroup::new().unwrap();
    let pins = TempPinDir::new().unwrap();
    let p1 = sock_ops("t_so_1", 1);
    let p2 = sock_ops("t_so_2", 0);
    let mut att =
        cgroup::attach(&p1, cg.path(), AttachType::CgroupSockOps, AttachMode::Link).unwrap();
    assert!(att.is_link());
    assert_eq!(att.program_id(), p1.id());
    let q = cgroup::query(cg.path(), AttachType::CgroupSockOps).unwrap();
    assert_eq!(q.prog_ids, vec![p1.id()]);

    let info = att.link().unwrap().info().unwrap();
    assert_eq!(info.link_type, LinkType::Cgroup);
    assert_eq!(info.prog_id, p1.id());
    assert_eq!(info.attach_type, Some(AttachType::CgroupSockOps));
    assert_eq!(
        info.cgroup_id,
        Some(std::fs::metadata(cg.path()).unwrap().ino())
    );

    // Pin, reopen from the pin.
    att.pin(pins.join("link")).unwrap();
    let reopened = Link::open_pinned(pins.join("link")).unwrap();
    assert!(is_cloexec(&reopened));
    assert!(
        is_cloexec(att.link().unwrap()),
        "link fds are close-on-exec"
    );
    assert_eq!(reopened.info().unwrap().id, info.id);

    // Replace the program in place.
    att.replace_program(&p2).unwrap();
    assert_eq!(att.program_id(), p2.id());
    let q = cgroup::query(cg.path(), AttachType::CgroupSockOps).unwrap();
    assert_eq!(q.prog_ids, vec![p2.id()]);
    // Replacing with a wrong "expected old" program is refused.
    assert!(reopened.update_program(&p1, Some(&p1)).is_err());

    // A legacy detach of a link-attached program does not touch it.
    assert!(cgroup::detach_program(cg.path(), AttachType::CgroupSockOps, &p2).is_err());
    assert_eq!(
        cgroup::query(cg.path(), AttachType::CgroupSockOps)
            .unwrap()
            .prog_ids,
        vec![p2.id()]
    );

    att.detach().unwrap();
    let q = cgroup::query(cg.path(), AttachType::CgroupSockOps).unwrap();
    assert!(q.prog_ids.is_empty(), "{q:?}");
}

#[test]
fn sock_ops_legacy_attach_replace_and_exact_detach() {
    require_kernel!("sock_ops_legacy_attach_replace_and_exact_detach");
    let cg = TempCgroup::new().unwrap();
    let p1 = sock_ops("t_lg_1", 1);
    let p2 = sock_ops("t_lg_2", 0);
    let p3 = sock_ops("t_lg_3", 1);
    let mut a1 = cgroup::attach(
        &p1,
        cg.path(),
        AttachType::CgroupSockOps,
        AttachMode::Legacy,
    )
    .unwrap();
    assert!(!a1.is_link());
    let a3 = cgroup::attach(
        &p3,
        cg.path(),
        AttachType::CgroupSockOps,
        AttachMode::Legacy,
    )
    .unwrap();
    let q = cgroup::query(cg.path(), AttachType::CgroupSockOps).unwrap();
    assert_eq!(q.prog_ids, vec![p1.id(), p3.id()]);
    assert_eq!(q.attach_flags, 2, "BPF_F_ALLOW_MULTI");
    assert!(
        a1.pin("/sys/fs/bpf/never").is_err(),
        "legacy attachments have no pin"
    );

    // BPF_F_REPLACE swaps p1 for p2 in place.
    a1.replace_program(&p2).unwrap();
    let q = cgroup::query(cg.path(), AttachType::CgroupSockOps).unwrap();
    assert_eq!(q.prog_ids, vec![p2.id(), p3.id()]);

    // Detaching a1 removes exactly p2, not p3.
    a1.detach().unwrap();
    let q = cgroup::query(cg.path(), AttachType::CgroupSockOps).unwrap();
    assert_eq!(q.prog_ids, vec![p3.id()]);

    // A kept attachment survives its value; detach_program removes it precisely.
    a3.keep();
    assert_eq!(
        cgroup::query(cg.path(), AttachType::CgroupSockOps)
            .unwrap()
            .prog_ids,
        vec![p3.id()]
    );
    cgroup::detach_program(cg.path(), AttachType::CgroupSockOps, &p3).unwrap();
    assert!(cgroup::query(cg.path(), AttachType::CgroupSockOps)
        .unwrap()
        .prog_ids
        .is_empty());

    // Dropping an attachment detaches it.
    {
        let _a =
            cgroup::attach(&p1, cg.path(), AttachType::CgroupSockOps, AttachMode::Auto).unwrap();
        assert_eq!(
            cgroup::query(cg.path(), AttachType::CgroupSockOps)
                .unwrap()
                .prog_ids,
            vec![p1.id()]
        );
    }
    assert!(cgroup::query(cg.path(), AttachType::CgroupSockOps)
        .unwrap()
        .prog_ids
        .is_empty());
}

#[test]
fn cgroup_paths_are_validated() {
    require_kernel!("cgroup_paths_are_validated");
    let p = sock_ops("t_cgv", 1);
    // Not a cgroup at all.
    let e = cgroup::attach(
        &p,
        Path::new("/proc"),
        AttachType::CgroupSockOps,
        AttachMode::Auto,
    )
    .unwrap_err();
    assert!(matches!(e, Error::NotCgroup2 { .. }), "{e}");
    // A cgroup v1 hierarchy, where the host has one.
    let mounts =
        loader::env::parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    if let Some(v1) = mounts.iter().find(|m| m.fs_type == "cgroup") {
        let e = cgroup::attach(
            &p,
            &v1.mount_point,
            AttachType::CgroupSockOps,
            AttachMode::Auto,
        )
        .unwrap_err();
        assert!(e.to_string().contains("cgroup v1"), "{e}");
    }
}

#[test]
fn sk_msg_attach_to_sockhash_and_detach() {
    require_kernel!("sk_msg_attach_to_sockhash_and_detach");
    let h = Map::create(&MapSpec::new("t_hash", MapType::SockHash, 8, 8, 4)).unwrap();
    let p = sk_msg_prog("t_skmsg");
    let a = sk_msg::attach(&p, &h).unwrap();
    assert_eq!(a.program_id(), p.id());
    assert_eq!(sk_msg::attached(&h).unwrap(), vec![p.id()]);
    // The kernel would silently replace ours: attach refuses another program instead.
    let other = sk_msg_prog("t_skmsg2");
    match sk_msg::attach(&other, &h) {
        Err(Error::AlreadyAttached { prog_ids, .. }) => assert_eq!(prog_ids, vec![p.id()]),
        r => panic!("{r:?}"),
    }
    assert_eq!(sk_msg::attached(&h).unwrap(), vec![p.id()]);
    // Detaching someone else's program fails and leaves ours.
    assert!(sk_msg::detach(&other, &h).is_err());
    a.detach().unwrap();
    assert!(sk_msg::attached(&h).unwrap().is_empty());
    assert!(sk_msg::detach(&p, &h).is_err(), "already detached");

    // Kept, then detached precisely.
    sk_msg::attach(&p, &h).unwrap().keep();
    sk_msg::detach(&p, &h).unwrap();

    // Not a sock map.
    let arr = Map::create(&MapSpec::new("t_arr", MapType::Array, 4, 4, 1)).unwrap();
    assert!(matches!(
        sk_msg::attach(&p, &arr),
        Err(Error::InvalidArgument(_))
    ));

    // Sockmap links where the kernel has them.
    if features::probe(Feature::SockmapLink).unwrap() {
        let l = sk_msg::attach_link(&p, &h).unwrap();
        let info = l.info().unwrap();
        assert_eq!(info.link_type, LinkType::Sockmap);
        assert_eq!(info.map_id, Some(h.id()));
        assert_eq!(info.attach_type, Some(AttachType::SkMsgVerdict));
        l.detach().unwrap();
    }
}

#[test]
fn feature_probes() {
    require_kernel!("feature_probes");
    use Feature::*;
    for f in [
        ProgramType(loader::ProgramType::SockOps),
        ProgramType(loader::ProgramType::SkMsg),
        MapType(loader::MapType::SockHash),
        MapType(loader::MapType::LpmTrie),
        MapType(loader::MapType::PerCpuArray),
        CgroupLink,
        Helper(loader::ProgramType::SockOps, asm::Helper::GetNetnsCookie),
        Helper(loader::ProgramType::SkMsg, asm::Helper::GetNetnsCookie),
        Helper(loader::ProgramType::SockOps, asm::Helper::GetSocketCookie),
    ] {
        assert!(features::probe(f).unwrap(), "{f}");
        features::require(f).unwrap();
    }
    // Not allowed on this kernel: bpf_get_socket_cookie in sk_msg.
    let f = Feature::Helper(loader::ProgramType::SkMsg, asm::Helper::GetSocketCookie);
    assert!(!features::probe(f).unwrap());
    match features::require(f) {
        Err(FeatureError::Missing { feature }) => {
            assert!(feature.contains("bpf_get_socket_cookie"), "{feature}");
            assert!(feature.contains("sk_msg"), "{feature}");
        }
        other => panic!("{other:?}"),
    }
    // An unknown map type is a clear "no".
    assert!(!features::probe(MapType(loader::MapType::Other(9999))).unwrap());
    // probe_all answers every feature of its list once, with no probe error on a kernel that
    // runs these tests, and each answer belongs to its feature: the one "no" above stays a
    // "no" and the "yes" answers stay "yes" (a result paired with the wrong feature would
    // move the "no").
    let all = features::probe_all();
    let probed: Vec<Feature> = all.iter().map(|(f, _)| *f).collect();
    let distinct: std::collections::HashSet<&Feature> = probed.iter().collect();
    assert_eq!(distinct.len(), features::PROBED.len(), "{probed:?}");
    for (f, r) in &all {
        assert!(r.is_ok(), "{f}: {r:?}");
    }
    let answer = |f: Feature| {
        all.iter()
            .find(|(g, _)| *g == f)
            .and_then(|(_, r)| r.as_ref().ok().copied())
    };
    assert_eq!(
        answer(Feature::Helper(
            loader::ProgramType::SkMsg,
            asm::Helper::GetSocketCookie
        )),
        Some(false)
    );
    for f in [
        ProgramType(loader::ProgramType::SockOps),
        ProgramType(loader::ProgramType::SkMsg),
        MapType(loader::MapType::SockHash),
        CgroupLink,
        Helper(loader::ProgramType::SkMsg, asm::Helper::GetNetnsCookie),
    ] {
        assert_eq!(answer(f), Some(true), "{f}");
    }
    // Every kind of feature is among them.
    let kind = |f: &Feature| match f {
        Feature::ProgramType(_) => 0,
        Feature::MapType(_) => 1,
        Feature::CgroupLink => 2,
        Feature::SockmapLink => 3,
        Feature::Helper(..) => 4,
        _ => 5,
    };
    let kinds: std::collections::BTreeSet<i32> = probed.iter().map(kind).collect();
    assert_eq!(kinds, (0..5).collect(), "{probed:?}");
}

#[test]
fn temp_cgroup_moves_members_back_and_disappears() {
    require_kernel!("temp_cgroup_moves_members_back_and_disappears");
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let path;
    {
        let cg = TempCgroup::new().unwrap();
        path = cg.path().to_path_buf();
        assert!(path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("tcpbypass-test-"));
        cg.add_pid(pid).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
    }
    assert!(!path.exists(), "cgroup removed");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(!own.contains("tcpbypass-test-"), "{own}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the member process is untouched"
    );
    drop(Kill(child));
}

#[test]
fn temp_pin_dir_removes_its_pins() {
    require_kernel!("temp_pin_dir_removes_its_pins");
    let dir;
    {
        let pins = TempPinDir::new().unwrap();
        dir = pins.path().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let m = Map::create(&MapSpec::new("t_pin", MapType::Array, 4, 4, 1)).unwrap();
        m.pin(pins.join("m")).unwrap();
        std::fs::create_dir(pins.join("sub")).unwrap();
        m.pin(pins.join("sub/m2")).unwrap();
    }
    assert!(!dir.exists());
}

#[test]
fn environment_discovery() {
    require_kernel!("environment_discovery");
    let m = loader::env::cgroup2_mount().unwrap();
    loader::env::check_cgroup2(&m).unwrap();
    let _pins = TempPinDir::new().unwrap();
    assert!(loader::env::is_bpffs(Path::new("/sys/fs/bpf")).unwrap());
    assert!(!loader::env::is_bpffs(Path::new("/tmp")).unwrap());
}
