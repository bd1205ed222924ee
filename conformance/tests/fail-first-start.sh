#!/bin/sh
# fail-first-start.sh STATE SERVER [ARGS...]: exits 1 at once, printing nothing, the first
# time it runs (no STATE file yet), as wine64 now and then does; then runs SERVER ARGS.
# For the test of the engine's Wine start-up retry (engine/wine-start-retry).
state=$1
shift
if [ ! -e "$state" ]; then
    : >"$state"
    exit 1
fi
exec "$@"
