//! `tcpbypass unload`: detach exactly our programs (by the ids behind our pins), return every
//! socket to plain TCP by forgetting every pairing (sockets stay in the sockhash until they
//! close, so no queued byte is lost), remove the pins. Idempotent.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use loader::{cgroup, AttachType};

use crate::bypass::{self, Installed, PinState, Pins};
use crate::cli::PinArgs;
use crate::commands::{is_enoent, pin_state, require_bpf};
use crate::exit::Failure;
use crate::log;

/// `tcpbypass unload`.
pub fn run(args: &PinArgs) -> Result<ExitCode> {
    unload(&args.pin_dir)?;
    Ok(ExitCode::SUCCESS)
}

/// Unloads the bypass pinned under `pin_dir`; returns whether there was one.
pub fn unload(pin_dir: &Path) -> Result<bool> {
    require_bpf()?;
    // Held until the pins are gone: concurrent loads, unloads and replaces take turns.
    let _lock = crate::commands::lock_pins_if_present(pin_dir)?;
    let pins = Pins::new(pin_dir);
    match pin_state(&pins)? {
        PinState::Absent => {
            log::info(&format!(
                "tcpbypass is not loaded (no {})",
                pins.dir.display()
            ));
            return Ok(false);
        }
        PinState::Empty => {
            bypass::remove_pins(&pins.dir)?;
            log::info(&format!(
                "tcpbypass is not loaded (removed the empty {})",
                pins.dir.display()
            ));
            return Ok(false);
        }
        PinState::Foreign => unreachable!("pin_state refuses foreign directories"),
        PinState::Ours => {}
    }
    let mut inst = Installed::open(&pins)?;
    let cg = inst.meta.cgroup.clone();

    // 1. Stop inserting new sockets: detach sock_ops; then the setsockopt guard.
    let so_id = inst.sock_ops.as_ref().map(|p| p.id());
    detach_from_cgroup(
        inst.link.take(),
        inst.sock_ops.as_ref(),
        &cg,
        AttachType::CgroupSockOps,
        "sock_ops",
    )?;
    detach_from_cgroup(
        inst.guard_link.take(),
        inst.guard.as_ref(),
        &cg,
        AttachType::CgroupSetsockopt,
        "the setsockopt guard",
    )?;

    // 2. Detach sk_msg from the sockhash.
    let sockhash = inst.map(programs::names::SOCK_HASH);
    if let (Some(sm), Some(sh)) = (&inst.sk_msg, sockhash) {
        match loader::sk_msg::detach(sm, sh) {
            Ok(()) => log::debug("sk_msg detached from the sockhash"),
            Err(e) if is_enoent(&e) => log::debug("sk_msg was already detached"),
            Err(e) => return Err(Failure::from_loader("detaching sk_msg", e)),
        }
    }

    // 3. Return established sockets to plain TCP without losing a byte: forget every pairing
    //    (and every waiting client), so the sk_msg program, which sockets already in the
    //    sockhash keep even detached, finds no peer and passes each new message to TCP.
    //    The sockets stay in the sockhash until they close: deleting one would free its
    //    receive queue of redirected messages not read yet (the kernel purges it with the
    //    socket's psock), losing or reordering bytes mid-stream (measured by the end-to-end
    //    test `unload_in_the_middle_of_a_transfer`). Kept that way, a receiver reads the
    //    redirected messages first, then what came through TCP: the byte order holds. The maps
    //    and the sk_msg program, unpinned below, are freed by the kernel when the last of
    //    these sockets closes.
    let mut forgotten = 0usize;
    for name in [programs::names::PEERS, programs::names::ACTIVE] {
        if let Some(m) = inst.map(name) {
            let keys: Vec<Vec<u8>> = m
                .keys()
                .collect::<Result<_, _>>()
                .with_context(|| format!("listing {name}"))?;
            for k in &keys {
                if m.delete(k).with_context(|| format!("emptying {name}"))? {
                    forgotten += 1;
                }
            }
        }
    }
    if let Some(sh) = sockhash {
        let left = sh.keys().count();
        log::debug(&format!(
            "{forgotten} pairing entries removed; {left} socket(s) go on over plain TCP and leave the sockhash when they close"
        ));
    }

    // 4. Check through the kernel, not our pins, that nothing of ours is attached.
    let guard_id = inst.guard.as_ref().map(|p| p.id());
    for (id, attach, what) in [
        (so_id, AttachType::CgroupSockOps, "sock_ops"),
        (
            guard_id,
            AttachType::CgroupSetsockopt,
            "the setsockopt guard",
        ),
    ] {
        let Some(id) = id else { continue };
        if let Ok(q) = cgroup::query(&cg, attach) {
            if q.prog_ids.contains(&id) {
                bail!(
                    "{what} (id {id}) is still attached to {} after detaching",
                    cg.display()
                );
            }
        }
    }

    // 5. Remove the pins: the kernel frees the programs and maps with their last reference.
    drop(inst.sock_ops);
    drop(inst.guard);
    drop(inst.sk_msg);
    bypass::remove_pins(&pins.dir)?;
    log::info(&format!("tcpbypass unloaded from {}", cg.display()));
    Ok(true)
}

/// Detaches a program from the cgroup: through its link when it has one, else with
/// `PROG_DETACH`. Already detached (or the cgroup gone) is fine.
fn detach_from_cgroup(
    link: Option<loader::Link>,
    prog: Option<&loader::Program>,
    cg: &std::path::Path,
    attach: AttachType,
    what: &str,
) -> Result<()> {
    if let Some(link) = link {
        match link.detach() {
            Ok(()) => log::debug(&format!("{what}: link detached")),
            Err(e) if is_enoent(&e) => log::debug(&format!("{what}: link was already detached")),
            Err(e) => return Err(Failure::from_loader(&format!("detaching {what}'s link"), e)),
        }
    } else if let Some(p) = prog {
        match cgroup::detach_program(cg, attach, p) {
            Ok(()) => log::debug(&format!("{what} detached (PROG_DETACH)")),
            Err(e) if is_enoent(&e) => log::debug(&format!("{what} was already detached")),
            Err(loader::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                log::debug(&format!("the cgroup is gone, and {what} with it"))
            }
            Err(e) => {
                return Err(Failure::from_loader(
                    &format!("detaching {what} from {}", cg.display()),
                    e,
                ))
            }
        }
    }
    Ok(())
}
