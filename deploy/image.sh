#!/usr/bin/env bash
# Builds the FROM scratch image (deploy/Dockerfile) from the static binaries, for amd64 and
# arm64, and a manifest list holding both; nothing is pulled. Prints each image's size.
#
#   cargo build --release --target x86_64-unknown-linux-musl
#   cargo build --release --target aarch64-unknown-linux-musl
#   bash deploy/image.sh
#
# gives localhost/tcpbypass:<version>-amd64, localhost/tcpbypass:<version>-arm64 and the
# manifest list localhost/tcpbypass:<version> (push it with
# `podman manifest push --all tcpbypass:<version> docker://REGISTRY/tcpbypass:<version>`).
#
# Options:
#   --amd64 BIN / --arm64 BIN  the static binaries (default: $CARGO_TARGET_DIR or target/,
#                              <triple>/release/tcpbypass); --arm64 none builds amd64 only
#   --version V                the tag (default: what the amd64 binary's --version says)
#   --name NAME                the repository (default: tcpbypass)
#   --max-size BYTES           fail when an image is larger (default: report against 2 MiB only)
#   --oci-archive FILE         also write the manifest list and both images to an OCI archive
#   --arm64-check qemu|binfmt|none
#                              how to check that the arm64 image starts (`--version`):
#                              qemu (default) runs it under qemu-aarch64-static as the
#                              container's entrypoint, no host change; binfmt registers
#                              qemu-aarch64-static with binfmt_misc for the run (host-wide,
#                              removed at exit) and runs the image as podman would on arm64
# Every built image is started once (`--version`) before the script says it is done.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=deploy/podman-env.sh
. "$here/podman-env.sh"

target=${CARGO_TARGET_DIR:-$repo/target}
bin_amd64=$target/x86_64-unknown-linux-musl/release/tcpbypass
bin_arm64=$target/aarch64-unknown-linux-musl/release/tcpbypass
version='' name=tcpbypass max_size='' oci_archive='' arm64_check=qemu
goal=$((2 * 1024 * 1024))
while [ $# -gt 0 ]; do
  case $1 in
    --amd64) bin_amd64=$2; shift 2 ;;
    --arm64) bin_arm64=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --max-size) max_size=$2; shift 2 ;;
    --oci-archive) oci_archive=$2; shift 2 ;;
    --arm64-check) arm64_check=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $arm64_check in qemu|binfmt|none) ;; *) echo "image.sh: --arm64-check qemu|binfmt|none" >&2; exit 2 ;; esac

tb_install podman=podman buildah=buildah
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
start=$(date +%s.%N)

arches=(amd64)
[ "$bin_arm64" != none ] && arches+=(arm64)
declare -A bin elf_machine=([amd64]=3e00 [arm64]=b700)
bin[amd64]=$bin_amd64
bin[arm64]=$bin_arm64

# Each binary: there, the right architecture (ELF e_machine), static (no PT_INTERP).
for a in "${arches[@]}"; do
  b=${bin[$a]}
  [ -f "$b" ] || { echo "error: no $a binary at $b (build it first: see the top of this script)" >&2; exit 1; }
  m=$(od -An -tx1 -j18 -N2 "$b" | tr -d ' \n')
  [ "$m" = "${elf_machine[$a]}" ] || { echo "error: $b is not an $a ELF executable (e_machine $m)" >&2; exit 1; }
  if command -v readelf >/dev/null 2>&1 && readelf -lW "$b" | grep -q 'INTERP'; then
    echo "error: $b is dynamically linked (it has an ELF interpreter); a scratch image needs the static build" >&2
    exit 1
  fi
done

# The binaries' version: the amd64 one says it (on an x86_64 host), else Cargo.toml.
if [ "$(uname -m)" = x86_64 ]; then
  bin_version=$("${bin[amd64]}" --version | awk '{print $2}')
else
  bin_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
fi
version=${version:-$bin_version}
[ -n "$version" ] || { echo "error: no version (use --version)" >&2; exit 1; }
ref=localhost/$name:$version

ctx=$(mktemp -d /tmp/tcpbypass-image.XXXXXX)
binfmt_entry='' binfmt_mounted=0
cleanup() {
  [ -n "$binfmt_entry" ] && [ -e "/proc/sys/fs/binfmt_misc/$binfmt_entry" ] && echo -1 >"/proc/sys/fs/binfmt_misc/$binfmt_entry"
  [ "$binfmt_mounted" = 1 ] && umount /proc/sys/fs/binfmt_misc
  rm -rf "$ctx"
}
trap cleanup EXIT

# Build each image. Its timestamps (image config and file times) come from SOURCE_DATE_EPOCH
# or else the binary's mtime, so the same binary gives the same image (and image ID) again.
for a in "${arches[@]}"; do
  mkdir -p "$ctx/$a"
  cp "${bin[$a]}" "$ctx/$a/tcpbypass"
  ts=${SOURCE_DATE_EPOCH:-$(stat -c %Y "${bin[$a]}")}
  old=$(podman image inspect --format '{{.Id}}' "$ref-$a" 2>/dev/null || true)
  t0=$(date +%s.%N)
  podman build --quiet --layers=false --pull=never --timestamp "$ts" \
    --platform "linux/$a" --build-arg "BINARY=$a/tcpbypass" \
    --label "org.opencontainers.image.title=tcpbypass" \
    --label "org.opencontainers.image.version=$version" \
    -f "$here/Dockerfile" -t "$ref-$a" "$ctx" 2> >(grep -v 'build args were not consumed' >&2) >/dev/null
  t1=$(date +%s.%N)
  id=$(podman image inspect --format '{{.Id}}' "$ref-$a")
  # The image this tag named before, if nothing else names it now.
  if [ -n "$old" ] && [ "$old" != "$id" ] && [ "$(podman image inspect --format '{{len .RepoTags}}' "$old" 2>/dev/null)" = 0 ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
  echo "built $ref-$a (${id:0:12}) in $(elapsed "$t0" "$t1")s"
done

# The manifest list. (podman 4.3, podman issue #19757: while a local manifest list exists,
# `podman images` fails with "locating item named manifest-sha256:…" as soon as the store holds
# an untagged image, e.g. the intermediate images of a `podman build` without --layers=false;
# this script makes none. `podman rmi` of the untagged images or `podman manifest rm
# NAME:VERSION` ends it. Running, inspecting and pushing are not affected.)
if podman manifest exists "$ref" 2>/dev/null; then
  podman manifest rm "$ref" >/dev/null
elif podman image exists "$ref" 2>/dev/null; then
  podman untag "$ref" "$ref" >/dev/null 2>&1 || true
fi
podman manifest create "$ref" >/dev/null
for a in "${arches[@]}"; do
  podman manifest add "$ref" "containers-storage:$ref-$a" >/dev/null
done
echo "manifest list $ref: $(podman manifest inspect "$ref" |
  python3 -c 'import json,sys; print(", ".join(m["platform"]["os"]+"/"+m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"]))')"

if [ -n "$oci_archive" ]; then
  rm -f "$oci_archive"
  podman manifest push --quiet --all "$ref" "oci-archive:$oci_archive:$version" >/dev/null
  echo "OCI archive $oci_archive: $(stat -c %s "$oci_archive") bytes"
fi

# Does each image start? amd64 natively (this also finds the podman runtime that works here).
native=amd64; [ "$(uname -m)" = aarch64 ] && native=arm64
if [[ " ${arches[*]} " == *" $native "* ]]; then
  tb_podman_init "$ref-$native" || { echo "FAIL $ref-$native does not start" >&2; exit 1; }
fi
if [ "$native" = amd64 ] && [[ " ${arches[*]} " == *" arm64 "* ]]; then
  qemu=$(command -v qemu-aarch64-static || true)
  case $arm64_check in
    none) echo "$ref-arm64: start not checked (--arm64-check none)" ;;
    qemu)
      if [ -z "$qemu" ]; then
        echo "$ref-arm64: start not checked: no qemu-aarch64-static (Debian: qemu-user-static)"
      else
        # qemu-aarch64-static is a static x86_64 executable: it runs as the entrypoint inside
        # the arm64 image's own root file system and runs /tcpbypass from there.
        out=$("${PODMAN[@]}" run --rm --network none "${PODMAN_RUN[@]}" --arch arm64 \
          -v "$qemu:/.qemu-aarch64-static:ro" --entrypoint /.qemu-aarch64-static \
          "$ref-arm64" /tcpbypass --version 2>&1 | grep -v '^WARNING: image platform') ||
          { echo "FAIL $ref-arm64 does not start under qemu-user: $out" >&2; exit 1; }
        [ "$out" = "tcpbypass $bin_version" ] || { echo "FAIL $ref-arm64 --version says '$out', not 'tcpbypass $bin_version'" >&2; exit 1; }
        echo "$ref-arm64: starts under qemu-user: $out"
      fi ;;
    binfmt)
      [ -n "$qemu" ] || { echo "error: --arm64-check binfmt needs qemu-aarch64-static" >&2; exit 1; }
      if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && binfmt_mounted=1
      fi
      if ! grep -qs '^magic 7f454c460201010000000000000000000200b700' /proc/sys/fs/binfmt_misc/*; then
        binfmt_entry=tcpbypass-image-aarch64-$$
        # Debian's /usr/lib/binfmt.d/qemu-aarch64.conf magic and mask; F: the interpreter is
        # opened now, so it works inside the container's root file system.
        printf '%s' ":$binfmt_entry:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$qemu:F" \
          >/proc/sys/fs/binfmt_misc/register
      fi
      out=$("${PODMAN[@]}" run --rm --network none "${PODMAN_RUN[@]}" --arch arm64 "$ref-arm64" --version 2>&1 |
        grep -v '^WARNING: image platform') ||
        { echo "FAIL $ref-arm64 does not start with binfmt_misc: $out" >&2; exit 1; }
      [ "$out" = "tcpbypass $bin_version" ] || { echo "FAIL $ref-arm64 --version says '$out', not 'tcpbypass $bin_version'" >&2; exit 1; }
      echo "$ref-arm64: starts through binfmt_misc + qemu-user: $out" ;;
  esac
fi

# Sizes: podman's (uncompressed: the layer as stored) and the gzip layer a registry would hold.
fail=0
oci=$ctx/oci
for a in "${arches[@]}"; do
  size=$(podman image inspect --format '{{.Size}}' "$ref-$a")
  arch=$(podman image inspect --format '{{.Architecture}}' "$ref-$a")
  podman push --quiet "$ref-$a" "oci:$oci:$a" >/dev/null
  layer=$(python3 - "$oci" "$a" <<'PY'
import json, sys, os
root, tag = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(root, "blobs", *d.split(":"))
idx = json.load(open(os.path.join(root, "index.json")))
m = next(m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
man = json.load(open(blob(m["digest"])))
print(sum(l["size"] for l in man["layers"]))
PY
)
  verdict="≤ 2 MiB goal: ok"
  [ "$size" -gt "$goal" ] && verdict="OVER the 2 MiB goal ($goal) by $((size - goal)) bytes"
  echo "image size $a: $size bytes (config architecture $arch; compressed layer $layer bytes; $verdict)"
  if [ -n "$max_size" ] && [ "$size" -gt "$max_size" ]; then
    echo "FAIL image $a: $size bytes > --max-size $max_size" >&2
    fail=1
  fi
  [ "$arch" = "$a" ] || { echo "FAIL image $a: its config says architecture $arch" >&2; fail=1; }
done
echo "image.sh: done in $(elapsed "$start" "$(date +%s.%N)")s"
exit $fail
