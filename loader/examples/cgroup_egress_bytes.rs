//! Counts the bytes a cgroup's sockets send: a `cgroup_skb` egress program, written in the DSL,
//! adds each packet's length to a one-slot per-CPU array and lets the packet go. Per-CPU
//! slots need no atomic instruction (each CPU adds to its own), and the reader sums them.
//!
//! ```text
//! cargo run -p loader --example cgroup_egress_bytes -- /sys/fs/cgroup/my.slice 10
//! ```
//!
//! prints the count every second for 10 seconds, then detaches. Needs root (or
//! `CAP_BPF` + `CAP_NET_ADMIN`) and a cgroup v2 directory; never point it at the root cgroup of
//! a machine you care about. The loader's kernel tests run [`attach`] on a temporary child
//! cgroup and check the count against the bytes a child process sent (`loader/tests/examples.rs`);
//! `verifier-tests/tests/examples.rs` proves [`program`] under rbpf first.

use std::error::Error;
use std::path::Path;

use asm::{Builder, Helper, Reg::*, Size};
use loader::{cgroup, AttachMode, AttachType, CgroupAttachment, Map, MapSpec, MapType};
use loader::{Program, ProgramSpec, ProgramType};

/// The program: `egress_bytes[0] += skb->len` on this CPU's slot; `return 1` (pass).
pub fn program() -> Result<asm::Program, asm::AsmError> {
    let mut b = Builder::new();
    b.ldx(Size::W, R6, R1, uapi::ctx::__sk_buff::LEN)
        // key = 0, on the stack
        .st(Size::W, R10, -4, 0)
        .mov64(R2, R10)
        .add64(R2, -4)
        .ld_map(R1, "egress_bytes")
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, "pass")
        .ldx(Size::DW, R1, R0, 0)
        .add64(R1, R6)
        .stx(Size::DW, R0, 0, R1)
        .label("pass")
        .mov64(R0, 1)
        .exit();
    b.build()
}

/// A counter attached to a cgroup; dropping it detaches the program.
pub struct EgressCounter {
    map: Map,
    attachment: Option<CgroupAttachment>,
    _prog: Program,
}

/// Creates the map, loads the program and attaches it to `cgroup` on egress.
pub fn attach(cgroup: &Path) -> Result<EgressCounter, Box<dyn Error>> {
    let map = Map::create(&MapSpec::new("egress_bytes", MapType::PerCpuArray, 4, 8, 1))?;
    let prog = Program::load(
        &ProgramSpec::new("egress_bytes", ProgramType::CgroupSkb)
            .expected_attach_type(AttachType::CgroupInetEgress),
        &program()?,
        &[&map],
    )?;
    let attachment = cgroup::attach(
        &prog,
        cgroup,
        AttachType::CgroupInetEgress,
        AttachMode::Auto,
    )?;
    Ok(EgressCounter {
        map,
        attachment: Some(attachment),
        _prog: prog,
    })
}

impl EgressCounter {
    /// The bytes counted so far (IP packets: payload plus headers).
    pub fn bytes(&self) -> Result<u64, Box<dyn Error>> {
        let per_cpu = self
            .map
            .get_per_cpu(&0u32.to_ne_bytes())?
            .ok_or("slot 0 is missing")?;
        let mut sum = 0u64;
        for v in per_cpu {
            let arr: [u8; 8] = v.as_slice().try_into()?;
            sum += u64::from_ne_bytes(arr);
        }
        Ok(sum)
    }

    /// Detaches now, reporting an error (dropping detaches too, silently).
    pub fn detach(mut self) -> Result<(), Box<dyn Error>> {
        if let Some(a) = self.attachment.take() {
            a.detach()?;
        }
        Ok(())
    }
}

impl Drop for EgressCounter {
    fn drop(&mut self) {
        if let Some(a) = self.attachment.take() {
            let _ = a.detach();
        }
    }
}

#[allow(dead_code)] // the kernel tests include this file as a module and call `attach`
fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let cgroup = args
        .next()
        .ok_or("usage: cgroup_egress_bytes <cgroup v2 directory> [seconds]")?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let counter = attach(Path::new(&cgroup))?;
    for _ in 0..seconds {
        std::thread::sleep(std::time::Duration::from_secs(1));
        println!("{} bytes sent by {cgroup}", counter.bytes()?);
    }
    counter.detach()
}
