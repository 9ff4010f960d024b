/* Several programs per section and several sections: three xdp programs in "xdp" (not
 * contiguous in the source: other sections' programs are written between them), a tc
 * program in "tc", another in "classifier" and a socket filter. */
#include "bpf_defs.h"

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} hits SEC(".maps");

struct {
	__uint(type, MAP_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} cpu_hits SEC(".maps");

static __attribute__((always_inline)) void hit(void *map, u32 slot)
{
	u64 *v = map_lookup(map, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_first(struct xdp_md *ctx)
{
	hit(&hits, 0);
	return XDP_PASS;
}

SEC("tc")
int tc_only(struct __sk_buff *skb)
{
	hit(&cpu_hits, 1);
	return TC_OK;
}

SEC("xdp")
int xdp_second(struct xdp_md *ctx)
{
	hit(&cpu_hits, 0);
	hit(&hits, 1);
	return ctx->rx_queue_index ? XDP_DROP : XDP_PASS;
}

SEC("classifier")
int cls_only(struct __sk_buff *skb)
{
	hit(&hits, 2);
	return TC_OK;
}

SEC("socket")
int sock_only(struct __sk_buff *skb)
{
	hit(&hits, 3);
	return 0;
}

SEC("xdp")
int xdp_third(struct xdp_md *ctx)
{
	hit(&hits, 3);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
