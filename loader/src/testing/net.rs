//! Network fixtures for kernel tests: a thread with a network namespace of its own, a veth
//! pair in it, and raw frames of an experimental ethertype sent and received on a device.
//! Test support: these panic on failures a test cannot go on from, and say so.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

use nix::sched::{unshare, CloneFlags};

/// Runs `f` in a new thread with a network namespace of its own (gone when the thread ends,
/// with every device made in it). Panics propagate; panics when `unshare` fails.
pub fn in_new_netns<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        match s
            .spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
                f()
            })
            .join()
        {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Runs `ip <args>` (in the calling thread's network namespace); `Err` with its output when
/// it fails or is missing.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Makes the veth pair `va`/`vb` (both up) in the calling thread's namespace; returns their
/// ifindexes. `Err` when `ip` is missing or cannot make a veth pair (a test may skip then).
pub fn veth_pair() -> Result<(u32, u32), String> {
    ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])?;
    ip(&["link", "set", "va", "up"])?;
    ip(&["link", "set", "vb", "up"])?;
    Ok((ifindex("va"), ifindex("vb")))
}

/// The ifindex of device `name` in the calling thread's namespace; panics when there is none.
pub fn ifindex(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: if_nametoindex reads the NUL-terminated string, alive for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert!(i > 0, "no device {name}");
    i
}

/// An ethertype from the IEEE local experimental range: nothing else sends it.
pub const ETHERTYPE: u16 = 0x88b5;

/// A packet socket on device `ifindex` for [`ETHERTYPE`] frames (bound to that protocol, so it
/// sees frames after generic XDP and tc ingress have run).
pub fn packet_socket(ifindex: u32) -> OwnedFd {
    // SAFETY: plain socket/bind calls; the sockaddr lives for the call and its size is passed.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETHERTYPE.to_be()),
        );
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETHERTYPE.to_be();
        sll.sll_ifindex = ifindex as i32;
        let r = libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        fd
    }
}

/// Sends `n` broadcast frames of [`ETHERTYPE`] out of the packet socket `fd` (bound to the
/// sending device).
pub fn send_frames(fd: &OwnedFd, n: usize) {
    let mut frame = [0u8; 60];
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    frame[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    for _ in 0..n {
        // SAFETY: send reads `frame.len()` bytes from the live buffer.
        let r = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(r, 60, "send: {}", std::io::Error::last_os_error());
    }
}

/// Receives `n` frames on `fd` (blocking, with a generous timeout against a hang).
pub fn recv_frames(fd: &OwnedFd, n: usize) {
    let tv = libc::timeval {
        tv_sec: 20,
        tv_usec: 0,
    };
    let mut buf = [0u8; 2048];
    // SAFETY: setsockopt reads the timeval; recv writes at most buf.len() bytes into buf.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
        for i in 0..n {
            let r = libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0);
            assert!(r > 0, "frame {i}: {}", std::io::Error::last_os_error());
        }
    }
}
