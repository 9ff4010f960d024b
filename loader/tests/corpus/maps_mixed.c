/* Four maps of different types and shapes, used in an order unlike their declaration
 * order: lru hash, then array, then percpu array, then the hash declared first. */
#include "bpf_defs.h"

struct flow {
	u32 saddr;
	u32 daddr;
	u16 sport;
	u16 dport;
};

struct stats {
	u64 packets;
	u64 bytes;
};

struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 128);
	__type(key, struct flow);
	__type(value, struct stats);
} flows SEC(".maps");

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u32);
} config SEC(".maps");

struct {
	__uint(type, MAP_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, struct stats);
} per_cpu SEC(".maps");

struct {
	__uint(type, MAP_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, u64);
	__type(value, u8);
} recent SEC(".maps");

SEC("tc")
int account(struct __sk_buff *skb)
{
	u64 hashkey = skb->hash;
	u8 one = 1;
	u32 idx = 0;
	struct flow f = {};
	struct stats *s;
	u32 *limit;

	map_update(&recent, &hashkey, &one, UPD_ANY);
	limit = map_lookup(&config, &idx);
	if (limit && skb->len > *limit)
		return TC_SHOT;
	s = map_lookup(&per_cpu, &idx);
	if (s) {
		s->packets++;
		s->bytes += skb->len;
	}
	f.saddr = skb->ifindex;
	f.daddr = skb->mark;
	s = map_lookup(&flows, &f);
	if (s)
		__sync_fetch_and_add(&s->packets, 1);
	return TC_OK;
}

char LICENSE[] SEC("license") = "GPL";
