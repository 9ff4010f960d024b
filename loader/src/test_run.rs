//! `BPF_PROG_TEST_RUN` (also called `BPF_PROG_RUN`): run a loaded program once or `repeat`
//! times on given input, without attaching it anywhere, and get its return value, its output
//! packet and context, and the average run time.
//!
//! Which program types can be run, and since when: socket filter, sched_cls/act, XDP, and the
//! other skb types (Linux 4.12); flow dissector (5.0); a context in and out (`ctx_in`, 5.2
//! for skb programs, 5.10 for XDP); raw tracepoints (5.10, with `BPF_F_TEST_RUN_ON_CPU`);
//! `BPF_PROG_TYPE_SYSCALL` (5.14); sk_lookup (5.15). Others say ENOTSUPP (524) or EINVAL.
//!
//! ```no_run
//! # fn f(prog: &loader::Program) -> loader::Result<()> {
//! use loader::test_run::TestRun;
//! let frame = [0u8; 64];
//! let out = prog.test_run(&TestRun { data_in: &frame, data_out_size: 64, ..TestRun::default() })?;
//! println!("XDP verdict {}, {} bytes out", out.retval, out.data_out.len());
//! # Ok(()) }
//! ```

use std::os::fd::AsFd;

use crate::error::{Error, Result};
use crate::program::Program;
use crate::sys;

/// `BPF_F_TEST_RUN_ON_CPU`: run on [`TestRun::cpu`] (raw tracepoint programs, Linux 5.10).
pub const F_TEST_RUN_ON_CPU: u32 = sys::consts::BPF_F_TEST_RUN_ON_CPU;

/// What to run a program on.
#[derive(Debug, Clone, Copy, Default)]
pub struct TestRun<'a> {
    /// The packet (for skb and XDP programs at least an Ethernet header, 14 bytes), or the
    /// `ctx` bytes of a syscall program go in [`TestRun::ctx_in`] instead. Empty for none.
    pub data_in: &'a [u8],
    /// Room for the output packet; 0 for none.
    pub data_out_size: usize,
    /// The context (`struct __sk_buff`, `struct xdp_md`, a raw tracepoint's arguments, a
    /// syscall program's argument struct). Empty for none.
    pub ctx_in: &'a [u8],
    /// Room for the output context; 0 for none.
    pub ctx_out_size: usize,
    /// How many times to run (0 and 1 both mean once); the duration is the average.
    pub repeat: u32,
    /// `BPF_F_TEST_RUN_*` flags, e.g. [`F_TEST_RUN_ON_CPU`].
    pub flags: u32,
    /// The CPU for [`F_TEST_RUN_ON_CPU`].
    pub cpu: u32,
}

/// What a test run gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (e.g. the XDP action, the socket filter's length).
    pub retval: u32,
    /// The output packet, as long as the kernel says it is.
    pub data_out: Vec<u8>,
    /// The output context, as long as the kernel says it is.
    pub ctx_out: Vec<u8>,
    /// Average time of one run in nanoseconds, as the kernel measured it.
    pub duration_ns: u32,
}

impl Program {
    /// Runs the program with `BPF_PROG_TEST_RUN` (see the [module docs](crate::test_run) for
    /// the program types and kernel versions). An output buffer too small for what the
    /// program produced is an error (ENOSPC).
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunResult> {
        let mut data_out = vec![0u8; run.data_out_size];
        let mut ctx_out = vec![0u8; run.ctx_out_size];
        let r = sys::prog_test_run(
            self.as_fd(),
            sys::TestRun {
                data_in: run.data_in,
                data_out: &mut data_out,
                ctx_in: run.ctx_in,
                ctx_out: &mut ctx_out,
                repeat: run.repeat,
                flags: run.flags,
                cpu: run.cpu,
            },
        )
        .map_err(|e| Error::Object {
            object: format!("test run of program {}", self.name()),
            source: Box::new(e.into()),
        })?;
        data_out.truncate(r.data_size_out as usize);
        ctx_out.truncate(r.ctx_size_out as usize);
        Ok(TestRunResult {
            retval: r.retval,
            data_out,
            ctx_out,
            duration_ns: r.duration,
        })
    }
}
