# One image per service, from one Dockerfile:
#
#   docker build --build-arg SERVICE=order -t scaleshop/order .              # production (default target)
#   docker build --build-arg SERVICE=order --target dev -t scaleshop/order .  # what Tilt builds
#   docker build --build-arg SERVICE=storefront --build-arg WEB=build -t scaleshop/storefront .
#   docker build --target operator -t scaleshop/operator .                     # the operator
#   docker build --target operator-dev -t scaleshop/operator .                 # what Tilt builds
#
# SERVICE is one of gateway, order, payment, email, product, user, cart, storefront; the operator
# needs none.
#
# Nothing here is architecture-specific: the base image is multi-arch, tini comes from
# Debian's archive for the build's own architecture, and the only native addon (argon2, in
# the user service) ships prebuilds for linux x64 and arm64 (glibc). So the same command
# builds on amd64 and on arm64 laptops.
#
# The base is pinned by tag. Follow-up: pin it by digest as well
# (node:24-bookworm-slim@sha256:...), and let Renovate/Dependabot move the digest.
ARG NODE_IMAGE=node:24-bookworm-slim
# `build` for the storefront, whose image holds its static build (the web-build stage); the other
# services leave it at `none` and never touch the storefront's files (Tilt sends each image only
# its own service's folder).
ARG WEB=none

# ---------------------------------------------------------------------------------------------
# base: Node 24 on Debian, tini as PID 1, and the numeric non-root user 10001.
FROM ${NODE_IMAGE} AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --gid 10001 scaleshop \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin scaleshop
WORKDIR /app

# ---------------------------------------------------------------------------------------------
# deps: production dependencies of one service and of the platform workspace it depends on.
# Only the manifests are copied, so this layer is rebuilt only when they change.
FROM base AS deps
ARG SERVICE
RUN case "${SERVICE}" in \
      gateway|order|payment|email|product|user|cart|storefront) ;; \
      *) echo "build with --build-arg SERVICE=<gateway|order|payment|email|product|user|cart|storefront>, got '${SERVICE}'" >&2; exit 1 ;; \
    esac
COPY package.json package-lock.json ./
COPY services/platform/package.json services/platform/
COPY services/${SERVICE}/package.json services/${SERVICE}/
# --workspace: only this service's dependency tree (the platform workspace comes with it, as a
# dependency); --include-workspace-root=false: none of the root package's own dependencies
# (its devDependency `node`, TypeScript, the test tools); --omit=dev: no devDependencies.
# Then the checks that the root's `node` binary stayed out and the platform is linked, and
# the removal of what Node never loads at run time: source maps and type declarations
# (about half of node_modules, most of it in the OpenTelemetry packages).
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --workspace "services/${SERVICE}" --include-workspace-root=false \
      --no-audit --no-fund --loglevel=warn \
 && test ! -e node_modules/node && test ! -e node_modules/typescript \
 && test -L node_modules/@scaleshop/platform \
 && find node_modules -type f \( -name '*.js.map' -o -name '*.mjs.map' -o -name '*.cjs.map' \
      -o -name '*.ts.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# ---------------------------------------------------------------------------------------------
# web: the storefront's static build (WEB=build), which needs its devDependencies (Vite, React)
# only to be made; or an empty folder for every other service (WEB=none). Every image copies it.
FROM base AS web-build
ARG SERVICE
RUN [ "${SERVICE}" = storefront ] || { echo "WEB=build is for SERVICE=storefront only" >&2; exit 1; }
COPY package.json package-lock.json ./
COPY services/platform/package.json services/platform/
COPY services/storefront/package.json services/storefront/
COPY services/storefront/web services/storefront/web
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --workspace services/storefront --include-workspace-root=false --no-audit --no-fund --loglevel=warn \
 && npm run build --workspace services/storefront

FROM base AS web-none
ARG SERVICE
RUN [ "${SERVICE}" != storefront ] || { echo "build the storefront with --build-arg WEB=build" >&2; exit 1; } \
 && mkdir -p services/storefront/dist node_modules

FROM web-${WEB} AS web

# ---------------------------------------------------------------------------------------------
# The operator (services/operator): the one image that needs the cdk8s constructs (cdk8s/)
# beside the platform, and, for a ScalingExperiment, the local experiments' code that reads k6
# summaries and fits the USL. Targets operator-dev (Tilt) and operator (production); they come
# before dev and runtime so that runtime stays the default target.
FROM base AS operator-deps
COPY package.json package-lock.json ./
COPY services/platform/package.json services/platform/
COPY cdk8s/package.json cdk8s/
COPY services/operator/package.json services/operator/
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --workspace services/operator --include-workspace-root=false \
      --no-audit --no-fund --loglevel=warn \
 && test ! -e node_modules/node && test ! -e node_modules/typescript \
 && test -L node_modules/@scaleshop/platform && test -L node_modules/@scaleshop/cdk8s

# operator-dev: what `tilt up -- --operator` runs, restarted by `node --watch` on live update.
FROM base AS operator-dev
ENV NODE_ENV=development
COPY --from=operator-deps /app/ ./
COPY --chown=10001:10001 services/platform/src services/platform/src
COPY --chown=10001:10001 cdk8s/src cdk8s/src
COPY --chown=10001:10001 services/operator/src services/operator/src
COPY --chown=10001:10001 loadtests/lib loadtests/lib
COPY --chown=10001:10001 scripts/scaling scripts/scaling
USER 10001
WORKDIR /app/services/operator
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--watch", "--watch-preserve-output", "--max-semi-space-size=4", "src/main.ts"]

# operator: production; the files belong to root, the process runs as 10001.
FROM base AS operator
ENV NODE_ENV=production
COPY --from=operator-deps /app/ ./
COPY services/platform/src services/platform/src
COPY cdk8s/src cdk8s/src
COPY services/operator/src services/operator/src
COPY loadtests/lib loadtests/lib
COPY scripts/scaling scripts/scaling
# The compile cache and node flags of the services (see the runtime stage below).
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir /app/.compile-cache && chown 10001:10001 /app/.compile-cache
USER 10001
WORKDIR /app/services/operator
RUN PORT=fill-compile-cache node src/main.ts >/dev/null 2>&1; test -n "$(ls -A /app/.compile-cache)"
USER root
RUN chown -R root:root /app/.compile-cache && chmod -R a+rX,go-w /app/.compile-cache
USER 10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=4", "src/main.ts"]

# ---------------------------------------------------------------------------------------------
# dev: what Tilt runs. The same files, but the sources belong to the app user so that live
# update can write them, and `node --watch` restarts the service when the Tiltfile's live update
# copies an edit over a file it loaded (in place: see the Tiltfile for why not a plain sync).
# SIGTERM reaches the service through tini and the watcher, so shutdown stays graceful.
# The storefront's also keeps what builds its pages: the web stage's node_modules (Vite and React
# on top of the production dependencies) and its web sources, so that live update rebuilds the
# pages in the container. For every other service the web stage adds an empty dist only.
FROM base AS dev
ARG SERVICE
ENV NODE_ENV=development
COPY --from=deps /app/ ./
COPY --from=web /app/node_modules node_modules
COPY --chown=10001:10001 services/platform/src services/platform/src
COPY --chown=10001:10001 services/${SERVICE}/src services/${SERVICE}/src
COPY --from=web --chown=10001:10001 /app/services/storefront/ services/${SERVICE}/
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir /app/.compile-cache && chown 10001:10001 /app/.compile-cache
USER 10001
WORKDIR /app/services/${SERVICE}
# See the runtime stage: the compile cache filled at build time (a file live update changes is
# stripped again when it loads, and cached beside the others: this folder stays the app user's).
RUN PORT=fill-compile-cache node --import @scaleshop/platform/telemetry src/main.ts >/dev/null 2>&1; \
    PORT=fill-compile-cache OTEL_EXPORTER_OTLP_ENDPOINT=fill-compile-cache node --import @scaleshop/platform/telemetry src/main.ts >/dev/null 2>&1; \
    test -n "$(ls -A /app/.compile-cache)"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--watch", "--watch-preserve-output", "--max-semi-space-size=4", "--import", "@scaleshop/platform/telemetry", "src/main.ts"]

# ---------------------------------------------------------------------------------------------
# runtime (default): production. Everything belongs to root and is only readable by the app
# user, which runs as 10001 (numeric, so that kubelet can verify runAsNonRoot).
FROM base AS runtime
ARG SERVICE
ENV NODE_ENV=production
COPY --from=deps /app/ ./
COPY services/platform/src services/platform/src
COPY services/${SERVICE}/src services/${SERVICE}/src
COPY --from=web /app/services/storefront/dist services/${SERVICE}/dist
# The compile cache (services/platform/src/node-runtime.ts): every module stripped of its types
# and compiled once here, so that no replica loads Node's type stripper (~18 MiB each). Node
# keeps a cache per user id, so it is filled as the app user: two starts stopped at the
# configuration check (PORT is not a number), once without tracing and once with it (its
# modules load only then), after every module has been loaded. Then it is root's, and read-only.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir /app/.compile-cache && chown 10001:10001 /app/.compile-cache
USER 10001
# The working directory names the service, so the command needs no variable: exec form,
# tini as PID 1 forwarding signals to node, node handling SIGTERM itself.
WORKDIR /app/services/${SERVICE}
RUN PORT=fill-compile-cache node --import @scaleshop/platform/telemetry src/main.ts >/dev/null 2>&1; \
    PORT=fill-compile-cache OTEL_EXPORTER_OTLP_ENDPOINT=fill-compile-cache node --import @scaleshop/platform/telemetry src/main.ts >/dev/null 2>&1; \
    test -n "$(ls -A /app/.compile-cache)"
USER root
RUN chown -R root:root /app/.compile-cache && chmod -R a+rX,go-w /app/.compile-cache
USER 10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=4", "--import", "@scaleshop/platform/telemetry", "src/main.ts"]
