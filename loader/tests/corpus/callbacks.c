/* Callbacks passed by address: bpf_loop (helper 181) with a static callback, and
 * bpf_for_each_map_elem (164) over an array map. A second program in another section
 * uses the same loop callback. */
#include "bpf_defs.h"

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} weights SEC(".maps");

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} totals SEC(".maps");

struct loop_ctx {
	u64 acc;
	u32 seed;
};

static long step(u32 index, void *data)
{
	struct loop_ctx *c = data;

	c->acc += (u64)index * c->seed;
	return c->acc > 1000000 ? 1 : 0;
}

static long add_weight(void *map, const void *key, void *value, void *data)
{
	u64 *sum = data;

	*sum += *(u64 *)value;
	return 0;
}

SEC("xdp")
int sum_weights(struct xdp_md *ctx)
{
	u64 sum = 0;
	u32 zero = 0;
	u64 *total;

	for_each_map_elem(&weights, add_weight, &sum, 0);
	total = map_lookup(&totals, &zero);
	if (total)
		*total = sum;
	return XDP_PASS;
}

SEC("tc")
int loop_tc(struct __sk_buff *skb)
{
	struct loop_ctx c = { .acc = 0, .seed = skb->len };

	loop(32, step, &c, 0);
	return c.acc & 1 ? TC_SHOT : TC_OK;
}

SEC("socket")
int loop_socket(struct __sk_buff *skb)
{
	struct loop_ctx c = { .acc = 1, .seed = skb->mark };
	u32 zero = 0;
	u64 *total;

	loop(8, step, &c, 0);
	total = map_lookup(&totals, &zero);
	if (total)
		*total += c.acc;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
