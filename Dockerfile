# syntax=docker/dockerfile:1
#
# One image per service, each from a pruned workspace with production dependencies only:
#
#   docker build --target gateway        -t realtime-voice-gateway .
#   docker build --target session-worker -t realtime-voice-session-worker .
#   docker build --target status-api     -t realtime-voice-status-api .
#
# glibc, not musl: the uWebSockets.js binaries the gateway loads are built against glibc, so an Alpine base
# fails at run time. docs/deploy.md ("Using the official uWebSockets.js build") says how to swap that build.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- prune: per service, only the workspace packages it depends on and the matching lockfile subset -----
FROM ${NODE_IMAGE} AS prune
ARG TURBO_VERSION=2.11.11
WORKDIR /repo
RUN npm install --global --no-audit --no-fund "turbo@${TURBO_VERSION}"
COPY . .
# json/ holds package.json files + pruned lockfile (the install layer), full/ the sources.
RUN turbo prune @rtv/gateway @rtv/session-worker @rtv/status-api --docker --out-dir /pruned/all \
 && for svc in gateway session-worker status-api; do \
      turbo prune "@rtv/${svc}" --docker --out-dir "/pruned/${svc}"; \
    done

# ---- build: compile the three services and the libs they use (tsc, emitting dist/) ----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /repo
# Install scripts stay off everywhere: every native module used here ships prebuilt binaries.
COPY --from=prune /pruned/all/json/ ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY --from=prune /pruned/all/full/ ./
COPY tsconfig.base.json ./
RUN npx turbo run build --filter=@rtv/gateway --filter=@rtv/session-worker --filter=@rtv/status-api \
 && mkdir /dist \
 && for pkg in libs/* services/*; do \
      if [ -d "${pkg}/dist" ]; then mkdir -p "/dist/${pkg}" && cp -a "${pkg}/dist" "/dist/${pkg}/"; fi; \
    done

# ---- runtime base: tini as PID 1 (signals forwarded, zombies reaped), non-root ---------------------------
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
LABEL org.opencontainers.image.title="realtime-voice" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/bin/tini", "--"]

# ---- per-service production installs: pruned package.json files, lockfile, dist/ of each package --------
# Files stay owned by root: the service user can read but not change its own code.
FROM ${NODE_IMAGE} AS gateway-app
WORKDIR /app
COPY --from=prune /pruned/gateway/json/ ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do cp -a "/tmp/dist/${pkg}/dist" "${pkg}/"; done && rm -rf /tmp/dist

FROM ${NODE_IMAGE} AS session-worker-app
WORKDIR /app
COPY --from=prune /pruned/session-worker/json/ ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do cp -a "/tmp/dist/${pkg}/dist" "${pkg}/"; done && rm -rf /tmp/dist

FROM ${NODE_IMAGE} AS status-api-app
WORKDIR /app
COPY --from=prune /pruned/status-api/json/ ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /dist/ /tmp/dist/
RUN for pkg in libs/* services/*; do cp -a "/tmp/dist/${pkg}/dist" "${pkg}/"; done && rm -rf /tmp/dist

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
