//! CO-RE relocations of the corpus objects `core_fields.o` and `refused_core_poisoned.o`: read by
//! `bpfobj` (offline), then resolved against the running kernel's BTF, checked against the
//! kernel BTF's own answers (`loader::btf::vmlinux()`), loaded, and run with
//! `BPF_PROG_TEST_RUN` (a private helper here, on raw `libc`).

use loader::btf::{self, Kind};
use loader::elf::{Object, ObjectExt};
use loader::testing::kernel_or_skip;
use loader::{Error, Map, Program};
use uapi::btf::{
    BPF_CORE_ENUMVAL_EXISTS, BPF_CORE_ENUMVAL_VALUE, BPF_CORE_FIELD_BYTE_OFFSET,
    BPF_CORE_FIELD_EXISTS, BPF_CORE_TYPE_EXISTS, BPF_CORE_TYPE_ID_TARGET,
};

fn corpus(name: &str) -> Object {
    let dir = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus");
    Object::read_file(dir.join(name)).unwrap()
}

/// `BPF_PROG_TEST_RUN` of `prog` on `data` once: the program's return value.
fn test_run(prog: &Program, data: &[u8]) -> loader::Result<u32> {
    let run = loader::test_run::TestRun {
        data_in: data,
        repeat: 1,
        ..Default::default()
    };
    Ok(prog.test_run(&run)?.retval)
}

#[test]
fn core_relocations_are_read_per_program() {
    let obj = corpus("core_fields.o");
    let skb = obj.program("core_skb").unwrap();
    // The first instruction loads skb->len: member 2 of __sk_buff___shuffled.
    let first = &skb.core_relos[0];
    assert_eq!(
        (first.insn, first.access.as_str(), first.kind),
        (0, "0:2", BPF_CORE_FIELD_BYTE_OFFSET)
    );
    // Slots in order, each an instruction of the program.
    assert!(skb.core_relos.windows(2).all(|w| w[0].insn <= w[1].insn));
    assert!(skb.core_relos.iter().all(|r| r.insn < skb.program.len()));
    let kinds: Vec<u32> = skb.core_relos.iter().map(|r| r.kind).collect();
    for k in [
        BPF_CORE_FIELD_EXISTS,
        BPF_CORE_TYPE_EXISTS,
        BPF_CORE_TYPE_ID_TARGET,
        BPF_CORE_ENUMVAL_EXISTS,
        BPF_CORE_ENUMVAL_VALUE,
    ] {
        assert!(kinds.contains(&k), "kind {k} in {kinds:?}");
    }
    // The second program's relocations are relative to its own first slot.
    let task = obj.program("core_task").unwrap();
    assert_eq!(task.core_relos.len(), 3);
    assert!(task.core_relos.iter().all(|r| r.insn < task.program.len()));
    // Objects without CO-RE have none.
    let plain = corpus("two_maps_same.o");
    assert!(plain.programs.iter().all(|p| p.core_relos.is_empty()));
}

#[test]
fn core_fields_resolve_against_the_running_kernel() {
    if !kernel_or_skip("core_fields_resolve_against_the_running_kernel") {
        return;
    }
    let k = match btf::vmlinux() {
        Ok(k) => k,
        Err(e) => return eprintln!("SKIP core_fields_resolve_against_the_running_kernel: {e}"),
    };
    let obj = corpus("core_fields.o");
    let relocated = obj.relocate_core(None).unwrap();
    let skb_i = obj
        .programs
        .iter()
        .position(|p| p.name == "core_skb")
        .unwrap();
    let skb = relocated[skb_i].as_ref().unwrap();
    let off = |ty: &str, f: &str| k.field(ty, f).unwrap().offset as i16;
    let insns = skb.program.insns();
    assert_eq!(insns[0].off, off("__sk_buff", "len"));
    assert_eq!(insns[4].off, off("__sk_buff", "mark"));
    assert_eq!(insns[6].off, off("__sk_buff", "cb") + 8);
    // The unguarded-by-the-verifier read of a missing member is poisoned.
    assert_eq!(skb.poisoned.len(), 1, "{:?}", skb.poisoned);
    assert_eq!(skb.poisoned[0].spec, "__sk_buff___shuffled.no_such_member");
    assert_eq!(insns[skb.poisoned[0].insn].imm, loader::core::POISON_HELPER);

    // Load the maps and core_skb, run it on a frame.
    let maps = obj.create_maps().unwrap();
    let refs: Vec<&Map> = maps.iter().collect();
    let p = obj.program("core_skb").unwrap();
    let spec = obj.program_spec(p, None).unwrap();
    let prog = Program::load(&spec, &skb.program, &refs).unwrap();
    // The test run pulls the 14-byte Ethernet header before a socket filter sees the frame.
    let frame = [0u8; 60];
    assert_eq!(test_run(&prog, &frame).unwrap(), 46);

    let bss_i = obj.maps.iter().position(|m| m.spec.name == ".bss").unwrap();
    let read_out = || -> Vec<u64> {
        let v = maps[bss_i].get(&0u32.to_ne_bytes()).unwrap().unwrap();
        v.chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    };
    let out = read_out();
    let sock_mark = k.field("sock", "sk_mark").unwrap();
    let local = loader::core::local_btf(obj.btf.as_deref()).unwrap();
    let want: [(usize, u64, &str); 20] = [
        (0, 46, "skb->len"),
        (1, 0, "skb->mark"),
        (2, 0, "skb->cb[2]"),
        (3, 0, "no_such_member exists"),
        (4, 0, "guarded read"),
        (5, off("sk_buff", "len") as u64, "sk_buff.len offset"),
        (6, 4, "sk_buff.len size"),
        (7, 1, "sock.sk_rcvbuf signed"),
        (8, 0, "sock.sk_mark signed"),
        (9, 64 - 8 * sock_mark.size as u64, "sk_mark lshift"),
        (10, 64 - 8 * sock_mark.size as u64, "sk_mark rshift"),
        (11, 1, "sk_buff exists"),
        (12, 0, "no_such_kernel_type exists"),
        (
            13,
            k.struct_size("sk_buff").unwrap() as u64,
            "sizeof(sk_buff)",
        ),
        (
            14,
            k.type_id(Kind::Struct, "sk_buff").unwrap() as u64,
            "target id of sk_buff",
        ),
        (
            15,
            local.type_id(Kind::Struct, "sk_buff").unwrap() as u64,
            "local id of sk_buff",
        ),
        (16, 1, "BPF_FUNC_ktime_get_ns exists"),
        (17, 5, "BPF_FUNC_ktime_get_ns value"),
        (18, 0, "BPF_FUNC_no_such_helper exists"),
        (
            19,
            off("task_struct", "pid") as u64,
            "task_struct___flavor.pid",
        ),
    ];
    for (i, v, what) in want {
        assert_eq!(out[i], v, "out[{i}]: {what}");
    }

    // core_task: pid and tgid of this thread through bpf_probe_read_kernel. Socket filters
    // may call bpf_get_current_task and bpf_probe_read_kernel only on newer kernels.
    let t_i = obj
        .programs
        .iter()
        .position(|p| p.name == "core_task")
        .unwrap();
    let task = relocated[t_i].as_ref().unwrap();
    let t = &obj.programs[t_i];
    let tspec = obj.program_spec(t, None).unwrap();
    let tprog = match Program::load(&tspec, &task.program, &refs) {
        Ok(p) => p,
        Err(Error::Verifier(v)) if v.log().contains("unknown func") => {
            return eprintln!("SKIP core_task: {}", v.reason());
        }
        Err(e) => panic!("{e:#}"),
    };
    test_run(&tprog, &frame).unwrap();
    let out = read_out();
    // SAFETY: gettid and getpid have no preconditions.
    let (tid, pid) = unsafe { (libc::gettid() as u64, libc::getpid() as u64) };
    assert_eq!((out[20], out[21], out[22]), (tid, pid, tid));
}

#[test]
fn a_reachable_poisoned_relocation_is_named_in_the_error() {
    if !kernel_or_skip("a_reachable_poisoned_relocation_is_named_in_the_error") {
        return;
    }
    if let Err(e) = btf::vmlinux() {
        return eprintln!("SKIP a_reachable_poisoned_relocation_is_named_in_the_error: {e}");
    }
    let obj = corpus("refused_core_poisoned.o");
    let e = obj.load().unwrap_err().to_string();
    assert!(
        e.contains("CO-RE relocation failed for __sk_buff___shuffled.no_such_member"),
        "{e}"
    );
}

#[test]
fn whole_object_loads_with_load() {
    if !kernel_or_skip("whole_object_loads_with_load") {
        return;
    }
    if let Err(e) = btf::vmlinux() {
        return eprintln!("SKIP whole_object_loads_with_load: {e}");
    }
    let obj = corpus("core_fields.o");
    match obj.load() {
        Ok(l) => assert_eq!(l.programs.len(), 2),
        // Socket filters may call bpf_get_current_task only on newer kernels (core_task).
        Err(Error::Verifier(v)) if v.log().contains("unknown func") => {
            eprintln!("SKIP whole_object_loads_with_load: {}", v.reason())
        }
        Err(e) => panic!("{e:#}"),
    }
}

/// A 60-byte Ethernet + IPv4 frame: TTL 64, source 10.0.0.1.
fn ipv4_frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[8] = 64; // ttl
    ip[9] = 6; // tcp
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    f
}

#[test]
fn bootstrap_shapes_relocate_load_and_run() {
    let test = "bootstrap_shapes_relocate_load_and_run";
    if !kernel_or_skip(test) {
        return;
    }
    let k = match btf::vmlinux() {
        Ok(k) => k,
        Err(e) => return eprintln!("SKIP {test}: {e}"),
    };
    let obj = corpus("core_bootstrap.o");
    let relocated = obj.relocate_core(None).unwrap();
    let idx = |name: &str| obj.programs.iter().position(|p| p.name == name).unwrap();
    let off = |ty: &str, f: &str| k.field(ty, f).unwrap().offset as i16;

    // tc: context and packet loads at the kernel's offsets; saddr found through the
    // anonymous members of the kernel's iphdr.
    let tc = relocated[idx("tc_ttl")].as_ref().unwrap();
    let i = tc.program.insns();
    assert_eq!(i[1].off, off("__sk_buff", "data_end"));
    assert_eq!(i[2].off, off("__sk_buff", "data"));
    assert_eq!(i[6].off, off("ethhdr", "h_proto"));
    assert_eq!(i[12].off, off("iphdr", "saddr"));
    assert_eq!(i[16].off, off("iphdr", "ttl"));
    assert!(tc.poisoned.is_empty());

    let maps = obj.create_maps().unwrap();
    let refs: Vec<&Map> = maps.iter().collect();
    let load = |name: &str| {
        let p = &obj.programs[idx(name)];
        let spec = obj.program_spec(p, None).unwrap();
        let r = relocated[idx(name)].as_ref().unwrap();
        Program::load(&spec, &r.program, &refs)
    };
    let tc_prog = load("tc_ttl").unwrap();
    assert_eq!(test_run(&tc_prog, &ipv4_frame()).unwrap(), 64);
    let bss = obj.maps.iter().position(|m| m.spec.name == ".bss").unwrap();
    let v = maps[bss].get(&0u32.to_ne_bytes()).unwrap().unwrap();
    // .bss: unlinks (u64) at 0, last_saddr (u32) at 8 (core_bootstrap.dis).
    assert_eq!(v[8..12], [10, 0, 0, 1]);

    // bootstrap: a tracepoint program reading the record and the task tree.
    let exec = relocated[idx("handle_exec")].as_ref().unwrap();
    assert!(exec.poisoned.is_empty());
    load("handle_exec").unwrap();

    // kprobe: exactly one of the two register layouts exists in this kernel; the other
    // branch's reads are poisoned and never reached.
    let kp = relocated[idx("unlink_entry")].as_ref().unwrap();
    let arch_flavor = if cfg!(target_arch = "x86_64") {
        "pt_regs___arm64.regs"
    } else {
        "pt_regs___x86.si"
    };
    assert!(
        kp.poisoned.iter().all(|p| p.spec.starts_with(arch_flavor)),
        "{:?}",
        kp.poisoned
    );
    match load("unlink_entry") {
        Ok(_) => {}
        Err(Error::Syscall(e)) => eprintln!("SKIP {test}: kprobe programs: {e}"),
        Err(e) => panic!("{e:#}"),
    }
}

#[test]
fn subprogram_relocations_follow_the_subprogram_into_each_program() {
    let obj = corpus("core_subprog.o");
    let first = obj.program("first_caller").unwrap();
    let second = obj.program("second_caller").unwrap();
    // mark_plus_len is appended at slot 2 of first_caller and 4 of second_caller; its two
    // loads (mark, len) carry the relocations there.
    let at = |p: &loader::elf::ObjectProgram| -> Vec<(usize, String)> {
        p.core_relos
            .iter()
            .map(|r| (r.insn, r.access.clone()))
            .collect()
    };
    assert_eq!(first.subprograms, vec![("mark_plus_len".to_string(), 2)]);
    assert_eq!(at(first), vec![(2, "0:1".into()), (3, "0:2".into())]);
    assert_eq!(second.subprograms, vec![("mark_plus_len".to_string(), 4)]);
    assert_eq!(
        at(second),
        vec![(0, "0:0:0".into()), (4, "0:1".into()), (5, "0:2".into())]
    );
    if !kernel_or_skip("subprogram_relocations_follow_the_subprogram_into_each_program") {
        return;
    }
    let k = match btf::vmlinux() {
        Ok(k) => k,
        Err(e) => return eprintln!("SKIP subprogram relocations: {e}"),
    };
    let loaded = obj.load().unwrap();
    let relocated = obj.relocate_core(None).unwrap();
    let mark = k.field("__sk_buff", "mark").unwrap().offset as i16;
    let len = k.field("__sk_buff", "len").unwrap().offset as i16;
    let cb = k.field("__sk_buff", "cb").unwrap().offset as i16;
    let i1 = relocated[0].as_ref().unwrap().program.insns();
    assert_eq!((i1[2].off, i1[3].off), (mark, len));
    let i2 = relocated[1].as_ref().unwrap().program.insns();
    assert_eq!((i2[0].off, i2[4].off, i2[5].off), (cb, mark, len));
    // The socket filter returns mark + len: 0 + the frame less its Ethernet header.
    let frame = [0u8; 60];
    assert_eq!(test_run(&loaded.programs[0], &frame).unwrap(), 46);
}

/// Against the object's own BTF every relocation finds the local layout again (flavors
/// included: `pt_regs___x86` and `pt_regs___arm64` are both candidates for `pt_regs`, and
/// only one has each member), so nothing changes.
#[test]
fn relocating_against_the_objects_own_btf_changes_nothing() {
    for name in ["core_subprog.o", "core_bootstrap.o"] {
        let obj = corpus(name);
        let own = loader::core::local_btf(obj.btf.as_deref()).unwrap();
        let target = loader::core::Target::from_btf(std::sync::Arc::new(own));
        let relocated = obj.relocate_core(Some(&target)).unwrap();
        for (p, r) in obj.programs.iter().zip(&relocated) {
            let r = r.as_ref().unwrap();
            assert!(r.poisoned.is_empty(), "{name} {}", p.name);
            assert_eq!(r.program.insns(), p.program.insns(), "{name} {}", p.name);
            assert!(r.resolved.iter().all(|(_, x)| x.target == Some(x.local)));
        }
    }
}

#[test]
fn bitfields_are_read_through_the_kernels_layout() {
    let test = "bitfields_are_read_through_the_kernels_layout";
    if !kernel_or_skip(test) {
        return;
    }
    if let Err(e) = btf::vmlinux() {
        return eprintln!("SKIP {test}: {e}");
    }
    let obj = corpus("core_bitfields.o");
    let loaded = obj.load().unwrap();
    // ihl 5, version 4: the frame's first IP byte is 0x45.
    assert_eq!(test_run(&loaded.programs[0], &ipv4_frame()).unwrap(), 0x504);
}
