#!/usr/bin/env bash
# The share of targeting keys the example's production serves the new checkout to: sends GET /
# for N different users (X-User) through HAProxy (127.0.0.1:18080, or PORT) and counts the
# answers with `X-Checkout: new` (the demo app evaluates the flag new-checkout from its flagd
# file).
#   scripts/flag-share.sh [N] [PORT]
set -euo pipefail
n=${1:-1000} port=${2:-18080}
new=0
for i in $(seq 1 "$n"); do
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET / HTTP/1.0\r\nHost: shop\r\nX-User: customer-%s\r\n\r\n' "$i" >&3
    if grep -qi '^X-Checkout: new' <&3; then new=$((new + 1)); fi
    exec 3>&-
done
awk -v new="$new" -v n="$n" 'BEGIN { printf "%d of %d users get the new checkout (%.1f %%)\n", new, n, 100 * new / n }'
