/* A global noinline function with hidden visibility (what "__hidden" expands to): libbpf
 * marks its BTF FUNC static, so the kernel verifies it with its caller's arguments. Left
 * global, the kernel verifies it alone, where p may be NULL, and refuses the read. */
#include "bpf_defs.h"

__attribute__((noinline, visibility("hidden"))) int read_through(int *p)
{
	return *p;
}

SEC("socket")
int hidden_caller(void *ctx)
{
	int x = 5;
	return read_through(&x);
}

char LICENSE[] SEC("license") = "GPL";
