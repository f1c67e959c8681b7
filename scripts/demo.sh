#!/usr/bin/env bash
# npm run demo: a full rehearsal cutover on the bundled demo data, visible in the Temporal Web UI.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci
# The same set-up as npm test: nginx and redis-server (Debian packages, when missing and root),
# PostgreSQL, Redis (the in-memory database), the Temporal dev server.
bash scripts/test-setup.sh
exec node --import tsx scripts/demo.ts "$@"
