//! What a `bench` run measures and in which order: the sizes, tests, CPU placements and
//! modes, each measured `rounds` times with the modes interleaved (their order rotates from
//! round to round), and how long each measurement lasts so the whole run fits its time budget.

use std::time::Duration;

use crate::cli::{BenchArgs, BenchCpu, BenchTest};

/// The largest message size `bench` accepts.
pub const MAX_SIZE: usize = 1 << 20;

/// What carries the bytes in one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// TCP in the cgroup without the bypass.
    Tcp,
    /// TCP in the cgroup with the bypass loaded.
    Bypass,
    /// A Unix-domain stream socket pair: the floor.
    Unix,
}

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Mode; 3] = [Mode::Tcp, Mode::Bypass, Mode::Unix];

    /// The name in tables, JSON and worker arguments.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Bypass => "bypass",
            Mode::Unix => "unix",
        }
    }
}

/// The name of a test in tables and JSON.
pub fn test_name(t: BenchTest) -> &'static str {
    match t {
        BenchTest::Latency => "latency",
        BenchTest::Stream => "stream",
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
        let mut jobs = Vec::new();
        for round in 0..rounds {
            for &cpu in &cpus {
                for &size in &sizes {
                    for &test in &tests {
                        for k in 0..Mode::ALL.len() {
                            // Rotate the order of the modes from round to round (and per
                            // size), so none is always first after a warm cache or a switch.
                            let i = (k + round as usize + size.trailing_zeros() as usize)
                                % Mode::ALL.len();
                            jobs.push(Job {
                                round,
                                cpu,
                                size,
                                test,
                                mode: Mode::ALL[i],
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

    #[test]
    fn defaults_cover_every_cell_each_round_with_modes_interleaved() {
        let a = args(&[]);
        assert_eq!(a.sizes, [1, 64, 512, 1024, 4096, 16384, 65536]);
        let p = Plan::new(&a);
        assert_eq!(p.rounds, 5);
        assert_eq!(p.jobs.len(), 5 * 7 * 2 * 3);
        // Every group of three consecutive jobs measures one cell in all three modes.
        for g in p.jobs.chunks(3) {
            let mut modes: Vec<Mode> = g.iter().map(|j| j.mode).collect();
            modes.sort();
            assert_eq!(modes, Mode::ALL);
            assert!(g.iter().all(|j| j.size == g[0].size && j.test == g[0].test));
        }
        // The first mode changes between rounds.
        assert_ne!(p.jobs[0].mode, p.jobs[42].mode);
        let total = (p.duration + OVERHEAD) * p.jobs.len() as u32;
        assert!(total <= Duration::from_secs(160), "{total:?}");
        assert!(total >= Duration::from_secs(120), "{total:?}");
    }

    #[test]
    fn quick_fits_about_25_seconds() {
        let p = Plan::new(&args(&["--quick", "--cpu", "same,split"]));
        assert_eq!(p.rounds, 3);
        assert_eq!(p.jobs.len(), 3 * 2 * 7 * 2 * 3);
        let total = (p.duration + OVERHEAD) * p.jobs.len() as u32;
        assert!(total <= Duration::from_secs(32), "{total:?}");
        assert!(p.warmup < p.duration);
    }

    #[test]
    fn lists_and_duplicates() {
        let p = Plan::new(&args(&[
            "--sizes", "64,64,1K", "--tests", "stream", "--rounds", "1", "--time", "2",
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
