//! Counts the frames a network device receives, by kind (IPv4, IPv6, ARP, other), with an XDP
//! program written in the DSL: it bounds-checks the Ethernet header, reads the ethertype,
//! adds one to that kind's slot of a per-CPU array and passes every frame on.
//!
//! ```text
//! cargo run -p loader --example xdp_counter -- eth0 10
//! ```
//!
//! prints the counts every second for 10 seconds, then detaches (an XDP link: closing it
//! detaches). Needs root (or `CAP_BPF` + `CAP_NET_ADMIN`) and Linux 5.9 for XDP links. The
//! loader's kernel tests attach it to one end of a veth pair in a network namespace of their
//! own and check the counts equal the frames sent (`loader/tests/examples.rs`).

use std::error::Error;

use asm::{Builder, Helper, Reg::*, Size};
use loader::attach::xdp::{self, XdpMode};
use loader::{Link, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};

/// The kinds counted, in slot order.
pub const KINDS: [&str; 4] = ["ipv4", "ipv6", "arp", "other"];

/// `XDP_PASS` of `enum xdp_action`.
const XDP_PASS: i32 = 2;

/// The program: `counts[kind(frame)] += 1` on this CPU's slot; `return XDP_PASS`. Frames too
/// short for an Ethernet header count as "other".
pub fn program() -> Result<asm::Program, asm::AsmError> {
    use uapi::ctx::xdp_md;
    let mut b = Builder::new();
    b.ldx(Size::W, R2, R1, xdp_md::DATA)
        .ldx(Size::W, R3, R1, xdp_md::DATA_END)
        .mov64(R6, 3) // other
        .mov64(R4, R2)
        .add64(R4, 14)
        .jgt(R4, R3, "count") // shorter than an Ethernet header
        .ldx(Size::H, R5, R2, 12)
        .be(R5, 16) // the ethertype, network order to host order
        .mov64(R6, 0)
        .jeq(R5, 0x0800, "count")
        .mov64(R6, 1)
        .jeq(R5, 0x86dd, "count")
        .mov64(R6, 2)
        .jeq(R5, 0x0806, "count")
        .mov64(R6, 3)
        .label("count")
        .stx(Size::W, R10, -4, R6)
        .mov64(R2, R10)
        .add64(R2, -4)
        .ld_map(R1, "xdp_counts")
        .call(Helper::MapLookupElem)
        .jeq(R0, 0, "pass")
        .ldx(Size::DW, R1, R0, 0)
        .add64(R1, 1)
        .stx(Size::DW, R0, 0, R1)
        .label("pass")
        .mov64(R0, XDP_PASS)
        .exit();
    b.build()
}

/// A counter attached to a device; dropping it detaches the program.
pub struct XdpCounter {
    map: Map,
    link: Option<Link>,
    _prog: Program,
}

/// Creates the map, loads the program and attaches it to device `ifindex` (the kernel picks
/// native or generic XDP).
pub fn attach(ifindex: u32) -> Result<XdpCounter, Box<dyn Error>> {
    let map = Map::create(&MapSpec::new(
        "xdp_counts",
        MapType::PerCpuArray,
        4,
        8,
        KINDS.len() as u32,
    ))?;
    let prog = Program::load(
        &ProgramSpec::new("xdp_counter", ProgramType::Xdp),
        &program()?,
        &[&map],
    )?;
    let link = xdp::attach(&prog, ifindex, XdpMode::Auto)?;
    Ok(XdpCounter {
        map,
        link: Some(link),
        _prog: prog,
    })
}

impl XdpCounter {
    /// The frames counted so far, per kind in [`KINDS`] order.
    pub fn counts(&self) -> Result<[u64; 4], Box<dyn Error>> {
        let mut out = [0u64; 4];
        for (slot, n) in out.iter_mut().enumerate() {
            let per_cpu = self
                .map
                .get_per_cpu(&(slot as u32).to_ne_bytes())?
                .ok_or("a slot is missing")?;
            for v in per_cpu {
                let arr: [u8; 8] = v.as_slice().try_into()?;
                *n += u64::from_ne_bytes(arr);
            }
        }
        Ok(out)
    }

    /// Detaches now, reporting an error (dropping detaches too, silently).
    pub fn detach(mut self) -> Result<(), Box<dyn Error>> {
        if let Some(l) = self.link.take() {
            l.detach()?;
        }
        Ok(())
    }
}

#[allow(dead_code)] // the kernel tests include this file as a module and call `attach`
fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let dev = args.next().ok_or("usage: xdp_counter <device> [seconds]")?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let name = std::ffi::CString::new(dev.clone())?;
    // SAFETY: if_nametoindex reads the NUL-terminated name, alive for the call.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no device {dev}").into());
    }
    let counter = attach(ifindex)?;
    for _ in 0..seconds {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let c = counter.counts()?;
        let line: Vec<String> = KINDS
            .iter()
            .zip(c)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("{dev}: {}", line.join(", "));
    }
    counter.detach()
}
