//! `tcpbypass probe`: what this kernel offers the bypass, found by trying (never by version
//! number); exits non-zero, saying why, when the bypass cannot work here.

use std::process::ExitCode;

use anyhow::Result;
use loader::{Feature, MapType, ProgramType};

use crate::cli::ProbeArgs;
use crate::commands::require_bpf;
use crate::exit;
use crate::json::Json;

/// One probed feature: what it is, whether the bypass needs it, what lacking it means.
struct Row {
    feature: Feature,
    key: &'static str,
    required: bool,
    without: &'static str,
}

fn rows() -> Vec<Row> {
    use asm::Helper::GetNetnsCookie;
    vec![
        Row {
            feature: Feature::ProgramType(ProgramType::SockOps),
            key: "prog_sock_ops",
            required: true,
            without: "no way to see connections being established",
        },
        Row {
            feature: Feature::ProgramType(ProgramType::SkMsg),
            key: "prog_sk_msg",
            required: true,
            without: "no way to redirect messages",
        },
        Row {
            feature: Feature::MapType(MapType::SockHash),
            key: "map_sockhash",
            required: true,
            without: "no socket map to redirect into",
        },
        Row {
            feature: Feature::MapType(MapType::LpmTrie),
            key: "map_lpm_trie",
            required: true,
            without: "no prefix set",
        },
        Row {
            feature: Feature::MapType(MapType::PerCpuArray),
            key: "map_percpu_array",
            required: true,
            without: "no counters",
        },
        Row {
            feature: Feature::MapType(MapType::Hash),
            key: "map_hash",
            required: true,
            without: "no pairing state",
        },
        Row {
            feature: Feature::CgroupLink,
            key: "cgroup_link",
            required: false,
            without: "sock_ops is attached with BPF_PROG_ATTACH instead of a pinned bpf_link",
        },
        Row {
            feature: Feature::SockmapLink,
            key: "sockmap_link",
            required: false,
            without: "sk_msg is attached with BPF_PROG_ATTACH (the default anyway)",
        },
        Row {
            feature: Feature::Helper(ProgramType::SockOps, GetNetnsCookie),
            key: "netns_cookie_sock_ops",
            required: false,
            without: "loopback connections are not bypassed",
        },
        Row {
            feature: Feature::Helper(ProgramType::SkMsg, GetNetnsCookie),
            key: "netns_cookie_sk_msg",
            required: false,
            without: "loopback connections are not bypassed",
        },
    ]
}

/// `tcpbypass probe`.
pub fn run(args: &ProbeArgs) -> Result<ExitCode> {
    require_bpf()?;
    let mut missing_required = Vec::new();
    let mut j = Json::obj();
    let mut lines = Vec::new();
    for r in rows() {
        let result = loader::features::probe(r.feature);
        let (text, value) = match &result {
            Ok(true) => ("yes".to_string(), Json::Bool(true)),
            Ok(false) => (format!("NO — {}", r.without), Json::Bool(false)),
            Err(e) => (format!("unknown — {e}"), Json::Null),
        };
        if r.required && !matches!(result, Ok(true)) {
            missing_required.push(r.feature.to_string());
        }
        lines.push(format!("  {:<58} {text}", r.feature.to_string()));
        j = j.with(r.key, value);
    }
    let usable = missing_required.is_empty();
    // Kernel quirks: only meaningful (and only testable) where a sockhash can be made.
    let quirk = usable.then(crate::quirk::recv_eagain_selftest);
    let quirk_json = match &quirk {
        None => Json::Null,
        Some(q) => Json::obj()
            .with("affected", q.affected)
            .with("trials", q.trials)
            .with("eagain", q.eagain)
            .with("detail", q.detail.as_str()),
    };
    // The compatibility suite: only where a bypassed pair can be made.
    let compat = if usable {
        match crate::compat::run_and_keep() {
            Ok(v) => Some(Ok(v)),
            Err(e) => Some(Err(format!("{e:#}"))),
        }
    } else {
        None
    };
    let compat_json = match &compat {
        None => Json::Null,
        Some(Err(e)) => Json::obj().with("error", e.as_str()),
        Some(Ok(v)) => {
            let mut o = Json::obj();
            for x in v {
                o = o.with(
                    x.name,
                    Json::obj()
                        .with("same", x.same)
                        .with("guard", x.guard)
                        .with("detail", x.detail.as_str()),
                );
            }
            o
        }
    };
    if args.json {
        let j = Json::obj()
            .with("schema", 1u32)
            .with("bypass_possible", usable)
            .with("features", j)
            .with("quirks", Json::obj().with("recv_eagain", quirk_json))
            .with("compat", compat_json)
            .with(
                "missing",
                Json::Arr(
                    missing_required
                        .iter()
                        .map(|s| Json::from(s.as_str()))
                        .collect(),
                ),
            );
        println!("{}", j.render());
    } else {
        println!("tcpbypass probe: what this kernel offers");
        for l in &lines {
            println!("{l}");
        }
        if let Some(q) = &quirk {
            let verdict = match q.affected {
                Some(true) => "AFFECTED",
                Some(false) => "not affected",
                None => "unknown",
            };
            println!(
                "  {:<58} {verdict} — {}",
                "quirk: blocking recv() fails with EAGAIN", q.detail
            );
            if q.affected == Some(true) {
                println!("warning: {}", crate::quirk::EagainQuirk::EFFECT);
            }
        }
        match &compat {
            None => {}
            Some(Err(e)) => println!("compatibility suite could not run: {e}"),
            Some(Ok(v)) => {
                println!("compatibility with plain TCP (what applications see):");
                for x in v {
                    let verdict = match (x.same, x.guard) {
                        (Some(true), Some(_)) => "same (guarded)",
                        (Some(true), None) => "same",
                        (Some(false), _) => "DIFFERENT",
                        (None, _) => "unknown",
                    };
                    println!("  {:<14} {verdict:<15} {}", x.name, x.detail);
                }
                let differ: Vec<&str> = crate::compat::differing(v);
                if !differ.is_empty() {
                    println!(
                        "warning: through the bypass applications can tell: {} (see docs/compatibility.md)",
                        differ.join(", ")
                    );
                }
            }
        }
        if usable {
            println!("the bypass can work on this host");
        } else {
            println!(
                "the bypass CANNOT work on this host: missing {}",
                missing_required.join(", ")
            );
        }
    }
    Ok(if usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::UNSUPPORTED)
    })
}
