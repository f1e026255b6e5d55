#!/bin/sh
# compile-golden.sh: `ovs-netpolctl compile` output against reviewed
# expectations, one case per file (the shape of OVS's ovs-ofctl.at
# "parse-flows" cases and curl's test files).
#
#   tests/compile/NAME.yaml    the manifests; a "# args:" line gives the
#                              compile options
#   tests/compile/NAME.flows   the expected flows, exactly
#   tests/compile/NAME.args    options for a case whose manifest lives
#                              elsewhere (db-policy: the shipped example)
#
# To accept a deliberate change, run with REGENERATE=1 and review the diff.

set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
ctl=$top_builddir/utilities/ovs-netpolctl
cases=$top_srcdir/tests/compile
tmp=$(mktemp -d /tmp/np-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail=0
for expected in "$cases"/*.flows; do
    name=$(basename "$expected" .flows)
    if [ -f "$cases/$name.args" ]; then
        manifest=$top_srcdir/utilities/examples/$name.yaml
        args=$(cat "$cases/$name.args")
    else
        manifest=$cases/$name.yaml
        args=$(sed -n 's/^# args: //p' "$manifest")
    fi
    # shellcheck disable=SC2086
    if ! "$ctl" compile -f "$manifest" $args > "$tmp/$name.flows" \
           2> "$tmp/$name.err"; then
        echo "FAIL: $name: compile failed"; cat "$tmp/$name.err"; fail=1
        continue
    fi
    if [ -n "${REGENERATE:-}" ]; then
        cp "$tmp/$name.flows" "$expected"
    fi
    if diff -u "$expected" "$tmp/$name.flows" > "$tmp/$name.diff"; then
        echo "ok: $name ($(wc -l < "$expected") flows)"
    else
        echo "FAIL: $name"; cat "$tmp/$name.diff"; fail=1
    fi
done
exit $fail
