//! `tcpbypass load`: probe, create and fill the maps, load both programs, attach, pin.
//! Nothing is left half-done: every step registers its undo, and a failure unwinds them.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use loader::{cgroup, AttachMode, AttachType, Feature, Map, UpdateFlags};
use programs::key::{self, PrefixKey};

use crate::bypass::{self, AttachKind, Installed, Meta, PinState, Pins};
use crate::cli::LoadCmdArgs;
use crate::commands::{ensure_bpffs, pin_state, require_bpf, resolve_cgroup};
use crate::exit::{self, Failure};
use crate::log;
use crate::options::LoadOptions;

/// What a successful load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded from scratch.
    Loaded,
    /// Already loaded; nothing changed.
    AlreadyLoaded,
    /// Already loaded; programs replaced in place.
    Replaced,
}

/// `tcpbypass load`.
pub fn run(args: &LoadCmdArgs) -> Result<ExitCode> {
    load(&LoadOptions::from(args))?;
    Ok(ExitCode::SUCCESS)
}

/// Loads (or, with `args.replace`, upgrades) the bypass; the shared body of `load` and `run`.
/// A kernel quirk found by the self-test (`crate::quirk`) is a warning, or with `args.strict`
/// a refusal with exit code 7.
pub fn load(args: &LoadOptions) -> Result<Outcome> {
    let (replace, strict) = (args.replace, args.strict);
    // Bad input fails before anything touches the kernel.
    let prefixes = prefix_set(args)?;
    if let Some(n) = args.max_conns {
        if !(1..=programs::MAX_MAX_CONNS).contains(&n) {
            bail!(Failure::new(
                2,
                format!(
                    "--max-conns {n} is out of range: 1 to {}",
                    programs::MAX_MAX_CONNS
                )
            ));
        }
    }
    require_bpf()?;
    let cgroup = resolve_cgroup(args.cgroup.as_deref())?;
    ensure_bpffs(&args.pins)?;
    // Held until the pins are complete: concurrent loads, unloads and replaces take turns.
    let _lock = crate::commands::lock_pins(&args.pins.pin_dir)?;
    let pins = Pins::new(&args.pins.pin_dir);
    let state = pin_state(&pins)?;
    preflight()?;
    if state == PinState::Ours {
        let installed = Installed::open(&pins)?;
        if !replace {
            log::info(&format!(
                "tcpbypass is already loaded (cgroup {}, pins {}); nothing changed (use --replace to swap in this binary's programs)",
                installed.meta.cgroup.display(),
                pins.dir.display()
            ));
            return Ok(Outcome::AlreadyLoaded);
        }
        let per_socket_entries = capacity_for_replace(&installed, args)?;
        // An in-place upgrade under live traffic stays quick: the compatibility suite (seconds,
        // and it pushes a few MiB through a throwaway bypass) ran at the first load and runs
        // again with --strict; `tcpbypass probe` shows it any time.
        if strict {
            crate::compat::check_for_load(strict, args.recheck)?;
        } else {
            log::debug(
                "--replace: compatibility suite not rerun (it ran at load; see `tcpbypass probe`)",
            );
        }
        replace_programs(
            installed,
            &cgroup,
            &prefixes,
            &args.exclude_ports,
            args.rcvq_limit,
            per_socket_entries,
        )?;
        log::info(&format!(
            "tcpbypass programs replaced in place (pins {})",
            pins.dir.display()
        ));
        return Ok(Outcome::Replaced);
    }
    crate::compat::check_for_load(strict, args.recheck)?;
    fresh_load(args, &pins, &cgroup, &prefixes)?;
    log::info(&format!(
        "tcpbypass loaded: sock_ops on {}, pins under {}",
        cgroup.display(),
        pins.dir.display()
    ));
    Ok(Outcome::Loaded)
}

/// Fails early, with the missing feature named, when the bypass cannot work on this kernel.
pub fn preflight() -> Result<()> {
    use loader::{MapType, ProgramType};
    for f in [
        Feature::ProgramType(ProgramType::SockOps),
        Feature::ProgramType(ProgramType::SkMsg),
        Feature::MapType(MapType::SockHash),
        Feature::MapType(MapType::LpmTrie),
        Feature::MapType(MapType::PerCpuArray),
        Feature::MapType(MapType::Hash),
    ] {
        loader::features::require(f).map_err(|e| {
            anyhow::Error::new(
                Failure::new(
                    exit::UNSUPPORTED,
                    format!("the bypass cannot work on this kernel: {e}"),
                )
                .hint("run `tcpbypass probe` for the full picture"),
            )
        })?;
    }
    Ok(())
}

/// The prefix set: loopback and this host's addresses (unless disabled) and `--local-prefix`.
fn prefix_set(args: &LoadOptions) -> Result<Vec<PrefixKey>> {
    let mut set = BTreeSet::new();
    for s in &args.local_prefixes {
        let p = PrefixKey::parse(s).map_err(|e| {
            Failure::new(2, format!("--local-prefix {s}: {e}"))
                .hint("write a CIDR such as 10.244.0.0/16 or fd00::/8")
        })?;
        set.insert(p.to_bytes());
    }
    if !args.no_local_addresses {
        set.insert(key::loopback_v4().to_bytes());
        set.insert(PrefixKey::host("::1".parse().expect("valid")).to_bytes());
        for ip in local_addresses() {
            set.insert(PrefixKey::host(ip).to_bytes());
        }
    }
    if set.is_empty() {
        bail!(
            Failure::new(2, "the prefix set is empty: nothing would be bypassed")
                .hint("drop --no-local-addresses or add --local-prefix")
        );
    }
    if set.len() > programs::MAX_CONFIG_ENTRIES as usize {
        bail!(Failure::new(
            2,
            format!(
                "{} prefixes exceed the map's {} entries",
                set.len(),
                programs::MAX_CONFIG_ENTRIES
            )
        ));
    }
    set.iter().map(|b| Ok(PrefixKey::from_bytes(b)?)).collect()
}

/// This host's interface addresses (in this network namespace).
fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    // SAFETY: getifaddrs fills a list we walk read-only and free with freeifaddrs.
    unsafe {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let sa = (*cur).ifa_addr;
            if !sa.is_null() {
                match (*sa).sa_family as i32 {
                    libc::AF_INET => {
                        let sin = &*(sa as *const libc::sockaddr_in);
                        out.push(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(sa as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// Writes the prefix and port sets into their maps (adding what is missing, removing what is
/// no longer wanted).
fn fill_config(maps: &[Map], prefixes: &[PrefixKey], ports: &[u16]) -> Result<()> {
    let find = |name: &str| {
        maps.iter()
            .find(|m| m.name() == name)
            .with_context(|| format!("map {name} is missing"))
    };
    let pm = find(programs::names::PREFIXES)?;
    let want: BTreeSet<Vec<u8>> = prefixes.iter().map(|p| p.to_bytes().to_vec()).collect();
    sync_set(pm, &want).context("writing the prefix set")?;
    let xm = find(programs::names::EXCLUDED_PORTS)?;
    let want: BTreeSet<Vec<u8>> = ports.iter().map(|p| key::port_key(*p).to_vec()).collect();
    sync_set(xm, &want).context("writing the excluded ports")?;
    Ok(())
}

fn sync_set(map: &Map, want: &BTreeSet<Vec<u8>>) -> Result<()> {
    let have: Vec<Vec<u8>> = map.keys().collect::<Result<_, _>>()?;
    for k in &have {
        if !want.contains(k) {
            map.delete(k)?;
        }
    }
    for k in want {
        map.put(k, &key::PRESENT, UpdateFlags::Any)?;
    }
    Ok(())
}

/// Removes the pin directory if this load created it and fails.
struct PinDirGuard {
    dir: std::path::PathBuf,
    armed: bool,
}

impl Drop for PinDirGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = bypass::remove_pins(&self.dir) {
                log::warn(&format!("rolling back: {e:#}"));
            }
        }
    }
}

fn fresh_load(
    args: &LoadOptions,
    pins: &Pins,
    cgroup: &std::path::Path,
    prefixes: &[PrefixKey],
) -> Result<()> {
    let cfg = bypass::program_config_with(args.rcvq_limit);
    if !cfg.netns_cookie {
        log::warn(
            "this kernel does not allow bpf_get_netns_cookie in sock_ops/sk_msg: loopback connections will not be bypassed",
        );
    }
    let maps = bypass::create_maps(args.max_conns.unwrap_or(programs::DEFAULT_MAX_CONNS))?;
    fill_config(&maps, prefixes, &args.exclude_ports)?;
    let map_refs: Vec<&Map> = maps.iter().collect();
    let (so, sm, cfg) = bypass::build_and_load(&cfg, &map_refs)?;
    let sockopt_guard = bypass::load_guard(&cfg, &map_refs)?;
    log::debug(&format!(
        "loaded sock_ops id {} ({} insns verified), sk_msg id {} ({} insns verified)",
        so.id(),
        so.cached_info().verified_insns,
        sm.id(),
        sm.cached_info().verified_insns
    ));
    let sockhash = maps
        .iter()
        .find(|m| m.name() == programs::names::SOCK_HASH)
        .context("the sockhash map is missing")?;
    // sk_msg first: it only acts on sockets in the (still empty) sockhash.
    let sk_msg_att = loader::sk_msg::attach(&sm, sockhash)
        .map_err(|e| crate::exit::Failure::from_loader("attaching sk_msg to the sockhash", e))?;

    // Pins: from here on, a failure removes the directory again.
    loader::env::create_pin_dir(&pins.dir)
        .with_context(|| crate::commands::at(&pins.dir, "creating"))?;
    let mut guard = PinDirGuard {
        dir: pins.dir.clone(),
        armed: true,
    };
    for d in [pins.maps_dir(), pins.progs_dir(), pins.links_dir()] {
        loader::env::create_pin_dir(&d).with_context(|| crate::commands::at(&d, "creating"))?;
    }
    for m in &maps {
        m.pin(pins.map(m.name()))
            .with_context(|| format!("pinning map {}", m.name()))?;
    }
    so.pin(pins.sock_ops()).context("pinning sock_ops")?;
    sm.pin(pins.sk_msg()).context("pinning sk_msg")?;
    let mode = if args.legacy_attach {
        AttachMode::Legacy
    } else {
        AttachMode::Auto
    };

    // The setsockopt guard before sock_ops: no connection is bypassed without it.
    let guard_att = match &sockopt_guard {
        None => None,
        Some(g) => {
            g.pin(pins.setsockopt())
                .context("pinning the setsockopt guard")?;
            let a = cgroup::attach(g, cgroup, AttachType::CgroupSetsockopt, mode).map_err(|e| {
                Failure::from_loader(
                    &format!("attaching the setsockopt guard to {}", cgroup.display()),
                    e,
                )
            })?;
            if a.is_link() {
                a.pin(pins.setsockopt_link())
                    .context("pinning the setsockopt guard's link")?;
            }
            Some(a)
        }
    };

    // Attach sock_ops last: this is what turns the bypass on.
    let att = cgroup::attach(&so, cgroup, AttachType::CgroupSockOps, mode).map_err(|e| {
        Failure::from_loader(&format!("attaching sock_ops to {}", cgroup.display()), e)
    })?;
    let kind = if att.is_link() {
        AttachKind::Link
    } else {
        AttachKind::Legacy
    };
    let meta = Meta {
        attach: kind,
        netns_cookie: cfg.netns_cookie,
        cgroup: cgroup.to_path_buf(),
        rcvq_floor: cfg.rcvq_guard.map(|g| g.rcvbuf_floor),
    };
    let meta_map = meta.create_map()?;
    if att.is_link() {
        att.pin(pins.sock_ops_link())
            .context("pinning the sock_ops link")?;
    }
    // The meta pin is what marks the directory as a complete load of ours: pin it last.
    meta_map
        .pin(pins.meta())
        .context("pinning the metadata map")?;

    guard.armed = false;
    att.keep();
    if let Some(a) = guard_att {
        a.keep();
    }
    sk_msg_att.keep();
    log::debug(&format!("sock_ops attached through {}", kind.name()));
    Ok(())
}

/// The entries of each per-socket map on a replace: the loaded capacity (that of the pinned
/// sockhash, an earlier version's odd 65,535 included) unless `args.max_conns` asks for another
/// number of connections; then `load --replace` refuses (exit code 2, nothing changed) and `run`
/// keeps the loaded capacity with a warning. Decided before anything else is done.
fn capacity_for_replace(installed: &Installed, args: &LoadOptions) -> Result<u32> {
    let pinned = installed
        .map(programs::names::SOCK_HASH)
        .map(|m| m.max_entries())
        .context("the pinned sockhash is missing: unload and load again")?;
    let loaded = programs::conns_for(pinned);
    match args.max_conns {
        Some(n) if n != loaded && args.keep_loaded_capacity => {
            log::warn(&format!(
                "the bypass is loaded with --max-conns {loaded}; keeping it (--max-conns {n} takes effect after `tcpbypass unload`)"
            ));
            Ok(pinned)
        }
        Some(n) if n != loaded => Err(Failure::new(
            2,
            format!(
                "the bypass is loaded with --max-conns {loaded} ({} has {pinned} entries); --replace cannot resize its maps to --max-conns {n}",
                programs::names::SOCK_HASH
            ),
        )
        .hint("`tcpbypass unload` then `tcpbypass load --max-conns N` (bypassed connections go back to TCP), or --replace without --max-conns to keep the capacity")
        .into()),
        _ => Ok(pinned),
    }
}

/// `--replace`: loads this binary's programs against the pinned maps and swaps them in without
/// detaching: `BPF_LINK_UPDATE` for a link, `BPF_F_REPLACE` for a legacy attachment; the sk_msg
/// program of the sockhash is replaced by attaching the new one (sockets already in the map
/// keep the program they were inserted with until they close).
fn replace_programs(
    installed: Installed,
    cgroup: &std::path::Path,
    prefixes: &[PrefixKey],
    ports: &[u16],
    rcvq_limit: Option<u32>,
    per_socket_entries: u32,
) -> Result<()> {
    if installed.meta.cgroup != cgroup {
        bail!(Failure::new(
            2,
            format!(
                "the bypass is attached to {}, not {}; --replace keeps the cgroup",
                installed.meta.cgroup.display(),
                cgroup.display()
            )
        )
        .hint("unload first to move the bypass to another cgroup"));
    }
    // The maps must be the ones this binary expects, with the capacity chosen by
    // `capacity_for_replace`.
    for def in programs::maps() {
        let def = &def.with_socket_entries(per_socket_entries);
        let m = installed.map(def.name).with_context(|| {
            format!(
                "the pinned map {} is missing: unload and load again",
                def.name
            )
        })?;
        let have = (
            m.map_type().raw(),
            m.key_size(),
            m.value_size(),
            m.max_entries(),
        );
        let want = (
            def.kind.uapi_type(),
            def.key_size,
            def.value_size,
            def.max_entries,
        );
        if have != want {
            bail!(Failure::new(
                exit::ENVIRONMENT,
                format!(
                    "the pinned map {} is (type {}, key {} B, value {} B, {} entries); this binary needs (type {}, key {} B, value {} B, {} entries)",
                    def.name, have.0, have.1, have.2, have.3, want.0, want.1, want.2, want.3
                )
            )
            .hint("the map layout changed between versions: `tcpbypass unload` then `tcpbypass load`"));
        }
    }
    let old_so = installed
        .sock_ops
        .as_ref()
        .context("the pinned sock_ops program is missing: unload and load again")?;
    let old_sm = installed
        .sk_msg
        .as_ref()
        .context("the pinned sk_msg program is missing: unload and load again")?;
    let cfg = bypass::program_config_with(rcvq_limit);
    let map_refs: Vec<&Map> = installed.maps.iter().collect();
    let (so, sm, cfg) = bypass::build_and_load(&cfg, &map_refs)?;
    fill_config(&installed.maps, prefixes, ports)?;

    // sock_ops: swap in place.
    match &installed.link {
        Some(link) => link
            .update_program(&so, Some(old_so))
            .map_err(|e| Failure::from_loader("replacing sock_ops in its link", e))?,
        None => {
            cgroup::replace_attached(cgroup, AttachType::CgroupSockOps, old_so, &so)
                .map_err(|e| Failure::from_loader("replacing sock_ops (BPF_F_REPLACE)", e))?;
        }
    }
    // sk_msg: attaching a new verdict program to the sockhash replaces the old one.
    let sockhash = installed
        .map(programs::names::SOCK_HASH)
        .context("the sockhash map is missing")?;
    loader::sk_msg::replace(old_sm, &sm, sockhash)
        .map_err(|e| Failure::from_loader("replacing sk_msg on the sockhash", e))?;
    log::debug(&format!(
        "replaced sock_ops id {} by id {}, sk_msg id {} by id {}",
        old_so.id(),
        so.id(),
        old_sm.id(),
        sm.id()
    ));

    // The setsockopt guard: swap it in place, or attach it where the old load had none.
    if let Some(new_guard) = bypass::load_guard(&cfg, &map_refs)? {
        let path = installed.pins.setsockopt();
        match (&installed.guard_link, &installed.guard) {
            (Some(link), old) => link.update_program(&new_guard, old.as_ref()).map_err(|e| {
                Failure::from_loader("replacing the setsockopt guard in its link", e)
            })?,
            (None, Some(old)) => {
                cgroup::replace_attached(cgroup, AttachType::CgroupSetsockopt, old, &new_guard)
                    .map_err(|e| {
                        Failure::from_loader("replacing the setsockopt guard (BPF_F_REPLACE)", e)
                    })?
            }
            (None, None) => {
                let mode = if installed.link.is_some() {
                    AttachMode::Auto
                } else {
                    AttachMode::Legacy
                };
                let a = cgroup::attach(&new_guard, cgroup, AttachType::CgroupSetsockopt, mode)
                    .map_err(|e| Failure::from_loader("attaching the setsockopt guard", e))?;
                if a.is_link() {
                    a.pin(installed.pins.setsockopt_link())
                        .context("pinning the setsockopt guard's link")?;
                }
                a.keep();
            }
        }
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| crate::commands::at(&path, "unpinning"))?;
        }
        new_guard
            .pin(&path)
            .with_context(|| crate::commands::at(&path, "pinning"))?;
    }

    // Re-pin the programs.
    for (path, prog) in [
        (installed.pins.sock_ops(), &so),
        (installed.pins.sk_msg(), &sm),
    ] {
        std::fs::remove_file(&path).with_context(|| crate::commands::at(&path, "unpinning"))?;
        prog.pin(&path)
            .with_context(|| crate::commands::at(&path, "pinning"))?;
    }
    let meta = Meta {
        netns_cookie: cfg.netns_cookie,
        rcvq_floor: cfg.rcvq_guard.map(|g| g.rcvbuf_floor),
        ..installed.meta.clone()
    };
    meta.store(&installed.meta_map)?;
    Ok(())
}
