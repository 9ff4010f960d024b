/* CO-RE relocations inside a static subprogram of .text, called from two programs: the
 * reader must place the subprogram's relocations at its appended slots in each program. */
#include "core_types.h"

static __attribute__((noinline)) u32 mark_plus_len(struct __sk_buff___shuffled *skb)
{
	return skb->mark + skb->len;
}

SEC("socket")
int first_caller(struct __sk_buff___shuffled *skb)
{
	return mark_plus_len(skb);
}

SEC("tc")
int second_caller(struct __sk_buff___shuffled *skb)
{
	u32 cb = skb->cb[0];

	return mark_plus_len(skb) + cb;
}

char LICENSE[] SEC("license") = "GPL";
