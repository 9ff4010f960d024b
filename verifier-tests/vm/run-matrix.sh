#!/usr/bin/env bash
# Kernel matrix: runs the kernel and end-to-end test tiers, `tcpbypass probe`, `verify` and a
# load/transfer/unload cycle on several kernels, and prints one line per kernel.
#
#   verifier-tests/vm/run-matrix.sh [KERNEL...]      KERNEL: host | 6.1 | 6.12 (default: all)
#
# - host: the running kernel, natively (its image is not in /boot on these VMs, so it is not
#   booted; suite.sh runs here with the same static binaries, in throwaway cgroups/pin dirs).
# - 6.1, 6.12: Debian's cloud-amd64 kernel of that series, the newest the configured apt
#   sources offer, fetched with `apt-get download`, unpacked with `dpkg-deb -x` (nothing is
#   installed), booted with qemu (KVM when /dev/kvm is usable, TCG otherwise) on an initramfs
#   holding busybox-static, the static test executables and tcpbypass (at fixed guest paths
#   under /opt/tb, wherever the checkout is), the kernel's netfilter and veth modules, and the
#   host's ip/nft/iptables with their shared libraries.
#
# Environment: MATRIX_CACHE (downloads, default /var/cache/tcpbypass-matrix), MATRIX_TIMEOUT
# (seconds per guest, default 900), MATRIX_ACCEL=tcg (skip trying KVM), MATRIX_KVM_GRACE
# (seconds a KVM guest gets to print its first line before TCG is used instead, default 30),
# MATRIX_FILTER (only test executables whose label contains
# it), CARGO_TARGET_DIR. Needs root (apt-get, native kernel tests). Downloads nothing but
# Debian packages. Exit status: 0 when every kernel that could be obtained passed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vm=$repo/verifier-tests/vm
cache=${MATRIX_CACHE:-/var/cache/tcpbypass-matrix}
timeout_s=${MATRIX_TIMEOUT:-900}
triple=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
out=$CARGO_TARGET_DIR/matrix
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(host 6.1 6.12)

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

# ---- static binaries: tcpbypass and the test executables.
say "building static binaries (target $triple, crt-static)"
tb=$(date +%s)
export RUSTFLAGS="-C target-feature=+crt-static"
# Only what runs in the matrix (see SELECT in matrix.py): the loader's and the root package's
# integration tests, verifier-tests' kernel tier, and the tcpbypass binary.
: >"$out/build.json"
for args in "-p loader -p tcpbypass --test *" "-p verifier-tests --test kernel"; do
  # shellcheck disable=SC2086 # word splitting of $args is intended; "*" is cargo's glob
  (cd "$repo" && set -f && cargo test --release --target $triple --no-run $args \
    --message-format=json 2>"$out/build.err" >>"$out/build.json") ||
    { cat "$out/build.err" >&2; exit 1; }
done
(cd "$repo" && cargo build --release --target $triple --bin tcpbypass \
  --message-format=json 2>"$out/build.err" >>"$out/build.json") ||
  { cat "$out/build.err" >&2; exit 1; }
unset RUSTFLAGS
tcpbypass=$(python3 "$vm/matrix.py" tests "$out/build.json" "$repo" "$out/tests.list")
build_s=$(($(date +%s) - tb))
say "built in ${build_s}s: tcpbypass and $(wc -l <"$out/tests.list") test executables"
for f in "$tcpbypass" $(cut -f2 "$out/tests.list"); do
  if is_dynamic "$f"; then say "$f is not statically linked"; exit 1; fi
done

# ---- kernels.
kvm_usable() {
  [ -c /dev/kvm ] && python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null
}
# Under nested KVM (this project's VMs) qemu cannot set IA32_ARCH_CAPABILITIES: leave it out.
tcg=(-accel tcg -cpu max)
if [ "${MATRIX_ACCEL:-}" = tcg ]; then
  accel=("${tcg[@]}") accel_name=tcg
elif kvm_usable; then accel=(-accel kvm -cpu host,-arch-capabilities); accel_name=kvm; else accel=("${tcg[@]}"); accel_name=tcg; fi

# The newest cloud-amd64 image package of a kernel series the apt sources offer, or nothing.
resolve_kernel() {
  local series=$1 re
  re="^linux-image-${series//./\\.}[.-][^ ]*cloud-amd64\$"
  local list
  list=$(apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | grep -v -e -dbg -e -unsigned || true)
  if [ -z "$list" ]; then
    apt_update
    list=$(apt-cache search --names-only "$re" | awk '{print $1}' | grep -v -e -dbg -e -unsigned || true)
  fi
  printf '%s\n' $list | sort -V | tail -n 1
}

# Fetches and unpacks a kernel package into the cache; prints the unpacked directory.
fetch_kernel() {
  local pkg=$1 dir=$cache/kernels/$1
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
boot_modules="veth dummy nf_tables nf_conntrack nf_nat nft_chain_nat nft_nat nft_redir nft_ct
nft_compat nft_reject_inet x_tables xt_nat xt_REDIRECT xt_tcpudp xt_conntrack xt_addrtype
iptable_nat ip6table_nat nf_conntrack_netlink"

# Copies the modules the tests may need (veth, dummy, all of netfilter, and what they depend
# on) into $2/lib/modules/<release>, uncompressed, and writes modules.dep and modules.alias for
# busybox modprobe. The package ships no modules.dep (depmod runs at install time), so the
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

# Builds the guest's initramfs for the kernel unpacked at $1; prints its path.
build_initramfs() {
  local kdir=$1 root=$1/initramfs img=$1/initramfs.cpio.gz
  rm -rf "$root" && mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,matrix,proc,sys,dev,tmp,run,root}
  cp "$busybox" "$root/bin/busybox"
  cp "$vm/init" "$root/init" && chmod 755 "$root/init"
  cp "$vm/suite.sh" "$root/matrix/suite.sh"
  cp "$tcpbypass" "$root/bin/tcpbypass"
  # Everything of ours at fixed guest paths under $guest_dir, never at host paths: the host
  # paths may lie under a directory the guest mounts over (init mounts tmpfs on /tmp and /run,
  # so a checkout under /tmp would be hidden). Test executables go to $guest_dir/tests, each
  # package's tests/ directory (data files such as committed ELF objects) to
  # $guest_dir/pkg/<package>/tests; the guest's list names those paths, and suite.sh tells the
  # tests where they are through CARGO_BIN_EXE_tcpbypass and CARGO_MANIFEST_DIR (see
  # loader::testing::runtime_path).
  mkdir -p "$root$guest_dir/tests" "$root$guest_dir/pkg"
  : >"$root/matrix/tests.list"
  local label exe dir pkg gexe gdir
  while IFS=$'\t' read -r label exe dir; do
    pkg=${label%%:*}
    gexe=$guest_dir/tests/$(basename "$exe")
    gdir=$guest_dir/pkg/$pkg
    mkdir -p "$root$gdir"
    cp "$exe" "$root$gexe"
    if [ -d "$dir/tests" ] && [ ! -d "$root$gdir/tests" ]; then cp -r "$dir/tests" "$root$gdir/"; fi
    printf '%s\t%s\t%s\n' "$label" "$gexe" "$gdir" >>"$root/matrix/tests.list"
  done <"$out/tests.list"
  # Host tools for the end-to-end tier, with their libraries (glibc's loader included).
  local t p real
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
  for p in /etc/protocols /etc/services /etc/ethertypes /etc/ld.so.cache; do
    [ -f "$p" ] && cp "$p" "$root$p"
  done
  [ -d /etc/iproute2 ] && cp -r /etc/iproute2 "$root/etc/"
  [ -d /usr/share/iproute2 ] && mkdir -p "$root/usr/share" && cp -r /usr/share/iproute2 "$root/usr/share/"
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

# Boots one guest: boot NAME VMLINUZ INITRAMFS LOG ACCEL_ARGS... Returns 1 when the guest
# printed nothing of ours within $kvm_grace seconds (or KVM reported an internal error), so the
# caller can retry with TCG; otherwise waits for power-off or the timeout and returns 0.
kvm_grace=${MATRIX_KVM_GRACE:-30}
boot() {
  local name=$1 kernel=$2 initrd=$3 log=$4
  shift 4
  timeout -k 10 "$timeout_s" qemu-system-x86_64 "$@" -smp 2 -m 1536 \
    -nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 oops=panic rdinit=/init matrix.filter=${MATRIX_FILTER:-}" \
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
  wait $pid || say "$name: qemu exited with $? (see $log)"
  return 0
}

results=()
declare -A timing
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
    *)
      pkg=$(resolve_kernel "$k")
      if [ -z "$pkg" ]; then
        say "$k: no linux-image-$k*-cloud-amd64 in the configured apt sources: not obtainable"
        printf '{"name":"%s","kernel":"not obtainable from the configured apt sources","verdict":"UNAVAILABLE","verified":"-","features":"-","attach":"-","tests":"-","e2e":"-","eagain":"-","problems":[],"skips":[],"notes":[]}\n' "$k" >"$out/$k.json"
        results+=("$out/$k.json")
        continue
      fi
      kdir=$(fetch_kernel "$pkg")
      vmlinuz=$(ls "$kdir"/root/boot/vmlinuz-* | head -n 1)
      img=$(build_initramfs "$kdir") || exit 1
      say "$k: booting $pkg ($accel_name, initramfs $(du -m "$img" | cut -f1) MiB, timeout ${timeout_s}s)"
      if ! boot "$k" "$vmlinuz" "$img" "$log" "${accel[@]}" && [ $accel_name = kvm ]; then
        # Nested KVM can fail to run a guest kernel at all (seen here: stuck in the
        # decompressor, or "KVM internal error" on cmpxchg16b): TCG from now on.
        say "$k: the guest did not come up under KVM within ${kvm_grace}s: using TCG"
        accel=("${tcg[@]}") accel_name=tcg
        boot "$k" "$vmlinuz" "$img" "$log" "${accel[@]}" || true
      fi
      ;;
  esac
  timing[$k]=$(($(date +%s) - ts))
  how=native
  [ "$k" = host ] || how="qemu $accel_name"
  python3 "$vm/matrix.py" row "$k" "$log" "$out/$k.json" "$how" || true
  say "$k: ${timing[$k]}s, log $log"
  results+=("$out/$k.json")
done

echo
echo "Kernel matrix ($(date -u +%Y-%m-%d), $accel_name; build ${build_s}s; total $(($(date +%s) - t0))s; per kernel:$(for k in "${kernels[@]}"; do printf ' %s %ss' "$k" "${timing[$k]:-0}"; done))"
python3 "$vm/matrix.py" table "${results[@]}" | tee "$out/table.md"
failed=0
for r in "${results[@]}"; do
  grep -q '"verdict": "FAIL"' "$r" && failed=1
done
exit $failed
