#!/usr/bin/env bash
# Temporal for development, tests and the demo: the CLI's dev server with SQLite file persistence
# (runs survive a restart) and the Web UI on :8233.
#   scripts/temporal-dev.sh start   find or build the CLI, start the server unless one answers, register search attributes
#   scripts/temporal-dev.sh stop    stop the server this script started
#   scripts/temporal-dev.sh cli     print the path of the CLI (building it if needed)
# Settings: TEMPORAL_CLI (path to a temporal binary), TEMPORAL_CACHE_DIR (where a built CLI is kept,
# default ~/.cache/cutover-runbook), TEMPORAL_STATE_DIR (database file and log, default .data/temporal),
# TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CLI_VERSION=v1.5.1 # later tags carry a `replace` directive that `go install` refuses
CACHE_DIR=${TEMPORAL_CACHE_DIR:-$HOME/.cache/cutover-runbook}
STATE_DIR=${TEMPORAL_STATE_DIR:-$REPO/.data/temporal}
PORT=${TEMPORAL_PORT:-7233}
UI_PORT=${TEMPORAL_UI_PORT:-8233}
ADDRESS=127.0.0.1:$PORT
# Custom search attributes (name=type) the workflows upsert; keep in step with workflows/search-attributes.ts.
SEARCH_ATTRIBUTES=(RunbookKind=Keyword RunbookPhase=Keyword RunbookStatus=Keyword RunbookProgress=Int)

log() { printf '[temporal-dev] %s\n' "$*" >&2; }

find_cli() {
  if [ -n "${TEMPORAL_CLI:-}" ]; then
    [ -x "$TEMPORAL_CLI" ] || { log "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file"; exit 1; }
    echo "$TEMPORAL_CLI"; return
  fi
  if [ -x "$CACHE_DIR/bin/temporal" ]; then echo "$CACHE_DIR/bin/temporal"; return; fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  if ! command -v go >/dev/null 2>&1; then
    log "no Temporal CLI found (TEMPORAL_CLI, $CACHE_DIR/bin/temporal, PATH) and no Go toolchain to build one."
    log "Install Go >= 1.25 (https://go.dev/dl) or put a temporal CLI $CLI_VERSION on PATH, then run this again."
    exit 1
  fi
  log "building the Temporal CLI $CLI_VERSION from Go modules into $CACHE_DIR/bin (first time only, ~3 min)"
  mkdir -p "$CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "github.com/temporalio/cli/cmd/temporal@$CLI_VERSION" >&2
  echo "$CACHE_DIR/bin/temporal"
}

healthy() { "$1" operator cluster health --address "$ADDRESS" >/dev/null 2>&1; }

start() {
  local cli; cli=$(find_cli)
  # Two starts at once (a test run beside the demo) would both start a server on one database file; the
  # second dies on "database is locked (SQLITE_BUSY)". One start at a time: the next one finds it answering.
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/start.lock"
  flock -w 180 9 || { log "another start holds $STATE_DIR/start.lock for over 180 s"; exit 1; }
  if healthy "$cli"; then
    log "reusing the Temporal server already answering on $ADDRESS"
  else
    mkdir -p "$STATE_DIR"
    local sa_flags=() db=$STATE_DIR/temporal.db attempt
    for sa in "${SEARCH_ATTRIBUTES[@]}"; do sa_flags+=(--search-attribute "$sa"); done
    for attempt in 1 2; do
      local fresh=0; [ -s "$db" ] || fresh=1
      log "starting the Temporal dev server on $ADDRESS (UI http://127.0.0.1:$UI_PORT, data $db)"
      nohup "$cli" server start-dev --ip 127.0.0.1 --port "$PORT" --ui-port "$UI_PORT" \
        --db-filename "$db" --log-level warn "${sa_flags[@]}" \
        >"$STATE_DIR/server.log" 2>&1 9>&- &
      echo $! >"$STATE_DIR/server.pid"
      for _ in $(seq 1 120); do
        healthy "$cli" && break
        kill -0 "$(cat "$STATE_DIR/server.pid")" 2>/dev/null || break
        sleep 0.5
      done
      healthy "$cli" && break
      if kill -0 "$(cat "$STATE_DIR/server.pid")" 2>/dev/null; then log "the server did not answer within 60 s; see $STATE_DIR/server.log"; exit 1; fi
      log "the server exited; its log:"; tail -20 "$STATE_DIR/server.log" >&2
      # A database file whose schema was never completed (a first start that failed half-way: this start made it, or
      # the server finds no cluster metadata in it) holds no runs, and every later start fails on it. It is set aside,
      # not deleted, and the start is tried once more on a new file.
      if [ "$attempt" = 1 ] && { [ "$fresh" = 1 ] || grep -q 'no such table: cluster_metadata_info' "$STATE_DIR/server.log"; }; then
        local aside; aside="$db.unfinished-$(date +%Y%m%dT%H%M%S)"
        mv "$db" "$aside"; rm -f "$db-wal" "$db-shm" "$db-journal"
        log "its database file was never completed (no runs in it): set aside as $aside; starting on a new one"
        continue
      fi
      exit 1
    done
  fi
  # A reused server (or an old database file) may predate an attribute: register what is missing.
  local existing; existing=$("$cli" operator search-attribute list --address "$ADDRESS" 2>/dev/null || true)
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    grep -qw "${sa%%=*}" <<<"$existing" || "$cli" operator search-attribute create --address "$ADDRESS" --name "${sa%%=*}" --type "${sa#*=}" >/dev/null
  done
  log "ready: $ADDRESS, Web UI http://127.0.0.1:$UI_PORT"
}

stop() {
  local pidfile=$STATE_DIR/server.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 1 40); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.25; done
    rm -f "$pidfile"
    log "stopped"
  else
    log "no server started by this script is running"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  cli) find_cli ;;
  *) echo "usage: $0 start|stop|cli" >&2; exit 2 ;;
esac
