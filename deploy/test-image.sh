#!/usr/bin/env bash
# Runs the amd64 image the way deploy/daemonset.yaml runs it, against this host's kernel:
# privileged, its own network and PID namespaces (the DaemonSet sets neither hostNetwork nor
# hostPID; --network none: a private network namespace with no change to the host's network),
# the host's bpffs at /sys/fs/bpf (shared propagation) and the host's /sys/fs/cgroup at its own
# path (read-only), the DaemonSet's memory limit and --local-prefix arguments.
#
# Two things differ, so that a test never touches the host's real bypass: the bypass is
# attached to a child cgroup this script creates under the cgroup2 mount (found in
# /proc/self/mountinfo; never the root), and pinned in a directory of its own on the bpffs.
# Traffic comes from host processes this script puts into that child cgroup.
#
#   bash deploy/test-image.sh [IMAGE]     (default localhost/tcpbypass:<version>-amd64, from
#                                          deploy/image.sh; root needed)
#
# Steps, one PASS/FAIL line each: probe; load; traffic (echo over loopback, compared byte for
# byte); status (--json: loaded, attached, this binary's programs, redirected > 0); unload
# (pin dir gone, nothing attached); run (detached container, as the DaemonSet, with traffic
# through it); sigterm (podman stop: exit 0 within the grace period, pin dir gone, nothing
# attached). The exit code is non-zero when any step fails. Everything the script made —
# containers, pins, the cgroup, processes in it — is removed on exit, failure and Ctrl-C
# included. Logs stay in the printed directory when a step fails.
set -uo pipefail
exec 3>&1   # the terminal: cleanup and interruption messages go here, not into a step's log
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=deploy/podman-env.sh
. "$here/podman-env.sh"

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
now() { date +%s.%N; }
t_start=$(now)

[ "$(id -u)" = 0 ] || { echo "test-image.sh: needs root (bpf(), cgroups, podman --privileged)" >&2; exit 3; }
tb_install podman=podman bpftool=bpftool python3=python3 || exit 1

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
image=${1:-localhost/tcpbypass:$version-amd64}
podman image exists "$image" || { echo "test-image.sh: no image $image (build it: bash deploy/image.sh)" >&2; exit 1; }
arch=$(podman image inspect --format '{{.Architecture}}' "$image")
if [ "$arch" != amd64 ] || [ "$(uname -m)" != x86_64 ]; then
  echo "test-image.sh: $image is $arch; this test runs the amd64 image on an x86_64 host" >&2
  exit 1
fi

# --- the host: cgroup2 and bpffs mounts -------------------------------------------------
# mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
mounts_of() {
  awk -v t="$1" '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == t) print $5; break } }' /proc/self/mountinfo
}
cg2=$(mounts_of cgroup2 | head -n1)
[ -n "$cg2" ] || { echo "FAIL setup: no cgroup2 file system is mounted (see /proc/self/mountinfo)" >&2; exit 1; }
bpffs=$(mounts_of bpf | grep -x /sys/fs/bpf || mounts_of bpf | head -n1)
[ -n "$bpffs" ] || { echo "FAIL setup: no bpffs is mounted (mount -t bpf bpf /sys/fs/bpf)" >&2; exit 1; }
# The DaemonSet's mountPropagation: Bidirectional is rshared; Kubernetes requires the host's
# mount to be shared (systemd hosts: all are), podman does not.
if awk -v m="$bpffs" '$5 == m' /proc/self/mountinfo | grep -q ' shared:'; then prop_note=shared; else
  prop_note="private on the host (a kubelet would refuse Bidirectional here; podman does not)"; fi

# --- everything this run makes has one unique name --------------------------------------
tag=tcpbypass-image-test-$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
cg=$cg2/$tag                 # the child cgroup (host path)
cg_ctr=$cg                   # the container sees the host's cgroup file system at its path
bdir=$bpffs/$tag             # our directory on the bpffs; the lock of `load` is taken on it
pin_host=$bdir/tb
pin_ctr=/sys/fs/bpf/$tag/tb
ctr=$tag-run                 # the detached `run` container
logs=$(mktemp -d "/tmp/$tag.XXXX")
made_cg=0 made_bdir=0 failed=0 steps_run=0 prog_ids='' server_pid=''
PODMAN=(podman) PODMAN_RUN=()

# The DaemonSet, as podman options and arguments: its hostPath /sys/fs/cgroup (which holds
# the cgroup2 mount, also on hybrid hosts: /sys/fs/cgroup/unified) at the same path.
case $cg2 in /sys/fs/cgroup|/sys/fs/cgroup/*) cgfs=/sys/fs/cgroup ;; *) cgfs=$cg2 ;; esac
ds_memory=$(awk '/limits:/ { l = 1 } l && $1 == "memory:" { sub(/Mi$/, "", $2); print $2; exit }' "$here/daemonset.yaml")
ds=(--privileged --network none --memory "${ds_memory:-64}m"
  -v "$bpffs:/sys/fs/bpf:rshared" -v "$cgfs:$cgfs:ro")
ds_args=(--local-prefix=10.244.0.0/16 --local-prefix=10.96.0.0/12)

cleanup() {
  set +e
  trap - INT TERM
  if podman container exists "$ctr" 2>/dev/null; then
    "${PODMAN[@]}" rm -f -t 0 "$ctr" >>"$logs/cleanup.log" 2>&1
  fi
  if [ -e "$pin_host" ]; then
    echo "cleanup: unloading $pin_host" | tee -a "$logs/cleanup.log"
    "${PODMAN[@]}" run --rm "${PODMAN_RUN[@]}" "${ds[@]}" "$image" unload --pin-dir "$pin_ctr" >>"$logs/cleanup.log" 2>&1
  fi
  if [ "$made_cg" = 1 ] && [ -d "$cg" ]; then
    # Anything still attached to our cgroup (only after a failed unload): detach it by id.
    bpftool -j cgroup show "$cg" 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read().strip()
for p in (json.loads(t) if t else []): print(p["id"], p["attach_type"])' |
      while read -r id type; do
        echo "cleanup: detaching program $id ($type) from $cg" | tee -a "$logs/cleanup.log"
        bpftool cgroup detach "$cg" "${type#cgroup_}" id "$id" >>"$logs/cleanup.log" 2>&1
      done
    # Processes of a failed traffic step.
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
    if [ -n "$(cat "$cg/cgroup.procs" 2>/dev/null)" ]; then
      if [ -e "$cg/cgroup.kill" ]; then echo 1 >"$cg/cgroup.kill"; else xargs -r kill -9 <"$cg/cgroup.procs"; fi
    fi
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
    [ -d "$cg" ] && echo "cleanup: WARNING: could not remove $cg" | tee -a "$logs/cleanup.log"
  fi
  # Pins left by a failed unload: unlinking a pin on bpffs drops it (a link pin: detaches).
  [ "$made_bdir" = 1 ] && [ -d "$bdir" ] && rm -rf "$bdir"
  if [ -s "$logs/cleanup.log" ] && grep -q 'WARNING' "$logs/cleanup.log"; then
    echo "FAIL cleanup: see $logs/cleanup.log"
    exit 1
  fi
  if [ "$failed" = 0 ]; then rm -rf "$logs"; else echo "logs: $logs"; fi
}
trap 'cleanup >&3 2>&3' EXIT
trap 'echo "interrupted" >&3; failed=1; exit 130' INT TERM

tb_podman_init "$image" || exit 1

# The safety rules: a child of the cgroup2 root, made here; a pin directory made here.
if [ "$(dirname "$cg")" != "$cg2" ] || [ "$cg" = "$cg2" ]; then echo "FAIL setup: bad cgroup $cg" >&2; exit 1; fi
mkdir "$cg" || { echo "FAIL setup: cannot create $cg" >&2; exit 1; }
made_cg=1
mkdir -m 0700 "$bdir" || { echo "FAIL setup: cannot create $bdir" >&2; exit 1; }
made_bdir=1
echo "setup: cgroup2 at $cg2, child cgroup $cg; bpffs at $bpffs ($prop_note), pin dir $pin_host"

tb() { "${PODMAN[@]}" run --rm "${PODMAN_RUN[@]}" "${ds[@]}" "$image" "$@"; }

# --- steps ---------------------------------------------------------------------------
# step NAME FUNCTION: runs FUNCTION with its output in $logs/NAME.log; FUNCTION sets `detail`
# (shown after PASS) or `why` (shown after FAIL). After a failure the rest are skipped.
step() {
  local name=$1 fn=$2 t0 rc
  steps_run=$((steps_run + 1))
  if [ "$failed" = 1 ]; then echo "SKIP $name"; return; fi
  detail='' why=
  t0=$(now)
  "$fn" >"$logs/$name.log" 2>&1
  rc=$?
  if [ $rc = 0 ] && [ -z "$why" ]; then
    echo "PASS $name ($(elapsed "$t0" "$(now)")s)${detail:+ $detail}"
  else
    failed=1
    echo "FAIL $name ($(elapsed "$t0" "$(now)")s): ${why:-exit $rc}"
    sed 's/^/    /' "$logs/$name.log" | tail -n 15
  fi
}

json_field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v.get(k) if isinstance(v, dict) else None
print(json.dumps(v))' "$1"; }

attached_ids() { # program ids attached to our cgroup, one a line
  bpftool -j cgroup show "$cg" 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read().strip()
for p in (json.loads(t) if t else []): print(p["id"])'
}

cat >"$logs/traffic.py" <<'PY'
# server PORTFILE N | client PORT N SIZE: N connections on 127.0.0.1, each SIZE bytes sent by the
# client, echoed by the server after EOF, compared byte for byte. Sockets with timeouts poll
# before each recv (no blocking recv; see docs/operations.md, "Kernel quirks").
import os, random, socket, sys
cg = [l for l in open("/proc/self/cgroup").read().splitlines() if l.startswith("0::")]
print(sys.argv[1], "cgroup", cg[0] if cg else "?", flush=True)
def read_all(c):
    buf = bytearray()
    while True:
        d = c.recv(1 << 20)
        if not d:
            return bytes(buf)
        buf += d
if sys.argv[1] == "server":
    portfile, n = sys.argv[2], int(sys.argv[3])
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(n)
    s.settimeout(60)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    for _ in range(n):
        c, _ = s.accept()
        c.settimeout(60)
        c.sendall(read_all(c))
        c.close()
else:
    port, n, size = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    for i in range(n):
        data = random.Random(i).randbytes(size)
        c = socket.create_connection(("127.0.0.1", port), timeout=60)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        got = read_all(c)
        c.close()
        if got != data:
            at = next((j for j in range(min(len(got), len(data))) if got[j] != data[j]), min(len(got), len(data)))
            print(f"connection {i}: got {len(got)} bytes, sent {len(data)}; first difference at byte {at}")
            sys.exit(1)
    print(f"{n} connections, {size} bytes each way each, byte for byte equal")
PY

# Host processes in the child cgroup: a server and a client on loopback.
traffic_conns=4 traffic_size=$((4 * 1024 * 1024))
traffic() {
  local portfile=$logs/port.$1 port
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
    python3 "$logs/traffic.py" server "$portfile" "$traffic_conns" 3>&- &
  server=$!
  server_pid=$server
  for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.1; done
  port=$(cat "$portfile" 2>/dev/null) || { why="the server did not start"; kill "$server"; return 1; }
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
    python3 "$logs/traffic.py" client "$port" "$traffic_conns" "$traffic_size" ||
    { why="client: $(tail -n1 "$logs/$2.log")"; kill "$server" 2>/dev/null; return 1; }
  wait "$server" || { why="the server failed"; return 1; }
  [ "$(grep -c "cgroup 0::/$tag\$" "$logs/$2.log")" = 2 ] ||
    { why="the traffic processes were not in $cg"; return 1; }
}

redirected_check() { # after traffic: the counters of the loaded bypass
  local j
  j=$(tb status --json --pin-dir "$pin_ctr") || { why="status --json failed"; return 1; }
  echo "$j"
  redirected=$(json_field counters.redirected <<<"$j")
  redirected_bytes=$(json_field counters.redirected_bytes <<<"$j")
  paired=$(json_field counters.paired <<<"$j")
  [ "$redirected" != null ] && [ "$redirected" -gt 0 ] && return 0
  why="no message was redirected (counters: $(json_field counters <<<"$j"))"
  return 1
}

s_probe() { tb probe; }

s_load() {
  tb -v load --cgroup "$cg_ctr" --pin-dir "$pin_ctr" "${ds_args[@]}" || return
  [ -e "$pin_host/meta" ] || { why="no $pin_host/meta after load"; return 1; }
  bpftool cgroup show "$cg"
  ids=$(attached_ids | xargs)
  [ -n "$ids" ] || { why="nothing attached to $cg after load"; return 1; }
  detail="attached to the child cgroup: program ids $ids"
}

s_traffic() {
  traffic load traffic || return
  redirected_check || return
  detail="$traffic_conns x $traffic_size bytes echoed, equal; redirected $redirected messages, $redirected_bytes bytes, $paired connections paired"
}

s_status() {
  local j v
  tb status --pin-dir "$pin_ctr" || { why="status failed"; return 1; }
  j=$(tb status --json --pin-dir "$pin_ctr") || { why="status --json failed"; return 1; }
  echo "$j"
  for v in loaded:true attached:true cgroup:"\"$cg_ctr\"" sock_ops.matches_binary:true sk_msg.matches_binary:true counters.errors:0; do
    [ "$(json_field "${v%%:*}" <<<"$j")" = "${v#*:}" ] || { why="status --json: ${v%%:*} is $(json_field "${v%%:*}" <<<"$j"), not ${v#*:}"; return 1; }
  done
  [ "$(json_field counters.redirected <<<"$j")" -gt 0 ] || { why="counters.redirected is 0"; return 1; }
  prog_ids="$(json_field sock_ops.id <<<"$j") $(json_field sk_msg.id <<<"$j") $(json_field setsockopt.id <<<"$j")"
  detail="loaded, attached, programs match the binary, counters.redirected $(json_field counters.redirected <<<"$j")"
}

nothing_left() { # pin dir gone, nothing attached to the child cgroup nor anywhere else
  local out leaked tree
  [ ! -e "$pin_host" ] || { why="$pin_host is still there: $(echo "$pin_host"/*)"; return 1; }
  out=$(bpftool cgroup show "$cg")
  [ -z "$out" ] || { why="still attached to $cg: $out"; return 1; }
  # The whole hierarchy (other cgroups may vanish during the walk: try again).
  for _ in 1 2 3; do tree=$(bpftool -j cgroup tree "$cg2" 2>/dev/null) && break; tree=; sleep 0.2; done
  leaked=$(python3 -c '
import json, sys
ours = set(sys.argv[1].split()) - {"null"}
for c in json.load(sys.stdin):
    for p in c["programs"]:
        if str(p["id"]) in ours: print(p["id"], end=" ")' "$prog_ids" <<<"$tree") ||
    { why="bpftool cgroup tree $cg2 failed"; return 1; }
  [ -z "$leaked" ] || { why="programs $leaked are still attached somewhere under $cg2"; return 1; }
}

s_unload() {
  tb unload --pin-dir "$pin_ctr" || return
  nothing_left || return
  detail="pin dir gone; bpftool cgroup show <child>: empty"
}

s_run() {
  local state
  # (3>&-: the container's conmon outlives this command; it must not hold the terminal.)
  "${PODMAN[@]}" run -d --name "$ctr" "${PODMAN_RUN[@]}" "${ds[@]}" "$image" \
    run --cgroup "$cg_ctr" --pin-dir "$pin_ctr" "${ds_args[@]}" 3>&- || { why="podman run -d failed"; return 1; }
  for _ in $(seq 600); do
    [ -e "$pin_host/meta" ] && break
    state=$(podman inspect -f '{{.State.Status}}' "$ctr" 2>/dev/null)
    [ "$state" = running ] || { why="the container is $state before loading: $(podman logs "$ctr" 2>&1 | tail -n 3 | tr '\n' ' ')"; return 1; }
    sleep 0.1
  done
  [ -e "$pin_host/meta" ] || { why="not loaded after 60s"; return 1; }
  loaded_after=$(elapsed "$t_run" "$(now)")
  [ -n "$(attached_ids)" ] || { why="nothing attached to $cg"; return 1; }
  traffic run run || return
  redirected_check || return
  j=$(tb status --json --pin-dir "$pin_ctr")
  prog_ids="$(json_field sock_ops.id <<<"$j") $(json_field sk_msg.id <<<"$j") $(json_field setsockopt.id <<<"$j")"
  detail="loaded ${loaded_after}s after podman run; traffic equal, redirected $redirected messages"
}

container_memory() { # "peak P, now N bytes" from the run container's memory cgroup (v2 or v1)
  local pid line dir
  pid=$(podman inspect -f '{{.State.Pid}}' "$ctr" 2>/dev/null) || return
  while IFS= read -r line; do
    case $line in
      0::*) dir=/sys/fs/cgroup${line#0::}
        [ -r "$dir/memory.peak" ] &&
          { echo "peak $(cat "$dir/memory.peak"), now $(cat "$dir/memory.current") bytes (cgroup v2)"; return; } ;;
      *:memory:*) dir=/sys/fs/cgroup/memory${line#*:memory:}
        [ -r "$dir/memory.max_usage_in_bytes" ] &&
          { echo "peak $(cat "$dir/memory.max_usage_in_bytes"), now $(cat "$dir/memory.usage_in_bytes") bytes (cgroup v1: socket buffers not charged)"; return; } ;;
    esac
  done <"/proc/$pid/cgroup"
}

s_sigterm() {
  local t0 took code
  mem=$(container_memory)
  t0=$(now)
  "${PODMAN[@]}" stop -t 30 "$ctr" || { why="podman stop failed"; return 1; }
  took=$(elapsed "$t0" "$(now)")
  code=$(podman inspect -f '{{.State.ExitCode}}' "$ctr")
  echo "--- container log"; podman logs "$ctr" 2>&1
  [ "$code" = 0 ] || { why="the container exited with $code after SIGTERM (137: killed after the grace period)"; return 1; }
  nothing_left || return
  detail="SIGTERM to exit 0 in ${took}s (grace 30s); pin dir gone; nothing attached; memory ${mem:-unknown}, limit ${ds_memory}Mi"
}

step probe s_probe
step load s_load
step traffic s_traffic
step status s_status
step unload s_unload
t_run=$(now)
step run s_run
step sigterm s_sigterm

for a in amd64 arm64; do
  img=${image%-amd64}-$a
  if podman image exists "$img"; then echo "image size $a: $(podman image inspect --format '{{.Size}}' "$img") bytes ($img)"; fi
done
if [ "$failed" = 0 ]; then
  echo "test-image.sh: PASS ($steps_run steps) in $(elapsed "$t_start" "$(now)")s"
else
  echo "test-image.sh: FAIL in $(elapsed "$t_start" "$(now)")s"
fi
exit "$failed"
