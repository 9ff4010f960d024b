//! `tcpbypass run`: load (upgrading in place when already loaded), stay in the foreground
//! until SIGTERM, SIGINT or SIGHUP, then unload (unless `--keep`). For DaemonSets and systemd.

use std::process::ExitCode;

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};

use crate::cli::RunArgs;
use crate::commands::load::load;
use crate::commands::unload;
use crate::log;
use crate::options::LoadOptions;

/// `tcpbypass run`.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    // Block the signals first, so one arriving during the load is not lost: it is taken by
    // sigwait below and the load is undone.
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block().context("blocking signals")?;
    // Bind before loading: a busy or bad address fails with nothing loaded.
    let metrics = args.metrics_addr.map(crate::metrics::bind).transpose()?;
    load(&LoadOptions::from(args))?;
    // Spawned after the signals are blocked: the thread inherits the mask, so sigwait below
    // still takes every signal.
    if let Some(listener) = metrics {
        let ctx = crate::metrics::context(&args.load.pins.pin_dir);
        if let Err(e) = crate::metrics::spawn(listener, ctx) {
            if !args.keep {
                unload(&args.load.pins.pin_dir)?;
            }
            return Err(e);
        }
        if let Some(a) = args.metrics_addr {
            log::info(&format!("serving metrics at http://{a}/metrics"));
        }
    }
    log::info("tcpbypass running; SIGTERM or SIGINT unloads and exits");
    let sig = set.wait().context("waiting for a signal")?;
    log::info(&format!("received {sig:?}"));
    if args.keep {
        log::info("--keep: leaving the bypass loaded");
    } else {
        unload(&args.load.pins.pin_dir)?;
    }
    Ok(ExitCode::SUCCESS)
}
