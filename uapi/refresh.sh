#!/bin/sh
# Re-copies the kernel UAPI headers this crate checks its numbers against from the system's
# installed headers (Debian/Ubuntu: the linux-libc-dev package) and records their version.
# Run from anywhere: `uapi/refresh.sh [SYSROOT_INCLUDE]` (default /usr/include). Afterwards
# `cargo test -p uapi` says which of the crate's numbers (if any) the new headers changed.
set -eu
src=${1:-/usr/include}
dir=$(cd "$(dirname "$0")" && pwd)/include
for h in linux/bpf.h linux/bpf_common.h linux/btf.h linux/tcp.h linux/in.h linux/in6.h linux/magic.h \
    asm-generic/socket.h asm-generic/errno-base.h asm-generic/errno.h; do
    mkdir -p "$dir/$(dirname "$h")"
    cp "$src/$h" "$dir/$h"
done
if command -v dpkg-query >/dev/null 2>&1 && dpkg-query -W linux-libc-dev >/dev/null 2>&1; then
    version="linux-libc-dev $(dpkg-query -W -f='${Version}' linux-libc-dev)"
else
    version="unknown package ($src)"
fi
printf '%s\n' "$version" > "$dir/VERSION"
echo "copied from $src: $version"
