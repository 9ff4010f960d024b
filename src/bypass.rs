//! The bypass as an installed thing: which programs and maps it is made of, how they are laid
//! out under the pin directory, and how an installed bypass is opened back from its pins.
//!
//! Pin layout (all under the pin directory, default `/sys/fs/bpf/tcpbypass`):
//!
//! ```text
//! meta               ARRAY map: the cgroup, the attach path, the options of the load
//! maps/<name>        every map of programs::maps()
//! progs/sock_ops     the sock_ops program
//! progs/sk_msg       the sk_msg program
//! progs/setsockopt   the cgroup/setsockopt guard (absent where the kernel refuses it)
//! links/sock_ops     the cgroup link (absent when attached with BPF_PROG_ATTACH)
//! links/setsockopt   the guard's cgroup link (likewise)
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use loader::{
    AttachType, Feature, Link, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType,
    UpdateFlags,
};

use crate::exit::Failure;

/// Name of the metadata map, and its pin file name.
pub const META: &str = "meta";
/// Kernel name of the metadata map.
const META_MAP_NAME: &str = "tb_meta";
/// Size of the metadata value.
const META_SIZE: usize = 512;
/// Version of the metadata layout.
const META_VERSION: u32 = 1;
/// Kernel names of the two programs.
pub const SOCK_OPS_NAME: &str = "tb_sock_ops";
/// Kernel name of the sk_msg program.
pub const SK_MSG_NAME: &str = "tb_sk_msg";
/// Kernel name of the cgroup/setsockopt guard.
pub const SETSOCKOPT_NAME: &str = "tb_setsockopt";

/// Paths of every pin under one pin directory.
#[derive(Debug, Clone)]
pub struct Pins {
    /// The pin directory.
    pub dir: PathBuf,
}

impl Pins {
    /// The layout under `dir`.
    pub fn new(dir: &Path) -> Pins {
        Pins {
            dir: dir.to_path_buf(),
        }
    }
    /// The metadata map's pin.
    pub fn meta(&self) -> PathBuf {
        self.dir.join(META)
    }
    /// The directory of map pins.
    pub fn maps_dir(&self) -> PathBuf {
        self.dir.join("maps")
    }
    /// A map's pin.
    pub fn map(&self, name: &str) -> PathBuf {
        self.maps_dir().join(name)
    }
    /// The directory of program pins.
    pub fn progs_dir(&self) -> PathBuf {
        self.dir.join("progs")
    }
    /// The sock_ops program's pin.
    pub fn sock_ops(&self) -> PathBuf {
        self.progs_dir().join("sock_ops")
    }
    /// The sk_msg program's pin.
    pub fn sk_msg(&self) -> PathBuf {
        self.progs_dir().join("sk_msg")
    }
    /// The setsockopt guard's pin.
    pub fn setsockopt(&self) -> PathBuf {
        self.progs_dir().join("setsockopt")
    }
    /// The setsockopt guard's cgroup link pin.
    pub fn setsockopt_link(&self) -> PathBuf {
        self.links_dir().join("setsockopt")
    }
    /// The directory of link pins.
    pub fn links_dir(&self) -> PathBuf {
        self.dir.join("links")
    }
    /// The sock_ops cgroup link's pin.
    pub fn sock_ops_link(&self) -> PathBuf {
        self.links_dir().join("sock_ops")
    }

    /// What is at the pin directory now.
    pub fn state(&self) -> Result<PinState> {
        match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PinState::Absent),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.dir.display())),
            Ok(mut entries) => {
                if entries.next().is_none() {
                    return Ok(PinState::Empty);
                }
                if self.meta().exists() {
                    match Map::open_pinned(self.meta()) {
                        Ok(m) if m.cached_info().name == META_MAP_NAME => {
                            return Ok(PinState::Ours)
                        }
                        _ => {}
                    }
                }
                Ok(PinState::Foreign)
            }
        }
    }
}

/// What a pin directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// It does not exist.
    Absent,
    /// It exists and is empty.
    Empty,
    /// It holds a bypass loaded by tcpbypass.
    Ours,
    /// It holds something else.
    Foreign,
}

/// How `sock_ops` is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachKind {
    /// Through a pinned `bpf_link`.
    Link,
    /// Through `BPF_PROG_ATTACH` with `BPF_F_ALLOW_MULTI`.
    Legacy,
}

impl AttachKind {
    /// As shown by `status`.
    pub fn name(self) -> &'static str {
        match self {
            AttachKind::Link => "bpf_link",
            AttachKind::Legacy => "prog_attach",
        }
    }
}

/// What the metadata map records about a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// How sock_ops is attached.
    pub attach: AttachKind,
    /// Whether the programs were built with netns cookies.
    pub netns_cookie: bool,
    /// The cgroup sock_ops is attached to.
    pub cgroup: PathBuf,
    /// The receive-queue bound's floor when sk_msg was built with the bound
    /// ([`programs::RcvqGuard::rcvbuf_floor`]), `None` when built without it.
    pub rcvq_floor: Option<u32>,
}

impl Meta {
    fn encode(&self) -> Result<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let path = self.cgroup.as_os_str().as_bytes();
        if path.len() > META_SIZE - 16 {
            bail!(
                "cgroup path {} is too long to record",
                self.cgroup.display()
            );
        }
        let mut v = vec![0u8; META_SIZE];
        v[0..4].copy_from_slice(&META_VERSION.to_ne_bytes());
        let mut flags = 0u32;
        if self.attach == AttachKind::Legacy {
            flags |= 1;
        }
        if self.netns_cookie {
            flags |= 2;
        }
        if let Some(floor) = self.rcvq_floor {
            flags |= 4;
            v[12..16].copy_from_slice(&floor.to_ne_bytes());
        }
        v[4..8].copy_from_slice(&flags.to_ne_bytes());
        v[8..12].copy_from_slice(&(path.len() as u32).to_ne_bytes());
        v[16..16 + path.len()].copy_from_slice(path);
        Ok(v)
    }

    fn decode(v: &[u8]) -> Result<Meta> {
        use std::os::unix::ffi::OsStrExt;
        if v.len() != META_SIZE {
            bail!("metadata has {} bytes, expected {META_SIZE}", v.len());
        }
        let word = |i: usize| u32::from_ne_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
        if word(0) != META_VERSION {
            bail!(
                "metadata version {} is not {META_VERSION}: loaded by another tcpbypass version",
                word(0)
            );
        }
        let flags = word(4);
        let len = word(8) as usize;
        if len > META_SIZE - 16 {
            bail!("metadata is corrupt (path length {len})");
        }
        Ok(Meta {
            attach: if flags & 1 != 0 {
                AttachKind::Legacy
            } else {
                AttachKind::Link
            },
            netns_cookie: flags & 2 != 0,
            rcvq_floor: (flags & 4 != 0).then(|| word(12)),
            cgroup: PathBuf::from(std::ffi::OsStr::from_bytes(&v[16..16 + len])),
        })
    }

    /// Creates the metadata map holding this record.
    pub fn create_map(&self) -> Result<Map> {
        let map = Map::create(&MapSpec::new(
            META_MAP_NAME,
            MapType::Array,
            4,
            META_SIZE as u32,
            1,
        ))
        .context("creating the metadata map")?;
        self.store(&map)?;
        Ok(map)
    }

    /// Writes this record into the metadata map.
    pub fn store(&self, map: &Map) -> Result<()> {
        map.put(&0u32.to_ne_bytes(), &self.encode()?, UpdateFlags::Any)
            .context("writing the metadata map")
    }

    /// Reads the record of a metadata map.
    pub fn load(map: &Map) -> Result<Meta> {
        let v = map
            .get(&0u32.to_ne_bytes())
            .context("reading the metadata map")?
            .context("the metadata map is empty")?;
        Meta::decode(&v)
    }
}

/// The program configuration this kernel supports: netns cookies when the helper is allowed,
/// and the receive-queue bound when the kernel's BTF has what it reads.
pub fn program_config() -> programs::Config {
    program_config_with(None)
}

/// [`program_config`] with the receive-queue bound's floor given (`None`: `tcp_rmem[2]`).
pub fn program_config_with(rcvq_floor: Option<u32>) -> programs::Config {
    let cookie = |t| {
        loader::features::probe(Feature::Helper(t, asm::Helper::GetNetnsCookie)).unwrap_or(false)
    };
    let rcvq_guard = match rcvq_guard(rcvq_floor) {
        Ok(g) => Some(g),
        Err(e) => {
            crate::log::debug(&format!("no receive-queue bound: {e}"));
            None
        }
    };
    programs::Config {
        netns_cookie: cookie(ProgramType::SockOps) && cookie(ProgramType::SkMsg),
        rcvq_guard,
    }
}

/// `net.ipv4.tcp_rmem[2]` of this network namespace: the largest receive buffer TCP's
/// autotuning grows to.
pub fn tcp_rmem_max() -> Result<u32, String> {
    const PATH: &str = "/proc/sys/net/ipv4/tcp_rmem";
    let text = fs::read_to_string(PATH).map_err(|e| format!("{PATH}: {e}"))?;
    text.split_whitespace()
        .nth(2)
        .and_then(|w| w.parse::<u64>().ok())
        .map(|v| v.min(i32::MAX as u64) as u32)
        .ok_or_else(|| format!("{PATH}: cannot read the third number of {text:?}"))
}

/// The receive-queue bound for the running kernel: `struct sock` offsets and the size of
/// `struct sk_msg` from its BTF, and `floor` (or, when `None`, [`tcp_rmem_max`]).
pub fn rcvq_guard(floor: Option<u32>) -> Result<programs::RcvqGuard, String> {
    let btf = loader::btf::KernelBtf::from_sys().map_err(|e| e.to_string())?;
    let off = |path: &str| -> Result<i16, String> {
        let f = btf.field("sock", path).map_err(|e| e.to_string())?;
        i16::try_from(f.offset).map_err(|_| format!("sock.{path} is at {}", f.offset))
    };
    // One queued message is a kmalloc'ed struct sk_msg: the slab rounds it up to a power of two.
    let msg = btf.struct_size("sk_msg").map_err(|e| e.to_string())?;
    let floor = match floor {
        Some(f) => f,
        None => tcp_rmem_max()?,
    };
    let id = |r: Result<u32, loader::btf::BtfError>| -> Result<u32, String> {
        r.map_err(|e| e.to_string())
            .and_then(|v| i32::try_from(v).map(|_| v).map_err(|e| e.to_string()))
    };
    let redir = btf.field("sk_msg", "sk_redir").map_err(|e| e.to_string())?;
    Ok(programs::RcvqGuard {
        rdonly_cast: id(btf.func_id("bpf_rdonly_cast"))?,
        msg_id: id(btf.struct_id("sk_msg"))?,
        sk_redir: i16::try_from(redir.offset).map_err(|e| e.to_string())?,
        rmem_alloc: off("sk_backlog.rmem_alloc")?,
        rcvbuf: off("sk_rcvbuf")?,
        userlocks: off("sk_userlocks")?,
        rcvbuf_floor: floor,
        msg_overhead: msg.max(1).next_power_of_two().min(1 << 20),
        small_writes: Some(programs::SmallWrites::default()),
    })
}

/// Both programs as this binary builds them.
pub fn build(cfg: &programs::Config) -> Result<(asm::Program, asm::Program)> {
    let so = programs::sock_ops(cfg).context("building the sock_ops program")?;
    let sm = programs::sk_msg(cfg).context("building the sk_msg program")?;
    Ok((so, sm))
}

/// The loader spec of a programs map definition.
pub fn map_spec(def: &programs::MapDef) -> MapSpec {
    MapSpec::new(
        def.name,
        MapType::from_raw(def.kind.uapi_type()),
        def.key_size,
        def.value_size,
        def.max_entries,
    )
    .with_flags(def.flags)
}

/// Creates every map of the bypass, the per-socket ones sized for `max_conns` connections.
pub fn create_maps(max_conns: u32) -> Result<Vec<Map>> {
    programs::maps_for(max_conns)
        .iter()
        .map(|def| {
            Map::create(&map_spec(def)).map_err(|e| {
                let doing = format!("creating map {} ({} entries)", def.name, def.max_entries);
                if def.per_socket && e.errno() == Some(libc::ENOMEM) {
                    // A capacity the kernel cannot allocate is the user's to change.
                    anyhow::Error::new(e).context(Failure::new(crate::exit::RUNTIME, doing).hint(
                        "the kernel could not allocate that many entries: a smaller --max-conns",
                    ))
                } else {
                    Failure::from_loader(&doing, e)
                }
            })
        })
        .collect()
}

/// A map's keys, each once, in walk order. The kernel restarts a hash map's walk from its
/// first key when the current one was deleted meanwhile, so under churn a plain walk can see a
/// key twice (up to `max_entries + 1` keys); counting or listing entries goes through this.
pub fn distinct_keys(map: &Map) -> Result<Vec<Vec<u8>>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for k in map.keys() {
        let k = k.with_context(|| format!("listing {}", map.name()))?;
        if seen.insert(k.clone()) {
            out.push(k);
        }
    }
    Ok(out)
}

/// The maps the compatibility suite and `verify` create for themselves: a few connections.
pub const THROWAWAY_MAX_CONNS: u32 = 64;

/// The spec to load the sock_ops program with.
pub fn sock_ops_spec() -> ProgramSpec {
    ProgramSpec::new(SOCK_OPS_NAME, ProgramType::SockOps).license("GPL")
}

/// The spec to load the sk_msg program with.
pub fn sk_msg_spec() -> ProgramSpec {
    ProgramSpec::new(SK_MSG_NAME, ProgramType::SkMsg)
        .expected_attach_type(AttachType::SkMsgVerdict)
        .license("GPL")
}

/// The spec to load the cgroup/setsockopt guard with.
pub fn setsockopt_spec() -> ProgramSpec {
    ProgramSpec::new(SETSOCKOPT_NAME, ProgramType::CgroupSockopt)
        .expected_attach_type(AttachType::CgroupSetsockopt)
        .license("GPL")
}

/// Builds and loads the cgroup/setsockopt guard against `maps`; `None`, with a warning naming
/// what stays unguarded, where the kernel refuses it.
pub fn load_guard(cfg: &programs::Config, maps: &[&Map]) -> Result<Option<Program>> {
    let src = programs::setsockopt(cfg).context("building the setsockopt guard")?;
    match Program::load(&setsockopt_spec(), &src, maps) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            crate::log::warn(&format!(
                "the setsockopt guard does not load on this kernel, so connections whose \
                 application sets SO_RCVLOWAT, SO_PEEK_OFF, SO_OOBINLINE, TCP_INQ, TCP_ULP or \
                 TCP_CORK stay bypassed (see docs/compatibility.md): {e:#}"
            ));
            Ok(None)
        }
    }
}

/// Loads both programs against `maps`.
pub fn load_programs(
    so: &asm::Program,
    sm: &asm::Program,
    maps: &[&Map],
) -> Result<(Program, Program)> {
    let so = Program::load(&sock_ops_spec(), so, maps)
        .map_err(|e| Failure::from_loader("loading the sock_ops program", e))?;
    let sm = Program::load(&sk_msg_spec(), sm, maps)
        .map_err(|e| Failure::from_loader("loading the sk_msg program", e))?;
    Ok((so, sm))
}

/// Builds and loads both programs for `cfg`; when sk_msg with the receive-queue bound is
/// refused (a kernel whose verifier or helpers cannot do what the bound needs), warns and
/// loads it without the bound. Returns the configuration that was loaded.
pub fn build_and_load(
    cfg: &programs::Config,
    maps: &[&Map],
) -> Result<(Program, Program, programs::Config)> {
    let (so_src, sm_src) = build(cfg)?;
    match load_programs(&so_src, &sm_src, maps) {
        Ok((so, sm)) => Ok((so, sm, *cfg)),
        Err(e) if cfg.rcvq_guard.is_some() => {
            crate::log::warn(&format!(
                "the receive-queue bound is not available on this kernel, so a sender to a \
                 peer that never reads can queue without limit (compat: slow_reader): {e:#}"
            ));
            let cfg = programs::Config {
                rcvq_guard: None,
                ..*cfg
            };
            let (so_src, sm_src) = build(&cfg)?;
            let (so, sm) = load_programs(&so_src, &sm_src, maps)?;
            Ok((so, sm, cfg))
        }
        Err(e) => Err(e),
    }
}

/// A bypass opened back from its pins.
#[derive(Debug)]
pub struct Installed {
    /// Its layout.
    pub pins: Pins,
    /// The metadata map.
    pub meta_map: Map,
    /// What it records.
    pub meta: Meta,
    /// Every map that could be opened, by name.
    pub maps: Vec<Map>,
    /// The sock_ops program, when its pin is there.
    pub sock_ops: Option<Program>,
    /// The sk_msg program, when its pin is there.
    pub sk_msg: Option<Program>,
    /// The cgroup link, when attached through one.
    pub link: Option<Link>,
    /// The setsockopt guard, when its pin is there.
    pub guard: Option<Program>,
    /// The guard's cgroup link, when attached through one.
    pub guard_link: Option<Link>,
}

impl Installed {
    /// Opens the bypass pinned under `pins`. Missing pieces (after an interrupted unload) are
    /// `None`/absent rather than errors.
    pub fn open(pins: &Pins) -> Result<Installed> {
        let meta_map = Map::open_pinned(pins.meta())
            .with_context(|| format!("opening {}", pins.meta().display()))?;
        let meta = Meta::load(&meta_map)?;
        let mut maps = Vec::new();
        for def in programs::maps() {
            let p = pins.map(def.name);
            if p.exists() {
                maps.push(
                    Map::open_pinned(&p)
                        .with_context(|| format!("opening {}", p.display()))?
                        .with_name(def.name),
                );
            }
        }
        let open_prog = |p: PathBuf| -> Result<Option<Program>> {
            if p.exists() {
                Ok(Some(
                    Program::open_pinned(&p).with_context(|| format!("opening {}", p.display()))?,
                ))
            } else {
                Ok(None)
            }
        };
        let open_link = |p: PathBuf| -> Result<Option<Link>> {
            if p.exists() {
                Ok(Some(
                    Link::open_pinned(&p).with_context(|| format!("opening {}", p.display()))?,
                ))
            } else {
                Ok(None)
            }
        };
        Ok(Installed {
            link: open_link(pins.sock_ops_link())?,
            guard: open_prog(pins.setsockopt())?,
            guard_link: open_link(pins.setsockopt_link())?,
            sock_ops: open_prog(pins.sock_ops())?,
            sk_msg: open_prog(pins.sk_msg())?,
            pins: pins.clone(),
            meta_map,
            meta,
            maps,
        })
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name() == name)
    }
}

/// The value of a counter, summed over every CPU's slot of the per-CPU counters map.
pub fn read_counter(map: &Map, c: programs::Counter) -> Result<u64> {
    let vals = map
        .get_per_cpu(&c.key())
        .with_context(|| format!("reading counter {}", c.name()))?
        .unwrap_or_default();
    Ok(vals
        .iter()
        .filter_map(|v| v.get(..8))
        .map(|b| u64::from_ne_bytes(b.try_into().expect("a slice of 8 bytes")))
        .sum())
}

/// Removes every pin and directory under `dir`, then `dir` itself. Missing entries are fine.
pub fn remove_pins(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        let m = Meta {
            attach: AttachKind::Legacy,
            netns_cookie: true,
            cgroup: PathBuf::from("/sys/fs/cgroup/unified/kubepods"),
            rcvq_floor: Some(6 << 20),
        };
        assert_eq!(Meta::decode(&m.encode().unwrap()).unwrap(), m);
        let m2 = Meta {
            attach: AttachKind::Link,
            netns_cookie: false,
            rcvq_floor: None,
            ..m
        };
        assert_eq!(Meta::decode(&m2.encode().unwrap()).unwrap(), m2);
    }

    #[test]
    fn meta_rejects_garbage() {
        assert!(Meta::decode(&[0u8; 10]).is_err());
        let mut v = vec![0u8; META_SIZE];
        v[0] = 9;
        assert!(Meta::decode(&v)
            .unwrap_err()
            .to_string()
            .contains("version"));
        v[0] = 1;
        v[8..12].copy_from_slice(&10_000u32.to_ne_bytes());
        assert!(Meta::decode(&v).is_err());
    }

    #[test]
    fn long_cgroup_path_is_refused() {
        let m = Meta {
            attach: AttachKind::Link,
            netns_cookie: true,
            cgroup: PathBuf::from("/".repeat(600)),
            rcvq_floor: None,
        };
        assert!(m.encode().is_err());
    }

    #[test]
    fn every_map_def_converts_to_a_loader_spec() {
        for def in programs::maps() {
            let spec = map_spec(def);
            assert_eq!(spec.map_type.raw(), def.kind.uapi_type(), "{}", def.name);
        }
    }
}
