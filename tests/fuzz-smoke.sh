#!/bin/bash
# tests/fuzz-smoke.sh: a short run of every libFuzzer target (tests/fuzz/),
# for the test suite.  It builds the targets in their own build directory,
# _build-fuzz/ at the top of the source tree (configured once with
# CC=clang --enable-fuzzing; FUZZ_BUILDDIR overrides it), then runs each
# target for FUZZ_SMOKE_SECONDS (default 10) on a copy of its seed corpus,
# two or three at a time, and fails if any of them crashes, leaks, hangs or
# breaks an invariant.  The crashing input is kept in
# _build-fuzz/fuzz-artifacts/; `make -C _build-fuzz fuzz` runs longer.
#
# About 45 s once built; the first run also configures and builds (a few
# minutes on two cores).  Exit status: 0 pass, 1 a target crashed, 77 (SKIP)
# without clang and libFuzzer, 99 (ERROR) if the build fails.

set -u

top=$(cd "${top_srcdir:-$(dirname "$0")/..}" && pwd -P)
builddir=${FUZZ_BUILDDIR:-$top/_build-fuzz}
seconds=${FUZZ_SMOKE_SECONDS:-10}

skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

hard_error() {
    printf 'ERROR: %s\n' "$*"
    exit 99
}

command -v clang >/dev/null 2>&1 || skip "clang not installed"
probe=$(mktemp -d "${TMPDIR:-/tmp}/onp-fuzz-probe.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }' \
    >"$probe/probe.c"
clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" \
      -o "$probe/probe" >/dev/null 2>&1 \
    || skip "clang cannot link libFuzzer targets (Debian: libclang-rt-14-dev)"

[ -x "$top/configure" ] || hard_error "$top/configure missing: run autoreconf -fi"
grep -q -- 'enable-fuzzing' "$top/configure" \
    || hard_error "$top/configure has no --enable-fuzzing: run autoreconf -fi"
[ ! -f "$top/config.status" ] \
    || skip "the source tree is configured in place; $builddir needs a clean tree"

# One build at a time: `make check` of several build trees may run this
# script concurrently.
mkdir -p "$builddir" || hard_error "cannot create $builddir"
exec 9>"$builddir/.fuzz-smoke.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

t0=$EPOCHREALTIME
if [ ! -f "$builddir/Makefile" ]; then
    printf '# configuring %s (CC=clang --enable-fuzzing)\n' "$builddir"
    (cd "$builddir" && CC=clang "$top/configure" --enable-fuzzing \
         >configure.out 2>&1) \
        || { tail -n 20 "$builddir/configure.out" | sed 's/^/#   /';
             hard_error "configure failed (see $builddir/configure.out)"; }
fi
jobs=$(nproc 2>/dev/null || echo 2)
if ! make -C "$builddir" -j"$jobs" fuzz-programs >"$builddir/fuzz-build.log" 2>&1
then
    tail -n 20 "$builddir/fuzz-build.log" | sed 's/^/#   /'
    if grep -q "No rule to make target 'fuzz-programs'" \
            "$builddir/fuzz-build.log"; then
        hard_error "Makefile.am does not include tests/fuzz/automake.mk"
    fi
    hard_error "building the fuzz targets failed (see $builddir/fuzz-build.log)"
fi
printf '# fuzz targets built in %s s\n' \
    "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"

# Two or three targets at once: one core each, and the box keeps a core
# for whatever else `make -j check` runs.
jobs=$((jobs > 3 ? 3 : jobs))
"$top/tests/fuzz/run-fuzz.sh" --bindir="$builddir/tests/fuzz" \
    --corpus="$top/tests/fuzz/corpus" --seconds="$seconds" --jobs="$jobs" \
    --artifacts="$builddir/fuzz-artifacts"
rc=$?
case $rc in
0) printf '# fuzz-smoke: no crash\n'; exit 0 ;;
1) printf 'FAIL - a fuzz target crashed (inputs in %s/fuzz-artifacts)\n' \
       "$builddir"; exit 1 ;;
*) hard_error "run-fuzz.sh failed ($rc)" ;;
esac
