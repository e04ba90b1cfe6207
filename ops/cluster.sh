#!/usr/bin/env bash
# Several Chartkeeper instances on one PostgreSQL behind HAProxy, on this machine (docs/OPERATIONS.md).
#
#   DATABASE_URL=postgres://... ops/cluster.sh start [N]   start N instances (2 or 3, default 2) and the proxy
#   ops/cluster.sh status                                 each instance's pid, port and /readyz answer
#   ops/cluster.sh stop                                   stop the proxy, then each instance gracefully (SIGTERM)
#
# Settings (environment): CLUSTER_DIR (default ./.cluster: pids, logs, haproxy.cfg, the shared signing key),
# PROXY_PORT (8080), INSTANCE_PORT (8081: instances listen on 8081, 8082, ...), and any Chartkeeper setting
# (SMTP_URL, METRICS_TOKEN, JOB_SCHEDULES, ...), passed to every instance; INSTANCE_NODE_FLAGS adds Node flags to
# the instances' own (--cpu-prof --cpu-prof-dir=DIR, say: Node refuses those in NODE_OPTIONS). HAProxy (Debian's
# haproxy package) is installed with apt-get when it is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLUSTER_DIR="$(mkdir -p "${CLUSTER_DIR:-$ROOT/.cluster}" && cd "${CLUSTER_DIR:-$ROOT/.cluster}" && pwd)"
PROXY_PORT="${PROXY_PORT:-8080}"
INSTANCE_PORT="${INSTANCE_PORT:-8081}"

die() { echo "cluster: $*" >&2; exit 1; }

ensure_haproxy() {
  command -v haproxy >/dev/null && return
  [ "$(id -u)" = 0 ] || die "haproxy is not installed: run 'sudo apt-get install haproxy' (or run this script as root)"
  echo "cluster: installing haproxy" >&2
  # A fresh machine has no package lists yet; update only when the install cannot find the package.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }
  # Debian starts the packaged service on port 80 with its own configuration; this setup runs its own proxy.
  { systemctl disable --now haproxy || service haproxy stop; } >/dev/null 2>&1 || true
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_ready() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

write_haproxy_cfg() { # count
  {
    cat <<CFG
global
  maxconn 4096
  pidfile $CLUSTER_DIR/haproxy.pid
  stats socket $CLUSTER_DIR/haproxy.sock mode 600 level admin

defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 10s
  # A connection refused (an instance that died) is tried again on another instance; a request already sent
  # is never replayed, so no write can happen twice.
  retries 2
  option redispatch 1
  retry-on conn-failure

frontend chartkeeper
  bind 127.0.0.1:$PROXY_PORT
  option forwardfor
  # Each request gets an id here (a client's own is kept), which the instance logs and returns.
  unique-id-format %{+X}o%ci-%cp-%Ts-%rt
  http-request set-header X-Request-Id %[unique-id] unless { req.hdr(x-request-id) -m found }
  default_backend instances

backend instances
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  # /readyz waits for a pooled connection like any request: on a busy machine it can take over a second while the
  # instance still serves. With the default (a check times out after inter, 1 s) both instances were marked down
  # under load and the proxy answered every request 503; a slow answer now counts as up, a refused one as down.
  timeout check 5s
  default-server inter 1s fall 2 rise 2
CFG
    for i in $(seq 1 "$1"); do
      echo "  server instance-$i 127.0.0.1:$((INSTANCE_PORT + i - 1)) check"
    done
  } >"$CLUSTER_DIR/haproxy.cfg"
}

start() {
  local count="${1:-2}"
  [[ "$count" =~ ^[23]$ ]] || die "start takes 2 or 3 instances, got '$count'"
  [ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL must point at the PostgreSQL server the instances share"
  alive "$CLUSTER_DIR/haproxy.pid" && die "already running (ops/cluster.sh stop first)"
  ensure_haproxy
  # Tokens signed by one instance must verify on the others: one key for all, kept in the cluster folder.
  if [ -z "${SIGNING_KEY:-}" ]; then
    [ -f "$CLUSTER_DIR/signing-key" ] || (umask 077 && node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))" >"$CLUSTER_DIR/signing-key")
    SIGNING_KEY="$(cat "$CLUSTER_DIR/signing-key")"
  fi
  export SIGNING_KEY
  # Migrate once before the instances start (each would wait on the migration lock otherwise).
  node "$ROOT/bin/chartkeeper.js" migrate >/dev/null
  # Each instance runs with the server's Node flags (src/server-node-flags.ts): through the command's shebang, or, with
  # flags of its own, through node with the shebang's flags first.
  local launch=("$ROOT/bin/chartkeeper.js")
  if [ -n "${INSTANCE_NODE_FLAGS:-}" ]; then
    # shellcheck disable=SC2206 # the flags are words
    launch=(node $(head -n 1 "$ROOT/bin/chartkeeper.js" | sed 's/^.* node //') $INSTANCE_NODE_FLAGS "$ROOT/bin/chartkeeper.js")
  fi
  for i in $(seq 1 "$count"); do
    local port=$((INSTANCE_PORT + i - 1))
    mkdir -p "$CLUSTER_DIR/instance-$i"
    PORT=$port HOST=127.0.0.1 BASE_URL="${BASE_URL:-http://localhost:$PROXY_PORT}" DATA_DIR="$CLUSTER_DIR/instance-$i" SEED_DEMO=false \
      nohup "${launch[@]}" serve >>"$CLUSTER_DIR/instance-$i.log" 2>&1 &
    echo $! >"$CLUSTER_DIR/instance-$i.pid"
  done
  for i in $(seq 1 "$count"); do
    wait_ready "http://127.0.0.1:$((INSTANCE_PORT + i - 1))" 120 || die "instance $i did not become ready (see $CLUSTER_DIR/instance-$i.log)"
  done
  write_haproxy_cfg "$count"
  haproxy -c -q -f "$CLUSTER_DIR/haproxy.cfg" || die "haproxy refused $CLUSTER_DIR/haproxy.cfg"
  haproxy -D -f "$CLUSTER_DIR/haproxy.cfg"
  wait_ready "http://127.0.0.1:$PROXY_PORT" 30 || die "the proxy on port $PROXY_PORT does not answer"
  echo "cluster: $count instances (ports $INSTANCE_PORT-$((INSTANCE_PORT + count - 1))) behind http://127.0.0.1:$PROXY_PORT"
}

status() {
  alive "$CLUSTER_DIR/haproxy.pid" && echo "proxy       pid $(cat "$CLUSTER_DIR/haproxy.pid")  http://127.0.0.1:$PROXY_PORT" || echo "proxy       stopped"
  for pidfile in "$CLUSTER_DIR"/instance-*.pid; do
    [ -e "$pidfile" ] || continue
    local name port
    name="$(basename "$pidfile" .pid)"
    port=$((INSTANCE_PORT + ${name#instance-} - 1))
    if alive "$pidfile"; then
      echo "$name  pid $(cat "$pidfile")  port $port  readyz $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")"
    else
      echo "$name  stopped"
    fi
  done
}

stop() {
  if alive "$CLUSTER_DIR/haproxy.pid"; then kill "$(cat "$CLUSTER_DIR/haproxy.pid")"; fi
  rm -f "$CLUSTER_DIR/haproxy.pid"
  local pids=()
  for pidfile in "$CLUSTER_DIR"/instance-*.pid; do
    [ -e "$pidfile" ] || continue
    if alive "$pidfile"; then
      pids+=("$(cat "$pidfile")")
      kill -TERM "$(cat "$pidfile")"
    fi
    rm -f "$pidfile"
  done
  # Each instance finishes its requests and jobs within SHUTDOWN_GRACE_SECONDS (25 s by default).
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { echo "cluster: instance pid $pid did not stop; killing it" >&2; kill -KILL "$pid"; }
  done
  echo "cluster: stopped"
}

case "${1:-}" in
  start) start "${2:-2}" ;;
  status) status ;;
  stop) stop ;;
  *) die "usage: ops/cluster.sh start [2|3] | status | stop" ;;
esac
