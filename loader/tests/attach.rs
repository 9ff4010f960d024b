//! Kernel tests of `loader::attach` and the cgroup attach kinds: each attaches a real program
//! and checks its effect (packets counted, datagrams dropped, connects refused, tracepoint
//! hits). Network tests run in a thread of their own that unshares its network namespace and
//! builds a veth pair there; cgroup tests use a `TempCgroup` and a child process (this test
//! binary, re-run as `child_helper`); tracepoint tests mount tracefs in a private mount
//! namespace when none is mounted. Every attachment is dropped (so detached) by the end of
//! its test, also when an assertion fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Command, Stdio};

use asm::{AtomicOp, Builder, Helper, Reg::*, Size};
use loader::attach::{perf, sk_lookup, sk_skb, socket_filter, tc, tcx, xdp};
use loader::testing::net::{
    in_new_netns, ip, packet_socket, recv_frames, send_frames, veth_pair, ETHERTYPE,
};
use loader::testing::{kernel_or_skip, with_tracefs, TempCgroup};
use loader::{
    cgroup, features, AttachMode, AttachType, Feature, LinkType, Map, MapSpec, MapType, Program,
    ProgramSpec, ProgramType,
};

macro_rules! require_kernel {
    ($name:expr) => {
        if !kernel_or_skip($name) {
            return;
        }
    };
}

/// An array map of `n` u64 counters named `counts`.
fn counters(n: u32) -> Map {
    Map::create(&MapSpec::new("counts", MapType::Array, 4, 8, n)).unwrap()
}

fn counter(map: &Map, key: u32) -> u64 {
    let v = map.get(&key.to_ne_bytes()).unwrap().unwrap();
    u64::from_ne_bytes(v.try_into().unwrap())
}

/// Emits `counts[key] += <reg amount>` (atomically); clobbers r0-r5, keeps r6-r9. `amount`
/// must be r6-r9 or None for 1.
fn add_to_counter(b: &mut Builder, key: i32, amount: Option<asm::Reg>, label: &str) {
    b.st(Size::W, R10, -4, key)
        .mov64(R2, R10)
        .add64(R2, -4)
        .ld_map(R1, "counts")
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, label);
    match amount {
        Some(r) => b.mov64(R1, r),
        None => b.mov64(R1, 1),
    };
    b.atomic(AtomicOp::Add, Size::DW, R0, 0, R1).label(label);
}

fn load(spec: ProgramSpec, b: &Builder, map: &Map) -> Program {
    Program::load(&spec, &b.build().unwrap(), &[map]).unwrap()
}

#[test]
fn xdp_link_counts_frames_on_a_veth() {
    require_kernel!("xdp_link_counts_frames_on_a_veth");
    if !features::probe(Feature::XdpLink).unwrap() {
        eprintln!("SKIP xdp_link_counts_frames_on_a_veth: no XDP links (Linux 5.9)");
        return;
    }
    let map = counters(1);
    let mut b = Builder::new();
    // data (u32 at 0) and data_end (u32 at 4) of struct xdp_md.
    b.ldx(Size::W, R2, R1, 0)
        .ldx(Size::W, R3, R1, 4)
        .mov64(R4, R2)
        .add64(R4, 14)
        .jgt(R4, R3, "out")
        .ldx(Size::H, R5, R2, 12)
        .jne(R5, i32::from(ETHERTYPE.to_be()), "out");
    add_to_counter(&mut b, 0, None, "out");
    b.mov64(R0, 2).exit(); // XDP_PASS
    let prog = load(ProgramSpec::new("xdp_count", ProgramType::Xdp), &b, &map);
    let skipped = in_new_netns(|| {
        let (va, vb) = match veth_pair() {
            Ok(p) => p,
            Err(e) => return Some(e),
        };
        let link = xdp::attach(&prog, vb, xdp::XdpMode::Skb).unwrap();
        let info = link.info().unwrap();
        assert_eq!(info.link_type, LinkType::Xdp);
        assert_eq!(info.prog_id, prog.id());
        let rx = packet_socket(vb);
        let tx = packet_socket(va);
        send_frames(&tx, 7);
        recv_frames(&rx, 7);
        assert_eq!(
            counter(&map, 0),
            7,
            "XDP saw every frame sent, and only those"
        );
        // A second XDP link on the same device is refused.
        let again = xdp::attach(&prog, vb, xdp::XdpMode::Skb).unwrap_err();
        assert_eq!(again.errno(), Some(libc::EBUSY), "{again}");
        drop(link);
        send_frames(&tx, 3);
        recv_frames(&rx, 3);
        assert_eq!(counter(&map, 0), 7, "detached: no more counting");
        None
    });
    if let Some(reason) = skipped {
        eprintln!("SKIP xdp_link_counts_frames_on_a_veth: cannot make a veth pair: {reason}");
    }
}

#[test]
fn tcx_link_counts_ingress_frames_on_a_veth() {
    require_kernel!("tcx_link_counts_ingress_frames_on_a_veth");
    let map = counters(2);
    // Counts into `key`, returns `ret`: TCX_NEXT (-1) runs the next program of the hook,
    // TCX_PASS (0) ends the chain.
    let tc_prog = |name: &str, key: i32, ret: i32| {
        let mut b = Builder::new();
        // __sk_buff.protocol (u32 at 16, network order).
        b.ldx(Size::W, R2, R1, 16)
            .jne(R2, i32::from(ETHERTYPE.to_be()), "out");
        add_to_counter(&mut b, key, None, "out");
        b.mov64(R0, ret).exit();
        load(ProgramSpec::new(name, ProgramType::SchedCls), &b, &map)
    };
    let prog = tc_prog("tcx_count", 0, -1);
    let prog2 = tc_prog("tcx_first", 1, 0);
    if !features::probe(Feature::TcxLink).unwrap() {
        let e = in_new_netns(|| tcx::attach(&prog, 1, tcx::Direction::Ingress).unwrap_err());
        assert!(e.to_string().contains("tcx"), "{e}");
        eprintln!("SKIP tcx_link_counts_ingress_frames_on_a_veth: no tcx (Linux 6.6): {e}");
        return;
    }
    let skipped = in_new_netns(|| {
        let (va, vb) = match veth_pair() {
            Ok(p) => p,
            Err(e) => return Some(e),
        };
        let link = tcx::attach(&prog, vb, tcx::Direction::Ingress).unwrap();
        let info = link.info().unwrap();
        assert_eq!(info.link_type, LinkType::Tcx);
        assert_eq!(info.attach_type, Some(AttachType::TcxIngress));
        // A second one goes first, before the existing one.
        let again = tcx::attach(&prog, vb, tcx::Direction::Ingress).unwrap_err();
        assert_eq!(again.errno(), Some(libc::EEXIST), "{again}");
        let first =
            tcx::attach_with(&prog2, vb, tcx::Direction::Ingress, tcx::Anchor::First, 0).unwrap();
        let rx = packet_socket(vb);
        let tx = packet_socket(va);
        send_frames(&tx, 5);
        recv_frames(&rx, 5);
        assert_eq!(counter(&map, 1), 5, "the first program saw every frame");
        assert_eq!(
            counter(&map, 0),
            0,
            "and passed them: the chain ended there"
        );
        drop(first);
        send_frames(&tx, 3);
        recv_frames(&rx, 3);
        assert_eq!(counter(&map, 0), 3, "alone now, the other one counts");
        drop(link);
        send_frames(&tx, 2);
        recv_frames(&rx, 2);
        assert_eq!(
            (counter(&map, 0), counter(&map, 1)),
            (3, 5),
            "detached: no counting"
        );
        None
    });
    if let Some(reason) = skipped {
        eprintln!("SKIP tcx_link_counts_ingress_frames_on_a_veth: cannot make a veth: {reason}");
    }
}

#[test]
fn socket_filter_drops_until_detached() {
    require_kernel!("socket_filter_drops_until_detached");
    let map = counters(1);
    let mut b = Builder::new();
    add_to_counter(&mut b, 0, None, "out");
    b.mov64(R0, 0).exit(); // keep 0 bytes: drop
    let prog = load(
        ProgramSpec::new("drop_all", ProgramType::SocketFilter),
        &b,
        &map,
    );
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    socket_filter::attach(rx.as_fd(), &prog).unwrap();
    tx.send(b"dropped").unwrap();
    socket_filter::detach(rx.as_fd()).unwrap();
    tx.send(b"kept").unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = rx.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"kept", "the filtered datagram never arrived");
    assert_eq!(
        counter(&map, 0),
        1,
        "the filter ran once, for the first datagram"
    );
    // Detaching again: nothing is attached.
    let e = socket_filter::detach(rx.as_fd()).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    // A program of another type is refused before the kernel.
    let xdp = Program::load(
        &ProgramSpec::new("not_a_filter", ProgramType::Xdp),
        &{
            let mut b = Builder::new();
            b.mov64(R0, 2).exit();
            b.build().unwrap()
        },
        &[],
    )
    .unwrap();
    assert!(matches!(
        socket_filter::attach(rx.as_fd(), &xdp),
        Err(loader::Error::InvalidArgument(_))
    ));
}

/// The environment variable that turns [`child_helper`] into a worker.
const CHILD_ENV: &str = "LOADER_ATTACH_TEST_CHILD";

/// Not a test of its own: when this binary is re-run with [`CHILD_ENV`] set, this waits for a
/// line on stdin (sent once the parent has moved it into a cgroup) and then does what the
/// variable says: `udp <port> <count> <size>` sends datagrams to 127.0.0.1, `connect <port>`
/// makes a TCP connection. Exit code 0 on success, else the errno.
#[test]
fn child_helper() {
    let Ok(cmd) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let code = match words.as_slice() {
        ["udp", port, count, size] => {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let buf = vec![7u8; size.parse().unwrap()];
            for _ in 0..count.parse::<usize>().unwrap() {
                s.send_to(&buf, ("127.0.0.1", port.parse::<u16>().unwrap()))
                    .unwrap();
            }
            0
        }
        ["connect", port] => match TcpStream::connect(("127.0.0.1", port.parse().unwrap())) {
            Ok(mut s) => {
                s.write_all(b"x").unwrap();
                0
            }
            Err(e) => e.raw_os_error().unwrap_or(255),
        },
        _ => 254,
    };
    std::process::exit(code);
}

/// Runs [`child_helper`] with `cmd` inside `cg`; returns its exit code.
fn run_child_in(cg: &TempCgroup, cmd: &str) -> i32 {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["child_helper", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    /// Kills and reaps the child however the test ends.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reap(child);
    cg.add_pid(child.0.id()).unwrap();
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let status = child.0.wait().unwrap();
    status.code().unwrap_or(-1)
}

#[test]
fn cgroup_skb_egress_counts_a_members_bytes() {
    require_kernel!("cgroup_skb_egress_counts_a_members_bytes");
    let map = counters(2);
    let mut b = Builder::new();
    b.ldx(Size::W, R6, R1, 0); // __sk_buff.len
    add_to_counter(&mut b, 0, None, "one");
    add_to_counter(&mut b, 1, Some(R6), "two");
    b.mov64(R0, 1).exit(); // let it through
    let prog = load(
        ProgramSpec::new("egress_bytes", ProgramType::CgroupSkb)
            .expected_attach_type(AttachType::CgroupInetEgress),
        &b,
        &map,
    );
    let cg = TempCgroup::new().unwrap();
    let att = cgroup::attach(
        &prog,
        cg.path(),
        AttachType::CgroupInetEgress,
        AttachMode::Auto,
    )
    .unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    // Traffic of this process (not in the cgroup) is not counted.
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"outside", ("127.0.0.1", port))
        .unwrap();
    assert_eq!(run_child_in(&cg, &format!("udp {port} 5 100")), 0);
    rx.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 256];
    for _ in 0..6 {
        rx.recv(&mut buf).unwrap();
    }
    assert_eq!(counter(&map, 0), 5, "the member's five datagrams, not ours");
    // IPv4 (20) + UDP (8) + 100 bytes each, as skb->len at cgroup egress.
    assert_eq!(counter(&map, 1), 5 * 128);
    att.detach().unwrap();
    assert_eq!(run_child_in(&cg, &format!("udp {port} 2 100")), 0);
    for _ in 0..2 {
        rx.recv(&mut buf).unwrap();
    }
    assert_eq!(counter(&map, 0), 5, "detached: no more counting");
}

#[test]
fn cgroup_sock_addr_connect4_denies_one_port() {
    require_kernel!("cgroup_sock_addr_connect4_denies_one_port");
    let denied = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let denied_port = denied.local_addr().unwrap().port();
    let allowed_port = allowed.local_addr().unwrap().port();
    let map = counters(1);
    let mut b = Builder::new();
    // bpf_sock_addr.user_port: u32 at 24, the port in network order.
    b.ldx(Size::W, R6, R1, 24);
    add_to_counter(&mut b, 0, None, "counted");
    b.mov64(R0, 1)
        .jne(R6, i32::from(denied_port.to_be()), "out")
        .mov64(R0, 0)
        .label("out")
        .exit();
    let prog = load(
        ProgramSpec::new("deny_port", ProgramType::CgroupSockAddr)
            .expected_attach_type(AttachType::CgroupInet4Connect),
        &b,
        &map,
    );
    let cg = TempCgroup::new().unwrap();
    let _att = cgroup::attach(
        &prog,
        cg.path(),
        AttachType::CgroupInet4Connect,
        AttachMode::Auto,
    )
    .unwrap();
    assert_eq!(
        run_child_in(&cg, &format!("connect {denied_port}")),
        libc::EPERM
    );
    assert_eq!(run_child_in(&cg, &format!("connect {allowed_port}")), 0);
    assert_eq!(counter(&map, 0), 2);
    // This process is outside the cgroup: its connect is not checked.
    TcpStream::connect(("127.0.0.1", denied_port)).unwrap();
    assert_eq!(counter(&map, 0), 2);
}

#[test]
fn cgroup_attach_works_for_sock_and_sockopt_kinds() {
    require_kernel!("cgroup_attach_works_for_sock_and_sockopt_kinds");
    let cg = TempCgroup::new().unwrap();
    for (t, a) in [
        (ProgramType::CgroupSock, AttachType::CgroupInetSockCreate),
        (ProgramType::CgroupSock, AttachType::CgroupInet4PostBind),
        (ProgramType::CgroupSockAddr, AttachType::CgroupInet4Bind),
        (ProgramType::CgroupSockopt, AttachType::CgroupGetsockopt),
        (ProgramType::CgroupSockopt, AttachType::CgroupSetsockopt),
        (ProgramType::CgroupSkb, AttachType::CgroupInetIngress),
    ] {
        let mut b = Builder::new();
        b.mov64(R0, 1).exit();
        let prog = Program::load(
            &ProgramSpec::new("cg_kind", t).expected_attach_type(a),
            &b.build().unwrap(),
            &[],
        )
        .unwrap();
        for mode in [AttachMode::Auto, AttachMode::Legacy] {
            let att = cgroup::attach(&prog, cg.path(), a, mode).unwrap();
            assert_eq!(
                cgroup::query(cg.path(), a).unwrap().prog_ids,
                vec![prog.id()],
                "{a:?} {mode:?}"
            );
            att.detach().unwrap();
            assert!(cgroup::query(cg.path(), a).unwrap().prog_ids.is_empty());
        }
    }
}

#[test]
fn sk_lookup_netns_link_sees_and_drops_connects() {
    require_kernel!("sk_lookup_netns_link_sees_and_drops_connects");
    if !features::probe(Feature::NetnsLink).unwrap() {
        eprintln!("SKIP sk_lookup_netns_link_sees_and_drops_connects: no netns links (5.9)");
        return;
    }
    let map = counters(1);
    let prog = |verdict: i32| {
        let mut b = Builder::new();
        add_to_counter(&mut b, 0, None, "out");
        b.mov64(R0, verdict).exit();
        load(
            ProgramSpec::new("lookup", ProgramType::SkLookup)
                .expected_attach_type(AttachType::SkLookup),
            &b,
            &map,
        )
    };
    let (pass, drop_all) = (prog(1), prog(0));
    let skipped = in_new_netns(|| {
        if let Err(e) = ip(&["link", "set", "lo", "up"]) {
            return Some(e);
        }
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let link = sk_lookup::attach_current(&pass).unwrap();
        assert_eq!(link.info().unwrap().link_type, LinkType::Netns);
        assert_eq!(link.info().unwrap().attach_type, Some(AttachType::SkLookup));
        TcpStream::connect(addr).unwrap();
        let seen = counter(&map, 0);
        assert!(seen >= 1, "the lookup program ran");
        drop(link);
        let link = sk_lookup::attach_current(&drop_all).unwrap();
        let e = TcpStream::connect(addr).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");
        drop(link);
        TcpStream::connect(addr).unwrap();
        None
    });
    if let Some(reason) = skipped {
        eprintln!("SKIP sk_lookup_netns_link_sees_and_drops_connects: {reason}");
    }
}

#[test]
fn sk_skb_parser_and_verdict_attach_to_a_sockmap() {
    require_kernel!("sk_skb_parser_and_verdict_attach_to_a_sockmap");
    let map = Map::create(&MapSpec::new("sock_map", MapType::SockMap, 4, 4, 4)).unwrap();
    let mut pb = Builder::new();
    pb.ldx(Size::W, R0, R1, 0).exit(); // the whole skb is one message
    let parser = Program::load(
        &ProgramSpec::new("parser", ProgramType::SkSkb)
            .expected_attach_type(AttachType::SkSkbStreamParser),
        &pb.build().unwrap(),
        &[],
    )
    .unwrap();
    let mut vb = Builder::new();
    vb.mov64(R0, 1).exit(); // SK_PASS
    let verdict = Program::load(
        &ProgramSpec::new("verdict", ProgramType::SkSkb)
            .expected_attach_type(AttachType::SkSkbStreamVerdict),
        &vb.build().unwrap(),
        &[],
    )
    .unwrap();
    let a = sk_skb::attach(&parser, &map, sk_skb::SkSkbKind::StreamParser).unwrap();
    let v = sk_skb::attach(&verdict, &map, sk_skb::SkSkbKind::StreamVerdict).unwrap();
    // A TCP socket in the map now runs them, and still carries data.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    map.put(
        &0u32.to_ne_bytes(),
        &(s.as_raw_fd() as u32).to_ne_bytes(),
        loader::UpdateFlags::Any,
    )
    .unwrap();
    c.write_all(b"through the verdict").unwrap();
    let mut buf = [0u8; 19];
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"through the verdict");
    map.delete(&0u32.to_ne_bytes()).unwrap();
    // Detaching the parser that is there works once; the second time there is none.
    a.detach().unwrap();
    let e = sk_skb::detach(&parser, &map, sk_skb::SkSkbKind::StreamParser).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    drop(v);
    let e = sk_skb::detach(&verdict, &map, sk_skb::SkSkbKind::StreamVerdict).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "dropping detached it: {e}");
}

fn counting_prog(t: ProgramType, map: &Map) -> Program {
    let mut b = Builder::new();
    add_to_counter(&mut b, 0, None, "out");
    b.mov64(R0, 0).exit();
    load(ProgramSpec::new("count_hits", t), &b, map)
}

#[test]
fn tracepoint_counts_getpid_calls() {
    require_kernel!("tracepoint_counts_getpid_calls");
    let map = counters(1);
    let prog = counting_prog(ProgramType::Tracepoint, &map);
    let r = with_tracefs(|| {
        let id = match perf::tracepoint_id("syscalls", "sys_enter_getpid") {
            Ok(id) => id,
            Err(e) => return Err(format!("no syscalls:sys_enter_getpid tracepoint: {e}")),
        };
        assert!(id > 0);
        let att = perf::attach_tracepoint(&prog, "syscalls", "sys_enter_getpid").unwrap();
        if let Some(link) = att.link() {
            assert_eq!(link.info().unwrap().link_type, LinkType::PerfEvent);
        }
        for _ in 0..20 {
            // SAFETY: getpid has no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        let seen = counter(&map, 0);
        assert!(seen >= 20, "{seen} hits for 20 calls");
        att.detach().unwrap();
        // The pre-5.15 way, on any kernel: PERF_EVENT_IOC_SET_BPF and _ENABLE.
        let event = perf::open_tracepoint("syscalls", "sys_enter_getpid").unwrap();
        let att = perf::attach_perf_event_ioctl(&prog, event).unwrap();
        assert!(att.link().is_none());
        let before = counter(&map, 0);
        for _ in 0..20 {
            // SAFETY: getpid has no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        let seen = counter(&map, 0) - before;
        assert!(seen >= 20, "ioctl: {seen} hits for 20 calls");
        att.detach().unwrap();
        Ok(())
    });
    match r {
        Ok(Ok(())) => {}
        Ok(Err(reason)) | Err(reason) => {
            eprintln!("SKIP tracepoint_counts_getpid_calls: {reason}")
        }
    }
}

#[test]
fn tracepoint_names_are_checked() {
    assert!(matches!(
        perf::tracepoint_id("../etc", "x"),
        Err(loader::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        perf::tracepoint_id("syscalls", "a/b"),
        Err(loader::Error::InvalidArgument(_))
    ));
}

#[test]
fn kprobe_and_kretprobe_count_openat2() {
    require_kernel!("kprobe_and_kretprobe_count_openat2");
    if let Err(e) = perf::kprobe_pmu() {
        eprintln!("SKIP kprobe_and_kretprobe_count_openat2: {e}");
        return;
    }
    let func = "do_sys_openat2";
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    if !kallsyms
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some(func))
    {
        eprintln!("SKIP kprobe_and_kretprobe_count_openat2: no {func} in /proc/kallsyms");
        return;
    }
    for retprobe in [false, true] {
        let map = counters(1);
        let prog = counting_prog(ProgramType::Kprobe, &map);
        let att = perf::attach_kprobe(&prog, func, 0, retprobe).unwrap();
        for _ in 0..10 {
            drop(std::fs::File::open("/proc/self/stat").unwrap());
        }
        let seen = counter(&map, 0);
        assert!(seen >= 10, "retprobe={retprobe}: {seen} hits for 10 opens");
        drop(att);
    }
}

#[test]
fn link_feature_probes_answer() {
    require_kernel!("link_feature_probes_answer");
    // Every kernel of the matrix (6.1 and later) has these.
    for f in [
        Feature::XdpLink,
        Feature::NetnsLink,
        Feature::PerfEventLink,
        Feature::CgroupLink,
    ] {
        assert!(features::probe(f).unwrap(), "{f}");
    }
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy().into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().unwrap().parse().unwrap();
    let minor: u32 = parts.next().unwrap().parse().unwrap();
    assert_eq!(
        features::probe(Feature::TcxLink).unwrap(),
        (major, minor) >= (6, 6),
        "tcx on {release}"
    );
}

#[test]
fn helper_probes_tell_known_from_unknown() {
    require_kernel!("helper_probes_tell_known_from_unknown");
    let yes = [
        (ProgramType::SockOps, Helper::GetSocketCookie),
        (ProgramType::SocketFilter, Helper::MapLookupElem),
        (ProgramType::CgroupSockAddr, Helper::GetSocketCookie),
        (ProgramType::Xdp, Helper::MapLookupElem),
        (ProgramType::SkLookup, Helper::SkAssign),
    ];
    for (t, h) in yes {
        assert!(features::probe(Feature::Helper(t, h)).unwrap(), "{t} {h}");
    }
    let no = [
        (ProgramType::Xdp, Helper::GetSocketCookie),
        (ProgramType::SocketFilter, Helper::SockMapUpdate),
    ];
    for (t, h) in no {
        assert!(!features::probe(Feature::Helper(t, h)).unwrap(), "{t} {h}");
    }
    // Tracing types need a BTF target to probe: an error, never a guess.
    assert!(features::probe(Feature::Helper(ProgramType::Tracing, Helper::MapLookupElem)).is_err());
}

#[test]
fn cgroup_attach_refuses_other_attach_types() {
    require_kernel!("cgroup_attach_refuses_other_attach_types");
    let cg = TempCgroup::new().unwrap();
    let mut b = Builder::new();
    b.mov64(R0, 2).exit();
    let prog = Program::load(
        &ProgramSpec::new("xdp", ProgramType::Xdp),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    assert!(matches!(
        cgroup::attach(&prog, cg.path(), AttachType::Xdp, AttachMode::Auto),
        Err(loader::Error::InvalidArgument(_))
    ));
    assert!(cgroup::is_cgroup_attach_type(
        AttachType::CgroupInetSockRelease
    ));
    assert!(!cgroup::is_cgroup_attach_type(AttachType::SkLookup));
}

#[test]
fn classic_tc_filter_counts_and_is_deleted_on_drop() {
    require_kernel!("classic_tc_filter_counts_and_is_deleted_on_drop");
    let map = counters(2);
    let tc_prog = |name: &str, key: i32| {
        let mut b = Builder::new();
        // __sk_buff.protocol (u32 at 16, network order).
        b.ldx(Size::W, R2, R1, 16)
            .jne(R2, i32::from(ETHERTYPE.to_be()), "out");
        add_to_counter(&mut b, key, None, "out");
        b.mov64(R0, -1).exit(); // TC_ACT_UNSPEC: on to the next filter
        load(ProgramSpec::new(name, ProgramType::SchedCls), &b, &map)
    };
    let (p0, p1) = (tc_prog("classic0", 0), tc_prog("classic1", 1));
    let skipped = in_new_netns(|| {
        let (va, vb) = match veth_pair() {
            Ok(p) => p,
            Err(e) => return Some(e),
        };
        let f = tc::attach(&p0, vb, tcx::Direction::Ingress, 1, 1).unwrap();
        assert_eq!((f.priority(), f.handle()), (1, 1));
        let e = tc::attach(&p0, vb, tcx::Direction::Ingress, 1, 1).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
        // Egress of the sender: a second filter, on the other device and hook.
        let g = tc::attach(&p1, va, tcx::Direction::Egress, 1, 1).unwrap();
        let rx = packet_socket(vb);
        let tx = packet_socket(va);
        send_frames(&tx, 4);
        recv_frames(&rx, 4);
        assert_eq!((counter(&map, 0), counter(&map, 1)), (4, 4));
        drop(f);
        g.detach().unwrap();
        send_frames(&tx, 2);
        recv_frames(&rx, 2);
        assert_eq!((counter(&map, 0), counter(&map, 1)), (4, 4), "both deleted");
        // attach_any: tcx where the kernel has it, else classic tc.
        let any = tcx::attach_any(&p0, vb, tcx::Direction::Ingress, 7).unwrap();
        let tcx_here = features::probe(Feature::TcxLink).unwrap();
        assert_eq!(matches!(any, tcx::TcAttachment::Tcx(_)), tcx_here);
        send_frames(&tx, 1);
        recv_frames(&rx, 1);
        assert_eq!(counter(&map, 0), 5);
        any.detach().unwrap();
        None
    });
    if let Some(reason) = skipped {
        eprintln!("SKIP classic_tc_filter_counts_and_is_deleted_on_drop: {reason}");
    }
}

#[test]
fn raw_tracepoint_counts_sys_enter() {
    require_kernel!("raw_tracepoint_counts_sys_enter");
    let map = counters(1);
    let prog = counting_prog(ProgramType::RawTracepoint, &map);
    let link = loader::attach::tracing::attach_raw_tracepoint(&prog, "sys_enter").unwrap();
    assert_eq!(link.info().unwrap().link_type, LinkType::RawTracepoint);
    for _ in 0..20 {
        // SAFETY: getpid has no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    let seen = counter(&map, 0);
    assert!(seen >= 20, "{seen} hits for 20 system calls");
    // Raw tracepoint links have no BPF_LINK_DETACH: closing the link detaches.
    assert!(link.detach().is_err());
    let before = counter(&map, 0);
    for _ in 0..20 {
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    let after = counter(&map, 0);
    assert!(after - before < 20, "closed: {} more hits", after - before);
    let e =
        loader::attach::tracing::attach_raw_tracepoint(&prog, "no_such_tracepoint_x").unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
}

#[test]
fn raw_prog_attach_and_link_create_on_a_cgroup() {
    use loader::attach::raw;
    require_kernel!("raw_prog_attach_and_link_create_on_a_cgroup");
    let cg = TempCgroup::new().unwrap();
    let dir = std::fs::File::open(cg.path()).unwrap();
    let mut b = Builder::new();
    b.mov64(R0, 1).exit();
    let prog = Program::load(
        &ProgramSpec::new("raw_ops", ProgramType::SockOps),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    let prog2 = Program::load(
        &ProgramSpec::new("raw_ops2", ProgramType::SockOps),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    let t = AttachType::CgroupSockOps;
    let multi = 1 << 1; // BPF_F_ALLOW_MULTI
    raw::prog_attach(dir.as_fd(), &prog, t, multi, None).unwrap();
    // A guard so a failed assertion still detaches.
    struct Detach<'a>(&'a std::fs::File, &'a Program);
    impl Drop for Detach<'_> {
        fn drop(&mut self) {
            let _ = raw::prog_detach(self.0.as_fd(), Some(self.1), AttachType::CgroupSockOps);
        }
    }
    let _g1 = Detach(&dir, &prog);
    let _g2 = Detach(&dir, &prog2);
    assert_eq!(
        cgroup::query(cg.path(), t).unwrap().prog_ids,
        vec![prog.id()]
    );
    // Replace prog by prog2 in place.
    raw::prog_attach(dir.as_fd(), &prog2, t, multi, Some(&prog)).unwrap();
    assert_eq!(
        cgroup::query(cg.path(), t).unwrap().prog_ids,
        vec![prog2.id()]
    );
    raw::prog_detach(dir.as_fd(), Some(&prog2), t).unwrap();
    assert!(cgroup::query(cg.path(), t).unwrap().prog_ids.is_empty());
    let e = raw::prog_detach(dir.as_fd(), Some(&prog2), t).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    // And a link through the raw layer.
    let link = raw::link_create(
        &prog,
        raw::LinkTarget::Fd(dir.as_fd()),
        t,
        0,
        raw::LinkExtra::None,
    )
    .unwrap();
    assert_eq!(link.info().unwrap().link_type, LinkType::Cgroup);
    assert_eq!(
        cgroup::query(cg.path(), t).unwrap().prog_ids,
        vec![prog.id()]
    );
    link.detach().unwrap();
    assert!(cgroup::query(cg.path(), t).unwrap().prog_ids.is_empty());
}
