//! `#[repr(C)]` attribute structs, one per command family of `union bpf_attr`, and the info
//! structs of `BPF_OBJ_GET_INFO_BY_FD`. Every struct has explicit padding fields, so it has no
//! uninitialised bytes and its bytes can be handed to the kernel (and to a test's fake) as
//! they are. Layouts follow `linux/bpf.h` (the `uapi` crate vendors it); the offsets are asserted in tests.

#![allow(missing_docs)]

/// Marker for plain structs made only of integers and byte arrays, with no implicit padding:
/// every bit pattern is valid and every byte is initialised.
///
/// # Safety
/// Implement only for `#[repr(C)]` structs of integer fields whose size equals the sum of
/// their field sizes.
pub unsafe trait Pod: Copy + Default + 'static {}

/// `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; 16],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
}

/// `BPF_MAP_*_ELEM` and `BPF_MAP_GET_NEXT_KEY` (`value` doubles as `next_key`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapElemAttr {
    pub map_fd: u32,
    pub _pad0: u32,
    pub key: u64,
    pub value: u64,
    pub flags: u64,
}

/// `BPF_PROG_LOAD`, up to `log_true_size` (6.4; zero and ignored on older kernels).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    pub log_true_size: u32,
}

/// `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    pub btf_log_true_size: u32,
}

/// `BPF_OBJ_PIN` and `BPF_OBJ_GET`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjAttr {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
}

/// `BPF_PROG_ATTACH` and `BPF_PROG_DETACH`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgAttachAttr {
    pub target_fd: u32,
    pub attach_bpf_fd: u32,
    pub attach_type: u32,
    pub attach_flags: u32,
    pub replace_bpf_fd: u32,
}

/// `BPF_*_GET_NEXT_ID` and `BPF_*_GET_FD_BY_ID` (`start_id` doubles as the id).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetIdAttr {
    pub start_id: u32,
    pub next_id: u32,
    pub open_flags: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

/// `BPF_PROG_QUERY`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryAttr {
    pub target_fd: u32,
    pub attach_type: u32,
    pub query_flags: u32,
    pub attach_flags: u32,
    pub prog_ids: u64,
    pub prog_cnt: u32,
    pub _pad0: u32,
    pub prog_attach_flags: u64,
}

/// `BPF_LINK_CREATE`. `target_fd` doubles as `target_ifindex` (XDP, tcx). The per-attach-type
/// union starts at offset 16: `target_btf_id` and `tracing.target_btf_id` (u32 at 16),
/// `perf_event.bpf_cookie` (u64 at 16, split over `target_btf_id` and `extra_hi` in native
/// byte order), `tracing.cookie` (u64 at 24), and, from 6.6's header (newer than the vendored
/// one), `tcx.relative_fd`/`relative_id` (u32 at 16) and `tcx.expected_revision` (u64 at 24).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCreateAttr {
    pub prog_fd: u32,
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub target_btf_id: u32,
    pub extra_hi: u32,
    pub extra_u64: u64,
    pub _union: [u64; 2],
}

impl LinkCreateAttr {
    /// Stores a u64 at offset 16 (`perf_event.bpf_cookie`) in native byte order.
    pub fn set_u64_at_16(&mut self, v: u64) {
        let b = v.to_ne_bytes();
        self.target_btf_id = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        self.extra_hi = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    }
}

/// `BPF_RAW_TRACEPOINT_OPEN` (`name` 0 for BTF-typed tracing programs, which know their
/// attach point from the load).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawTracepointAttr {
    pub name: u64,
    pub prog_fd: u32,
    pub _pad0: u32,
}

/// `BPF_LINK_UPDATE`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkUpdateAttr {
    pub link_fd: u32,
    pub new_prog_fd: u32,
    pub flags: u32,
    pub old_prog_fd: u32,
}

/// `BPF_LINK_DETACH`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkDetachAttr {
    pub link_fd: u32,
}

/// `BPF_ENABLE_STATS`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnableStatsAttr {
    /// `enum bpf_stats_type`.
    pub stats_type: u32,
}

/// `BPF_MAP_*_BATCH`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapBatchAttr {
    pub in_batch: u64,
    pub out_batch: u64,
    pub keys: u64,
    pub values: u64,
    pub count: u32,
    pub map_fd: u32,
    pub elem_flags: u64,
    pub flags: u64,
}

/// `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad0: u32,
}

/// `struct bpf_prog_info` (6.1 layout, through `attach_btf_id` and its trailing pad).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgInfoRaw {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; 16],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub flags: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad0: u32,
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BtfInfoRaw {
    pub btf: u64,
    pub btf_size: u32,
    pub id: u32,
    pub name: u64,
    pub name_len: u32,
    pub kernel_btf: u32,
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapInfoRaw {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub _pad0: u32,
    pub map_extra: u64,
}

/// `struct bpf_link_info` with its union as raw words. For cgroup links the union holds
/// `cgroup_id` (u64 at 16) and `attach_type` (u32 at 24); for sockmap links (6.10) `map_id`
/// (u32 at 16) and `attach_type` (u32 at 20).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkInfoRaw {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad0: u32,
    pub union: [u64; 4],
}

// SAFETY: all of these are repr(C), made of integers and byte arrays, and laid out without
// implicit padding (sizes are asserted below at compile time).
unsafe impl Pod for MapCreateAttr {}
unsafe impl Pod for MapElemAttr {}
unsafe impl Pod for ProgLoadAttr {}
unsafe impl Pod for BtfLoadAttr {}
unsafe impl Pod for ObjAttr {}
unsafe impl Pod for ProgAttachAttr {}
unsafe impl Pod for GetIdAttr {}
unsafe impl Pod for InfoAttr {}
unsafe impl Pod for QueryAttr {}
unsafe impl Pod for LinkCreateAttr {}
unsafe impl Pod for RawTracepointAttr {}
unsafe impl Pod for LinkUpdateAttr {}
unsafe impl Pod for LinkDetachAttr {}
unsafe impl Pod for EnableStatsAttr {}
unsafe impl Pod for BtfInfoRaw {}
unsafe impl Pod for ProgInfoRaw {}
unsafe impl Pod for MapInfoRaw {}
unsafe impl Pod for LinkInfoRaw {}
unsafe impl Pod for MapBatchAttr {}
unsafe impl Pod for TestRunAttr {}

const _: () = {
    assert!(std::mem::size_of::<MapCreateAttr>() == 72);
    assert!(std::mem::size_of::<MapElemAttr>() == 32);
    assert!(std::mem::size_of::<ProgLoadAttr>() == 144);
    assert!(std::mem::size_of::<ObjAttr>() == 16);
    assert!(std::mem::size_of::<ProgAttachAttr>() == 20);
    assert!(std::mem::size_of::<GetIdAttr>() == 12);
    assert!(std::mem::size_of::<InfoAttr>() == 16);
    assert!(std::mem::size_of::<QueryAttr>() == 40);
    assert!(std::mem::size_of::<LinkCreateAttr>() == 48);
    assert!(std::mem::size_of::<RawTracepointAttr>() == 16);
    assert!(std::mem::size_of::<LinkUpdateAttr>() == 16);
    assert!(std::mem::size_of::<LinkDetachAttr>() == 4);
    assert!(std::mem::size_of::<EnableStatsAttr>() == 4);
    assert!(std::mem::size_of::<RawTracepointAttr>() == 16);
    assert!(std::mem::size_of::<BtfInfoRaw>() == 32);
    assert!(std::mem::size_of::<ProgInfoRaw>() == 232);
    assert!(std::mem::size_of::<MapInfoRaw>() == 88);
    assert!(std::mem::size_of::<LinkInfoRaw>() == 48);
    assert!(std::mem::size_of::<MapBatchAttr>() == 56);
    assert!(std::mem::size_of::<TestRunAttr>() == 80);
};

/// The bytes of a [`Pod`] value.
#[cfg_attr(not(test), allow(dead_code))]
pub fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod: fully initialised, no padding, so its bytes may be read.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// The mutable bytes of a [`Pod`] value.
pub fn bytes_of_mut<T: Pod>(v: &mut T) -> &mut [u8] {
    // SAFETY: T is Pod: every bit pattern is a valid T, so any bytes may be written.
    unsafe { std::slice::from_raw_parts_mut((v as *mut T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// A [`Pod`] value from the first bytes of `b` (missing bytes are zero).
#[cfg_attr(not(test), allow(dead_code))]
pub fn from_bytes<T: Pod>(b: &[u8]) -> T {
    let mut v = T::default();
    let dst = bytes_of_mut(&mut v);
    let n = dst.len().min(b.len());
    dst[..n].copy_from_slice(&b[..n]);
    v
}

/// A fixed-size object name: at most 15 bytes, NUL-terminated (longer names are cut at a
/// character boundary; characters the kernel rejects are the caller's problem).
pub fn obj_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&name.as_bytes()[..end]);
    out
}

/// The text of a NUL-terminated fixed-size name.
pub fn name_str(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}
