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
