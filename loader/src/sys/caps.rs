//! The process's capabilities, read from `/proc/self/status`, and the explanation an EPERM
//! from `bpf()` gets from them. Only [`super::SyscallError::new`] and `env` ask.

use std::fs;

/// Linux capability numbers used in messages.
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set of this process (`CapEff` of `/proc/self/status`).
pub(crate) fn effective_caps() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Explains an EPERM from `bpf()` by the capabilities `caps` has (`None`: unknown).
pub(crate) fn permission_hint_for(caps: Option<u64>) -> String {
    let Some(caps) = caps else {
        return "bpf() needs CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN): run as root".into();
    };
    let has = |c: u32| caps & (1u64 << c) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_NET_ADMIN) && has(CAP_PERFMON)) {
        return "the process has the needed capabilities; the kernel refused for another reason \
                (a security module, lockdown, or the object's own permissions)"
            .into();
    }
    let missing: Vec<&str> = [
        (CAP_BPF, "CAP_BPF"),
        (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
        (CAP_PERFMON, "CAP_PERFMON"),
    ]
    .iter()
    .filter(|(c, _)| !has(*c))
    .map(|(_, n)| *n)
    .collect();
    let list = match missing.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => missing.join(""),
    };
    format!(
        "the process lacks {list} (or CAP_SYS_ADMIN, which covers them): run as root or grant them"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_and_hint() {
        let status = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert!(permission_hint_for(Some(0x1ff_ffff_ffff)).contains("another reason"));
        let h = permission_hint_for(Some(0));
        assert!(
            h.contains("lacks CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON"),
            "{h}"
        );
        let only_bpf = permission_hint_for(Some(1 << CAP_BPF));
        assert!(!only_bpf.contains("CAP_BPF,"), "{only_bpf}");
        assert!(only_bpf.contains("CAP_NET_ADMIN"), "{only_bpf}");
    }
}
