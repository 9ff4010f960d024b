//! The compatibility suite's verdicts, kept for the rest of this boot so that `load` stays
//! fast: the suite takes seconds (it pushes data through a throwaway bypass), and its
//! verdicts depend only on the running kernel, a few socket sysctls and this binary's
//! programs, none of which change under a running system without a reboot or an upgrade.
//!
//! The cache is one file, `/run/tcpbypass/compat` (tmpfs: gone at reboot; a container's own
//! `/run` keeps it for the container's life). Its first line is a key over the kernel
//! (`osrelease`, `version`, `boot_id`), the socket sysctls the verdicts read (`tcp_rmem`,
//! `tcp_wmem`, `rmem_max`), this binary's version and the tags of the programs it builds; a
//! file with another key, or one that does not hold every behaviour of the suite, is not
//! used. `tcpbypass probe` always runs the suite and rewrites the cache; `load --recheck`
//! runs it again. A cache that cannot be read or written is only a slower load.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::compat::{Verdict, NAMES};

/// Where the cache lives unless `TCPBYPASS_COMPAT_CACHE` names another file (tests).
const DEFAULT_PATH: &str = "/run/tcpbypass/compat";
/// The guards a cached verdict may name (`Verdict::guard` is a static string).
const GUARDS: [&str; 2] = [crate::compat::SOCKOPT_GUARD, crate::compat::RCVQ_GUARD];

fn path() -> PathBuf {
    match std::env::var_os("TCPBYPASS_COMPAT_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

/// FNV-1a, 64 bits: a stable hash for the key (not for security: the file is root's).
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The key of this kernel, boot, sysctl state and binary; `None` when a part of it cannot be
/// read (then nothing is cached).
pub fn key() -> Option<String> {
    let mut h = 0xcbf2_9ce4_8422_2325;
    for f in [
        "/proc/sys/kernel/osrelease",
        "/proc/sys/kernel/version",
        "/proc/sys/kernel/random/boot_id",
        "/proc/sys/net/ipv4/tcp_rmem",
        "/proc/sys/net/ipv4/tcp_wmem",
        "/proc/sys/net/core/rmem_max",
    ] {
        h = fnv(&std::fs::read(f).ok()?, h);
        h = fnv(b"\0", h);
    }
    h = fnv(env!("CARGO_PKG_VERSION").as_bytes(), h);
    let (so, sm) = crate::bypass::build(&programs::Config::default()).ok()?;
    h = fnv(&asm::tag::tag(so.insns()), h);
    h = fnv(&asm::tag::tag(sm.insns()), h);
    Some(format!("{h:016x}"))
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The text of a cache file for `verdicts` under `key`.
fn render(key: &str, verdicts: &[Verdict]) -> String {
    let mut s = format!("tcpbypass-compat 1 {key}\n");
    for v in verdicts {
        let same = match v.same {
            Some(true) => "same",
            Some(false) => "different",
            None => "unknown",
        };
        s.push_str(&format!(
            "{}\t{same}\t{}\t{}\n",
            v.name,
            v.guard.unwrap_or("-"),
            escape(&v.detail)
        ));
    }
    s
}

/// The verdicts of a cache file's text, when it is for `key` and holds every behaviour of
/// the suite exactly once.
fn parse(text: &str, key: &str) -> Option<Vec<Verdict>> {
    let mut lines = text.lines();
    if lines.next()? != format!("tcpbypass-compat 1 {key}") {
        return None;
    }
    let mut out = Vec::new();
    for line in lines {
        let mut f = line.splitn(4, '\t');
        let (name, same, guard, detail) = (f.next()?, f.next()?, f.next()?, f.next()?);
        let name = *NAMES.iter().find(|n| **n == name)?;
        let same = match same {
            "same" => Some(true),
            "different" => Some(false),
            "unknown" => None,
            _ => return None,
        };
        let guard = match guard {
            "-" => None,
            g => Some(*GUARDS.iter().find(|x| **x == g)?),
        };
        if out.iter().any(|v: &Verdict| v.name == name) {
            return None;
        }
        out.push(Verdict {
            name,
            same,
            guard,
            detail: unescape(detail),
        });
    }
    (out.len() == NAMES.len()).then_some(out)
}

/// This boot's cached verdicts, if there are any for this kernel and binary.
pub fn load() -> Option<Vec<Verdict>> {
    let key = key()?;
    let text = std::fs::read_to_string(path()).ok()?;
    parse(&text, &key)
}

/// Keeps `verdicts` for the rest of this boot. Best effort: a failure is returned for a
/// debug message, never fatal.
pub fn store(verdicts: &[Verdict]) -> std::io::Result<()> {
    let key = key().ok_or_else(|| std::io::Error::other("no cache key on this system"))?;
    let path = path();
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let tmp = dir.join(format!(".compat.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(render(&key, verdicts).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(detail: &str) -> Vec<Verdict> {
        NAMES
            .iter()
            .enumerate()
            .map(|(i, &name)| Verdict {
                name,
                same: [Some(true), Some(false), None][i % 3],
                guard: [
                    None,
                    Some(crate::compat::SOCKOPT_GUARD),
                    Some(crate::compat::RCVQ_GUARD),
                ][i % 3],
                detail: format!("{detail} {i}"),
            })
            .collect()
    }

    #[test]
    fn verdicts_read_back_as_written() {
        let v = all("a\tb\nc \\ d");
        assert_eq!(parse(&render("k1", &v), "k1"), Some(v));
    }

    #[test]
    fn another_key_or_an_incomplete_file_is_not_used() {
        let v = all("x");
        let text = render("k1", &v);
        assert_eq!(parse(&text, "k2"), None);
        // One behaviour missing.
        let cut: String = text
            .lines()
            .take(NAMES.len())
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse(&cut, "k1"), None);
        // One behaviour twice.
        let twice = format!("{text}{}\n", text.lines().nth(1).unwrap());
        assert_eq!(parse(&twice, "k1"), None);
        // An unknown behaviour or verdict.
        assert_eq!(
            parse(&text.replace("recv_eagain", "recv_eagainx"), "k1"),
            None
        );
        assert_eq!(
            parse(&text.replacen("\tsame\t", "\tmaybe\t", 1), "k1"),
            None
        );
        assert_eq!(parse("", "k1"), None);
    }

    #[test]
    fn the_key_names_this_kernel_and_binary() {
        // Stable within one process; 16 hex digits.
        let k = key().expect("procfs is readable");
        assert_eq!(k.len(), 16);
        assert_eq!(key(), Some(k));
    }
}
