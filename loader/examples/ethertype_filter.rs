//! A socket filter (`SO_ATTACH_BPF`) written in the DSL: a packet socket that sees every frame
//! of a device keeps only the frames of one ethertype, like `tcpdump ether proto 0x88b5`. The
//! program reads `skb->protocol` and returns the frame's length (keep it whole) or 0 (drop).
//!
//! ```text
//! cargo run -p loader --example ethertype_filter -- eth0 0x0806 10
//! ```
//!
//! counts the ARP frames `eth0` receives for 10 seconds. Needs root (a packet socket and
//! `bpf()`); socket filters date from Linux 3.19. The loader's kernel tests check on a veth pair
//! in a namespace of their own that only frames of the chosen ethertype reach the socket
//! (`loader/tests/examples.rs`).

use std::error::Error;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use asm::{Builder, Reg::*, Size};
use loader::attach::socket_filter;
use loader::{Program, ProgramSpec, ProgramType};

/// The program for `ethertype` (host order): `return skb->protocol == ethertype ? skb->len : 0`.
pub fn program(ethertype: u16) -> Result<asm::Program, asm::AsmError> {
    use uapi::ctx::__sk_buff;
    let mut b = Builder::new();
    b.ldx(Size::W, R2, R1, __sk_buff::PROTOCOL)
        .be(R2, 16) // network order to host order
        .mov64(R0, 0)
        .jne(R2, i32::from(ethertype), "out")
        .ldx(Size::W, R0, R1, __sk_buff::LEN)
        .label("out")
        .exit();
    b.build()
}

/// Loads the filter for `ethertype`.
pub fn load(ethertype: u16) -> Result<Program, Box<dyn Error>> {
    Ok(Program::load(
        &ProgramSpec::new("ethertype_flt", ProgramType::SocketFilter),
        &program(ethertype)?,
        &[],
    )?)
}

/// A packet socket receiving every frame (`ETH_P_ALL`) of device `ifindex`, before any
/// filter is attached.
pub fn packet_socket_all(ifindex: u32) -> std::io::Result<OwnedFd> {
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket and bind with a sockaddr_ll that lives for the call, its size passed.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(all),
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = all;
        sll.sll_ifindex = ifindex as i32;
        let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        if libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            len,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// Receives one frame into `buf` waiting at most `timeout_ms`: `Ok(None)` on timeout.
pub fn recv_frame(
    sock: &OwnedFd,
    buf: &mut [u8],
    timeout_ms: i32,
) -> std::io::Result<Option<usize>> {
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one live pollfd; recv writes at most buf.len() bytes into buf.
    unsafe {
        match libc::poll(&mut pfd, 1, timeout_ms) {
            0 => return Ok(None),
            n if n < 0 => return Err(std::io::Error::last_os_error()),
            _ => {}
        }
        let n = libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Some(n as usize))
    }
}

#[allow(dead_code)] // the kernel tests include this file as a module
fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: ethertype_filter <device> <ethertype, e.g. 0x0806> [seconds]";
    let dev = args.next().ok_or(usage)?;
    let et = args.next().ok_or(usage)?;
    let ethertype = u16::from_str_radix(et.trim_start_matches("0x"), 16)?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let name = std::ffi::CString::new(dev.clone())?;
    // SAFETY: if_nametoindex reads the NUL-terminated name, alive for the call.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no device {dev}").into());
    }
    let sock = packet_socket_all(ifindex)?;
    let prog = load(ethertype)?;
    socket_filter::attach(sock.as_fd(), &prog)?;
    let end = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let (mut frames, mut buf) = (0u64, vec![0u8; 65536]);
    while std::time::Instant::now() < end {
        if recv_frame(&sock, &mut buf, 200)?.is_some() {
            frames += 1;
        }
    }
    println!("{frames} frames of ethertype {ethertype:#06x} on {dev} in {seconds} s");
    Ok(())
}
