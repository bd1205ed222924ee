#!/usr/bin/env bash
# fuzz.sh - runs echoconf's libFuzzer targets (fuzz/) and reports, per target, the
# executions per second, the corpus size and the coverage reached.
#
#   tools/fuzz.sh [--build DIR] [--corpus DIR] SECONDS [TARGET...]   fuzz each target
#   tools/fuzz.sh [--build DIR] [--corpus DIR] --replay [TARGET...]  run every seed and
#                                                 regression input once (-runs=0)
#
# TARGET: fixture profile framing framing_spec server_opts logline split_command (all by
# default). DIR defaults to build/fuzz (configured and built with the fuzz presets when
# missing). New inputs go to CORPUS/<target> (default DIR/corpus); the seeds below,
# taken from the repository, are read-only. A crash, leak or oracle failure stops the
# target, leaves the input as CORPUS/<target>/crashes/..., and makes the exit status 1;
# keep it as fuzz/regressions/<target>/<name> once fixed. Exit 2 on a bad command line.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build="$src/build/fuzz"
corpus=""
seconds=""
replay=0
all_targets=(fixture profile framing framing_spec server_opts logline split_command)

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --replay) replay=1; shift ;;
    -h | --help) usage ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; usage ;;
    *)
        if [ "$replay" = 0 ] && [ -z "$seconds" ]; then
            seconds=$1
            case "$seconds" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2 ;; esac
            shift
        else
            break
        fi
        ;;
    esac
done
if [ "$replay" = 0 ] && [ -z "$seconds" ]; then usage; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
    case " ${all_targets[*]} " in *" $t "*) ;; *) echo "fuzz.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2 ;; esac
done
corpus=${corpus:-$build/corpus}

if [ ! -x "$build/bin/fuzz-fixture" ]; then
    (cd "$src" && cmake --preset fuzz -B "$build" >/dev/null && cmake --build "$build" --target fuzz-all -j2)
fi

# The seed directories of a target: inputs from the repository.
seeds_of() {
    case "$1" in
    fixture) echo "$src/fixtures $src/conformance/tests/bad $src/conformance/tests/fixtures" ;;
    profile) echo "$src/conformance/profiles" ;;
    *) echo "$src/fuzz/corpus/$1" ;;
    esac
}

# A dictionary of the target's tokens, if it has one.
dict_of() {
    if [ -f "$src/fuzz/dict/$1.dict" ]; then echo "-dict=$src/fuzz/dict/$1.dict"; fi
}

status=0
summary=()
for t in "${targets[@]}"; do
    bin="$build/bin/fuzz-$t"
    dirs=()
    for d in $(seeds_of "$t") "$src/fuzz/regressions/$t"; do
        if [ -d "$d" ]; then dirs+=("$d"); fi
    done
    log=$(mktemp)
    if [ "$replay" = 1 ]; then
        # -runs=0: every input of the directories once, then stop.
        if ASAN_OPTIONS=detect_leaks=1 "$bin" -runs=0 $(dict_of "$t") "${dirs[@]}" >"$log" 2>&1; then
            summary+=("$t: replayed $(grep -c . <(find "${dirs[@]}" -type f)) inputs, no failure")
        else
            status=1
            summary+=("$t: FAILED while replaying (see above)")
            tail -40 "$log"
        fi
        rm -f "$log"
        continue
    fi
    mkdir -p "$corpus/$t/crashes"
    # -timeout: one input running 30 s is a hang (10 s tripped once on this loaded
    # machine for an input that replays in 0.6 s), kept like a crash. -rss_limit_mb
    # bounds what one input may make the parser allocate.
    if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$corpus/$t/crashes/" $(dict_of "$t") \
        "$corpus/$t" "${dirs[@]}" >"$log" 2>&1; then
        ok="no crash"
    else
        status=1
        ok="FAILED: $(ls "$corpus/$t/crashes" | head -3 | tr '\n' ' ')"
        tail -40 "$log"
    fi
    # libFuzzer's last status line: "#N DONE cov: C ft: F corp: K/Sb ... exec/s: E".
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    summary+=("$(printf '%-14s %4ss %10s runs %7s exec/s  cov %5s  ft %6s  corpus %-12s rss %4s MB  %s' \
        "$t" "$seconds" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$ok")")
    rm -f "$log"
done
printf '%s\n' "${summary[@]}"
exit $status
