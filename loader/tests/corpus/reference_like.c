/* A same-host TCP bypass in miniature: sock_ops puts every established IPv4 socket into a
 * sockhash keyed by its 4-tuple, and sk_msg redirects each message to the socket whose
 * 4-tuple is the mirror image (the peer on this host), counting redirects per local port. */
#include "bpf_defs.h"

struct tuple4 {
	u32 src_ip;
	u32 dst_ip;
	u32 src_port;
	u32 dst_port;
};

struct {
	__uint(type, MAP_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple4);
	__type(value, u64);
} peers SEC(".maps");

struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} redirects SEC(".maps");

SEC("sockops")
int track_established(struct bpf_sock_ops *skops)
{
	struct tuple4 key = {};
	u32 op = skops->op;

	if (op != SOCKOPS_ACTIVE_ESTABLISHED && op != SOCKOPS_PASSIVE_ESTABLISHED)
		return 1;
	if (skops->family != AF_INET)
		return 1;
	key.src_ip = skops->local_ip4;
	key.dst_ip = skops->remote_ip4;
	key.src_port = skops->local_port;
	key.dst_port = skops->remote_port >> 16;
	sockhash_update(skops, &peers, &key, UPD_NOEXIST);
	return 1;
}

SEC("sk_msg")
int redirect_to_peer(struct sk_msg_md *msg)
{
	struct tuple4 key = {};
	u32 port = msg->local_port;
	u64 one = 1;
	u64 *n;

	if (msg->family != AF_INET)
		return SK_PASS;
	key.src_ip = msg->remote_ip4;
	key.dst_ip = msg->local_ip4;
	key.src_port = msg->remote_port >> 16;
	key.dst_port = msg->local_port;
	if (msg_redirect_hash(msg, &peers, &key, F_INGRESS) != SK_PASS)
		return SK_PASS;
	n = map_lookup(&redirects, &port);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		map_update(&redirects, &port, &one, UPD_NOEXIST);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
