//! Programs: load an [`asm::Program`] with its map references bound by name, open one from a
//! pin or an id, pin it, and read the kernel's [`ProgInfo`] (id, tag, verified instructions).
//!
//! Loading first tries without a verifier log. When the kernel refuses, the load is repeated
//! with a level-1 log that grows on ENOSPC (64 KiB up to [`MAX_LOG_SIZE`]), and the failure
//! becomes a [`VerifierError`] naming the reason and the instruction.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

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
            btf: None,
        }
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
    /// [`name`](Map::name).
    pub fn load(spec: &ProgramSpec, prog: &asm::Program, maps: &[&Map]) -> Result<Program> {
        Program::load_with(spec, prog, |name| {
            maps.iter().find(|m| m.name() == name).map(|m| m.as_fd())
        })
    }

    /// Loads `prog`, binding map references by `fd_of(name)`.
    pub fn load_with<'m>(
        spec: &ProgramSpec,
        prog: &asm::Program,
        mut fd_of: impl FnMut(&str) -> Option<BorrowedFd<'m>>,
    ) -> Result<Program> {
        check_name(&spec.name)?;
        let insns = prog.resolve_maps(|name| fd_of(name).map(|fd| fd.as_raw_fd()))?;
        let bytes = asm::encode(&insns);
        load_bytes(spec, &bytes, Some(prog))
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

/// Whether an errno from a load is worth a second try with a log: anything but a missing
/// privilege or a bad pointer. E2BIG is worth one: besides an attribute the kernel does not
/// know, it is how the verifier says a program is too large or too complex ("BPF program is
/// too large"), and the log says which.
fn worth_a_log(errno: Option<i32>) -> bool {
    !matches!(errno, Some(libc::EPERM) | Some(libc::EFAULT))
}

/// Loads instruction bytes; `source` supplies labels and disassembly for a verifier error.
pub(crate) fn load_bytes(
    spec: &ProgramSpec,
    insns: &[u8],
    source: Option<&asm::Program>,
) -> Result<Program> {
    env::raise_memlock();
    let license = CString::new(spec.license.as_str())
        .map_err(|_| Error::InvalidArgument("license contains a NUL byte".into()))?;
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
