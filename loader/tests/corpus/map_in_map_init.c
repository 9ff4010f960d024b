/* An array of maps with initial values: slots 0 and 1 hold two maps of this object. */
#include "bpf_defs.h"

struct inner_def {
	__uint(type, MAP_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u32);
};

struct inner_def inner_a SEC(".maps");
struct inner_def inner_b SEC(".maps");

struct {
	__uint(type, MAP_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, struct inner_def);
} by_index SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

SEC("tc")
int pick_inner(struct __sk_buff *skb)
{
	u32 which = skb->mark & 3;
	u32 key = skb->ifindex;
	void *inner = map_lookup(&by_index, &which);
	u32 *v;

	if (!inner)
		return TC_OK;
	v = map_lookup(inner, &key);
	if (v)
		return *v ? TC_SHOT : TC_OK;
	/* Touch inner_b directly too, so both a direct and an indirect reference exist. */
	v = map_lookup(&inner_b, &key);
	return v ? TC_SHOT : TC_OK;
}

char LICENSE[] SEC("license") = "GPL";
