//! Kernel-wide BPF run-time statistics: while they are on, the kernel adds every program's run
//! time and run count to its `bpf_prog_info` ([`crate::ProgInfo::run_time_ns`],
//! [`crate::ProgInfo::run_cnt`]); the ns per run of a program over an interval is the
//! difference of the two read before and after.
//!
//! [`enable_run_time`] asks for them with `BPF_ENABLE_STATS` (Linux 5.8): they stay on while
//! the returned guard holds the descriptor. When the kernel refuses that command (older
//! kernels), it falls back to the `kernel.bpf_stats_enabled` sysctl and writes the old value
//! back when the guard is dropped. Statistics cost a little time per program run (two clock
//! reads), so turn them on only to measure.
//!
//! ```no_run
//! # fn f(prog: &loader::Program) -> loader::Result<()> {
//! let _stats = loader::stats::enable_run_time()?;
//! let before = prog.info()?;
//! // ... traffic ...
//! let after = prog.info()?;
//! let runs = after.run_cnt - before.run_cnt;
//! if runs > 0 {
//!     println!("{} ns/run", (after.run_time_ns - before.run_time_ns) / runs);
//! }
//! # Ok(()) }
//! ```

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::sys;

/// The sysctl the fallback writes.
pub const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// How the statistics were turned on.
#[derive(Debug)]
pub enum StatsGuard {
    /// `BPF_ENABLE_STATS`: on while this descriptor is open.
    Fd(OwnedFd),
    /// The sysctl, set to 1; the old value is written back on drop.
    Sysctl {
        /// What the sysctl held before (trimmed), written back on drop.
        old: String,
    },
}

impl StatsGuard {
    /// `"BPF_ENABLE_STATS"` or `"sysctl kernel.bpf_stats_enabled"`.
    pub fn method(&self) -> &'static str {
        match self {
            StatsGuard::Fd(_) => "BPF_ENABLE_STATS",
            StatsGuard::Sysctl { .. } => "sysctl kernel.bpf_stats_enabled",
        }
    }
}

impl Drop for StatsGuard {
    fn drop(&mut self) {
        if let StatsGuard::Sysctl { old } = self {
            if old != "1" {
                let _ = std::fs::write(SYSCTL, format!("{old}\n"));
            }
        }
    }
}

/// Turns on run-time statistics until the guard is dropped: `BPF_ENABLE_STATS`, or when the
/// kernel refuses it (EINVAL before 5.8) the sysctl, restored afterwards.
pub fn enable_run_time() -> Result<StatsGuard> {
    match sys::enable_stats_run_time() {
        Ok(fd) => Ok(StatsGuard::Fd(fd)),
        Err(e) => {
            let io_err = |what, source: io::Error| Error::Io {
                what,
                path: PathBuf::from(SYSCTL),
                source,
            };
            let old = match std::fs::read_to_string(SYSCTL) {
                Ok(s) => s.trim().to_string(),
                // No sysctl either: the command's own error says more.
                Err(_) => return Err(e.into()),
            };
            if old != "1" {
                std::fs::write(SYSCTL, "1\n").map_err(|s| io_err("writing", s))?;
            }
            Ok(StatsGuard::Sysctl { old })
        }
    }
}

/// Nanoseconds per run between two readings of a program's statistics (`None` when it did
/// not run in between, or the counters went backwards).
pub fn ns_per_run(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let time = after.0.checked_sub(before.0)?;
    let runs = after.1.checked_sub(before.1)?;
    (runs > 0).then(|| time as f64 / runs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_per_run_needs_runs() {
        assert_eq!(ns_per_run((100, 10), (1100, 20)), Some(100.0));
        assert_eq!(ns_per_run((100, 10), (100, 10)), None);
        assert_eq!(ns_per_run((100, 10), (50, 20)), None);
    }
}
