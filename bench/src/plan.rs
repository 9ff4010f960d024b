//! What a `bench` run measures and in which order: the sizes, tests, CPU placements and
//! modes, each measured `rounds` times with the modes interleaved (their order rotates from
//! round to round), and how long each measurement lasts so the whole run fits its time budget.

use std::time::Duration;

use crate::cli::{BenchArgs, BenchCpu, BenchMode, BenchTest};

/// The largest message size `bench` accepts.
pub const MAX_SIZE: usize = 1 << 20;

/// What carries the bytes in one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// TCP in the cgroup without the bypass.
    Tcp,
    /// TCP in the cgroup with the bypass loaded.
    Bypass,
    /// TCP in the cgroup of a second load of the bypass whose sk_msg program is detached:
    /// sock_ops puts the sockets in the sockhash, nothing redirects them.
    SockhashOnly,
    /// A Unix-domain stream socket pair: the floor.
    Unix,
    /// TCP in the cgroup of another implementation's programs (`--compare-objects`).
    Compare,
}

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Mode; 5] = [
        Mode::Tcp,
        Mode::Bypass,
        Mode::SockhashOnly,
        Mode::Unix,
        Mode::Compare,
    ];

    /// The name in tables, JSON and worker arguments.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Bypass => "bypass",
            Mode::SockhashOnly => "sockhash-only",
            Mode::Unix => "unix",
            Mode::Compare => "compare",
        }
    }

    /// The mode of a command-line name.
    pub fn from_arg(m: BenchMode) -> Mode {
        match m {
            BenchMode::Tcp => Mode::Tcp,
            BenchMode::Bypass => Mode::Bypass,
            BenchMode::SockhashOnly => Mode::SockhashOnly,
            BenchMode::Unix => Mode::Unix,
        }
    }

    /// Whether a test runs in this mode (churn needs `connect`: no Unix pair).
    pub fn runs(self, test: BenchTest) -> bool {
        !(test == BenchTest::Churn && self == Mode::Unix)
    }

    /// Whether the mode's sockets meet a loaded bypass (its counters are read).
    pub fn loaded(self) -> bool {
        matches!(self, Mode::Bypass | Mode::SockhashOnly | Mode::Compare)
    }
}

/// The name of a test in tables and JSON.
pub fn test_name(t: BenchTest) -> &'static str {
    match t {
        BenchTest::Latency => "latency",
        BenchTest::Stream => "stream",
        BenchTest::Churn => "churn",
    }
}

/// The name of a CPU placement in tables and JSON.
pub fn cpu_name(c: BenchCpu) -> &'static str {
    match c {
        BenchCpu::Same => "same",
        BenchCpu::Split => "split",
        BenchCpu::Any => "any",
    }
}

/// Parses a message size: bytes, or with a `K`/`KiB` suffix (`M`/`MiB` too), 1 B..=1 MiB.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (num, mult) = if let Some(n) = lower
        .strip_suffix("kib")
        .or_else(|| lower.strip_suffix('k'))
    {
        (n, 1024)
    } else if let Some(n) = lower
        .strip_suffix("mib")
        .or_else(|| lower.strip_suffix('m'))
    {
        (n, 1024 * 1024)
    } else {
        (lower.strip_suffix('b').unwrap_or(&lower), 1)
    };
    let n: usize = num
        .trim()
        .parse()
        .map_err(|_| format!("`{t}` is not a size (examples: 1, 512, 4K, 64K)"))?;
    let size = n
        .checked_mul(mult)
        .filter(|v| (1..=MAX_SIZE).contains(v))
        .ok_or_else(|| format!("`{t}`: sizes go from 1 B to 1 MiB"))?;
    Ok(size)
}

/// A size for humans: `1 B`, `512 B`, `4 KiB`.
pub fn size_label(size: usize) -> String {
    if size >= 1024 && size % 1024 == 0 {
        if size >= 1 << 20 && size % (1 << 20) == 0 {
            format!("{} MiB", size >> 20)
        } else {
            format!("{} KiB", size >> 10)
        }
    } else {
        format!("{size} B")
    }
}

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Round number, from 0.
    pub round: u32,
    /// CPU placement.
    pub cpu: BenchCpu,
    /// Message size in bytes.
    pub size: usize,
    /// Which test.
    pub test: BenchTest,
    /// Which transport.
    pub mode: Mode,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every measurement, in the order to run them.
    pub jobs: Vec<Job>,
    /// Rounds.
    pub rounds: u32,
    /// How long one measurement runs, warm-up included.
    pub duration: Duration,
    /// The first part of a measurement that is not counted.
    pub warmup: Duration,
    /// The time budget the run was planned for.
    pub budget: Duration,
}

/// Time spent per measurement outside the measuring (starting two processes, connecting).
const OVERHEAD: Duration = Duration::from_millis(25);
/// The shortest measurement.
const MIN_DURATION: Duration = Duration::from_millis(60);

impl Plan {
    /// Plans a run from the command line.
    pub fn new(args: &BenchArgs) -> Plan {
        let budget = Duration::from_secs(u64::from(args.time.unwrap_or(if args.quick {
            25
        } else {
            150
        })));
        let rounds = args.rounds.unwrap_or(if args.quick { 3 } else { 5 });
        let cpus: Vec<BenchCpu> = dedup(&args.cpu);
        let sizes: Vec<usize> = dedup(&args.sizes);
        let tests: Vec<BenchTest> = dedup(&args.tests);
        let mut modes: Vec<Mode> = dedup(&args.modes).into_iter().map(Mode::from_arg).collect();
        if !args.compare_objects.is_empty() {
            modes.push(Mode::Compare);
        }
        modes.sort();
        let mut jobs = Vec::new();
        for round in 0..rounds {
            for &cpu in &cpus {
                for &size in &sizes {
                    for &test in &tests {
                        // Churn is measured once per placement, at its own size, after the
                        // first size's latency and stream cells.
                        let size = match test {
                            BenchTest::Churn if size != sizes[0] => continue,
                            BenchTest::Churn => args.churn_size,
                            _ => size,
                        };
                        let ms: Vec<Mode> =
                            modes.iter().copied().filter(|m| m.runs(test)).collect();
                        for k in 0..ms.len() {
                            // Rotate the order of the modes from round to round (and per
                            // size), so none is always first after a warm cache or a switch.
                            let i =
                                (k + round as usize + size.trailing_zeros() as usize) % ms.len();
                            jobs.push(Job {
                                round,
                                cpu,
                                size,
                                test,
                                mode: ms[i],
                            });
                        }
                    }
                }
            }
        }
        let per = budget
            .checked_div(jobs.len().max(1) as u32)
            .unwrap_or(MIN_DURATION);
        // Whole milliseconds: the workers are told milliseconds.
        let ms = |d: Duration| Duration::from_millis(d.as_millis() as u64);
        let duration = ms(per.saturating_sub(OVERHEAD).max(MIN_DURATION));
        Plan {
            jobs,
            rounds,
            duration,
            warmup: ms(duration / 5),
            budget,
        }
    }
}

/// `v` without repeated elements, first occurrences kept in order.
fn dedup<T: PartialEq + Copy>(v: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(*x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn args(extra: &[&str]) -> BenchArgs {
        let mut v = vec!["tcpbypass-bench"];
        v.extend_from_slice(extra);
        Cli::try_parse_from(v).unwrap().bench
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1"), Ok(1));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("4kib"), Ok(4096));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("2M").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999K").is_err());
    }

    #[test]
    fn labels() {
        assert_eq!(size_label(1), "1 B");
        assert_eq!(size_label(1536), "1536 B");
        assert_eq!(size_label(65536), "64 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
    }

    /// Consecutive jobs of one cell (round, placement, size, test).
    fn groups(jobs: &[Job]) -> Vec<&[Job]> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=jobs.len() {
            let same = |a: &Job, b: &Job| {
                (a.round, a.cpu, a.size, a.test) == (b.round, b.cpu, b.size, b.test)
            };
            if i == jobs.len() || !same(&jobs[i], &jobs[start]) {
                out.push(&jobs[start..i]);
                start = i;
            }
        }
        out
    }

    #[test]
    fn defaults_cover_every_cell_each_round_with_modes_interleaved() {
        let a = args(&[]);
        assert_eq!(a.sizes, [1, 64, 512, 1024, 4096, 16384, 65536]);
        assert_eq!(a.churn_size, 64);
        let p = Plan::new(&a);
        assert_eq!(p.rounds, 5);
        // Latency and stream at 7 sizes in 4 modes, churn once in 3 (no Unix pair).
        let per_round = 7 * 2 * 4 + 3;
        assert_eq!(p.jobs.len(), 5 * per_round);
        let groups = groups(&p.jobs);
        assert_eq!(groups.len(), 5 * (7 * 2 + 1));
        // Every group measures one cell in all its modes.
        for g in &groups {
            let mut modes: Vec<Mode> = g.iter().map(|j| j.mode).collect();
            modes.sort();
            if g[0].test == BenchTest::Churn {
                assert_eq!(modes, [Mode::Tcp, Mode::Bypass, Mode::SockhashOnly]);
                assert_eq!(g[0].size, 64);
            } else {
                assert_eq!(modes, Mode::ALL[..4]);
            }
        }
        let churn = p.jobs.iter().filter(|j| j.test == BenchTest::Churn).count();
        assert_eq!(churn, 5 * 3);
        // The first mode changes between rounds.
        assert_ne!(p.jobs[0].mode, p.jobs[per_round].mode);
        let total = (p.duration + OVERHEAD) * p.jobs.len() as u32;
        assert!(total <= Duration::from_secs(160), "{total:?}");
        assert!(total >= Duration::from_secs(120), "{total:?}");
    }

    #[test]
    fn quick_fits_about_25_seconds() {
        let p = Plan::new(&args(&["--quick", "--cpu", "same,split"]));
        assert_eq!(p.rounds, 3);
        assert_eq!(p.jobs.len(), 3 * 2 * (7 * 2 * 4 + 3));
        let total = (p.duration + OVERHEAD) * p.jobs.len() as u32;
        assert!(total <= Duration::from_secs(32), "{total:?}");
        assert!(p.warmup < p.duration);
    }

    #[test]
    fn modes_and_churn_size_are_chosen() {
        let p = Plan::new(&args(&[
            "--modes",
            "unix,tcp,unix",
            "--tests",
            "churn,latency",
            "--sizes",
            "1,2",
            "--churn-size",
            "1K",
            "--rounds",
            "2",
        ]));
        // Latency at 2 sizes in 2 modes; churn once, over TCP only.
        assert_eq!(p.jobs.len(), 2 * (2 * 2 + 1));
        let churn: Vec<&Job> = p
            .jobs
            .iter()
            .filter(|j| j.test == BenchTest::Churn)
            .collect();
        assert_eq!(churn.len(), 2);
        assert!(churn.iter().all(|j| j.mode == Mode::Tcp && j.size == 1024));
        assert!(!p
            .jobs
            .iter()
            .any(|j| j.mode == Mode::Bypass || j.mode == Mode::SockhashOnly));
        let p = Plan::new(&args(&["--modes", "sockhash-only", "--tests", "stream"]));
        assert!(p.jobs.iter().all(|j| j.mode == Mode::SockhashOnly));
        assert!(Cli::try_parse_from(["tcpbypass-bench", "--modes", "udp"]).is_err());
        // --compare-objects adds the compare mode to every test.
        let p = Plan::new(&args(&[
            "--compare-objects",
            "a.o",
            "b.o",
            "--modes",
            "tcp",
            "--sizes",
            "1",
            "--rounds",
            "1",
        ]));
        assert_eq!(p.jobs.len(), 2 + 2 + 2);
        assert_eq!(p.jobs.iter().filter(|j| j.mode == Mode::Compare).count(), 3);
        assert!(Cli::try_parse_from(["x", "--compare-objects", "a", "b", "c"]).is_err());
    }

    #[test]
    fn lists_and_duplicates() {
        let p = Plan::new(&args(&[
            "--sizes",
            "64,64,1K",
            "--tests",
            "stream",
            "--rounds",
            "1",
            "--time",
            "2",
            "--modes",
            "tcp,bypass,unix",
        ]));
        assert_eq!(p.jobs.len(), 2 * 3);
        assert!(p.jobs.iter().all(|j| j.test == BenchTest::Stream));
        assert_eq!(
            p.duration,
            MIN_DURATION.max(Duration::from_millis(2000 / 6) - OVERHEAD)
        );
        assert!(Cli::try_parse_from(["tcpbypass-bench", "--cpu", "both"]).is_err());
        assert!(Cli::try_parse_from(["tcpbypass-bench", "--rounds", "0"]).is_err());
        assert!(Cli::try_parse_from(["tcpbypass-bench", "--sizes", "0"]).is_err());
    }
}
