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
# Thick mode, for an Oracle 11g legacy (Thin mode refuses servers before 12.1: NJS-138) or a national
# character set other than AL16UTF16 (NJS-100). Oracle Instant Client cannot be redistributed: download
# the Basic Light zip for Linux x64 from oracle.com (accepting its license), put it beside this Dockerfile
# and build with
#   docker build --build-arg ORACLE_INSTANT_CLIENT_ZIP=instantclient-basiclite-linux.x64-19.25.0.0.0dbru.zip .
# then run the worker with ORACLE_CLIENT_LIB_DIR=/opt/oracle/instantclient (the preflight says which mode it
# needs). Without the build arg nothing is added (the COPY falls back to this Dockerfile, which is removed).
ARG ORACLE_INSTANT_CLIENT_ZIP=
COPY ${ORACLE_INSTANT_CLIENT_ZIP:-Dockerfile} /tmp/instantclient/
RUN if [ -n "$ORACLE_INSTANT_CLIENT_ZIP" ]; then \
      apt-get update && apt-get install -y --no-install-recommends unzip libaio1 && rm -rf /var/lib/apt/lists/* && \
      mkdir -p /opt/oracle && unzip -q /tmp/instantclient/*.zip -d /opt/oracle && \
      mv /opt/oracle/instantclient_* /opt/oracle/instantclient && \
      echo /opt/oracle/instantclient > /etc/ld.so.conf.d/oracle-instantclient.conf && ldconfig; \
    fi && rm -rf /tmp/instantclient
USER node
