#!/bin/bash
# tests/sandbox.sh: integration test of utilities/ovs-netpol-sandbox.sh
# against a real ovs-vswitchd (userspace datapath).
#
# Two sandboxes, A and B, run side by side, each with its own ovsdb-server,
# ovs-vswitchd, switch netns and pods; B reuses A's bridge name and pod
# addresses, so any name or address leak between them shows.  Checks:
# fail_mode=secure forwards nothing without flows; with NORMAL, TCP and UDP
# over IPv4 and IPv6 reach the pods' responders, a closed port does not;
# Antrea-, OVN- and identity-less external_ids; del-pod; a start that fails
# half-way leaves nothing; stop removes every pid, netns and veth.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, no network namespaces, no
# Open vSwitch).  One line per check.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd -P)
sb=$top/utilities/ovs-netpol-sandbox.sh

skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

[ "$(id -u)" = 0 ] || skip "not root"
for p in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl \
         ip nsenter ethtool timeout; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not installed"
done
ip netns list >/dev/null 2>&1 || skip "no 'ip netns' support"
unshare --net true 2>/dev/null || skip "cannot create network namespaces"

failures=0
A=$(mktemp -d "${TMPDIR:-/tmp}/onp-sandbox-A.XXXXXX")
B=$(mktemp -d "${TMPDIR:-/tmp}/onp-sandbox-B.XXXXXX")
C=$(mktemp -d "${TMPDIR:-/tmp}/onp-sandbox-C.XXXXXX")
results=$(mktemp -d "${TMPDIR:-/tmp}/onp-sandbox-results.XXXXXX")

cleanup() {
    local rc=$?
    set +e
    # Let background work (B's set-up, probes) finish first, or it could
    # create things after the stop below.
    wait
    # stop is idempotent: after a passing run there is nothing left to do.
    "$sb" stop "$A" & "$sb" stop "$B" & "$sb" stop "$C" & wait
    if [ "$rc" != 0 ] && [ -n "${KEEP_LOGS:-}" ]; then
        printf '# logs kept in %s %s %s\n' "$A/log" "$B/log" "$C/log"
    else
        rm -rf "$A" "$B" "$C"
    fi
    rm -rf "$results"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass() {
    printf 'ok - %s\n' "$*"
}

fail() {
    printf 'FAIL - %s\n' "$*"
    failures=$((failures + 1))
}

# check DESCRIPTION CMD...: passes if CMD succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# check_not DESCRIPTION CMD...: passes if CMD fails.
check_not() {
    local desc=$1
    shift
    if "$@"; then fail "$desc"; else pass "$desc"; fi
}

# Fatal setup step: without it the rest of the test means nothing.
must() {
    "$@" || { fail "setup: $*"; exit 1; }
}

now() {
    printf '%s\n' "$EPOCHREALTIME"
}

ms_since() {
    local t1
    t1=$(now)
    awk -v a="$1" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }'
}

# Probe batches run in parallel (they are meant to): queue_probe records
# one, run_probes runs the queue and prints a line per probe.
#   queue_probe pass|fail DIR POD ADDR PORT PROTO [probe options]
queue=()
queue_probe() {
    queue+=("$*")
}

run_probes() {
    local i=0 spec expect rest pids=() t0
    t0=$(now)
    for spec in "${queue[@]}"; do
        i=$((i + 1))
        expect=${spec%% *}
        rest=${spec#* }
        (
            # Expected successes get a generous timeout (they return as soon
            # as the reply arrives); expected failures cost their timeout.
            if [ "$expect" = pass ]; then t=3; else t=0.5; fi
            # shellcheck disable=SC2086
            if "$sb" probe $rest --timeout "$t"; then got=pass; else got=fail; fi
            short=${rest#"$A" }
            short=${short#"$B" }
            if [ "$got" = "$expect" ]; then
                printf 'ok - probe %s: %s\n' "$short" "$expect"
            else
                printf 'FAIL - probe %s: expected %s, got %s\n' "$short" \
                    "$expect" "$got"
                exit 1
            fi
        ) &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || failures=$((failures + 1))
    done
    printf '# %d probes in parallel: %s ms\n' "${#queue[@]}" "$(ms_since "$t0")"
    queue=()
}

# OVSDB helpers.
veth_of() { # DIR NS/NAME
    sed -n 's/^veth=//p' "$1/pods/${2%%/*}_${2#*/}/info"
}
differs() { # A B
    [ "$1" != "$2" ] || { printf '#   both %s\n' "$1"; return 1; }
}
ext_id() { # DIR NS/NAME KEY
    "$sb" vsctl "$1" get Interface "$(veth_of "$1" "$2")" "external_ids:$3" \
        2>/dev/null
}
equals() { # GOT WANT
    [ "$1" = "$2" ] || { printf '#   got  %s\n#   want %s\n' "$1" "$2"; return 1; }
}

# Everything a sandbox created, for the leftovers check: pids, netns, veths.
record_resources() { # DIR OUTFILE
    local d=$1 f
    {
        for f in "$d"/run/*.pid "$d"/pods/*/server.pid; do
            [ -f "$f" ] && printf 'pid %s\n' "$(cat "$f")"
        done
        printf 'netns %s\n' "$(conf_field "$d" swns)"
        for f in "$d"/pods/*/info; do
            [ -f "$f" ] || continue
            printf 'netns %s\n' "$(sed -n 's/^netns=//p' "$f")"
            printf 'veth %s\n' "$(sed -n 's/^veth=//p' "$f")"
        done
    } >"$2"
}

conf_field() { # DIR KEY
    sed -n "s/^$2=//p" "$1/sandbox.conf"
}
netns_listed() {
    ip netns list | awk '{ print $1 }' | grep -qxF -- "$1"
}
quietly() {
    "$@" >/dev/null
}

# Live (non-zombie) process?
alive() {
    local line state
    read -r line 2>/dev/null </proc/"$1"/stat || return 1
    state=${line##*) }
    [ "${state%% *}" != Z ]
}

no_process_refers_to() { # STRING...
    local f cmdline s ok=0
    for f in /proc/[0-9]*/cmdline; do
        cmdline=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
        for s in "$@"; do
            case $cmdline in
                *"$s"*) printf '#   %s: %s\n' "$f" "$cmdline"; ok=1 ;;
            esac
        done
    done
    return $ok
}

nothing_left() { # RESOURCES-FILE
    local kind name ok=0
    while read -r kind name; do
        case $kind in
            pid) if alive "$name"; then
                     printf '#   pid %s still alive\n' "$name"; ok=1; fi ;;
            netns) if netns_listed "$name"; then
                       printf '#   netns %s still there\n' "$name"; ok=1; fi ;;
            veth) if ip link show "$name" >/dev/null 2>&1; then
                      printf '#   veth %s still there\n' "$name"; ok=1; fi ;;
        esac
    done <"$1"
    return $ok
}

# --- sandbox A: start, pods ---------------------------------------------

t0=$(now)
must "$sb" start "$A"
printf '# start: %s ms\n' "$(ms_since "$t0")"
check "A: bridge br-int is fail_mode=secure" \
    equals "$("$sb" vsctl "$A" get Bridge br-int fail_mode)" secure
check "A: bridge br-int uses the userspace datapath" \
    equals "$("$sb" vsctl "$A" get Bridge br-int datapath_type)" netdev
check "A: ovs-vswitchd answers appctl" quietly "$sb" appctl "$A" version
env_has_rundir() {
    "$sb" env "$A" | grep -qxF "export OVS_RUNDIR='$A/run'"
}
check "A: env prints the sandbox's run dir" env_has_rundir

t0=$(now)
must "$sb" add-pod "$A" default/a --ip 10.0.0.1/24 --ip fd00::1/64 \
    --ofport 10 --serve 80
printf '# add-pod: %s ms\n' "$(ms_since "$t0")"
must "$sb" add-pod "$A" default/b --ip 10.0.0.2/24 --ip fd00::2/64 \
    --style ovn --serve 80
# Another subnet: reachable through the on-link default routes.
must "$sb" add-pod "$A" other/c --ip 10.0.1.3/24 --ip fd00:1::3/64 --serve 80
must "$sb" add-pod "$A" uplink/u --style none

# Sandbox B comes up while A is being probed: same bridge name, same pod
# addresses, different pods.
(
    set -e
    "$sb" start "$B"
    "$sb" add-pod "$B" beta/x --ip 10.0.0.1/24 --ip fd00::1/64 --serve 80
    "$sb" add-pod "$B" beta/y --ip 10.0.0.2/24 --ip fd00::2/64 --serve 80
) >"$results/b-setup.log" 2>&1 &
b_setup=$!

# --- A without flows: fail_mode=secure forwards nothing -------------------

queue_probe fail "$A" default/a 10.0.0.2 80 tcp
queue_probe fail "$A" default/a 10.0.0.2 80 udp
queue_probe fail "$A" default/b fd00::1 80 tcp
queue_probe fail "$A" default/b fd00::1 80 udp
run_probes

# --- A with NORMAL ----------------------------------------------------------

must "$sb" ofctl "$A" add-flow priority=0,actions=NORMAL
ofctl_sees_normal() {
    local flows
    flows=$("$sb" ofctl "$A" dump-flows) || return 1
    grep -q 'reply (OF1.5)' <<<"$flows" \
        && grep -q 'priority=0 actions=NORMAL' <<<"$flows"
}
check "A: ofctl talks OpenFlow 1.5 to the bridge" ofctl_sees_normal

t0=$(now)
check "A: first probe after NORMAL" "$sb" probe "$A" default/a 10.0.0.2 80 tcp --timeout 3
printf '# probe (first, ARP included): %s ms\n' "$(ms_since "$t0")"
t0=$(now)
check "A: second probe" "$sb" probe "$A" default/a 10.0.0.2 80 tcp
printf '# probe: %s ms\n' "$(ms_since "$t0")"

for proto in tcp udp; do
    queue_probe pass "$A" default/a 10.0.0.2 80 $proto
    queue_probe pass "$A" default/a fd00::2 80 $proto
    queue_probe pass "$A" default/b 10.0.1.3 80 $proto
    queue_probe pass "$A" default/b fd00:1::3 80 $proto
    queue_probe pass "$A" other/c 10.0.0.1 80 $proto
    queue_probe pass "$A" other/c fd00::1 80 $proto
    queue_probe fail "$A" default/a 10.0.0.2 81 $proto
    queue_probe fail "$A" default/a fd00::2 81 $proto
    queue_probe fail "$A" default/a 10.0.0.99 80 $proto
done
run_probes

check "A: the reply names the pod that answered (IPv4 UDP)" \
    equals "$("$sb" probe "$A" default/a 10.0.1.3 80 udp --print)" other/c
check "A: the reply names the pod that answered (IPv6 TCP)" \
    equals "$("$sb" probe "$A" other/c fd00::2 80 tcp --print)" default/b

# 60 probes at once, all expected to pass.
for i in $(seq 10); do
    queue_probe pass "$A" default/a 10.0.0.2 80 tcp
    queue_probe pass "$A" default/b fd00::1 80 udp
    queue_probe pass "$A" other/c 10.0.0.2 80 udp
    queue_probe pass "$A" default/a fd00:1::3 80 tcp
    queue_probe pass "$A" default/b 10.0.0.1 80 tcp
    queue_probe pass "$A" other/c fd00::1 80 udp
done
run_probes >"$results/many.log"
grep -v '^ok' "$results/many.log" || true
check "A: 60 parallel probes all answered" \
    equals "$(grep -c '^ok' "$results/many.log")" 60

# --- A: what the pods look like -------------------------------------------

mac_a=$("$sb" pods "$A" | awk '$1 == "default/a" { print $4 }')
mac_b=$("$sb" pods "$A" | awk '$1 == "default/b" { print $4 }')
pods_line_a() {
    "$sb" pods "$A" \
        | grep -Eqx 'default/a 10 10\.0\.0\.1/24,fd00::1/64 02(:[0-9a-f]{2}){5}'
}
check "A: pods lists default/a with ofport 10, its IPs and a MAC" pods_line_a
check "A: pods lists 4 pods" equals "$("$sb" pods "$A" | wc -l)" 4
check "A: ofport_request honoured" \
    equals "$("$sb" vsctl "$A" get Interface "$(veth_of "$A" default/a)" ofport)" 10
check "A: antrea style pod-namespace" equals "$(ext_id "$A" default/a pod-namespace)" default
check "A: antrea style pod-name" equals "$(ext_id "$A" default/a pod-name)" a
check "A: antrea style ip" equals "$(ext_id "$A" default/a ip)" '"10.0.0.1,fd00::1"'
check "A: antrea style mac" equals "$(ext_id "$A" default/a mac)" "\"$mac_a\""
check "A: antrea style attached-mac" equals "$(ext_id "$A" default/a attached-mac)" "\"$mac_a\""
check "A: ovn style iface-id" equals "$(ext_id "$A" default/b iface-id)" default_b
check "A: ovn style ip_addresses" \
    equals "$(ext_id "$A" default/b ip_addresses)" '"10.0.0.2/24,fd00::2/64"'
check "A: ovn style attached_mac" equals "$(ext_id "$A" default/b attached_mac)" "\"$mac_b\""
check_not "A: ovn style has no antrea keys" ext_id "$A" default/b pod-name
check "A: style none has no external_ids" \
    equals "$("$sb" vsctl "$A" get Interface "$(veth_of "$A" uplink/u)" external_ids)" '{}'
check "A: pod eth0 has the recorded MAC" \
    equals "$("$sb" exec "$A" default/a cat /sys/class/net/eth0/address)" "$mac_a"
tx_offload_off() {
    "$sb" exec "$A" default/a ethtool -k eth0 | grep -qx 'tx-checksumming: off'
}
check "A: pod eth0 has TX checksum offload off" tx_offload_off
given_mac() {
    "$sb" add-pod "$A" default/m --mac 0A:00:00:00:00:01 \
        && "$sb" pods "$A" | grep -qx 'default/m [0-9]* - 0a:00:00:00:00:01' \
        && "$sb" del-pod "$A" default/m
}
check "A: --mac is honoured" given_mac
check_not "A: a duplicate pod is refused" "$sb" add-pod "$A" default/a --ip 10.0.0.9/24 2>/dev/null
check_not "A: a taken ofport is refused" "$sb" add-pod "$A" default/z --ofport 10 2>/dev/null
no_pod_z() {
    ! "$sb" pods "$A" | grep -q default/z && [ ! -e "$A/pods/default_z" ]
}
check "A: ... and leaves no pod behind" no_pod_z

# --- B: concurrent and independent ----------------------------------------

if wait "$b_setup"; then
    pass "B: started with pods while A was in use"
else
    fail "B: start / add-pod"
    sed 's/^/#   /' "$results/b-setup.log"
    exit 1
fi
check "B: different switch netns from A" \
    differs "$(conf_field "$A" swns)" "$(conf_field "$B" swns)"
check "B: A's pods are not B's" equals "$("$sb" pods "$B" | awk '{print $1}' | tr '\n' ' ')" "beta/x beta/y "

# B has no flows yet while A has NORMAL: same addresses, different answers.
queue_probe fail "$B" beta/x 10.0.0.2 80 tcp
queue_probe fail "$B" beta/y fd00::1 80 udp
queue_probe pass "$A" default/a 10.0.0.2 80 tcp
run_probes
must "$sb" ofctl "$B" add-flow priority=0,actions=NORMAL
check "B: x reaches y (B's 10.0.0.2)" \
    equals "$("$sb" probe "$B" beta/x 10.0.0.2 80 tcp --print --timeout 3)" beta/y
check "B: y reaches x over IPv6 UDP" \
    equals "$("$sb" probe "$B" beta/y fd00::1 80 udp --print --timeout 3)" beta/x
check "A: a still reaches A's 10.0.0.2" \
    equals "$("$sb" probe "$A" default/a 10.0.0.2 80 tcp --print)" default/b
check_not "B: A's 10.0.1.3 does not exist in B" \
    "$sb" probe "$B" beta/x 10.0.1.3 80 tcp --timeout 0.5
must "$sb" ofctl "$B" del-flows
check_not "B: del-flows in B stops B" "$sb" probe "$B" beta/x 10.0.0.2 80 tcp --timeout 0.5
check "A: ... and not A" "$sb" probe "$A" default/a 10.0.0.2 80 tcp
for proto in tcp udp; do
    t0=$(now)
    "$sb" probe "$B" beta/x 10.0.0.2 80 $proto --timeout 0.5 || true
    ms=$(ms_since "$t0")
    check "B: a dropped $proto probe gives up on time (${ms} ms, timeout 500)" \
        test "$ms" -lt 1500
done

# --- del-pod ----------------------------------------------------------------

c_veth=$(veth_of "$A" other/c)
c_netns=$(sed -n 's/^netns=//p' "$A/pods/other_c/info")
c_pid=$(cat "$A/pods/other_c/server.pid")
must "$sb" del-pod "$A" other/c
is_port() { "$sb" vsctl "$A" list-ports br-int | grep -qx "$1"; }
check_not "del-pod: port gone from the bridge" is_port "$c_veth"
check_not "del-pod: netns gone" netns_listed "$c_netns"
check_not "del-pod: veth gone from the switch netns" \
    ip -n "$(conf_field "$A" swns)" link show "$c_veth" 2>/dev/null
check_not "del-pod: responder gone" alive "$c_pid"
is_listed() { "$sb" pods "$A" | grep -q "^$1 "; }
check_not "del-pod: no longer listed" is_listed other/c
check_not "del-pod: its address no longer answers" \
    "$sb" probe "$A" default/a 10.0.1.3 80 tcp --timeout 0.5
check "del-pod: the others still talk" "$sb" probe "$A" default/b 10.0.0.1 80 udp

# --- a start that fails half-way cleans up after itself -------------------

mkdir -p "$C/fakebin"
printf '#!/bin/sh\necho "fake ovs-vswitchd fails" >&2\nexit 1\n' \
    >"$C/fakebin/ovs-vswitchd"
chmod +x "$C/fakebin/ovs-vswitchd"
check_not "C: start with a failing ovs-vswitchd fails" \
    env PATH="$C/fakebin:$PATH" "$sb" start "$C/sb" 2>/dev/null
c_leftovers() {
    local f
    for f in "$C"/sb/run/*.pid; do
        if [ -f "$f" ] && alive "$(cat "$f")"; then return 0; fi
    done
    netns_listed "$(conf_field "$C/sb" swns)"
}
check_not "C: ... and leaves no daemon and no netns" c_leftovers
check "C: stop after the failed start succeeds" "$sb" stop "$C/sb"
check "C: start in the same directory then works" "$sb" start "$C/sb"
check "C: and stop" "$sb" stop "$C/sb"

# --- stop -------------------------------------------------------------------

record_resources "$A" "$results/A"
record_resources "$B" "$results/B"
common_names() {
    cut -d' ' -f2 "$results/A" | sort >"$results/A.names"
    cut -d' ' -f2 "$results/B" | sort >"$results/B.names"
    [ -n "$(comm -12 "$results/A.names" "$results/B.names")" ]
}
check_not "A and B have no global name in common" common_names
t0=$(now)
"$sb" stop "$A" & stop_a=$!
"$sb" stop "$B" & stop_b=$!
check "stop A (concurrently with B)" wait "$stop_a"
check "stop B (concurrently with A)" wait "$stop_b"
printf '# stop (both): %s ms\n' "$(ms_since "$t0")"
check "A: nothing left ($(grep -c . "$results/A") pids, netns, veths)" \
    nothing_left "$results/A"
check "B: nothing left ($(grep -c . "$results/B") pids, netns, veths)" \
    nothing_left "$results/B"
check "stop is idempotent" "$sb" stop "$A"
check "no process refers to A or B" no_process_refers_to "$A/" "$B/"

if [ "$failures" != 0 ]; then
    printf '%d check(s) failed\n' "$failures"
    exit 1
fi
printf 'all checks passed\n'
