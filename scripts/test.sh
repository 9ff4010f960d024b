#!/usr/bin/env bash
# The project's test command (the README's second command; .ci/run calls it).
# Installs what the kernel and end-to-end tiers need when it can, then runs every tier.
# Kernel tests run when bpf() works here (root) and skip with a printed reason otherwise;
# with TCPBYPASS_REQUIRE_KERNEL=1 a skipped kernel test fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v nft >/dev/null 2>&1 || need+=(nftables)
  command -v iptables >/dev/null 2>&1 || need+=(iptables)
  command -v bpftool >/dev/null 2>&1 || need+=(bpftool)
  # The ELF corpus (loader/tests/corpus) is rebuilt and compared with the committed objects
  # when its recorded compiler is here; without it that one check skips with a reason.
  command -v clang-14 >/dev/null 2>&1 || need+=(clang-14)
  command -v llvm-objdump-14 >/dev/null 2>&1 || [ -x /usr/lib/llvm-14/bin/llvm-objdump ] || need+=(llvm-14)
  if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null ||
      echo "test.sh: could not install ${need[*]}; tests that need them will say so"
  fi
fi

cargo test --workspace --release "$@"
