#!/usr/bin/env bash
# Team deployment on one host: an MLflow tracking server whose backend store is PostgreSQL and
# whose artifacts go to a shared artifact root (served through the server, --serve-artifacts),
# plus an Optuna storage database on the same PostgreSQL. Workers on any machine that reaches
# this one then share one study and one tracking server (README, "Team deployment").
# The server runs MLflow's basic authentication app (--app-name basic-auth): every request but
# /health needs a user, and users hold per-experiment and per-model permissions
# (docs/team-deployment.md says how an admin adds them). Its user store is a third database.
#
#   scripts/services.sh start    # (make services) create the databases if missing, start MLflow,
#                                #   wait until it answers, print the variables to export
#   scripts/services.sh stop     # (make services-stop) stop the server started by `start`
#   scripts/services.sh env      # print the exports again
#
# Variables (compose.yaml uses the same names and defaults):
#   ZOO_PG_URL           PostgreSQL server, no database   postgresql://${PGUSER:-postgres}@127.0.0.1:5432
#   ZOO_MLFLOW_DB        MLflow's backend-store database   zoo_mlflow
#   ZOO_OPTUNA_DB        Optuna's storage database         zoo_optuna
#   ZOO_SERVICES_HOST    address the server listens on     127.0.0.1 (0.0.0.0 for other machines)
#   ZOO_SERVICES_PORT    its port                          5000
#   ZOO_SERVICES_WORKERS its request-handling processes    2
#   ZOO_ARTIFACT_ROOT    shared artifact root              <repo>/mlartifacts-server
#   ZOO_SERVICES_DIR     pid file and server log           <repo>/.services
#   ZOO_AUTH_DB          the auth app's user database      zoo_mlflow_auth
#   ZOO_AUTH_DEFAULT_PERMISSION  what a user may do where nobody granted more   READ
#   MLFLOW_AUTH_ADMIN_USERNAME   the admin account, created on the first start  admin
#   MLFLOW_AUTH_ADMIN_PASSWORD   its password (12 characters or more): required, read from the
#                                environment only, never written to a file, printed or logged
#   MLFLOW_FLASK_SERVER_SECRET_KEY  the auth app's CSRF key; generated once into ZOO_SERVICES_DIR if unset
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${ZOO_PYTHON:-$ROOT/.venv/bin/python}"
MLFLOW="${ZOO_MLFLOW:-$(dirname "$PY")/mlflow}"

PG_URL="${ZOO_PG_URL:-postgresql://${PGUSER:-postgres}@127.0.0.1:5432}"
PG_URL="${PG_URL%/}"
MLFLOW_DB="${ZOO_MLFLOW_DB:-zoo_mlflow}"
OPTUNA_DB="${ZOO_OPTUNA_DB:-zoo_optuna}"
AUTH_DB="${ZOO_AUTH_DB:-zoo_mlflow_auth}"
DEFAULT_PERMISSION="${ZOO_AUTH_DEFAULT_PERMISSION:-READ}"
ADMIN="${MLFLOW_AUTH_ADMIN_USERNAME:-admin}"
HOST="${ZOO_SERVICES_HOST:-127.0.0.1}"
PORT="${ZOO_SERVICES_PORT:-5000}"
WORKERS="${ZOO_SERVICES_WORKERS:-2}"
ARTIFACT_ROOT="${ZOO_ARTIFACT_ROOT:-$ROOT/mlartifacts-server}"
STATE="${ZOO_SERVICES_DIR:-$ROOT/.services}"
PID_FILE="$STATE/mlflow.pid"
LOG_FILE="$STATE/mlflow.log"
AUTH_CONFIG="$STATE/basic_auth.ini"
SECRET_KEY_FILE="$STATE/flask_secret_key"
# the address clients use: a server listening on every interface is reached here on loopback
CLIENT_HOST="$HOST"
[[ "$HOST" == "0.0.0.0" ]] && CLIENT_HOST="127.0.0.1"
URI="http://$CLIENT_HOST:$PORT"

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

exports() {
  echo "export MLFLOW_TRACKING_URI=$URI"
  echo "export ZOO_OPTUNA_STORAGE=$PG_URL/$OPTUNA_DB"
  echo "# and your account on the server (the admin '$ADMIN' creates it; docs/team-deployment.md):"
  echo "#   export MLFLOW_TRACKING_USERNAME=<user> MLFLOW_TRACKING_PASSWORD=<password>"
}

# the auth app's settings, not its secrets: the admin password stays in the environment
auth_config() {
  case "$DEFAULT_PERMISSION" in
    READ|USE|EDIT|MANAGE|NO_PERMISSIONS) ;;
    *) echo "error: ZOO_AUTH_DEFAULT_PERMISSION=$DEFAULT_PERMISSION: use READ, USE, EDIT, MANAGE or NO_PERMISSIONS" >&2
       return 1 ;;
  esac
  if [[ -z "${MLFLOW_AUTH_ADMIN_PASSWORD:-}" || ${#MLFLOW_AUTH_ADMIN_PASSWORD} -lt 12 ]]; then
    echo "error: set MLFLOW_AUTH_ADMIN_PASSWORD (12 characters or more) to the password of the server's admin" \
         "account '$ADMIN' (MLFLOW_AUTH_ADMIN_USERNAME); it is read from the environment only" >&2
    return 1
  fi
  (
    umask 077
    printf '[mlflow]\ndefault_permission = %s\ndatabase_uri = %s\nadmin_username = %s\n' \
      "$DEFAULT_PERMISSION" "$PG_URL/$AUTH_DB" "$ADMIN" >"$AUTH_CONFIG"
    printf 'authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n' >>"$AUTH_CONFIG"
    if [[ -z "${MLFLOW_FLASK_SERVER_SECRET_KEY:-}" && ! -s "$SECRET_KEY_FILE" ]]; then
      "$PY" -c "import secrets; print(secrets.token_hex(32))" >"$SECRET_KEY_FILE"
    fi
  )
}

create_databases() {
  # CREATE DATABASE cannot run in a transaction, hence AUTOCOMMIT; names are checked first
  "$PY" - "$PG_URL" "$MLFLOW_DB" "$OPTUNA_DB" "$AUTH_DB" <<'EOF'
import re, sys
import sqlalchemy
url, names = sys.argv[1], sys.argv[2:]
for name in names:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        sys.exit(f"error: database name {name!r}: use lower-case letters, digits and _")
try:
    engine = sqlalchemy.create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT",
                                      connect_args={"connect_timeout": 5})
    with engine.connect() as conn:
        for name in names:
            if conn.execute(sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                print(f"database {name}: exists")
            else:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
                print(f"database {name}: created")
except sqlalchemy.exc.OperationalError as err:
    masked = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    sys.exit(f"error: PostgreSQL not reachable at {masked}: {str(err.orig).strip().splitlines()[0]}\n"
             "  start it, or set ZOO_PG_URL=postgresql://user:password@host:port")
EOF
}

start() {
  if running; then
    echo "MLflow server already running (pid $(cat "$PID_FILE")) on $URI"
    exports
    return 0
  fi
  # something else on the port (`make ui`, another server) would answer the health check for us
  if "$PY" -c "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)" \
      "$CLIENT_HOST" "$PORT" 2>/dev/null; then
    echo "error: port $PORT on $CLIENT_HOST is taken by another process; set ZOO_SERVICES_PORT" >&2
    return 1
  fi
  mkdir -p "$STATE" "$ARTIFACT_ROOT"
  auth_config
  create_databases
  # its own session (setsid), so `stop` ends the server and its request workers together.
  # MLflow 3's job runner (8 processes, for GenAI scorers; nothing here uses it) is off unless
  # MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true is exported.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}" \
  MLFLOW_AUTH_CONFIG_PATH="$AUTH_CONFIG" MLFLOW_AUTH_ADMIN_USERNAME="$ADMIN" \
  MLFLOW_FLASK_SERVER_SECRET_KEY="${MLFLOW_FLASK_SERVER_SECRET_KEY:-$(cat "$SECRET_KEY_FILE" 2>/dev/null)}" \
  setsid "$MLFLOW" server --host "$HOST" --port "$PORT" --workers "$WORKERS" --app-name basic-auth \
    --backend-store-uri "$PG_URL/$MLFLOW_DB" \
    --serve-artifacts --artifacts-destination "$ARTIFACT_ROOT" \
    >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  # the first start on an empty database migrates its schema: allow a while
  for _ in $(seq 1 "${ZOO_SERVICES_WAIT:-120}"); do
    if ! running; then
      echo "error: the MLflow server exited; the end of $LOG_FILE:" >&2
      tail -n 20 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$URI/health" 2>/dev/null; then
      echo "MLflow server on $URI (pid $(cat "$PID_FILE"); backend $MLFLOW_DB, artifacts $ARTIFACT_ROOT; log $LOG_FILE)"
      echo "Authentication: on (users in database $AUTH_DB, admin '$ADMIN', default permission $DEFAULT_PERMISSION)"
      echo "Optuna storage: database $OPTUNA_DB"
      echo "# export these in every shell that trains or sweeps (workers on other machines: use this host's address):"
      exports
      return 0
    fi
    sleep 1
  done
  echo "error: the MLflow server did not answer at $URI/health; see $LOG_FILE" >&2
  stop >&2
  return 1
}

stop() {
  if ! running; then
    echo "no MLflow server running from $PID_FILE"
    rm -f "$PID_FILE"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  echo "stopped the MLflow server (pid $pid); the databases and $ARTIFACT_ROOT are kept"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  env) exports ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
