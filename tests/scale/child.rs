//! The child side of the scale tests: one process per pod (the test binary re-executed with
//! `TB_E2E_ROLE` set, in the test's cgroup and the pod's network namespace, like the e2e
//! children) runs a listener and many client connections at once in one non-blocking epoll
//! loop, and reports on stdout with `@e2e …` lines. Commands come on stdin, one per line.
//!
//! Every byte is checked: each direction of each connection carries the keystream of
//! (run, connection id, direction) (`crate::child::keystream`), and the receiver compares each
//! byte at its offset and knows exactly how many bytes must arrive. A connection starts with a
//! 16-byte greeting from the server (so the client writes only after the server's side of the
//! handshake, when the pairing is decided), then the client's 16-byte header (id, bytes each
//! way), then data both ways at once.
//!
//! Two roles (`role=` in the plan):
//! - `hold`: on `connect`, open `per_pod` clients to servers of other pods (chosen by
//!   [`targets`]) and print `@e2e established …` once all of them have their greeting and the
//!   listener has accepted every connection aimed at this pod; on `go`, move the data and
//!   print `@e2e transferred …` when every end here has all its bytes; on `close`, close
//!   everything, print the totals and `@e2e done`.
//! - `churn`: on `go`, `slots` client loops each connect → greeting → header and a small
//!   request → read the response → close, again and again, to random other pods; the server
//!   answers and closes at the client's EOF. On `stop` no new connection starts and
//!   `@e2e stopped …` comes when the in-flight ones are done; on `finish`, once every
//!   accepted connection has closed, the totals and `@e2e done`. With `blocking=1` the client
//!   loops are threads with blocking sockets (the servers stay in the epoll loop), and every
//!   `EAGAIN` a blocking `recv()` returns is counted (`eagain=`) and the call retried.
//!
//! `progress` prints `@e2e progress completed=… served=… errors=…` at any time.

#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::child::{errno, join_cgroup, join_netns, keystream, recv, send, Epoll, Rng, ROLE_ENV};

/// The pods' subnet (the bypass gets it as `--local-prefix`).
pub const SUBNET: &str = "10.77.0.0/16";

/// Pod `i`'s address on the bridge.
pub fn pod_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, (i / 200) as u8, (i % 200 + 10) as u8)
}

/// The seed of one direction (0 = client → server, 1 = back) of connection `id`.
pub fn stream_seed(run: u64, id: u64, dir: u64) -> u64 {
    let mut r = Rng::new(run ^ id.rotate_left(21) ^ dir.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.next()
}

/// For each pod, the pod each of its `per_pod` clients connects to (never itself).
pub fn targets(run: u64, pods: usize, per_pod: usize) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(run ^ 0x7a26e7);
    (0..pods)
        .map(|me| {
            (0..per_pod)
                .map(|_| {
                    let t = (rng.next() % (pods as u64 - 1)) as usize;
                    if t >= me {
                        t + 1
                    } else {
                        t
                    }
                })
                .collect()
        })
        .collect()
}

/// Bytes client → server and back of connection `id` (log-uniform in 1..=max each).
pub fn sizes(run: u64, id: u64, max: usize) -> (u64, u64) {
    let mut rng = Rng::new(run ^ id.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ 0x5153);
    (rng.size(max) as u64, rng.size(max) as u64)
}

/// The 16-byte greeting of a run.
pub fn greeting(run: u64) -> [u8; 16] {
    let mut g = [0u8; 16];
    keystream(stream_seed(run, u64::MAX, 7), 0, &mut g);
    g
}

/// What a pod process does, from `key=value;…`.
#[derive(Debug, Clone)]
pub struct PodPlan {
    pub role: String,
    pub run: u64,
    pub pod: usize,
    pub pods: usize,
    /// hold: clients of this pod (every pod has as many).
    pub per_pod: usize,
    /// churn: concurrent client loops.
    pub slots: usize,
    pub port: u16,
    /// Largest number of bytes per direction of one connection.
    pub max_bytes: usize,
    /// The process exits (status 3) after this many seconds whatever happens.
    pub deadline_s: u64,
    /// churn: the client loops are threads with blocking sockets (the servers stay in the
    /// epoll loop); each `EAGAIN` a blocking `recv` returns is counted and the call retried.
    pub blocking: bool,
}

impl PodPlan {
    pub fn render(&self) -> String {
        format!(
            "role={};run={};pod={};pods={};per_pod={};slots={};port={};max_bytes={};deadline_s={};blocking={}",
            self.role,
            self.run,
            self.pod,
            self.pods,
            self.per_pod,
            self.slots,
            self.port,
            self.max_bytes,
            self.deadline_s,
            self.blocking as u8
        )
    }

    pub fn parse(s: &str) -> PodPlan {
        let get = |k: &str| -> String {
            s.split(';')
                .find_map(|p| p.strip_prefix(&format!("{k}=")).map(str::to_string))
                .unwrap_or_else(|| panic!("plan {s:?} has no {k}"))
        };
        let num = |k: &str| -> u64 { get(k).parse().unwrap_or_else(|_| panic!("plan: {k}")) };
        PodPlan {
            role: get("role"),
            run: num("run"),
            pod: num("pod") as usize,
            pods: num("pods") as usize,
            per_pod: num("per_pod") as usize,
            slots: num("slots") as usize,
            port: num("port") as u16,
            max_bytes: num("max_bytes") as usize,
            deadline_s: num("deadline_s"),
            blocking: num("blocking") == 1,
        }
    }
}

// ---------------------------------------------------------------- sockets

fn sin(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

fn socket_nb() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2).
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn listen_nb(a: SocketAddrV4) -> std::io::Result<OwnedFd> {
    let fd = socket_nb()?;
    let one: i32 = 1;
    // SAFETY: SO_REUSEADDR with an int.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const i32 as *const libc::c_void,
            4,
        )
    };
    let s = sin(a);
    // SAFETY: s is a valid sockaddr_in.
    if unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &s as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    } < 0
    {
        return Err(errno());
    }
    // SAFETY: listen on our socket.
    if unsafe { libc::listen(fd.as_raw_fd(), 4096) } < 0 {
        return Err(errno());
    }
    Ok(fd)
}

/// A non-blocking connect: the socket, in progress.
fn connect_nb(to: SocketAddrV4) -> std::io::Result<OwnedFd> {
    let fd = socket_nb()?;
    let s = sin(to);
    // SAFETY: s is a valid sockaddr_in.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &s as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    if r < 0 {
        let e = errno();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(fd)
}

fn so_error(fd: RawFd) -> i32 {
    let mut v: i32 = 0;
    let mut len = 4 as libc::socklen_t;
    // SAFETY: SO_ERROR into an int.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut v as *mut i32 as *mut libc::c_void,
            &mut len,
        )
    };
    v
}

fn would_block(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::Interrupted
}

/// Raises RLIMIT_NOFILE to `need` (soft and, when lower, hard); panics clearly when the
/// kernel refuses.
pub fn raise_nofile(need: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    if r.rlim_cur >= need {
        return;
    }
    let new = libc::rlimit {
        rlim_cur: need,
        rlim_max: r.rlim_max.max(need),
    };
    // SAFETY: setrlimit with a struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        panic!(
            "RLIMIT_NOFILE: need {need} open files, the limit is {} (hard {}) and raising it \
             failed: {} (fs.nr_open: {})",
            r.rlim_cur,
            r.rlim_max,
            errno(),
            std::fs::read_to_string("/proc/sys/fs/nr_open")
                .unwrap_or_default()
                .trim()
        );
    }
}

// ---------------------------------------------------------------- connection ends

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Client: connect in progress.
    Connecting,
    /// Client: reading the greeting.
    Greeting,
    /// Client (hold): greeted, waiting for `go`. Server: greeted, waiting for the header.
    Idle,
    /// Moving data (the server reads the header first).
    Xfer,
    /// Hold: every byte moved, waiting for `close`; churn server: waiting for the EOF.
    Done,
}

struct End {
    fd: OwnedFd,
    client: bool,
    st: St,
    id: u64,
    /// Bytes of the greeting read (client) / of the header read (server).
    got: usize,
    inbuf: [u8; 16],
    /// Client: header bytes written.
    hdr_sent: usize,
    out_seed: u64,
    out_total: u64,
    out_sent: u64,
    in_seed: u64,
    in_total: u64,
    in_recv: u64,
    interest: u32,
    rng: Rng,
}

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const LISTENER: u64 = u64::MAX;
const CHUNK: usize = 64 << 10;

#[derive(Default, Debug)]
struct Stats {
    /// Client connections that moved every byte (hold: transferred; churn: closed).
    completed: u64,
    /// Server connections that moved every byte (churn: closed at the client's EOF).
    served: u64,
    greeted: u64,
    accepted: u64,
    bytes_out: u64,
    bytes_in: u64,
    errors: u64,
    first_error: Option<String>,
    /// Hold: ends whose peer closed after every byte (before this pod's `close`).
    peer_closed: u64,
}

struct Pod {
    p: PodPlan,
    ep: Epoll,
    ends: Vec<Option<End>>,
    free: Vec<usize>,
    open: usize,
    open_clients: usize,
    st: Stats,
    sbuf: Vec<u8>,
    rbuf: Vec<u8>,
    ebuf: Vec<u8>,
    rng: Rng,
    greeting: [u8; 16],
    next_seq: u64,
    hold_targets: Vec<usize>,
    /// churn with `blocking`: the client threads' totals.
    bl: Arc<Blocking>,
}

impl Pod {
    fn error(&mut self, tok: usize, what: String) {
        let e = self.ends[tok].take().unwrap();
        let msg = format!(
            "{} id={} state={:?} in={}/{} out={}/{}: {what}",
            if e.client { "client" } else { "server" },
            e.id,
            e.st,
            e.in_recv,
            e.in_total,
            e.out_sent,
            e.out_total
        );
        self.st.errors += 1;
        if self.st.first_error.is_none() {
            self.st.first_error = Some(msg.replace(' ', "_"));
        }
        self.drop_end(tok, e);
    }

    fn drop_end(&mut self, tok: usize, e: End) {
        if e.client {
            self.open_clients -= 1;
        }
        self.open -= 1;
        self.free.push(tok);
        drop(e); // close(2) removes it from the epoll set
    }

    fn add(&mut self, e: End) -> usize {
        let fd = e.fd.as_raw_fd();
        let ev = e.interest;
        if e.client {
            self.open_clients += 1;
        }
        self.open += 1;
        let tok = match self.free.pop() {
            Some(t) => {
                self.ends[t] = Some(e);
                t
            }
            None => {
                self.ends.push(Some(e));
                self.ends.len() - 1
            }
        };
        self.ep.ctl(libc::EPOLL_CTL_ADD, fd, ev, tok as u64);
        tok
    }

    fn set_interest(&mut self, tok: usize, ev: u32) {
        let e = self.ends[tok].as_mut().unwrap();
        if e.interest != ev {
            e.interest = ev;
            let fd = e.fd.as_raw_fd();
            self.ep.ctl(libc::EPOLL_CTL_MOD, fd, ev, tok as u64);
        }
    }

    /// A new client connection to pod `target`.
    fn start_client(&mut self, target: usize, id: u64) {
        let to = SocketAddrV4::new(pod_ip(target), self.p.port);
        match connect_nb(to) {
            Ok(fd) => {
                let (c2s, s2c) = sizes(self.p.run, id, self.p.max_bytes);
                let e = End {
                    fd,
                    client: true,
                    st: St::Connecting,
                    id,
                    got: 0,
                    inbuf: [0; 16],
                    hdr_sent: 0,
                    out_seed: stream_seed(self.p.run, id, 0),
                    out_total: c2s,
                    out_sent: 0,
                    in_seed: stream_seed(self.p.run, id, 1),
                    in_total: s2c,
                    in_recv: 0,
                    interest: OUT,
                    rng: Rng::new(id ^ 0xc1),
                };
                self.add(e);
            }
            Err(err) => {
                self.st.errors += 1;
                if self.st.first_error.is_none() {
                    self.st.first_error = Some(format!("connect_to_{to}:_{err}").replace(' ', "_"));
                }
            }
        }
    }

    fn churn_client(&mut self) {
        let mut t = (self.rng.next() % (self.p.pods as u64 - 1)) as usize;
        if t >= self.p.pod {
            t += 1;
        }
        let id = ((self.p.pod as u64) << 40) | self.next_seq;
        self.next_seq += 1;
        self.start_client(t, id);
    }

    fn accept_all(&mut self, l: RawFd) {
        loop {
            // SAFETY: accept4 without an address.
            let fd = unsafe {
                libc::accept4(
                    l,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                )
            };
            if fd < 0 {
                let e = errno();
                if !would_block(&e) {
                    self.st.errors += 1;
                    if self.st.first_error.is_none() {
                        self.st.first_error = Some(format!("accept:_{e}").replace(' ', "_"));
                    }
                }
                return;
            }
            // SAFETY: a new fd we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            self.st.accepted += 1;
            let e = End {
                fd,
                client: false,
                st: St::Idle,
                id: u64::MAX,
                got: 0,
                inbuf: [0; 16],
                hdr_sent: 16,
                out_seed: 0,
                out_total: 0,
                out_sent: 0,
                in_seed: 0,
                in_total: 0,
                in_recv: 0,
                interest: IN,
                rng: Rng::new(self.st.accepted ^ 0x5e),
            };
            let tok = self.add(e);
            let fd = self.ends[tok].as_ref().unwrap().fd.as_raw_fd();
            match send(fd, &self.greeting) {
                Ok(16) => {}
                Ok(n) => self.error(tok, format!("greeting: short write {n}")),
                Err(err) => self.error(tok, format!("greeting: {err}")),
            }
        }
    }

    /// One turn of end `tok` on `ev`. `go`: hold clients may send.
    fn step(&mut self, tok: usize, ev: u32) {
        let churn = self.p.role == "churn";
        let Some(e) = self.ends[tok].as_mut() else {
            return;
        };
        let fd = e.fd.as_raw_fd();
        if e.st == St::Connecting {
            if ev & (OUT | libc::EPOLLERR as u32 | libc::EPOLLHUP as u32) == 0 {
                return;
            }
            let err = so_error(fd);
            if err != 0 {
                return self.error(
                    tok,
                    format!("connect: {}", std::io::Error::from_raw_os_error(err)),
                );
            }
            e.st = St::Greeting;
            return self.set_interest(tok, IN);
        }
        if e.st == St::Greeting {
            let mut g = [0u8; 16];
            let want = 16 - e.got;
            match recv(fd, &mut g[..want]) {
                Ok(0) => return self.error(tok, "EOF in the greeting".into()),
                Ok(n) => {
                    e.inbuf[e.got..e.got + n].copy_from_slice(&g[..n]);
                    e.got += n;
                }
                Err(err) if would_block(&err) => return,
                Err(err) => return self.error(tok, format!("greeting: {err}")),
            }
            if e.got < 16 {
                return;
            }
            if e.inbuf != self.greeting {
                let b = e.inbuf;
                return self.error(tok, format!("wrong greeting {b:02x?}"));
            }
            self.st.greeted += 1;
            if churn {
                e.st = St::Xfer;
                return self.set_interest(tok, IN | OUT);
            }
            e.st = St::Idle;
            return;
        }
        if e.st == St::Idle && e.client {
            // Nothing may arrive before the client's header.
            return self.check_quiet(tok, "before go");
        }
        if e.st == St::Done {
            if churn && !e.client {
                // Waiting for the client's EOF.
                return match recv(fd, &mut self.rbuf[..1]) {
                    Ok(0) => {
                        let e = self.ends[tok].take().unwrap();
                        self.st.served += 1;
                        self.drop_end(tok, e);
                    }
                    Ok(_) => self.error(tok, "bytes after the last expected one".into()),
                    Err(err) if would_block(&err) => {}
                    Err(err) => self.error(tok, format!("waiting for EOF: {err}")),
                };
            }
            // Hold: the runner sends `close` only after every pod has every byte, so a peer
            // that closed first is fine (pods get the command one after another).
            return match recv(fd, &mut self.rbuf[..1]) {
                Ok(0) => {
                    let e = self.ends[tok].take().unwrap();
                    self.st.peer_closed += 1;
                    self.drop_end(tok, e);
                }
                Ok(_) => self.error(tok, "bytes after the last expected one".into()),
                Err(err) if would_block(&err) => {}
                Err(err) => self.error(tok, format!("after the last byte: {err}")),
            };
        }
        // Server: the header.
        if !e.client && e.st == St::Idle {
            let mut h = [0u8; 16];
            let want = 16 - e.got;
            match recv(fd, &mut h[..want]) {
                Ok(0) => return self.error(tok, "EOF in the header".into()),
                Ok(n) => {
                    e.inbuf[e.got..e.got + n].copy_from_slice(&h[..n]);
                    e.got += n;
                }
                Err(err) if would_block(&err) => return,
                Err(err) => return self.error(tok, format!("header: {err}")),
            }
            if e.got < 16 {
                return;
            }
            let id = u64::from_le_bytes(e.inbuf[0..8].try_into().unwrap());
            let c2s = u32::from_le_bytes(e.inbuf[8..12].try_into().unwrap()) as u64;
            let s2c = u32::from_le_bytes(e.inbuf[12..16].try_into().unwrap()) as u64;
            if (c2s, s2c) != sizes(self.p.run, id, self.p.max_bytes) {
                let h = e.inbuf;
                return self.error(tok, format!("bad header {h:02x?}: lost or reordered bytes"));
            }
            e.id = id;
            e.in_seed = stream_seed(self.p.run, id, 0);
            e.in_total = c2s;
            e.out_seed = stream_seed(self.p.run, id, 1);
            e.out_total = s2c;
            e.st = St::Xfer;
            self.set_interest(tok, IN | OUT);
        }
        self.xfer(tok);
    }

    /// Readable in a state where nothing may arrive: EAGAIN is fine, anything else an error.
    fn check_quiet(&mut self, tok: usize, when: &str) {
        let fd = self.ends[tok].as_ref().unwrap().fd.as_raw_fd();
        match recv(fd, &mut self.rbuf[..1]) {
            Ok(0) => self.error(tok, format!("EOF {when}")),
            Ok(_) => self.error(tok, format!("unexpected bytes {when}")),
            Err(err) if would_block(&err) => {}
            Err(err) => self.error(tok, format!("{when}: {err}")),
        }
    }

    fn xfer(&mut self, tok: usize) {
        let churn = self.p.role == "churn";
        let e = self.ends[tok].as_mut().unwrap();
        let fd = e.fd.as_raw_fd();
        // Read what is there (bounded per turn); every byte against the keystream.
        for _ in 0..8 {
            if e.in_recv == e.in_total {
                break;
            }
            let n = e.rng.size(CHUNK);
            match recv(fd, &mut self.rbuf[..n]) {
                Ok(0) => return self.error(tok, "EOF before the last byte".into()),
                Ok(r) => {
                    if e.in_recv + r as u64 > e.in_total {
                        return self.error(tok, format!("{r} bytes more than expected"));
                    }
                    keystream(e.in_seed, e.in_recv, &mut self.ebuf[..r]);
                    if let Some(i) = self.rbuf[..r]
                        .iter()
                        .zip(&self.ebuf[..r])
                        .position(|(a, b)| a != b)
                    {
                        let at = e.in_recv + i as u64;
                        return self.error(tok, format!("wrong byte at offset {at}"));
                    }
                    e.in_recv += r as u64;
                    self.st.bytes_in += r as u64;
                }
                Err(err) if would_block(&err) => break,
                Err(err) => return self.error(tok, format!("recv: {err}")),
            }
        }
        // Client: the header first.
        if e.client && e.hdr_sent < 16 {
            let mut h = [0u8; 16];
            h[0..8].copy_from_slice(&e.id.to_le_bytes());
            h[8..12].copy_from_slice(&(e.out_total as u32).to_le_bytes());
            h[12..16].copy_from_slice(&(e.in_total as u32).to_le_bytes());
            match send(fd, &h[e.hdr_sent..]) {
                Ok(n) => e.hdr_sent += n,
                Err(err) if would_block(&err) => return,
                Err(err) => return self.error(tok, format!("header: {err}")),
            }
            if e.hdr_sent < 16 {
                return;
            }
        }
        for _ in 0..8 {
            if e.out_sent == e.out_total {
                break;
            }
            let n = (e.rng.size(CHUNK) as u64).min(e.out_total - e.out_sent) as usize;
            keystream(e.out_seed, e.out_sent, &mut self.sbuf[..n]);
            match send(fd, &self.sbuf[..n]) {
                Ok(w) => {
                    e.out_sent += w as u64;
                    self.st.bytes_out += w as u64;
                }
                Err(err) if would_block(&err) => break,
                Err(err) => return self.error(tok, format!("send: {err}")),
            }
        }
        let sent_all = e.out_sent == e.out_total;
        if sent_all && e.in_recv == e.in_total {
            e.st = St::Done;
            if e.client {
                self.st.completed += 1;
                if churn {
                    let e = self.ends[tok].take().unwrap();
                    self.drop_end(tok, e);
                    return;
                }
            } else if !churn {
                self.st.served += 1;
            }
            self.set_interest(tok, IN);
        } else if sent_all {
            self.set_interest(tok, IN);
        }
    }

    fn totals(&self) -> String {
        let b = &self.bl;
        let ld = |a: &AtomicU64| a.load(Ordering::SeqCst);
        let first = self
            .st
            .first_error
            .clone()
            .or_else(|| b.first_error.lock().unwrap().clone());
        format!(
            "completed={} served={} greeted={} accepted={} bytes_out={} bytes_in={} errors={} eagain={} first_error={}",
            self.st.completed + ld(&b.completed),
            self.st.served,
            self.st.greeted + ld(&b.completed),
            self.st.accepted,
            self.st.bytes_out + ld(&b.bytes_out),
            self.st.bytes_in + ld(&b.bytes_in),
            self.st.errors + ld(&b.errors),
            ld(&b.eagain),
            first.as_deref().unwrap_or("none")
        )
    }
}

/// Totals of the blocking client threads.
#[derive(Default)]
struct Blocking {
    stop: AtomicBool,
    running: AtomicU64,
    completed: AtomicU64,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    errors: AtomicU64,
    eagain: AtomicU64,
    first_error: Mutex<Option<String>>,
}

fn connect_blocking(to: SocketAddrV4) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a new fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let s = sin(to);
    // SAFETY: s is a valid sockaddr_in.
    if unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &s as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    } < 0
    {
        return Err(errno());
    }
    Ok(fd)
}

/// Exactly `buf.len()` bytes from a blocking socket; EAGAIN is counted and retried.
fn recv_exact(fd: RawFd, buf: &mut [u8], b: &Blocking) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        match recv(fd, &mut buf[got..]) {
            Ok(0) => return Err(format!("EOF after {got} of {} bytes", buf.len())),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                b.eagain.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
    Ok(())
}

fn send_all(fd: RawFd, mut buf: &[u8]) -> Result<(), String> {
    while !buf.is_empty() {
        match send(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("send: {e}")),
        }
    }
    Ok(())
}

/// One blocking churn connection: greeting, header and request, response, close.
fn blocking_once(p: &PodPlan, target: usize, id: u64, b: &Blocking) -> Result<(), String> {
    let to = SocketAddrV4::new(pod_ip(target), p.port);
    let fd = connect_blocking(to).map_err(|e| format!("connect to {to}: {e}"))?;
    let fd = fd.as_raw_fd();
    let mut g = [0u8; 16];
    recv_exact(fd, &mut g, b).map_err(|e| format!("greeting: {e}"))?;
    if g != greeting(p.run) {
        return Err(format!("wrong greeting {g:02x?}"));
    }
    let (c2s, s2c) = sizes(p.run, id, p.max_bytes);
    let mut out = vec![0u8; 16 + c2s as usize];
    out[0..8].copy_from_slice(&id.to_le_bytes());
    out[8..12].copy_from_slice(&(c2s as u32).to_le_bytes());
    out[12..16].copy_from_slice(&(s2c as u32).to_le_bytes());
    keystream(stream_seed(p.run, id, 0), 0, &mut out[16..]);
    send_all(fd, &out)?;
    b.bytes_out.fetch_add(c2s, Ordering::SeqCst);
    let mut got = vec![0u8; s2c as usize];
    recv_exact(fd, &mut got, b).map_err(|e| format!("response: {e}"))?;
    let mut want = vec![0u8; s2c as usize];
    keystream(stream_seed(p.run, id, 1), 0, &mut want);
    if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
        return Err(format!("wrong byte at offset {i} of the response"));
    }
    b.bytes_in.fetch_add(s2c, Ordering::SeqCst);
    Ok(())
}

/// A blocking churn loop until `stop`.
fn blocking_loop(p: PodPlan, slot: usize, b: Arc<Blocking>) {
    let mut rng = Rng::new(p.run ^ ((p.pod as u64) << 7) ^ ((slot as u64 + 1) << 20));
    let mut seq = 0u64;
    while !b.stop.load(Ordering::SeqCst) {
        let mut t = (rng.next() % (p.pods as u64 - 1)) as usize;
        if t >= p.pod {
            t += 1;
        }
        let id = ((p.pod as u64) << 40) | (1 << 39) | ((slot as u64) << 32) | seq;
        seq += 1;
        match blocking_once(&p, t, id, &b) {
            Ok(()) => {
                b.completed.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                b.errors.fetch_add(1, Ordering::SeqCst);
                let mut f = b.first_error.lock().unwrap();
                if f.is_none() {
                    *f = Some(format!("blocking_client id={id}: {e}").replace(' ', "_"));
                }
            }
        }
    }
    b.running.fetch_sub(1, Ordering::SeqCst);
}

fn say(line: &str) {
    println!("@e2e {line}");
    let _ = std::io::stdout().flush();
}

/// The pod's event loop; returns when the role is finished.
fn pod_main(p: PodPlan, cmds: Receiver<String>) {
    let churn = p.role == "churn";
    let all = targets(p.run, p.pods, p.per_pod);
    let expect_in: usize = if churn {
        0
    } else {
        all.iter().flatten().filter(|t| **t == p.pod).count()
    };
    let mine = if churn {
        Vec::new()
    } else {
        all[p.pod].clone()
    };
    // Clients, accepted ends, the listener, epoll, stdio and slack; churn ends linger in
    // the accept queue and at their close, so twice their slots from every other pod.
    let need = if churn {
        (p.slots * 2 * p.pods + 256) as u64
    } else {
        (p.per_pod + expect_in + 256) as u64
    };
    raise_nofile(need);
    let l = listen_nb(SocketAddrV4::new(pod_ip(p.pod), p.port))
        .unwrap_or_else(|e| panic!("listen on {}:{}: {e}", pod_ip(p.pod), p.port));
    let mut pod = Pod {
        ep: Epoll::new(),
        ends: Vec::new(),
        free: Vec::new(),
        open: 0,
        open_clients: 0,
        st: Stats::default(),
        sbuf: vec![0; CHUNK],
        rbuf: vec![0; CHUNK],
        ebuf: vec![0; CHUNK],
        rng: Rng::new(p.run ^ (p.pod as u64) << 7),
        greeting: greeting(p.run),
        next_seq: 0,
        hold_targets: mine,
        bl: Arc::new(Blocking::default()),
        p,
    };
    pod.ep.ctl(libc::EPOLL_CTL_ADD, l.as_raw_fd(), IN, LISTENER);
    say("ready");
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    // Hold: connect → established → go → transferred → close. Churn: go → stop → finish.
    let mut phase = "wait";
    let mut go_at = Instant::now();
    loop {
        while let Ok(c) = cmds.try_recv() {
            match c.as_str() {
                "connect" if !churn => {
                    let base = (pod.p.pod * pod.p.per_pod) as u64;
                    for (k, t) in pod.hold_targets.clone().into_iter().enumerate() {
                        pod.start_client(t, base + k as u64);
                    }
                    phase = "connecting";
                }
                "go" if !churn => {
                    let toks: Vec<usize> = (0..pod.ends.len())
                        .filter(|t| pod.ends[*t].as_ref().is_some_and(|e| e.client))
                        .collect();
                    for t in toks {
                        pod.ends[t].as_mut().unwrap().st = St::Xfer;
                        pod.set_interest(t, IN | OUT);
                    }
                    phase = "xfer";
                }
                "close" if !churn => {
                    for t in 0..pod.ends.len() {
                        if let Some(e) = pod.ends[t].take() {
                            pod.drop_end(t, e);
                        }
                    }
                    say(&format!("closed {}", pod.totals()));
                    return;
                }
                "go" if churn => {
                    go_at = Instant::now();
                    for slot in 0..pod.p.slots {
                        if pod.p.blocking {
                            let (p, b) = (pod.p.clone(), pod.bl.clone());
                            b.running.fetch_add(1, Ordering::SeqCst);
                            std::thread::spawn(move || blocking_loop(p, slot, b));
                        } else {
                            pod.churn_client();
                        }
                    }
                    phase = "churn";
                }
                "stop" if churn => {
                    pod.bl.stop.store(true, Ordering::SeqCst);
                    phase = "stopping";
                }
                "finish" if churn => phase = "finishing",
                "progress" => say(&format!("progress {}", pod.totals())),
                other => panic!("unknown command {other:?} in phase {phase}"),
            }
        }
        let n = pod.ep.wait(&mut evs, 20);
        for ev in evs[..n].iter().copied() {
            if ev.u64 == LISTENER {
                pod.accept_all(l.as_raw_fd());
                continue;
            }
            let before = pod.open_clients;
            pod.step(ev.u64 as usize, ev.events);
            // Churn: a finished (or failed) client makes room for the next one.
            if churn && phase == "churn" {
                for _ in pod.open_clients..before {
                    pod.churn_client();
                }
            }
        }
        match phase {
            "connecting"
                if pod.st.greeted + pod.st.errors >= pod.p.per_pod as u64
                    && pod.st.accepted >= expect_in as u64 =>
            {
                say(&format!("established {}", pod.totals()));
                phase = "held";
            }
            "xfer" if pod.ends.iter().flatten().all(|e| e.st == St::Done) => {
                say(&format!("transferred {}", pod.totals()));
                phase = "held";
            }
            "stopping" if pod.open_clients == 0 && pod.bl.running.load(Ordering::SeqCst) == 0 => {
                let secs = go_at.elapsed().as_secs_f64();
                say(&format!("stopped secs={secs:.3} {}", pod.totals()));
                phase = "stopped";
            }
            "finishing" if pod.open == 0 => {
                say(&format!("finished {}", pod.totals()));
                return;
            }
            _ => {}
        }
    }
}

/// Runs the pod role selected by the environment and exits; returns at once when none is set.
pub fn run_if_child() {
    let Ok(plan) = std::env::var(ROLE_ENV) else {
        return;
    };
    let p = PodPlan::parse(&plan);
    // The cgroup and the namespace before any socket exists.
    if let Ok(cg) = std::env::var("TB_E2E_CGROUP") {
        join_cgroup(&cg);
    }
    if let Ok(ns) = std::env::var("TB_E2E_NETNS") {
        join_netns(&ns);
    }
    let deadline = Duration::from_secs(p.deadline_s);
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        say(&format!("timeout after {} s", deadline.as_secs()));
        eprintln!(
            "scale child: deadline of {} s passed, exiting",
            deadline.as_secs()
        );
        std::process::exit(3);
    });
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(l) = line else { break };
            if tx.send(l.trim().to_string()).is_err() {
                break;
            }
        }
    });
    pod_main(p, rx);
    say("done");
    std::process::exit(0);
}

/// `key=value` of a report line.
pub fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .to_string()
}

/// A numeric `key=value` of a report line.
pub fn num(line: &str, key: &str) -> u64 {
    field(line, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key}= is not a number in {line:?}"))
}
