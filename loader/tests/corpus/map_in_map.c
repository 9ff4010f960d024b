/* Map-in-map without initial values: an array of maps and a hash of maps whose inner
 * map shape is given by __array(values, struct inner_def). The program looks up the outer
 * map, then the inner map it returns. */
#include "bpf_defs.h"

struct inner_def {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
};

struct {
	__uint(type, MAP_ARRAY_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, u32);
	__array(values, struct inner_def);
} outer_arr SEC(".maps");

struct {
	__uint(type, MAP_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, u32);
	__array(values, struct inner_def);
} outer_hash SEC(".maps");

SEC("xdp")
int nested_lookup(struct xdp_md *ctx)
{
	u32 slot = ctx->rx_queue_index & 7;
	u32 idx = 1;
	void *inner;
	u64 *v;

	inner = map_lookup(&outer_arr, &slot);
	if (!inner) {
		inner = map_lookup(&outer_hash, &slot);
		if (!inner)
			return XDP_PASS;
	}
	v = map_lookup(inner, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
