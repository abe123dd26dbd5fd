#!/usr/bin/env bash
# npm run cluster:up — the whole shop on a local kind cluster:
#   1. creates the kind cluster `scaleshop` from kind-config.yaml when it is missing;
#   2. runs `tilt up` against it (the Tiltfile creates the Secrets, builds the seven images,
#      deploys k8s/ and port-forwards the gateway, Jaeger, RabbitMQ and Mailpit).
# Arguments are passed to `tilt up` (e.g. `npm run cluster:up -- --stream`).
# Tear everything down with `npm run cluster:down`.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=scaleshop
context=kind-$cluster
kind_release=v0.33.0   # the release whose node image kind-config.yaml pins

missing=()
for tool in docker kind kubectl tilt node; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cluster-up: not installed: ${missing[*]} (see README.md, \"The cluster\")" >&2
  exit 1
fi
docker info >/dev/null 2>&1 || { echo "cluster-up: Docker is not running" >&2; exit 1; }

installed=$(kind version 2>/dev/null | awk '{print $2}')
if [ "$installed" != "$kind_release" ]; then
  echo "cluster-up: warning: kind $installed; kind-config.yaml pins a node image built for kind $kind_release" >&2
fi

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "cluster-up: kind cluster $cluster exists"
else
  echo "cluster-up: creating kind cluster $cluster (one control plane, two workers)"
  kind create cluster --config kind-config.yaml --wait 180s
fi

exec tilt up --context "$context" "$@"
