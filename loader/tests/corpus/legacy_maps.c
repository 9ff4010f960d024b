/* Maps in the legacy "maps" section as struct bpf_map_def records. libbpf 1.x refuses
 * them; the corpus keeps the object to record that disagreement. */
#include "bpf_defs.h"

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = MAP_HASH,
	.key_size = sizeof(u32),
	.value_size = sizeof(u64),
	.max_entries = 32,
	.map_flags = 0,
};

struct bpf_map_def SEC("maps") legacy_slots = {
	.type = MAP_ARRAY,
	.key_size = sizeof(u32),
	.value_size = sizeof(u32),
	.max_entries = 4,
};

SEC("socket")
int legacy_count(struct __sk_buff *skb)
{
	u32 zero = 0;
	u32 key = skb->protocol;
	u32 *slot = map_lookup(&legacy_slots, &zero);
	u64 *n;

	if (slot)
		key ^= *slot;
	n = map_lookup(&legacy_counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
