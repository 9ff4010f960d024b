//! The `bpf(2)` numbers the loader uses (map, program and attach types are `bpfobj::types`'): re-exported from the `uapi` crate, which owns them and
//! checks them against the vendored kernel headers. Only the [`Cmd`] enum (whose discriminants
//! are `uapi`'s numbers) and the verifier log levels (kernel-internal `bpf_verifier.h`, not in
//! the UAPI headers) are defined here.

#![allow(dead_code)] // a table of UAPI numbers: not every one is used

pub use uapi::bpf::{
    BPF_ANY, BPF_EXIST, BPF_F_ALLOW_MULTI, BPF_F_CURRENT_CPU, BPF_F_NO_PREALLOC,
    BPF_F_QUERY_EFFECTIVE, BPF_F_RDONLY, BPF_F_REPLACE, BPF_F_SLEEPABLE, BPF_F_TEST_RUN_ON_CPU,
    BPF_F_WRONLY, BPF_LINK_TYPE_CGROUP, BPF_LINK_TYPE_RAW_TRACEPOINT, BPF_LINK_TYPE_SOCKMAP,
    BPF_LINK_TYPE_TRACING, BPF_NOEXIST, BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT,
    BPF_RINGBUF_HDR_SZ,
};
pub use uapi::magic::{BPF_FS_MAGIC, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC};

/// `enum bpf_cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Cmd {
    /// `BPF_MAP_CREATE`.
    MapCreate = uapi::bpf::BPF_MAP_CREATE,
    /// `BPF_MAP_LOOKUP_ELEM`.
    MapLookupElem = uapi::bpf::BPF_MAP_LOOKUP_ELEM,
    /// `BPF_MAP_UPDATE_ELEM`.
    MapUpdateElem = uapi::bpf::BPF_MAP_UPDATE_ELEM,
    /// `BPF_MAP_DELETE_ELEM`.
    MapDeleteElem = uapi::bpf::BPF_MAP_DELETE_ELEM,
    /// `BPF_MAP_GET_NEXT_KEY`.
    MapGetNextKey = uapi::bpf::BPF_MAP_GET_NEXT_KEY,
    /// `BPF_PROG_LOAD`.
    ProgLoad = uapi::bpf::BPF_PROG_LOAD,
    /// `BPF_OBJ_PIN`.
    ObjPin = uapi::bpf::BPF_OBJ_PIN,
    /// `BPF_OBJ_GET`.
    ObjGet = uapi::bpf::BPF_OBJ_GET,
    /// `BPF_PROG_ATTACH`.
    ProgAttach = uapi::bpf::BPF_PROG_ATTACH,
    /// `BPF_PROG_DETACH`.
    ProgDetach = uapi::bpf::BPF_PROG_DETACH,
    /// `BPF_PROG_GET_NEXT_ID`.
    ProgGetNextId = uapi::bpf::BPF_PROG_GET_NEXT_ID,
    /// `BPF_MAP_GET_NEXT_ID`.
    MapGetNextId = uapi::bpf::BPF_MAP_GET_NEXT_ID,
    /// `BPF_PROG_GET_FD_BY_ID`.
    ProgGetFdById = uapi::bpf::BPF_PROG_GET_FD_BY_ID,
    /// `BPF_MAP_GET_FD_BY_ID`.
    MapGetFdById = uapi::bpf::BPF_MAP_GET_FD_BY_ID,
    /// `BPF_OBJ_GET_INFO_BY_FD`.
    ObjGetInfoByFd = uapi::bpf::BPF_OBJ_GET_INFO_BY_FD,
    /// `BPF_PROG_QUERY`.
    ProgQuery = uapi::bpf::BPF_PROG_QUERY,
    /// `BPF_RAW_TRACEPOINT_OPEN`.
    RawTracepointOpen = uapi::bpf::BPF_RAW_TRACEPOINT_OPEN,
    /// `BPF_BTF_LOAD`.
    BtfLoad = uapi::bpf::BPF_BTF_LOAD,
    /// `BPF_BTF_GET_FD_BY_ID`.
    BtfGetFdById = uapi::bpf::BPF_BTF_GET_FD_BY_ID,
    /// `BPF_BTF_GET_NEXT_ID`.
    BtfGetNextId = uapi::bpf::BPF_BTF_GET_NEXT_ID,
    /// `BPF_MAP_FREEZE`.
    MapFreeze = uapi::bpf::BPF_MAP_FREEZE,
    /// `BPF_LINK_CREATE`.
    LinkCreate = uapi::bpf::BPF_LINK_CREATE,
    /// `BPF_LINK_UPDATE`.
    LinkUpdate = uapi::bpf::BPF_LINK_UPDATE,
    /// `BPF_LINK_GET_FD_BY_ID`.
    LinkGetFdById = uapi::bpf::BPF_LINK_GET_FD_BY_ID,
    /// `BPF_LINK_GET_NEXT_ID`.
    LinkGetNextId = uapi::bpf::BPF_LINK_GET_NEXT_ID,
    /// `BPF_LINK_DETACH`.
    LinkDetach = uapi::bpf::BPF_LINK_DETACH,
    /// `BPF_ENABLE_STATS`.
    EnableStats = uapi::bpf::BPF_ENABLE_STATS,
    /// `BPF_PROG_TEST_RUN`.
    ProgTestRun = uapi::bpf::BPF_PROG_TEST_RUN,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
    MapLookupAndDeleteElem = uapi::bpf::BPF_MAP_LOOKUP_AND_DELETE_ELEM,
    /// `BPF_MAP_LOOKUP_BATCH`.
    MapLookupBatch = uapi::bpf::BPF_MAP_LOOKUP_BATCH,
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
    MapLookupAndDeleteBatch = uapi::bpf::BPF_MAP_LOOKUP_AND_DELETE_BATCH,
    /// `BPF_MAP_UPDATE_BATCH`.
    MapUpdateBatch = uapi::bpf::BPF_MAP_UPDATE_BATCH,
    /// `BPF_MAP_DELETE_BATCH`.
    MapDeleteBatch = uapi::bpf::BPF_MAP_DELETE_BATCH,
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
            Cmd::RawTracepointOpen => "BPF_RAW_TRACEPOINT_OPEN",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::BtfGetNextId => "BPF_BTF_GET_NEXT_ID",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkUpdate => "BPF_LINK_UPDATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkGetNextId => "BPF_LINK_GET_NEXT_ID",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
            Cmd::EnableStats => "BPF_ENABLE_STATS",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            Cmd::MapLookupBatch => "BPF_MAP_LOOKUP_BATCH",
            Cmd::MapLookupAndDeleteBatch => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
            Cmd::MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
            Cmd::MapDeleteBatch => "BPF_MAP_DELETE_BATCH",
        }
    }
}

/// Verifier log level: the log of the verification (`log_level` 1; kernel-internal
/// `BPF_LOG_LEVEL1` of `include/linux/bpf_verifier.h`, not in the UAPI headers).
pub const BPF_LOG_LEVEL1: u32 = 1;
/// Verifier log level: every instruction's state (`BPF_LOG_LEVEL2`, kernel-internal).
pub const BPF_LOG_LEVEL2: u32 = 2;
/// Verifier log level: statistics (`BPF_LOG_STATS`, kernel-internal).
pub const BPF_LOG_STATS: u32 = 4;

pub use uapi::bpf::{
    BPF_LINK_TYPE_NETNS, BPF_LINK_TYPE_PERF_EVENT, BPF_LINK_TYPE_TCX, BPF_LINK_TYPE_XDP,
};

/// `XDP_FLAGS_*` of `linux/if_link.h`.
pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
/// `XDP_FLAGS_SKB_MODE`: generic XDP.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native (driver) XDP.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// `XDP_FLAGS_HW_MODE`: offloaded XDP.
pub const XDP_FLAGS_HW_MODE: u32 = 1 << 3;

/// tcx/mprog flags of 6.6's `linux/bpf.h` (newer than the vendored header): `BPF_F_BEFORE`.
pub const BPF_F_BEFORE: u32 = 1 << 3;
/// `BPF_F_AFTER`.
pub const BPF_F_AFTER: u32 = 1 << 4;
/// `BPF_F_ID`: `relative_fd` is an id.
pub const BPF_F_ID: u32 = 1 << 5;
/// `BPF_F_LINK`: the relative object is a link.
pub const BPF_F_LINK: u32 = 1 << 13;

/// `SO_ATTACH_BPF` of `asm-generic/socket.h`.
pub const SO_ATTACH_BPF: i32 = 50;
/// `SO_DETACH_BPF` (= `SO_DETACH_FILTER`).
pub const SO_DETACH_BPF: i32 = 27;
