//! One end of a `bench` measurement: the hidden `tcpbypass-bench bench-worker` command that
//! `bench` starts twice per measurement (server, then client). A worker pins itself to its
//! CPU, joins its cgroup and network namespace *before* it creates a socket (a socket belongs
//! to the cgroup its creator was in), runs one test, prints one `result` line on stdout and
//! exits.
//!
//! Protocol on stdout: a TCP server first prints `port <n>` once it listens (a Unix end prints
//! `ready`), and every worker ends with `result key=value ...` (see [`Report`]).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::cli::BenchTest;
use crate::stats::Histogram;

/// Which end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Listens (TCP) and answers (latency) or receives (stream).
    Server,
    /// Connects and sends.
    Client,
}

/// Which socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// A TCP socket created by the worker.
    Tcp,
    /// One end of a Unix stream socket pair, inherited as `--fd`.
    Unix,
}

/// Arguments of `tcpbypass-bench bench-worker` (internal; `bench` builds them).
#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    /// Which end.
    #[arg(long, value_enum)]
    pub role: Role,
    /// Which test.
    #[arg(long, value_enum)]
    pub test: BenchTest,
    /// Which socket.
    #[arg(long, value_enum)]
    pub transport: Transport,
    /// Message size in bytes.
    #[arg(long)]
    pub size: usize,
    /// How long the client sends, warm-up included, in ms.
    #[arg(long)]
    pub duration_ms: u64,
    /// The first part that is not counted, in ms.
    #[arg(long)]
    pub warmup_ms: u64,
    /// The cgroup to join first.
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// The network namespace to enter first (a file such as /run/netns/NAME).
    #[arg(long)]
    pub netns: Option<PathBuf>,
    /// The CPU to pin to.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// TCP: the address to listen on (server) or connect to (client).
    #[arg(long)]
    pub addr: Option<IpAddr>,
    /// TCP client: the server's port.
    #[arg(long)]
    pub port: Option<u16>,
    /// Unix: the inherited socket's descriptor.
    #[arg(long)]
    pub fd: Option<RawFd>,
    /// TCP: set TCP_NODELAY (always set for the latency test).
    #[arg(long)]
    pub nodelay: bool,
}

/// What a worker reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Bytes this end wrote.
    pub bytes_sent: u64,
    /// Bytes this end read.
    pub bytes_recv: u64,
    /// Latency client: round trips made (warm-up included).
    pub trips: u64,
    /// Stream server: bytes received after the warm-up.
    pub measured_bytes: u64,
    /// Stream server: nanoseconds from the end of the warm-up to the last byte.
    pub measured_ns: u64,
    /// Blocking reads or writes that failed with EAGAIN and were retried.
    pub eagain: u64,
    /// Latency client: round-trip times in ns after the warm-up; churn client: the time of
    /// each whole connection (connect to close) after the warm-up.
    pub hist: Histogram,
    /// Churn client: connections completed after the warm-up (in `measured_ns`).
    pub measured_conns: u64,
    /// Churn client: `connect` calls that failed with EADDRNOTAVAIL (no local port free) and
    /// were retried after a pause.
    pub addr_retries: u64,
}

impl Report {
    /// The `result ...` line.
    pub fn line(&self) -> String {
        format!(
            "result bytes_sent={} bytes_recv={} trips={} measured_bytes={} measured_ns={} eagain={} measured_conns={} addr_retries={} hist={}",
            self.bytes_sent,
            self.bytes_recv,
            self.trips,
            self.measured_bytes,
            self.measured_ns,
            self.eagain,
            self.measured_conns,
            self.addr_retries,
            self.hist.encode()
        )
    }

    /// Parses a `result ...` line.
    pub fn parse(line: &str) -> Option<Report> {
        let rest = line.trim().strip_prefix("result ")?;
        let mut r = Report::default();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let num = || v.parse::<u64>().ok();
            match k {
                "bytes_sent" => r.bytes_sent = num()?,
                "bytes_recv" => r.bytes_recv = num()?,
                "trips" => r.trips = num()?,
                "measured_bytes" => r.measured_bytes = num()?,
                "measured_ns" => r.measured_ns = num()?,
                "eagain" => r.eagain = num()?,
                "measured_conns" => r.measured_conns = num()?,
                "addr_retries" => r.addr_retries = num()?,
                "hist" => r.hist = Histogram::decode(v)?,
                _ => {}
            }
        }
        Some(r)
    }
}

/// A connected socket read and written with plain read(2)/write(2), retrying EINTR and
/// counting (then retrying) EAGAIN on a blocking socket.
struct Conn {
    fd: OwnedFd,
    eagain: u64,
    sent: u64,
    recv: u64,
}

impl Conn {
    fn new(fd: OwnedFd) -> Conn {
        Conn {
            fd,
            eagain: 0,
            sent: 0,
            recv: 0,
        }
    }

    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is valid for buf.len() bytes; the fd is ours.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                self.recv += n as u64;
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => {
                    self.eagain += 1;
                    continue;
                }
                _ => return Err(e),
            }
        }
    }

    /// Reads exactly `buf.len()` bytes; `Ok(false)` on EOF before the first byte.
    fn read_exact_or_eof(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let mut off = 0;
        while off < buf.len() {
            let n = self.read_some(&mut buf[off..])?;
            if n == 0 {
                if off == 0 {
                    return Ok(false);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF after {off} of {} bytes of a message", buf.len()),
                ));
            }
            off += n;
        }
        Ok(true)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut off = 0;
        while off < buf.len() {
            // SAFETY: the slice is valid; the fd is ours.
            let n = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    buf[off..].as_ptr().cast(),
                    buf.len() - off,
                )
            };
            if n >= 0 {
                off += n as usize;
                self.sent += n as u64;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => {
                    self.eagain += 1;
                    continue;
                }
                _ => return Err(e),
            }
        }
        Ok(())
    }

    fn shutdown_write(&self) -> io::Result<()> {
        // SAFETY: plain syscall on our fd.
        if unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads and discards until EOF.
    fn drain(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        while self.read_some(&mut buf)? > 0 {}
        Ok(())
    }
}

fn pin_cpu(cpu: usize) -> Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET bounds-checks against its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            bail!("CPU {cpu} is out of range");
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("pinning to CPU {cpu}"));
        }
    }
    Ok(())
}

fn enter_netns(path: &std::path::Path) -> Result<()> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: setns on an fd we hold open.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("entering the network namespace {}", path.display()));
    }
    Ok(())
}

/// `tcpbypass-bench bench-worker`.
pub fn run(args: &WorkerArgs) -> Result<ExitCode> {
    // Die with the bench process, and never outlive a stuck measurement.
    // SAFETY: prctl and alarm take plain integers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::alarm((args.duration_ms / 1000 + 30) as libc::c_uint);
    }
    if args.size == 0 || args.size > crate::plan::MAX_SIZE {
        bail!("bad message size {}", args.size);
    }
    if let Some(cpu) = args.cpu {
        pin_cpu(cpu)?;
    }
    if let Some(cg) = &args.cgroup {
        let procs = cg.join("cgroup.procs");
        std::fs::write(&procs, format!("{}\n", std::process::id()))
            .with_context(|| format!("joining the cgroup {}", cg.display()))?;
    }
    if let Some(ns) = &args.netns {
        enter_netns(ns)?;
    }
    let mut out = io::stdout();
    if args.test == BenchTest::Churn {
        if args.transport != Transport::Tcp {
            bail!("the churn test runs over TCP only");
        }
        let addr = args
            .addr
            .context("--addr is required with --transport tcp")?;
        let report = match args.role {
            Role::Server => {
                // std sets SO_REUSEADDR on a listener: a restart never meets TIME_WAIT.
                let l = TcpListener::bind(SocketAddr::new(addr, 0))
                    .with_context(|| format!("listening on {addr}"))?;
                writeln!(out, "port {}", l.local_addr()?.port())?;
                out.flush()?;
                churn_server(&l, args.size)?
            }
            Role::Client => {
                let port = args.port.context("--port is required for a TCP client")?;
                churn_client(
                    SocketAddr::new(addr, port),
                    args.size,
                    Duration::from_millis(args.duration_ms),
                    Duration::from_millis(args.warmup_ms),
                )?
            }
        };
        writeln!(out, "{}", report.line())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut conn = match args.transport {
        Transport::Unix => {
            let fd = args.fd.context("--fd is required with --transport unix")?;
            // SAFETY: the bench process passed us this descriptor, open and ours alone.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            if args.role == Role::Server {
                writeln!(out, "ready")?;
            }
            Conn::new(fd)
        }
        Transport::Tcp => {
            let addr = args
                .addr
                .context("--addr is required with --transport tcp")?;
            let stream = match args.role {
                Role::Server => {
                    let l = TcpListener::bind(SocketAddr::new(addr, 0))
                        .with_context(|| format!("listening on {addr}"))?;
                    writeln!(out, "port {}", l.local_addr()?.port())?;
                    out.flush()?;
                    l.accept().context("accepting")?.0
                }
                Role::Client => {
                    let port = args.port.context("--port is required for a TCP client")?;
                    TcpStream::connect(SocketAddr::new(addr, port))
                        .with_context(|| format!("connecting to {addr} port {port}"))?
                }
            };
            if args.test == BenchTest::Latency || args.nodelay {
                stream.set_nodelay(true)?;
            }
            Conn::new(OwnedFd::from(stream))
        }
    };
    out.flush()?;
    let duration = Duration::from_millis(args.duration_ms);
    let warmup = Duration::from_millis(args.warmup_ms);
    let mut report = match (args.role, args.test) {
        (Role::Client, BenchTest::Latency) => {
            latency_client(&mut conn, args.size, duration, warmup)?
        }
        (Role::Server, BenchTest::Latency) => latency_server(&mut conn, args.size)?,
        (Role::Client, BenchTest::Stream) => stream_client(&mut conn, args.size, duration)?,
        (Role::Server, BenchTest::Stream) => stream_server(&mut conn, args.size, warmup)?,
        (_, BenchTest::Churn) => unreachable!("handled above"),
    };
    report.bytes_sent = conn.sent;
    report.bytes_recv = conn.recv;
    report.eagain = conn.eagain;
    writeln!(out, "{}", report.line())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn latency_client(
    conn: &mut Conn,
    size: usize,
    duration: Duration,
    warmup: Duration,
) -> Result<Report> {
    let msg = vec![0x5au8; size];
    let mut reply = vec![0u8; size];
    let mut r = Report::default();
    let start = Instant::now();
    loop {
        let t0 = Instant::now();
        let since = t0 - start;
        // At least one round trip, however slow the machine.
        if since >= duration && r.trips > 0 {
            break;
        }
        conn.write_all(&msg).context("sending a request")?;
        if !conn
            .read_exact_or_eof(&mut reply)
            .context("reading a reply")?
        {
            bail!("the server closed the connection");
        }
        let rtt = t0.elapsed();
        r.trips += 1;
        if since >= warmup {
            r.hist.record(rtt.as_nanos() as u64);
        }
    }
    conn.shutdown_write()?;
    conn.drain()?;
    Ok(r)
}

fn latency_server(conn: &mut Conn, size: usize) -> Result<Report> {
    let mut buf = vec![0u8; size];
    while conn
        .read_exact_or_eof(&mut buf)
        .context("reading a request")?
    {
        conn.write_all(&buf).context("sending a reply")?;
    }
    Ok(Report::default())
}

fn stream_client(conn: &mut Conn, size: usize, duration: Duration) -> Result<Report> {
    let msg = vec![0xa5u8; size];
    let start = Instant::now();
    // At least one message, however slow the machine.
    loop {
        conn.write_all(&msg).context("sending")?;
        if start.elapsed() >= duration {
            break;
        }
    }
    conn.shutdown_write()?;
    conn.drain()?;
    Ok(Report::default())
}

fn stream_server(conn: &mut Conn, size: usize, warmup: Duration) -> Result<Report> {
    let mut buf = vec![0u8; size.max(64 * 1024)];
    let mut total = 0u64;
    let mut first: Option<Instant> = None;
    let mut base: Option<(Instant, u64)> = None;
    let mut last = Instant::now();
    loop {
        let n = conn.read_some(&mut buf).context("receiving")?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        total += n as u64;
        match first {
            None => {
                first = Some(now);
                base = None;
            }
            Some(f) if base.is_none() && now - f >= warmup => base = Some((now, total)),
            _ => {}
        }
        last = now;
    }
    let (t0, b0) = match (base, first) {
        (Some(b), _) => b,
        // A run shorter than its warm-up: count from the first read.
        (None, Some(f)) => (f, 0),
        (None, None) => bail!("the client sent nothing"),
    };
    conn.shutdown_write().ok();
    Ok(Report {
        measured_bytes: total - b0,
        measured_ns: (last - t0).as_nanos() as u64,
        ..Report::default()
    })
}

/// Churn server: accepts connections one after the other; each sends one request of `size`
/// bytes, gets it back, and the server closes first (so TIME_WAIT stays on this side and the
/// client's ports are free again at once). A connection closed without a request is the
/// client's end-of-run signal.
fn churn_server(l: &TcpListener, size: usize) -> Result<Report> {
    let mut buf = vec![0u8; size];
    let mut r = Report::default();
    loop {
        let (s, _) = l.accept().context("accepting")?;
        s.set_nodelay(true)?;
        let mut c = Conn::new(OwnedFd::from(s));
        let got = c.read_exact_or_eof(&mut buf).context("reading a request")?;
        if got {
            c.write_all(&buf).context("sending a reply")?;
        }
        r.bytes_sent += c.sent;
        r.bytes_recv += c.recv;
        r.eagain += c.eagain;
        if !got {
            return Ok(r);
        }
        r.trips += 1;
    }
}

/// `connect`, retrying EINTR and, after a pause, EADDRNOTAVAIL (every local port in use or in
/// TIME_WAIT); the retries are counted.
fn connect_retrying(addr: SocketAddr, retries: &mut u64) -> Result<TcpStream> {
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) && *retries < 100_000 => {
                *retries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("connecting to {addr}")),
        }
    }
}

/// Churn client: for `duration`, connect, send `size` bytes, read them back, wait for the
/// server's close, close; counts the connections completed after the warm-up. Ends with one
/// empty connection that tells the server to stop.
fn churn_client(
    addr: SocketAddr,
    size: usize,
    duration: Duration,
    warmup: Duration,
) -> Result<Report> {
    let msg = vec![0x3cu8; size];
    let mut reply = vec![0u8; size];
    let mut r = Report::default();
    let start = Instant::now();
    let mut measured_from: Option<Instant> = None;
    let mut last = start;
    loop {
        let t0 = Instant::now();
        let since = t0 - start;
        // At least one connection, however slow the machine.
        if since >= duration && r.trips > 0 {
            break;
        }
        let s = connect_retrying(addr, &mut r.addr_retries)?;
        s.set_nodelay(true)?;
        let mut c = Conn::new(OwnedFd::from(s));
        c.write_all(&msg).context("sending a request")?;
        if !c.read_exact_or_eof(&mut reply).context("reading a reply")? {
            bail!("the server closed a connection without replying");
        }
        c.drain().context("waiting for the server's close")?;
        r.bytes_sent += c.sent;
        r.bytes_recv += c.recv;
        r.eagain += c.eagain;
        drop(c);
        let now = Instant::now();
        r.trips += 1;
        if since >= warmup {
            measured_from.get_or_insert(t0);
            r.measured_conns += 1;
            r.hist.record((now - t0).as_nanos() as u64);
        }
        last = now;
    }
    r.measured_ns = measured_from.map_or(0, |f| (last - f).as_nanos() as u64);
    // The end-of-run signal: a connection without a request.
    let s = connect_retrying(addr, &mut r.addr_retries)?;
    s.shutdown(std::net::Shutdown::Write).ok();
    let mut c = Conn::new(OwnedFd::from(s));
    c.drain().ok();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips() {
        let mut h = Histogram::new();
        h.record(12_345);
        h.record(99);
        let r = Report {
            bytes_sent: 1,
            bytes_recv: 2,
            trips: 3,
            measured_bytes: 4,
            measured_ns: 5,
            eagain: 6,
            measured_conns: 7,
            addr_retries: 8,
            hist: h,
        };
        assert_eq!(Report::parse(&r.line()), Some(r));
        assert_eq!(Report::parse("port 5"), None);
        assert_eq!(Report::parse("result trips=x"), None);
    }

    /// Runs the latency loops over a Unix socket pair, both ends in this process.
    fn latency_pair(duration: Duration, warmup: Duration) -> (Report, u64, u64) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut c = Conn::new(OwnedFd::from(b));
            latency_server(&mut c, 100).unwrap();
            c.sent
        });
        let mut c = Conn::new(OwnedFd::from(a));
        let r = latency_client(&mut c, 100, duration, warmup).unwrap();
        (r, c.sent, server.join().unwrap())
    }

    /// Runs the stream loops over a Unix socket pair: the report, bytes sent, bytes received
    /// and the wall time of the whole exchange.
    fn stream_pair(duration: Duration, warmup: Duration) -> (Report, u64, u64, Duration) {
        let wall = Instant::now();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut c = Conn::new(OwnedFd::from(b));
            let r = stream_server(&mut c, 1000, warmup).unwrap();
            (r, c.recv)
        });
        let mut c = Conn::new(OwnedFd::from(a));
        stream_client(&mut c, 1000, duration).unwrap();
        let (r, recv) = server.join().unwrap();
        (r, c.sent, recv, wall.elapsed())
    }

    #[test]
    fn churn_counts_every_connection_and_stops_the_server() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || churn_server(&l, 100).unwrap());
        let r = churn_client(addr, 100, Duration::from_millis(30), Duration::ZERO).unwrap();
        let s = server.join().unwrap();
        assert!(r.trips >= 1);
        assert_eq!(s.trips, r.trips);
        assert_eq!(r.measured_conns, r.trips);
        assert_eq!(r.hist.count(), r.trips);
        assert_eq!(r.bytes_sent, r.trips * 100);
        assert_eq!(r.bytes_recv, r.trips * 100);
        assert_eq!(s.bytes_sent, r.trips * 100);
        // A warm-up longer than the run: connections happen, none is measured.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || churn_server(&l, 10).unwrap());
        let r = churn_client(
            addr,
            10,
            Duration::from_millis(10),
            Duration::from_secs(3600),
        )
        .unwrap();
        assert_eq!(server.join().unwrap().trips, r.trips);
        assert!(r.trips >= 1);
        assert_eq!((r.measured_conns, r.measured_ns), (0, 0));
    }

    // These tests check the loops' byte and trip accounting, not speed: every assertion
    // holds however slowly the machine runs (a TCG guest runs them too).

    #[test]
    fn latency_counts_every_trip_and_records_after_the_warm_up() {
        let hour = Duration::from_secs(3600);
        // No warm-up: every trip is recorded.
        let (r, sent, served) = latency_pair(Duration::from_millis(20), Duration::ZERO);
        assert!(r.trips >= 1);
        assert_eq!(sent, r.trips * 100);
        assert_eq!(served, r.trips * 100);
        assert_eq!(r.hist.count(), r.trips);
        // A warm-up longer than the run: trips happen, none is recorded.
        let (r, sent, served) = latency_pair(Duration::from_millis(20), hour);
        assert!(r.trips >= 1);
        assert_eq!(sent, r.trips * 100);
        assert_eq!(served, r.trips * 100);
        assert_eq!(r.hist.count(), 0);
    }

    #[test]
    fn stream_measures_within_what_was_received() {
        let hour = Duration::from_secs(3600);
        // A warm-up longer than the run: counted from the first read, so every byte.
        let (r, sent, recv, wall) = stream_pair(Duration::from_millis(20), hour);
        assert!(sent >= 1000);
        assert_eq!(recv, sent);
        assert_eq!(r.measured_bytes, recv);
        assert!(r.measured_ns <= wall.as_nanos() as u64);
        // A short warm-up: what is measured is part of what arrived.
        let (r, sent, recv, wall) =
            stream_pair(Duration::from_millis(20), Duration::from_millis(5));
        assert!(sent >= 1000);
        assert_eq!(recv, sent);
        assert!(r.measured_bytes <= recv);
        assert!(r.measured_ns <= wall.as_nanos() as u64);
    }
}
