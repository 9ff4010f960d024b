/* Section names that carry program flags in libbpf: "syscall" and the ".s" names load with
 * BPF_F_SLEEPABLE (the kernel refuses a syscall program without it), "xdp.frags" with
 * BPF_F_XDP_HAS_FRAGS. */
#include "bpf_defs.h"

SEC("syscall")
int sleepable_syscall(void *ctx)
{
	return 0;
}

SEC("uprobe.s")
int sleepable_uprobe(void *ctx)
{
	return 0;
}

SEC("xdp.frags")
int frags_xdp(void *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
