/* A ring buffer whose max_entries (10000) is not a power-of-two number of pages: libbpf
 * rounds it up to 16384 (4 KiB pages), the kernel refuses it as written. */
#include "bpf_defs.h"

struct {
	__uint(type, MAP_RINGBUF);
	__uint(max_entries, 10000);
} odd_ring SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int odd_ring_writer(void *ctx)
{
	int *e = ringbuf_reserve(&odd_ring, sizeof(int), 0);
	if (!e)
		return 0;
	*e = 1;
	ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
