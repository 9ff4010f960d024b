#!/usr/bin/env bash
# Kernel matrix: runs the kernel and end-to-end test tiers, `tcpbypass probe`, `verify` and a
# load/transfer/unload cycle on several kernels, and prints one line per kernel.
#
#   verifier-tests/vm/run-matrix.sh [KERNEL...]
#
#   KERNEL: host | 6.1 | 6.12 | arm64-6.1 | arm64-6.12 (any Debian series: SERIES or
#   arm64-SERIES). Default: host 6.1 6.12 (the arm64 guests take longer: see
#   docs/verification.md).
#
# - host: the running kernel, natively (its image is not in /boot on these VMs, so it is not
#   booted; suite.sh runs here with the same static binaries, in throwaway cgroups/pin dirs).
# - 6.1, 6.12: Debian's cloud-amd64 kernel of that series, the newest the configured apt
#   sources offer, fetched with `apt-get download`, unpacked with `dpkg-deb -x` (nothing is
#   installed), booted with qemu (KVM when /dev/kvm is usable, TCG otherwise) on an initramfs
#   holding busybox-static, the static test executables and tcpbypass (at fixed guest paths
#   under /opt/tb, wherever the checkout is), the kernel's netfilter, veth and bridge modules,
#   and the host's ip/nft/iptables with their shared libraries.
# - arm64-6.1, arm64-6.12: Debian's cloud-arm64 kernel of that series, booted with
#   qemu-system-aarch64 -M virt -cpu max (TCG: this is an x86_64 host) on the same kind of
#   initramfs with aarch64 contents: the static aarch64 test executables and tcpbypass
#   (cross-compiled here with aarch64-linux-gnu-gcc as the linker, .cargo/config.toml), Debian's
#   busybox-static:arm64, iproute2/nftables/iptables/bpftool:arm64 with their libraries
#   (apt-get download, unpacked, nothing installed; dpkg learns the arm64 architecture), and the
#   kernel's modules. These guests also run the offline tier (asm, programs, verifier-tests'
#   rbpf tier, the unit tests): the claim that it does not depend on the architecture, tested.
#
# Environment: MATRIX_CACHE (downloads, default /var/cache/tcpbypass-matrix), MATRIX_TIMEOUT
# (seconds per x86_64 guest, default 900), MATRIX_TIMEOUT_ARM64 (seconds per arm64 guest,
# default 2400), MATRIX_TEST_TIMEOUT (seconds per test executable in a guest, default 600 on
# x86_64, 1200 on arm64), MATRIX_ACCEL=tcg (skip trying KVM), MATRIX_KVM_GRACE
# (seconds a KVM guest gets to print its first line before TCG is used instead, default 30),
# MATRIX_FILTER (only test executables whose label contains
# it), CARGO_TARGET_DIR. Needs root (apt-get, native kernel tests). Downloads nothing but
# Debian packages. Exit status: 0 when every kernel that could be obtained passed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vm=$repo/verifier-tests/vm
cache=${MATRIX_CACHE:-/var/cache/tcpbypass-matrix}
timeout_s=${MATRIX_TIMEOUT:-900}
timeout_arm64=${MATRIX_TIMEOUT_ARM64:-2400}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
out=$CARGO_TARGET_DIR/matrix
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(host 6.1 6.12)
# A kernel's architecture (Debian's name) and series: "arm64-6.12" -> arm64, 6.12.
arch_of() { case $1 in arm64-*) echo arm64 ;; *) echo amd64 ;; esac; }
series_of() { echo "${1#arm64-}"; }
triple_of() { case $1 in arm64) echo aarch64-unknown-linux-gnu ;; *) echo x86_64-unknown-linux-gnu ;; esac; }
want_amd64=no want_arm64=no
for k in "${kernels[@]}"; do
  case "$k" in
    host | [0-9]*.[0-9]*) want_amd64=yes ;;
    arm64-[0-9]*.[0-9]*) want_arm64=yes ;;
    *) echo "run-matrix.sh: unknown kernel '$k' (host, SERIES such as 6.1, or arm64-SERIES)" >&2; exit 2 ;;
  esac
done

say() { echo "matrix: $*" >&2; }
t0=$(date +%s)
mkdir -p "$cache/debs" "$cache/kernels" "$out"
rm -f "$out"/*.json "$out"/*.log

# ---- host tools (Debian packages only).
updated=no
apt_update() {
  if [ $updated = no ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    updated=yes
  fi
}
is_dynamic() { ldd "$1" 2>&1 | grep -q '=>'; }
static_busybox() {
  local b=/bin/busybox
  [ -x $b ] && ! is_dynamic $b && echo $b
}
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
if [ $want_arm64 = yes ]; then
  command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
  command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)  # the linker
  # arm64 packages (kernels, busybox, the e2e tools) are only downloaded, never installed, but
  # apt must know the architecture to find them.
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    updated=no && apt_update
  fi
fi
[ -n "$(static_busybox || true)" ] || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v python3 >/dev/null || need+=(python3)
# What the end-to-end tier calls, natively and (copied from here) in the guests: as in
# scripts/test.sh, which .ci/run runs first, but the matrix must not depend on that.
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v iptables >/dev/null || need+=(iptables)
command -v bpftool >/dev/null || need+=(bpftool)
if [ ${#need[@]} -gt 0 ]; then
  apt_update
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
    --no-install-recommends "${need[@]}" >/dev/null
fi
busybox=$(static_busybox) || { say "no static busybox at /bin/busybox"; exit 1; }
# Where the guest finds our files (see build_initramfs): not under /tmp, /run, /dev, /proc or
# /sys, which the guest's init mounts over.
guest_dir=/opt/tb
# Tools the end-to-end tests may call, copied into the guest with their libraries.
guest_tools=(ip nft iptables ip6tables iptables-nft ip6tables-nft ss bpftool)

# ---- static binaries: tcpbypass and the test executables, per architecture.
# Builds for $1 (amd64 | arm64); writes $out/tests-$1.list and sets tcpbypass_$1. The list
# is what runs in the matrix (see SELECT in matrix.py): the loader's and the root package's
# integration tests, verifier-tests' kernel tier; for arm64 also the offline tier
# (OFFLINE_SELECT), which runs natively on the host otherwise.
declare -A tcpbypass_of build_s_of
build_static() {
  local arch=$1 triple json=$out/build-$1.json args tb
  triple=$(triple_of "$arch")
  say "building static binaries (target $triple, crt-static)"
  tb=$(date +%s)
  local -a runs=("-p loader -p tcpbypass -p tcpbypass-bench --test *" "-p verifier-tests --test kernel")
  [ "$arch" = arm64 ] && runs=("--workspace")
  : >"$json"
  export RUSTFLAGS="-C target-feature=+crt-static"
  for args in "${runs[@]}"; do
    # shellcheck disable=SC2086 # word splitting of $args is intended; "*" is cargo's glob
    (cd "$repo" && set -f && cargo test --release --target $triple --no-run $args \
      --message-format=json 2>"$out/build.err" >>"$json") ||
      { cat "$out/build.err" >&2; exit 1; }
  done
  (cd "$repo" && cargo build --release --target "$triple" --bin tcpbypass \
    --message-format=json 2>"$out/build.err" >>"$json") ||
    { cat "$out/build.err" >&2; exit 1; }
  unset RUSTFLAGS
  local offline=
  [ "$arch" = arm64 ] && offline=offline
  tcpbypass_of[$arch]=$(python3 "$vm/matrix.py" tests "$json" "$repo" "$out/tests-$arch.list" $offline)
  build_s_of[$arch]=$(($(date +%s) - tb))
  say "built in ${build_s_of[$arch]}s: tcpbypass and $(wc -l <"$out/tests-$arch.list") test executables ($triple)"
  local f
  for f in "${tcpbypass_of[$arch]}" $(cut -f2 "$out/tests-$arch.list"); do
    if [ "$arch" = amd64 ] && is_dynamic "$f"; then say "$f is not statically linked"; exit 1; fi
    if [ "$arch" = arm64 ] && aarch64-linux-gnu-readelf -d "$f" 2>/dev/null | grep -q NEEDED; then
      say "$f is not statically linked"; exit 1
    fi
  done
}
# The Rust standard library for aarch64 comes from rustup (`rustup target add`), which needs a
# network this project's machines may not have: without it the arm64 rows are UNAVAILABLE.
arm64_missing=
if [ $want_arm64 = yes ]; then
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu/lib" ]; then
    rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
  fi
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu/lib" ]; then
    arm64_missing="the Rust target aarch64-unknown-linux-gnu is not installed (rustup target add aarch64-unknown-linux-gnu)"
    say "arm64: $arm64_missing"
  fi
fi
[ $want_amd64 = no ] || build_static amd64
[ $want_arm64 = no ] || [ -n "$arm64_missing" ] || build_static arm64
# The host row and the x86_64 guests (names kept from before the arm64 guests).
tcpbypass=${tcpbypass_of[amd64]:-}
[ $want_amd64 = no ] || cp "$out/tests-amd64.list" "$out/tests.list"

# ---- kernels.
kvm_usable() {
  [ -c /dev/kvm ] && python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null
}
# Under nested KVM (this project's VMs) qemu cannot set IA32_ARCH_CAPABILITIES: leave it out.
tcg=(-accel tcg -cpu max)
if [ "${MATRIX_ACCEL:-}" = tcg ]; then
  accel=("${tcg[@]}") accel_name=tcg
elif kvm_usable; then accel=(-accel kvm -cpu host,-arch-capabilities); accel_name=kvm; else accel=("${tcg[@]}"); accel_name=tcg; fi

# The newest cloud-<arch> image package of a kernel series the apt sources offer, or nothing.
resolve_kernel() {
  local series=$1 arch=$2 re
  re="^linux-image-${series//./\\.}[.-][^ ]*cloud-${arch}\$"
  local list
  list=$(apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | grep -v -e -dbg -e -unsigned || true)
  if [ -z "$list" ]; then
    apt_update
    list=$(apt-cache search --names-only "$re" | awk '{print $1}' | grep -v -e -dbg -e -unsigned || true)
  fi
  printf '%s\n' $list | sort -V | tail -n 1
}

# Fetches and unpacks a kernel package into the cache; prints the unpacked directory. Runs in
# a command substitution: the cache lock (another matrix run may share the cache) is held until
# it returns.
fetch_kernel() {
  local pkg=$1 dir=$cache/kernels/$1
  exec 9>"$cache/.lock" && flock 9
  if [ ! -f "$dir/.unpacked" ]; then
    local deb
    deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
      say "apt-get download $pkg"
      (cd "$cache/debs" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
        (apt_update && cd "$cache/debs" && apt-get download -q "$pkg" >/dev/null 2>&1)
      deb=$(ls "$cache/debs/${pkg}_"*.deb | head -n 1)
    fi
    rm -rf "$dir" && mkdir -p "$dir/root"
    dpkg-deb -x "$deb" "$dir/root"
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

# Modules the guest loads at boot (absent ones are ignored; built-ins are fine).
boot_modules="veth dummy bridge nf_tables nf_conntrack nf_nat nft_chain_nat nft_nat nft_redir nft_ct
nft_compat nft_reject_inet x_tables xt_nat xt_REDIRECT xt_tcpudp xt_conntrack xt_addrtype
iptable_nat ip6table_nat nf_conntrack_netlink"

# Copies the modules the tests may need (veth, dummy, bridge, all of netfilter, and what they
# depend on) into $2/lib/modules/<release>, uncompressed, and writes modules.dep and
# modules.alias for busybox modprobe. The package ships no modules.dep (depmod runs at install time), so the
# dependencies come from each module's .modinfo section ("depends=").
stage_modules() {
  local kroot=$1 dest=$2 mdir rel
  mdir=$(ls -d "$kroot"/lib/modules/* | head -n 1)
  rel=$(basename "$mdir")
  python3 "$vm/matrix.py" modules "$mdir" "$dest/lib/modules/$rel"
}

# Copies a host binary and the shared libraries it needs into the initramfs tree $2.
copy_with_libs() {
  local bin=$1 root=$2 lib
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$lib" ] || continue
    if [ ! -e "$root$lib" ]; then
      mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
    fi
  done
}

# The arm64 guest's userland: Debian's arm64 packages of busybox-static and of the tools the
# end-to-end tier calls, with every library package they depend on, downloaded and unpacked
# into one directory (a sysroot; nothing is installed). Prints its path.
arm64_packages="busybox-static iproute2 nftables iptables bpftool linux-libc-dev"
stage_sysroot_arm64() {
  local dir=$cache/sysroot-arm64 debs=$cache/debs-arm64 p list
  exec 9>"$cache/.lock" && flock 9  # as fetch_kernel
  # Unpacked once per list of packages (the stamp holds the list).
  if [ "$(cat "$dir/.unpacked" 2>/dev/null)" != "$arm64_packages" ]; then
    mkdir -p "$debs"
    # The tools and every arm64 package of their dependency closure (a few are not needed, e.g.
    # dpkg, but a library package need not be called lib*: zlib1g). Only the files the tools
    # load reach the initramfs (stage_tools_arm64).
    # shellcheck disable=SC2046 # one word per package
    list=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $(for p in $arm64_packages; do printf '%s:arm64 ' "$p"; done) 2>/dev/null |
      grep -E '^[a-z0-9][^ <>]*:arm64$' | sort -u || true)
    list="$list $(for p in $arm64_packages; do printf '%s:arm64 ' "$p"; done)"
    say "arm64 userland: apt-get download $(echo $list | wc -w) packages"
    # shellcheck disable=SC2086 # one word per package
    (cd "$debs" && rm -f ./*.deb && apt-get download -q $list >/dev/null 2>"$out/apt-arm64.err") ||
      (apt_update && cd "$debs" && apt-get download -q $list >/dev/null 2>"$out/apt-arm64.err") ||
      { cat "$out/apt-arm64.err" >&2; return 1; }
    rm -rf "$dir" && mkdir -p "$dir"
    for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$dir"; done
    echo "$arm64_packages" >"$dir/.unpacked"
  fi
  echo "$dir"
}

# Copies the arm64 tools out of the sysroot $1 into the initramfs tree $2, with their libraries
# and the aarch64 dynamic loader (matrix.py sysroot-copy reads their DT_NEEDED entries).
stage_tools_arm64() {
  local sys=$1 root=$2 p
  local -a files=()
  for p in /bin/ip /bin/ss /usr/sbin/nft /usr/sbin/xtables-nft-multi /usr/sbin/bpftool; do
    [ -e "$sys$p" ] || [ -L "$sys$p" ] || { say "arm64 userland: no $p in $sys"; return 1; }
    files+=("$p")
  done
  for p in $(cd "$sys" && ls usr/lib/aarch64-linux-gnu/xtables/*.so 2>/dev/null); do files+=("/$p"); done
  python3 "$vm/matrix.py" sysroot-copy "$sys" "$root" "${files[@]}" >&2 || return 1
  # In PATH before busybox's own applets (busybox installs its `ip` as /sbin/ip); iptables is
  # xtables-nft-multi under the name it is called by (Debian sets these up as alternatives).
  mkdir -p "$root/usr/sbin"
  for p in ip ss; do
    if [ -e "$root/bin/$p" ]; then ln -sf "/bin/$p" "$root/usr/sbin/$p"; fi
  done
  for p in iptables ip6tables iptables-nft ip6tables-nft; do
    ln -sf xtables-nft-multi "$root/usr/sbin/$p"
  done
  # arm64's UAPI header: the checks read the vendored uapi/include/ copy, and uapi's
  # informational test reports whether this one differs from it.
  mkdir -p "$root/usr/include/linux"
  cp "$sys/usr/include/linux/bpf.h" "$sys/usr/include/linux/bpf_common.h" "$root/usr/include/linux/"
  [ -d "$sys/etc/iproute2" ] && cp -r "$sys/etc/iproute2" "$root/etc/"
  [ -d "$sys/usr/share/iproute2" ] && mkdir -p "$root/usr/share" && cp -r "$sys/usr/share/iproute2" "$root/usr/share/"
  return 0
}

# Builds the guest's initramfs for the kernel unpacked at $1, of architecture $2; prints its
# path. Under $out, not in the shared cache: another matrix run may be building its own.
build_initramfs() {
  local kdir=$1 arch=$2 list=$out/tests-$2.list
  local root=$out/initramfs/${1##*/} img=$out/initramfs/${1##*/}.cpio.gz
  rm -rf "$root" "$img" && mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,matrix,proc,sys,dev,tmp,run,root}
  if [ "$arch" = arm64 ]; then
    cp "$sysroot_arm64/bin/busybox" "$root/bin/busybox"
  else
    cp "$busybox" "$root/bin/busybox"
  fi
  cp "$vm/init" "$root/init" && chmod 755 "$root/init"
  # The kernel's configuration where a distribution keeps it: libbpf and our loader read
  # CONFIG_* externs from /boot/config-$(uname -r) (loader::kconfig).
  mkdir -p "$root/boot"
  cp "$kdir"/root/boot/config-* "$root/boot/" 2>/dev/null || true
  cp "$vm/suite.sh" "$root/matrix/suite.sh"
  cp "${tcpbypass_of[$arch]}" "$root/bin/tcpbypass"
  # The benchmark's binary (built beside tcpbypass for its smoke test), which suite.sh finds
  # next to tcpbypass.
  cp "$(dirname "${tcpbypass_of[$arch]}")/tcpbypass-bench" "$root/bin/tcpbypass-bench"
  # Everything of ours at fixed guest paths under $guest_dir, never at host paths: the host
  # paths may lie under a directory the guest mounts over (init mounts tmpfs on /tmp and /run,
  # so a checkout under /tmp would be hidden). Test executables go to $guest_dir/tests, each
  # package's tests/ directory (data files such as committed ELF objects) to
  # $guest_dir/pkg/<package>/tests; the guest's list names those paths, and suite.sh tells the
  # tests where they are through CARGO_BIN_EXE_tcpbypass and CARGO_MANIFEST_DIR (see
  # loader::testing::runtime_path).
  mkdir -p "$root$guest_dir/tests" "$root$guest_dir/pkg"
  : >"$root/matrix/tests.list"
  local label exe dir tier pkg gexe gdir
  while IFS=$'\t' read -r label exe dir tier; do
    pkg=${label%%:*}
    gexe=$guest_dir/tests/$(basename "$exe")
    gdir=$guest_dir/pkg/$pkg
    mkdir -p "$root$gdir"
    cp "$exe" "$root$gexe"
    if [ -d "$dir/tests" ] && [ ! -d "$root$gdir/tests" ]; then cp -r "$dir/tests" "$root$gdir/"; fi
    printf '%s\t%s\t%s\t%s\n' "$label" "$gexe" "$gdir" "$tier" >>"$root/matrix/tests.list"
  done <"$list"
  # The root package's tests also read its members' files through its own directory (e.g.
  # tests/cli.rs reads loader/tests/corpus): there, each staged member under its own name.
  if [ -d "$root$guest_dir/pkg/tcpbypass" ]; then
    for gdir in "$root$guest_dir"/pkg/*; do
      pkg=$(basename "$gdir")
      [ "$pkg" = tcpbypass ] || ln -sfn "../$pkg" "$root$guest_dir/pkg/tcpbypass/$pkg"
    done
  fi
  local t p real
  if [ "$arch" = arm64 ]; then
    stage_tools_arm64 "$sysroot_arm64" "$root" || { say "staging the arm64 tools failed"; return 1; }
  else
  # Host tools for the end-to-end tier, with their libraries (glibc's loader included).
  for t in "${guest_tools[@]}"; do
    p=$(command -v "$t" 2>/dev/null) || continue
    real=$(readlink -f "$p")
    mkdir -p "$root$(dirname "$p")"
    cp -L "$real" "$root$p"
    copy_with_libs "$real" "$root"
  done
  if [ -d /usr/lib/x86_64-linux-gnu/xtables ]; then
    mkdir -p "$root/usr/lib/x86_64-linux-gnu"
    cp -rL /usr/lib/x86_64-linux-gnu/xtables "$root/usr/lib/x86_64-linux-gnu/"
    for p in "$root"/usr/lib/x86_64-linux-gnu/xtables/*.so; do copy_with_libs "$p" "$root"; done
  fi
  [ -f /etc/ld.so.cache ] && cp /etc/ld.so.cache "$root/etc/ld.so.cache"
  [ -d /etc/iproute2 ] && cp -r /etc/iproute2 "$root/etc/"
  [ -d /usr/share/iproute2 ] && mkdir -p "$root/usr/share" && cp -r /usr/share/iproute2 "$root/usr/share/"
  fi
  # Architecture-independent tables.
  for p in /etc/protocols /etc/services /etc/ethertypes; do
    [ -f "$p" ] && cp "$p" "$root$p"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
  printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
  # Kernel modules.
  stage_modules "$kdir/root" "$root" >&2 || { say "staging modules failed"; return 1; }
  printf '%s\n' $boot_modules >"$root/matrix/modules.load"
  (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$img")
  echo "$img"
}

# Boots one guest: boot NAME ARCH VMLINUZ INITRAMFS LOG ACCEL_ARGS... Returns 1 when the guest
# printed nothing of ours within $kvm_grace seconds (or KVM reported an internal error), so the
# caller can retry with TCG; otherwise waits for power-off or the timeout and returns 0.
# arm64: qemu-system-aarch64's "virt" board (PL011 console ttyAMA0, PSCI power-off; no firmware
# needed with -kernel/-initrd).
kvm_grace=${MATRIX_KVM_GRACE:-30}
boot() {
  local name=$1 arch=$2 kernel=$3 initrd=$4 log=$5 t=$timeout_s console=ttyS0 extra=
  shift 5
  local -a qemu=(qemu-system-x86_64)
  if [ "$arch" = arm64 ]; then
    qemu=(qemu-system-aarch64 -M virt) console=ttyAMA0 t=$timeout_arm64
    extra="matrix.test_timeout=${MATRIX_TEST_TIMEOUT:-1200}"
  elif [ -n "${MATRIX_TEST_TIMEOUT:-}" ]; then
    extra="matrix.test_timeout=$MATRIX_TEST_TIMEOUT"
  fi
  timeout -k 10 "$t" "${qemu[@]}" "$@" -smp 2 -m 1536 \
    -nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=$console quiet loglevel=4 panic=-1 oops=panic rdinit=/init matrix.filter=${MATRIX_FILTER:-} $extra" \
    </dev/null >"$log" 2>&1 &
  local pid=$! waited=0
  while kill -0 $pid 2>/dev/null; do
    if [ "$1" = "-accel" ] && [ "$2" = kvm ] && ! grep -q '@@M' "$log" 2>/dev/null &&
      { [ $waited -ge "$kvm_grace" ] || grep -q 'KVM internal error' "$log" 2>/dev/null; }; then
      kill $pid 2>/dev/null
      wait $pid 2>/dev/null
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  wait $pid || say "$name: qemu exited with $? (see $log; 124: timed out after ${t}s)"
  return 0
}

# arm64 guests: TCG always (this is an x86_64 host). `-cpu max` with pointer authentication
# computed by QEMU's own cheap algorithm instead of QARMA: Debian's arm64 kernels sign every
# return address, and emulating QARMA made a bare boot take 21 s instead of 4.5 s here.
# shellcheck disable=SC2054 # the comma is qemu's
accel_arm64=(-accel tcg -cpu max,pauth-impdef=on)
sysroot_arm64=
if [ $want_arm64 = yes ] && [ -z "$arm64_missing" ]; then
  sysroot_arm64=$(stage_sysroot_arm64) || { say "arm64 userland: download failed"; exit 1; }
fi

results=()
declare -A timing
unavailable() {  # NAME REASON: a row for a kernel this run could not test
  say "$1: $2: not obtainable"
  python3 - "$1" "$2" "$out/$1.json" <<'PY'
import json, sys
name, why, path = sys.argv[1:]
row = {"name": name, "kernel": why, "verdict": "UNAVAILABLE", "verified": "-", "features": "-",
       "attach": "-", "tests": "-", "e2e": "-", "eagain": "-", "problems": [], "skips": [], "notes": []}
json.dump(row, open(path, "w"), indent=1)
PY
  results+=("$out/$1.json")
}
for k in "${kernels[@]}"; do
  ts=$(date +%s)
  log=$out/$k.log
  case "$k" in
    host)
      say "host kernel $(uname -r): running the suite natively"
      MATRIX_WHERE=native MATRIX_LIST="$out/tests.list" MATRIX_TCPBYPASS="$tcpbypass" \
        MATRIX_BUSYBOX="$busybox" MATRIX_FILTER="${MATRIX_FILTER:-}" \
        timeout -k 10 "$timeout_s" sh "$vm/suite.sh" >"$log" 2>&1 || true
      ;;
    arm64-*)
      if [ -n "$arm64_missing" ]; then unavailable "$k" "$arm64_missing"; continue; fi
      pkg=$(resolve_kernel "$(series_of "$k")" arm64)
      if [ -z "$pkg" ]; then
        unavailable "$k" "no linux-image-$(series_of "$k")*-cloud-arm64 in the configured apt sources"
        continue
      fi
      kdir=$(fetch_kernel "$pkg")
      vmlinuz=$(ls "$kdir"/root/boot/vmlinuz-* | head -n 1)
      img=$(build_initramfs "$kdir" arm64) || exit 1
      say "$k: booting $pkg (qemu-system-aarch64 tcg, initramfs $(du -m "$img" | cut -f1) MiB, timeout ${timeout_arm64}s)"
      boot "$k" arm64 "$vmlinuz" "$img" "$log" "${accel_arm64[@]}" || true
      ;;
    *)
      pkg=$(resolve_kernel "$k" amd64)
      if [ -z "$pkg" ]; then
        unavailable "$k" "no linux-image-$k*-cloud-amd64 in the configured apt sources"
        continue
      fi
      kdir=$(fetch_kernel "$pkg")
      vmlinuz=$(ls "$kdir"/root/boot/vmlinuz-* | head -n 1)
      img=$(build_initramfs "$kdir" amd64) || exit 1
      say "$k: booting $pkg ($accel_name, initramfs $(du -m "$img" | cut -f1) MiB, timeout ${timeout_s}s)"
      if ! boot "$k" amd64 "$vmlinuz" "$img" "$log" "${accel[@]}" && [ $accel_name = kvm ]; then
        # Nested KVM can fail to run a guest kernel at all (seen here: stuck in the
        # decompressor, or "KVM internal error" on cmpxchg16b): TCG from now on.
        say "$k: the guest did not come up under KVM within ${kvm_grace}s: using TCG"
        accel=("${tcg[@]}") accel_name=tcg
        boot "$k" amd64 "$vmlinuz" "$img" "$log" "${accel[@]}" || true
      fi
      ;;
  esac
  timing[$k]=$(($(date +%s) - ts))
  how=native
  case "$k" in
    host) ;;
    arm64-*) how="qemu aarch64 tcg" ;;
    *) how="qemu $accel_name" ;;
  esac
  python3 "$vm/matrix.py" row "$k" "$log" "$out/$k.json" "$how" || true
  say "$k: ${timing[$k]}s, log $log"
  results+=("$out/$k.json")
done

echo
accel_text=
[ $want_amd64 = yes ] && accel_text="x86_64 guests $accel_name; "
[ $want_arm64 = yes ] && accel_text="${accel_text}arm64 guests tcg; "
echo "Kernel matrix ($(date -u +%Y-%m-%d); ${accel_text}build$(for a in "${!build_s_of[@]}"; do printf ' %s %ss' "$a" "${build_s_of[$a]}"; done); total $(($(date +%s) - t0))s; per kernel:$(for k in "${kernels[@]}"; do printf ' %s %ss' "$k" "${timing[$k]:-0}"; done))"
python3 "$vm/matrix.py" table "${results[@]}" | tee "$out/table.md"
failed=0
for r in "${results[@]}"; do
  grep -q '"verdict": "FAIL"' "$r" && failed=1
done
exit $failed
