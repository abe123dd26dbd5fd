#!/usr/bin/env bash
# Builds the service images from the one Dockerfile and proves that they start, answer
# /health/ready, work together, send traces and stop cleanly on SIGTERM.
#
#   scripts/images.sh build [service...]   build scaleshop/<service>:dev (all eight by default)
#   scripts/images.sh smoke [service...]   run built images against the local Postgres and RabbitMQ
#   scripts/images.sh sizes                list the built images with their sizes
#   scripts/images.sh all                  build, smoke, sizes
#   scripts/images.sh env <service>        the environment smoke gives it, NUL-separated (throwaway keys)
#   (npm run images -- build order)
#
# `smoke` with no service starts all eight images together, wired as in local mode, and goes
# through the gateway: /health, register, login, /api/auth/me, the catalog and a checkout
# whose saga runs through RabbitMQ to the confirmation email. `smoke <service>` starts that
# image alone and checks only its own readiness and shutdown. Every run uses throwaway
# databases (scaleshop_smoke_<service>) and a throwaway RabbitMQ virtual host, removed after.
#
# Environment:
#   BUILDER       docker | buildah (default: docker if a Docker engine answers, else buildah)
#   TARGET        Dockerfile target (default: runtime; Tilt builds `dev`)
#   TAG           image tag (default: dev)
#   POSTGRES_URL  where the throwaway databases are created (default postgres://postgres@127.0.0.1:5432/postgres)
#   RABBITMQ_URL  the broker (default amqp://guest:guest@127.0.0.1:5672)
#   RUN_IMAGE     with buildah: the script that runs an image's command without an engine
#                 (default ../shared/tools/run-image.sh, as on the project's CI machines)
#   BASE_IMAGE_SCRIPT  with buildah: builds a local stand-in for node:24-bookworm-slim when
#                 there is no registry to pull it from (default ../shared/tools/base-image.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

target=${TARGET:-runtime}
tag=${TAG:-dev}
postgres_url=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
rabbitmq_url=${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
run_image=${RUN_IMAGE:-$root/../shared/tools/run-image.sh}
base_image_script=${BASE_IMAGE_SCRIPT:-$root/../shared/tools/base-image.sh}
sink_port=19318
mail_smtp_port=19025
mail_http_port=19026

say() { printf '\033[1mimages:\033[0m %s\n' "$*"; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }

# The services, their ports, what they call and which secrets they take: topology.json, which
# `npm run synth` writes from services/platform/src/topology.ts. Smoke runs listen on 20000 plus
# the last four digits of the usual ports, so that a local shop can keep running beside them.
[ -f topology.json ] || die "no topology.json: run \`npm run synth\`"
declare -A port=() metrics_port=() calls=() secrets=()
eval "$(node -e '
  const topology = require("./topology.json");
  const words = (object) => Object.entries(object).map(([key, value]) => key + "=" + value).join(" ");
  console.log("all_services=(" + topology.serviceNames.join(" ") + ")");
  for (const [name, service] of Object.entries(topology.services)) {
    console.log(`port[${name}]=${20000 + (service.port % 10000)}`);
    if (service.metricsPort !== undefined) console.log(`metrics_port[${name}]=${20000 + (service.metricsPort % 10000)}`);
    console.log(`calls[${name}]="${words(service.calls)}"`);
    console.log(`secrets[${name}]="${words(service.secrets)}"`);
  }')"
[ ${#port[@]} -gt 0 ] || die "could not read topology.json"
[ "$(printf '%s\n' "${port[@]}" "${metrics_port[@]}" | sort -u | wc -l)" -eq $((${#port[@]} + ${#metrics_port[@]})) ] || die "two services would share a smoke port"

pick_builder() {
  if [ -n "${BUILDER:-}" ]; then echo "$BUILDER"
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker
  elif command -v buildah >/dev/null 2>&1; then echo buildah
  else die "no image builder: install Docker (with a running engine) or buildah"
  fi
}
builder=''

services_from_args() {
  if [ $# -eq 0 ]; then printf '%s\n' "${all_services[@]}"; return; fi
  for s in "$@"; do
    [[ " ${all_services[*]} " == *" $s "* ]] || die "unknown service '$s' (one of: ${all_services[*]})"
    echo "$s"
  done
}

image_of() { echo "scaleshop/$1:$tag"; }
# The storefront's image holds its static build (the Dockerfile's web-build stage).
web_of() { if [ "$1" = storefront ]; then echo build; else echo none; fi; }

# ---------------------------------------------------------------------------------------------
# build

ensure_base_image() {
  [ "$builder" = buildah ] || return 0
  buildah inspect --type image docker.io/library/node:24-bookworm-slim >/dev/null 2>&1 && return 0
  if [ -x "$base_image_script" ]; then
    say "no node:24-bookworm-slim here: building the local stand-in with $base_image_script"
    "$base_image_script"
  fi
  # otherwise buildah pulls it from the registry
}

build() {
  mapfile -t services < <(services_from_args "$@")
  ensure_base_image
  for s in "${services[@]}"; do
    say "building $(image_of "$s") (target $target, with $builder)"
    local started=$SECONDS
    case $builder in
      docker) docker build --build-arg SERVICE="$s" --build-arg WEB="$(web_of "$s")" --target "$target" -t "$(image_of "$s")" . ;;
      buildah) buildah bud --isolation chroot --layers --build-arg SERVICE="$s" --build-arg WEB="$(web_of "$s")" --target "$target" -t "$(image_of "$s")" . ;;
      *) die "unknown BUILDER '$builder'" ;;
    esac
    say "built $(image_of "$s") in $((SECONDS - started))s"
  done
  sizes "${services[@]}"
}

sizes() {
  mapfile -t services < <(services_from_args "$@")
  for s in "${services[@]}"; do
    case $builder in
      docker) docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' "$(image_of "$s")" ;;
      buildah) buildah images --format '{{.Name}}:{{.Tag}}  {{.Size}}' "$(image_of "$s")" ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------------
# smoke

workdir=''
pids=()
databases=()
vhost=''

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi; done
  for db in "${databases[@]}"; do
    PGOPTIONS=--client-min-messages=warning psql -q "$postgres_url" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if [ -n "$vhost" ]; then rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true; fi
  if [ -n "$workdir" ]; then rm -rf "$workdir"; fi
}

# Runs an image's command in the background on this machine's network; $! is the runner.
start_image() {
  local image=$1 log=$2; shift 2
  case $builder in
    buildah)
      [ -x "$run_image" ] || die "no $run_image to run images without a Docker engine (set RUN_IMAGE)"
      "$run_image" "$image" "$@" >"$log" 2>&1 &
      ;;
    docker)
      local args=() kv
      for kv in "$@"; do args+=(-e "$kv"); done
      docker run --rm --network host "${args[@]}" "$image" >"$log" 2>&1 &
      ;;
  esac
}

http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

wait_ready() {
  local s=$1 pid=$2 deadline=$((SECONDS + 90))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(http_status "http://127.0.0.1:${port[$s]}/health/ready")" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "---- $s log ----" >&2; tail -n 40 "$workdir/$s.log" >&2
      die "$s exited before it was ready"
    fi
    sleep 0.5
  done
  echo "---- $s log ----" >&2; tail -n 40 "$workdir/$s.log" >&2
  die "$s was not ready within 90s"
}

# SIGTERM, as the kubelet sends it; the service must log its graceful shutdown and exit in time.
stop_and_check() {
  local s=$1 pid=$2 deadline=$((SECONDS + 25))
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$s did not stop within 25s of SIGTERM"
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
  grep -q '"shutdown complete"\|shutdown complete' "$workdir/$s.log" || { tail -n 20 "$workdir/$s.log" >&2; die "$s stopped without a graceful shutdown"; }
  if grep -q 'graceful shutdown timed out\|second signal' "$workdir/$s.log"; then die "$s: shutdown was not clean"; fi
  say "$s stopped cleanly on SIGTERM"
}

# The environment of one service, as local mode gives it (scripts/local-shop.ts), into env_args.
env_args=()
env_of() {
  local s=$1 keys=$2 entry
  env_args=(HOST=127.0.0.1 "PORT=${port[$s]}" LOG_LEVEL=info
    "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port" "OTEL_SERVICE_NAME=$s")
  if [ -n "${metrics_port[$s]:-}" ]; then env_args+=("METRICS_PORT=${metrics_port[$s]}"); fi
  for entry in ${calls[$s]}; do env_args+=("${entry%%=*}=http://127.0.0.1:${port[${entry#*=}]}"); done
  for entry in ${secrets[$s]}; do
    case ${entry#*=} in
      database) env_args+=("${entry%%=*}=$(database_url "$s")") ;;
      broker) env_args+=("${entry%%=*}=$amqp_url") ;;
      # the PEMs keep their real newlines, as a Secret mounted through secretKeyRef gives them
      tokenPrivateKey) env_args+=("${entry%%=*}=$(cat "$keys/private.pem")") ;;
      tokenPublicKey) env_args+=("${entry%%=*}=$(cat "$keys/public.pem")") ;;
      *) die "topology.json: unknown secret ${entry#*=} of $s" ;;
    esac
  done
  case $s in
    payment) env_args+=(PAYMENT_LATENCY_MS=100) ;;
    email) env_args+=("SMTP_URL=smtp://127.0.0.1:$mail_smtp_port" EMAIL_LATENCY_MS=100) ;;
  esac
}

# An Ed25519 key pair in a directory, as the cluster's scaleshop-jwt Secret holds.
make_keys() {
  node -e '
    const { generateKeyPairSync } = require("node:crypto"); const fs = require("node:fs");
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    fs.writeFileSync(process.argv[1] + "/private.pem", privateKey.export({ type: "pkcs8", format: "pem" }));
    fs.writeFileSync(process.argv[1] + "/public.pem", publicKey.export({ type: "spki", format: "pem" }));' "$1"
}

# What env_of gives one service, for the tests to load with the service's own configuration spec.
print_env() {
  [ $# -eq 1 ] || die "env takes one service"
  workdir=$(mktemp -d)
  trap cleanup EXIT
  make_keys "$workdir"
  amqp_url=$rabbitmq_url
  env_of "$1" "$workdir"
  printf '%s\0' "${env_args[@]}"
}

database_url() {
  node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' \
    "$postgres_url" "scaleshop_smoke_$1"
}

json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=process.argv[1].split(".").reduce((o,k)=>o?.[k],JSON.parse(s));console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }

# The whole shop through the gateway: what `tilt up` users do first.
exercise_shop() {
  local g="http://127.0.0.1:${port[gateway]}" email="smoke-$$-$RANDOM@example.com" token order status
  [ "$(http_status "$g/health")" = 200 ] || die "gateway /health is not 200: $(curl -s "$g/health")"
  say "gateway /health: every service ready"
  [ "$(http_status -X POST "$g/api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"a-long-password\",\"name\":\"Smoke\"}")" = 201 ] || die "register did not answer 201"
  token=$(curl -s -X POST "$g/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"a-long-password\"}" | json_field access_token)
  [ -n "$token" ] && [ "$token" != undefined ] || die "login gave no token"
  [ "$(http_status "$g/api/auth/me" -H "authorization: Bearer $token")" = 200 ] || die "/api/auth/me did not answer 200"
  say "register, login (argon2id in the user image) and /api/auth/me (JWT checked by the gateway): ok"
  [ "$(curl -s "$g/api/products?limit=1" | json_field total)" -gt 0 ] || die "the catalog is empty"
  [ "$(http_status -X POST "$g/api/cart/items" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"product_id":1,"quantity":1}')" = 201 ] || die "adding to the cart did not answer 201"
  order=$(curl -s -X POST "$g/api/orders/checkout" -H "authorization: Bearer $token" | json_field id)
  [ -n "$order" ] && [ "$order" != undefined ] || die "checkout gave no order"
  local deadline=$((SECONDS + 60))
  while :; do
    status=$(curl -s "$g/api/orders/$order" -H "authorization: Bearer $token" | json_field status)
    [ "$status" = completed ] && break
    [ $SECONDS -lt $deadline ] || die "order $order is '$status', not completed, after 60s"
    sleep 0.5
  done
  local mails
  mails=$(curl -s "http://127.0.0.1:$mail_http_port/api/messages")
  [[ $mails == *"$email"* ]] || die "no confirmation email to $email caught"
  say "checkout: order $order completed through RabbitMQ (product, payment, email, order) and its email was sent"
}

smoke() {
  mapfile -t services < <(services_from_args "$@")
  local together=false
  [ $# -eq 0 ] && together=true
  command -v curl >/dev/null || die "smoke needs curl"
  command -v node >/dev/null || die "smoke needs node on the PATH (any version)"
  command -v psql >/dev/null || die "smoke needs psql to create the throwaway databases"

  workdir=$(mktemp -d)
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  make_keys "$workdir"

  for s in "${services[@]}"; do
    if [[ " ${secrets[$s]} " == *"=database "* ]]; then
      local db="scaleshop_smoke_$s"
      PGOPTIONS=--client-min-messages=warning psql -q "$postgres_url" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
      PGOPTIONS=--client-min-messages=warning psql -q "$postgres_url" -c "CREATE DATABASE \"$db\"" >/dev/null
      databases+=("$db")
    fi
  done
  amqp_url=$rabbitmq_url
  if command -v rabbitmqctl >/dev/null 2>&1; then
    vhost="scaleshop-smoke-$$"
    rabbitmqctl -q add_vhost "$vhost" >/dev/null
    local amqp_user
    amqp_user=$(node -e 'console.log(decodeURIComponent(new URL(process.argv[1]).username || "guest"))' "$rabbitmq_url")
    rabbitmqctl -q set_permissions -p "$vhost" "$amqp_user" '.*' '.*' '.*' >/dev/null
    amqp_url="${rabbitmq_url%/}/$vhost"
  else
    say "no rabbitmqctl: using $rabbitmq_url as it is"
  fi

  # A stand-in OTLP/HTTP receiver: it records which services exported spans.
  node -e '
    const http = require("node:http"), fs = require("node:fs");
    http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c)).on("end", () => {
        const text = Buffer.concat(chunks).toString("latin1").replace(/[^\x20-\x7e]+/g, " ");
        fs.appendFileSync(process.argv[1], `${req.method} ${req.url} ${text}\n`);
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    }).listen(Number(process.argv[2]), "127.0.0.1");' "$workdir/otlp.log" "$sink_port" &
  pids+=($!)

  if $together; then
    if [ -x node_modules/.bin/node ] && [ -d node_modules/smtp-server ]; then
      MAIL_CATCHER_SMTP_PORT=$mail_smtp_port MAIL_CATCHER_HTTP_PORT=$mail_http_port \
        node_modules/.bin/node scripts/mail-catcher.ts >"$workdir/mail.log" 2>&1 &
      pids+=($!)
    else
      die "smoke of the whole shop needs the repository's dev dependencies (npm ci) for its mail catcher"
    fi
  fi

  declare -A pid_of=()
  for s in "${services[@]}"; do
    env_of "$s" "$workdir"
    start_image "$(image_of "$s")" "$workdir/$s.log" "${env_args[@]}"
    pid_of[$s]=$!
    pids+=($!)
    if ! $together; then
      wait_ready "$s" "${pid_of[$s]}"
      say "$s: /health/ready 200"
      [ "$(http_status "http://127.0.0.1:${port[$s]}/no-such-route")" = 404 ] || die "$s: unknown route did not answer 404"
      stop_and_check "$s" "${pid_of[$s]}"
    fi
  done

  if $together; then
    for s in "${services[@]}"; do wait_ready "$s" "${pid_of[$s]}"; say "$s: /health/ready 200"; done
    exercise_shop
    for s in "${services[@]}"; do stop_and_check "$s" "${pid_of[$s]}"; done
  fi

  # The SDK flushes on shutdown, so every exported span has arrived by now.
  local exported=()
  for s in "${services[@]}"; do
    grep -Eq "^POST /v1/traces .*service\\.name $s " "$workdir/otlp.log" 2>/dev/null && exported+=("$s")
  done
  if $together; then
    [ ${#exported[@]} -gt 0 ] || die "no service exported any span: telemetry is not registered"
    for s in "${services[@]}"; do
      [[ " ${exported[*]} " == *" $s "* ]] || die "$s exported no span during the walk through the shop"
    done
  fi
  say "traces exported over OTLP by: ${exported[*]:-none (a lone service gets no traced request)}"
  say "smoke passed: ${services[*]}"
}

command=${1:-all}
[ $# -gt 0 ] && shift
services_from_args "$@" >/dev/null   # an unknown service stops here, not inside a pipeline
case $command in build|smoke|sizes|all) builder=$(pick_builder) ;; esac
case $command in
  build) build "$@" ;;
  smoke) smoke "$@" ;;
  sizes) sizes "$@" ;;
  all) build "$@"; smoke "$@" ;;
  env) print_env "$@" ;;
  -h|--help|help) sed -n '2,27p' "$0" ;;
  *) die "unknown command '$command' (build, smoke, sizes, all)" ;;
esac
