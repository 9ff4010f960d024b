//! Feature probes: what this kernel can do, found by trying (tiny programs, throwaway maps,
//! deliberately invalid fds), never by version number. Answers are cached for the process.
//!
//! A probe that cannot run at all (no privileges) is a [`FeatureError::Probe`], not a "no",
//! and is not cached.

use std::collections::HashMap;
use std::fmt;
use std::os::fd::AsRawFd;
use std::sync::{Mutex, OnceLock};

use asm::{Helper, Insn, Reg};

use crate::map::{Map, MapSpec, MapType};
use crate::program::{AttachType, ProgramSpec, ProgramType};
use crate::sys;
use crate::sys::SyscallError;

/// Something the kernel may or may not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// Programs of this type load.
    ProgramType(ProgramType),
    /// Maps of this type can be created.
    MapType(MapType),
    /// `bpf_link` for cgroup programs (`BPF_LINK_CREATE` on a cgroup, 5.7).
    CgroupLink,
    /// `bpf_link` for sk_msg/sk_skb programs on a sockmap (6.10).
    SockmapLink,
    /// Programs of this type may call this helper.
    Helper(ProgramType, Helper),
    /// `BPF_MAP_*_BATCH` commands on hash maps (Linux 5.6).
    MapBatch,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` on hash maps (Linux 5.14; queues and stacks have it
    /// since 4.20).
    HashLookupAndDelete,
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::ProgramType(t) => write!(f, "program type {t}"),
            Feature::MapType(t) => write!(f, "map type {t}"),
            Feature::CgroupLink => f.write_str("bpf_link for cgroup programs (Linux 5.7)"),
            Feature::SockmapLink => f.write_str("bpf_link for sockmap programs (Linux 6.10)"),
            Feature::Helper(t, h) => write!(f, "helper {}#{} in {t} programs", h.name(), h.id()),
            Feature::MapBatch => f.write_str("batch operations on hash maps (Linux 5.6)"),
            Feature::HashLookupAndDelete => {
                f.write_str("lookup-and-delete on hash maps (Linux 5.14)")
            }
        }
    }
}

pub use crate::error::FeatureError;

fn cache() -> &'static Mutex<HashMap<Feature, bool>> {
    static CACHE: OnceLock<Mutex<HashMap<Feature, bool>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Whether the kernel supports `feature` (cached after the first definite answer).
pub fn probe(feature: Feature) -> Result<bool, FeatureError> {
    if let Some(v) = cache().lock().ok().and_then(|c| c.get(&feature).copied()) {
        return Ok(v);
    }
    let v = run_probe(feature).map_err(|source| FeatureError::Probe {
        feature: feature.to_string(),
        source,
    })?;
    if let Ok(mut c) = cache().lock() {
        c.insert(feature, v);
    }
    Ok(v)
}

/// `Ok(())` when the kernel supports `feature`, else [`FeatureError::Missing`].
pub fn require(feature: Feature) -> Result<(), FeatureError> {
    if probe(feature)? {
        Ok(())
    } else {
        Err(FeatureError::Missing {
            feature: feature.to_string(),
        })
    }
}

fn errno(e: &SyscallError) -> i32 {
    e.errno().unwrap_or(0)
}

/// EPERM means "could not tell"; other errors mean "no".
fn is_no(e: &SyscallError) -> bool {
    errno(e) != libc::EPERM
}

fn trivial(ret: i32) -> Vec<u8> {
    asm::encode(&[Insn::alu64_imm(asm::AluOp::Mov, Reg::R0, ret), Insn::exit()])
}

fn load_raw(
    t: ProgramType,
    insns: &[u8],
    log: Option<&mut Vec<u8>>,
) -> Result<std::os::fd::OwnedFd, SyscallError> {
    let spec = ProgramSpec::new("probe", t);
    let req = sys::ProgLoad {
        prog_type: t.raw(),
        expected_attach_type: 0,
        name: &spec.name,
        license: c"GPL",
        insns,
        prog_flags: 0,
        btf: None,
    };
    crate::env::raise_memlock();
    sys::prog_load(&req, log.map(|b| (b.as_mut_slice(), 1))).map_err(|(e, _)| e)
}

fn run_probe(feature: Feature) -> Result<bool, SyscallError> {
    match feature {
        Feature::ProgramType(t) => match load_raw(t, &trivial(1), None) {
            Ok(_) => Ok(true),
            Err(e) if is_no(&e) => Ok(false),
            Err(e) => Err(e),
        },
        Feature::MapType(t) => {
            let spec = match t {
                MapType::LpmTrie => MapSpec::new("probe", t, 8, 8, 1),
                MapType::SockHash | MapType::SockMap => MapSpec::new("probe", t, 4, 4, 1),
                _ => MapSpec::new("probe", t, 4, 8, 1),
            };
            let attr = crate::map::map_create_attr(&spec).map_err(|_| {
                SyscallError::new(
                    "BPF_MAP_CREATE",
                    std::io::Error::from_raw_os_error(libc::EINVAL),
                )
            })?;
            crate::env::raise_memlock();
            match sys::map_create(&attr) {
                Ok(_) => Ok(true),
                Err(e) if is_no(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Feature::CgroupLink => probe_link(ProgramType::SockOps, AttachType::CgroupSockOps),
        Feature::SockmapLink => probe_link(ProgramType::SkMsg, AttachType::SkMsgVerdict),
        Feature::Helper(t, h) => {
            let insns = asm::encode(&[
                Insn::call(h),
                Insn::alu64_imm(asm::AluOp::Mov, Reg::R0, 1),
                Insn::exit(),
            ]);
            let mut log = vec![0u8; 64 * 1024];
            match load_raw(t, &insns, Some(&mut log)) {
                Ok(_) => Ok(true),
                Err(e) if errno(&e) == libc::EPERM => Err(e),
                Err(_) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]);
                    Ok(!(text.contains("cannot use helper")
                        || text.contains("unknown func")
                        || text.contains("invalid func")))
                }
            }
        }
        Feature::MapBatch => probe_map_batch(),
        Feature::HashLookupAndDelete => probe_hash_lookup_and_delete(),
    }
}

/// Creates a one-entry hash map (4-byte keys and values) for a map operation probe.
fn probe_hash() -> Result<std::os::fd::OwnedFd, SyscallError> {
    let spec = MapSpec::new("probe", MapType::Hash, 4, 4, 1);
    let attr = crate::map::map_create_attr(&spec).map_err(|_| {
        SyscallError::new(
            "BPF_MAP_CREATE",
            std::io::Error::from_raw_os_error(libc::EINVAL),
        )
    })?;
    crate::env::raise_memlock();
    sys::map_create(&attr)
}

/// `BPF_MAP_LOOKUP_BATCH` on an empty hash map: ENOENT (the end, reached at once) when the
/// kernel has batches; EINVAL (unknown command) or ENOTSUPP when it does not.
fn probe_map_batch() -> Result<bool, SyscallError> {
    let map = probe_hash()?;
    let (mut keys, mut values, mut out) = ([0u8; 4], [0u8; 4], [0u8; 8]);
    let r = sys::map_batch(
        sys::Cmd::MapLookupBatch,
        std::os::fd::AsFd::as_fd(&map),
        sys::Batch {
            in_batch: None,
            out_batch: Some(&mut out),
            keys: &mut keys,
            values: &mut values,
            count: 1,
            elem_flags: 0,
        },
    );
    match r {
        Ok(_) => Ok(true),
        Err((e, _)) if errno(&e) == libc::EPERM => Err(e),
        Err(_) => Ok(false),
    }
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` of a missing key of a hash map: ENOENT when supported,
/// ENOTSUPP (524) or EINVAL before 5.14.
fn probe_hash_lookup_and_delete() -> Result<bool, SyscallError> {
    let map = probe_hash()?;
    let mut value = [0u8; 4];
    match sys::map_lookup_and_delete_elem(std::os::fd::AsFd::as_fd(&map), &[0; 4], &mut value, 0) {
        Ok(_) => Ok(true),
        Err(e) if errno(&e) == libc::EPERM => Err(e),
        Err(_) => Ok(false),
    }
}

/// Tries `BPF_LINK_CREATE` of a trivial program of type `t` on fd -1: a kernel that knows
/// such links looks the target up and says EBADF; one that does not says EINVAL first.
fn probe_link(t: ProgramType, attach: AttachType) -> Result<bool, SyscallError> {
    let ret = if t == ProgramType::SkMsg { 1 } else { 0 };
    let prog = match load_raw(t, &trivial(ret), None) {
        Ok(p) => p,
        Err(e) if is_no(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    match sys::link_create_raw(prog.as_raw_fd() as u32, u32::MAX, attach.raw(), 0) {
        // Cannot happen with fd -1, but a link would mean "yes".
        Ok(_) => Ok(true),
        Err(e) if errno(&e) == libc::EBADF => Ok(true),
        Err(e) if errno(&e) == libc::EPERM => Err(e),
        Err(_) => Ok(false),
    }
}

/// Probes and caches every feature the loader's callers commonly need, returning each with
/// its answer (for a `features` command). Probe failures are reported as errors in the list.
pub fn probe_all() -> Vec<(Feature, Result<bool, FeatureError>)> {
    PROBED.iter().map(|&f| (f, probe(f))).collect()
}

/// The features [`probe_all`] probes, in its order: what the bypass and its commands need.
pub const PROBED: [Feature; 14] = [
    Feature::ProgramType(ProgramType::SockOps),
    Feature::ProgramType(ProgramType::SkMsg),
    Feature::MapType(MapType::SockHash),
    Feature::MapType(MapType::SockMap),
    Feature::MapType(MapType::LpmTrie),
    Feature::MapType(MapType::PerCpuArray),
    Feature::MapType(MapType::Hash),
    Feature::MapType(MapType::Array),
    Feature::CgroupLink,
    Feature::SockmapLink,
    Feature::Helper(ProgramType::SockOps, Helper::GetNetnsCookie),
    Feature::Helper(ProgramType::SkMsg, Helper::GetNetnsCookie),
    Feature::Helper(ProgramType::SockOps, Helper::GetSocketCookie),
    Feature::Helper(ProgramType::SkMsg, Helper::GetSocketCookie),
];

/// Whether `bpf()` works at all for this process: creates and drops a one-entry array map.
pub fn bpf_usable() -> Result<(), crate::Error> {
    Map::create(&MapSpec::new("probe", MapType::Array, 4, 4, 1)).map(|_| ())
}
