//! The test-runner side of the end-to-end tests: network namespaces, the bypass loaded with
//! the real CLI into a temporary cgroup and pin directory, child processes and their reports,
//! and the checks that nothing is left behind. Every resource has a drop guard, and every wait
//! a deadline.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child as Proc, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use loader::testing::{kernel_or_skip, TempCgroup, TempPinDir};

/// The CLI under test (its build path, or where `CARGO_BIN_EXE_tcpbypass` says at run time).
pub fn bin_path() -> PathBuf {
    loader::testing::runtime_path("CARGO_BIN_EXE_tcpbypass", env!("CARGO_BIN_EXE_tcpbypass"))
}

/// Kernel e2e tests run one at a time: they measure segment counters and move a lot of data
/// on a 2-CPU machine.
pub fn start(name: &str) -> Option<MutexGuard<'static, ()>> {
    static LOCK: Mutex<()> = Mutex::new(());
    if !kernel_or_skip(name) {
        return None;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        if std::env::var(loader::testing::REQUIRE_KERNEL_ENV).as_deref() == Ok("1") {
            panic!("{name}: the `ip` tool (iproute2) is missing");
        }
        eprintln!("SKIP {name}: the `ip` tool (iproute2) is missing");
        return None;
    }
    let g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    eprintln!("--- {name}");
    Some(g)
}

/// Runs a command with a deadline; kills it and panics when it overruns.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------- network namespaces

static NS_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace `tb-e2e-<pid>-<n>` with `lo` up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        let name = format!(
            "tb-e2e-{}-{}",
            std::process::id(),
            NS_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let o = run_bounded(
            Command::new("ip").args(["netns", "add", &name]),
            Duration::from_secs(10),
        );
        assert!(
            o.status.success(),
            "ip netns add {name}: {}",
            text(&o.stderr)
        );
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> args…`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let o = run_bounded(
            Command::new("ip").arg("-n").arg(&self.name).args(args),
            Duration::from_secs(10),
        );
        assert!(
            o.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            text(&o.stderr)
        );
    }

    /// Runs a program inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Output {
        run_bounded(
            Command::new("ip")
                .args(["netns", "exec", &self.name])
                .args(args),
            Duration::from_secs(10),
        )
    }

    /// `TcpOutSegs` of this namespace.
    pub fn out_segs(&self) -> u64 {
        let o = self.exec(&["cat", "/proc/net/snmp"]);
        assert!(o.status.success(), "reading snmp in {}", self.name);
        crate::child::parse_out_segs(&text(&o.stdout)).expect("TcpOutSegs in /proc/net/snmp")
    }

    /// Deletes the namespace now and checks it is gone.
    pub fn close(self) {
        let name = self.name.clone();
        drop(self);
        let o = run_bounded(
            Command::new("ip").args(["netns", "list"]),
            Duration::from_secs(10),
        );
        assert!(
            !text(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&name)),
            "namespace {name} still listed"
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run_bounded(
            Command::new("ip").args(["netns", "del", &self.name]),
            Duration::from_secs(10),
        );
    }
}

/// Joins namespaces `a` and `b` with a veth pair `va`/`vb`, addresses `a_ip`/`b_ip` (CIDR).
pub fn veth(a: &Netns, b: &Netns, a_ip: &str, b_ip: &str) {
    a.ip(&[
        "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b.name,
    ]);
    a.ip(&["addr", "add", a_ip, "dev", "va"]);
    b.ip(&["addr", "add", b_ip, "dev", "vb"]);
    a.ip(&["link", "set", "va", "up"]);
    b.ip(&["link", "set", "vb", "up"]);
}

// ---------------------------------------------------------------- the bypass

/// Counters and sockets as `tcpbypass status --json` shows them.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub loaded: bool,
    pub attached: bool,
    pub sockets: u64,
    /// `closed_entries`: tb_peers entries of sockets no longer in the sockhash.
    pub closed_entries: u64,
    /// The connection capacity the maps were created with (`--max-conns`).
    pub max_conns: u64,
    pub counters: HashMap<String, u64>,
    pub so_id: u32,
    pub sm_id: u32,
}

impl Status {
    pub fn c(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
    /// `self - before` per counter.
    pub fn delta(&self, before: &Status) -> HashMap<String, u64> {
        self.counters
            .iter()
            .map(|(k, v)| (k.clone(), v - before.c(k)))
            .collect()
    }
}

fn json_num(s: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let i = s.find(&pat)? + pat.len();
    let rest = &s[i..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn json_bool(s: &str, key: &str) -> Option<bool> {
    let pat = format!("\"{key}\":");
    let i = s.find(&pat)? + pat.len();
    Some(s[i..].starts_with("true"))
}

/// The bypass in a temporary cgroup and pin directory, driven through the real CLI.
pub struct Bypass {
    pub cg: Option<TempCgroup>,
    pins: TempPinDir,
    pub pin_dir: PathBuf,
    pub loaded: bool,
}

impl Bypass {
    pub fn new() -> Bypass {
        let cg = TempCgroup::new().expect("temporary cgroup");
        let pins = TempPinDir::new().expect("temporary pin dir");
        let pin_dir = pins.join("p");
        Bypass {
            cg: Some(cg),
            pins,
            pin_dir,
            loaded: false,
        }
    }

    pub fn cgroup(&self) -> &Path {
        self.cg.as_ref().unwrap().path()
    }

    /// Runs the CLI with `args` (bounded to 30 s).
    pub fn cli(&self, args: &[&str]) -> Output {
        run_bounded(Command::new(bin_path()).args(args), Duration::from_secs(30))
    }

    /// `tcpbypass load --cgroup … --pin-dir … extra…`, which must succeed; returns stderr.
    pub fn load(&mut self, extra: &[&str]) -> String {
        let cg = self.cgroup().to_str().unwrap().to_string();
        let pd = self.pin_dir.to_str().unwrap().to_string();
        let mut args = vec!["load", "--cgroup", &cg, "--pin-dir", &pd];
        args.extend_from_slice(extra);
        let o = self.cli(&args);
        assert!(
            o.status.success(),
            "tcpbypass {}: {}",
            args.join(" "),
            text(&o.stderr)
        );
        self.loaded = true;
        text(&o.stderr)
    }

    pub fn unload(&mut self) {
        let pd = self.pin_dir.to_str().unwrap().to_string();
        let o = self.cli(&["unload", "--pin-dir", &pd]);
        assert!(o.status.success(), "tcpbypass unload: {}", text(&o.stderr));
        self.loaded = false;
    }

    pub fn status(&self) -> Status {
        let pd = self.pin_dir.to_str().unwrap().to_string();
        let o = self.cli(&["status", "--json", "--pin-dir", &pd]);
        assert!(o.status.success(), "tcpbypass status: {}", text(&o.stderr));
        let s = text(&o.stdout);
        let mut st = Status {
            loaded: json_bool(&s, "loaded").unwrap_or(false),
            attached: json_bool(&s, "attached").unwrap_or(false),
            sockets: json_num(&s, "sockets").unwrap_or(0),
            closed_entries: json_num(&s, "closed_entries").unwrap_or(0),
            max_conns: json_num(&s, "max_conns").unwrap_or(0),
            ..Default::default()
        };
        if let Some(i) = s.find("\"sock_ops\":") {
            st.so_id = json_num(&s[i..], "id").unwrap_or(0) as u32;
        }
        if let Some(i) = s.find("\"sk_msg\":") {
            st.sm_id = json_num(&s[i..], "id").unwrap_or(0) as u32;
        }
        if let Some(i) = s.find("\"counters\":") {
            // Every counter the programs keep, so a test can read what it did not expect.
            for name in programs::Counter::ALL.map(|c| c.name()) {
                if let Some(v) = json_num(&s[i..], name) {
                    st.counters.insert(name.to_string(), v);
                }
            }
        }
        st
    }

    /// Entries of the pinned map `name` (`programs::names`), counted by walking its keys.
    pub fn map_entries(&self, name: &str) -> usize {
        let path = self.pin_dir.join("maps").join(name);
        let m = loader::Map::open_pinned(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        m.keys()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("walking {}: {e}", path.display()))
            .len()
    }

    /// Every (key, value) of the pinned map `name` (entries deleted meanwhile are skipped).
    pub fn map_dump(&self, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let path = self.pin_dir.join("maps").join(name);
        let m = loader::Map::open_pinned(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        let keys = m
            .keys()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("walking {}: {e}", path.display()));
        keys.into_iter()
            .filter_map(|k| {
                let v = m.get(&k).ok().flatten()?;
                Some((k, v))
            })
            .collect()
    }

    /// The `memlock` bytes the kernel charges for the pinned map `name` (its fdinfo).
    pub fn map_memlock(&self, name: &str) -> u64 {
        use std::os::fd::{AsFd, AsRawFd};
        let path = self.pin_dir.join("maps").join(name);
        let m = loader::Map::open_pinned(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        let fd = m.as_fd().as_raw_fd();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("memlock:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no memlock in the fdinfo of {}: {info}", path.display()))
    }

    /// Unloads (if loaded) and checks through the kernel that nothing is left: no pin
    /// directory, nothing attached to the cgroup, the programs gone from the kernel's id list
    /// (once every bypassed socket has closed), then removes the cgroup and checks it is gone.
    pub fn finish(mut self, prog_ids: &[u32]) {
        if self.loaded {
            self.unload();
        }
        assert!(
            !self.pin_dir.exists(),
            "{} left behind",
            self.pin_dir.display()
        );
        let q = loader::cgroup::query(self.cgroup(), loader::AttachType::CgroupSockOps)
            .expect("querying the cgroup");
        assert!(
            q.prog_ids.is_empty(),
            "programs still attached: {:?}",
            q.prog_ids
        );
        let start = Instant::now();
        loop {
            let ids = loader::ids::programs().expect("listing program ids");
            let left: Vec<u32> = prog_ids
                .iter()
                .copied()
                .filter(|i| *i != 0 && ids.contains(i))
                .collect();
            if left.is_empty() {
                break;
            }
            // The kernel frees them after an RCU grace period and deferred work: slow on an
            // emulated CPU (the kernel matrix).
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "programs {left:?} still exist in the kernel 30 s after unload"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let path = self.cgroup().to_path_buf();
        drop(self.cg.take());
        assert!(!path.exists(), "cgroup {} left behind", path.display());
    }
}

impl Drop for Bypass {
    fn drop(&mut self) {
        if self.loaded {
            let pd = self.pin_dir.to_str().unwrap().to_string();
            let _ = run_bounded(
                Command::new(bin_path()).args(["unload", "--pin-dir", &pd]),
                Duration::from_secs(30),
            );
        }
    }
}

// ---------------------------------------------------------------- child processes

/// A child process running one role; killed on drop.
pub struct Child {
    proc: Option<Proc>,
    rx: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    pub lines: Vec<String>,
    pub name: String,
}

impl Child {
    /// Starts the test binary as `plan`'s role, in the cgroup and (optionally) a namespace.
    pub fn spawn(name: &str, plan: &str, cgroup: &Path, ns: Option<&Netns>) -> Child {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(exe);
        cmd.args([
            "e2e_child_role",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(crate::child::ROLE_ENV, plan)
        .env("TB_E2E_CGROUP", cgroup)
        .env_remove("RUST_TEST_THREADS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(ns) = ns {
            cmd.env("TB_E2E_NETNS", &ns.name);
        }
        let mut proc = cmd.spawn().expect("spawning a child role");
        let out = proc.stdout.take().unwrap();
        let err = proc.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(l) = line.strip_prefix("@e2e ") {
                    if tx.send(l.to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let se = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let mut r = BufReader::new(err);
            let _ = r.read_to_string(&mut s);
            se.lock().unwrap().push_str(&s);
        });
        Child {
            proc: Some(proc),
            rx,
            stderr,
            lines: Vec::new(),
            name: name.to_string(),
        }
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a line starting with `prefix`.
    pub fn expect(&mut self, prefix: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let left = limit.saturating_sub(start.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    self.lines.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no `{prefix}` within {} s; lines so far: {:?}; stderr: {}",
                    self.name,
                    limit.as_secs(),
                    self.lines,
                    self.stderr_text()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "{}: exited before `{prefix}`; lines: {:?}; stderr: {}",
                        self.name,
                        self.lines,
                        self.stderr_text()
                    )
                }
            }
        }
    }

    /// Sends a command line to the child's stdin.
    pub fn send(&mut self, cmd: &str) {
        let p = self.proc.as_mut().unwrap();
        let stdin = p.stdin.as_mut().unwrap();
        writeln!(stdin, "{cmd}").expect("writing to the child");
        stdin.flush().unwrap();
    }

    /// Asks the child for its progress: (keystream bytes sent, received) over all its
    /// connections.
    pub fn progress(&mut self) -> (u64, u64) {
        self.send("progress");
        let l = self.expect("progress", Duration::from_secs(20));
        let num = |k: &str| -> u64 {
            l.split_whitespace()
                .find_map(|p| p.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{}: bad progress line {l:?}", self.name))
        };
        (num("sent="), num("received="))
    }

    /// Waits until the child has sent and received at least `bytes` more keystream bytes
    /// than `from` (a [`Child::progress`] answer); returns the progress reached. Panics with
    /// what was reached when `limit` passes first.
    pub fn wait_progress(&mut self, from: (u64, u64), bytes: u64, limit: Duration) -> (u64, u64) {
        let start = Instant::now();
        loop {
            let now = self.progress();
            if now.0 >= from.0 + bytes && now.1 >= from.1 + bytes {
                return now;
            }
            assert!(
                start.elapsed() < limit,
                "{}: data stopped flowing: {bytes} more bytes each way not reached within {} s \
                 (from sent/received {from:?}, now {now:?})",
                self.name,
                limit.as_secs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the child to finish (successfully) and returns all its report lines.
    pub fn wait(&mut self, limit: Duration) -> Vec<String> {
        self.expect("done", limit);
        let mut p = self.proc.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = p.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = p.kill();
                let _ = p.wait();
                panic!("{}: did not exit after `done`", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            status.success(),
            "{}: exit {status}; stderr: {}",
            self.name,
            self.stderr_text()
        );
        while let Ok(l) = self.rx.try_recv() {
            self.lines.push(l);
        }
        self.lines.clone()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

// ---------------------------------------------------------------- reports

/// One end's report.
#[derive(Debug, Clone, Default)]
pub struct ConnRep {
    pub role: String,
    pub id: u32,
    pub sent: u64,
    pub send_hash: String,
    pub received: u64,
    pub recv_hash: String,
    pub mismatch: Option<u64>,
    pub eagain: u64,
    pub reset: bool,
    pub error: Option<String>,
}

pub fn conns(lines: &[String]) -> Vec<ConnRep> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("conn "))
        .map(|l| {
            let kv: HashMap<&str, &str> = l
                .split_whitespace()
                .filter_map(|p| p.split_once('='))
                .collect();
            ConnRep {
                role: kv["role"].to_string(),
                id: kv["id"].parse().unwrap(),
                sent: kv["sent"].parse().unwrap(),
                send_hash: kv["send_hash"].to_string(),
                received: kv["received"].parse().unwrap(),
                recv_hash: kv["recv_hash"].to_string(),
                mismatch: kv["mismatch"].parse().ok(),
                eagain: kv["eagain"].parse().unwrap(),
                reset: kv["reset"] == "true",
                error: (kv["error"] != "none").then(|| kv["error"].to_string()),
            }
        })
        .collect()
}

/// Totals of a checked transfer.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub conns: usize,
    pub bytes: u64,
    pub eagain: u64,
    pub abrupt: usize,
}

/// Checks every connection: each byte the client sent arrived at the server exactly (same
/// count, same hash, no mismatch at any offset), and back; no end saw an error. Connections
/// in `abrupt` (ids) may end with a reset: only the prefix the server received is checked.
pub fn check_exact(client: &[ConnRep], server: &[ConnRep], want: usize, abrupt: &[u32]) -> Totals {
    assert_eq!(client.len(), want, "client reports: {client:?}");
    assert_eq!(server.len(), want, "server reports: {server:?}");
    let mut t = Totals::default();
    for c in client {
        // A client that failed to start has no server report to compare with: say why.
        if c.error
            .as_deref()
            .is_some_and(|e| e.starts_with("start:") || e.starts_with("greeting:"))
        {
            panic!("conn {}: client failed to start: {c:?}", c.id);
        }
        let s = server
            .iter()
            .find(|s| s.id == c.id)
            .unwrap_or_else(|| panic!("no server report for connection {}", c.id));
        t.conns += 1;
        t.eagain += c.eagain + s.eagain;
        assert_eq!(
            s.mismatch, None,
            "conn {}: server read a wrong byte: {s:?}",
            c.id
        );
        assert_eq!(
            c.mismatch, None,
            "conn {}: client read a wrong byte: {c:?}",
            c.id
        );
        if abrupt.contains(&c.id) {
            t.abrupt += 1;
            assert!(
                s.received <= c.sent,
                "conn {}: server got more than was sent",
                c.id
            );
            assert_eq!(
                c.error, None,
                "conn {}: the abrupt client failed: {c:?}",
                c.id
            );
            t.bytes += s.received;
            continue;
        }
        assert_eq!(c.error, None, "conn {}: client error: {c:?}", c.id);
        assert_eq!(s.error, None, "conn {}: server error: {s:?}", c.id);
        assert_eq!(
            (c.sent, &c.send_hash),
            (s.received, &s.recv_hash),
            "conn {}: client→server bytes differ",
            c.id
        );
        assert_eq!(
            (s.sent, &s.send_hash),
            (c.received, &c.recv_hash),
            "conn {}: server→client bytes differ",
            c.id
        );
        t.bytes += c.sent + s.sent;
    }
    t
}

/// Server and client of one transfer, both in the bypass's cgroup.
pub struct Pair {
    pub server: Child,
    pub client: Child,
}

impl Pair {
    /// Starts the server (waits until it listens), then the client.
    pub fn start(
        bp: &Bypass,
        server_ns: &Netns,
        client_ns: &Netns,
        server_plan: &str,
        client_plan: &str,
    ) -> Pair {
        let mut server = Child::spawn("server", server_plan, bp.cgroup(), Some(server_ns));
        server.expect("ready", Duration::from_secs(20));
        let client = Child::spawn("client", client_plan, bp.cgroup(), Some(client_ns));
        Pair { server, client }
    }

    /// Waits for both; returns (client, server) reports.
    pub fn wait(mut self, limit: Duration) -> (Vec<ConnRep>, Vec<ConnRep>) {
        let c = self.client.wait(limit);
        let s = self.server.wait(Duration::from_secs(15));
        (conns(&c), conns(&s))
    }
}

/// Runs a whole transfer and checks it exactly; returns the totals.
pub fn transfer(
    bp: &Bypass,
    server_ns: &Netns,
    client_ns: &Netns,
    server_plan: &str,
    client_plan: &str,
    n: usize,
) -> Totals {
    let pair = Pair::start(bp, server_ns, client_ns, server_plan, client_plan);
    let (c, s) = pair.wait(Duration::from_secs(60));
    check_exact(&c, &s, n, &[])
}
