# The runbook's worker and API image: built once (docker-compose.yml builds it for the worker, the API runs the same
# image). Node.js 24 (Active LTS). Site configuration is not in the image: it is mounted read-only at run time.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# Compile, bundle the workflows once (the worker loads dist/workflow-bundle.js: no webpack at start), drop dev deps.
RUN npm run build && node dist/scripts/bundle-workflows.js dist/workflow-bundle.js && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# Where the volumes mount: created here owned by the image user, so a fresh named volume starts writable by it.
RUN install -d -o node -g node /var/lib/runbook/backups /var/lib/runbook/reports
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
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
# First-run and admin commands work in the image (compiled JS, no tsx):
#   node dist/scripts/register-target.js <your-name>      注册目标库
#   node dist/scripts/issue-token.js <user> <role>        the first admin token
CMD ["node", "dist/api/main.js"]
