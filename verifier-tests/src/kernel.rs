//! The emulated kernel side: maps, sockets and the helpers a program calls, kept in a
//! thread-local because rbpf helpers are plain `fn` pointers with no context argument.
//!
//! Each helper follows its description in `bpf.h` (return codes included), not what the
//! bypass programs happen to need. Anything a real verifier would have refused and that
//! still reaches a helper (a wrong context pointer, a map of the wrong type) is recorded as a
//! *violation* and makes the run fail.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::maps::{EmuMap, MapSpec, SockId};
use crate::uapi::{self, errno, helper};

/// The fake "file descriptor" of the first map; map `i` is `HANDLE_BASE + i`.
pub const HANDLE_BASE: i32 = 1000;

/// Which program type runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgKind {
    /// `BPF_PROG_TYPE_SOCK_OPS`.
    SockOps,
    /// `BPF_PROG_TYPE_SK_MSG`.
    SkMsg,
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`, attached as `BPF_CGROUP_SETSOCKOPT`.
    Sockopt,
    /// `BPF_PROG_TYPE_CGROUP_SKB` (ingress or egress): reads the `__sk_buff` scalars, writes
    /// `mark`, `priority` and `cb`, calls the map helpers. Packet pointers (`data`,
    /// `data_end`) are not modelled: the static check refuses them.
    CgroupSkb,
}

/// What the kernel knows about a simulated socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockState {
    /// The cookie of the socket's network namespace.
    pub netns_cookie: u64,
    /// `bpf_sock_ops_cb_flags` as the program last set them.
    pub cb_flags: u32,
}

/// The program run in progress.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub ctx_addr: u64,
    pub sock: SockId,
    pub kind: ProgKind,
    pub op: u32,
    /// `bpf_msg_redirect_hash`'s choice: target socket and whether `BPF_F_INGRESS` was set.
    pub redirect: Option<(SockId, bool)>,
}

/// The whole emulated kernel state.
#[derive(Debug)]
pub struct Kernel {
    /// Maps by index (`handle - HANDLE_BASE`).
    pub maps: Vec<EmuMap>,
    /// Simulated sockets.
    pub sockets: HashMap<SockId, SockState>,
    /// Number of CPUs for per-CPU maps.
    pub ncpus: usize,
    /// The CPU the current run is on.
    pub cpu: usize,
    rng: u64,
    /// The initial network namespace's cookie (`bpf_get_netns_cookie(NULL)`).
    pub init_netns_cookie: u64,
    pub(crate) run: Option<Run>,
    /// Misuses a real verifier or kernel would have refused.
    pub violations: Vec<String>,
    /// Every helper call of the current run: (helper id, return value).
    pub calls: Vec<(u32, u64)>,
    /// Interleaving injection: the next `bpf_map_lookup_elem` on the map with this name
    /// returns NULL (then the field is cleared). It stands for a lookup that ran before
    /// another CPU's update landed: the program sees the state of a moment ago.
    pub miss_next_lookup: Option<String>,
}

thread_local! {
    static KERNEL: RefCell<Option<Kernel>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's kernel. Panics if none is installed (a harness bug, not a
/// program bug).
pub fn with_kernel<R>(f: impl FnOnce(&mut Kernel) -> R) -> R {
    KERNEL.with(|k| {
        let mut k = k.borrow_mut();
        f(k.as_mut()
            .expect("no emulated kernel installed on this thread"))
    })
}

/// Installs a fresh kernel on this thread, replacing any previous one.
pub fn install(kernel: Kernel) {
    KERNEL.with(|k| *k.borrow_mut() = Some(kernel));
}

/// Removes this thread's kernel.
pub fn uninstall() -> Option<Kernel> {
    KERNEL.with(|k| k.borrow_mut().take())
}

impl Kernel {
    /// A kernel with the given maps, `ncpus` CPUs and a seed for the per-run CPU choice.
    pub fn new(specs: &[MapSpec], ncpus: usize, seed: u64) -> Kernel {
        let ncpus = ncpus.max(1);
        Kernel {
            maps: specs
                .iter()
                .map(|s| EmuMap::new(s.clone(), ncpus))
                .collect(),
            sockets: HashMap::new(),
            ncpus,
            cpu: 0,
            rng: seed | 1,
            init_netns_cookie: 1,
            run: None,
            violations: Vec::new(),
            calls: Vec::new(),
            miss_next_lookup: None,
        }
    }

    /// The handle (fake fd) of the map named `name`.
    pub fn handle_of(&self, name: &str) -> Option<i32> {
        self.maps
            .iter()
            .position(|m| m.spec.name == name)
            .map(|i| HANDLE_BASE + i as i32)
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&EmuMap> {
        self.maps.iter().find(|m| m.spec.name == name)
    }

    /// The map named `name`, mutably.
    pub fn map_mut(&mut self, name: &str) -> Option<&mut EmuMap> {
        self.maps.iter_mut().find(|m| m.spec.name == name)
    }

    fn map_idx(&mut self, handle: u64) -> Option<usize> {
        let i = (handle as i64).checked_sub(HANDLE_BASE as i64)?;
        if i >= 0 && (i as usize) < self.maps.len() {
            Some(i as usize)
        } else {
            self.violations
                .push(format!("helper got {handle:#x}, which is not a map handle"));
            None
        }
    }

    /// Picks the CPU for the next run (xorshift on the seed).
    pub(crate) fn pick_cpu(&mut self) {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.cpu = (self.rng % self.ncpus as u64) as usize;
    }

    pub(crate) fn end_run(&mut self) -> Option<Run> {
        for m in &mut self.maps {
            m.end_of_run();
        }
        self.run.take()
    }

    fn check_ctx(&mut self, ctx: u64, name: &str, kind: ProgKind) -> Option<Run> {
        match &self.run {
            Some(r) if r.ctx_addr == ctx && r.kind == kind => Some(r.clone()),
            Some(r) => {
                let msg = format!(
                    "{name}: first argument {ctx:#x} is not the {kind:?} context (ctx at {:#x}, running {:?})",
                    r.ctx_addr, r.kind
                );
                self.violations.push(msg);
                None
            }
            None => None,
        }
    }
}

/// Reads `len` bytes a program passed to a helper.
///
/// # Safety
/// The static check (`check` module) proved that every pointer argument of these helpers is
/// a stack or map-value pointer with at least `len` initialised bytes.
unsafe fn read(addr: u64, len: usize) -> Vec<u8> {
    std::slice::from_raw_parts(addr as *const u8, len).to_vec()
}

fn sane(addr: u64) -> bool {
    addr >= 4096
}

fn record(id: u32, ret: u64) -> u64 {
    with_kernel(|k| k.calls.push((id, ret)));
    ret
}

fn neg(e: i64) -> u64 {
    (-e) as u64
}

/// `void *bpf_map_lookup_elem(map, key)`.
pub fn map_lookup_elem(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        let Some(i) = k.map_idx(map) else { return 0 };
        if !sane(key) {
            k.violations
                .push(format!("map_lookup_elem: key pointer {key:#x}"));
            return 0;
        }
        let ks = k.maps[i].spec.key_size as usize;
        if k.maps[i].spec.map_type == uapi::MAP_TYPE_SOCKHASH {
            k.violations
                .push("map_lookup_elem on a sockhash (returns a socket reference)".into());
            return 0;
        }
        let kb = unsafe { read(key, ks) };
        if k.miss_next_lookup.as_deref() == Some(k.maps[i].spec.name.as_str()) {
            k.miss_next_lookup = None;
            return 0;
        }
        k.maps[i].lookup(&kb, k.cpu).unwrap_or(0)
    });
    record(helper::MAP_LOOKUP_ELEM, r)
}

/// `long bpf_map_update_elem(map, key, value, flags)`.
pub fn map_update_elem(map: u64, key: u64, value: u64, flags: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        let Some(i) = k.map_idx(map) else {
            return neg(errno::EINVAL);
        };
        if !sane(key) || !sane(value) {
            k.violations
                .push(format!("map_update_elem: key {key:#x} value {value:#x}"));
            return neg(errno::EINVAL);
        }
        let (ks, vs) = (
            k.maps[i].spec.key_size as usize,
            k.maps[i].spec.value_size as usize,
        );
        let kb = unsafe { read(key, ks) };
        let vb = unsafe { read(value, vs) };
        let cpu = k.cpu;
        k.maps[i].update(&kb, &vb, flags, cpu) as u64
    });
    record(helper::MAP_UPDATE_ELEM, r)
}

/// `long bpf_map_delete_elem(map, key)`.
pub fn map_delete_elem(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        let Some(i) = k.map_idx(map) else {
            return neg(errno::EINVAL);
        };
        if !sane(key) {
            k.violations
                .push(format!("map_delete_elem: key pointer {key:#x}"));
            return neg(errno::EINVAL);
        }
        let ks = k.maps[i].spec.key_size as usize;
        let kb = unsafe { read(key, ks) };
        k.maps[i].delete(&kb) as u64
    });
    record(helper::MAP_DELETE_ELEM, r)
}

/// `long bpf_sock_hash_update(skops, map, key, flags)`.
pub fn sock_hash_update(ctx: u64, map: u64, key: u64, flags: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        let Some(run) = k.check_ctx(ctx, "sock_hash_update", ProgKind::SockOps) else {
            return neg(errno::EINVAL);
        };
        let Some(i) = k.map_idx(map) else {
            return neg(errno::EINVAL);
        };
        if k.maps[i].spec.map_type != uapi::MAP_TYPE_SOCKHASH {
            k.violations.push(format!(
                "sock_hash_update on map `{}`, not a sockhash",
                k.maps[i].spec.name
            ));
            return neg(errno::EINVAL);
        }
        // sock_map_op_okay(): only from the established callbacks (and listen).
        if run.op != uapi::ACTIVE_ESTABLISHED_CB && run.op != uapi::PASSIVE_ESTABLISHED_CB {
            return neg(errno::EOPNOTSUPP);
        }
        if !sane(key) {
            k.violations
                .push(format!("sock_hash_update: key pointer {key:#x}"));
            return neg(errno::EINVAL);
        }
        let ks = k.maps[i].spec.key_size as usize;
        let kb = unsafe { read(key, ks) };
        k.maps[i].sock_update(&kb, run.sock, flags) as u64
    });
    record(helper::SOCK_HASH_UPDATE, r)
}

/// `long bpf_msg_redirect_hash(msg, map, key, flags)`: `SK_PASS` or `SK_DROP`.
pub fn msg_redirect_hash(ctx: u64, map: u64, key: u64, flags: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        if k.check_ctx(ctx, "msg_redirect_hash", ProgKind::SkMsg)
            .is_none()
        {
            return uapi::SK_DROP;
        }
        let Some(i) = k.map_idx(map) else {
            return uapi::SK_DROP;
        };
        if k.maps[i].spec.map_type != uapi::MAP_TYPE_SOCKHASH {
            k.violations.push(format!(
                "msg_redirect_hash on map `{}`, not a sockhash",
                k.maps[i].spec.name
            ));
            return uapi::SK_DROP;
        }
        // BPF_F_INGRESS is the only flag.
        if flags & !uapi::BPF_F_INGRESS != 0 {
            return uapi::SK_DROP;
        }
        if !sane(key) {
            k.violations
                .push(format!("msg_redirect_hash: key pointer {key:#x}"));
            return uapi::SK_DROP;
        }
        let ks = k.maps[i].spec.key_size as usize;
        let kb = unsafe { read(key, ks) };
        match k.maps[i].sock_lookup(&kb) {
            Some(target) => {
                if let Some(run) = k.run.as_mut() {
                    run.redirect = Some((target, flags & uapi::BPF_F_INGRESS != 0));
                }
                uapi::SK_PASS
            }
            None => uapi::SK_DROP,
        }
    });
    record(helper::MSG_REDIRECT_HASH, r)
}

/// `u64 bpf_get_netns_cookie(ctx)`: the socket's namespace, or the initial one for NULL.
pub fn get_netns_cookie(ctx: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        if ctx == 0 {
            return k.init_netns_cookie;
        }
        let Some(run) = k.run.clone() else { return 0 };
        if run.ctx_addr != ctx {
            k.violations.push(format!(
                "get_netns_cookie: {ctx:#x} is neither NULL nor the context"
            ));
            return 0;
        }
        k.sockets
            .get(&run.sock)
            .map(|s| s.netns_cookie)
            .unwrap_or(0)
    });
    record(helper::GET_NETNS_COOKIE, r)
}

/// `long bpf_sock_ops_cb_flags_set(skops, argval)`: the bits that could not be set.
pub fn sock_ops_cb_flags_set(ctx: u64, argval: u64, _: u64, _: u64, _: u64) -> u64 {
    let r = with_kernel(|k| {
        let Some(run) = k.check_ctx(ctx, "sock_ops_cb_flags_set", ProgKind::SockOps) else {
            return neg(errno::EINVAL);
        };
        let argval = argval as u32;
        match k.sockets.get_mut(&run.sock) {
            Some(s) => {
                s.cb_flags = argval & uapi::ALL_CB_FLAGS;
                u64::from(argval & !uapi::ALL_CB_FLAGS)
            }
            None => neg(errno::EINVAL),
        }
    });
    record(helper::SOCK_OPS_CB_FLAGS_SET, r)
}

/// The helpers by id, for registration with rbpf.
pub fn helpers() -> [(u32, rbpf::Helper); 7] {
    [
        (helper::MAP_LOOKUP_ELEM, map_lookup_elem),
        (helper::MAP_UPDATE_ELEM, map_update_elem),
        (helper::MAP_DELETE_ELEM, map_delete_elem),
        (helper::SOCK_HASH_UPDATE, sock_hash_update),
        (helper::MSG_REDIRECT_HASH, msg_redirect_hash),
        (helper::GET_NETNS_COOKIE, get_netns_cookie),
        (helper::SOCK_OPS_CB_FLAGS_SET, sock_ops_cb_flags_set),
    ]
}
