/* Subprograms: static noinline functions, a global function in .text (verified on its
 * own by the kernel from its BTF), one subprogram called from programs in two sections,
 * and nested calls (a -> b -> c). */
#include "bpf_defs.h"

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

static NOINLINE u64 mix(u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	return x ^ (x >> 29);
}

static NOINLINE u64 bump(u32 slot, u64 by)
{
	u64 *v = map_lookup(&counters, &slot);

	if (!v)
		return 0;
	*v += mix(by);
	return *v;
}

static NOINLINE u64 record(u32 slot, u64 a, u64 b)
{
	return bump(slot, a) + bump(slot + 1, b);
}

NOINLINE int global_clamp(u32 value, u32 limit)
{
	if (value > limit)
		return limit;
	return value;
}

SEC("xdp")
int xdp_record(struct xdp_md *ctx)
{
	u64 r = record(0, ctx->ingress_ifindex, ctx->rx_queue_index);

	return global_clamp(r, 1) ? XDP_PASS : XDP_DROP;
}

SEC("tc")
int tc_record(struct __sk_buff *skb)
{
	bump(2, skb->len);
	return global_clamp(skb->mark, 3) == 2 ? TC_SHOT : TC_OK;
}

char LICENSE[] SEC("license") = "GPL";
