#!/usr/bin/env bash
# npm run cluster:up — the whole shop on a local kind cluster:
#   1. starts the local image registry `scaleshop-registry` (127.0.0.1:5001) when it is not running;
#   2. creates the kind cluster `scaleshop` from kind-config.yaml when it is missing;
#   3. wires the registry into the cluster, as kind's local registry guide does
#      (https://kind.sigs.k8s.io/docs/user/local-registry/): each node's containerd resolves
#      localhost:5001 to the registry container, and the ConfigMap kube-public/local-registry-hosting
#      (KEP-1755) tells Tilt to push there instead of running `kind load` (kind#3795);
#   4. runs `tilt up` against it (the Tiltfile creates the Secrets, builds the seven images,
#      pushes them to the registry, deploys k8s/ and port-forwards the gateway, Jaeger, RabbitMQ
#      and Mailpit).
# Every step is idempotent: on an existing cluster it only adds what is missing.
# Arguments are passed to `tilt up` (e.g. `npm run cluster:up -- --stream`).
# Tear everything down with `npm run cluster:down`.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=scaleshop
context=kind-$cluster
kind_release=v0.33.0   # the release whose node image kind-config.yaml pins
registry=scaleshop-registry
registry_port=${SCALESHOP_REGISTRY_PORT:-5001}
# Distribution 3 (the image kind's guide runs), pinned by tag.
registry_image=registry:3.1.0

missing=()
for tool in docker kind kubectl tilt node; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cluster-up: not installed: ${missing[*]} (see docs/cluster.md)" >&2
  exit 1
fi
docker info >/dev/null 2>&1 || { echo "cluster-up: Docker is not running" >&2; exit 1; }

installed=$(kind version 2>/dev/null | awk '{print $2}')
if [ "$installed" != "$kind_release" ]; then
  echo "cluster-up: warning: kind $installed; kind-config.yaml pins a node image built for kind $kind_release" >&2
fi

# 1. The registry, published on the host's loopback only.
if [ "$(docker inspect -f '{{.State.Running}}' "$registry" 2>/dev/null || true)" != true ]; then
  if docker inspect "$registry" >/dev/null 2>&1; then
    echo "cluster-up: starting registry $registry"
    docker start "$registry" >/dev/null
  else
    echo "cluster-up: creating registry $registry on 127.0.0.1:$registry_port"
    docker run -d --restart=always -p "127.0.0.1:$registry_port:5000" --network bridge --name "$registry" "$registry_image" >/dev/null
  fi
fi
published=$(docker inspect -f '{{(index (index .HostConfig.PortBindings "5000/tcp") 0).HostPort}}' "$registry")
if [ "$published" != "$registry_port" ]; then
  echo "cluster-up: registry $registry publishes port $published, not $registry_port: set SCALESHOP_REGISTRY_PORT=$published, or remove it (docker rm -f $registry)" >&2
  exit 1
fi

# 2. The cluster.
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "cluster-up: kind cluster $cluster exists"
else
  echo "cluster-up: creating kind cluster $cluster (one control plane, two workers)"
  kind create cluster --config kind-config.yaml --wait 180s
fi

# 3. localhost inside a node is the node itself: its containerd must reach the registry by its
# container name, on the kind network. Node images of kind v0.27+ read these hosts.toml files.
registry_dir=/etc/containerd/certs.d/localhost:$registry_port
for node in $(kind get nodes --name "$cluster"); do
  docker exec "$node" mkdir -p "$registry_dir"
  printf '[host."http://%s:5000"]\n' "$registry" | docker exec -i "$node" cp /dev/stdin "$registry_dir/hosts.toml"
done
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$registry")" = null ]; then
  docker network connect kind "$registry"
fi
kubectl --context "$context" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:$registry_port"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML
echo "cluster-up: images go through the registry localhost:$registry_port"

exec tilt up --context "$context" "$@"
