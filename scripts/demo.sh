#!/usr/bin/env bash
# npm run demo: a full rehearsal cutover on the bundled demo data, visible in the Temporal Web UI.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci
bash scripts/pg-ensure.sh
bash scripts/temporal-dev.sh start
exec node --import tsx scripts/demo.ts "$@"
