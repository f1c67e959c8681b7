#!/usr/bin/env bash
# 备点库 Standby database and off-site disaster-recovery copy (异地容灾) on this machine: real PostgreSQL
# instances of the installed version under .data/, each on its own port, run as the postgres user.
#
#   scripts/pg-standby.sh up        primary (our own, unless STANDBY_PRIMARY_EXTERNAL=1), standby, DR copy; idempotent
#   scripts/pg-standby.sh status    one line per instance: role, port, running or not, in recovery or not
#   scripts/pg-standby.sh start|stop ROLE          ROLE = primary | standby | dr | any clone name
#   scripts/pg-standby.sh clone SOURCE NAME PORT   a fresh instance from a base backup of SOURCE (the DR drill)
#   scripts/pg-standby.sh promote NAME             end recovery: NAME accepts writes (the drill's gated step)
#   scripts/pg-standby.sh down      stop every instance, drop their slots, remove STANDBY_DIR
#
# Settings (environment): STANDBY_DIR (.data/replicas), STANDBY_PRIMARY_PORT (25432), STANDBY_PORT (25433),
# STANDBY_DR_PORT (25434), STANDBY_SLOT (jm_standby), STANDBY_DR_SLOT (jm_dr).
# A new instance is refused a port inside this machine's ephemeral range (net.ipv4.ip_local_port_range, usually
# 32768-60999): any outgoing connection may be holding such a port, and the server then fails to listen at random
# ("Address already in use"). Refusals exit with status 2; other failures with 1, carrying the server log's last lines.
# The shared cluster on 5432 is never reconfigured or restarted: the primary here is an instance of our own.
# With STANDBY_PRIMARY_EXTERNAL=1 the primary on STANDBY_PRIMARY_PORT is used as it is; it must already allow
# replication connections from 127.0.0.1 (wal_level replica, max_wal_senders, pg_hba "replication").
# A port of this layout answered by a server that is not this layout's instance (another checkout's .data/, another
# cluster) is refused, naming that server's data directory (SHOW data_directory): nothing is built from, attached to
# or reported as someone else's server. Only STANDBY_PRIMARY_EXTERNAL=1 says a foreign primary is meant.
# Every action is printed ([pg-standby] …) on stderr; `status` prints on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${STANDBY_DIR:-$ROOT/.data/replicas}
PRIMARY_PORT=${STANDBY_PRIMARY_PORT:-25432}
STANDBY_PORT=${STANDBY_PORT:-25433}
DR_PORT=${STANDBY_DR_PORT:-25434}
SLOT=${STANDBY_SLOT:-jm_standby}
DR_SLOT=${STANDBY_DR_SLOT:-jm_dr}
EXTERNAL=${STANDBY_PRIMARY_EXTERNAL:-0}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
HOST=127.0.0.1

say() { echo "[pg-standby] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
refuse() { say "REFUSED: $*"; exit 2; }
# The last lines of an instance's server log, on one line (what the server itself said when it would not start).
log_tail() { [ -f "$DIR/$1.log" ] && tail -n 5 "$DIR/$1.log" | tr '\n' ' ' || echo "(no log at $DIR/$1.log)"; }
# A port a new instance may listen on: not in the range the kernel hands out to outgoing connections.
usable_port() { # name port
  local lo hi
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
  if [ "$2" -ge "$lo" ] && [ "$2" -le "$hi" ]; then
    refuse "port $2 for $1 lies in this machine's ephemeral port range $lo-$hi (net.ipv4.ip_local_port_range): an outgoing connection can hold it at any moment and the server would fail to listen; choose a port below $lo"
  fi
}
[ -x "$PGBIN/initdb" ] || die "no PostgreSQL server binaries found (looked in $PGBIN); install postgresql or set PGBIN"
# The server refuses to run as root: everything that touches a data directory runs as postgres.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_at() { "$PGBIN/psql" -X -q -At -h "$HOST" -p "$1" -U postgres -d postgres -c "$2"; }
ready() { "$PGBIN/pg_isready" -q -h "$HOST" -p "$1"; }
# the real path of a directory, or the path as given when it does not exist (yet)
real_dir() { readlink -f "$1" 2>/dev/null || echo "$1"; }
# The data directory of the server answering on PORT, asked of the server itself (needs a superuser: postgres).
served_dir() { psql_at "$1" "SHOW data_directory"; }
# Refuses PORT when it is answered by a server other than this layout's instance NAME ($DIR/NAME); a silent port passes.
claim_port() { # name port
  local name=$1 port=$2 other
  ready "$port" || return 0
  other=$(served_dir "$port" 2>&1) || die "$HOST:$port answers, but asking it for its data directory failed (${other//$'\n'/ }): it is not known to be $name of $DIR; stop that server or give $name another port"
  [ "$(real_dir "$other")" = "$(real_dir "$DIR/$name")" ] && return 0
  local hint="stop that server, or give this layout other ports (STANDBY_PRIMARY_PORT, STANDBY_PORT, STANDBY_DR_PORT)"
  [ "$name" = primary ] && hint="$hint, or set STANDBY_PRIMARY_EXTERNAL=1 if that server is meant as the primary"
  die "$HOST:$port is answered by another server, data directory $other, not by $name of this layout ($DIR/$name): $hint"
}
port_of() { sed -n "s/^port = \([0-9]*\).*/\1/p" "$DIR/$1/postgresql.conf" "$DIR/$1/postgresql.auto.conf" 2>/dev/null | tail -1; }

prepare_dir() {
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
  chmod 700 "$DIR"
}

wait_ready() { # port what
  for _ in $(seq 1 120); do ready "$1" && return 0; sleep 0.5; done
  die "$2 on port $1 did not come up; its log says: $(log_tail "$2")"
}

start_instance() { # name
  local name=$1 port
  port=$(port_of "$name")
  claim_port "$name" "$port"
  if ready "$port"; then say "$name answers on $HOST:$port (left as it is)"; return 0; fi
  say "starting $name on $HOST:$port (log $DIR/$name.log)"
  as_pg "$PGBIN/pg_ctl" -D "$DIR/$name" -l "$DIR/$name.log" -w -t 60 start >/dev/null \
    || die "$name did not start on $HOST:$port; its log says: $(log_tail "$name")"
  wait_ready "$port" "$name"
}

stop_instance() { # name
  local name=$1
  [ -f "$DIR/$name/PG_VERSION" ] || { say "$name: no instance in $DIR/$name"; return 0; }
  if as_pg "$PGBIN/pg_ctl" -D "$DIR/$name" status >/dev/null 2>&1; then
    say "stopping $name (fast)"
    as_pg "$PGBIN/pg_ctl" -D "$DIR/$name" -m fast -w -t 60 stop >/dev/null
  else
    say "$name is not running"
  fi
}

common_conf() { # name port
  cat >>"$DIR/$1/postgresql.conf" <<EOF
# --- pg-standby.sh ---
port = $2
listen_addresses = '$HOST'
unix_socket_directories = ''
shared_buffers = 64MB
max_wal_senders = 10
max_replication_slots = 10
wal_level = replica
hot_standby = on
# the consistency check reads on the standby while it replays: report the oldest snapshot to the primary,
# and let replay wait a while for a running check rather than cancel it
hot_standby_feedback = on
max_standby_streaming_delay = 60s
wal_receiver_status_interval = 1s
track_commit_timestamp = on
EOF
}

ensure_primary() {
  if [ "$EXTERNAL" = 1 ]; then
    ready "$PRIMARY_PORT" || die "STANDBY_PRIMARY_EXTERNAL=1 but nothing answers on $HOST:$PRIMARY_PORT"
    say "primary: the external server on $HOST:$PRIMARY_PORT (not reconfigured)"
    return 0
  fi
  claim_port primary "$PRIMARY_PORT"
  if [ ! -f "$DIR/primary/PG_VERSION" ]; then
    usable_port primary "$PRIMARY_PORT"
    rm -rf "$DIR/primary"
    say "initdb primary in $DIR/primary (port $PRIMARY_PORT, UTF8, trust on 127.0.0.1, replication allowed)"
    as_pg "$PGBIN/initdb" -D "$DIR/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    common_conf primary "$PRIMARY_PORT"
  fi
  start_instance primary
}

ensure_replica() { # name port slot
  local name=$1 port=$2 slot=$3
  if [ -f "$DIR/$name/PG_VERSION" ] && [ -f "$DIR/$name/standby.signal" ]; then
    start_instance "$name"
  elif [ -f "$DIR/$name/PG_VERSION" ]; then
    say "$name in $DIR/$name is no longer a standby (promoted?): left alone; remove it (down) to rebuild"
    start_instance "$name"
  else
    claim_port "$name" "$port"
    usable_port "$name" "$port"
    rm -rf "${DIR:?}/$name"
    # A slot left by an earlier, removed copy would make -C fail; nothing else uses our slot names.
    local stale
    stale=$(psql_at "$PRIMARY_PORT" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'") || die "cannot query the primary on $HOST:$PRIMARY_PORT for the slot $slot (the error above)"
    if [ "$stale" != 0 ]; then
      say "dropping the stale slot $slot on the primary (its copy is gone)"
      psql_at "$PRIMARY_PORT" "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    fi
    say "pg_basebackup $name from $HOST:$PRIMARY_PORT: -R -X stream -C -S $slot → $DIR/$name (port $port)"
    as_pg "$PGBIN/pg_basebackup" -h "$HOST" -p "$PRIMARY_PORT" -U postgres -D "$DIR/$name" -R -X stream -C -S "$slot" -c fast
    # the copy carries the primary's configuration: its own port, and its name as the WAL receiver's application_name
    cat >>"$DIR/$name/postgresql.auto.conf" <<EOF
port = $port
primary_conninfo = 'host=$HOST port=$PRIMARY_PORT user=postgres application_name=$name'
primary_slot_name = '$slot'
EOF
    if [ "$EXTERNAL" = 1 ]; then common_conf "$name" "$port"; fi
    start_instance "$name"
  fi
}

clone_instance() { # source name port
  local source=$1 name=$2 port=$3 sport
  sport=$(port_of "$source")
  [ -n "$sport" ] || die "no instance named $source in $DIR"
  [ -f "$DIR/$name/PG_VERSION" ] && die "$name already exists in $DIR/$name: a drill restores into a fresh instance (stop and remove it first)"
  claim_port "$source" "$sport"
  usable_port "$name" "$port"
  ready "$port" && die "port $port is taken (data directory $(served_dir "$port" 2>/dev/null || echo unknown))"
  rm -rf "${DIR:?}/$name"
  say "base backup of $source ($HOST:$sport) into a fresh instance $name (port $port), WAL streamed with it"
  as_pg "$PGBIN/pg_basebackup" -h "$HOST" -p "$sport" -U postgres -D "$DIR/$name" -R -X stream -c fast
  cat >>"$DIR/$name/postgresql.auto.conf" <<EOF
port = $port
primary_conninfo = 'host=$HOST port=$sport user=postgres application_name=$name'
EOF
  start_instance "$name"
}

status() {
  for d in "$DIR"/*/; do
    [ -f "$d/PG_VERSION" ] || continue
    local name port state recovery
    name=$(basename "$d")
    port=$(port_of "$name")
    if ready "$port" && [ "$(real_dir "$(served_dir "$port" 2>/dev/null)")" != "$(real_dir "$d")" ]; then
      # the port is another server's: this instance is not what answers there
      state=port-taken; recovery="by:$(served_dir "$port" 2>/dev/null || echo unknown)"
    elif ready "$port"; then
      state=running
      recovery=$(psql_at "$port" "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END" 2>/dev/null || echo unknown)
    else state=stopped; recovery=-; fi
    echo "$name port=$port $state $recovery"
  done
}

cmd=${1:-up}
case "$cmd" in
  up)
    prepare_dir
    ensure_primary
    ensure_replica standby "$STANDBY_PORT" "$SLOT"
    ensure_replica dr "$DR_PORT" "$DR_SLOT"
    say "ready: primary $HOST:$PRIMARY_PORT, standby $HOST:$STANDBY_PORT (slot $SLOT), DR copy $HOST:$DR_PORT (slot $DR_SLOT)"
    ;;
  status) status ;;
  start) [ -n "${2:-}" ] || die "start ROLE"; start_instance "$2" ;;
  stop) [ -n "${2:-}" ] || die "stop ROLE"; stop_instance "$2" ;;
  clone) [ -n "${4:-}" ] || die "clone SOURCE NAME PORT"; prepare_dir; clone_instance "$2" "$3" "$4" ;;
  promote)
    [ -n "${2:-}" ] || die "promote NAME"
    [ -f "$DIR/$2/standby.signal" ] || { say "$2 is not in recovery (already promoted)"; exit 0; }
    say "promoting $2: it leaves recovery and accepts writes"
    as_pg "$PGBIN/pg_ctl" -D "$DIR/$2" -w -t 60 promote >/dev/null
    ;;
  remove)
    [ -n "${2:-}" ] || die "remove NAME"
    [ "$2" = primary ] && die "remove refuses the primary"
    stop_instance "$2"; rm -rf "${DIR:?}/$2" "$DIR/$2.log"; say "removed $2"
    ;;
  down)
    [ -d "$DIR" ] || { say "nothing in $DIR"; exit 0; }
    for d in "$DIR"/*/; do [ -f "$d/PG_VERSION" ] && [ "$(basename "$d")" != primary ] && stop_instance "$(basename "$d")"; done
    if [ "$EXTERNAL" = 1 ] && ready "$PRIMARY_PORT"; then
      for s in "$SLOT" "$DR_SLOT"; do
        psql_at "$PRIMARY_PORT" "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$s' AND NOT active" >/dev/null || true
      done
    fi
    [ -f "$DIR/primary/PG_VERSION" ] && stop_instance primary
    rm -rf "${DIR:?}"
    say "removed $DIR"
    ;;
  *) die "unknown command $cmd (up | status | start ROLE | stop ROLE | clone SOURCE NAME PORT | promote NAME | remove NAME | down)" ;;
esac
