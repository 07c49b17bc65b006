#!/usr/bin/env bash
# Traffic for the example project: 8 clients sending GET / to production's HAProxy
# (127.0.0.1:18080, or PORT) for SECONDS (default 30), so a canary has requests to be judged by.
#   scripts/traffic.sh [SECONDS] [PORT]
set -euo pipefail
seconds=${1:-30} port=${2:-18080}
end=$((SECONDS + seconds))
client() {
    local n=0
    while [ "$SECONDS" -lt "$end" ]; do
        if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            printf 'GET / HTTP/1.0\r\nHost: shop\r\n\r\n' >&3
            cat <&3 >/dev/null || true
            exec 3>&-
            n=$((n + 1))
        else
            sleep 0.2
        fi
    done
    echo "$n"
}
total=0
for i in 1 2 3 4 5 6 7 8; do client > "/tmp/runner-traffic.$$.$i" & done
wait
for i in 1 2 3 4 5 6 7 8; do total=$((total + $(cat "/tmp/runner-traffic.$$.$i"))); rm -f "/tmp/runner-traffic.$$.$i"; done
echo "sent $total requests to 127.0.0.1:$port in ${seconds}s"
