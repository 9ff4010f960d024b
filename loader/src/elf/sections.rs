//! libbpf's program section names (`SEC("…")`) and the program and attach types they mean.

use crate::program::{AttachType, ProgramType};

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
}

/// (name, prog type, attach type, needs BTF target). Longer, more specific names first.
const TABLE: &[(&str, u32, Option<u32>, bool)] = &[
    ("socket", 1, None, false),
    ("sk_reuseport/migrate", 21, Some(40), false),
    ("sk_reuseport", 21, Some(39), false),
    ("kprobe.multi", 2, Some(42), false),
    ("kretprobe.multi", 2, Some(42), false),
    ("kprobe", 2, None, false),
    ("kretprobe", 2, None, false),
    ("uprobe", 2, None, false),
    ("uretprobe", 2, None, false),
    ("ksyscall", 2, None, false),
    ("kretsyscall", 2, None, false),
    ("usdt", 2, None, false),
    ("classifier", 3, None, false),
    ("tc", 3, None, false),
    ("action", 4, None, false),
    ("tracepoint", 5, None, false),
    ("tp", 5, None, false),
    ("raw_tracepoint.w", 24, None, false),
    ("raw_tp.w", 24, None, false),
    ("raw_tracepoint", 17, None, false),
    ("raw_tp", 17, None, false),
    ("tp_btf", 26, Some(23), true),
    ("fentry", 26, Some(24), true),
    ("fexit", 26, Some(25), true),
    ("fmod_ret", 26, Some(26), true),
    ("iter", 26, Some(28), true),
    ("lsm_cgroup", 29, Some(43), true),
    ("lsm", 29, Some(27), true),
    ("struct_ops", 27, None, true),
    ("freplace", 28, None, true),
    ("syscall", 31, None, false),
    ("xdp/devmap", 6, Some(33), false),
    ("xdp/cpumap", 6, Some(35), false),
    ("xdp", 6, Some(37), false),
    ("perf_event", 7, None, false),
    ("lwt_in", 10, None, false),
    ("lwt_out", 11, None, false),
    ("lwt_xmit", 12, None, false),
    ("lwt_seg6local", 19, None, false),
    ("sockops", 13, Some(3), false),
    ("sk_skb/stream_parser", 14, Some(4), false),
    ("sk_skb/stream_verdict", 14, Some(5), false),
    ("sk_skb/verdict", 14, Some(38), false),
    ("sk_skb", 14, None, false),
    ("sk_msg", 16, Some(7), false),
    ("lirc_mode2", 20, Some(16), false),
    ("flow_dissector", 22, Some(17), false),
    ("cgroup_skb/ingress", 8, Some(0), false),
    ("cgroup_skb/egress", 8, Some(1), false),
    ("cgroup/skb", 8, None, false),
    ("cgroup/sock_create", 9, Some(2), false),
    ("cgroup/sock_release", 9, Some(34), false),
    ("cgroup/sock", 9, Some(2), false),
    ("cgroup/post_bind4", 9, Some(12), false),
    ("cgroup/post_bind6", 9, Some(13), false),
    ("cgroup/bind4", 18, Some(8), false),
    ("cgroup/bind6", 18, Some(9), false),
    ("cgroup/connect4", 18, Some(10), false),
    ("cgroup/connect6", 18, Some(11), false),
    ("cgroup/sendmsg4", 18, Some(14), false),
    ("cgroup/sendmsg6", 18, Some(15), false),
    ("cgroup/recvmsg4", 18, Some(19), false),
    ("cgroup/recvmsg6", 18, Some(20), false),
    ("cgroup/getpeername4", 18, Some(29), false),
    ("cgroup/getpeername6", 18, Some(30), false),
    ("cgroup/getsockname4", 18, Some(31), false),
    ("cgroup/getsockname6", 18, Some(32), false),
    ("cgroup/sysctl", 23, Some(18), false),
    ("cgroup/getsockopt", 25, Some(21), false),
    ("cgroup/setsockopt", 25, Some(22), false),
    ("cgroup/dev", 15, Some(6), false),
    ("sk_lookup", 30, Some(36), false),
];

/// The kind of programs in a section called `name`: an exact libbpf name (`sockops`,
/// `sk_msg`, `xdp`, `cgroup/connect4`, …) or one followed by `/` and a target
/// (`kprobe/tcp_sendmsg`, `tracepoint/syscalls/sys_enter_openat`). `None` for anything else.
pub fn section_kind(name: &str) -> Option<SectionKind> {
    TABLE
        .iter()
        .find(|(p, ..)| {
            name == *p
                || (name.len() > p.len() && name.starts_with(p) && name.as_bytes()[p.len()] == b'/')
        })
        .map(|&(prefix, t, a, btf)| SectionKind {
            prefix,
            prog_type: ProgramType::from_raw(t),
            expected_attach_type: a.map(AttachType::from_raw),
            needs_btf_target: btf,
        })
}

/// The libbpf section name for a program type (and attach type), the inverse of
/// [`section_kind`] for the common names; `None` when there is no plain name.
pub fn section_name(prog_type: ProgramType, attach: Option<AttachType>) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|(_, t, a, btf)| {
            !btf && *t == prog_type.raw()
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
        assert_eq!(
            section_kind("classifier/ingress").unwrap().prog_type.raw(),
            3
        );
        assert_eq!(
            section_kind("cgroup/connect4")
                .unwrap()
                .expected_attach_type,
            Some(AttachType::Other(10))
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
            Some(AttachType::Other(4))
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

    /// The numbers in the table are the positions in bpf.h's enums (read from the header).
    #[test]
    fn numbers_match_the_uapi_header() {
        let Ok(h) = std::fs::read_to_string("/usr/include/linux/bpf.h") else {
            eprintln!("SKIP numbers_match_the_uapi_header: no /usr/include/linux/bpf.h");
            return;
        };
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
