//! The Linux kernel's UAPI numbers and layouts that tcpbypass uses, in one place.
//!
//! This crate owns every kernel number the workspace writes down: the `bpf(2)` commands, map,
//! program, attach and link types and flags ([`bpf`]), the instruction set's opcode fields
//! ([`isa`]), the helper ids ([`for_each_helper!`]), the context-struct offsets the programs
//! read ([`ctx`]), errno values ([`errno`]), socket option numbers ([`socket`]) and file
//! system magics ([`magic`]). Other crates re-export or convert these; none repeats them.
//!
//! Every constant here is checked against a vendored copy of the kernel headers in
//! `uapi/include/` (copied from Debian's `linux-libc-dev`, version in `include/VERSION`,
//! refreshed with `uapi/refresh.sh`). The tests read them with `include_str!` ([`headers`]), so
//! a missing header fails the build; a constant absent from the headers fails the test. The
//! few numbers newer than the vendored headers are listed in [`LATER`], and the test fails
//! once a refreshed header has them (so they move to the checked tables).
//!
//! The vendored headers are licensed "GPL-2.0 WITH Linux-syscall-note"; the note exempts
//! programs that use the kernel's interfaces through these headers, and they are kept here
//! only as test data. The constants and layouts are facts of that interface.

pub mod header;
pub mod headers;

/// Defines constants and a table of their (header name, value) pairs for the header check.
macro_rules! consts {
    ($(#[$tm:meta])* $table:ident { $( $(#[$m:meta])* $name:ident : $ty:ty = $val:expr; )* }) => {
        $( $(#[$m])* pub const $name: $ty = $val; )*
        $(#[$tm])*
        pub const $table: &[(&str, i128)] = &[ $( (stringify!($name), $name as i128) ),* ];
    };
}

/// Defines the offset constants of a context struct and a table of (member, offset) pairs for
/// the layout checks (against the vendored header and the running kernel's BTF).
macro_rules! ctx_struct {
    ($(#[$sm:meta])* $module:ident = $cname:literal, size $size:literal {
        $( $(#[$m:meta])* $name:ident = $member:literal @ $off:literal; )*
    }) => {
        $(#[$sm])*
        pub mod $module {
            /// The struct's C name.
            pub const C_NAME: &str = $cname;
            /// `sizeof` in the vendored headers (later kernels may append members).
            pub const SIZEOF: i16 = $size;
            $( $(#[$m])* pub const $name: i16 = $off; )*
            /// Every offset above as (member name in the header, offset).
            pub const FIELDS: &[(&str, i16)] = &[ $( ($member, $name) ),* ];
        }
    };
}

/// `linux/bpf.h`: `bpf(2)` commands, map, program, attach and link types, flags, `sock_ops`
/// callbacks and TCP states, `sk_action`.
pub mod bpf {
    consts! {
        /// Every constant of this module with its header name.
        ALL {
            /// `enum bpf_cmd`: create a map.
            BPF_MAP_CREATE: u32 = 0;
            /// Look up a map element.
            BPF_MAP_LOOKUP_ELEM: u32 = 1;
            /// Create or update a map element.
            BPF_MAP_UPDATE_ELEM: u32 = 2;
            /// Delete a map element.
            BPF_MAP_DELETE_ELEM: u32 = 3;
            /// Iterate over a map's keys.
            BPF_MAP_GET_NEXT_KEY: u32 = 4;
            /// Load a program.
            BPF_PROG_LOAD: u32 = 5;
            /// Pin an object in bpffs.
            BPF_OBJ_PIN: u32 = 6;
            /// Open a pinned object.
            BPF_OBJ_GET: u32 = 7;
            /// Attach a program (legacy attachment).
            BPF_PROG_ATTACH: u32 = 8;
            /// Detach a program.
            BPF_PROG_DETACH: u32 = 9;
            /// Iterate over loaded program ids.
            BPF_PROG_GET_NEXT_ID: u32 = 11;
            /// Iterate over map ids.
            BPF_MAP_GET_NEXT_ID: u32 = 12;
            /// Open a program by id.
            BPF_PROG_GET_FD_BY_ID: u32 = 13;
            /// Open a map by id.
            BPF_MAP_GET_FD_BY_ID: u32 = 14;
            /// Read an object's info struct.
            BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
            /// List the programs attached to a target.
            BPF_PROG_QUERY: u32 = 16;
            /// Open a raw tracepoint (or a BTF-typed tracing program's attach point).
            BPF_RAW_TRACEPOINT_OPEN: u32 = 17;
            /// Load BTF.
            BPF_BTF_LOAD: u32 = 18;
            /// Open a BTF object by id.
            BPF_BTF_GET_FD_BY_ID: u32 = 19;
            /// Make a map read-only for programs' writers.
            BPF_MAP_FREEZE: u32 = 22;
            /// Iterate over BTF object ids.
            BPF_BTF_GET_NEXT_ID: u32 = 23;
            /// Run a program on given input (`BPF_PROG_RUN`).
            BPF_PROG_TEST_RUN: u32 = 10;
            /// Look up and delete a map element (queue/stack pop; hash maps since 5.14).
            BPF_MAP_LOOKUP_AND_DELETE_ELEM: u32 = 21;
            /// Look up many map elements at once.
            BPF_MAP_LOOKUP_BATCH: u32 = 24;
            /// Look up and delete many map elements at once.
            BPF_MAP_LOOKUP_AND_DELETE_BATCH: u32 = 25;
            /// Create or update many map elements at once.
            BPF_MAP_UPDATE_BATCH: u32 = 26;
            /// Delete many map elements at once.
            BPF_MAP_DELETE_BATCH: u32 = 27;
            /// Create a link.
            BPF_LINK_CREATE: u32 = 28;
            /// Replace a link's program.
            BPF_LINK_UPDATE: u32 = 29;
            /// Open a link by id.
            BPF_LINK_GET_FD_BY_ID: u32 = 30;
            /// Iterate over link ids.
            BPF_LINK_GET_NEXT_ID: u32 = 31;
            /// Turn on kernel-wide BPF statistics while the returned fd is open (5.8).
            BPF_ENABLE_STATS: u32 = 32;
            /// Detach a link.
            BPF_LINK_DETACH: u32 = 34;
            /// `enum bpf_stats_type`: run time and run count in `bpf_prog_info`.
            BPF_STATS_RUN_TIME: u32 = 0;

            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_HASH: u32 = 1;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_ARRAY: u32 = 2;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_CGROUP_ARRAY: u32 = 8;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_LRU_HASH: u32 = 9;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_DEVMAP: u32 = 14;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_SOCKMAP: u32 = 15;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_CPUMAP: u32 = 16;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_XSKMAP: u32 = 17;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_SOCKHASH: u32 = 18;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_QUEUE: u32 = 22;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_STACK: u32 = 23;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_RINGBUF: u32 = 27;
            /// `enum bpf_map_type`: per-cgroup storage of cgroup programs (legacy).
            BPF_MAP_TYPE_CGROUP_STORAGE: u32 = 19;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: u32 = 20;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: u32 = 21;
            /// `enum bpf_map_type`: socket local storage (needs BTF).
            BPF_MAP_TYPE_SK_STORAGE: u32 = 24;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_STRUCT_OPS: u32 = 26;
            /// `enum bpf_map_type`: inode local storage (needs BTF).
            BPF_MAP_TYPE_INODE_STORAGE: u32 = 28;
            /// `enum bpf_map_type`: task local storage (needs BTF).
            BPF_MAP_TYPE_TASK_STORAGE: u32 = 29;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
            /// `enum bpf_map_type`.
            BPF_MAP_TYPE_USER_RINGBUF: u32 = 31;

            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_UNSPEC: u32 = 0;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_KPROBE: u32 = 2;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SCHED_ACT: u32 = 4;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_XDP: u32 = 6;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_CGROUP_SOCK: u32 = 9;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_LWT_IN: u32 = 10;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_LWT_OUT: u32 = 11;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_LWT_XMIT: u32 = 12;
            /// `enum bpf_prog_type`: the type of the bypass's `sock_ops` program.
            BPF_PROG_TYPE_SOCK_OPS: u32 = 13;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SK_SKB: u32 = 14;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
            /// `enum bpf_prog_type`: the type of the bypass's `sk_msg` program.
            BPF_PROG_TYPE_SK_MSG: u32 = 16;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_LWT_SEG6LOCAL: u32 = 19;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_LIRC_MODE2: u32 = 20;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SK_REUSEPORT: u32 = 21;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_FLOW_DISSECTOR: u32 = 22;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_CGROUP_SYSCTL: u32 = 23;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: u32 = 24;
            /// `enum bpf_prog_type`: the type of the `cgroup/setsockopt` guard.
            BPF_PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_TRACING: u32 = 26;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_STRUCT_OPS: u32 = 27;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_EXT: u32 = 28;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_LSM: u32 = 29;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SK_LOOKUP: u32 = 30;
            /// `enum bpf_prog_type`.
            BPF_PROG_TYPE_SYSCALL: u32 = 31;

            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET_INGRESS: u32 = 0;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET_EGRESS: u32 = 1;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET_SOCK_CREATE: u32 = 2;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_SOCK_OPS: u32 = 3;
            /// `enum bpf_attach_type`.
            BPF_SK_SKB_STREAM_PARSER: u32 = 4;
            /// `enum bpf_attach_type`.
            BPF_SK_SKB_STREAM_VERDICT: u32 = 5;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_DEVICE: u32 = 6;
            /// `enum bpf_attach_type`.
            BPF_SK_MSG_VERDICT: u32 = 7;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET4_BIND: u32 = 8;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET6_BIND: u32 = 9;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET4_CONNECT: u32 = 10;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET6_CONNECT: u32 = 11;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET4_POST_BIND: u32 = 12;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET6_POST_BIND: u32 = 13;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_UDP4_SENDMSG: u32 = 14;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_UDP6_SENDMSG: u32 = 15;
            /// `enum bpf_attach_type`.
            BPF_LIRC_MODE2: u32 = 16;
            /// `enum bpf_attach_type`.
            BPF_FLOW_DISSECTOR: u32 = 17;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_SYSCTL: u32 = 18;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_UDP4_RECVMSG: u32 = 19;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_UDP6_RECVMSG: u32 = 20;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_GETSOCKOPT: u32 = 21;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_SETSOCKOPT: u32 = 22;
            /// `enum bpf_attach_type`.
            BPF_TRACE_RAW_TP: u32 = 23;
            /// `enum bpf_attach_type`.
            BPF_TRACE_FENTRY: u32 = 24;
            /// `enum bpf_attach_type`.
            BPF_TRACE_FEXIT: u32 = 25;
            /// `enum bpf_attach_type`.
            BPF_MODIFY_RETURN: u32 = 26;
            /// `enum bpf_attach_type`.
            BPF_LSM_MAC: u32 = 27;
            /// `enum bpf_attach_type`.
            BPF_TRACE_ITER: u32 = 28;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET4_GETPEERNAME: u32 = 29;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET6_GETPEERNAME: u32 = 30;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET4_GETSOCKNAME: u32 = 31;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET6_GETSOCKNAME: u32 = 32;
            /// `enum bpf_attach_type`.
            BPF_XDP_DEVMAP: u32 = 33;
            /// `enum bpf_attach_type`.
            BPF_CGROUP_INET_SOCK_RELEASE: u32 = 34;
            /// `enum bpf_attach_type`.
            BPF_XDP_CPUMAP: u32 = 35;
            /// `enum bpf_attach_type`.
            BPF_SK_LOOKUP: u32 = 36;
            /// `enum bpf_attach_type`.
            BPF_XDP: u32 = 37;
            /// `enum bpf_attach_type`.
            BPF_SK_SKB_VERDICT: u32 = 38;
            /// `enum bpf_attach_type`.
            BPF_SK_REUSEPORT_SELECT: u32 = 39;
            /// `enum bpf_attach_type`.
            BPF_SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = 40;
            /// `enum bpf_attach_type`.
            BPF_PERF_EVENT: u32 = 41;
            /// `enum bpf_attach_type`.
            BPF_TRACE_KPROBE_MULTI: u32 = 42;
            /// `enum bpf_attach_type`.
            BPF_LSM_CGROUP: u32 = 43;

            /// `enum bpf_link_type`: a raw tracepoint (and `tp_btf`).
            BPF_LINK_TYPE_RAW_TRACEPOINT: u32 = 1;
            /// `enum bpf_link_type`: fentry, fexit, fmod_ret, lsm (trampolines).
            BPF_LINK_TYPE_TRACING: u32 = 2;
            /// `enum bpf_link_type`.
            BPF_LINK_TYPE_CGROUP: u32 = 3;
            /// `enum bpf_link_type`: a BPF iterator.
            BPF_LINK_TYPE_ITER: u32 = 4;
            /// `enum bpf_link_type`: a network namespace (flow dissector, sk_lookup).
            BPF_LINK_TYPE_NETNS: u32 = 5;
            /// `enum bpf_link_type`: XDP on a device.
            BPF_LINK_TYPE_XDP: u32 = 6;
            /// `enum bpf_link_type`: a perf event (kprobe, uprobe, tracepoint).
            BPF_LINK_TYPE_PERF_EVENT: u32 = 7;
            /// `enum bpf_link_type`: kprobe.multi.
            BPF_LINK_TYPE_KPROBE_MULTI: u32 = 8;
            /// `enum bpf_link_type`: struct_ops.
            BPF_LINK_TYPE_STRUCT_OPS: u32 = 9;

            /// `BPF_PROG_ATTACH` flag.
            BPF_F_ALLOW_OVERRIDE: u32 = 1 << 0;
            /// `BPF_PROG_ATTACH` flag.
            BPF_F_ALLOW_MULTI: u32 = 1 << 1;
            /// `BPF_PROG_ATTACH` flag.
            BPF_F_REPLACE: u32 = 1 << 2;
            /// `BPF_PROG_QUERY` flag.
            BPF_F_QUERY_EFFECTIVE: u32 = 1 << 0;
            /// `BPF_MAP_CREATE` flag (required for `BPF_MAP_TYPE_LPM_TRIE`).
            BPF_F_NO_PREALLOC: u32 = 1 << 0;
            /// `BPF_MAP_CREATE` flag.
            BPF_F_RDONLY: u32 = 1 << 3;
            /// `BPF_MAP_CREATE` flag.
            BPF_F_WRONLY: u32 = 1 << 4;
            /// `BPF_MAP_CREATE` flag: programs only read the map (libbpf's `.rodata` maps).
            BPF_F_RDONLY_PROG: u32 = 1 << 7;
            /// `BPF_PROG_LOAD` flag: a sleepable program.
            BPF_F_SLEEPABLE: u32 = 1 << 4;
            /// `BPF_PROG_LOAD` flag: an XDP program that handles multi-buffer frames.
            BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

            /// Map update flag: create or update.
            BPF_ANY: u64 = 0;
            /// Map update flag: create a new element only if it did not exist.
            BPF_NOEXIST: u64 = 1;
            /// Map update flag: update only an element that exists.
            BPF_EXIST: u64 = 2;
            /// `bpf_msg_redirect_hash` flag: queue on the target's receive side.
            BPF_F_INGRESS: u64 = 1 << 0;
            /// Map lookup/update flag: operate on a spin-locked value under its lock.
            BPF_F_LOCK: u64 = 4;
            /// `bpf_perf_event_output` flags: the mask of the CPU index.
            BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
            /// `bpf_perf_event_output` flag: the current CPU's perf event.
            BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;
            /// `BPF_PROG_TEST_RUN` flag: run on the CPU `cpu` names.
            BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;
            /// Ring buffer record header bit: the record is still being written.
            BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
            /// Ring buffer record header bit: the record was discarded.
            BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
            /// Ring buffer record header size.
            BPF_RINGBUF_HDR_SZ: u32 = 8;

            /// Length of an object name, with its NUL.
            BPF_OBJ_NAME_LEN: usize = 16;
            /// Size of a program tag.
            BPF_TAG_SIZE: usize = 8;

            /// `enum sk_action`: drop (or: the redirect target was not found).
            SK_DROP: u32 = 0;
            /// `enum sk_action`: pass (or: the redirect was set up).
            SK_PASS: u32 = 1;

            /// `sock_ops` callback: a connection this host initiated is established.
            BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: u32 = 4;
            /// `sock_ops` callback: a connection this host accepted is established.
            BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: u32 = 5;
            /// `sock_ops` callback: the TCP state changed (`args[0]` old, `args[1]` new).
            BPF_SOCK_OPS_STATE_CB: u32 = 10;
            /// `bpf_sock_ops_cb_flags_set` flag enabling `BPF_SOCK_OPS_STATE_CB`.
            BPF_SOCK_OPS_STATE_CB_FLAG: u32 = 1 << 2;
            /// Every callback flag of this UAPI.
            BPF_SOCK_OPS_ALL_CB_FLAGS: u32 = 0x7f;

            /// TCP state (`enum { BPF_TCP_ESTABLISHED = 1, ... }`).
            BPF_TCP_ESTABLISHED: u32 = 1;
            /// TCP state.
            BPF_TCP_FIN_WAIT1: u32 = 4;
            /// TCP state: closed.
            BPF_TCP_CLOSE: u32 = 7;
            /// TCP state.
            BPF_TCP_CLOSE_WAIT: u32 = 8;
            /// TCP state.
            BPF_TCP_LAST_ACK: u32 = 9;
        }
    }

    /// `enum bpf_link_type`: a sockmap link (Linux 6.10; newer than the vendored headers,
    /// listed in [`crate::LATER`]).
    pub const BPF_LINK_TYPE_SOCKMAP: u32 = 14;
    /// `enum bpf_link_type`: a tcx link (Linux 6.6; in [`crate::LATER`]).
    pub const BPF_LINK_TYPE_TCX: u32 = 11;
    /// `enum bpf_prog_type`: netfilter hooks (Linux 6.4; in [`crate::LATER`]).
    pub const BPF_PROG_TYPE_NETFILTER: u32 = 32;
    /// `enum bpf_attach_type`: struct_ops (Linux 6.4; in [`crate::LATER`]).
    pub const BPF_STRUCT_OPS: u32 = 44;
    /// `enum bpf_attach_type`: netfilter hook (Linux 6.4; in [`crate::LATER`]).
    pub const BPF_NETFILTER: u32 = 45;
    /// `enum bpf_attach_type`: tcx ingress (Linux 6.6; in [`crate::LATER`]).
    pub const BPF_TCX_INGRESS: u32 = 46;
    /// `enum bpf_attach_type`: tcx egress (Linux 6.6; in [`crate::LATER`]).
    pub const BPF_TCX_EGRESS: u32 = 47;
}

/// `linux/bpf_common.h` and `linux/bpf.h`: the instruction set's opcode fields (RFC 9669).
pub mod isa {
    consts! {
        /// Every constant of this module with its header name.
        ALL {
            /// Class: non-standard load (`lddw`, legacy packet access).
            BPF_LD: u8 = 0x00;
            /// Class: load into a register.
            BPF_LDX: u8 = 0x01;
            /// Class: store an immediate.
            BPF_ST: u8 = 0x02;
            /// Class: store a register.
            BPF_STX: u8 = 0x03;
            /// Class: 32-bit arithmetic.
            BPF_ALU: u8 = 0x04;
            /// Class: 64-bit jumps, calls, exit.
            BPF_JMP: u8 = 0x05;
            /// Class: 32-bit jumps.
            BPF_JMP32: u8 = 0x06;
            /// Class: 64-bit arithmetic.
            BPF_ALU64: u8 = 0x07;

            /// Source: the operand is the immediate.
            BPF_K: u8 = 0x00;
            /// Source: the operand is the source register.
            BPF_X: u8 = 0x08;

            /// Size: 32 bits.
            BPF_W: u8 = 0x00;
            /// Size: 16 bits.
            BPF_H: u8 = 0x08;
            /// Size: 8 bits.
            BPF_B: u8 = 0x10;
            /// Size: 64 bits.
            BPF_DW: u8 = 0x18;

            /// Mode: 64-bit immediate (`lddw`).
            BPF_IMM: u8 = 0x00;
            /// Mode: legacy absolute packet load.
            BPF_ABS: u8 = 0x20;
            /// Mode: legacy indirect packet load.
            BPF_IND: u8 = 0x40;
            /// Mode: regular memory access.
            BPF_MEM: u8 = 0x60;
            /// Mode: atomic operation.
            BPF_ATOMIC: u8 = 0xc0;

            /// ALU operation: add (also the atomic add in `imm`).
            BPF_ADD: u8 = 0x00;
            /// ALU operation: subtract.
            BPF_SUB: u8 = 0x10;
            /// ALU operation: multiply.
            BPF_MUL: u8 = 0x20;
            /// ALU operation: divide.
            BPF_DIV: u8 = 0x30;
            /// ALU operation: or.
            BPF_OR: u8 = 0x40;
            /// ALU operation: and.
            BPF_AND: u8 = 0x50;
            /// ALU operation: left shift.
            BPF_LSH: u8 = 0x60;
            /// ALU operation: logical right shift.
            BPF_RSH: u8 = 0x70;
            /// ALU operation: negate.
            BPF_NEG: u8 = 0x80;
            /// ALU operation: modulo.
            BPF_MOD: u8 = 0x90;
            /// ALU operation: exclusive or.
            BPF_XOR: u8 = 0xa0;
            /// ALU operation: move.
            BPF_MOV: u8 = 0xb0;
            /// ALU operation: arithmetic right shift.
            BPF_ARSH: u8 = 0xc0;
            /// ALU operation: byte swap.
            BPF_END: u8 = 0xd0;
            /// Byte swap source bit: to little endian.
            BPF_TO_LE: u8 = 0x00;
            /// Byte swap source bit: to big endian.
            BPF_TO_BE: u8 = 0x08;

            /// Jump: always.
            BPF_JA: u8 = 0x00;
            /// Jump if equal.
            BPF_JEQ: u8 = 0x10;
            /// Jump if greater (unsigned).
            BPF_JGT: u8 = 0x20;
            /// Jump if greater or equal (unsigned).
            BPF_JGE: u8 = 0x30;
            /// Jump if `dst & src` is not zero.
            BPF_JSET: u8 = 0x40;
            /// Jump if not equal.
            BPF_JNE: u8 = 0x50;
            /// Jump if greater (signed).
            BPF_JSGT: u8 = 0x60;
            /// Jump if greater or equal (signed).
            BPF_JSGE: u8 = 0x70;
            /// Function call.
            BPF_CALL: u8 = 0x80;
            /// Return.
            BPF_EXIT: u8 = 0x90;
            /// Jump if lower (unsigned).
            BPF_JLT: u8 = 0xa0;
            /// Jump if lower or equal (unsigned).
            BPF_JLE: u8 = 0xb0;
            /// Jump if lower (signed).
            BPF_JSLT: u8 = 0xc0;
            /// Jump if lower or equal (signed).
            BPF_JSLE: u8 = 0xd0;

            /// Atomic modifier (in `imm`): also fetch the old value.
            BPF_FETCH: i32 = 0x01;
            /// Atomic exchange (in `imm`).
            BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
            /// Atomic compare and exchange (in `imm`).
            BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;

            /// `call` source: a bpf-to-bpf call.
            BPF_PSEUDO_CALL: u8 = 1;
            /// `call` source: a kernel function by BTF id.
            BPF_PSEUDO_KFUNC_CALL: u8 = 2;
            /// `lddw` source: `imm` is a map file descriptor.
            BPF_PSEUDO_MAP_FD: u8 = 1;
            /// `lddw` source: a map fd and an offset into its value.
            BPF_PSEUDO_MAP_VALUE: u8 = 2;
            /// `lddw` source: a kernel variable by BTF id.
            BPF_PSEUDO_BTF_ID: u8 = 3;
            /// `lddw` source: the address of a bpf function.
            BPF_PSEUDO_FUNC: u8 = 4;
            /// `lddw` source: a map by index into `fd_array`.
            BPF_PSEUDO_MAP_IDX: u8 = 5;
            /// `lddw` source: map index and value offset.
            BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;
        }
    }

    /// Mode: sign-extending memory load (Linux 6.6; newer than the vendored headers, listed
    /// in [`crate::LATER`]).
    pub const BPF_MEMSX: u8 = 0x80;
    /// Atomic `imm`: load-acquire (Linux 6.15; in [`crate::LATER`]).
    pub const BPF_LOAD_ACQ: i32 = 0x100;
    /// Atomic `imm`: store-release (Linux 6.15; in [`crate::LATER`]).
    pub const BPF_STORE_REL: i32 = 0x110;
    /// Jump operation: `may_goto` (Linux 6.9; in [`crate::LATER`]).
    pub const BPF_JCOND: u8 = 0xe0;
    /// The `off` of `ALU64 | MOV | X` that makes it an address-space cast (Linux 6.9; in
    /// [`crate::LATER`]).
    pub const BPF_ADDR_SPACE_CAST: i16 = 1;

    /// Mask of the class field (`BPF_CLASS(code)`).
    pub const CLASS_MASK: u8 = 0x07;
    /// Mask of the size field (`BPF_SIZE(code)`).
    pub const SIZE_MASK: u8 = 0x18;
    /// Mask of the mode field (`BPF_MODE(code)`).
    pub const MODE_MASK: u8 = 0xe0;
    /// Mask of the operation field (`BPF_OP(code)`).
    pub const OP_MASK: u8 = 0xf0;
    /// Mask of the source field (`BPF_SRC(code)`).
    pub const SRC_MASK: u8 = 0x08;
    /// The field masks with the header macro that defines each.
    pub const MASKS: &[(&str, u8)] = &[
        ("BPF_CLASS", CLASS_MASK),
        ("BPF_SIZE", SIZE_MASK),
        ("BPF_MODE", MODE_MASK),
        ("BPF_OP", OP_MASK),
        ("BPF_SRC", SRC_MASK),
    ];
}

/// Numbers newer than the vendored headers, each with the kernel version that added it. The
/// header check requires these to be absent from the vendored headers: when a refresh brings
/// one in, the test fails until it moves into a checked table.
pub const LATER: &[(&str, i128, &str)] = &[
    (
        "BPF_LINK_TYPE_SOCKMAP",
        bpf::BPF_LINK_TYPE_SOCKMAP as i128,
        "6.10",
    ),
    ("BPF_LINK_TYPE_TCX", bpf::BPF_LINK_TYPE_TCX as i128, "6.6"),
    (
        "BPF_PROG_TYPE_NETFILTER",
        bpf::BPF_PROG_TYPE_NETFILTER as i128,
        "6.4",
    ),
    ("BPF_STRUCT_OPS", bpf::BPF_STRUCT_OPS as i128, "6.4"),
    ("BPF_NETFILTER", bpf::BPF_NETFILTER as i128, "6.4"),
    ("BPF_TCX_INGRESS", bpf::BPF_TCX_INGRESS as i128, "6.6"),
    ("BPF_TCX_EGRESS", bpf::BPF_TCX_EGRESS as i128, "6.6"),
    ("BPF_MEMSX", isa::BPF_MEMSX as i128, "6.6"),
    ("BPF_LOAD_ACQ", isa::BPF_LOAD_ACQ as i128, "6.15"),
    ("BPF_STORE_REL", isa::BPF_STORE_REL as i128, "6.15"),
    ("BPF_JCOND", isa::BPF_JCOND as i128, "6.9"),
    (
        "BPF_ADDR_SPACE_CAST",
        isa::BPF_ADDR_SPACE_CAST as i128,
        "6.9",
    ),
];

/// Calls the macro `$callback` with the kernel's helper list (`___BPF_FUNC_MAPPER` of
/// `linux/bpf.h`, ids 0..=209 in the vendored headers) as `(Variant, id, name)` items, where
/// `Variant` is a Rust name and `name` the helper's name without `bpf_`. The one list of
/// helper ids; `asm::Helper` is generated from it.
#[macro_export]
macro_rules! for_each_helper {
    ($callback:ident) => {
        $callback! {
            (Unspec, 0, unspec),
            (MapLookupElem, 1, map_lookup_elem),
            (MapUpdateElem, 2, map_update_elem),
            (MapDeleteElem, 3, map_delete_elem),
            (ProbeRead, 4, probe_read),
            (KtimeGetNs, 5, ktime_get_ns),
            (TracePrintk, 6, trace_printk),
            (GetPrandomU32, 7, get_prandom_u32),
            (GetSmpProcessorId, 8, get_smp_processor_id),
            (SkbStoreBytes, 9, skb_store_bytes),
            (L3CsumReplace, 10, l3_csum_replace),
            (L4CsumReplace, 11, l4_csum_replace),
            (TailCall, 12, tail_call),
            (CloneRedirect, 13, clone_redirect),
            (GetCurrentPidTgid, 14, get_current_pid_tgid),
            (GetCurrentUidGid, 15, get_current_uid_gid),
            (GetCurrentComm, 16, get_current_comm),
            (GetCgroupClassid, 17, get_cgroup_classid),
            (SkbVlanPush, 18, skb_vlan_push),
            (SkbVlanPop, 19, skb_vlan_pop),
            (SkbGetTunnelKey, 20, skb_get_tunnel_key),
            (SkbSetTunnelKey, 21, skb_set_tunnel_key),
            (PerfEventRead, 22, perf_event_read),
            (Redirect, 23, redirect),
            (GetRouteRealm, 24, get_route_realm),
            (PerfEventOutput, 25, perf_event_output),
            (SkbLoadBytes, 26, skb_load_bytes),
            (GetStackid, 27, get_stackid),
            (CsumDiff, 28, csum_diff),
            (SkbGetTunnelOpt, 29, skb_get_tunnel_opt),
            (SkbSetTunnelOpt, 30, skb_set_tunnel_opt),
            (SkbChangeProto, 31, skb_change_proto),
            (SkbChangeType, 32, skb_change_type),
            (SkbUnderCgroup, 33, skb_under_cgroup),
            (GetHashRecalc, 34, get_hash_recalc),
            (GetCurrentTask, 35, get_current_task),
            (ProbeWriteUser, 36, probe_write_user),
            (CurrentTaskUnderCgroup, 37, current_task_under_cgroup),
            (SkbChangeTail, 38, skb_change_tail),
            (SkbPullData, 39, skb_pull_data),
            (CsumUpdate, 40, csum_update),
            (SetHashInvalid, 41, set_hash_invalid),
            (GetNumaNodeId, 42, get_numa_node_id),
            (SkbChangeHead, 43, skb_change_head),
            (XdpAdjustHead, 44, xdp_adjust_head),
            (ProbeReadStr, 45, probe_read_str),
            (GetSocketCookie, 46, get_socket_cookie),
            (GetSocketUid, 47, get_socket_uid),
            (SetHash, 48, set_hash),
            (Setsockopt, 49, setsockopt),
            (SkbAdjustRoom, 50, skb_adjust_room),
            (RedirectMap, 51, redirect_map),
            (SkRedirectMap, 52, sk_redirect_map),
            (SockMapUpdate, 53, sock_map_update),
            (XdpAdjustMeta, 54, xdp_adjust_meta),
            (PerfEventReadValue, 55, perf_event_read_value),
            (PerfProgReadValue, 56, perf_prog_read_value),
            (Getsockopt, 57, getsockopt),
            (OverrideReturn, 58, override_return),
            (SockOpsCbFlagsSet, 59, sock_ops_cb_flags_set),
            (MsgRedirectMap, 60, msg_redirect_map),
            (MsgApplyBytes, 61, msg_apply_bytes),
            (MsgCorkBytes, 62, msg_cork_bytes),
            (MsgPullData, 63, msg_pull_data),
            (Bind, 64, bind),
            (XdpAdjustTail, 65, xdp_adjust_tail),
            (SkbGetXfrmState, 66, skb_get_xfrm_state),
            (GetStack, 67, get_stack),
            (SkbLoadBytesRelative, 68, skb_load_bytes_relative),
            (FibLookup, 69, fib_lookup),
            (SockHashUpdate, 70, sock_hash_update),
            (MsgRedirectHash, 71, msg_redirect_hash),
            (SkRedirectHash, 72, sk_redirect_hash),
            (LwtPushEncap, 73, lwt_push_encap),
            (LwtSeg6StoreBytes, 74, lwt_seg6_store_bytes),
            (LwtSeg6AdjustSrh, 75, lwt_seg6_adjust_srh),
            (LwtSeg6Action, 76, lwt_seg6_action),
            (RcRepeat, 77, rc_repeat),
            (RcKeydown, 78, rc_keydown),
            (SkbCgroupId, 79, skb_cgroup_id),
            (GetCurrentCgroupId, 80, get_current_cgroup_id),
            (GetLocalStorage, 81, get_local_storage),
            (SkSelectReuseport, 82, sk_select_reuseport),
            (SkbAncestorCgroupId, 83, skb_ancestor_cgroup_id),
            (SkLookupTcp, 84, sk_lookup_tcp),
            (SkLookupUdp, 85, sk_lookup_udp),
            (SkRelease, 86, sk_release),
            (MapPushElem, 87, map_push_elem),
            (MapPopElem, 88, map_pop_elem),
            (MapPeekElem, 89, map_peek_elem),
            (MsgPushData, 90, msg_push_data),
            (MsgPopData, 91, msg_pop_data),
            (RcPointerRel, 92, rc_pointer_rel),
            (SpinLock, 93, spin_lock),
            (SpinUnlock, 94, spin_unlock),
            (SkFullsock, 95, sk_fullsock),
            (TcpSock, 96, tcp_sock),
            (SkbEcnSetCe, 97, skb_ecn_set_ce),
            (GetListenerSock, 98, get_listener_sock),
            (SkcLookupTcp, 99, skc_lookup_tcp),
            (TcpCheckSyncookie, 100, tcp_check_syncookie),
            (SysctlGetName, 101, sysctl_get_name),
            (SysctlGetCurrentValue, 102, sysctl_get_current_value),
            (SysctlGetNewValue, 103, sysctl_get_new_value),
            (SysctlSetNewValue, 104, sysctl_set_new_value),
            (Strtol, 105, strtol),
            (Strtoul, 106, strtoul),
            (SkStorageGet, 107, sk_storage_get),
            (SkStorageDelete, 108, sk_storage_delete),
            (SendSignal, 109, send_signal),
            (TcpGenSyncookie, 110, tcp_gen_syncookie),
            (SkbOutput, 111, skb_output),
            (ProbeReadUser, 112, probe_read_user),
            (ProbeReadKernel, 113, probe_read_kernel),
            (ProbeReadUserStr, 114, probe_read_user_str),
            (ProbeReadKernelStr, 115, probe_read_kernel_str),
            (TcpSendAck, 116, tcp_send_ack),
            (SendSignalThread, 117, send_signal_thread),
            (Jiffies64, 118, jiffies64),
            (ReadBranchRecords, 119, read_branch_records),
            (GetNsCurrentPidTgid, 120, get_ns_current_pid_tgid),
            (XdpOutput, 121, xdp_output),
            (GetNetnsCookie, 122, get_netns_cookie),
            (GetCurrentAncestorCgroupId, 123, get_current_ancestor_cgroup_id),
            (SkAssign, 124, sk_assign),
            (KtimeGetBootNs, 125, ktime_get_boot_ns),
            (SeqPrintf, 126, seq_printf),
            (SeqWrite, 127, seq_write),
            (SkCgroupId, 128, sk_cgroup_id),
            (SkAncestorCgroupId, 129, sk_ancestor_cgroup_id),
            (RingbufOutput, 130, ringbuf_output),
            (RingbufReserve, 131, ringbuf_reserve),
            (RingbufSubmit, 132, ringbuf_submit),
            (RingbufDiscard, 133, ringbuf_discard),
            (RingbufQuery, 134, ringbuf_query),
            (CsumLevel, 135, csum_level),
            (SkcToTcp6Sock, 136, skc_to_tcp6_sock),
            (SkcToTcpSock, 137, skc_to_tcp_sock),
            (SkcToTcpTimewaitSock, 138, skc_to_tcp_timewait_sock),
            (SkcToTcpRequestSock, 139, skc_to_tcp_request_sock),
            (SkcToUdp6Sock, 140, skc_to_udp6_sock),
            (GetTaskStack, 141, get_task_stack),
            (LoadHdrOpt, 142, load_hdr_opt),
            (StoreHdrOpt, 143, store_hdr_opt),
            (ReserveHdrOpt, 144, reserve_hdr_opt),
            (InodeStorageGet, 145, inode_storage_get),
            (InodeStorageDelete, 146, inode_storage_delete),
            (DPath, 147, d_path),
            (CopyFromUser, 148, copy_from_user),
            (SnprintfBtf, 149, snprintf_btf),
            (SeqPrintfBtf, 150, seq_printf_btf),
            (SkbCgroupClassid, 151, skb_cgroup_classid),
            (RedirectNeigh, 152, redirect_neigh),
            (PerCpuPtr, 153, per_cpu_ptr),
            (ThisCpuPtr, 154, this_cpu_ptr),
            (RedirectPeer, 155, redirect_peer),
            (TaskStorageGet, 156, task_storage_get),
            (TaskStorageDelete, 157, task_storage_delete),
            (GetCurrentTaskBtf, 158, get_current_task_btf),
            (BprmOptsSet, 159, bprm_opts_set),
            (KtimeGetCoarseNs, 160, ktime_get_coarse_ns),
            (ImaInodeHash, 161, ima_inode_hash),
            (SockFromFile, 162, sock_from_file),
            (CheckMtu, 163, check_mtu),
            (ForEachMapElem, 164, for_each_map_elem),
            (Snprintf, 165, snprintf),
            (SysBpf, 166, sys_bpf),
            (BtfFindByNameKind, 167, btf_find_by_name_kind),
            (SysClose, 168, sys_close),
            (TimerInit, 169, timer_init),
            (TimerSetCallback, 170, timer_set_callback),
            (TimerStart, 171, timer_start),
            (TimerCancel, 172, timer_cancel),
            (GetFuncIp, 173, get_func_ip),
            (GetAttachCookie, 174, get_attach_cookie),
            (TaskPtRegs, 175, task_pt_regs),
            (GetBranchSnapshot, 176, get_branch_snapshot),
            (TraceVprintk, 177, trace_vprintk),
            (SkcToUnixSock, 178, skc_to_unix_sock),
            (KallsymsLookupName, 179, kallsyms_lookup_name),
            (FindVma, 180, find_vma),
            (Loop, 181, loop),
            (Strncmp, 182, strncmp),
            (GetFuncArg, 183, get_func_arg),
            (GetFuncRet, 184, get_func_ret),
            (GetFuncArgCnt, 185, get_func_arg_cnt),
            (GetRetval, 186, get_retval),
            (SetRetval, 187, set_retval),
            (XdpGetBuffLen, 188, xdp_get_buff_len),
            (XdpLoadBytes, 189, xdp_load_bytes),
            (XdpStoreBytes, 190, xdp_store_bytes),
            (CopyFromUserTask, 191, copy_from_user_task),
            (SkbSetTstamp, 192, skb_set_tstamp),
            (ImaFileHash, 193, ima_file_hash),
            (KptrXchg, 194, kptr_xchg),
            (MapLookupPercpuElem, 195, map_lookup_percpu_elem),
            (SkcToMptcpSock, 196, skc_to_mptcp_sock),
            (DynptrFromMem, 197, dynptr_from_mem),
            (RingbufReserveDynptr, 198, ringbuf_reserve_dynptr),
            (RingbufSubmitDynptr, 199, ringbuf_submit_dynptr),
            (RingbufDiscardDynptr, 200, ringbuf_discard_dynptr),
            (DynptrRead, 201, dynptr_read),
            (DynptrWrite, 202, dynptr_write),
            (DynptrData, 203, dynptr_data),
            (TcpRawGenSyncookieIpv4, 204, tcp_raw_gen_syncookie_ipv4),
            (TcpRawGenSyncookieIpv6, 205, tcp_raw_gen_syncookie_ipv6),
            (TcpRawCheckSyncookieIpv4, 206, tcp_raw_check_syncookie_ipv4),
            (TcpRawCheckSyncookieIpv6, 207, tcp_raw_check_syncookie_ipv6),
            (KtimeGetTaiNs, 208, ktime_get_tai_ns),
            (UserRingbufDrain, 209, user_ringbuf_drain),
        }
    };
}

/// Offsets of the context structs' members the programs and the simulator use, as `i16` (the
/// instruction's offset field). Checked against the vendored header's struct definitions
/// (laid out by [`header::struct_layout`]) and, in `verifier-tests`, against the running
/// kernel's BTF.
pub mod ctx {
    ctx_struct! {
        /// `struct bpf_sock_ops`, the `sock_ops` program's context.
        bpf_sock_ops = "bpf_sock_ops", size 216 {
            /// `__u32 op`: which callback this is (`BPF_SOCK_OPS_*`).
            OP = "op" @ 0;
            /// `__u32 args[4]` (in a union with `reply`); `args[i]` is at `ARGS + 4 * i`.
            ARGS = "args" @ 4;
            /// `__u32 reply` (writable; in a union with `args`).
            REPLY = "reply" @ 4;
            /// `__u32 family`.
            FAMILY = "family" @ 20;
            /// `__u32 remote_ip4`: network byte order.
            REMOTE_IP4 = "remote_ip4" @ 24;
            /// `__u32 local_ip4`: network byte order.
            LOCAL_IP4 = "local_ip4" @ 28;
            /// `__u32 remote_ip6[4]`: network byte order.
            REMOTE_IP6 = "remote_ip6" @ 32;
            /// `__u32 local_ip6[4]`: network byte order.
            LOCAL_IP6 = "local_ip6" @ 48;
            /// `__u32 remote_port`: network byte order, upper 16 bits on little-endian.
            REMOTE_PORT = "remote_port" @ 64;
            /// `__u32 local_port`: host byte order.
            LOCAL_PORT = "local_port" @ 68;
            /// `__u32 is_fullsock`.
            IS_FULLSOCK = "is_fullsock" @ 72;
            /// `__u32 bpf_sock_ops_cb_flags`.
            CB_FLAGS = "bpf_sock_ops_cb_flags" @ 84;
            /// `__u32 state`.
            STATE = "state" @ 88;
            /// `__u32 rcv_nxt`: the next sequence number the socket expects (a full socket
            /// only; 0 otherwise).
            RCV_NXT = "rcv_nxt" @ 100;
            /// `__u32 snd_nxt`: the next sequence number the socket sends (a full socket only).
            SND_NXT = "snd_nxt" @ 104;
            /// `__u32 sk_txhash` (writable).
            SK_TXHASH = "sk_txhash" @ 164;
            /// `__u64 bytes_received`.
            BYTES_RECEIVED = "bytes_received" @ 168;
            /// `__u64 bytes_acked`.
            BYTES_ACKED = "bytes_acked" @ 176;
            /// `struct bpf_sock *sk` (`__bpf_md_ptr`).
            SK = "sk" @ 184;
            /// `void *skb_data`.
            SKB_DATA = "skb_data" @ 192;
            /// `void *skb_data_end`.
            SKB_DATA_END = "skb_data_end" @ 200;
            /// `__u32 skb_len`.
            SKB_LEN = "skb_len" @ 208;
            /// `__u32 skb_tcp_flags`.
            SKB_TCP_FLAGS = "skb_tcp_flags" @ 212;
        }
    }

    ctx_struct! {
        /// `struct sk_msg_md`, the `sk_msg` program's context.
        sk_msg_md = "sk_msg_md", size 80 {
            /// `void *data`.
            DATA = "data" @ 0;
            /// `void *data_end`.
            DATA_END = "data_end" @ 8;
            /// `__u32 family`.
            FAMILY = "family" @ 16;
            /// `__u32 remote_ip4`: network byte order.
            REMOTE_IP4 = "remote_ip4" @ 20;
            /// `__u32 local_ip4`: network byte order.
            LOCAL_IP4 = "local_ip4" @ 24;
            /// `__u32 remote_ip6[4]`: network byte order.
            REMOTE_IP6 = "remote_ip6" @ 28;
            /// `__u32 local_ip6[4]`: network byte order.
            LOCAL_IP6 = "local_ip6" @ 44;
            /// `__u32 remote_port`: network byte order, upper 16 bits on little-endian.
            REMOTE_PORT = "remote_port" @ 60;
            /// `__u32 local_port`: host byte order.
            LOCAL_PORT = "local_port" @ 64;
            /// `__u32 size`: the message's total size.
            SIZE = "size" @ 68;
            /// `struct bpf_sock *sk`.
            SK = "sk" @ 72;
        }
    }

    ctx_struct! {
        /// `struct bpf_sockopt`, the `cgroup/setsockopt` program's context.
        bpf_sockopt = "bpf_sockopt", size 40 {
            /// `struct bpf_sock *sk`.
            SK = "sk" @ 0;
            /// `void *optval`.
            OPTVAL = "optval" @ 8;
            /// `void *optval_end`.
            OPTVAL_END = "optval_end" @ 16;
            /// `__s32 level`.
            LEVEL = "level" @ 24;
            /// `__s32 optname`.
            OPTNAME = "optname" @ 28;
            /// `__s32 optlen`.
            OPTLEN = "optlen" @ 32;
            /// `__s32 retval`.
            RETVAL = "retval" @ 36;
        }
    }

    ctx_struct! {
        /// `struct bpf_sock` (what `bpf_sockopt.sk` points to; read-only).
        bpf_sock = "bpf_sock", size 80 {
            /// `__u32 family`.
            FAMILY = "family" @ 4;
            /// `__u32 src_ip4`: network byte order.
            SRC_IP4 = "src_ip4" @ 24;
            /// `__u32 src_ip6[4]`: network byte order.
            SRC_IP6 = "src_ip6" @ 28;
            /// `__u32 src_port`: host byte order.
            SRC_PORT = "src_port" @ 44;
            /// `__be16 dst_port` and 16 bits of zero padding.
            DST_PORT = "dst_port" @ 48;
            /// `__u32 dst_ip4`: network byte order.
            DST_IP4 = "dst_ip4" @ 52;
            /// `__u32 dst_ip6[4]`: network byte order.
            DST_IP6 = "dst_ip6" @ 56;
            /// `__u32 state`.
            STATE = "state" @ 72;
        }
    }

    ctx_struct! {
        /// `struct __sk_buff`, the context of socket filter, cgroup_skb, tc (sched_cls/act),
        /// sk_skb and lwt programs (which fields a type may read is the verifier's business).
        __sk_buff = "__sk_buff", size 192 {
            /// `__u32 len`: the packet's length.
            LEN = "len" @ 0;
            /// `__u32 pkt_type`.
            PKT_TYPE = "pkt_type" @ 4;
            /// `__u32 mark`.
            MARK = "mark" @ 8;
            /// `__u32 protocol`: the L3 protocol, network byte order.
            PROTOCOL = "protocol" @ 16;
            /// `__u32 priority`.
            PRIORITY = "priority" @ 32;
            /// `__u32 ingress_ifindex`.
            INGRESS_IFINDEX = "ingress_ifindex" @ 36;
            /// `__u32 ifindex`.
            IFINDEX = "ifindex" @ 40;
            /// `__u32 cb[5]`: scratch space shared along the program chain.
            CB = "cb" @ 48;
            /// `__u32 hash`.
            HASH = "hash" @ 68;
            /// `__u32 data`: packet start (a packet pointer once loaded).
            DATA = "data" @ 76;
            /// `__u32 data_end`: packet end (a packet pointer once loaded).
            DATA_END = "data_end" @ 80;
            /// `__u32 family` (sk_skb and cgroup_skb).
            FAMILY = "family" @ 88;
            /// `__u32 remote_ip4`: network byte order.
            REMOTE_IP4 = "remote_ip4" @ 92;
            /// `__u32 local_ip4`: network byte order.
            LOCAL_IP4 = "local_ip4" @ 96;
            /// `__u32 remote_port`: network byte order.
            REMOTE_PORT = "remote_port" @ 132;
            /// `__u32 local_port`: host byte order.
            LOCAL_PORT = "local_port" @ 136;
            /// `__u64 tstamp`.
            TSTAMP = "tstamp" @ 152;
            /// `__u32 wire_len`.
            WIRE_LEN = "wire_len" @ 160;
        }
    }

    ctx_struct! {
        /// `struct xdp_md`, the XDP program's context.
        xdp_md = "xdp_md", size 24 {
            /// `__u32 data`: packet start (a packet pointer once loaded).
            DATA = "data" @ 0;
            /// `__u32 data_end`: packet end (a packet pointer once loaded).
            DATA_END = "data_end" @ 4;
            /// `__u32 data_meta`: metadata start.
            DATA_META = "data_meta" @ 8;
            /// `__u32 ingress_ifindex`.
            INGRESS_IFINDEX = "ingress_ifindex" @ 12;
            /// `__u32 rx_queue_index`.
            RX_QUEUE_INDEX = "rx_queue_index" @ 16;
            /// `__u32 egress_ifindex` (devmap programs).
            EGRESS_IFINDEX = "egress_ifindex" @ 20;
        }
    }

    /// A context struct: its C name, `sizeof` and (member, offset) pairs.
    pub type Struct = (&'static str, i16, &'static [(&'static str, i16)]);

    /// Every struct above.
    pub const STRUCTS: &[Struct] = &[
        (
            bpf_sock_ops::C_NAME,
            bpf_sock_ops::SIZEOF,
            bpf_sock_ops::FIELDS,
        ),
        (sk_msg_md::C_NAME, sk_msg_md::SIZEOF, sk_msg_md::FIELDS),
        (
            bpf_sockopt::C_NAME,
            bpf_sockopt::SIZEOF,
            bpf_sockopt::FIELDS,
        ),
        (bpf_sock::C_NAME, bpf_sock::SIZEOF, bpf_sock::FIELDS),
        (__sk_buff::C_NAME, __sk_buff::SIZEOF, __sk_buff::FIELDS),
        (xdp_md::C_NAME, xdp_md::SIZEOF, xdp_md::FIELDS),
    ];
}

/// `asm-generic/errno-base.h` and `asm-generic/errno.h`: error numbers (helpers return them
/// negated).
pub mod errno {
    consts! {
        /// Every constant of this module with its header name.
        ALL {
            /// No such entry.
            ENOENT: i32 = 2;
            /// A map insert failed because the map is full.
            E2BIG: i32 = 7;
            /// A `BPF_NOEXIST` insert found the key already there.
            EEXIST: i32 = 17;
            /// Invalid argument.
            EINVAL: i32 = 22;
            /// No space left.
            ENOSPC: i32 = 28;
            /// Operation not supported.
            EOPNOTSUPP: i32 = 95;
        }
    }
}

/// Socket levels and options: `asm-generic/socket.h` (the values of x86-64 and arm64; alpha,
/// mips, parisc and sparc differ), `linux/tcp.h`, `linux/in.h`, `linux/in6.h`.
pub mod socket {
    consts! {
        /// Every constant of this module with its header name.
        ALL {
            /// Level of the socket options.
            SOL_SOCKET: i32 = 1;
            /// `SO_RCVBUF`.
            SO_RCVBUF: i32 = 8;
            /// `SO_KEEPALIVE`.
            SO_KEEPALIVE: i32 = 9;
            /// `SO_OOBINLINE`.
            SO_OOBINLINE: i32 = 10;
            /// `SO_RCVLOWAT`.
            SO_RCVLOWAT: i32 = 18;
            /// `SO_MARK`.
            SO_MARK: i32 = 36;
            /// `SO_PEEK_OFF`.
            SO_PEEK_OFF: i32 = 42;
            /// `SO_NETNS_COOKIE` (Linux 5.14).
            SO_NETNS_COOKIE: i32 = 71;
            /// `IPPROTO_IP` (`linux/in.h`).
            IPPROTO_IP: i32 = 0;
            /// `IPPROTO_TCP`.
            IPPROTO_TCP: i32 = 6;
            /// `IPPROTO_IPV6`.
            IPPROTO_IPV6: i32 = 41;
            /// `IP_TOS`.
            IP_TOS: i32 = 1;
            /// `IP_MTU_DISCOVER`.
            IP_MTU_DISCOVER: i32 = 10;
            /// `IPV6_TCLASS` (`linux/in6.h`).
            IPV6_TCLASS: i32 = 67;
            /// `TCP_NODELAY` (`linux/tcp.h`).
            TCP_NODELAY: i32 = 1;
            /// `TCP_CORK`.
            TCP_CORK: i32 = 3;
            /// `TCP_WINDOW_CLAMP`.
            TCP_WINDOW_CLAMP: i32 = 10;
            /// `TCP_USER_TIMEOUT`.
            TCP_USER_TIMEOUT: i32 = 18;
            /// `TCP_ULP`.
            TCP_ULP: i32 = 31;
            /// `TCP_INQ`.
            TCP_INQ: i32 = 36;
        }
    }

    /// `SOL_IP`: the kernel's `include/linux/socket.h` (not UAPI) defines it as
    /// [`IPPROTO_IP`].
    pub const SOL_IP: i32 = IPPROTO_IP;
    /// `SOL_TCP`, defined as [`IPPROTO_TCP`].
    pub const SOL_TCP: i32 = IPPROTO_TCP;
    /// `SOL_IPV6`, defined as [`IPPROTO_IPV6`].
    pub const SOL_IPV6: i32 = IPPROTO_IPV6;

    /// `AF_INET`: in the kernel's non-UAPI `include/linux/socket.h`, so checked against the
    /// C library's value (the `libc` crate) instead of a vendored header.
    pub const AF_INET: i32 = 2;
    /// `AF_INET6` (checked like [`AF_INET`]).
    pub const AF_INET6: i32 = 10;
}

/// `linux/btf.h`: the BTF format's magic, type kinds and linkages (the kernel's BTF in
/// `/sys/kernel/btf`, and the `.BTF` sections of objects).
pub mod btf {
    consts! {
        /// Every constant of this module with its header name.
        ALL {
            /// `btf_header.magic`.
            BTF_MAGIC: u16 = 0xeb9f;
            /// An integer.
            BTF_KIND_INT: u32 = 1;
            /// A pointer.
            BTF_KIND_PTR: u32 = 2;
            /// An array (followed by `struct btf_array`).
            BTF_KIND_ARRAY: u32 = 3;
            /// A struct (followed by `vlen` `struct btf_member`).
            BTF_KIND_STRUCT: u32 = 4;
            /// A union (as a struct).
            BTF_KIND_UNION: u32 = 5;
            /// An enumeration of 32-bit values (followed by `vlen` `struct btf_enum`).
            BTF_KIND_ENUM: u32 = 6;
            /// A forward declaration.
            BTF_KIND_FWD: u32 = 7;
            /// A typedef.
            BTF_KIND_TYPEDEF: u32 = 8;
            /// `volatile`.
            BTF_KIND_VOLATILE: u32 = 9;
            /// `const`.
            BTF_KIND_CONST: u32 = 10;
            /// `restrict`.
            BTF_KIND_RESTRICT: u32 = 11;
            /// A function (its type is a FUNC_PROTO; `vlen` holds the linkage).
            BTF_KIND_FUNC: u32 = 12;
            /// A function prototype (followed by `vlen` `struct btf_param`).
            BTF_KIND_FUNC_PROTO: u32 = 13;
            /// A variable (followed by `struct btf_var`).
            BTF_KIND_VAR: u32 = 14;
            /// A data section (followed by `vlen` `struct btf_var_secinfo`).
            BTF_KIND_DATASEC: u32 = 15;
            /// A floating-point type.
            BTF_KIND_FLOAT: u32 = 16;
            /// A declaration tag (followed by `struct btf_decl_tag`).
            BTF_KIND_DECL_TAG: u32 = 17;
            /// A type tag.
            BTF_KIND_TYPE_TAG: u32 = 18;
            /// An enumeration of 64-bit values (followed by `vlen` `struct btf_enum64`).
            BTF_KIND_ENUM64: u32 = 19;
            /// A variable of one object file only.
            BTF_VAR_STATIC: u32 = 0;
            /// A global variable with storage.
            BTF_VAR_GLOBAL_ALLOCATED: u32 = 1;
            /// An extern variable (defined elsewhere: `__kconfig`, `__ksym`).
            BTF_VAR_GLOBAL_EXTERN: u32 = 2;
            /// A function of one object file only.
            BTF_FUNC_STATIC: u32 = 0;
            /// A global function.
            BTF_FUNC_GLOBAL: u32 = 1;
            /// CO-RE (`enum bpf_core_relo_kind`): a field's byte offset.
            BPF_CORE_FIELD_BYTE_OFFSET: u32 = 0;
            /// CO-RE: a field's size in bytes.
            BPF_CORE_FIELD_BYTE_SIZE: u32 = 1;
            /// CO-RE: whether a field exists in the target kernel.
            BPF_CORE_FIELD_EXISTS: u32 = 2;
            /// CO-RE: whether a field is signed.
            BPF_CORE_FIELD_SIGNED: u32 = 3;
            /// CO-RE: a bitfield's left shift (in a u64).
            BPF_CORE_FIELD_LSHIFT_U64: u32 = 4;
            /// CO-RE: a bitfield's right shift (in a u64).
            BPF_CORE_FIELD_RSHIFT_U64: u32 = 5;
            /// CO-RE: a type's id in the object's BTF.
            BPF_CORE_TYPE_ID_LOCAL: u32 = 6;
            /// CO-RE: a type's id in the target kernel's BTF.
            BPF_CORE_TYPE_ID_TARGET: u32 = 7;
            /// CO-RE: whether a type exists in the target kernel.
            BPF_CORE_TYPE_EXISTS: u32 = 8;
            /// CO-RE: a type's size in bytes.
            BPF_CORE_TYPE_SIZE: u32 = 9;
            /// CO-RE: whether an enum value exists in the target kernel.
            BPF_CORE_ENUMVAL_EXISTS: u32 = 10;
            /// CO-RE: an enum value's integer value.
            BPF_CORE_ENUMVAL_VALUE: u32 = 11;
            /// CO-RE: whether a type matches the target kernel's (`bpf_core_type_matches`).
            BPF_CORE_TYPE_MATCHES: u32 = 12;
        }
    }
}

/// `linux/magic.h`: `statfs` file system magics.
pub mod magic {
    consts! {
        /// Every constant of this module with its header name.
        ALL {
            /// cgroup v2.
            CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
            /// cgroup v1.
            CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
            /// bpffs.
            BPF_FS_MAGIC: i64 = 0xcafe_4a11;
            /// tmpfs.
            TMPFS_MAGIC: i64 = 0x0102_1994;
        }
    }
}

#[cfg(test)]
mod tests;
