//! Values of an object's `__kconfig` externs: the content of its `.kconfig` map
//! ([`bpfobj::MapOrigin::Kconfig`]), computed the way libbpf computes them.
//!
//! - `LINUX_KERNEL_VERSION`: `KERNEL_VERSION(a, b, c)` of the running kernel (`uname -r`, or
//!   Ubuntu's `/proc/version_signature`), `c` capped at 255.
//! - `LINUX_HAS_BPF_COOKIE`: whether a kprobe program may call `bpf_get_attach_cookie`.
//! - `LINUX_HAS_SYSCALL_WRAPPER`: whether the kernel has syscall wrappers (`__x64_sys_bpf` on
//!   x86-64) that a kprobe can be put on: a kprobe perf event on it opens (libbpf's probe;
//!   without the kprobe PMU, the answer is no).
//! - Any other `LINUX_*` name: 0 when the extern is weak, an error otherwise.
//! - `CONFIG_*` (any other name): the kernel configuration in `/boot/config-$(uname -r)`, or
//!   else `/proc/config.gz` (decompressed by this crate's own small gzip decoder): `y`/`n`/`m`,
//!   numbers and strings, read into the extern's type as libbpf does.
//!
//! A value not found is 0 for a weak extern and an error naming it otherwise. With no kernel
//! configuration at all, an object with `CONFIG_*` externs does not load (as with libbpf).

use std::collections::HashMap;

use bpfobj::{KconfigExtern, KconfigType};

use crate::error::{Error, Result};

fn invalid(e: &KconfigExtern, msg: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("extern (kconfig) {}: {msg}", e.name))
}

/// The `.kconfig` map value (`size` bytes) for `externs`, read from the running kernel.
pub fn values(externs: &[KconfigExtern], size: u32) -> Result<Vec<u8>> {
    let needs_config = externs.iter().any(|e| !e.name.starts_with("LINUX_"));
    let config = if needs_config { running_config() } else { None };
    if needs_config && config.is_none() {
        // As libbpf: an object that reads the configuration does not load without one, weak
        // externs included (a guess of 0 could hide a feature the kernel has).
        return Err(Error::Unsupported(
            "the object reads CONFIG_* externs and no kernel configuration was found \
             (/boot/config-$(uname -r), /proc/config.gz)"
                .into(),
        ));
    }
    let mut out = vec![0u8; size as usize];
    for e in externs {
        let value = match e.name.as_str() {
            "LINUX_KERNEL_VERSION" => Some(Value::Num(u64::from(kernel_version()))),
            "LINUX_HAS_BPF_COOKIE" => Some(Value::Num(u64::from(has_bpf_cookie()))),
            "LINUX_HAS_SYSCALL_WRAPPER" => Some(Value::Num(u64::from(has_syscall_wrapper()))),
            n if n.starts_with("LINUX_") => {
                if !e.weak {
                    return Err(invalid(e, "unrecognized virtual extern"));
                }
                None
            }
            n => config.as_ref().and_then(|c| c.get(n)).cloned(),
        };
        let Some(value) = value else {
            if e.weak {
                continue;
            }
            return Err(invalid(
                e,
                "value not found (the kernel configuration is read from /boot/config-$(uname -r) or \
                 /proc/config.gz)",
            ));
        };
        let bytes = encode(e, &value)?;
        let at = e.offset as usize;
        out.get_mut(at..at + bytes.len())
            .ok_or_else(|| invalid(e, "outside the .kconfig map"))?
            .copy_from_slice(&bytes);
    }
    Ok(out)
}

/// A configuration value as written in a kernel config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `y`, `n` or `m`.
    Tristate(u8),
    /// A number (decimal, `0x` hex or octal, possibly negative, stored as its bits).
    Num(u64),
    /// A quoted string, without its quotes.
    Str(String),
}

/// Parses a kernel config file (`CONFIG_X=…` lines; comments and `# CONFIG_X is not set`
/// are skipped, as libbpf does).
pub fn parse_config(text: &str) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some((name, v)) = line.split_once('=') else {
            continue;
        };
        if !name.starts_with("CONFIG_") {
            continue;
        }
        let v = v.trim_end();
        let value = match v {
            "y" | "n" | "m" => Value::Tristate(v.as_bytes()[0]),
            _ if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => {
                Value::Str(v[1..v.len() - 1].to_string())
            }
            _ => match parse_num(v) {
                Some(n) => Value::Num(n),
                None => continue,
            },
        };
        out.insert(name.to_string(), value);
    }
    out
}

/// `strtoull(v, 0)`-like: decimal, `0x` hex, leading-0 octal, an optional `-`.
fn parse_num(v: &str) -> Option<u64> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    let n = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { n.wrapping_neg() } else { n })
}

/// `value` in the bytes of `e`'s type (libbpf's `set_kcfg_value_*`).
pub fn encode(e: &KconfigExtern, value: &Value) -> Result<Vec<u8>> {
    let size = e.size as usize;
    Ok(match (e.kind, value) {
        (KconfigType::Bool, Value::Tristate(b'y')) => vec![1],
        (KconfigType::Bool, Value::Tristate(b'n')) => vec![0],
        (KconfigType::Bool, Value::Num(n @ (0 | 1))) => vec![*n as u8],
        (KconfigType::Tristate, Value::Tristate(c)) => {
            let v: u32 = match c {
                b'y' => 1,
                b'm' => 2,
                _ => 0,
            };
            v.to_le_bytes().to_vec()
        }
        (KconfigType::Char, Value::Tristate(c)) => vec![*c],
        (KconfigType::CharArray, Value::Str(s)) => {
            // Cut to fit, always NUL-terminated (libbpf warns and truncates).
            let mut b = vec![0u8; size];
            let n = s.len().min(size.saturating_sub(1));
            b[..n].copy_from_slice(&s.as_bytes()[..n]);
            b
        }
        (KconfigType::Int { .. } | KconfigType::Char, Value::Num(n)) if size <= 8 => {
            let signed = matches!(e.kind, KconfigType::Int { signed: true });
            let bits = size as u32 * 8;
            let fits = if bits == 64 {
                true
            } else if signed {
                let v = *n as i64;
                v >= -(1i64 << (bits - 1)) && v < (1i64 << (bits - 1))
            } else {
                *n >> bits == 0
            };
            if !fits {
                return Err(invalid(
                    e,
                    format!("value {n} does not fit in {size} bytes"),
                ));
            }
            n.to_ne_bytes()[..size].to_vec()
        }
        _ => {
            return Err(invalid(
                e,
                format!("value {value:?} does not suit its type"),
            ))
        }
    })
}

/// The largest kernel configuration read (a full one is a few hundred KiB).
const MAX_CONFIG: usize = 64 << 20;

/// The running kernel's configuration, as libbpf finds it: `/boot/config-$(uname -r)`,
/// else `/proc/config.gz`.
fn running_config() -> Option<HashMap<String, Value>> {
    let release = uname_release()?;
    if let Ok(text) = std::fs::read_to_string(format!("/boot/config-{release}")) {
        return Some(parse_config(&text));
    }
    let gz = std::fs::read("/proc/config.gz").ok()?;
    let text = crate::gunzip::gunzip(&gz, MAX_CONFIG).ok()?;
    Some(parse_config(&String::from_utf8_lossy(&text)))
}

fn uname_release() -> Option<String> {
    // SAFETY: utsname is plain data; uname fills it and returns 0, or fails.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

/// `KERNEL_VERSION(a, b, c)` of `a.b.c…` (`c` capped at 255), 0 when it does not parse.
pub fn version_code(release: &str) -> u32 {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    match (next(), next(), next()) {
        (Some(a), Some(b), Some(c)) => (a << 16) + (b << 8) + c.min(255),
        _ => 0,
    }
}

/// libbpf's `get_kernel_version`: Ubuntu's `/proc/version_signature` ("Ubuntu 5.4.0-42.46-
/// generic 5.4.44": the last field), else `uname -r`.
fn kernel_version() -> u32 {
    if let Ok(sig) = std::fs::read_to_string("/proc/version_signature") {
        if let Some(v) = sig.split_whitespace().nth(2) {
            return version_code(v);
        }
    }
    uname_release().map_or(0, |r| version_code(&r))
}

fn has_bpf_cookie() -> bool {
    let Some(h) = asm::Helper::from_name("get_attach_cookie") else {
        return false;
    };
    crate::features::probe(crate::features::Feature::Helper(
        crate::program::ProgramType::Kprobe,
        h,
    ))
    .unwrap_or(false)
}

/// The architecture's prefix of syscall wrapper names (`__<prefix>_sys_bpf`), as libbpf's
/// `arch_specific_syscall_pfx`.
fn syscall_prefix() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x64"),
        "x86" => Some("ia32"),
        "s390x" => Some("s390x"),
        "arm" => Some("arm"),
        "aarch64" => Some("arm64"),
        "mips" | "mips64" => Some("mips"),
        "riscv64" => Some("riscv"),
        "powerpc" | "powerpc64" => Some("powerpc"),
        "loongarch64" => Some("loongarch"),
        _ => None,
    }
}

/// Whether a kprobe perf event on `__<arch>_sys_bpf` opens (libbpf's
/// `probe_kern_syscall_wrapper` through the kprobe PMU). Without the kprobe PMU (no
/// `/sys/bus/event_source/devices/kprobe/type`) the answer is no; libbpf would then try a
/// legacy tracefs kprobe event, which needs kprobes too.
fn has_syscall_wrapper() -> bool {
    /// `PERF_FLAG_FD_CLOEXEC` of `linux/perf_event.h`.
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
    let Some(pfx) = syscall_prefix() else {
        return false;
    };
    let Some(pmu) = std::fs::read_to_string("/sys/bus/event_source/devices/kprobe/type")
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return false;
    };
    let Ok(func) = std::ffi::CString::new(format!("__{pfx}_sys_bpf")) else {
        return false;
    };
    // struct perf_event_attr: type, size, config, then (at 56) config1 = the function name
    // and (at 64) config2 = the offset; 128 bytes (PERF_ATTR_SIZE_VER7) all zero otherwise.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&pmu.to_ne_bytes());
    attr[4..8].copy_from_slice(&128u32.to_ne_bytes());
    attr[56..64].copy_from_slice(&(func.as_ptr() as u64).to_ne_bytes());
    // SAFETY: `attr` is a perf_event_attr of the size it states, its one pointer (config1)
    // to `func`, alive for the call; pid = this process, cpu = any, no group, CLOEXEC.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            libc::getpid(),
            -1,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd >= 0 {
        // SAFETY: `fd` is the perf event fd just opened, closed once here.
        unsafe { libc::close(fd as libc::c_int) };
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, kind: KconfigType, size: u32) -> KconfigExtern {
        KconfigExtern {
            name: name.into(),
            kind,
            offset: 0,
            size,
            weak: false,
        }
    }

    #[test]
    fn config_lines_parse_as_libbpf_reads_them() {
        let c = parse_config(
            "# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_HZ=250\n\
             CONFIG_X=0x10\nCONFIG_NEG=-3\nCONFIG_S=\"abc\"\nNOT_CONFIG=1\n",
        );
        assert_eq!(c["CONFIG_A"], Value::Tristate(b'y'));
        assert_eq!(c["CONFIG_B"], Value::Tristate(b'm'));
        assert!(!c.contains_key("CONFIG_C"));
        assert_eq!(c["CONFIG_HZ"], Value::Num(250));
        assert_eq!(c["CONFIG_X"], Value::Num(16));
        assert_eq!(c["CONFIG_NEG"], Value::Num(-3i64 as u64));
        assert_eq!(c["CONFIG_S"], Value::Str("abc".into()));
        assert!(!c.contains_key("NOT_CONFIG"));
    }

    #[test]
    fn values_take_their_types_shape() {
        let b = ext("CONFIG_A", KconfigType::Bool, 1);
        assert_eq!(encode(&b, &Value::Tristate(b'y')).unwrap(), [1]);
        assert!(encode(&b, &Value::Tristate(b'm')).is_err());
        let t = ext("CONFIG_B", KconfigType::Tristate, 4);
        assert_eq!(
            encode(&t, &Value::Tristate(b'm')).unwrap(),
            2u32.to_le_bytes()
        );
        let c = ext("CONFIG_A", KconfigType::Char, 1);
        assert_eq!(encode(&c, &Value::Tristate(b'm')).unwrap(), [b'm']);
        let i = ext("CONFIG_HZ", KconfigType::Int { signed: false }, 4);
        assert_eq!(encode(&i, &Value::Num(250)).unwrap(), 250u32.to_ne_bytes());
        assert!(encode(&i, &Value::Num(1 << 32)).is_err());
        let s = ext("CONFIG_NEG", KconfigType::Int { signed: true }, 2);
        assert_eq!(
            encode(&s, &Value::Num(-3i64 as u64)).unwrap(),
            (-3i16).to_ne_bytes()
        );
        let a = ext("CONFIG_S", KconfigType::CharArray, 3);
        assert_eq!(encode(&a, &Value::Str("abcd".into())).unwrap(), *b"ab\0");
        assert!(encode(&a, &Value::Num(1)).is_err());
    }

    #[test]
    fn kernel_versions_as_libbpf_computes_them() {
        assert_eq!(version_code("6.18.0-rc1"), (6 << 16) + (18 << 8));
        assert_eq!(version_code("4.19.300"), (4 << 16) + (19 << 8) + 255);
        assert_eq!(version_code("garbage"), 0);
    }

    #[test]
    fn missing_values_are_zero_only_when_weak() {
        let mut e = ext("LINUX_NO_SUCH_THING", KconfigType::Bool, 1);
        assert!(values(std::slice::from_ref(&e), 1).is_err());
        e.weak = true;
        assert_eq!(values(&[e], 1).unwrap(), [0]);
    }
}
