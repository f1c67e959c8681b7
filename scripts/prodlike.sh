#!/usr/bin/env bash
# npm run prodlike: the production topology of docker-compose.yml, run for real on this machine without Docker.
#   · PostgreSQL (its own cluster, password auth) with separate roles: temporal, runbook (target + runbook DB owner),
#     legacy_reader (SELECT only on the legacy stand-in)
#   · Temporal SERVER v1.29.7 (the compose file's temporalio/server:1.29.7) on that PostgreSQL: postgres12 plugin,
#     SQL visibility store, schema set up by temporal-sql-tool of the same release — both built from Go modules
#   · the Temporal UI server v2.49.1 (compose: temporalio/ui:2.49.1) with write actions off
#   · mTLS on the Temporal frontend (PRODLIKE_MTLS=1, default): a private CA; worker, API, UI, CLI with client certs
#   · nginx in front of the connected systems (legacy and new sides), switched by the cutover
#   · the compiled worker (bundled workflows) and API under NODE_ENV=production: own signing key, secrets by file,
#     shared reports and backups directories; the worker under a supervisor that restarts it
# Then a full rehearsal through the API (scripts/prodlike-rehearsal.ts), killing the worker once on the way, then
# teardown. Last line: prodlike: rehearsal=completed worker_restarts=N ui_writable=false
# Settings: PRODLIKE_DIR (.data/prodlike), PRODLIKE_ENTITIES (1500), PRODLIKE_KEEP=1 (leave the state directory),
# PRODLIKE_PORT_BASE (17000: PostgreSQL +432, Temporal +233…+243 and +933…+939, UI +1233, API +300, nginx +1080…+1082,
# reference app +310). Never touches the shared dev server (7233/8233) or PostgreSQL on 5432.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
STATE=${PRODLIKE_DIR:-$REPO/.data/prodlike}
BIN=${TEMPORAL_CACHE_DIR:-$HOME/.cache/cutover-runbook}/bin
SERVER_VERSION=v1.29.7 # = docker-compose.yml temporalio/server:1.29.7 and admin-tools 1.29.7-…
UI_VERSION=v2.49.1     # = docker-compose.yml temporalio/ui:2.49.1
CLI=$BIN/temporal      # the dev CLI (scripts/temporal-dev.sh builds it), used here as an operator's client only
ENTITIES=${PRODLIKE_ENTITIES:-1500}
P=${PRODLIKE_PORT_BASE:-17000}
PG_PORT=$((P + 432)) FRONTEND=$((P + 233)) UI_PORT=$((P + 1233)) API_PORT=$((P + 300)) REF_PORT=$((P + 310))
PROXY_PORT=$((P + 1080)) LEGACY_SIDE=$((P + 1081)) NEW_SIDE=$((P + 1082))
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
T0=$(date +%s)

log() { printf '[prodlike %3ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ── build what the topology runs (cached) ───────────────────────────────────────────────────────────────────────
go_build() { # binary-name module-path version
  local out=$BIN/$1-$3
  [ -x "$out" ] && return
  command -v go >/dev/null || die "no Go toolchain to build $2@$3 (install Go >= 1.25)"
  log "building $2@$3 from Go modules (first time only; slow on 2 cores)"
  local tmp; tmp=$(mktemp -d)
  if ! GOBIN=$tmp go install "$2@$3" >"$tmp/build.log" 2>&1; then
    tail -20 "$tmp/build.log" >&2; die "go install $2@$3 failed (above)"
  fi
  mkdir -p "$BIN"; mv "$tmp/$(basename "$2")" "$out"; rm -rf "$tmp"
}
go_build temporal-server go.temporal.io/server/cmd/server $SERVER_VERSION
go_build temporal-sql-tool go.temporal.io/server/cmd/tools/sql $SERVER_VERSION
go_build temporal-ui-server github.com/temporalio/ui-server/v2/cmd/server $UI_VERSION
[ -x "$CLI" ] || CLI=$(bash scripts/temporal-dev.sh cli)
SERVER=$BIN/temporal-server-$SERVER_VERSION SQLTOOL=$BIN/temporal-sql-tool-$SERVER_VERSION UISERVER=$BIN/temporal-ui-server-$UI_VERSION
for port in $PG_PORT $FRONTEND $((FRONTEND + 1)) $((FRONTEND + 2)) $((FRONTEND + 6)) $((FRONTEND + 10)) $((P + 933)) $((P + 934)) $((P + 935)) $((P + 939)) $UI_PORT $API_PORT $REF_PORT $PROXY_PORT $LEGACY_SIDE $NEW_SIDE; do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && die "port $port is in use (set PRODLIKE_PORT_BASE)"
done
log "compiling the product and bundling its workflows"
npm run -s build
NODE_ENV=production node dist/scripts/bundle-workflows.js "$REPO/dist/workflow-bundle.js" >/dev/null 2>&1 || die "bundling the workflows failed"

# ── state, teardown ─────────────────────────────────────────────────────────────────────────────────────────────
[ -e "$STATE" ] && { [ -f "$STATE/.prodlike" ] || die "$STATE exists and is not a prodlike state directory"; rm -rf "$STATE"; }
mkdir -p "$STATE"/{logs,secrets,shared/reports,shared/backups,temporal/config/dynamicconfig,ui/config,nginx/upstreams,nginx/tmp,nginx/legacy,nginx/new,config}
touch "$STATE/.prodlike"
chmod 700 "$STATE/secrets"
PIDS=()
teardown() {
  local rc=$?
  set +e
  touch "$STATE/stop"
  [ -f "$STATE/worker.pid" ] && kill -TERM "$(cat "$STATE/worker.pid")" 2>/dev/null
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done; kill -KILL "$pid" 2>/dev/null; done
  [ -f "$STATE/nginx/nginx.pid" ] && nginx -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" -s quit 2>/dev/null
  [ -d "$STATE/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/pg" -m fast -w stop >/dev/null 2>&1
  if [ $rc -ne 0 ]; then log "logs kept in $STATE/logs"; elif [ "${PRODLIKE_KEEP:-}" != 1 ]; then rm -rf "$STATE"; fi
  log "torn down (exit $rc)"
}
trap teardown EXIT
trap 'exit 130' INT TERM

secret() { openssl rand -hex 24; }
put_secret() { (umask 077; printf '%s\n' "$2" >"$STATE/secrets/$1"); }
wait_for() { # what command...
  local what=$1; shift
  for _ in $(seq 1 240); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not come up within 120 s"
}

# ── PostgreSQL: its own cluster, password authentication, one role per purpose ─────────────────────────────────
log "PostgreSQL: new cluster on 127.0.0.1:$PG_PORT (scram-sha-256 over TCP)"
install -d -o postgres -g postgres -m 700 "$STATE/pg" "$STATE/pgsock" "$STATE/logs/postgres"
runuser -u postgres -- "$PGBIN/initdb" -D "$STATE/pg" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STATE/logs/initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$STATE/logs/initdb.log")"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/pg" -l "$STATE/logs/postgres/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$STATE/pgsock -c max_connections=200" start >/dev/null
psql_admin() { runuser -u postgres -- psql -h "$STATE/pgsock" -p "$PG_PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }
for role in temporal runbook legacy_owner legacy_reader jm_runbook_app; do put_secret "pg_$role" "$(secret)"; done
pw() { tr -d '\n' <"$STATE/secrets/pg_$1"; }
psql_admin -d postgres <<SQL
CREATE ROLE temporal LOGIN CREATEDB PASSWORD '$(pw temporal)';
CREATE ROLE runbook LOGIN CREATEDB CREATEROLE PASSWORD '$(pw runbook)';
-- the audit trail's owner (nobody logs in as it) and the API's append-only role (lib/runbook-db.ts): made by the
-- DBA; runbook, the schema's administrator, may hand the audit tables to their owner
CREATE ROLE jm_runbook_audit_owner NOLOGIN;
CREATE ROLE jm_runbook_app LOGIN PASSWORD '$(pw jm_runbook_app)';
GRANT jm_runbook_audit_owner TO runbook;
CREATE ROLE legacy_owner LOGIN PASSWORD '$(pw legacy_owner)';
CREATE ROLE legacy_reader LOGIN PASSWORD '$(pw legacy_reader)';
CREATE DATABASE jm_legacy OWNER legacy_owner;
CREATE DATABASE jm_target OWNER runbook;
CREATE DATABASE jm_runbook OWNER runbook;
REVOKE ALL ON DATABASE jm_legacy, jm_target, jm_runbook FROM PUBLIC;
GRANT CONNECT ON DATABASE jm_legacy TO legacy_reader;
GRANT CONNECT ON DATABASE jm_runbook TO jm_runbook_app;
-- the target guard identifies a database by its cluster's system identifier
GRANT EXECUTE ON FUNCTION pg_control_system() TO runbook, legacy_reader;
SQL
# an owner of a table must be able to create in its schema: the audit owner takes audit_log and gate_decision over
psql_admin -d jm_runbook -c 'GRANT CREATE, USAGE ON SCHEMA public TO jm_runbook_audit_owner'
url() { printf 'postgres://%s:%s@127.0.0.1:%s/%s' "$1" "$(pw "$1")" "$PG_PORT" "$2"; }

# ── Temporal server on PostgreSQL ───────────────────────────────────────────────────────────────────────────────
log "Temporal $SERVER_VERSION: schema by temporal-sql-tool (postgres12; persistence + SQL visibility)"
for db in temporal temporal_visibility; do
  dir=temporal; [ $db = temporal_visibility ] && dir=visibility
  sql=("$SQLTOOL" --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u temporal --pw "$(pw temporal)" --db $db)
  { "${sql[@]}" create-database && "${sql[@]}" setup-schema -v 0.0 &&
    "${sql[@]}" update-schema -d "$(go env GOMODCACHE)/go.temporal.io/server@$SERVER_VERSION/schema/postgresql/v12/$dir/versioned"; } \
    >>"$STATE/logs/temporal-schema.log" 2>&1 || die "temporal-sql-tool failed for $db: $(grep -i error "$STATE/logs/temporal-schema.log" | tail -2)"
done
[ -d "$(go env GOMODCACHE)/go.temporal.io/server@$SERVER_VERSION/schema" ] || die "the schema files of $SERVER_VERSION are not in the Go module cache"
# mTLS on the frontend (PRODLIKE_MTLS=1, the default): a private CA, the frontend's certificate, and client
# certificates for the runbook (worker, API), the UI server, Temporal's own system worker and the operators' CLI.
MTLS=${PRODLIKE_MTLS:-1}
TLSD=$STATE/tls
if [ "$MTLS" = 1 ]; then
  mkdir -p "$TLSD"; chmod 700 "$TLSD"
  ossl() { openssl "$@" >>"$STATE/logs/tls.log" 2>&1 || die "openssl $1 failed: $(tail -2 "$STATE/logs/tls.log")"; }
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=prodlike temporal CA" -keyout "$TLSD/ca-key.pem" -out "$TLSD/ca.pem"
  cert() { # name cn eku [san]
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout "$TLSD/$1-key.pem" -out "$TLSD/$1.csr"
    printf 'extendedKeyUsage=%s\n%s' "$3" "${4:+subjectAltName=$4}" >"$TLSD/$1.ext"
    ossl x509 -req -in "$TLSD/$1.csr" -CA "$TLSD/ca.pem" -CAkey "$TLSD/ca-key.pem" -CAcreateserial -days 2 -extfile "$TLSD/$1.ext" -out "$TLSD/$1.pem"
  }
  cert frontend temporal-frontend serverAuth "DNS:temporal-frontend,IP:127.0.0.1"
  cert runbook jm-runbook clientAuth
  cert system-worker temporal-system-worker clientAuth
  cert ui temporal-ui clientAuth
  cert operator operator-cli clientAuth
  TLS_YAML="  tls:
    frontend:
      server:
        certFile: $TLSD/frontend.pem
        keyFile: $TLSD/frontend-key.pem
        requireClientAuth: true
        clientCaFiles: [$TLSD/ca.pem]
    systemWorker:
      certFile: $TLSD/system-worker.pem
      keyFile: $TLSD/system-worker-key.pem
      client:
        serverName: temporal-frontend
        rootCaFiles: [$TLSD/ca.pem]"
  TCLI=("$CLI" --tls-ca-path "$TLSD/ca.pem" --tls-cert-path "$TLSD/operator.pem" --tls-key-path "$TLSD/operator-key.pem" --tls-server-name temporal-frontend)
else
  TLS_YAML=""
  TCLI=("$CLI")
fi
cat >"$STATE/temporal/config/dynamicconfig/prodlike.yaml" <<'YAML'
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
    constraints: {}
YAML
ds() { cat <<YAML
      sql:
        pluginName: postgres12
        databaseName: $1
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: tcp
        user: temporal
        password: "$(pw temporal)"
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
YAML
}
svc() { printf '  %s:\n    rpc:\n      grpcPort: %s\n      membershipPort: %s\n      bindOnIP: 127.0.0.1\n' "$1" "$2" "$3"; }
(umask 077; cat >"$STATE/temporal/config/prodlike.yaml" <<YAML
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
$(ds temporal 20)
    visibility:
$(ds temporal_visibility 5)
global:
$TLS_YAML
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
$(svc frontend "$FRONTEND" $((P + 933)))
      httpPort: $((FRONTEND + 10))
$(svc history $((FRONTEND + 1)) $((P + 934)))
$(svc matching $((FRONTEND + 2)) $((P + 935)))
$(svc worker $((FRONTEND + 6)) $((P + 939)))
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:$FRONTEND
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: $STATE/temporal/config/dynamicconfig/prodlike.yaml
  pollInterval: 10s
YAML
)
"$SERVER" --root "$STATE/temporal" --config config --env prodlike start >"$STATE/logs/temporal.log" 2>&1 &
PIDS+=($!)
wait_for "the Temporal frontend" "${TCLI[@]}" operator cluster health --address 127.0.0.1:$FRONTEND
if [ "$MTLS" = 1 ]; then
  # mTLS means refused without a client certificate the CA signed: plaintext, and TLS without a certificate.
  "$CLI" operator cluster health --address 127.0.0.1:$FRONTEND >/dev/null 2>&1 && die "the frontend answered a plaintext client"
  "$CLI" --tls-ca-path "$TLSD/ca.pem" --tls-server-name temporal-frontend operator cluster health --address 127.0.0.1:$FRONTEND >/dev/null 2>&1 &&
    die "the frontend answered a TLS client without a certificate"
  log "Temporal frontend: mTLS required (a client without a certificate is refused)"
fi
# = the compose temporal-setup job: namespace and search attributes, then checked.
"${TCLI[@]}" operator namespace describe --namespace default --address 127.0.0.1:$FRONTEND >/dev/null 2>&1 ||
  wait_for "the default namespace" "${TCLI[@]}" operator namespace create --namespace default --retention 3d --address 127.0.0.1:$FRONTEND
# A namespace just created reaches every service's cache within seconds: until then, creating its attributes fails.
wait_for "the namespace in every service" "${TCLI[@]}" operator search-attribute list --namespace default --address 127.0.0.1:$FRONTEND
for sa in RunbookKind=Keyword RunbookPhase=Keyword RunbookStatus=Keyword RunbookProgress=Int; do
  has_sa() { "${TCLI[@]}" operator search-attribute list --namespace default --address 127.0.0.1:$FRONTEND | grep -qw "$1"; }
  has_sa "${sa%%=*}" || wait_for "search attribute ${sa%%=*}" "${TCLI[@]}" operator search-attribute create --namespace default --name "${sa%%=*}" --type "${sa#*=}" --address 127.0.0.1:$FRONTEND
done
existing=$("${TCLI[@]}" operator search-attribute list --namespace default --address 127.0.0.1:$FRONTEND)
for name in RunbookKind RunbookPhase RunbookStatus RunbookProgress; do grep -qw "$name" <<<"$existing" || die "search attribute $name missing"; done
log "Temporal frontend 127.0.0.1:$FRONTEND serving; namespace default and 4 search attributes ready"

# ── Temporal UI server, read-only ───────────────────────────────────────────────────────────────────────────────
cat >"$STATE/ui/config/prodlike.yaml" <<YAML
temporalGrpcAddress: 127.0.0.1:$FRONTEND
host: 127.0.0.1
port: $UI_PORT
enableUi: true
defaultNamespace: default
refreshInterval: 0s
disableWriteActions: true
workflowTerminateDisabled: true
workflowCancelDisabled: true
workflowSignalDisabled: true
workflowUpdateDisabled: true
workflowResetDisabled: true
batchActionsDisabled: true
startWorkflowDisabled: true
workflowPauseDisabled: true
activityCommandsDisabled: true
cors:
  allowOrigins: ["http://127.0.0.1:$UI_PORT"]
$([ "$MTLS" = 1 ] && printf 'tls:\n  caFile: %s\n  certFile: %s\n  keyFile: %s\n  serverName: temporal-frontend\n  enableHostVerification: true\n' "$TLSD/ca.pem" "$TLSD/ui.pem" "$TLSD/ui-key.pem")
YAML
"$UISERVER" --root "$STATE/ui" --config config --env prodlike start >"$STATE/logs/ui.log" 2>&1 &
PIDS+=($!)
wait_for "the Temporal UI" curl -fsS "http://127.0.0.1:$UI_PORT/api/v1/settings"

# ── nginx in front of the connected systems ─────────────────────────────────────────────────────────────────────
SYSTEMS=(gsxt samr-report gdamr-datacenter)
location() { # id side
  local port=$LEGACY_SIDE; [ "$2" = new ] && port=$NEW_SIDE
  printf '# %s — rendered by the cutover runbook; side=%s\nlocation /interface/%s/ {\n    proxy_pass http://127.0.0.1:%s/interface/%s/;\n    proxy_set_header Host $proxy_host;\n    add_header X-Jm-Side %s always;\n    add_header X-Jm-Upstream $upstream_addr always;\n}\n' "$1" "$2" "$1" "$port" "$1" "$2"
}
for id in "${SYSTEMS[@]}"; do location "$id" legacy >"$STATE/nginx/upstreams/$id.conf"; done
cat >"$STATE/nginx/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo 'user root;')
worker_processes 1;
pid $STATE/nginx/nginx.pid;
error_log $STATE/logs/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $STATE/logs/nginx-access.log;
  client_body_temp_path $STATE/nginx/tmp/body;
  proxy_temp_path $STATE/nginx/tmp/proxy;
  fastcgi_temp_path $STATE/nginx/tmp/fastcgi;
  uwsgi_temp_path $STATE/nginx/tmp/uwsgi;
  scgi_temp_path $STATE/nginx/tmp/scgi;
  # 代理服务器: the connected systems' addresses; one include per system, switched by the runbook
  server { listen 127.0.0.1:$PROXY_PORT; include $STATE/nginx/upstreams/*.conf; }
  # the two sides of every interface (the legacy system, the new system)
  server { listen 127.0.0.1:$LEGACY_SIDE; default_type application/json; location / { return 200 '{"side":"legacy"}'; } }
  server { listen 127.0.0.1:$NEW_SIDE; default_type application/json; location / { return 200 '{"side":"new"}'; } }
}
NGINX
nginx -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" -e "$STATE/logs/nginx-error.log" || die "nginx did not start"
log "nginx: connected systems behind 127.0.0.1:$PROXY_PORT (legacy :$LEGACY_SIDE, new :$NEW_SIDE)"

# ── the site's configuration and the product's production settings ──────────────────────────────────────────────
cp -r config/. "$STATE/config/"
node -e '
  const [file, proxy, legacy, fresh, dir] = process.argv.slice(1);
  const ids = [["gsxt", "国家企业信用信息公示系统", "National Enterprise Credit Information Publicity System"],
    ["samr-report", "市场监管总局数据上报", "SAMR national data reporting"],
    ["gdamr-datacenter", "广东省市场监督管理局数据中心", "Guangdong AMR data center"]];
  require("fs").writeFileSync(file, JSON.stringify({
    description: "prodlike: three of the connected systems, all behind the nginx proxy",
    timeoutMs: 3000,
    proxy: { nginx: { binary: "nginx", conf: dir + "/nginx.conf", prefix: dir, upstreamDir: dir + "/upstreams" } },
    systems: ids.map(([id, zh, en]) => ({ id, name: { zh, en }, direction: "both",
      legacyBaseUrl: `http://127.0.0.1:${legacy}/interface/${id}`, newBaseUrl: `http://127.0.0.1:${fresh}/interface/${id}`,
      healthPath: "/health", switch: { driver: "nginx", proxyBaseUrl: `http://127.0.0.1:${proxy}/interface/${id}` } })),
  }, null, 2));
' "$STATE/config/connected-systems.json" $PROXY_PORT $LEGACY_SIDE $NEW_SIDE "$STATE/nginx"
chmod -R a-w "$STATE/config"
put_secret legacy_database_url "$(url legacy_reader jm_legacy)"
put_secret target_database_url "$(url runbook jm_target)"
put_secret runbook_database_url "$(url runbook jm_runbook)"
put_secret approval_signing_key "$(openssl rand -hex 32)"
export NODE_ENV=production TEMPORAL_ADDRESS=127.0.0.1:$FRONTEND TEMPORAL_NAMESPACE=default TASK_QUEUE=cutover LOG_LEVEL=info
export LEGACY_DATABASE_URL_FILE=$STATE/secrets/legacy_database_url TARGET_DATABASE_URL_FILE=$STATE/secrets/target_database_url
export RUNBOOK_DATABASE_URL_FILE=$STATE/secrets/runbook_database_url APPROVAL_SIGNING_KEY_FILE=$STATE/secrets/approval_signing_key
export BACKUP_DIR=$STATE/shared/backups REPORTS_DIR=$STATE/shared/reports
export MAPPING_FILE=$STATE/config/mapping.json PLAN_FILE=$STATE/config/plan.json NETWORK_FLOWS_FILE=$STATE/config/network-flows.json
export CONNECTED_SYSTEMS_FILE=$STATE/config/connected-systems.json SERVICES_FILE=$STATE/config/services.json
if [ "$MTLS" = 1 ]; then
  export TEMPORAL_TLS_CA_FILE=$TLSD/ca.pem TEMPORAL_TLS_CERT_FILE=$TLSD/runbook.pem TEMPORAL_TLS_KEY_FILE=$TLSD/runbook-key.pem TEMPORAL_TLS_SERVER_NAME=temporal-frontend
fi
export BUSINESS_API_URL=http://127.0.0.1:$REF_PORT TEMPORAL_UI_URL=http://127.0.0.1:$UI_PORT API_HOST=127.0.0.1 API_PORT=$API_PORT

# ── data and first-run steps, as an operator runs them in the image (compiled JS) ───────────────────────────────
log "legacy stand-in: $ENTITIES generated entities, then read-only for the runbook (role legacy_reader)"
LEGACY_DATABASE_URL_FILE= LEGACY_DATABASE_URL=$(url legacy_owner jm_legacy) node dist/scripts/seed-legacy.js --entities "$ENTITIES" >"$STATE/logs/seed.log" 2>&1 || die "seeding failed: $(tail -3 "$STATE/logs/seed.log")"
psql_admin -d jm_legacy <<'SQL'
DO $$ DECLARE s text; BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO legacy_reader', s);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO legacy_reader', s);
  END LOOP; END $$;
SQL
node dist/scripts/register-target.js prodlike.dba >>"$STATE/logs/first-run.log" 2>&1 || die "register-target failed: $(tail -3 "$STATE/logs/first-run.log")"
OPERATOR_TOKEN=$(node dist/scripts/issue-token.js prodlike.operator operator 2>>"$STATE/logs/first-run.log") || die "issue-token failed"
APPROVER_TOKEN=$(node dist/scripts/issue-token.js prodlike.approver approver 2>>"$STATE/logs/first-run.log") || die "issue-token failed"
# The API connects as the append-only audit role (jm_runbook_app), with its own password.
put_secret runbook_app_database_url "$(url jm_runbook_app jm_runbook)"
export RUNBOOK_APP_DATABASE_URL_FILE=$STATE/secrets/runbook_app_database_url

# ── the product: reference business system, API, and the worker under a supervisor ─────────────────────────────
REFERENCE_APP_PORT=$REF_PORT node dist/reference-app/main.js >"$STATE/logs/reference-app.log" 2>&1 &
PIDS+=($!)
node dist/api/main.js >"$STATE/logs/api.log" 2>&1 &
PIDS+=($!)
# The supervisor (what systemd's Restart=always or compose's restart: unless-stopped is in production): restarts the
# worker whenever it exits, counting restarts, until teardown.
supervise() {
  local n=0
  while [ ! -e "$STATE/stop" ]; do
    WORKFLOW_BUNDLE=$REPO/dist/workflow-bundle.js WORKER_SHUTDOWN_GRACE_SECONDS=10 WORKER_HEALTH_FILE=$STATE/worker-alive \
      node --max-old-space-size=512 dist/worker/main.js >>"$STATE/logs/worker.log" 2>&1 &
    echo $! >"$STATE/worker.pid"
    wait $! || true
    [ -e "$STATE/stop" ] && break
    n=$((n + 1)); echo $n >"$STATE/worker.restarts"
    echo "[supervisor] worker exited; restart #$n" >>"$STATE/logs/worker.log"
    sleep 1
  done
}
supervise 2>>"$STATE/logs/supervisor.log" &
PIDS+=($!)
wait_for "the worker" grep -q 'worker ready' "$STATE/logs/worker.log"
wait_for "the API" curl -fsS "http://127.0.0.1:$API_PORT/ready"
log "up: API http://127.0.0.1:$API_PORT, UI http://127.0.0.1:$UI_PORT (read-only), worker supervised — bring-up $(($(date +%s) - T0)) s"
echo "$(($(date +%s) - T0))" >"$STATE/bringup-seconds"

# ── the rehearsal, through the API ──────────────────────────────────────────────────────────────────────────────
export PRODLIKE_API=http://127.0.0.1:$API_PORT PRODLIKE_UI=http://127.0.0.1:$UI_PORT PRODLIKE_STATE=$STATE
export PRODLIKE_PROXY=http://127.0.0.1:$PROXY_PORT PRODLIKE_NEW_SIDE=$NEW_SIDE
OPERATOR_TOKEN=$OPERATOR_TOKEN APPROVER_TOKEN=$APPROVER_TOKEN node dist/scripts/prodlike-rehearsal.js | tee "$STATE/logs/rehearsal.log"
result=$(tail -1 "$STATE/logs/rehearsal.log")
rehearsal=$(sed -n 's/.*rehearsal=\([^ ]*\).*/\1/p' <<<"$result") ui_writable=$(sed -n 's/.*ui_writable=\([^ ]*\).*/\1/p' <<<"$result")
restarts=$(cat "$STATE/worker.restarts" 2>/dev/null || echo 0)
log "bring-up $(cat "$STATE/bringup-seconds") s, total $(($(date +%s) - T0)) s"
trap - EXIT
teardown
echo "prodlike: rehearsal=${rehearsal:-error} worker_restarts=$restarts ui_writable=${ui_writable:-unknown}"
[ "$rehearsal" = completed ] && [ "$ui_writable" = false ] && [ "$restarts" -ge 1 ]
