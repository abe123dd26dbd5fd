#!/usr/bin/env bash
# npm run cluster:down — removes what `npm run cluster:up` made: the shop's resources
# (`tilt down`), the kind cluster `scaleshop` itself, with its volumes and Secrets, and the local
# registry `scaleshop-registry` with the images pushed to it. The images built on the host stay
# in Docker (`docker image prune` removes them).
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=scaleshop
context=kind-$cluster
registry=scaleshop-registry

if ! command -v kind >/dev/null 2>&1; then echo "cluster-down: kind is not installed" >&2; exit 1; fi
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  if command -v tilt >/dev/null 2>&1; then
    tilt down --context "$context" || echo "cluster-down: tilt down failed; deleting the cluster anyway" >&2
  fi
  kind delete cluster --name "$cluster"
else
  echo "cluster-down: no kind cluster $cluster"
fi
if command -v docker >/dev/null 2>&1 && docker inspect "$registry" >/dev/null 2>&1; then
  docker rm -f "$registry" >/dev/null
  echo "cluster-down: removed registry $registry"
fi
