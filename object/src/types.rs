//! What an object describes, independent of any kernel: the kinds of maps and programs
//! (UAPI numbers with names), where programs attach, and [`MapSpec`], what a map to create
//! looks like. The loader creates and loads these; this crate only reads and writes them.

use std::fmt;

use uapi::bpf;

/// The kind of a map (`enum bpf_map_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MapType {
    /// `BPF_MAP_TYPE_HASH`.
    Hash,
    /// `BPF_MAP_TYPE_ARRAY`.
    Array,
    /// `BPF_MAP_TYPE_PERCPU_HASH`.
    PerCpuHash,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`.
    PerCpuArray,
    /// `BPF_MAP_TYPE_LRU_HASH`.
    LruHash,
    /// `BPF_MAP_TYPE_LPM_TRIE` (created with `BPF_F_NO_PREALLOC`, which the kernel requires).
    LpmTrie,
    /// `BPF_MAP_TYPE_SOCKMAP`: sockets by array index.
    SockMap,
    /// `BPF_MAP_TYPE_SOCKHASH`: sockets by arbitrary key.
    SockHash,
    /// `BPF_MAP_TYPE_PROG_ARRAY`: programs for `bpf_tail_call`.
    ProgArray,
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one perf event per CPU for `bpf_perf_event_output`.
    PerfEventArray,
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`: maps by index (created with an inner map template).
    ArrayOfMaps,
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`: maps by key (created with an inner map template).
    HashOfMaps,
    /// `BPF_MAP_TYPE_RINGBUF`: a ring buffer shared with user space.
    RingBuf,
    /// Any other type, by number.
    Other(u32),
}

impl MapType {
    /// The UAPI number.
    pub fn raw(self) -> u32 {
        use uapi::bpf::*;
        match self {
            MapType::Hash => BPF_MAP_TYPE_HASH,
            MapType::Array => BPF_MAP_TYPE_ARRAY,
            MapType::PerCpuHash => BPF_MAP_TYPE_PERCPU_HASH,
            MapType::PerCpuArray => BPF_MAP_TYPE_PERCPU_ARRAY,
            MapType::LruHash => BPF_MAP_TYPE_LRU_HASH,
            MapType::LpmTrie => BPF_MAP_TYPE_LPM_TRIE,
            MapType::SockMap => BPF_MAP_TYPE_SOCKMAP,
            MapType::SockHash => BPF_MAP_TYPE_SOCKHASH,
            MapType::ProgArray => BPF_MAP_TYPE_PROG_ARRAY,
            MapType::PerfEventArray => BPF_MAP_TYPE_PERF_EVENT_ARRAY,
            MapType::ArrayOfMaps => BPF_MAP_TYPE_ARRAY_OF_MAPS,
            MapType::HashOfMaps => BPF_MAP_TYPE_HASH_OF_MAPS,
            MapType::RingBuf => BPF_MAP_TYPE_RINGBUF,
            MapType::Other(n) => n,
        }
    }

    /// The type of a UAPI number.
    pub fn from_raw(n: u32) -> MapType {
        use uapi::bpf::*;
        match n {
            BPF_MAP_TYPE_HASH => MapType::Hash,
            BPF_MAP_TYPE_ARRAY => MapType::Array,
            BPF_MAP_TYPE_PERCPU_HASH => MapType::PerCpuHash,
            BPF_MAP_TYPE_PERCPU_ARRAY => MapType::PerCpuArray,
            BPF_MAP_TYPE_LRU_HASH => MapType::LruHash,
            BPF_MAP_TYPE_LPM_TRIE => MapType::LpmTrie,
            BPF_MAP_TYPE_SOCKMAP => MapType::SockMap,
            BPF_MAP_TYPE_SOCKHASH => MapType::SockHash,
            BPF_MAP_TYPE_PROG_ARRAY => MapType::ProgArray,
            BPF_MAP_TYPE_PERF_EVENT_ARRAY => MapType::PerfEventArray,
            BPF_MAP_TYPE_ARRAY_OF_MAPS => MapType::ArrayOfMaps,
            BPF_MAP_TYPE_HASH_OF_MAPS => MapType::HashOfMaps,
            BPF_MAP_TYPE_RINGBUF => MapType::RingBuf,
            n => MapType::Other(n),
        }
    }

    /// Whether values are per CPU.
    pub fn is_per_cpu(self) -> bool {
        matches!(
            self,
            MapType::PerCpuArray
                | MapType::PerCpuHash
                | MapType::Other(uapi::bpf::BPF_MAP_TYPE_LRU_PERCPU_HASH)
        )
    }

    /// A short lowercase name, as bpftool prints it.
    pub fn name(self) -> String {
        match self {
            MapType::Hash => "hash".into(),
            MapType::Array => "array".into(),
            MapType::PerCpuHash => "percpu_hash".into(),
            MapType::PerCpuArray => "percpu_array".into(),
            MapType::LruHash => "lru_hash".into(),
            MapType::LpmTrie => "lpm_trie".into(),
            MapType::SockMap => "sockmap".into(),
            MapType::SockHash => "sockhash".into(),
            MapType::ProgArray => "prog_array".into(),
            MapType::PerfEventArray => "perf_event_array".into(),
            MapType::ArrayOfMaps => "array_of_maps".into(),
            MapType::HashOfMaps => "hash_of_maps".into(),
            MapType::RingBuf => "ringbuf".into(),
            MapType::Other(n) => format!("type {n}"),
        }
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What a map to create looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// The map's name: letters, digits, `_` and `.`. The kernel keeps the first 15 bytes;
    /// programs bind maps by the full name.
    pub name: String,
    /// The kind.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub flags: u32,
}

impl MapSpec {
    /// A spec with no flags.
    pub fn new(
        name: &str,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> MapSpec {
        MapSpec {
            name: name.to_string(),
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
        }
    }

    /// The same spec with `flags`.
    pub fn with_flags(mut self, flags: u32) -> MapSpec {
        self.flags = flags;
        self
    }
}

/// The kind of a program (`enum bpf_prog_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProgramType {
    /// `BPF_PROG_TYPE_SOCKET_FILTER`: a socket filter (`SO_ATTACH_BPF`).
    SocketFilter,
    /// `BPF_PROG_TYPE_KPROBE`: kprobes, uprobes (perf events).
    Kprobe,
    /// `BPF_PROG_TYPE_SCHED_CLS`: tc classifier (tcx or cls_bpf).
    SchedCls,
    /// `BPF_PROG_TYPE_SCHED_ACT`: tc action.
    SchedAct,
    /// `BPF_PROG_TYPE_TRACEPOINT`: a tracepoint (perf event).
    Tracepoint,
    /// `BPF_PROG_TYPE_XDP`: XDP on a network device.
    Xdp,
    /// `BPF_PROG_TYPE_PERF_EVENT`: a perf event (sampling).
    PerfEvent,
    /// `BPF_PROG_TYPE_CGROUP_SKB`: packets of a cgroup's sockets.
    CgroupSkb,
    /// `BPF_PROG_TYPE_CGROUP_SOCK`: socket creation, release, post-bind in a cgroup.
    CgroupSock,
    /// `BPF_PROG_TYPE_LWT_IN`: lightweight tunnel input.
    LwtIn,
    /// `BPF_PROG_TYPE_LWT_OUT`: lightweight tunnel output.
    LwtOut,
    /// `BPF_PROG_TYPE_LWT_XMIT`: lightweight tunnel transmit.
    LwtXmit,
    /// `BPF_PROG_TYPE_SOCK_OPS`: TCP events of sockets in a cgroup.
    SockOps,
    /// `BPF_PROG_TYPE_SK_SKB`: stream parser and verdict of sockets in a sockmap.
    SkSkb,
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`: device access in a cgroup.
    CgroupDevice,
    /// `BPF_PROG_TYPE_SK_MSG`: sendmsg verdicts of sockets in a sockmap or sockhash.
    SkMsg,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`: a raw tracepoint.
    RawTracepoint,
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`: bind, connect, sendmsg addresses in a cgroup.
    CgroupSockAddr,
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`: SRv6 local actions.
    LwtSeg6Local,
    /// `BPF_PROG_TYPE_LIRC_MODE2`: infrared decoders.
    LircMode2,
    /// `BPF_PROG_TYPE_SK_REUSEPORT`: SO_REUSEPORT socket selection.
    SkReuseport,
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR`: the flow dissector of a network namespace.
    FlowDissector,
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL`: sysctl access in a cgroup.
    CgroupSysctl,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`: a writable raw tracepoint.
    RawTracepointWritable,
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`: `setsockopt`/`getsockopt` calls of a cgroup's sockets (Linux 5.3).
    CgroupSockopt,
    /// `BPF_PROG_TYPE_TRACING`: fentry, fexit, fmod_ret, tp_btf, iterators (BTF-typed, `attach_btf_id`).
    Tracing,
    /// `BPF_PROG_TYPE_STRUCT_OPS`: kernel struct_ops implementations.
    StructOps,
    /// `BPF_PROG_TYPE_EXT`: a freplace extension of another BPF program.
    Ext,
    /// `BPF_PROG_TYPE_LSM`: BPF LSM hooks.
    Lsm,
    /// `BPF_PROG_TYPE_SK_LOOKUP`: socket lookup in a network namespace (Linux 5.9).
    SkLookup,
    /// `BPF_PROG_TYPE_SYSCALL`: a program run by `BPF_PROG_RUN` that may call syscalls.
    Syscall,
    /// `BPF_PROG_TYPE_NETFILTER`: a netfilter hook (Linux 6.4).
    Netfilter,
    /// Any other type, by number.
    Other(u32),
}

impl ProgramType {
    /// Every named program type, in UAPI order.
    pub const ALL: [ProgramType; 32] = [
        ProgramType::SocketFilter,
        ProgramType::Kprobe,
        ProgramType::SchedCls,
        ProgramType::SchedAct,
        ProgramType::Tracepoint,
        ProgramType::Xdp,
        ProgramType::PerfEvent,
        ProgramType::CgroupSkb,
        ProgramType::CgroupSock,
        ProgramType::LwtIn,
        ProgramType::LwtOut,
        ProgramType::LwtXmit,
        ProgramType::SockOps,
        ProgramType::SkSkb,
        ProgramType::CgroupDevice,
        ProgramType::SkMsg,
        ProgramType::RawTracepoint,
        ProgramType::CgroupSockAddr,
        ProgramType::LwtSeg6Local,
        ProgramType::LircMode2,
        ProgramType::SkReuseport,
        ProgramType::FlowDissector,
        ProgramType::CgroupSysctl,
        ProgramType::RawTracepointWritable,
        ProgramType::CgroupSockopt,
        ProgramType::Tracing,
        ProgramType::StructOps,
        ProgramType::Ext,
        ProgramType::Lsm,
        ProgramType::SkLookup,
        ProgramType::Syscall,
        ProgramType::Netfilter,
    ];

    /// The UAPI number.
    pub fn raw(self) -> u32 {
        match self {
            ProgramType::SocketFilter => bpf::BPF_PROG_TYPE_SOCKET_FILTER,
            ProgramType::Kprobe => bpf::BPF_PROG_TYPE_KPROBE,
            ProgramType::SchedCls => bpf::BPF_PROG_TYPE_SCHED_CLS,
            ProgramType::SchedAct => bpf::BPF_PROG_TYPE_SCHED_ACT,
            ProgramType::Tracepoint => bpf::BPF_PROG_TYPE_TRACEPOINT,
            ProgramType::Xdp => bpf::BPF_PROG_TYPE_XDP,
            ProgramType::PerfEvent => bpf::BPF_PROG_TYPE_PERF_EVENT,
            ProgramType::CgroupSkb => bpf::BPF_PROG_TYPE_CGROUP_SKB,
            ProgramType::CgroupSock => bpf::BPF_PROG_TYPE_CGROUP_SOCK,
            ProgramType::LwtIn => bpf::BPF_PROG_TYPE_LWT_IN,
            ProgramType::LwtOut => bpf::BPF_PROG_TYPE_LWT_OUT,
            ProgramType::LwtXmit => bpf::BPF_PROG_TYPE_LWT_XMIT,
            ProgramType::SockOps => bpf::BPF_PROG_TYPE_SOCK_OPS,
            ProgramType::SkSkb => bpf::BPF_PROG_TYPE_SK_SKB,
            ProgramType::CgroupDevice => bpf::BPF_PROG_TYPE_CGROUP_DEVICE,
            ProgramType::SkMsg => bpf::BPF_PROG_TYPE_SK_MSG,
            ProgramType::RawTracepoint => bpf::BPF_PROG_TYPE_RAW_TRACEPOINT,
            ProgramType::CgroupSockAddr => bpf::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            ProgramType::LwtSeg6Local => bpf::BPF_PROG_TYPE_LWT_SEG6LOCAL,
            ProgramType::LircMode2 => bpf::BPF_PROG_TYPE_LIRC_MODE2,
            ProgramType::SkReuseport => bpf::BPF_PROG_TYPE_SK_REUSEPORT,
            ProgramType::FlowDissector => bpf::BPF_PROG_TYPE_FLOW_DISSECTOR,
            ProgramType::CgroupSysctl => bpf::BPF_PROG_TYPE_CGROUP_SYSCTL,
            ProgramType::RawTracepointWritable => bpf::BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
            ProgramType::CgroupSockopt => bpf::BPF_PROG_TYPE_CGROUP_SOCKOPT,
            ProgramType::Tracing => bpf::BPF_PROG_TYPE_TRACING,
            ProgramType::StructOps => bpf::BPF_PROG_TYPE_STRUCT_OPS,
            ProgramType::Ext => bpf::BPF_PROG_TYPE_EXT,
            ProgramType::Lsm => bpf::BPF_PROG_TYPE_LSM,
            ProgramType::SkLookup => bpf::BPF_PROG_TYPE_SK_LOOKUP,
            ProgramType::Syscall => bpf::BPF_PROG_TYPE_SYSCALL,
            ProgramType::Netfilter => bpf::BPF_PROG_TYPE_NETFILTER,
            ProgramType::Other(n) => n,
        }
    }

    /// The type of a UAPI number.
    pub fn from_raw(n: u32) -> ProgramType {
        Self::ALL
            .into_iter()
            .find(|t| t.raw() == n)
            .unwrap_or(ProgramType::Other(n))
    }

    /// The lowercase name (the UAPI constant without its prefix), `None` for [`Self::Other`].
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ProgramType::SocketFilter => "socket_filter",
            ProgramType::Kprobe => "kprobe",
            ProgramType::SchedCls => "sched_cls",
            ProgramType::SchedAct => "sched_act",
            ProgramType::Tracepoint => "tracepoint",
            ProgramType::Xdp => "xdp",
            ProgramType::PerfEvent => "perf_event",
            ProgramType::CgroupSkb => "cgroup_skb",
            ProgramType::CgroupSock => "cgroup_sock",
            ProgramType::LwtIn => "lwt_in",
            ProgramType::LwtOut => "lwt_out",
            ProgramType::LwtXmit => "lwt_xmit",
            ProgramType::SockOps => "sock_ops",
            ProgramType::SkSkb => "sk_skb",
            ProgramType::CgroupDevice => "cgroup_device",
            ProgramType::SkMsg => "sk_msg",
            ProgramType::RawTracepoint => "raw_tracepoint",
            ProgramType::CgroupSockAddr => "cgroup_sock_addr",
            ProgramType::LwtSeg6Local => "lwt_seg6local",
            ProgramType::LircMode2 => "lirc_mode2",
            ProgramType::SkReuseport => "sk_reuseport",
            ProgramType::FlowDissector => "flow_dissector",
            ProgramType::CgroupSysctl => "cgroup_sysctl",
            ProgramType::RawTracepointWritable => "raw_tracepoint_writable",
            ProgramType::CgroupSockopt => "cgroup_sockopt",
            ProgramType::Tracing => "tracing",
            ProgramType::StructOps => "struct_ops",
            ProgramType::Ext => "ext",
            ProgramType::Lsm => "lsm",
            ProgramType::SkLookup => "sk_lookup",
            ProgramType::Syscall => "syscall",
            ProgramType::Netfilter => "netfilter",
            ProgramType::Other(_) => return None,
        })
    }

    /// The type with this [`name`](Self::name).
    pub fn from_name(s: &str) -> Option<ProgramType> {
        Self::ALL.into_iter().find(|t| t.name() == Some(s))
    }
}

impl fmt::Display for ProgramType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "type {}", self.raw()),
        }
    }
}

/// Where a program attaches (`enum bpf_attach_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttachType {
    /// `BPF_CGROUP_INET_INGRESS`: cgroup_skb on ingress.
    CgroupInetIngress,
    /// `BPF_CGROUP_INET_EGRESS`: cgroup_skb on egress.
    CgroupInetEgress,
    /// `BPF_CGROUP_INET_SOCK_CREATE`: cgroup_sock on socket creation.
    CgroupInetSockCreate,
    /// `BPF_CGROUP_SOCK_OPS`: a sock_ops program on a cgroup.
    CgroupSockOps,
    /// `BPF_SK_SKB_STREAM_PARSER`: an sk_skb stream parser on a sockmap.
    SkSkbStreamParser,
    /// `BPF_SK_SKB_STREAM_VERDICT`: an sk_skb stream verdict on a sockmap.
    SkSkbStreamVerdict,
    /// `BPF_CGROUP_DEVICE`: cgroup_device.
    CgroupDevice,
    /// `BPF_SK_MSG_VERDICT`: an sk_msg program on a sockmap or sockhash.
    SkMsgVerdict,
    /// `BPF_CGROUP_INET4_BIND`: cgroup_sock_addr on IPv4 bind.
    CgroupInet4Bind,
    /// `BPF_CGROUP_INET6_BIND`: cgroup_sock_addr on IPv6 bind.
    CgroupInet6Bind,
    /// `BPF_CGROUP_INET4_CONNECT`: cgroup_sock_addr on IPv4 connect.
    CgroupInet4Connect,
    /// `BPF_CGROUP_INET6_CONNECT`: cgroup_sock_addr on IPv6 connect.
    CgroupInet6Connect,
    /// `BPF_CGROUP_INET4_POST_BIND`: cgroup_sock after IPv4 bind.
    CgroupInet4PostBind,
    /// `BPF_CGROUP_INET6_POST_BIND`: cgroup_sock after IPv6 bind.
    CgroupInet6PostBind,
    /// `BPF_CGROUP_UDP4_SENDMSG`: cgroup_sock_addr on UDPv4 sendmsg.
    CgroupUdp4Sendmsg,
    /// `BPF_CGROUP_UDP6_SENDMSG`: cgroup_sock_addr on UDPv6 sendmsg.
    CgroupUdp6Sendmsg,
    /// `BPF_LIRC_MODE2`: lirc_mode2 on a LIRC device.
    LircMode2,
    /// `BPF_FLOW_DISSECTOR`: flow_dissector on a network namespace.
    FlowDissector,
    /// `BPF_CGROUP_SYSCTL`: cgroup_sysctl.
    CgroupSysctl,
    /// `BPF_CGROUP_UDP4_RECVMSG`: cgroup_sock_addr on UDPv4 recvmsg.
    CgroupUdp4Recvmsg,
    /// `BPF_CGROUP_UDP6_RECVMSG`: cgroup_sock_addr on UDPv6 recvmsg.
    CgroupUdp6Recvmsg,
    /// `BPF_CGROUP_GETSOCKOPT`: a cgroup sockopt program run on `getsockopt` (Linux 5.3).
    CgroupGetsockopt,
    /// `BPF_CGROUP_SETSOCKOPT`: a cgroup sockopt program run on `setsockopt` (Linux 5.3).
    CgroupSetsockopt,
    /// `BPF_TRACE_RAW_TP`: tp_btf: a BTF-typed raw tracepoint.
    TraceRawTp,
    /// `BPF_TRACE_FENTRY`: fentry: on entry to a kernel function.
    TraceFentry,
    /// `BPF_TRACE_FEXIT`: fexit: on return from a kernel function.
    TraceFexit,
    /// `BPF_MODIFY_RETURN`: fmod_ret: may change a function's return value.
    ModifyReturn,
    /// `BPF_LSM_MAC`: a BPF LSM hook.
    LsmMac,
    /// `BPF_TRACE_ITER`: a BPF iterator.
    TraceIter,
    /// `BPF_CGROUP_INET4_GETPEERNAME`: cgroup_sock_addr on IPv4 getpeername.
    CgroupInet4Getpeername,
    /// `BPF_CGROUP_INET6_GETPEERNAME`: cgroup_sock_addr on IPv6 getpeername.
    CgroupInet6Getpeername,
    /// `BPF_CGROUP_INET4_GETSOCKNAME`: cgroup_sock_addr on IPv4 getsockname.
    CgroupInet4Getsockname,
    /// `BPF_CGROUP_INET6_GETSOCKNAME`: cgroup_sock_addr on IPv6 getsockname.
    CgroupInet6Getsockname,
    /// `BPF_XDP_DEVMAP`: XDP in a devmap entry.
    XdpDevmap,
    /// `BPF_CGROUP_INET_SOCK_RELEASE`: cgroup_sock on socket release.
    CgroupInetSockRelease,
    /// `BPF_XDP_CPUMAP`: XDP in a cpumap entry.
    XdpCpumap,
    /// `BPF_SK_LOOKUP`: sk_lookup on a network namespace.
    SkLookup,
    /// `BPF_XDP`: XDP on a network device (bpf_link).
    Xdp,
    /// `BPF_SK_SKB_VERDICT`: an sk_skb verdict on a sockmap.
    SkSkbVerdict,
    /// `BPF_SK_REUSEPORT_SELECT`: sk_reuseport select.
    SkReuseportSelect,
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`: sk_reuseport select or migrate.
    SkReuseportSelectOrMigrate,
    /// `BPF_PERF_EVENT`: a kprobe, uprobe, tracepoint or perf event program on a perf event (bpf_link).
    PerfEvent,
    /// `BPF_TRACE_KPROBE_MULTI`: kprobe.multi.
    TraceKprobeMulti,
    /// `BPF_LSM_CGROUP`: a BPF LSM hook per cgroup.
    LsmCgroup,
    /// `BPF_STRUCT_OPS`: struct_ops (Linux 6.4).
    StructOps,
    /// `BPF_NETFILTER`: a netfilter hook (Linux 6.4).
    Netfilter,
    /// `BPF_TCX_INGRESS`: tcx on a device's ingress (Linux 6.6).
    TcxIngress,
    /// `BPF_TCX_EGRESS`: tcx on a device's egress (Linux 6.6).
    TcxEgress,
    /// Any other type, by number.
    Other(u32),
}

impl AttachType {
    /// Every named attach type, in UAPI order.
    pub const ALL: [AttachType; 48] = [
        AttachType::CgroupInetIngress,
        AttachType::CgroupInetEgress,
        AttachType::CgroupInetSockCreate,
        AttachType::CgroupSockOps,
        AttachType::SkSkbStreamParser,
        AttachType::SkSkbStreamVerdict,
        AttachType::CgroupDevice,
        AttachType::SkMsgVerdict,
        AttachType::CgroupInet4Bind,
        AttachType::CgroupInet6Bind,
        AttachType::CgroupInet4Connect,
        AttachType::CgroupInet6Connect,
        AttachType::CgroupInet4PostBind,
        AttachType::CgroupInet6PostBind,
        AttachType::CgroupUdp4Sendmsg,
        AttachType::CgroupUdp6Sendmsg,
        AttachType::LircMode2,
        AttachType::FlowDissector,
        AttachType::CgroupSysctl,
        AttachType::CgroupUdp4Recvmsg,
        AttachType::CgroupUdp6Recvmsg,
        AttachType::CgroupGetsockopt,
        AttachType::CgroupSetsockopt,
        AttachType::TraceRawTp,
        AttachType::TraceFentry,
        AttachType::TraceFexit,
        AttachType::ModifyReturn,
        AttachType::LsmMac,
        AttachType::TraceIter,
        AttachType::CgroupInet4Getpeername,
        AttachType::CgroupInet6Getpeername,
        AttachType::CgroupInet4Getsockname,
        AttachType::CgroupInet6Getsockname,
        AttachType::XdpDevmap,
        AttachType::CgroupInetSockRelease,
        AttachType::XdpCpumap,
        AttachType::SkLookup,
        AttachType::Xdp,
        AttachType::SkSkbVerdict,
        AttachType::SkReuseportSelect,
        AttachType::SkReuseportSelectOrMigrate,
        AttachType::PerfEvent,
        AttachType::TraceKprobeMulti,
        AttachType::LsmCgroup,
        AttachType::StructOps,
        AttachType::Netfilter,
        AttachType::TcxIngress,
        AttachType::TcxEgress,
    ];

    /// The UAPI number.
    pub fn raw(self) -> u32 {
        match self {
            AttachType::CgroupInetIngress => bpf::BPF_CGROUP_INET_INGRESS,
            AttachType::CgroupInetEgress => bpf::BPF_CGROUP_INET_EGRESS,
            AttachType::CgroupInetSockCreate => bpf::BPF_CGROUP_INET_SOCK_CREATE,
            AttachType::CgroupSockOps => bpf::BPF_CGROUP_SOCK_OPS,
            AttachType::SkSkbStreamParser => bpf::BPF_SK_SKB_STREAM_PARSER,
            AttachType::SkSkbStreamVerdict => bpf::BPF_SK_SKB_STREAM_VERDICT,
            AttachType::CgroupDevice => bpf::BPF_CGROUP_DEVICE,
            AttachType::SkMsgVerdict => bpf::BPF_SK_MSG_VERDICT,
            AttachType::CgroupInet4Bind => bpf::BPF_CGROUP_INET4_BIND,
            AttachType::CgroupInet6Bind => bpf::BPF_CGROUP_INET6_BIND,
            AttachType::CgroupInet4Connect => bpf::BPF_CGROUP_INET4_CONNECT,
            AttachType::CgroupInet6Connect => bpf::BPF_CGROUP_INET6_CONNECT,
            AttachType::CgroupInet4PostBind => bpf::BPF_CGROUP_INET4_POST_BIND,
            AttachType::CgroupInet6PostBind => bpf::BPF_CGROUP_INET6_POST_BIND,
            AttachType::CgroupUdp4Sendmsg => bpf::BPF_CGROUP_UDP4_SENDMSG,
            AttachType::CgroupUdp6Sendmsg => bpf::BPF_CGROUP_UDP6_SENDMSG,
            AttachType::LircMode2 => bpf::BPF_LIRC_MODE2,
            AttachType::FlowDissector => bpf::BPF_FLOW_DISSECTOR,
            AttachType::CgroupSysctl => bpf::BPF_CGROUP_SYSCTL,
            AttachType::CgroupUdp4Recvmsg => bpf::BPF_CGROUP_UDP4_RECVMSG,
            AttachType::CgroupUdp6Recvmsg => bpf::BPF_CGROUP_UDP6_RECVMSG,
            AttachType::CgroupGetsockopt => bpf::BPF_CGROUP_GETSOCKOPT,
            AttachType::CgroupSetsockopt => bpf::BPF_CGROUP_SETSOCKOPT,
            AttachType::TraceRawTp => bpf::BPF_TRACE_RAW_TP,
            AttachType::TraceFentry => bpf::BPF_TRACE_FENTRY,
            AttachType::TraceFexit => bpf::BPF_TRACE_FEXIT,
            AttachType::ModifyReturn => bpf::BPF_MODIFY_RETURN,
            AttachType::LsmMac => bpf::BPF_LSM_MAC,
            AttachType::TraceIter => bpf::BPF_TRACE_ITER,
            AttachType::CgroupInet4Getpeername => bpf::BPF_CGROUP_INET4_GETPEERNAME,
            AttachType::CgroupInet6Getpeername => bpf::BPF_CGROUP_INET6_GETPEERNAME,
            AttachType::CgroupInet4Getsockname => bpf::BPF_CGROUP_INET4_GETSOCKNAME,
            AttachType::CgroupInet6Getsockname => bpf::BPF_CGROUP_INET6_GETSOCKNAME,
            AttachType::XdpDevmap => bpf::BPF_XDP_DEVMAP,
            AttachType::CgroupInetSockRelease => bpf::BPF_CGROUP_INET_SOCK_RELEASE,
            AttachType::XdpCpumap => bpf::BPF_XDP_CPUMAP,
            AttachType::SkLookup => bpf::BPF_SK_LOOKUP,
            AttachType::Xdp => bpf::BPF_XDP,
            AttachType::SkSkbVerdict => bpf::BPF_SK_SKB_VERDICT,
            AttachType::SkReuseportSelect => bpf::BPF_SK_REUSEPORT_SELECT,
            AttachType::SkReuseportSelectOrMigrate => bpf::BPF_SK_REUSEPORT_SELECT_OR_MIGRATE,
            AttachType::PerfEvent => bpf::BPF_PERF_EVENT,
            AttachType::TraceKprobeMulti => bpf::BPF_TRACE_KPROBE_MULTI,
            AttachType::LsmCgroup => bpf::BPF_LSM_CGROUP,
            AttachType::StructOps => bpf::BPF_STRUCT_OPS,
            AttachType::Netfilter => bpf::BPF_NETFILTER,
            AttachType::TcxIngress => bpf::BPF_TCX_INGRESS,
            AttachType::TcxEgress => bpf::BPF_TCX_EGRESS,
            AttachType::Other(n) => n,
        }
    }

    /// The type of a UAPI number.
    pub fn from_raw(n: u32) -> AttachType {
        Self::ALL
            .into_iter()
            .find(|t| t.raw() == n)
            .unwrap_or(AttachType::Other(n))
    }

    /// The lowercase name (the UAPI constant without its prefix), `None` for [`Self::Other`].
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            AttachType::CgroupInetIngress => "cgroup_inet_ingress",
            AttachType::CgroupInetEgress => "cgroup_inet_egress",
            AttachType::CgroupInetSockCreate => "cgroup_inet_sock_create",
            AttachType::CgroupSockOps => "cgroup_sock_ops",
            AttachType::SkSkbStreamParser => "sk_skb_stream_parser",
            AttachType::SkSkbStreamVerdict => "sk_skb_stream_verdict",
            AttachType::CgroupDevice => "cgroup_device",
            AttachType::SkMsgVerdict => "sk_msg_verdict",
            AttachType::CgroupInet4Bind => "cgroup_inet4_bind",
            AttachType::CgroupInet6Bind => "cgroup_inet6_bind",
            AttachType::CgroupInet4Connect => "cgroup_inet4_connect",
            AttachType::CgroupInet6Connect => "cgroup_inet6_connect",
            AttachType::CgroupInet4PostBind => "cgroup_inet4_post_bind",
            AttachType::CgroupInet6PostBind => "cgroup_inet6_post_bind",
            AttachType::CgroupUdp4Sendmsg => "cgroup_udp4_sendmsg",
            AttachType::CgroupUdp6Sendmsg => "cgroup_udp6_sendmsg",
            AttachType::LircMode2 => "lirc_mode2",
            AttachType::FlowDissector => "flow_dissector",
            AttachType::CgroupSysctl => "cgroup_sysctl",
            AttachType::CgroupUdp4Recvmsg => "cgroup_udp4_recvmsg",
            AttachType::CgroupUdp6Recvmsg => "cgroup_udp6_recvmsg",
            AttachType::CgroupGetsockopt => "cgroup_getsockopt",
            AttachType::CgroupSetsockopt => "cgroup_setsockopt",
            AttachType::TraceRawTp => "trace_raw_tp",
            AttachType::TraceFentry => "trace_fentry",
            AttachType::TraceFexit => "trace_fexit",
            AttachType::ModifyReturn => "modify_return",
            AttachType::LsmMac => "lsm_mac",
            AttachType::TraceIter => "trace_iter",
            AttachType::CgroupInet4Getpeername => "cgroup_inet4_getpeername",
            AttachType::CgroupInet6Getpeername => "cgroup_inet6_getpeername",
            AttachType::CgroupInet4Getsockname => "cgroup_inet4_getsockname",
            AttachType::CgroupInet6Getsockname => "cgroup_inet6_getsockname",
            AttachType::XdpDevmap => "xdp_devmap",
            AttachType::CgroupInetSockRelease => "cgroup_inet_sock_release",
            AttachType::XdpCpumap => "xdp_cpumap",
            AttachType::SkLookup => "sk_lookup",
            AttachType::Xdp => "xdp",
            AttachType::SkSkbVerdict => "sk_skb_verdict",
            AttachType::SkReuseportSelect => "sk_reuseport_select",
            AttachType::SkReuseportSelectOrMigrate => "sk_reuseport_select_or_migrate",
            AttachType::PerfEvent => "perf_event",
            AttachType::TraceKprobeMulti => "trace_kprobe_multi",
            AttachType::LsmCgroup => "lsm_cgroup",
            AttachType::StructOps => "struct_ops",
            AttachType::Netfilter => "netfilter",
            AttachType::TcxIngress => "tcx_ingress",
            AttachType::TcxEgress => "tcx_egress",
            AttachType::Other(_) => return None,
        })
    }

    /// The type with this [`name`](Self::name).
    pub fn from_name(s: &str) -> Option<AttachType> {
        Self::ALL.into_iter().find(|t| t.name() == Some(s))
    }
}

impl fmt::Display for AttachType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "attach type {}", self.raw()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_and_attach_types_round_trip_by_number_and_name() {
        for t in ProgramType::ALL {
            assert_eq!(ProgramType::from_raw(t.raw()), t);
            assert_eq!(ProgramType::from_name(&t.to_string()), Some(t));
        }
        for t in AttachType::ALL {
            assert_eq!(AttachType::from_raw(t.raw()), t);
            assert_eq!(AttachType::from_name(&t.to_string()), Some(t));
        }
        // The named types are the UAPI enums without gaps: 1..=32 and 0..=47.
        let progs: Vec<u32> = ProgramType::ALL.iter().map(|t| t.raw()).collect();
        assert_eq!(progs, (1..=32).collect::<Vec<_>>());
        let atts: Vec<u32> = AttachType::ALL.iter().map(|t| t.raw()).collect();
        assert_eq!(atts, (0..=47).collect::<Vec<_>>());
        assert_eq!(ProgramType::from_raw(999), ProgramType::Other(999));
        assert_eq!(ProgramType::Other(999).to_string(), "type 999");
        assert_eq!(AttachType::Other(99).to_string(), "attach type 99");
    }
}
