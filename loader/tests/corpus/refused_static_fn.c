/* A static noinline function placed in a program section: libbpf 1.x refuses the whole
 * object ("program ... is static and not supported"), and so does the reader. */
#include "bpf_defs.h"

static NOINLINE SEC("socket") int odd_bit(int x)
{
	return x & 1;
}

SEC("socket")
int static_fn_caller(void *ctx)
{
	return odd_bit(7);
}

char LICENSE[] SEC("license") = "GPL";
