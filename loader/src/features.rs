//! Feature probes: what this kernel can do, found by trying (tiny programs, throwaway maps,
//! deliberately invalid fds, links on the loopback device of a throwaway network namespace),
//! never by version number. Answers are cached for the process.
//!
//! A probe that cannot run at all (no privileges), or whose answer is not conclusive (a helper
//! load refused without a verifier log), is a [`FeatureError::Probe`], not a "no", and is not
//! cached.

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
    /// XDP links on a network device (`BPF_LINK_CREATE` with `BPF_XDP`, 5.9).
    XdpLink,
    /// tcx links on a device's ingress or egress (6.6).
    TcxLink,
    /// netns links: sk_lookup programs on a network namespace (5.9).
    NetnsLink,
    /// perf-event links for kprobe and tracepoint programs (`BPF_PERF_EVENT`, 5.15).
    PerfEventLink,
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
            Feature::XdpLink => f.write_str("bpf_link for XDP (Linux 5.9)"),
            Feature::TcxLink => f.write_str(
                "tcx links (Linux 6.6; attach::tcx::attach_any falls back to classic tc)",
            ),
            Feature::NetnsLink => f.write_str("bpf_link for sk_lookup on a netns (Linux 5.9)"),
            Feature::PerfEventLink => {
                f.write_str("bpf_link for perf events, kprobes and tracepoints (Linux 5.15)")
            }
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

/// The expected attach type a probe program of type `t` is loaded with: the types whose load
/// checks it get a valid one.
fn probe_attach_type(t: ProgramType) -> Option<AttachType> {
    match t {
        ProgramType::CgroupSock => Some(AttachType::CgroupInetSockCreate),
        ProgramType::CgroupSockAddr => Some(AttachType::CgroupInet4Connect),
        ProgramType::CgroupSockopt => Some(AttachType::CgroupGetsockopt),
        ProgramType::CgroupSkb => Some(AttachType::CgroupInetIngress),
        ProgramType::SkLookup => Some(AttachType::SkLookup),
        ProgramType::SkSkb => Some(AttachType::SkSkbStreamVerdict),
        ProgramType::Tracing => Some(AttachType::TraceFentry),
        ProgramType::Lsm => Some(AttachType::LsmMac),
        _ => None,
    }
}

/// Program types that cannot load without a BTF attach target (`attach_btf_id`), which a
/// probe does not have.
fn needs_btf_target(t: ProgramType) -> bool {
    matches!(
        t,
        ProgramType::Tracing | ProgramType::Lsm | ProgramType::Ext | ProgramType::StructOps
    )
}

fn load_raw(
    t: ProgramType,
    insns: &[u8],
    log: Option<&mut Vec<u8>>,
) -> Result<std::os::fd::OwnedFd, SyscallError> {
    let spec = ProgramSpec::new("probe", t);
    let req = sys::ProgLoad {
        prog_type: t.raw(),
        expected_attach_type: probe_attach_type(t).map_or(0, AttachType::raw),
        name: &spec.name,
        license: c"GPL",
        insns,
        prog_flags: 0,
        btf: None,
        line_info: &[],
        attach_btf_id: 0,
        attach_fd: None,
        fd_array: &[],
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
        Feature::MapType(t) => probe_map_type(t),
        Feature::CgroupLink => probe_link(ProgramType::SockOps, AttachType::CgroupSockOps),
        Feature::SockmapLink => probe_link(ProgramType::SkMsg, AttachType::SkMsgVerdict),
        Feature::Helper(t, h) => probe_helper(t, h),
        Feature::XdpLink => probe_link_on_lo(
            ProgramType::Xdp,
            AttachType::Xdp,
            sys::consts::XDP_FLAGS_SKB_MODE,
        ),
        Feature::TcxLink => probe_link_on_lo(ProgramType::SchedCls, AttachType::TcxIngress, 0),
        Feature::NetnsLink => probe_link(ProgramType::SkLookup, AttachType::SkLookup),
        Feature::PerfEventLink => probe_link(ProgramType::Tracepoint, AttachType::PerfEvent),
        Feature::MapBatch => probe_map_batch(),
        Feature::HashLookupAndDelete => probe_hash_lookup_and_delete(),
    }
}

/// Creates a small map of type `t` shaped the way that type demands (ring buffers a page and
/// no key, queues no key, maps of maps an inner map, local storage BTF and no entries).
/// EINVAL and the like say "no"; EPERM is a probe error.
fn probe_map_type(t: MapType) -> Result<bool, SyscallError> {
    use uapi::bpf::*;
    let raw = t.raw();
    let page = 4096;
    let (key, value, max, flags) = match raw {
        BPF_MAP_TYPE_LPM_TRIE => (8, 8, 1, 0),
        BPF_MAP_TYPE_RINGBUF | BPF_MAP_TYPE_USER_RINGBUF => (0, 0, page, 0),
        BPF_MAP_TYPE_QUEUE | BPF_MAP_TYPE_STACK | BPF_MAP_TYPE_BLOOM_FILTER => (0, 4, 1, 0),
        BPF_MAP_TYPE_SK_STORAGE | BPF_MAP_TYPE_INODE_STORAGE | BPF_MAP_TYPE_TASK_STORAGE => {
            (4, 4, 0, BPF_F_NO_PREALLOC)
        }
        BPF_MAP_TYPE_CGROUP_STORAGE | BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE => (12, 4, 0, 0),
        BPF_MAP_TYPE_STACK_TRACE => (4, 8, 1, 0),
        BPF_MAP_TYPE_HASH
        | BPF_MAP_TYPE_ARRAY
        | BPF_MAP_TYPE_PERCPU_HASH
        | BPF_MAP_TYPE_PERCPU_ARRAY
        | BPF_MAP_TYPE_LRU_HASH
        | BPF_MAP_TYPE_LRU_PERCPU_HASH => (4, 8, 1, 0),
        // Sockets, fds and indexes: 4-byte keys and values.
        _ => (4, 4, 1, 0),
    };
    let spec = MapSpec::new("probe", t, key, value, max).with_flags(flags);
    let map_error = |e: crate::Error| match e {
        crate::Error::Syscall(e) => e,
        crate::Error::Object { source, .. } => match *source {
            crate::Error::Syscall(e) => e,
            other => no_probe(&other.to_string()),
        },
        other => no_probe(&other.to_string()),
    };
    let answer = |r: crate::Result<Map>| match r {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = map_error(e);
            if is_no(&e) {
                Ok(false)
            } else {
                Err(e)
            }
        }
    };
    match raw {
        BPF_MAP_TYPE_ARRAY_OF_MAPS | BPF_MAP_TYPE_HASH_OF_MAPS => {
            let inner = Map::create(&MapSpec::new("probe_in", MapType::Array, 4, 4, 1))
                .map_err(map_error)?;
            answer(Map::create_with(
                &spec,
                Some(std::os::fd::AsFd::as_fd(&inner)),
                None,
            ))
        }
        BPF_MAP_TYPE_SK_STORAGE | BPF_MAP_TYPE_INODE_STORAGE | BPF_MAP_TYPE_TASK_STORAGE => {
            let btf = match crate::btf_obj::OpaqueMapBtf::load(4, 4).map_err(map_error) {
                Ok(b) => b,
                // No BTF loading at all: no local storage either.
                Err(e) if is_no(&e) => return Ok(false),
                Err(e) => return Err(e),
            };
            answer(Map::create_with(&spec, None, Some(btf.map_btf())))
        }
        _ => answer(Map::create(&spec)),
    }
}

fn no_probe(why: &str) -> SyscallError {
    SyscallError::new("BPF_PROG_LOAD", std::io::Error::other(why.to_string()))
}

/// Whether programs of type `t` may call `h`: the type must load at all (else "no"); then a
/// program calling `h` (arguments zero, `r1` the context) is loaded with a log. It loads:
/// yes. The verifier says "unknown func", "invalid func" or "program of this type cannot use
/// helper": no. The verifier got past the call's lookup and refused something else (an
/// argument: the log shows the call and another complaint): yes, the helper exists for the
/// type. Anything else (an empty log, EPERM, a type that needs a BTF target): a probe error,
/// never a guess.
fn probe_helper(t: ProgramType, h: Helper) -> Result<bool, SyscallError> {
    if needs_btf_target(t) {
        return Err(no_probe(
            "helpers of this program type need a BTF attach target to probe",
        ));
    }
    if !run_probe(Feature::ProgramType(t))? {
        return Ok(false);
    }
    let ret = match t {
        ProgramType::SkLookup | ProgramType::SkMsg | ProgramType::SkSkb => 1,
        ProgramType::CgroupSkb
        | ProgramType::CgroupSock
        | ProgramType::CgroupSockAddr
        | ProgramType::CgroupSockopt
        | ProgramType::CgroupDevice
        | ProgramType::CgroupSysctl => 1,
        _ => 0,
    };
    let mut insns = vec![
        Insn::alu64_imm(asm::AluOp::Mov, Reg::R2, 0),
        Insn::alu64_imm(asm::AluOp::Mov, Reg::R3, 0),
        Insn::alu64_imm(asm::AluOp::Mov, Reg::R4, 0),
        Insn::alu64_imm(asm::AluOp::Mov, Reg::R5, 0),
        Insn::call(h),
    ];
    insns.extend([Insn::alu64_imm(asm::AluOp::Mov, Reg::R0, ret), Insn::exit()]);
    let insns = asm::encode(&insns);
    let mut log = vec![0u8; 64 * 1024];
    match load_raw(t, &insns, Some(&mut log)) {
        Ok(_) => Ok(true),
        Err(e) if errno(&e) == libc::EPERM => Err(e),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            if helper_refused(&text) {
                Ok(false)
            } else if !text.trim().is_empty() && text.contains("call ") {
                Ok(true)
            } else {
                Err(e)
            }
        }
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

/// Whether a verifier log says the called helper does not exist for the program type.
fn helper_refused(log: &str) -> bool {
    log.contains("unknown func")
        || log.contains("invalid func")
        || log.contains("cannot use helper")
}

/// Creates a link of a trivial program of type `t` on the loopback device (ifindex 1) of a
/// new, empty network namespace (a throwaway thread's), so that no device of the host is
/// touched: yes when the link is made, no on EINVAL (unknown attach type), else an error.
fn probe_link_on_lo(t: ProgramType, attach: AttachType, flags: u32) -> Result<bool, SyscallError> {
    let prog = match load_raw(t, &trivial(if t == ProgramType::Xdp { 2 } else { 0 }), None) {
        Ok(p) => p,
        Err(e) if is_no(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    let raw_prog = prog.as_raw_fd() as u32;
    let res = std::thread::scope(|s| {
        s.spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                SyscallError::new(
                    "unshare(CLONE_NEWNET)",
                    std::io::Error::from_raw_os_error(e as i32),
                )
            })?;
            // The link (if made) is closed here, in the namespace that dies with the thread.
            sys::link_create_raw(raw_prog, 1, attach.raw(), flags).map(drop)
        })
        .join()
        .unwrap_or_else(|_| Err(no_probe("probe thread panicked")))
    });
    drop(prog);
    match res {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == libc::EINVAL => Ok(false),
        Err(e) => Err(e),
    }
}

/// Tries `BPF_LINK_CREATE` of a trivial program of type `t` on fd -1: a kernel that knows
/// such links looks the target up and says EBADF; one that does not says EINVAL first.
fn probe_link(t: ProgramType, attach: AttachType) -> Result<bool, SyscallError> {
    let ret = if matches!(t, ProgramType::SkMsg | ProgramType::SkLookup) {
        1
    } else {
        0
    };
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::fs::File;
    use std::io;
    use std::os::fd::IntoRawFd;
    use std::rc::Rc;

    use super::*;
    use crate::sys::attr::{from_bytes, ProgLoadAttr};
    use crate::sys::{poke, with_fake, Cmd};

    /// How the fake kernel answers the helper load (the program type's own trivial load
    /// succeeds unless `type_ok` is false).
    #[derive(Clone, Copy)]
    enum Answer {
        Loads,
        Fails(i32, &'static str),
    }

    /// Runs `probe_helper(t, h)` against a fake kernel; returns the answer and the
    /// `expected_attach_type` of every load.
    fn run(
        t: ProgramType,
        type_ok: bool,
        answer: Answer,
    ) -> (Result<bool, SyscallError>, Vec<u32>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let r = with_fake(
            move |cmd, bytes| {
                assert_eq!(cmd, Cmd::ProgLoad);
                let a: ProgLoadAttr = from_bytes(bytes);
                s.borrow_mut().push(a.expected_attach_type);
                let trivial = a.insn_cnt == 2;
                let (errno, log) = match (trivial, type_ok, answer) {
                    (true, true, _) | (false, _, Answer::Loads) => {
                        return Ok(File::open("/dev/null")?.into_raw_fd() as i64)
                    }
                    (true, false, _) => (libc::EINVAL, ""),
                    (false, _, Answer::Fails(e, log)) => (e, log),
                };
                if a.log_size > 0 && !log.is_empty() {
                    let mut text = log.as_bytes().to_vec();
                    text.push(0);
                    poke(a.log_buf, &text);
                }
                Err(io::Error::from_raw_os_error(errno))
            },
            || probe_helper(t, Helper::GetSocketCookie),
        );
        let seen = seen.borrow().clone();
        (r, seen)
    }

    #[test]
    fn an_unsupported_program_type_has_no_helpers() {
        let (r, _) = run(ProgramType::SockOps, false, Answer::Loads);
        assert!(!r.unwrap());
    }

    #[test]
    fn a_failure_without_a_log_is_an_error_not_a_yes() {
        let (r, loads) = run(ProgramType::SockOps, true, Answer::Fails(libc::EINVAL, ""));
        assert_eq!(r.unwrap_err().errno(), Some(libc::EINVAL));
        assert_eq!(loads.len(), 2, "the type first, then the helper");
        let (r, _) = run(ProgramType::SockOps, true, Answer::Fails(libc::E2BIG, ""));
        assert!(r.is_err());
        let (r, _) = run(ProgramType::SockOps, true, Answer::Fails(libc::EPERM, ""));
        assert_eq!(r.unwrap_err().errno(), Some(libc::EPERM));
    }

    #[test]
    fn the_verifiers_unknown_func_is_a_no() {
        for log in [
            "0: R1=ctx() R10=fp0\n4: (85) call bpf_get_socket_cookie#46\nunknown func bpf_get_socket_cookie#46\n",
            "4: (85) call unknown#46\ninvalid func unknown#46\n",
            "program of this type cannot use helper bpf_get_socket_cookie#46\n",
        ] {
            let (r, _) = run(ProgramType::Xdp, true, Answer::Fails(libc::EINVAL, log));
            assert!(!r.unwrap(), "{log}");
        }
    }

    #[test]
    fn a_load_is_a_yes_and_so_is_an_argument_complaint_after_the_call() {
        let (r, _) = run(ProgramType::SockOps, true, Answer::Loads);
        assert!(r.unwrap());
        let log = "4: (85) call bpf_get_socket_cookie#46\nR1 type=ctx expected=sock\n";
        let (r, _) = run(ProgramType::SockOps, true, Answer::Fails(libc::EACCES, log));
        assert!(r.unwrap());
        // A log that never reached the call says nothing about the helper.
        let (r, _) = run(
            ProgramType::SockOps,
            true,
            Answer::Fails(libc::EINVAL, "R0 !read_ok\n"),
        );
        assert!(r.is_err());
    }

    #[test]
    fn types_that_need_one_get_an_expected_attach_type() {
        let (_, loads) = run(ProgramType::CgroupSockAddr, true, Answer::Loads);
        assert_eq!(loads, vec![AttachType::CgroupInet4Connect.raw(); 2]);
        let (_, loads) = run(ProgramType::CgroupSockopt, true, Answer::Loads);
        assert_eq!(loads, vec![AttachType::CgroupGetsockopt.raw(); 2]);
        let (_, loads) = run(ProgramType::SkLookup, true, Answer::Loads);
        assert_eq!(loads, vec![AttachType::SkLookup.raw(); 2]);
        let (_, loads) = run(ProgramType::SockOps, true, Answer::Loads);
        assert_eq!(loads, vec![0; 2]);
    }

    #[test]
    fn btf_target_types_are_not_guessed() {
        for t in [ProgramType::Tracing, ProgramType::Lsm, ProgramType::Ext] {
            let (r, loads) = run(t, true, Answer::Loads);
            assert!(r.is_err(), "{t}");
            assert!(loads.is_empty(), "nothing asked of the kernel for {t}");
        }
    }
}
