/* A BPF iterator (SEC("iter/task")): libbpf loads it as BPF_PROG_TYPE_TRACING with
 * expected attach type BPF_TRACE_ITER and attach_btf_id = the kernel function
 * bpf_iter_task in vmlinux BTF. Its context is that function's arguments: a pointer to the
 * iterator's meta data, then the task (NULL on the last call). The program counts the tasks
 * it is shown in .bss. */
#include "bpf_defs.h"

struct iter_task_ctx {
	void *meta;
	void *task;
};

u64 tasks_seen;

SEC("iter/task")
int count_tasks(struct iter_task_ctx *ctx)
{
	if (ctx->task)
		__sync_fetch_and_add(&tasks_seen, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
