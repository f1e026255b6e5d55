#!/bin/sh
# compile-accepted.sh: the flows `ovs-netpolctl compile` prints for the
# example policy are accepted by a real ovs-vswitchd, as one bundle, through
# `ovs-ofctl --bundle add-flows`, and read back identical.
#
# Needs root (the sandbox uses network namespaces); exits 77 otherwise.

set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
ctl=$top_builddir/utilities/ovs-netpolctl
sandbox=$top_srcdir/utilities/ovs-netpol-sandbox.sh

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ovs-vswitchd >/dev/null || { echo "SKIP: no ovs-vswitchd"; exit 77; }

dir=$(mktemp -d /tmp/np-compile-accepted.XXXXXX)
cleanup() {
    "$sandbox" stop "$dir" >/dev/null 2>&1
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail=0
check() {
    if [ "$1" = 0 ]; then
        echo "ok: $2"
    else
        echo "FAIL: $2"
        fail=1
    fi
}

"$sandbox" start "$dir" || { echo "FAIL: sandbox start"; exit 1; }

"$ctl" compile -f "$top_srcdir/utilities/examples/db-policy.yaml" \
    --node node-1 --mac default/db=02:00:00:00:00:01 --uplink 7 \
    > "$dir/flows.txt" 2> "$dir/compile.err"
check $? "compile the example policy"
n=$(wc -l < "$dir/flows.txt")
[ "$n" -gt 50 ]
check $? "it has $n flows"

"$sandbox" ofctl "$dir" --bundle add-flows - < "$dir/flows.txt" \
    2> "$dir/ofctl.err"
check $? "ovs-ofctl --bundle add-flows accepts all of them"
[ -s "$dir/ofctl.err" ] && cat "$dir/ofctl.err"

# Read back what the switch holds, in the same syntax, and compare.
"$sandbox" ofctl "$dir" dump-flows --no-stats \
    cookie=0x4e50000000000000/0xffff000000000000 \
    | sed -e 's/^ *//' -e 's/, */,/g' | sort > "$dir/back.txt"
m=$(wc -l < "$dir/back.txt")
[ "$m" = "$n" ]
check $? "the switch holds $m of our flows (compiled $n)"

# Every compiled flow's match and actions appear as such in the dump (the
# dump prints fields in its own order, so compare field sets).
normalize() {
    # One line per flow: sorted comma-separated fields, then the actions.
    sed -e 's/ actions=/ /' -e 's/\(^\|,\)table=0,/\1/' | while read -r match actions; do
        printf '%s %s\n' "$(printf '%s' "$match" | tr ',' '\n' | sort | \
            tr '\n' ',')" "$actions"
    done | sort
}
normalize < "$dir/flows.txt" > "$dir/a.txt"
normalize < "$dir/back.txt" > "$dir/b.txt"
diff "$dir/a.txt" "$dir/b.txt" > "$dir/diff.txt"
check $? "read back, every flow is the one compiled"
[ -s "$dir/diff.txt" ] && head -20 "$dir/diff.txt"

exit $fail
