//! The examples under `loader/examples/`, run for real: each is included here as a module and
//! its effect checked (bytes counted, packets counted, events received). This file runs in the
//! kernel tier and in the kernel matrix, like every loader test.

use std::ffi::CString;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use loader::testing::net::{
    in_new_netns, packet_socket, recv_frames, send_frames, veth_pair, ETHERTYPE,
};
use loader::testing::{kernel_or_skip, with_tracefs, TempCgroup};
use loader::{features, Feature};

#[path = "../examples/cgroup_egress_bytes.rs"]
#[allow(dead_code)]
mod cgroup_egress_bytes;
#[path = "../examples/ethertype_filter.rs"]
#[allow(dead_code)]
mod ethertype_filter;
#[path = "../examples/exec_events.rs"]
#[allow(dead_code)]
mod exec_events;
#[path = "../examples/xdp_counter.rs"]
#[allow(dead_code)]
mod xdp_counter;

/// Forks a child that joins `cgroup`, connects to `to` over TCP, sends `n` bytes and exits.
/// Returns the child's exit status (0 when everything worked). The child only makes raw
/// system calls on buffers prepared before the fork.
fn send_from_cgroup(cgroup: &Path, to: SocketAddrV4, n: usize) -> i32 {
    let procs = CString::new(
        cgroup
            .join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .expect("no NUL in a cgroup path");
    let chunk = [0x5au8; 4096];
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: to.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*to.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: after fork the child calls only async-signal-safe functions on memory prepared
    // above, and leaves with _exit.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // Writing "0" to cgroup.procs moves the writer.
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                libc::_exit(10);
            }
            libc::close(fd);
            let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if s < 0 {
                libc::_exit(11);
            }
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::connect(s, (&sa as *const libc::sockaddr_in).cast(), len) != 0 {
                libc::_exit(12);
            }
            let mut left = n;
            while left > 0 {
                let w = libc::write(s, chunk.as_ptr().cast(), left.min(chunk.len()));
                if w <= 0 {
                    libc::_exit(13);
                }
                left -= w as usize;
            }
            libc::close(s);
            libc::_exit(0);
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        }
    }
}

/// Sends `n` broadcast frames of ethertype ARP with a zero payload (ARP drops them) out of
/// the packet socket `tx`.
fn send_arp_typed_frames(tx: &std::os::fd::OwnedFd, n: usize) {
    let mut arp = [0u8; 60];
    arp[..6].copy_from_slice(&[0xff; 6]);
    arp[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    for _ in 0..n {
        // SAFETY: send reads `arp.len()` bytes of the live buffer.
        let r = unsafe { libc::send(tx.as_raw_fd(), arp.as_ptr().cast(), arp.len(), 0) };
        assert_eq!(r, 60, "send: {}", std::io::Error::last_os_error());
    }
}

#[test]
fn cgroup_egress_bytes_counts_what_the_cgroup_sends() {
    if !kernel_or_skip("cgroup_egress_bytes_counts_what_the_cgroup_sends") {
        return;
    }
    let cg = TempCgroup::new().expect("a child cgroup");
    let counter = cgroup_egress_bytes::attach(cg.path()).expect("attach the example");
    assert_eq!(
        counter.bytes().unwrap(),
        0,
        "nothing sent from the cgroup yet"
    );

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = match listener.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        a => panic!("not IPv4: {a}"),
    };
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got.len()
    });
    const N: usize = 1 << 20;
    assert_eq!(send_from_cgroup(cg.path(), addr, N), 0, "the sending child");
    assert_eq!(reader.join().unwrap(), N);

    // Egress packets of the cgroup's socket: the payload plus IP and TCP headers of every
    // segment (and the handshake), so at least N and less than twice N.
    let bytes = counter.bytes().unwrap();
    assert!(bytes >= N as u64, "counted {bytes} bytes for {N} sent");
    assert!(bytes < 2 * N as u64, "counted {bytes} bytes for {N} sent");

    // Traffic from this process (not in the cgroup) is not counted.
    let before = counter.bytes().unwrap();
    let l2 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut c = std::net::TcpStream::connect(l2.local_addr().unwrap()).unwrap();
    std::io::Write::write_all(&mut c, &[1u8; 4096]).unwrap();
    drop(c);
    assert_eq!(counter.bytes().unwrap(), before);
    counter.detach().unwrap();
}

#[test]
fn xdp_counter_counts_the_frames_a_veth_receives() {
    if !kernel_or_skip("xdp_counter_counts_the_frames_a_veth_receives") {
        return;
    }
    if !features::probe(Feature::XdpLink).unwrap() {
        eprintln!("SKIP xdp_counter_counts_the_frames_a_veth_receives: no XDP links (Linux 5.9)");
        return;
    }
    in_new_netns(|| {
        let (va, vb) = match veth_pair() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("SKIP xdp_counter_counts_the_frames_a_veth_receives: {e}");
                return;
            }
        };
        let counter = xdp_counter::attach(vb).expect("attach the example");
        let tx = packet_socket(va);
        let rx = packet_socket(vb);
        const N: usize = 25;
        // First, three frames that claim to be ARP (garbage after the header: ARP drops them
        // after XDP has counted them); no address is configured, so no real ARP is sent.
        send_arp_typed_frames(&tx, 3);
        // Then N of the experimental ethertype: in order behind the ARP ones on one queue.
        send_frames(&tx, N);
        // Received by a packet socket on vb: XDP has seen every one of them by then.
        recv_frames(&rx, N);
        let c = counter.counts().unwrap();
        // Frames of the experimental ethertype are "other"; nothing else in this fresh
        // namespace sends such frames (IPv6 neighbour discovery counts as ipv6).
        assert_eq!(c[3], N as u64, "counts {c:?}");
        assert_eq!(c[2], 3, "three ARP-typed frames: {c:?}");
        assert_eq!(c[0], 0, "no IPv4 was sent: {c:?}");
        counter.detach().unwrap();
    });
}

#[test]
fn ethertype_filter_keeps_only_its_ethertype() {
    if !kernel_or_skip("ethertype_filter_keeps_only_its_ethertype") {
        return;
    }
    in_new_netns(|| {
        let (va, vb) = match veth_pair() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("SKIP ethertype_filter_keeps_only_its_ethertype: {e}");
                return;
            }
        };
        let sock = ethertype_filter::packet_socket_all(vb).unwrap();
        let prog = ethertype_filter::load(ETHERTYPE).unwrap();
        loader::attach::socket_filter::attach(sock.as_fd(), &prog).unwrap();
        let mut buf = vec![0u8; 2048];
        // Frames queued before the filter was attached (IPv6 neighbour discovery) go first.
        while ethertype_filter::recv_frame(&sock, &mut buf, 0)
            .unwrap()
            .is_some()
        {}

        let tx = packet_socket(va);
        send_arp_typed_frames(&tx, 3);
        const N: usize = 10;
        send_frames(&tx, N);
        for i in 0..N {
            let n = ethertype_filter::recv_frame(&sock, &mut buf, 20_000)
                .unwrap()
                .unwrap_or_else(|| panic!("frame {i} did not arrive"));
            assert_eq!(n, 60, "frame {i} is whole");
            assert_eq!(&buf[12..14], &ETHERTYPE.to_be_bytes(), "frame {i}");
        }
        // The ARP-typed frames, sent first, were dropped by the filter, not queued.
        assert_eq!(
            ethertype_filter::recv_frame(&sock, &mut buf, 100).unwrap(),
            None
        );

        // Detached, the socket sees every frame again.
        loader::attach::socket_filter::detach(sock.as_fd()).unwrap();
        send_arp_typed_frames(&tx, 1);
        let n = ethertype_filter::recv_frame(&sock, &mut buf, 20_000).unwrap();
        assert_eq!(n, Some(60));
        assert_eq!(&buf[12..14], &0x0806u16.to_be_bytes());
    });
}

#[test]
fn exec_events_reports_a_started_process() {
    let test = "exec_events_reports_a_started_process";
    if !kernel_or_skip(test) {
        return;
    }
    if !features::probe(Feature::MapType(loader::MapType::RingBuf)).unwrap() {
        eprintln!("SKIP {test}: no ring buffer maps (Linux 5.8)");
        return;
    }
    let r = with_tracefs(|| {
        let mut events = exec_events::attach().expect("attach the example");
        // This test binary, run again just to list its tests: an exec whose pid we know and
        // whose command name is the binary's file name (the kernel keeps 15 bytes of it).
        let exe = std::env::current_exe().unwrap();
        let child = std::process::Command::new(&exe)
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let name = exe.file_name().unwrap().to_string_lossy().into_owned();
        let comm: String = name.chars().take(15).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            let batch = events.poll(std::time::Duration::from_millis(200)).unwrap();
            if let Some(e) = batch.iter().find(|e| e.pid == pid) {
                assert_eq!(e.comm, comm, "the exec event of pid {pid}");
                events.detach().unwrap();
                return;
            }
            seen.extend(batch);
        }
        panic!("no exec event for pid {pid} in 20 s; saw {seen:?}");
    });
    if let Err(e) = r {
        eprintln!("SKIP {test}: {e}");
    }
}
