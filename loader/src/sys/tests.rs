//! Offline tests of the syscall layer: every command's attribute encoding through a fake
//! `bpf()`, field by field, and the layouts checked against the vendored `linux/bpf.h` (`uapi::headers::BPF_H`).

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
use std::rc::Rc;

use super::attr::*;
use super::LinkExtra;
use super::*;
use crate::map::{Map, MapSpec, MapType, UpdateFlags};
use crate::program::{AttachType, Program, ProgramSpec, ProgramType};
use crate::Error;

type Calls = Rc<RefCell<Vec<(Cmd, Vec<u8>)>>>;

/// Installs a fake that records every call and answers with `respond`, then runs `f`.
fn fake<R>(
    mut respond: impl FnMut(Cmd, &mut [u8], usize) -> io::Result<i64> + 'static,
    f: impl FnOnce(&Calls) -> R,
) -> R {
    let calls: Calls = Rc::default();
    let rec = calls.clone();
    with_fake(
        move |cmd, bytes| {
            let n = rec.borrow().len();
            rec.borrow_mut().push((cmd, bytes.to_vec()));
            respond(cmd, bytes, n)
        },
        || f(&calls),
    )
}

fn new_fd() -> io::Result<i64> {
    Ok(File::open("/dev/null")?.into_raw_fd() as i64)
}

fn errno(e: i32) -> io::Result<i64> {
    Err(io::Error::from_raw_os_error(e))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// Answers `BPF_OBJ_GET_INFO_BY_FD` with `info` written to the caller's buffer.
fn answer_info<T: Pod>(bytes: &mut [u8], info: &T) -> io::Result<i64> {
    let a: InfoAttr = from_bytes(bytes);
    let out = bytes_of(info);
    poke(a.info, &out[..out.len().min(a.info_len as usize)]);
    Ok(0)
}

fn map_info(map_type: u32, key: u32, value: u32, max: u32) -> MapInfoRaw {
    MapInfoRaw {
        map_type,
        id: 42,
        key_size: key,
        value_size: value,
        max_entries: max,
        name: obj_name("test_map"),
        ..Default::default()
    }
}

/// A map created through the fake (answers create and info).
fn fake_map(map_type: MapType, key: u32, value: u32) -> Map {
    let raw = map_type.raw();
    fake(
        move |cmd, b, _| match cmd {
            Cmd::MapCreate => new_fd(),
            Cmd::ObjGetInfoByFd => answer_info(b, &map_info(raw, key, value, 16)),
            _ => errno(libc::ENOSYS),
        },
        |_| Map::create(&MapSpec::new("test_map", map_type, key, value, 16)).unwrap(),
    )
}

#[test]
fn map_create_encodes_every_field() {
    fake(
        |cmd, b, _| match cmd {
            Cmd::MapCreate => new_fd(),
            Cmd::ObjGetInfoByFd => answer_info(b, &map_info(11, 8, 4, 16)),
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let spec = MapSpec::new("a_very_long_trie_name", MapType::LpmTrie, 8, 4, 16)
                .with_flags(consts::BPF_F_RDONLY);
            let map = Map::create(&spec).unwrap();
            let calls = calls.borrow();
            assert_eq!(calls.len(), 2);
            let (cmd, b) = &calls[0];
            assert_eq!(*cmd, Cmd::MapCreate);
            assert_eq!(b.len(), 72);
            assert_eq!(u32_at(b, 0), 11, "map_type");
            assert_eq!(u32_at(b, 4), 8, "key_size");
            assert_eq!(u32_at(b, 8), 4, "value_size");
            assert_eq!(u32_at(b, 12), 16, "max_entries");
            // LPM tries get BPF_F_NO_PREALLOC on top of the given flags.
            assert_eq!(u32_at(b, 16), consts::BPF_F_RDONLY | 1, "map_flags");
            assert_eq!(&b[28..44], b"a_very_long_tri\0", "map_name cut to 15 bytes");
            assert!(b[20..28].iter().all(|&x| x == 0));
            assert!(b[44..].iter().all(|&x| x == 0), "the rest is zero");
            // The info call names the new fd and our buffer size.
            let (cmd, b) = &calls[1];
            assert_eq!(*cmd, Cmd::ObjGetInfoByFd);
            assert_eq!(u32_at(b, 0), map.as_fd().as_raw_fd() as u32);
            assert_eq!(u32_at(b, 4), size_of::<MapInfoRaw>() as u32);
            assert_eq!(map.id(), 42);
            assert_eq!(map.map_type(), MapType::LpmTrie);
            assert_eq!(map.key_size(), 8);
            assert_eq!(map.name(), "a_very_long_trie_name");
        },
    );
}

#[test]
fn map_names_are_checked_before_the_kernel() {
    fake(
        |_, _, _| new_fd(),
        |calls| {
            let r = Map::create(&MapSpec::new("bad name!", MapType::Hash, 4, 4, 1));
            assert!(matches!(r, Err(Error::InvalidArgument(_))));
            assert!(calls.borrow().is_empty());
        },
    );
}

#[test]
fn map_element_commands() {
    let map = fake_map(MapType::Hash, 4, 8);
    let map_fd = map.as_fd().as_raw_fd() as u32;
    fake(
        |cmd, b, _| match cmd {
            Cmd::MapLookupElem => {
                let a: MapElemAttr = from_bytes(b);
                poke(a.value, &0x1122_3344_5566_7788u64.to_le_bytes());
                Ok(0)
            }
            Cmd::MapUpdateElem => Ok(0),
            Cmd::MapDeleteElem => errno(libc::ENOENT),
            Cmd::MapGetNextKey => {
                let a: MapElemAttr = from_bytes(b);
                if a.key == 0 {
                    poke(a.value, &7u32.to_le_bytes());
                    Ok(0)
                } else {
                    errno(libc::ENOENT)
                }
            }
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let key = 5u32.to_le_bytes();
            let v = map.get(&key).unwrap().unwrap();
            assert_eq!(v, 0x1122_3344_5566_7788u64.to_le_bytes());
            map.put(&key, &9u64.to_le_bytes(), UpdateFlags::NoExist)
                .unwrap();
            assert!(!map.delete(&key).unwrap());
            let keys: Vec<Vec<u8>> = map.keys().map(|k| k.unwrap()).collect();
            assert_eq!(keys, vec![7u32.to_le_bytes().to_vec()]);
            // Wrong sizes never reach the kernel.
            let before = calls.borrow().len();
            assert!(map.get(&[0u8; 3]).is_err());
            assert!(map.put(&key, &[0u8; 4], UpdateFlags::Any).is_err());
            assert!(map.get_per_cpu(&key).is_err());
            assert_eq!(calls.borrow().len(), before);

            let calls = calls.borrow();
            let cmds: Vec<Cmd> = calls.iter().map(|c| c.0).collect();
            assert_eq!(
                cmds,
                [
                    Cmd::MapLookupElem,
                    Cmd::MapUpdateElem,
                    Cmd::MapDeleteElem,
                    Cmd::MapGetNextKey,
                    Cmd::MapGetNextKey
                ]
            );
            for (_, b) in calls.iter() {
                assert_eq!(b.len(), 32);
                assert_eq!(u32_at(b, 0), map_fd, "map_fd");
                assert_eq!(u32_at(b, 4), 0, "padding");
            }
            let lookup = &calls[0].1;
            assert_ne!(u64_at(lookup, 8), 0, "key pointer");
            assert_ne!(u64_at(lookup, 16), 0, "value pointer");
            assert_eq!(u64_at(lookup, 24), 0, "flags");
            assert_eq!(u64_at(&calls[1].1, 24), consts::BPF_NOEXIST, "update flags");
            assert_eq!(u64_at(&calls[2].1, 16), 0, "delete has no value");
            assert_eq!(u64_at(&calls[3].1, 8), 0, "first next_key call has no key");
            assert_ne!(u64_at(&calls[4].1, 8), 0, "then the last key");
        },
    );
}

#[test]
fn map_pointers_carry_the_bytes() {
    let map = fake_map(MapType::Hash, 4, 8);
    let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let s = seen.clone();
    fake(
        move |_, b, _| {
            let a: MapElemAttr = from_bytes(b);
            s.borrow_mut().push(peek(a.key, 4));
            s.borrow_mut().push(peek(a.value, 8));
            Ok(0)
        },
        |_| {
            map.put(&[1, 2, 3, 4], &[9, 8, 7, 6, 5, 4, 3, 2], UpdateFlags::Any)
                .unwrap();
        },
    );
    assert_eq!(
        *seen.borrow(),
        vec![vec![1, 2, 3, 4], vec![9, 8, 7, 6, 5, 4, 3, 2]]
    );
}

#[test]
fn per_cpu_values_are_strided_by_8() {
    let map = fake_map(MapType::PerCpuArray, 4, 4);
    let cpus = crate::env::possible_cpus().unwrap();
    let seen: Rc<RefCell<Vec<u8>>> = Rc::default();
    let s = seen.clone();
    fake(
        move |cmd, b, _| {
            let a: MapElemAttr = from_bytes(b);
            match cmd {
                Cmd::MapUpdateElem => *s.borrow_mut() = peek(a.value, 8 * cpus),
                Cmd::MapLookupElem => {
                    let mut buf = vec![0u8; 8 * cpus];
                    for c in 0..cpus {
                        buf[c * 8] = c as u8 + 10;
                    }
                    poke(a.value, &buf);
                }
                _ => {}
            }
            Ok(0)
        },
        |_| {
            let values: Vec<Vec<u8>> = (0..cpus).map(|c| vec![c as u8 + 1; 4]).collect();
            map.put_per_cpu(&0u32.to_le_bytes(), &values, UpdateFlags::Any)
                .unwrap();
            let got = map.get_per_cpu(&0u32.to_le_bytes()).unwrap().unwrap();
            assert_eq!(got.len(), cpus);
            for (c, v) in got.iter().enumerate() {
                assert_eq!(v, &vec![c as u8 + 10, 0, 0, 0]);
            }
            assert!(
                map.get(&0u32.to_le_bytes()).is_err(),
                "get on a per-CPU map"
            );
        },
    );
    let buf = seen.borrow();
    for c in 0..cpus {
        assert_eq!(&buf[c * 8..c * 8 + 4], &[c as u8 + 1; 4]);
        assert_eq!(&buf[c * 8 + 4..c * 8 + 8], &[0; 4], "padding to 8 bytes");
    }
}

fn prog_info_raw() -> ProgInfoRaw {
    ProgInfoRaw {
        prog_type: 13,
        id: 77,
        tag: [1, 2, 3, 4, 5, 6, 7, 8],
        name: obj_name("sockops"),
        verified_insns: 5,
        xlated_prog_len: 40,
        ..Default::default()
    }
}

fn test_prog() -> asm::Program {
    use asm::{Builder, Reg::*};
    let mut b = Builder::new();
    b.ld_map(R2, "test_map").mov64(R0, 1).exit();
    b.build().unwrap()
}

#[test]
fn prog_load_encodes_every_field_and_binds_maps() {
    let map = fake_map(MapType::Hash, 4, 8);
    let map_fd = map.as_fd().as_raw_fd();
    let prog = test_prog();
    let expected_insns = asm::encode(&prog.resolve_maps(|_| Some(map_fd)).unwrap());
    let seen: Rc<RefCell<(Vec<u8>, Vec<u8>)>> = Rc::default();
    let s = seen.clone();
    let n_insns = expected_insns.len();
    fake(
        move |cmd, b, _| match cmd {
            Cmd::ProgLoad => {
                let a: ProgLoadAttr = from_bytes(b);
                *s.borrow_mut() = (peek(a.insns, n_insns), peek(a.license, 4));
                new_fd()
            }
            Cmd::ObjGetInfoByFd => answer_info(b, &prog_info_raw()),
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let spec = ProgramSpec::new("sockops", ProgramType::SockOps)
                .expected_attach_type(AttachType::CgroupSockOps)
                .prog_flags(1);
            let p = Program::load(&spec, &prog, &[&map]).unwrap();
            assert_eq!(p.id(), 77);
            assert_eq!(p.tag(), [1, 2, 3, 4, 5, 6, 7, 8]);
            assert_eq!(p.cached_info().tag_hex(), "0102030405060708");
            assert_eq!(p.stats().verified_insns, Some(5));
            assert_eq!(p.prog_type(), ProgramType::SockOps);
            let calls = calls.borrow();
            let (cmd, b) = &calls[0];
            assert_eq!(*cmd, Cmd::ProgLoad);
            assert_eq!(b.len(), 144);
            assert_eq!(u32_at(b, 0), 13, "prog_type");
            assert_eq!(u32_at(b, 4), 4, "insn_cnt");
            assert_ne!(u64_at(b, 8), 0, "insns");
            assert_ne!(u64_at(b, 16), 0, "license");
            assert_eq!(u32_at(b, 24), 0, "log_level: first try has no log");
            assert_eq!(u32_at(b, 28), 0, "log_size");
            assert_eq!(u64_at(b, 32), 0, "log_buf");
            assert_eq!(u32_at(b, 40), 0, "kern_version");
            assert_eq!(u32_at(b, 44), 1, "prog_flags");
            assert_eq!(&b[48..64], b"sockops\0\0\0\0\0\0\0\0\0", "prog_name");
            assert_eq!(u32_at(b, 68), 3, "expected_attach_type");
            assert!(b[72..].iter().all(|&x| x == 0), "the rest is zero");
        },
    );
    let (insns, license) = seen.borrow().clone();
    assert_eq!(insns, expected_insns, "map fd bound into the lddw");
    assert_eq!(license, b"GPL\0");
}

#[test]
fn unknown_map_name_fails_before_the_kernel() {
    fake(
        |_, _, _| new_fd(),
        |calls| {
            let spec = ProgramSpec::new("p", ProgramType::SockOps);
            let r = Program::load(&spec, &test_prog(), &[]);
            assert!(matches!(r, Err(Error::Asm(_))), "{r:?}");
            assert!(calls.borrow().is_empty());
        },
    );
}

const REJECT_LOG: &str = "0: R1=ctx() R10=fp0\n0: (18) r2 = 0x0\n2: (b7) r0 = 1\ninvalid something at the end\nprocessed 3 insns (limit 1000000)\n";

#[test]
fn failed_load_is_retried_with_a_growing_log() {
    fake(
        |cmd, b, n| match cmd {
            Cmd::ProgLoad => {
                let mut a: ProgLoadAttr = from_bytes(b);
                match n {
                    0 => errno(libc::EACCES),
                    1 => {
                        // Too small: say how much is needed (6.4+ log_true_size).
                        a.log_true_size = 100_000;
                        b.copy_from_slice(bytes_of(&a));
                        errno(libc::ENOSPC)
                    }
                    _ => {
                        poke(a.log_buf, REJECT_LOG.as_bytes());
                        poke(a.log_buf + REJECT_LOG.len() as u64, &[0]);
                        errno(libc::EACCES)
                    }
                }
            }
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let spec = ProgramSpec::new("rejected", ProgramType::SockOps);
            let prog = {
                use asm::{Builder, Reg::*};
                let mut b = Builder::new();
                b.lddw(R2, 0).label("the_end").mov64(R0, 1).exit();
                b.build().unwrap()
            };
            let err = match Program::load_with(&spec, &prog, |_| None) {
                Err(Error::Verifier(v)) => v,
                other => panic!("expected a verifier error, got {other:?}"),
            };
            assert_eq!(err.reason(), "invalid something at the end");
            assert_eq!(err.insn(), Some(2));
            assert_eq!(err.label(), Some("the_end"));
            assert_eq!(err.errno(), libc::EACCES);
            assert_eq!(err.log(), REJECT_LOG);
            let calls = calls.borrow();
            assert_eq!(calls.len(), 3);
            let levels: Vec<(u32, u32)> = calls
                .iter()
                .map(|(_, b)| (u32_at(b, 24), u32_at(b, 28)))
                .collect();
            assert_eq!(
                levels,
                [(0, 0), (1, 64 * 1024), (1, 256 * 1024)],
                "no log, then level 1 growing ×4 (at least log_true_size)"
            );
        },
    );
}

#[test]
fn eperm_is_not_retried_with_a_log() {
    fake(
        |_, _, _| errno(libc::EPERM),
        |calls| {
            let spec = ProgramSpec::new("p", ProgramType::SockOps);
            let r = Program::load_with(&spec, &asm::Program::from_insns(vec![]), |_| None);
            match r {
                Err(Error::Syscall(e)) => {
                    assert_eq!(e.call, "BPF_PROG_LOAD");
                    assert!(e.to_string().contains("BPF_PROG_LOAD failed"), "{e}");
                    assert!(
                        e.to_string().contains("CAP_") || e.to_string().contains("capabilities"),
                        "{e}"
                    );
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(calls.borrow().len(), 1);
        },
    );
}

#[test]
fn eagain_is_retried_a_bounded_number_of_times() {
    let req_insns = asm::encode(&[asm::Insn::exit()]);
    let req = ProgLoad {
        prog_type: 13,
        expected_attach_type: 0,
        name: "x",
        license: c"GPL",
        insns: &req_insns,
        prog_flags: 0,
        btf: None,
        line_info: &[],
        attach_btf_id: 0,
        attach_fd: None,
        fd_array: &[],
    };
    fake(
        |_, _, n| if n < 3 { errno(libc::EAGAIN) } else { new_fd() },
        |calls| {
            assert!(prog_load(&req, None).is_ok());
            assert_eq!(calls.borrow().len(), 4);
        },
    );
    fake(
        |_, _, _| errno(libc::EAGAIN),
        |calls| {
            let (e, _) = prog_load(&req, None).unwrap_err();
            assert_eq!(e.errno(), Some(libc::EAGAIN));
            assert_eq!(calls.borrow().len(), PROG_LOAD_EAGAIN_RETRIES + 1);
        },
    );
}

#[test]
fn obj_pin_and_get() {
    let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let s = seen.clone();
    fake(
        move |cmd, b, _| {
            let a: ObjAttr = from_bytes(b);
            s.borrow_mut().push(peek(a.pathname, 12));
            match cmd {
                Cmd::ObjGet => new_fd(),
                _ => Ok(0),
            }
        },
        |calls| {
            let f = File::open("/dev/null").unwrap();
            obj_pin(f.as_fd(), c"/sys/fs/bpf/x").unwrap();
            let got = obj_get(c"/sys/fs/bpf/y", consts::BPF_F_RDONLY).unwrap();
            assert!(got.as_raw_fd() > 2);
            let calls = calls.borrow();
            assert_eq!(calls[0].0, Cmd::ObjPin);
            assert_eq!(calls[0].1.len(), 16);
            assert_eq!(u32_at(&calls[0].1, 8), f.as_raw_fd() as u32, "bpf_fd");
            assert_eq!(u32_at(&calls[0].1, 12), 0, "file_flags");
            assert_eq!(calls[1].0, Cmd::ObjGet);
            assert_eq!(u32_at(&calls[1].1, 8), 0, "bpf_fd");
            assert_eq!(u32_at(&calls[1].1, 12), consts::BPF_F_RDONLY, "file_flags");
        },
    );
    assert_eq!(seen.borrow()[0], b"/sys/fs/bpf/");
    assert_eq!(seen.borrow()[1], b"/sys/fs/bpf/");
}

#[test]
fn prog_attach_replace_and_detach() {
    let target = File::open("/dev/null").unwrap();
    let prog = File::open("/dev/null").unwrap();
    let old = File::open("/dev/null").unwrap();
    fake(
        |_, _, _| Ok(0),
        |calls| {
            prog_attach(
                target.as_fd(),
                prog.as_fd(),
                3,
                consts::BPF_F_ALLOW_MULTI,
                None,
            )
            .unwrap();
            prog_attach(
                target.as_fd(),
                prog.as_fd(),
                3,
                consts::BPF_F_ALLOW_MULTI,
                Some(old.as_fd()),
            )
            .unwrap();
            prog_detach(target.as_fd(), Some(prog.as_fd()), 7).unwrap();
            let calls = calls.borrow();
            let fields = |b: &[u8]| -> [u32; 5] { std::array::from_fn(|i| u32_at(b, i * 4)) };
            let (t, p, o) = (
                target.as_raw_fd() as u32,
                prog.as_raw_fd() as u32,
                old.as_raw_fd() as u32,
            );
            assert_eq!(calls[0].0, Cmd::ProgAttach);
            assert_eq!(calls[0].1.len(), 20);
            assert_eq!(fields(&calls[0].1), [t, p, 3, 2, 0]);
            assert_eq!(fields(&calls[1].1), [t, p, 3, 2 | 4, o], "BPF_F_REPLACE");
            assert_eq!(calls[2].0, Cmd::ProgDetach);
            assert_eq!(fields(&calls[2].1), [t, p, 7, 0, 0]);
        },
    );
}

#[test]
fn prog_query_asks_for_the_count_then_the_ids() {
    let target = File::open("/dev/null").unwrap();
    fake(
        |_, b, n| {
            let mut a: QueryAttr = from_bytes(b);
            if n == 0 {
                assert_eq!(a.prog_ids, 0);
                a.prog_cnt = 2;
            } else {
                assert_eq!(a.prog_cnt, 2);
                let ids: Vec<u8> = [7u32, 9].iter().flat_map(|i| i.to_le_bytes()).collect();
                poke(a.prog_ids, &ids);
                a.attach_flags = consts::BPF_F_ALLOW_MULTI;
            }
            b.copy_from_slice(bytes_of(&a));
            Ok(0)
        },
        |calls| {
            let r = prog_query(target.as_fd(), 3, consts::BPF_F_QUERY_EFFECTIVE).unwrap();
            assert_eq!(r.prog_ids, [7, 9]);
            assert_eq!(r.attach_flags, consts::BPF_F_ALLOW_MULTI);
            let calls = calls.borrow();
            assert_eq!(calls.len(), 2);
            let b = &calls[0].1;
            assert_eq!(b.len(), 40);
            assert_eq!(u32_at(b, 0), target.as_raw_fd() as u32, "target_fd");
            assert_eq!(u32_at(b, 4), 3, "attach_type");
            assert_eq!(u32_at(b, 8), 1, "query_flags");
            assert_ne!(u64_at(&calls[1].1, 16), 0, "prog_ids pointer");
        },
    );
}

#[test]
fn enable_stats_asks_for_run_time_and_owns_the_fd() {
    fake(
        |cmd, _, _| match cmd {
            Cmd::EnableStats => new_fd(),
            _ => errno(libc::EINVAL),
        },
        |calls| {
            let fd = enable_stats_run_time().unwrap();
            assert!(fd.as_raw_fd() > 2);
            let calls = calls.borrow();
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].0, Cmd::EnableStats);
            assert_eq!(calls[0].1, uapi::bpf::BPF_STATS_RUN_TIME.to_le_bytes());
        },
    );
    let e = fake(|_, _, _| errno(libc::EINVAL), |_| enable_stats_run_time()).unwrap_err();
    assert_eq!(e.call, "BPF_ENABLE_STATS");
}

#[test]
fn link_create_update_detach() {
    let prog = File::open("/dev/null").unwrap();
    let target = File::open("/dev/null").unwrap();
    let old = File::open("/dev/null").unwrap();
    fake(
        |cmd, _, _| match cmd {
            Cmd::LinkCreate => new_fd(),
            _ => Ok(0),
        },
        |calls| {
            let link = link_create(prog.as_fd(), target.as_fd(), 3, 0).unwrap();
            link_update(link.as_fd(), prog.as_fd(), Some(old.as_fd())).unwrap();
            link_update(link.as_fd(), prog.as_fd(), None).unwrap();
            link_detach(link.as_fd()).unwrap();
            let calls = calls.borrow();
            let (p, t, o, l) = (
                prog.as_raw_fd() as u32,
                target.as_raw_fd() as u32,
                old.as_raw_fd() as u32,
                link.as_raw_fd() as u32,
            );
            let b = &calls[0].1;
            assert_eq!(calls[0].0, Cmd::LinkCreate);
            assert_eq!(b.len(), 48);
            assert_eq!(
                [u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12)],
                [p, t, 3, 0]
            );
            assert!(b[16..].iter().all(|&x| x == 0));
            assert_eq!(calls[1].0, Cmd::LinkUpdate);
            assert_eq!(calls[1].1.len(), 16);
            let f = |b: &[u8]| [u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12)];
            assert_eq!(f(&calls[1].1), [l, p, consts::BPF_F_REPLACE, o]);
            assert_eq!(f(&calls[2].1), [l, p, 0, 0]);
            assert_eq!(calls[3].0, Cmd::LinkDetach);
            assert_eq!(calls[3].1, l.to_le_bytes());
        },
    );
}

#[test]
fn ids_and_fds_by_id() {
    fake(
        |cmd, b, _| {
            let mut a: GetIdAttr = from_bytes(b);
            match cmd {
                Cmd::ProgGetNextId if a.start_id < 3 => {
                    a.next_id = a.start_id + 1;
                    b.copy_from_slice(bytes_of(&a));
                    Ok(0)
                }
                Cmd::ProgGetNextId | Cmd::MapGetNextId | Cmd::LinkGetNextId => errno(libc::ENOENT),
                _ => new_fd(),
            }
        },
        |calls| {
            assert_eq!(crate::ids::programs().unwrap(), [1, 2, 3]);
            assert_eq!(crate::ids::maps().unwrap(), Vec::<u32>::new());
            assert_eq!(crate::ids::links().unwrap(), Vec::<u32>::new());
            for kind in [IdKind::Prog, IdKind::Map, IdKind::Link] {
                get_fd_by_id(kind, 55).unwrap();
            }
            let calls = calls.borrow();
            let cmds: Vec<u32> = calls.iter().map(|c| c.0 as u32).collect();
            assert_eq!(cmds, [11, 11, 11, 11, 12, 31, 13, 14, 30]);
            for (_, b) in calls.iter() {
                assert_eq!(b.len(), 12);
            }
            assert_eq!(u32_at(&calls[2].1, 0), 2, "start_id");
            assert_eq!(u32_at(&calls[6].1, 0), 55, "prog_id");
            assert_eq!(u32_at(&calls[8].1, 0), 55, "link_id");
        },
    );
}

#[test]
fn prog_info_fetches_map_ids_in_a_second_call() {
    let fd = File::open("/dev/null").unwrap();
    fake(
        |_, b, n| {
            let a: InfoAttr = from_bytes(b);
            let mut info = prog_info_raw();
            info.nr_map_ids = 2;
            if n == 1 {
                let given: ProgInfoRaw = from_bytes(&peek(a.info, size_of::<ProgInfoRaw>()));
                assert_eq!(given.nr_map_ids, 2);
                assert_ne!(given.map_ids, 0);
                let ids: Vec<u8> = [4u32, 6].iter().flat_map(|i| i.to_le_bytes()).collect();
                poke(given.map_ids, &ids);
                info.map_ids = given.map_ids;
            }
            answer_info(b, &info)
        },
        |calls| {
            let (info, ids) = prog_info(fd.as_fd()).unwrap();
            assert_eq!(ids, [4, 6]);
            assert_eq!(info.id, 77);
            assert_eq!(info.map_ids, 0, "no dangling pointer is returned");
            assert_eq!(calls.borrow().len(), 2);
        },
    );
}

#[test]
fn link_info_decodes_cgroup_and_sockmap_links() {
    let cg = LinkInfoRaw {
        link_type: consts::BPF_LINK_TYPE_CGROUP,
        id: 3,
        prog_id: 8,
        union: [0xdead_beef, 3, 0, 0],
        ..Default::default()
    };
    let i = crate::link::LinkInfo::from_raw(&cg);
    assert_eq!(i.cgroup_id, Some(0xdead_beef));
    assert_eq!(i.attach_type, Some(AttachType::CgroupSockOps));
    assert_eq!(i.prog_id, 8);
    let sm = LinkInfoRaw {
        link_type: consts::BPF_LINK_TYPE_SOCKMAP,
        id: 4,
        prog_id: 9,
        union: [(7u64 << 32) | 12, 0, 0, 0],
        ..Default::default()
    };
    let i = crate::link::LinkInfo::from_raw(&sm);
    assert_eq!(i.map_id, Some(12));
    assert_eq!(i.attach_type, Some(AttachType::SkMsgVerdict));
}

#[test]
fn syscall_error_names_the_call() {
    let e = fake(
        |_, _, _| errno(libc::EINVAL),
        |_| map_create(&MapCreateAttr::default()).unwrap_err(),
    );
    assert_eq!(e.call, "BPF_MAP_CREATE");
    assert_eq!(e.errno(), Some(libc::EINVAL));
    assert!(e.to_string().starts_with("BPF_MAP_CREATE failed: "), "{e}");
}

// ---- Layouts against the vendored linux/bpf.h (`uapi::headers::BPF_H`, compiled in: these
// checks cannot skip) ----

/// A member of a parsed C struct or union: its name (anonymous members have none), offset
/// and size, and its own members for nested structs and unions.
#[derive(Debug, Clone)]
struct Member {
    name: Option<String>,
    offset: usize,
    size: usize,
    align: usize,
    children: Vec<Member>,
}

fn tokens(src: &str) -> Vec<String> {
    let mut s = String::new();
    let mut rest = src;
    // Strip comments.
    while let Some(i) = rest.find("/*") {
        s.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    s.push_str(rest);
    let s: String = s
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if "{}[];:".contains(c) {
                out.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn scalar(t: &str) -> Option<usize> {
    Some(match t {
        "__u8" | "char" | "__s8" => 1,
        "__u16" | "__s16" | "__be16" => 2,
        "__u32" | "__s32" | "__be32" | "int" => 4,
        "__u64" | "__s64" | "__aligned_u64" => 8,
        _ => return None,
    })
}

fn constant(t: &str) -> usize {
    match t {
        "BPF_OBJ_NAME_LEN" => uapi::bpf::BPF_OBJ_NAME_LEN,
        "BPF_TAG_SIZE" => uapi::bpf::BPF_TAG_SIZE,
        n => n
            .parse()
            .unwrap_or_else(|_| panic!("unknown array size {n}")),
    }
}

/// Parses members until the closing `}`; `is_union` lays them all at offset 0.
fn parse_members(t: &[String], pos: &mut usize, is_union: bool) -> (Vec<Member>, usize, usize) {
    let mut members = Vec::new();
    let (mut off, mut size, mut align) = (0usize, 0usize, 1usize);
    // Open bitfield unit: (offset, unit size, bits used).
    let mut bits: Option<(usize, usize, usize)> = None;
    while t[*pos] != "}" {
        let kw = t[*pos].as_str();
        let mut m = if kw == "union" || kw == "struct" {
            *pos += 1;
            assert_eq!(t[*pos], "{");
            *pos += 1;
            let (children, s, a) = parse_members(t, pos, kw == "union");
            assert_eq!(t[*pos], "}");
            *pos += 1;
            let name = (t[*pos] != ";").then(|| t[*pos].clone());
            if name.is_some() {
                *pos += 1;
            }
            Member {
                name,
                offset: 0,
                size: s,
                align: a,
                children,
            }
        } else {
            let sz = scalar(kw).unwrap_or_else(|| panic!("unknown type {kw}"));
            *pos += 1;
            if t[*pos] == ":" {
                // Anonymous bitfield padding.
                let n: usize = t[*pos + 1].parse().unwrap();
                *pos += 2;
                let (_, _, used) = bits.get_or_insert((off, sz, 0));
                *used += n;
                if let Some((o, s, u)) = bits {
                    if u >= s * 8 {
                        off = o + s;
                        bits = None;
                    }
                }
                assert_eq!(t[*pos], ";");
                *pos += 1;
                continue;
            }
            let name = t[*pos].clone();
            *pos += 1;
            let mut total = sz;
            if t[*pos] == "[" {
                total = sz * constant(&t[*pos + 1]);
                assert_eq!(t[*pos + 2], "]");
                *pos += 3;
            } else if t[*pos] == ":" {
                let n: usize = t[*pos + 1].parse().unwrap();
                *pos += 2;
                let (o, _, used) = bits.get_or_insert((off, sz, 0));
                let at = *o;
                *used += n;
                members.push(Member {
                    name: Some(name),
                    offset: at,
                    size: sz,
                    align: sz,
                    children: vec![],
                });
                if let Some((o, s, u)) = bits {
                    if u >= s * 8 {
                        off = o + s;
                        bits = None;
                    }
                }
                assert_eq!(t[*pos], ";");
                *pos += 1;
                continue;
            }
            Member {
                name: Some(name),
                offset: 0,
                size: total,
                align: sz,
                children: vec![],
            }
        };
        assert_eq!(
            t[*pos],
            ";",
            "near {:?}",
            &t[(*pos).saturating_sub(5)..*pos + 1]
        );
        *pos += 1;
        if let Some((o, s, _)) = bits.take() {
            off = o + s;
        }
        align = align.max(m.align);
        if is_union {
            m.offset = 0;
            size = size.max(m.size);
        } else {
            off = off.div_ceil(m.align) * m.align;
            m.offset = off;
            off += m.size;
            size = off;
        }
        members.push(m);
    }
    if let Some((o, s, _)) = bits {
        size = size.max(o + s);
    }
    (members, size.div_ceil(align) * align, align)
}

/// Parses `<kind> <name> { … }` out of the header.
fn parse_type(header: &str, kind: &str, name: &str) -> Member {
    let t = tokens(header);
    let start = t
        .windows(3)
        .position(|w| w[0] == kind && w[1] == name && w[2] == "{")
        .unwrap_or_else(|| panic!("{kind} {name} not in header"));
    let mut pos = start + 3;
    let (children, size, align) = parse_members(&t, &mut pos, kind == "union");
    Member {
        name: Some(name.into()),
        offset: 0,
        size,
        align,
        children,
    }
}

/// The offset of `name` inside `m`, looking through anonymous members.
fn find(m: &Member, name: &str) -> Option<usize> {
    for c in &m.children {
        if c.name.as_deref() == Some(name) {
            return Some(c.offset);
        }
        if c.name.is_none() {
            if let Some(o) = find(c, name) {
                return Some(c.offset + o);
            }
        }
    }
    None
}

/// The member called `name` inside `m` (looking through anonymous members) and its offset.
fn find_named<'a>(m: &'a Member, name: &str) -> Option<(&'a Member, usize)> {
    for c in &m.children {
        if c.name.as_deref() == Some(name) {
            return Some((c, c.offset));
        }
        if c.name.is_none() {
            if let Some((x, o)) = find_named(c, name) {
                return Some((x, c.offset + o));
            }
        }
    }
    None
}

/// The member of `union bpf_attr` (named or anonymous) that has all of `fields`.
fn attr_struct<'a>(attr: &'a Member, fields: &[&str]) -> &'a Member {
    attr.children
        .iter()
        .find(|c| fields.iter().all(|f| find(c, f).is_some()))
        .unwrap_or_else(|| panic!("no bpf_attr struct with {fields:?}"))
}

fn header() -> &'static str {
    uapi::headers::BPF_H
}

macro_rules! check_offsets {
    ($m:expr, $ty:ty, $($field:ident),+ $(,)?) => {
        $(
            assert_eq!(
                find($m, stringify!($field)),
                Some(offset_of!($ty, $field)),
                "{}::{}", stringify!($ty), stringify!($field)
            );
        )+
    };
}

#[test]
fn attr_layouts_match_the_header() {
    let h = header();
    let attr = parse_type(h, "union", "bpf_attr");
    let mc = attr_struct(&attr, &["map_type", "map_name"]);
    check_offsets!(
        mc,
        MapCreateAttr,
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags,
        inner_map_fd,
        numa_node,
        map_name,
        map_ifindex,
        btf_fd,
        btf_key_type_id,
        btf_value_type_id,
        btf_vmlinux_value_type_id,
        map_extra
    );
    assert!(mc.size >= size_of::<MapCreateAttr>());

    let elem = attr_struct(&attr, &["map_fd", "key", "next_key"]);
    check_offsets!(elem, MapElemAttr, map_fd, key, value, flags);
    assert_eq!(find(elem, "next_key"), Some(offset_of!(MapElemAttr, value)));

    let pl = attr_struct(&attr, &["prog_type", "insn_cnt"]);
    check_offsets!(
        pl,
        ProgLoadAttr,
        prog_type,
        insn_cnt,
        insns,
        license,
        log_level,
        log_size,
        log_buf,
        kern_version,
        prog_flags,
        prog_name,
        prog_ifindex,
        expected_attach_type,
        prog_btf_fd,
        func_info_rec_size,
        func_info,
        func_info_cnt,
        line_info_rec_size,
        line_info,
        line_info_cnt,
        attach_btf_id,
        attach_prog_fd,
        core_relo_cnt,
        fd_array,
        core_relos,
        core_relo_rec_size
    );
    // attach_btf_obj_fd shares attach_prog_fd's word (an anonymous union).
    assert_eq!(
        find(pl, "attach_btf_obj_fd"),
        Some(offset_of!(ProgLoadAttr, attach_prog_fd))
    );
    // log_true_size (6.4) follows core_relo_rec_size where the header has it.
    if let Some(o) = find(pl, "log_true_size") {
        assert_eq!(o, offset_of!(ProgLoadAttr, log_true_size));
    }

    let obj = attr_struct(&attr, &["pathname", "bpf_fd"]);
    check_offsets!(obj, ObjAttr, pathname, bpf_fd, file_flags);

    let at = attr_struct(&attr, &["attach_bpf_fd", "replace_bpf_fd"]);
    check_offsets!(
        at,
        ProgAttachAttr,
        target_fd,
        attach_bpf_fd,
        attach_type,
        attach_flags,
        replace_bpf_fd
    );

    let ids = attr_struct(&attr, &["start_id", "next_id"]);
    check_offsets!(ids, GetIdAttr, start_id, next_id, open_flags);
    assert_eq!(find(ids, "prog_id"), Some(0));
    assert_eq!(find(ids, "link_id"), Some(0));

    let info = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("info"))
        .unwrap();
    check_offsets!(info, InfoAttr, bpf_fd, info_len, info);

    let q = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("query"))
        .unwrap();
    check_offsets!(
        q,
        QueryAttr,
        target_fd,
        attach_type,
        query_flags,
        attach_flags,
        prog_ids,
        prog_cnt,
        prog_attach_flags
    );

    let lc = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("link_create"))
        .unwrap();
    check_offsets!(
        lc,
        LinkCreateAttr,
        prog_fd,
        target_fd,
        attach_type,
        flags,
        target_btf_id
    );
    assert!(lc.size >= size_of::<LinkCreateAttr>() || lc.size == 48);
    assert_eq!(
        find(lc, "target_ifindex"),
        Some(offset_of!(LinkCreateAttr, target_fd))
    );
    let (pe, pe_off) = find_named(lc, "perf_event").expect("link_create.perf_event");
    assert_eq!(pe_off + find(pe, "bpf_cookie").unwrap(), 16);
    assert_eq!(offset_of!(LinkCreateAttr, target_btf_id), 16);
    assert_eq!(offset_of!(LinkCreateAttr, extra_hi), 20);
    let (tr, tr_off) = find_named(lc, "tracing").expect("link_create.tracing");
    assert_eq!(
        tr_off + find(tr, "target_btf_id").unwrap(),
        offset_of!(LinkCreateAttr, target_btf_id)
    );
    assert_eq!(
        tr_off + find(tr, "cookie").unwrap(),
        offset_of!(LinkCreateAttr, extra_u64)
    );
    // tcx (6.6) is newer than the vendored header: relative_fd u32 at 16,
    // expected_revision u64 at 24, checked when a refreshed header has it.
    if let Some((tcx, off)) = find_named(lc, "tcx") {
        assert_eq!(off + find(tcx, "relative_fd").unwrap(), 16);
        assert_eq!(off + find(tcx, "expected_revision").unwrap(), 24);
    }

    let rt = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("raw_tracepoint"))
        .unwrap();
    check_offsets!(rt, RawTracepointAttr, name, prog_fd);
    assert!(rt.size <= size_of::<RawTracepointAttr>() || find(rt, "cookie").is_some());

    let lu = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("link_update"))
        .unwrap();
    check_offsets!(lu, LinkUpdateAttr, link_fd, new_prog_fd, flags, old_prog_fd);

    let ld = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("link_detach"))
        .unwrap();
    check_offsets!(ld, LinkDetachAttr, link_fd);

    let es = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("enable_stats"))
        .unwrap();
    assert_eq!(
        find(es, "type"),
        Some(offset_of!(EnableStatsAttr, stats_type))
    );
    assert_eq!(es.size, size_of::<EnableStatsAttr>());

    let rt = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("raw_tracepoint"))
        .unwrap();
    check_offsets!(rt, RawTracepointAttr, name, prog_fd);
    // 6.10 appends `cookie` at 16: ours stops before it, and the kernel zero-fills the rest.
    assert!(rt.size >= size_of::<RawTracepointAttr>());

    let batch = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("batch"))
        .unwrap();
    check_offsets!(
        batch,
        MapBatchAttr,
        in_batch,
        out_batch,
        keys,
        values,
        count,
        map_fd,
        elem_flags,
        flags
    );
    assert_eq!(batch.size, size_of::<MapBatchAttr>());

    let test = attr
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("test"))
        .unwrap();
    check_offsets!(
        test,
        TestRunAttr,
        prog_fd,
        retval,
        data_size_in,
        data_size_out,
        data_in,
        data_out,
        repeat,
        duration,
        ctx_size_in,
        ctx_size_out,
        ctx_in,
        ctx_out,
        flags,
        cpu,
        batch_size
    );
    assert_eq!(test.size, size_of::<TestRunAttr>());
}

#[test]
fn info_layouts_match_the_header() {
    let h = header();
    let p = parse_type(h, "struct", "bpf_prog_info");
    check_offsets!(
        &p,
        ProgInfoRaw,
        id,
        tag,
        jited_prog_len,
        xlated_prog_len,
        jited_prog_insns,
        xlated_prog_insns,
        load_time,
        created_by_uid,
        nr_map_ids,
        map_ids,
        name,
        ifindex,
        netns_dev,
        netns_ino,
        nr_jited_ksyms,
        nr_jited_func_lens,
        jited_ksyms,
        jited_func_lens,
        btf_id,
        func_info_rec_size,
        func_info,
        nr_func_info,
        nr_line_info,
        line_info,
        jited_line_info,
        nr_jited_line_info,
        line_info_rec_size,
        jited_line_info_rec_size,
        nr_prog_tags,
        prog_tags,
        run_time_ns,
        run_cnt,
        recursion_misses,
        verified_insns,
        attach_btf_obj_id,
        attach_btf_id
    );
    assert_eq!(find(&p, "type"), Some(offset_of!(ProgInfoRaw, prog_type)));
    assert_eq!(
        find(&p, "gpl_compatible"),
        Some(offset_of!(ProgInfoRaw, flags))
    );
    // Our struct may be shorter than a newer header's, never longer.
    assert!(p.size >= size_of::<ProgInfoRaw>(), "{} < ours", p.size);

    let m = parse_type(h, "struct", "bpf_map_info");
    check_offsets!(
        &m,
        MapInfoRaw,
        id,
        key_size,
        value_size,
        max_entries,
        map_flags,
        name,
        ifindex,
        btf_vmlinux_value_type_id,
        netns_dev,
        netns_ino,
        btf_id,
        btf_key_type_id,
        btf_value_type_id,
        map_extra
    );
    assert_eq!(find(&m, "type"), Some(offset_of!(MapInfoRaw, map_type)));
    assert!(m.size >= size_of::<MapInfoRaw>());

    let b = parse_type(h, "struct", "bpf_btf_info");
    check_offsets!(&b, BtfInfoRaw, btf, btf_size, id, name, name_len, kernel_btf);
    assert_eq!(b.size, size_of::<BtfInfoRaw>());

    let l = parse_type(h, "struct", "bpf_link_info");
    assert_eq!(find(&l, "type"), Some(offset_of!(LinkInfoRaw, link_type)));
    assert_eq!(find(&l, "id"), Some(offset_of!(LinkInfoRaw, id)));
    assert_eq!(find(&l, "prog_id"), Some(offset_of!(LinkInfoRaw, prog_id)));
    let cg = l.children.iter().find(|c| c.name.is_none()).unwrap();
    let cgroup = cg
        .children
        .iter()
        .find(|c| c.name.as_deref() == Some("cgroup"))
        .unwrap();
    assert_eq!(cg.offset, offset_of!(LinkInfoRaw, union));
    assert_eq!(
        find(cgroup, "cgroup_id"),
        Some(0),
        "cgroup_id is union word 0"
    );
    assert_eq!(
        find(cgroup, "attach_type"),
        Some(8),
        "attach_type is union word 1"
    );
}

/// The numbers of an `enum` in the header, by name, in declaration order (values follow the
/// C rules: explicit `= N` or previous + 1; aliases `= NAME` are skipped).
fn enum_values(h: &str, name: &str) -> Vec<(String, u32)> {
    let start = h
        .find(&format!("enum {name} {{"))
        .unwrap_or_else(|| panic!("enum {name}"));
    let body = &h[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("};").unwrap()];
    let mut out = Vec::new();
    let mut next = 0u32;
    let mut cleaned = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("/*") {
        cleaned.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    cleaned.push_str(rest);
    for item in cleaned.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (n, v) = match item.split_once('=') {
            Some((n, v)) => match v.trim().parse::<u32>() {
                Ok(v) => (n.trim(), v),
                Err(_) => continue, // alias
            },
            None => (item, next),
        };
        out.push((n.to_string(), v));
        next = v + 1;
    }
    out
}

#[test]
fn uapi_numbers_match_the_header() {
    let h = header();
    let cmds = enum_values(h, "bpf_cmd");
    let num = |list: &[(String, u32)], n: &str| -> u32 {
        list.iter()
            .find(|(k, _)| k == n)
            .unwrap_or_else(|| panic!("{n}"))
            .1
    };
    for cmd in [
        Cmd::MapCreate,
        Cmd::MapLookupElem,
        Cmd::MapUpdateElem,
        Cmd::MapDeleteElem,
        Cmd::MapGetNextKey,
        Cmd::ProgLoad,
        Cmd::ObjPin,
        Cmd::ObjGet,
        Cmd::ProgAttach,
        Cmd::ProgDetach,
        Cmd::ProgGetNextId,
        Cmd::MapGetNextId,
        Cmd::ProgGetFdById,
        Cmd::MapGetFdById,
        Cmd::ObjGetInfoByFd,
        Cmd::ProgQuery,
        Cmd::LinkCreate,
        Cmd::LinkUpdate,
        Cmd::LinkGetFdById,
        Cmd::LinkGetNextId,
        Cmd::LinkDetach,
        Cmd::ProgTestRun,
        Cmd::MapLookupAndDeleteElem,
        Cmd::MapLookupBatch,
        Cmd::MapLookupAndDeleteBatch,
        Cmd::MapUpdateBatch,
        Cmd::MapDeleteBatch,
    ] {
        assert_eq!(num(&cmds, cmd.name()), cmd as u32, "{}", cmd.name());
    }
    let maps = enum_values(h, "bpf_map_type");
    for t in [
        MapType::Hash,
        MapType::Array,
        MapType::PerCpuHash,
        MapType::PerCpuArray,
        MapType::LruHash,
        MapType::LpmTrie,
        MapType::SockMap,
        MapType::SockHash,
    ] {
        let name = format!("BPF_MAP_TYPE_{}", t.name().to_uppercase());
        assert_eq!(num(&maps, &name), t.raw(), "{name}");
    }
    let progs = enum_values(h, "bpf_prog_type");
    assert_eq!(
        num(&progs, "BPF_PROG_TYPE_SOCK_OPS"),
        ProgramType::SockOps.raw()
    );
    assert_eq!(
        num(&progs, "BPF_PROG_TYPE_SK_MSG"),
        ProgramType::SkMsg.raw()
    );
    assert_eq!(
        num(&progs, "BPF_PROG_TYPE_CGROUP_SOCKOPT"),
        ProgramType::CgroupSockopt.raw()
    );
    assert_eq!(
        num(&progs, "BPF_PROG_TYPE_SOCKET_FILTER"),
        ProgramType::SocketFilter.raw()
    );
    assert_eq!(
        num(&progs, "BPF_PROG_TYPE_CGROUP_SKB"),
        ProgramType::CgroupSkb.raw()
    );
    let attach = enum_values(h, "bpf_attach_type");
    assert_eq!(
        num(&attach, "BPF_CGROUP_SOCK_OPS"),
        AttachType::CgroupSockOps.raw()
    );
    assert_eq!(
        num(&attach, "BPF_SK_MSG_VERDICT"),
        AttachType::SkMsgVerdict.raw()
    );
    assert_eq!(
        num(&attach, "BPF_CGROUP_SETSOCKOPT"),
        AttachType::CgroupSetsockopt.raw()
    );
    assert_eq!(
        num(&attach, "BPF_CGROUP_INET_INGRESS"),
        AttachType::CgroupInetIngress.raw()
    );
    assert_eq!(
        num(&attach, "BPF_CGROUP_INET_EGRESS"),
        AttachType::CgroupInetEgress.raw()
    );
    let links = enum_values(h, "bpf_link_type");
    assert_eq!(
        num(&links, "BPF_LINK_TYPE_CGROUP"),
        consts::BPF_LINK_TYPE_CGROUP
    );
    for (name, v) in [
        (
            "BPF_LINK_TYPE_RAW_TRACEPOINT",
            consts::BPF_LINK_TYPE_RAW_TRACEPOINT,
        ),
        ("BPF_LINK_TYPE_TRACING", consts::BPF_LINK_TYPE_TRACING),
        ("BPF_LINK_TYPE_NETNS", consts::BPF_LINK_TYPE_NETNS),
        ("BPF_LINK_TYPE_XDP", consts::BPF_LINK_TYPE_XDP),
        ("BPF_LINK_TYPE_PERF_EVENT", consts::BPF_LINK_TYPE_PERF_EVENT),
    ] {
        assert_eq!(num(&links, name), v, "{name}");
    }
    assert_eq!(
        num(&cmds, "BPF_RAW_TRACEPOINT_OPEN"),
        Cmd::RawTracepointOpen as u32
    );
    assert_eq!(num(&attach, "BPF_XDP"), AttachType::Xdp.raw());
    assert_eq!(num(&attach, "BPF_SK_LOOKUP"), AttachType::SkLookup.raw());
    assert_eq!(num(&attach, "BPF_PERF_EVENT"), AttachType::PerfEvent.raw());
    if let Some((_, v)) = links.iter().find(|(k, _)| k == "BPF_LINK_TYPE_SOCKMAP") {
        assert_eq!(*v, consts::BPF_LINK_TYPE_SOCKMAP);
    }
    for (name, v) in [
        ("BPF_F_ALLOW_MULTI", consts::BPF_F_ALLOW_MULTI),
        ("BPF_F_REPLACE", consts::BPF_F_REPLACE),
        ("BPF_F_QUERY_EFFECTIVE", consts::BPF_F_QUERY_EFFECTIVE),
    ] {
        let line = h
            .lines()
            .find(|l| {
                l.starts_with(&format!("#define {name}\t"))
                    || l.starts_with(&format!("#define {name} "))
            })
            .unwrap_or_else(|| panic!("{name}"));
        let shift: u32 = line
            .split("<<")
            .nth(1)
            .unwrap()
            .trim()
            .trim_end_matches(')')
            .trim()
            .parse()
            .unwrap();
        assert_eq!(1 << shift, v, "{name}");
    }
}

mod btf_load;

/// Answers loads and info queries as for a program of type `prog_type`, and every command
/// that makes an fd with a new one.
fn answer_as_program(prog_type: u32) -> impl FnMut(Cmd, &mut [u8], usize) -> io::Result<i64> {
    move |cmd, bytes, _| match cmd {
        Cmd::ProgLoad | Cmd::LinkCreate | Cmd::RawTracepointOpen => new_fd(),
        Cmd::ObjGetInfoByFd => answer_info(
            bytes,
            &ProgInfoRaw {
                prog_type,
                id: 9,
                ..Default::default()
            },
        ),
        _ => Ok(0),
    }
}

fn loaded(t: ProgramType) -> Program {
    let mut b = asm::Builder::new();
    b.mov64(asm::Reg::R0, 0).exit();
    Program::load(&ProgramSpec::new("p", t), &b.build().unwrap(), &[]).unwrap()
}

#[test]
fn link_create_encodes_each_extra() {
    fake(answer_as_program(ProgramType::SchedCls.raw()), |calls| {
        let cases = [
            (LinkExtra::None, [0u8; 32]),
            (LinkExtra::TargetBtfId(0x1234), {
                let mut b = [0u8; 32];
                b[..4].copy_from_slice(&0x1234u32.to_ne_bytes());
                b
            }),
            (LinkExtra::PerfEventCookie(0x0102_0304_0506_0708), {
                let mut b = [0u8; 32];
                b[..8].copy_from_slice(&0x0102_0304_0506_0708u64.to_ne_bytes());
                b
            }),
            (
                LinkExtra::Tracing {
                    target_btf_id: 77,
                    cookie: 0xaabb,
                },
                {
                    let mut b = [0u8; 32];
                    b[..4].copy_from_slice(&77u32.to_ne_bytes());
                    b[8..16].copy_from_slice(&0xaabbu64.to_ne_bytes());
                    b
                },
            ),
            (
                LinkExtra::Tcx {
                    relative_fd: 5,
                    expected_revision: 3,
                },
                {
                    let mut b = [0u8; 32];
                    b[..4].copy_from_slice(&5u32.to_ne_bytes());
                    b[8..16].copy_from_slice(&3u64.to_ne_bytes());
                    b
                },
            ),
        ];
        for (i, (extra, want)) in cases.iter().enumerate() {
            link_create_ext(11, 22, 46, 8, *extra).unwrap();
            let calls = calls.borrow();
            let (cmd, b) = &calls[i];
            assert_eq!(*cmd, Cmd::LinkCreate);
            assert_eq!(b.len(), 48);
            assert_eq!(
                [u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12)],
                [11, 22, 46, 8]
            );
            assert_eq!(&b[16..], want, "{extra:?}");
        }
    });
}

#[test]
fn typed_attach_kinds_encode_their_link_create() {
    use crate::attach::{raw, tcx, xdp};
    let prog_types = [ProgramType::Xdp, ProgramType::SchedCls];
    for t in prog_types {
        fake(answer_as_program(t.raw()), |calls| {
            let p = loaded(t);
            let pfd = p.as_fd().as_raw_fd() as u32;
            // Skip the feature probe (a real kernel question) through the raw layer.
            let want_type = if t == ProgramType::Xdp {
                AttachType::Xdp
            } else {
                AttachType::TcxEgress
            };
            let flags = if t == ProgramType::Xdp {
                xdp::XdpMode::Driver.flags()
            } else {
                consts::BPF_F_BEFORE
            };
            raw::link_create(
                &p,
                raw::LinkTarget::Ifindex(42),
                want_type,
                flags,
                LinkExtra::None,
            )
            .unwrap();
            let calls = calls.borrow();
            let b = &calls.last().unwrap().1;
            assert_eq!(
                [u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12)],
                [pfd, 42, want_type.raw(), flags]
            );
        });
    }
    assert_eq!(xdp::XdpMode::Skb.flags(), 2);
    assert_eq!(xdp::XdpMode::Driver.flags(), 4);
    assert_eq!(tcx::Direction::Ingress.attach_type().raw(), 46);
    assert_eq!(tcx::Direction::Egress.attach_type().raw(), 47);
}

#[test]
fn tracing_attach_uses_raw_tracepoint_open_or_a_cookie_link() {
    use crate::attach::tracing;
    fake(answer_as_program(ProgramType::Tracing.raw()), |calls| {
        let p = loaded(ProgramType::Tracing);
        let pfd = p.as_fd().as_raw_fd() as u32;
        let link = tracing::attach(&p, AttachType::TraceFentry, None).unwrap();
        drop(link);
        let link = tracing::attach(&p, AttachType::TraceFexit, Some(0xc0ffee)).unwrap();
        drop(link);
        let calls = calls.borrow();
        let n = calls.len();
        let (cmd, b) = &calls[n - 2];
        assert_eq!(*cmd, Cmd::RawTracepointOpen);
        assert_eq!(b.len(), 16);
        assert_eq!(
            (u64_at(b, 0), u32_at(b, 8)),
            (0, pfd),
            "no name: the load target"
        );
        let (cmd, b) = &calls[n - 1];
        assert_eq!(*cmd, Cmd::LinkCreate);
        assert_eq!(
            [u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12)],
            [pfd, 0, AttachType::TraceFexit.raw(), 0]
        );
        assert_eq!(u32_at(b, 16), 0, "target_btf_id: the one given at load");
        assert_eq!(u64_at(b, 24), 0xc0ffee, "tracing.cookie");
    });
    fake(
        answer_as_program(ProgramType::RawTracepoint.raw()),
        |calls| {
            let p = loaded(ProgramType::RawTracepoint);
            assert!(matches!(
                tracing::attach(&p, AttachType::TraceFentry, None),
                Err(Error::InvalidArgument(_))
            ));
            let before = calls.borrow().len();
            tracing::attach_raw_tracepoint(&p, "sys_enter").unwrap();
            let calls = calls.borrow();
            assert_eq!(calls.len(), before + 1);
            let (cmd, b) = &calls[before];
            assert_eq!(*cmd, Cmd::RawTracepointOpen);
            assert_ne!(u64_at(b, 0), 0, "a name pointer");
            assert_eq!(u32_at(b, 8), p.as_fd().as_raw_fd() as u32);
        },
    );
}

/// The socket and XDP numbers against the system headers (skipped where absent).
#[test]
fn socket_and_xdp_numbers_match_the_system_headers() {
    let grab = |path: &str, name: &str| -> Option<String> {
        let h = std::fs::read_to_string(path).ok()?;
        h.lines().find_map(|l| {
            let rest = l.trim_start().strip_prefix("#define ")?.trim_start();
            let rest = rest.strip_prefix(name)?;
            rest.starts_with(|c: char| c.is_whitespace())
                .then(|| rest.trim().to_string())
        })
    };
    if let Some(v) = grab("/usr/include/asm-generic/socket.h", "SO_ATTACH_BPF") {
        assert_eq!(v.parse::<i32>().unwrap(), consts::SO_ATTACH_BPF);
        assert_eq!(
            grab("/usr/include/asm-generic/socket.h", "SO_DETACH_FILTER")
                .unwrap()
                .parse::<i32>()
                .unwrap(),
            consts::SO_DETACH_BPF
        );
    }
    for (name, v) in [
        (
            "XDP_FLAGS_UPDATE_IF_NOEXIST",
            consts::XDP_FLAGS_UPDATE_IF_NOEXIST,
        ),
        ("XDP_FLAGS_SKB_MODE", consts::XDP_FLAGS_SKB_MODE),
        ("XDP_FLAGS_DRV_MODE", consts::XDP_FLAGS_DRV_MODE),
        ("XDP_FLAGS_HW_MODE", consts::XDP_FLAGS_HW_MODE),
    ] {
        if let Some(def) = grab("/usr/include/linux/if_link.h", name) {
            let shift: u32 = def
                .trim_start_matches("(1U <<")
                .trim_end_matches(')')
                .trim()
                .parse()
                .unwrap();
            assert_eq!(1 << shift, v, "{name}");
        }
    }
}

/// A program created through the fake (answers load and info).
fn fake_prog() -> Program {
    fake(
        |cmd, b, _| match cmd {
            Cmd::ProgLoad => new_fd(),
            Cmd::ObjGetInfoByFd => answer_info(b, &prog_info_raw()),
            _ => errno(libc::ENOSYS),
        },
        |_| {
            let mut b = asm::Builder::new();
            b.mov64(asm::Reg::R0, 2).exit();
            Program::load(
                &ProgramSpec::new("xdp", ProgramType::Xdp),
                &b.build().unwrap(),
                &[],
            )
            .unwrap()
        },
    )
}

#[test]
fn batch_update_encodes_and_falls_back_to_elements_on_enotsupp() {
    let map = fake_map(MapType::Hash, 4, 8);
    let map_fd = map.as_fd().as_raw_fd() as u32;
    let keys: Rc<RefCell<Vec<u8>>> = Rc::default();
    let k = keys.clone();
    fake(
        move |cmd, b, _| match cmd {
            Cmd::MapUpdateBatch => {
                let a: MapBatchAttr = from_bytes(b);
                *k.borrow_mut() = peek(a.keys, 8);
                errno(crate::map::ENOTSUPP)
            }
            Cmd::MapUpdateElem => Ok(0),
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let (k1, k2) = (1u32.to_le_bytes(), 2u32.to_le_bytes());
            let v = 9u64.to_le_bytes();
            let n = map
                .update_batch(&[(&k1, &v), (&k2, &v)], UpdateFlags::Any)
                .unwrap();
            assert_eq!(n, 2);
            let calls = calls.borrow();
            let cmds: Vec<Cmd> = calls.iter().map(|c| c.0).collect();
            assert_eq!(
                cmds,
                [Cmd::MapUpdateBatch, Cmd::MapUpdateElem, Cmd::MapUpdateElem]
            );
            let b = &calls[0].1;
            assert_eq!(b.len(), 56);
            assert_eq!(u64_at(b, 0), 0, "in_batch");
            assert_eq!(u64_at(b, 8), 0, "out_batch");
            assert_ne!(u64_at(b, 24), 0, "values");
            assert_eq!(u32_at(b, 32), 2, "count");
            assert_eq!(u32_at(b, 36), map_fd, "map_fd");
            assert_eq!(u64_at(b, 40), 0, "elem_flags");
            assert_eq!(u64_at(b, 48), 0, "flags");
        },
    );
    assert_eq!(
        *keys.borrow(),
        [1, 0, 0, 0, 2, 0, 0, 0],
        "keys laid end to end"
    );

    // Any other error is the caller's, not a reason to fall back.
    fake(
        |cmd, _, _| match cmd {
            Cmd::MapUpdateBatch => errno(libc::E2BIG),
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let k = 1u32.to_le_bytes();
            let v = 9u64.to_le_bytes();
            let e = map.update_batch(&[(&k, &v)], UpdateFlags::Any).unwrap_err();
            assert_eq!(e.errno(), Some(libc::E2BIG));
            assert_eq!(calls.borrow().len(), 1);
        },
    );
}

#[test]
fn batch_lookup_pages_with_the_token_grows_on_enospc_and_stops_at_enoent() {
    let map = fake_map(MapType::Hash, 4, 8);
    fake(
        |cmd, b, n| match cmd {
            Cmd::MapLookupBatch => {
                let mut a: MapBatchAttr = from_bytes(b);
                match n {
                    // A bucket larger than the 1 element asked for.
                    0 => {
                        assert_eq!(a.count, 1);
                        a.count = 0;
                        b.copy_from_slice(bytes_of(&a));
                        errno(libc::ENOSPC)
                    }
                    1 => {
                        assert_eq!(a.count, 2, "count doubled");
                        assert_eq!(a.in_batch, 0, "first call starts at the beginning");
                        poke(a.keys, &[1, 0, 0, 0, 2, 0, 0, 0]);
                        poke(a.values, &[11; 16]);
                        poke(a.out_batch, &5u32.to_le_bytes());
                        b.copy_from_slice(bytes_of(&a));
                        Ok(0)
                    }
                    _ => {
                        assert_eq!(peek(a.in_batch, 4), 5u32.to_le_bytes(), "token passed on");
                        poke(a.keys, &[3, 0, 0, 0]);
                        poke(a.values, &[33; 8]);
                        a.count = 1;
                        b.copy_from_slice(bytes_of(&a));
                        errno(libc::ENOENT)
                    }
                }
            }
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let all = map.lookup_batch(1).unwrap();
            assert_eq!(
                all,
                vec![
                    (vec![1, 0, 0, 0], vec![11; 8]),
                    (vec![2, 0, 0, 0], vec![11; 8]),
                    (vec![3, 0, 0, 0], vec![33; 8]),
                ]
            );
            assert_eq!(calls.borrow().len(), 3);
        },
    );
}

#[test]
fn batch_lookup_falls_back_to_a_key_walk_when_the_kernel_has_no_batches() {
    let map = fake_map(MapType::Hash, 4, 8);
    fake(
        |cmd, b, _| match cmd {
            Cmd::MapLookupBatch | Cmd::MapLookupAndDeleteBatch => errno(libc::EINVAL),
            Cmd::MapGetNextKey => {
                let a: MapElemAttr = from_bytes(b);
                if a.key == 0 {
                    poke(a.value, &7u32.to_le_bytes());
                    Ok(0)
                } else {
                    errno(libc::ENOENT)
                }
            }
            Cmd::MapLookupElem => {
                let a: MapElemAttr = from_bytes(b);
                poke(a.value, &[4; 8]);
                Ok(0)
            }
            Cmd::MapDeleteElem => Ok(0),
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let all = map.lookup_and_delete_batch(16).unwrap();
            assert_eq!(all, vec![(vec![7, 0, 0, 0], vec![4; 8])]);
            let cmds: Vec<Cmd> = calls.borrow().iter().map(|c| c.0).collect();
            assert_eq!(
                cmds,
                [
                    Cmd::MapLookupAndDeleteBatch,
                    Cmd::MapGetNextKey,
                    Cmd::MapGetNextKey,
                    Cmd::MapLookupElem,
                    Cmd::MapDeleteElem
                ]
            );
        },
    );
}

#[test]
fn queues_pass_a_null_key() {
    let q = fake_map(crate::map::QUEUE, 0, 4);
    fake(
        |cmd, b, _| match cmd {
            Cmd::MapUpdateElem => Ok(0),
            Cmd::MapLookupAndDeleteElem | Cmd::MapLookupElem => {
                let a: MapElemAttr = from_bytes(b);
                poke(a.value, &42u32.to_le_bytes());
                Ok(0)
            }
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            q.push(&1u32.to_le_bytes(), UpdateFlags::Exist).unwrap();
            assert_eq!(q.pop().unwrap(), Some(42u32.to_le_bytes().to_vec()));
            assert_eq!(q.peek().unwrap(), Some(42u32.to_le_bytes().to_vec()));
            let calls = calls.borrow();
            let cmds: Vec<Cmd> = calls.iter().map(|c| c.0).collect();
            assert_eq!(
                cmds,
                [
                    Cmd::MapUpdateElem,
                    Cmd::MapLookupAndDeleteElem,
                    Cmd::MapLookupElem
                ]
            );
            for (_, b) in calls.iter() {
                assert_eq!(u64_at(b, 8), 0, "key is NULL");
                assert_ne!(u64_at(b, 16), 0, "value");
            }
            assert_eq!(u64_at(&calls[0].1, 24), consts::BPF_EXIST);
        },
    );
}

#[test]
fn test_run_encodes_buffers_and_reads_back_results() {
    let prog = fake_prog();
    let prog_fd = prog.as_fd().as_raw_fd() as u32;
    fake(
        |cmd, b, _| match cmd {
            Cmd::ProgTestRun => {
                let mut a: TestRunAttr = from_bytes(b);
                assert_eq!(peek(a.data_in, a.data_size_in as usize), [7u8; 20]);
                poke(a.data_out, &[8u8; 10]);
                a.retval = 2;
                a.data_size_out = 10;
                a.duration = 123;
                b.copy_from_slice(bytes_of(&a));
                Ok(0)
            }
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let r = prog
                .test_run(&crate::test_run::TestRun {
                    data_in: &[7; 20],
                    data_out_size: 64,
                    repeat: 5,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(r.retval, 2);
            assert_eq!(r.data_out, [8u8; 10]);
            assert!(r.ctx_out.is_empty());
            assert_eq!(r.duration_ns, 123);
            let calls = calls.borrow();
            let b = &calls[0].1;
            assert_eq!(b.len(), 80);
            assert_eq!(u32_at(b, 0), prog_fd, "prog_fd");
            assert_eq!(u32_at(b, 8), 20, "data_size_in");
            assert_eq!(u32_at(b, 12), 64, "data_size_out");
            assert_eq!(u32_at(b, 32), 5, "repeat");
            assert_eq!(u32_at(b, 40), 0, "ctx_size_in");
            assert_eq!(u64_at(b, 48), 0, "no ctx_in");
            assert_eq!(u64_at(b, 56), 0, "no ctx_out");
        },
    );
}

/// `linux/perf_event.h` as installed on this machine (the matrix guests have none; the
/// check then says so and passes).
fn perf_event_h() -> Option<String> {
    let path = "/usr/include/linux/perf_event.h";
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("SKIP perf_event.h checks: {path}: {e}");
            None
        }
    }
}

/// `perf_event.h` declares its flag words as comma-separated bitfield lists filling one
/// `__u64` (`__u64 disabled : 1, inherit : 1, …;`) and sizes an array with an expression
/// (`[118*8+4]`), neither of which the header reader takes: each such list becomes a plain
/// member named after its first field, and each expression its value.
fn simplify_perf_header(h: &str) -> String {
    let text = uapi::header::strip_comments(h);
    let mut out = String::new();
    for stmt in text.split_inclusive(';') {
        let cut = stmt.rfind(['{', '}']).map_or(0, |i| i + 1);
        let (prefix, decl) = stmt.split_at(cut);
        match decl.split_once(':') {
            Some((head, tail)) if tail.contains(',') => {
                out.push_str(prefix);
                out.push_str(head);
                out.push(';');
            }
            _ => match (decl.find('['), decl.find(']')) {
                (Some(a), Some(b)) if a < b && decl[a + 1..b].contains(['*', '+']) => {
                    // Sums of products of numbers are all the header has.
                    let expr = &decl[a + 1..b];
                    let n: usize = expr
                        .split('+')
                        .map(|term| {
                            term.split('*')
                                .map(|f| f.trim().parse::<usize>())
                                .product::<Result<usize, _>>()
                                .unwrap_or_else(|_| panic!("array size {expr}"))
                        })
                        .sum();
                    out.push_str(prefix);
                    out.push_str(&decl[..a + 1]);
                    out.push_str(&n.to_string());
                    out.push_str(&decl[b..]);
                }
                _ => out.push_str(stmt),
            },
        }
    }
    out
}

#[test]
fn perf_layouts_and_numbers_match_the_system_header() {
    use super::perf::*;
    let Some(h) = perf_event_h() else {
        return;
    };
    let simple = simplify_perf_header(&h);
    let a = uapi::header::struct_layout(&simple, "perf_event_attr").unwrap();
    assert_eq!(a.size, size_of::<PerfEventAttr>());
    macro_rules! at {
        ($($field:ident),+) => {
            $(
                assert_eq!(
                    a.offset(stringify!($field)),
                    Some(offset_of!(PerfEventAttr, $field)),
                    stringify!($field)
                );
            )+
        };
    }
    at!(
        size,
        config,
        sample_period,
        sample_type,
        read_format,
        wakeup_events,
        bp_type,
        config1,
        config2,
        branch_sample_type,
        sample_regs_user,
        sample_stack_user,
        clockid,
        sample_regs_intr,
        aux_watermark,
        sample_max_stack,
        aux_sample_size,
        sig_data
    );
    assert_eq!(a.offset("type"), Some(offset_of!(PerfEventAttr, type_)));
    assert_eq!(a.offset("disabled"), Some(offset_of!(PerfEventAttr, flags)));
    let page = uapi::header::struct_layout(&simple, "perf_event_mmap_page").unwrap();
    assert_eq!(page.offset("data_head"), Some(MMAP_PAGE_DATA_HEAD));
    assert_eq!(page.offset("data_tail"), Some(MMAP_PAGE_DATA_TAIL));

    let known = uapi::header::constants(&h);
    for (name, value) in [
        ("PERF_TYPE_SOFTWARE", i128::from(PERF_TYPE_SOFTWARE)),
        (
            "PERF_COUNT_SW_BPF_OUTPUT",
            i128::from(PERF_COUNT_SW_BPF_OUTPUT),
        ),
        ("PERF_SAMPLE_RAW", i128::from(PERF_SAMPLE_RAW)),
        ("PERF_RECORD_LOST", i128::from(PERF_RECORD_LOST)),
        ("PERF_RECORD_SAMPLE", i128::from(PERF_RECORD_SAMPLE)),
        ("PERF_FLAG_FD_CLOEXEC", i128::from(PERF_FLAG_FD_CLOEXEC)),
        ("PERF_ATTR_SIZE_VER7", i128::from(PERF_ATTR_SIZE_VER7)),
    ] {
        assert_eq!(known.get(name), Some(&value), "{name}");
    }
    // _IO('$', n): the generic ioctl encoding, type in bits 8-15, number in 0-7.
    assert!(h.contains("#define PERF_EVENT_IOC_ENABLE\t\t\t_IO ('$', 0)"));
    assert_eq!(PERF_EVENT_IOC_ENABLE, (u64::from(b'$') << 8));
    assert_eq!(PERF_EVENT_IOC_DISABLE, (u64::from(b'$') << 8) | 1);
    // _IOW('$', 8, __u32) adds the write direction (1 << 30) and the size << 16.
    assert!(h.contains("_IOW('$', 8, __u32)"));
    assert_eq!(
        PERF_EVENT_IOC_SET_BPF,
        (1 << 30) | (4 << 16) | (u64::from(b'$') << 8) | 8
    );
    assert_eq!(
        known.get("PERF_TYPE_TRACEPOINT"),
        Some(&i128::from(PERF_TYPE_TRACEPOINT))
    );
    // The kprobe PMU's function name and offset are config1 and config2.
    assert_eq!(
        a.offset("kprobe_func"),
        Some(offset_of!(PerfEventAttr, config1))
    );
    assert_eq!(
        a.offset("probe_offset"),
        Some(offset_of!(PerfEventAttr, config2))
    );
}
