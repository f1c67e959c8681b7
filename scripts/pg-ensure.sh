#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1:5432: use the running server, or start the installed cluster if it is stopped.
set -euo pipefail
HOST=${PGHOST_CHECK:-127.0.0.1}
PORT=${PGPORT_CHECK:-5432}
if pg_isready -q -h "$HOST" -p "$PORT"; then
  echo "[pg-ensure] PostgreSQL answers on $HOST:$PORT" >&2
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "[pg-ensure] starting PostgreSQL $version/main" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 60); do pg_isready -q -h "$HOST" -p "$PORT" && exit 0; sleep 0.5; done
fi
echo "[pg-ensure] PostgreSQL is not running on $HOST:$PORT and no local cluster could be started." >&2
echo "[pg-ensure] Install PostgreSQL >= 13 (Debian: apt-get install postgresql) or point the *_DATABASE_URL variables at a server." >&2
exit 1
