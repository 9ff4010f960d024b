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
    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    SocketFilter,
    /// `BPF_PROG_TYPE_CGROUP_SKB`.
    CgroupSkb,
    /// `BPF_PROG_TYPE_SOCK_OPS`: TCP events of sockets in a cgroup.
    SockOps,
    /// `BPF_PROG_TYPE_SK_MSG`: sendmsg verdicts of sockets in a sockmap or sockhash.
    SkMsg,
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`: sees (and may change) `setsockopt`/`getsockopt` calls
    /// of a cgroup's sockets (Linux 5.3).
    CgroupSockopt,
    /// Any other type, by number.
    Other(u32),
}

impl ProgramType {
    /// The UAPI number.
    pub fn raw(self) -> u32 {
        match self {
            ProgramType::SocketFilter => bpf::BPF_PROG_TYPE_SOCKET_FILTER,
            ProgramType::CgroupSkb => bpf::BPF_PROG_TYPE_CGROUP_SKB,
            ProgramType::SockOps => bpf::BPF_PROG_TYPE_SOCK_OPS,
            ProgramType::SkMsg => bpf::BPF_PROG_TYPE_SK_MSG,
            ProgramType::CgroupSockopt => bpf::BPF_PROG_TYPE_CGROUP_SOCKOPT,
            ProgramType::Other(n) => n,
        }
    }

    /// The type of a UAPI number.
    pub fn from_raw(n: u32) -> ProgramType {
        match n {
            bpf::BPF_PROG_TYPE_SOCKET_FILTER => ProgramType::SocketFilter,
            bpf::BPF_PROG_TYPE_CGROUP_SKB => ProgramType::CgroupSkb,
            bpf::BPF_PROG_TYPE_SOCK_OPS => ProgramType::SockOps,
            bpf::BPF_PROG_TYPE_SK_MSG => ProgramType::SkMsg,
            bpf::BPF_PROG_TYPE_CGROUP_SOCKOPT => ProgramType::CgroupSockopt,
            n => ProgramType::Other(n),
        }
    }
}

impl fmt::Display for ProgramType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramType::SocketFilter => f.write_str("socket_filter"),
            ProgramType::CgroupSkb => f.write_str("cgroup_skb"),
            ProgramType::SockOps => f.write_str("sock_ops"),
            ProgramType::SkMsg => f.write_str("sk_msg"),
            ProgramType::CgroupSockopt => f.write_str("cgroup_sockopt"),
            ProgramType::Other(n) => write!(f, "type {n}"),
        }
    }
}

/// Where a program attaches (`enum bpf_attach_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttachType {
    /// `BPF_CGROUP_INET_INGRESS`.
    CgroupInetIngress,
    /// `BPF_CGROUP_INET_EGRESS`.
    CgroupInetEgress,
    /// `BPF_CGROUP_SOCK_OPS`: a sock_ops program on a cgroup.
    CgroupSockOps,
    /// `BPF_SK_MSG_VERDICT`: an sk_msg program on a sockmap or sockhash.
    SkMsgVerdict,
    /// `BPF_CGROUP_SETSOCKOPT`: a cgroup sockopt program run on `setsockopt` (Linux 5.3).
    CgroupSetsockopt,
    /// Any other type, by number.
    Other(u32),
}

impl AttachType {
    /// The UAPI number.
    pub fn raw(self) -> u32 {
        match self {
            AttachType::CgroupInetIngress => bpf::BPF_CGROUP_INET_INGRESS,
            AttachType::CgroupInetEgress => bpf::BPF_CGROUP_INET_EGRESS,
            AttachType::CgroupSockOps => bpf::BPF_CGROUP_SOCK_OPS,
            AttachType::SkMsgVerdict => bpf::BPF_SK_MSG_VERDICT,
            AttachType::CgroupSetsockopt => bpf::BPF_CGROUP_SETSOCKOPT,
            AttachType::Other(n) => n,
        }
    }

    /// The type of a UAPI number.
    pub fn from_raw(n: u32) -> AttachType {
        match n {
            bpf::BPF_CGROUP_INET_INGRESS => AttachType::CgroupInetIngress,
            bpf::BPF_CGROUP_INET_EGRESS => AttachType::CgroupInetEgress,
            bpf::BPF_CGROUP_SOCK_OPS => AttachType::CgroupSockOps,
            bpf::BPF_SK_MSG_VERDICT => AttachType::SkMsgVerdict,
            bpf::BPF_CGROUP_SETSOCKOPT => AttachType::CgroupSetsockopt,
            n => AttachType::Other(n),
        }
    }
}

impl fmt::Display for AttachType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachType::CgroupInetIngress => f.write_str("cgroup_inet_ingress"),
            AttachType::CgroupInetEgress => f.write_str("cgroup_inet_egress"),
            AttachType::CgroupSockOps => f.write_str("cgroup_sock_ops"),
            AttachType::SkMsgVerdict => f.write_str("sk_msg_verdict"),
            AttachType::CgroupSetsockopt => f.write_str("cgroup_setsockopt"),
            AttachType::Other(n) => write!(f, "attach type {n}"),
        }
    }
}
