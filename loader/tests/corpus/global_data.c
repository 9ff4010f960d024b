/* Global data: .data (initialised), .bss (zeroed), .rodata with const volatile
 * configuration, and a string literal (.rodata.str1.1) used as a map key.
 *
 * cfg_deep_check is 0 and the code it guards reads far outside the context, which the
 * verifier refuses. The program therefore only loads when .rodata is frozen (as libbpf
 * does), so that the verifier knows cfg_deep_check is 0 and skips the dead branch. */
#include "bpf_defs.h"

const volatile u32 cfg_deep_check = 0;
const volatile u32 cfg_max_len = 1500;

u64 packets_seen = 7;
u32 last_len = 0xffffffff;
u64 dropped;
u32 last_mark;

struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 4);
	__type(key, char[6]);
	__type(value, u64);
} by_name SEC(".maps");

SEC("socket")
int filter_len(struct __sk_buff *skb)
{
	u64 *hits;

	packets_seen++;
	last_len = skb->len;
	last_mark = skb->mark;
	if (cfg_deep_check) {
		/* Outside struct __sk_buff: refused unless this branch is known dead. */
		if (*(volatile u32 *)((char *)skb + 4000) == 1)
			return 0;
	}
	hits = map_lookup(&by_name, "short");
	if (hits)
		__sync_fetch_and_add(hits, 1);
	if (skb->len > cfg_max_len) {
		dropped++;
		return 0;
	}
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
