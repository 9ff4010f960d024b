//! Kernel tests of BTF-typed loading: kernel BTF lookups by name, the kernel's BTF objects
//! by id, maps by index through `fd_array`, kfunc calls by name, and `tp_btf`, fentry,
//! fexit and LSM programs (the last three run on trampolines, which a kernel in lockdown
//! refuses with EPERM: they skip with the reason then).
//!
//! Programs run through `BPF_PROG_TEST_RUN` (a private helper here, on raw `libc`) or on
//! the tracepoint of this process's own system calls; nothing attaches to a cgroup or an
//! interface, and every link is dropped (detaching its program) before the test returns.

use std::os::fd::AsFd;
use std::sync::Arc;

use asm::{AtomicOp, Builder, Helper, Reg::*, Size};
use loader::attach::tracing;
use loader::btf::{self, BtfError, Kind};
use loader::btf_obj::BtfObject;
use loader::testing::kernel_or_skip;
use loader::{
    AttachType, Error, FdSlot, LinkType, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType,
};

macro_rules! require_kernel {
    ($name:expr) => {
        if !kernel_or_skip($name) {
            return;
        }
    };
}

/// Prints why `test` skips.
fn skip(test: &str, why: impl std::fmt::Display) {
    eprintln!("SKIP {test}: {why}");
}

/// Kernel BTF, or `None` after printing a skip (a kernel built without BTF).
fn vmlinux_or_skip(test: &str) -> Option<Arc<btf::KernelBtf>> {
    match btf::vmlinux() {
        Ok(b) => Some(b),
        Err(e) => {
            skip(test, e);
            None
        }
    }
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

/// A 64-byte IPv4 frame for `SCHED_CLS` test runs.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08; // ETH_P_IP
    p[14] = 0x45;
    p
}

fn array_map(name: &str) -> Map {
    Map::create(&MapSpec::new(name, MapType::Array, 4, 8, 1)).unwrap()
}

fn value(map: &Map) -> u64 {
    let v = map.get(&0u32.to_le_bytes()).unwrap().unwrap();
    u64::from_le_bytes(v.try_into().unwrap())
}

fn reset(maps: &[&Map]) {
    for m in maps {
        m.put(
            &0u32.to_le_bytes(),
            &0u64.to_le_bytes(),
            loader::UpdateFlags::Any,
        )
        .unwrap();
    }
}

/// Whether a load error is the EPERM a kernel in lockdown gives trampoline programs.
fn trampoline_refused(e: &Error) -> bool {
    e.errno() == Some(libc::EPERM)
}

#[test]
fn kernel_btf_lookups_by_kind_and_name() {
    require_kernel!("kernel_btf_lookups_by_kind_and_name");
    let Some(k) = vmlinux_or_skip("kernel_btf_lookups_by_kind_and_name") else {
        return;
    };
    // Parsed once: the second call shares the first's.
    assert!(Arc::ptr_eq(&k, &btf::vmlinux().unwrap()));

    let sock = k.type_id(Kind::Struct, "sock").unwrap();
    assert_eq!(k.kind_of(sock), Some(Kind::Struct));
    assert_eq!(k.name_of(sock), Some("sock"));
    assert_eq!(k.struct_id("sock").unwrap(), sock);
    let int = k.type_id(Kind::Int, "int").unwrap();
    assert_eq!(k.kind_of(int), Some(Kind::Int));
    let td = k.type_id(Kind::Typedef, "btf_trace_sched_switch").unwrap();
    assert_eq!(k.name_of(td), Some("btf_trace_sched_switch"));
    assert!(k.type_id(Kind::Union, "sock").is_err());

    // int tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
    let p = k.func_proto("tcp_sendmsg").unwrap();
    assert_eq!(k.kind_of(p.func_id), Some(Kind::Func));
    assert_eq!(k.kind_of(p.proto_id), Some(Kind::FuncProto));
    let names: Vec<&str> = p.params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sk", "msg", "size"]);
    assert_eq!(k.kind_of(p.params[0].1), Some(Kind::Ptr));
    assert_eq!(k.name_of(p.ret_type_id), Some("int"));

    assert_eq!(
        k.func_id("no_such_function_tcpbypass"),
        Err(BtfError::NotFound {
            kind: Kind::Func,
            name: "no_such_function_tcpbypass".into()
        })
    );
    let found = btf::find(Kind::Func, "tcp_sendmsg").unwrap();
    assert_eq!(found.module, None);
    assert_eq!(found.type_id, p.func_id);
    assert!(matches!(
        btf::find(Kind::Func, "no_such_function_tcpbypass"),
        Err(BtfError::NotFound { .. })
    ));
    assert!(matches!(
        btf::module("no_such_module_tcpbypass"),
        Err(BtfError::NoSuchModule(_))
    ));
    assert!(matches!(
        btf::module("../vmlinux"),
        Err(BtfError::NoSuchModule(_))
    ));

    // Every module's BTF (a few at most) reads as split BTF after vmlinux's ids.
    for m in btf::modules().unwrap().iter().take(3) {
        let mb = btf::module(m).unwrap();
        assert_eq!(mb.first_own_id() as usize, k.type_count() + 1, "{m}");
        // Base types are visible through the module's BTF.
        assert_eq!(mb.type_id(Kind::Struct, "sock").unwrap(), sock, "{m}");
    }
}

#[test]
fn kernel_btf_objects_by_name() {
    require_kernel!("kernel_btf_objects_by_name");
    if vmlinux_or_skip("kernel_btf_objects_by_name").is_none() {
        return;
    }
    let v = BtfObject::kernel("vmlinux").unwrap();
    let info = v.info().unwrap();
    assert_eq!(info.name, "vmlinux");
    assert!(info.kernel_btf);
    let file = std::fs::metadata(btf::VMLINUX_PATH).unwrap().len();
    assert_eq!(u64::from(info.size), file);
    assert_eq!(BtfObject::from_id(info.id).unwrap().info().unwrap(), info);
    match BtfObject::kernel("no_such_module_tcpbypass") {
        Err(Error::Btf(BtfError::NoSuchModule(m))) => assert_eq!(m, "no_such_module_tcpbypass"),
        other => panic!("{other:?}"),
    }
    if let Some(m) = btf::modules().unwrap().first() {
        let obj = BtfObject::kernel(m).unwrap();
        let mi = obj.info().unwrap();
        assert_eq!(&mi.name, m);
        assert!(mi.kernel_btf);
        assert_ne!(mi.id, info.id);
    }
}

/// A `SCHED_CLS` program that writes 0x11 into element 0 of `fd_array` slot 0's map (a
/// lookup through `ld_map_idx`) and 0x22 into slot 1's (a direct value pointer through
/// `ld_map_idx_value`).
fn by_index_prog() -> asm::Program {
    let mut b = Builder::new();
    b.st(Size::W, R10, -4, 0)
        .ld_map_idx(R1, 0)
        .mov64(R2, R10)
        .add64(R2, -4)
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, "second")
        .st(Size::DW, R0, 0, 0x11)
        .label("second")
        .ld_map_idx_value(R1, 1, 0)
        .st(Size::DW, R1, 0, 0x22)
        .mov64(R0, 0)
        .exit();
    b.build().unwrap()
}

#[test]
fn ld_map_idx_binds_maps_by_position_or_by_fd_array() {
    require_kernel!("ld_map_idx_binds_maps_by_position_or_by_fd_array");
    let (a, b) = (array_map("idx_a"), array_map("idx_b"));
    let prog = by_index_prog();
    let spec = ProgramSpec::new("by_index", ProgramType::SchedCls);

    // By position: maps[0] is slot 0.
    let p = Program::load(&spec, &prog, &[&a, &b]).unwrap();
    test_run(&p, &packet()).unwrap();
    assert_eq!((value(&a), value(&b)), (0x11, 0x22));
    assert_eq!(p.cached_info().map_ids.len(), 2);

    // By the spec's fd_array, names bound through the maps given (their order no longer
    // matters).
    reset(&[&a, &b]);
    let named = spec.clone().fd_array(vec![
        FdSlot::Map("idx_b".into()),
        FdSlot::Map("idx_a".into()),
    ]);
    let p = Program::load(&named, &prog, &[&a, &b]).unwrap();
    test_run(&p, &packet()).unwrap();
    assert_eq!((value(&a), value(&b)), (0x22, 0x11));

    // load_with binds fd_array names by its lookup.
    reset(&[&a, &b]);
    let p = Program::load_with(&named, &prog, |n| match n {
        "idx_a" => Some(a.as_fd()),
        "idx_b" => Some(b.as_fd()),
        _ => None,
    })
    .unwrap();
    test_run(&p, &packet()).unwrap();
    assert_eq!((value(&a), value(&b)), (0x22, 0x11));

    // Too few maps: refused before the kernel, naming the instruction.
    match Program::load(&spec, &prog, &[&a]) {
        Err(Error::InvalidArgument(why)) => assert!(why.contains("map 1 by index"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn kfunc_call_by_name_reads_the_kernel_skb() {
    let test = "kfunc_call_by_name_reads_the_kernel_skb";
    require_kernel!(test);
    let Some(k) = vmlinux_or_skip(test) else {
        return;
    };
    // bpf_cast_to_kern_ctx (Linux 6.2, any program type) turns the __sk_buff context into
    // the kernel's struct sk_buff.
    let mut spec = ProgramSpec::new("kfunc_len", ProgramType::SchedCls);
    let call = match spec.kfunc_call("bpf_cast_to_kern_ctx") {
        Ok(c) => c,
        Err(Error::Btf(e @ BtfError::NotFound { .. })) => {
            return skip(test, format!("{e} (a kfunc of Linux 6.2)"));
        }
        Err(e) => panic!("{e}"),
    };
    let id = k.func_id("bpf_cast_to_kern_ctx").unwrap();
    assert_eq!((call.imm, call.off), (id as i32, 0));
    assert!(
        spec.fd_array.is_empty(),
        "a vmlinux kfunc needs no fd_array"
    );
    let len = k.field("sk_buff", "len").unwrap();
    assert_eq!(len.size, 4);

    let mut b = Builder::new();
    b.push(call).ldx(Size::W, R0, R0, len.offset as i16).exit();
    let p = match Program::load(&spec, &b.build().unwrap(), &[]) {
        Ok(p) => p,
        // An architecture whose JIT cannot call kernel functions says so in the log.
        Err(Error::Verifier(v)) if v.log().contains("JIT does not support calling kernel") => {
            return skip(test, v.reason());
        }
        Err(e) => panic!("{e:#}"),
    };
    let data = packet();
    assert_eq!(test_run(&p, &data).unwrap(), data.len() as u32);

    // A function that is not in kernel BTF is a typed error.
    assert!(matches!(
        spec.kfunc_call("no_such_kfunc_tcpbypass"),
        Err(Error::Btf(BtfError::NotFound {
            kind: Kind::Func,
            ..
        }))
    ));
}

#[test]
fn tp_btf_counts_this_process_system_calls() {
    let test = "tp_btf_counts_this_process_system_calls";
    require_kernel!(test);
    let Some(k) = vmlinux_or_skip(test) else {
        return;
    };
    let spec = ProgramSpec::tp_btf("tp_sys_enter", "sys_enter").unwrap();
    let id = k.type_id(Kind::Typedef, "btf_trace_sys_enter").unwrap();
    assert_eq!(spec.attach_btf_id, Some(id));
    assert_eq!(spec.attach_btf_obj, None);
    assert_eq!(spec.expected_attach_type, Some(AttachType::TraceRawTp));

    let count = array_map("tp_count");
    let mut b = Builder::new();
    b.ld_map_value(R1, "tp_count", 0)
        .mov64(R2, 1)
        .atomic(AtomicOp::Add, Size::DW, R1, 0, R2)
        .mov64(R0, 0)
        .exit();
    let prog = match Program::load(&spec, &b.build().unwrap(), &[&count]) {
        Ok(p) => p,
        Err(e) if e.errno() == Some(libc::EPERM) => return skip(test, e),
        Err(e) => panic!("{e:#}"),
    };
    assert_eq!(prog.prog_type(), ProgramType::Tracing);
    let info = prog.info().unwrap();
    // bpf_prog_info has attach_btf_id from 6.0 on (zero before).
    assert!(info.attach_btf_id == id || info.attach_btf_id == 0);
    let link = tracing::attach(&prog, AttachType::TraceRawTp, None).unwrap();
    assert_eq!(link.info().unwrap().link_type, LinkType::RawTracepoint);
    assert_eq!(link.info().unwrap().prog_id, prog.id());
    for _ in 0..10 {
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::getppid() };
    }
    drop(link);
    assert!(value(&count) >= 10, "count {}", value(&count));

    assert!(matches!(
        ProgramSpec::tp_btf("x", "no_such_tracepoint_tcpbypass"),
        Err(Error::Btf(BtfError::NotFound {
            kind: Kind::Typedef,
            ..
        }))
    ));
}

/// The kernel-internal `ENOTSUPP` (`include/linux/errno.h`), which an architecture without
/// BPF trampolines returns.
const ENOTSUPP: i32 = 524;

/// Loads `spec` with `r0 = 0; exit` and attaches it; skips on the EPERM of lockdown.
fn trampoline_load_and_attach(test: &str, spec: ProgramSpec) {
    let mut b = Builder::new();
    b.mov64(R0, 0).exit();
    let prog = match Program::load(&spec, &b.build().unwrap(), &[]) {
        Ok(p) => p,
        Err(e) if trampoline_refused(&e) => {
            return skip(
                test,
                format!("{e} (trampoline programs are refused here, e.g. kernel lockdown)"),
            );
        }
        Err(e) => panic!("{e:#}"),
    };
    let attach_type = spec
        .expected_attach_type
        .expect("a tracing spec names its attach type");
    let link = match tracing::attach(&prog, attach_type, None) {
        Ok(l) => l,
        Err(e) if e.errno() == Some(libc::EPERM) => {
            return skip(
                test,
                format!("attach: {e} (trampoline programs are refused here, e.g. kernel lockdown)"),
            );
        }
        // arm64 attaches trampolines to kernel functions through ftrace direct calls, which
        // it has from Linux 6.4; before, the kernel says ENOTSUPP. Elsewhere that is a failure.
        Err(e) if e.errno() == Some(ENOTSUPP) && cfg!(target_arch = "aarch64") => {
            return skip(
                test,
                format!("attach: {e} (arm64 BPF trampolines on kernel functions: Linux 6.4)"),
            );
        }
        Err(e) => panic!("attach: {e}"),
    };
    let info = link.info().unwrap();
    assert_eq!(info.link_type, LinkType::Tracing);
    assert_eq!(info.prog_id, prog.id());
}

#[test]
fn fentry_and_fexit_on_a_kernel_function() {
    let test = "fentry_and_fexit_on_a_kernel_function";
    require_kernel!(test);
    if vmlinux_or_skip(test).is_none() {
        return;
    }
    for at in [AttachType::TraceFentry, AttachType::TraceFexit] {
        let spec = ProgramSpec::tracing("fe_tcp_send", at, "tcp_sendmsg").unwrap();
        assert_eq!(spec.prog_type, ProgramType::Tracing);
        trampoline_load_and_attach(test, spec);
    }
    assert!(matches!(
        ProgramSpec::tracing("x", AttachType::TraceFentry, "no_such_function_tcpbypass"),
        Err(Error::Btf(BtfError::NotFound {
            kind: Kind::Func,
            ..
        }))
    ));
    assert!(matches!(
        ProgramSpec::tracing("x", AttachType::CgroupSockOps, "tcp_sendmsg"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn lsm_program_on_a_hook() {
    let test = "lsm_program_on_a_hook";
    require_kernel!(test);
    let Some(k) = vmlinux_or_skip(test) else {
        return;
    };
    if k.func_id("bpf_lsm_file_open").is_err() {
        return skip(
            test,
            "no bpf_lsm_file_open in kernel BTF (CONFIG_BPF_LSM off)",
        );
    }
    let spec = ProgramSpec::lsm("lsm_open", "file_open").unwrap();
    assert_eq!(spec.prog_type, ProgramType::Lsm);
    assert_eq!(spec.expected_attach_type, Some(AttachType::LsmMac));
    trampoline_load_and_attach(test, spec);
}

/// A DSL program loaded with its own BTF (`ProgramSpec::with_debug_info`): the kernel keeps
/// a `func_info` per function and a `line_info` per comment, `bpftool prog dump xlated`
/// prints the comments, and the tag is that of the program loaded without BTF.
#[test]
fn dsl_debug_info_names_functions_and_comments() {
    let test = "dsl_debug_info_names_functions_and_comments";
    require_kernel!(test);
    let mut b = Builder::new();
    b.comment("keep the whole packet: r0 = len(skb)")
        .ldx(Size::W, R0, R1, uapi::ctx::__sk_buff::LEN)
        .call_fn("half")
        .exit()
        .function("half")
        .comment("tcpbypass-debug-info: halve it")
        .mov64(R0, 0)
        .exit();
    let prog = b.build().unwrap();
    let plain = Program::load(
        &ProgramSpec::new("dbg_plain", ProgramType::SocketFilter),
        &prog,
        &[],
    )
    .unwrap();
    let spec = ProgramSpec::new("dbg_info", ProgramType::SocketFilter).with_debug_info();
    let with = Program::load(&spec, &prog, &[]).unwrap();
    let info = with.info().unwrap();
    assert_ne!(info.btf_id, 0, "loaded with BTF");
    assert_eq!(info.nr_func_info, 2, "main and half");
    assert_eq!(
        info.nr_line_info, 2,
        "two comments, each at a function start"
    );
    assert_eq!(plain.info().unwrap().btf_id, 0);
    assert_eq!(
        info.tag,
        plain.info().unwrap().tag,
        "BTF does not change the tag"
    );

    // bpftool, where installed, shows the comment above its instruction.
    match std::process::Command::new("bpftool")
        .args(["prog", "dump", "xlated", "id", &info.id.to_string()])
        .output()
    {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("; tcpbypass-debug-info: halve it"),
                "bpftool output:\n{text}"
            );
            assert!(text.contains("half"), "bpftool output:\n{text}");
        }
        Ok(out) => eprintln!(
            "{test}: bpftool check not made: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("{test}: bpftool check not made: {e}"),
    }

    // A function name the kernel would refuse in BTF is an error before any bpf() call.
    let mut bad = Builder::new();
    bad.mov64(R0, 0).call_fn("not-an-identifier").exit();
    bad.function("not-an-identifier").mov64(R0, 0).exit();
    if let Ok(p) = bad.build() {
        let e = Program::load(&spec, &p, &[]).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
}

/// A socket local storage map (5.2) exists only with BTF for its key and value: created with
/// `OpaqueMapBtf`, it keeps a value per socket, keyed from user space by the socket's fd.
#[test]
fn socket_storage_map_created_with_opaque_btf() {
    let test = "socket_storage_map_created_with_opaque_btf";
    require_kernel!(test);
    use loader::btf_obj::OpaqueMapBtf;
    use std::os::fd::AsRawFd;
    let sk_storage = MapType::Other(uapi::bpf::BPF_MAP_TYPE_SK_STORAGE);
    let spec =
        MapSpec::new("sk_stg", sk_storage, 4, 16, 0).with_flags(loader::map_flags::NO_PREALLOC);
    // Without BTF the kernel refuses the map.
    assert!(Map::create(&spec).is_err());
    let btf = OpaqueMapBtf::load(4, 16).unwrap();
    let map = Map::create_with(&spec, None, Some(btf.map_btf())).unwrap();
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let key = |s: &std::net::UdpSocket| s.as_raw_fd().to_ne_bytes();
    let value = [7u8; 16];
    map.put(&key(&a), &value, loader::UpdateFlags::Any).unwrap();
    assert_eq!(map.get(&key(&a)).unwrap(), Some(value.to_vec()));
    assert_eq!(map.get(&key(&b)).unwrap(), None, "storage is per socket");
    assert!(OpaqueMapBtf::load(4, 0).is_err());
}

#[test]
fn iter_program_over_tasks() {
    let test = "iter_program_over_tasks";
    require_kernel!(test);
    let Some(k) = vmlinux_or_skip(test) else {
        return;
    };
    let Ok(id) = k.func_id("bpf_iter_task") else {
        return skip(test, "no bpf_iter_task in kernel BTF (Linux < 5.8)");
    };
    let spec = ProgramSpec::iter("iter_tasks", "task").unwrap();
    assert_eq!(spec.prog_type, ProgramType::Tracing);
    assert_eq!(spec.expected_attach_type, Some(AttachType::TraceIter));
    assert_eq!(spec.attach_btf_id, Some(id));
    assert_eq!(spec.attach_btf_obj, None);
    // An iterator needs no trampoline: it loads under lockdown too. Its context is
    // bpf_iter_task's arguments: the task (the second) may be NULL.
    let mut b = Builder::new();
    b.ldx(Size::DW, R2, R1, 8)
        .jeq(R2, 0, "out")
        .label("out")
        .mov64(R0, 0)
        .exit();
    let prog = Program::load(&spec, &b.build().unwrap(), &[]).unwrap();
    assert_eq!(prog.prog_type(), ProgramType::Tracing);
    let info = prog.info().unwrap();
    // bpf_prog_info has attach_btf_id from 6.0 on (zero before).
    assert!(info.attach_btf_id == id || info.attach_btf_id == 0);

    // SEC("iter/task") in an object resolves the same way (the corpus's iter_task.o).
    let path = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/iter_task.o");
    let obj = loader::elf::Object::read_file(&path).unwrap();
    let p = obj.program("count_tasks").unwrap();
    let from_elf = loader::elf::ObjectProgramExt::spec(p, &obj.license).unwrap();
    assert_eq!(from_elf.expected_attach_type, Some(AttachType::TraceIter));
    assert_eq!(from_elf.attach_btf_id, Some(id));

    assert!(matches!(
        ProgramSpec::iter("x", "no_such_iterator_tcpbypass"),
        Err(Error::Btf(BtfError::NotFound {
            kind: Kind::Func,
            ..
        }))
    ));
}
