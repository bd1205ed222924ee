#!/usr/bin/env bash
# report_test.sh ECHOCONF SERVER WORK CHECK MODE - the browser tests' fixtures: a real
# `echoconf diagnose --html` report (three cases against SERVER, an iterative echo
# server that fails two of them with timelines), and `echoconf matrix --no-run --html`
# over a synthetic build directory holding those results as two models (one skipped),
# so the matrix file must show every cell. MODE diagnose|matrix picks which report
# CHECK (browser_check.py) renders.
set -uo pipefail
echoconf=$1 server=$2 work=$3 check=$4 mode=$5
rm -rf "$work"
mkdir -p "$work"
cases=(half-close-pending-echo slow-reader-isolation two-clients-concurrent)
sel=()
for c in "${cases[@]}"; do sel+=(--case "$c"); done
"$echoconf" diagnose --server "$server" --name iterative "${sel[@]}" -j 2 --seed 7 \
    --work "$work/cases" --html "$work/diagnose.html" --junit "$work/junit.xml" > "$work/diagnose.out"
rc=$?
cat "$work/diagnose.out"
if [ "$rc" -ne 1 ]; then
    echo "FAIL: diagnose of an iterative server should exit 1 (two cases fail), got $rc"
    exit 1
fi
if [ "$mode" = diagnose ]; then
    exec "$check" "$work/diagnose.html" "$work/diagnose.png" --cells 3
fi
# A build directory as `echoconf matrix` reads it: the manifest and one result file
# per model and case.
b=$work/build
mkdir -p "$b/conformance" "$b/conformance-results/posix-iterative"
{
    for c in "${cases[@]}"; do printf 'case\t%s\n' "$c"; done
    printf 'model\tposix-iterative\tposix\t\n'
    printf 'model\twin32-iterative\twin32\tno Wine on this machine\n'
} > "$b/conformance/manifest.tsv"
for c in "${cases[@]}"; do
    cp "$work/cases/$c.json" "$b/conformance-results/posix-iterative/$c.json"
done
"$echoconf" matrix --no-run --build "$b" --html "$work/matrix.html" > "$work/matrix.out"
rc=$?
cat "$work/matrix.out"
if [ "$rc" -ne 1 ]; then
    echo "FAIL: matrix with failing cells should exit 1, got $rc"
    exit 1
fi
exec "$check" "$work/matrix.html" "$work/matrix.png" --cells 6
