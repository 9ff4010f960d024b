//! Kernel test of [`loader::stats`]: with run-time statistics on, a program run through
//! `BPF_PROG_TEST_RUN` shows its runs and run time in `bpf_prog_info`. Nothing is attached.

use asm::{Builder, Reg::*};
use loader::test_run::TestRun;
use loader::testing::kernel_or_skip;
use loader::{Program, ProgramSpec, ProgramType};

#[test]
fn run_time_statistics_count_test_runs() {
    if !kernel_or_skip("run_time_statistics_count_test_runs") {
        return;
    }
    let mut b = Builder::new();
    b.mov64(R0, 2).exit(); // XDP_PASS
    let prog = Program::load(
        &ProgramSpec::new("stats_pass", ProgramType::Xdp),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    let guard = loader::stats::enable_run_time().unwrap();
    assert!(!guard.method().is_empty());
    let before = prog.info().unwrap();
    let frame = [0u8; 64];
    prog.test_run(&TestRun {
        data_in: &frame,
        repeat: 50,
        ..TestRun::default()
    })
    .unwrap();
    let after = prog.info().unwrap();
    let runs = after.run_cnt - before.run_cnt;
    assert!(runs >= 50, "{runs} runs counted");
    assert!(after.run_time_ns >= before.run_time_ns);
    let ns = loader::stats::ns_per_run(
        (before.run_time_ns, before.run_cnt),
        (after.run_time_ns, after.run_cnt),
    );
    assert!(ns.is_some());
    drop(guard);
}
