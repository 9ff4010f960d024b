/* Event output: a perf event array without max_entries (libbpf sizes it to the number of
 * CPUs) declared with key_size/value_size, and a 256 KiB ring buffer written both with
 * bpf_ringbuf_output and with reserve + submit. */
#include "bpf_defs.h"

struct event {
	u64 pid_tgid;
	u64 ts;
	u32 cpu;
	u32 kind;
};

struct {
	__uint(type, MAP_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} perf_events SEC(".maps");

struct {
	__uint(type, MAP_RINGBUF);
	__uint(max_entries, 4096 * 64);
} ring SEC(".maps");

SEC("kprobe/do_nanosleep")
int perf_on_sleep(void *ctx)
{
	struct event e = {};

	e.pid_tgid = current_pid_tgid();
	e.ts = ktime_ns();
	e.cpu = smp_cpu_id();
	e.kind = 1;
	perf_output(ctx, &perf_events, F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_nanosleep")
int ring_on_sleep(void *ctx)
{
	struct event copy = {};
	struct event *e;

	copy.pid_tgid = current_pid_tgid();
	copy.kind = 2;
	ringbuf_output(&ring, &copy, sizeof(copy), 0);

	e = ringbuf_reserve(&ring, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid_tgid = copy.pid_tgid;
	e->ts = ktime_ns();
	e->cpu = smp_cpu_id();
	e->kind = 3;
	ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
