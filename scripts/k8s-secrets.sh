#!/usr/bin/env bash
# Creates the Secrets that the manifests in k8s/ reference but never contain (the contract
# is cdk8s/src/secrets.ts). The Tiltfile runs it on every `tilt up`; it can also be run by hand.
#
#   scripts/k8s-secrets.sh            # in the kind-scaleshop context, namespace scaleshop
#
# Idempotent. A credential is generated only when its Secret is missing, so a running
# Postgres or RabbitMQ (which read their password only when their volume is first
# initialized) keeps matching it; the Secrets derived from them (the DATABASE_URLs and the
# AMQP URL) are rewritten from the current credentials every time. No value is ever printed
# or passed on a command line.
#
# Environment: KUBE_CONTEXT (default kind-scaleshop), NAMESPACE (default scaleshop),
# SHARED_POSTGRES=true|false (default: true when k8s/ has a single Postgres named `postgres`).
set -euo pipefail
cd "$(dirname "$0")/.."

context=${KUBE_CONTEXT:-kind-scaleshop}
namespace=${NAMESPACE:-scaleshop}
kc() { kubectl --context "$context" "$@"; }

command -v kubectl >/dev/null || { echo "k8s-secrets: kubectl is not on the PATH" >&2; exit 1; }
command -v node >/dev/null || { echo "k8s-secrets: node is not on the PATH (any version)" >&2; exit 1; }

# The services that own a database: topology.json, which `npm run synth` writes from
# services/platform/src/topology.ts.
read -ra database_services <<<"$(node -p 'require("./topology.json").databaseServices.join(" ")')"
[ ${#database_services[@]} -gt 0 ] || { echo "k8s-secrets: no database services in topology.json (run npm run synth)" >&2; exit 1; }

if [ -z "${SHARED_POSTGRES:-}" ]; then
  if cat k8s/*.yaml 2>/dev/null | grep -Eq '^  name: postgres$'; then SHARED_POSTGRES=true; else SHARED_POSTGRES=false; fi
fi

tmp=$(mktemp -d)
chmod 700 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# The namespace may not exist yet (Tilt applies k8s/ after this script). Created bare; the
# manifests' Namespace object adds its Pod Security labels when Tilt applies it.
kc get namespace "$namespace" >/dev/null 2>&1 || kc create namespace "$namespace" >/dev/null

existing=" $(kc -n "$namespace" get secrets -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}') "
has_secret() { [[ $existing == *" $1 "* ]]; }

# Applies a generic Secret whose keys are the files in a directory.
apply_secret() {
  local name=$1 dir=$2
  kc -n "$namespace" create secret generic "$name" --from-file="$dir" --dry-run=client -o yaml \
    | kc label --local -f - -o yaml app.kubernetes.io/part-of=scaleshop app.kubernetes.io/managed-by=scaleshop-k8s-secrets \
    | kc apply -f - >/dev/null
  echo "k8s-secrets: $name ($3)"
}

read_key() { kc -n "$namespace" get secret "$1" -o "jsonpath={.data.$2}" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(Buffer.from(s,"base64").toString()))'; }

random_password() { node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("hex"))'; }

# --- the JWT key pair: the user service signs with private.pem, the gateway verifies with public.pem
if ! has_secret scaleshop-jwt; then
  mkdir "$tmp/jwt"
  node -e '
    const { generateKeyPairSync } = require("node:crypto"); const fs = require("node:fs");
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    fs.writeFileSync(process.argv[1] + "/private.pem", privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(process.argv[1] + "/public.pem", publicKey.export({ type: "spki", format: "pem" }), { mode: 0o600 });' "$tmp/jwt"
  apply_secret scaleshop-jwt "$tmp/jwt" "new Ed25519 key pair"
fi

# --- Postgres superuser passwords, one per instance
if [ "$SHARED_POSTGRES" = true ]; then instances=(postgres); else instances=("${database_services[@]/#/postgres-}"); fi
for instance in "${instances[@]}"; do
  if ! has_secret "$instance"; then
    mkdir "$tmp/$instance"
    random_password >"$tmp/$instance/password"
    apply_secret "$instance" "$tmp/$instance" "new password"
  fi
done

# --- RabbitMQ's default user
if ! has_secret rabbitmq; then
  mkdir "$tmp/rabbitmq"
  printf scaleshop >"$tmp/rabbitmq/username"
  random_password >"$tmp/rabbitmq/password"
  apply_secret rabbitmq "$tmp/rabbitmq" "new credentials"
fi

# --- the URLs, always derived from the credentials above (percent-encoded), in the formats of
# databaseUrl and brokerUrl in cdk8s/src/secrets.ts. The broker's is its fully qualified name:
# KEDA, in its own namespace, reads the same URL.
for service in "${database_services[@]}"; do
  if [ "$SHARED_POSTGRES" = true ]; then instance=postgres; else instance=postgres-$service; fi
  mkdir -p "$tmp/$service-database"
  read_key "$instance" password | node -e '
    let pw = ""; process.stdin.on("data", (d) => (pw += d)).on("end", () => {
      const [instance, database, file] = process.argv.slice(1);
      require("node:fs").writeFileSync(file, `postgres://postgres:${encodeURIComponent(pw)}@${instance}:5432/${database}`, { mode: 0o600 });
    });' "$instance" "scaleshop_$service" "$tmp/$service-database/url"
  apply_secret "$service-database" "$tmp/$service-database" "DATABASE_URL for $instance"
done

mkdir -p "$tmp/rabbitmq-url"
{ read_key rabbitmq username; printf '\n'; read_key rabbitmq password; } | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const [user, pw] = s.split("\n");
    require("node:fs").writeFileSync(process.argv[1], `amqp://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@rabbitmq.${process.argv[2]}.svc.cluster.local:5672`, { mode: 0o600 });
  });' "$tmp/rabbitmq-url/url" "$namespace"
apply_secret rabbitmq-url "$tmp/rabbitmq-url" "AMQP URL for rabbitmq"
