//! Kernel tier: what an operator reads back — `tcpbypass connections` and the Prometheus
//! metrics of `tcpbypass run --metrics-addr` — checked against real bypassed sockets.
//!
//! The bypass is loaded with the real CLI into a temporary child cgroup and pin directory (the
//! e2e harness, `e2e/support.rs`); the sockets belong to a *holder* child (this test binary
//! re-executed with `TB_OBS_ROLE` set) that joins that cgroup and a named network namespace,
//! opens loopback connections on command and keeps them open, and prints their addresses.
//! Every wait polls a readback with a deadline.
//!
//! Needs root and bpf(); skips with a printed reason otherwise (fails under
//! `TCPBYPASS_REQUIRE_KERNEL=1`).

#[path = "e2e/child.rs"]
mod child;
#[path = "e2e/support.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use support::*;

const ROLE_ENV: &str = "TB_OBS_ROLE";

/// Not a test: the holder's entry point (returns at once in the test runner).
#[test]
fn observe_child_role() {
    holder::run_if_child();
}

// ---------------------------------------------------------------- the holder child

mod holder {
    use std::io::{BufRead, Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn say(line: &str) {
        println!("@obs {line}");
        let _ = std::io::stdout().flush();
    }

    /// Joins the cgroup and namespace named in the environment, then obeys stdin:
    /// `open` (a loopback connection, the server's byte first so the pairing is decided before
    /// the client writes), `traffic <i> <bytes>` (each way), `cork <i>` (TCP_CORK on the
    /// client: the setsockopt guard moves the connection to TCP), `close` (all), EOF (exit).
    pub fn run_if_child() {
        if std::env::var(super::ROLE_ENV).as_deref() != Ok("hold") {
            return;
        }
        if let Ok(cg) = std::env::var("TB_OBS_CGROUP") {
            std::fs::write(
                format!("{cg}/cgroup.procs"),
                format!("{}\n", std::process::id()),
            )
            .expect("joining the cgroup");
        }
        if let Ok(ns) = std::env::var("TB_OBS_NETNS") {
            let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("opening the netns");
            // SAFETY: setns of this (only) thread with a namespace fd we own.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen");
        let mut conns: Vec<(TcpStream, TcpStream)> = Vec::new();
        say("ready");
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["open"] => {
                    let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                    let (mut s, _) = listener.accept().unwrap();
                    let mut b = [0u8; 1];
                    s.write_all(b"s").unwrap();
                    c.read_exact(&mut b).unwrap();
                    c.write_all(b"c").unwrap();
                    s.read_exact(&mut b).unwrap();
                    say(&format!(
                        "opened {} {} {}",
                        conns.len(),
                        c.local_addr().unwrap(),
                        s.local_addr().unwrap()
                    ));
                    conns.push((c, s));
                }
                ["traffic", i, n] => {
                    let (c, s) = &conns[i.parse::<usize>().unwrap()];
                    let n: usize = n.parse().unwrap();
                    let data = vec![7u8; n];
                    for (w, r) in [(c, s), (s, c)] {
                        let mut r = r.try_clone().unwrap();
                        let t = std::thread::spawn(move || {
                            let mut got = vec![0u8; n];
                            r.read_exact(&mut got).unwrap();
                            got
                        });
                        let mut w = w;
                        w.write_all(&data).unwrap();
                        assert_eq!(t.join().unwrap(), data);
                    }
                    say("moved");
                }
                ["cork", i] => {
                    let (c, _) = &conns[i.parse::<usize>().unwrap()];
                    let one: libc::c_int = 1;
                    // SAFETY: setsockopt with an int value on a socket we own.
                    let r = unsafe {
                        libc::setsockopt(
                            c.as_raw_fd(),
                            libc::IPPROTO_TCP,
                            libc::TCP_CORK,
                            &one as *const libc::c_int as *const libc::c_void,
                            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                        )
                    };
                    assert_eq!(r, 0, "TCP_CORK");
                    say("corked");
                }
                ["close"] => {
                    conns.clear();
                    say("closed");
                }
                _ => say(&format!("unknown {line}")),
            }
        }
        std::process::exit(0);
    }
}

/// The runner's handle on a holder; killed on drop.
struct Holder {
    proc: std::process::Child,
    rx: Receiver<String>,
}

impl Holder {
    fn spawn(cgroup: &Path, ns: &Netns) -> Holder {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args([
                "observe_child_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE_ENV, "hold")
            .env("TB_OBS_CGROUP", cgroup)
            .env("TB_OBS_NETNS", &ns.name)
            .env_remove("RUST_TEST_THREADS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawning the holder");
        let out = proc.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(l) = line.strip_prefix("@obs ") {
                    if tx.send(l.to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        let mut h = Holder { proc, rx };
        h.expect("ready");
        h
    }

    fn expect(&mut self, prefix: &str) -> String {
        let limit = Duration::from_secs(30);
        match self.rx.recv_timeout(limit) {
            Ok(l) if l.starts_with(prefix) => l,
            Ok(l) => panic!("holder: expected `{prefix}`, got `{l}`"),
            Err(RecvTimeoutError::Timeout) => panic!("holder: no `{prefix}` within 30 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("holder exited before `{prefix}`"),
        }
    }

    fn cmd(&mut self, line: &str, reply: &str) -> String {
        let stdin = self.proc.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.expect(reply)
    }

    /// Opens a connection: (client's address, server's address).
    fn open(&mut self) -> (SocketAddr, SocketAddr) {
        let l = self.cmd("open", "opened");
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[2].parse().unwrap(), w[3].parse().unwrap())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

// ---------------------------------------------------------------- a minimal JSON reader

#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, k: &str) -> &J {
        match self {
            J::Obj(v) => v
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, x)| x)
                .unwrap_or_else(|| panic!("no key {k} in {self:?}")),
            _ => panic!("not an object: {self:?}"),
        }
    }
    fn num(&self) -> u64 {
        match self {
            J::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            J::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    fn arr(&self) -> &[J] {
        match self {
            J::Arr(v) => v,
            _ => panic!("not an array: {self:?}"),
        }
    }
}

fn parse_json(s: &str) -> J {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn val(b: &[u8], i: &mut usize) -> J {
        ws(b, i);
        match b[*i] {
            b'n' => {
                *i += 4;
                J::Null
            }
            b't' => {
                *i += 4;
                J::Bool(true)
            }
            b'f' => {
                *i += 5;
                J::Bool(false)
            }
            b'"' => J::Str(string(b, i)),
            b'[' => {
                *i += 1;
                let mut v = Vec::new();
                loop {
                    ws(b, i);
                    if b[*i] == b']' {
                        *i += 1;
                        return J::Arr(v);
                    }
                    v.push(val(b, i));
                    ws(b, i);
                    if b[*i] == b',' {
                        *i += 1;
                    }
                }
            }
            b'{' => {
                *i += 1;
                let mut v = Vec::new();
                loop {
                    ws(b, i);
                    if b[*i] == b'}' {
                        *i += 1;
                        return J::Obj(v);
                    }
                    let k = string(b, i);
                    ws(b, i);
                    assert_eq!(b[*i], b':');
                    *i += 1;
                    v.push((k, val(b, i)));
                    ws(b, i);
                    if b[*i] == b',' {
                        *i += 1;
                    }
                }
            }
            _ => {
                let start = *i;
                while *i < b.len() && b[*i].is_ascii_digit() {
                    *i += 1;
                }
                J::Num(std::str::from_utf8(&b[start..*i]).unwrap().parse().unwrap())
            }
        }
    }
    fn string(b: &[u8], i: &mut usize) -> String {
        assert_eq!(b[*i], b'"');
        *i += 1;
        let mut out = Vec::new();
        while b[*i] != b'"' {
            if b[*i] == b'\\' {
                *i += 1;
                out.push(match b[*i] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    c => c,
                });
            } else {
                out.push(b[*i]);
            }
            *i += 1;
        }
        *i += 1;
        String::from_utf8(out).unwrap()
    }
    let mut i = 0;
    val(s.as_bytes(), &mut i)
}

// ---------------------------------------------------------------- helpers

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `connections --json` of the test's pin dir.
fn connections(bp: &Bypass) -> J {
    let pd = bp.pin_dir.to_str().unwrap();
    let o = bp.cli(&["connections", "--json", "--pin-dir", pd]);
    assert!(o.status.success(), "connections: {}", text(&o.stderr));
    parse_json(&text(&o.stdout))
}

/// Polls `connections --json` until `ok` holds; panics with the last answer after 20 s.
fn poll_connections(bp: &Bypass, what: &str, ok: impl Fn(&J) -> bool) -> J {
    let start = Instant::now();
    loop {
        let j = connections(bp);
        if ok(&j) {
            return j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: not reached within 20 s; last: {j:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The connection whose ends are `client` and `server` (in either order: which end is listed
/// first follows the ports, and the test's listener has an ephemeral port too).
fn find_conn(j: &J, client: SocketAddr, server: SocketAddr) -> Option<&J> {
    let (c, s) = (client.to_string(), server.to_string());
    j.get("connections").arr().iter().find(|x| {
        let e = x.get("ends").arr();
        let is = |e: &J, l: &str, r: &str| e.get("local").str() == l && e.get("remote").str() == r;
        e.len() == 2
            && ((is(&e[0], &c, &s) && is(&e[1], &s, &c))
                || (is(&e[0], &s, &c) && is(&e[1], &c, &s)))
    })
}

// ---------------------------------------------------------------- connections

#[test]
fn connections_lists_real_pairs_and_taint() {
    let Some(_g) = start("connections_lists_real_pairs_and_taint") else {
        return;
    };
    let mut bp = Bypass::new();
    // Nothing loaded yet: says so, exit 0, as `status`.
    let pd = bp.pin_dir.to_str().unwrap().to_string();
    let o = bp.cli(&["connections", "--pin-dir", &pd]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("not loaded"),
        "{}",
        text(&o.stdout)
    );
    let j = connections(&bp);
    assert_eq!(j.get("loaded"), &J::Bool(false));
    assert_eq!(j.get("schema").num(), 1);

    bp.load(&[]);
    let st = bp.status();
    let ns = Netns::new();
    let mut h = Holder::spawn(bp.cgroup(), &ns);
    let pairs: Vec<(SocketAddr, SocketAddr)> = (0..3).map(|_| h.open()).collect();
    let j = poll_connections(&bp, "three paired connections", |j| {
        j.get("summary").get("paired").num() == 3
    });
    assert_eq!(j.get("sockets").num(), 6);
    assert_eq!(j.get("sockets").num(), bp.status().sockets);
    assert_eq!(j.get("connections").arr().len(), 3, "{j:?}");
    for (c, s) in &pairs {
        let conn = find_conn(&j, *c, *s).unwrap_or_else(|| panic!("{c} -> {s} not listed: {j:?}"));
        assert_eq!(conn.get("state").str(), "paired");
        for e in conn.get("ends").arr() {
            assert_eq!(e.get("state").str(), "paired", "{conn:?}");
            assert_eq!(e.get("netns").str(), ns.name, "{conn:?}");
            assert!(e.get("netns_cookie").num() > 0);
        }
    }
    // The text form: a table row per connection and the summary line.
    let o = bp.cli(&["connections", "--pin-dir", &pd]);
    let t = text(&o.stdout);
    assert!(t.starts_with("STATE"), "{t}");
    assert!(
        t.contains(
            "6 sockets in 3 connections: 3 paired, 0 waiting, 0 tcp, 0 fallback, 0 unpaired"
        ),
        "{t}"
    );
    assert!(
        t.contains(&pairs[0].0.to_string()) && t.contains(&ns.name),
        "{t}"
    );

    // TCP_CORK on one client: the setsockopt guard taints both ends.
    h.cmd("cork 1", "corked");
    let (c, s) = pairs[1];
    let j = poll_connections(&bp, "the corked connection on tcp", |j| {
        find_conn(j, c, s).is_some_and(|x| x.get("state").str() == "tcp")
    });
    let conn = find_conn(&j, c, s).unwrap();
    for e in conn.get("ends").arr() {
        assert_eq!(e.get("state").str(), "tcp", "{conn:?}");
    }
    let sum = j.get("summary");
    assert_eq!(
        (sum.get("paired").num(), sum.get("tcp").num()),
        (2, 1),
        "{j:?}"
    );
    assert!(bp.status().c("compat_fallback") > st.c("compat_fallback"));

    // Closed: nothing listed.
    h.cmd("close", "closed");
    let j = poll_connections(&bp, "no connections after close", |j| {
        j.get("sockets").num() == 0
    });
    assert!(j.get("connections").arr().is_empty(), "{j:?}");
    drop(h);
    let ids = [st.so_id, st.sm_id];
    bp.finish(&ids);
    ns.close();
}

// ---------------------------------------------------------------- metrics

/// One sample of an exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses an exposition strictly: every line a HELP, a TYPE or a sample; every sample's
/// family has HELP and TYPE before it; counters end in `_total`.
fn parse_exposition(t: &str) -> Vec<Sample> {
    let mut help = HashMap::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for line in t.lines() {
        if let Some(r) = line.strip_prefix("# HELP ") {
            let (n, h) = r
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad HELP {line:?}"));
            assert!(!h.is_empty(), "{line:?}");
            assert!(help.insert(n.to_string(), ()).is_none(), "HELP twice: {n}");
            continue;
        }
        if let Some(r) = line.strip_prefix("# TYPE ") {
            let (n, k) = r
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad TYPE {line:?}"));
            assert!(help.contains_key(n), "TYPE before HELP: {n}");
            assert!(matches!(k, "counter" | "gauge"), "{line:?}");
            assert_eq!(
                k == "counter",
                n.ends_with("_total"),
                "counter naming: {line:?}"
            );
            assert!(
                types.insert(n.to_string(), k.to_string()).is_none(),
                "TYPE twice: {n}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("bad sample {line:?}"));
        let name = &line[..name_end];
        assert!(
            name.starts_with("tcpbypass_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line:?}"
        );
        assert!(types.contains_key(name), "sample without TYPE: {line:?}");
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(x) = r.strip_prefix('}') {
                    r = x;
                    break;
                }
                let r2 = r.strip_prefix(',').unwrap_or(r);
                let (k, v) = r2
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("bad label {line:?}"));
                let mut val = String::new();
                let mut chars = v.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => val.push('\n'),
                            Some((_, c @ ('\\' | '"'))) => val.push(c),
                            x => panic!("bad escape {x:?} in {line:?}"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => val.push(c),
                        None => panic!("unterminated label in {line:?}"),
                    }
                };
                labels.push((k.to_string(), val));
                r = &v[end + 1..];
            }
            rest = r;
        }
        let value: f64 = rest
            .strip_prefix(' ')
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad value in {line:?}"));
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for n in types.keys() {
        assert!(help.contains_key(n));
    }
    out
}

fn value(s: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    s.iter()
        .find(|x| {
            x.name == name
                && labels
                    .iter()
                    .all(|(k, v)| x.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
        .value
}

/// A raw HTTP request; returns (status line, headers, body).
fn http(port: u16, request: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).expect("reading the answer");
    let (head, body) = r
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {r:?}"));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

fn scrape(port: u16) -> Vec<Sample> {
    let (status, headers, body) = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(
        headers.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    assert!(headers.contains("Connection: close"), "{headers}");
    let len: usize = headers
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .expect("Content-Length");
    assert_eq!(len, body.len());
    parse_exposition(&body)
}

/// `tcpbypass run` as a child process; SIGKILLed on drop (the Bypass guard unloads).
struct Run(std::process::Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn metrics_served_while_running() {
    let Some(_g) = start("metrics_served_while_running") else {
        return;
    };
    let mut bp = Bypass::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cg = bp.cgroup().to_str().unwrap().to_string();
    let pd = bp.pin_dir.to_str().unwrap().to_string();
    let addr = format!("127.0.0.1:{port}");

    // A busy address fails `run` before anything is loaded.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let o = bp.cli(&[
        "run",
        "--cgroup",
        &cg,
        "--pin-dir",
        &pd,
        "--metrics-addr",
        &busy_addr,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("cannot listen"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !bp.pin_dir.exists(),
        "run loaded although it could not listen"
    );
    drop(busy);

    let mut run = Run(Command::new(bin_path())
        .args([
            "run",
            "--cgroup",
            &cg,
            "--pin-dir",
            &pd,
            "--metrics-addr",
            &addr,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning run"));
    bp.loaded = true; // from here the Bypass guard unloads whatever happens
                      // The listener is bound before the load; the first answer comes once it is loaded.
    let start_t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start_t.elapsed() < Duration::from_secs(60),
            "metrics port never opened"
        );
        assert!(run.0.try_wait().unwrap().is_none(), "run exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = scrape(port);
    assert_eq!(value(&first, "tcpbypass_loaded", &[]), 1.0);
    assert_eq!(value(&first, "tcpbypass_attached", &[]), 1.0);
    assert_eq!(
        value(
            &first,
            "tcpbypass_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    let st = bp.status();
    assert_eq!(
        value(
            &first,
            "tcpbypass_program_info",
            &[("program", "sock_ops"), ("id", &st.so_id.to_string())]
        ),
        1.0
    );
    assert_eq!(
        value(&first, "tcpbypass_map_max_entries", &[("map", "tb_socks")]),
        f64::from(programs::MAX_CONNS)
    );
    for c in programs::Counter::ALL {
        value(&first, &format!("tcpbypass_{}_total", c.name()), &[]);
    }

    // Real traffic through two held connections.
    let ns = Netns::new();
    let mut h = Holder::spawn(bp.cgroup(), &ns);
    h.open();
    h.open();
    h.cmd("traffic 0 100000", "moved");
    let st = bp.status();
    let m = scrape(port);
    assert_eq!(value(&m, "tcpbypass_sockets", &[]), st.sockets as f64);
    assert_eq!(st.sockets, 4);
    assert_eq!(value(&m, "tcpbypass_pairs", &[]), 2.0);
    assert_eq!(
        value(&m, "tcpbypass_map_entries", &[("map", "tb_socks")]),
        4.0
    );
    assert_eq!(
        value(&m, "tcpbypass_map_entries", &[("map", "tb_peers")]),
        4.0
    );
    let fill = value(&m, "tcpbypass_map_fill_ratio", &[("map", "tb_socks")]);
    assert!(
        (fill - 4.0 / f64::from(programs::MAX_CONNS)).abs() < 1e-9,
        "{fill}"
    );
    for c in programs::Counter::ALL {
        assert_eq!(
            value(&m, &format!("tcpbypass_{}_total", c.name()), &[]),
            st.c(c.name()) as f64,
            "{} differs from status",
            c.name()
        );
    }
    let grew = |n: &str| value(&m, n, &[]) - value(&first, n, &[]);
    assert!(grew("tcpbypass_redirected_total") >= 2.0);
    assert!(grew("tcpbypass_redirected_bytes_total") >= 200_000.0);

    // Other paths and methods.
    let (s404, _, _) = http(port, "GET /nope HTTP/1.1\r\n\r\n");
    assert!(s404.starts_with("HTTP/1.1 404"), "{s404}");
    let (s405, h405, _) = http(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(
        s405.starts_with("HTTP/1.1 405") && h405.contains("Allow: GET, HEAD"),
        "{s405}"
    );
    let (shead, hhead, bhead) = http(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        shead.starts_with("HTTP/1.1 200") && hhead.contains("Content-Length: "),
        "{shead}"
    );
    assert!(bhead.is_empty(), "HEAD with a body");
    let (s400, _, _) = http(port, "garbage\r\n\r\n");
    assert!(s400.starts_with("HTTP/1.1 400"), "{s400}");

    // Clients that connect and send nothing hold one slot each for the request deadline (5 s),
    // not the scrapes of others; beyond the limit of 4 at once a connection gets 503 at once.
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("an idle client"))
        .collect();
    let t = Instant::now();
    let (s, _, _) = http(port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert!(s.starts_with("HTTP/1.1 200"), "{s}");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "a scrape waited {:?} behind 3 idle clients",
        t.elapsed()
    );
    let more: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("an idle client"))
        .collect();
    let (s503, _, _) = http(port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert!(s503.starts_with("HTTP/1.1 503"), "{s503}");
    drop((idle, more));

    // SIGTERM: run unloads and exits 0, and the port closes.
    h.cmd("close", "closed");
    drop(h);
    // SAFETY: kill with a pid of our own child.
    assert_eq!(unsafe { libc::kill(run.0.id() as i32, libc::SIGTERM) }, 0);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = run.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "run did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "run exited {status}");
    bp.loaded = false;
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port still open"
    );
    bp.finish(&[st.so_id, st.sm_id]);
    ns.close();
}
