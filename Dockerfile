# syntax=docker/dockerfile:1
# The dashboards API: one process serving GraphQL (HTTP, WebSocket, SSE), REST, /metrics,
# /healthz, /readyz and the built web UI on one port.
#   docker build -t dashboards-api .
#   docker run -p 4000:4000 -e DATABASE_URL=... -e REDIS_URL=... dashboards-api
# The server runs its TypeScript through tsx (a production dependency): there is no compile
# step for api/ and core/, only the web UI is built.

ARG NODE_IMAGE=node:20.20-bookworm-slim

# 1. Build the web UI with the dev dependencies (vite and its plugins).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# core/ is an npm workspace (@collab-dashboards/core): npm ci links it by its manifest.
COPY core/package.json ./core/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN mkdir -p web/dist && if [ -f web/index.html ]; then npm run build:web; fi

# 2. Production dependencies only, on their own so the runtime stage copies a clean tree.
#    Install scripts are skipped (npm 11 does so by default too): esbuild, the only
#    production package with one, gets its platform binary from an optional dependency.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY core/package.json ./core/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# 3. Runtime: no npm cache, no dev dependencies, no sources other than the server's; files
#    owned by root and read-only to the app user; only /data (PGlite, when no DATABASE_URL)
#    and /tmp (tsx's transform cache) are written.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=4000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data \
    WEB_DIST=/app/web/dist
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY api ./api
COPY core ./core
COPY --from=build /app/web/dist ./web/dist
# Numeric user (node = 1000) so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
EXPOSE 4000
# main.ts stops gracefully on SIGTERM: /readyz turns 503, sockets close with 1001, queued
# commits finish. Give it the time (docker stop -t 30, terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM/SIGINT itself (api/src/main.ts); no npm wrapper, which
# would not forward signals.
CMD ["node", "--import", "tsx", "api/src/main.ts"]
