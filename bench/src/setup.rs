//! The temporary things a `bench` run creates, each a drop guard that removes it again:
//! blocked termination signals read through a signalfd ([`Signals`]), two child cgroups
//! ([`Cgroups`]), the bypass loaded on one of them under its own pin directory
//! ([`LoadedBypass`]), and for `--scenario netns` two network namespaces joined by a veth pair
//! ([`Netns`]). The bench process itself never joins a cgroup it removes.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use loader::{Map, Program};
use programs::Counter;

use tcpbypass::bypass::Pins;
use tcpbypass::exit::{self, Failure};
use tcpbypass::log;
use tcpbypass::{LoadOptions, LoadOutcome, PinOptions};

/// SIGINT, SIGTERM and SIGHUP blocked for this process and readable from a signalfd, so an
/// interruption is noticed between (and during) measurements and cleanup always runs.
#[derive(Debug)]
pub struct Signals {
    fd: OwnedFd,
}

fn term_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

impl Signals {
    /// Blocks the signals and opens the signalfd.
    pub fn block() -> Result<Signals> {
        let set = term_set();
        // SAFETY: valid set pointers; signalfd returns a new fd we own.
        unsafe {
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                bail!("blocking SIGINT/SIGTERM/SIGHUP failed");
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                return Err(io::Error::last_os_error()).context("signalfd");
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// The descriptor to poll.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The signal that arrived, if any (consumes it).
    pub fn pending(&self) -> Option<i32> {
        // SAFETY: reading one siginfo into a buffer of its size.
        unsafe {
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let n = libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                std::mem::size_of::<libc::signalfd_siginfo>(),
            );
            (n == std::mem::size_of::<libc::signalfd_siginfo>() as isize)
                .then_some(info.ssi_signo as i32)
        }
    }

    /// An error for an interruption by `sig` (exit code 128 + sig, the shell convention).
    pub fn interrupted(sig: i32) -> anyhow::Error {
        let name = match sig {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGHUP => "SIGHUP",
            _ => "a signal",
        };
        anyhow::Error::new(Failure::new(
            (128 + sig).clamp(0, 255) as u8,
            format!("interrupted by {name}; everything the benchmark set up was removed"),
        ))
    }

    /// Fails when a signal arrived.
    pub fn check(&self) -> Result<()> {
        match self.pending() {
            Some(sig) => Err(Signals::interrupted(sig)),
            None => Ok(()),
        }
    }
}

/// `<cgroup2 mount>/tcpbypass-bench-<pid>/` with three children: `bypass` (the bypass is
/// attached here), `sockhash` (the sockhash-only load: sock_ops without sk_msg) and `tcp`
/// (plain TCP). Drop moves any leftover process out and removes all four.
#[derive(Debug)]
pub struct Cgroups {
    root: PathBuf,
    dir: PathBuf,
    /// The cgroup with the bypass.
    pub bypass: PathBuf,
    /// The cgroup with sock_ops only.
    pub sockhash: PathBuf,
    /// The cgroup of the compared programs.
    pub compare: PathBuf,
    /// The cgroup without it.
    pub tcp: PathBuf,
}

impl Cgroups {
    /// Creates them.
    pub fn create() -> Result<Cgroups> {
        let root = loader::env::cgroup2_mount().map_err(|e| {
            Failure::new(exit::ENVIRONMENT, e.to_string())
                .hint("the bypass (and its benchmark) needs a cgroup v2 hierarchy")
        })?;
        let dir = root.join(format!("tcpbypass-bench-{}", std::process::id()));
        fs::create_dir(&dir)
            .with_context(|| tcpbypass::commands::at(&dir, "creating the cgroup"))?;
        let cg = Cgroups {
            bypass: dir.join("bypass"),
            sockhash: dir.join("sockhash"),
            compare: dir.join("compare"),
            tcp: dir.join("tcp"),
            root,
            dir,
        };
        loader::env::check_cgroup2(&cg.dir)?;
        for d in [&cg.bypass, &cg.sockhash, &cg.compare, &cg.tcp] {
            fs::create_dir(d).with_context(|| tcpbypass::commands::at(d, "creating the cgroup"))?;
        }
        Ok(cg)
    }

    /// The parent directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn remove_cgroup(dir: &Path, root: &Path) {
    for attempt in 0..100 {
        if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in text.lines().filter(|l| !l.trim().is_empty()) {
                let _ = fs::write(root.join("cgroup.procs"), format!("{}\n", pid.trim()));
            }
        }
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) if attempt < 99 => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => log::warn(&format!(
                "could not remove the cgroup {}: {e}",
                dir.display()
            )),
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for d in [
            &self.bypass,
            &self.sockhash,
            &self.compare,
            &self.tcp,
            &self.dir,
        ] {
            remove_cgroup(d, &self.root);
        }
    }
}

/// The bypass loaded (by the same code as `tcpbypass load`) on one cgroup under a unique pin
/// directory; drop unloads it (the same code as `tcpbypass unload`) and removes the pins.
#[derive(Debug)]
pub struct LoadedBypass {
    pin_dir: PathBuf,
    counters: Map,
    sock_ops: Program,
    sk_msg: Program,
}

/// Run time and runs of one program (kernel BPF statistics), or their movement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgRun {
    /// Nanoseconds spent running.
    pub time_ns: u64,
    /// Runs.
    pub runs: u64,
}

impl ProgRun {
    fn of(p: &Program) -> Result<ProgRun> {
        let i = p.info()?;
        Ok(ProgRun {
            time_ns: i.run_time_ns,
            runs: i.run_cnt,
        })
    }

    /// `self - before`.
    pub fn since(&self, before: &ProgRun) -> ProgRun {
        ProgRun {
            time_ns: self.time_ns.saturating_sub(before.time_ns),
            runs: self.runs.saturating_sub(before.runs),
        }
    }
}

/// The statistics of both programs of a load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgStats {
    /// sock_ops.
    pub sock_ops: ProgRun,
    /// sk_msg.
    pub sk_msg: ProgRun,
}

/// The bypass counters that tell whether it carried the traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages redirected.
    pub redirected: u64,
    /// Bytes redirected.
    pub redirected_bytes: u64,
    /// Messages that found no peer and went through TCP.
    pub no_peer: u64,
    /// Server sockets paired.
    pub paired: u64,
    /// Sockets sock_ops put in the sockhash.
    pub inserted: u64,
    /// Senders the product itself moved to TCP: the receive-queue bound and the small-write
    /// policy (`rcvq_fallback` + `stream_fallback`).
    pub fallbacks: u64,
}

impl Counters {
    /// `self - before`, per field.
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            redirected: self.redirected.saturating_sub(before.redirected),
            redirected_bytes: self
                .redirected_bytes
                .saturating_sub(before.redirected_bytes),
            no_peer: self.no_peer.saturating_sub(before.no_peer),
            paired: self.paired.saturating_sub(before.paired),
            inserted: self.inserted.saturating_sub(before.inserted),
            fallbacks: self.fallbacks.saturating_sub(before.fallbacks),
        }
    }
}

impl LoadedBypass {
    /// Loads the bypass on `cgroup`, pinned under a unique directory on /sys/fs/bpf
    /// (`tcpbypass-bench-<pid><tag>`), with the extra address prefixes `prefixes`.
    pub fn load(cgroup: &Path, prefixes: &[String], tag: &str) -> Result<LoadedBypass> {
        let pin_dir = PathBuf::from(format!(
            "/sys/fs/bpf/tcpbypass-bench-{}{tag}",
            std::process::id()
        ));
        let options = LoadOptions {
            cgroup: Some(cgroup.to_path_buf()),
            pins: PinOptions {
                pin_dir: pin_dir.clone(),
                mount_bpffs: true,
            },
            local_prefixes: prefixes.to_vec(),
            ..LoadOptions::default()
        };
        if Pins::new(&pin_dir).state()? != tcpbypass::bypass::PinState::Absent {
            bail!(
                "{} already exists (another benchmark with this process id?); remove it with `tcpbypass unload --pin-dir {}`",
                pin_dir.display(),
                pin_dir.display()
            );
        }
        let outcome = tcpbypass::load(&options)?;
        // From here on, a failure unloads.
        let pins = Pins::new(&pin_dir);
        let lb = (|| {
            Ok::<_, loader::Error>(LoadedBypass {
                pin_dir: pin_dir.clone(),
                counters: Map::open_pinned(pins.map(programs::names::COUNTERS))?,
                sock_ops: Program::open_pinned(pins.sock_ops())?,
                sk_msg: Program::open_pinned(pins.sk_msg())?,
            })
        })();
        let lb = match lb {
            Ok(lb) => lb,
            Err(e) => {
                let _ = tcpbypass::unload(&pin_dir);
                return Err(anyhow::Error::new(e).context("opening the loaded bypass's pins"));
            }
        };
        if outcome != LoadOutcome::Loaded {
            bail!(
                "the bypass was unexpectedly already loaded under {}",
                lb.pin_dir.display()
            );
        }
        Ok(lb)
    }

    /// The counters now (summed over CPUs).
    pub fn counters(&self) -> Result<Counters> {
        let read = |c: Counter| tcpbypass::bypass::read_counter(&self.counters, c);
        Ok(Counters {
            redirected: read(Counter::Redirected)?,
            redirected_bytes: read(Counter::RedirectedBytes)?,
            no_peer: read(Counter::NoPeer)?,
            paired: read(Counter::Paired)?,
            inserted: read(Counter::Inserted)?,
            fallbacks: read(Counter::RcvqFallback)? + read(Counter::StreamFallback)?,
        })
    }

    /// The run time and runs of both programs now (kernel BPF statistics: zero while off).
    pub fn prog_stats(&self) -> Result<ProgStats> {
        Ok(ProgStats {
            sock_ops: ProgRun::of(&self.sock_ops)?,
            sk_msg: ProgRun::of(&self.sk_msg)?,
        })
    }

    /// Detaches the sk_msg program from the sockhash: sock_ops still puts the sockets in the
    /// sockhash (the kernel switches them to its sockmap socket operations), but nothing
    /// redirects a message. The unload that drop runs finds it detached, which is fine.
    pub fn detach_sk_msg(&self) -> Result<()> {
        let sh = Map::open_pinned(Pins::new(&self.pin_dir).map(programs::names::SOCK_HASH))
            .context("opening the sockhash")?;
        loader::sk_msg::detach(&self.sk_msg, &sh).context("detaching sk_msg from the sockhash")?;
        // The query needs 5.19; older kernels are taken at the detach's word.
        if loader::sk_msg::attached(&sh).is_ok_and(|ids| !ids.is_empty()) {
            bail!("a program is still attached to the sockhash after detaching sk_msg");
        }
        Ok(())
    }
}

impl Drop for LoadedBypass {
    fn drop(&mut self) {
        if let Err(e) = tcpbypass::unload(&self.pin_dir) {
            log::warn(&format!("unloading the benchmark's bypass: {e:#}"));
            let _ = tcpbypass::bypass::remove_pins(&self.pin_dir);
        }
    }
}

/// Address of the server end in the netns scenario.
pub const NETNS_SERVER: &str = "10.77.0.1";

/// The server's address in the loopback scenario. Not 127.0.0.1: the client's source address
/// on loopback is 127.0.0.1, and an implementation may skip connections whose two ends share
/// an address (istio-tcpip-bypass's sock_ops does, so with both ends on 127.0.0.1 it would
/// never redirect and `--compare-objects` would measure nothing). Every mode uses it, so
/// they stay comparable.
pub const LOOPBACK_SERVER: &str = "127.0.0.2";
/// Address of the client end in the netns scenario.
pub const NETNS_CLIENT: &str = "10.77.0.2";
/// The prefix covering both.
pub const NETNS_PREFIX: &str = "10.77.0.0/24";

/// Two network namespaces (`tcpbypass-bench-<pid>-s`, `-c`) made with iproute2, joined by a
/// veth pair, addresses [`NETNS_SERVER`] and [`NETNS_CLIENT`]. Drop deletes both namespaces
/// (which deletes the veth pair).
#[derive(Debug)]
pub struct Netns {
    names: Vec<String>,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        anyhow::Error::new(
            Failure::new(exit::ENVIRONMENT, format!("running `ip`: {e}"))
                .hint("--scenario netns needs iproute2 (`apt-get install iproute2`)"),
        )
    })?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Netns {
    /// Creates the namespaces and the veth pair.
    pub fn create() -> Result<Netns> {
        let pid = std::process::id();
        let (s, c) = (
            format!("tcpbypass-bench-{pid}-s"),
            format!("tcpbypass-bench-{pid}-c"),
        );
        let mut ns = Netns { names: Vec::new() };
        for n in [&s, &c] {
            ip(&["netns", "add", n])?;
            ns.names.push(n.clone());
        }
        let (vs, vc) = (format!("tbb{pid}s"), format!("tbb{pid}c"));
        ip(&[
            "link", "add", &vs, "netns", &s, "type", "veth", "peer", "name", &vc, "netns", &c,
        ])?;
        for (n, dev, addr) in [(&s, &vs, NETNS_SERVER), (&c, &vc, NETNS_CLIENT)] {
            ip(&["-n", n, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", n, "link", "set", dev, "up"])?;
            ip(&["-n", n, "link", "set", "lo", "up"])?;
        }
        Ok(ns)
    }

    /// The server's namespace file.
    pub fn server(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.names[0])
    }

    /// The client's namespace file.
    pub fn client(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.names[1])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            if let Err(e) = ip(&["netns", "del", n]) {
                log::warn(&format!("removing the network namespace {n}: {e:#}"));
            }
        }
    }
}

/// Another implementation's sock_ops/sk_msg pair (`--compare-objects`), read from one or two
/// ELF objects by `loader::elf` and loaded beside ours: sock_ops attached to the `compare`
/// cgroup, sk_msg to the object's sockmap or sockhash. Maps are created as each object
/// declares them; a map of the same name, type, key and value size in both objects is one map
/// (the way bpftool's map pinning shares them), global data sections never are. Drop
/// detaches both and closes everything (the kernel frees the maps, which returns the sockets
/// to plain TCP).
#[derive(Debug)]
pub struct Compared {
    // Field order is drop order: sock_ops off the cgroup first, then sk_msg off the map.
    _sock_ops_att: loader::CgroupAttachment,
    _sk_msg_att: loader::ProgAttachment,
    sock_ops: Program,
    sk_msg: Program,
    _maps: Vec<std::rc::Rc<Map>>,
    /// `object:program` of sock_ops and of sk_msg, for the report.
    pub names: (String, String),
}

impl Compared {
    /// Loads the pair from `paths` and attaches it to `cgroup`.
    pub fn load(paths: &[PathBuf], cgroup: &Path) -> Result<Compared> {
        use loader::elf::{MapOrigin, Object, ObjectExt};
        use loader::{MapType, ProgramType};
        use std::rc::Rc;

        let mut shared: Vec<(String, Rc<Map>)> = Vec::new();
        let mut sock_ops: Vec<(String, Program)> = Vec::new();
        let mut sk_msg: Vec<(String, Program)> = Vec::new();
        for path in paths {
            let at = || format!("{}", path.display());
            let obj = Object::read_file(path).with_context(|| format!("reading {}", at()))?;
            let btf = obj.load_btf().ok().flatten();
            let created = obj
                .create_maps_with(btf.as_ref())
                .with_context(|| format!("creating the maps of {}", at()))?;
            let mut mine: Vec<Rc<Map>> = Vec::new();
            for (om, map) in obj.maps.iter().zip(created) {
                let same = |m: &Map| {
                    m.map_type() == map.map_type()
                        && m.key_size() == map.key_size()
                        && m.value_size() == map.value_size()
                };
                let global = matches!(om.origin, MapOrigin::GlobalData { .. });
                let existing = shared
                    .iter()
                    .find(|(n, m)| !global && *n == om.spec.name && same(m))
                    .map(|(_, m)| m.clone());
                let m = match existing {
                    Some(m) => m,
                    None => {
                        let m = Rc::new(map);
                        if !global {
                            shared.push((om.spec.name.clone(), m.clone()));
                        }
                        m
                    }
                };
                mine.push(m);
            }
            let refs: Vec<&Map> = mine.iter().map(|m| m.as_ref()).collect();
            for p in &obj.programs {
                let list = match p.prog_type() {
                    Some(ProgramType::SockOps) => &mut sock_ops,
                    Some(ProgramType::SkMsg) => &mut sk_msg,
                    _ => continue,
                };
                let spec = obj.program_spec(p, btf.as_ref())?;
                let prog = Program::load(&spec, &p.program, &refs)
                    .with_context(|| format!("loading {} of {}", p.name, at()))?;
                let file = path
                    .file_name()
                    .map_or_else(at, |f| f.to_string_lossy().into());
                list.push((format!("{file}:{}", p.name), prog));
            }
            // Keep the maps alive (programs hold their own references too).
            for m in mine {
                if !shared.iter().any(|(_, s)| Rc::ptr_eq(s, &m)) {
                    shared.push((String::new(), m));
                }
            }
        }
        let one = |v: Vec<(String, Program)>, what: &str| -> Result<(String, Program)> {
            let n = v.len();
            let mut it = v.into_iter();
            match (it.next(), n) {
                (Some(p), 1) => Ok(p),
                _ => bail!(
                    "--compare-objects: the objects hold {n} {what} programs; exactly one is needed"
                ),
            }
        };
        let (so_name, so) = one(sock_ops, "sock_ops")?;
        let (sm_name, sm) = one(sk_msg, "sk_msg")?;
        let socks: Vec<&Rc<Map>> = shared
            .iter()
            .filter(|(n, m)| {
                !n.is_empty() && matches!(m.map_type(), MapType::SockHash | MapType::SockMap)
            })
            .map(|(_, m)| m)
            .collect();
        let [sockmap] = socks[..] else {
            bail!(
                "--compare-objects: the objects declare {} sockmaps/sockhashes; exactly one is needed to attach sk_msg to",
                socks.len()
            );
        };
        let sk_msg_att =
            loader::sk_msg::attach(&sm, sockmap).context("attaching the compared sk_msg")?;
        let sock_ops_att = loader::cgroup::attach(
            &so,
            cgroup,
            loader::AttachType::CgroupSockOps,
            loader::AttachMode::Auto,
        )
        .context("attaching the compared sock_ops")?;
        Ok(Compared {
            _sock_ops_att: sock_ops_att,
            _sk_msg_att: sk_msg_att,
            sock_ops: so,
            sk_msg: sm,
            _maps: shared.into_iter().map(|(_, m)| m).collect(),
            names: (so_name, sm_name),
        })
    }

    /// The run time and runs of both programs now.
    pub fn prog_stats(&self) -> Result<ProgStats> {
        Ok(ProgStats {
            sock_ops: ProgRun::of(&self.sock_ops)?,
            sk_msg: ProgRun::of(&self.sk_msg)?,
        })
    }
}
