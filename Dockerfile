# One image per service, each from a pruned workspace with production dependencies only:
#
#   docker build --target gateway        -t realtime-voice-gateway .
#   docker build --target session-worker -t realtime-voice-session-worker .
#   docker build --target status-api     -t realtime-voice-status-api .
#   docker build --target demo-web       -t realtime-voice-demo-web .
#   docker build --target client         -t realtime-voice-client .     (the CLI client: `docker run … --text hi`)
#
# `npm run images` (scripts/images.mjs) builds all five with docker or podman and the chart's appVersion as tag.
#
# BASE_IMAGE is any Debian-based image with Node and npm on the PATH and a user 1000: the official
# node:20-bookworm-slim, or, where no public registry is reachable, the one deploy/images/base.sh builds
# (debootstrap + Node from npm). glibc, not musl: the uWebSockets.js binaries the gateway loads are built
# against glibc, so an Alpine base fails at run time. docs/deploy.md ("Using the official uWebSockets.js
# build") says how to swap that build.
#
# No `# syntax=` line: BuildKit would pull that frontend from Docker Hub, which fails where no public registry is
# reachable; the frontend built into Docker 20.10 and later (and buildah's parser) has everything used here
# (RUN --mount=type=secret).
#
# Behind a TLS-intercepting proxy, pass its CA bundle as the build secret `ca` (never stored in a layer):
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt …
# Every npm step trusts it when it is given and runs as before when it is not.

ARG BASE_IMAGE=node:20-bookworm-slim

# ---- prune: per package, only the workspace packages it depends on and the matching lockfile subset -----
FROM ${BASE_IMAGE} AS prune
ARG TURBO_VERSION=2.11.11
WORKDIR /repo
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm install --global --no-audit --no-fund "turbo@${TURBO_VERSION}"
COPY . .
# json/ holds package.json files + pruned lockfile (the install layer), full/ the sources.
# cli-client is a library package, not a service, but pruned and built the same way for the client image.
RUN turbo prune @rtv/gateway @rtv/session-worker @rtv/status-api @rtv/demo-web @rtv/cli-client \
      --docker --out-dir /pruned/all \
 && for svc in gateway session-worker status-api demo-web cli-client; do \
      turbo prune "@rtv/${svc}" --docker --out-dir "/pruned/${svc}"; \
    done

# ---- build: compile the packages and the libs they use (tsc, emitting dist/) -------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /repo
# Install scripts stay off everywhere: every native module used here ships prebuilt binaries.
COPY --from=prune /pruned/all/json/ ./
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY --from=prune /pruned/all/full/ ./
COPY tsconfig.base.json ./
RUN npx turbo run build --filter=@rtv/gateway --filter=@rtv/session-worker --filter=@rtv/status-api \
      --filter=@rtv/demo-web --filter=@rtv/cli-client \
 && mkdir /dist \
 && for pkg in libs/* services/*; do \
      if [ -d "${pkg}/dist" ]; then mkdir -p "/dist/${pkg}" && cp -a "${pkg}/dist" "/dist/${pkg}/"; fi; \
    done

# ---- runtime base: tini as PID 1 (signals forwarded, zombies reaped), non-root ---------------------------
FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
LABEL org.opencontainers.image.title="realtime-voice" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/bin/tini", "--"]

# ---- per-package production installs: pruned package.json files, lockfile, dist/ of each package --------
# Files stay owned by root: the service user can read but not change its own code. A package without a
# services/ folder (the client) leaves the glob unexpanded, hence the -d test.
FROM ${BASE_IMAGE} AS gateway-app
WORKDIR /app
COPY --from=prune /pruned/gateway/json/ ./
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do \
      if [ -d "${pkg}" ]; then cp -a "/tmp/dist/${pkg}/dist" "${pkg}/" || exit 1; fi; \
    done \
 && rm -rf /tmp/dist

FROM ${BASE_IMAGE} AS session-worker-app
WORKDIR /app
COPY --from=prune /pruned/session-worker/json/ ./
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do \
      if [ -d "${pkg}" ]; then cp -a "/tmp/dist/${pkg}/dist" "${pkg}/" || exit 1; fi; \
    done \
 && rm -rf /tmp/dist

FROM ${BASE_IMAGE} AS status-api-app
WORKDIR /app
COPY --from=prune /pruned/status-api/json/ ./
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do \
      if [ -d "${pkg}" ]; then cp -a "/tmp/dist/${pkg}/dist" "${pkg}/" || exit 1; fi; \
    done \
 && rm -rf /tmp/dist

# The demo server bundles its page with esbuild when it starts, from TypeScript sources: the page files next
# to its compiled build.js (dist/page) and the libraries' src/ (esbuild resolves them by their "source"
# export condition). So this image keeps the sources the others leave out.
FROM ${BASE_IMAGE} AS demo-web-app
WORKDIR /app
COPY --from=prune /pruned/demo-web/json/ ./
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=prune /pruned/demo-web/full/ ./
COPY tsconfig.base.json ./
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do \
      if [ -d "${pkg}" ]; then cp -a "/tmp/dist/${pkg}/dist" "${pkg}/" || exit 1; fi; \
    done \
 && rm -rf /tmp/dist \
 && rm -rf services/demo-web/dist/page && cp -a services/demo-web/src/page services/demo-web/dist/page

FROM ${BASE_IMAGE} AS client-app
WORKDIR /app
COPY --from=prune /pruned/cli-client/json/ ./
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do \
      if [ -d "${pkg}" ]; then cp -a "/tmp/dist/${pkg}/dist" "${pkg}/" || exit 1; fi; \
    done \
 && rm -rf /tmp/dist

# ---- targets ----------------------------------------------------------------------------------------------
# HEALTHCHECK asks /readyz (Redis connected, not draining) so compose's depends_on waits for real readiness.
# The images carry no curl: Node's fetch does the probe, honouring a port moved by the service's variable.

FROM runtime AS gateway
COPY --from=gateway-app /app/ ./
USER 1000:1000
EXPOSE 8000 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.RTV_GATEWAY_ADMIN_PORT||9100)+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "services/gateway/dist/main.js"]

FROM runtime AS session-worker
COPY --from=session-worker-app /app/ ./
USER 1000:1000
EXPOSE 9200
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.RTV_WORKER_ADMIN_PORT||9200)+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "services/session-worker/dist/main.js"]

FROM runtime AS status-api
COPY --from=status-api-app /app/ ./
USER 1000:1000
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.RTV_STATUS_PORT||8090)+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "services/status-api/dist/main.js"]

# The page's gateway address is the one a browser reaches: set RTV_DEMO_GATEWAY_URL when it is not
# ws://localhost:8000/api/v1/streaming/realtime.
FROM runtime AS demo-web
COPY --from=demo-web-app /app/ ./
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.RTV_DEMO_PORT||8080)+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "services/demo-web/dist/main.js"]

# The CLI client as the entry point, so the container's arguments are its flags (a `helm test` Pod's args):
#   docker run --rm realtime-voice-client --url ws://gateway:8000/api/v1/streaming/realtime/probe --text hi
FROM runtime AS client
COPY --from=client-app /app/ ./
USER 1000:1000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "libs/cli-client/dist/main.js"]
CMD ["--help"]
