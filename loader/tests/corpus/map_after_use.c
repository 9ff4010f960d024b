/* A map defined after the function that uses it (a tentative declaration comes first),
 * and a first map in .maps that no program uses. */
#include "bpf_defs.h"

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} never_used SEC(".maps");

struct later_def {
	__uint(type, MAP_HASH);
	__uint(max_entries, 32);
	__type(key, u32);
	__type(value, u32);
};

extern struct later_def later;

SEC("socket")
int count_len(struct __sk_buff *skb)
{
	u32 key = skb->len & 0xff;
	u32 *v = map_lookup(&later, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	else {
		u32 one = 1;
		map_update(&later, &key, &one, UPD_NOEXIST);
	}
	return 0;
}

struct later_def later SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
