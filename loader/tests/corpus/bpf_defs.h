/* Minimal definitions shared by the corpus programs. Written for this corpus: no libbpf,
 * kernel or vmlinux headers are used. Numbers (map types, helper ids, flags, context field
 * offsets) follow the kernel UAPI, /usr/include/linux/bpf.h. */
#ifndef CORPUS_BPF_DEFS_H
#define CORPUS_BPF_DEFS_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed int s32;
typedef signed long long s64;

/* Object layout: ELF section of a function or variable, and BTF map attributes. */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define NOINLINE __attribute__((noinline))

/* enum bpf_map_type */
#define MAP_HASH 1
#define MAP_ARRAY 2
#define MAP_PROG_ARRAY 3
#define MAP_PERF_EVENT_ARRAY 4
#define MAP_PERCPU_HASH 5
#define MAP_PERCPU_ARRAY 6
#define MAP_LRU_HASH 9
#define MAP_ARRAY_OF_MAPS 12
#define MAP_HASH_OF_MAPS 13
#define MAP_SOCKHASH 18
#define MAP_RINGBUF 27

/* Update flags and other helper flags. */
#define UPD_ANY 0
#define UPD_NOEXIST 1
#define UPD_EXIST 2
#define F_CURRENT_CPU 0xffffffffULL
#define F_INGRESS 1

/* Program return codes. */
#define XDP_DROP 1
#define XDP_PASS 2
#define TC_OK 0
#define TC_SHOT 2
#define SK_DROP 0
#define SK_PASS 1

/* enum bpf_sock_ops_cb */
#define SOCKOPS_ACTIVE_ESTABLISHED 4
#define SOCKOPS_PASSIVE_ESTABLISHED 5
#define AF_INET 2

/* Helpers: a pointer to a function at address N is how the call to helper N is encoded. */
static void *(*map_lookup)(void *map, const void *key) = (void *)1;
static long (*map_update)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*map_delete)(void *map, const void *key) = (void *)3;
static u64 (*ktime_ns)(void) = (void *)5;
static u32 (*prandom_u32)(void) = (void *)7;
static u32 (*smp_cpu_id)(void) = (void *)8;
static long (*tail_call)(void *ctx, void *prog_array, u32 index) = (void *)12;
static u64 (*current_pid_tgid)(void) = (void *)14;
static long (*perf_output)(void *ctx, void *map, u64 flags, void *data, u64 size) = (void *)25;
static long (*sockhash_update)(void *skops, void *map, void *key, u64 flags) = (void *)70;
static long (*msg_redirect_hash)(void *msg, void *map, void *key, u64 flags) = (void *)71;
static long (*ringbuf_output)(void *ringbuf, void *data, u64 size, u64 flags) = (void *)130;
static void *(*ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*ringbuf_submit)(void *data, u64 flags) = (void *)132;
static long (*for_each_map_elem)(void *map, void *callback, void *ctx, u64 flags) = (void *)164;
static long (*timer_init)(void *timer, void *map, u64 flags) = (void *)169;
static long (*timer_set_callback)(void *timer, void *callback) = (void *)170;
static long (*timer_start)(void *timer, u64 nsecs, u64 flags) = (void *)171;
static long (*loop)(u32 nr_loops, void *callback, void *ctx, u64 flags) = (void *)181;

/* Program contexts: only the leading fields the programs read, at their UAPI offsets. */
struct xdp_md {
	u32 data;
	u32 data_end;
	u32 data_meta;
	u32 ingress_ifindex;
	u32 rx_queue_index;
};

struct __sk_buff {
	u32 len;
	u32 pkt_type;
	u32 mark;
	u32 queue_mapping;
	u32 protocol;
	u32 vlan_present;
	u32 vlan_tci;
	u32 vlan_proto;
	u32 priority;
	u32 ingress_ifindex;
	u32 ifindex;
	u32 tc_index;
	u32 cb[5];
	u32 hash;
};

struct bpf_sock_ops {
	u32 op;
	u32 args[4];
	u32 family;
	u32 remote_ip4;
	u32 local_ip4;
	u32 remote_ip6[4];
	u32 local_ip6[4];
	u32 remote_port; /* network byte order in the upper 16 bits' place */
	u32 local_port;  /* host byte order */
};

struct sk_msg_md {
	u64 data;
	u64 data_end;
	u32 family;
	u32 remote_ip4;
	u32 local_ip4;
	u32 remote_ip6[4];
	u32 local_ip6[4];
	u32 remote_port;
	u32 local_port;
	u32 size;
};

/* The kernel finds a timer in a map value by this BTF name and size (16 bytes). */
struct bpf_timer {
	u64 opaque[2];
} __attribute__((aligned(8)));

/* Legacy map definition record for SEC("maps"). */
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

#endif
