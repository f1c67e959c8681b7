#!/usr/bin/env bash
# 密钥生成 Writes the deployment's secrets as files for docker-compose (secrets:) and systemd (LoadCredential=):
#   deploy/make-secrets.sh [dir]            (default deploy/secrets; existing files are kept, never overwritten)
# Passwords are hex (openssl rand -hex; openGauss's behind a fixed prefix its rules want): nothing in them needs escaping inside a connection URL, unlike base64's
# `/` and `+`. If you set a password of your own inside a URL file, percent-encode it (encodeURIComponent).
# Files are 0444 inside a 0700 directory: only root (and the containers they are mounted into) can read them.
# LEGACY_DATABASE_URL (the real legacy Oracle, e.g. oracle://jmlegacy:…@legacy-host:1521/ORCLPDB) is taken from
# the environment when set; otherwise it points at the compose Oracle stand-in (--profile oracle).
set -euo pipefail
DIR=${1:-$(cd "$(dirname "$0")" && pwd)/secrets}
command -v openssl >/dev/null || { echo "make-secrets: openssl is needed" >&2; exit 1; }
umask 077
mkdir -p "$DIR"
chmod 700 "$DIR"

put() { # name value: write once
  local f="$DIR/$1"
  if [ -e "$f" ]; then echo "make-secrets: $1 exists, kept"; return; fi
  printf '%s\n' "$2" >"$f"
  chmod 444 "$f"
  echo "make-secrets: $1 written"
}
get() { tr -d '\n' <"$DIR/$1"; }

put target_db_superuser_password "$(openssl rand -hex 24)"
put target_db_runbook_password "$(openssl rand -hex 24)"
put target_db_runbook_app_password "$(openssl rand -hex 24)"
put approval_signing_key "$(openssl rand -hex 32)"
put target_db_replication_password "$(openssl rand -hex 24)"
put oracle_password "P$(openssl rand -hex 16)"
put oracle_app_password "P$(openssl rand -hex 16)"
put target_database_url "postgres://runbook:$(get target_db_runbook_password)@target-db:5432/jm_target"
put runbook_database_url "postgres://runbook:$(get target_db_runbook_password)@target-db:5432/jm_runbook"
put runbook_app_database_url "postgres://jm_runbook_app:$(get target_db_runbook_app_password)@target-db:5432/jm_runbook"
# 备点库 (--profile standby): the worker reads the standby and the off-site copy as runbook (the roles replicate too)
put standby_url "postgres://runbook:$(get target_db_runbook_password)@target-standby:5432/jm_target"
put standby_dr_url "postgres://runbook:$(get target_db_runbook_password)@target-dr:5432/jm_target"
# openGauss (--profile opengauss, deploy/compose.opengauss.yml): its password rules want upper and lower case, a digit
# and one of #?!@$%^&*- within 8..32 characters; '-' needs no escaping in a URL.
put opengauss_superuser_password "Og-1$(openssl rand -hex 12)"
put opengauss_target_password "Jm-1$(openssl rand -hex 12)"
put opengauss_target_database_url "postgres://jmtarget:$(get opengauss_target_password)@opengauss:5432/jm_target"
put legacy_database_url "${LEGACY_DATABASE_URL:-oracle://jmlegacy:$(get oracle_app_password)@oracle:1521/FREEPDB1}"
