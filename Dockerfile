# syntax=docker/dockerfile:1
# mcp-sigv4-extproc: multi-stage build, production dependencies only, non-root.
#
# test/packaging/runtimeStage.test.ts parses this file and runs the runtime stage's steps outside
# Docker (COPY, the production `npm ci`, ENTRYPOINT as USER, HEALTHCHECK, SIGTERM): keep the
# instructions in the forms it understands, or teach it the new ones.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the build only needs tsc; no dependency's install script is required
# (the only one in the lockfile, protobufjs's postinstall, just prints a version warning).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (the test checks that no devDependency is installed). Scripts are
# skipped for the same reason as above; the test fails if a production dependency gains one.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The server loads the .proto files at start-up (dist/protocol → ../../proto).
COPY proto ./proto
# Everything above is owned by root and only readable by the runtime user: the process cannot
# change its own code. Numeric uid:gid of the image's `node` user, so that Kubernetes
# `runAsNonRoot` can verify it without a pod-level runAsUser.
USER 1000:1000
# 50051: gRPC (ext_proc + grpc.health.v1); 9090: HTTP /metrics, /healthz, /readyz
EXPOSE 50051 9090
# No init (tini) needed: node runs as PID 1, where the kernel ignores signals that have no
# handler, but main.ts installs SIGTERM/SIGINT handlers (drain, then exit 0), and the server
# starts no child processes that would need reaping. Heap sizing (NODE_OPTIONS) is left to the
# deployment, which knows the memory limit (see envoy/gateway/mcp-sigv4.yaml).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly, not npm or a shell: SIGTERM reaches the server itself.
ENTRYPOINT ["node", "dist/main.js"]
