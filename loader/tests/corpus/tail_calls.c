/* Tail calls: a program array whose slot 0 is initialised with a program of this object,
 * a second program array left empty, and an entry program tail-calling through both. */
#include "bpf_defs.h"

int stage_two(struct __sk_buff *skb);

struct {
	__uint(type, MAP_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(u32));
	__array(values, int (void *));
} stages SEC(".maps") = {
	.values = { [0] = (void *)&stage_two },
};

struct {
	__uint(type, MAP_PROG_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} spare_stages SEC(".maps");

SEC("socket")
int stage_one(struct __sk_buff *skb)
{
	if (skb->mark)
		tail_call(skb, &spare_stages, skb->mark & 7);
	tail_call(skb, &stages, 0);
	return 0;
}

SEC("socket")
int stage_two(struct __sk_buff *skb)
{
	return skb->len > 64 ? 64 : skb->len;
}

char LICENSE[] SEC("license") = "GPL";
