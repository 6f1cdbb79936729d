# One image per service, from one Dockerfile:
#   docker build --build-arg SERVICE=catalog -t bazaar/catalog:dev .
# SERVICE is catalog, inventory, orders, payments, notifications or gateway.
# docker-compose.yml builds all six; the build stage is identical for each, so
# BuildKit runs `npm ci`, `npm run gen` and `npm run build` once and reuses it.

# ---- build: the same npm scripts CI runs, so the image can't hold code the tests didn't build
FROM node:24-bookworm-slim AS build
WORKDIR /src
# Manifests first: the `npm ci` layer stays cached until a dependency changes.
# One line per workspace (test/deploy/dockerfile.test.ts fails if a service is missing here).
COPY package.json package-lock.json .npmrc ./
COPY gen/package.json gen/
COPY lib/package.json lib/
COPY shop/package.json shop/
COPY services/catalog/package.json services/catalog/
COPY services/console/package.json services/console/
COPY services/gateway/package.json services/gateway/
COPY services/inventory/package.json services/inventory/
COPY services/notifications/package.json services/notifications/
COPY services/orders/package.json services/orders/
COPY services/payments/package.json services/payments/
RUN npm ci --no-audit --no-fund
COPY . .
# buf comes from npm (@bufbuild/buf) and the ts-proto plugin from node_modules: no protoc.
RUN npm run gen && npm run build

# ---- prod-deps: production dependencies only (no TypeScript, buf, vitest or tsx at run time), and no
# optional ones: those are the PostgreSQL binaries `make up` runs, while a container reaches a server
# through DATABASE_URL.
FROM node:24-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY gen/package.json gen/
COPY lib/package.json lib/
COPY shop/package.json shop/
COPY services/catalog/package.json services/catalog/
COPY services/console/package.json services/console/
COPY services/gateway/package.json services/gateway/
COPY services/inventory/package.json services/inventory/
COPY services/notifications/package.json services/notifications/
COPY services/orders/package.json services/orders/
COPY services/payments/package.json services/payments/
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---- assemble: only what runs, laid out as in the repository so every relative path
# (migrations next to dist/, @bazaar/* workspace links in node_modules, the default
# AUTHZ_POLICY_FILE lib/dist/security/ -> ../../../deploy/authz-policy.yaml) still resolves.
# No certificates: they are mounted at run time (TLS_DIR), never baked into an image.
FROM build AS assemble
ARG SERVICE
RUN test -n "$SERVICE" && test -f "services/$SERVICE/package.json" \
      || { echo "build with --build-arg SERVICE=<catalog|inventory|orders|payments|notifications|gateway|console>" >&2; exit 1; }
RUN mkdir -p /out/gen /out/lib /out/services/$SERVICE /out/scripts /out/deploy \
 && cp package.json /out/ \
 && cp -r gen/package.json gen/dist gen/descriptors.binpb /out/gen/ \
 && cp -r lib/package.json lib/dist lib/migrations /out/lib/ \
 && mkdir -p /out/shop && cp -r shop/package.json shop/dist /out/shop/ \
 && cp -r services/$SERVICE/package.json services/$SERVICE/dist /out/services/$SERVICE/ \
 && if [ -d services/$SERVICE/migrations ]; then cp -r services/$SERVICE/migrations /out/services/$SERVICE/; fi \
 && if [ -d services/$SERVICE/public ]; then cp -r services/$SERVICE/public /out/services/$SERVICE/; fi \
 && cp scripts/healthcheck.mjs /out/scripts/ \
 && cp deploy/authz-policy.yaml /out/deploy/

# ---- the image
FROM node:24-bookworm-slim
ARG SERVICE
# TLS_DIR: where compose and Kubernetes mount the CA and this service's certificate and key.
ENV NODE_ENV=production \
    SERVICE=${SERVICE} \
    TLS_DIR=/certs
COPY --from=prod-deps /src/node_modules /app/node_modules
COPY --from=assemble /out /app
WORKDIR /app/services/${SERVICE}
# The base image's "node" user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# Node is PID 1 and the services handle SIGTERM themselves: NOT_SERVING, drain
# in-flight calls for SHUTDOWN_GRACE_MS, exit 0. No shell, no init wrapper.
STOPSIGNAL SIGTERM
# GET /readyz on the plain HTTP admin port (ADMIN_ADDR; gRPC is mutual-TLS only): 200
# while gRPC health is SERVING. The gateway's /readyz on HTTP_ADDR.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/scripts/healthcheck.mjs"]
# The node flags are lib/src/process.ts's SERVICE_NODE_FLAGS (8 MB semi-spaces, which an idle
# service gives back: lib/src/idle-memory.ts), as `make up` starts them.
# dist/main.bundle.js: the service and everything it imports in one file (scripts/bundle.ts), which
# starts sooner than dist/main.js and its ~730 modules (bench/analysis.md); NODE_OPTIONS=--enable-source-maps maps its stack traces.
CMD ["node", "--max-semi-space-size=8", "dist/main.bundle.js"]
