//! The benchmark's command: runs it ([`crate::run`]), prints the table and the bypass check on
//! stdout, and writes the `--json` and `--plot` files.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{BenchArgs, BenchScenario};
use crate::report::Results;
use crate::run as bench;
use tcpbypass::json::Json;
use tcpbypass::log;

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn scenario_name(s: BenchScenario) -> &'static str {
    match s {
        BenchScenario::Loopback => "loopback",
        BenchScenario::Netns => "netns",
    }
}

/// `tcpbypass-bench`: the output and exit code of a benchmark run.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let run = bench::run(args)?;
    let kernel = kernel_release();
    let command: Vec<String> = std::env::args().collect();
    println!(
        "tcpbypass bench: scenario {}, kernel {kernel}, {} CPUs usable, {} rounds of {} ms per measurement, {:.0} s",
        scenario_name(args.scenario),
        run.cpus.len(),
        run.plan.rounds,
        run.plan.duration.as_millis(),
        run.elapsed.as_secs_f64()
    );
    if let (Some(a), Some(b)) = run.load {
        println!("load average (1 min) before/after: {a:.2}/{b:.2}");
    }
    print!("{}", run.results.table());
    println!();
    print!("{}", run.results.check_summary());
    if let Some((so, sm)) = &run.compared {
        println!(
            "compare mode: sock_ops {so}, sk_msg {sm} (--compare-objects), in their own cgroup."
        );
    }
    match run.stats {
        Some(how) => println!(
            "BPF statistics were on for the whole run ({how}): every program run paid two clock reads, in every bypass, sockhash-only and compare number."
        ),
        None => println!("BPF statistics were off: no ns/run."),
    }
    let problems = run.results.problems();
    for p in &problems {
        log::warn(p);
    }
    if let Some(path) = &args.json {
        let doc = json_doc(args, &run, &kernel, &command, &problems);
        std::fs::write(path, doc.render() + "\n")
            .with_context(|| tcpbypass::commands::at(path, "writing"))?;
        log::info(&format!("wrote {}", path.display()));
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "tcpbypass bench: {} scenario, kernel {kernel}, {} CPUs",
            scenario_name(args.scenario),
            run.cpus.len()
        );
        std::fs::write(path, run.results.svg(&title))
            .with_context(|| tcpbypass::commands::at(path, "writing"))?;
        log::info(&format!("wrote {}", path.display()));
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        log::error(
            "some bypass runs did not go through the bypass: their numbers are not what they claim",
        );
        Ok(ExitCode::from(tcpbypass::exit::RUNTIME))
    }
}

fn json_doc(
    args: &BenchArgs,
    run: &bench::Run,
    kernel: &str,
    command: &[String],
    problems: &[String],
) -> Json {
    let results: &Results = &run.results;
    Json::obj()
        .with("schema", 1u32)
        .with("command", command.join(" "))
        .with("kernel", kernel)
        .with("cpus", run.cpus.len())
        .with("scenario", scenario_name(args.scenario))
        .with("rounds", run.plan.rounds)
        .with("duration_ms", run.plan.duration.as_millis() as u64)
        .with("warmup_ms", run.plan.warmup.as_millis() as u64)
        .with("stream_nodelay", args.nodelay)
        .with("churn_size", args.churn_size)
        .with("bpf_stats", run.stats)
        .with(
            "compared",
            run.compared.as_ref().map(|(so, sm)| {
                Json::obj()
                    .with("sock_ops", so.as_str())
                    .with("sk_msg", sm.as_str())
            }),
        )
        .with("elapsed_ms", run.elapsed.as_millis() as u64)
        .with(
            "load_average_x100",
            Json::Arr(
                [run.load.0, run.load.1]
                    .iter()
                    .map(|l| l.map(|v| Json::U64((v * 100.0).round() as u64)).unwrap_or(Json::Null))
                    .collect(),
            ),
        )
        .with(
            "notes",
            "latency is one way (half the median/p99 round trip, TCP_NODELAY); stream throughput is measured at the receiver, which reads up to 64 KiB per call; bypass_counters are the bypass counters' movement during the runs (sockhash-only: its own load, sk_msg detached); churn counts connect/request/response/close cycles of the client after the warm-up; bpf_stats is the kernel's run time and run count of the mode's sock_ops and sk_msg over the cell's runs (statistics on for the whole run, see the top-level bpf_stats)",
        )
        .with("results", results.json())
        .with(
            "problems",
            Json::Arr(problems.iter().map(|p| Json::Str(p.clone())).collect()),
        )
}
