//! Loading a program into the harness (bind map names to fake handles, static check, rbpf's
//! own verifier) and running it on a context image with the emulated helpers.
//!
//! # rbpf's memory model and how the harness handles it
//! rbpf lets a program touch its 512-byte stack, the context buffer ("mbuff"), the data
//! buffer ("mem") and ranges registered with `register_allowed_memory`, and nothing else.
//! Map values live in one fixed arena per map, allocated when the map is created, and every
//! arena is registered before each run, so pointers `bpf_map_lookup_elem` returns are
//! usable. rbpf checks only the *first* byte of an access against registered ranges, so the
//! arenas carry 8 bytes of padding (no access can leave memory the harness owns) and the
//! static check (`check`) bounds every map-value access by `value_size`, as the kernel does.
//! rbpf does not care about `lddw`'s source field: a `BPF_PSEUDO_MAP_FD` load simply yields
//! `imm`, so the handles are loaded as they are, with the pseudo source kept.

use asm::{Insn, Program};

use crate::check::{self, CheckError, Report};
use crate::kernel::{self, ProgKind, Run, HANDLE_BASE};
use crate::maps::{MapSpec, SockId};

/// Why the harness refused or failed to run a program.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A map name has no emulated map.
    #[error("binding maps: {0}")]
    Asm(#[from] asm::AsmError),
    /// The static check refused the program.
    #[error("static check: {0}")]
    Check(#[from] CheckError),
    /// rbpf refused or aborted the program.
    #[error("rbpf: {0}")]
    Rbpf(String),
    /// A helper saw a misuse the kernel would have refused.
    #[error("helper misuse: {0:?}")]
    Violation(Vec<String>),
}

/// A program ready to run.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its type.
    pub kind: ProgKind,
    /// Instructions with map handles bound.
    pub insns: Vec<Insn>,
    bytes: Vec<u8>,
    /// What the static check found.
    pub report: Report,
}

/// The result of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// `r0` at exit.
    pub ret: u64,
    /// `bpf_msg_redirect_hash`'s last successful choice: (socket, `BPF_F_INGRESS`).
    pub redirect: Option<(SockId, bool)>,
    /// Helper calls made: (id, return value).
    pub calls: Vec<(u32, u64)>,
}

/// Binds `prog`'s map names to the handles of `maps` (handle = `HANDLE_BASE` + index).
pub fn bind(prog: &Program, maps: &[MapSpec]) -> Result<Vec<Insn>, asm::AsmError> {
    prog.resolve_maps(|name| {
        maps.iter()
            .position(|m| m.name == name)
            .map(|i| HANDLE_BASE + i as i32)
    })
}

/// Binds, checks and hands `prog` to rbpf's verifier.
pub fn load(prog: &Program, kind: ProgKind, maps: &[MapSpec]) -> Result<Loaded, HarnessError> {
    let insns = bind(prog, maps)?;
    load_insns(insns, kind, maps)
}

/// Like [`load`] for already bound instructions.
pub fn load_insns(
    insns: Vec<Insn>,
    kind: ProgKind,
    maps: &[MapSpec],
) -> Result<Loaded, HarnessError> {
    let report = check::check(&insns, kind, maps)?;
    let bytes = asm::encode(&insns);
    rbpf::EbpfVmMbuff::new(Some(&bytes)).map_err(|e| HarnessError::Rbpf(e.to_string()))?;
    Ok(Loaded {
        kind,
        insns,
        bytes,
        report,
    })
}

impl Loaded {
    /// Runs on socket `sock` with context image `ctx` (and `data` as the packet/message
    /// buffer), on a CPU the kernel picks. `op` is the sock_ops callback (0 for sk_msg).
    pub fn run(
        &self,
        sock: SockId,
        op: u32,
        ctx: &mut [u8],
        data: &[u8],
    ) -> Result<RunResult, HarnessError> {
        let mut vm = rbpf::EbpfVmMbuff::new(Some(&self.bytes))
            .map_err(|e| HarnessError::Rbpf(e.to_string()))?;
        for (id, f) in kernel::helpers() {
            vm.register_helper(id, f)
                .map_err(|e| HarnessError::Rbpf(e.to_string()))?;
        }
        let ranges: Vec<_> = kernel::with_kernel(|k| {
            k.pick_cpu();
            k.calls.clear();
            k.violations.clear();
            k.run = Some(Run {
                ctx_addr: ctx.as_ptr() as u64,
                sock,
                kind: self.kind,
                op,
                redirect: None,
            });
            k.maps
                .iter()
                .flat_map(|m| m.arena.ranges())
                .filter(|r| !r.is_empty())
                .collect()
        });
        for r in ranges {
            vm.register_allowed_memory(r);
        }
        let res = vm.execute_program(data, ctx);
        let (run, violations, calls) = kernel::with_kernel(|k| {
            (
                k.end_run(),
                std::mem::take(&mut k.violations),
                std::mem::take(&mut k.calls),
            )
        });
        let ret = res.map_err(|e| HarnessError::Rbpf(e.to_string()))?;
        if !violations.is_empty() {
            return Err(HarnessError::Violation(violations));
        }
        Ok(RunResult {
            ret,
            redirect: run.and_then(|r| r.redirect),
            calls,
        })
    }
}
