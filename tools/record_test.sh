#!/bin/bash
# record_test.sh - the ctest tests of `echoconf record` (label "record").
#
#   record_test.sh session  ECHOCONF BIN PROFILES WORK CLIENT TARGET_MODEL MODEL=CMD...
#       starts echo-TARGET_MODEL, records a session of ec-CLIENT through the relay,
#       validates the fixture, replays it against every MODEL=CMD: each must exit 0
#       (PASS, or XFAIL exactly as that model's profile declares for the case name).
#   record_test.sh faulty   ECHOCONF BIN PROFILES WORK FAULTY_MODEL CORRECT_MODEL
#       records ec-trickle against a faulty server; the replay against the correct
#       model must FAIL (exit 1) with a diagnosis in its JSON result.
#   record_test.sh refused  ECHOCONF BIN PROFILES WORK
#       a target that refuses: exit 3, a message, and no file.
#   record_test.sh maxbytes ECHOCONF BIN PROFILES WORK
#       --max-bytes cuts the recording: a message names the limit, the fixture is valid.
#
# No sleeps: servers and the relay are waited for by their readiness line "listening
# A:P", read with a deadline scaled by ECHOCONF_TIMEOUT_MULTIPLIER.
set -u
mode=$1 echoconf=$2 bin=$3 profiles=$4 work=$5
shift 5
mult=${ECHOCONF_TIMEOUT_MULTIPLIER:-1}
ready_s=$(awk -v m="$mult" 'BEGIN { printf "%d", 10 * m + 1 }')
rm -rf "$work" && mkdir -p "$work" || exit 2

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# start_server MODEL: runs echo-MODEL on port 0; sets srv_pid and srv_addr.
start_server() {
    exec {srv_fd}< <(exec "$bin/echo-$1" --port 0 2>"$work/server-$1.err")
    srv_pid=$!
    local line
    IFS= read -r -t "$ready_s" -u "$srv_fd" line || fail "echo-$1 printed no readiness line in ${ready_s}s"
    srv_addr=${line#listening }
    [ "$srv_addr" != "$line" ] || fail "echo-$1: unexpected first line: $line"
    # Keep draining its log so it never blocks on a full pipe.
    cat <&"$srv_fd" >"$work/server-$1.log" &
}

stop_server() {
    kill -INT "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
}

# record NAME CLIENT...: records the client command (with {} for the relay's address).
record() {
    local name=$1
    shift
    "$echoconf" record --listen 127.0.0.1:0 --target "$srv_addr" --out "$work/$name.json" \
        -- "$@" >"$work/record-$name.out" 2>&1
    local rc=$?
    cat "$work/record-$name.out"
    return $rc
}

case $mode in
session)
    client=$1 target=$2
    shift 2
    start_server "$target"
    name=record-$client
    record "$name" "$bin/ec-$client" --target {}
    rc=$?
    stop_server
    [ $rc -eq 0 ] || fail "echoconf record exited $rc"
    head -1 "$work/record-$name.out" | grep -q '^listening 127\.0\.0\.1:[0-9]*$' ||
        fail "the relay's first line is not its readiness line"
    "$echoconf" validate "$work/$name.json" || fail "the recorded fixture does not validate"
    grep -q '"comment":.*Recorded .* by echoconf record' "$work/$name.json" ||
        fail "the fixture's comment does not say when and how it was recorded"
    bad=0
    for spec in "$@"; do
        model=${spec%%=*} cmd=${spec#*=}
        "$echoconf" replay --fixture "$work/$name.json" --server "$cmd" --model "$model" \
            --family posix --profile-dir "$profiles" --json "$work/$model.json" \
            >"$work/replay-$model.txt" 2>&1
        rc=$?
        verdict=$(sed -n 's/.*"verdict":[[:space:]]*"\([^"]*\)".*/\1/p' "$work/$model.json" | head -1)
        echo "$model: exit $rc ($verdict)"
        if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
            bad=1
            sed -n '1,40p' "$work/replay-$model.txt"
        fi
    done
    [ $bad -eq 0 ] || fail "a POSIX model did not replay the recording as its profile declares"
    ;;
faulty)
    faulty=$1 correct=$2
    start_server "$faulty"
    record rec-faulty "$bin/ec-trickle" --target {}
    rc=$?
    stop_server
    [ $rc -eq 0 ] || fail "echoconf record exited $rc"
    "$echoconf" validate "$work/rec-faulty.json" || fail "the recorded fixture does not validate"
    "$echoconf" replay --fixture "$work/rec-faulty.json" --server "$bin/echo-$correct" \
        --model "$correct" --family posix --json "$work/replay.json" >"$work/replay.txt" 2>&1
    rc=$?
    cat "$work/replay.txt" | head -20
    [ $rc -eq 1 ] || fail "replaying the faulty recording against $correct exited $rc, not 1 (FAIL)"
    diag=$(sed -n 's/.*"diagnosis":[[:space:]]*"\([^"]*\)".*/\1/p' "$work/replay.json" | head -1)
    [ -n "$diag" ] || fail "the FAIL names no diagnosis"
    echo "recorded against $faulty, replayed against $correct: FAIL, diagnosis $diag"
    ;;
refused)
    # A port nobody listens on: bind one, note it, close it.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    srv_addr=127.0.0.1:$port
    record refused "$bin/ec-echo" --target {} --message hello
    rc=$?
    [ $rc -eq 3 ] || fail "a refusing target gave exit $rc, not 3"
    grep -q "refused" "$work/record-refused.out" || fail "no message saying the target refused"
    ls "$work"/refused* >/dev/null 2>&1 && fail "a file was written although the target refused"
    echo "refused: exit 3, nothing written"
    ;;
maxbytes)
    start_server posix-epoll
    "$echoconf" record --listen 127.0.0.1:0 --target "$srv_addr" --out "$work/cut.json" \
        --max-bytes 1000 -- "$bin/ec-halfclose" --target {} --size 4096 >"$work/cut.out" 2>&1
    rc=$?
    stop_server
    cat "$work/cut.out"
    [ $rc -eq 0 ] || fail "echoconf record exited $rc"
    grep -q -- "--max-bytes 1000 reached" "$work/cut.out" || fail "no message about the limit"
    grep -q "cut by --max-bytes 1000" "$work/cut.json" || fail "the fixture's comment does not say it was cut"
    "$echoconf" validate "$work/cut.json" || fail "the cut recording does not validate"
    ;;
*)
    echo "record_test.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
exit 0
