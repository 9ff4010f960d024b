//! libbpf's program section names (`SEC("…")`) and the program and attach types they mean.

use crate::types::{AttachType, ProgramType};

/// What a program section name says about its programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionKind {
    /// The section name's recognised prefix, e.g. `"kprobe"` for `kprobe/tcp_sendmsg`.
    pub prefix: &'static str,
    /// The program type.
    pub prog_type: ProgramType,
    /// The expected attach type libbpf would pass at load, if any.
    pub expected_attach_type: Option<AttachType>,
    /// Whether loading needs a BTF attach target (`attach_btf_id`), which this loader does not
    /// resolve (fentry, fexit, lsm, iter, struct_ops, freplace, tp_btf).
    pub needs_btf_target: bool,
    /// The `BPF_F_*` program flags libbpf loads these programs with (`BPF_F_SLEEPABLE` for
    /// `syscall` and the `.s` names, `BPF_F_XDP_HAS_FRAGS` for `xdp.frags`).
    pub prog_flags: u32,
}

/// The name takes `/…` after it (`kprobe/tcp_sendmsg`): libbpf's `+` entries. Every other
/// name must match exactly, as libbpf ≥ 1.0 requires (`xdp/foo` is not an XDP section).
const EXTRAS: u8 = 1;
/// Loading needs a BTF attach target.
const BTF_TARGET: u8 = 2;
/// libbpf loads with `BPF_F_SLEEPABLE`.
const SLEEPABLE: u8 = 4;
/// libbpf loads with `BPF_F_XDP_HAS_FRAGS`.
const XDP_FRAGS: u8 = 8;

use uapi::bpf::*;

/// (name, prog type, attach type, flags above): libbpf 1.1's `section_defs`, plus
/// `sk_skb/verdict` (a later libbpf's name). Longer, more specific names first.
const TABLE: &[(&str, u32, Option<u32>, u8)] = &[
    ("socket", BPF_PROG_TYPE_SOCKET_FILTER, None, 0),
    (
        "sk_reuseport/migrate",
        BPF_PROG_TYPE_SK_REUSEPORT,
        Some(BPF_SK_REUSEPORT_SELECT_OR_MIGRATE),
        0,
    ),
    (
        "sk_reuseport",
        BPF_PROG_TYPE_SK_REUSEPORT,
        Some(BPF_SK_REUSEPORT_SELECT),
        0,
    ),
    (
        "kprobe.multi",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_KPROBE_MULTI),
        EXTRAS,
    ),
    (
        "kretprobe.multi",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_KPROBE_MULTI),
        EXTRAS,
    ),
    ("kprobe", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    ("kretprobe", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    ("uprobe.s", BPF_PROG_TYPE_KPROBE, None, EXTRAS | SLEEPABLE),
    ("uprobe", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    (
        "uretprobe.s",
        BPF_PROG_TYPE_KPROBE,
        None,
        EXTRAS | SLEEPABLE,
    ),
    ("uretprobe", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    ("ksyscall", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    ("kretsyscall", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    ("usdt", BPF_PROG_TYPE_KPROBE, None, EXTRAS),
    ("classifier", BPF_PROG_TYPE_SCHED_CLS, None, 0),
    ("tc", BPF_PROG_TYPE_SCHED_CLS, None, 0),
    ("action", BPF_PROG_TYPE_SCHED_ACT, None, 0),
    ("tracepoint", BPF_PROG_TYPE_TRACEPOINT, None, EXTRAS),
    ("tp", BPF_PROG_TYPE_TRACEPOINT, None, EXTRAS),
    (
        "raw_tracepoint.w",
        BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
        None,
        EXTRAS,
    ),
    (
        "raw_tp.w",
        BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
        None,
        EXTRAS,
    ),
    ("raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT, None, EXTRAS),
    ("raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, None, EXTRAS),
    (
        "tp_btf",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_RAW_TP),
        EXTRAS | BTF_TARGET,
    ),
    (
        "fentry.s",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FENTRY),
        EXTRAS | BTF_TARGET | SLEEPABLE,
    ),
    (
        "fentry",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FENTRY),
        EXTRAS | BTF_TARGET,
    ),
    (
        "fexit.s",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FEXIT),
        EXTRAS | BTF_TARGET | SLEEPABLE,
    ),
    (
        "fexit",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FEXIT),
        EXTRAS | BTF_TARGET,
    ),
    (
        "fmod_ret.s",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_MODIFY_RETURN),
        EXTRAS | BTF_TARGET | SLEEPABLE,
    ),
    (
        "fmod_ret",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_MODIFY_RETURN),
        EXTRAS | BTF_TARGET,
    ),
    (
        "iter.s",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_ITER),
        EXTRAS | BTF_TARGET | SLEEPABLE,
    ),
    (
        "iter",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_ITER),
        EXTRAS | BTF_TARGET,
    ),
    (
        "lsm_cgroup",
        BPF_PROG_TYPE_LSM,
        Some(BPF_LSM_CGROUP),
        EXTRAS | BTF_TARGET,
    ),
    (
        "lsm.s",
        BPF_PROG_TYPE_LSM,
        Some(BPF_LSM_MAC),
        EXTRAS | BTF_TARGET | SLEEPABLE,
    ),
    (
        "lsm",
        BPF_PROG_TYPE_LSM,
        Some(BPF_LSM_MAC),
        EXTRAS | BTF_TARGET,
    ),
    (
        "struct_ops",
        BPF_PROG_TYPE_STRUCT_OPS,
        None,
        EXTRAS | BTF_TARGET,
    ),
    ("freplace", BPF_PROG_TYPE_EXT, None, EXTRAS | BTF_TARGET),
    ("syscall", BPF_PROG_TYPE_SYSCALL, None, SLEEPABLE),
    (
        "xdp.frags/devmap",
        BPF_PROG_TYPE_XDP,
        Some(BPF_XDP_DEVMAP),
        XDP_FRAGS,
    ),
    ("xdp/devmap", BPF_PROG_TYPE_XDP, Some(BPF_XDP_DEVMAP), 0),
    (
        "xdp.frags/cpumap",
        BPF_PROG_TYPE_XDP,
        Some(BPF_XDP_CPUMAP),
        XDP_FRAGS,
    ),
    ("xdp/cpumap", BPF_PROG_TYPE_XDP, Some(BPF_XDP_CPUMAP), 0),
    ("xdp.frags", BPF_PROG_TYPE_XDP, Some(BPF_XDP), XDP_FRAGS),
    ("xdp", BPF_PROG_TYPE_XDP, Some(BPF_XDP), 0),
    ("perf_event", BPF_PROG_TYPE_PERF_EVENT, None, 0),
    ("lwt_in", BPF_PROG_TYPE_LWT_IN, None, 0),
    ("lwt_out", BPF_PROG_TYPE_LWT_OUT, None, 0),
    ("lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, None, 0),
    ("lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL, None, 0),
    (
        "sockops",
        BPF_PROG_TYPE_SOCK_OPS,
        Some(BPF_CGROUP_SOCK_OPS),
        0,
    ),
    (
        "sk_skb/stream_parser",
        BPF_PROG_TYPE_SK_SKB,
        Some(BPF_SK_SKB_STREAM_PARSER),
        0,
    ),
    (
        "sk_skb/stream_verdict",
        BPF_PROG_TYPE_SK_SKB,
        Some(BPF_SK_SKB_STREAM_VERDICT),
        0,
    ),
    (
        "sk_skb/verdict",
        BPF_PROG_TYPE_SK_SKB,
        Some(BPF_SK_SKB_VERDICT),
        0,
    ),
    ("sk_skb", BPF_PROG_TYPE_SK_SKB, None, 0),
    ("sk_msg", BPF_PROG_TYPE_SK_MSG, Some(BPF_SK_MSG_VERDICT), 0),
    (
        "lirc_mode2",
        BPF_PROG_TYPE_LIRC_MODE2,
        Some(BPF_LIRC_MODE2),
        0,
    ),
    (
        "flow_dissector",
        BPF_PROG_TYPE_FLOW_DISSECTOR,
        Some(BPF_FLOW_DISSECTOR),
        0,
    ),
    (
        "cgroup_skb/ingress",
        BPF_PROG_TYPE_CGROUP_SKB,
        Some(BPF_CGROUP_INET_INGRESS),
        0,
    ),
    (
        "cgroup_skb/egress",
        BPF_PROG_TYPE_CGROUP_SKB,
        Some(BPF_CGROUP_INET_EGRESS),
        0,
    ),
    ("cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, None, 0),
    (
        "cgroup/sock_create",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET_SOCK_CREATE),
        0,
    ),
    (
        "cgroup/sock_release",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET_SOCK_RELEASE),
        0,
    ),
    (
        "cgroup/sock",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET_SOCK_CREATE),
        0,
    ),
    (
        "cgroup/post_bind4",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET4_POST_BIND),
        0,
    ),
    (
        "cgroup/post_bind6",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET6_POST_BIND),
        0,
    ),
    (
        "cgroup/bind4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_BIND),
        0,
    ),
    (
        "cgroup/bind6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_BIND),
        0,
    ),
    (
        "cgroup/connect4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_CONNECT),
        0,
    ),
    (
        "cgroup/connect6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_CONNECT),
        0,
    ),
    (
        "cgroup/sendmsg4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP4_SENDMSG),
        0,
    ),
    (
        "cgroup/sendmsg6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP6_SENDMSG),
        0,
    ),
    (
        "cgroup/recvmsg4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP4_RECVMSG),
        0,
    ),
    (
        "cgroup/recvmsg6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP6_RECVMSG),
        0,
    ),
    (
        "cgroup/getpeername4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_GETPEERNAME),
        0,
    ),
    (
        "cgroup/getpeername6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_GETPEERNAME),
        0,
    ),
    (
        "cgroup/getsockname4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_GETSOCKNAME),
        0,
    ),
    (
        "cgroup/getsockname6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_GETSOCKNAME),
        0,
    ),
    (
        "cgroup/sysctl",
        BPF_PROG_TYPE_CGROUP_SYSCTL,
        Some(BPF_CGROUP_SYSCTL),
        0,
    ),
    (
        "cgroup/getsockopt",
        BPF_PROG_TYPE_CGROUP_SOCKOPT,
        Some(BPF_CGROUP_GETSOCKOPT),
        0,
    ),
    (
        "cgroup/setsockopt",
        BPF_PROG_TYPE_CGROUP_SOCKOPT,
        Some(BPF_CGROUP_SETSOCKOPT),
        0,
    ),
    (
        "cgroup/dev",
        BPF_PROG_TYPE_CGROUP_DEVICE,
        Some(BPF_CGROUP_DEVICE),
        0,
    ),
    ("sk_lookup", BPF_PROG_TYPE_SK_LOOKUP, Some(BPF_SK_LOOKUP), 0),
];

/// The kind of programs in a section called `name`, by libbpf 1.1's rules: an exact name
/// (`sockops`, `sk_msg`, `xdp`, `cgroup/connect4`, …), or, for the names that take a target,
/// one followed by `/` and the target (`kprobe/tcp_sendmsg`,
/// `tracepoint/syscalls/sys_enter_openat`). `None` for anything else (`xdp/foo`, `socket/x`).
pub fn section_kind(name: &str) -> Option<SectionKind> {
    TABLE
        .iter()
        .find(|(p, _, _, flags)| {
            name == *p
                || (flags & EXTRAS != 0
                    && name.len() > p.len()
                    && name.starts_with(p)
                    && name.as_bytes()[p.len()] == b'/')
        })
        .map(|&(prefix, t, a, flags)| SectionKind {
            prefix,
            prog_type: ProgramType::from_raw(t),
            expected_attach_type: a.map(AttachType::from_raw),
            needs_btf_target: flags & BTF_TARGET != 0,
            prog_flags: if flags & SLEEPABLE != 0 {
                BPF_F_SLEEPABLE
            } else if flags & XDP_FRAGS != 0 {
                BPF_F_XDP_HAS_FRAGS
            } else {
                0
            },
        })
}

/// The libbpf section name for a program type (and attach type), the inverse of
/// [`section_kind`] for the common names; `None` when there is no plain name.
pub fn section_name(prog_type: ProgramType, attach: Option<AttachType>) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|(_, t, a, flags)| {
            flags & (BTF_TARGET | SLEEPABLE | XDP_FRAGS) == 0
                && *t == prog_type.raw()
                && (attach.is_none() || a.map(AttachType::from_raw) == attach)
        })
        .map(|(p, ..)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_types() {
        let k = section_kind("sockops").unwrap();
        assert_eq!(k.prog_type, ProgramType::SockOps);
        assert_eq!(k.expected_attach_type, Some(AttachType::CgroupSockOps));
        let k = section_kind("sk_msg").unwrap();
        assert_eq!(k.prog_type, ProgramType::SkMsg);
        assert_eq!(k.expected_attach_type, Some(AttachType::SkMsgVerdict));
        assert_eq!(
            section_kind("kprobe/tcp_sendmsg").unwrap().prog_type.raw(),
            2
        );
        assert_eq!(section_kind("tc").unwrap().prog_type.raw(), 3);
        // libbpf 1.1 takes a target only after the names marked `+` in its table.
        assert!(section_kind("classifier/ingress").is_none());
        assert!(section_kind("xdp/x").is_none());
        assert!(section_kind("socket/tail").is_none());
        assert!(section_kind("sockops/x").is_none());
        assert!(section_kind("cgroup/skb/x").is_none());
        assert_eq!(
            section_kind("xdp.frags").unwrap().prog_flags,
            BPF_F_XDP_HAS_FRAGS
        );
        assert_eq!(section_kind("syscall").unwrap().prog_flags, BPF_F_SLEEPABLE);
        assert_eq!(
            section_kind("uprobe.s/bin:func").unwrap().prog_flags,
            BPF_F_SLEEPABLE
        );
        assert_eq!(section_kind("uprobe/bin:func").unwrap().prog_flags, 0);
        assert!(section_kind("lsm.s/file_open").unwrap().needs_btf_target);
        assert_eq!(
            section_kind("cgroup/connect4")
                .unwrap()
                .expected_attach_type,
            Some(AttachType::CgroupInet4Connect)
        );
        assert_eq!(
            section_kind("cgroup_skb/egress")
                .unwrap()
                .expected_attach_type,
            Some(AttachType::CgroupInetEgress)
        );
        assert_eq!(
            section_kind("sk_skb/stream_parser")
                .unwrap()
                .expected_attach_type,
            Some(AttachType::SkSkbStreamParser)
        );
        assert_eq!(section_kind("sk_skb").unwrap().expected_attach_type, None);
        assert!(section_kind("fentry/tcp_connect").unwrap().needs_btf_target);
        assert_eq!(section_kind("xdp").unwrap().prog_type.raw(), 6);
        assert_eq!(
            section_kind("socket").unwrap().prog_type,
            ProgramType::SocketFilter
        );
    }

    #[test]
    fn unknown_and_lookalike_names() {
        assert!(section_kind("sockopsx").is_none());
        assert!(section_kind("sk_msgs").is_none());
        assert!(section_kind(".text").is_none());
        assert!(section_kind("").is_none());
        assert!(section_kind("cgroup/unknown").is_none());
    }

    #[test]
    fn inverse_names() {
        assert_eq!(section_name(ProgramType::SockOps, None), Some("sockops"));
        assert_eq!(
            section_name(ProgramType::SkMsg, Some(AttachType::SkMsgVerdict)),
            Some("sk_msg")
        );
        assert_eq!(
            section_name(ProgramType::SocketFilter, None),
            Some("socket")
        );
    }

    /// The numbers in the table are the positions in bpf.h's enums (read from the vendored
    /// header, compiled in: this check cannot skip).
    #[test]
    fn numbers_match_the_uapi_header() {
        let h = uapi::headers::BPF_H;
        let enum_names = |name: &str| -> Vec<String> {
            let start = h.find(&format!("enum {name} {{")).expect("enum in header");
            let body = &h[start..start + h[start..].find("};").unwrap()];
            body.lines()
                .skip(1)
                .filter_map(|l| {
                    let l = l.trim();
                    let id: String = l
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    (id.starts_with("BPF_") && !l.contains('=')).then_some(id)
                })
                .collect()
        };
        let progs = enum_names("bpf_prog_type");
        let attach = enum_names("bpf_attach_type");
        let expect_prog = |sec: &str, want: &str| {
            let n = section_kind(sec).unwrap().prog_type.raw() as usize;
            assert_eq!(progs[n], want, "{sec}");
        };
        let expect_attach = |sec: &str, want: &str| {
            let n = section_kind(sec)
                .unwrap()
                .expected_attach_type
                .unwrap()
                .raw() as usize;
            assert_eq!(attach[n], want, "{sec}");
        };
        expect_prog("socket", "BPF_PROG_TYPE_SOCKET_FILTER");
        expect_prog("kprobe/x", "BPF_PROG_TYPE_KPROBE");
        expect_prog("tc", "BPF_PROG_TYPE_SCHED_CLS");
        expect_prog("tracepoint/a/b", "BPF_PROG_TYPE_TRACEPOINT");
        expect_prog("xdp", "BPF_PROG_TYPE_XDP");
        expect_prog("sockops", "BPF_PROG_TYPE_SOCK_OPS");
        expect_prog("sk_msg", "BPF_PROG_TYPE_SK_MSG");
        expect_prog("cgroup/connect4", "BPF_PROG_TYPE_CGROUP_SOCK_ADDR");
        expect_prog("cgroup/sysctl", "BPF_PROG_TYPE_CGROUP_SYSCTL");
        expect_prog("cgroup/getsockopt", "BPF_PROG_TYPE_CGROUP_SOCKOPT");
        expect_prog("sk_lookup", "BPF_PROG_TYPE_SK_LOOKUP");
        expect_prog("lsm/x", "BPF_PROG_TYPE_LSM");
        expect_prog("fentry/x", "BPF_PROG_TYPE_TRACING");
        expect_prog("raw_tp/x", "BPF_PROG_TYPE_RAW_TRACEPOINT");
        expect_prog("cgroup/dev", "BPF_PROG_TYPE_CGROUP_DEVICE");
        expect_prog("flow_dissector", "BPF_PROG_TYPE_FLOW_DISSECTOR");
        expect_attach("sockops", "BPF_CGROUP_SOCK_OPS");
        expect_attach("sk_msg", "BPF_SK_MSG_VERDICT");
        expect_attach("xdp", "BPF_XDP");
        expect_attach("cgroup/connect6", "BPF_CGROUP_INET6_CONNECT");
        expect_attach("cgroup/recvmsg4", "BPF_CGROUP_UDP4_RECVMSG");
        expect_attach("cgroup/getsockname6", "BPF_CGROUP_INET6_GETSOCKNAME");
        expect_attach("cgroup/sock_release", "BPF_CGROUP_INET_SOCK_RELEASE");
        expect_attach("sk_skb/verdict", "BPF_SK_SKB_VERDICT");
        expect_attach("sk_lookup", "BPF_SK_LOOKUP");
        expect_attach("cgroup/setsockopt", "BPF_CGROUP_SETSOCKOPT");
        expect_attach("lsm/x", "BPF_LSM_MAC");
        expect_attach("iter/x", "BPF_TRACE_ITER");
        // Every table entry's numbers are in range.
        for (name, t, a, _) in TABLE {
            assert!((*t as usize) < progs.len(), "{name}");
            if let Some(a) = a {
                assert!((*a as usize) < attach.len(), "{name}");
            }
        }
    }
}
