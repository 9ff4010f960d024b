/* A bpf_timer in a map value: the kernel needs the value's BTF (struct bpf_timer) to
 * accept it, and the timer callback is passed by address. */
#include "bpf_defs.h"

#define CLOCK_MONOTONIC 1

struct timed {
	struct bpf_timer t;
	u64 fired;
};

struct {
	__uint(type, MAP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct timed);
} timers SEC(".maps");

static int on_timer(void *map, u32 *key, struct timed *val)
{
	val->fired++;
	return 0;
}

SEC("tc")
int arm_timer(struct __sk_buff *skb)
{
	u32 zero = 0;
	struct timed *v = map_lookup(&timers, &zero);

	if (!v)
		return TC_OK;
	timer_init(&v->t, &timers, CLOCK_MONOTONIC);
	timer_set_callback(&v->t, on_timer);
	timer_start(&v->t, 1000000, 0);
	return TC_OK;
}

char LICENSE[] SEC("license") = "GPL";
