/* A static legacy map: clang relocates its use against the section symbol of "maps"
 * (st_value 0) with the map's offset (20) in the lddw's imm, so binding by the symbol alone
 * picks the first map. libbpf 1.x refuses legacy maps; the reader binds symbol + imm. */
#include "bpf_defs.h"

struct bpf_map_def SEC("maps") first_def = {
	.type = MAP_ARRAY,
	.key_size = sizeof(u32),
	.value_size = sizeof(u32),
	.max_entries = 1,
};

static struct bpf_map_def SEC("maps") second_def = {
	.type = MAP_HASH,
	.key_size = sizeof(u32),
	.value_size = sizeof(u64),
	.max_entries = 7,
};

SEC("socket")
int static_map_user(void *ctx)
{
	u32 k = 0;
	return map_lookup(&second_def, &k) != 0;
}

char LICENSE[] SEC("license") = "GPL";
