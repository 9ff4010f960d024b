/* CO-RE programs in the shapes of libbpf-bootstrap's examples, written for this corpus with
 * core_types.h instead of a generated vmlinux.h:
 *
 * - handle_exec (bootstrap): on sched_process_exec, the pid, the parent's tgid
 *   (task->real_parent->tgid, two CO-RE relocated bpf_probe_read_kernel) and the file name
 *   (the tracepoint record's __data_loc, a CO-RE relocated context load) into a ring buffer;
 * - unlink_entry (kprobe): the second argument of do_unlinkat from pt_regs, the register
 *   chosen by field existence under x86-64 and arm64 flavors, then filename->name;
 * - tc_ttl (tc): data/data_end from the context, ethhdr.h_proto and iphdr.ttl/saddr of an
 *   IPv4 frame through CO-RE relocated packet loads (saddr is inside anonymous members in
 *   the kernel's iphdr); returns the TTL and keeps saddr in .bss (test-run it).
 *
 * bpf_core_read-like reads are written out: probe_read_kernel of the address of a member,
 * which clang computes with a relocated addition because the types preserve access indices. */
#include "core_types.h"

static u64 (*get_current_task)(void) = (void *)35;
static long (*probe_read_kernel)(void *dst, u32 size, const void *src) = (void *)113;
static long (*probe_read_kernel_str)(void *dst, u32 size, const void *src) = (void *)115;

#define READ_KERNEL(dst, src) probe_read_kernel(&(dst), sizeof(dst), &(src))

struct exec_event {
	int pid;
	int ppid;
	char filename[64];
};

struct {
	__uint(type, MAP_RINGBUF);
	__uint(max_entries, 4096 * 16);
} exec_events SEC(".maps");

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct___bootstrap *task = (void *)get_current_task();
	struct task_struct___bootstrap *parent = 0;
	struct exec_event *e;
	u32 loc = ctx->__data_loc_filename & 0xffff;

	e = ringbuf_reserve(&exec_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = ctx->pid;
	READ_KERNEL(parent, task->real_parent);
	e->ppid = 0;
	if (parent)
		READ_KERNEL(e->ppid, parent->tgid);
	probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + loc);
	ringbuf_submit(e, 0);
	return 0;
}

u64 unlinks;

SEC("kprobe/do_unlinkat")
int unlink_entry(void *ctx)
{
	struct filename *name = 0;
	const char *s = 0;
	char first = 0;

	if (field_info(((struct pt_regs___x86 *)ctx)->si, FIELD_EXISTS))
		READ_KERNEL(name, ((struct pt_regs___x86 *)ctx)->si);
	else if (field_info(((struct pt_regs___arm64 *)ctx)->regs, FIELD_EXISTS))
		READ_KERNEL(name, ((struct pt_regs___arm64 *)ctx)->regs[1]);
	if (!name)
		return 0;
	READ_KERNEL(s, name->name);
	probe_read_kernel(&first, 1, s);
	if (first)
		__sync_fetch_and_add(&unlinks, 1);
	return 0;
}

u32 last_saddr;

SEC("tc")
int tc_ttl(struct __sk_buff___tc *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto != __builtin_bswap16(0x0800))
		return 0;
	/* 20 bytes: the kernel's iphdr, whatever the local one's size. */
	if ((void *)ip + 20 > data_end)
		return 0;
	last_saddr = ip->saddr;
	return ip->ttl;
}

char LICENSE[] SEC("license") = "GPL";
