//! Programs: load an [`asm::Program`] with its map references bound by name, open one from a
//! pin or an id, pin it, and read the kernel's [`ProgInfo`] (id, tag, verified instructions).
//!
//! A [`ProgramSpec`] also carries what BTF-typed programs need: the attach target's BTF id
//! (and the module BTF object or target program it belongs to), `BPF_F_SLEEPABLE`, and the
//! `fd_array` that `ld_map_idx` loads and module kfunc calls index. The constructors
//! [`ProgramSpec::tracing`], [`ProgramSpec::tp_btf`], [`ProgramSpec::lsm`] and
//! [`ProgramSpec::iter`] resolve targets by name in kernel BTF ([`crate::btf`]);
//! [`ProgramSpec::kfunc_call`] makes the call instruction of a kernel function by name.
//!
//! # Maps by index (`fd_array`)
//!
//! `asm::Builder::ld_map_idx(dst, i)` (and `ld_map_idx_value`) load slot `i` of the load's
//! `fd_array` (Linux 5.14). The loader fills that array in one of two ways:
//!
//! - [`ProgramSpec::fd_array`] empty (the default): with [`Program::load`], slot `i` is the
//!   `i`-th map of the `maps` argument (by position); the array is passed only when the
//!   program has a map-by-index load. [`Program::load_with`] has no positions, so such a
//!   program needs an explicit array.
//! - [`ProgramSpec::fd_array`] set: slot `i` is entry `i` ([`FdSlot::Map`] by name, bound as
//!   `ld_map` references are; [`FdSlot::Btf`] for module kfuncs; [`FdSlot::Fd`] for anything).
//!
//! Indexes are checked before the kernel sees the program: a map load must name a slot that
//! exists and is not BTF; a kfunc call with a non-zero `off` must name a BTF (or raw fd) slot.
//!
//! Loading first tries without a verifier log. When the kernel refuses, the load is repeated
//! with a level-1 log that grows on ENOSPC (64 KiB up to [`MAX_LOG_SIZE`]), and the failure
//! becomes a [`VerifierError`] naming the reason and the instruction.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use crate::btf::{self, BtfError, Kind};
use crate::btf_obj::BtfObject;
use crate::error::{Error, Result};
use crate::map::{check_name, Map};
use crate::sys::{self, attr, consts};
use crate::verifier::{LoadStats, VerifierError};
use crate::{env, pin};

/// The first verifier log buffer size.
pub const INITIAL_LOG_SIZE: usize = 64 * 1024;
/// The largest verifier log buffer tried.
pub const MAX_LOG_SIZE: usize = 16 * 1024 * 1024;

pub use bpfobj::{AttachType, ProgramType};

/// How to load a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Name: letters, digits, `_`, `.`; the kernel keeps 15 bytes.
    pub name: String,
    /// The kind.
    pub prog_type: ProgramType,
    /// `expected_attach_type`, for the types that need it.
    pub expected_attach_type: Option<AttachType>,
    /// The license; GPL-only helpers need a GPL-compatible one.
    pub license: String,
    /// `BPF_F_*` program flags.
    pub prog_flags: u32,
    /// Load with a `BPF_LOG_STATS` log to get state counts and time in [`Program::stats`].
    pub collect_stats: bool,
    /// The program's BTF and `func_info` (needed for callbacks; see [`crate::btf_obj`]).
    pub btf: Option<crate::btf_obj::ProgramBtf>,
    /// Load a DSL program with BTF built from it ([`bpfobj::debug_info`]): its functions by
    /// name and its comments as source lines (`bpftool prog dump xlated` shows them; Linux
    /// 5.0). Ignored when [`ProgramSpec::btf`] is set. Off by default: it changes nothing the
    /// program does, and the program's tag stays the same.
    pub debug_info: bool,
    /// `attach_btf_id`: the BTF type id of the attach target (a kernel function for
    /// fentry/fexit/fmod_ret, `btf_trace_<tp>` for tp_btf, `bpf_lsm_<hook>` for LSM, a
    /// function of [`ProgramSpec::attach_prog`] for freplace or fentry on a BPF program).
    /// Linux 5.5.
    pub attach_btf_id: Option<u32>,
    /// `attach_btf_obj_fd`: the module BTF that `attach_btf_id` is an id of (`None`: vmlinux).
    /// Linux 5.11. Exclusive with [`ProgramSpec::attach_prog`] (the kernel shares the word).
    pub attach_btf_obj: Option<BtfObject>,
    /// `attach_prog_fd`: the BPF program whose function `attach_btf_id` names (freplace,
    /// fentry/fexit on a BPF program). Linux 5.5 (5.6 for freplace).
    pub attach_prog: Option<SharedFd>,
    /// `fd_array` (Linux 5.14): see the module documentation, "Maps by index". Empty: the
    /// maps given to [`Program::load`], by position, when the program loads maps by index.
    pub fd_array: Vec<FdSlot>,
}

/// A file descriptor shared by clones of what holds it (an `Arc<OwnedFd>`), compared by
/// identity: how a [`ProgramSpec`] holds a target program or an `fd_array` entry.
#[derive(Debug, Clone)]
pub struct SharedFd(Arc<OwnedFd>);

impl SharedFd {
    /// Takes `fd`.
    pub fn new(fd: OwnedFd) -> SharedFd {
        SharedFd(Arc::new(fd))
    }

    /// A new close-on-exec duplicate of `fd`.
    pub fn dup(fd: BorrowedFd<'_>) -> Result<SharedFd> {
        fd.try_clone_to_owned()
            .map(SharedFd::new)
            .map_err(|e| Error::io("duplicating", "file descriptor", e))
    }
}

impl PartialEq for SharedFd {
    fn eq(&self, other: &SharedFd) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedFd {}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// One entry of a load's `fd_array`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FdSlot {
    /// A map, bound at load by name like `ld_map` references (from the `maps` of
    /// [`Program::load`] or the lookup of [`Program::load_with`]).
    Map(String),
    /// A BTF object: a module's, for calls of its kfuncs (whose `off` is this slot's index).
    Btf(BtfObject),
    /// Any other file descriptor, passed as it is.
    Fd(SharedFd),
}

/// The attach types whose target is a kernel function by BTF id (`BPF_PROG_TYPE_TRACING`).
const FUNCTION_TRACING: [AttachType; 3] = [
    AttachType::TraceFentry,
    AttachType::TraceFexit,
    AttachType::ModifyReturn,
];

/// Resolves `kind` `name` in kernel BTF: (type id, the module's BTF object for a module's).
fn kernel_target(kind: Kind, name: &str) -> Result<(u32, Option<BtfObject>)> {
    let found = btf::find(kind, name)?;
    let obj = match &found.module {
        Some(m) => Some(BtfObject::kernel(m)?),
        None => None,
    };
    Ok((found.type_id, obj))
}

impl ProgramSpec {
    /// A spec with license "GPL", no flags, no expected attach type.
    pub fn new(name: &str, prog_type: ProgramType) -> ProgramSpec {
        ProgramSpec {
            name: name.to_string(),
            prog_type,
            expected_attach_type: None,
            license: "GPL".to_string(),
            prog_flags: 0,
            collect_stats: false,
            debug_info: false,
            btf: None,
            attach_btf_id: None,
            attach_btf_obj: None,
            attach_prog: None,
            fd_array: Vec::new(),
        }
    }

    /// A `BPF_PROG_TYPE_TRACING` program of `attach_type` on kernel function `func`, its BTF
    /// id looked up by name in kernel BTF (vmlinux, then modules; a module's BTF object goes
    /// into [`ProgramSpec::attach_btf_obj`]). `attach_type` is one of
    /// [`AttachType::TraceFentry`], [`AttachType::TraceFexit`] (Linux 5.5),
    /// [`AttachType::ModifyReturn`] (5.7), or [`AttachType::TraceRawTp`], for which `func` is
    /// the tracepoint's name as for [`ProgramSpec::tp_btf`]. fentry, fexit and fmod_ret run on
    /// a BPF trampoline (x86-64 from 5.5, arm64 from 6.0), which a kernel in lockdown refuses
    /// with EPERM.
    ///
    /// Fails with [`Error::Btf`] ([`BtfError::NotFound`]) when the kernel has no function of
    /// that name, [`Error::InvalidArgument`] for another attach type.
    pub fn tracing(name: &str, attach_type: AttachType, func: &str) -> Result<ProgramSpec> {
        if attach_type == AttachType::TraceRawTp {
            return ProgramSpec::tp_btf(name, func);
        }
        if !FUNCTION_TRACING.contains(&attach_type) {
            return Err(Error::InvalidArgument(format!(
                "{attach_type:?} is not a tracing attach type on a kernel function \
                 (fentry, fexit, fmod_ret, tp_btf)"
            )));
        }
        let (id, obj) = kernel_target(Kind::Func, func)?;
        Ok(ProgramSpec::new(name, ProgramType::Tracing)
            .expected_attach_type(attach_type)
            .attach_btf_id(id, obj))
    }

    /// A BTF-typed raw tracepoint program (`tp_btf`: `BPF_PROG_TYPE_TRACING` with
    /// [`AttachType::TraceRawTp`], Linux 5.5) on tracepoint `tracepoint` (e.g.
    /// `"sched_switch"`): the target is the typedef `btf_trace_<tracepoint>` of kernel BTF.
    /// It needs no trampoline. Attach with [`crate::attach::tracing::attach`].
    pub fn tp_btf(name: &str, tracepoint: &str) -> Result<ProgramSpec> {
        let (id, obj) = kernel_target(Kind::Typedef, &format!("btf_trace_{tracepoint}"))?;
        Ok(ProgramSpec::new(name, ProgramType::Tracing)
            .expected_attach_type(AttachType::TraceRawTp)
            .attach_btf_id(id, obj))
    }

    /// A BPF LSM program (`BPF_PROG_TYPE_LSM` with [`AttachType::LsmMac`], Linux 5.7) on LSM
    /// hook `hook` (e.g. `"file_open"`): the target is the kernel function `bpf_lsm_<hook>`.
    /// It runs on a trampoline, and needs `bpf` among the kernel's active LSMs to run.
    pub fn lsm(name: &str, hook: &str) -> Result<ProgramSpec> {
        let (id, obj) = kernel_target(Kind::Func, &format!("bpf_lsm_{hook}"))?;
        Ok(ProgramSpec::new(name, ProgramType::Lsm)
            .expected_attach_type(AttachType::LsmMac)
            .attach_btf_id(id, obj))
    }

    /// A BPF iterator program (`BPF_PROG_TYPE_TRACING` with [`AttachType::TraceIter`], Linux
    /// 5.8) over `target` (e.g. `"task"`, `"bpf_map_elem"`): the target is the kernel function
    /// `bpf_iter_<target>`, as libbpf resolves `SEC("iter/<target>")`. Its context is that
    /// function's arguments (`struct bpf_iter__<target>`). It needs no trampoline; a link
    /// (`BPF_LINK_CREATE` with `BPF_TRACE_ITER`) and `BPF_ITER_CREATE` run it.
    ///
    /// Fails with [`Error::Btf`] ([`BtfError::NotFound`]) when the kernel has no iterator of
    /// that name.
    pub fn iter(name: &str, target: &str) -> Result<ProgramSpec> {
        let (id, obj) = kernel_target(Kind::Func, &format!("bpf_iter_{target}"))?;
        Ok(ProgramSpec::new(name, ProgramType::Tracing)
            .expected_attach_type(AttachType::TraceIter)
            .attach_btf_id(id, obj))
    }

    /// With an attach target by BTF id, in vmlinux (`obj` `None`) or in a module's BTF.
    pub fn attach_btf_id(mut self, id: u32, obj: Option<BtfObject>) -> ProgramSpec {
        self.attach_btf_id = Some(id);
        self.attach_btf_obj = obj;
        self
    }

    /// With a target program (`attach_prog_fd`, for freplace or fentry/fexit on a BPF
    /// program) and the BTF id of its function in that program's BTF. The fd is duplicated.
    pub fn attach_to_program(mut self, prog: &Program, btf_id: u32) -> Result<ProgramSpec> {
        self.attach_prog = Some(SharedFd::dup(prog.as_fd())?);
        self.attach_btf_id = Some(btf_id);
        Ok(self)
    }

    /// With `fd_array` (see the module documentation, "Maps by index").
    pub fn fd_array(mut self, slots: Vec<FdSlot>) -> ProgramSpec {
        self.fd_array = slots;
        self
    }

    /// Sleepable (`BPF_F_SLEEPABLE` in the program flags; Linux 5.10): fentry, fexit,
    /// fmod_ret, LSM and iterator programs that may call helpers that sleep.
    pub fn sleepable(mut self) -> ProgramSpec {
        self.prog_flags |= consts::BPF_F_SLEEPABLE;
        self
    }

    /// The call instruction of kernel function (kfunc) `name`, for a program loaded with
    /// this spec: `call` with `src` `BPF_PSEUDO_KFUNC_CALL` and `imm` its BTF id, looked up
    /// in kernel BTF. A vmlinux function has `off` 0. For a module's function, its BTF object
    /// is put in [`ProgramSpec::fd_array`] (once per module; when the array was empty, at
    /// slots 0 and 1, since `off` 0 means vmlinux) and `off` is its slot.
    ///
    /// The two steps are: `let call = spec.kfunc_call("bpf_cast_to_kern_ctx")?;` then
    /// `builder.push(call)`. Whether the program type may call the function is the verifier's
    /// to say at load. kfunc calls need Linux 5.13 (vmlinux) or 5.18 (modules, through
    /// `fd_array`); which functions exist depends on the kernel version.
    pub fn kfunc_call(&mut self, name: &str) -> Result<asm::Insn> {
        let (id, obj) = kernel_target(Kind::Func, name)?;
        let imm = i32::try_from(id).map_err(|_| BtfError::Malformed(format!("type id {id}")))?;
        let mut call = asm::Insn::call_kfunc(imm);
        if let Some(obj) = obj {
            call.off = self.module_btf_slot(obj)?;
        }
        Ok(call)
    }

    /// The `fd_array` slot (never 0) holding module BTF `obj`, or the same BTF object (by
    /// kernel id), added when absent (at 0 and 1 when the array was empty).
    pub(crate) fn module_btf_slot(&mut self, obj: BtfObject) -> Result<i16> {
        let id_of = |b: &BtfObject| b.info().map(|i| i.id).ok();
        let want = id_of(&obj);
        let found = self.fd_array.iter().skip(1).position(|s| match s {
            FdSlot::Btf(b) => *b == obj || (want.is_some() && id_of(b) == want),
            _ => false,
        });
        let slot = match found {
            Some(i) => i + 1,
            None => {
                if self.fd_array.is_empty() {
                    self.fd_array.push(FdSlot::Btf(obj.clone()));
                }
                self.fd_array.push(FdSlot::Btf(obj));
                self.fd_array.len() - 1
            }
        };
        i16::try_from(slot).map_err(|_| {
            Error::InvalidArgument(format!("fd_array slot {slot} is out of a call's range"))
        })
    }

    /// With BTF built from the DSL program at load ([`ProgramSpec::debug_info`]).
    pub fn with_debug_info(mut self) -> ProgramSpec {
        self.debug_info = true;
        self
    }

    /// With the program's BTF and `func_info` records.
    pub fn with_btf(mut self, btf: crate::btf_obj::ProgramBtf) -> ProgramSpec {
        self.btf = Some(btf);
        self
    }

    /// With an expected attach type.
    pub fn expected_attach_type(mut self, t: AttachType) -> ProgramSpec {
        self.expected_attach_type = Some(t);
        self
    }

    /// With a license.
    pub fn license(mut self, license: &str) -> ProgramSpec {
        self.license = license.to_string();
        self
    }

    /// With program flags.
    pub fn prog_flags(mut self, flags: u32) -> ProgramSpec {
        self.prog_flags = flags;
        self
    }

    /// Collect verifier statistics (see [`ProgramSpec::collect_stats`]).
    pub fn with_stats(mut self) -> ProgramSpec {
        self.collect_stats = true;
        self
    }
}

/// What the kernel says about a program (`struct bpf_prog_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    /// Kernel-wide id.
    pub id: u32,
    /// The name as the kernel keeps it.
    pub name: String,
    /// The kind.
    pub prog_type: ProgramType,
    /// The kernel's tag (a hash of the instructions, map fds zeroed).
    pub tag: [u8; 8],
    /// Instructions the verifier processed (0 before 5.16).
    pub verified_insns: u32,
    /// Length of the translated program in bytes.
    pub xlated_prog_len: u32,
    /// Length of the JITed program in bytes.
    pub jited_prog_len: u32,
    /// Ids of the maps the program uses.
    pub map_ids: Vec<u32>,
    /// Load time, ns since boot.
    pub load_time: u64,
    /// Whether the license is GPL-compatible.
    pub gpl_compatible: bool,
    /// The BTF id of the attach target, for BTF-typed programs (0: none, or before 6.0).
    pub attach_btf_id: u32,
    /// The id of the BTF object `attach_btf_id` is in (0: none, or before 6.0).
    pub attach_btf_obj_id: u32,
    /// The id of the program's own BTF (0: loaded without).
    pub btf_id: u32,
    /// How many `func_info` records the program was loaded with.
    pub nr_func_info: u32,
    /// How many `line_info` records the program was loaded with.
    pub nr_line_info: u32,
    /// Nanoseconds spent running, summed while BPF statistics were on ([`crate::stats`]).
    pub run_time_ns: u64,
    /// Runs counted while BPF statistics were on.
    pub run_cnt: u64,
}

impl ProgInfo {
    pub(crate) fn from_raw(r: &attr::ProgInfoRaw, map_ids: Vec<u32>) -> ProgInfo {
        ProgInfo {
            id: r.id,
            name: attr::name_str(&r.name),
            prog_type: ProgramType::from_raw(r.prog_type),
            tag: r.tag,
            verified_insns: r.verified_insns,
            xlated_prog_len: r.xlated_prog_len,
            jited_prog_len: r.jited_prog_len,
            map_ids,
            load_time: r.load_time,
            gpl_compatible: r.flags & 1 != 0,
            attach_btf_id: r.attach_btf_id,
            attach_btf_obj_id: r.attach_btf_obj_id,
            btf_id: r.btf_id,
            nr_func_info: r.nr_func_info,
            nr_line_info: r.nr_line_info,
            run_time_ns: r.run_time_ns,
            run_cnt: r.run_cnt,
        }
    }

    /// Reads the info of a program fd.
    pub fn of(fd: BorrowedFd<'_>) -> Result<ProgInfo> {
        let (raw, ids) = sys::prog_info(fd)?;
        Ok(ProgInfo::from_raw(&raw, ids))
    }

    /// The tag as bpftool prints it: 16 lowercase hex digits.
    pub fn tag_hex(&self) -> String {
        self.tag.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A loaded program. Dropping it closes the fd; the kernel unloads the program when nothing
/// else (a pin, an attachment, a link) holds it.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
    name: String,
    info: ProgInfo,
    stats: LoadStats,
}

impl Program {
    /// Loads `prog`, binding each map reference to the map of `maps` with that
    /// [`name`](Map::name). Maps loaded by index (`ld_map_idx`) are `maps` by position when
    /// [`ProgramSpec::fd_array`] is empty (see the module documentation).
    pub fn load(spec: &ProgramSpec, prog: &asm::Program, maps: &[&Map]) -> Result<Program> {
        let by_position: Vec<BorrowedFd<'_>> = maps.iter().map(|m| m.as_fd()).collect();
        load_program(
            spec,
            prog,
            |name| maps.iter().find(|m| m.name() == name).map(|m| m.as_fd()),
            Some(&by_position),
        )
    }

    /// Loads `prog`, binding map references (and [`FdSlot::Map`] entries of
    /// [`ProgramSpec::fd_array`]) by `fd_of(name)`.
    pub fn load_with<'m>(
        spec: &ProgramSpec,
        prog: &asm::Program,
        fd_of: impl FnMut(&str) -> Option<BorrowedFd<'m>>,
    ) -> Result<Program> {
        load_program(spec, prog, fd_of, None)
    }

    /// Wraps a program fd, reading its info.
    pub fn from_fd(fd: OwnedFd) -> Result<Program> {
        pin::expect_kind(fd.as_fd(), pin::Kind::Program, "file descriptor")?;
        let info = ProgInfo::of(fd.as_fd())?;
        Ok(Program {
            fd,
            name: info.name.clone(),
            stats: LoadStats {
                verified_insns: (info.verified_insns > 0).then_some(info.verified_insns),
                ..LoadStats::default()
            },
            info,
        })
    }

    /// Opens the program pinned at `path`.
    pub fn open_pinned(path: impl AsRef<Path>) -> Result<Program> {
        Program::from_fd(pin::open_fd(
            pin::Kind::Program,
            pin::Source::Pinned(path.as_ref()),
        )?)
    }

    /// Opens the program with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Program> {
        Program::from_fd(pin::open_fd(pin::Kind::Program, pin::Source::Id(id))?)
    }

    /// The name (as given when loaded, or the kernel's when opened).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel-wide id.
    pub fn id(&self) -> u32 {
        self.info.id
    }

    /// The kernel's tag.
    pub fn tag(&self) -> [u8; 8] {
        self.info.tag
    }

    /// The kind.
    pub fn prog_type(&self) -> ProgramType {
        self.info.prog_type
    }

    /// The info read when the program was loaded or opened.
    pub fn cached_info(&self) -> &ProgInfo {
        &self.info
    }

    /// The kernel's info, read now.
    pub fn info(&self) -> Result<ProgInfo> {
        ProgInfo::of(self.fd.as_fd())
    }

    /// The kernel's translated instructions (`xlated`), decoded: what the verifier left, with
    /// each map load showing the map's kernel id in `imm` (and a value offset in the second
    /// slot). Empty when the kernel does not show them to this process (no `CAP_SYS_ADMIN`,
    /// or `kernel.kptr_restrict`/lockdown rules).
    pub fn xlated(&self) -> Result<Vec<asm::Insn>> {
        let bytes = sys::prog_xlated(self.fd.as_fd())?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| asm::Insn::decode(&[c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }

    /// The verifier's statistics of the load (instruction count from the program info;
    /// states and time only with [`ProgramSpec::collect_stats`]).
    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }

    /// Another fd of the same program.
    pub fn try_clone(&self) -> Result<Program> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| Error::io("duplicating fd of program", &self.name, e))?;
        Ok(Program {
            fd,
            name: self.name.clone(),
            info: self.info.clone(),
            stats: self.stats.clone(),
        })
    }

    /// Pins the program at `path` (on a bpffs).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        pin::pin(self.fd.as_fd(), path.as_ref())
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The `fd_array` slots `insns` use: (slot, whether a map load wants it: a kfunc call if not,
/// slot index of the instruction).
fn fd_array_uses(insns: &[asm::Insn]) -> Vec<(usize, bool, usize)> {
    use uapi::isa::{BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE};
    let mut out = Vec::new();
    let mut i = 0;
    while i < insns.len() {
        let insn = &insns[i];
        if insn.is_lddw() {
            if matches!(insn.src, BPF_PSEUDO_MAP_IDX | BPF_PSEUDO_MAP_IDX_VALUE) {
                // A negative index is out of every array.
                out.push((usize::try_from(insn.imm).unwrap_or(usize::MAX), true, i));
            }
            i += 2;
            continue;
        }
        if insn.code == uapi::isa::BPF_JMP | uapi::isa::BPF_CALL
            && insn.src == BPF_PSEUDO_KFUNC_CALL
            && insn.off != 0
        {
            out.push((usize::try_from(insn.off).unwrap_or(usize::MAX), false, i));
        }
        i += 1;
    }
    out
}

/// Binds `prog`'s map references and `fd_array` and loads it. `by_position`: the maps of
/// [`Program::load`], the `fd_array` when the spec has none.
fn load_program<'m>(
    spec: &ProgramSpec,
    prog: &asm::Program,
    mut fd_of: impl FnMut(&str) -> Option<BorrowedFd<'m>>,
    by_position: Option<&[BorrowedFd<'m>]>,
) -> Result<Program> {
    check_name(&spec.name)?;
    let insns = prog.resolve_maps(|name| fd_of(name).map(|fd| fd.as_raw_fd()))?;
    let uses = fd_array_uses(&insns);
    let bad = |insn: usize, why: String| {
        Error::InvalidArgument(format!("instruction {insn} of {}: {why}", spec.name))
    };
    let mut fds: Vec<BorrowedFd<'_>> = Vec::new();
    if spec.fd_array.is_empty() {
        for &(slot, is_map, insn) in &uses {
            let why = match by_position {
                _ if !is_map => format!(
                    "a kfunc call in module BTF slot {slot} needs the BTF in \
                     ProgramSpec::fd_array (see ProgramSpec::kfunc_call)"
                ),
                None => format!(
                    "loads map {slot} by index, and ProgramSpec::fd_array is empty \
                     (Program::load_with binds maps by name only)"
                ),
                Some(maps) if slot >= maps.len() => format!(
                    "loads map {slot} by index, and {} map(s) were given",
                    maps.len()
                ),
                Some(_) => continue,
            };
            return Err(bad(insn, why));
        }
        if let (false, Some(maps)) = (uses.is_empty(), by_position) {
            fds.extend_from_slice(maps);
        }
    } else {
        for (i, entry) in spec.fd_array.iter().enumerate() {
            fds.push(match entry {
                FdSlot::Map(name) => fd_of(name).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "fd_array slot {i} names map {name}, which is not given"
                    ))
                })?,
                FdSlot::Btf(b) => b.as_fd(),
                FdSlot::Fd(f) => f.as_fd(),
            });
        }
        for &(slot, is_map, insn) in &uses {
            let what = if is_map { "map load" } else { "kfunc call" };
            match spec.fd_array.get(slot) {
                None => {
                    return Err(bad(
                        insn,
                        format!(
                            "{what} names fd_array slot {slot} of {}",
                            spec.fd_array.len()
                        ),
                    ))
                }
                Some(FdSlot::Btf(_)) if is_map => {
                    return Err(bad(insn, format!("map load names BTF slot {slot}")))
                }
                Some(FdSlot::Map(_)) if !is_map => {
                    return Err(bad(insn, format!("kfunc call names map slot {slot}")))
                }
                Some(_) => {}
            }
        }
    }
    let bytes = asm::encode(&insns);
    if spec.debug_info && spec.btf.is_none() {
        let d =
            bpfobj::debug_info::debug_info(prog, &format!("{}.dsl", spec.name)).map_err(|e| {
                Error::InvalidArgument(format!("building the BTF of {}: {e}", spec.name))
            })?;
        let btf = BtfObject::load(&d.btf)?;
        let spec = spec.clone().with_btf(crate::btf_obj::ProgramBtf {
            btf,
            func_info: d.func_info,
            line_info: d.line_info,
        });
        return load_bytes(&spec, &bytes, Some(prog), &fds);
    }
    load_bytes(spec, &bytes, Some(prog), &fds)
}

/// Whether an errno from a load is worth a second try with a log: anything but a missing
/// privilege or a bad pointer. E2BIG is worth one: besides an attribute the kernel does not
/// know, it is how the verifier says a program is too large or too complex ("BPF program is
/// too large"), and the log says which.
fn worth_a_log(errno: Option<i32>) -> bool {
    !matches!(errno, Some(libc::EPERM) | Some(libc::EFAULT))
}

/// Loads instruction bytes with `fd_array` `fds`; `source` supplies labels and disassembly
/// for a verifier error.
fn load_bytes(
    spec: &ProgramSpec,
    insns: &[u8],
    source: Option<&asm::Program>,
    fds: &[BorrowedFd<'_>],
) -> Result<Program> {
    env::raise_memlock();
    if spec.attach_prog.is_some() && spec.attach_btf_obj.is_some() {
        return Err(Error::InvalidArgument(
            "attach_prog and attach_btf_obj are exclusive (the kernel shares their word)".into(),
        ));
    }
    let license = CString::new(spec.license.as_str())
        .map_err(|_| Error::InvalidArgument("license contains a NUL byte".into()))?;
    let line_info: Vec<[u32; 4]> = spec.btf.as_ref().map_or_else(Vec::new, |b| {
        b.line_info
            .iter()
            .map(|l| [l.insn, l.file_name_off, l.line_off, l.line_col])
            .collect()
    });
    let req = sys::ProgLoad {
        prog_type: spec.prog_type.raw(),
        expected_attach_type: spec.expected_attach_type.map_or(0, AttachType::raw),
        name: &spec.name,
        license: &license,
        insns,
        prog_flags: spec.prog_flags,
        btf: spec
            .btf
            .as_ref()
            .map(|b| (b.btf.as_fd(), b.func_info.as_slice())),
        line_info: &line_info,
        attach_btf_id: spec.attach_btf_id.unwrap_or(0),
        attach_fd: spec
            .attach_prog
            .as_ref()
            .map(|p| p.as_fd())
            .or(spec.attach_btf_obj.as_ref().map(|b| b.as_fd())),
        fd_array: fds,
    };
    let mut stats_log = String::new();
    let first = if spec.collect_stats {
        let mut buf = vec![0u8; 16 * 1024];
        let r = sys::prog_load(&req, Some((&mut buf, consts::BPF_LOG_STATS)));
        stats_log = log_text(&buf);
        r
    } else {
        sys::prog_load(&req, None)
    };
    let fd = match first {
        Ok(fd) => fd,
        Err((e, _)) if !worth_a_log(e.errno()) => return Err(e.into()),
        Err((first_err, _)) => {
            let mut size = INITIAL_LOG_SIZE;
            loop {
                let mut buf = vec![0u8; size];
                match sys::prog_load(&req, Some((&mut buf, consts::BPF_LOG_LEVEL1))) {
                    // Loaded with a log after all (a transient failure).
                    Ok(fd) => break fd,
                    Err((e, true_size)) => {
                        let log = log_text(&buf);
                        if e.errno() == Some(libc::ENOSPC) && size < MAX_LOG_SIZE {
                            let want = (true_size as usize).max(size * 4);
                            size = want.min(MAX_LOG_SIZE);
                            continue;
                        }
                        if log.trim().is_empty() {
                            return Err(first_err.into());
                        }
                        let truncated = e.errno() == Some(libc::ENOSPC);
                        let errno = if truncated {
                            first_err.errno().unwrap_or(libc::EINVAL)
                        } else {
                            e.errno().unwrap_or(libc::EINVAL)
                        };
                        return Err(Box::new(VerifierError::new(
                            &spec.name, errno, log, truncated, source,
                        ))
                        .into());
                    }
                }
            }
        }
    };
    let info = ProgInfo::of(fd.as_fd())?;
    let mut stats = LoadStats::parse(&stats_log);
    if info.verified_insns > 0 {
        stats.verified_insns = Some(info.verified_insns);
    }
    Ok(Program {
        fd,
        name: spec.name.clone(),
        info,
        stats,
    })
}

fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
