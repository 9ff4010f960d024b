//! Smoke test of `tcpbypass-bench`: the options parse, and (when the kernel allows) a tiny run
//! of one size produces every cell (latency, stream and churn; tcp, bypass, sockhash-only and
//! unix), proves the bypass carried its runs and the sockhash-only runs went through the
//! sockhash unredirected, and leaves nothing behind (both loads' pins, the cgroups). It asserts structure, never speed: performance goals live in the benchmark's
//! printed numbers (docs/benchmarks.md), not in tests.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(loader::testing::runtime_path(
        "CARGO_BIN_EXE_tcpbypass-bench",
        env!("CARGO_BIN_EXE_tcpbypass-bench"),
    ))
}

#[test]
fn bench_options_parse_and_bad_values_are_usage_errors() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--quick",
        "--cpu",
        "--sizes",
        "--scenario",
        "--json",
        "--plot",
        "--modes",
        "--churn-size",
        "--no-bpf-stats",
        "--compare-objects",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
    for bad in [
        &["--sizes", "0"][..],
        &["--cpu", "both"],
        &["--scenario", "moon"],
        &["--rounds", "0"],
        &["--modes", "udp"],
        &["--tests", "churn,juggle"],
    ] {
        let out = bin().args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// The numbers after each `"key":` in a compact JSON text.
fn values<'a>(json: &'a str, key: &str) -> Vec<&'a str> {
    let pat = format!("\"{key}\":");
    json.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &json[i + pat.len()..];
            let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn tiny_bench_run_measures_every_mode_and_cleans_up() {
    if !loader::testing::kernel_or_skip("tiny_bench_run_measures_every_mode_and_cleans_up") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tcpbypass-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("b.json"), dir.join("b.svg"));
    let child = bin()
        .args([
            "-q", "--sizes", "512", "--time", "3", "--rounds", "1", "--cpu", "same",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(&svg)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {:?}\n{stdout}",
        out.status
    );

    // Nothing left: the cgroups and the pin directory are named after the bench's pid.
    let cg = loader::env::cgroup2_mount().unwrap();
    assert!(!cg.join(format!("tcpbypass-bench-{pid}")).exists());
    assert!(!Path::new(&format!("/sys/fs/bpf/tcpbypass-bench-{pid}")).exists());
    assert!(!Path::new(&format!("/sys/fs/bpf/tcpbypass-bench-{pid}-sockhash-only")).exists());

    // The table has every test and ratios.
    assert!(stdout.contains("Ping-pong latency"), "{stdout}");
    assert!(stdout.contains("Stream throughput"), "{stdout}");
    assert!(stdout.contains("Connection churn"), "{stdout}");
    assert!(stdout.contains("512 B"), "{stdout}");
    assert!(stdout.contains("Bypass check: 3 bypass runs"), "{stdout}");
    assert!(stdout.contains("Sockhash-only check: 3 runs"), "{stdout}");

    let j = std::fs::read_to_string(&json).unwrap();
    assert_eq!(values(&j, "schema"), ["1"]);
    let modes = values(&j, "mode");
    // Latency and stream in four modes, churn in three (no Unix pair).
    assert_eq!(modes.len(), 4 + 4 + 3, "{j}");
    for (m, n) in [
        ("\"tcp\"", 3),
        ("\"bypass\"", 3),
        ("\"sockhash-only\"", 3),
        ("\"unix\"", 2),
    ] {
        assert_eq!(modes.iter().filter(|v| *v == &m).count(), n, "{m} in {j}");
    }
    // Every latency cell has a median, every stream cell a throughput, every churn cell a
    // rate.
    assert_eq!(values(&j, "one_way_median").len(), 4);
    assert!(values(&j, "one_way_median")
        .iter()
        .all(|v| v.parse::<u64>().unwrap() > 0));
    assert!(values(&j, "median").iter().all(|v| *v != "null"));
    let rates = values(&j, "conns_per_s_median");
    assert_eq!(rates.len(), 3, "{j}");
    assert!(rates.iter().all(|v| v.parse::<u64>().unwrap() > 0), "{j}");
    // Bypass runs were carried by the bypass (>= 99% of bytes; churn is reported, not held
    // to it); TCP cells have no share. The 512-byte stream may instead have been moved to TCP
    // by the small-write policy (loopback, writes under 4 KiB, a reader behind): such a run
    // is reported in runs_fallen_back and has no share, never a problem. The latency cell is
    // always carried: the policy never acts on ping-pong.
    let carried: Vec<u64> = values(&j, "min_carried_permille")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let fallen: u64 = values(&j, "runs_fallen_back")
        .iter()
        .map(|v| v.parse::<u64>().unwrap())
        .sum();
    assert!(
        !carried.is_empty() && carried.len() as u64 + fallen == 2,
        "{j}"
    );
    assert!(carried.iter().all(|&c| c >= 990), "{carried:?}");
    // Sockhash-only: sockets went into the sockhash (its cells come after the bypass's in
    // each test), nothing was redirected; the problems list would say otherwise.
    assert!(values(&j, "inserted_sockets")
        .iter()
        .any(|v| v.parse::<u64>().unwrap() > 0));
    assert!(j.contains("\"problems\":[]"), "{j}");
    // Kernel BPF statistics: ns/run of sock_ops in every bypass and sockhash-only cell (when
    // the kernel has them), and sk_msg never ran where it is not attached.
    if values(&j, "bpf_stats")[0] != "null" {
        assert_eq!(j.matches("\"sock_ops\":{").count(), 6, "{j}");
        assert!(stdout.contains("BPF program cost"), "{stdout}");
    }

    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_objects_measure_another_pair_beside_ours() {
    if !loader::testing::kernel_or_skip("compare_objects_measure_another_pair_beside_ours") {
        return;
    }
    // The clang-built miniature bypass of the loader's corpus (sockops + sk_msg, one object).
    let obj = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("../loader/tests/corpus/reference_like.o");
    if !obj.exists() {
        eprintln!(
            "SKIP compare_objects_measure_another_pair_beside_ours: {} is not here",
            obj.display()
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("tcpbypass-bench-cmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("c.json");
    let child = bin()
        .args([
            "-q",
            "--sizes",
            "64",
            "--tests",
            "latency,churn",
            "--modes",
            "tcp",
            "--time",
            "2",
            "--rounds",
            "1",
            "--cpu",
            "same",
        ])
        .arg("--compare-objects")
        .arg(&obj)
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {:?}\n{stdout}",
        out.status
    );
    let cg = loader::env::cgroup2_mount().unwrap();
    assert!(!cg.join(format!("tcpbypass-bench-{pid}")).exists());
    assert!(stdout.contains("Compared objects"), "{stdout}");
    assert!(
        stdout.contains("reference_like.o:track_established"),
        "{stdout}"
    );
    let j = std::fs::read_to_string(&json).unwrap();
    let modes = values(&j, "mode");
    assert_eq!(modes.len(), 4, "{j}");
    assert_eq!(
        modes.iter().filter(|m| **m == "\"compare\"").count(),
        2,
        "{j}"
    );
    assert_eq!(values(&j, "conns_per_s_median").len(), 2, "{j}");
    // With statistics on, the compared sock_ops ran in both of its cells.
    if values(&j, "bpf_stats")[0] != "null" {
        let runs: Vec<u64> = values(&j, "run_cnt")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(runs.len(), 4, "{j}"); // sock_ops and sk_msg of two cells
        assert!(runs[0] > 0 && runs[2] > 0, "{j}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
