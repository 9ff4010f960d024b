# shellcheck shell=bash
# Sourced by deploy/image.sh and deploy/test-image.sh (bash): podman on this host.
#
# tb_install CMD=PACKAGE...   installs the Debian packages of missing commands (root + apt-get)
# tb_podman_init IMAGE        finds how podman can run IMAGE here and sets
#   PODMAN      the podman command (plus `--runtime runc` where crun cannot run containers)
#   PODMAN_RUN  options every `podman run` needs here (rlimits in a sandbox)
# and prints one line saying what it chose. It runs `IMAGE --version` to find out.

tb_install() {
  local want=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null 2>&1 || want+=("${pair#*=}")
  done
  [ ${#want[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${want[*]} (Debian packages)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}") >/dev/null 2>&1 ||
      { echo "error: could not install ${want[*]}" >&2; return 1; }
  else
    echo "error: missing ${want[*]} (install them, or run as root on Debian)" >&2
    return 1
  fi
}

# Whether this process has CAP_SYS_RESOURCE (bit 24 of CapEff).
tb_has_sys_resource() {
  local eff
  eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (16#$eff >> 24) & 1 ))
}

tb_podman_init() {
  local image=$1 out rt
  PODMAN=(podman)
  PODMAN_RUN=()
  # podman asks the runtime for RLIMIT_NOFILE 1048576 and a large RLIMIT_NPROC; without
  # CAP_SYS_RESOURCE (a sandbox or a container host) the runtime may not raise a hard limit,
  # and podman 4.3 lowers its own RLIMIT_NPROC to 32768 first. Ask for what we have.
  if ! tb_has_sys_resource; then
    local nofile nproc
    nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
    nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
    PODMAN_RUN+=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
  fi
  if out=$("${PODMAN[@]}" run --rm --network none "${PODMAN_RUN[@]}" "$image" --version 2>&1); then
    rt=$("${PODMAN[@]}" info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null || echo default)
  else
    # crun 1.8 refuses hybrid cgroup hosts whose unified hierarchy has a controller
    # ("cgroups in hybrid mode not supported"); runc runs there.
    echo "podman with its default runtime cannot run $image here: ${out##*Error: }" >&2
    tb_install runc=runc || return 1
    PODMAN=(podman --runtime runc)
    if ! out=$("${PODMAN[@]}" run --rm --network none "${PODMAN_RUN[@]}" "$image" --version 2>&1); then
      echo "error: podman cannot run $image with runc either: $out" >&2
      return 1
    fi
    rt=runc
  fi
  echo "podman $(podman version --format '{{.Client.Version}}' 2>/dev/null), runtime $rt${PODMAN_RUN[*]:+, ${PODMAN_RUN[*]}}: $image --version: $out"
}
