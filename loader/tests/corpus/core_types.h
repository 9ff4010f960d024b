/* Kernel types for the CO-RE corpus programs, written by hand for this corpus (the trimmed
 * equivalent of a generated vmlinux.h): only the members the programs touch, in an order and
 * with offsets that need not be the kernel's. Every struct is marked preserve_access_index,
 * so clang records each member access as a CO-RE relocation against the kernel's BTF. A
 * `___suffix` (a "flavor") is dropped when the loader looks the type up in the kernel. */
#ifndef CORPUS_CORE_TYPES_H
#define CORPUS_CORE_TYPES_H

#include "bpf_defs.h"

#define CORE __attribute__((preserve_access_index))

/* __builtin_preserve_field_info kinds (enum bpf_core_relo_kind 0..5). */
#define FIELD_BYTE_OFFSET 0
#define FIELD_BYTE_SIZE 1
#define FIELD_EXISTS 2
#define FIELD_SIGNED 3
#define FIELD_LSHIFT_U64 4
#define FIELD_RSHIFT_U64 5
/* __builtin_preserve_type_info kinds. */
#define TYPE_EXISTS 0
#define TYPE_SIZE 1
/* __builtin_btf_type_id kinds. */
#define TYPE_ID_LOCAL 0
#define TYPE_ID_TARGET 1
/* __builtin_preserve_enum_value kinds. */
#define ENUMVAL_EXISTS 0
#define ENUMVAL_VALUE 1

#define field_info(expr, kind) __builtin_preserve_field_info(expr, kind)
#define type_info(type, kind) __builtin_preserve_type_info(*(typeof(type) *)0, kind)
#define type_id(type, kind) __builtin_btf_type_id(*(typeof(type) *)0, kind)
#define enum_info(type, value, kind) __builtin_preserve_enum_value(*(typeof(type) *)value, kind)

/* The socket filter context, members deliberately out of the UAPI order (mark is at 8, len
 * at 0, cb at 48 in the kernel), plus a member no kernel has. */
struct __sk_buff___shuffled {
	u32 cb[5];
	u32 mark;
	u32 len;
	u32 no_such_member;
} CORE;

/* The kernel's socket buffer: a few members, at made-up offsets. */
struct sk_buff {
	u64 padding;
	unsigned int data_len;
	unsigned int len;
} CORE;

/* A signed member (int sk_rcvbuf) and an unsigned one (u32 sk_mark) of struct sock. */
struct sock {
	int sk_rcvbuf;
	u32 sk_mark;
} CORE;

/* The current task: pid and tgid (pid_t, an int). */
struct task_struct {
	int tgid;
	int pid;
} CORE;

/* An older kernel's layout under a flavor: the same kernel struct. */
struct task_struct___flavor {
	int pid;
} CORE;

/* libbpf-bootstrap shapes (core_bootstrap.c). */
struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
} CORE;

/* The sched_process_exec tracepoint's record: filename is a __data_loc (offset in the low
 * 16 bits, length in the high 16). */
struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	u32 __data_loc_filename;
	int pid;
	int old_pid;
} CORE;

/* The parent of a task, its exit code. */
struct task_struct___bootstrap {
	struct task_struct___bootstrap *real_parent;
	int tgid;
	int exit_code;
} CORE;

struct filename {
	const char *name;
} CORE;

/* x86-64 and arm64 register layouts under flavors: a program picks the one whose members
 * exist in the running kernel. arm64's regs[] is inside anonymous members of pt_regs. */
struct pt_regs___x86 {
	unsigned long di;
	unsigned long si;
} CORE;

struct pt_regs___arm64 {
	u64 regs[31];
} CORE;

/* Packet headers: member offsets are UAPI, but the kernel's iphdr has saddr/daddr inside an
 * anonymous union of anonymous structs (Linux 5.18 and later) where this has them plainly. */
struct ethhdr {
	unsigned char h_dest[6];
	unsigned char h_source[6];
	u16 h_proto;
} CORE;

struct iphdr {
	u8 ttl;
	u8 protocol;
	u32 saddr;
	u32 daddr;
} CORE;

/* The IPv4 version and header length bitfields, in the opposite order to the kernel's
 * little-endian struct iphdr (ihl:4 in the low bits there). saddr makes the struct 4-byte
 * aligned, so clang writes a 4-byte container for the bitfields where the kernel's BTF
 * (and libbpf's calculation) gives 1: bitfield relocations are not checked against what
 * the compiler wrote. */
struct iphdr___bits {
	u8 version : 4;
	u8 ihl : 4;
	u32 saddr;
} CORE;

/* Reads a bitfield the way CO-RE programs do: a load of the container the kernel's BTF
 * gives (byte offset and size relocated), then shifts (relocated too). */
#define READ_BITFIELD(s, field)                                                        \
	({                                                                             \
		const void *p_ = (const void *)(s) + field_info((s)->field, FIELD_BYTE_OFFSET); \
		unsigned long long v_ = 0;                                             \
		switch (field_info((s)->field, FIELD_BYTE_SIZE)) {                     \
		case 1: v_ = *(const u8 *)p_; break;                                   \
		case 2: v_ = *(const u16 *)p_; break;                                  \
		case 4: v_ = *(const u32 *)p_; break;                                  \
		case 8: v_ = *(const u64 *)p_; break;                                  \
		}                                                                      \
		v_ <<= field_info((s)->field, FIELD_LSHIFT_U64);                       \
		if (field_info((s)->field, FIELD_SIGNED))                              \
			v_ = (unsigned long long)((long long)v_ >> field_info((s)->field, FIELD_RSHIFT_U64)); \
		else                                                                   \
			v_ >>= field_info((s)->field, FIELD_RSHIFT_U64);               \
		v_;                                                                    \
	})

/* The tc context: data and data_end, read through CO-RE. */
struct __sk_buff___tc {
	u32 len;
	u32 data;
	u32 data_end;
} CORE;

/* A type no kernel has. */
struct no_such_kernel_type {
	int x;
} CORE;

/* enum bpf_func_id, with a made-up value for one helper and a helper that does not exist. */
enum bpf_func_id {
	BPF_FUNC_ktime_get_ns = 1,
	BPF_FUNC_no_such_helper = 2,
};

#endif
