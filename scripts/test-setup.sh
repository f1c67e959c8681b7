#!/usr/bin/env bash
# npm test's own set-up (run as `pretest`): everything the integration tests need, on a fresh machine.
#   - Debian tools the tests drive for real: nginx (endpoint switch), redis-server (the in-memory database),
#     docker-compose, systemd-analyze and openssl (the deployment checks);
#     installed with apt-get when missing and we are root, otherwise ONE message naming them and the command.
#   - PostgreSQL on 127.0.0.1:5432 (scripts/pg-ensure.sh), Redis on REDIS_URL (default 127.0.0.1:6379,
#     started here under .data/redis when nothing answers), the Temporal dev server (scripts/temporal-dev.sh).
# Whatever this script starts keeps running for the next `npm test` (as the Temporal dev server does);
# scripts/test-setup.sh stop stops the Redis it started and removes the standby tests' replicas (.data/test-standby,
# which the standby test files otherwise keep for each other and for the next run).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
REDIS_HOSTPORT=${REDIS_URL#redis://}; REDIS_HOSTPORT=${REDIS_HOSTPORT#*@}; REDIS_HOSTPORT=${REDIS_HOSTPORT%%/*}
REDIS_HOST=${REDIS_HOSTPORT%%:*}; REDIS_PORT=${REDIS_HOSTPORT##*:}; [ "$REDIS_PORT" = "$REDIS_HOST" ] && REDIS_PORT=6379
REDIS_DIR=$REPO/.data/redis
log() { printf '[test-setup] %s\n' "$*" >&2; }

# Where tools are looked for: PATH plus the sbin directories a non-root PATH lacks (TEST_SETUP_TOOLS_PATH overrides, for tests of this script).
TOOLS_PATH=${TEST_SETUP_TOOLS_PATH-$PATH:/usr/sbin:/sbin:/usr/bin}
have() { PATH=$TOOLS_PATH command -v "$1" >/dev/null 2>&1; }

if [ "${1:-}" = stop ]; then
  if [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; then
    pid=$(cat "$REDIS_DIR/redis.pid"); kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    rm -f "$REDIS_DIR/redis.pid"; log "stopped the Redis started by this script"
  fi
  if [ -d "$REPO/.data/test-standby" ]; then
    base=${STANDBY_TEST_PORT_BASE:-25452}
    STANDBY_DIR=$REPO/.data/test-standby STANDBY_PRIMARY_PORT=$base STANDBY_PORT=$((base + 1)) STANDBY_DR_PORT=$((base + 2)) \
      STANDBY_SLOT=jm_test_standby STANDBY_DR_SLOT=jm_test_dr bash "$REPO/scripts/pg-standby.sh" down || log "the standby tests' replicas could not be removed (above)"
  fi
  exit 0
fi

# 0. The project's own packages, on a fresh clone (as npm run demo does).
[ -d "$REPO/node_modules" ] || (cd "$REPO" && npm ci)

# 1. Debian packages: nginx, redis-server (its package brings redis-cli), and what the deployment checks
#    run: docker-compose (the compose file's invariants), systemd-analyze (the units' hardening), openssl.
missing=()
have nginx || missing+=(nginx)
have redis-server || missing+=(redis-server)
have docker-compose || missing+=(docker-compose)
have systemd-analyze || missing+=(systemd)
have openssl || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} from Debian's packages (apt-get update first)"
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >"$REPO/.apt-test-setup.log" 2>&1; then
      log "could not install ${missing[*]}: see $REPO/.apt-test-setup.log"; exit 1
    fi
    rm -f "$REPO/.apt-test-setup.log"
  else
    log "missing: ${missing[*]} — the tests drive them for real. Install with: sudo apt-get install ${missing[*]}   (then run npm test again)"
    exit 1
  fi
fi

# 2. PostgreSQL.
bash "$REPO/scripts/pg-ensure.sh"

# 3. Redis: reuse a server that answers, else start one of our own (no persistence: test data only).
redis_cli() { if have redis-cli; then redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; else return 1; fi; }
if [ "$(redis_cli ping 2>/dev/null || true)" = PONG ]; then
  log "Redis answers on $REDIS_HOST:$REDIS_PORT"
else
  case "$REDIS_HOST" in 127.0.0.1|localhost) ;; *) log "Redis does not answer on $REDIS_HOST:$REDIS_PORT (REDIS_URL) and is not local: start it there"; exit 1 ;; esac
  mkdir -p "$REDIS_DIR"
  log "starting redis-server on 127.0.0.1:$REDIS_PORT (data $REDIS_DIR, no persistence)"
  redis_bin=$(command -v redis-server || echo /usr/bin/redis-server)
  "$redis_bin" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
  for _ in $(seq 1 40); do [ "$(redis_cli ping 2>/dev/null || true)" = PONG ] && break; sleep 0.25; done
  [ "$(redis_cli ping 2>/dev/null || true)" = PONG ] || { log "redis-server did not answer; its log:"; tail -20 "$REDIS_DIR/redis.log" >&2 || true; exit 1; }
fi

# 4. Temporal (the CLI from the cache, PATH, or built from Go modules the first time).
bash "$REPO/scripts/temporal-dev.sh" start
