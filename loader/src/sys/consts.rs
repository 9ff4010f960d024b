//! UAPI numbers of `bpf(2)`, written by hand from `/usr/include/linux/bpf.h` (6.1 headers,
//! plus the few later additions this crate uses, each marked with its kernel version).

#![allow(missing_docs)]
#![allow(dead_code)] // a table of UAPI numbers: not every one is used

/// `enum bpf_cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgGetNextId = 11,
    MapGetNextId = 12,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    BtfLoad = 18,
    MapFreeze = 22,
    LinkCreate = 28,
    LinkUpdate = 29,
    LinkGetFdById = 30,
    LinkGetNextId = 31,
    LinkDetach = 34,
}

impl Cmd {
    /// The command's name as the UAPI header spells it, e.g. `BPF_MAP_CREATE`.
    pub const fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgGetNextId => "BPF_PROG_GET_NEXT_ID",
            Cmd::MapGetNextId => "BPF_MAP_GET_NEXT_ID",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::ProgQuery => "BPF_PROG_QUERY",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkUpdate => "BPF_LINK_UPDATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkGetNextId => "BPF_LINK_GET_NEXT_ID",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
        }
    }
}

// enum bpf_map_type
pub const BPF_MAP_TYPE_HASH: u32 = 1;
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
pub const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
pub const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
pub const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
pub const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
pub const BPF_MAP_TYPE_RINGBUF: u32 = 27;

// enum bpf_prog_type
pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
pub const BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
pub const BPF_PROG_TYPE_SOCK_OPS: u32 = 13;
pub const BPF_PROG_TYPE_SK_MSG: u32 = 16;
pub const BPF_PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;

// enum bpf_attach_type
pub const BPF_CGROUP_INET_INGRESS: u32 = 0;
pub const BPF_CGROUP_INET_EGRESS: u32 = 1;
pub const BPF_CGROUP_SOCK_OPS: u32 = 3;
pub const BPF_CGROUP_SETSOCKOPT: u32 = 22;
pub const BPF_SK_MSG_VERDICT: u32 = 7;

// enum bpf_link_type
pub const BPF_LINK_TYPE_CGROUP: u32 = 3;
/// Since 6.10 (not in the 6.1 header).
pub const BPF_LINK_TYPE_SOCKMAP: u32 = 14;

// BPF_PROG_ATTACH flags
pub const BPF_F_ALLOW_OVERRIDE: u32 = 1 << 0;
pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
pub const BPF_F_REPLACE: u32 = 1 << 2;

// BPF_PROG_QUERY flags
pub const BPF_F_QUERY_EFFECTIVE: u32 = 1 << 0;

// BPF_MAP_CREATE flags
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
pub const BPF_F_RDONLY: u32 = 1 << 3;
pub const BPF_F_WRONLY: u32 = 1 << 4;

// BPF_MAP_UPDATE_ELEM flags
pub const BPF_ANY: u64 = 0;
pub const BPF_NOEXIST: u64 = 1;
pub const BPF_EXIST: u64 = 2;

// Verifier log levels
pub const BPF_LOG_LEVEL1: u32 = 1;
pub const BPF_LOG_LEVEL2: u32 = 2;
pub const BPF_LOG_STATS: u32 = 4;

pub const BPF_OBJ_NAME_LEN: usize = 16;
pub const BPF_TAG_SIZE: usize = 8;

// statfs magics (linux/magic.h)
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
