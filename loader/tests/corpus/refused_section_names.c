/* Names libbpf 1.x matches exactly take no "/target": "xdp/x" and "socket/x" are not
 * program sections (only kprobe, tracepoint, fentry and the like take one). Both libbpf and
 * the reader refuse this object's programs. */
#include "bpf_defs.h"

SEC("xdp/x")
int xdp_with_target(void *ctx)
{
	return XDP_PASS;
}

SEC("socket/x")
int socket_with_target(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
