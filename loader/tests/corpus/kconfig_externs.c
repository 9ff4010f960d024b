/* __kconfig externs: libbpf puts them in a read-only ".kconfig" array map, laid out by
 * alignment (largest first), then size (smallest first), then name, and fills in their values
 * from the running kernel: LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE and
 * LINUX_HAS_SYSCALL_WRAPPER are libbpf's own; a weak CONFIG_* option the kernel does not have
 * reads as 0. Expected layout: CONFIG_TCPBYPASS_ABSENT 0 (u64), LINUX_KERNEL_VERSION 8 (u32),
 * LINUX_HAS_BPF_COOKIE 12, LINUX_HAS_SYSCALL_WRAPPER 13 (bool), CONFIG_TCPBYPASS_ABSENT_STR
 * 14 (char[8]): 22 bytes. The branches on them are constant to the verifier (the map is
 * frozen), so the instructions it keeps show the values both loaders gave. */
#include "bpf_defs.h"

#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool LINUX_HAS_BPF_COOKIE __kconfig;
extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern u64 CONFIG_TCPBYPASS_ABSENT __kconfig __weak;
extern char CONFIG_TCPBYPASS_ABSENT_STR[8] __kconfig __weak;

u64 seen;

SEC("socket")
int read_kconfig(void *ctx)
{
	u64 v = 0;

	if (LINUX_KERNEL_VERSION >= (4 << 16))
		v |= 1;
	if (LINUX_HAS_BPF_COOKIE)
		v |= 2;
	if (LINUX_HAS_SYSCALL_WRAPPER)
		v |= 4;
	if (CONFIG_TCPBYPASS_ABSENT)
		v |= 8;
	if (CONFIG_TCPBYPASS_ABSENT_STR[0])
		v |= 16;
	seen = v;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
