#!/bin/bash
# 国产目标库 openGauss Run once by the opengauss/opengauss image when its volume is first created
# (/docker-entrypoint-initdb.d, as the omm user, the temporary server up): the product's own user and the target database
# as the product needs it — DBCOMPATIBILITY 'PG' (under 'A', the default, '' is NULL and the migrated data changes),
# UTF8, from template0 (openGauss creates databases from template0 only). The user's password comes from a secret file
# (OPENGAUSS_TARGET_PASSWORD_FILE); the image's entrypoint sets password_encryption_type = 0 (md5) and `host all all
# 0.0.0.0/0 md5`, which the pg driver can do (it cannot do openGauss's default sha256).
# The image executes this file, or sources it when it is not executable: everything runs in a subshell, so nothing
# here (set -u, variables) leaks into the image's entrypoint.
(
  set -euo pipefail
  : "${OPENGAUSS_TARGET_PASSWORD_FILE:?OPENGAUSS_TARGET_PASSWORD_FILE is not set}"
  password=$(<"$OPENGAUSS_TARGET_PASSWORD_FILE")
  [ -n "$password" ] || { echo "opengauss initdb: $OPENGAUSS_TARGET_PASSWORD_FILE is empty" >&2; exit 1; }
  # the superuser's password for local connections, in the environment of gsql only (the entrypoint read it from
  # GS_PASSWORD_FILE into GS_PASSWORD)
  export PGPASSWORD="${PGPASSWORD:-${GS_PASSWORD:-}}"
  gsql -v ON_ERROR_STOP=1 -d postgres -U omm --set=pw="$password" <<'SQL'
CREATE USER jmtarget WITH LOGIN PASSWORD :'pw';
CREATE DATABASE jm_target OWNER jmtarget DBCOMPATIBILITY 'PG' ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE jm_target FROM PUBLIC;
SQL
  echo "opengauss initdb: user jmtarget owns jm_target (DBCOMPATIBILITY 'PG', UTF8)"
)
