#!/bin/sh
# tests/fuzz/run-fuzz.sh: runs the libFuzzer targets of tests/fuzz/ for a
# while each and reports what they did.  `make fuzz` and
# tests/fuzz-smoke.sh call it; by hand:
#
#   tests/fuzz/run-fuzz.sh --bindir=_build-fuzz/tests/fuzz \
#       --corpus=tests/fuzz/corpus [--seconds=60] [--jobs=1] \
#       [--artifacts=DIR] [TARGET...]
#
# TARGET is a target's short name (manifest, yaml, selector, compiler,
# ovsdb, watch-event); all of them by default.  Each target runs for
# --seconds on a copy of its corpus (CORPUS/TARGET), so the corpus in the
# tree does not change, unless FUZZ_MERGE=1 is in the environment: then
# what the run learnt is merged back (libFuzzer -merge=1 keeps only inputs
# that add coverage).  --jobs runs that many targets at once (one core
# each).
#
# Each target gets one line: executions, executions per second, coverage
# (libFuzzer's "cov", edges, and "ft", features), corpus size, peak RSS and
# the crashes found.  A crash (also a leak, a timeout of more than 30 s per
# input, or more than 2 GB of memory) stops that target; its input is kept
# under --artifacts (default: fuzz-artifacts/ in the current directory) and
# the first lines of the report are shown.  Reproduce with
# `BINDIR/fuzz-TARGET ARTIFACT`.
#
# Exit status: 0 if no target crashed, 1 if one did, 2 on a usage error.

set -u

bindir=
corpus=
seconds=60
jobs=1
artifacts=fuzz-artifacts
targets=

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

for arg; do
    case $arg in
    --bindir=*) bindir=${arg#*=} ;;
    --corpus=*) corpus=${arg#*=} ;;
    --seconds=*) seconds=${arg#*=} ;;
    --jobs=*) jobs=${arg#*=} ;;
    --artifacts=*) artifacts=${arg#*=} ;;
    -h|--help) usage ;;
    -*) echo "run-fuzz.sh: unknown option $arg" >&2; usage ;;
    *) targets="$targets ${arg#fuzz-}" ;;
    esac
done
if [ -z "$bindir" ] || [ -z "$corpus" ]; then
    usage
fi
case $seconds$jobs in *[!0-9]*) usage ;; esac
[ "$jobs" -ge 1 ] || jobs=1
[ -n "$targets" ] || targets="manifest yaml selector compiler ovsdb watch-event"

for t in $targets; do
    if [ ! -x "$bindir/fuzz-$t" ]; then
        echo "run-fuzz.sh: $bindir/fuzz-$t not built (configure with" \
             "CC=clang --enable-fuzzing)" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/onp-fuzz.XXXXXX") || exit 2
pids=
# shellcheck disable=SC2317  # Called by the trap.
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd -P)

# run_target TARGET: fuzzes into $work/TARGET/, writes $work/TARGET.result.
run_target() {
    t=$1
    dir=$work/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    if [ -d "$corpus/$t" ]; then
        cp -R "$corpus/$t/." "$dir/corpus/" 2>/dev/null
    fi
    n_before=$(find "$dir/corpus" -type f | wc -l)

    # The 30 s timeout is generous: every target runs an input in a few
    # milliseconds, so anything near it is a hang worth a report.
    "$bindir/fuzz-$t" -max_total_time="$seconds" -print_final_stats=1 \
        -timeout=30 -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/" \
        "$dir/corpus" >"$dir/log" 2>&1
    rc=$?

    n_after=$(find "$dir/corpus" -type f | wc -l)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' \
                    "$dir/log" | tail -n 1)
    get_stat() {
        sed -n "s/^stat::$1: *//p" "$dir/log" | tail -n 1
    }
    execs=$(get_stat number_of_executed_units)
    rate=$(get_stat average_exec_per_sec)
    rss=$(get_stat peak_rss_mb)
    cov=$(printf '%s\n' "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')

    n_crashes=0
    for a in "$dir/artifacts"/crash-* "$dir/artifacts"/leak-* \
             "$dir/artifacts"/timeout-* "$dir/artifacts"/oom-*; do
        [ -f "$a" ] || continue
        n_crashes=$((n_crashes + 1))
        cp "$a" "$artifacts/$t-${a##*/}"
    done
    if [ "$rc" != 0 ] && [ "$n_crashes" = 0 ]; then
        n_crashes=1             # Died without an artifact: still a failure.
    fi

    printf '%-12s %4s s %10s execs %7s exec/s  cov %5s  ft %6s  corpus %4s (+%s)  rss %5s MB  crashes %s\n' \
        "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "$n_after" "$((n_after - n_before))" "${rss:-?}" "$n_crashes" \
        >"$dir/result"
    if [ "$n_crashes" != 0 ]; then
        {
            for a in "$dir/artifacts"/*; do
                [ -f "$a" ] || continue
                case ${a##*/} in slow-unit-*) continue ;; esac
                printf '    input kept as %s/%s-%s\n' "$artifacts" "$t" \
                    "${a##*/}"
            done
            # The report's headline and the first frames that are not
            # libFuzzer's, the sanitizers' or libc's.
            grep -E 'invariant|ERROR: |runtime error|SUMMARY|^ +#[0-9]+ ' \
                "$dir/log" \
                | grep -v -E 'fuzzer::|__sanitizer|libc\.so|abort\.c|raise\.c|pthread_kill' \
                | head -n 12 | cut -c 1-160 | sed 's/^/    /'
            printf '    full log: rerun %s/fuzz-%s on the input\n' \
                "$bindir" "$t"
        } >>"$dir/result"
    elif [ "${FUZZ_MERGE:-}" = 1 ]; then
        mkdir -p "$corpus/$t"
        "$bindir/fuzz-$t" -merge=1 "$corpus/$t" "$dir/corpus" \
            >"$dir/merge.log" 2>&1
        printf '    merged into %s/%s: %s\n' "$corpus" "$t" \
            "$(grep -E 'MERGE-OUTER: [0-9]+ new files' "$dir/merge.log" \
               | sed 's/.*MERGE-OUTER: //')" >>"$dir/result"
    fi
}

printf 'fuzzing %s for %s s each, %s at a time\n' "${targets# }" \
    "$seconds" "$jobs"
running=0
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        # POSIX sh cannot wait for "any" child: wait for the oldest.
        # shellcheck disable=SC2086  # Split into pids.
        set -- $pids
        wait "$1"
        shift
        pids=$*
        running=$((running - 1))
    fi
    run_target "$t" &
    pids="$pids $!"
    running=$((running + 1))
done
for p in $pids; do
    wait "$p"
done
pids=

status=0
for t in $targets; do
    cat "$work/$t/result" 2>/dev/null \
        || { echo "$t: no result"; status=1; }
    if grep -q ' crashes [1-9]' "$work/$t/result" 2>/dev/null; then
        status=1
    fi
done
exit $status
