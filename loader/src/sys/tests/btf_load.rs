//! Offline tests of what BTF-typed loading adds to the syscall layer: the `BPF_PROG_LOAD`
//! fields `attach_btf_id`, `attach_btf_obj_fd`/`attach_prog_fd`, `fd_array` and
//! `BPF_F_SLEEPABLE`; `fd_array` binding and its checks before the kernel; the BTF commands
//! (`BPF_BTF_GET_NEXT_ID`, `BPF_BTF_GET_FD_BY_ID`, the BTF info with its name) and
//! `BPF_RAW_TRACEPOINT_OPEN`.

use super::*;
use crate::btf_obj::BtfObject;
use crate::program::{FdSlot, SharedFd};

/// What the fake saw of a load: the attribute and the `fd_array` entries (`n` of them).
type Seen = Rc<RefCell<Option<(ProgLoadAttr, Vec<i32>)>>>;

/// Loads `prog` with `spec` through a fake that records the attribute and `n` fd_array
/// entries; returns the load's result and what was seen.
fn load_seen(
    spec: &ProgramSpec,
    prog: &asm::Program,
    maps: &[&Map],
    n: usize,
) -> (crate::Result<Program>, Option<(ProgLoadAttr, Vec<i32>)>) {
    let seen: Seen = Rc::default();
    let s = seen.clone();
    let r = fake(
        move |cmd, b, _| match cmd {
            Cmd::ProgLoad => {
                let a: ProgLoadAttr = from_bytes(b);
                let fds = peek(a.fd_array, 4 * n)
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                *s.borrow_mut() = Some((a, fds));
                new_fd()
            }
            Cmd::ObjGetInfoByFd => answer_info(b, &prog_info_raw()),
            _ => errno(libc::ENOSYS),
        },
        |_| Program::load(spec, prog, maps),
    );
    let seen = seen.borrow().clone();
    (r, seen)
}

fn by_index(idx: i32) -> asm::Program {
    use asm::{Builder, Reg::*};
    let mut b = Builder::new();
    b.ld_map_idx(R1, idx).mov64(R0, 0).exit();
    b.build().unwrap()
}

fn ret0() -> asm::Program {
    use asm::{Builder, Reg::*};
    let mut b = Builder::new();
    b.mov64(R0, 0).exit();
    b.build().unwrap()
}

fn dev_null() -> SharedFd {
    SharedFd::new(File::open("/dev/null").unwrap().into())
}

#[test]
fn btf_target_fields_and_sleepable_are_encoded() {
    let obj = BtfObject::from_fd(File::open("/dev/null").unwrap().into());
    let spec = ProgramSpec::new("fentry", ProgramType::Tracing)
        .expected_attach_type(AttachType::TraceFentry)
        .attach_btf_id(4242, Some(obj.clone()))
        .sleepable();
    let (r, seen) = load_seen(&spec, &ret0(), &[], 0);
    r.unwrap();
    let (a, _) = seen.unwrap();
    assert_eq!(a.prog_type, 26, "BPF_PROG_TYPE_TRACING");
    assert_eq!(a.expected_attach_type, 24, "BPF_TRACE_FENTRY");
    assert_eq!(a.attach_btf_id, 4242);
    assert_eq!(
        a.attach_prog_fd,
        obj.as_fd().as_raw_fd() as u32,
        "attach_btf_obj_fd"
    );
    assert_eq!(a.prog_flags, consts::BPF_F_SLEEPABLE);
    assert_eq!(a.fd_array, 0, "no fd_array without a use");

    // A target program instead: the same word.
    let target = dev_null();
    let mut spec = ProgramSpec::new("freplace", ProgramType::Ext);
    spec.attach_btf_id = Some(7);
    spec.attach_prog = Some(target.clone());
    let (r, seen) = load_seen(&spec, &ret0(), &[], 0);
    r.unwrap();
    let (a, _) = seen.unwrap();
    assert_eq!((a.attach_btf_id, a.prog_flags), (7, 0));
    assert_eq!(a.attach_prog_fd, target.as_fd().as_raw_fd() as u32);

    // Both: refused before the kernel.
    spec.attach_btf_obj = Some(obj);
    let (r, seen) = load_seen(&spec, &ret0(), &[], 0);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(seen.is_none());
}

#[test]
fn fd_array_is_the_maps_by_position_by_default() {
    let a = fake_map(MapType::Array, 4, 8);
    let b = fake_map(MapType::Array, 4, 8);
    let spec = ProgramSpec::new("idx", ProgramType::SchedCls);
    let (r, seen) = load_seen(&spec, &by_index(1), &[&a, &b], 2);
    r.unwrap();
    let (attr, fds) = seen.unwrap();
    assert_ne!(attr.fd_array, 0);
    assert_eq!(fds, [a.as_fd().as_raw_fd(), b.as_fd().as_raw_fd()]);

    // An index past the maps given, or a negative one: refused before the kernel.
    for idx in [2, -1] {
        let (r, seen) = load_seen(&spec, &by_index(idx), &[&a, &b], 0);
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{idx}: {r:?}");
        assert!(seen.is_none());
    }
    // load_with has no positions.
    let r = fake(
        |_, _, _| new_fd(),
        |_| Program::load_with(&spec, &by_index(0), |_| Some(a.as_fd())),
    );
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
}

#[test]
fn fd_array_of_the_spec_binds_names_and_holds_fds() {
    let a = fake_map(MapType::Array, 4, 8);
    let btf = BtfObject::from_fd(File::open("/dev/null").unwrap().into());
    let other = dev_null();
    let spec = ProgramSpec::new("idx", ProgramType::SchedCls).fd_array(vec![
        FdSlot::Fd(other.clone()),
        FdSlot::Map("test_map".into()),
        FdSlot::Btf(btf.clone()),
    ]);
    // Passed even when the program does not use it.
    let (r, seen) = load_seen(&spec, &by_index(1), &[&a], 3);
    r.unwrap();
    let (_, fds) = seen.unwrap();
    assert_eq!(
        fds,
        [
            other.as_fd().as_raw_fd(),
            a.as_fd().as_raw_fd(),
            btf.as_fd().as_raw_fd()
        ]
    );

    // A map load naming the BTF slot, a kfunc call naming the map slot, a slot past the end,
    // a name that is not given: all refused before the kernel.
    let mut kfunc = ret0();
    let mut insns = kfunc.insns().to_vec();
    insns.insert(
        0,
        asm::Insn {
            off: 1,
            ..asm::Insn::call_kfunc(99)
        },
    );
    kfunc = asm::Program::from_insns(insns);
    for (prog, maps) in [
        (by_index(2), vec![&a]),
        (kfunc, vec![&a]),
        (by_index(3), vec![&a]),
        (by_index(0), vec![]),
    ] {
        let (r, seen) = load_seen(&spec, &prog, &maps, 0);
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
        assert!(seen.is_none());
    }
}

#[test]
fn a_module_kfunc_needs_its_btf_in_fd_array() {
    let mut insns = ret0().insns().to_vec();
    insns.insert(
        0,
        asm::Insn {
            off: 1,
            ..asm::Insn::call_kfunc(99)
        },
    );
    let prog = asm::Program::from_insns(insns);
    let spec = ProgramSpec::new("kf", ProgramType::SchedCls);
    let (r, seen) = load_seen(&spec, &prog, &[], 0);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(seen.is_none());
    // With the module's BTF at slot 1 it goes to the kernel.
    let btf = BtfObject::from_fd(File::open("/dev/null").unwrap().into());
    let spec = spec.fd_array(vec![FdSlot::Btf(btf.clone()), FdSlot::Btf(btf.clone())]);
    let (r, seen) = load_seen(&spec, &prog, &[], 2);
    r.unwrap();
    assert_eq!(seen.unwrap().1, [btf.as_fd().as_raw_fd(); 2]);
}

#[test]
fn kernel_btf_object_is_found_by_walking_btf_ids() {
    // Three BTF objects: 1 "vmlinux", 2 loaded by a program (no name), 5 "nf_conntrack".
    let names = [(1u32, "vmlinux", 1u32), (2, "", 0), (5, "nf_conntrack", 1)];
    let opened: Rc<RefCell<Vec<(u32, i32)>>> = Rc::default();
    let o = opened.clone();
    fake(
        move |cmd, b, _| match cmd {
            Cmd::BtfGetNextId => {
                let mut a: GetIdAttr = from_bytes(b);
                match names.iter().find(|n| n.0 > a.start_id) {
                    Some(n) => {
                        a.next_id = n.0;
                        b.copy_from_slice(bytes_of(&a));
                        Ok(0)
                    }
                    None => errno(libc::ENOENT),
                }
            }
            Cmd::BtfGetFdById => {
                let a: GetIdAttr = from_bytes(b);
                let fd = new_fd()?;
                o.borrow_mut().push((a.start_id, fd as i32));
                Ok(fd)
            }
            Cmd::ObjGetInfoByFd => {
                let a: InfoAttr = from_bytes(b);
                let info: BtfInfoRaw = from_bytes(&peek(a.info, a.info_len as usize));
                // fd numbers are reused once closed: the latest open is the one.
                let id = o
                    .borrow()
                    .iter()
                    .rfind(|x| x.1 as u32 == a.bpf_fd)
                    .map(|x| x.0)
                    .unwrap();
                let (_, name, kernel) = names.iter().find(|n| n.0 == id).unwrap();
                assert!(info.name_len as usize > name.len());
                poke(info.name, format!("{name}\0").as_bytes());
                let out = BtfInfoRaw {
                    id,
                    kernel_btf: *kernel,
                    btf_size: 100,
                    ..info
                };
                answer_info(b, &out)
            }
            _ => errno(libc::ENOSYS),
        },
        |calls| {
            let obj = BtfObject::kernel("nf_conntrack").unwrap();
            let info = obj.info().unwrap();
            assert_eq!(
                (info.id, info.name.as_str(), info.kernel_btf),
                (5, "nf_conntrack", true)
            );
            match BtfObject::kernel("") {
                Err(Error::Btf(crate::btf::BtfError::NoSuchModule(_))) => {}
                other => panic!("the unnamed program BTF is not kernel BTF: {other:?}"),
            }
            let cmds: Vec<Cmd> = calls.borrow().iter().map(|c| c.0).collect();
            assert_eq!(cmds[0], Cmd::BtfGetNextId);
            assert_eq!(
                u32_at(&calls.borrow()[0].1, 0),
                0,
                "the walk starts at id 0"
            );
            assert_eq!(cmds[1], Cmd::BtfGetFdById);
            assert_eq!(u32_at(&calls.borrow()[1].1, 0), 1, "then opens id 1");
        },
    );
}

#[test]
fn raw_tracepoint_open_encodes_name_and_prog() {
    let prog = File::open("/dev/null").unwrap();
    let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let s = seen.clone();
    fake(
        move |cmd, b, _| {
            assert_eq!(cmd, Cmd::RawTracepointOpen);
            let a: RawTracepointAttr = from_bytes(b);
            s.borrow_mut().push(peek(a.name, 10));
            new_fd()
        },
        |calls| {
            raw_tracepoint_open(None, prog.as_fd()).unwrap();
            raw_tracepoint_open(Some(c"sys_enter"), prog.as_fd()).unwrap();
            let calls = calls.borrow();
            for (_, b) in calls.iter() {
                assert_eq!(b.len(), 16);
                assert_eq!(u32_at(b, 8), prog.as_raw_fd() as u32, "prog_fd");
                assert_eq!(u32_at(b, 12), 0, "padding");
            }
            assert_eq!(u64_at(&calls[0].1, 0), 0, "no name: the load's target");
        },
    );
    let seen = seen.borrow();
    assert_eq!(seen[0], b"");
    assert_eq!(seen[1], b"sys_enter\0");
}

#[test]
fn module_btf_gets_one_slot_past_zero() {
    // Kernel ids by fd: the fake answers the BTF info with an id that depends on which
    // object was opened (7 for `m1` and its duplicate, 9 for `m2`).
    let m1 = BtfObject::from_fd(File::open("/dev/null").unwrap().into());
    let m1_again = BtfObject::from_fd(m1.as_fd().try_clone_to_owned().unwrap());
    let m2 = BtfObject::from_fd(File::open("/dev/null").unwrap().into());
    let ids: Vec<(i32, u32)> = vec![
        (m1.as_fd().as_raw_fd(), 7),
        (m1_again.as_fd().as_raw_fd(), 7),
        (m2.as_fd().as_raw_fd(), 9),
    ];
    fake(
        move |cmd, b, _| match cmd {
            Cmd::ObjGetInfoByFd => {
                let a: InfoAttr = from_bytes(b);
                let id = ids.iter().find(|x| x.0 as u32 == a.bpf_fd).unwrap().1;
                answer_info(
                    b,
                    &BtfInfoRaw {
                        id,
                        kernel_btf: 1,
                        ..Default::default()
                    },
                )
            }
            _ => errno(libc::ENOSYS),
        },
        |_| {
            let mut spec = ProgramSpec::new("kf", ProgramType::SchedCls);
            assert_eq!(spec.module_btf_slot(m1.clone()).unwrap(), 1);
            assert_eq!(
                spec.fd_array.len(),
                2,
                "slot 0 is filled too: off 0 means vmlinux"
            );
            assert_eq!(
                spec.module_btf_slot(m1_again.clone()).unwrap(),
                1,
                "same id"
            );
            assert_eq!(spec.module_btf_slot(m2.clone()).unwrap(), 2);
            assert_eq!(spec.fd_array.len(), 3);
            // A spec whose array starts with a map keeps it at 0.
            let mut spec = ProgramSpec::new("kf", ProgramType::SchedCls)
                .fd_array(vec![FdSlot::Map("m".into())]);
            assert_eq!(spec.module_btf_slot(m2.clone()).unwrap(), 1);
            assert_eq!(spec.fd_array[0], FdSlot::Map("m".into()));
        },
    );
}
