/* CO-RE relocations of every kind this loader applies, in two socket filters.
 *
 * core_skb reads its context through a shuffled local copy of struct __sk_buff (field byte
 * offsets patched into loads), guards a member no kernel has with a field existence check,
 * and stores into .bss what the kernel's BTF says: offsets, sizes, signedness and shifts of
 * kernel struct members, type existence, size and id, enum value existence and value. The
 * test compares each slot with the kernel BTF.
 *
 * core_task reads pid and tgid of the current task with bpf_probe_read_kernel (the member
 * addresses are CO-RE relocated ALU additions), through a flavored struct too. */
#include "core_types.h"

static u64 (*get_current_task)(void) = (void *)35;
static long (*probe_read_kernel)(void *dst, u32 size, const void *src) = (void *)113;

u64 out[24];

SEC("socket")
int core_skb(struct __sk_buff___shuffled *skb)
{
	u64 extra = 0;

	out[0] = skb->len;
	out[1] = skb->mark;
	out[2] = skb->cb[2];
	out[3] = field_info(skb->no_such_member, FIELD_EXISTS);
	if (field_info(skb->no_such_member, FIELD_EXISTS))
		extra = skb->no_such_member; /* poisoned, and never reached */
	out[4] = extra;
	out[5] = field_info(((struct sk_buff *)0)->len, FIELD_BYTE_OFFSET);
	out[6] = field_info(((struct sk_buff *)0)->len, FIELD_BYTE_SIZE);
	out[7] = field_info(((struct sock *)0)->sk_rcvbuf, FIELD_SIGNED);
	out[8] = field_info(((struct sock *)0)->sk_mark, FIELD_SIGNED);
	out[9] = field_info(((struct sock *)0)->sk_mark, FIELD_LSHIFT_U64);
	out[10] = field_info(((struct sock *)0)->sk_mark, FIELD_RSHIFT_U64);
	out[11] = type_info(struct sk_buff, TYPE_EXISTS);
	out[12] = type_info(struct no_such_kernel_type, TYPE_EXISTS);
	out[13] = type_info(struct sk_buff, TYPE_SIZE);
	out[14] = type_id(struct sk_buff, TYPE_ID_TARGET);
	out[15] = type_id(struct sk_buff, TYPE_ID_LOCAL);
	out[16] = enum_info(enum bpf_func_id, BPF_FUNC_ktime_get_ns, ENUMVAL_EXISTS);
	out[17] = enum_info(enum bpf_func_id, BPF_FUNC_ktime_get_ns, ENUMVAL_VALUE);
	out[18] = enum_info(enum bpf_func_id, BPF_FUNC_no_such_helper, ENUMVAL_EXISTS);
	out[19] = field_info(((struct task_struct___flavor *)0)->pid, FIELD_BYTE_OFFSET);
	return skb->len;
}

SEC("socket")
int core_task(void *ctx)
{
	struct task_struct *t = (void *)get_current_task();
	struct task_struct___flavor *f = (void *)t;
	int pid = 0, tgid = 0, pid2 = 0;

	probe_read_kernel(&pid, sizeof(pid), &t->pid);
	probe_read_kernel(&tgid, sizeof(tgid), &t->tgid);
	probe_read_kernel(&pid2, sizeof(pid2), &f->pid);
	out[20] = pid;
	out[21] = tgid;
	out[22] = pid2;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
