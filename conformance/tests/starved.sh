#!/bin/sh
# starved.sh - runs one replay whose server gets almost no CPU: the server at nice 19
# on CPU 0, beside a CPU hog on CPU 0 that lives as long as the replay (engine tests
# engine/busy-poll-starved*, conformance/tests/CMakeLists.txt).
# Usage: starved.sh ECHOCONF FIXTURE SERVER [FAMILY]
# FAMILY win32 runs SERVER (a wine64 command line) as a Winsock model under Wine; the
# wineserver it talks to is the persistent one of the "wine" test fixture, not pinned.
taskset -c 0 sh -c 'while :; do :; done' &
hog=$!
"$1" replay --fixture "$2" --server "taskset -c 0 nice -n 19 $3" ${4:+--family "$4"} --verbose
rc=$?
kill "$hog"
exit "$rc"
