#!/usr/bin/env bash
# The Oracle source against a real Oracle. Runs only when one is configured: no Oracle server can run
# on the development machines, so an unset ORACLE_URL is reported, not failed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ORACLE_URL:-}" ] && [ -z "${ORACLE_CONNECT_STRING:-}" ]; then
  echo "test:oracle did not run: ORACLE_URL is not set (e.g. ORACLE_URL=oracle://jmlegacy:PASSWORD@localhost:1521/FREEPDB1 with docker compose up -d oracle)"
  echo "  not proven on a real Oracle: $(ls test/oracle/*.test.ts | tr '\n' ' ')(types and chunks at one SCN; preflight; NVARCHAR2; garbled bytes; a corrupt DATE; CLOBs 2 rows a trip; ORA-08181/ORA-01466; composite keys in both key forms and their preflight)"
  exit 0
fi
exec npx jest -c jest.oracle.config.js --runInBand "$@"
