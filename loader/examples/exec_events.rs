//! Prints every program started on the machine (like libbpf-bootstrap's `bootstrap`): a
//! tracepoint program on `sched/sched_process_exec`, written in the DSL, sends the process id
//! and command name of each exec through a ring buffer, and user space reads the events.
//!
//! ```text
//! cargo run -p loader --example exec_events -- 10
//! ```
//!
//! prints events for 10 seconds. Needs root, tracefs mounted (`mount -t tracefs tracefs
//! /sys/kernel/tracing`), Linux 5.8 for the ring buffer (5.15 for perf links; older kernels
//! attach through the perf event ioctl, which [`loader::attach::perf`] falls back to). The
//! loader's kernel tests start a child process and check its event arrives
//! (`loader/tests/examples.rs`).

use std::error::Error;
use std::time::Duration;

use asm::{Builder, Helper, Reg::*, Size};
use loader::attach::perf::{self, PerfAttachment};
use loader::ringbuf::RingBuf;
use loader::{Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};

/// The size of one event: `u32 pid` then `char comm[16]`.
pub const EVENT_SIZE: usize = 20;

/// One exec as the program reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The process id (the kernel's tgid).
    pub pid: u32,
    /// The command name the process now has (at most 15 bytes).
    pub comm: String,
}

impl Event {
    /// Decodes a record; `None` when it is not [`EVENT_SIZE`] bytes.
    pub fn parse(b: &[u8]) -> Option<Event> {
        if b.len() != EVENT_SIZE {
            return None;
        }
        let pid = u32::from_ne_bytes(b[..4].try_into().ok()?);
        let comm = &b[4..];
        let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
        Some(Event {
            pid,
            comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
        })
    }
}

/// The program: `event = { pid, comm }` on the stack, `bpf_ringbuf_output(events, &event,
/// 20, 0)`, return 0.
pub fn program() -> Result<asm::Program, asm::AsmError> {
    let mut b = Builder::new();
    b.call(Helper::GetCurrentPidTgid)
        .rsh64(R0, 32) // the tgid is the upper half
        .stx(Size::W, R10, -24, R0)
        .mov64(R1, R10)
        .add64(R1, -20)
        .mov64(R2, 16)
        .call(Helper::GetCurrentComm)
        .ld_map(R1, "exec_events")
        .mov64(R2, R10)
        .add64(R2, -24)
        .mov64(R3, EVENT_SIZE as i32)
        .mov64(R4, 0)
        .call(Helper::RingbufOutput)
        .mov64(R0, 0)
        .exit();
    b.build()
}

/// The program attached, and the reader of its events; dropping it detaches.
pub struct ExecEvents {
    ring: RingBuf,
    attachment: Option<PerfAttachment>,
    _map: Map,
    _prog: Program,
}

/// Creates a 256 KiB ring buffer, loads the program and attaches it to the tracepoint.
pub fn attach() -> Result<ExecEvents, Box<dyn Error>> {
    let map = Map::create(&MapSpec::new(
        "exec_events",
        MapType::RingBuf,
        0,
        0,
        256 * 1024,
    ))?;
    let prog = Program::load(
        &ProgramSpec::new("exec_events", ProgramType::Tracepoint),
        &program()?,
        &[&map],
    )?;
    let attachment = perf::attach_tracepoint(&prog, "sched", "sched_process_exec")?;
    let ring = RingBuf::new(&map)?;
    Ok(ExecEvents {
        ring,
        attachment: Some(attachment),
        _map: map,
        _prog: prog,
    })
}

impl ExecEvents {
    /// The events available now, waiting up to `timeout` for the first one.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Event>, Box<dyn Error>> {
        let mut out = Vec::new();
        self.drain(&mut out);
        if out.is_empty() {
            self.ring.wait(Some(timeout))?;
            self.drain(&mut out);
        }
        Ok(out)
    }

    fn drain(&mut self, out: &mut Vec<Event>) {
        while let Some(rec) = self.ring.next() {
            if let Some(e) = Event::parse(&rec) {
                out.push(e);
            }
        }
    }

    /// Detaches now, reporting an error (dropping detaches too, silently).
    pub fn detach(mut self) -> Result<(), Box<dyn Error>> {
        if let Some(a) = self.attachment.take() {
            a.detach()?;
        }
        Ok(())
    }
}

impl Drop for ExecEvents {
    fn drop(&mut self) {
        if let Some(a) = self.attachment.take() {
            let _ = a.detach();
        }
    }
}

#[allow(dead_code)] // the kernel tests include this file as a module and call `attach`
fn main() -> Result<(), Box<dyn Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10);
    let mut events = attach()?;
    let end = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < end {
        for e in events.poll(Duration::from_millis(200))? {
            println!("exec pid {} {}", e.pid, e.comm);
        }
    }
    events.detach()
}
