//! `tcpbypass dump`: the programs as this binary builds them, disassembled. No kernel needed.

use std::process::ExitCode;

use anyhow::Result;

use crate::bypass;
use crate::cli::{DumpArgs, Which};

/// `tcpbypass dump`.
pub fn run(args: &DumpArgs) -> Result<ExitCode> {
    if let Some(path) = &args.object {
        return super::export::dump_object(path, args.raw);
    }
    let cfg = programs::Config {
        netns_cookie: !args.no_netns_cookie,
        rcvq_guard: bypass::rcvq_guard(None).ok(),
    };
    let (so, sm) = bypass::build(&cfg)?;
    let guard = programs::setsockopt(&cfg)?;
    let mut first = true;
    for (which, name, prog) in [
        (Which::SockOps, bypass::SOCK_OPS_NAME, &so),
        (Which::SkMsg, bypass::SK_MSG_NAME, &sm),
        (Which::Setsockopt, bypass::SETSOCKOPT_NAME, &guard),
    ] {
        if args.program.is_some_and(|w| w != which) {
            continue;
        }
        if !first {
            println!();
        }
        first = false;
        println!(
            "; {name}: {} instructions, tag {} (sha256) / {} (sha1)",
            prog.len(),
            asm::tag::tag_hex(prog.insns()),
            asm::tag::tag_hex_with(prog.insns(), asm::tag::TagAlgorithm::Sha1)
        );
        if args.raw {
            print!("{}", asm::disasm::listing(prog.insns()));
        } else {
            print!("{}", asm::disasm::program_listing(prog));
        }
    }
    Ok(ExitCode::SUCCESS)
}
