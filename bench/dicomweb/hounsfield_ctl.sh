#!/usr/bin/env bash
# Start / stop / reset the benchmark Hounsfield (loopback only, data under the scratch root).
#   hounsfield_ctl.sh start|stop|reset|token
# The server starts with a bench admin account and a signing key kept beside (not in) the data folder, so that the
# Bearer token printed by `token` stays valid across resets (the harness sends it as AUTH).
# Only the PID recorded in $HOUNSFIELD_ROOT/hounsfield.pid (the one we started) is ever killed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-$(dirname "$(mktemp -u)")}}
HOUNSFIELD_ROOT=${HOUNSFIELD_ROOT:-$BENCH_TMP/hounsfield-bench}
APP=${HOUNSFIELD_APP:-$HERE/../out/hounsfield/hounsfield}  # an executable (scripts/publish), or a .dll run by dotnet
PORT=${HOUNSFIELD_PORT:-8080}
PIDFILE=$HOUNSFIELD_ROOT/hounsfield.pid
export HOUNSFIELD_ADMIN_EMAIL=${HOUNSFIELD_ADMIN_EMAIL:-bench@localhost}
export HOUNSFIELD_ADMIN_PASSWORD=${HOUNSFIELD_ADMIN_PASSWORD:-bench-password}

RUN=(); [[ $APP == *.dll ]] && RUN=(dotnet)

running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  running && return 0
  # Another server on our ports would answer the readiness check while ours exits: measure nothing then.
  for port in "$PORT" "${HOUNSFIELD_DICOM_PORT:-11112}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is already in use by another process; stop it first" >&2
      return 1
    fi
  done
  mkdir -p "$HOUNSFIELD_ROOT/data"
  [[ -f $HOUNSFIELD_ROOT/signing-key ]] || (umask 077; head -c 48 /dev/urandom | base64 -w0 >"$HOUNSFIELD_ROOT/signing-key")
  HOUNSFIELD__Auth__SigningKey=$(cat "$HOUNSFIELD_ROOT/signing-key") Logging__LogLevel__Default=Warning nohup ${RUN[@]+"${RUN[@]}"} "$APP" serve \
    --urls "http://127.0.0.1:$PORT" --data "$HOUNSFIELD_ROOT/data" --dicom-port "${HOUNSFIELD_DICOM_PORT:-11112}" --Dimse:Open true \
    --Auth:AccessTokenLifetime 2.00:00:00 >"$HOUNSFIELD_ROOT/hounsfield.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 300); do
    running || { echo "hounsfield exited at start; see $HOUNSFIELD_ROOT/hounsfield.log" >&2; tail -1 "$HOUNSFIELD_ROOT/hounsfield.log" >&2; return 1; }
    curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "hounsfield did not start; see $HOUNSFIELD_ROOT/hounsfield.log" >&2
  return 1
}

stop() {
  if running; then
    kill "$(cat "$PIDFILE")"
    for _ in $(seq 100); do running || break; sleep 0.1; done
    running && kill -9 "$(cat "$PIDFILE")"
  fi
  rm -f "$PIDFILE"
}

token() {
  curl -sf -X POST "http://127.0.0.1:$PORT/api/token/" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$HOUNSFIELD_ADMIN_EMAIL\",\"password\":\"$HOUNSFIELD_ADMIN_PASSWORD\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access"])'
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$HOUNSFIELD_ROOT/data"; start ;;
  token) token ;;
  *) echo "usage: $0 start|stop|reset|token" >&2; exit 2 ;;
esac
