#!/bin/bash
# fuzz_test.sh - the ctest tests of `echoconf fuzz` (labels "fuzz" and "difffuzz").
#
#   fuzz_test.sh bounded ECHOCONF BUILD WORK CORRECT FAULTY SEED RUNS
#       a bounded fuzz (--budget 50 s) of one correct and one faulty model: exit 1, no
#       disagreement of CORRECT and no fixture for it, one disagreement of FAULTY after
#       which it ran no more scripts, at least one shrunk fixture for FAULTY of at most
#       3 connections and 10 steps.
#   fuzz_test.sh shrunk ECHOCONF BUILD WORK FAULTY SEED RUNS
#       fuzzes FAULTY, then replays every fixture the shrinker wrote against FAULTY with
#       `echoconf replay`: each must fail with the diagnosis its requirement line names
#       (the one the shrinker saw last).
set -u
mode=$1 echoconf=$2 build=$3 work=$4
shift 4
rm -rf "$work" && mkdir -p "$work" || exit 2

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# steps FILE / conns FILE: counts in a fixture (python3 is in install-deps).
count() {
    python3 -c 'import json,sys
d=json.load(open(sys.argv[2]))
c=d["connections"]
print(len(c) if sys.argv[1]=="conns" else sum(len(x["steps"]) for x in c))' "$1" "$2"
}

case $mode in
bounded)
    correct=$1 faulty=$2 seed=$3 runs=$4
    "$echoconf" fuzz --build "$build" --models "$correct,$faulty" --seed "$seed" --runs "$runs" \
        --budget 50 --out "$work/out" >"$work/fuzz.txt" 2>&1
    rc=$?
    grep -v '^  \(script\|replay\)' "$work/fuzz.txt"
    [ $rc -eq 1 ] || fail "echoconf fuzz exited $rc, not 1 (a disagreement of $faulty)"
    grep -Eq "^  $correct +[0-9]+ run, +[0-9]+ agreed, +[0-9]+ skipped, +0 disagreed" "$work/fuzz.txt" ||
        fail "$correct disagreed (or did not run)"
    # the faulty model, found, runs no more scripts (the budget goes to the others)
    grep -Eq "^  $faulty +[0-9]+ run, .* 1 disagreed, [0-9]+ not run after its first" "$work/fuzz.txt" ||
        fail "$faulty was not found, or ran scripts after its first disagreement"
    ls "$work/out/$correct"-*.json >/dev/null 2>&1 && fail "a fixture was written for $correct"
    n=0
    for f in "$work/out/$faulty"-*.json; do
        [ -e "$f" ] || fail "no shrunk fixture for $faulty"
        "$echoconf" validate "$f" >/dev/null || fail "$f does not validate"
        c=$(count conns "$f") s=$(count steps "$f")
        echo "$f: $c connection(s), $s steps"
        [ "$c" -le 3 ] && [ "$s" -le 10 ] || fail "$f is not shrunk to <= 3 connections and 10 steps"
        n=$((n + 1))
    done
    echo "$faulty: $n shrunk fixture(s); $correct: none"
    ;;
shrunk)
    faulty=$1 seed=$2 runs=$3
    "$echoconf" fuzz --build "$build" --models "$faulty" --seed "$seed" --runs "$runs" \
        --budget 50 --out "$work/out" >"$work/fuzz.txt" 2>&1
    rc=$?
    grep -v '^  \(script\|replay\)' "$work/fuzz.txt"
    [ $rc -eq 1 ] || fail "echoconf fuzz exited $rc, not 1"
    cmd=$(awk -F'\t' -v m="$faulty" '$1 == m { for (i = 3; i <= NF; i++) printf "%s\"%s\"", (i > 3 ? " " : ""), $i }' \
        "$build/difffuzz-models.tsv")
    [ -n "$cmd" ] || fail "$faulty is not in $build/difffuzz-models.tsv"
    n=0
    for f in "$work/out/$faulty"-*.json; do
        [ -e "$f" ] || fail "no shrunk fixture for $faulty"
        want=$(sed -n 's/.*failed this with \([^"]*\)".*/\1/p' "$f" | head -1)
        [ -n "$want" ] || fail "$f: no diagnosis in its requirement"
        "$echoconf" replay --fixture "$f" --server "$cmd" --model "$faulty" --family faulty \
            --json "$work/replay.json" >"$work/replay.txt" 2>&1
        rc=$?
        got=$(sed -n 's/.*"diagnosis":[[:space:]]*"\([^"]*\)".*/\1/p' "$work/replay.json" | head -1)
        echo "$f: shrinker saw $want; echoconf replay exit $rc, diagnosis $got"
        [ $rc -eq 1 ] || { cat "$work/replay.txt"; fail "the replay of $f exited $rc, not 1 (FAIL)"; }
        [ "$got" = "$want" ] || { cat "$work/replay.txt"; fail "$f replays to $got, the shrinker saw $want"; }
        n=$((n + 1))
    done
    echo "$n shrunk fixture(s) replay to the shrinker's diagnosis"
    ;;
*)
    echo "fuzz_test.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
exit 0
