//! The child side of the end-to-end tests: the test binary re-executed with `TB_E2E_ROLE`
//! set runs one role (`server` or `client`) in a process that first joins the test's cgroup
//! (and, when asked, a network namespace), then moves real bytes over real sockets and
//! reports what it saw on stdout, one `@e2e …` line per fact. The test runner itself never
//! joins a cgroup or a namespace.
//!
//! Every byte sent is the keystream of its connection and direction (`keystream`), so the
//! receiver checks each byte at its position: a lost, duplicated or reordered byte shows as a
//! mismatch at a known offset, and both ends also report an FNV-1a hash of the whole stream.
//!
//! Wire protocol: the client's first 16 bytes are a header (connection id, flags, number of
//! bytes the server must send back, `u64::MAX` = until the client's EOF); everything after is
//! keystream. With `greet=1` the server speaks first: right after `accept` it writes a 16-byte
//! greeting (derived from the run), and the client reads and checks all of it before it
//! writes anything. `accept` returns only after the server's `PASSIVE_ESTABLISHED` has run
//! (the new socket stays locked until the handshake's last segment is processed), so a client
//! that has the greeting knows the pairing is decided: its first write cannot race the
//! handshake. Tests about that race leave `greet` off.
//!
//! Progress: on the stdin command `progress` a child prints
//! `@e2e progress sent=<bytes> received=<bytes>` (keystream bytes over all its connections),
//! so the runner can wait for real data flow instead of sleeping.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Keystream bytes this process sent, over all connections (for `progress`).
static SENT_ALL: AtomicU64 = AtomicU64::new(0);
/// Keystream bytes this process received, over all connections (for `progress`).
static RECV_ALL: AtomicU64 = AtomicU64::new(0);

/// Length of the server's greeting (`greet=1`).
pub const GREETING_LEN: usize = 16;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Header flag: the client closes abruptly (RST) after part of its data.
pub const F_ABRUPT: u32 = 1;
/// Header flag: this end sends part of its data with sendfile/splice from a file.
pub const F_SENDFILE: u32 = 2;
/// Header flag: the client sends until told to stop (stream mode).
pub const F_STREAM: u32 = 4;

/// Environment variable selecting the role.
pub const ROLE_ENV: &str = "TB_E2E_ROLE";

// ---------------------------------------------------------------- keystream, hash, rng

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with the keystream of `seed` starting at stream offset `pos`.
pub fn keystream(seed: u64, pos: u64, buf: &mut [u8]) {
    let mut i = 0usize;
    let mut p = pos;
    while i < buf.len() {
        let block = splitmix(seed ^ (p / 8).wrapping_mul(0xD6E8_FEB8_6659_FD93)).to_le_bytes();
        let off = (p % 8) as usize;
        let n = (8 - off).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&block[off..off + n]);
        i += n;
        p += n as u64;
    }
}

/// Streaming FNV-1a 64.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);
impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn update(&mut self, data: &[u8]) {
        let mut h = self.0;
        for b in data {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// xorshift64*.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Log-uniform in 1..=max.
    pub fn size(&mut self, max: usize) -> usize {
        let bits = 64 - (max as u64).leading_zeros();
        let b = (self.next() % bits as u64) as u32;
        let lo = 1u64 << b;
        let v = lo + self.next() % lo;
        (v as usize).clamp(1, max)
    }
}

/// The seed of one direction of one connection.
pub fn seed(run: u64, conn: u32, dir: u32) -> u64 {
    splitmix(run ^ ((conn as u64) << 8) ^ dir as u64)
}

// ---------------------------------------------------------------- plan

/// What a child does, parsed from `TB_E2E_PLAN` (`key=value` pairs separated by `;`).
#[derive(Clone, Debug)]
pub struct Plan {
    pub role: String,
    pub run: u64,
    /// server: listen address; client: address to connect to.
    pub addr: SocketAddr,
    /// client: local address to bind (port 0 = any) before connecting.
    pub bind: Option<SocketAddr>,
    /// client: connections at start; server: connections to expect in total.
    pub conns: u32,
    /// client: connection ids start here.
    pub first_id: u32,
    /// client: connections opened on the stdin command `more`.
    pub more: u32,
    /// `epoll` or `blocking`.
    pub mode: String,
    /// client: largest number of bytes per direction (random 0..=max, or exactly max when
    /// `fixed`).
    pub max_bytes: u64,
    pub fixed: bool,
    pub max_write: usize,
    pub max_read: usize,
    /// client: every k-th connection sends with sendfile/splice (0 = none).
    pub sendfile_every: u32,
    /// client: every k-th connection closes abruptly (0 = none).
    pub abrupt_every: u32,
    /// client: stream until the stdin command `stop`.
    pub stream: bool,
    /// pause after each write in stream mode (ms).
    pub pace_ms: u64,
    /// Seconds after which the child gives up (prints `@e2e timeout …` and exits 3).
    pub deadline_s: u64,
    /// server: sleep this long after accepting before reading (provokes late reads).
    pub late_read_ms: u64,
    /// Server speaks first: a greeting right after accept, which the client reads fully
    /// before it writes (see the module doc).
    pub greet: bool,
}

impl Plan {
    pub fn parse(s: &str) -> Plan {
        let kv: HashMap<&str, &str> = s
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').expect("key=value"))
            .collect();
        let get = |k: &str| kv.get(k).copied();
        let num = |k: &str, d: u64| get(k).map(|v| v.parse().expect(k)).unwrap_or(d);
        Plan {
            role: get("role").expect("role").to_string(),
            run: num("run", 1),
            addr: get("addr").expect("addr").parse().expect("addr"),
            bind: get("bind").map(|v| v.parse().expect("bind")),
            conns: num("conns", 1) as u32,
            first_id: num("first_id", 0) as u32,
            more: num("more", 0) as u32,
            mode: get("mode").unwrap_or("epoll").to_string(),
            max_bytes: num("max_bytes", 1 << 20),
            fixed: num("fixed", 0) == 1,
            max_write: num("max_write", 1 << 20) as usize,
            max_read: num("max_read", 256 << 10) as usize,
            sendfile_every: num("sendfile_every", 0) as u32,
            abrupt_every: num("abrupt_every", 0) as u32,
            stream: num("stream", 0) == 1,
            pace_ms: num("pace_ms", 0),
            deadline_s: num("deadline_s", 50),
            late_read_ms: num("late_read_ms", 0),
            greet: num("greet", 0) == 1,
        }
    }
}

// ---------------------------------------------------------------- raw sockets

/// Shared with the scale test's pod child (tests/scale/child.rs).
pub fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn sockaddr(a: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; we fill the variant matching the family.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

fn setopt(fd: RawFd, level: i32, name: i32, val: i32) -> std::io::Result<()> {
    // SAFETY: setsockopt with an int value.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &val as *const i32 as *const libc::c_void,
            4,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn new_socket(a: &SocketAddr) -> std::io::Result<OwnedFd> {
    let fam = if a.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(fam, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: fd is a new socket we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: RawFd, a: &SocketAddr) -> std::io::Result<()> {
    let (ss, len) = sockaddr(a);
    // SAFETY: ss holds a valid sockaddr of length len.
    if unsafe { libc::bind(fd, &ss as *const _ as *const libc::sockaddr, len) } < 0 {
        return Err(errno());
    }
    Ok(())
}

pub fn listen(a: &SocketAddr) -> std::io::Result<OwnedFd> {
    let fd = new_socket(a)?;
    setopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if a.is_ipv6() {
        setopt(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    bind(fd.as_raw_fd(), a)?;
    // SAFETY: listen on our socket.
    if unsafe { libc::listen(fd.as_raw_fd(), 1024) } < 0 {
        return Err(errno());
    }
    Ok(fd)
}

/// A blocking connect (optionally from `local`).
pub fn connect(to: &SocketAddr, local: Option<&SocketAddr>) -> std::io::Result<OwnedFd> {
    let fd = new_socket(to)?;
    if let Some(l) = local {
        setopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        bind(fd.as_raw_fd(), l)?;
    }
    let (ss, len) = sockaddr(to);
    // SAFETY: ss holds a valid sockaddr.
    if unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    } < 0
    {
        return Err(errno());
    }
    Ok(fd)
}

fn accept(l: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: accept4 without an address.
    let fd = unsafe {
        libc::accept4(
            l,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_nonblocking(fd: RawFd, on: bool) {
    // SAFETY: fcntl flag change on our fd.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        let fl = if on {
            fl | libc::O_NONBLOCK
        } else {
            fl & !libc::O_NONBLOCK
        };
        libc::fcntl(fd, libc::F_SETFL, fl);
    }
}

/// Shared with the scale test's pod child (tests/scale/child.rs).
pub fn send(fd: RawFd, b: &[u8]) -> std::io::Result<usize> {
    // SAFETY: b is a valid buffer.
    let r = unsafe { libc::send(fd, b.as_ptr() as *const _, b.len(), libc::MSG_NOSIGNAL) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// Shared with the scale test's pod child (tests/scale/child.rs).
pub fn recv(fd: RawFd, b: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: b is a valid buffer.
    let r = unsafe { libc::recv(fd, b.as_mut_ptr() as *mut _, b.len(), 0) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

fn shutdown_wr(fd: RawFd) {
    // SAFETY: shutdown on our socket.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

fn abort_close(fd: OwnedFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: SO_LINGER with a linger struct, then close by drop.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    drop(fd);
}

/// A memfd holding `len` bytes of keystream `seed` from offset 0.
fn keystream_file(seed: u64, len: u64) -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create with a static name.
    let fd = unsafe { libc::memfd_create(c"tb-e2e".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: new fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut f = std::fs::File::from(fd.try_clone()?);
    let mut buf = vec![0u8; 1 << 16];
    let mut pos = 0u64;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        keystream(seed, pos, &mut buf[..n]);
        f.write_all(&buf[..n])?;
        pos += n as u64;
    }
    Ok(fd)
}

// ---------------------------------------------------------------- one end of a connection

/// Report of one end.
#[derive(Default, Debug)]
struct EndReport {
    sent: u64,
    send_hash: u64,
    received: u64,
    recv_hash: u64,
    mismatch: Option<u64>,
    error: Option<String>,
    eagain: u64,
    reset: bool,
}

struct Sender {
    seed: u64,
    /// None: until `stop`.
    total: Option<u64>,
    sent: u64,
    hash: Fnv,
    rng: Rng,
    max_write: usize,
    file: Option<OwnedFd>,
    /// Use the file for every other chunk (sendfile), alternating with splice.
    file_turn: u32,
    abrupt_at: Option<u64>,
    done: bool,
    buf: Vec<u8>,
    pace: Duration,
}

impl Sender {
    fn remaining(&self, stop: bool) -> u64 {
        match self.total {
            Some(t) => t - self.sent,
            None if stop => 0,
            None => u64::MAX,
        }
    }

    /// One write (sendfile/splice/send) of a random size; returns bytes written.
    fn write_once(&mut self, fd: RawFd, stop: bool) -> std::io::Result<usize> {
        let left = self.remaining(stop);
        let mut n = (self.rng.size(self.max_write) as u64).min(left) as usize;
        if let Some(a) = self.abrupt_at {
            n = n.min((a - self.sent) as usize);
        }
        if n == 0 {
            return Ok(0);
        }
        let mut hashed = false;
        let w = if let Some(file) = &self.file {
            self.file_turn += 1;
            if self.file_turn % 2 == 0 {
                let mut off = self.sent as libc::off_t;
                // SAFETY: sendfile between our fds.
                let r = unsafe { libc::sendfile(fd, file.as_raw_fd(), &mut off, n) };
                if r < 0 {
                    return Err(errno());
                }
                r as usize
            } else {
                splice_file(fd, file.as_raw_fd(), self.sent, n)?
            }
        } else {
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
            keystream(self.seed, self.sent, &mut self.buf[..n]);
            let w = send(fd, &self.buf[..n])?;
            self.hash.update(&self.buf[..w]);
            hashed = true;
            w
        };
        if w > 0 && !hashed {
            if self.buf.len() < w {
                self.buf.resize(w, 0);
            }
            keystream(self.seed, self.sent, &mut self.buf[..w]);
            self.hash.update(&self.buf[..w]);
        }
        self.sent += w as u64;
        SENT_ALL.fetch_add(w as u64, Ordering::Relaxed);
        Ok(w)
    }
}

/// splice(file → pipe → socket) of `n` bytes at file offset `off`; returns bytes that reached
/// the socket (the rest is pushed before returning, blocking, so nothing stays in the pipe).
fn splice_file(sock: RawFd, file: RawFd, off: u64, n: usize) -> std::io::Result<usize> {
    let mut p = [0i32; 2];
    // SAFETY: pipe2 fills two fds.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(errno());
    }
    // SAFETY: the pipe fds are ours.
    let (rp, wp) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    let mut o = off as libc::loff_t;
    let n = n.min(64 << 10);
    // SAFETY: splice between our fds.
    let got = unsafe { libc::splice(file, &mut o, wp.as_raw_fd(), std::ptr::null_mut(), n, 0) };
    if got < 0 {
        return Err(errno());
    }
    let mut left = got as usize;
    let mut out = 0;
    let start = Instant::now();
    while left > 0 {
        // SAFETY: splice pipe → socket.
        let r = unsafe {
            libc::splice(
                rp.as_raw_fd(),
                std::ptr::null_mut(),
                sock,
                std::ptr::null_mut(),
                left,
                libc::SPLICE_F_MOVE,
            )
        };
        if r < 0 {
            let e = errno();
            if e.kind() == std::io::ErrorKind::WouldBlock
                && start.elapsed() < Duration::from_secs(20)
            {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            return Err(e);
        }
        left -= r as usize;
        out += r as usize;
    }
    Ok(out)
}

struct Receiver {
    seed: u64,
    received: u64,
    hash: Fnv,
    mismatch: Option<u64>,
    rng: Rng,
    max_read: usize,
    buf: Vec<u8>,
    expect: Vec<u8>,
}

impl Receiver {
    fn new(seed: u64, max_read: usize, rng_seed: u64) -> Receiver {
        Receiver {
            seed,
            received: 0,
            hash: Fnv::new(),
            mismatch: None,
            rng: Rng::new(rng_seed),
            max_read,
            buf: vec![0; max_read],
            expect: vec![0; max_read],
        }
    }

    /// One recv of a random size: Ok(0) = EOF.
    fn read_once(&mut self, fd: RawFd) -> std::io::Result<usize> {
        let n = self.rng.size(self.max_read);
        let r = recv(fd, &mut self.buf[..n])?;
        self.take(r);
        Ok(r)
    }

    fn take(&mut self, r: usize) {
        if r == 0 {
            return;
        }
        let data = &self.buf[..r];
        self.hash.update(data);
        if self.mismatch.is_none() {
            keystream(self.seed, self.received, &mut self.expect[..r]);
            if let Some(i) = data.iter().zip(&self.expect[..r]).position(|(a, b)| a != b) {
                self.mismatch = Some(self.received + i as u64);
            }
        }
        self.received += r as u64;
        RECV_ALL.fetch_add(r as u64, Ordering::Relaxed);
    }
}

/// The greeting of run `run`.
pub fn greeting(run: u64) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    keystream(seed(run, u32::MAX, 7), 0, &mut g);
    g
}

/// Writes all of `b` on a blocking socket.
fn send_all(fd: RawFd, b: &[u8]) -> std::io::Result<()> {
    let mut off = 0;
    while off < b.len() {
        match send(fd, &b[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Server, `greet=1`: the greeting, written right after accept on the (still blocking) socket.
fn send_greeting(p: &Plan, fd: RawFd) -> std::io::Result<()> {
    send_all(fd, &greeting(p.run))
}

/// Client, `greet=1`: reads exactly the greeting (never a byte more) on a blocking socket and
/// checks it. Blocking `recv` on a socket in the sockhash may return EAGAIN (the quirk of
/// docs/operations.md): it is retried.
fn read_greeting(p: &Plan, fd: RawFd) -> std::io::Result<()> {
    let mut g = [0u8; GREETING_LEN];
    let mut got = 0;
    while got < GREETING_LEN {
        match recv(fd, &mut g[got..]) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("EOF after {got} bytes of the greeting"),
                ))
            }
            Ok(n) => got += n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if g != greeting(p.run) {
        return Err(std::io::Error::other(format!(
            "wrong greeting {g:02x?}, want {:02x?}",
            greeting(p.run)
        )));
    }
    Ok(())
}

fn header(id: u32, flags: u32, back: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&id.to_le_bytes());
    h[4..8].copy_from_slice(&flags.to_le_bytes());
    h[8..16].copy_from_slice(&back.to_le_bytes());
    h
}

/// Whether a header is one a client of this harness writes.
fn header_ok(id: u32, flags: u32, back: u64) -> bool {
    id < 1 << 20 && flags < 8 && (back == u64::MAX || back < 1 << 40)
}

fn parse_header(h: &[u8; 16]) -> (u32, u32, u64) {
    (
        u32::from_le_bytes(h[0..4].try_into().unwrap()),
        u32::from_le_bytes(h[4..8].try_into().unwrap()),
        u64::from_le_bytes(h[8..16].try_into().unwrap()),
    )
}

/// What a client connection will do (derived from the plan and the id).
struct ConnPlan {
    id: u32,
    flags: u32,
    c2s: Option<u64>,
    s2c: Option<u64>,
    abrupt_at: Option<u64>,
}

fn conn_plan(p: &Plan, id: u32) -> ConnPlan {
    let mut rng = Rng::new(p.run ^ 0x5eed ^ id as u64);
    let pick = |rng: &mut Rng| {
        if p.fixed {
            p.max_bytes
        } else {
            rng.next() % (p.max_bytes + 1)
        }
    };
    let c2s = pick(&mut rng);
    let s2c = pick(&mut rng);
    let k = id - p.first_id + 1;
    let mut flags = 0;
    if p.sendfile_every > 0 && k % p.sendfile_every == 0 && !p.stream {
        flags |= F_SENDFILE;
    }
    let abrupt = p.abrupt_every > 0 && k % p.abrupt_every == 0 && !p.stream;
    if abrupt {
        flags |= F_ABRUPT;
    }
    if p.stream {
        flags |= F_STREAM;
    }
    ConnPlan {
        id,
        flags,
        c2s: if p.stream { None } else { Some(c2s.max(2)) },
        s2c: if p.stream { None } else { Some(s2c) },
        abrupt_at: abrupt.then(|| (c2s.max(2)) / 2),
    }
}

fn report(kind: &str, id: u32, r: &EndReport) {
    println!(
        "@e2e conn role={kind} id={id} sent={} send_hash={:016x} received={} recv_hash={:016x} mismatch={} eagain={} reset={} error={}",
        r.sent,
        r.send_hash,
        r.received,
        r.recv_hash,
        r.mismatch.map_or("none".to_string(), |m| m.to_string()),
        r.eagain,
        r.reset,
        r.error.as_deref().unwrap_or("none").replace(' ', "_"),
    );
    let _ = std::io::stdout().flush();
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNRESET) | Some(libc::EPIPE))
}

// ---------------------------------------------------------------- blocking engine

/// A blocking end: this thread reads, a second thread writes, on the same socket.
fn blocking_end(
    fd: OwnedFd,
    sender: Sender,
    mut receiver: Receiver,
    stop: Arc<AtomicBool>,
    abrupt: bool,
    peer_eof_stops_sending: bool,
) -> EndReport {
    let wfd = fd.as_raw_fd();
    let peer_eof = Arc::new(AtomicBool::new(false));
    let peer_eof2 = peer_eof.clone();
    let fd = Arc::new(Mutex::new(Some(fd)));
    let fd_w = fd.clone();
    let writer = std::thread::spawn(move || {
        let mut s = sender;
        let mut err = None;
        loop {
            let stopping = stop.load(Ordering::SeqCst)
                || (peer_eof_stops_sending && peer_eof2.load(Ordering::SeqCst));
            if s.remaining(stopping) == 0 || s.abrupt_at == Some(s.sent) {
                break;
            }
            match s.write_once(wfd, stopping) {
                Ok(_) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
            if !s.pace.is_zero() {
                std::thread::sleep(s.pace);
            }
        }
        if s.abrupt_at.is_some() && err.is_none() {
            if let Some(f) = fd_w.lock().unwrap().take() {
                abort_close(f);
            }
        } else if err.is_none() {
            shutdown_wr(wfd);
        }
        (s, err)
    });
    let mut rep = EndReport::default();
    if !abrupt {
        loop {
            match receiver.read_once(wfd) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => rep.eagain += 1,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if is_reset(&e) {
                        rep.reset = true;
                    }
                    rep.error = Some(format!("recv: {e}"));
                    break;
                }
            }
        }
    }
    peer_eof.store(true, Ordering::SeqCst);
    let (s, werr) = writer.join().expect("writer thread");
    if let Some(e) = werr {
        if is_reset(&e) {
            rep.reset = true;
        }
        rep.error.get_or_insert(format!("send: {e}"));
    }
    drop(fd);
    rep.sent = s.sent;
    rep.send_hash = s.hash.0;
    rep.received = receiver.received;
    rep.recv_hash = receiver.hash.0;
    rep.mismatch = receiver.mismatch;
    rep
}

fn read_header_blocking(fd: RawFd) -> std::io::Result<([u8; 16], u64)> {
    let mut h = [0u8; 16];
    let mut got = 0;
    let mut eagain = 0;
    while got < 16 {
        match recv(fd, &mut h[got..]) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "EOF in header",
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => eagain += 1,
            Err(e) => return Err(e),
        }
    }
    Ok((h, eagain))
}

fn make_sender(
    p: &Plan,
    seed: u64,
    total: Option<u64>,
    flags: u32,
    abrupt_at: Option<u64>,
) -> Sender {
    let file = if flags & F_SENDFILE != 0 {
        Some(keystream_file(seed, total.unwrap_or(0)).expect("memfd"))
    } else {
        None
    };
    Sender {
        seed,
        total,
        sent: 0,
        hash: Fnv::new(),
        rng: Rng::new(seed ^ 0x77),
        max_write: p.max_write,
        file,
        file_turn: 0,
        abrupt_at,
        done: false,
        buf: Vec::new(),
        pace: Duration::from_millis(p.pace_ms),
    }
}

fn client_blocking(p: Plan, stop: Arc<AtomicBool>, more: std::sync::mpsc::Receiver<()>) {
    let mut handles = Vec::new();
    let spawn_conn = |id: u32, handles: &mut Vec<std::thread::JoinHandle<()>>| {
        let p = p.clone();
        let stop = stop.clone();
        let fd = match connect(&p.addr, p.bind.as_ref()) {
            Ok(fd) => fd,
            Err(e) => {
                report(
                    "client",
                    id,
                    &EndReport {
                        error: Some(format!("connect: {e}")),
                        ..Default::default()
                    },
                );
                return;
            }
        };
        handles.push(std::thread::spawn(move || {
            let cp = conn_plan(&p, id);
            let h = header(id, cp.flags, cp.s2c.unwrap_or(u64::MAX));
            if p.greet {
                if let Err(e) = read_greeting(&p, fd.as_raw_fd()) {
                    let rep = EndReport {
                        error: Some(format!("greeting: {e}")),
                        ..Default::default()
                    };
                    report("client", id, &rep);
                    return;
                }
            }
            let mut rep_err = None;
            if let Err(e) = send(fd.as_raw_fd(), &h) {
                rep_err = Some(format!("header: {e}"));
            }
            let sender = make_sender(&p, seed(p.run, id, 0), cp.c2s, cp.flags, cp.abrupt_at);
            let receiver = Receiver::new(seed(p.run, id, 1), p.max_read, seed(p.run, id, 9));
            let mut rep = blocking_end(fd, sender, receiver, stop, cp.flags & F_ABRUPT != 0, false);
            if rep_err.is_some() {
                rep.error = rep_err;
            }
            report("client", id, &rep);
        }));
    };
    let mut next = p.first_id;
    for _ in 0..p.conns {
        spawn_conn(next, &mut handles);
        next += 1;
    }
    println!("@e2e started {}", p.conns);
    let _ = std::io::stdout().flush();
    if p.more > 0 && more.recv().is_ok() {
        for _ in 0..p.more {
            spawn_conn(next, &mut handles);
            next += 1;
        }
        println!("@e2e started_more {}", p.more);
        let _ = std::io::stdout().flush();
    }
    for h in handles {
        let _ = h.join();
    }
}

fn server_blocking(p: Plan, l: OwnedFd) {
    let mut handles = Vec::new();
    for _ in 0..p.conns {
        let fd = match accept(l.as_raw_fd()) {
            Ok(fd) => fd,
            Err(e) => {
                println!("@e2e error accept:{e}");
                break;
            }
        };
        let p = p.clone();
        handles.push(std::thread::spawn(move || {
            if p.greet {
                if let Err(e) = send_greeting(&p, fd.as_raw_fd()) {
                    let rep = EndReport {
                        error: Some(format!("greeting: {e}")),
                        ..Default::default()
                    };
                    report("server", u32::MAX, &rep);
                    return;
                }
            }
            if p.late_read_ms > 0 {
                std::thread::sleep(Duration::from_millis(p.late_read_ms));
            }
            let (h, eagain) = match read_header_blocking(fd.as_raw_fd()) {
                Ok(x) => x,
                Err(e) => {
                    report(
                        "server",
                        u32::MAX,
                        &EndReport {
                            error: Some(format!("header: {e}")),
                            ..Default::default()
                        },
                    );
                    return;
                }
            };
            let (id, flags, back) = parse_header(&h);
            if !header_ok(id, flags, back) {
                report(
                    "server",
                    u32::MAX,
                    &EndReport {
                        error: Some(format!("bad header {h:02x?}: the first bytes read are not the first bytes sent")),
                        ..Default::default()
                    },
                );
                return;
            }
            let total = (back != u64::MAX).then_some(back);
            let sender = make_sender(&p, seed(p.run, id, 1), total, flags & !F_ABRUPT, None);
            let receiver = Receiver::new(seed(p.run, id, 0), p.max_read, seed(p.run, id, 8));
            let mut rep = blocking_end(
                fd,
                sender,
                receiver,
                Arc::new(AtomicBool::new(false)),
                false,
                total.is_none(),
            );
            rep.eagain += eagain;
            report("server", id, &rep);
        }));
    }
    for h in handles {
        let _ = h.join();
    }
}

// ---------------------------------------------------------------- epoll engine

struct EpEnd {
    fd: Option<OwnedFd>,
    id: u32,
    role: &'static str,
    /// Server: header bytes still to read.
    hdr: Vec<u8>,
    sender: Option<Sender>,
    receiver: Receiver,
    shut: bool,
    eof: bool,
    abrupt: bool,
    /// Server side of a stream connection: stop sending at the client's EOF.
    stop_at_eof: bool,
    rep: EndReport,
    finished: bool,
}

/// An epoll instance (shared with the scale test's pod child).
pub struct Epoll(OwnedFd);
impl Epoll {
    /// A new epoll fd.
    pub fn new() -> Epoll {
        // SAFETY: epoll_create1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1: {}", errno());
        // SAFETY: new fd.
        Epoll(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    /// `epoll_ctl`; only a failed `EPOLL_CTL_DEL` (of a closed fd) is tolerated.
    pub fn ctl(&self, op: i32, fd: RawFd, events: u32, token: u64) {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: epoll_ctl with a valid event.
        let r = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) };
        assert!(
            r == 0 || op == libc::EPOLL_CTL_DEL,
            "epoll_ctl: {}",
            errno()
        );
    }
    /// `epoll_wait`; 0 events on an error (EINTR).
    pub fn wait(&self, evs: &mut [libc::epoll_event], ms: i32) -> usize {
        // SAFETY: evs is a valid buffer.
        let n =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), evs.len() as i32, ms) };
        if n < 0 {
            0
        } else {
            n as usize
        }
    }
}

const LISTENER: u64 = u64::MAX;

/// Drives every end of this process with one epoll loop until all are finished.
fn epoll_loop(
    p: &Plan,
    listener: Option<OwnedFd>,
    mut ends: Vec<EpEnd>,
    stop: Arc<AtomicBool>,
    more: std::sync::mpsc::Receiver<()>,
) {
    let ep = Epoll::new();
    let mut expect = if listener.is_some() { p.conns } else { 0 };
    if let Some(l) = &listener {
        set_nonblocking(l.as_raw_fd(), true);
        ep.ctl(
            libc::EPOLL_CTL_ADD,
            l.as_raw_fd(),
            libc::EPOLLIN as u32,
            LISTENER,
        );
    }
    for (i, e) in ends.iter().enumerate() {
        let fd = e.fd.as_ref().unwrap().as_raw_fd();
        set_nonblocking(fd, true);
        ep.ctl(
            libc::EPOLL_CTL_ADD,
            fd,
            (libc::EPOLLIN | libc::EPOLLOUT) as u32,
            i as u64,
        );
    }
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut next_id = p.first_id + p.conns;
    let mut more_pending = p.more > 0 && listener.is_none();
    loop {
        if more_pending && more.try_recv().is_ok() {
            more_pending = false;
            for _ in 0..p.more {
                let id = next_id;
                next_id += 1;
                match client_end(p, id) {
                    Ok(e) => {
                        let fd = e.fd.as_ref().unwrap().as_raw_fd();
                        set_nonblocking(fd, true);
                        ep.ctl(
                            libc::EPOLL_CTL_ADD,
                            fd,
                            (libc::EPOLLIN | libc::EPOLLOUT) as u32,
                            ends.len() as u64,
                        );
                        ends.push(e);
                    }
                    Err(e) => report_failed_client(id, e),
                }
            }
            println!("@e2e started_more {}", p.more);
            let _ = std::io::stdout().flush();
        }
        let all_done = ends.iter().all(|e| e.finished);
        if all_done && expect == 0 && !more_pending {
            break;
        }
        let stopping = stop.load(Ordering::SeqCst);
        let n = ep.wait(&mut evs, 50);
        let mut touched: Vec<usize> = Vec::new();
        for ev in &evs[..n] {
            let token = ev.u64;
            if token == LISTENER {
                let l = listener.as_ref().unwrap().as_raw_fd();
                while expect > 0 {
                    match accept(l) {
                        Ok(fd) => {
                            expect -= 1;
                            // Still blocking (accept4 does not inherit O_NONBLOCK).
                            let greeted = if p.greet {
                                send_greeting(p, fd.as_raw_fd())
                            } else {
                                Ok(())
                            };
                            set_nonblocking(fd.as_raw_fd(), true);
                            ep.ctl(
                                libc::EPOLL_CTL_ADD,
                                fd.as_raw_fd(),
                                libc::EPOLLIN as u32,
                                ends.len() as u64,
                            );
                            ends.push(EpEnd {
                                fd: Some(fd),
                                id: u32::MAX,
                                role: "server",
                                hdr: Vec::with_capacity(16),
                                sender: None,
                                receiver: Receiver::new(0, p.max_read, 0),
                                shut: false,
                                eof: false,
                                abrupt: false,
                                stop_at_eof: false,
                                rep: EndReport::default(),
                                finished: false,
                            });
                            if let Err(e) = greeted {
                                let i = ends.len() - 1;
                                fail(&mut ends[i], &ep, "greeting", e);
                            }
                        }
                        Err(_) => break,
                    }
                }
                continue;
            }
            touched.push(token as usize);
        }
        // Stream-mode senders also need a turn when stopping.
        if stopping {
            touched.extend(0..ends.len());
        }
        for i in touched {
            let e = &mut ends[i];
            if e.finished {
                continue;
            }
            step(p, &ep, i, e, stopping);
        }
    }
}

fn client_end(p: &Plan, id: u32) -> std::io::Result<EpEnd> {
    let cp = conn_plan(p, id);
    let fd = connect(&p.addr, p.bind.as_ref())?;
    if p.greet {
        read_greeting(p, fd.as_raw_fd())
            .map_err(|e| std::io::Error::new(e.kind(), format!("greeting: {e}")))?;
    }
    let h = header(id, cp.flags, cp.s2c.unwrap_or(u64::MAX));
    if send(fd.as_raw_fd(), &h)? != 16 {
        return Err(std::io::Error::other("short header write"));
    }
    Ok(EpEnd {
        fd: Some(fd),
        id,
        role: "client",
        hdr: Vec::new(),
        sender: Some(make_sender(
            p,
            seed(p.run, id, 0),
            cp.c2s,
            cp.flags,
            cp.abrupt_at,
        )),
        receiver: Receiver::new(seed(p.run, id, 1), p.max_read, seed(p.run, id, 9)),
        shut: false,
        eof: false,
        abrupt: cp.flags & F_ABRUPT != 0,
        stop_at_eof: false,
        rep: EndReport::default(),
        finished: false,
    })
}

/// A client connection that failed before it started (connect or greeting): its report.
fn report_failed_client(id: u32, e: std::io::Error) {
    let rep = EndReport {
        error: Some(format!("start: {e}")),
        ..Default::default()
    };
    report("client", id, &rep);
}

fn finish(e: &mut EpEnd, ep: &Epoll) {
    if let Some(fd) = e.fd.take() {
        ep.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0);
        drop(fd);
    }
    if let Some(s) = &e.sender {
        e.rep.sent = s.sent;
        e.rep.send_hash = s.hash.0;
    }
    e.rep.received = e.receiver.received;
    e.rep.recv_hash = e.receiver.hash.0;
    e.rep.mismatch = e.receiver.mismatch;
    e.finished = true;
    report(e.role, e.id, &e.rep);
}

fn fail(e: &mut EpEnd, ep: &Epoll, what: &str, err: std::io::Error) {
    if is_reset(&err) {
        e.rep.reset = true;
    }
    e.rep.error = Some(format!("{what}: {err}"));
    finish(e, ep);
}

/// One turn of one end: read what is there, write what fits, update the interest set.
fn step(p: &Plan, ep: &Epoll, token: usize, e: &mut EpEnd, stopping: bool) {
    let fd = e.fd.as_ref().unwrap().as_raw_fd();
    // Server: the header first.
    if e.role == "server" && e.sender.is_none() {
        let mut h = [0u8; 16];
        let want = 16 - e.hdr.len();
        match recv(fd, &mut h[..want]) {
            Ok(0) => return fail(e, ep, "header", std::io::Error::other("EOF in header")),
            Ok(n) => e.hdr.extend_from_slice(&h[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(err) => return fail(e, ep, "header", err),
        }
        if e.hdr.len() < 16 {
            return;
        }
        let (id, flags, back) = parse_header(e.hdr[..16].try_into().unwrap());
        if !header_ok(id, flags, back) {
            let h = e.hdr.clone();
            return fail(
                e,
                ep,
                "header",
                std::io::Error::other(format!("bad header {h:02x?}: reordered or lost bytes")),
            );
        }
        e.id = id;
        let total = (back != u64::MAX).then_some(back);
        e.stop_at_eof = total.is_none();
        e.abrupt = false;
        e.sender = Some(make_sender(
            p,
            seed(p.run, id, 1),
            total,
            flags & !F_ABRUPT,
            None,
        ));
        e.receiver = Receiver::new(seed(p.run, id, 0), p.max_read, seed(p.run, id, 8));
        ep.ctl(
            libc::EPOLL_CTL_MOD,
            fd,
            (libc::EPOLLIN | libc::EPOLLOUT) as u32,
            token as u64,
        );
    }
    // Read until EAGAIN (bounded per turn).
    if !e.eof && !e.abrupt {
        for _ in 0..16 {
            match e.receiver.read_once(fd) {
                Ok(0) => {
                    e.eof = true;
                    break;
                }
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return fail(e, ep, "recv", err),
            }
        }
    }
    // Write until EAGAIN (bounded per turn).
    let stop_sending = stopping || (e.stop_at_eof && e.eof);
    let s = e.sender.as_mut().unwrap();
    if !e.shut {
        for _ in 0..8 {
            if s.remaining(stop_sending) == 0 || s.abrupt_at == Some(s.sent) {
                break;
            }
            match s.write_once(fd, stop_sending) {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) => return fail(e, ep, "send", err),
            }
            if !s.pace.is_zero() {
                std::thread::sleep(s.pace);
                break;
            }
        }
        if s.abrupt_at == Some(s.sent) {
            if let Some(fd) = e.fd.take() {
                ep.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0);
                abort_close(fd);
            }
            e.shut = true;
            e.eof = true;
            let fdless = e.fd.is_none();
            if fdless {
                // finish() without an fd
                finish(e, ep);
                return;
            }
        } else if s.remaining(stop_sending) == 0 {
            shutdown_wr(fd);
            e.shut = true;
            ep.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32, token as u64);
        }
    }
    if e.shut && e.eof {
        finish(e, ep);
    }
}

// ---------------------------------------------------------------- shared_port role

/// Bytes each way on each connection of the `shared_port` role.
const SHARED_BYTES: usize = 64 << 10;

/// Reads exactly `buf.len()` bytes within `deadline` (poll, then a non-blocking recv: a
/// socket in the sockhash may wake without data).
fn recv_exact_by(fd: RawFd, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{got} of {} bytes", buf.len()),
            ));
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
        // SAFETY: recv into the unfilled part of buf.
        let n = unsafe {
            libc::recv(
                fd,
                buf[got..].as_mut_ptr() as *mut libc::c_void,
                buf.len() - got,
                libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("EOF after {got} bytes"),
                ))
            }
            n if n > 0 => got += n as usize,
            _ => {
                let e = errno();
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::Interrupted
                {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// `shared_port`: two connections from one local endpoint (`bind`, `SO_REUSEADDR`) to two
/// listeners (`addr` and the next port) with `TCP_DEFER_ACCEPT`, so that each server socket is
/// created only when its client's first bytes arrive. Both clients connect before either
/// writes: both wait under the same endpoint at once, as two connections to different
/// destinations sharing an ephemeral port do. Then connection 1 and connection 2 each move
/// `SHARED_BYTES` client → server and back, every byte compared with its keystream (a server
/// paired with the wrong client would send its reply into the other connection). Prints
/// `@e2e shared ok` or `@e2e shared error=…`.
fn shared_port(p: &Plan) -> Result<(), String> {
    let a = p.addr;
    let b = SocketAddr::new(a.ip(), a.port() + 1);
    let local = p.bind.ok_or("shared_port needs bind=")?;
    let mut listeners = Vec::new();
    for addr in [a, b] {
        let l = listen(&addr).map_err(|e| format!("listen {addr}: {e}"))?;
        setopt(l.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 30)
            .map_err(|e| format!("TCP_DEFER_ACCEPT: {e}"))?;
        listeners.push(l);
    }
    let c1 = connect(&a, Some(&local)).map_err(|e| format!("connect 1 {local} -> {a}: {e}"))?;
    let c2 = connect(&b, Some(&local)).map_err(|e| format!("connect 2 {local} -> {b}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    for (i, (c, l)) in [(&c1, &listeners[0]), (&c2, &listeners[1])]
        .into_iter()
        .enumerate()
    {
        let id = i as u32 + 1;
        let mut up = vec![0u8; SHARED_BYTES];
        keystream(seed(p.run, id, 0), 0, &mut up);
        let mut down = vec![0u8; SHARED_BYTES];
        keystream(seed(p.run, id, 1), 0, &mut down);
        send_all(c.as_raw_fd(), &up).map_err(|e| format!("conn {id}: client send: {e}"))?;
        let s = accept(l.as_raw_fd()).map_err(|e| format!("conn {id}: accept: {e}"))?;
        let mut got = vec![0u8; SHARED_BYTES];
        recv_exact_by(s.as_raw_fd(), &mut got, deadline)
            .map_err(|e| format!("conn {id}: server read: {e}"))?;
        if got != up {
            return Err(format!(
                "conn {id}: the server read other bytes than its client sent"
            ));
        }
        send_all(s.as_raw_fd(), &down).map_err(|e| format!("conn {id}: server send: {e}"))?;
        recv_exact_by(c.as_raw_fd(), &mut got, deadline)
            .map_err(|e| format!("conn {id}: client read: {e}"))?;
        if got != down {
            return Err(format!(
                "conn {id}: the client read other bytes than its server sent"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- role entry

/// Shared with the scale test's pod child (tests/scale/child.rs).
pub fn join_cgroup(path: &str) {
    std::fs::write(
        format!("{path}/cgroup.procs"),
        format!("{}\n", std::process::id()),
    )
    .unwrap_or_else(|e| panic!("joining cgroup {path}: {e}"));
}

/// Shared with the scale test's pod child (tests/scale/child.rs).
pub fn join_netns(name: &str) {
    let f = std::fs::File::open(format!("/run/netns/{name}"))
        .unwrap_or_else(|e| panic!("opening netns {name}: {e}"));
    // SAFETY: setns on this thread with a netns fd.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert!(r == 0, "setns {name}: {}", errno());
}

/// Runs the role selected by the environment and exits; returns at once when none is set.
pub fn run_if_child() {
    let Ok(plan) = std::env::var(ROLE_ENV) else {
        return;
    };
    let p = Plan::parse(&plan);
    // Order matters: the cgroup and the namespace before any socket exists.
    if let Ok(cg) = std::env::var("TB_E2E_CGROUP") {
        join_cgroup(&cg);
    }
    if let Ok(ns) = std::env::var("TB_E2E_NETNS") {
        join_netns(&ns);
    }
    // A watchdog: never outlive the deadline, say where we were.
    let deadline = Duration::from_secs(p.deadline_s);
    let progress = Arc::new(AtomicU64::new(0));
    let _prog = progress.clone();
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        println!("@e2e timeout after {} s", deadline.as_secs());
        let _ = std::io::stdout().flush();
        eprintln!(
            "e2e child: deadline of {} s passed, exiting",
            deadline.as_secs()
        );
        std::process::exit(3);
    });
    // stdin commands: `stop` (end stream mode), `more` (open more connections).
    let stop = Arc::new(AtomicBool::new(false));
    let (more_tx, more_rx) = std::sync::mpsc::channel();
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line.as_deref().map(str::trim) {
                    Ok("stop") => stop.store(true, Ordering::SeqCst),
                    Ok("more") => {
                        let _ = more_tx.send(());
                    }
                    Ok("progress") => {
                        println!(
                            "@e2e progress sent={} received={}",
                            SENT_ALL.load(Ordering::Relaxed),
                            RECV_ALL.load(Ordering::Relaxed)
                        );
                        let _ = std::io::stdout().flush();
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
    }
    let snmp_before = tcp_out_segs_here();
    match p.role.as_str() {
        "server" => {
            let l = listen(&p.addr).unwrap_or_else(|e| panic!("listen {}: {e}", p.addr));
            println!("@e2e ready");
            let _ = std::io::stdout().flush();
            if p.mode == "blocking" {
                server_blocking(p.clone(), l);
            } else {
                epoll_loop(&p, Some(l), Vec::new(), stop, more_rx);
            }
        }
        "client" => {
            if p.mode == "blocking" {
                client_blocking(p.clone(), stop, more_rx);
            } else {
                let mut ends = Vec::new();
                for i in 0..p.conns {
                    match client_end(&p, p.first_id + i) {
                        Ok(e) => ends.push(e),
                        Err(e) => report_failed_client(p.first_id + i, e),
                    }
                }
                println!("@e2e started {}", p.conns);
                let _ = std::io::stdout().flush();
                epoll_loop(&p, None, ends, stop, more_rx);
            }
        }
        "shared_port" => match shared_port(&p) {
            Ok(()) => println!("@e2e shared ok"),
            Err(e) => println!("@e2e shared error={}", e.replace(' ', "_")),
        },
        other => panic!("unknown role {other}"),
    }
    let snmp_after = tcp_out_segs_here();
    println!("@e2e outsegs {}", snmp_after.saturating_sub(snmp_before));
    println!("@e2e done");
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// TcpOutSegs of this thread's network namespace.
pub fn tcp_out_segs_here() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap_or_default();
    parse_out_segs(&text).unwrap_or(0)
}

/// `TcpOutSegs` from the text of /proc/net/snmp.
pub fn parse_out_segs(text: &str) -> Option<u64> {
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let names: Vec<&str> = tcp.next()?.split_whitespace().collect();
    let vals: Vec<&str> = tcp.next()?.split_whitespace().collect();
    let i = names.iter().position(|n| *n == "OutSegs")?;
    vals.get(i)?.parse().ok()
}
