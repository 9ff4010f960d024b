//! What `bench` shows: measurements grouped into cells (CPU placement, test, size, mode), the
//! text table with ratios, the bypass check, the JSON document and the SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::cli::{BenchCpu, BenchTest};
use crate::plan::{cpu_name, size_label, test_name, Mode};
use crate::runner::Measurement;
use crate::setup::{ProgRun, ProgStats};
use crate::stats::{median, Histogram};
use tcpbypass::json::Json;

/// A bypass run counts as carried by the bypass when it redirected at least this share of the
/// bytes the application wrote (the first bytes may pass through TCP before the pair is made).
pub const CARRIED_THRESHOLD: f64 = 0.99;

/// Everything measured for one (placement, test, size, mode).
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Round-trip times of every round, merged.
    pub hist: Histogram,
    /// Each round's median round trip, ns.
    pub round_medians: Vec<f64>,
    /// Each round's throughput, bytes/s.
    pub throughputs: Vec<f64>,
    /// Bytes the application wrote.
    pub app_bytes: u64,
    /// Bytes the bypass redirected.
    pub redirected_bytes: u64,
    /// Messages the bypass redirected.
    pub redirected_msgs: u64,
    /// Messages that went through TCP for want of a peer.
    pub no_peer: u64,
    /// The smallest share of bytes redirected in one run.
    pub min_carried: Option<f64>,
    /// EAGAIN retries.
    pub eagain: u64,
    /// Measurements.
    pub runs: u32,
    /// Churn: each round's connections per second.
    pub conn_rates: Vec<f64>,
    /// Churn: EADDRNOTAVAIL retries of `connect` (local ports exhausted).
    pub addr_retries: u64,
    /// Sockets sock_ops put in the sockhash.
    pub inserted: u64,
    /// Sockhash-only runs in which sock_ops inserted no socket.
    pub runs_not_inserted: u32,
    /// Bypass runs in which the product moved a sender to TCP (the receive-queue bound or
    /// the small-write policy): by design, so not held to [`CARRIED_THRESHOLD`].
    pub runs_fallen_back: u32,
    /// Program run time and runs summed over the runs (kernel BPF statistics).
    pub prog: Option<ProgStats>,
}

impl Cell {
    /// Median one-way latency (half the round trip), ns.
    pub fn latency(&self) -> Option<f64> {
        self.hist.quantile(0.5).map(|v| v as f64 / 2.0)
    }

    /// p99 one-way latency (half the round trip), ns.
    pub fn latency_p99(&self) -> Option<f64> {
        self.hist.quantile(0.99).map(|v| v as f64 / 2.0)
    }

    /// Median throughput over the rounds, bytes/s.
    pub fn throughput(&self) -> Option<f64> {
        median(&self.throughputs)
    }

    /// Churn: median connections per second over the rounds.
    pub fn conn_rate(&self) -> Option<f64> {
        median(&self.conn_rates)
    }

    /// The share of the application's bytes the bypass redirected, over every run.
    pub fn redirected_share(&self) -> Option<f64> {
        (self.app_bytes > 0).then(|| self.redirected_bytes as f64 / self.app_bytes as f64)
    }

    /// Nanoseconds per run of sock_ops and of sk_msg over every run of the cell.
    pub fn ns_per_run(&self) -> (Option<f64>, Option<f64>) {
        let f = |r: ProgRun| (r.runs > 0).then(|| r.time_ns as f64 / r.runs as f64);
        match self.prog {
            Some(p) => (f(p.sock_ops), f(p.sk_msg)),
            None => (None, None),
        }
    }
}

/// Cell key: placement, test, size, mode.
pub type Key = (BenchCpu, BenchTest, usize, Mode);

/// Every cell of a run.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// The cells.
    pub cells: BTreeMap<Key, Cell>,
}

impl Results {
    /// Adds one measurement.
    pub fn add(&mut self, m: &Measurement) {
        let j = m.job;
        let c = self
            .cells
            .entry((j.cpu, j.test, j.size, j.mode))
            .or_default();
        c.runs += 1;
        c.eagain += m.eagain();
        c.app_bytes += m.app_bytes();
        if let Some(q) = m.client.hist.quantile(0.5) {
            c.round_medians.push(q as f64);
        }
        c.hist.merge(&m.client.hist);
        if let Some(t) = m.throughput() {
            c.throughputs.push(t);
        }
        if let Some(r) = m.conn_rate() {
            c.conn_rates.push(r);
        }
        c.addr_retries += m.client.addr_retries;
        if let Some(k) = m.counters {
            c.redirected_bytes += k.redirected_bytes;
            c.redirected_msgs += k.redirected;
            c.no_peer += k.no_peer;
            c.inserted += k.inserted;
            if j.mode == Mode::SockhashOnly && k.inserted == 0 {
                c.runs_not_inserted += 1;
            }
        }
        if let Some(p) = m.prog_stats {
            let sum = c.prog.get_or_insert_with(ProgStats::default);
            for (a, b) in [(&mut sum.sock_ops, p.sock_ops), (&mut sum.sk_msg, p.sk_msg)] {
                a.time_ns += b.time_ns;
                a.runs += b.runs;
            }
        }
        // A churn connection's first request may go through TCP before the pair is made:
        // its share is reported, not held to the threshold.
        let fell_back = m.counters.is_some_and(|k| k.fallbacks > 0);
        if j.mode == Mode::Bypass && fell_back {
            c.runs_fallen_back += 1;
        }
        if j.mode == Mode::Bypass && j.test != BenchTest::Churn && !fell_back {
            if let Some(share) = m.carried() {
                c.min_carried = Some(c.min_carried.map_or(share, |v: f64| v.min(share)));
            }
        }
    }

    fn get(&self, cpu: BenchCpu, test: BenchTest, size: usize, mode: Mode) -> Option<&Cell> {
        self.cells.get(&(cpu, test, size, mode))
    }

    fn cpus(&self) -> Vec<BenchCpu> {
        let mut v: Vec<BenchCpu> = self.cells.keys().map(|k| k.0).collect();
        v.dedup();
        v
    }

    fn sizes(&self, cpu: BenchCpu, test: BenchTest) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .cells
            .keys()
            .filter(|k| k.0 == cpu && k.1 == test)
            .map(|k| k.2)
            .collect();
        v.dedup();
        v
    }

    fn has(&self, cpu: BenchCpu, test: BenchTest) -> bool {
        self.cells.keys().any(|k| k.0 == cpu && k.1 == test)
    }

    /// Bypass runs that redirected less than [`CARRIED_THRESHOLD`] of their bytes, and TCP
    /// runs the bypass touched: each a sentence. Empty when every run measured what it claims.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for ((cpu, test, size, mode), c) in &self.cells {
            let what = format!(
                "{} {} with --cpu {}",
                test_name(*test),
                size_label(*size),
                cpu_name(*cpu)
            );
            match mode {
                Mode::Bypass => {
                    if let Some(share) = c.min_carried {
                        if share < CARRIED_THRESHOLD {
                            out.push(format!(
                                "bypass {what}: only {:.1}% of the bytes were redirected in one run: that run partly measured plain TCP",
                                share * 100.0
                            ));
                        }
                    }
                }
                Mode::Tcp => {
                    if c.redirected_msgs > 0 {
                        out.push(format!(
                            "tcp {what}: the bypass redirected {} messages of a run meant to be plain TCP",
                            c.redirected_msgs
                        ));
                    }
                }
                Mode::SockhashOnly => {
                    if c.runs_not_inserted > 0 {
                        out.push(format!(
                            "sockhash-only {what}: in {} of {} runs sock_ops put no socket in the sockhash: those runs measured plain TCP",
                            c.runs_not_inserted, c.runs
                        ));
                    }
                    if c.redirected_msgs > 0 {
                        out.push(format!(
                            "sockhash-only {what}: {} messages were redirected in a mode meant to redirect nothing",
                            c.redirected_msgs
                        ));
                    }
                }
                Mode::Unix | Mode::Compare => {}
            }
        }
        out
    }

    /// The text tables.
    pub fn table(&self) -> String {
        let mut s = String::new();
        for cpu in self.cpus() {
            let _ = writeln!(s, "\n== --cpu {} ({}) ==", cpu_name(cpu), cpu_text(cpu));
            if self.has(cpu, BenchTest::Latency) {
                let _ = writeln!(
                    s,
                    "\nPing-pong latency, one way (half a round trip), µs: median (p99); ratio of medians, lower is better"
                );
                let _ = writeln!(
                    s,
                    "{:<8} {:>16} {:>16} {:>16} {:>16} {:>11} {:>11} {:>12}",
                    "size",
                    "tcp",
                    "bypass",
                    "sockhash-only",
                    "unix",
                    "bypass/tcp",
                    "shonly/tcp",
                    "bypass/unix"
                );
                for size in self.sizes(cpu, BenchTest::Latency) {
                    let cell = |m| self.get(cpu, BenchTest::Latency, size, m);
                    let fmt = |m| match cell(m).and_then(|c| Some((c.latency()?, c.latency_p99()?)))
                    {
                        Some((a, b)) => format!("{:.2} ({:.1})", a / 1000.0, b / 1000.0),
                        None => "-".to_string(),
                    };
                    let med = |m| cell(m).and_then(Cell::latency);
                    let _ = writeln!(
                        s,
                        "{:<8} {:>16} {:>16} {:>16} {:>16} {:>11} {:>11} {:>12}{}",
                        size_label(size),
                        fmt(Mode::Tcp),
                        fmt(Mode::Bypass),
                        fmt(Mode::SockhashOnly),
                        fmt(Mode::Unix),
                        ratio(med(Mode::Bypass), med(Mode::Tcp)),
                        ratio(med(Mode::SockhashOnly), med(Mode::Tcp)),
                        ratio(med(Mode::Bypass), med(Mode::Unix)),
                        check_mark(cell(Mode::Bypass)),
                    );
                }
            }
            if self.has(cpu, BenchTest::Stream) {
                let _ = writeln!(
                    s,
                    "\nStream throughput, MB/s (10^6 bytes/s), median of rounds; ratio, higher is better"
                );
                let _ = writeln!(
                    s,
                    "{:<8} {:>10} {:>10} {:>13} {:>10} {:>11} {:>11} {:>12}",
                    "size",
                    "tcp",
                    "bypass",
                    "sockhash-only",
                    "unix",
                    "bypass/tcp",
                    "shonly/tcp",
                    "bypass/unix"
                );
                for size in self.sizes(cpu, BenchTest::Stream) {
                    let cell = |m| self.get(cpu, BenchTest::Stream, size, m);
                    let t = |m| cell(m).and_then(Cell::throughput);
                    let fmt = |m| match t(m) {
                        Some(v) if v < 10e6 => format!("{:.2}", v / 1e6),
                        Some(v) => format!("{:.1}", v / 1e6),
                        None => "-".to_string(),
                    };
                    let _ = writeln!(
                        s,
                        "{:<8} {:>10} {:>10} {:>13} {:>10} {:>11} {:>11} {:>12}{}",
                        size_label(size),
                        fmt(Mode::Tcp),
                        fmt(Mode::Bypass),
                        fmt(Mode::SockhashOnly),
                        fmt(Mode::Unix),
                        ratio(t(Mode::Bypass), t(Mode::Tcp)),
                        ratio(t(Mode::SockhashOnly), t(Mode::Tcp)),
                        ratio(t(Mode::Bypass), t(Mode::Unix)),
                        check_mark(cell(Mode::Bypass)),
                    );
                }
            }
            if self.has(cpu, BenchTest::Churn) {
                let _ = writeln!(
                    s,
                    "\nConnection churn (connect, request, response, close), connections/s, median of rounds; ratio, higher is better"
                );
                let _ = writeln!(
                    s,
                    "{:<8} {:>10} {:>10} {:>13} {:>11} {:>11} {:>11}",
                    "size",
                    "tcp",
                    "bypass",
                    "sockhash-only",
                    "bypass/tcp",
                    "shonly/tcp",
                    "redirected"
                );
                for size in self.sizes(cpu, BenchTest::Churn) {
                    let cell = |m| self.get(cpu, BenchTest::Churn, size, m);
                    let r = |m| cell(m).and_then(Cell::conn_rate);
                    let fmt = |m| r(m).map_or("-".to_string(), |v| format!("{v:.0}"));
                    let _ = writeln!(
                        s,
                        "{:<8} {:>10} {:>10} {:>13} {:>11} {:>11} {:>11}",
                        size_label(size),
                        fmt(Mode::Tcp),
                        fmt(Mode::Bypass),
                        fmt(Mode::SockhashOnly),
                        ratio(r(Mode::Bypass), r(Mode::Tcp)),
                        ratio(r(Mode::SockhashOnly), r(Mode::Tcp)),
                        cell(Mode::Bypass)
                            .and_then(Cell::redirected_share)
                            .map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0)),
                    );
                }
            }
            if self
                .cells
                .keys()
                .any(|k| k.0 == cpu && k.3 == Mode::Compare)
            {
                let _ = writeln!(
                    s,
                    "\nCompared objects (--compare-objects) against tcp and bypass: latency one way µs (lower is better), stream MB/s and churn connections/s (higher is better)"
                );
                let _ = writeln!(
                    s,
                    "{:<9} {:<8} {:>10} {:>10} {:>10} {:>12} {:>15}",
                    "test", "size", "tcp", "bypass", "compare", "compare/tcp", "bypass/compare"
                );
                let mut keys: Vec<(BenchTest, usize)> = self
                    .cells
                    .keys()
                    .filter(|k| k.0 == cpu && k.3 == Mode::Compare)
                    .map(|k| (k.1, k.2))
                    .collect();
                keys.dedup();
                for (test, size) in keys {
                    let v = |m| {
                        let c = self.get(cpu, test, size, m)?;
                        match test {
                            BenchTest::Latency => c.latency().map(|v| v / 1000.0),
                            BenchTest::Stream => c.throughput().map(|v| v / 1e6),
                            BenchTest::Churn => c.conn_rate(),
                        }
                    };
                    let fmt = |m| v(m).map_or("-".to_string(), |x| format!("{x:.2}"));
                    let _ = writeln!(
                        s,
                        "{:<9} {:<8} {:>10} {:>10} {:>10} {:>12} {:>15}",
                        test_name(test),
                        size_label(size),
                        fmt(Mode::Tcp),
                        fmt(Mode::Bypass),
                        fmt(Mode::Compare),
                        ratio(v(Mode::Compare), v(Mode::Tcp)),
                        ratio(v(Mode::Bypass), v(Mode::Compare)),
                    );
                }
            }
            let stat_rows: Vec<(&Key, &Cell)> = self
                .cells
                .iter()
                .filter(|(k, c)| k.0 == cpu && c.prog.is_some())
                .collect();
            if !stat_rows.is_empty() {
                let _ = writeln!(
                    s,
                    "\nBPF program cost (kernel BPF statistics), ns per run over every run of the cell (runs)"
                );
                let _ = writeln!(
                    s,
                    "{:<9} {:<8} {:<14} {:>22} {:>22}",
                    "test", "size", "mode", "sock_ops", "sk_msg"
                );
                for ((_, test, size, mode), c) in stat_rows {
                    let (so, sm) = c.ns_per_run();
                    let p = c.prog.unwrap_or_default();
                    let fmt = |v: Option<f64>, runs: u64| match v {
                        Some(v) => format!("{v:.0} ({runs})"),
                        None => "- (0)".to_string(),
                    };
                    let _ = writeln!(
                        s,
                        "{:<9} {:<8} {:<14} {:>22} {:>22}",
                        test_name(*test),
                        size_label(*size),
                        mode.name(),
                        fmt(so, p.sock_ops.runs),
                        fmt(sm, p.sk_msg.runs),
                    );
                }
            }
        }
        s
    }

    /// One paragraph on what the bypass carried.
    pub fn check_summary(&self) -> String {
        let (mut app, mut red, mut msgs, mut runs, mut tcp_red) = (0u64, 0u64, 0u64, 0u32, 0u64);
        let mut min_share: Option<f64> = None;
        let mut eagain = 0u64;
        let (mut sh_runs, mut sh_ins, mut sh_red, mut addr_retries) = (0u32, 0u64, 0u64, 0u64);
        for (k, c) in &self.cells {
            eagain += c.eagain;
            match k.3 {
                Mode::Bypass => {
                    app += c.app_bytes;
                    red += c.redirected_bytes;
                    msgs += c.redirected_msgs;
                    runs += c.runs;
                    if let Some(m) = c.min_carried {
                        min_share = Some(min_share.map_or(m, |v: f64| v.min(m)));
                    }
                }
                Mode::Tcp => tcp_red += c.redirected_msgs,
                Mode::SockhashOnly => {
                    sh_runs += c.runs;
                    sh_ins += c.inserted;
                    sh_red += c.redirected_msgs;
                }
                Mode::Unix | Mode::Compare => {}
            }
            addr_retries += c.addr_retries;
        }
        let mut s = String::new();
        if runs > 0 {
            let _ = writeln!(
                s,
                "Bypass check: {runs} bypass runs; the sk_msg program redirected {msgs} messages, {red} of the {app} bytes the applications wrote ({:.2}%; {}); plain-TCP runs: {tcp_red} messages redirected.",
                if app > 0 { red as f64 * 100.0 / app as f64 } else { 0.0 },
                match min_share {
                    Some(m) => format!("lowest single latency or stream run {:.2}%", m * 100.0),
                    None => "churn runs only, not held to a share".to_string(),
                },
            );
        }
        if sh_runs > 0 {
            let _ = writeln!(
                s,
                "Sockhash-only check: {sh_runs} runs; sock_ops put {sh_ins} sockets in the sockhash, {sh_red} messages were redirected (sk_msg is not attached there)."
            );
        }
        if addr_retries > 0 {
            let _ = writeln!(
                s,
                "Churn: {addr_retries} connects found no free local port (EADDRNOTAVAIL) and were retried after 1 ms (see docs/benchmarks.md)."
            );
        }
        if eagain > 0 {
            let _ = writeln!(
                s,
                "Blocking reads/writes that failed with EAGAIN and were retried: {eagain} (the sockmap receive quirk, see docs/benchmarks.md)."
            );
        }
        s
    }

    /// The JSON document's `results` array.
    pub fn json(&self) -> Json {
        let mut arr = Vec::new();
        for ((cpu, test, size, mode), c) in &self.cells {
            let mut o = Json::obj()
                .with("cpu", cpu_name(*cpu))
                .with("test", test_name(*test))
                .with("size", *size)
                .with("mode", mode.name())
                .with("runs", c.runs)
                .with("eagain", c.eagain);
            match test {
                BenchTest::Latency => {
                    o = o.with(
                        "latency_ns",
                        Json::obj()
                            .with("one_way_median", c.latency().map(|v| v as u64))
                            .with("one_way_p99", c.latency_p99().map(|v| v as u64))
                            .with("round_trips", c.hist.count())
                            .with(
                                "round_trip_median_per_round",
                                Json::Arr(
                                    c.round_medians
                                        .iter()
                                        .map(|v| Json::U64(*v as u64))
                                        .collect(),
                                ),
                            ),
                    );
                }
                BenchTest::Churn => {
                    o = o.with(
                        "churn",
                        Json::obj()
                            .with("conns_per_s_median", c.conn_rate().map(|v| v as u64))
                            .with(
                                "conns_per_s_per_round",
                                Json::Arr(
                                    c.conn_rates.iter().map(|v| Json::U64(*v as u64)).collect(),
                                ),
                            )
                            .with("conns_measured", c.hist.count())
                            .with("conn_time_ns_median", c.hist.quantile(0.5))
                            .with("addr_retries", c.addr_retries),
                    );
                }
                BenchTest::Stream => {
                    o = o.with(
                        "throughput_bytes_per_s",
                        Json::obj()
                            .with("median", c.throughput().map(|v| v as u64))
                            .with(
                                "per_round",
                                Json::Arr(
                                    c.throughputs.iter().map(|v| Json::U64(*v as u64)).collect(),
                                ),
                            ),
                    );
                }
            }
            if !matches!(mode, Mode::Unix | Mode::Compare) {
                o = o.with(
                    "bypass_counters",
                    Json::obj()
                        .with("app_bytes", c.app_bytes)
                        .with("redirected_bytes", c.redirected_bytes)
                        .with("redirected_msgs", c.redirected_msgs)
                        .with("runs_fallen_back", c.runs_fallen_back)
                        .with("no_peer_msgs", c.no_peer)
                        .with("inserted_sockets", c.inserted)
                        .with(
                            "min_carried_permille",
                            c.min_carried.map(|v| (v * 1000.0).round() as u64),
                        ),
                );
            }
            if let Some(p) = c.prog {
                let (so, sm) = c.ns_per_run();
                let prog = |r: ProgRun, ns: Option<f64>| {
                    Json::obj()
                        .with("run_time_ns", r.time_ns)
                        .with("run_cnt", r.runs)
                        .with("ns_per_run", ns.map(|v| v.round() as u64))
                };
                o = o.with(
                    "bpf_stats",
                    Json::obj()
                        .with("sock_ops", prog(p.sock_ops, so))
                        .with("sk_msg", prog(p.sk_msg, sm)),
                );
            }
            arr.push(o);
        }
        Json::Arr(arr)
    }

    /// The SVG chart: one row per CPU placement, latency on the left, throughput in the
    /// middle, connection churn (when measured) on the right.
    pub fn svg(&self, title: &str) -> String {
        let cpus = self.cpus();
        let churn = self.cells.keys().any(|k| k.1 == BenchTest::Churn);
        let (w, row_h, top) = (if churn { 1470.0 } else { 980.0 }, 330.0, 56.0);
        let h = top + row_h * cpus.len().max(1) as f64 + 10.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
            w / 2.0,
            xml(title)
        );
        // Legend: the modes measured.
        let modes: Vec<Mode> = Mode::ALL
            .into_iter()
            .filter(|m| self.cells.keys().any(|k| k.3 == *m))
            .collect();
        for (i, m) in modes.iter().enumerate() {
            let x = w / 2.0 - 150.0 + i as f64 * 110.0;
            let _ = writeln!(
                s,
                r#"<line x1="{x}" y1="40" x2="{}" y2="40" stroke="{}" stroke-width="2.5"{}/><text x="{}" y="44">{}</text>"#,
                x + 24.0,
                color(*m),
                dash(*m),
                x + 30.0,
                m.name()
            );
        }
        for (row, cpu) in cpus.iter().enumerate() {
            let y0 = top + row as f64 * row_h;
            let panel = |x0: f64, test: BenchTest, s: &mut String| {
                let sizes = self.sizes(*cpu, test);
                let val = |size: usize, m: Mode| {
                    let c = self.get(*cpu, test, size, m)?;
                    match test {
                        BenchTest::Latency => c.latency().map(|v| v / 1000.0),
                        BenchTest::Stream => c.throughput().map(|v| v / 1e6),
                        BenchTest::Churn => c.conn_rate(),
                    }
                };
                let title = match test {
                    BenchTest::Latency => format!(
                        "--cpu {}: latency, one way, median (µs, lower is better)",
                        cpu_name(*cpu)
                    ),
                    BenchTest::Stream => format!(
                        "--cpu {}: stream throughput (MB/s, log scale, higher is better)",
                        cpu_name(*cpu)
                    ),
                    BenchTest::Churn => format!(
                        "--cpu {}: churn (connections/s, higher is better)",
                        cpu_name(*cpu)
                    ),
                };
                plot_panel(
                    s,
                    x0,
                    y0,
                    450.0,
                    row_h - 20.0,
                    &title,
                    &sizes,
                    test == BenchTest::Stream,
                    &val,
                );
            };
            if self.has(*cpu, BenchTest::Latency) {
                panel(10.0, BenchTest::Latency, &mut s);
            }
            if self.has(*cpu, BenchTest::Stream) {
                panel(500.0, BenchTest::Stream, &mut s);
            }
            if self.has(*cpu, BenchTest::Churn) {
                panel(990.0, BenchTest::Churn, &mut s);
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

fn cpu_text(cpu: BenchCpu) -> &'static str {
    match cpu {
        BenchCpu::Same => "both ends pinned to one CPU",
        BenchCpu::Split => "the ends pinned to two CPUs",
        BenchCpu::Any => "not pinned",
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_string(),
    }
}

fn check_mark(bypass: Option<&Cell>) -> &'static str {
    match bypass.and_then(|c| c.min_carried) {
        Some(s) if s < CARRIED_THRESHOLD => "  (!) bypass not fully used",
        _ if bypass.is_some_and(|c| c.runs_fallen_back > 0) => {
            "  (moved to TCP by the small-write policy or the receive-queue bound)"
        }
        _ => "",
    }
}

fn color(m: Mode) -> &'static str {
    match m {
        Mode::Tcp => "#d62728",
        Mode::Bypass => "#1f77b4",
        Mode::SockhashOnly => "#2ca02c",
        Mode::Unix => "#7f7f7f",
        Mode::Compare => "#ff7f0e",
    }
}

fn dash(m: Mode) -> &'static str {
    match m {
        Mode::Unix => r#" stroke-dasharray="5,4""#,
        Mode::Compare => r#" stroke-dasharray="2,2""#,
        _ => "",
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" step (1, 2 or 5 times a power of ten) for about `n` ticks up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    p * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

#[allow(clippy::too_many_arguments)]
fn plot_panel(
    s: &mut String,
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    title: &str,
    sizes: &[usize],
    log_y: bool,
    val: &dyn Fn(usize, Mode) -> Option<f64>,
) {
    let (l, r, t, b) = (x0 + 60.0, x0 + w - 10.0, y0 + 30.0, y0 + h - 40.0);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text>"#,
        (l + r) / 2.0,
        y0 + 16.0,
        xml(title)
    );
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        r - l,
        b - t
    );
    let vals: Vec<f64> = sizes
        .iter()
        .flat_map(|&z| Mode::ALL.iter().filter_map(move |&m| val(z, m)))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if sizes.is_empty() || vals.is_empty() {
        return;
    }
    // x: sizes evenly spaced (they are roughly geometric).
    let xs = |i: usize| {
        if sizes.len() == 1 {
            (l + r) / 2.0
        } else {
            l + 20.0 + (r - l - 40.0) * i as f64 / (sizes.len() - 1) as f64
        }
    };
    let vmax = vals.iter().cloned().fold(f64::MIN, f64::max);
    let vmin = vals.iter().cloned().fold(f64::MAX, f64::min);
    let (lo, hi, ticks): (f64, f64, Vec<f64>) = if log_y {
        let lo = 10f64.powf(vmin.log10().floor());
        let hi = 10f64.powf(vmax.log10().ceil()).max(lo * 10.0);
        let mut v = Vec::new();
        let mut x = lo;
        while x <= hi * 1.0001 {
            v.push(x);
            x *= 10.0;
        }
        (lo, hi, v)
    } else {
        let step = nice_step(vmax, 5.0);
        let hi = (vmax / step).ceil() * step;
        let n = (hi / step).round() as usize;
        (0.0, hi, (0..=n).map(|i| i as f64 * step).collect())
    };
    let ys = |v: f64| {
        let f = if log_y {
            (v.log10() - lo.log10()) / (hi.log10() - lo.log10())
        } else {
            (v - lo) / (hi - lo)
        };
        b - (b - t) * f.clamp(0.0, 1.0)
    };
    for tv in &ticks {
        let y = ys(*tv);
        let label = if *tv >= 1.0 || *tv == 0.0 {
            format!("{}", *tv as u64)
        } else {
            format!("{tv}")
        };
        let _ = writeln!(
            s,
            "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            l - 5.0,
            y + 4.0
        );
    }
    for (i, z) in sizes.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            xs(i),
            b + 16.0,
            size_label(*z)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">message size</text>"#,
        (l + r) / 2.0,
        b + 32.0
    );
    for m in Mode::ALL {
        let pts: Vec<String> = sizes
            .iter()
            .enumerate()
            .filter_map(|(i, &z)| val(z, m).map(|v| format!("{:.1},{:.1}", xs(i), ys(v))))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>"#,
            color(m),
            dash(m),
            pts.join(" ")
        );
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                s,
                r#"<circle cx="{x}" cy="{y}" r="3" fill="{}"/>"#,
                color(m)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Job;
    use crate::setup::{Counters, ProgRun, ProgStats};
    use crate::worker::Report;

    fn m(test: BenchTest, size: usize, mode: Mode, value: u64, redirected: u64) -> Measurement {
        let mut client = Report {
            bytes_sent: 1000,
            ..Report::default()
        };
        let mut server = Report::default();
        match test {
            BenchTest::Latency => {
                for _ in 0..100 {
                    client.hist.record(value);
                }
                server.bytes_sent = 1000;
            }
            BenchTest::Stream => {
                server.measured_bytes = value;
                server.measured_ns = 1_000_000_000;
            }
            BenchTest::Churn => {
                client.measured_conns = value;
                client.measured_ns = 1_000_000_000;
                client.trips = value;
                for _ in 0..value {
                    client.hist.record(80_000);
                }
                server.bytes_sent = 1000;
            }
        }
        Measurement {
            job: Job {
                round: 0,
                cpu: BenchCpu::Same,
                size,
                test,
                mode,
            },
            client,
            server,
            counters: (mode != Mode::Unix).then_some(Counters {
                redirected: redirected / 10,
                redirected_bytes: redirected,
                no_peer: 0,
                paired: 1,
                inserted: 2,
                fallbacks: 0,
            }),
            prog_stats: mode.loaded().then_some(ProgStats {
                sock_ops: ProgRun {
                    time_ns: 2150,
                    runs: 10,
                },
                sk_msg: if mode == Mode::Bypass {
                    ProgRun {
                        time_ns: 1440,
                        runs: 10,
                    }
                } else {
                    ProgRun::default()
                },
            }),
        }
    }

    fn sample() -> Results {
        let mut r = Results::default();
        for (mode, lat, tput, red_l, red_s) in [
            (Mode::Tcp, 20_000, 2_000_000_000, 0, 0),
            (Mode::Bypass, 10_000, 4_000_000_000, 2000, 1000),
            (Mode::SockhashOnly, 20_400, 1_960_000_000, 0, 0),
            (Mode::Unix, 8_000, 8_000_000_000, 0, 0),
        ] {
            r.add(&m(BenchTest::Latency, 64, mode, lat, red_l));
            r.add(&m(BenchTest::Stream, 64, mode, tput, red_s));
        }
        // Churn: no Unix pair; a bypass churn run redirects part of the bytes (the first
        // request may go through TCP), which is reported, not flagged.
        for (mode, rate, red) in [
            (Mode::Tcp, 12_000, 0),
            (Mode::Bypass, 11_000, 1000),
            (Mode::SockhashOnly, 11_880, 0),
        ] {
            r.add(&m(BenchTest::Churn, 64, mode, rate, red));
        }
        r
    }

    #[test]
    fn table_has_values_and_ratios() {
        let t = sample().table();
        assert!(t.contains("--cpu same"), "{t}");
        // One-way = half the round trip: 10 µs RTT -> 5.0 µs (within the bucket's 1.6%).
        assert!(t.contains(" 5.02 (5.0)"), "{t}");
        assert!(t.contains("0.50x"), "{t}"); // latency bypass/tcp
        assert!(t.contains("2.00x"), "{t}"); // throughput bypass/tcp
        assert!(t.contains("4000.0"), "{t}");
        assert!(!t.contains("(!)"), "{t}");
        assert!(sample().problems().is_empty(), "{:?}", sample().problems());
        // Sockhash-only columns: 20.4 µs RTT / 2 against 10 µs; 0.98x of TCP's throughput.
        assert!(t.contains("sockhash-only"), "{t}");
        assert!(t.contains("0.98x"), "{t}");
        // Churn: rates, ratios, the bypass's redirected share.
        assert!(t.contains("Connection churn"), "{t}");
        assert!(t.contains("12000"), "{t}");
        assert!(t.contains("0.92x"), "{t}");
        assert!(t.contains("0.99x"), "{t}");
        assert!(t.contains("50.0%"), "{t}");
        // ns/run per program: 2150 ns over 10 runs; sk_msg never ran in sockhash-only.
        assert!(t.contains("BPF program cost"), "{t}");
        assert!(t.contains("215 (10)"), "{t}");
        assert!(t.contains("144 (10)"), "{t}");
        assert!(t.contains("- (0)"), "{t}");
        assert_eq!(t.matches("215 (10)").count(), 3 + 3, "{t}");
        let c = sample().check_summary();
        assert!(
            c.contains("Sockhash-only check: 3 runs; sock_ops put 6 sockets in the sockhash, 0 messages were redirected"),
            "{c}"
        );
    }

    #[test]
    fn compared_objects_get_their_table_and_cost_rows() {
        let mut r = sample();
        r.add(&m(BenchTest::Latency, 64, Mode::Compare, 11_000, 0));
        r.add(&m(BenchTest::Churn, 64, Mode::Compare, 11_500, 0));
        let t = r.table();
        assert!(t.contains("Compared objects"), "{t}");
        // Latency one way 5.5 µs against tcp's 10 and bypass's 5 (5.47, 10.05 and 5.02 with
        // the histogram's bucket midpoints); churn 11500 against 12000.
        assert!(t.contains("0.54x"), "{t}");
        assert!(t.contains("0.92x"), "{t}");
        assert!(t.contains("0.96x"), "{t}");
        assert_eq!(t.matches("compare ").count(), 2 + 1, "{t}");
        assert!(r.problems().is_empty());
        let j = r.json().render();
        assert_eq!(j.matches("\"mode\":\"compare\"").count(), 2);
        assert_eq!(j.matches("\"bpf_stats\":").count(), 6 + 2, "{j}");
        // The compare mode has no bypass counters.
        assert_eq!(j.matches("\"bypass_counters\":").count(), 3 + 3 + 3, "{j}");
        assert!(r.svg("t").contains(">compare</text>"));
        assert!(!sample().svg("t").contains(">compare</text>"));
    }

    #[test]
    fn a_churn_only_run_states_no_lowest_share() {
        let mut r = Results::default();
        r.add(&m(BenchTest::Churn, 64, Mode::Bypass, 100, 10));
        let c = r.check_summary();
        assert!(c.contains("churn runs only"), "{c}");
        assert!(r.problems().is_empty());
        assert!(sample()
            .check_summary()
            .contains("lowest single latency or stream run 100.00%"));
    }

    #[test]
    fn sockhash_only_runs_that_missed_the_map_or_redirected_are_flagged() {
        let mut r = Results::default();
        let mut a = m(BenchTest::Latency, 64, Mode::SockhashOnly, 1000, 0);
        a.counters.as_mut().unwrap().inserted = 0;
        r.add(&a);
        r.add(&m(BenchTest::Stream, 64, Mode::SockhashOnly, 1000, 100));
        let p = r.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("no socket in the sockhash"), "{p:?}");
        assert!(p[1].contains("redirected in a mode meant"), "{p:?}");
    }

    #[test]
    fn a_bypass_run_that_did_not_redirect_is_flagged() {
        let mut r = Results::default();
        r.add(&m(BenchTest::Stream, 64, Mode::Bypass, 1, 10));
        r.add(&m(BenchTest::Stream, 64, Mode::Tcp, 1, 500));
        let p = r.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(r.table().contains("(!)"));
        assert!(
            r.check_summary().contains("50 messages redirected"),
            "{}",
            r.check_summary()
        );
    }

    #[test]
    fn json_and_svg_are_well_formed() {
        let r = sample();
        let j = r.json().render();
        assert!(j.starts_with('[') && j.ends_with(']'));
        assert_eq!(j.matches("\"mode\":").count(), 4 + 4 + 3);
        assert_eq!(j.matches("\"mode\":\"sockhash-only\"").count(), 3);
        assert!(j.contains("\"one_way_median\":5023"), "{j}");
        assert!(j.contains("\"median\":4000000000"), "{j}");
        assert!(j.contains("\"conns_per_s_median\":11000"), "{j}");
        assert_eq!(j.matches("\"bpf_stats\":").count(), 6, "{j}");
        assert!(j.contains("\"ns_per_run\":144"), "{j}");
        assert!(j.contains("\"ns_per_run\":215"), "{j}");
        assert!(j.contains("\"inserted_sockets\":2"), "{j}");
        let svg = r.svg("a <title> & more");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("&lt;title&gt; &amp; more"));
        assert_eq!(svg.matches("<polyline").count(), 4 + 4 + 3);
        assert!(svg.contains("churn (connections/s"));
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(37.0, 5.0), 10.0);
        assert_eq!(nice_step(0.9, 5.0), 0.2);
    }
}
