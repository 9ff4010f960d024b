//! `tcpbypass verify`: both programs through the kernel verifier, against throwaway maps,
//! attached nowhere. Prints the verdict, processed instructions and size of each.

use std::process::ExitCode;

use anyhow::Result;
use loader::{Map, Program};

use crate::bypass;
use crate::cli::{VerifyArgs, Which};
use crate::commands::require_bpf;
use crate::exit;
use crate::log;

/// `tcpbypass verify`.
pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    if let Some(path) = &args.object {
        return super::export::verify_object(path, args.log);
    }
    require_bpf()?;
    let cfg = bypass::program_config();
    let (so, mut sm) = bypass::build(&cfg)?;
    let maps = bypass::create_maps(bypass::THROWAWAY_MAX_CONNS)?;
    let refs: Vec<&Map> = maps.iter().collect();
    // As load does: where sk_msg with the receive-queue bound is refused, it goes without.
    if cfg.rcvq_guard.is_some() {
        if let Err(loader::Error::Verifier(v)) = Program::load(&bypass::sk_msg_spec(), &sm, &refs) {
            log::warn(&format!(
                "sk_msg with the receive-queue bound is rejected here ({v}); load uses it without the bound"
            ));
            sm = programs::sk_msg(&programs::Config {
                rcvq_guard: None,
                ..cfg
            })?;
        }
    }
    let guard = programs::setsockopt(&cfg)?;
    let mut rejected = false;
    for (which, spec, prog) in [
        (Which::SockOps, bypass::sock_ops_spec(), &so),
        (Which::SkMsg, bypass::sk_msg_spec(), &sm),
        (Which::Setsockopt, bypass::setsockopt_spec(), &guard),
    ] {
        if args.program.is_some_and(|w| w != which) {
            continue;
        }
        let name = spec.name.clone();
        match Program::load(&spec.with_stats(), prog, &refs) {
            Ok(p) => {
                let s = p.stats();
                let fmt = |v: Option<u32>| v.map_or("?".to_string(), |n| n.to_string());
                println!(
                    "{name}: accepted — {} instructions ({} bytes), {} processed, {} states (peak {}), stack {}",
                    prog.len(),
                    prog.len() * 8,
                    fmt(s.verified_insns.or(Some(p.cached_info().verified_insns))),
                    fmt(s.total_states),
                    fmt(s.peak_states),
                    s.stack_depth.as_deref().unwrap_or("?"),
                );
            }
            Err(loader::Error::Verifier(v)) if which == Which::Setsockopt => {
                // Optional: load warns and goes on without it.
                println!("{name}: REJECTED — {v} (load goes on without this guard)");
                if args.log {
                    println!("{}", v.log());
                }
            }
            Err(loader::Error::Verifier(v)) => {
                rejected = true;
                println!("{name}: REJECTED — {v}");
                if args.log {
                    println!("{}", v.log());
                } else {
                    log::info("  (--log prints the verifier's full log)");
                }
            }
            Err(e) => return Err(exit::Failure::from_loader(&format!("loading {name}"), e)),
        }
    }
    if !cfg.netns_cookie {
        log::warn("built without netns cookies (this kernel lacks bpf_get_netns_cookie there): loopback would not be bypassed");
    }
    Ok(if rejected {
        ExitCode::from(exit::VERIFIER)
    } else {
        ExitCode::SUCCESS
    })
}
