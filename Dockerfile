# Chartkeeper: FHIR R4 health records service.
#   docker build -t chartkeeper .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://user:pass@db:5432/chartkeeper -e SIGNING_KEY=... chartkeeper
# DATABASE_URL is expected (migrations run on start; no demo data is loaded there). Without it the service
# falls back to the embedded PGlite in /data, which is for trying it out only. SIGNING_KEY (base64 or hex)
# should be set so tokens survive restarts and are shared by every instance; otherwise a key is generated
# into /data on first start.

ARG NODE_IMAGE=node:20-bookworm-slim

# Build: dev dependencies (TypeScript) and the compiled dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY fixtures ./fixtures
COPY ccda-templates ./ccda-templates
COPY fhir-profiles ./fhir-profiles
RUN npm run build

# Production dependencies only, installed apart so the runtime image carries no compiler or test tools.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
# Everything is owned by root and read-only to the service user; only /data is writable.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
# Slim images have no curl: probe /healthz with node itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# node runs as PID 1 and handles SIGTERM itself (graceful shutdown: finish in-flight requests, close the pool).
# Its flags: see src/server-node-flags.ts.
CMD ["node", "--max-semi-space-size=64", "--min-semi-space-size=64", "dist/src/cli/main.js", "serve"]
