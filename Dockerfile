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
USER node
# First-run and admin commands work in the image (compiled JS, no tsx):
#   node dist/scripts/register-target.js <your-name>      注册目标库
#   node dist/scripts/issue-token.js <user> <role>        the first admin token
CMD ["node", "dist/api/main.js"]
