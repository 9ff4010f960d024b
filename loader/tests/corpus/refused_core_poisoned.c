/* A CO-RE read of a member no kernel has, without an existence check: the loader poisons the
 * load (call 0xbad2310), the verifier refuses the reachable poisoned call, and the loader's
 * error names the relocation that failed (__sk_buff___shuffled.no_such_member). */
#include "core_types.h"

SEC("socket")
int core_missing(struct __sk_buff___shuffled *skb)
{
	return skb->no_such_member;
}

char LICENSE[] SEC("license") = "GPL";
