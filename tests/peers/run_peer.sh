#!/usr/bin/env bash
# run_peer.sh ECHOCONF NAME PROFILE MAX_SECONDS WORKDIR NEEDS -- SERVER-CMD
# One `peers` test: runs `echoconf diagnose` against a third-party echo server with
# its expected profile and passes when diagnose exits 0 (every case passed or
# deviated exactly as the profile declares), printed an edge profile, and finished
# within MAX_SECONDS (scaled by ECHOCONF_TIMEOUT_MULTIPLIER). NEEDS names a program
# that must be installed, else the test is skipped (exit 77).
# A file NAME.may beside the profile lists "case<TAB>diagnosis<TAB>reason" lines:
# outcomes that only the peer's own scheduling decides. Such a case may PASS or FAIL
# with exactly that diagnosis, and nothing else (the profile format of the engine has
# no such entry yet).
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
may=${profile%.json}.may
if [ "$rc" -eq 1 ] && [ -f "$may" ]; then
    # Exit 1 is acceptable only when every failing case is a may-entry that failed
    # with its own diagnosis.
    python3 - "$work/result.json" "$may" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
may = {}
for line in open(sys.argv[2]):
    if line.strip() and not line.startswith("#"):
        case, diag, _ = line.rstrip("\n").split("\t", 2)
        may[case] = diag
bad = 0
for c in res["cases"]:
    v, d = c.get("verdict"), c.get("diagnosis", "")
    if v in ("PASS", "PASS-NONSTRICT", "XFAIL", "MAY", "UNSUPPORTED"):
        continue
    if v == "FAIL" and c["case"] in may and d.split(":")[0] == may[c["case"]]:
        print("may: %s failed with %s, as its may-entry allows" % (c["case"], d))
        continue
    print("not allowed: %s %s %s" % (c["case"], v, d))
    bad = 1
sys.exit(bad)
PY
    [ $? -eq 0 ] && rc=0
fi
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
