/* Three hash maps of the same shape (u32 -> u64). The program reads the first, writes the
 * second and deletes from the third, so binding a reference to the wrong map of the same
 * shape still loads but changes behaviour. */
#include "bpf_defs.h"

struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} seen_in SEC(".maps");

struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} seen_out SEC(".maps");

struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} seen_gone SEC(".maps");

SEC("xdp")
int copy_counter(struct xdp_md *ctx)
{
	u32 key = ctx->ingress_ifindex;
	u64 *in = map_lookup(&seen_in, &key);
	u64 next = in ? *in + 1 : 1;

	map_update(&seen_out, &key, &next, UPD_ANY);
	if (next > 100)
		map_delete(&seen_gone, &key);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
