#!/usr/bin/env bash
# The target side against a real openGauss (or GaussDB / Vastbase). Runs only when one is configured: no
# openGauss server can run on the development machines, so an unset OPENGAUSS_URL is reported, not failed.
# The database needs DBCOMPATIBILITY 'PG', md5 authentication for the test user (password_encryption_type
# 0 or 1, then the password reset) and rights to create tables, functions and triggers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${OPENGAUSS_URL:-}" ]; then
  echo "test:opengauss did not run: OPENGAUSS_URL is not set (e.g. OPENGAUSS_URL=postgres://jmtarget:PASSWORD@localhost:15432/jm_target with an openGauss container — see README, 国产数据库)"
  exit 0
fi
exec npx jest -c jest.opengauss.config.js --runInBand "$@"
