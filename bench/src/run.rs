//! One benchmark run: sets up (`crate::setup`), measures every job of the plan
//! (`crate::plan`, `crate::runner`) with progress on stderr, and removes everything it set up.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cli::{BenchArgs, BenchScenario, BenchTest};
use crate::plan::{cpu_name, size_label, test_name, Mode, Plan};
use crate::report::Results;
use crate::runner::{Env, Measurement};
use crate::setup::{Cgroups, LoadedBypass, Netns, Signals};
use tcpbypass::log;

/// What a finished run hands to the command.
#[derive(Debug)]
pub struct Run {
    /// The plan it followed.
    pub plan: Plan,
    /// The results.
    pub results: Results,
    /// CPUs the workers could use.
    pub cpus: Vec<usize>,
    /// How long it took.
    pub elapsed: Duration,
    /// The 1-minute load average before and after.
    pub load: (Option<f64>, Option<f64>),
    /// How kernel BPF statistics were turned on (`None`: off, or refused).
    pub stats: Option<&'static str>,
    /// The compared programs (`object:program` of sock_ops and sk_msg).
    pub compared: Option<(String, String)>,
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Sets up, measures every job of the plan, and removes everything it set up (also on an
/// error or an interruption by SIGINT/SIGTERM/SIGHUP).
pub fn run(args: &BenchArgs) -> Result<Run> {
    let plan = Plan::new(args);
    let cpus = crate::runner::allowed_cpus()?;
    for c in &args.cpu {
        crate::runner::placement(*c, &cpus)?;
    }
    tcpbypass::commands::require_bpf()?;
    let exe = std::env::current_exe().context("finding this program's path")?;
    // Signals first: from here on Ctrl-C is read by us, between steps, and cleanup runs.
    let signals = Signals::block()?;
    let started = Instant::now();
    let load_before = load_average();
    if let Some(l) = load_before {
        if l > 0.5 * cpus.len() as f64 {
            log::warn(&format!(
                "this host is busy (load average {l:.2} on {} CPUs): other work competes with the benchmark and makes its numbers noisy",
                cpus.len()
            ));
        }
    }
    let netns = match args.scenario {
        BenchScenario::Netns => Some(Netns::create()?),
        BenchScenario::Loopback => None,
    };
    signals.check()?;
    let cgroups = Cgroups::create()?;
    signals.check()?;
    let prefixes: Vec<String> = if netns.is_some() {
        vec![crate::setup::NETNS_PREFIX.to_string()]
    } else {
        Vec::new()
    };
    let bypass = LoadedBypass::load(&cgroups.bypass, &prefixes, "")?;
    signals.check()?;
    let sockhash = if plan.jobs.iter().any(|j| j.mode == Mode::SockhashOnly) {
        let l = LoadedBypass::load(&cgroups.sockhash, &prefixes, "-sockhash-only")?;
        l.detach_sk_msg()?;
        signals.check()?;
        Some(l)
    } else {
        None
    };
    let compare = if args.compare_objects.is_empty() {
        None
    } else {
        let c = crate::setup::Compared::load(&args.compare_objects, &cgroups.compare)?;
        log::info(&format!(
            "compare mode: sock_ops {} and sk_msg {} on {}",
            c.names.0,
            c.names.1,
            cgroups.compare.display()
        ));
        signals.check()?;
        Some(c)
    };
    let stats = if args.no_bpf_stats {
        None
    } else {
        match loader::stats::enable_run_time() {
            Ok(g) => {
                log::debug(&format!("BPF run-time statistics on ({})", g.method()));
                Some(g)
            }
            Err(e) => {
                log::warn(&format!(
                    "kernel BPF statistics are not available ({e}): no ns/run in the results"
                ));
                None
            }
        }
    };
    log::info(&format!(
        "bench: {} measurements of {} ms (warm-up {} ms) in {} rounds, about {} s; cgroups under {}; Ctrl-C stops and cleans up",
        plan.jobs.len(),
        plan.duration.as_millis(),
        plan.warmup.as_millis(),
        plan.rounds,
        plan.budget.as_secs(),
        cgroups.dir().display()
    ));
    let env = Env {
        signals: &signals,
        cgroups: &cgroups,
        bypass: &bypass,
        sockhash: sockhash.as_ref(),
        compare: compare.as_ref(),
        stats: stats.is_some(),
        netns: netns.as_ref(),
        exe,
        cpus: cpus.clone(),
        duration: plan.duration,
        warmup: plan.warmup,
        nodelay: args.nodelay,
    };
    let mut results = Results::default();
    let mut progress = Progress::new(plan.jobs.len(), plan.rounds);
    for job in &plan.jobs {
        let m = match crate::runner::measure(&env, job) {
            Ok(m) => m,
            Err(e) => {
                progress.finish();
                // An interruption speaks for itself; anything else says what was measured.
                if tcpbypass::exit::code_for(&e) > 128 {
                    return Err(e);
                }
                return Err(e.context(format!(
                    "measuring {} {} over {} (--cpu {})",
                    test_name(job.test),
                    size_label(job.size),
                    job.mode.name(),
                    cpu_name(job.cpu)
                )));
            }
        };
        progress.step(&m);
        results.add(&m);
    }
    progress.finish();
    let stats_method = stats.as_ref().map(|g| g.method());
    drop(env);
    drop(stats);
    let compared = compare.as_ref().map(|c| c.names.clone());
    drop(compare);
    drop(sockhash);
    drop(bypass);
    drop(cgroups);
    drop(netns);
    log::info("bench: done; the cgroups, pins and namespaces it created are removed");
    Ok(Run {
        plan,
        results,
        cpus,
        elapsed: started.elapsed(),
        load: (load_before, load_average()),
        stats: stats_method,
        compared,
    })
}

/// Progress on stderr: one rewritten line on a terminal, one line per round otherwise.
struct Progress {
    total: usize,
    rounds: u32,
    done: usize,
    started: Instant,
    tty: bool,
    dirty: bool,
}

impl Progress {
    fn new(total: usize, rounds: u32) -> Progress {
        Progress {
            total,
            rounds,
            done: 0,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            dirty: false,
        }
    }

    fn step(&mut self, m: &Measurement) {
        self.done += 1;
        if log::verbosity() < 0 {
            return;
        }
        let j = m.job;
        let value = match j.test {
            BenchTest::Latency => match m.client.hist.quantile(0.5) {
                Some(v) => format!("{:.2} µs", v as f64 / 2000.0),
                None => "-".into(),
            },
            BenchTest::Stream => match m.throughput() {
                Some(v) => format!("{:.1} MB/s", v / 1e6),
                None => "-".into(),
            },
            BenchTest::Churn => match m.conn_rate() {
                Some(v) => format!("{v:.0} conn/s"),
                None => "-".into(),
            },
        };
        let carried = match (j.mode, m.carried(), m.counters) {
            (Mode::Bypass, Some(c), _) => format!(", {:.1}% redirected", c * 100.0),
            (Mode::SockhashOnly, _, Some(k)) => {
                format!(", {} inserted, {} redirected", k.inserted, k.redirected)
            }
            _ => String::new(),
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        let left = elapsed / self.done as f64 * (self.total - self.done) as f64;
        let line = format!(
            "[{}/{}] round {}/{} --cpu {} {} {} {}: {value}{carried}; ~{:.0} s left",
            self.done,
            self.total,
            j.round + 1,
            self.rounds,
            cpu_name(j.cpu),
            test_name(j.test),
            size_label(j.size),
            j.mode.name(),
            left
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
            self.dirty = true;
        } else if log::verbosity() > 0
            || self.done == self.total
            || self.done % (self.total / self.rounds.max(1) as usize).max(1) == 0
        {
            eprintln!("{line}");
        }
    }

    fn finish(&mut self) {
        if self.dirty {
            eprintln!();
            self.dirty = false;
        }
    }
}
