#!/bin/bash
# 目标库初始化 Run once by the postgres image when the target database's volume is first created
# (/docker-entrypoint-initdb.d): the product's own role, not the superuser, owns the target and the runbook database.
# The role's password comes from a secret file (RUNBOOK_DB_PASSWORD_FILE), never from the environment.
set -euo pipefail
: "${RUNBOOK_DB_PASSWORD_FILE:?RUNBOOK_DB_PASSWORD_FILE is not set}"
password=$(<"$RUNBOOK_DB_PASSWORD_FILE")
[ -n "$password" ] || { echo "initdb: $RUNBOOK_DB_PASSWORD_FILE is empty" >&2; exit 1; }
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --set=pw="$password" <<'SQL'
CREATE ROLE runbook LOGIN CREATEDB PASSWORD :'pw';
CREATE DATABASE jm_target OWNER runbook;
CREATE DATABASE jm_runbook OWNER runbook;
REVOKE ALL ON DATABASE jm_target FROM PUBLIC;
REVOKE ALL ON DATABASE jm_runbook FROM PUBLIC;
SQL
echo "initdb: role runbook owns jm_target and jm_runbook"

# 审计防篡改 The audit trail's owner (nobody logs in as it) and the API's append-only role (lib/runbook-db.ts): made
# here by the superuser; runbook, the runbook schema's administrator, may hand the audit tables to their owner.
if [ -n "${RUNBOOK_APP_PASSWORD_FILE:-}" ]; then
  app_password=$(<"$RUNBOOK_APP_PASSWORD_FILE")
  [ -n "$app_password" ] || { echo "initdb: $RUNBOOK_APP_PASSWORD_FILE is empty" >&2; exit 1; }
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --set=pw="$app_password" <<'SQL'
ALTER ROLE runbook CREATEROLE;
CREATE ROLE jm_runbook_audit_owner NOLOGIN;
CREATE ROLE jm_runbook_app LOGIN PASSWORD :'pw';
GRANT jm_runbook_audit_owner TO runbook;
GRANT CONNECT ON DATABASE jm_runbook TO jm_runbook_app;
SQL
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname jm_runbook -c 'GRANT CREATE, USAGE ON SCHEMA public TO jm_runbook_audit_owner'
  echo "initdb: roles jm_runbook_audit_owner and jm_runbook_app (the API's append-only role) made"
fi

# 备点库 The streaming standby and the off-site copy (docker-compose --profile standby; deploy/standby/): a replication
# role, replication allowed for it alone in pg_hba (scram-sha-256; the image's own line `host all all all` does not
# cover replication connections), and pg_monitor for the product's role so the standby checks read
# pg_stat_replication's positions and lags (NULL to others). wal_level replica, max_wal_senders and
# max_replication_slots are PostgreSQL 16's defaults (10 each): two copies fit.
if [ -n "${REPLICATION_PASSWORD_FILE:-}" ]; then
  repl_password=$(<"$REPLICATION_PASSWORD_FILE")
  [ -n "$repl_password" ] || { echo "initdb: $REPLICATION_PASSWORD_FILE is empty" >&2; exit 1; }
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --set=pw="$repl_password" <<'SQL'
CREATE ROLE jm_replicator LOGIN REPLICATION PASSWORD :'pw';
GRANT pg_monitor TO runbook;
SQL
  echo "host replication jm_replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "initdb: role jm_replicator (replication, pg_hba) made; runbook reads replication statistics (pg_monitor)"
fi
