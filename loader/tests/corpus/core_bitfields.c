/* CO-RE bitfield reads from packet data: iphdr___bits declares version and ihl in the
 * opposite order to the kernel's struct iphdr, so the relocated byte offset, byte size and
 * shifts must come from the kernel's BTF. tc_ip_bits returns (ihl << 8) | version. */
#include "core_types.h"

SEC("tc")
int tc_ip_bits(struct __sk_buff___tc *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr___bits *ip = data + 14;

	if (data + 14 + 20 > data_end)
		return 0;
	return (READ_BITFIELD(ip, ihl) << 8) | READ_BITFIELD(ip, version);
}

char LICENSE[] SEC("license") = "GPL";
