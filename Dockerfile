# The runbook's worker and API image (docker-compose.yml runs it twice with different commands).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production MAPPING_FILE=/app/config/mapping.json PLAN_FILE=/app/config/plan.json \
    NETWORK_FLOWS_FILE=/app/config/network-flows.json CONNECTED_SYSTEMS_FILE=/app/config/connected-systems.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config
COPY package.json ./
USER node
