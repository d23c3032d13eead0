# syntax=docker/dockerfile:1
# Herald's two images, from one build. From the repository root:
#   docker build --target edge -t herald-edge .
#   docker build --target operator -t herald-operator .
# The build stage compiles the TypeScript to JavaScript (`npm run build`: tsconfig.build.json, no
# test code); each image holds only that output and the runtime dependencies, and runs its own
# entrypoint with plain Node 24 (no tsx). The chart's pre-delete hook runs
# dist/operator/uninstall.js from the operator image. Runs as the unprivileged uid 1000 ("node"),
# or as whatever uid the cluster assigns (OpenShift's restricted SCC: files are root-owned and
# world-readable), with a read-only root filesystem (anything temporary goes to /tmp, an emptyDir
# in the operator's Deployment).

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY protocol protocol
COPY shared shared
COPY edge edge
COPY operator operator
# What `npm run build` runs (called directly: with --ignore-scripts the `node` package has no binary).
RUN node scripts/build.mjs && npm prune --omit=dev --ignore-scripts

# What both images share: the build's output, the runtime dependencies, the unprivileged user.
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules node_modules
COPY --from=build --chown=root:root /app/dist dist
USER 1000:1000

FROM runtime AS operator
EXPOSE 8081
CMD ["node", "dist/operator/main.js"]

# The last stage, so a plain `docker build .` builds the edge.
FROM runtime AS edge
# 8080: HTTP and WebSocket; 9464: /metrics (internal, never routed publicly).
EXPOSE 8080 9464
CMD ["node", "dist/edge/main.js"]
