#!/bin/bash
# 备点库 / 异地容灾 A streaming standby of the target database, as scripts/pg-standby.sh makes one on a single machine,
# for the docker-compose deployment (services target-standby and target-dr, profile "standby"). Runs as the
# postgres image's entrypoint (as root, then the server as postgres via gosu):
#   - first start (empty volume): pg_basebackup -R -X stream -C -S $STANDBY_SLOT from $PRIMARY_HOST as the
#     replication role, after dropping a stale, inactive slot of the same name (its copy is gone: a new volume);
#   - every start: the replication password from its secret file into a passfile (never the environment, never
#     postgresql.auto.conf), primary_conninfo naming this copy (application_name = $STANDBY_NAME, what
#     pg_stat_replication and config/standby.json call it) and its slot, then the server in hot standby;
#   - a data directory without standby.signal (promoted by an operator) is started as it is, never rebuilt:
#     remove the volume to make it a standby again.
set -euo pipefail
say() { echo "[standby-entrypoint $STANDBY_NAME] $*" >&2; }
: "${STANDBY_NAME:?STANDBY_NAME is not set (the application_name of this copy)}"
: "${STANDBY_SLOT:?STANDBY_SLOT is not set (its physical replication slot on the primary)}"
: "${PRIMARY_HOST:?PRIMARY_HOST is not set}"
: "${REPLICATION_USER:?REPLICATION_USER is not set}"
: "${REPLICATION_PASSWORD_FILE:?REPLICATION_PASSWORD_FILE is not set}"
PRIMARY_PORT=${PRIMARY_PORT:-5432}
PGDATA=${PGDATA:-/var/lib/postgresql/data}
# the postgres user's home in the image; REPLICATION_PASSFILE moves it (test/integration/standby-entrypoint.test.ts runs this
# script on a shared machine, where that home is not this copy's own)
PASSFILE=${REPLICATION_PASSFILE:-/var/lib/postgresql/.pgpass-replication}
case "$STANDBY_NAME$STANDBY_SLOT" in *[!a-z0-9_]*) say "STANDBY_NAME and STANDBY_SLOT must be [a-z0-9_]"; exit 1 ;; esac
[ "$(id -u)" = 0 ] || { say "must start as root (it hands the server to postgres)"; exit 1; }

password=$(tr -d '\r\n' <"$REPLICATION_PASSWORD_FILE")
[ -n "$password" ] || { say "$REPLICATION_PASSWORD_FILE is empty"; exit 1; }
# .pgpass fields escape ':' and '\'
esc() { printf '%s' "$1" | sed 's/[\\:]/\\&/g'; }
umask 077
printf '%s:%s:*:%s:%s\n' "$(esc "$PRIMARY_HOST")" "$PRIMARY_PORT" "$(esc "$REPLICATION_USER")" "$(esc "$password")" >"$PASSFILE"
chown postgres:postgres "$PASSFILE"
chmod 600 "$PASSFILE"
unset password
conninfo="host=$PRIMARY_HOST port=$PRIMARY_PORT user=$REPLICATION_USER passfile=$PASSFILE application_name=$STANDBY_NAME"
as_pg() { gosu postgres "$@"; }
psql_primary() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d "$conninfo dbname=postgres" -c "$1"; }

install -d -o postgres -g postgres -m 700 "$PGDATA"
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  # A fresh volume (or what a failed first copy left: pg_basebackup removes its own partial output, nothing else writes here).
  find "$PGDATA" -mindepth 1 -delete
  tries=0
  until as_pg pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
    tries=$((tries + 1)); [ "$tries" -le 60 ] || { say "the primary $PRIMARY_HOST:$PRIMARY_PORT does not answer after 120 s"; exit 1; }
    sleep 2
  done
  # asked first, on its own: a failed question (password, pg_hba) must stop here, not read as "a stale slot exists"
  stale=$(psql_primary "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$STANDBY_SLOT' AND NOT active") || {
    say "cannot query the primary $PRIMARY_HOST:$PRIMARY_PORT as $REPLICATION_USER (the error above: its password in $REPLICATION_PASSWORD_FILE, its pg_hba lines, the role); nothing copied"
    exit 1
  }
  if [ "$stale" != 0 ]; then
    say "dropping the stale slot $STANDBY_SLOT on the primary (its copy is gone)"
    psql_primary "SELECT pg_drop_replication_slot('$STANDBY_SLOT')" >/dev/null
  fi
  say "pg_basebackup from $PRIMARY_HOST:$PRIMARY_PORT: -R -X stream -C -S $STANDBY_SLOT → $PGDATA"
  as_pg pg_basebackup -d "$conninfo" -D "$PGDATA" -R -X stream -C -S "$STANDBY_SLOT" -c fast
fi

if [ -f "$PGDATA/standby.signal" ]; then
  # this copy's own name, slot and passfile, replacing what -R wrote (which may carry the password) or an earlier start
  as_pg sed -i '/^primary_conninfo *=/d; /^primary_slot_name *=/d' "$PGDATA/postgresql.auto.conf"
  as_pg tee -a "$PGDATA/postgresql.auto.conf" >/dev/null <<CONF
primary_conninfo = '$conninfo'
primary_slot_name = '$STANDBY_SLOT'
CONF
  say "starting as a hot standby of $PRIMARY_HOST:$PRIMARY_PORT (slot $STANDBY_SLOT)"
else
  say "$PGDATA has no standby.signal (promoted?): started as it is; remove the volume to rebuild it as a standby"
fi
# As pg-standby.sh's common_conf: the consistency check reads here while it replays: report the oldest snapshot to
# the primary, and let replay wait a while for a running check rather than cancel it.
exec gosu postgres postgres -D "$PGDATA" \
  -c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=60s -c wal_receiver_status_interval=1s
