//! `run --metrics-addr`: the bypass's state in the Prometheus text exposition format (0.0.4)
//! at `GET /metrics`, served by a hand-written HTTP/1.x responder on a std `TcpListener` (no
//! HTTP crate: the binary stays small and static).
//!
//! Owns three things: [`Exposition`], the text format (families with HELP and TYPE, label
//! values escaped); [`collect`], one scrape of the pinned bypass (program counters, map
//! sizes, sockets and pairs, load state, program ids and tags, the compatibility and quirk
//! verdicts known at start); and [`serve`], the listener loop. One request at a time, each read
//! with a deadline and a size cap, so a slow or hostile client holds it for at most
//! [`REQUEST_DEADLINE`]. A scrape that fails answers 500 with the error; nothing in here ends
//! `run`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use loader::{cgroup, AttachType};
use programs::key::ConnKey;
use programs::{names, Counter};

use crate::bypass::{self, Installed, PinState, Pins};
use crate::compat::Verdict;
use crate::exit::{self, Failure};

/// The content type of the text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The longest a client may take to send its request head.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// The largest request head read; a longer one is refused (431).
pub const MAX_REQUEST: usize = 8192;
/// Clients answered at once; more get 503 (scrapes are rare, a Prometheus server or two).
pub const MAX_CLIENTS: usize = 4;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that only grows (name ends in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// Prometheus text exposition (format 0.0.4) under construction.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// A label value with `\`, `"` and newlines escaped, as the text format requires.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text with `\` and newlines escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its HELP and TYPE lines. Its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self
    }

    /// One sample; `value` is an integer or a float as text (see [`Exposition::ratio`]).
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help).sample(name, &[], value);
    }

    /// `n / d` as a float for a ratio gauge (0 when `d` is 0).
    pub fn ratio(n: u64, d: u64) -> f64 {
        if d == 0 {
            0.0
        } else {
            n as f64 / d as f64
        }
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// The metric name of a program counter: `tcpbypass_<name>_total`. One family per counter,
/// not one family with a label: their units differ (messages, bytes, sockets, connections),
/// so a sum over such a label would mean nothing.
pub fn counter_metric(c: Counter) -> String {
    format!("tcpbypass_{}_total", c.name())
}

fn counter_help(c: Counter) -> &'static str {
    match c {
        Counter::Inserted => "Sockets put in the sockhash (clients and paired servers).",
        Counter::Redirected => "Messages redirected into the peer socket (bypassing TCP).",
        Counter::RedirectedBytes => "Bytes of the redirected messages.",
        Counter::NoPeer => "Messages of sockets in the sockhash that went through TCP (no peer, tainted, or peer gone).",
        Counter::MapFull => "Inserts refused because a map was full; those connections stay on TCP.",
        Counter::Paired => "Server sockets paired with their client.",
        Counter::Errors => "Other failed map operations or callback flag updates.",
        Counter::TcpFirst => "Connections kept on TCP because the client wrote before the pairing.",
        Counter::RcvqFallback => "Senders moved to TCP by the receive-queue bound (their peer held too much unread).",
        Counter::CompatFallback => "Connections moved to TCP in both directions by the setsockopt guard.",
        Counter::StaleEntries => "Entries an earlier socket left behind under a new socket's key, found and deleted when it was established (should stay 0).",
        Counter::StreamFallback => "Senders moved to TCP by the small-write policy (their peer held many of their small messages unread: a stream TCP carries faster).",
        Counter::SharedEndpoint => "Clients that took the place of another client waiting for its server with the same local address and port; that connection stays on TCP.",
    }
}

/// What a scrape needs besides the pins: fixed at the start of `run`.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The pin directory of the bypass `run` loaded.
    pub pin_dir: PathBuf,
    /// The compatibility verdicts of this boot (the ones `run`'s load used), if known.
    pub verdicts: Option<Vec<Verdict>>,
}

/// Counts a map's entries by walking its keys (each counted once).
fn count_keys(m: &loader::Map) -> Result<u64> {
    Ok(bypass::distinct_keys(m)?.len() as u64)
}

/// PEERS: (entries, mutually linked pairs, TAINT entries).
fn peers_stats(m: &loader::Map) -> Result<(u64, u64, u64)> {
    let mut entries = std::collections::HashMap::new();
    for k in m.keys() {
        let k = k.with_context(|| format!("listing {}", m.name()))?;
        if let Some(v) = m.get(&k).with_context(|| format!("reading {}", m.name()))? {
            entries.insert(ConnKey::from_bytes(&k)?, programs::key::peer_of(&v)?);
        }
    }
    let taint = entries.values().filter(|v| v.is_taint()).count() as u64;
    let linked = entries
        .iter()
        .filter(|(k, v)| !v.is_taint() && entries.get(*v) == Some(*k))
        .count() as u64;
    Ok((entries.len() as u64, linked / 2, taint))
}

fn build_info(e: &mut Exposition) {
    e.family(
        "tcpbypass_build_info",
        Kind::Gauge,
        "The running tcpbypass binary (always 1).",
    )
    .sample(
        "tcpbypass_build_info",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("arch", std::env::consts::ARCH),
        ],
        1,
    );
}

fn verdicts(e: &mut Exposition, v: &Option<Vec<Verdict>>) {
    e.single(
        "tcpbypass_compat_verdicts_known",
        Kind::Gauge,
        "1 when this boot's compatibility verdicts were known when run started (the suite ran or its cache was read), else 0 and the compat and quirk families have no samples.",
        u8::from(v.is_some()),
    );
    let v = v.as_deref().unwrap_or(&[]);
    e.family(
        "tcpbypass_compat_same",
        Kind::Gauge,
        "Per behaviour of the compatibility suite: 1 when applications see the same as over TCP, 0 when they can tell the bypass apart; no sample when the suite could not tell.",
    );
    for x in v {
        if let Some(same) = x.same {
            e.sample(
                "tcpbypass_compat_same",
                &[("behaviour", x.name)],
                u8::from(same),
            );
        }
    }
    e.family(
        "tcpbypass_compat_guard_info",
        Kind::Gauge,
        "Behaviours kept the same as over TCP by a guard in the programs, with the guard (always 1).",
    );
    for x in v {
        if let Some(g) = x.guard {
            e.sample(
                "tcpbypass_compat_guard_info",
                &[("behaviour", x.name), ("guard", g)],
                1,
            );
        }
    }
    e.family(
        "tcpbypass_quirk",
        Kind::Gauge,
        "Kernel quirks found by self-test: 1 when this kernel has it, 0 when not; no sample when the test could not tell.",
    );
    for x in v.iter().filter(|x| x.name == "recv_eagain") {
        if let Some(same) = x.same {
            e.sample("tcpbypass_quirk", &[("quirk", x.name)], u8::from(!same));
        }
    }
}

/// One scrape: the whole exposition, or why it could not be made.
pub fn collect(ctx: &Scrape) -> Result<String> {
    let mut e = Exposition::new();
    build_info(&mut e);
    verdicts(&mut e, &ctx.verdicts);
    let pins = Pins::new(&ctx.pin_dir);
    let loaded = pins.state()? == PinState::Ours;
    e.single(
        "tcpbypass_loaded",
        Kind::Gauge,
        "1 when the bypass is pinned in run's pin directory, else 0.",
        u8::from(loaded),
    );
    if !loaded {
        e.single(
            "tcpbypass_attached",
            Kind::Gauge,
            "1 when the sock_ops program is attached to the bypass's cgroup, else 0.",
            0,
        );
        return Ok(e.finish());
    }
    let inst = Installed::open(&pins)?;
    let so_id = inst.sock_ops.as_ref().map(|p| p.info()).transpose()?;
    let attached = match (
        &so_id,
        cgroup::query(&inst.meta.cgroup, AttachType::CgroupSockOps),
    ) {
        (Some(i), Ok(q)) => q.prog_ids.contains(&i.id),
        _ => false,
    };
    e.single(
        "tcpbypass_attached",
        Kind::Gauge,
        "1 when the sock_ops program is attached to the bypass's cgroup, else 0.",
        u8::from(attached),
    );
    e.family(
        "tcpbypass_program_info",
        Kind::Gauge,
        "The loaded programs, their kernel ids and tags (always 1).",
    );
    for (name, p) in [
        ("sock_ops", &inst.sock_ops),
        ("sk_msg", &inst.sk_msg),
        ("setsockopt", &inst.guard),
    ] {
        if let Some(p) = p {
            let info = p.info().with_context(|| format!("reading {name}'s info"))?;
            let id = info.id.to_string();
            let tag = info.tag_hex();
            e.sample(
                "tcpbypass_program_info",
                &[("program", name), ("id", &id), ("tag", &tag)],
                1,
            );
        }
    }
    if let Some(m) = inst.map(names::COUNTERS) {
        for c in Counter::ALL {
            let name = counter_metric(c);
            let v = bypass::read_counter(m, c)?;
            e.single(&name, Kind::Counter, counter_help(c), v);
        }
    }
    // Map sizes; PEERS is read once for both its size and the pairs.
    let mut sizes = Vec::new();
    let mut sockets = None;
    let mut peers = None;
    for def in programs::maps() {
        if def.kind == programs::MapKind::PerCpuArray {
            continue;
        }
        let Some(m) = inst.map(def.name) else {
            continue;
        };
        let n = if def.name == names::PEERS {
            let s = peers_stats(m)?;
            peers = Some(s);
            s.0
        } else {
            count_keys(m)?
        };
        if def.name == names::SOCK_HASH {
            sockets = Some(n);
        }
        sizes.push((def.name, n, u64::from(m.max_entries())));
    }
    if let Some(n) = sockets {
        e.single(
            "tcpbypass_sockets",
            Kind::Gauge,
            "Sockets in the sockhash (bypassed or waiting to be).",
            n,
        );
    }
    if let Some((_, pairs, taint)) = peers {
        e.single(
            "tcpbypass_pairs",
            Kind::Gauge,
            "Connections whose two ends name each other in tb_peers (redirected both ways).",
            pairs,
        );
        e.single(
            "tcpbypass_tainted_sockets",
            Kind::Gauge,
            "tb_peers entries marked TAINT: sockets that send through TCP for good.",
            taint,
        );
    }
    for (fam, help) in [
        (
            "tcpbypass_map_entries",
            "Entries in each map, counted by walking its keys.",
        ),
        ("tcpbypass_map_max_entries", "Capacity of each map."),
        (
            "tcpbypass_map_fill_ratio",
            "Entries over capacity of each map (1 = full: new connections stay on TCP).",
        ),
    ] {
        e.family(fam, Kind::Gauge, help);
        for (map, n, max) in &sizes {
            let labels = [("map", *map)];
            match fam {
                "tcpbypass_map_entries" => e.sample(fam, &labels, n),
                "tcpbypass_map_max_entries" => e.sample(fam, &labels, max),
                _ => e.sample(fam, &labels, Exposition::ratio(*n, *max)),
            };
        }
    }
    Ok(e.finish())
}

/// Binds the metrics listener; a clear failure (before anything is loaded) when it cannot.
pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| {
        Failure::new(
            exit::RUNTIME,
            format!("--metrics-addr {addr}: cannot listen: {e}"),
        )
        .hint("choose a free port and an address of this host (127.0.0.1:9464, [::]:9464)")
        .into()
    })
}

/// Serves scrapes on `listener` in a new thread, until the process exits. Spawn it after the
/// signals are blocked, so that the thread inherits the mask and `run`'s `sigwait` gets them.
pub fn spawn(listener: TcpListener, ctx: Scrape) -> Result<()> {
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || serve(&listener, std::sync::Arc::new(ctx)))
        .context("starting the metrics thread")?;
    Ok(())
}

/// Answers requests for ever, each in a thread of its own, at most [`MAX_CLIENTS`] at once: a
/// client that connects and sends nothing holds one of them for [`REQUEST_DEADLINE`], not
/// the scrapes of everybody else. Above the limit a connection gets 503 at once.
pub fn serve(listener: &TcpListener, ctx: std::sync::Arc<Scrape>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let busy = std::sync::Arc::new(AtomicUsize::new(0));
    loop {
        match listener.accept() {
            Ok((mut s, _)) => {
                if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    // Take the request first (briefly): a socket closed with unread data
                    // sends a reset, which the client may see before the answer.
                    let quick = Some(Duration::from_millis(100));
                    let _ = s.set_read_timeout(quick).and(s.set_write_timeout(quick));
                    let _ = s.read(&mut [0u8; MAX_REQUEST]);
                    let _ = s.write_all(&simple("503 Service Unavailable"));
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let (ctx, done) = (ctx.clone(), busy.clone());
                let spawned = std::thread::Builder::new()
                    .name("metrics-client".into())
                    .spawn(move || {
                        let release = || {
                            done.fetch_sub(1, Ordering::SeqCst);
                        };
                        if let Err(e) = answer(s, &ctx, release) {
                            crate::log::debug(&format!("metrics: {e}"));
                        }
                    });
                if let Err(e) = spawned {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    crate::log::debug(&format!("metrics: no thread for a client: {e}"));
                }
            }
            Err(e) => {
                crate::log::debug(&format!("metrics: accept: {e}"));
                // EMFILE and the like: do not spin.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A parsed request line: method and path (without a query string).
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// `/metrics`.
    pub path: String,
}

/// Why a request head could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The client was too slow, closed early or sent nonsense: 400, or no answer at all.
    Bad(String),
    /// The head is longer than [`MAX_REQUEST`]: 431.
    TooLarge,
}

/// The request line of a complete head (`GET /metrics?x HTTP/1.1`).
pub fn parse_request(head: &[u8]) -> Result<Request, ReadError> {
    let text = std::str::from_utf8(head).map_err(|_| ReadError::Bad("not UTF-8".into()))?;
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(format!("bad request line {line:?}")));
    };
    if method.is_empty() || !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(format!("bad request line {line:?}")));
    }
    let path = target.split('?').next().unwrap_or("");
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
    })
}

/// Reads the request head (up to the blank line) within [`REQUEST_DEADLINE`] and
/// [`MAX_REQUEST`] bytes.
fn read_head(s: &mut TcpStream) -> Result<Vec<u8>, ReadError> {
    let start = Instant::now();
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(buf);
        }
        if buf.len() > MAX_REQUEST {
            return Err(ReadError::TooLarge);
        }
        let left = REQUEST_DEADLINE.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(ReadError::Bad("request not complete in time".into()));
        }
        s.set_read_timeout(Some(left))
            .map_err(|e| ReadError::Bad(e.to_string()))?;
        match s.read(&mut chunk) {
            Ok(0) => {
                return Err(ReadError::Bad(
                    "closed before the end of the request".into(),
                ))
            }
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Bad(e.to_string())),
        }
    }
}

/// The response to a request: status line, headers and (unless HEAD) body.
pub fn respond(req: &Request, scrape: impl FnOnce() -> Result<String>) -> Vec<u8> {
    let (status, body, allow) = match (req.method.as_str(), req.path.as_str()) {
        ("GET" | "HEAD", "/metrics") => match scrape() {
            Ok(b) => ("200 OK", b, false),
            Err(e) => (
                "500 Internal Server Error",
                format!("scrape failed: {e:#}\n"),
                false,
            ),
        },
        ("GET" | "HEAD", _) => ("404 Not Found", "not found: try /metrics\n".into(), false),
        _ => ("405 Method Not Allowed", "only GET and HEAD\n".into(), true),
    };
    let ctype = if status.starts_with("200") {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if allow {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if req.method != "HEAD" {
        bytes.extend_from_slice(body.as_bytes());
    }
    bytes
}

/// Answers one request. `release` runs once the reply is written and before the connection
/// ends, so that a client that reads the reply to the end and connects again finds its slot
/// free (else it could race the thread's exit and get 503).
fn answer(mut s: TcpStream, ctx: &Scrape, release: impl FnOnce()) -> std::io::Result<()> {
    let r = answer_on(&mut s, ctx);
    release();
    let _ = s.shutdown(std::net::Shutdown::Both);
    r
}

fn answer_on(s: &mut TcpStream, ctx: &Scrape) -> std::io::Result<()> {
    s.set_write_timeout(Some(REQUEST_DEADLINE))?;
    let reply = match read_head(s).and_then(|h| parse_request(&h)) {
        Ok(req) => respond(&req, || collect(ctx)),
        Err(ReadError::TooLarge) => simple("431 Request Header Fields Too Large"),
        Err(ReadError::Bad(why)) => {
            crate::log::debug(&format!("metrics: bad request: {why}"));
            simple("400 Bad Request")
        }
    };
    s.write_all(&reply)?;
    s.flush()
}

fn simple(status: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The metrics context of `run`: its pin directory and this boot's cached verdicts.
pub fn context(pin_dir: &Path) -> Scrape {
    Scrape {
        pin_dir: pin_dir.to_path_buf(),
        verdicts: crate::compat_cache::load(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        let mut e = Exposition::new();
        e.family("tb_x", Kind::Gauge, "help with \\ and\nnewline")
            .sample("tb_x", &[("a", "q\"\\\n"), ("b", "plain")], 3);
        assert_eq!(
            e.finish(),
            "# HELP tb_x help with \\\\ and\\nnewline\n# TYPE tb_x gauge\n\
             tb_x{a=\"q\\\"\\\\\\n\",b=\"plain\"} 3\n"
        );
    }

    #[test]
    fn counters_are_named_with_total() {
        assert_eq!(
            counter_metric(Counter::RedirectedBytes),
            "tcpbypass_redirected_bytes_total"
        );
        for c in Counter::ALL {
            assert!(counter_metric(c).ends_with("_total"));
        }
    }

    #[test]
    fn verdicts_become_samples() {
        let v = vec![
            Verdict {
                name: "recv_eagain",
                same: Some(false),
                guard: None,
                detail: String::new(),
            },
            Verdict {
                name: "so_rcvlowat",
                same: Some(true),
                guard: Some(crate::compat::SOCKOPT_GUARD),
                detail: String::new(),
            },
            Verdict {
                name: "fionread",
                same: None,
                guard: None,
                detail: String::new(),
            },
        ];
        let mut e = Exposition::new();
        verdicts(&mut e, &Some(v));
        let t = e.finish();
        assert!(t.contains("tcpbypass_compat_verdicts_known 1\n"), "{t}");
        assert!(t.contains("tcpbypass_compat_same{behaviour=\"recv_eagain\"} 0\n"));
        assert!(t.contains("tcpbypass_compat_same{behaviour=\"so_rcvlowat\"} 1\n"));
        assert!(!t.contains("behaviour=\"fionread\""), "{t}");
        assert!(t.contains(
            "tcpbypass_compat_guard_info{behaviour=\"so_rcvlowat\",guard=\"setsockopt guard\"} 1\n"
        ));
        assert!(t.contains("tcpbypass_quirk{quirk=\"recv_eagain\"} 1\n"));
    }

    #[test]
    fn requests_parse_and_route() {
        let r = parse_request(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(r.path, "/metrics");
        assert!(parse_request(b"GARBAGE\r\n\r\n").is_err());
        let ok = || Ok("m 1\n".to_string());
        let get = String::from_utf8(respond(&r, ok)).unwrap();
        assert!(get.starts_with("HTTP/1.1 200 OK\r\n"), "{get}");
        assert!(get.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
        assert!(get.contains("Content-Length: 4\r\nConnection: close\r\n"));
        assert!(get.ends_with("\r\n\r\nm 1\n"));
        let head = Request {
            method: "HEAD".into(),
            path: "/metrics".into(),
        };
        let h = String::from_utf8(respond(&head, ok)).unwrap();
        assert!(
            h.contains("Content-Length: 4\r\n") && h.ends_with("\r\n\r\n"),
            "{h}"
        );
        let other = Request {
            method: "GET".into(),
            path: "/".into(),
        };
        assert!(String::from_utf8(respond(&other, ok))
            .unwrap()
            .starts_with("HTTP/1.1 404 "));
        let post = Request {
            method: "POST".into(),
            path: "/metrics".into(),
        };
        let p = String::from_utf8(respond(&post, ok)).unwrap();
        assert!(p.starts_with("HTTP/1.1 405 ") && p.contains("Allow: GET, HEAD\r\n"));
        let failed = String::from_utf8(respond(&r, || anyhow::bail!("map gone"))).unwrap();
        assert!(failed.starts_with("HTTP/1.1 500 ") && failed.contains("map gone"));
    }
}
