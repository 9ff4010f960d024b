//! Runs one measurement: starts the server worker, waits for its port, starts the client,
//! collects both `result` lines (or notices an interruption or a stuck worker), and reads the
//! bypass counters before and after so every measurement says what carried its bytes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::{BenchCpu, BenchTest};
use crate::plan::{test_name, Job, Mode};
use crate::setup::{
    Cgroups, Compared, Counters, LoadedBypass, Netns, ProgStats, Signals, LOOPBACK_SERVER,
    NETNS_SERVER,
};
use crate::worker::{Report, Role};

/// Everything a measurement needs from the run.
pub struct Env<'a> {
    /// Termination signals.
    pub signals: &'a Signals,
    /// The two cgroups.
    pub cgroups: &'a Cgroups,
    /// The loaded bypass.
    pub bypass: &'a LoadedBypass,
    /// The second load, sk_msg detached (when the sockhash-only mode is measured).
    pub sockhash: Option<&'a LoadedBypass>,
    /// The compared programs (`--compare-objects`).
    pub compare: Option<&'a Compared>,
    /// Whether kernel BPF statistics are on (program run time is read around each run).
    pub stats: bool,
    /// The namespaces of `--scenario netns`.
    pub netns: Option<&'a Netns>,
    /// This binary.
    pub exe: PathBuf,
    /// CPUs this process may run on.
    pub cpus: Vec<usize>,
    /// Length of a measurement.
    pub duration: Duration,
    /// Its warm-up.
    pub warmup: Duration,
    /// TCP_NODELAY in the stream test too.
    pub nodelay: bool,
}

/// The outcome of one measurement.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What was measured.
    pub job: Job,
    /// The client's report.
    pub client: Report,
    /// The server's report.
    pub server: Report,
    /// How the bypass counters moved (TCP modes: the load the mode meets, or for plain TCP
    /// the bypass's own load).
    pub counters: Option<Counters>,
    /// How the programs' run time and runs moved (bypass and sockhash-only modes, with
    /// statistics on).
    pub prog_stats: Option<ProgStats>,
}

impl Measurement {
    /// Bytes the application wrote, both ends.
    pub fn app_bytes(&self) -> u64 {
        self.client.bytes_sent + self.server.bytes_sent
    }

    /// Stream: bytes per second at the receiver after the warm-up.
    pub fn throughput(&self) -> Option<f64> {
        (self.job.test == BenchTest::Stream && self.server.measured_ns > 0)
            .then(|| self.server.measured_bytes as f64 * 1e9 / self.server.measured_ns as f64)
    }

    /// Churn: connections per second after the warm-up.
    pub fn conn_rate(&self) -> Option<f64> {
        (self.job.test == BenchTest::Churn && self.client.measured_ns > 0)
            .then(|| self.client.measured_conns as f64 * 1e9 / self.client.measured_ns as f64)
    }

    /// The share of the application's bytes the bypass redirected (0 when none).
    pub fn carried(&self) -> Option<f64> {
        let c = self.counters?;
        let app = self.app_bytes();
        Some(if app == 0 {
            0.0
        } else {
            c.redirected_bytes as f64 / app as f64
        })
    }

    /// EAGAIN retries on both ends.
    pub fn eagain(&self) -> u64 {
        self.client.eagain + self.server.eagain
    }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error()).context("sched_getaffinity");
        }
        Ok((0..8 * std::mem::size_of::<libc::cpu_set_t>())
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// (server CPU, client CPU) for a placement.
pub fn placement(cpu: BenchCpu, cpus: &[usize]) -> Result<(Option<usize>, Option<usize>)> {
    Ok(match (cpu, cpus) {
        (BenchCpu::Any, _) => (None, None),
        (_, []) => bail!("no CPU is available to pin to"),
        (BenchCpu::Same, [c, ..]) => (Some(*c), Some(*c)),
        (BenchCpu::Split, [a, b, ..]) => (Some(*a), Some(*b)),
        (BenchCpu::Split, [_]) => {
            bail!("--cpu split needs two CPUs; this process may use only one")
        }
    })
}

/// A worker process and the lines it prints; killed (by its pid) if dropped while running.
struct Worker {
    child: Child,
    out: ChildStdout,
    buf: Vec<u8>,
    what: &'static str,
}

impl Worker {
    /// The next line, waiting until `deadline`; `None` at EOF (the worker exited).
    fn line(&mut self, signals: &Signals, deadline: Instant) -> Result<Option<String>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("the {} worker did not answer in time (stuck?)", self.what);
            }
            let mut fds = [
                libc::pollfd {
                    fd: self.out.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: signals.raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ms = (deadline - now).as_millis().min(60_000) as i32 + 1;
            // SAFETY: two valid pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e).context("poll");
            }
            signals.check()?;
            if fds[0].revents != 0 {
                let mut chunk = [0u8; 4096];
                // SAFETY: reading into a local buffer from our pipe.
                let r = unsafe {
                    libc::read(self.out.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len())
                };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    return Err(e).context("reading a worker's output");
                }
                if r == 0 {
                    return Ok(None);
                }
                self.buf.extend_from_slice(&chunk[..r as usize]);
            }
        }
    }

    /// Waits for the exit and checks it was clean.
    fn finish(mut self, signals: &Signals) -> Result<()> {
        let status = self.child.wait().context("waiting for a worker")?;
        signals.check()?;
        if !status.success() {
            bail!("the {} worker failed ({status})", self.what);
        }
        Ok(())
    }

    /// Reads the `result` line.
    fn result(&mut self, signals: &Signals, deadline: Instant) -> Result<Report> {
        match self.line(signals, deadline)? {
            Some(l) => {
                Report::parse(&l).with_context(|| format!("the {} worker printed `{l}`", self.what))
            }
            None => {
                let status = self.child.wait().ok();
                signals.check()?;
                bail!(
                    "the {} worker exited without a result ({})",
                    self.what,
                    status.map(|s| s.to_string()).unwrap_or_default()
                )
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for two descriptors, which we then own.
    unsafe {
        if libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        ) != 0
        {
            return Err(io::Error::last_os_error()).context("socketpair");
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

fn spawn(
    env: &Env,
    job: &Job,
    role: Role,
    cpu: Option<usize>,
    extra: &[String],
    fd: Option<RawFd>,
) -> Result<Worker> {
    let mut cmd = Command::new(&env.exe);
    cmd.arg(crate::cli::WORKER_COMMAND)
        .arg("--role")
        .arg(match role {
            Role::Server => "server",
            Role::Client => "client",
        })
        .arg("--test")
        .arg(test_name(job.test))
        .arg("--transport")
        .arg(if job.mode == Mode::Unix {
            "unix"
        } else {
            "tcp"
        })
        .arg("--size")
        .arg(job.size.to_string())
        .arg("--duration-ms")
        .arg(env.duration.as_millis().to_string())
        .arg("--warmup-ms")
        .arg(env.warmup.as_millis().to_string())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(c) = cpu {
        cmd.arg("--cpu").arg(c.to_string());
    }
    if env.nodelay {
        cmd.arg("--nodelay");
    }
    if let Some(fd) = fd {
        cmd.arg("--fd").arg(fd.to_string());
        // SAFETY: only fcntl, which is async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", env.exe.display()))?;
    let out = child.stdout.take().context("worker stdout")?;
    Ok(Worker {
        child,
        out,
        buf: Vec::new(),
        what: match role {
            Role::Server => "server",
            Role::Client => "client",
        },
    })
}

/// Runs one measurement.
pub fn measure(env: &Env, job: &Job) -> Result<Measurement> {
    env.signals.check()?;
    let (scpu, ccpu) = placement(job.cpu, &env.cpus)?;
    let load: Option<&LoadedBypass> = match job.mode {
        Mode::Unix | Mode::Compare => None,
        Mode::Tcp | Mode::Bypass => Some(env.bypass),
        Mode::SockhashOnly => Some(
            env.sockhash
                .context("the sockhash-only mode needs its load")?,
        ),
    };
    let before = load.map(LoadedBypass::counters).transpose()?;
    let read_stats = || -> Result<Option<ProgStats>> {
        if !env.stats {
            return Ok(None);
        }
        Ok(match (job.mode, load, env.compare) {
            (Mode::Compare, _, Some(c)) => Some(c.prog_stats()?),
            (m, Some(l), _) if m.loaded() => Some(l.prog_stats()?),
            _ => None,
        })
    };
    let stats_before = read_stats()?;
    let start_deadline = Instant::now() + Duration::from_secs(10);
    let (mut server, mut client) = match job.mode {
        Mode::Unix => {
            let (a, b) = socketpair()?;
            let cg = vec![
                "--cgroup".to_string(),
                env.cgroups.tcp.display().to_string(),
            ];
            let mut server = spawn(env, job, Role::Server, scpu, &cg, Some(a.as_raw_fd()))?;
            match server.line(env.signals, start_deadline)? {
                Some(l) if l == "ready" => {}
                other => bail!("the server worker did not start: {other:?}"),
            }
            let client = spawn(env, job, Role::Client, ccpu, &cg, Some(b.as_raw_fd()))?;
            (server, client)
        }
        Mode::Tcp | Mode::Bypass | Mode::SockhashOnly | Mode::Compare => {
            let cg = match job.mode {
                Mode::Bypass => &env.cgroups.bypass,
                Mode::SockhashOnly => &env.cgroups.sockhash,
                Mode::Compare => &env.cgroups.compare,
                _ => &env.cgroups.tcp,
            };
            let addr = if env.netns.is_some() {
                NETNS_SERVER
            } else {
                LOOPBACK_SERVER
            };
            let mut common = vec![
                "--cgroup".to_string(),
                cg.display().to_string(),
                "--addr".to_string(),
                addr.to_string(),
            ];
            let mut sargs = common.clone();
            if let Some(ns) = env.netns {
                sargs.push("--netns".into());
                sargs.push(ns.server().display().to_string());
                common.push("--netns".into());
                common.push(ns.client().display().to_string());
            }
            let mut server = spawn(env, job, Role::Server, scpu, &sargs, None)?;
            let port = match server.line(env.signals, start_deadline)? {
                Some(l) => l
                    .strip_prefix("port ")
                    .and_then(|p| p.parse::<u16>().ok())
                    .with_context(|| format!("the server worker printed `{l}`"))?,
                None => {
                    env.signals.check()?;
                    bail!("the server worker exited before listening");
                }
            };
            common.push("--port".into());
            common.push(port.to_string());
            let client = spawn(env, job, Role::Client, ccpu, &common, None)?;
            (server, client)
        }
    };
    let deadline = Instant::now() + env.duration + Duration::from_secs(20);
    let creport = client.result(env.signals, deadline)?;
    let sreport = server.result(env.signals, Instant::now() + Duration::from_secs(10))?;
    client.finish(env.signals)?;
    server.finish(env.signals)?;
    let counters = match (before, load) {
        (Some(b), Some(l)) => Some(l.counters()?.since(&b)),
        _ => None,
    };
    let prog_stats = match (stats_before, read_stats()?) {
        (Some(b), Some(a)) => Some(ProgStats {
            sock_ops: a.sock_ops.since(&b.sock_ops),
            sk_msg: a.sk_msg.since(&b.sk_msg),
        }),
        _ => None,
    };
    Ok(Measurement {
        job: *job,
        client: creport,
        server: sreport,
        counters,
        prog_stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements() {
        assert_eq!(placement(BenchCpu::Any, &[]).unwrap(), (None, None));
        assert_eq!(
            placement(BenchCpu::Same, &[2, 3]).unwrap(),
            (Some(2), Some(2))
        );
        assert_eq!(
            placement(BenchCpu::Split, &[2, 3]).unwrap(),
            (Some(2), Some(3))
        );
        assert!(placement(BenchCpu::Split, &[1]).is_err());
        assert!(placement(BenchCpu::Same, &[]).is_err());
        assert!(!allowed_cpus().unwrap().is_empty());
    }
}
