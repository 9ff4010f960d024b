//! `tcpbypass status`: whether the bypass is loaded, where, with which programs (and whether
//! they are the ones this binary builds), how many sockets it holds, and its counters.

use std::process::ExitCode;

use anyhow::Result;
use loader::{cgroup, AttachType, Program};
use programs::Counter;

use crate::bypass::{self, Installed, PinState, Pins};
use crate::cli::StatusArgs;
use crate::commands::{pin_state, require_bpf};
use crate::json::Json;

/// Everything `status` reports about one program.
struct ProgStatus {
    id: u32,
    tag: String,
    verified_insns: u32,
    matches_binary: bool,
}

fn prog_status(prog: &Program, built: &asm::Program) -> Result<ProgStatus> {
    let info = prog.info()?;
    Ok(ProgStatus {
        id: info.id,
        tag: info.tag_hex(),
        verified_insns: info.verified_insns,
        matches_binary: asm::tag::matching_algorithm(built.insns(), &info.tag).is_some(),
    })
}

fn prog_json(p: &Option<ProgStatus>) -> Json {
    match p {
        None => Json::Null,
        Some(p) => Json::obj()
            .with("id", p.id)
            .with("tag", p.tag.as_str())
            .with("verified_insns", p.verified_insns)
            .with("matches_binary", p.matches_binary),
    }
}

/// `tcpbypass status`.
pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    require_bpf()?;
    let pins = Pins::new(&args.pins.pin_dir);
    let state = pin_state(&pins)?;
    if state != PinState::Ours {
        super::print_not_loaded(&pins, args.json);
        return Ok(ExitCode::SUCCESS);
    }
    let inst = Installed::open(&pins)?;
    let cfg = programs::Config {
        netns_cookie: inst.meta.netns_cookie,
        rcvq_guard: inst
            .meta
            .rcvq_floor
            .and_then(|f| bypass::rcvq_guard(Some(f)).ok()),
    };
    let (so_built, sm_built) = bypass::build(&cfg)?;
    let so = inst
        .sock_ops
        .as_ref()
        .map(|p| prog_status(p, &so_built))
        .transpose()?;
    let sm = inst
        .sk_msg
        .as_ref()
        .map(|p| prog_status(p, &sm_built))
        .transpose()?;
    let guard_built = programs::setsockopt(&cfg)?;
    let guard = inst
        .guard
        .as_ref()
        .map(|p| prog_status(p, &guard_built))
        .transpose()?;
    let attached = match (
        &so,
        cgroup::query(&inst.meta.cgroup, AttachType::CgroupSockOps),
    ) {
        (Some(p), Ok(q)) => q.prog_ids.contains(&p.id),
        _ => false,
    };
    let sockhash = inst.map(programs::names::SOCK_HASH);
    // The sockhash's keys, walked once: their number, and which tb_peers entries belong to
    // sockets no longer in it (closed; their close callback removes them, or the
    // next socket with the same key does).
    let live: Option<std::collections::HashSet<Vec<u8>>> = sockhash
        .map(|m| bypass::distinct_keys(m).map(|v| v.into_iter().collect()))
        .transpose()?;
    let sockets = live.as_ref().map(|l| l.len());
    let closed_entries = match &live {
        Some(live) => match inst.map(programs::names::PEERS) {
            Some(m) => Some(
                bypass::distinct_keys(m)?
                    .iter()
                    .filter(|k| !live.contains(*k))
                    .count(),
            ),
            None => Some(0),
        },
        None => None,
    };
    // The connection capacity (--max-conns) the per-socket maps were created with.
    let max_conns = sockhash.map(|m| programs::conns_for(m.max_entries()));
    let counters: Vec<(Counter, u64)> = match inst.map(programs::names::COUNTERS) {
        Some(m) => Counter::ALL
            .iter()
            .map(|c| Ok((*c, bypass::read_counter(m, *c)?)))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };

    if args.json {
        let mut cj = Json::obj();
        for (c, v) in &counters {
            cj = cj.with(c.name(), *v);
        }
        let j = Json::obj()
            .with("schema", 1u32)
            .with("loaded", true)
            .with("pin_dir", pins.dir.display().to_string())
            .with("cgroup", inst.meta.cgroup.display().to_string())
            .with("attach", inst.meta.attach.name())
            .with("attached", attached)
            .with("netns_cookie", inst.meta.netns_cookie)
            .with("sock_ops", prog_json(&so))
            .with("sk_msg", prog_json(&sm))
            .with("setsockopt", prog_json(&guard))
            .with("rcvq_limit", inst.meta.rcvq_floor)
            .with("sockets", sockets)
            .with("closed_entries", closed_entries)
            .with("max_conns", max_conns)
            .with("counters", cj);
        println!("{}", j.render());
        return Ok(ExitCode::SUCCESS);
    }
    println!("tcpbypass: loaded");
    println!(
        "  cgroup     {} ({}{})",
        inst.meta.cgroup.display(),
        inst.meta.attach.name(),
        if attached { "" } else { ", NOT ATTACHED" }
    );
    println!("  pins       {}", pins.dir.display());
    for (name, p) in [("sock_ops", &so), ("sk_msg", &sm), ("setsockopt", &guard)] {
        match p {
            Some(p) => println!(
                "  {name:<10} id {}, tag {}, {} insns verified, {}",
                p.id,
                p.tag,
                p.verified_insns,
                if p.matches_binary {
                    "same as this binary builds"
                } else {
                    "differs from what this binary builds (load --replace to upgrade)"
                }
            ),
            None => println!("  {name:<10} missing (pin absent)"),
        }
    }
    println!(
        "  loopback   {}",
        if inst.meta.netns_cookie {
            "bypassed (keys carry the netns cookie)"
        } else {
            "not bypassed (this kernel lacks bpf_get_netns_cookie in sock_ops/sk_msg)"
        }
    );
    println!(
        "  rcvq bound {}",
        match inst.meta.rcvq_floor {
            Some(f) => format!("on: a sender moves to TCP when its peer holds over max(SO_RCVBUF, {f} bytes) unread"),
            None => "off (this kernel refused it): a peer that never reads lets its sender queue without limit".into(),
        }
    );
    if let (Some(n), Some(m)) = (sockets, sockhash) {
        println!(
            "  sockets    {n} in the sockhash, of {} (--max-conns {})",
            m.max_entries(),
            programs::conns_for(m.max_entries())
        );
    }
    if let Some(n) = closed_entries.filter(|n| *n > 0) {
        println!(
            "  closed     {n} tb_peers entries of sockets no longer in the sockhash \
             (their close callback removes them; one that stays was left behind and goes when \
             a socket with the same key is established: see stale_entries)"
        );
    }
    if !counters.is_empty() {
        let line: Vec<String> = counters
            .iter()
            .map(|(c, v)| format!("{} {v}", c.name()))
            .collect();
        println!("  counters   {}", line.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
