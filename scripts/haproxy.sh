#!/usr/bin/env bash
# The example project's router: a throwaway HAProxy (the distribution's package, installed by
# scripts/setup-example) with its frontend on 127.0.0.1:FRONTEND and its runtime API on a unix socket
# under .runner/haproxy/, in front of production's two demo app servers, blue on BLUE and green
# on GREEN (127.0.0.1). runner starts it through `router.start` in runner.toml when the socket
# does not answer.
#   scripts/haproxy.sh start FRONTEND BLUE GREEN
#   scripts/haproxy.sh stop
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Where runner.toml points router.socket: .runner/haproxy/admin.sock.
dir=$root/.runner/haproxy
pidfile=$dir/haproxy.pid
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)

case ${1:-} in
start)
    frontend=${2:?usage: haproxy.sh start FRONTEND BLUE GREEN} blue=${3:?} green=${4:?}
    mkdir -p "$dir"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        exit 0
    fi
    if [ ! -x "$haproxy" ]; then
        echo "haproxy is not installed: run scripts/setup-example (or scripts/setup-tests)" >&2
        exit 1
    fi
    cat > "$dir/haproxy.cfg" <<CFG
global
    stats socket $dir/admin.sock mode 600 level admin
    pidfile $pidfile

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout

frontend shop
    bind 127.0.0.1:$frontend
    default_backend shop

backend shop
    balance roundrobin
    option httpchk GET /health
    server blue 127.0.0.1:$blue weight 256 check inter 250ms rise 1 fall 2
    server green 127.0.0.1:$green weight 0 check inter 250ms rise 1 fall 2
CFG
    "$haproxy" -D -f "$dir/haproxy.cfg"
    echo "started HAProxy on 127.0.0.1:$frontend (runtime API $dir/admin.sock)"
    ;;
stop)
    if [ -f "$pidfile" ]; then
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
        echo "stopped HAProxy"
    fi
    ;;
*)
    echo "usage: $0 start FRONTEND BLUE GREEN | stop" >&2
    exit 2
    ;;
esac
