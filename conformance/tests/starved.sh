#!/bin/sh
# starved.sh - runs one replay whose server gets almost no CPU: the server at nice 19
# on CPU 0, beside a CPU hog on CPU 0 that lives as long as the replay (engine tests
# engine/busy-poll-starved*, conformance/tests/CMakeLists.txt).
# Usage: starved.sh ECHOCONF FIXTURE SERVER
taskset -c 0 sh -c 'while :; do :; done' &
hog=$!
"$1" replay --fixture "$2" --server "taskset -c 0 nice -n 19 $3" --verbose
rc=$?
kill "$hog"
exit "$rc"
