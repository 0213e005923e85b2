#!/usr/bin/env bash
# Makes rootful podman start containers on a host like CI's: a VM or container without systemd, cgroup v1 and
# a hard open-files limit below podman's default (1048576). Without these settings `podman run` fails on
# setrlimit and on the systemd cgroup manager. Writes /etc/containers/containers.conf only when it is missing,
# so an operator's own file is never replaced. Idempotent; needs root.
set -euo pipefail

CONF=${CONTAINERS_CONF_PATH:-/etc/containers/containers.conf}
log() { printf 'setup-podman: %s\n' "$*"; }

if [[ -e "$CONF" ]]; then
  log "$CONF exists; left as it is"
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  log "$CONF is missing and writing it needs root" >&2
  exit 1
fi

# A container may not raise a limit above the host's hard limit: take the host's, capped at sensible values.
cap() { local host=$1 want=$2; [[ "$host" == unlimited || "$host" -gt "$want" ]] && echo "$want" || echo "$host"; }
nofile=$(cap "$(ulimit -Hn)" 20000)
nproc=$(cap "$(ulimit -Hu)" 4096)

mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<CONF
# Written by deploy/images/setup-podman.sh (realtime-voice): limits at or below the host's hard limits, and
# cgroupfs + runc because this host runs no systemd.
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
log "wrote $CONF (nofile=${nofile}, nproc=${nproc})"
