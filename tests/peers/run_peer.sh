#!/usr/bin/env bash
# run_peer.sh ECHOCONF NAME PROFILE MAX_SECONDS WORKDIR NEEDS -- SERVER-CMD
# One `peers` test: runs `echoconf diagnose` against a third-party echo server with
# its expected profile and passes when diagnose exits 0 (every case passed or
# deviated exactly as the profile declares), printed an edge profile, and finished
# within MAX_SECONDS (scaled by ECHOCONF_TIMEOUT_MULTIPLIER). NEEDS names a program
# that must be installed, else the test is skipped (exit 77).
# What only the peer's own scheduling decides is a may-entry of the profile (a family
# such as capacity-limit matches every capacity-limit:N).
set -uo pipefail
echoconf=$1 name=$2 profile=$3 max=$4 work=$5 needs=$6
shift 6
[ "$1" = "--" ] && shift
server=$*
if ! command -v "$needs" >/dev/null 2>&1 && [ ! -x "$needs" ]; then
    echo "SKIP: $needs is not installed (tools/install-deps.sh installs it)"
    exit 77
fi
mult=${ECHOCONF_TIMEOUT_MULTIPLIER:-1}
limit=$(awk -v m="$mult" -v s="$max" 'BEGIN { printf "%d", s * (m > 1 ? m : 1) }')
rm -rf "$work"
mkdir -p "$work"
start=$(date +%s.%N)
"$echoconf" diagnose --server "$server" --name "$name" --profile "$profile" -j 2 \
    --work "$work/cases" --json "$work/result.json" --junit "$work/junit.xml" \
    --html "$work/report.html" | tee "$work/out.txt"
rc=${PIPESTATUS[0]}
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "peers/$name: echoconf diagnose exit $rc in $secs s (limit $limit s)"
fail=0
if [ "$rc" -ne 0 ]; then
    echo "FAIL: exit $rc: the server no longer behaves as $profile declares"
    fail=1
fi
if ! grep -q "^edge profile of $name:" "$work/out.txt"; then
    echo "FAIL: no edge profile in the output"
    fail=1
fi
if awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
    echo "FAIL: took $secs s, more than $limit s"
    fail=1
fi
exit $fail
