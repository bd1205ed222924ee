#!/usr/bin/env bash
# target_matches_server.sh ECHOCONF SERVER WORK FIXTURES - `diagnose --target` against
# a running SERVER (started with its defaults, --port 0) gives the same verdicts as
# `diagnose --server SERVER` (how the matrix row starts it) for every case it can run:
# the cases whose fixture starts the server as the target was started (server_args
# --bufsize 1024, the default). A case that configures the server otherwise
# (--nodelay, --bufsize 64) tests another configuration against a target and is only
# listed. Cases that need a server process are UNSUPPORTED with a reason. The
# diagnosis may differ where only the server log tells the cause (a --target has no
# log): it is printed, the verdict is compared. Framed cases are left out of both.
set -uo pipefail
echoconf=$1 server=$2 work=$3 fixtures=$4
rm -rf "$work"; mkdir -p "$work"
"$echoconf" diagnose --server "$server" --framing raw -j 2 --seed 11 --json "$work/server.json" \
    --work "$work/server" > "$work/server.out" 2>&1
echo "diagnose --server: exit $?"
# The readiness line is read from the server's stdout as it comes (a bounded read,
# no polling).
exec 3< <(exec "$server" --port 0 2>/dev/null)
pid=$!
trap 'kill -INT $pid 2>/dev/null' EXIT
read -r -t "$(awk -v m="${ECHOCONF_TIMEOUT_MULTIPLIER:-1}" 'BEGIN { print 10 * (m > 1 ? m : 1) }')" -u 3 line
addr=${line#listening }
# The rest of its log is drained in the background, so it never blocks on a full pipe.
cat <&3 > "$work/target.log" &
[ -n "$addr" ] || { echo "FAIL: $server printed no readiness line"; exit 1; }
"$echoconf" diagnose --target "$addr" -j 2 --seed 11 --json "$work/target.json" \
    --work "$work/target" > "$work/target.out" 2>&1
echo "diagnose --target $addr: exit $?"
cat "$work/target.out"
python3 - "$work/server.json" "$work/target.json" "$fixtures" <<'PY'
import json, os, sys
srv = {c["case"]: c for c in json.load(open(sys.argv[1]))["cases"]}
tgt = {c["case"]: c for c in json.load(open(sys.argv[2]))["cases"]}
def args(case):
    return json.load(open(os.path.join(sys.argv[3], case + ".json"))).get("server_args", [])
bad = compared = unsupported = 0
for name, t in sorted(tgt.items()):
    if t["verdict"] == "UNSUPPORTED":
        unsupported += 1
        if not t.get("reason"):
            print("FAIL: %s UNSUPPORTED without a reason" % name); bad = 1
        continue
    s = srv.get(name)
    if s is None:
        print("FAIL: %s ran against the target only" % name); bad = 1
        continue
    if args(name) not in ([], ["--bufsize", "1024"]):
        print("not compared: %s starts its server with %s (--server %s, --target %s)"
              % (name, " ".join(args(name)), s["verdict"], t["verdict"]))
        continue
    compared += 1
    line = "%s: --server %s %s, --target %s %s" % (name, s["verdict"], s.get("diagnosis", ""),
                                                   t["verdict"], t.get("diagnosis", ""))
    if s["verdict"] != t["verdict"]:
        print("FAIL: " + line); bad = 1
    elif s.get("diagnosis", "") != t.get("diagnosis", ""):
        print("same verdict, diagnosis told apart by the server log: " + line)
print("%d cases compared, %d UNSUPPORTED against the target" % (compared, unsupported))
if compared < 20 or unsupported < 1:
    print("FAIL: too few cases compared or none unsupported"); bad = 1
sys.exit(bad)
PY
