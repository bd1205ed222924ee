#!/usr/bin/env bash
# start_errors.sh ECHOCONF WORK - a server that cannot be used is exit 2 with a message
# naming what was tried and what was seen, within the scaled readiness deadline:
# a command that exits at once, one that never prints its readiness line, a {port}
# command that never listens, and a --target nobody listens on.
set -uo pipefail
echoconf=$1 work=$2
rm -rf "$work"; mkdir -p "$work"
mult=${ECHOCONF_TIMEOUT_MULTIPLIER:-1}
# The engine waits 10 s for readiness (scaled); allow 5 s more for start and stop.
limit=$(awk -v m="$mult" 'BEGIN { printf "%d", 10 * (m > 1 ? m : 1) + 5 }')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fail=0
check() { # name, expected regex, echoconf args...
    local name=$1 re=$2; shift 2
    local t0=$(date +%s.%N)
    "$echoconf" diagnose "$@" --work "$work/$name" > "$work/$name.out" 2>&1
    local rc=$?
    local secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    echo "--- $name: exit $rc in $secs s"
    cat "$work/$name.out"
    if [ "$rc" -ne 2 ]; then echo "FAIL: $name: exit $rc, expected 2"; fail=1; fi
    if ! grep -Eq "$re" "$work/$name.out"; then echo "FAIL: $name: no line matching /$re/"; fail=1; fi
    if awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
        echo "FAIL: $name took $secs s, more than $limit s"; fail=1
    fi
}
check exits-at-once 'server "false": cannot start it: the server exited with status 1 before its readiness line' \
    --server false
# sleep rejects the contract's --port 0: it exits at once, and says so on stderr.
check sleep-rejects-port 'server "sleep 100": cannot start it: the server exited with status 1 before its readiness line' \
    --server "sleep 100"
grep -q "ran: sleep 100 --port 0 --framing raw" "$work/sleep-rejects-port.out" ||
    { echo "FAIL: sleep-rejects-port: the command run is not shown"; fail=1; }
grep -q "its stderr: sleep: unrecognized option" "$work/sleep-rejects-port.out" ||
    { echo "FAIL: sleep-rejects-port: the server's stderr is not shown"; fail=1; }
# A server that takes the arguments and never says it is listening.
check never-ready 'cannot start it: no readiness line "listening A:P" within [0-9]+ ms' \
    --server "sh -c 'sleep 100'"
check port-never-listens 'cannot start it: nothing accepted a connection on 127\.0\.0\.1:[0-9]+ within [0-9]+ ms \([0-9]+ attempts, the last: refused\)' \
    --server "sleep 100 {port}"
check dead-target "target 127\.0\.0\.1:$port: cannot connect to 127\.0\.0\.1:$port \(refused" \
    --target "127.0.0.1:$port"
check bad-usage 'give one of --server "CMD" or --target HOST:PORT' --case x
exit $fail
