#!/bin/sh
# One-shot job of the compose `cluster` profile (docker-compose.yml, service redis-cluster-init): once every
# node in REDIS_CLUSTER_NODES answers PING, joins them into a Redis Cluster, one master each, all 16384 slots
# assigned, and exits 0 when every node reports cluster_state:ok. On a cluster that already serves every slot
# (a second `up`) it changes nothing.
#
#   REDIS_CLUSTER_NODES   the nodes, host:port separated by spaces (at least 3: redis-cli refuses fewer masters)
#   REDIS_CLUSTER_WAIT_S  how long to wait for each node to answer, and for the cluster to settle (default 60)
set -eu

nodes=${REDIS_CLUSTER_NODES:?set REDIS_CLUSTER_NODES to the nodes, host:port separated by spaces}
wait_s=${REDIS_CLUSTER_WAIT_S:-60}

# redis-cli against one host:port.
node_cli() {
  target=$1
  shift
  redis-cli -h "${target%:*}" -p "${target##*:}" "$@"
}

# Polls once a second until "$@" succeeds, failing with $what after wait_s seconds.
wait_until() {
  what=$1
  shift
  waited=0
  until "$@"; do
    waited=$((waited + 1))
    if [ "$waited" -ge "$wait_s" ]; then
      echo "redis-cluster-init: $what after ${wait_s}s" >&2
      exit 1
    fi
    sleep 1
  done
}

answers() { [ "$(node_cli "$1" ping 2>/dev/null)" = PONG ]; }
cluster_ok() { node_cli "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
all_ok() {
  for node in $nodes; do cluster_ok "$node" || return 1; done
}

for node in $nodes; do
  wait_until "$node does not answer" answers "$node"
done

if all_ok; then
  echo "redis-cluster-init: the cluster already serves every slot; nothing to do"
  exit 0
fi

# Host names are fine: redis-cli resolves them before it introduces the nodes to each other.
# shellcheck disable=SC2086 # one argument per node
redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes
wait_until "the cluster is not ok on every node" all_ok
echo "redis-cluster-init: cluster created on $nodes"
